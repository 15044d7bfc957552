package presence

import (
	"context"
	"sync"
	"time"

	"cpimgw/cpim"
	"cpimgw/store"
)

// This file is the S2X half of INTERWORKING.md §3.7: SIP contact C watches
// XMPP user U. The gateway is U's presence agent (the SIP notifier) and
// sends subscribe, probe and directed unavailable from C to U.

// errPublishMode refuses a SUBSCRIBE in PUBLISH mode, where the presence
// server answers them (§3.8).
var errPublishMode = &cpim.Error{Condition: cpim.Forbidden, Status: 403,
	Text: "presence subscriptions are served by the presence server"}

// sSubscribeRequest answers a SUBSCRIBE the SIP side accepted; the
// returned notification is sent at once after the 200 (RFC 6665 §4.2.1.2,
// SUB-12).
func (c *Core) sSubscribeRequest(ctx context.Context, s cpim.Subscription) (cpim.Notification, error) {
	if c.mode == Publish {
		return cpim.Notification{}, errPublishMode
	}
	p := c.pairOf(s.Target, s.Watcher)
	p.mu.Lock()
	defer p.mu.Unlock()
	c.loadS(p)
	switch s.Op {
	case cpim.Subscribe:
		if s.Renewal {
			// RFC 8048 §5.3.2: the current state; an empty NOTIFY when
			// nothing meaningful is known (SUB-19). No XMPP traffic.
			return c.sCurrent(p), nil
		}
		switch p.sAuth {
		case store.AuthGranted:
			// U already authorized C: active at once, with U's presence
			// if known, else empty and a probe (RFC 8048 §7.2).
			if p.sView == nil {
				c.sendSub(ctx, cpim.Probe, p.c, p.u)
				p.sAsked = true
			}
			return c.sCurrent(p), nil
		case store.AuthPending:
			// Still undecided: ask again for this new dialog (RFC 8048
			// §5.3.1); U's server keeps one request (RFC 6121 §3.1.3).
		default:
			if err := c.setS2X(p, store.AuthPending); err != nil {
				return cpim.Notification{}, err
			}
		}
		if err := c.sendSub(ctx, cpim.Subscribe, p.c, p.u); err != nil {
			// The user was not asked (the XMPP link is down, say): refuse
			// the SUBSCRIBE with the failure (503 + Retry-After) rather
			// than leave the watcher pending on a question nobody got.
			// The authorization stays pending: the next SUBSCRIBE asks.
			return cpim.Notification{}, err
		}
		p.sAsked = true
		return cpim.Notification{State: cpim.SubPending}, nil
	case cpim.Unsubscribe:
		// RFC 8048 §5.3.3, SUB-20: closed and terminated;timeout, and a
		// directed unavailable C→U; the authorization stays.
		c.sendPresence(ctx, p.c, p.u, "", nil)
		return cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonTimeout, Presence: closedPresence(p.u, p.c)}, nil
	case cpim.Probe:
		// A fetch (RFC 8048 §7.2, RFC 6665 §4.4.3, SUB-21): the cached
		// state, or empty and a probe.
		n := cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonTimeout}
		if p.sView != nil {
			n.Presence = c.handOut(p)
		} else {
			c.sendSub(ctx, cpim.Probe, p.c, p.u)
			p.sAsked = true
		}
		return n, nil
	}
	return cpim.Notification{}, &cpim.Error{Condition: cpim.BadRequest, Text: "unexpected subscription operation " + string(s.Op)}
}

// sCurrent is the pair's current notification: active with U's presence
// (nil when nothing is known) when C is authorized, pending while asked,
// terminated;rejected when U refused [D]. Called with p.mu held.
func (c *Core) sCurrent(p *pair) cpim.Notification {
	switch p.sAuth {
	case store.AuthGranted:
		n := cpim.Notification{State: cpim.SubActive}
		if p.sView != nil {
			n.Presence = c.handOut(p)
		}
		return n
	case store.AuthPending:
		return cpim.Notification{State: cpim.SubPending}
	}
	return cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonRejected}
}

// handOut returns the full-state document of U for C and drops the closed
// tuples it carries (§3.6: sent once). Called with p.mu held.
func (c *Core) handOut(p *pair) *cpim.Presence {
	doc := snapshot(val(p.sView))
	doc.Entity, doc.Watcher = p.u.Bare(), p.c.Bare()
	if next := dropClosed(*p.sView); len(next.Tuples) != len(p.sView.Tuples) {
		p.sView = &next
		c.putPresence(viewKey(p.u, p.c), next)
	}
	return doc
}

// sSubscribed handles U→C subscribed: C is authorized (durable first), and
// a waiting dialog becomes active with U's presence (RFC 8048 §5.3.1,
// SUB-17). Without a pending request it is a pre-approval (RFC 6121 §3.4):
// stored, nothing sent.
func (c *Core) sSubscribed(ctx context.Context, u, sc cpim.Address) error {
	p := c.pairOf(u, sc)
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.sAuth
	p.sAsked = false
	if prev == store.AuthGranted {
		return nil
	}
	if err := c.setS2X(p, store.AuthGranted); err != nil {
		return err
	}
	if prev == store.AuthPending && c.mode != Publish {
		c.loadS(p)
		c.notify(ctx, p.c, p.u, c.sCurrent(p))
	}
	return nil
}

// sUnsubscribed handles U→C unsubscribed, a refusal or a revocation:
// terminated;reason=rejected without a body (RFC 8048 §5.3.1, SUB-18),
// authorization none, U's presence for C forgotten (SUB-31).
func (c *Core) sUnsubscribed(ctx context.Context, u, sc cpim.Address) error {
	p := c.pairOf(u, sc)
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.sAuth
	p.sAsked = false
	if err := c.setS2X(p, store.AuthNone); err != nil {
		return err
	}
	c.forgetS(p)
	if prev != store.AuthNone && c.mode != Publish {
		c.notify(ctx, p.c, p.u, cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonRejected})
	}
	return nil
}

// forgetS drops U's presence for C and a pending coalesced NOTIFY.
func (c *Core) forgetS(p *pair) {
	p.sFlush.cancel()
	p.sFlush = nil
	p.sView, p.sLoaded = nil, true
	c.deletePresence(viewKey(p.u, p.c))
}

// sPresence handles U's presence to C: it updates U's full presence as U
// shows it to C and, when C is authorized, notifies C's dialogs with the
// full state (RFC 8048 §6.2, RFC 3856 §6.8, PRS-13), coalesced (PRS-17).
// Only C's dialogs hear it (RFC 8048 §8.2, PRS-16).
func (c *Core) sPresence(ctx context.Context, in cpim.Presence) error {
	if in.Watcher.IsZero() {
		return nil // not addressed to a SIP user
	}
	p := c.pairOf(in.Entity, in.Watcher)
	p.mu.Lock()
	c.xAnswer(ctx, p, in)
	p.sAsked = false
	if c.mode == Publish {
		p.mu.Unlock()
		return c.publishPresence(ctx, in)
	}
	defer p.mu.Unlock()
	c.loadS(p)
	prev, known := val(p.sView), p.sView != nil
	next := merge(prev, in, c.now())
	next.Entity, next.Watcher = p.u.Bare(), p.c.Bare()
	if known && !changedView(known, prev, next) {
		return nil // a repeat (a probe answer, a copy): nothing changes for C
	}
	if p.sAuth != store.AuthGranted {
		// Nobody to notify: keep only what is still available.
		next = dropClosed(next)
	}
	p.sView = &next
	c.putPresence(viewKey(p.u, p.c), next)
	if p.sAuth != store.AuthGranted {
		return nil
	}
	c.sNotify(ctx, p)
	return nil
}

// sNotify sends U's full state to C now, or merges it into the NOTIFY
// scheduled at the end of the current window (RFC 3856 §6.10). Called with
// p.mu held.
func (c *Core) sNotify(ctx context.Context, p *pair) {
	c.coalesce(ctx, &p.mu, p.sLastNotify, &p.sFlush, func(ctx context.Context, now time.Time) {
		if p.sAuth == store.AuthGranted && p.sView != nil {
			c.sendActive(ctx, p, now)
		}
	})
}

// coalesce rate-limits sends to one per interval (RFC 3856 §6.10): it
// calls send now when the last send (last) is at least interval ago, and
// otherwise makes sure one send is scheduled at the end of the window; a
// send already scheduled takes the change along (it sends the state
// current then). mu guards *flush and the state send reads; coalesce is
// called, and send runs, with mu held.
func (c *Core) coalesce(ctx context.Context, mu sync.Locker, last time.Time, flush **task, send func(context.Context, time.Time)) {
	if *flush != nil {
		return // merged: the flush sends the state current then
	}
	now := c.now()
	if c.interval < 0 || last.IsZero() || now.Sub(last) >= c.interval {
		send(ctx, now)
		return
	}
	var t *task
	t = c.sched.add(last.Add(c.interval), func(ctx context.Context) {
		mu.Lock()
		defer mu.Unlock()
		if *flush != t {
			return
		}
		*flush = nil
		send(ctx, c.now())
	})
	*flush = t
}

// sendActive sends NOTIFY active with U's full state. Called with p.mu held.
func (c *Core) sendActive(ctx context.Context, p *pair, now time.Time) {
	p.sLastNotify = now
	c.notify(ctx, p.c, p.u, cpim.Notification{State: cpim.SubActive, Presence: c.handOut(p)})
}

// sEnded handles a notifier dialog that ended without C unsubscribing
// (expiry, RFC 6665 §4.2.1.4; NOTIFY failure, §4.2.2): a directed
// unavailable C→U ends C's directed presence at U's server [D]; the
// authorization stays (RFC 8048 §5.3.3 note).
func (c *Core) sEnded(ctx context.Context, sc, u cpim.Address, reason string) error {
	p := c.pairOf(u, sc)
	p.mu.Lock()
	defer p.mu.Unlock()
	c.log.Debug("SIP watcher's subscription ended", "from", p.c.String(), "to", p.u.String(), "reason", reason)
	c.sendPresence(ctx, p.c, p.u, "", nil)
	return nil
}

// errorReason maps an XMPP error answering our subscribe or probe to a
// terminated reason (INTERWORKING.md §3.7 last S2X row, SUB-32 [D]).
// Conditions the table does not list are taken as transient.
func errorReason(cond cpim.Condition) (reason string, retry time.Duration) {
	switch cond {
	case cpim.ItemNotFound, cpim.JIDMalformed, cpim.Gone:
		return cpim.ReasonNoResource, 0
	case cpim.Forbidden, cpim.NotAuthorized, cpim.NotAllowed, cpim.ServiceUnavailable,
		cpim.SubscriptionRequired, cpim.RegistrationRequired, cpim.PolicyViolation:
		return cpim.ReasonRejected, 0
	}
	return cpim.ReasonProbation, 300 * time.Second
}

// presenceError handles a presence error from U to C: the answer to a
// pre-refresh probe (refresh: issue4.md "otherwise") and to an S2X
// subscribe or probe (NOTIFY terminated with the mapped reason; rejected
// and noresource end C's authorization).
func (c *Core) presenceError(ctx context.Context, u, sc cpim.Address, e *cpim.Error) error {
	p := c.pairOf(u, sc)
	p.mu.Lock()
	defer p.mu.Unlock()
	if e == nil {
		e = &cpim.Error{Condition: cpim.UndefinedCondition}
	}
	if p.xProbe != nil {
		p.xProbe.cancel()
		p.xProbe = nil
		c.subscribeNow(ctx, p)
	}
	if !p.sAsked && p.sAuth != store.AuthPending {
		c.log.Debug("presence error ignored", "from", p.u.String(), "to", p.c.String(), "condition", string(e.Condition))
		return nil
	}
	p.sAsked = false
	reason, retry := errorReason(e.Condition)
	if reason != cpim.ReasonProbation {
		if err := c.setS2X(p, store.AuthNone); err != nil {
			return err
		}
		c.forgetS(p)
	}
	if c.mode != Publish {
		c.notify(ctx, p.c, p.u, cpim.Notification{State: cpim.SubTerminated, Reason: reason, RetryAfter: retry})
	}
	return nil
}
