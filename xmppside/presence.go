package xmppside

import (
	"context"

	"cpimgw/cpim"
)

// PresenceHandler receives the presence stanzas XMPP users send to SIP
// users (the presence core implements it). Calls for one (XMPP user, SIP
// user) pair are made one at a time, in stanza order.
type PresenceHandler interface {
	// Presence is an XMPP user's presence (no type, or unavailable) to a
	// SIP user: p.Entity is the XMPP user (bare) with one tuple for the
	// sending resource, p.Watcher the SIP user.
	Presence(ctx context.Context, p cpim.Presence) error
	// Subscription is a subscription stanza from an XMPP user to a SIP
	// user (see cpim.Subscription for the direction of each op).
	Subscription(ctx context.Context, s cpim.Subscription) error
	// PresenceError is a presence of type error from an XMPP user (from)
	// to a SIP user (to): the answer to a presence stanza the gateway sent
	// (RFC 6120 §8.3), e.g. to a subscribe or probe.
	PresenceError(ctx context.Context, from, to cpim.Address, e *cpim.Error) error
}
