package sipside

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"cpimgw/cpim"
	"cpimgw/mapping"
	"cpimgw/store"

	"github.com/emiago/sipgo/sip"
)

// The subscriber role (X2S, INTERWORKING.md §3.7 first table): an XMPP
// user watches a SIP user and the gateway subscribes on the XMPP user's
// behalf.

// subOp is the kind of SUBSCRIBE a subscriber dialog sends.
type subOp int

const (
	opInitial     subOp = iota // creates the dialog (RFC 6665 §4.1.2.1)
	opRefresh                  // in the dialog (§4.1.2.2)
	opUnsubscribe              // in the dialog, Expires: 0 (§4.1.2.3)
	opFetch                    // a new dialog with Expires: 0 (§4.4.3)
)

func (o subOp) String() string {
	return [...]string{"initial", "refresh", "unsubscribe", "fetch"}[o]
}

// Subscribe subscribes watcher (an XMPP user) to the presence of target
// (a SIP user) (X2S; RFC 8048 §5.2.1, SUB-01), or refreshes the
// subscription when the pair has one (RFC 6665 §4.1.2.2).
//
// A new subscription is a SUBSCRIBE to the target's URI
// (mapping.ForPresence) through the outbound proxy: From the watcher's
// bare AOR with a tag, To the target, a fresh Call-ID, Event: presence,
// Accept: application/pidf+xml, Expires: Config.SubscribeExpires, the
// gateway's Contact. A refresh goes in the dialog (remote target, route
// set, CSeq+1). Subscribe returns once the request is on its way; while a
// SUBSCRIBE of the pair is outstanding it does nothing. Results arrive
// through the PresenceHandler: Notified for each NOTIFY (the first may
// precede the 2xx), SubscribeFailed for a failure response (423 is retried
// once with Min-Expires, 401/407 answered with the credentials), for no
// response, or when no NOTIFY came within Timer N (64·T1 from sending,
// RFC 6665 §4.1.2.4), and RefreshDue at 80 % of the granted expiry.
func (e *Endpoint) Subscribe(ctx context.Context, watcher, target cpim.Address) error {
	if err := e.presenceReady(); err != nil {
		return err
	}
	w, t := watcher.Bare(), target.Bare()
	s := e.subs
	key := pairKey(store.X2S, w, t)
	s.mu.Lock()
	if d := s.subscriberPairs[key]; d != nil {
		if d.inflight || !d.established {
			s.mu.Unlock()
			return nil
		}
		d.inflight = true
		s.mu.Unlock()
		e.startSubscribe(d, opRefresh)
		return nil
	}
	s.mu.Unlock()
	d, err := e.newSubscriberDialog(w, t)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.subscriberPairs[key] != nil {
		s.mu.Unlock()
		return nil // a concurrent Subscribe won
	}
	s.subscriberPairs[key] = d
	s.subscribers[d.callID] = d
	d.inflight = true
	s.mu.Unlock()
	s.persist(d)
	e.startSubscribe(d, opInitial)
	return nil
}

// Unsubscribe ends the subscription of watcher to target (X2S; RFC 8048
// §5.2.3, SUB-09): an in-dialog SUBSCRIBE with Expires: 0. The dialog
// leaves the store at once; the notifier's final NOTIFY is answered 200
// and not reported (the gateway does not originate a NOTIFY as subscriber,
// INTERWORKING.md §3.7 note [D]). A dialog whose SUBSCRIBE is still
// unanswered is unsubscribed once it is established. Without a
// subscription Unsubscribe does nothing.
func (e *Endpoint) Unsubscribe(ctx context.Context, watcher, target cpim.Address) error {
	if err := e.presenceReady(); err != nil {
		return err
	}
	s := e.subs
	key := pairKey(store.X2S, watcher.Bare(), target.Bare())
	s.mu.Lock()
	d := s.subscriberPairs[key]
	if d == nil {
		s.mu.Unlock()
		return nil
	}
	delete(s.subscriberPairs, key)
	d.unsubscribing = true
	for _, t := range []*time.Timer{d.refresh, d.timer} {
		if t != nil {
			t.Stop()
		}
	}
	if !d.established {
		d.pendingUnsub = true
		s.mu.Unlock()
		s.forget(d)
		return nil
	}
	s.mu.Unlock()
	s.forget(d)
	e.startSubscribe(d, opUnsubscribe)
	return nil
}

// Fetch polls the presence of target once for watcher (X2S; RFC 8048
// §7.1, SUB-10): a SUBSCRIBE with Expires: 0 in a new dialog (RFC 6665
// §4.4.3), kept only until its NOTIFY, which is reported through Notified
// (normally terminated;reason=timeout with the state), and not stored. A
// failure is reported through SubscribeFailed with initial set.
func (e *Endpoint) Fetch(ctx context.Context, watcher, target cpim.Address) error {
	if err := e.presenceReady(); err != nil {
		return err
	}
	d, err := e.newSubscriberDialog(watcher.Bare(), target.Bare())
	if err != nil {
		return err
	}
	d.fetch, d.transient = true, true
	s := e.subs
	s.mu.Lock()
	s.subscribers[d.callID] = d
	d.inflight = true
	s.mu.Unlock()
	e.startSubscribe(d, opFetch)
	return nil
}

// newSubscriberDialog builds the dialog of a new SUBSCRIBE from watcher to
// target: From the watcher's bare URI with a fresh tag, To and
// Request-URI the target's URI (both mapping.ForPresence), a fresh Call-ID.
func (e *Endpoint) newSubscriberDialog(w, t cpim.Address) (*dialog, error) {
	ruri, err := e.mapper.URI(t, mapping.ForPresence)
	if err != nil {
		return nil, err
	}
	from, err := e.mapper.URI(w, mapping.ForPresence)
	if err != nil {
		return nil, err
	}
	d := &dialog{
		role: store.Subscriber, pair: pairKey(store.X2S, w, t),
		watcher: w, target: t,
		callID: newCallID(), localTag: newTag(),
	}
	if err := sip.ParseUri(ruri, &d.remoteURI); err != nil {
		return nil, internalError("target URI %q: %w", ruri, err)
	}
	if err := sip.ParseUri(from, &d.localURI); err != nil {
		return nil, internalError("watcher URI %q: %w", from, err)
	}
	if s := d.remoteURI.Scheme; s != "sip" && s != "sips" && e.cfg.proxy == nil {
		// RFC 3428 §5 by analogy: a pres: URI must be resolved to a SIP
		// URI; without a proxy to do it, it cannot be reached.
		return nil, &cpim.Error{Condition: cpim.RemoteServerNotFound,
			Cause: fmt.Errorf("sipside: %s: no outbound proxy to resolve a %s: URI", ruri, s)}
	}
	d.remoteTarget = d.remoteURI
	return d, nil
}

// startSubscribe runs a SUBSCRIBE transaction of d in the background.
func (e *Endpoint) startSubscribe(d *dialog, op subOp) {
	if !e.goBG(func() { e.runSubscribe(d, op) }) {
		e.subs.mu.Lock()
		d.inflight = false
		e.subs.mu.Unlock()
	}
}

// runSubscribe sends one SUBSCRIBE of d (Expires: SubscribeExpires, or 0
// to unsubscribe or fetch; Accept: application/pidf+xml), starting Timer
// N as it goes (RFC 6665 §4.1.2.4), retries once after 423 with the
// Min-Expires (RFC 6665 §4.1.2.1 via RFC 3261 §21.4.17), and handles the
// final response.
func (e *Endpoint) runSubscribe(d *dialog, op subOp) {
	ctx, cancel := context.WithTimeout(e.life, e.cfg.TransactionTimeout)
	defer cancel()
	expires := uint32(e.cfg.SubscribeExpires / time.Second)
	if op == opUnsubscribe || op == opFetch {
		expires = 0
	}
	retried := false
	for {
		e.subs.startTimerN(d, op == opInitial || op == opFetch)
		res, err := e.exchange(ctx, d, sip.SUBSCRIBE, func(req *sip.Request) {
			req.AppendHeader(sip.NewHeader("Accept", pidfType))
			req.AppendHeader(sip.NewHeader("Expires", fmt.Sprint(expires)))
			req.SetBody(nil)
		})
		if e.life.Err() != nil {
			return
		}
		if err == nil && res.StatusCode == 423 && !retried && expires > 0 {
			if m, present, ok := expiresOf(res, "Min-Expires"); present && ok && m > expires {
				expires, retried = m, true
				continue
			}
		}
		e.subs.subscribeDone(d, op, expires, res, err)
		return
	}
}

// startTimerN (re)starts Timer N of d for the SUBSCRIBE about to be sent.
func (s *subscriptions) startTimerN(d *dialog, initial bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d.nAttempt++
	a := d.nAttempt
	d.nInitial = initial
	if d.timerN != nil {
		d.timerN.Stop()
	}
	d.timerN = time.AfterFunc(s.timerN, func() { s.timerNFired(d, a) })
}

// timerNFired handles Timer N: no NOTIFY since the SUBSCRIBE was sent, so
// the subscription failed (initial) or is terminated (refresh) and the
// dialog is dropped (RFC 6665 §4.1.2.2, §4.1.2.4); SubscribeFailed 408
// tells the core. An unsubscribing dialog just goes.
func (s *subscriptions) timerNFired(d *dialog, attempt uint64) {
	if !s.e.enterBG() {
		return
	}
	defer s.wg.Done()
	s.mu.Lock()
	if d.removed || d.nAttempt != attempt || d.timerN == nil {
		s.mu.Unlock()
		return
	}
	d.timerN = nil
	s.removeSubscriber(d)
	if !d.unsubscribing {
		w, t, initial := d.watcher, d.target, d.nInitial
		ce := &cpim.Error{Condition: cpim.RemoteServerTimeout, Status: 408, Text: "no NOTIFY (Timer N)"}
		s.postEvent(d, "SubscribeFailed", func(ctx context.Context, h PresenceHandler) error {
			return h.SubscribeFailed(ctx, w, t, ce, initial)
		})
		s.e.log.Info("no NOTIFY within Timer N, subscription dropped", "call_id", d.callID, "from", w.String(), "to", t.String())
	}
	s.mu.Unlock()
	s.forget(d)
}

// stopTimerN stops Timer N of d: a NOTIFY arrived or the SUBSCRIBE failed
// (lock held).
func (d *dialog) stopTimerN() {
	if d.timerN != nil {
		d.timerN.Stop()
		d.timerN = nil
	}
}

// removeSubscriber removes d from the registry and stops its timers (lock
// held).
func (s *subscriptions) removeSubscriber(d *dialog) {
	if d.removed {
		return
	}
	d.removed = true
	d.stopTimers()
	d.timerN = nil
	if s.subscribers[d.callID] == d {
		delete(s.subscribers, d.callID)
	}
	if s.subscriberPairs[d.pair] == d {
		delete(s.subscriberPairs, d.pair)
	}
}

// subscribeDone handles the final response to a SUBSCRIBE of d.
//
// 2xx (202 as 200, SUB-13): the To tag is the remote tag unless a NOTIFY
// set it first (a 2xx from another fork is then ignored [D]); the route
// set is the Record-Route reversed unless a NOTIFY gave it (RFC 6665
// §4.4.1); the Contact is the remote target; the Expires (at most what was
// asked; absent: what was asked) schedules RefreshDue at 80 % and the lapse.
//
// Failure: an initial SUBSCRIBE or fetch drops the dialog and reports
// SubscribeFailed(initial); a refresh reports SubscribeFailed(not
// initial) and drops the dialog on the codes of RFC 6665 §4.1.2.2 (SUB-23),
// else keeps it until it expires; an unsubscription just drops it.
func (s *subscriptions) subscribeDone(d *dialog, op subOp, requested uint32, res *sip.Response, err error) {
	e := s.e
	if s.settled != nil {
		defer func() {
			select {
			case s.settled <- op:
			default:
			}
		}()
	}
	s.mu.Lock()
	d.inflight = false
	if err == nil && res.StatusCode < 300 {
		persist, unsub := s.subscribeAccepted(d, op, requested, res)
		s.mu.Unlock()
		if persist {
			s.persist(d)
		}
		if unsub {
			e.startSubscribe(d, opUnsubscribe)
		}
		return
	}
	failure := failureOf(res, err)
	status := failure.Status
	if status == 0 {
		status = 408
	}
	attrs := []any{"method", "SUBSCRIBE", "op", op.String(), "call_id", d.callID, "from", d.watcher.String(),
		"to", d.target.String(), "status", status, "err", errString(err)}
	forget := false
	report := !d.removed && !d.unsubscribing
	if op == opRefresh && d.timerN != nil {
		d.stopTimerN()
	}
	switch {
	case op == opUnsubscribe || op == opInitial || op == opFetch:
		forget = !d.removed
		s.removeSubscriber(d)
	case dialogEnding(status):
		forget = !d.removed
		s.removeSubscriber(d)
	}
	if report {
		w, t, initial := d.watcher, d.target, op != opRefresh
		s.postEvent(d, "SubscribeFailed", func(ctx context.Context, h PresenceHandler) error {
			return h.SubscribeFailed(ctx, w, t, failure, initial)
		})
	}
	s.mu.Unlock()
	e.log.Info("SUBSCRIBE failed", attrs...)
	if forget {
		s.forget(d)
	}
}

// subscribeAccepted applies a 2xx to d (lock held); it reports whether d
// must be stored and whether a pending unsubscription may now be sent.
func (s *subscriptions) subscribeAccepted(d *dialog, op subOp, requested uint32, res *sip.Response) (persist, unsub bool) {
	e := s.e
	tag, _ := res.To().Params.Get("tag")
	if !d.established && tag != "" {
		d.remoteTag, d.established = tag, true
		if !d.routeFromNotify {
			d.routes = routeSet(res, true)
		}
	}
	sameFork := tag == d.remoteTag
	if !sameFork {
		e.log.Info("2xx from another fork than the NOTIFY, ignored", "call_id", d.callID, "tag", tag)
	}
	if sameFork {
		if c, ok := contactOf(res); ok {
			d.remoteTarget = c
		}
	}
	e.log.Info("SUBSCRIBE accepted", "op", op.String(), "call_id", d.callID, "from", d.watcher.String(),
		"to", d.target.String(), "status", res.StatusCode)
	if d.removed || op == opUnsubscribe || op == opFetch {
		return false, false
	}
	if d.pendingUnsub {
		d.pendingUnsub = false
		return false, true
	}
	if sameFork {
		granted, present, ok := expiresOf(res, "Expires")
		if !present || !ok || granted > requested {
			granted = requested // RFC 6665 §3.1.1: never longer than asked
		}
		d.granted = time.Duration(granted) * time.Second
		d.expires = time.Now().Add(d.granted)
		s.schedule(d)
	}
	return true, false
}

// schedule sets the refresh timer of d at 80 % of its granted duration
// (RefreshDue; at once when that is past) and the lapse timer at its
// expiry plus a grace period (lock held).
func (s *subscriptions) schedule(d *dialog) {
	if d.removed || d.unsubscribing || d.fetch {
		return
	}
	granted := d.granted
	if granted <= 0 {
		granted = time.Until(d.expires)
	}
	at := d.expires.Add(-time.Duration(float64(granted) * (1 - refreshShare)))
	delay := max(time.Until(at), 0)
	if d.refresh == nil {
		d.refresh = time.AfterFunc(delay, func() { s.refreshDue(d) })
	} else {
		d.refresh.Reset(delay)
	}
	lapse := max(time.Until(d.expires), 0) + s.lapseGrace
	if d.timer == nil {
		d.timer = time.AfterFunc(lapse, func() { s.lapse(d) })
	} else {
		d.timer.Reset(lapse)
	}
}

// refreshDue asks the core whether to refresh d (RFC 8048 §5.2.2, SUB-07:
// it probes the XMPP user first, SUB-08).
func (s *subscriptions) refreshDue(d *dialog) {
	if !s.e.enterBG() {
		return
	}
	defer s.wg.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.removed || d.unsubscribing {
		return
	}
	w, t := d.watcher, d.target
	s.postEvent(d, "RefreshDue", func(ctx context.Context, h PresenceHandler) error {
		return h.RefreshDue(ctx, w, t)
	})
}

// lapse drops a subscription that expired without a refresh and without
// the notifier's terminated NOTIFY (which the grace period waited for),
// reporting it as that NOTIFY would have: terminated;reason=timeout [D].
func (s *subscriptions) lapse(d *dialog) {
	if !s.e.enterBG() {
		return
	}
	defer s.wg.Done()
	s.mu.Lock()
	if d.removed || d.unsubscribing {
		s.mu.Unlock()
		return
	}
	if rest := time.Until(d.expires) + s.lapseGrace; rest > 0 {
		d.timer.Reset(rest) // refreshed meanwhile
		s.mu.Unlock()
		return
	}
	s.removeSubscriber(d)
	w, t := d.watcher, d.target
	n := cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonTimeout}
	s.postEvent(d, "Notified", func(ctx context.Context, h PresenceHandler) error {
		return h.Notified(ctx, w, t, n)
	})
	s.e.log.Info("subscription lapsed", "call_id", d.callID, "from", w.String(), "to", t.String())
	s.mu.Unlock()
	s.forget(d)
}

// restoreSubscriber registers a subscriber dialog read from the store. An
// established one gets its refresh and lapse timers (RefreshDue at once
// when its refresh time passed while the gateway was down); one whose
// SUBSCRIBE was unanswered waits Timer N again for its NOTIFY.
func (s *subscriptions) restoreSubscriber(d *dialog, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subscriberPairs[d.pair] != nil || s.subscribers[d.callID] != nil {
		return
	}
	d.routeFromNotify = d.established
	d.savedExpires, d.savedState, d.savedTarget = d.expires, d.state, d.remoteTarget.String()
	s.subscribers[d.callID] = d
	s.subscriberPairs[d.pair] = d
	if !d.established {
		d.nAttempt++
		a := d.nAttempt
		d.nInitial = true
		d.timerN = time.AfterFunc(s.timerN, func() { s.timerNFired(d, a) })
		return
	}
	d.granted = s.e.cfg.SubscribeExpires
	if rest := d.expires.Sub(now); rest > d.granted {
		d.granted = rest
	}
	s.schedule(d)
}

// onNotify serves a NOTIFY in a subscriber dialog (RFC 6665 §4.1.3).
func (e *Endpoint) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	_, leave, ok := e.enter(req, tx)
	if !ok {
		return
	}
	defer leave()
	e.respond(req, tx, e.serveNotify(req))
}

// serveNotify checks a NOTIFY and matches it to a subscriber dialog:
// trusted source (403), syntax (400), Event presence (489 + Allow-Events,
// SUB-25), Subscription-State (400 when missing or unreadable, RFC 6665
// §4.1.3 MUST), the dialog by Call-ID and local tag (481 when none,
// SUB-25; a NOTIFY before the 2xx adopts its From tag as the remote tag;
// a second remote tag, another fork, gets 481 [D]), the CSeq (500 when
// older, RFC 3261 §12.2.2). It then updates the dialog (remote target from
// Contact, route set from the first NOTIFY's Record-Route, RFC 6665
// §4.4.1; expiry; a terminated state removes it) and queues the Notified
// call, which reads the body after the 200 is sent: PIDF mapped with the
// Content-Language, no body gives nil presence, and an unreadable body is
// logged and the state delivered without presence (the subscription itself
// is fine). An unsubscribing dialog's final NOTIFY is answered and not
// reported.
func (e *Endpoint) serveNotify(req *sip.Request) reply {
	s := e.subs
	if !e.trusted(req.Source()) {
		r := refuse(403, "Forbidden", "untrusted source", nil)
		r.level = slog.LevelWarn
		return r
	}
	if !wellFormed(req) {
		return refuse(400, "Bad Request", "To, From, Call-ID or CSeq missing or repeated", nil)
	}
	pkg, eventID, count := eventOf(req)
	switch {
	case count > 1:
		return refuse(400, "Bad Request", "more than one Event header", nil)
	case pkg != eventPresence:
		return refuse(489, "Bad Event", "unsupported event package", nil, sip.NewHeader("Allow-Events", eventPresence))
	}
	hs := headersNamed(req, "Subscription-State", "")
	if len(hs) == 0 {
		return refuse(400, "Bad Request", "missing Subscription-State", nil)
	}
	st, err := parseSubState(hs[0].Value())
	if err != nil {
		return refuse(400, "Bad Request", "malformed Subscription-State", err)
	}
	toTag, _ := req.To().Params.Get("tag")
	fromTag, _ := req.From().Params.Get("tag")
	if fromTag == "" {
		return refuse(400, "Bad Request", "From without tag", nil)
	}
	callID := req.CallID().Value()
	cseq := req.CSeq().SeqNo

	s.mu.Lock()
	d := s.subscribers[callID]
	switch {
	case d == nil || d.removed || toTag == "" || d.localTag != toTag || d.eventID != eventID:
		s.mu.Unlock()
		return refuse(481, "Subscription Does Not Exist", "no such subscription", nil)
	case d.remoteTag != "" && d.remoteTag != fromTag:
		s.mu.Unlock()
		return refuse(481, "Subscription Does Not Exist", "NOTIFY from a second fork", nil)
	case d.remoteCSeqSet && cseq < d.remoteCSeq:
		s.mu.Unlock()
		return refuse(500, "Server Internal Error", "CSeq out of order", nil)
	}
	w, t := d.watcher, d.target
	if !d.unsubscribing {
		body, ct, lang := req.Body(), "", headerValue(req, "Content-Language", "")
		if c := req.ContentType(); c != nil {
			ct = c.Value()
		}
		n := cpim.Notification{State: st.state, Reason: st.reason, RetryAfter: st.retryAfter, Expires: st.expires}
		log := e.log
		ok := s.postEvent(d, "Notified", func(ctx context.Context, h PresenceHandler) error {
			p, err := e.presenceOf(body, ct, lang, w, t)
			if err != nil {
				log.Warn("unreadable NOTIFY body, state delivered without presence",
					"method", "NOTIFY", "call_id", callID, "from", t.String(), "to", w.String(), "err", err)
			}
			n.Presence = p
			return h.Notified(ctx, w, t, n)
		})
		if !ok {
			s.mu.Unlock()
			return refuse(503, "Service Unavailable", "presence handler busy", nil, sip.NewHeader("Retry-After", "1"))
		}
	}

	// The NOTIFY is accepted: update the dialog.
	d.remoteCSeq, d.remoteCSeqSet = cseq, true
	if !d.established {
		d.remoteTag, d.established = fromTag, true
	}
	if !d.routeFromNotify {
		d.routes, d.routeFromNotify = routeSet(req, false), true
	}
	if c, ok := contactOf(req); ok {
		d.remoteTarget = c
	}
	d.stopTimerN()
	persist, forget, unsub := false, false, false
	switch {
	case st.state == cpim.SubTerminated || d.fetch:
		// RFC 6665 §4.4.1: terminated ends the subscription; a fetch
		// lives for its one NOTIFY.
		forget = !d.removed
		s.removeSubscriber(d)
	default:
		d.state = st.state
		if st.hasExpires {
			d.expires = time.Now().Add(st.expires)
			if d.granted == 0 {
				d.granted = st.expires
			}
			s.schedule(d)
		}
		if d.pendingUnsub {
			d.pendingUnsub, unsub = false, true
		}
		target := d.remoteTarget.String()
		if d.state != d.savedState || target != d.savedTarget || d.expires.Sub(d.savedExpires).Abs() > 2*time.Second {
			d.savedExpires, d.savedState, d.savedTarget = d.expires, d.state, target
			persist = true
		}
	}
	s.mu.Unlock()
	switch {
	case forget:
		s.forget(d)
	case persist:
		s.persist(d)
	}
	if unsub {
		e.startSubscribe(d, opUnsubscribe)
	}
	return reply{status: 200, reason: "OK", why: "NOTIFY accepted", level: slog.LevelDebug}
}
