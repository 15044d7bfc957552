package sipside

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"cpimgw/cpim"

	"github.com/emiago/sipgo/sip"
)

// checkPublish checks a PUBLISH of juliet's presence (RFC 3903 §4 Table
// 1, INTERWORKING.md §3.8): one Event header (MUST), the Expires, the
// SIP-If-Match (none: ""), and a PIDF body or none.
func checkPublish(t *testing.T, p *sipPeer, req *sip.Request, expires, ifMatch string, body bool) {
	t.Helper()
	if n := len(req.GetHeaders("Event")) + len(req.GetHeaders("o")); n != 1 || header(req, "Event") != "presence" {
		t.Errorf("%d Event headers, %q", n, header(req, "Event"))
	}
	if req.Recipient.String() != "sip:juliet@xmpp.example" || req.From().Address.String() != "sip:juliet@xmpp.example" ||
		req.To().Address.String() != "sip:juliet@xmpp.example" || header(req, "Route") != "<sip:"+p.addr()+";lr>" {
		t.Errorf("addressing: %s From %s To %s Route %s", req.Recipient.String(), req.From().Value(), req.To().Value(), header(req, "Route"))
	}
	if header(req, "Expires") != expires || header(req, "SIP-If-Match") != ifMatch {
		t.Errorf("Expires %q SIP-If-Match %q, want %q %q", header(req, "Expires"), header(req, "SIP-If-Match"), expires, ifMatch)
	}
	if !body {
		if len(req.Body()) != 0 || req.ContentType() != nil {
			t.Errorf("unexpected body %q", req.Body())
		}
		return
	}
	if req.ContentType() == nil || req.ContentType().Value() != "application/pidf+xml" {
		t.Errorf("Content-Type %v", req.ContentType())
	}
	if doc, err := cpim.ParsePIDF(req.Body()); err != nil || doc.Entity != "pres:juliet@xmpp.example" {
		t.Errorf("body: %v", err)
	}
}

// TestPublishOperations runs the four operations of RFC 3903 §4 Table 1:
// initial, refresh before expiry (at 80 % of the granted Expires), modify,
// a 412 answered with an initial PUBLISH (§5: discard the tag, MUST NOT
// retry the same), and remove; the SIP-ETag of every 2xx is used next.
func TestPublishOperations(t *testing.T) {
	p := startSIPPeer(t)
	e, _ := newPresenceEndpoint(t, Config{OutboundProxy: "sip:" + p.addr()}, newFakePresence())
	ctx := context.Background()
	// The answers the presence server gives, in order.
	answers := make(chan *sip.Response, 8)
	p.setAnswer(func(req *sip.Request) *sip.Response {
		select {
		case a := <-answers:
			res := respondTo(req, a.StatusCode)
			for _, h := range a.Headers() {
				res.AppendHeader(h)
			}
			return res
		case <-time.After(5 * time.Second):
			return respondTo(req, 500)
		}
	})
	reply := func(status int, headers ...string) {
		r := sip.NewResponse(status, "X")
		for _, h := range headers {
			k, v, _ := strings.Cut(h, ":")
			r.AppendHeader(sip.NewHeader(k, strings.TrimSpace(v)))
		}
		answers <- r
	}
	reply(200, "SIP-ETag: e1", "Expires: 2")
	start := time.Now()
	if err := e.Publish(ctx, juliet, julietPresence()); err != nil {
		t.Fatal(err)
	}
	initial := p.next(t, sip.PUBLISH)
	checkPublish(t, p, initial, "3600", "", true)

	reply(200, "SIP-ETag: e2", "Expires: 600")
	refresh := p.next(t, sip.PUBLISH)
	if d := time.Since(start); d < 1200*time.Millisecond || d > 2*time.Second {
		t.Errorf("refresh after %v, want about 1.6 s", d)
	}
	checkPublish(t, p, refresh, "3600", "e1", false)
	if refresh.CallID().Value() != initial.CallID().Value() || refresh.CSeq().SeqNo != initial.CSeq().SeqNo+1 {
		t.Errorf("refresh Call-ID %s CSeq %d", refresh.CallID().Value(), refresh.CSeq().SeqNo)
	}

	reply(412)
	reply(200, "SIP-ETag: e3", "Expires: 600")
	away := julietPresence()
	away.Tuples[0].Show = cpim.ShowAway
	if err := e.Publish(ctx, juliet, away); err != nil {
		t.Fatal(err)
	}
	checkPublish(t, p, p.next(t, sip.PUBLISH), "3600", "e2", true)
	again := p.next(t, sip.PUBLISH)
	checkPublish(t, p, again, "3600", "", true)
	if doc, _ := cpim.ParsePIDF(again.Body()); doc == nil || doc.Tuples[0].Show != cpim.ShowAway {
		t.Error("the initial PUBLISH after 412 lost the new state")
	}

	// Kamailio answers an unknown entity tag with 500 instead of 412:
	// treated the same, one initial PUBLISH.
	reply(500)
	reply(200, "SIP-ETag: e4", "Expires: 600")
	dnd := julietPresence()
	dnd.Tuples[0].Show = cpim.ShowDND
	if err := e.Publish(ctx, juliet, dnd); err != nil {
		t.Fatal(err)
	}
	checkPublish(t, p, p.next(t, sip.PUBLISH), "3600", "e3", true)
	checkPublish(t, p, p.next(t, sip.PUBLISH), "3600", "", true)

	reply(200, "Expires: 0")
	if err := e.Publish(ctx, juliet, nil); err != nil {
		t.Fatal(err)
	}
	checkPublish(t, p, p.next(t, sip.PUBLISH), "0", "e4", false)
	if err := e.Publish(ctx, juliet, nil); err != nil {
		t.Fatal(err)
	}
	p.nothing(t, 100*time.Millisecond)
}

// TestPublishResponses checks the other answers to an initial PUBLISH: 423
// retried once with the Min-Expires (RFC 3903 §5), 401 answered with the
// credentials, a failure mapped to its error (RFC 7247 §7.2), no answer
// remote-server-timeout.
func TestPublishResponses(t *testing.T) {
	tests := map[string]struct {
		cfg     Config
		answers []string
		want    int // failure status; 0 success
		check   func(t *testing.T, reqs []*sip.Request)
	}{
		"423": {answers: []string{"423|Min-Expires: 7200", "200|SIP-ETag: a"},
			check: func(t *testing.T, reqs []*sip.Request) {
				if header(reqs[1], "Expires") != "7200" || len(reqs[1].Body()) == 0 || header(reqs[1], "SIP-If-Match") != "" {
					t.Errorf("retry: Expires %q", header(reqs[1], "Expires"))
				}
			}},
		"401": {cfg: Config{Username: "gw", Password: "pw"},
			answers: []string{`401|WWW-Authenticate: Digest realm="x", nonce="n"`, "200|SIP-ETag: a"},
			check: func(t *testing.T, reqs []*sip.Request) {
				if !strings.Contains(header(reqs[1], "Authorization"), `username="gw"`) {
					t.Errorf("retry without credentials")
				}
			}},
		"403":       {answers: []string{"403"}, want: 403},
		"no answer": {cfg: Config{TransactionTimeout: 500 * time.Millisecond}, answers: []string{""}, want: 408},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := startSIPPeer(t)
			tc.cfg.OutboundProxy = "sip:" + p.addr()
			e, _ := newPresenceEndpoint(t, tc.cfg, newFakePresence())
			n := 0
			p.setAnswer(func(req *sip.Request) *sip.Response {
				if n >= len(tc.answers) {
					return nil // retransmissions of an unanswered request
				}
				a := tc.answers[n]
				n++
				if a == "" {
					return nil
				}
				parts := strings.Split(a, "|")
				status, _ := strconv.Atoi(parts[0])
				return respondTo(req, status, parts[1:]...)
			})
			err := e.Publish(context.Background(), juliet, julietPresence())
			var reqs []*sip.Request
			for range tc.answers {
				reqs = append(reqs, p.next(t, sip.PUBLISH))
			}
			if tc.want == 0 {
				if err != nil {
					t.Fatal(err)
				}
			} else if ce, ok := err.(*cpim.Error); !ok || ce.Status != tc.want {
				t.Fatalf("Publish: %v, want status %d", err, tc.want)
			}
			if tc.check != nil {
				tc.check(t, reqs)
			}
		})
	}
}

// TestPublishOneAtATime checks that a second PUBLISH for the same
// Request-URI waits for the final response to the first (RFC 3903 §4
// MUST), and then uses the entity tag it brought (a modify).
func TestPublishOneAtATime(t *testing.T) {
	p := startSIPPeer(t)
	e, _ := newPresenceEndpoint(t, Config{OutboundProxy: "sip:" + p.addr()}, newFakePresence())
	release := make(chan struct{})
	p.setAnswer(func(req *sip.Request) *sip.Response {
		if header(req, "SIP-If-Match") == "" {
			<-release
			return respondTo(req, 200, "SIP-ETag: first", "Expires: 600")
		}
		return respondTo(req, 200, "SIP-ETag: second", "Expires: 600")
	})
	errs := make(chan error, 2)
	go func() { errs <- e.Publish(context.Background(), juliet, julietPresence()) }()
	p.next(t, sip.PUBLISH)
	go func() { errs <- e.Publish(context.Background(), juliet, julietPresence()) }()
	p.nothing(t, 300*time.Millisecond)
	close(release)
	second := p.next(t, sip.PUBLISH)
	if header(second, "SIP-If-Match") != "first" || len(second.Body()) == 0 {
		t.Errorf("second PUBLISH: SIP-If-Match %q", header(second, "SIP-If-Match"))
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestPresenceMethodsWithoutPresence checks the methods of the presence
// API on an endpoint configured without it: feature-not-implemented.
func TestPresenceMethodsWithoutPresence(t *testing.T) {
	e, _ := newTestEndpoint(t, Config{}, &recorder{})
	ctx := context.Background()
	for name, err := range map[string]error{
		"Subscribe":   e.Subscribe(ctx, juliet, romeo),
		"Unsubscribe": e.Unsubscribe(ctx, juliet, romeo),
		"Fetch":       e.Fetch(ctx, juliet, romeo),
		"Notify":      e.Notify(ctx, romeo, juliet, cpim.Notification{State: cpim.SubActive}),
		"Publish":     e.Publish(ctx, juliet, nil),
	} {
		if cpim.ConditionOf(err) != cpim.FeatureNotImplemented {
			t.Errorf("%s: %v", name, err)
		}
	}
}
