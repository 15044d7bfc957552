package presence

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"cpimgw/cpim"
	"cpimgw/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The pair most tests use: XMPP user juliet watches or is watched by SIP
// contact romeo (RFC 8048's examples).
var (
	juliet = cpim.Address{Local: "juliet", Domain: "example.com"}
	romeo  = cpim.Address{Local: "romeo", Domain: "example.net"}
)

// callLog records the calls the core makes on both sides, in order.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(format string, a ...any) {
	l.mu.Lock()
	l.calls = append(l.calls, fmt.Sprintf(format, a...))
	l.mu.Unlock()
}

func (l *callLog) drain() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.calls
	l.calls = nil
	return out
}

// fakeSIP records SIPSide calls: "SUBSCRIBE watcher→target",
// "unSUBSCRIBE …", "FETCH …", "NOTIFY watcher←target state presence",
// "PUBLISH presentity presence".
type fakeSIP struct {
	log *callLog
	err error // returned by Subscribe when set
}

func (f *fakeSIP) Subscribe(ctx context.Context, w, t cpim.Address) error {
	f.log.add("SUBSCRIBE %s→%s", w, t)
	return f.err
}
func (f *fakeSIP) Unsubscribe(ctx context.Context, w, t cpim.Address) error {
	f.log.add("unSUBSCRIBE %s→%s", w, t)
	return nil
}
func (f *fakeSIP) Fetch(ctx context.Context, w, t cpim.Address) error {
	f.log.add("FETCH %s→%s", w, t)
	return nil
}
func (f *fakeSIP) Notify(ctx context.Context, w, t cpim.Address, n cpim.Notification) error {
	f.log.add("NOTIFY %s←%s %s %s", w, t, fmtState(n), fmtPresence(n.Presence))
	return nil
}
func (f *fakeSIP) Publish(ctx context.Context, pr cpim.Address, p *cpim.Presence) error {
	f.log.add("PUBLISH %s %s", pr, fmtPresence(p))
	return nil
}

// fakeXMPP records XMPPSide calls: "presence entity→watcher tuples",
// "<op> from→to" (in stanza direction), "error <condition> from→to".
type fakeXMPP struct {
	log  *callLog
	down atomic.Pointer[cpim.Error] // when set, SendSubscription fails with it (the link is down)
}

func (f *fakeXMPP) SendPresence(ctx context.Context, p cpim.Presence) error {
	f.log.add("presence %s→%s %s", p.Entity, p.Watcher, fmtPresence(&p))
	return nil
}
func (f *fakeXMPP) SendSubscription(ctx context.Context, s cpim.Subscription) error {
	if e := f.down.Load(); e != nil {
		return e
	}
	from, to := s.Watcher, s.Target
	if s.Op == cpim.Subscribed || s.Op == cpim.Unsubscribed {
		from, to = to, from
	}
	f.log.add("%s %s→%s%s", s.Op, from, to, idSuffix(s.ID))
	return nil
}

// idSuffix shows a stanza id in the event log when there is one.
func idSuffix(id string) string {
	if id == "" {
		return ""
	}
	return " id=" + id
}

// fakeXMPPErr also sends presence errors.
type fakeXMPPErr struct{ fakeXMPP }

func (f *fakeXMPPErr) SendPresenceError(ctx context.Context, from, to cpim.Address, id string, e *cpim.Error) error {
	f.log.add("error %s %s→%s%s", e.Condition, from, to, idSuffix(id))
	return nil
}

func fmtState(n cpim.Notification) string {
	s := string(n.State)
	if n.Reason != "" {
		s += ";reason=" + n.Reason
	}
	if n.RetryAfter > 0 {
		s += fmt.Sprintf(";retry-after=%d", int(n.RetryAfter/time.Second))
	}
	return s
}

// fmtPresence writes a presence compactly: "(no body)", "(no tuples)" or
// "[res open/away en:note p5, …]" (lang prefix only when explicit).
func fmtPresence(p *cpim.Presence) string {
	if p == nil {
		return "(no body)"
	}
	if len(p.Tuples) == 0 {
		return "(no tuples)"
	}
	var parts []string
	for _, t := range p.Tuples {
		s := t.Resource
		if s == "" {
			s = "-"
		}
		s += " " + string(t.Basic)
		if t.Show != "" {
			s += "/" + string(t.Show)
		}
		for _, n := range t.Notes {
			if n.Lang != "" {
				s += fmt.Sprintf(" %s:%q", n.Lang, n.Text)
			} else {
				s += fmt.Sprintf(" %q", n.Text)
			}
		}
		if t.HasPriority {
			s += fmt.Sprintf(" p%d", t.Priority)
		}
		parts = append(parts, s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// harness runs a Core with fake sides, a fake clock and a memStore.
type harness struct {
	t     *testing.T
	ctx   context.Context
	c     *Core
	st    *store.Memory
	clk   *fakeClock
	log   *callLog
	sip   *fakeSIP
	xmpp  XMPPSide
	fx    *fakeXMPP // the fake behind xmpp
	sipEv SIPEvents
	xEv   XMPPEvents
	stop  func() // stops Run and waits for it; idempotent
}

type opts struct {
	cfg      Config
	st       *store.Memory
	noErrors bool // an XMPP side without PresenceErrorSender
	// wrap, when set, gives the store the core uses (around h.st).
	wrap func(*store.Memory) store.Store
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, o opts) *harness {
	t.Helper()
	h := &harness{t: t, st: o.st, clk: &fakeClock{t: t0}, log: &callLog{}}
	if h.st == nil {
		h.st = store.NewMemory()
	}
	h.sip = &fakeSIP{log: h.log}
	if o.noErrors {
		h.fx = &fakeXMPP{log: h.log}
		h.xmpp = h.fx
	} else {
		fe := &fakeXMPPErr{fakeXMPP{log: h.log}}
		h.fx, h.xmpp = &fe.fakeXMPP, fe
	}
	cfg := o.cfg
	cfg.Store, cfg.Now = h.st, h.clk.Now
	if o.wrap != nil {
		cfg.Store = o.wrap(h.st)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Connect(h.sip, h.xmpp)
	c.jitter = func(lo, hi time.Duration) time.Duration { return lo }
	h.c, h.sipEv, h.xEv = c, c.SIPEvents(), c.XMPPEvents()
	ctx, cancel := context.WithCancel(context.Background())
	h.ctx = ctx
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	h.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(h.stop)
	if err := c.wait(ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

// calls lets due tasks run, then returns the calls made since last time.
func (h *harness) calls() []string {
	h.t.Helper()
	if err := h.c.settle(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	return h.log.drain()
}

// expect checks the calls made since the last check.
func (h *harness) expect(want ...string) {
	h.t.Helper()
	got := h.calls()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		h.t.Errorf("calls:\n got: %s\nwant: %s", strings.Join(quoteAll(got), "\n      "), strings.Join(quoteAll(want), "\n      "))
	}
}

// expectUnordered is expect for calls made by tasks that were due at the
// same time: Run starts each in its own goroutine, so their order is not
// defined.
func (h *harness) expectUnordered(want ...string) {
	h.t.Helper()
	got := h.calls()
	g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(g, w) {
		h.t.Errorf("calls (in any order):\n got: %s\nwant: %s", strings.Join(quoteAll(got), "\n      "), strings.Join(quoteAll(want), "\n      "))
	}
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

// advance moves the clock and lets due tasks run.
func (h *harness) advance(d time.Duration) {
	h.clk.advance(d)
	if err := h.c.settle(h.ctx); err != nil {
		h.t.Fatal(err)
	}
}

// auth returns the stored authorization state ("none" when absent).
func (h *harness) auth(d store.Direction, watcher, target cpim.Address) store.AuthState {
	a, ok, _ := h.st.GetAuth(d, store.Key(watcher), store.Key(target))
	if !ok {
		return store.AuthNone
	}
	return a.State
}

func (h *harness) wantAuth(d store.Direction, watcher, target cpim.Address, want store.AuthState) {
	h.t.Helper()
	if got := h.auth(d, watcher, target); got != want {
		h.t.Errorf("%s authorization of %s to %s = %s, want %s", d, watcher, target, got, want)
	}
}

func (h *harness) ok(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("handler: %v", err)
	}
}

// XMPP events.
func (h *harness) xsub(op cpim.SubscriptionOp, watcher, target cpim.Address) {
	h.t.Helper()
	h.ok(h.xEv.Subscription(h.ctx, cpim.Subscription{Op: op, Watcher: watcher, Target: target}))
}

// pres sends a presence of user/resource to watcher: "open", "away",
// "dnd", … or "closed".
func (h *harness) pres(user cpim.Address, resource, state string, watcher cpim.Address, notes ...string) {
	h.t.Helper()
	h.ok(h.xEv.Presence(h.ctx, xmppPresence(user, resource, state, watcher, notes...)))
}

func xmppPresence(user cpim.Address, resource, state string, watcher cpim.Address, notes ...string) cpim.Presence {
	t := cpim.Tuple{Resource: resource, Basic: cpim.Open}
	switch state {
	case "closed":
		t.Basic = cpim.Closed
	case "open":
	default:
		t.Show = cpim.Show(state)
	}
	for _, n := range notes {
		t.Notes = append(t.Notes, cpim.Text{Text: n})
	}
	return cpim.Presence{Entity: user.Bare(), Watcher: watcher, Tuples: []cpim.Tuple{t}}
}

// SIP events.
func (h *harness) notified(n cpim.Notification) {
	h.t.Helper()
	h.ok(h.sipEv.Notified(h.ctx, juliet, romeo, n))
}

func (h *harness) failed(status int, initial bool) {
	h.t.Helper()
	h.ok(h.sipEv.SubscribeFailed(h.ctx, juliet, romeo, &cpim.Error{Condition: cpim.UndefinedCondition, Status: status}, initial))
}

func (h *harness) subscribeReq(op cpim.SubscriptionOp, renewal bool) cpim.Notification {
	h.t.Helper()
	n, err := h.sipEv.SubscribeRequest(h.ctx, cpim.Subscription{Op: op, Watcher: romeo, Target: juliet, Renewal: renewal, ID: "dlg-1"})
	h.ok(err)
	return n
}

func (h *harness) wantNotification(got cpim.Notification, want string) {
	h.t.Helper()
	if s := fmtState(got) + " " + fmtPresence(got.Presence); s != want {
		h.t.Errorf("notification = %q, want %q", s, want)
	}
}

// tuples builds a SIP contact's presence: pairs of resource and state.
func sipPresence(entity cpim.Address, rs ...string) *cpim.Presence {
	p := &cpim.Presence{Entity: entity}
	for i := 0; i+1 < len(rs); i += 2 {
		t := cpim.Tuple{Resource: rs[i], Basic: cpim.Open}
		switch rs[i+1] {
		case "closed":
			t.Basic = cpim.Closed
		case "open":
		default:
			t.Show = cpim.Show(rs[i+1])
		}
		p.Tuples = append(p.Tuples, t)
	}
	return p
}

func active(rs ...string) cpim.Notification {
	return cpim.Notification{State: cpim.SubActive, Presence: sipPresence(romeo, rs...)}
}

// granted sets up an X2S authorization granted by a first active NOTIFY
// with the given tuples, and drains the calls.
func (h *harness) granted(rs ...string) {
	h.t.Helper()
	h.xsub(cpim.Subscribe, juliet, romeo)
	h.notified(active(rs...))
	h.calls()
	h.wantAuth(store.X2S, juliet, romeo, store.AuthGranted)
}

// s2xGranted sets up romeo authorized to see juliet, with a dialog.
func (h *harness) s2xGranted() {
	h.t.Helper()
	h.subscribeReq(cpim.Subscribe, false)
	h.xsub(cpim.Subscribed, romeo, juliet)
	h.calls()
	h.wantAuth(store.S2X, romeo, juliet, store.AuthGranted)
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
