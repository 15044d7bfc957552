package sipside

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"cpimgw/cpim"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"
)

// run starts e in the background and stops it at cleanup, failing the test
// if Run returns an error.
func run(t *testing.T, e *Endpoint) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := e.WaitReady(wctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
}

// newRunning returns a running endpoint with the given listeners.
func newRunning(t *testing.T, cfg Config, h Handler) (*Endpoint, *logSink) {
	t.Helper()
	log, sink := newLog()
	e, err := New(cfg, testMapper(t), h, log)
	if err != nil {
		t.Fatal(err)
	}
	run(t, e)
	return e, sink
}

// addrOf returns the host:port of e's first listener of network.
func addrOf(t *testing.T, e *Endpoint, network string) string {
	t.Helper()
	for _, a := range e.Addrs() {
		if n, hp, _ := strings.Cut(a, ":"); n == network {
			return hp
		}
	}
	t.Fatalf("no %s listener in %v", network, e.Addrs())
	return ""
}

// peer is a SIP UA on loopback standing for the proxy or SIP user the
// gateway talks to, built on sipgo.
type peer struct {
	ua    *sipgo.UserAgent
	srv   *sipgo.Server
	cli   *sipgo.Client
	addrs map[string]string // "udp"/"tcp" → host:port
	got   chan *sip.Request
}

// startPeer listens on the given networks ("udp", "tcp") of 127.0.0.1 and
// answers every MESSAGE with status.
func startPeer(t *testing.T, status int, networks ...string) *peer {
	t.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sipgo.NewServer(ua)
	cli, _ := sipgo.NewClient(ua)
	p := &peer{ua: ua, srv: srv, cli: cli, addrs: map[string]string{}, got: make(chan *sip.Request, 16)}
	srv.OnMessage(func(req *sip.Request, tx sip.ServerTransaction) {
		p.got <- req
		tx.Respond(sip.NewResponseFromRequest(req, status, "X", nil))
	})
	var wg sync.WaitGroup
	var closers []func() error
	for _, n := range networks {
		switch n {
		case "udp":
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			p.addrs[n] = pc.LocalAddr().String()
			closers = append(closers, pc.Close)
			wg.Go(func() { srv.ServeUDP(pc) })
		case "tcp":
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			p.addrs[n] = ln.Addr().String()
			closers = append(closers, ln.Close)
			wg.Go(func() { srv.ServeTCP(ln) })
		}
	}
	t.Cleanup(func() {
		for _, c := range closers {
			c()
		}
		ua.Close()
		wg.Wait()
	})
	return p
}

// freePort returns a loopback TCP port nobody listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

// TestRunLifecycle checks WaitReady, Addrs with port 0, that Run returns
// nil when ctx ends with every goroutine stopped, and what happens after.
func TestRunLifecycle(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	log, _ := newLog()
	e, err := New(Config{Listen: []string{"udp:127.0.0.1:0", "tcp:127.0.0.1:0"}}, testMapper(t), &recorder{}, log)
	if err != nil {
		t.Fatal(err)
	}
	if a := e.Addrs(); len(a) != 0 {
		t.Errorf("Addrs before Run: %v", a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	if err := e.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	addrs := e.Addrs()
	if len(addrs) != 2 || !strings.HasPrefix(addrs[0], "udp:127.0.0.1:") || !strings.HasPrefix(addrs[1], "tcp:127.0.0.1:") ||
		strings.HasSuffix(addrs[0], ":0") || strings.HasSuffix(addrs[1], ":0") {
		t.Errorf("Addrs %v", addrs)
	}
	if err := e.Run(ctx); err == nil {
		t.Error("second Run succeeded")
	}
	// Serve one request on each transport before stopping.
	for _, n := range []string{"udp", "tcp"} {
		res := sendTo(t, n, addrOf(t, e, n), defaultMessage())
		if res.StatusCode != 202 {
			t.Errorf("%s: %d", n, res.StatusCode)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	err = e.SendMessage(context.Background(), outMessage())
	if cpim.ConditionOf(err) != cpim.ServiceUnavailable {
		t.Errorf("SendMessage after Run: %v", err)
	}
}

// TestRunListenError checks that a listener that cannot open fails Run and
// WaitReady.
func TestRunListenError(t *testing.T) {
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	e, err := New(Config{Listen: []string{"tcp:127.0.0.1:0", "udp:" + busy.LocalAddr().String()}}, testMapper(t), &recorder{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(context.Background()) }()
	if err := e.WaitReady(context.Background()); err == nil {
		t.Error("WaitReady succeeded")
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "sipside: listen udp") {
		t.Errorf("Run: %v", err)
	}
}

// sendTo sends a request from a throw-away sipgo UA over network to addr
// and returns the final response.
func sendTo(t *testing.T, network, addr string, r rawReq) *sip.Response {
	t.Helper()
	res, err := sendReq(network, addr, r.parse(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// sendReq is sendTo for any goroutine.
func sendReq(network, addr string, req *sip.Request) (*sip.Response, error) {
	ua, _ := sipgo.NewUA()
	defer ua.Close()
	cli, _ := sipgo.NewClient(ua)
	req.RemoveHeader("Via")
	req.SetTransport(strings.ToUpper(network))
	req.SetDestination(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cli.Do(ctx, req, sipgo.ClientRequestAddVia)
	if err != nil {
		return nil, fmt.Errorf("%s to %s: %w", network, addr, err)
	}
	return res, nil
}

// TestLoopbackS2X checks a MESSAGE over real sockets, UDP and TCP.
func TestLoopbackS2X(t *testing.T) {
	h := &recorder{}
	e, logs := newRunning(t, Config{Listen: []string{"udp:127.0.0.1:0", "tcp:127.0.0.1:0"}}, h)
	for _, n := range []string{"udp", "tcp"} {
		res := sendTo(t, n, addrOf(t, e, n), defaultMessage().with("Call-ID", "loop-"+n))
		if res.StatusCode != 202 || len(res.Body()) != 0 || res.Contact() != nil {
			t.Errorf("%s: %d body %q contact %v", n, res.StatusCode, res.Body(), res.Contact())
		}
	}
	if got := h.messages(); len(got) != 2 {
		t.Fatalf("handler got %d", len(got))
	}
	if logs.await(t, map[string]any{"side": "sip", "call_id": "loop-tcp", "status": 202}) == nil {
		t.Errorf("no log line for the TCP request")
	}
}

// TestLoopbackX2S checks a MESSAGE to a loopback peer over UDP: it leaves
// from the UDP listener, so the peer's response reaches the listener
// (LIBRARY-NOTES §1.2).
func TestLoopbackX2S(t *testing.T) {
	p := startPeer(t, 200, "udp")
	e, _ := newRunning(t, Config{Listen: []string{"udp:127.0.0.1:0"}, OutboundProxy: "sip:" + p.addrs["udp"]}, &recorder{})
	if err := e.SendMessage(context.Background(), outMessage()); err != nil {
		t.Fatal(err)
	}
	req := <-p.got
	if req.Transport() != "UDP" {
		t.Errorf("transport %s", req.Transport())
	}
	if src := req.Source(); src != addrOf(t, e, "udp") {
		t.Errorf("request came from %s, want the listener %s", src, addrOf(t, e, "udp"))
	}
	if v := req.Via(); v.Host != "127.0.0.1" || fmt.Sprint(v.Port) != strings.Split(addrOf(t, e, "udp"), ":")[1] {
		t.Errorf("Via sent-by %s", v.SentBy())
	}
}

// bigMessage is a message whose MESSAGE request exceeds 1300 bytes.
func bigMessage() cpim.Message {
	m := outMessage()
	m.Bodies = []cpim.Text{{Text: strings.Repeat("ü", 700)}}
	return m
}

// TestUDPSizeLimit checks the >1300-byte path (RFC 3261 §18.1.1, RFC 3428
// §8, MSG-07): over a UDP next hop, the request goes over TCP to the same
// host and port; with the fallback off, or when TCP fails, SendMessage
// returns policy-violation and nothing is sent.
func TestUDPSizeLimit(t *testing.T) {
	off := false
	t.Run("falls back to TCP", func(t *testing.T) {
		p := startPeer(t, 202, "tcp")
		e, _ := newRunning(t, Config{Listen: []string{"udp:127.0.0.1:0", "tcp:127.0.0.1:0"},
			OutboundProxy: "sip:" + p.addrs["tcp"]}, &recorder{})
		if err := e.SendMessage(context.Background(), bigMessage()); err != nil {
			t.Fatal(err)
		}
		req := <-p.got
		if req.Transport() != "TCP" || req.Via().Transport != "TCP" {
			t.Errorf("transport %s, Via %s", req.Transport(), req.Via().Transport)
		}
		if n := len(req.String()); n <= DefaultMaxUDPSize {
			t.Errorf("request is only %d bytes", n)
		}
		if string(req.Body()) != strings.Repeat("ü", 700) {
			t.Error("body changed")
		}
	})
	t.Run("fallback off", func(t *testing.T) {
		p := startPeer(t, 202, "udp", "tcp")
		e, _ := newRunning(t, Config{Listen: []string{"udp:127.0.0.1:0"}, TCPFallback: &off,
			OutboundProxy: "sip:" + p.addrs["udp"]}, &recorder{})
		err := e.SendMessage(context.Background(), bigMessage())
		if cpim.ConditionOf(err) != cpim.PolicyViolation {
			t.Fatalf("got %v, want policy-violation", err)
		}
		// The small message still goes over UDP.
		if err := e.SendMessage(context.Background(), outMessage()); err != nil {
			t.Fatal(err)
		}
		if req := <-p.got; string(req.Body()) != "Art thou not Romeo?" {
			t.Errorf("peer got %q first", req.Body())
		}
	})
	t.Run("TCP fails", func(t *testing.T) {
		e, _ := newRunning(t, Config{Listen: []string{"udp:127.0.0.1:0"}, OutboundProxy: "sip:" + freePort(t)}, &recorder{})
		err := e.SendMessage(context.Background(), bigMessage())
		if cpim.ConditionOf(err) != cpim.PolicyViolation {
			t.Fatalf("got %v, want policy-violation", err)
		}
	})
	t.Run("TCP next hop has no limit", func(t *testing.T) {
		p := startPeer(t, 200, "tcp")
		e, _ := newRunning(t, Config{Listen: []string{"udp:127.0.0.1:0"}, TCPFallback: &off,
			OutboundProxy: "sip:" + p.addrs["tcp"] + ";transport=tcp"}, &recorder{})
		if err := e.SendMessage(context.Background(), bigMessage()); err != nil {
			t.Fatal(err)
		}
		if req := <-p.got; req.Transport() != "TCP" {
			t.Errorf("transport %s", req.Transport())
		}
	})
}

// TestTransportErrorIsTimeout checks that a transport failure on the
// configured transport (not a fallback) is remote-server-timeout.
func TestTransportErrorIsTimeout(t *testing.T) {
	e, _ := newRunning(t, Config{Listen: []string{"udp:127.0.0.1:0"}, OutboundProxy: "sip:" + freePort(t) + ";transport=tcp"}, &recorder{})
	err := e.SendMessage(context.Background(), outMessage())
	var ce *cpim.Error
	if !errors.As(err, &ce) || ce.Condition != cpim.RemoteServerTimeout || ce.Status != 408 {
		t.Fatalf("got %v, want remote-server-timeout 408", err)
	}
}

// TestShutdownAnswersInflight checks that stopping Run ends a Handler call
// in progress and that its answer still reaches the SIP user before the
// sockets close (CMP-08: 503 + Retry-After while the XMPP side is gone).
func TestShutdownAnswersInflight(t *testing.T) {
	entered := make(chan struct{})
	h := &recorder{
		hook: func(ctx context.Context) { close(entered); <-ctx.Done() },
		err:  &cpim.Error{Condition: cpim.InternalServerError, Status: 503, RetryAfter: 10 * time.Second},
	}
	log, _ := newLog()
	e, err := New(Config{Listen: []string{"udp:127.0.0.1:0"}}, testMapper(t), h, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- e.Run(ctx) }()
	if err := e.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	type result struct {
		res *sip.Response
		err error
	}
	got := make(chan result, 1)
	req, addr := defaultMessage().parse(t, ""), addrOf(t, e, "udp")
	go func() {
		res, err := sendReq("udp", addr, req)
		got <- result{res, err}
	}()
	<-entered
	cancel()
	if err := <-runDone; err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	res := r.res
	if res.StatusCode != 503 || res.GetHeader("Retry-After") == nil || res.GetHeader("Retry-After").Value() != "10" {
		t.Errorf("in-flight request got %d %v", res.StatusCode, res.GetHeader("Retry-After"))
	}
}
