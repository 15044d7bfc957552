package presence

import (
	"context"

	"cpimgw/cpim"
)

// SIPEvents returns the handler for the SIP side's presence events (it
// satisfies sipside.PresenceHandler).
func (c *Core) SIPEvents() SIPEvents { return SIPEvents{c} }

// XMPPEvents returns the handler for the XMPP side's presence stanzas (it
// satisfies xmppside.PresenceHandler).
func (c *Core) XMPPEvents() XMPPEvents { return XMPPEvents{c} }

// SIPEvents receives the SIP side's presence events. Every method waits
// until Run has restored the state.
type SIPEvents struct{ c *Core }

// SubscribeRequest answers a SUBSCRIBE of a SIP watcher to an XMPP user
// (S2X rows of INTERWORKING.md §3.7): the notification the endpoint sends
// after its 200. In PUBLISH mode it refuses with 403 (the presence server
// serves subscriptions there).
func (h SIPEvents) SubscribeRequest(ctx context.Context, s cpim.Subscription) (cpim.Notification, error) {
	if err := h.c.wait(ctx); err != nil {
		return cpim.Notification{}, err
	}
	return h.c.sSubscribeRequest(ctx, s)
}

// SubscriptionEnded handles a notifier dialog that expired or whose NOTIFY
// failed: a directed unavailable from the watcher to the XMPP user.
func (h SIPEvents) SubscriptionEnded(ctx context.Context, watcher, target cpim.Address, reason string) error {
	if err := h.c.wait(ctx); err != nil {
		return err
	}
	return h.c.sEnded(ctx, watcher, target, reason)
}

// Notified handles a NOTIFY received for an XMPP user's subscription to a
// SIP contact (X2S NOTIFY rows of §3.7).
func (h SIPEvents) Notified(ctx context.Context, watcher, target cpim.Address, n cpim.Notification) error {
	if err := h.c.wait(ctx); err != nil {
		return err
	}
	return h.c.xNotified(ctx, watcher, target, n)
}

// SubscribeFailed handles a SUBSCRIBE that failed (X2S error rows of §3.7).
func (h SIPEvents) SubscribeFailed(ctx context.Context, watcher, target cpim.Address, e *cpim.Error, initial bool) error {
	if err := h.c.wait(ctx); err != nil {
		return err
	}
	return h.c.xSubscribeFailed(ctx, watcher, target, e, initial)
}

// RefreshDue starts the probe-first refresh of a subscriber dialog close
// to expiry (RFC 8048 §8.1, SUB-08).
func (h SIPEvents) RefreshDue(ctx context.Context, watcher, target cpim.Address) error {
	if err := h.c.wait(ctx); err != nil {
		return err
	}
	return h.c.xRefreshDue(ctx, watcher, target)
}

// XMPPEvents receives the XMPP side's presence stanzas. Every method waits
// until Run has restored the state.
type XMPPEvents struct{ c *Core }

// Presence handles an XMPP user's presence to a SIP contact: S2X
// notification (or PUBLISH), and what it says about the user's presence
// session for the X2S refresh.
func (h XMPPEvents) Presence(ctx context.Context, p cpim.Presence) error {
	if err := h.c.wait(ctx); err != nil {
		return err
	}
	return h.c.sPresence(ctx, p)
}

// Subscription handles a subscription stanza of an XMPP user: subscribe,
// unsubscribe and probe towards a SIP contact (X2S), subscribed and
// unsubscribed deciding a SIP contact's request (S2X).
func (h XMPPEvents) Subscription(ctx context.Context, s cpim.Subscription) error {
	if err := h.c.wait(ctx); err != nil {
		return err
	}
	c := h.c
	switch s.Op {
	case cpim.Subscribe:
		return c.xSubscribe(ctx, s.Watcher, s.Target, s.ID)
	case cpim.Unsubscribe:
		return c.xUnsubscribe(ctx, s.Watcher, s.Target)
	case cpim.Probe:
		return c.xProbe(ctx, s.Watcher, s.Target, s.ID)
	case cpim.Subscribed:
		return c.sSubscribed(ctx, s.Target, s.Watcher)
	case cpim.Unsubscribed:
		return c.sUnsubscribed(ctx, s.Target, s.Watcher)
	}
	return &cpim.Error{Condition: cpim.BadRequest, Text: "unknown subscription operation " + string(s.Op)}
}

// PresenceError handles a presence error from an XMPP user answering a
// stanza the gateway sent from a SIP contact.
func (h XMPPEvents) PresenceError(ctx context.Context, from, to cpim.Address, e *cpim.Error) error {
	if err := h.c.wait(ctx); err != nil {
		return err
	}
	return h.c.presenceError(ctx, from, to, e)
}
