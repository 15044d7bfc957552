package sipside

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"cpimgw/cpim"
	"cpimgw/store"

	"github.com/emiago/sipgo/sip"
)

// The notifier role (S2X, INTERWORKING.md §3.7 second table): a SIP user
// watches an XMPP user and the gateway is the XMPP user's presence agent.

// notifyJob is one NOTIFY waiting to be sent; it is never modified once
// queued, so several dialogs may share it.
type notifyJob struct {
	state      cpim.SubState
	reason     string
	retryAfter time.Duration
	body       []byte // PIDF, or nil
	lang       string // Content-Language
}

func (j *notifyJob) final() bool { return j.state == cpim.SubTerminated }

// jobOf turns a notification of the PresenceHandler into a NOTIFY to send.
func (e *Endpoint) jobOf(n cpim.Notification, target cpim.Address) *notifyJob {
	j := &notifyJob{state: n.State, reason: cleanHeaderValue(n.Reason), retryAfter: n.RetryAfter}
	if j.state == "" {
		j.state = cpim.SubPending // the safe default: nothing is disclosed
	}
	body, lang, err := e.pidfBody(n.Presence, target)
	if err != nil {
		e.log.Warn("cannot render presence, NOTIFY without body", "to", target.String(), "err", err)
	}
	j.body, j.lang = body, lang
	return j
}

// subscribeRequest is a SUBSCRIBE that passed the checks.
type subscribeRequest struct {
	expires  uint32  // the granted duration, seconds
	eventID  string  // the Event id parameter
	d        *dialog // the dialog of an in-dialog SUBSCRIBE
	watcher  cpim.Address
	target   cpim.Address
	contact  sip.Uri
	hasCtc   bool
	fromTag  string
	reserved bool // a new dialog holds a place under the limits
}

// onSubscribe serves a SUBSCRIBE (S2X): the gateway is the notifier of the
// XMPP user it addresses (RFC 3856, RFC 6665 §4.2). It answers before it
// returns, as sipgo requires (LIBRARY-NOTES §1.3), and never waits for a
// user (RFC 6665 §4.2.1.1, SUB-11): the PresenceHandler decides at once,
// pending when it must ask.
func (e *Endpoint) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	ctx, leave, ok := e.enter(req, tx)
	if !ok {
		return
	}
	defer leave()
	e.serveSubscribe(ctx, req, tx)
}

// serveSubscribe runs the checks of INTERWORKING.md §3.7 (S2X "initial
// SUBSCRIBE" row), asks the PresenceHandler, answers 200 and sends the
// NOTIFY that must follow at once (RFC 6665 §4.2.1.2, SUB-12).
func (e *Endpoint) serveSubscribe(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	s := e.subs
	sr, r, ok := e.checkSubscribe(req)
	if !ok {
		e.respond(req, tx, r)
		return
	}
	release := func() {
		if sr.reserved {
			s.mu.Lock()
			s.unreserve(sr.watcher)
			s.mu.Unlock()
		}
	}

	// The operation (cpim.Subscription, PresenceHandler contract).
	sub := cpim.Subscription{Watcher: sr.watcher, Target: sr.target, Duration: time.Duration(sr.expires) * time.Second}
	localTag := ""
	switch {
	case sr.d != nil && sr.expires > 0:
		sub.Op, sub.Renewal = cpim.Subscribe, true
	case sr.d != nil:
		sub.Op = cpim.Unsubscribe
	case sr.expires == 0:
		sub.Op = cpim.Probe
	default:
		sub.Op = cpim.Subscribe
	}
	if sr.d != nil {
		s.mu.Lock()
		sub.ID, localTag = sr.d.id(), sr.d.localTag
		s.mu.Unlock()
	} else {
		localTag = newTag()
		sub.ID = sip.DialogIDMake(req.CallID().Value(), localTag, sr.fromTag)
	}

	type result struct {
		n   cpim.Notification
		err error
	}
	done := make(chan result, 1)
	h := e.cfg.Presence
	posted := s.events.post(pairKey(store.S2X, sr.watcher, sr.target), func() {
		n, err := h.SubscribeRequest(ctx, sub)
		done <- result{n, err}
	})
	if !posted {
		release()
		e.respond(req, tx, refuse(503, "Service Unavailable", "presence handler busy", nil,
			sip.NewHeader("Retry-After", "1")))
		return
	}
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		release()
		e.respond(req, tx, refuse(503, "Service Unavailable", "presence handler did not answer", ctx.Err(),
			sip.NewHeader("Retry-After", "5")))
		return
	}
	if res.err != nil {
		release()
		e.respond(req, tx, e.errorReply(res.err, false, "presence handler refused"))
		return
	}
	n := res.n
	if sub.Op == cpim.Unsubscribe || sub.Op == cpim.Probe {
		// RFC 6665 §4.2.1.4, §4.4.3 (SUB-20): the final NOTIFY of an
		// unsubscription or a fetch is terminated;reason=timeout, with the
		// state the handler gave.
		n.State, n.Reason, n.RetryAfter = cpim.SubTerminated, cpim.ReasonTimeout, 0
	}
	job := e.jobOf(n, sr.target)

	switch {
	case sr.d == nil && sub.Op == cpim.Subscribe:
		e.acceptNew(req, tx, sr, localTag, job)
	case sr.d == nil:
		// A fetch (Expires: 0 outside a dialog): a dialog lives only for
		// its one NOTIFY and is neither registered nor stored.
		d := e.newNotifierDialog(req, sr, localTag)
		d.transient = true
		if err := e.respondSubscribe(req, tx, localTag, 0); err != nil {
			return
		}
		s.mu.Lock()
		s.enqueue(d, job)
		s.mu.Unlock()
	default:
		e.acceptInDialog(req, tx, sr, job)
	}
}

// checkSubscribe runs the checks that need no PresenceHandler, in order:
// trusted source, rate, request syntax (RFC 3261 §8.1.1, SEC-02, §8.2.2.3),
// Event (489 + Allow-Events, SUB-26), Accept (406, SUB-27), Expires (423 +
// Min-Expires, SUB-26; capped at MaxExpires; absent means 3600, RFC 3856
// §6.4), the dialog (481 when unknown, SUB-25; 500 for an old CSeq, RFC
// 3261 §12.2.2) or, outside a dialog, the addresses as for MESSAGE (§5.4)
// and the subscription limits (503 + Retry-After).
func (e *Endpoint) checkSubscribe(req *sip.Request) (subscribeRequest, reply, bool) {
	var sr subscribeRequest
	s := e.subs
	if !e.trusted(req.Source()) {
		r := refuse(403, "Forbidden", "untrusted source", nil)
		r.level = slog.LevelWarn
		return sr, r, false
	}
	if s.rate != nil {
		if ok, wait, first := s.rate.allow(sourceIP(req.Source())); !ok {
			r := refuse(503, "Service Unavailable", "SUBSCRIBE rate exceeded", nil,
				sip.NewHeader("Retry-After", strconv.Itoa(wait)))
			r.level = slog.LevelDebug
			if first {
				r.level = slog.LevelWarn // once per burst
			}
			return sr, r, false
		}
	}
	if !wellFormed(req) {
		return sr, refuse(400, "Bad Request", "To, From, Call-ID or CSeq missing or repeated", nil), false
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
		return sr, refuse(483, "Too Many Hops", "Max-Forwards 0", nil), false
	}
	if r, ok := requireCheck(req); !ok {
		return sr, r, false
	}
	pkg, id, count := eventOf(req)
	switch {
	case count > 1:
		return sr, refuse(400, "Bad Request", "more than one Event header", nil), false
	case pkg != eventPresence:
		return sr, refuse(489, "Bad Event", "unsupported event package", nil,
			sip.NewHeader("Allow-Events", eventPresence)), false
	case id != "" && !isToken(id):
		// RFC 6665 §8.4: the id is a token; it is echoed in every NOTIFY.
		return sr, refuse(400, "Bad Request", "malformed Event id", nil), false
	}
	sr.eventID = id
	if !acceptsPIDF(req) {
		return sr, refuse(406, "Not Acceptable", "Accept without "+pidfType, nil,
			sip.NewHeader("Accept", pidfType)), false
	}
	secs, present, ok := expiresOf(req, "Expires")
	switch {
	case !ok:
		return sr, refuse(400, "Bad Request", "malformed Expires", nil), false
	case !present:
		secs = presenceDefaultExpires
	}
	minSecs := uint32(e.cfg.MinExpires / time.Second)
	if secs > 0 && secs < minSecs && secs < presenceDefaultExpires {
		return sr, refuse(423, "Interval Too Brief", "Expires below MinExpires", nil,
			sip.NewHeader("Min-Expires", strconv.FormatUint(uint64(minSecs), 10))), false
	}
	sr.expires = min(secs, uint32(e.cfg.MaxExpires/time.Second))
	sr.contact, sr.hasCtc = contactOf(req)
	sr.fromTag, _ = req.From().Params.Get("tag")

	if toTag, inDialog := req.To().Params.Get("tag"); inDialog && toTag != "" {
		id, err := sip.DialogIDFromRequestUAS(req)
		s.mu.Lock()
		defer s.mu.Unlock()
		d := s.notifiers[id]
		if err != nil || d == nil || d.ended || d.eventID != sr.eventID {
			return sr, refuse(481, "Subscription Does Not Exist", "no such subscription", err), false
		}
		cseq := req.CSeq().SeqNo
		if d.remoteCSeqSet && cseq < d.remoteCSeq {
			return sr, refuse(500, "Server Internal Error", "CSeq out of order", nil), false
		}
		d.remoteCSeq, d.remoteCSeqSet = cseq, true
		sr.d, sr.watcher, sr.target = d, d.watcher, d.target
		return sr, reply{}, true
	}

	if sr.fromTag == "" {
		return sr, refuse(400, "Bad Request", "From without tag", nil), false
	}
	if !sr.hasCtc {
		return sr, refuse(400, "Bad Request", "SUBSCRIBE without Contact", nil), false
	}
	if req.Recipient.Scheme == "sips" || req.To().Address.Scheme == "sips" {
		return sr, e.sipsRefusal(nil), false
	}
	msg := readMessage(req)
	if r, ok := e.addressCheck(msg); !ok {
		return sr, r, false
	}
	// addressCheck made sure that one of them maps into an XMPP domain.
	target, err := e.mapperTarget(msg.RequestURI, msg.To)
	if err != nil {
		return sr, refuse(400, "Bad Request", "unmappable target", err), false
	}
	watcher, err := e.mapperAddress(msg.From)
	if err != nil {
		return sr, refuse(400, "Bad Request", "unmappable From", err), false
	}
	sr.watcher, sr.target = watcher.Bare(), target.Bare()
	if sr.expires == 0 {
		return sr, reply{}, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	wk := store.Key(sr.watcher)
	if limit := e.cfg.MaxSubscriptions; limit > 0 && len(s.notifiers)+s.reserved >= limit {
		r := refuse(503, "Service Unavailable", "subscription limit reached", nil,
			sip.NewHeader("Retry-After", strconv.Itoa(limitRetryAfter)))
		r.level = slog.LevelWarn
		return sr, r, false
	}
	if limit := e.cfg.MaxSubscriptionsPerWatcher; limit > 0 && s.perWatcher[wk] >= limit {
		r := refuse(503, "Service Unavailable", "subscription limit of the watcher reached", nil,
			sip.NewHeader("Retry-After", strconv.Itoa(limitRetryAfter)))
		r.level = slog.LevelWarn
		return sr, r, false
	}
	s.reserved++
	s.perWatcher[wk]++
	sr.reserved = true
	return sr, reply{}, true
}

// mapperTarget maps the target of a SUBSCRIBE: the Request-URI when it is
// in an XMPP domain, else the To (as for MESSAGE, INTERWORKING.md §4.2).
func (e *Endpoint) mapperTarget(ruri, to string) (cpim.Address, error) {
	if a, err := e.mapperAddress(ruri); err == nil && e.mapper.IsXMPPDomain(a.Domain) {
		return a, nil
	}
	return e.mapperAddress(to)
}

// mapperAddress maps a URI to the address of a user the gateway serves.
func (e *Endpoint) mapperAddress(uri string) (cpim.Address, error) {
	_, a, err := e.mapper.URIToJID(uri)
	return a, err
}

// sourceIP is the host of a "host:port" source.
func sourceIP(src string) string {
	if ap, err := netip.ParseAddrPort(src); err == nil {
		return ap.Addr().Unmap().String()
	}
	return src
}

// unreserve gives back the place of a new dialog that was not created.
func (s *subscriptions) unreserve(watcher cpim.Address) {
	s.reserved--
	wk := store.Key(watcher)
	if s.perWatcher[wk]--; s.perWatcher[wk] <= 0 {
		delete(s.perWatcher, wk)
	}
}

// newNotifierDialog builds the notifier dialog a SUBSCRIBE creates (RFC
// 3261 §12.1.1): the route set is its Record-Route in order, the remote
// target its Contact, the local URI its To, the remote URI its From; the
// flow it came in on is recorded for TCP and TLS.
func (e *Endpoint) newNotifierDialog(req *sip.Request, sr subscribeRequest, localTag string) *dialog {
	d := &dialog{
		role: store.Notifier, pair: pairKey(store.S2X, sr.watcher, sr.target),
		watcher: sr.watcher, target: sr.target,
		callID: req.CallID().Value(), localTag: localTag, remoteTag: sr.fromTag,
		localURI: *req.To().Address.Clone(), remoteURI: *req.From().Address.Clone(),
		routes: routeSet(req, false), remoteTarget: sr.contact, eventID: sr.eventID,
		remoteCSeq: req.CSeq().SeqNo, remoteCSeqSet: true,
		established: true,
	}
	d.localURI.UriParams, d.remoteURI.UriParams = dropTag(d.localURI.UriParams), dropTag(d.remoteURI.UriParams)
	if tp := req.Transport(); tp == "TCP" || tp == "TLS" {
		d.transport, d.source = tp, req.Source()
	}
	return d
}

// dropTag returns params without a tag (a URI parameter named tag would be
// odd, but the header tag must not leak into the URI).
func dropTag(p sip.HeaderParams) sip.HeaderParams {
	if !p.Has("tag") {
		return p
	}
	p = p.Clone()
	p.Remove("tag")
	return p
}

// acceptNew creates the dialog of an accepted initial SUBSCRIBE, stores
// it, answers 200 and queues the first NOTIFY. NOTIFYs the core sends
// between the registration and the 200 wait (holding) and, being newer,
// replace the handler's first notification.
func (e *Endpoint) acceptNew(req *sip.Request, tx sip.ServerTransaction, sr subscribeRequest, localTag string, job *notifyJob) {
	s := e.subs
	d := e.newNotifierDialog(req, sr, localTag)
	d.state = job.state
	d.granted = time.Duration(sr.expires) * time.Second
	d.expires = time.Now().Add(d.granted)
	d.holding = true
	s.mu.Lock()
	s.reserved--
	s.registerNotifier(d)
	d.timer = time.AfterFunc(d.granted, func() { s.expireNotifier(d) })
	s.mu.Unlock()
	s.persist(d)

	if err := e.respondSubscribe(req, tx, localTag, sr.expires); err != nil {
		s.endNotifier(d, "")
		return
	}
	s.mu.Lock()
	d.holding = false
	forget := false
	if d.next == nil {
		forget = s.enqueue(d, job)
	} else if !d.sending {
		s.startSender(d)
	}
	s.mu.Unlock()
	if forget {
		s.forget(d)
	}
}

// acceptInDialog serves a refresh (RFC 6665 §4.2.1.4: the expiry moves,
// 200 and a NOTIFY with the current state, RFC 8048 §5.3.2) or an
// unsubscription (200, then NOTIFY terminated;reason=timeout, which ends
// the dialog, RFC 8048 §5.3.3). A refresh is a target refresh request: its
// Contact becomes the remote target and its flow the one NOTIFYs use.
func (e *Endpoint) acceptInDialog(req *sip.Request, tx sip.ServerTransaction, sr subscribeRequest, job *notifyJob) {
	s := e.subs
	d := sr.d
	s.mu.Lock()
	if d.ended {
		s.mu.Unlock()
		e.respond(req, tx, refuse(481, "Subscription Does Not Exist", "subscription ended meanwhile", nil))
		return
	}
	if sr.hasCtc {
		d.remoteTarget = sr.contact
	}
	if tp := req.Transport(); tp == "TCP" || tp == "TLS" {
		d.transport, d.source = tp, req.Source()
	}
	if sr.expires > 0 {
		d.granted = time.Duration(sr.expires) * time.Second
		d.expires = time.Now().Add(d.granted)
		d.timer.Reset(d.granted)
	}
	localTag := d.localTag
	s.mu.Unlock()
	if sr.expires > 0 {
		s.persist(d)
	}
	if err := e.respondSubscribe(req, tx, localTag, sr.expires); err != nil {
		return
	}
	s.mu.Lock()
	forget := s.enqueue(d, job)
	s.mu.Unlock()
	if forget {
		s.forget(d)
	}
}

// respondSubscribe sends the 200 to a SUBSCRIBE: never 202 (RFC 6665
// §8.3.1, SUB-13), with Expires, at most what was asked (SUB-14), the
// gateway's Contact and the dialog's tag.
func (e *Endpoint) respondSubscribe(req *sip.Request, tx sip.ServerTransaction, localTag string, expires uint32) error {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.To().Params.Add("tag", localTag)
	res.AppendHeader(sip.NewHeader("Expires", strconv.FormatUint(uint64(expires), 10)))
	res.AppendHeader(&sip.ContactHeader{Address: e.contactURI(req.Transport())})
	if e.cfg.UserAgent != "" {
		res.AppendHeader(sip.NewHeader("Server", e.cfg.UserAgent))
	}
	attrs := append(reqAttrs(req), "status", 200, "expires", expires)
	if err := tx.Respond(res); err != nil {
		e.log.Warn("subscription accepted, response failed", append(attrs, "err", err)...)
		return err
	}
	e.log.Info("subscription accepted", attrs...)
	return nil
}

// registerNotifier adds d to the registry (lock held). The caller counted
// it in perWatcher (reservation or restore).
func (s *subscriptions) registerNotifier(d *dialog) {
	s.notifiers[d.id()] = d
	s.notifierPairs[d.pair] = append(s.notifierPairs[d.pair], d)
}

// unregisterNotifier removes d from the registry and stops its timer
// (lock held).
func (s *subscriptions) unregisterNotifier(d *dialog) {
	if d.removed || d.transient {
		return
	}
	d.removed = true
	d.stopTimers()
	id := d.id()
	if s.notifiers[id] == d {
		delete(s.notifiers, id)
	}
	list := s.notifierPairs[d.pair]
	for i, o := range list {
		if o == d {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.notifierPairs, d.pair)
	} else {
		s.notifierPairs[d.pair] = list
	}
	wk := store.Key(d.watcher)
	if s.perWatcher[wk]--; s.perWatcher[wk] <= 0 {
		delete(s.perWatcher, wk)
	}
}

// enqueue queues job on d (lock held): it replaces a NOTIFY not yet sent
// (each carries the full state, RFC 3856 §6.8). A terminated job ends the
// dialog at once: later notifications are dropped. It returns true when
// the caller must delete d from the store once the lock is released.
func (s *subscriptions) enqueue(d *dialog, job *notifyJob) bool {
	if d.ended {
		return false
	}
	d.next = job
	ended := false
	if job.final() {
		d.ended = true
		s.unregisterNotifier(d)
		ended = !d.transient
	}
	if !d.sending && !d.holding {
		s.startSender(d)
	}
	return ended
}

// startSender starts the goroutine that sends the queued NOTIFYs of d one
// at a time (lock held), so that their CSeq order is their order on the
// wire.
func (s *subscriptions) startSender(d *dialog) {
	d.sending = true
	if !s.e.goBG(func() { s.e.sendNotifies(d) }) {
		d.sending = false
	}
}

func (e *Endpoint) sendNotifies(d *dialog) {
	s := e.subs
	for {
		s.mu.Lock()
		job := d.next
		d.next = nil
		if job == nil || e.life.Err() != nil {
			d.sending = false
			s.mu.Unlock()
			return
		}
		remaining := time.Until(d.expires)
		s.mu.Unlock()
		e.sendNotify(d, job, remaining)
	}
}

// sendNotify sends one NOTIFY in d (RFC 6665 §4.2.2, RFC 3856 §6.7):
// Subscription-State with expires or reason (SUB-15, SUB-16), Event
// presence, the PIDF body if any (PRS-18), over the peer's flow when it
// has one; over 1300 bytes for a UDP next hop it goes over TCP (send). A
// 2xx (202 included, SUB-13) is success; a failure code of RFC 6665 §4.2.2
// (SUB-22) or no answer at all (Timer F, SHOULD) removes the subscription
// and reports it; other failures leave it.
func (e *Endpoint) sendNotify(d *dialog, job *notifyJob, remaining time.Duration) {
	ctx, cancel := context.WithTimeout(e.life, e.cfg.TransactionTimeout)
	defer cancel()
	state := subStateValue(job.state, job.reason, job.retryAfter, remaining)
	res, err := e.exchange(ctx, d, sip.NOTIFY, func(req *sip.Request) {
		req.AppendHeader(sip.NewHeader("Subscription-State", state))
		if len(job.body) > 0 {
			ct := sip.ContentTypeHeader(pidfType)
			req.AppendHeader(&ct)
			if job.lang != "" {
				req.AppendHeader(sip.NewHeader("Content-Language", job.lang))
			}
		}
		req.SetBody(job.body)
	})
	if e.life.Err() != nil {
		return // stopping: the dialog stays stored for the restart
	}
	attrs := []any{"method", "NOTIFY", "call_id", d.callID, "from", d.target.String(), "to", d.watcher.String(), "state", state}
	switch {
	case err == nil && res.StatusCode < 300:
		e.log.Debug("NOTIFY delivered", append(attrs, "status", res.StatusCode)...)
	case err != nil || dialogEnding(res.StatusCode):
		status := 408
		if err == nil {
			status = res.StatusCode
		}
		e.log.Info("NOTIFY failed, subscription removed", append(attrs, "status", status, "err", errString(err))...)
		if !job.final() {
			e.subs.endNotifier(d, "notify-failed")
		}
	default:
		e.log.Info("NOTIFY refused", append(attrs, "status", res.StatusCode)...)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// endNotifier removes d without a terminated NOTIFY and, when reason is
// set, reports it (SubscriptionEnded).
func (s *subscriptions) endNotifier(d *dialog, reason string) {
	s.mu.Lock()
	if d.ended {
		s.mu.Unlock()
		return
	}
	d.ended = true
	d.next = nil
	s.unregisterNotifier(d)
	if reason != "" {
		w, t := d.watcher, d.target
		s.postEvent(d, "SubscriptionEnded", func(ctx context.Context, h PresenceHandler) error {
			return h.SubscriptionEnded(ctx, w, t, reason)
		})
	}
	s.mu.Unlock()
	s.forget(d)
}

// expireNotifier ends a subscription that was not refreshed in time: NOTIFY
// terminated;reason=timeout (RFC 6665 §4.2.1.4, SUB-24) and
// SubscriptionEnded "timeout".
func (s *subscriptions) expireNotifier(d *dialog) {
	if !s.e.enterBG() {
		return
	}
	defer s.wg.Done()
	s.mu.Lock()
	if d.ended {
		s.mu.Unlock()
		return
	}
	if rest := time.Until(d.expires); rest > 0 {
		d.timer.Reset(rest) // refreshed meanwhile
		s.mu.Unlock()
		return
	}
	forget := s.endByTimeout(d)
	s.mu.Unlock()
	if forget {
		s.forget(d)
	}
}

// endByTimeout queues the timeout NOTIFY of d and reports the end (lock
// held).
func (s *subscriptions) endByTimeout(d *dialog) bool {
	forget := s.enqueue(d, &notifyJob{state: cpim.SubTerminated, reason: cpim.ReasonTimeout})
	w, t := d.watcher, d.target
	s.postEvent(d, "SubscriptionEnded", func(ctx context.Context, h PresenceHandler) error {
		return h.SubscriptionEnded(ctx, w, t, cpim.ReasonTimeout)
	})
	s.e.log.Info("subscription expired", "call_id", d.callID, "from", w.String(), "to", t.String())
	return forget
}

// restoreNotifier registers a notifier dialog read from the store: one
// that expired while the gateway was down ends now.
func (s *subscriptions) restoreNotifier(d *dialog, now time.Time) {
	s.mu.Lock()
	if _, dup := s.notifiers[d.id()]; dup {
		s.mu.Unlock()
		return
	}
	s.registerNotifier(d)
	s.perWatcher[store.Key(d.watcher)]++
	if !d.expires.After(now) {
		forget := s.endByTimeout(d)
		s.mu.Unlock()
		if forget {
			s.forget(d)
		}
		return
	}
	d.granted = d.expires.Sub(now)
	d.timer = time.AfterFunc(d.expires.Sub(now), func() { s.expireNotifier(d) })
	s.mu.Unlock()
}

// Notify sends n on every notifier dialog of watcher (a SIP user) for
// target (an XMPP user) (S2X; INTERWORKING.md §3.7: subscribed → active,
// unsubscribed → terminated;reason=rejected, presence → active with the
// full-state PIDF). The endpoint fills in the remaining expiry of active
// and pending (n.Expires is ignored) and renders n.Presence as PIDF
// (mapping.PresenceToPIDF; nil sends no body). A terminated state ends the
// dialogs. Notify returns once the NOTIFYs are queued: each dialog sends
// its NOTIFYs one at a time, and a newer notification replaces one not yet
// sent (full state, RFC 3856 §6.8). A NOTIFY that fails with a code of RFC
// 6665 §4.2.2 or gets no answer ends its dialog and is reported through
// SubscriptionEnded "notify-failed". Without dialogs Notify does nothing.
func (e *Endpoint) Notify(ctx context.Context, watcher, target cpim.Address, n cpim.Notification) error {
	if err := e.presenceReady(); err != nil {
		return err
	}
	switch n.State {
	case cpim.SubActive, cpim.SubPending, cpim.SubTerminated:
	default:
		return &cpim.Error{Condition: cpim.BadRequest, Cause: fmt.Errorf("sipside: Notify: state %q", n.State)}
	}
	s := e.subs
	key := pairKey(store.S2X, watcher.Bare(), target.Bare())
	s.mu.Lock()
	if len(s.notifierPairs[key]) == 0 {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	job := e.jobOf(n, target)
	var ended []*dialog
	s.mu.Lock()
	for _, d := range append([]*dialog(nil), s.notifierPairs[key]...) {
		if s.enqueue(d, job) {
			ended = append(ended, d)
		}
	}
	s.mu.Unlock()
	for _, d := range ended {
		s.forget(d)
	}
	return nil
}
