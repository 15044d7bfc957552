// Package store keeps the state the gateway must not lose across a
// restart: presence authorizations, the SIP subscription dialogs of both
// roles with their CSeq and route sets, and the last presence of each
// entity. Everything goes through the Store interface, so a shared store
// (several gateway instances) can replace the embedded default later.
//
// Implementations: [Memory] (tests) and [Bolt] (the default: one bbolt
// file under a configured directory, no setup). Both pass the same
// conformance tests. [Fill] generates synthetic state for benchmarks.
//
// The package imports only cpim of the gateway's own packages and does not
// log: every failure is returned, wrapped, with the prefix "store: ".
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

// The authorization states. A granted X2S authorization means the SIP
// contact approved the XMPP user (its first active NOTIFY); a granted S2X
// one means the XMPP user sent subscribed to the SIP contact.
const (
	// AuthNone: no authorization (never asked, denied or revoked).
	AuthNone AuthState = "none"
	// AuthPending: asked, not yet decided.
	AuthPending AuthState = "pending"
	// AuthGranted: the target allows the watcher to see its presence.
	AuthGranted AuthState = "granted"
)

// Auth is the authorization of Watcher to see Target's presence. Watcher
// and Target are bare address keys (see Key). Direction, Watcher and
// Target identify it; Updated is when its state last changed (the store
// keeps what the caller set).
type Auth struct {
	Direction Direction
	Watcher   string
	Target    string
	State     AuthState
	Updated   time.Time
}

// Role is the gateway's role in a SIP subscription dialog.
type Role string

// The roles.
const (
	// Subscriber: the gateway subscribes on behalf of an XMPP user (X2S).
	Subscriber Role = "subscriber"
	// Notifier: the gateway notifies a SIP watcher of an XMPP user's
	// presence (S2X).
	Notifier Role = "notifier"
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
//
// Common rules of the methods:
//   - Values are copied in and out: changing a slice passed to a Put method
//     or returned by a Get or an iteration does not change the store.
//   - Times come back in UTC without a monotonic clock reading and empty
//     slices as nil (what survives a file round trip).
//   - A Get of a missing record returns ok false and no error; a Delete of
//     a missing record is no error.
//   - An empty or over-long key (MaxKeyLen) or an unknown Direction,
//     AuthState or Role is refused with an error wrapping ErrInvalid.
//   - Auths and Dialogs call fn for each record and stop at fn's first
//     error, which they return as is. fn may call the store (for example
//     to delete an expired dialog while restoring); a record written
//     during the iteration may or may not be seen.
//   - After Close every method returns ErrClosed; Close itself may be
//     called again and returns nil.
type Store interface {
	// GetAuth returns the authorization of watcher to see target in
	// direction d.
	GetAuth(d Direction, watcher, target string) (Auth, bool, error)
	// PutAuth creates or replaces an authorization (keyed by Direction,
	// Watcher and Target). It is durable when it returns.
	PutAuth(a Auth) error
	// DeleteAuth removes an authorization. It is durable when it returns.
	DeleteAuth(d Direction, watcher, target string) error
	// Auths calls fn for every authorization.
	Auths(fn func(Auth) error) error

	// GetDialog returns the dialog with the given id.
	GetDialog(id string) (Dialog, bool, error)
	// PutDialog creates or replaces a dialog (keyed by ID).
	PutDialog(d Dialog) error
	// DeleteDialog removes a dialog.
	DeleteDialog(id string) error
	// Dialogs calls fn for every dialog (on restart: to continue or
	// re-establish each).
	Dialogs(fn func(Dialog) error) error

	// GetPresence and PutPresence keep the last full presence of an
	// entity (all its resources).
	GetPresence(entity string) (cpim.Presence, bool, error)
	PutPresence(entity string, p cpim.Presence) error
	// DeletePresence forgets the last presence of an entity.
	DeletePresence(entity string) error

	// Close makes pending writes durable and releases the store.
	Close() error
}

// Key is the store key of a bare address: its canonical localpart and
// domain. It ignores the resource and the original URI.
func Key(a cpim.Address) string { return a.Local + "@" + a.Domain }
