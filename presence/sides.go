// Package presence is the gateway's presence and subscription core: the
// state machines of RFC 8048 §5 (INTERWORKING.md §3.7) in both directions,
// the authorizations they grant (persisted in a store.Store), the last
// presence of every entity, the answers to probes the gateway gives as the
// SIP users' "home server" (RFC 6121 §4.3.2), refresh decisions, coalescing
// of presence bursts (RFC 3856 §6.10) and limits.
//
// It sees only cpim values, the store and the small interfaces below; the
// sides implement them and cmd/cpimgw wires everything.
//
// Calling convention: the core calls the methods of SIPSide and XMPPSide
// while it holds the state lock of the (XMPP user, SIP contact) pair
// concerned, and possibly from inside a handler call of either side (a
// SubscribeRequest sends a subscribe through XMPPSide; an XMPP subscribed
// sends a NOTIFY through SIPSide). So a side's method must not wait for a
// handler call of the same pair to return (for example by queueing behind
// it on the side's per-pair serialisation); sending and waiting for the
// network is fine.
package presence

import (
	"context"

	"cpimgw/cpim"
)

// SIPSide is what the core asks of the SIP side (implemented by
// *sipside.Endpoint).
type SIPSide interface {
	// Subscribe starts a subscription dialog of watcher (an XMPP user) to
	// target (a SIP contact), or refreshes the existing one (X2S). Results
	// arrive later through the SIP events (Notified, SubscribeFailed).
	Subscribe(ctx context.Context, watcher, target cpim.Address) error
	// Unsubscribe ends the pair's subscriber dialog with an in-dialog
	// SUBSCRIBE Expires: 0; nil when there is none.
	Unsubscribe(ctx context.Context, watcher, target cpim.Address) error
	// Fetch polls the target once: a new-dialog SUBSCRIBE Expires: 0
	// whose NOTIFY arrives through Notified (RFC 8048 §7.1).
	Fetch(ctx context.Context, watcher, target cpim.Address) error
	// Notify sends n on every notifier dialog of watcher (a SIP contact)
	// for target (an XMPP user); a terminated state ends them (S2X).
	Notify(ctx context.Context, watcher, target cpim.Address, n cpim.Notification) error
	// Publish publishes presentity's presence to the presence server
	// (RFC 3903, PUBLISH mode); nil p removes the publication.
	Publish(ctx context.Context, presentity cpim.Address, p *cpim.Presence) error
}

// XMPPSide is what the core asks of the XMPP side (implemented by
// *xmppside.Component).
type XMPPSide interface {
	// SendPresence sends p.Entity's presence (a SIP contact, one stanza per
	// tuple, from the tuple's resource; no tuples: a bare unavailable) to
	// p.Watcher (an XMPP user, bare or full JID).
	SendPresence(ctx context.Context, p cpim.Presence) error
	// SendSubscription sends a subscription stanza: subscribe,
	// unsubscribe and probe from Watcher to Target; subscribed and
	// unsubscribed from Target to Watcher. Addresses are bare.
	SendSubscription(ctx context.Context, s cpim.Subscription) error
}

// PresenceErrorSender is implemented by an XMPP side that can send a
// presence of type error (RFC 6120 §8.3) from a SIP contact to an XMPP
// user, the answer RFC 3922 §6.1 requires when a SUBSCRIBE the user asked
// for fails with 404/604/484/485 (item-not-found), and the one a limit
// gives (resource-constraint, issue 4 item 5). It mirrors
// xmppside.PresenceHandler.PresenceError in the other direction.
//
// It is a separate interface so that an XMPP side without it still
// satisfies XMPPSide: the core then answers with an 'unsubscribed' from
// the contact instead (the request is refused either way) and logs it.
type PresenceErrorSender interface {
	// SendPresenceError sends <presence type='error'/> from from (a SIP
	// contact, bare) to to (an XMPP user, bare) with e's condition and
	// the id of the stanza it answers (RFC 6120 §8.3.1: an error stanza
	// carries the id of the stanza that caused it; "" when unknown).
	SendPresenceError(ctx context.Context, from, to cpim.Address, id string, e *cpim.Error) error
}
