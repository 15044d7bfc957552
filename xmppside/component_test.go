package xmppside

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cpimgw/cpim"
	"cpimgw/mapping"
)

const (
	testDomain = "sip.example.test"
	testSecret = "s3cret"
)

// recorder is a Handler that records messages and answers with err; when
// block is set it waits for release before answering.
type recorder struct {
	mu      sync.Mutex
	msgs    []cpim.Message
	err     error
	block   chan struct{}
	arrived chan cpim.Message
}

func newRecorder() *recorder { return &recorder{arrived: make(chan cpim.Message, 64)} }

func (r *recorder) Message(ctx context.Context, m cpim.Message) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	err, block := r.err, r.block
	r.mu.Unlock()
	r.arrived <- m
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (r *recorder) next(t *testing.T) cpim.Message {
	t.Helper()
	select {
	case m := <-r.arrived:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("handler got no message")
		return cpim.Message{}
	}
}

func testMapper(t *testing.T) *mapping.Mapper {
	t.Helper()
	m, err := mapping.NewMapper(mapping.Domains{
		Component: testDomain,
		XMPP:      []string{"xmpp.example.test"},
		SIP:       []string{testDomain},
		Foreign:   mapping.ForeignEscape,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// startComponent runs a component against fake and stops it at cleanup.
func startComponent(t *testing.T, fake *fakeServer, h Handler, tweak func(*Config)) *Component {
	t.Helper()
	cfg := Config{
		Domain: testDomain, Secret: testSecret, Dial: fake.dial,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		HandshakeTimeout: 2 * time.Second, PingInterval: -1, DrainTimeout: time.Second,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := New(cfg, testMapper(t), h, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return c
}

func waitUp(t *testing.T, c *Component) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitUp(ctx); err != nil {
		t.Fatalf("component not up: %v", err)
	}
}

// TestHandshakeVector checks the XEP-0114 §3 handshake against the spec's
// test vector (CMP-02): SHA-1 of stream id ‖ secret in lower-case hex.
func TestHandshakeVector(t *testing.T) {
	sum := sha1.Sum([]byte("3BF96D32" + "test"))
	if got := hex.EncodeToString(sum[:]); got != "aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e" {
		t.Fatalf("vector: %s", got)
	}
	fake := newFakeServer(t, testDomain, "test")
	c := startComponent(t, fake, newRecorder(), func(cfg *Config) { cfg.Secret = "test" })
	conn := fake.next(t)
	waitUp(t, c)
	if conn.handshake != "aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e" {
		t.Errorf("component sent handshake %q", conn.handshake)
	}
}

// TestHandshakeRejected: a wrong secret is a stream error (CMP-03); the
// component never counts as up and keeps retrying with backoff.
func TestHandshakeRejected(t *testing.T) {
	fake := newFakeServer(t, testDomain, "other-secret")
	c := startComponent(t, fake, newRecorder(), nil)
	fake.waitDials(t, 3)
	if c.Up() {
		t.Fatal("component up with a rejected secret")
	}
	// Fixing the server side lets the next attempt through.
	fake.mu.Lock()
	fake.secret = testSecret
	fake.mu.Unlock()
	fake.next(t)
	waitUp(t, c)
}

// TestHandshakeTimeout: a server that accepts the connection but never
// answers is abandoned after HandshakeTimeout (mellium alone would wait
// forever) and retried.
func TestHandshakeTimeout(t *testing.T) {
	fake := newFakeServer(t, testDomain, testSecret)
	fake.setMode("silent")
	c := startComponent(t, fake, newRecorder(), func(cfg *Config) { cfg.HandshakeTimeout = 100 * time.Millisecond })
	fake.waitDials(t, 2)
	fake.setMode("ok")
	fake.next(t)
	waitUp(t, c)
}

// TestReconnect: when the server drops the link the component goes down
// (senders get 503 + retry), then reconnects.
func TestReconnect(t *testing.T) {
	fake := newFakeServer(t, testDomain, testSecret)
	c := startComponent(t, fake, newRecorder(), nil)
	first := fake.next(t)
	waitUp(t, c)
	first.conn.Close()
	second := fake.next(t)
	waitUp(t, c)
	if second == first {
		t.Fatal("same connection")
	}
	// The new link carries traffic.
	second.expectNone(t, testDomain)
}

func TestSendMessageWhileDown(t *testing.T) {
	fake := newFakeServer(t, testDomain, testSecret)
	fake.setMode("reject")
	c := startComponent(t, fake, newRecorder(), func(cfg *Config) { cfg.RetryAfter = 7 * time.Second })
	err := c.SendMessage(context.Background(), cpim.Message{
		From:   cpim.Address{Local: "bob", Domain: testDomain},
		To:     cpim.Address{Local: "alice", Domain: "xmpp.example.test"},
		Bodies: []cpim.Text{{Text: "hi"}},
	})
	var e *cpim.Error
	if !errors.As(err, &e) || e.Status != 503 || e.RetryAfter != 7*time.Second {
		t.Fatalf("got %v, want a 503 with Retry-After 7s", err)
	}
}

// TestBadStanzasKeepStream: stanzas the gateway cannot use get stanza
// errors and the stream stays up for everyone (no handler error reaches
// mellium; LIBRARY-NOTES.md §2.3).
func TestBadStanzasKeepStream(t *testing.T) {
	fake := newFakeServer(t, testDomain, testSecret)
	rec := newRecorder()
	c := startComponent(t, fake, rec, nil)
	conn := fake.next(t)
	waitUp(t, c)

	cases := []struct {
		name, in, wantCond, wantType string
	}{
		{"to fails PRECIS", `<message from='alice@xmpp.example.test/a' to='a b@sip.example.test' id='e1' type='chat'><body>x</body></message>`, "jid-malformed", "modify"},
		{"unknown IQ", `<iq from='alice@xmpp.example.test/a' to='sip.example.test' id='e2' type='get'><query xmlns='urn:example:nothing'/></iq>`, "service-unavailable", "cancel"},
		{"IQ with bad from", `<iq from='a b@bad' to='sip.example.test' id='e3' type='set'><query xmlns='urn:example:nothing'/></iq>`, "service-unavailable", "cancel"},
		{"groupchat to a SIP user", `<message from='alice@xmpp.example.test/a' to='bob@sip.example.test' id='e4' type='groupchat'><body>x</body></message>`, "service-unavailable", "cancel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn.write(tc.in)
			s := conn.expect(t)
			if s.Attr["type"] != "error" || !strings.Contains(s.Inner, "<"+tc.wantCond) || !strings.Contains(s.Inner, `type="`+tc.wantType+`"`) {
				t.Fatalf("got %s %v %s, want %s/%s", s.Name, s.Attr, s.Inner, tc.wantType, tc.wantCond)
			}
			if id := s.Attr["id"]; !strings.HasPrefix(id, "e") {
				t.Errorf("id not mirrored: %q", id)
			}
			if s.Attr["from"] == "" || !strings.HasSuffix(s.Attr["from"], testDomain) {
				t.Errorf("from %q not in the component domain (CMP-04)", s.Attr["from"])
			}
		})
	}
	// Stanzas that must not be answered: an error message (ERR-08), a
	// message without a body, a message with an unparsable sender, a
	// comment-free unknown element, presence.
	for _, in := range []string{
		`<message from='alice@xmpp.example.test/a' to='bob@sip.example.test' id='n1' type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`,
		`<message from='alice@xmpp.example.test/a' to='bob@sip.example.test' id='n2' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`,
		`<message from='x y@bad' to='bob@sip.example.test' id='n3'><body>x</body></message>`,
		`<presence from='alice@xmpp.example.test/a' to='bob@sip.example.test'/>`,
		`<unknown xmlns='urn:example'/>`,
	} {
		conn.write(in)
	}
	conn.expectNone(t, testDomain)
	if !c.Up() {
		t.Fatal("stream went down")
	}
	if len(rec.msgs) != 0 {
		t.Errorf("handler got %d messages", len(rec.msgs))
	}
}

// TestMessageToHandler: a message for a SIP user reaches the handler as a
// cpim.Message; the handler's error comes back as a stanza error with the
// original id (ERR-07), from the SIP user's JID, to the sender.
func TestMessageToHandler(t *testing.T) {
	fake := newFakeServer(t, testDomain, testSecret)
	rec := newRecorder()
	rec.err = mapping.ErrorFromSIP(486, "Busy Here", 0, "")
	c := startComponent(t, fake, rec, nil)
	conn := fake.next(t)
	waitUp(t, c)

	conn.write(`<message from='alice@xmpp.example.test/phone' to='bob@sip.example.test' id='m1' type='chat' xml:lang='de'><body>Grüße</body><thread>t-1</thread></message>`)
	m := rec.next(t)
	if m.From != (cpim.Address{Local: "alice", Domain: "xmpp.example.test", Resource: "phone"}) ||
		m.To.Local != "bob" || m.To.Domain != testDomain || m.ID != "m1" || m.Thread != "t-1" || m.Lang != "de" ||
		len(m.Bodies) != 1 || m.Bodies[0].Text != "Grüße" {
		t.Fatalf("handler got %+v", m)
	}
	s := conn.expect(t)
	if s.Name != "message" || s.Attr["type"] != "error" || s.Attr["id"] != "m1" ||
		s.Attr["from"] != "bob@sip.example.test" || s.Attr["to"] != "alice@xmpp.example.test/phone" {
		t.Fatalf("error reply %v", s.Attr)
	}
	if !strings.Contains(s.Inner, "<recipient-unavailable") || !strings.Contains(s.Inner, `type="wait"`) || !strings.Contains(s.Inner, "Busy Here") {
		t.Fatalf("error reply %s", s.Inner)
	}
}

// TestOrderPerConversation: one conversation's messages reach the handler
// in the order they were sent.
func TestOrderPerConversation(t *testing.T) {
	fake := newFakeServer(t, testDomain, testSecret)
	rec := newRecorder()
	c := startComponent(t, fake, rec, func(cfg *Config) { cfg.Workers = 4 })
	conn := fake.next(t)
	waitUp(t, c)
	const n = 50
	for i := range n {
		conn.write(fmt.Sprintf(`<message from='alice@xmpp.example.test/a' to='bob@sip.example.test' id='o%d'><body>%d</body></message>`, i, i))
	}
	for i := range n {
		if m := rec.next(t); m.ID != fmt.Sprintf("o%d", i) {
			t.Fatalf("message %d arrived as %s", i, m.ID)
		}
	}
}

// TestQueueFull: with the worker busy and its queue full, a further
// message is answered wait/resource-constraint at once, never dropped.
func TestQueueFull(t *testing.T) {
	fake := newFakeServer(t, testDomain, testSecret)
	rec := newRecorder()
	rec.block = make(chan struct{})
	c := startComponent(t, fake, rec, func(cfg *Config) { cfg.Workers = 1; cfg.QueueDepth = 1 })
	conn := fake.next(t)
	waitUp(t, c)
	msg := func(id string) string {
		return fmt.Sprintf(`<message from='alice@xmpp.example.test/a' to='bob@sip.example.test' id='%s'><body>x</body></message>`, id)
	}
	conn.write(msg("q1"))
	rec.next(t) // q1 is with the worker
	conn.write(msg("q2"))
	conn.write(msg("q3"))
	s := conn.expect(t)
	if s.Attr["id"] != "q3" || !strings.Contains(s.Inner, "<resource-constraint") || !strings.Contains(s.Inner, `type="wait"`) {
		t.Fatalf("got %v %s", s.Attr, s.Inner)
	}
	close(rec.block)
	if m := rec.next(t); m.ID != "q2" {
		t.Fatalf("queued message %s", m.ID)
	}
}

// TestDisco: the component domain and its users answer disco#info with
// identity gateway/simple and the implemented features (XEP-0030, CMP-06).
func TestDisco(t *testing.T) {
	fake := newFakeServer(t, testDomain, testSecret)
	c := startComponent(t, fake, newRecorder(), nil)
	conn := fake.next(t)
	waitUp(t, c)
	for _, to := range []string{testDomain, "bob@" + testDomain} {
		conn.write(fmt.Sprintf(`<iq type='get' from='alice@xmpp.example.test/a' to='%s' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, to))
		s := conn.expect(t)
		if s.Attr["type"] != "result" || s.Attr["from"] != to || s.Attr["to"] != "alice@xmpp.example.test/a" || s.Attr["id"] != "d1" {
			t.Fatalf("reply %v", s.Attr)
		}
		for _, want := range []string{`category="gateway"`, `type="simple"`, `var="http://jabber.org/protocol/disco#info"`, `var="urn:xmpp:ping"`} {
			if !strings.Contains(s.Inner, want) {
				t.Errorf("disco to %s lacks %s: %s", to, want, s.Inner)
			}
		}
	}
	conn.write(`<iq type='get' from='alice@xmpp.example.test/a' to='sip.example.test' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if s := conn.expect(t); s.Attr["type"] != "result" || s.Attr["id"] != "p1" {
		t.Fatalf("ping reply %v", s.Attr)
	}
}

// TestDeadPeer: a server that stops answering pings is dropped after
// PingTimeout and the component reconnects.
func TestDeadPeer(t *testing.T) {
	fake := newFakeServer(t, testDomain, testSecret)
	c := startComponent(t, fake, newRecorder(), func(cfg *Config) {
		cfg.PingInterval = 20 * time.Millisecond
		cfg.PingTimeout = 50 * time.Millisecond
	})
	first := fake.next(t)
	first.ignorePings.Store(true)
	waitUp(t, c)
	select {
	case <-first.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("dead peer not detected")
	}
	fake.next(t)
	waitUp(t, c)
}

// TestShutdownDrains: at shutdown, a queued message is still handed to
// the handler or answered with an error; the stream is closed politely.
func TestShutdownDrains(t *testing.T) {
	fake := newFakeServer(t, testDomain, testSecret)
	rec := newRecorder()
	rec.block = make(chan struct{})
	cfg := Config{Domain: testDomain, Secret: testSecret, Dial: fake.dial, PingInterval: -1,
		Workers: 1, QueueDepth: 4, DrainTimeout: 100 * time.Millisecond}
	c, err := New(cfg, testMapper(t), rec, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	conn := fake.next(t)
	waitUp(t, c)
	conn.write(`<message from='alice@xmpp.example.test/a' to='bob@sip.example.test' id='s1'><body>x</body></message>`)
	rec.next(t)
	conn.write(`<message from='alice@xmpp.example.test/a' to='bob@sip.example.test' id='s2'><body>y</body></message>`)
	conn.expectNone(t, testDomain) // s2 is queued
	cancel()
	// The drain deadline passes with s1 still blocked: s1's handler sees a
	// cancelled context, s2 is answered without reaching the handler.
	got := map[string]string{}
	for range 2 {
		s := conn.expect(t)
		got[s.Attr["id"]] = s.Inner
	}
	for _, id := range []string{"s1", "s2"} {
		if !strings.Contains(got[id], "error") {
			t.Errorf("%s not answered with an error: %q", id, got[id])
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case <-conn.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("stream not closed")
	}
}

func TestBackoff(t *testing.T) {
	min, max := 500*time.Millisecond, 30*time.Second
	for n := range 20 {
		for range 100 {
			d := backoff(min, max, n)
			ceil := min << min64(n, 10)
			if ceil > max {
				ceil = max
			}
			if d < min || d > ceil {
				t.Fatalf("attempt %d: %v outside [%v, %v]", n, d, min, ceil)
			}
		}
	}
}

func min64(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// TestSendMessageOnlyFromDomain: the component never emits a stanza from
// outside its domain (XEP-0114 §3, CMP-04), whatever the caller passes.
func TestSendMessageOnlyFromDomain(t *testing.T) {
	fake := newFakeServer(t, testDomain, testSecret)
	c := startComponent(t, fake, newRecorder(), nil)
	conn := fake.next(t)
	waitUp(t, c)
	err := c.SendMessage(context.Background(), cpim.Message{
		From:   cpim.Address{Local: "eve", Domain: "xmpp.example.test"},
		To:     cpim.Address{Local: "alice", Domain: "xmpp.example.test"},
		Bodies: []cpim.Text{{Text: "spoofed"}},
	})
	if cpim.ConditionOf(err) != cpim.Forbidden {
		t.Fatalf("got %v, want forbidden", err)
	}
	if err := c.SendMessage(context.Background(), cpim.Message{
		From:   cpim.Address{Local: "bob", Domain: testDomain},
		To:     cpim.Address{Local: "alice", Domain: "xmpp.example.test"},
		Bodies: []cpim.Text{{Text: "hello"}},
	}); err != nil {
		t.Fatal(err)
	}
	s := conn.expect(t)
	if s.Attr["from"] != "bob@"+testDomain || !strings.Contains(s.Inner, "hello") {
		t.Fatalf("sent %v %s", s.Attr, s.Inner)
	}
}

func TestNewNormalisesDomain(t *testing.T) {
	c, err := New(Config{Domain: "SIP.Example.TEST.", Server: "127.0.0.1:1", Secret: "x"}, testMapper(t), newRecorder(), nil)
	if err != nil || c.Domain() != testDomain {
		t.Fatalf("domain %q, err %v", c.Domain(), err)
	}
	if _, err := New(Config{Domain: "user@sip.example.test", Server: "127.0.0.1:1"}, testMapper(t), newRecorder(), nil); err == nil {
		t.Fatal("a user JID was accepted as the component domain")
	}
}

// TestSendWithCancelledContexts: senders that cancel their context right
// after a send (the SIP side does after its 202) never break a later send.
// mellium's Send arms a goroutine that sets the write deadline into the
// past when the context ends, even after Send returned; found by the
// end-to-end benchmark, which lost the link every few hundred messages.
func TestSendWithCancelledContexts(t *testing.T) {
	fake := newFakeServer(t, testDomain, testSecret)
	c := startComponent(t, fake, newRecorder(), nil)
	conn := fake.next(t)
	waitUp(t, c)
	const senders, each = 4, 500
	got := make(chan struct{})
	go func() {
		defer close(got)
		for range senders * each {
			select {
			case <-conn.stanzas:
			case <-time.After(10 * time.Second):
				return
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, senders*each)
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ctx, cancel := context.WithCancel(context.Background())
				err := c.SendMessage(ctx, cpim.Message{
					From:   cpim.Address{Local: "bob", Domain: testDomain},
					To:     cpim.Address{Local: "alice", Domain: "xmpp.example.test"},
					Bodies: []cpim.Text{{Text: fmt.Sprint("m", i)}},
				})
				cancel()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("send failed: %v", err)
	}
	<-got
	if !c.Up() || fake.dialCount() != 1 {
		t.Fatalf("the link was torn down (dials: %d)", fake.dialCount())
	}
}

// TestSendMessageBounded: when MaxPending messages already wait for the
// stream, another is refused at once with a retry time rather than
// queued without bound (found by the end-to-end benchmark).
func TestSendMessageBounded(t *testing.T) {
	fake := newFakeServer(t, testDomain, testSecret)
	c := startComponent(t, fake, newRecorder(), func(cfg *Config) { cfg.MaxPending = 1 })
	conn := fake.next(t)
	waitUp(t, c)
	c.pending <- struct{}{} // one message waits for the stream
	m := cpim.Message{From: cpim.Address{Local: "bob", Domain: testDomain},
		To: cpim.Address{Local: "alice", Domain: "xmpp.example.test"}, Bodies: []cpim.Text{{Text: "x"}}}
	var e *cpim.Error
	if err := c.SendMessage(context.Background(), m); !errors.As(err, &e) || e.Status != 503 || e.RetryAfter <= 0 {
		t.Fatalf("got %v, want 503 with a retry time", err)
	}
	<-c.pending
	if err := c.SendMessage(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	conn.expect(t)
}
