package sipside

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cpimgw/cpim"
	"cpimgw/store"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// newMemStore is the in-memory store of package store.
func newMemStore() *store.Memory { return store.NewMemory() }

// storedDialogs returns the dialogs in st.
func storedDialogs(t testing.TB, st store.Store) []store.Dialog {
	t.Helper()
	var out []store.Dialog
	if err := st.Dialogs(func(d store.Dialog) error {
		out = append(out, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// event is one call the endpoint made on its PresenceHandler.
type event struct {
	kind            string // subscribe, ended, notified, failed, refresh
	sub             cpim.Subscription
	watcher, target cpim.Address
	n               cpim.Notification
	err             *cpim.Error
	initial         bool
	reason          string
}

// fakePresence is a PresenceHandler that records every call and answers
// SubscribeRequest with answer (default: active, no presence).
type fakePresence struct {
	mu     sync.Mutex
	answer func(cpim.Subscription) (cpim.Notification, error)
	events chan event
}

func newFakePresence() *fakePresence { return &fakePresence{events: make(chan event, 256)} }

func (f *fakePresence) setAnswer(a func(cpim.Subscription) (cpim.Notification, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = a
}

func (f *fakePresence) SubscribeRequest(ctx context.Context, s cpim.Subscription) (cpim.Notification, error) {
	f.events <- event{kind: "subscribe", sub: s}
	f.mu.Lock()
	a := f.answer
	f.mu.Unlock()
	if a == nil {
		return cpim.Notification{State: cpim.SubActive}, nil
	}
	return a(s)
}
func (f *fakePresence) SubscriptionEnded(ctx context.Context, w, t cpim.Address, reason string) error {
	f.events <- event{kind: "ended", watcher: w, target: t, reason: reason}
	return nil
}
func (f *fakePresence) Notified(ctx context.Context, w, t cpim.Address, n cpim.Notification) error {
	f.events <- event{kind: "notified", watcher: w, target: t, n: n}
	return nil
}
func (f *fakePresence) SubscribeFailed(ctx context.Context, w, t cpim.Address, e *cpim.Error, initial bool) error {
	f.events <- event{kind: "failed", watcher: w, target: t, err: e, initial: initial}
	return nil
}
func (f *fakePresence) RefreshDue(ctx context.Context, w, t cpim.Address) error {
	f.events <- event{kind: "refresh", watcher: w, target: t}
	return nil
}

// next waits for the next handler call and checks its kind.
func (f *fakePresence) next(t testing.TB, kind string) event {
	t.Helper()
	select {
	case ev := <-f.events:
		if ev.kind != kind {
			t.Fatalf("handler got %s %+v, want %s", ev.kind, ev, kind)
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s call of the handler", kind)
	}
	return event{}
}

// none checks that no handler call is queued now.
func (f *fakePresence) none(t testing.TB) {
	t.Helper()
	select {
	case ev := <-f.events:
		t.Fatalf("unexpected handler call %s %+v", ev.kind, ev)
	default:
	}
}

// The addresses of the tests: romeo is a SIP user, juliet an XMPP user.
var (
	romeo  = cpim.Address{Local: "romeo", Domain: "sip.example"}
	juliet = cpim.Address{Local: "juliet", Domain: "xmpp.example"}
)

// newPresenceEndpoint returns a running endpoint with presence on, with
// Timer N and the lapse grace shortened, stopped at cleanup.
func newPresenceEndpoint(t testing.TB, cfg Config, h PresenceHandler) (*Endpoint, *logSink) {
	t.Helper()
	e, logs, _ := startPresence(t, cfg, h)
	return e, logs
}

// startPresence is newPresenceEndpoint that also returns a function that
// stops the endpoint (Run returns) before the test ends.
func startPresence(t testing.TB, cfg Config, h PresenceHandler) (*Endpoint, *logSink, func()) {
	t.Helper()
	if cfg.Listen == nil {
		cfg.Listen = []string{"udp:127.0.0.1:0", "tcp:127.0.0.1:0"}
	}
	cfg.Presence = h
	log, sink := newLog()
	e, err := New(cfg, testMapper(t), &recorder{}, log)
	if err != nil {
		t.Fatal(err)
	}
	e.subs.timerN = 2 * time.Second
	e.subs.lapseGrace = 500 * time.Millisecond
	e.subs.settled = make(chan subOp, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := e.WaitReady(wctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return e, sink, stop
}

// sipPeer is a SIP user agent on loopback standing for a SIP watcher, a
// presence server or a proxy: it listens on UDP and TCP on the same port,
// records every request it gets and answers them with answer (default
// 200). Its client sends UDP requests from its listener.
type sipPeer struct {
	ua   *sipgo.UserAgent
	srv  *sipgo.Server
	cli  *sipgo.Client
	port int
	reqs chan *sip.Request

	mu     sync.Mutex
	answer func(req *sip.Request) *sip.Response // nil response: no answer
}

func startSIPPeer(t testing.TB) *sipPeer {
	t.Helper()
	var pc net.PacketConn
	var ln net.Listener
	for range 20 {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		pc, ln = nil, nil
	}
	if ln == nil {
		t.Fatal("no port free for both UDP and TCP")
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sipgo.NewServer(ua)
	cli, _ := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientConnectionAddr(pc.LocalAddr().String()))
	p := &sipPeer{ua: ua, srv: srv, cli: cli, port: port, reqs: make(chan *sip.Request, 64)}
	handle := func(req *sip.Request, tx sip.ServerTransaction) {
		p.reqs <- req
		p.mu.Lock()
		a := p.answer
		p.mu.Unlock()
		var res *sip.Response
		if a == nil {
			res = sip.NewResponseFromRequest(req, 200, "OK", nil)
		} else {
			res = a(req)
		}
		if res != nil {
			tx.Respond(res)
		}
	}
	for _, m := range []sip.RequestMethod{sip.SUBSCRIBE, sip.NOTIFY, sip.PUBLISH, sip.MESSAGE} {
		srv.OnRequest(m, handle)
	}
	var wg sync.WaitGroup
	wg.Go(func() { srv.ServeUDP(pc) })
	wg.Go(func() { srv.ServeTCP(ln) })
	t.Cleanup(func() {
		pc.Close()
		ln.Close()
		ua.Close()
		wg.Wait()
	})
	return p
}

func (p *sipPeer) addr() string { return fmt.Sprintf("127.0.0.1:%d", p.port) }

func (p *sipPeer) setAnswer(a func(req *sip.Request) *sip.Response) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answer = a
}

// next waits for the next request the peer got and checks its method.
func (p *sipPeer) next(t testing.TB, method sip.RequestMethod) *sip.Request {
	t.Helper()
	select {
	case req := <-p.reqs:
		if req.Method != method {
			t.Fatalf("peer got %s, want %s:\n%s", req.Method, method, req)
		}
		return req
	case <-time.After(10 * time.Second):
		t.Fatalf("peer got no %s", method)
	}
	return nil
}

// nothing checks that the peer gets no request within d.
func (p *sipPeer) nothing(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case req := <-p.reqs:
		t.Fatalf("peer got an unexpected request:\n%s", req)
	case <-time.After(d):
	}
}

// send sends r from the peer to the gateway at addr over network and
// returns the final response.
func (p *sipPeer) send(t testing.TB, network, addr string, r rawReq) *sip.Response {
	t.Helper()
	res, err := p.sendErr(network, addr, r)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// sendErr is send for any goroutine.
func (p *sipPeer) sendErr(network, addr string, r rawReq) (*sip.Response, error) {
	m, err := sip.ParseMessage([]byte(r.String()))
	if err != nil {
		return nil, err
	}
	req := m.(*sip.Request)
	req.RemoveHeader("Via")
	req.SetTransport(strings.ToUpper(network))
	req.SetDestination(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.cli.Do(ctx, req, sipgo.ClientRequestAddVia)
	if err != nil {
		return nil, fmt.Errorf("%s to %s: %w", req.Method, addr, err)
	}
	return res, nil
}

// ok is a 200 to req with the peer's tag and extra headers.
func ok(req *sip.Request, tag string, headers ...string) *sip.Response {
	res := respondTo(req, 200, headers...)
	res.To().Params.Add("tag", tag)
	return res
}

// subscribeRaw is a SUBSCRIBE from romeo (at the peer) to juliet.
func (p *sipPeer) subscribeRaw(callID string, cseq int, expires string) rawReq {
	r := rawReq{
		method: "SUBSCRIBE",
		ruri:   "sip:juliet@xmpp.example",
		headers: [][2]string{
			{"Via", "SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx"},
			{"Max-Forwards", "70"},
			{"From", "<sip:romeo@sip.example>;tag=romeo-" + callID},
			{"To", "<sip:juliet@xmpp.example>"},
			{"Call-ID", callID},
			{"CSeq", strconv.Itoa(cseq) + " SUBSCRIBE"},
			{"Contact", "<sip:romeo@" + p.addr() + ">"},
			{"Event", "presence"},
			{"Accept", "application/pidf+xml"},
		},
	}
	if expires != "" {
		r.headers = append(r.headers, [2]string{"Expires", expires})
	}
	return r
}

// inDialog turns r into an in-dialog request with the gateway's tag.
func (r rawReq) inDialog(gwTag string, cseq int) rawReq {
	to := ""
	for _, kv := range r.headers {
		if kv[0] == "To" {
			to = kv[1]
		}
	}
	return r.with("To", to+";tag="+gwTag).with("CSeq", strconv.Itoa(cseq)+" "+r.method)
}

// header returns the value of the first header name of m, "" if none.
func header(m sip.Message, name string) string {
	type headered interface{ GetHeader(string) sip.Header }
	if h := m.(headered).GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// tagOf returns the tag of a From or To header.
func tagOf(h interface{ Value() string }) string {
	_, params := splitParams(h.Value())
	return params["tag"]
}

// respondTo builds a response to req with status and extra headers given
// as "Name: value".
func respondTo(req *sip.Request, status int, headers ...string) *sip.Response {
	res := sip.NewResponseFromRequest(req, status, "X", nil)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		res.AppendHeader(sip.NewHeader(k, strings.TrimSpace(v)))
	}
	return res
}

// notifyRaw is a NOTIFY from the presence server at the peer in the
// dialog of sub (the gateway's SUBSCRIBE), with the peer's tag.
func (p *sipPeer) notifyRaw(sub *sip.Request, peerTag string, cseq int, state, body string, extra ...[2]string) rawReq {
	ruri := sub.Contact().Address.String()
	r := rawReq{
		method: "NOTIFY",
		ruri:   ruri,
		headers: [][2]string{
			{"Via", "SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKn"},
			{"Max-Forwards", "70"},
			{"From", sub.To().Address.String() + ";tag=" + peerTag},
			{"To", sub.From().Value()},
			{"Call-ID", sub.CallID().Value()},
			{"CSeq", strconv.Itoa(cseq) + " NOTIFY"},
			{"Contact", "<sip:presence@" + p.addr() + ">"},
			{"Event", "presence"},
			{"Subscription-State", state},
		},
		body: body,
	}
	if body != "" {
		r.headers = append(r.headers, [2]string{"Content-Type", "application/pidf+xml"})
	}
	r.headers = append(r.headers, extra...)
	return r
}

// diff fails when got and want differ.
func diff(t testing.TB, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

// romeoPIDF is a PIDF of romeo with one tuple, away with a German note.
const romeoPIDF = `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:romeo@sip.example">
  <tuple id="ID-phone">
    <status><basic>open</basic><show xmlns="jabber:client">away</show></status>
    <contact>sip:romeo@sip.example;gr=phone</contact>
    <note>Im Garten</note>
  </tuple>
</presence>`

// julietPresence is juliet's presence as the core gives it.
func julietPresence() *cpim.Presence {
	return &cpim.Presence{
		Entity: juliet, Lang: "en",
		Tuples: []cpim.Tuple{{Resource: "balcony", Basic: cpim.Open, Show: cpim.ShowDND,
			Notes: []cpim.Text{{Text: "Wherefore art thou"}}}},
	}
}
