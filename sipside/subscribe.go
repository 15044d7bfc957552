package sipside

import (
	"context"
	"errors"
	"fmt"
	"math"
	"mime"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"cpimgw/cpim"
	"cpimgw/store"

	"github.com/emiago/sipgo/sip"
)

// This file holds what both roles of the RFC 6665 event-subscription layer
// share: the configuration, the dialog registry, the per-pair order of
// PresenceHandler calls, persistence through store.Store, and the header
// syntax of RFC 6665 §8.4 and RFC 3856 §6.
//
// sipgo has dialogs for INVITE only (LIBRARY-NOTES §1.6); the subscription
// dialogs are built here on its transaction layer.

// Presence constants.
const (
	// eventPresence is the event package (RFC 3856 §6.1).
	eventPresence = "presence"
	// pidfType is the body type of the presence package (RFC 3856 §6.5,
	// SUB-27, PRS-18).
	pidfType = "application/pidf+xml"
	// presenceDefaultExpires is the duration of a SUBSCRIBE without Expires
	// (RFC 3856 §6.4).
	presenceDefaultExpires = 3600
	// refreshShare is the share of a subscription's or publication's
	// lifetime after which it is refreshed: 80 % (INTERWORKING.md §3.7).
	refreshShare = 0.8
	// cseqBlock is how far ahead of the CSeq in use the stored high-water
	// mark is written: the store sees one write per cseqBlock requests of a
	// dialog (issue 4 design: CSeq persisted lazily in blocks).
	cseqBlock = 100
	// limitRetryAfter is the Retry-After of a 503 to a SUBSCRIBE over a
	// subscription limit.
	limitRetryAfter = 60
	// maxPairEvents bounds the PresenceHandler calls waiting for one
	// (watcher, target) pair; a NOTIFY beyond it gets 503.
	maxPairEvents = 64
	// maxExpiresSeconds is the largest Expires value (RFC 3261 §20.19:
	// delta-seconds up to 2**32-1).
	maxExpiresSeconds = math.MaxUint32
)

// allowPresence lists the methods the endpoint serves with presence on
// (RFC 3261 §20.5). PUBLISH is sent, not served: the gateway is not an
// event state compositor.
const allowPresence = "MESSAGE, OPTIONS, SUBSCRIBE, NOTIFY"

// parsePresenceConfig applies the defaults of the presence fields of
// Config and reports their problems through bad.
func parsePresenceConfig(s *settings, bad func(format string, args ...any)) {
	dur := func(name string, v *time.Duration, def time.Duration) {
		switch {
		case *v == 0:
			*v = def
		case *v < time.Second || *v%time.Second != 0:
			bad("%s %v: want whole seconds, at least 1s", name, *v)
		case *v > maxExpiresSeconds*time.Second:
			bad("%s %v: longer than 2**32-1 seconds", name, *v)
		}
	}
	dur("SubscribeExpires", &s.SubscribeExpires, DefaultSubscribeExpires)
	dur("MinExpires", &s.MinExpires, DefaultMinExpires)
	dur("MaxExpires", &s.MaxExpires, DefaultMaxExpires)
	dur("PublishExpires", &s.PublishExpires, DefaultPublishExpires)
	if s.MinExpires > s.MaxExpires {
		bad("MinExpires %v: above MaxExpires %v", s.MinExpires, s.MaxExpires)
	}
	if s.MaxSubscriptionsPerWatcher < 0 {
		bad("MaxSubscriptionsPerWatcher %d: negative", s.MaxSubscriptionsPerWatcher)
	}
	if s.MaxSubscriptions < 0 {
		bad("MaxSubscriptions %d: negative", s.MaxSubscriptions)
	}
	if r := s.SubscribeRate; r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		bad("SubscribeRate %v: want a positive number or 0", r)
	}
	if h := s.ContactHost; h != "" {
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), ""
		}
		n, perr := strconv.Atoi(port)
		switch {
		case host == "" || strings.ContainsAny(host, " \t\r\n;,\"<>@/[]"):
			bad("ContactHost %q: not a host or host:port", h)
		case port != "" && (perr != nil || n <= 0 || n > 65535):
			bad("ContactHost %q: bad port", h)
		default:
			s.contactHost, s.contactPort = host, n
		}
	} else if s.Presence != nil && s.Hostname == "" {
		bad("ContactHost: needed with presence when the first listener is a wildcard address and Hostname is empty")
	}
}

// subscriptions is the presence state of an Endpoint: the subscription
// dialogs of both roles, the PUBLISH state, and the goroutines and timers
// that serve them. Dialog fields are guarded by mu; no network or store
// I/O and no PresenceHandler call happens with mu held.
type subscriptions struct {
	e *Endpoint
	// timerN is RFC 6665 §4.1.2.4 Timer N, 64·T1; lapseGrace is how long
	// after its expiry a subscriber dialog waits for the notifier's
	// terminated NOTIFY before dropping it. Tests shorten both.
	timerN, lapseGrace time.Duration

	mu              sync.Mutex
	notifiers       map[string]*dialog   // notifier dialogs by dialog id
	notifierPairs   map[string][]*dialog // notifier dialogs by pair key
	perWatcher      map[string]int       // notifier dialogs by watcher key
	reserved        int                  // new notifier dialogs being set up
	subscribers     map[string]*dialog   // subscriber dialogs by Call-ID
	subscriberPairs map[string]*dialog   // the live subscriber dialog of a pair
	pubs            map[string]*publication

	// settled, when set (tests), gets the op of every SUBSCRIBE whose
	// final response was handled.
	settled chan subOp

	events    *serializer
	rate      *rateLimiter
	pubQueues *destQueues
	wg        sync.WaitGroup // goroutines started by goBG
}

func newSubscriptions(e *Endpoint) *subscriptions {
	s := &subscriptions{
		e:               e,
		timerN:          64 * sip.T1,
		lapseGrace:      64 * sip.T1,
		notifiers:       map[string]*dialog{},
		notifierPairs:   map[string][]*dialog{},
		perWatcher:      map[string]int{},
		subscribers:     map[string]*dialog{},
		subscriberPairs: map[string]*dialog{},
		pubs:            map[string]*publication{},
		pubQueues:       newDestQueues(maxQueuedPerDestination),
	}
	s.events = &serializer{q: map[string][]func(){}, limit: maxPairEvents, start: e.goBG}
	if e.cfg.SubscribeRate > 0 {
		s.rate = newRateLimiter(e.cfg.SubscribeRate, time.Now)
	}
	return s
}

// goBG runs f in a goroutine the Endpoint owns: Run waits for it before it
// returns. It returns false, without running f, once the Endpoint stops.
func (e *Endpoint) goBG(f func()) bool {
	if !e.enterBG() {
		return false
	}
	go func() {
		defer e.subs.wg.Done()
		f()
	}()
	return true
}

// enterBG registers the calling goroutine (a timer's) with the Endpoint;
// the caller must call e.subs.wg.Done when it returns. It returns false
// once the Endpoint stops.
func (e *Endpoint) enterBG() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return false
	}
	e.subs.wg.Add(1)
	return true
}

// shutdown stops every timer and waits for the goroutines of the presence
// layer. The dialogs stay in the store: a restart continues them.
func (s *subscriptions) shutdown() {
	s.e.mu.Lock()
	s.e.closing = true
	s.e.mu.Unlock()
	s.mu.Lock()
	for _, d := range s.notifiers {
		d.stopTimers()
	}
	for _, d := range s.subscribers {
		d.stopTimers()
	}
	for _, p := range s.pubs {
		if p.refresh != nil {
			p.refresh.Stop()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// presenceReady checks that the presence methods may be used.
func (e *Endpoint) presenceReady() error {
	if e.cfg.Presence == nil {
		return &cpim.Error{Condition: cpim.FeatureNotImplemented, Cause: errors.New("sipside: presence is not configured")}
	}
	if e.life.Err() != nil {
		return &cpim.Error{Condition: cpim.ServiceUnavailable, Cause: errors.New("sipside: endpoint stopped")}
	}
	return nil
}

// pairKey is the key of a (watcher, target) pair of one direction.
func pairKey(dir store.Direction, watcher, target cpim.Address) string {
	return string(dir) + " " + store.Key(watcher) + " " + store.Key(target)
}

// addressOfKey reads back a store.Key ("local@domain"; the domain holds no
// '@', the local part may).
func addressOfKey(k string) (cpim.Address, bool) {
	i := strings.LastIndexByte(k, '@')
	if i <= 0 || i == len(k)-1 {
		return cpim.Address{}, false
	}
	return cpim.Address{Local: k[:i], Domain: k[i+1:]}, true
}

// serializer runs the PresenceHandler calls of each (watcher, target)
// pair one at a time, in the order they were posted (the contract of
// PresenceHandler). A pair with work has one goroutine, which exits when
// its queue is empty. Posting never blocks: callers post while holding
// subscriptions.mu, so that the order of calls is the order of events.
type serializer struct {
	mu    sync.Mutex
	q     map[string][]func() // present while a worker runs for the key
	limit int
	start func(func()) bool
}

// post queues job for key. It returns false when the queue of key is full
// or the endpoint is stopping.
func (s *serializer) post(key string, job func()) bool {
	s.mu.Lock()
	jobs, busy := s.q[key]
	if busy {
		if len(jobs) >= s.limit {
			s.mu.Unlock()
			return false
		}
		s.q[key] = append(jobs, job)
		s.mu.Unlock()
		return true
	}
	s.q[key] = []func(){job}
	s.mu.Unlock()
	if !s.start(func() { s.run(key) }) {
		s.mu.Lock()
		delete(s.q, key)
		s.mu.Unlock()
		return false
	}
	return true
}

func (s *serializer) run(key string) {
	for {
		s.mu.Lock()
		jobs := s.q[key]
		if len(jobs) == 0 {
			delete(s.q, key)
			s.mu.Unlock()
			return
		}
		job := jobs[0]
		jobs[0] = nil
		s.q[key] = jobs[1:]
		s.mu.Unlock()
		job()
	}
}

// handlerCtx bounds one PresenceHandler call made from a background
// goroutine.
func (e *Endpoint) handlerCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.life, e.cfg.TransactionTimeout)
}

// postEvent queues a PresenceHandler call for the pair of d, logging a
// failure to queue. It is called with s.mu held. When d has ended by the
// time the call runs, it is out of the store before the handler hears of
// it.
func (s *subscriptions) postEvent(d *dialog, what string, call func(ctx context.Context, h PresenceHandler) error) bool {
	e := s.e
	w, t := d.watcher, d.target
	ok := s.events.post(d.pair, func() {
		if e.life.Err() != nil {
			return
		}
		s.mu.Lock()
		gone := d.removed || d.ended
		s.mu.Unlock()
		if gone {
			s.forget(d)
		}
		ctx, cancel := e.handlerCtx()
		defer cancel()
		if err := call(ctx, e.cfg.Presence); err != nil {
			e.log.Warn("presence handler failed", "call", what, "from", w.String(), "to", t.String(), "err", err)
		}
	})
	if !ok && e.life.Err() == nil {
		e.log.Warn("presence handler queue full", "call", what, "from", w.String(), "to", t.String())
	}
	return ok
}

// --- persistence ---

// persist writes d to the store (no-op without one). Writes of one dialog
// are ordered: a snapshot older than one already written is dropped, so
// the CSeq high-water mark never goes back.
func (s *subscriptions) persist(d *dialog) {
	st := s.e.cfg.Store
	if st == nil || d.transient {
		return
	}
	s.mu.Lock()
	rec := d.record()
	d.version++
	v := d.version
	s.mu.Unlock()

	d.storeMu.Lock()
	defer d.storeMu.Unlock()
	if d.deleted || v <= d.written {
		return
	}
	d.written = v
	if d.storedID != "" && d.storedID != rec.ID {
		if err := st.DeleteDialog(d.storedID); err != nil {
			s.e.log.Warn("store: cannot delete dialog", "call_id", rec.CallID, "err", err)
		}
	}
	if err := st.PutDialog(rec); err != nil {
		s.e.log.Warn("store: cannot write dialog", "call_id", rec.CallID, "err", err)
		return
	}
	d.storedID = rec.ID
}

// forget deletes d from the store; later persist calls do nothing.
func (s *subscriptions) forget(d *dialog) {
	st := s.e.cfg.Store
	if st == nil || d.transient {
		return
	}
	d.storeMu.Lock()
	defer d.storeMu.Unlock()
	d.deleted = true
	if d.storedID == "" {
		return
	}
	if err := st.DeleteDialog(d.storedID); err != nil {
		s.e.log.Warn("store: cannot delete dialog", "call_id", d.callID, "err", err)
	}
	d.storedID = ""
}

// restoreDialogs loads the dialogs of the store (Run calls it once the
// listeners are up). Notifier dialogs get their expiry back, and one that
// expired while the gateway was down ends now: terminated NOTIFY and
// SubscriptionEnded "timeout" (RFC 6665 §4.2.1.4). Subscriber dialogs get
// their refresh timers; one past its refresh time gets RefreshDue at once.
// Their CSeq continues above the stored high-water mark (RFC 3261
// §12.2.1.1 only needs increasing numbers).
func (e *Endpoint) restoreDialogs() {
	st := e.cfg.Store
	if st == nil || e.cfg.Presence == nil {
		return
	}
	var recs []store.Dialog
	err := st.Dialogs(func(d store.Dialog) error {
		recs = append(recs, d)
		return nil
	})
	if err != nil {
		e.log.Error("store: cannot read dialogs", "err", err)
	}
	s := e.subs
	now := time.Now()
	notifiers, subscribers := 0, 0
	for _, rec := range recs {
		d, err := dialogFromRecord(rec)
		if err != nil {
			e.log.Warn("store: dropping unreadable dialog", "call_id", rec.CallID, "err", err)
			if err := st.DeleteDialog(rec.ID); err != nil {
				e.log.Warn("store: cannot delete dialog", "call_id", rec.CallID, "err", err)
			}
			continue
		}
		d.storedID = rec.ID
		switch d.role {
		case store.Notifier:
			notifiers++
			s.restoreNotifier(d, now)
		case store.Subscriber:
			subscribers++
			s.restoreSubscriber(d, now)
		}
	}
	if len(recs) > 0 {
		e.log.Info("dialogs restored", "notifiers", notifiers, "subscribers", subscribers)
	}
}

// --- header syntax ---

// headersNamed returns the headers with the long or compact name (RFC 3261
// §7.3.3; sipgo finds only typed headers by their compact names,
// LIBRARY-NOTES §1.8).
func headersNamed(m sip.Message, name, short string) []sip.Header {
	type headered interface {
		GetHeaders(name string) []sip.Header
	}
	h := m.(headered).GetHeaders(name)
	if short != "" {
		h = append(h, m.(headered).GetHeaders(short)...)
	}
	return h
}

// splitParams splits "token;a=b;c" into the token and its parameters with
// lower-case names (RFC 3261 §7.3.1: parameter names are case-insensitive).
func splitParams(v string) (string, map[string]string) {
	parts := strings.Split(v, ";")
	params := map[string]string{}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if k != "" {
			params[k] = strings.Trim(strings.TrimSpace(val), `"`)
		}
	}
	return strings.TrimSpace(parts[0]), params
}

// eventOf reads the Event header (compact form o, RFC 6665 §8.4): the
// package, its id parameter and the number of Event headers.
func eventOf(m sip.Message) (pkg, id string, count int) {
	hs := headersNamed(m, "Event", "o")
	if len(hs) == 0 {
		return "", "", 0
	}
	pkg, params := splitParams(hs[0].Value())
	return pkg, params["id"], len(hs)
}

// wellFormed reports whether req has exactly one From, To, Call-ID and
// CSeq (RFC 3261 §8.1.1, §7.3.1: none of them may repeat), in long or
// compact form.
func wellFormed(req *sip.Request) bool {
	if req.CallID() == nil || req.To() == nil || req.From() == nil || req.CSeq() == nil {
		return false
	}
	for _, name := range []string{"Call-ID", "From", "To", "CSeq"} {
		if len(req.GetHeaders(name)) != 1 {
			return false
		}
	}
	return true
}

// eventValue is the Event header value of a dialog (RFC 6665 §8.2.1: the
// id parameter must match the SUBSCRIBE's).
func eventValue(id string) string {
	if id == "" {
		return eventPresence
	}
	return eventPresence + ";id=" + id
}

// expiresOf reads an Expires (or Min-Expires) header: delta-seconds
// (RFC 3261 §20.19), capped at 2**32-1. present is false without the
// header; ok is false when its value is not a number.
func expiresOf(m sip.Message, name string) (secs uint32, present, ok bool) {
	hs := headersNamed(m, name, "")
	if len(hs) == 0 {
		return 0, false, true
	}
	v := strings.TrimSpace(hs[0].Value())
	if v == "" || strings.Trim(v, "0123456789") != "" {
		return 0, true, false
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return maxExpiresSeconds, true, true // a longer value is "forever"
	}
	return uint32(n), true, true
}

// acceptsPIDF reports whether the Accept headers of req allow PIDF (RFC
// 3856 §6.5, SUB-27): no Accept means the package default, PIDF (RFC 6665
// §3.1.3); an empty Accept allows nothing (RFC 3261 §20.1).
func acceptsPIDF(req *sip.Request) bool {
	hs := req.GetHeaders("Accept")
	if len(hs) == 0 {
		return true
	}
	for _, h := range hs {
		for r := range strings.SplitSeq(h.Value(), ",") {
			mt, params := splitParams(r)
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
					continue
				}
			}
			switch strings.ToLower(mt) {
			case pidfType, "application/*", "*/*":
				return true
			}
		}
	}
	return false
}

// subStateHeader is a parsed Subscription-State header (RFC 6665 §8.4).
type subStateHeader struct {
	state      cpim.SubState
	expires    time.Duration
	hasExpires bool
	reason     string
	retryAfter time.Duration
}

// parseSubState parses a Subscription-State value. The state and the
// reason are compared case-insensitively; an unknown state is an error
// (RFC 6665 defines no extension substate semantics); an expires
// parameter is optional (RFC 6665 §4.2.2 note: accept its absence) and
// ignored on terminated (§4.1.3).
func parseSubState(v string) (subStateHeader, error) {
	tok, params := splitParams(v)
	var h subStateHeader
	switch strings.ToLower(tok) {
	case "active":
		h.state = cpim.SubActive
	case "pending":
		h.state = cpim.SubPending
	case "terminated":
		h.state = cpim.SubTerminated
	default:
		return h, fmt.Errorf("sipside: unknown subscription state %q", tok)
	}
	secs := func(name string) (time.Duration, bool, error) {
		s, ok := params[name]
		if !ok {
			return 0, false, nil
		}
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return 0, false, fmt.Errorf("sipside: Subscription-State %s=%q: %w", name, s, err)
		}
		return time.Duration(n) * time.Second, true, nil
	}
	var err error
	if h.state != cpim.SubTerminated {
		if h.expires, h.hasExpires, err = secs("expires"); err != nil {
			return h, err
		}
		return h, nil
	}
	h.reason = strings.ToLower(params["reason"])
	if !isToken(h.reason) {
		h.reason = ""
	}
	if h.retryAfter, _, err = secs("retry-after"); err != nil {
		h.retryAfter = 0 // a bad retry-after does not spoil the state
	}
	return h, nil
}

// subStateValue is the Subscription-State of a NOTIFY (SUB-15, SUB-16):
// active and pending carry expires (RFC 6665 §4.2.2 MUST), terminated its
// reason and, when set, retry-after.
func subStateValue(state cpim.SubState, reason string, retryAfter time.Duration, remaining time.Duration) string {
	switch state {
	case cpim.SubActive, cpim.SubPending:
		secs := max(int64(remaining/time.Second), 0)
		return string(state) + ";expires=" + strconv.FormatInt(secs, 10)
	}
	v := "terminated"
	if reason != "" && isToken(reason) {
		v += ";reason=" + reason
	}
	if retryAfter > 0 {
		v += ";retry-after=" + strconv.FormatInt(int64((retryAfter+time.Second-1)/time.Second), 10)
	}
	return v
}

// isToken reports whether s is an RFC 3261 §25.1 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// firstLanguage returns the first language tag of a Content-Language
// value, or "".
func firstLanguage(v string) string {
	tag, _, _ := strings.Cut(v, ",")
	tag = strings.TrimSpace(tag)
	if !isToken(tag) {
		return ""
	}
	return tag
}

// pidfBody renders p as a PIDF document for entity (RFC 3863 through
// mapping.PresenceToPIDF) and returns it with its Content-Language; nil p
// gives no body.
func (e *Endpoint) pidfBody(p *cpim.Presence, entity cpim.Address) ([]byte, string, error) {
	if p == nil {
		return nil, "", nil
	}
	q := *p
	if q.Entity.IsZero() {
		q.Entity = entity.Bare()
	}
	doc, err := e.mapper.PresenceToPIDF(q)
	if err != nil {
		return nil, "", err
	}
	b, err := doc.Marshal()
	if err != nil {
		return nil, "", fmt.Errorf("sipside: PIDF: %w", err)
	}
	return b, firstLanguage(cleanHeaderValue(q.Lang)), nil
}

// presenceOf reads the body of a NOTIFY received in the dialog of watcher
// and target: PIDF mapped to a presence of target (RFC 8048 §6.3 Table 2),
// with Content-Language as its default language. No body gives nil (RFC
// 8048 §5.2.1). An unreadable body gives nil and an error to log: the
// subscription itself is fine.
func (e *Endpoint) presenceOf(body []byte, contentType, lang string, watcher, target cpim.Address) (*cpim.Presence, error) {
	if len(body) == 0 {
		return nil, nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.EqualFold(mt, pidfType) {
		return nil, fmt.Errorf("sipside: NOTIFY body of type %q is not %s", contentType, pidfType)
	}
	doc, err := cpim.ParsePIDF(body)
	if err != nil {
		return nil, err
	}
	p, err := e.mapper.PresenceFromPIDF(doc, firstLanguage(lang))
	if err != nil {
		return nil, err
	}
	// INTERWORKING.md §3.3 [D]: the dialog names the presentity; a PIDF
	// entity that disagrees is logged, not trusted.
	if !p.Entity.Equal(target.Bare()) {
		e.log.Info("PIDF entity differs from the subscription", "entity", p.Entity.Original, "to", target.String())
	}
	p.Entity = target.Bare()
	p.Watcher = watcher.Bare()
	return &p, nil
}

// --- OPTIONS and other methods with presence on ---

// logAttrs are the log attributes of a request.
func reqAttrs(req *sip.Request) []any {
	a := []any{"method", string(req.Method), "src", req.Source()}
	if c := req.CallID(); c != nil {
		a = append(a, "call_id", c.Value())
	}
	if f := req.From(); f != nil {
		a = append(a, "from", f.Address.String())
	}
	if t := req.To(); t != nil {
		a = append(a, "to", t.Address.String())
	}
	return a
}
