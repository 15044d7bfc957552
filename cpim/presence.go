package cpim

import "time"

// Basic is the basic availability of a presence tuple (RFC 3863 §4.1.4).
type Basic string

// The two basic status values. Open maps to XMPP presence without a type,
// Closed to type 'unavailable' (RFC 8048 §6.2 note 4, §6.3 note 1).
const (
	Open   Basic = "open"
	Closed Basic = "closed"
)

// Show is the availability sub-state of an open tuple: the XMPP <show/>
// values of RFC 6121 §4.7.2.1. The zero value means no sub-state (plainly
// available).
type Show string

// The XMPP show values.
const (
	ShowNone Show = ""
	ShowChat Show = "chat"
	ShowAway Show = "away"
	ShowXA   Show = "xa"
	ShowDND  Show = "dnd"
)

// Valid reports whether s is one of the defined show values.
func (s Show) Valid() bool {
	switch s {
	case ShowNone, ShowChat, ShowAway, ShowXA, ShowDND:
		return true
	}
	return false
}

// Presence is the complete presence state of one presentity as seen by one
// watcher (RFC 3856 §6.8: every notification carries the full state).
// Each tuple describes one resource (one XMPP resource, one PIDF tuple).
type Presence struct {
	// Entity is the presentity, a bare address (RFC 3922 §5.1.1).
	Entity Address
	// Watcher is the intended recipient, if known (RFC 8048 §8.2: never
	// deliver a notification to anyone else).
	Watcher Address
	// Lang is the default language of the notes (XMPP xml:lang, SIP
	// Content-Language).
	Lang string
	// Tuples lists the resources. No tuples means nothing is known about
	// the presentity beyond its being unavailable.
	Tuples []Tuple
}

// Tuple is the presence of one resource.
type Tuple struct {
	// Resource names the resource: the XMPP resourcepart, or the resource
	// recovered from a PIDF tuple (INTERWORKING.md §3.3). It may be empty
	// for a presentity-wide tuple.
	Resource string
	Basic    Basic
	Show     Show
	// Notes are the human-readable statuses, at most one per language.
	Notes []Text
	// Priority is the XMPP priority, -128..127 (RFC 6121 §4.7.2.3); it
	// counts only when HasPriority is set.
	Priority    int
	HasPriority bool
	// Timestamp is when the status was last changed; zero when unknown.
	Timestamp time.Time
}

// Available reports whether the tuple is open.
func (t Tuple) Available() bool { return t.Basic == Open }
