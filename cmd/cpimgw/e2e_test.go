package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"cpimgw/internal/peers"
	"cpimgw/sipside"
	"cpimgw/xmppside"
)

// The end-to-end tests run the whole gateway in-process against the real
// peers: a Prosody started on loopback (component port, users created by
// the test, XMPP clients logged in over c2s) and sipp as the SIP user
// agents. The gateway's outbound proxy is a sipp UAS on a port chosen up
// front, so X2S requests land in sipp.

const (
	xmppDomain = "xmpp.example.test"
	sipDomain  = "sip.example.test"
)

// requirePeers fails when CI=true and a peer is missing (the house rule),
// and skips otherwise.
func requirePeers(t *testing.T) {
	t.Helper()
	for _, bin := range []string{peers.ProsodyBinary, peers.SIPpBinary} {
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required in CI (make test installs it): %v", bin, err)
			}
			t.Skipf("%s not installed (run .ci/install-peers.sh): %v", bin, err)
		}
	}
}

type stackOptions struct {
	foreign   string   // routes.foreign_sip (default escape)
	trusted   []string // routes.trusted_sip_sources (default 127.0.0.1/32)
	txTimeout time.Duration
}

// stack is one gateway between one Prosody and sipp.
type stack struct {
	t        *testing.T
	dir      string
	prosody  *peers.Prosody
	sipAddr  string // the gateway's SIP listener, UDP and TCP
	uasPort  int    // the outbound proxy: where X2S requests go
	comp     *xmppside.Component
	ep       *sipside.Endpoint
	alice    *peers.Client
	password string
	cancel   context.CancelFunc
	done     chan error
}

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	requirePeers(t)
	if o.foreign == "" {
		o.foreign = "escape"
	}
	if o.trusted == nil {
		o.trusted = []string{"127.0.0.1/32"}
	}
	if o.txTimeout == 0 {
		o.txTimeout = 3 * time.Second
	}
	s := &stack{t: t, dir: t.TempDir(), password: "alice-pw"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.prosody = startProsody(ctx, t, s.dir, map[string]string{"alice": s.password})
	s.sipAddr = freeLoopbackAddr(t)
	var err error
	if s.uasPort, err = peers.FreePort(); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{
		XMPP: XMPPConfig{
			Component: sipDomain, Server: s.prosody.ComponentAddr(), Secret: "component-secret",
			ReconnectMax: time.Second, PingInterval: 5 * time.Second, PingTimeout: 2 * time.Second,
		},
		SIP: SIPConfig{
			Listen:             []string{"udp:" + s.sipAddr, "tcp:" + s.sipAddr},
			OutboundProxy:      fmt.Sprintf("sip:127.0.0.1:%d", s.uasPort),
			TransactionTimeout: o.txTimeout,
		},
		Routes: RoutesConfig{
			XMPPDomains: []string{xmppDomain}, SIPDomains: []string{sipDomain},
			ForeignSIP: o.foreign, TrustedSIPSources: o.trusted,
		},
		Presence:        PresenceConfig{StateDir: filepath.Join(s.dir, "state")},
		ShutdownTimeout: 10 * time.Second,
	}
	s.startGateway(ctx, cfg)
	s.alice = s.login(ctx)
	return s
}

// startProsody starts a Prosody under dir with the users (localpart →
// password) and the gateway's component, until the test ends.
func startProsody(ctx context.Context, t *testing.T, dir string, users map[string]string) *peers.Prosody {
	t.Helper()
	p, err := peers.NewProsody(peers.ProsodyOptions{
		Dir: filepath.Join(dir, "prosody"), Domain: xmppDomain,
		Components: map[string]string{sipDomain: "component-secret"},
		Users:      users, Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// freeLoopbackAddr returns 127.0.0.1:PORT with a port free for TCP and
// UDP: where the gateway's SIP listeners go.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	port, err := peers.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// startGateway runs the gateway in-process with cfg (defaults filled in)
// until the test ends, and waits until its SIP listeners are up and its
// component link is connected.
func (s *stack) startGateway(ctx context.Context, cfg *Config) {
	t := s.t
	t.Helper()
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	runCtx, stop := context.WithCancel(context.Background())
	s.cancel, s.done = stop, make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		s.done <- run(runCtx, cfg, log, func(c *xmppside.Component, e *sipside.Endpoint) {
			s.comp, s.ep = c, e
			close(ready)
		})
	}()
	t.Cleanup(s.stop)
	select {
	case <-ready:
	case err := <-s.done:
		t.Fatalf("gateway exited: %v", err)
	}
	if err := s.ep.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.comp.WaitUp(ctx); err != nil {
		t.Fatalf("component did not connect to Prosody: %v", err)
	}
}

func (s *stack) login(ctx context.Context) *peers.Client {
	s.t.Helper()
	c, err := peers.Login(ctx, s.prosody.C2SAddr(), "alice@"+xmppDomain+"/desk", s.password)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	return c
}

var stopOnce sync.Map

func (s *stack) stop() {
	if _, done := stopOnce.LoadOrStore(s, true); done {
		return
	}
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("gateway: %v", err)
		}
	case <-time.After(20 * time.Second):
		s.t.Error("gateway did not stop")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// sendSIP runs a sipp UAC that sends one MESSAGE to the gateway and expects
// uac.Expect; it fails the test when sipp saw anything else. It returns the
// sipp run for log inspection.
func (s *stack) sendSIP(t *testing.T, name string, uac peers.MessageUAC, localIP string) *peers.SIPp {
	t.Helper()
	xmlText, err := uac.Render()
	if err != nil {
		t.Fatal(err)
	}
	p, err := peers.StartSIPp(peers.SIPpOptions{Dir: s.dir, Name: name, Scenario: xmlText,
		Remote: s.sipAddr, Calls: 1, TraceMsg: true, TraceLogs: true, LocalIP: localIP, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if code, err := p.Wait(ctx); err != nil || code != 0 {
		t.Fatalf("sipp %s: exit %d (%v), expected a %d: %s", name, code, err, uac.Expect, p.Errors())
	}
	return p
}

// response returns the final response sipp received, parsed.
func response(t *testing.T, p *peers.SIPp) *sip.Response {
	t.Helper()
	msgs, err := p.Messages()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Received {
			msg, err := sip.ParseMessage([]byte(m.Raw))
			if err != nil {
				t.Fatalf("sipp received an unparsable message: %v\n%s", err, m.Raw)
			}
			if res, ok := msg.(*sip.Response); ok && res.StatusCode >= 200 {
				return res
			}
		}
	}
	t.Fatal("sipp traced no final response")
	return nil
}

// sentCallID returns the Call-ID of the request sipp sent.
func sentCallID(t *testing.T, p *peers.SIPp) string {
	t.Helper()
	msgs, err := p.Messages()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if !m.Received {
			msg, err := sip.ParseMessage([]byte(m.Raw))
			if err != nil {
				t.Fatal(err)
			}
			return msg.CallID().Value()
		}
	}
	t.Fatal("sipp traced no sent request")
	return ""
}

// uas starts a sipp UAS on the gateway's outbound proxy port.
func (s *stack) uas(t *testing.T, name string, u peers.MessageUAS) *peers.SIPp {
	t.Helper()
	xmlText, err := u.Render()
	if err != nil {
		t.Fatal(err)
	}
	p, err := peers.StartSIPp(peers.SIPpOptions{Dir: s.dir, Name: name, Scenario: xmlText,
		LocalPort: s.uasPort, TraceMsg: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// received waits until the UAS traced a MESSAGE and returns it parsed.
func received(t *testing.T, p *peers.SIPp) *sip.Request {
	t.Helper()
	var req *sip.Request
	poll(t, "the SIP peer to receive a MESSAGE", func() bool {
		msgs, _ := p.Messages()
		for _, m := range msgs {
			if m.Received && strings.HasPrefix(m.Raw, "MESSAGE ") {
				msg, err := sip.ParseMessage([]byte(m.Raw))
				if err != nil {
					t.Fatalf("unparsable MESSAGE from the gateway: %v\n%s", err, m.Raw)
				}
				req = msg.(*sip.Request)
				return true
			}
		}
		return false
	})
	return req
}

// poll checks cond every 50ms until it holds or 15s pass. It is for state
// another process writes to a file (sipp's traces), where there is no
// event to wait on.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(15 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (s *stack) next(t *testing.T, c *peers.Client) peers.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	m, err := c.Next(ctx)
	if err != nil {
		t.Fatalf("XMPP client received nothing: %v", err)
	}
	return m
}

func header(r *sip.Request, name string) string {
	if h := r.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// TestE2ESIPToXMPP: SIP user agents (sipp) send MESSAGEs through the gateway
// to an XMPP user logged in at a real Prosody (RFC 7572 §5 Table 2).
func TestE2ESIPToXMPP(t *testing.T) {
	s := newStack(t, stackOptions{})
	alice := s.alice

	t.Run("text with non-ASCII characters, language, subject and thread", func(t *testing.T) {
		p := s.sendSIP(t, "s2x-text", peers.MessageUAC{
			RequestURI: "sip:alice@" + xmppDomain, From: `"Bob" <sip:bob@` + sipDomain + `>`, To: "sip:alice@" + xmppDomain,
			Headers: []string{"Subject: Grüße", "Content-Language: de"},
			Body:    "Grüße aus SIP — ✓ 日本語",
		}, "")
		res := response(t, p)
		if res.StatusCode != 202 || res.Contact() != nil || len(res.Body()) != 0 {
			t.Errorf("response %d, contact %v, body %q: want a bare 202 (MSG-08)", res.StatusCode, res.Contact(), res.Body())
		}
		m := s.next(t, alice)
		want := peers.Message{From: "bob@" + sipDomain, To: "alice@" + xmppDomain, Lang: "de",
			Subject: "Grüße", Thread: sentCallID(t, p), Body: "Grüße aus SIP — ✓ 日本語"}
		if m.From != want.From || m.To != want.To || m.Lang != want.Lang || m.Subject != want.Subject ||
			m.Thread != want.Thread || m.Body != want.Body || (m.Type != "" && m.Type != "normal") {
			t.Errorf("alice got %+v\nwant %+v (type normal, MSG-03)", m, want)
		}
		if m.ID == "" {
			t.Error("message has no id")
		}
	})

	t.Run("message/cpim body unwrapped", func(t *testing.T) {
		body := strings.Join([]string{
			"From: Bob <im:bob@" + sipDomain + ">",
			"To: <im:alice@" + xmppDomain + ">",
			"DateTime: 2026-11-22T10:00:00Z",
			"Subject:;lang=fr Bonjour",
			"NS: imdn <urn:ietf:params:imdn>",
			"imdn.Message-ID: 34jk324j",
			"",
			"Content-Type: text/plain; charset=utf-8",
			"",
			"Le contenu — unwrapped"}, "\r\n")
		s.sendSIP(t, "s2x-cpim", peers.MessageUAC{
			RequestURI: "sip:alice@" + xmppDomain, From: "<sip:bob@" + sipDomain + ">", To: "sip:alice@" + xmppDomain,
			ContentType: "message/cpim", Body: body,
		}, "")
		m := s.next(t, alice)
		if m.Body != "Le contenu — unwrapped" || m.Subject != "Bonjour" || m.SubjectLang != "fr" || m.From != "bob@"+sipDomain {
			t.Errorf("alice got %+v", m)
		}
	})

	t.Run("foreign SIP domain appears in the gateway domain (XEP-0106)", func(t *testing.T) {
		s.sendSIP(t, "s2x-foreign", peers.MessageUAC{
			RequestURI: "sip:alice@" + xmppDomain, From: "<sip:carol@other.example>", To: "sip:alice@" + xmppDomain,
			Body: "from a foreign SIP domain",
		}, "")
		m := s.next(t, alice)
		if m.From != `carol\40other.example@`+sipDomain || m.Body != "from a foreign SIP domain" {
			t.Errorf("alice got %+v", m)
		}
	})

	// The gateway's own refusals (INTERWORKING.md §5.4), each seen by sipp.
	refusals := []struct {
		name            string
		uac             peers.MessageUAC
		localIP         string
		header, hdValue string
	}{
		{"sips Request-URI: 480 with Warning 380", peers.MessageUAC{RequestURI: "sips:alice@" + xmppDomain, To: "sips:alice@" + xmppDomain, Expect: 480}, "", "Warning", `"SIPS Not Allowed"`},
		{"tel: URI: 416", peers.MessageUAC{RequestURI: "tel:+15551234567", To: "tel:+15551234567", Expect: 416}, "", "", ""},
		{"domain not served: 404", peers.MessageUAC{RequestURI: "sip:x@elsewhere.example", To: "sip:x@elsewhere.example", Expect: 404}, "", "", ""},
		{"unmappable user: 400", peers.MessageUAC{RequestURI: "sip:%20alice@" + xmppDomain, To: "sip:%20alice@" + xmppDomain, Expect: 400}, "", "", ""},
		{"Max-Forwards 0: 483", peers.MessageUAC{MaxForwards: "0", Expect: 483}, "", "", ""},
		{"unsupported content: 415 with Accept", peers.MessageUAC{ContentType: "application/octet-stream", Expect: 415}, "", "Accept", "text/plain"},
		{"SIP sender posing as an XMPP user: 403", peers.MessageUAC{From: "<sip:dave@" + xmppDomain + ">", Expect: 403}, "", "", ""},
		{"untrusted source: 403", peers.MessageUAC{Expect: 403}, "127.0.0.2", "", ""},
	}
	for i, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			u := r.uac
			if u.RequestURI == "" {
				u.RequestURI = "sip:alice@" + xmppDomain
			}
			if u.To == "" {
				u.To = u.RequestURI
			}
			if u.From == "" {
				u.From = "<sip:bob@" + sipDomain + ">"
			}
			u.Body = "refused"
			p := s.sendSIP(t, fmt.Sprintf("refusal-%d", i), u, r.localIP)
			res := response(t, p)
			if r.header != "" {
				h := res.GetHeader(r.header)
				if h == nil || !strings.Contains(h.Value(), r.hdValue) {
					t.Errorf("%d lacks %s containing %q: %v", res.StatusCode, r.header, r.hdValue, h)
				}
			}
		})
	}
	// Nothing refused reached alice: the next message she gets is a new one.
	s.sendSIP(t, "s2x-after", peers.MessageUAC{RequestURI: "sip:alice@" + xmppDomain,
		From: "<sip:bob@" + sipDomain + ">", To: "sip:alice@" + xmppDomain, Body: "after the refusals"}, "")
	if m := s.next(t, alice); m.Body != "after the refusals" {
		t.Errorf("alice got %+v, want only the accepted message", m)
	}
}

// TestE2EXMPPToSIP: an XMPP user's messages reach a SIP user agent (sipp as
// the outbound proxy), and every SIP failure comes back to the XMPP sender
// as the mapped stanza error with the original id (RFC 7572 §4 Table 1,
// RFC 7247 §7.2, ERR-07).
func TestE2EXMPPToSIP(t *testing.T) {
	s := newStack(t, stackOptions{txTimeout: 2 * time.Second})
	alice := s.alice
	ctx := context.Background()

	t.Run("text with non-ASCII characters, language, subject and thread", func(t *testing.T) {
		uas := s.uas(t, "x2s-text", peers.MessageUAS{Status: 200, Reason: "OK"})
		err := alice.SendMessage(ctx, "bob@"+sipDomain, "x2s-1", "de", "Grüße aus XMPP — ✓ 日本語",
			"<subject>Betreff</subject><thread>thread-42</thread>")
		if err != nil {
			t.Fatal(err)
		}
		req := received(t, uas)
		gr := alice.JID.Resourcepart()
		checks := map[string][2]string{
			"Request-URI":      {req.Recipient.String(), "sip:bob@" + sipDomain},
			"From URI":         {req.From().Address.String(), "sip:alice@" + xmppDomain + ";gr=" + gr},
			"To URI":           {req.To().Address.String(), "sip:bob@" + sipDomain},
			"Call-ID":          {req.CallID().Value(), "thread-42"},
			"Content-Language": {header(req, "Content-Language"), "de"},
			"Subject":          {header(req, "Subject"), "Betreff"},
			"Max-Forwards":     {header(req, "Max-Forwards"), "70"},
			"body":             {string(req.Body()), "Grüße aus XMPP — ✓ 日本語"},
		}
		for what, c := range checks {
			if c[0] != c[1] {
				t.Errorf("%s = %q, want %q", what, c[0], c[1])
			}
		}
		if ct := header(req, "Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "text/plain") || !strings.Contains(strings.ToLower(ct), "utf-8") {
			t.Errorf("Content-Type %q", ct)
		}
		if req.Contact() != nil {
			t.Error("MESSAGE carries a Contact (MSG-08)")
		}
		// A 200 sends nothing back to the XMPP user (RFC 7572 §4).
		uas.Stop()
	})

	t.Run("reply to a foreign SIP user (gateway-subdomain mode)", func(t *testing.T) {
		uas := s.uas(t, "x2s-foreign", peers.MessageUAS{Status: 202, Reason: "Accepted"})
		if err := alice.SendMessage(ctx, `carol\40other.example@`+sipDomain, "x2s-2", "", "back to carol", ""); err != nil {
			t.Fatal(err)
		}
		req := received(t, uas)
		if got := req.Recipient.String(); got != "sip:carol@other.example" {
			t.Errorf("Request-URI %q, want sip:carol@other.example", got)
		}
		uas.Stop()
	})

	// SIP failures → stanza errors (RFC 7247 §7.2 Table 3, digest §5.2).
	failures := []struct {
		name    string
		uas     peers.MessageUAS
		cond    string
		errType string
	}{
		{"404 Not Found", peers.MessageUAS{Status: 404, Reason: "Not Found"}, "item-not-found", "cancel"},
		{"486 Busy Here", peers.MessageUAS{Status: 486, Reason: "Busy Here"}, "recipient-unavailable", "wait"},
		{"503 with Retry-After", peers.MessageUAS{Status: 503, Reason: "Service Unavailable", Headers: []string{"Retry-After: 60"}}, "internal-server-error", "wait"},
		{"no answer at all", peers.MessageUAS{Status: 0, SilenceMS: 10000}, "remote-server-timeout", "wait"},
	}
	for i, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			uas := s.uas(t, fmt.Sprintf("x2s-fail-%d", i), f.uas)
			id := fmt.Sprintf("fail-%d", i)
			if err := alice.SendMessage(ctx, "bob@"+sipDomain, id, "", "will fail", ""); err != nil {
				t.Fatal(err)
			}
			m := s.next(t, alice)
			if m.Type != "error" || m.ID != id || m.ErrorCondition != f.cond || m.ErrorType != f.errType || m.From != "bob@"+sipDomain {
				t.Errorf("alice got %+v, want %s/%s error with id %s from bob", m, f.errType, f.cond, id)
			}
			received(t, uas) // the MESSAGE did reach the SIP side
			uas.Stop()
		})
	}

	t.Run("unmappable address: jid-malformed", func(t *testing.T) {
		// A Mode B localpart naming an XMPP domain has no SIP form.
		if err := alice.SendMessage(ctx, `dave\40`+xmppDomain+`@`+sipDomain, "bad-1", "", "x", ""); err != nil {
			t.Fatal(err)
		}
		m := s.next(t, alice)
		if m.Type != "error" || m.ID != "bad-1" || m.ErrorCondition != "jid-malformed" || m.ErrorType != "modify" {
			t.Errorf("alice got %+v", m)
		}
	})

	t.Run("groupchat to a SIP user: service-unavailable", func(t *testing.T) {
		if err := alice.SendRaw(ctx, `<message to='bob@`+sipDomain+`' id='gc-1' type='groupchat'><body>x</body></message>`); err != nil {
			t.Fatal(err)
		}
		m := s.next(t, alice)
		if m.Type != "error" || m.ID != "gc-1" || m.ErrorCondition != "service-unavailable" {
			t.Errorf("alice got %+v", m)
		}
	})

	t.Run("over 1300 bytes goes over TCP", func(t *testing.T) {
		xmlText, err := peers.MessageUAS{Status: 200, Reason: "OK"}.Render()
		if err != nil {
			t.Fatal(err)
		}
		tcp, err := peers.StartSIPp(peers.SIPpOptions{Dir: s.dir, Name: "x2s-tcp", Scenario: xmlText,
			LocalPort: s.uasPort, TCP: true, TraceMsg: true, Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		defer tcp.Stop()
		big := strings.Repeat("Ünïcode text that makes the MESSAGE large. ", 40)
		if err := alice.SendMessage(ctx, "bob@"+sipDomain, "big-1", "", big, ""); err != nil {
			t.Fatal(err)
		}
		req := received(t, tcp)
		if string(req.Body()) != big {
			t.Errorf("body of %d bytes arrived as %d bytes", len(big), len(req.Body()))
		}
		if via := req.Via(); via == nil || via.Transport != "TCP" {
			t.Errorf("Via %v, want TCP (RFC 3261 §18.1.1)", via)
		}
	})
}

// TestE2EProsodyRestart: while Prosody is down, SIP MESSAGEs and a
// presence SUBSCRIBE are answered 503 with Retry-After and none gets a 2xx; once Prosody is back the
// component reconnects within the backoff bound and traffic flows.
func TestE2EProsodyRestart(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.prosody.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.comp.WaitDown(ctx); err != nil {
		t.Fatal("component did not notice Prosody stopping")
	}
	uac := peers.MessageUAC{RequestURI: "sip:alice@" + xmppDomain, From: "<sip:bob@" + sipDomain + ">",
		To: "sip:alice@" + xmppDomain, Body: "while Prosody is down", Expect: 503}
	xmlText, err := uac.Render()
	if err != nil {
		t.Fatal(err)
	}
	p, err := peers.StartSIPp(peers.SIPpOptions{Dir: s.dir, Name: "down", Scenario: xmlText,
		Remote: s.sipAddr, Calls: 3, TraceMsg: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	// Exit 0 means all three got 503: a 202 would be an unexpected message.
	if code, err := p.Wait(ctx); err != nil || code != 0 {
		t.Fatalf("sipp: exit %d %v: %s", code, err, p.Errors())
	}
	if ra := response(t, p).GetHeader("Retry-After"); ra == nil {
		t.Error("503 without Retry-After (CMP-08)")
	}
	// A SIP watcher's SUBSCRIBE gets the same answer: the gateway cannot
	// ask alice, so it does not accept a subscription she never hears of.
	subXML, err := peers.SubscribeUAC{RequestURI: "sip:alice@" + xmppDomain, From: "<sip:carol@" + sipDomain + ">",
		Expect: 503}.Render()
	if err != nil {
		t.Fatal(err)
	}
	ps, err := peers.StartSIPp(peers.SIPpOptions{Dir: s.dir, Name: "down-sub", Scenario: subXML,
		Remote: s.sipAddr, Calls: 1, TraceMsg: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := ps.Wait(ctx); err != nil || code != 0 {
		t.Fatalf("sipp SUBSCRIBE: exit %d %v: %s", code, err, ps.Errors())
	}
	if ra := response(t, ps).GetHeader("Retry-After"); ra == nil {
		t.Error("503 to SUBSCRIBE without Retry-After")
	}

	restarted := time.Now()
	if err := s.prosody.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.comp.WaitUp(ctx); err != nil {
		t.Fatal("component did not reconnect")
	}
	// ReconnectMax is 1s in this stack: the link is back within one backoff
	// period plus the handshake.
	if took := time.Since(restarted); took > 5*time.Second {
		t.Errorf("reconnect took %v", took)
	}
	t.Logf("component back %v after Prosody restarted", time.Since(restarted).Round(time.Millisecond))
	alice := s.login(ctx)
	s.sendSIP(t, "after-restart", peers.MessageUAC{RequestURI: "sip:alice@" + xmppDomain,
		From: "<sip:bob@" + sipDomain + ">", To: "sip:alice@" + xmppDomain, Body: "after the restart"}, "")
	if m := s.next(t, alice); m.Body != "after the restart" {
		t.Errorf("alice got %+v", m)
	}
}

// TestE2EForeignRejected: with routes.foreign_sip: reject, senders from
// other SIP domains are refused with 403 and nothing reaches XMPP.
func TestE2EForeignRejected(t *testing.T) {
	s := newStack(t, stackOptions{foreign: "reject"})
	s.sendSIP(t, "foreign-rejected", peers.MessageUAC{RequestURI: "sip:alice@" + xmppDomain,
		From: "<sip:carol@other.example>", To: "sip:alice@" + xmppDomain, Body: "x", Expect: 403}, "")
	s.sendSIP(t, "same-domain-accepted", peers.MessageUAC{RequestURI: "sip:alice@" + xmppDomain,
		From: "<sip:bob@" + sipDomain + ">", To: "sip:alice@" + xmppDomain, Body: "from bob"}, "")
	if m := s.next(t, s.alice); m.Body != "from bob" {
		t.Errorf("alice got %+v", m)
	}
}
