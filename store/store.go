// Package store keeps the state the gateway must not lose across a
// restart: presence authorizations, the SIP subscription dialogs of both
// roles with their CSeq and route sets, and the last presence of each
// entity. Everything goes through the Store interface, so a shared store
// (several gateway instances) can replace the embedded default later.
//
// Implementations: Memory (tests) and Bolt (the default: one bbolt file
// under a configured directory, no setup).
package store

import (
	"errors"
	"time"

	"cpimgw/cpim"
)

// ErrClosed is returned by a store after Close.
var ErrClosed = errors.New("store: closed")

// Direction says which side watches which.
type Direction string

const (
	// X2S: an XMPP user watches a SIP contact (the gateway is the SIP
	// subscriber).
	X2S Direction = "x2s"
	// S2X: a SIP contact watches an XMPP user (the gateway is the SIP
	// notifier).
	S2X Direction = "s2x"
)

// AuthState is the state of a presence authorization.
type AuthState string

const (
	AuthNone    AuthState = "none"
	AuthPending AuthState = "pending" // asked, not yet decided
	AuthGranted AuthState = "granted"
)

// Auth is the authorization of Watcher to see Target's presence. Watcher
// and Target are bare address keys (see Key).
type Auth struct {
	Direction Direction
	Watcher   string
	Target    string
	State     AuthState
	Updated   time.Time
}

// Role is the gateway's role in a SIP subscription dialog.
type Role string

const (
	Subscriber Role = "subscriber" // X2S
	Notifier   Role = "notifier"   // S2X
)

// Dialog is a SIP event subscription dialog (RFC 6665 §4.1, §4.2) as the
// gateway must remember it to continue after a restart: the dialog
// identifiers, the route set and remote target, the CSeq sequences, the
// expiry, and for a notifier the flow the subscriber's requests came in on
// (NOTIFYs go back over it).
type Dialog struct {
	ID      string // the dialog id: Call-ID, local tag, remote tag
	Role    Role
	Watcher string // bare address key of the watcher
	Target  string // bare address key of the presentity

	CallID    string
	LocalTag  string
	RemoteTag string
	LocalURI  string   // the gateway's URI in the dialog (From of its requests)
	RemoteURI string   // the peer's URI (To of the gateway's requests)
	RouteSet  []string // Route header values, in the order they are sent
	Contact   string   // the remote target (the peer's Contact URI)

	// LocalCSeq is a high-water mark: every CSeq the gateway used in this
	// dialog is at most LocalCSeq, so after a restart it continues above.
	LocalCSeq  uint32
	RemoteCSeq uint32

	State   cpim.SubState
	Expires time.Time

	Event   string   // the event package, "presence"
	EventID string   // the Event header's id parameter, if any
	Accept  []string // the watcher's Accept types (notifier)

	// Transport and Source identify the flow a notifier's subscriber used
	// ("TCP", "127.0.0.1:5072"); empty for UDP sent to the Contact.
	Transport string
	Source    string
}

// Store is the state store. Every method is safe for concurrent use.
// Writes of authorizations are durable when the method returns (a crash
// loses none); dialogs and presence may be written asynchronously by an
// implementation that says so, but a later read sees them.
type Store interface {
	GetAuth(d Direction, watcher, target string) (Auth, bool, error)
	PutAuth(a Auth) error
	DeleteAuth(d Direction, watcher, target string) error
	Auths(fn func(Auth) error) error

	GetDialog(id string) (Dialog, bool, error)
	PutDialog(d Dialog) error
	DeleteDialog(id string) error
	Dialogs(fn func(Dialog) error) error

	// GetPresence and PutPresence keep the last full presence of an
	// entity (all its resources).
	GetPresence(entity string) (cpim.Presence, bool, error)
	PutPresence(entity string, p cpim.Presence) error
	DeletePresence(entity string) error

	Close() error
}

// Key is the store key of a bare address: its canonical localpart and
// domain. It ignores the resource and the original URI.
func Key(a cpim.Address) string { return a.Local + "@" + a.Domain }
