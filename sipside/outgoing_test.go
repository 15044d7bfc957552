package sipside

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"cpimgw/cpim"
	"cpimgw/mapping"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
)

// outMessage is an XMPP user's message to a SIP user.
func outMessage() cpim.Message {
	return cpim.Message{
		From:     cpim.Address{Local: "juliet", Domain: "xmpp.example", Resource: "balcony"},
		To:       cpim.Address{Local: "romeo", Domain: "sip.example"},
		ID:       "m1",
		Type:     cpim.Chat,
		Thread:   "thread-1",
		Lang:     "en",
		Bodies:   []cpim.Text{{Text: "Art thou not Romeo?"}},
		Subjects: []cpim.Text{{Text: "Balcony"}},
	}
}

// answer returns a response to req with the given status and headers.
func answer(req *sip.Request, status int, reason string, hs ...sip.Header) *sip.Response {
	res := sip.NewResponseFromRequest(req, status, reason, nil)
	for _, h := range hs {
		res.AppendHeader(h)
	}
	return res
}

// stubbed returns an endpoint whose client answers through respond without
// a network (siptest.ClientTxRequester), and the requests it saw.
func stubbed(t *testing.T, cfg Config, respond func(*sip.Request) *sip.Response) (*Endpoint, func() []*sip.Request) {
	t.Helper()
	e, _ := newTestEndpoint(t, cfg, &recorder{})
	var mu sync.Mutex
	var seen []*sip.Request
	e.cli.TxRequester = &siptest.ClientTxRequester{OnRequest: func(req *sip.Request) *sip.Response {
		mu.Lock()
		seen = append(seen, req.Clone())
		mu.Unlock()
		return respond(req)
	}}
	return e, func() []*sip.Request {
		mu.Lock()
		defer mu.Unlock()
		return append([]*sip.Request(nil), seen...)
	}
}

// TestOutgoingRequest checks the MESSAGE the gateway builds (RFC 7572 §4
// Table 1, RFC 3428 §4; ADR-17, MSG-08, MSG-27).
func TestOutgoingRequest(t *testing.T) {
	e, seen := stubbed(t, Config{OutboundProxy: "sip:127.0.0.1:5070", UserAgent: "cpimgw/test"},
		func(req *sip.Request) *sip.Response { return answer(req, 202, "Accepted") })
	ctx := context.Background()
	for range 2 {
		if err := e.SendMessage(ctx, outMessage()); err != nil {
			t.Fatalf("SendMessage: %v", err)
		}
	}
	m := outMessage()
	m.Thread = ""
	if err := e.SendMessage(ctx, m); err != nil {
		t.Fatalf("SendMessage without thread: %v", err)
	}
	reqs := seen()
	if len(reqs) != 3 {
		t.Fatalf("sent %d requests, want 3", len(reqs))
	}
	r := reqs[0]
	h := headerMap(r)
	if r.Method != sip.MESSAGE || r.Recipient.String() != "sip:romeo@sip.example" {
		t.Errorf("request line %q", r.StartLine())
	}
	want := map[string]string{
		"to":               "<sip:romeo@sip.example>",
		"call-id":          "thread-1",
		"cseq":             "1 MESSAGE",
		"max-forwards":     "70",
		"route":            "<sip:127.0.0.1:5070;lr>",
		"user-agent":       "cpimgw/test",
		"subject":          "Balcony",
		"content-type":     "text/plain;charset=UTF-8",
		"content-language": "en",
		"content-length":   "19",
	}
	for k, v := range want {
		if h[k] != v {
			t.Errorf("%s: %q, want %q", k, h[k], v)
		}
	}
	if got := r.From().Address.String(); got != "sip:juliet@xmpp.example;gr=balcony" {
		t.Errorf("From URI %q, want the bare JID with gr=resource (ADR-17)", got)
	}
	if tag, _ := r.From().Params.Get("tag"); len(tag) < 8 {
		t.Errorf("From tag %q", tag)
	}
	if _, ok := h["contact"]; ok {
		t.Errorf("MESSAGE carries Contact %q (MSG-08)", h["contact"])
	}
	if v := r.Via(); v == nil || v.Transport != "UDP" || !strings.HasPrefix(mustParam(v.Params, "branch"), "z9hG4bK") {
		t.Errorf("Via %v", v)
	}
	if string(r.Body()) != "Art thou not Romeo?" {
		t.Errorf("body %q", r.Body())
	}
	// MSG-27: CSeq strictly increases for a reused Call-ID; every request
	// is a fresh transaction.
	if got := reqs[1].CSeq().SeqNo; got != 2 || reqs[1].CallID().Value() != "thread-1" {
		t.Errorf("second request: Call-ID %q CSeq %d, want thread-1 2", reqs[1].CallID().Value(), got)
	}
	if mustParam(reqs[0].Via().Params, "branch") == mustParam(reqs[1].Via().Params, "branch") {
		t.Error("two requests share a branch")
	}
	if tag := func(r *sip.Request) string { v, _ := r.From().Params.Get("tag"); return v }; tag(reqs[0]) == tag(reqs[1]) {
		t.Error("two requests share a From tag")
	}
	if c := reqs[2].CallID().Value(); c == "" || c == "thread-1" || !isWord(c) {
		t.Errorf("Call-ID without thread %q, want a fresh one", c)
	}
}

func mustParam(p sip.HeaderParams, k string) string {
	v, _ := p.Get(k)
	return v
}

// TestSanitise checks that hostile XMPP-derived strings cannot add or
// break headers (LIBRARY-NOTES §1.8): the request is serialised and parsed
// again, as the peer would.
func TestSanitise(t *testing.T) {
	tests := map[string]struct {
		in      mapping.SIPMessage
		headers map[string]string // expected after re-parsing; "" = absent
		name    string            // expected From display name after unquoting
	}{
		"CRLF in Subject": {
			in:      mapping.SIPMessage{Subject: "hi\r\nX-Injected: 1"},
			headers: map[string]string{"subject": "hi X-Injected: 1", "x-injected": ""},
		},
		"bare LF and NUL in Subject": {
			in:      mapping.SIPMessage{Subject: "a\nX-Injected: 1\x00b"},
			headers: map[string]string{"subject": "a X-Injected: 1 b", "x-injected": ""},
		},
		"CRLF CRLF ends the headers early": {
			in:      mapping.SIPMessage{Subject: "x\r\n\r\nINVITE sip:a@b SIP/2.0"},
			headers: map[string]string{"subject": "x INVITE sip:a@b SIP/2.0"},
		},
		"CRLF in Content-Language and Content-Type": {
			in: mapping.SIPMessage{ContentLanguage: "en\r\nX-Injected: 1", ContentType: "text/plain\r\nX-Other: 2"},
			headers: map[string]string{"content-language": "en X-Injected: 1", "content-type": "text/plain X-Other: 2",
				"x-injected": "", "x-other": ""},
		},
		"invalid UTF-8 in Subject": {
			in:      mapping.SIPMessage{Subject: "caf\xe9"},
			headers: map[string]string{"subject": "caf\uFFFD"},
		},
		"quote and backslash in the display name": {
			in:   mapping.SIPMessage{FromName: `Eve "the" \ Hacker`},
			name: `Eve "the" \ Hacker`,
		},
		"quote that would end the display name": {
			in:   mapping.SIPMessage{FromName: `x" <sip:evil@attacker.example>;tag=1, "`},
			name: `x" <sip:evil@attacker.example>;tag=1, "`,
		},
		"CRLF in the display name drops it": {
			in:      mapping.SIPMessage{FromName: "Eve\r\nX-Injected: 1"},
			headers: map[string]string{"x-injected": ""},
			name:    "",
		},
		"display name width-mapped by PRECIS Nickname": {
			in:   mapping.SIPMessage{FromName: "  Ｊｕｌｉｅｔ  "},
			name: "Juliet",
		},
	}
	e, _ := newTestEndpoint(t, Config{}, &recorder{})
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := tc.in
			s.RequestURI, s.To, s.From = "sip:romeo@sip.example", "sip:romeo@sip.example", "sip:juliet@xmpp.example;gr=balcony"
			s.Body = []byte("body")
			req, _, err := e.buildRequest(s)
			if err != nil {
				t.Fatal(err)
			}
			wire := req.String()
			m, err := sip.ParseMessage([]byte(wire))
			if err != nil {
				t.Fatalf("peer cannot parse %q: %v", wire, err)
			}
			got := m.(*sip.Request)
			h := headerMap(got)
			for k, v := range tc.headers {
				if h[k] != v {
					t.Errorf("%s: %q, want %q\n%s", k, h[k], v, wire)
				}
			}
			if string(got.Body()) != "body" {
				t.Errorf("body %q\n%s", got.Body(), wire)
			}
			if n := unquoteDisplayName(got.From().DisplayName); n != tc.name {
				t.Errorf("display name %q, want %q\n%s", n, tc.name, wire)
			}
			if u := got.From().Address.String(); u != "sip:juliet@xmpp.example;gr=balcony" {
				t.Errorf("From URI %q\n%s", u, wire)
			}
			if len(got.Headers()) != len(req.Headers()) {
				t.Errorf("%d headers sent, %d parsed\n%s", len(req.Headers()), len(got.Headers()), wire)
			}
		})
	}
}

// TestOutgoingResult checks the mapping of final responses (RFC 7247 §7.2
// Table 3) and of transactions without one.
func TestOutgoingResult(t *testing.T) {
	tests := map[string]struct {
		status int
		reason string
		hs     []sip.Header
		want   *cpim.Error // nil: success
	}{
		"200": {200, "OK", nil, nil},
		"202": {202, "Accepted", nil, nil},
		"404": {404, "Not Found", nil, &cpim.Error{Condition: cpim.ItemNotFound, Status: 404, Text: "Not Found"}},
		"486": {486, "Busy Here", nil, &cpim.Error{Condition: cpim.RecipientUnavailable, Status: 486, Text: "Busy Here"}},
		"503 + Retry-After": {503, "Service Unavailable", []sip.Header{sip.NewHeader("Retry-After", "120 (maintenance);duration=60")},
			&cpim.Error{Condition: cpim.InternalServerError, Status: 503, Text: "Service Unavailable", RetryAfter: 120 * time.Second}},
		"301 + Contact": {301, "Moved Permanently", []sip.Header{&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "romeo", Host: "verona.example"}}},
			&cpim.Error{Condition: cpim.Gone, Status: 301, Text: "Moved Permanently", Alternate: "sip:romeo@verona.example"}},
		"410": {410, "Gone", nil, &cpim.Error{Condition: cpim.Gone, Status: 410, Text: "Gone"}},
		"603": {603, "Decline", nil, &cpim.Error{Condition: cpim.RecipientUnavailable, Status: 603, Text: "Decline"}},
		"401 without credentials": {401, "Unauthorized", []sip.Header{sip.NewHeader("WWW-Authenticate", `Digest realm="sip.example", nonce="n1"`)},
			&cpim.Error{Condition: cpim.NotAuthorized, Status: 401, Text: "Unauthorized"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e, _ := stubbed(t, Config{}, func(req *sip.Request) *sip.Response {
				return answer(req, tc.status, tc.reason, tc.hs...)
			})
			err := e.SendMessage(context.Background(), outMessage())
			if tc.want == nil {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			var ce *cpim.Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *cpim.Error", err)
			}
			if ce.Condition != tc.want.Condition || ce.Status != tc.want.Status || ce.Text != tc.want.Text ||
				ce.RetryAfter != tc.want.RetryAfter || ce.Alternate != tc.want.Alternate {
				t.Errorf("got %+v\nwant %+v", ce, tc.want)
			}
		})
	}
}

// TestOutgoingTimeout checks that a transaction without final response
// ends after TransactionTimeout with remote-server-timeout (408).
func TestOutgoingTimeout(t *testing.T) {
	e, _ := newTestEndpoint(t, Config{TransactionTimeout: 50 * time.Millisecond}, &recorder{})
	sent := make(chan struct{}, 1)
	e.cli.TxRequester = &siptest.ClientTxRequesterResponder{OnRequest: func(req *sip.Request, w *siptest.ClientTxResponder) {
		sent <- struct{}{}
	}}
	start := time.Now()
	err := e.SendMessage(context.Background(), outMessage())
	<-sent
	var ce *cpim.Error
	if !errors.As(err, &ce) || ce.Condition != cpim.RemoteServerTimeout || ce.Status != 408 {
		t.Fatalf("got %v, want remote-server-timeout 408", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cause %v, want the deadline", ce.Cause)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestDigest checks one retry with credentials on 401 and 407
// (RFC 3261 §22.2) and that a second challenge is not answered again.
func TestDigest(t *testing.T) {
	tests := map[string]struct {
		status            int
		challenge, answer string
		always            bool // challenge every request
		want              cpim.Condition
	}{
		"401":       {401, "WWW-Authenticate", "Authorization", false, ""},
		"407":       {407, "Proxy-Authenticate", "Proxy-Authorization", false, ""},
		"401 twice": {401, "WWW-Authenticate", "Authorization", true, cpim.NotAuthorized},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e, seen := stubbed(t, Config{Username: "gw", Password: "secret"}, func(req *sip.Request) *sip.Response {
				if req.GetHeader(tc.answer) == nil || tc.always {
					return answer(req, tc.status, "Auth",
						sip.NewHeader(tc.challenge, `Digest realm="sip.example", nonce="dcd98b7102dd2f0e", qop="auth", algorithm=MD5`))
				}
				return answer(req, 200, "OK")
			})
			err := e.SendMessage(context.Background(), outMessage())
			if tc.want == "" && err != nil {
				t.Fatalf("got %v", err)
			}
			if tc.want != "" && cpim.ConditionOf(err) != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
			reqs := seen()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2 (one retry)", len(reqs))
			}
			a := reqs[1].GetHeader(tc.answer)
			if a == nil || !strings.Contains(a.Value(), `username="gw"`) || !strings.Contains(a.Value(), `realm="sip.example"`) {
				t.Errorf("%s: %v", tc.answer, a)
			}
			if reqs[1].CSeq().SeqNo != reqs[0].CSeq().SeqNo+1 {
				t.Errorf("CSeq %d then %d", reqs[0].CSeq().SeqNo, reqs[1].CSeq().SeqNo)
			}
			if mustParam(reqs[0].Via().Params, "branch") == mustParam(reqs[1].Via().Params, "branch") {
				t.Error("retry reuses the branch")
			}
			// The retry's CSeq is remembered: the next request of the
			// thread goes above it (MSG-27).
			e.cli.TxRequester = &siptest.ClientTxRequester{OnRequest: func(req *sip.Request) *sip.Response {
				if req.CSeq().SeqNo <= reqs[1].CSeq().SeqNo {
					t.Errorf("next CSeq %d not above %d", req.CSeq().SeqNo, reqs[1].CSeq().SeqNo)
				}
				return answer(req, 200, "OK")
			}}
			if err := e.SendMessage(context.Background(), outMessage()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// pending is a request the test holds unanswered.
type pending struct {
	req *sip.Request
	w   *siptest.ClientTxResponder
}

func (p pending) reply(status int) { p.w.Receive(answer(p.req, status, "X")) }

// holding returns an endpoint whose requests arrive on the returned
// channel and wait there for the test to answer them.
func holding(t *testing.T) (*Endpoint, chan pending) {
	t.Helper()
	e, _ := newTestEndpoint(t, Config{}, &recorder{})
	ch := make(chan pending, 16)
	e.cli.TxRequester = &siptest.ClientTxRequesterResponder{OnRequest: func(req *sip.Request, w *siptest.ClientTxResponder) {
		ch <- pending{req, w}
	}}
	return e, ch
}

// waiting returns how many senders wait behind the outstanding request to
// dest.
func (q *destQueues) waiting(dest string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if d, ok := q.m[dest]; ok {
		return len(d.waiters)
	}
	return -1
}

// waitFor yields until cond holds: the senders are goroutines of this
// test, so their progress needs no clock.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		runtime.Gosched()
	}
}

func to(local, domain string) cpim.Message {
	m := outMessage()
	m.To = cpim.Address{Local: local, Domain: domain}
	m.Thread = ""
	return m
}

// TestDestinationFIFO checks RFC 3428 §8 (MSG-09): a second MESSAGE to the
// same URI is not sent before the first's final response, queued ones go in
// order, and other destinations are not held up.
func TestDestinationFIFO(t *testing.T) {
	e, reqs := holding(t)
	const dest = "sip:romeo@sip.example"
	results := make(chan string, 8)
	send := func(tag string, m cpim.Message) {
		go func() {
			m.Subjects = []cpim.Text{{Text: tag}}
			if err := e.SendMessage(context.Background(), m); err != nil {
				results <- tag + ":" + err.Error()
				return
			}
			results <- tag
		}()
	}
	send("A", to("romeo", "sip.example"))
	a := <-reqs
	send("B", to("romeo", "sip.example"))
	waitFor(t, func() bool { return e.queues.waiting(dest) == 1 })
	send("C", to("romeo", "sip.example"))
	waitFor(t, func() bool { return e.queues.waiting(dest) == 2 })

	// Another destination goes at once while A is outstanding.
	send("D", to("mercutio", "sip.example"))
	d := <-reqs
	if s := headerMap(d.req)["subject"]; s != "D" {
		t.Fatalf("sent %q while A was outstanding; want D (other destination)", s)
	}
	d.reply(200)
	if r := <-results; r != "D" {
		t.Fatalf("result %q", r)
	}
	select {
	case p := <-reqs:
		t.Fatalf("sent %q before A's final response", headerMap(p.req)["subject"])
	default:
	}

	a.reply(202)
	b := <-reqs
	if s := headerMap(b.req)["subject"]; s != "B" {
		t.Fatalf("after A came %q, want B", s)
	}
	if r := <-results; r != "A" {
		t.Fatalf("result %q", r)
	}
	b.reply(486)
	c := <-reqs
	if s := headerMap(c.req)["subject"]; s != "C" {
		t.Fatalf("after B came %q, want C", s)
	}
	c.reply(200)
	got := map[string]bool{<-results: true, <-results: true}
	if !got["C"] || len(got) != 2 {
		t.Errorf("results %v", got)
	}
	if n := e.queues.len(); n != 0 {
		t.Errorf("%d destinations left in the queue map, want 0 (idle entries go away)", n)
	}
}

// TestDestinationCancel checks that a sender whose ctx ends while queued
// leaves the queue as if it had never come.
func TestDestinationCancel(t *testing.T) {
	e, reqs := holding(t)
	const dest = "sip:romeo@sip.example"
	first := make(chan error, 1)
	go func() { first <- e.SendMessage(context.Background(), to("romeo", "sip.example")) }()
	a := <-reqs

	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() { second <- e.SendMessage(ctx, to("romeo", "sip.example")) }()
	waitFor(t, func() bool { return e.queues.waiting(dest) == 1 })
	cancel()
	err := <-second
	if !errors.Is(err, context.Canceled) || cpim.ConditionOf(err) != cpim.RemoteServerTimeout {
		t.Fatalf("queued sender got %v, want remote-server-timeout caused by cancel", err)
	}
	if n := e.queues.waiting(dest); n != 0 {
		t.Fatalf("%d waiters after cancel", n)
	}
	a.reply(200)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-reqs:
		t.Fatalf("cancelled message was sent: %v", p.req.StartLine())
	default:
	}
	if n := e.queues.len(); n != 0 {
		t.Errorf("%d destinations left", n)
	}
}

// TestDestQueueHandover checks the race the queue must survive: the turn
// is handed to a waiter whose ctx has just ended; the turn passes on.
func TestDestQueueHandover(t *testing.T) {
	q := newDestQueues(4)
	rel1, err := q.acquire(context.Background(), "d")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		rel, err := q.acquire(ctx, "d")
		if err == nil {
			rel()
		}
		got <- err
	}()
	waitFor(t, func() bool { return q.waiting("d") == 1 })
	third := make(chan struct{})
	go func() {
		rel, err := q.acquire(context.Background(), "d")
		if err != nil {
			t.Error(err)
		}
		rel()
		close(third)
	}()
	waitFor(t, func() bool { return q.waiting("d") == 2 })
	cancel()
	rel1()
	rel1() // a second call does nothing
	<-got
	<-third
	if q.len() != 0 {
		t.Errorf("%d entries left", q.len())
	}
}

// TestDestQueueFull checks the bound on waiting senders.
func TestDestQueueFull(t *testing.T) {
	q := newDestQueues(1)
	rel, _ := q.acquire(context.Background(), "d")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.acquire(ctx, "d")
	}()
	waitFor(t, func() bool { return q.waiting("d") == 1 })
	if _, err := q.acquire(context.Background(), "d"); !errors.As(err, new(errQueueFull)) {
		t.Errorf("got %v, want errQueueFull", err)
	}
	cancel()
	<-done
	rel()
	if q.len() != 0 {
		t.Errorf("%d entries left", q.len())
	}
}

// TestCSeqTable checks that CSeq numbers of a Call-ID increase even after
// the bounded table dropped it (MSG-27).
func TestCSeqTable(t *testing.T) {
	c := newCSeqTable(2)
	got := []uint32{c.next("a"), c.next("a"), c.next("b"), c.next("c")}
	if want := []uint32{1, 2, 1, 1}; !equalU32(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// "a" (last 2) was dropped when "c" came: it restarts above 2.
	if n := c.next("a"); n != 3 {
		t.Errorf("a after eviction: %d, want 3", n)
	}
	// "b" (last 1) was dropped when "a" came back; the floor is 2.
	if n := c.next("b"); n != 3 {
		t.Errorf("b after eviction: %d, want 3", n)
	}
	c.observe("b", 10)
	if n := c.next("b"); n != 11 {
		t.Errorf("b after observe(10): %d, want 11", n)
	}
}

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDigestUnanswerable checks that a challenge the credentials cannot
// answer (here: no WWW-Authenticate) is mapped like any failure.
func TestDigestUnanswerable(t *testing.T) {
	e, seen := stubbed(t, Config{Username: "gw", Password: "secret"}, func(req *sip.Request) *sip.Response {
		return answer(req, 401, "Unauthorized")
	})
	err := e.SendMessage(context.Background(), outMessage())
	var ce *cpim.Error
	if !errors.As(err, &ce) || ce.Condition != cpim.NotAuthorized || ce.Status != 401 {
		t.Fatalf("got %v, want not-authorized 401", err)
	}
	if n := len(seen()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}
