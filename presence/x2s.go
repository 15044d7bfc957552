package presence

import (
	"context"
	"time"

	"cpimgw/cpim"
	"cpimgw/mapping"
	"cpimgw/store"
)

// This file is the X2S half of INTERWORKING.md §3.7: XMPP user U watches
// SIP contact C. The gateway is the SIP subscriber and, on the XMPP side,
// C's "home server" (RFC 6121 §3.1.3, §4.3.2).

// xSubscribe handles U→C subscribe (RFC 8048 §5.2.1, SUB-01, SUB-28). id
// is the stanza's: an error answering it carries it (RFC 6120 §8.3.1).
func (c *Core) xSubscribe(ctx context.Context, u, sc cpim.Address, id string) error {
	p := c.pairOf(u, sc)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.xGone = false // U asks anew
	switch p.xAuth {
	case store.AuthGranted:
		// SUB-28 second half (RFC 6121 §3.1.3 rule 2): C already approved
		// U, so the gateway as C's server auto-replies, then sends C's
		// available resources as a contact's server does after an
		// approval (RFC 6121 §3.1.5), and makes sure a dialog runs.
		c.sendSub(ctx, cpim.Subscribed, p.u, p.c)
		c.loadX(p)
		if open := openTuples(val(p.xLast)); len(open) > 0 {
			c.sendPresence(ctx, p.c, p.u, p.xLast.Lang, open)
		}
		c.ensureDialog(ctx, p)
	case store.AuthPending:
		// Still undecided: C's side has the request; keep a dialog.
		p.xReqID = id
		c.ensureDialog(ctx, p)
	default:
		if e := c.checkLimits(p.key.u); e != nil {
			c.log.Warn("presence subscription refused: limit reached", "from", p.u.String(), "to", p.c.String(), "condition", string(e.Condition), "err", e.Text)
			c.sendError(ctx, p.c, p.u, id, e)
			return nil
		}
		if err := c.setX2S(p, store.AuthPending); err != nil {
			return err
		}
		p.xReqID = id
		c.subscribeNow(ctx, p)
	}
	return nil
}

// ensureDialog subscribes unless a dialog is live or being set up, or the
// notifier said the state no longer exists (invariant).
func (c *Core) ensureDialog(ctx context.Context, p *pair) {
	if (p.xDlg == dlgNone || p.xDlg == dlgLapsing) && !p.xGone {
		c.subscribeNow(ctx, p)
	}
}

// xUnsubscribe handles U→C unsubscribe (RFC 8048 §5.2.3, SUB-09, SUB-31):
// the authorization is removed first (so the notifier's final NOTIFY and
// any late one are ignored), the dialog ended, and U's server told
// 'unsubscribed' and, as a contact's server does (RFC 6121 §3.3.3 step 3),
// 'unavailable' for each of C's resources U saw available.
func (c *Core) xUnsubscribe(ctx context.Context, u, sc cpim.Address) error {
	p := c.pairOf(u, sc)
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.xAuth
	if err := c.setX2S(p, store.AuthNone); err != nil {
		return err
	}
	c.stopX(p)
	if s := c.sipSide(); s != nil {
		if err := s.Unsubscribe(ctx, p.u, p.c); err != nil {
			c.log.Warn("unSUBSCRIBE failed", "from", p.u.String(), "to", p.c.String(), "err", err)
		}
	}
	p.xDlg = dlgNone
	if prev != store.AuthNone {
		c.sendSub(ctx, cpim.Unsubscribed, p.u, p.c)
		c.retract(ctx, p)
	}
	return nil
}

// stopX cancels the pair's X2S timers.
func (c *Core) stopX(p *pair) {
	p.xRetry.cancel()
	p.xRetry = nil
	p.xProbe.cancel()
	p.xProbe = nil
	p.xFails = 0
	p.xGone = false
}

// retract tells U that every resource of C it saw available is gone and
// forgets C's presence for U (the authorization ended: RFC 6121 §3.2.2,
// §3.3.3).
func (c *Core) retract(ctx context.Context, p *pair) {
	c.loadX(p)
	var closed []cpim.Tuple
	for _, t := range openTuples(val(p.xLast)) {
		closed = append(closed, cpim.Tuple{Resource: t.Resource, Basic: cpim.Closed})
	}
	if len(closed) > 0 {
		c.sendPresence(ctx, p.c, p.u, "", closed)
	}
	p.xLast = nil
	c.deletePresence(viewKey(p.c, p.u))
}

// cancelX ends an X2S authorization the SIP side refused or revoked:
// 'unsubscribed' C→U, then the retraction (SUB-05, RFC 3922 §6.1).
func (c *Core) cancelX(ctx context.Context, p *pair) error {
	if err := c.setX2S(p, store.AuthNone); err != nil {
		return err
	}
	c.stopX(p)
	p.xDlg = dlgNone
	c.sendSub(ctx, cpim.Unsubscribed, p.u, p.c)
	c.retract(ctx, p)
	return nil
}

// xProbe answers U's server probing C (RFC 6121 §4.3.2, SUB-30): with an
// authorization, C's available resources from the cache (full JIDs) or a
// bare 'unavailable' when none is known; without one, 'unsubscribed' from
// C's bare JID. A probe means U started a presence session (RFC 6121
// §4.3.1), so the dialog is (re-)established if none is live (RFC 8048
// §5.2.2, SUB-07).
//
// The cached state is what the gateway last told U; answering from it
// makes it U's server's baseline again, against which the next NOTIFY's
// changed tuples are computed. A pending request is answered with a bare
// 'unavailable' [D]: 'unsubscribed' would cancel U's outstanding request,
// and nothing about C may be shown yet.
func (c *Core) xProbe(ctx context.Context, u, sc cpim.Address, id string) error {
	p := c.pairOf(u, sc)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.uOnline = onlineYes
	switch p.xAuth {
	case store.AuthGranted:
		c.loadX(p)
		last := val(p.xLast)
		c.sendPresence(ctx, p.c, p.u, last.Lang, openTuples(last))
		c.ensureDialog(ctx, p)
	case store.AuthPending:
		c.sendPresence(ctx, p.c, p.u, "", nil)
	default:
		c.sendSubID(ctx, cpim.Unsubscribed, p.u, p.c, id)
	}
	return nil
}

// xNotified handles a NOTIFY in the pair's subscriber dialog.
func (c *Core) xNotified(ctx context.Context, u, sc cpim.Address, n cpim.Notification) error {
	p := c.pairOf(u, sc)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.xAuth == store.AuthNone {
		// U unsubscribed or was refused: stop notifications (SUB-31).
		c.log.Debug("NOTIFY for a pair without authorization ignored", "from", p.c.String(), "to", p.u.String(), "state", string(n.State))
		return nil
	}
	switch n.State {
	case cpim.SubPending:
		// SUB-02: nothing to XMPP while pending (RFC 8048 §5.2.1).
		c.markLive(p)
	case cpim.SubActive:
		c.markLive(p)
		next := cpim.Presence{}
		if n.Presence != nil {
			next = *n.Presence
		}
		next.Entity, next.Watcher = p.c.Bare(), p.u.Bare()
		if p.xAuth != store.AuthGranted {
			// First active: C approved (SUB-04). Durable before U hears it.
			if err := c.setX2S(p, store.AuthGranted); err != nil {
				return err
			}
			c.sendSub(ctx, cpim.Subscribed, p.u, p.c)
			p.xLast, p.xLoaded = nil, true // U's server knows nothing of C yet
		}
		c.loadX(p)
		c.sendChanges(ctx, p, val(p.xLast), next)
		p.xLast = &next
		c.putPresence(viewKey(p.c, p.u), next)
	case cpim.SubTerminated:
		p.xDlg = dlgNone
		return c.xTerminated(ctx, p, n)
	}
	return nil
}

// markLive records a NOTIFY that keeps the dialog: live, unless U is
// offline and the dialog was left to lapse.
func (c *Core) markLive(p *pair) {
	if p.xDlg != dlgLapsing {
		p.xDlg = dlgLive
	}
	p.xFails = 0
	p.xGone = false
}

// sendChanges tells U what changed between prev and next (§3.6, PRS-14):
// the changed tuples, closed ones for vanished resources, and for a state
// without tuples a bare 'unavailable' only if a resource was available
// before (§3.6 zero-tuple decision).
func (c *Core) sendChanges(ctx context.Context, p *pair, prev, next cpim.Presence) {
	if len(next.Tuples) == 0 {
		if hasOpen(prev) {
			c.sendPresence(ctx, p.c, p.u, next.Lang, nil)
		}
		return
	}
	if ch := mapping.ChangedTuples(prev, next); len(ch) > 0 {
		c.sendPresence(ctx, p.c, p.u, next.Lang, ch)
	}
}

// xTerminated applies the terminated rows of §3.7 (RFC 6665 §4.1.3).
func (c *Core) xTerminated(ctx context.Context, p *pair, n cpim.Notification) error {
	switch n.Reason {
	case cpim.ReasonRejected, cpim.ReasonNoResource:
		// RFC 3922 §6.1: the contact refused or is gone.
		return c.cancelX(ctx, p)
	case cpim.ReasonTimeout, cpim.ReasonDeactivated:
		c.autoResubscribe(ctx, p)
	case cpim.ReasonProbation, cpim.ReasonGiveUp:
		d := n.RetryAfter
		if d <= 0 {
			d = c.jitter(retryMin, 2*retryMin)
		}
		c.scheduleResubscribe(p, d)
	case cpim.ReasonInvariant:
		// Keep the last state; do not re-subscribe (RFC 6665 §4.1.3
		// SHOULD NOT) until U itself subscribes again.
		p.xGone = true
	default:
		// RFC 6665 §4.1.3: no or an unknown reason — the subscriber may
		// re-subscribe at any time; honour retry-after if given [D].
		if n.RetryAfter > 0 {
			c.scheduleResubscribe(p, n.RetryAfter)
		} else {
			c.autoResubscribe(ctx, p)
		}
	}
	return nil
}

// autoResubscribe re-subscribes now (a new dialog) while the authorization
// is held and U is not known to be offline; a second automatic
// re-subscription within minAutoGap backs off instead, so a notifier that
// keeps terminating cannot make a loop.
func (c *Core) autoResubscribe(ctx context.Context, p *pair) {
	if p.xAuth == store.AuthNone || p.uOnline == onlineNo {
		return
	}
	now := c.now()
	if !p.xAuto.IsZero() && now.Sub(p.xAuto) < minAutoGap {
		c.backoff(p, 0)
		return
	}
	p.xAuto = now
	c.subscribeNow(ctx, p)
}

// backoff schedules a re-subscription after retryAfter, or after a
// jittered, doubling delay from retryMin to retryMax.
func (c *Core) backoff(p *pair, retryAfter time.Duration) {
	p.xFails++
	d := retryAfter
	if d <= 0 {
		base := retryMin
		for i := 1; i < p.xFails && base < retryMax; i++ {
			base *= 2
		}
		base = min(base, retryMax)
		d = c.jitter(base, min(2*base, retryMax+retryMax/2))
	}
	c.scheduleResubscribe(p, d)
}

// scheduleResubscribe re-subscribes after d, unless by then the
// authorization is gone, a dialog runs, or U is known to be offline (U's
// next probe re-subscribes then).
func (c *Core) scheduleResubscribe(p *pair, d time.Duration) {
	p.xRetry.cancel()
	var t *task
	t = c.sched.add(c.now().Add(d), func(ctx context.Context) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.xRetry != t {
			return
		}
		p.xRetry = nil
		if p.xAuth == store.AuthNone || p.xDlg == dlgLive || p.xDlg == dlgStarting || p.uOnline == onlineNo {
			return
		}
		p.xAuto = c.now()
		c.subscribeNow(ctx, p)
	})
	p.xRetry = t
}

// xSubscribeFailed applies the SUBSCRIBE error rows of §3.7.
func (c *Core) xSubscribeFailed(ctx context.Context, u, sc cpim.Address, e *cpim.Error, initial bool) error {
	p := c.pairOf(u, sc)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.xAuth == store.AuthNone {
		return nil
	}
	if e == nil {
		e = &cpim.Error{Condition: cpim.UndefinedCondition}
	}
	p.xDlg = dlgNone
	switch st := e.Status; {
	case st == 403 || st == 489 || st == 603:
		// RFC 8048 §5.2.2 MUST: the authorization is permanently
		// cancelled, and U is told (SUB-05).
		return c.cancelX(ctx, p)
	case st == 481:
		// Transient (RFC 8048 §5.2.2, SUB-06): the dialog is gone; a new
		// one at once, keeping the authorization. A repeated 481 backs off.
		if p.xFails == 0 {
			p.xFails++
			c.subscribeNow(ctx, p)
		} else {
			c.backoff(p, e.RetryAfter)
		}
	case initial && p.xAuth == store.AuthPending && (st == 404 || st == 604 || st == 484 || st == 485):
		// RFC 3922 §6.1 MUST: the request U made cannot reach C.
		if err := c.setX2S(p, store.AuthNone); err != nil {
			return err
		}
		c.stopX(p)
		c.sendError(ctx, p.c, p.u, p.xReqID, &cpim.Error{Condition: cpim.ItemNotFound, Text: e.Text})
		p.xReqID = ""
	default:
		// Refresh failures (404, 405, 410, 416, 480–485, 501, 604: the
		// dialog is dead, RFC 6665 §4.1.2.2, SUB-23), 408 and Timer N,
		// and anything else, including a new dialog of a granted
		// authorization failing: keep the authorization and try again
		// later [D].
		c.backoff(p, e.RetryAfter)
	}
	return nil
}

// xRefreshDue applies the probe-first refresh of issue4.md (RFC 7248 §7,
// RFC 8048 §8.1, SUB-08): probe U from C's JID and decide on the answer
// (xAnswer) or, with none within ProbeTimeout, refresh.
func (c *Core) xRefreshDue(ctx context.Context, u, sc cpim.Address) error {
	p := c.pairOf(u, sc)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.xAuth == store.AuthNone {
		return nil // nobody wants it: let it lapse
	}
	if p.xProbe != nil {
		return nil // already probing
	}
	x := c.xmppSide()
	if x == nil {
		c.subscribeNow(ctx, p)
		return nil
	}
	if err := x.SendSubscription(ctx, cpim.Subscription{Op: cpim.Probe, Watcher: p.c.Bare(), Target: p.u.Bare()}); err != nil {
		c.log.Warn("pre-refresh probe failed; refreshing", "from", p.c.String(), "to", p.u.String(), "err", err)
		c.subscribeNow(ctx, p)
		return nil
	}
	var t *task
	t = c.sched.add(c.now().Add(c.probeTimeout), func(ctx context.Context) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.xProbe != t {
			return
		}
		p.xProbe = nil
		if p.xAuth != store.AuthNone {
			c.subscribeNow(ctx, p) // no answer: refresh [D]
		}
	})
	p.xProbe = t
	return nil
}

// xAnswer looks at a presence of U to C for what it says about U's
// presence session: the answer to a pre-refresh probe, or the start of a
// session. Called with p.mu held, before the S2X handling.
//
//   - available: U is online; a pending probe refreshes now, and without a
//     probe a granted pair without a live dialog is re-subscribed (U
//     started a session, RFC 8048 §5.2.2).
//   - unavailable from the bare JID while C may see U (S2X granted): U is
//     offline (issue4.md): a pending probe lets the dialog lapse.
//   - the same without C's authorization says nothing (Prosody answers an
//     unauthorized probe so, measured): a pending probe refreshes.
//   - unavailable of one resource: not an answer; the probe waits.
func (c *Core) xAnswer(ctx context.Context, p *pair, in cpim.Presence) {
	t := cpim.Tuple{Basic: cpim.Closed}
	if len(in.Tuples) > 0 {
		t = in.Tuples[0]
	}
	probing := p.xProbe != nil
	switch {
	case t.Basic == cpim.Open:
		p.uOnline = onlineYes
		if probing {
			p.xProbe.cancel()
			p.xProbe = nil
			c.subscribeNow(ctx, p)
		} else if p.xAuth == store.AuthGranted && p.xRetry == nil {
			c.ensureDialog(ctx, p)
		}
	case t.Resource == "" && p.sAuth == store.AuthGranted:
		p.uOnline = onlineNo
		if probing {
			p.xProbe.cancel()
			p.xProbe = nil
			if p.xDlg != dlgNone {
				p.xDlg = dlgLapsing
			}
			c.log.Debug("XMPP user offline: subscription left to lapse", "from", p.u.String(), "to", p.c.String())
		}
	case t.Resource == "" && probing:
		p.xProbe.cancel()
		p.xProbe = nil
		c.subscribeNow(ctx, p)
	}
}
