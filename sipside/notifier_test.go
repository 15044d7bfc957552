package sipside

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"cpimgw/cpim"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
)

// newCheckEndpoint is a presence endpoint that is not running: its
// handlers are called directly with siptest recorders.
func newCheckEndpoint(t testing.TB, cfg Config, h PresenceHandler) (*Endpoint, *logSink) {
	t.Helper()
	cfg.Presence = h
	e, logs := newTestEndpoint(t, cfg, &recorder{})
	t.Cleanup(e.subs.shutdown)
	return e, logs
}

// serveSub runs the SUBSCRIBE handler on r from src and returns the
// response.
func serveSub(t *testing.T, e *Endpoint, r rawReq, src string) *sip.Response {
	t.Helper()
	req := r.parse(t, src)
	rec := siptest.NewServerTxRecorder(req)
	e.onSubscribe(req, rec)
	res := rec.Result()
	if len(res) != 1 {
		t.Fatalf("%d responses", len(res))
	}
	return res[0]
}

// TestSubscribeRefusals checks the notifier's checks (INTERWORKING.md §3.7
// S2X "initial SUBSCRIBE" row) and the mapping of a handler refusal: what
// the watcher sees, and whether the handler was asked.
func TestSubscribeRefusals(t *testing.T) {
	base := rawReq{
		method: "SUBSCRIBE",
		ruri:   "sip:juliet@xmpp.example",
		headers: [][2]string{
			{"Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1"},
			{"Max-Forwards", "70"},
			{"From", "<sip:romeo@sip.example>;tag=r1"},
			{"To", "<sip:juliet@xmpp.example>"},
			{"Call-ID", "refusal@192.0.2.10"},
			{"CSeq", "1 SUBSCRIBE"},
			{"Contact", "<sip:romeo@192.0.2.10>"},
			{"Event", "presence"},
			{"Expires", "600"},
		},
	}
	tests := map[string]struct {
		cfg     Config
		req     rawReq
		src     string
		answer  error
		status  int
		headers map[string]string
		asked   bool
	}{
		"untrusted source (as for MESSAGE)": {
			cfg: Config{TrustedSources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
			req: base, status: 403,
		},
		"no Event (SUB-26)": {req: base.without("Event"), status: 489,
			headers: map[string]string{"allow-events": "presence"}},
		"another event package (SUB-26)": {req: base.with("Event", "message-summary"), status: 489,
			headers: map[string]string{"allow-events": "presence"}},
		"two Event headers (RFC 6665 §3.1.2)": {req: base.with("o", "presence"), status: 400},
		"Accept without PIDF (SUB-27)": {req: base.with("Accept", "application/xpidf+xml, text/plain"), status: 406,
			headers: map[string]string{"accept": "application/pidf+xml"}},
		"Accept with PIDF at q=0": {req: base.with("Accept", "application/pidf+xml;q=0"), status: 406},
		"Expires below MinExpires (SUB-26)": {req: base.with("Expires", "30"), status: 423,
			headers: map[string]string{"min-expires": "60"}},
		"Expires below a configured MinExpires": {cfg: Config{MinExpires: 300 * time.Second},
			req: base.with("Expires", "299"), status: 423, headers: map[string]string{"min-expires": "300"}},
		"malformed Expires": {req: base.with("Expires", "soon"), status: 400},
		"Max-Forwards 0":    {req: base.with("Max-Forwards", "0"), status: 483},
		"Require":           {req: base.with("Require", "foo"), status: 420, headers: map[string]string{"unsupported": "foo"}},
		"sips (ADR-23)":     {req: func() rawReq { r := base; r.ruri = "sips:juliet@xmpp.example"; return r }(), status: 480},
		"no XMPP domain": {req: func() rawReq {
			r := base.with("To", "<sip:juliet@else.example>")
			r.ruri = "sip:juliet@else.example"
			return r
		}(), status: 404},
		"unsupported scheme":      {req: func() rawReq { r := base.with("To", "<tel:+15551234>"); r.ruri = "tel:+15551234"; return r }(), status: 416},
		"no Contact":              {req: base.without("Contact"), status: 400},
		"no From tag":             {req: base.with("From", "<sip:romeo@sip.example>"), status: 400},
		"unknown dialog (SUB-25)": {req: base.with("To", "<sip:juliet@xmpp.example>;tag=nosuch"), status: 481},
		"handler forbids (RFC 6665 §4.2.1.3)": {req: base, answer: &cpim.Error{Condition: cpim.Forbidden},
			status: 603, asked: true},
		"handler over a limit": {req: base,
			answer: &cpim.Error{Condition: cpim.InternalServerError, Status: 503, RetryAfter: 30 * time.Second},
			status: 503, headers: map[string]string{"retry-after": "30"}, asked: true},
		"handler fails": {req: base, answer: fmt.Errorf("boom"), status: 500, asked: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newFakePresence()
			h.setAnswer(func(cpim.Subscription) (cpim.Notification, error) { return cpim.Notification{}, tc.answer })
			e, _ := newCheckEndpoint(t, tc.cfg, h)
			src := tc.src
			if src == "" {
				src = "192.0.2.10:5060"
			}
			res := serveSub(t, e, tc.req, src)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d %s, want %d", res.StatusCode, res.Reason, tc.status)
			}
			got := headerMap(res)
			for k, v := range tc.headers {
				if got[k] != v {
					t.Errorf("%s: %q, want %q", k, got[k], v)
				}
			}
			if got["expires"] != "" || got["contact"] != "" {
				t.Errorf("a refusal carries Expires %q / Contact %q", got["expires"], got["contact"])
			}
			if tc.asked {
				ev := h.next(t, "subscribe")
				diff(t, "subscription", ev.sub.Op, cpim.Subscribe)
			}
			h.none(t)
			if n := len(e.subs.notifiers); n != 0 {
				t.Errorf("%d dialogs kept", n)
			}
		})
	}
}

// acceptSub sends an initial SUBSCRIBE from the peer over network and
// returns the 200, the NOTIFY that follows it and the subscription the
// handler got.
func acceptSub(t *testing.T, e *Endpoint, h *fakePresence, p *sipPeer, network string, r rawReq) (*sip.Response, *sip.Request, cpim.Subscription) {
	t.Helper()
	res := p.send(t, network, addrOf(t, e, network), r)
	if res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE got %d %s", res.StatusCode, res.Reason)
	}
	sub := h.next(t, "subscribe").sub
	return res, p.next(t, sip.NOTIFY), sub
}

// checkNotify checks the dialog fields of a NOTIFY against the SUBSCRIBE
// r and its 200 (RFC 6665 §4.2.2, RFC 3261 §12.2.1.1).
func checkNotify(t *testing.T, n *sip.Request, p *sipPeer, callID string, gwTag string, cseq uint32) {
	t.Helper()
	if n.Recipient.String() != "sip:romeo@"+p.addr() {
		t.Errorf("Request-URI %s, want the SUBSCRIBE's Contact", n.Recipient.String())
	}
	if n.CallID().Value() != callID || tagOf(n.From()) != gwTag || tagOf(n.To()) != "romeo-"+callID {
		t.Errorf("dialog: Call-ID %s, From %s, To %s", n.CallID().Value(), n.From().Value(), n.To().Value())
	}
	if n.From().Address.String() != "sip:juliet@xmpp.example" || n.To().Address.String() != "sip:romeo@sip.example" {
		t.Errorf("From %s To %s", n.From().Address.String(), n.To().Address.String())
	}
	if n.CSeq().SeqNo != cseq || n.CSeq().MethodName != sip.NOTIFY {
		t.Errorf("CSeq %s, want %d NOTIFY", n.CSeq().Value(), cseq)
	}
	if header(n, "Event") != "presence" || n.Contact() == nil || n.MaxForwards().Val() != 70 {
		t.Errorf("Event %q, Contact %v, Max-Forwards %v", header(n, "Event"), n.Contact(), n.MaxForwards())
	}
}

// subState checks the Subscription-State of a NOTIFY: the state and
// expires within a second below want (it counts down), or the exact value
// for terminated.
func subState(t *testing.T, n *sip.Request, want string) {
	t.Helper()
	got := header(n, "Subscription-State")
	gs, gp := splitParams(got)
	ws, wp := splitParams(want)
	if gs != ws || (ws == "terminated" && got != want) {
		t.Errorf("Subscription-State %q, want %q", got, want)
		return
	}
	if ws != "terminated" {
		g, _ := strconv.Atoi(gp["expires"])
		w, _ := strconv.Atoi(wp["expires"])
		if gp["expires"] == "" || g > w || g < w-2 {
			t.Errorf("Subscription-State %q, want %q", got, want)
		}
	}
}

// TestNotifierAccepts checks an accepted initial SUBSCRIBE over UDP and
// TCP: 200 (never 202, SUB-13) with Expires at most the request (SUB-14;
// default 3600, capped at MaxExpires) and a Contact, the handler's
// cpim.Subscription, and the immediate NOTIFY (SUB-12) with the handler's
// state (SUB-15, SUB-16) and PIDF body (PRS-18), in the dialog of the 200.
func TestNotifierAccepts(t *testing.T) {
	tests := map[string]struct {
		expires   string
		cfg       Config
		answer    cpim.Notification
		granted   int
		wantState string
		body      bool
	}{
		"pending without body": {expires: "600", answer: cpim.Notification{State: cpim.SubPending},
			granted: 600, wantState: "pending;expires=600"},
		"active with PIDF": {expires: "600", answer: cpim.Notification{State: cpim.SubActive, Presence: julietPresence()},
			granted: 600, wantState: "active;expires=600", body: true},
		"no Expires is an hour (RFC 3856 §6.4)": {answer: cpim.Notification{State: cpim.SubActive},
			granted: 3600, wantState: "active;expires=3600"},
		"capped at MaxExpires": {expires: "86400", cfg: Config{MaxExpires: 1800 * time.Second},
			answer: cpim.Notification{State: cpim.SubActive}, granted: 1800, wantState: "active;expires=1800"},
		"polite refusal": {expires: "600", answer: cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonRejected},
			granted: 600, wantState: "terminated;reason=rejected"},
		"no state is pending": {expires: "600", granted: 600, wantState: "pending;expires=600"},
	}
	for _, network := range []string{"udp", "tcp"} {
		for name, tc := range tests {
			t.Run(network+"/"+name, func(t *testing.T) {
				h := newFakePresence()
				h.setAnswer(func(cpim.Subscription) (cpim.Notification, error) { return tc.answer, nil })
				e, _ := newPresenceEndpoint(t, tc.cfg, h)
				p := startSIPPeer(t)
				callID := "acc-" + network
				res, n, sub := acceptSub(t, e, h, p, network, p.subscribeRaw(callID, 1, tc.expires))

				if got := header(res, "Expires"); got != strconv.Itoa(tc.granted) {
					t.Errorf("200 Expires %q, want %d", got, tc.granted)
				}
				c := res.Contact()
				if c == nil || c.Address.Host != "127.0.0.1" || (network == "tcp") != (c.Address.UriParams.GetOr("transport", "") == "tcp") {
					t.Errorf("200 Contact %v", c)
				}
				gwTag := tagOf(res.To())
				wantSub := cpim.Subscription{Op: cpim.Subscribe, Watcher: romeo, Target: juliet,
					Duration: time.Duration(tc.granted) * time.Second, ID: sip.DialogIDMake(callID, gwTag, "romeo-"+callID)}
				diff(t, "subscription", sub, wantSub)

				checkNotify(t, n, p, callID, gwTag, 1)
				subState(t, n, tc.wantState)
				if !tc.body {
					if len(n.Body()) != 0 || n.ContentType() != nil {
						t.Errorf("NOTIFY has a body of type %v", n.ContentType())
					}
				} else {
					if n.ContentType() == nil || n.ContentType().Value() != "application/pidf+xml" || header(n, "Content-Language") != "en" {
						t.Errorf("Content-Type %v, Content-Language %q", n.ContentType(), header(n, "Content-Language"))
					}
					doc, err := cpim.ParsePIDF(n.Body())
					if err != nil {
						t.Fatal(err)
					}
					if doc.Entity != "pres:juliet@xmpp.example" || len(doc.Tuples) != 1 || doc.Tuples[0].Show != cpim.ShowDND ||
						doc.Tuples[0].Notes[0].Text != "Wherefore art thou" {
						t.Errorf("PIDF %+v", doc)
					}
				}
				if network == "tcp" && n.Transport() != "TCP" {
					t.Errorf("NOTIFY over %s, want the SUBSCRIBE's TCP flow", n.Transport())
				}
				e.subs.mu.Lock()
				kept := len(e.subs.notifiers)
				e.subs.mu.Unlock()
				if want := map[bool]int{true: 0, false: 1}[tc.answer.State == cpim.SubTerminated]; kept != want {
					t.Errorf("%d dialogs, want %d", kept, want)
				}
				h.none(t)
			})
		}
	}
}

// TestNotifierRouteSet checks that the NOTIFY follows the SUBSCRIBE's
// Record-Route as its route set (RFC 3261 §12.1.1) and still goes to the
// Contact as Request-URI, and that a compact Event header is understood
// (o, RFC 6665 §8.4).
func TestNotifierRouteSet(t *testing.T) {
	h := newFakePresence()
	e, _ := newPresenceEndpoint(t, Config{}, h)
	p := startSIPPeer(t)
	rr := "<sip:" + p.addr() + ";lr;ftag=1>, <sip:proxy2.invalid;lr>"
	r := p.subscribeRaw("rr-1", 1, "600").without("Event").with("o", "presence").with("Record-Route", rr)
	_, n, _ := acceptSub(t, e, h, p, "udp", r)
	var routes []string
	for _, hd := range n.GetHeaders("Route") {
		routes = append(routes, hd.Value())
	}
	diff(t, "Route", routes, []string{"<sip:" + p.addr() + ";lr;ftag=1>", "<sip:proxy2.invalid;lr>"})
	if n.Recipient.String() != "sip:romeo@"+p.addr() {
		t.Errorf("Request-URI %s", n.Recipient.String())
	}
}

// TestNotifierRefreshUnsubscribe checks the in-dialog SUBSCRIBEs: a
// refresh (Renewal, new expiry, NOTIFY with the current state, CSeq 2), an
// old CSeq (500, RFC 3261 §12.2.2), Expires: 0 (Unsubscribe, 200 with
// Expires 0, NOTIFY terminated;reason=timeout with the closed state the
// handler gives, SUB-20), then 481 for the ended dialog (SUB-25).
func TestNotifierRefreshUnsubscribe(t *testing.T) {
	st := newMemStore()
	h := newFakePresence()
	e, _ := newPresenceEndpoint(t, Config{Store: st}, h)
	p := startSIPPeer(t)
	r := p.subscribeRaw("ref-1", 1, "600")
	res, _, first := acceptSub(t, e, h, p, "udp", r)
	gwTag := tagOf(res.To())
	if got := storedDialogs(t, st); len(got) != 1 || got[0].ID != first.ID || got[0].Watcher != "romeo@sip.example" ||
		got[0].Target != "juliet@xmpp.example" || got[0].LocalCSeq < 1 {
		t.Fatalf("stored %+v", got)
	}

	h.setAnswer(func(cpim.Subscription) (cpim.Notification, error) {
		return cpim.Notification{State: cpim.SubActive, Presence: julietPresence()}, nil
	})
	res = p.send(t, "udp", addrOf(t, e, "udp"), r.inDialog(gwTag, 2).with("Expires", "300"))
	if res.StatusCode != 200 || header(res, "Expires") != "300" || tagOf(res.To()) != gwTag {
		t.Fatalf("refresh: %d Expires %q", res.StatusCode, header(res, "Expires"))
	}
	sub := h.next(t, "subscribe").sub
	diff(t, "refresh", sub, cpim.Subscription{Op: cpim.Subscribe, Watcher: romeo, Target: juliet,
		Duration: 300 * time.Second, ID: first.ID, Renewal: true})
	n := p.next(t, sip.NOTIFY)
	checkNotify(t, n, p, "ref-1", gwTag, 2)
	subState(t, n, "active;expires=300")
	if len(n.Body()) == 0 {
		t.Error("refresh NOTIFY without the current state")
	}

	if res := p.send(t, "udp", addrOf(t, e, "udp"), r.inDialog(gwTag, 1)); res.StatusCode != 500 {
		t.Errorf("old CSeq: %d, want 500", res.StatusCode)
	}

	closed := &cpim.Presence{Entity: juliet, Tuples: []cpim.Tuple{{Resource: "balcony", Basic: cpim.Closed}}}
	h.setAnswer(func(cpim.Subscription) (cpim.Notification, error) {
		return cpim.Notification{State: cpim.SubActive, Presence: closed}, nil
	})
	res = p.send(t, "udp", addrOf(t, e, "udp"), r.inDialog(gwTag, 3).with("Expires", "0"))
	if res.StatusCode != 200 || header(res, "Expires") != "0" {
		t.Fatalf("unsubscribe: %d Expires %q", res.StatusCode, header(res, "Expires"))
	}
	sub = h.next(t, "subscribe").sub
	diff(t, "unsubscribe", sub, cpim.Subscription{Op: cpim.Unsubscribe, Watcher: romeo, Target: juliet, ID: first.ID})
	n = p.next(t, sip.NOTIFY)
	checkNotify(t, n, p, "ref-1", gwTag, 3)
	subState(t, n, "terminated;reason=timeout")
	if doc, err := cpim.ParsePIDF(n.Body()); err != nil || doc.Tuples[0].Basic != cpim.Closed {
		t.Errorf("final NOTIFY body %q: %v", n.Body(), err)
	}
	if got := storedDialogs(t, st); len(got) != 0 {
		t.Errorf("ended dialog still stored: %+v", got)
	}
	if res := p.send(t, "udp", addrOf(t, e, "udp"), r.inDialog(gwTag, 4)); res.StatusCode != 481 {
		t.Errorf("SUBSCRIBE in the ended dialog: %d, want 481", res.StatusCode)
	}
	h.none(t)
}

// TestNotifierFetch checks a SUBSCRIBE with Expires: 0 outside a dialog
// (RFC 6665 §4.4.3, RFC 8048 §7.2): Probe to the handler, 200 with Expires
// 0, NOTIFY terminated;reason=timeout with the handler's state; no dialog
// is kept or stored.
func TestNotifierFetch(t *testing.T) {
	st := newMemStore()
	h := newFakePresence()
	h.setAnswer(func(cpim.Subscription) (cpim.Notification, error) {
		return cpim.Notification{State: cpim.SubActive, Presence: julietPresence()}, nil
	})
	e, _ := newPresenceEndpoint(t, Config{Store: st}, h)
	p := startSIPPeer(t)
	res, n, sub := acceptSub(t, e, h, p, "udp", p.subscribeRaw("fetch-1", 1, "0"))
	if header(res, "Expires") != "0" {
		t.Errorf("200 Expires %q", header(res, "Expires"))
	}
	if sub.Op != cpim.Probe || sub.Watcher != romeo || sub.Target != juliet {
		t.Errorf("subscription %+v", sub)
	}
	checkNotify(t, n, p, "fetch-1", tagOf(res.To()), 1)
	subState(t, n, "terminated;reason=timeout")
	if len(n.Body()) == 0 {
		t.Error("fetch NOTIFY without state")
	}
	if len(e.subs.notifiers) != 0 || len(storedDialogs(t, st)) != 0 {
		t.Errorf("fetch kept a dialog")
	}
	if err := e.Notify(context.Background(), romeo, juliet, cpim.Notification{State: cpim.SubActive}); err != nil {
		t.Fatal(err)
	}
	p.nothing(t, 200*time.Millisecond)
}

// TestNotify checks Notify on every dialog of the pair (a watcher may
// subscribe twice), only on that pair's (PRS-16), and that a terminated
// state ends them all (subscribed → active, unsubscribed →
// terminated;reason=rejected, SUB-17, SUB-18).
func TestNotify(t *testing.T) {
	st := newMemStore()
	h := newFakePresence()
	h.setAnswer(func(cpim.Subscription) (cpim.Notification, error) {
		return cpim.Notification{State: cpim.SubPending}, nil
	})
	e, _ := newPresenceEndpoint(t, Config{Store: st}, h)
	p := startSIPPeer(t)
	tags := map[string]string{}
	for _, id := range []string{"n-1", "n-2"} {
		res, _, _ := acceptSub(t, e, h, p, "udp", p.subscribeRaw(id, 1, "600"))
		tags[id] = tagOf(res.To())
	}
	// Another watcher of juliet must not get romeo's notifications.
	other := p.subscribeRaw("n-3", 1, "600").with("From", "<sip:mercutio@sip.example>;tag=m")
	acceptSub(t, e, h, p, "udp", other)

	ctx := context.Background()
	if err := e.Notify(ctx, romeo, juliet, cpim.Notification{State: cpim.SubActive, Presence: julietPresence()}); err != nil {
		t.Fatal(err)
	}
	got := map[string]*sip.Request{}
	for range 2 {
		n := p.next(t, sip.NOTIFY)
		got[n.CallID().Value()] = n
	}
	for id, tag := range tags {
		n := got[id]
		if n == nil {
			t.Fatalf("no NOTIFY in dialog %s", id)
		}
		checkNotify(t, n, p, id, tag, 2)
		subState(t, n, "active;expires=600")
		if len(n.Body()) == 0 {
			t.Errorf("%s: no PIDF", id)
		}
	}
	if err := e.Notify(ctx, romeo, juliet, cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonRejected}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		n := p.next(t, sip.NOTIFY)
		subState(t, n, "terminated;reason=rejected")
		if len(n.Body()) != 0 {
			t.Errorf("rejected NOTIFY has a body")
		}
	}
	p.nothing(t, 200*time.Millisecond)
	if n := len(storedDialogs(t, st)); n != 1 {
		t.Errorf("%d dialogs stored, want mercutio's only", n)
	}
	if err := e.Notify(ctx, romeo, juliet, cpim.Notification{State: cpim.SubActive}); err != nil {
		t.Fatal(err)
	}
	p.nothing(t, 200*time.Millisecond)
	if err := e.Notify(ctx, romeo, juliet, cpim.Notification{}); cpim.ConditionOf(err) != cpim.BadRequest {
		t.Errorf("Notify without state: %v", err)
	}
	h.none(t)
}

// TestNotifyResponses checks what a NOTIFY's response does to the
// subscription (RFC 6665 §4.2.2, SUB-13, SUB-22): 2xx (202 as 200) keeps
// it, the listed codes and no response at all remove it and report
// SubscriptionEnded "notify-failed", other failures keep it.
func TestNotifyResponses(t *testing.T) {
	removing := []int{404, 405, 410, 416, 480, 481, 482, 483, 484, 485, 489, 501, 604}
	keeping := []int{200, 202, 486, 500, 503}
	type tc struct {
		status int // 0: no answer
		ends   bool
	}
	var tests []tc
	for _, s := range removing {
		tests = append(tests, tc{s, true})
	}
	for _, s := range keeping {
		tests = append(tests, tc{s, false})
	}
	tests = append(tests, tc{0, true})
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			h := newFakePresence()
			e, _ := newPresenceEndpoint(t, Config{TransactionTimeout: time.Second}, h)
			p := startSIPPeer(t)
			p.setAnswer(func(req *sip.Request) *sip.Response {
				if req.Method == sip.NOTIFY && req.CSeq().SeqNo == 1 {
					if tc.status == 0 {
						return nil
					}
					return respondTo(req, tc.status)
				}
				return respondTo(req, 200)
			})
			acceptSub(t, e, h, p, "udp", p.subscribeRaw("resp-"+strconv.Itoa(tc.status), 1, "600"))
			if tc.ends {
				ev := h.next(t, "ended")
				if ev.reason != "notify-failed" || ev.watcher != romeo || ev.target != juliet {
					t.Errorf("SubscriptionEnded %+v", ev)
				}
				if err := e.Notify(context.Background(), romeo, juliet, cpim.Notification{State: cpim.SubActive}); err != nil {
					t.Fatal(err)
				}
				for {
					select {
					case req := <-p.reqs: // retransmissions of the unanswered NOTIFY
						if req.CSeq().SeqNo != 1 {
							t.Fatalf("NOTIFY after the subscription ended:\n%s", req)
						}
						continue
					case <-time.After(300 * time.Millisecond):
					}
					break
				}
				return
			}
			// The subscription is still there: the next NOTIFY goes out.
			if err := e.Notify(context.Background(), romeo, juliet, cpim.Notification{State: cpim.SubActive}); err != nil {
				t.Fatal(err)
			}
			if n := p.next(t, sip.NOTIFY); n.CSeq().SeqNo != 2 {
				t.Errorf("next NOTIFY has CSeq %d", n.CSeq().SeqNo)
			}
			h.none(t)
		})
	}
}

// TestNotifyDigest checks that a NOTIFY challenged with 401 is sent again
// with credentials (RFC 3261 §22.2) and a higher CSeq, which the dialog
// then continues from.
func TestNotifyDigest(t *testing.T) {
	h := newFakePresence()
	e, _ := newPresenceEndpoint(t, Config{Username: "gw", Password: "secret"}, h)
	p := startSIPPeer(t)
	p.setAnswer(func(req *sip.Request) *sip.Response {
		if req.Method == sip.NOTIFY && req.GetHeader("Authorization") == nil {
			return respondTo(req, 401, `WWW-Authenticate: Digest realm="sip.example", nonce="abc", algorithm=MD5`)
		}
		return respondTo(req, 200)
	})
	acceptSub(t, e, h, p, "udp", p.subscribeRaw("dig-1", 1, "600"))
	n := p.next(t, sip.NOTIFY)
	auth := header(n, "Authorization")
	if !strings.Contains(auth, `username="gw"`) || !strings.Contains(auth, `realm="sip.example"`) || n.CSeq().SeqNo != 2 {
		t.Errorf("retry CSeq %d Authorization %q", n.CSeq().SeqNo, auth)
	}
	if err := e.Notify(context.Background(), romeo, juliet, cpim.Notification{State: cpim.SubActive}); err != nil {
		t.Fatal(err)
	}
	if n := p.next(t, sip.NOTIFY); n.CSeq().SeqNo != 3 {
		t.Errorf("next NOTIFY CSeq %d, want 3", n.CSeq().SeqNo)
	}
}

// TestNotifierExpiry checks a subscription that is not refreshed: NOTIFY
// terminated;reason=timeout (RFC 6665 §4.2.1.4, SUB-24) and
// SubscriptionEnded "timeout"; the dialog leaves the store.
func TestNotifierExpiry(t *testing.T) {
	st := newMemStore()
	h := newFakePresence()
	e, _ := newPresenceEndpoint(t, Config{Store: st, MinExpires: time.Second}, h)
	p := startSIPPeer(t)
	res, _, _ := acceptSub(t, e, h, p, "udp", p.subscribeRaw("exp-1", 1, "1"))
	if header(res, "Expires") != "1" {
		t.Fatalf("Expires %q", header(res, "Expires"))
	}
	n := p.next(t, sip.NOTIFY)
	subState(t, n, "terminated;reason=timeout")
	if len(n.Body()) != 0 {
		t.Error("timeout NOTIFY has a body")
	}
	if ev := h.next(t, "ended"); ev.reason != "timeout" || ev.watcher != romeo || ev.target != juliet {
		t.Errorf("SubscriptionEnded %+v", ev)
	}
	if len(storedDialogs(t, st)) != 0 {
		t.Error("expired dialog still stored")
	}
}

// TestNotifierTCPFlow checks that NOTIFYs to a TCP watcher go back over
// the connection its SUBSCRIBE came in on even when its Contact cannot be
// reached (LIBRARY-NOTES §1.2), and that a refresh over a new connection
// moves the flow.
func TestNotifierTCPFlow(t *testing.T) {
	h := newFakePresence()
	e, _ := newPresenceEndpoint(t, Config{}, h)
	p := startSIPPeer(t)
	r := p.subscribeRaw("flow-1", 1, "600").with("Contact", "<sip:romeo@watcher.invalid;transport=tcp>")
	res, n, _ := acceptSub(t, e, h, p, "tcp", r)
	if n.Transport() != "TCP" || n.Recipient.Host != "watcher.invalid" {
		t.Errorf("NOTIFY over %s to %s", n.Transport(), n.Recipient.String())
	}
	if err := e.Notify(context.Background(), romeo, juliet, cpim.Notification{State: cpim.SubActive}); err != nil {
		t.Fatal(err)
	}
	if n := p.next(t, sip.NOTIFY); n.CSeq().SeqNo != 2 {
		t.Errorf("second NOTIFY CSeq %d", n.CSeq().SeqNo)
	}
	_ = res
	h.none(t)
}

// TestNotifyOverUDPLimit checks that a NOTIFY over 1300 bytes for a UDP
// watcher goes over TCP to the same host and port (RFC 3261 §18.1.1,
// LIBRARY-NOTES §1.10).
func TestNotifyOverUDPLimit(t *testing.T) {
	h := newFakePresence()
	big := julietPresence()
	for i := range 12 {
		big.Tuples = append(big.Tuples, cpim.Tuple{Resource: fmt.Sprintf("device-%02d", i), Basic: cpim.Open,
			Notes: []cpim.Text{{Text: strings.Repeat("ü", 40)}}})
	}
	h.setAnswer(func(cpim.Subscription) (cpim.Notification, error) {
		return cpim.Notification{State: cpim.SubActive, Presence: big}, nil
	})
	e, _ := newPresenceEndpoint(t, Config{}, h)
	p := startSIPPeer(t)
	_, n, _ := acceptSub(t, e, h, p, "udp", p.subscribeRaw("big-1", 1, "600"))
	if n.Transport() != "TCP" || len(n.String()) <= DefaultMaxUDPSize {
		t.Errorf("NOTIFY of %d bytes over %s", len(n.String()), n.Transport())
	}
	if doc, err := cpim.ParsePIDF(n.Body()); err != nil || len(doc.Tuples) != 13 {
		t.Errorf("body: %v", err)
	}
}

// TestSubscribeLimits checks MaxSubscriptionsPerWatcher and
// MaxSubscriptions: one more gets 503 with Retry-After and is logged; an
// ended subscription frees its place.
func TestSubscribeLimits(t *testing.T) {
	h := newFakePresence()
	e, logs := newPresenceEndpoint(t, Config{MaxSubscriptionsPerWatcher: 1, MaxSubscriptions: 2}, h)
	p := startSIPPeer(t)
	udp := addrOf(t, e, "udp")
	res, _, _ := acceptSub(t, e, h, p, "udp", p.subscribeRaw("lim-1", 1, "600"))
	gwTag := tagOf(res.To())

	res = p.send(t, "udp", udp, p.subscribeRaw("lim-2", 1, "600"))
	if res.StatusCode != 503 || header(res, "Retry-After") != "60" {
		t.Errorf("second of romeo: %d Retry-After %q", res.StatusCode, header(res, "Retry-After"))
	}
	merc := p.subscribeRaw("lim-3", 1, "600").with("From", "<sip:mercutio@sip.example>;tag=m")
	acceptSub(t, e, h, p, "udp", merc)
	tyb := p.subscribeRaw("lim-4", 1, "600").with("From", "<sip:tybalt@sip.example>;tag=t")
	if res := p.send(t, "udp", udp, tyb); res.StatusCode != 503 || header(res, "Retry-After") != "60" {
		t.Errorf("third in total: %d", res.StatusCode)
	}
	if logs.await(t, map[string]any{"msg": "subscription limit reached", "status": 503.0}) == nil {
		t.Error("total limit not logged")
	}
	// A fetch creates no dialog and is not limited.
	acceptSub(t, e, h, p, "udp", p.subscribeRaw("lim-5", 1, "0"))

	res = p.send(t, "udp", udp, p.subscribeRaw("lim-1", 1, "0").inDialog(gwTag, 2))
	if res.StatusCode != 200 {
		t.Fatalf("unsubscribe: %d", res.StatusCode)
	}
	h.next(t, "subscribe")
	p.next(t, sip.NOTIFY)
	acceptSub(t, e, h, p, "udp", tyb)
}

// TestSubscribeRate checks SubscribeRate: a source over its rate gets 503
// with Retry-After, logged once per burst, and other sources are not
// affected.
func TestSubscribeRate(t *testing.T) {
	h := newFakePresence()
	e, logs := newCheckEndpoint(t, Config{SubscribeRate: 2}, h)
	now := time.Unix(1000, 0)
	e.subs.rate.now = func() time.Time { return now }
	// Requests without Event pass the rate check and then fail with 489.
	r := rawReq{method: "SUBSCRIBE", ruri: "sip:juliet@xmpp.example", headers: [][2]string{
		{"Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1"}, {"From", "<sip:romeo@sip.example>;tag=a"},
		{"To", "<sip:juliet@xmpp.example>"}, {"Call-ID", "rate"}, {"CSeq", "1 SUBSCRIBE"}}}
	var got []int
	for i := range 4 {
		res := serveSub(t, e, r.with("CSeq", fmt.Sprintf("%d SUBSCRIBE", i+1)), "192.0.2.10:5060")
		got = append(got, res.StatusCode)
		if res.StatusCode == 503 && header(res, "Retry-After") != "1" {
			t.Errorf("Retry-After %q", header(res, "Retry-After"))
		}
	}
	diff(t, "statuses", got, []int{489, 489, 503, 503})
	if res := serveSub(t, e, r, "192.0.2.11:5060"); res.StatusCode != 489 {
		t.Errorf("another source: %d", res.StatusCode)
	}
	now = now.Add(time.Second)
	if res := serveSub(t, e, r, "192.0.2.10:5060"); res.StatusCode != 489 {
		t.Errorf("a second later: %d", res.StatusCode)
	}
	warn := 0
	for _, rec := range logs.records(t) {
		if rec["msg"] == "SUBSCRIBE rate exceeded" && rec["level"] == "WARN" {
			warn++
		}
	}
	if warn != 1 {
		t.Errorf("%d warnings for one burst, want 1", warn)
	}
}

// TestOptionsPresence checks the capabilities with presence on (RFC 6665
// §4.1.1, §4.4.4) and the 405 to PUBLISH, which the gateway sends but does
// not serve.
func TestOptionsPresence(t *testing.T) {
	e, _ := newCheckEndpoint(t, Config{}, newFakePresence())
	opt := defaultMessage()
	opt.method, opt.body = "OPTIONS", ""
	req := opt.with("CSeq", "1 OPTIONS").without("Content-Type").parse(t, "192.0.2.10:5060")
	rec := siptest.NewServerTxRecorder(req)
	e.onOptions(req, rec)
	h := headerMap(rec.Result()[0])
	if h["allow"] != "MESSAGE, OPTIONS, SUBSCRIBE, NOTIFY" || h["allow-events"] != "presence" ||
		!strings.Contains(h["accept"], "application/pidf+xml") {
		t.Errorf("OPTIONS: %v", h)
	}
	pub := opt
	pub.method = "PUBLISH"
	req = pub.with("CSeq", "1 PUBLISH").parse(t, "192.0.2.10:5060")
	rec = siptest.NewServerTxRecorder(req)
	e.onOther(req, rec)
	res := rec.Result()[0]
	if res.StatusCode != 405 || header(res, "Allow") != "MESSAGE, OPTIONS, SUBSCRIBE, NOTIFY" {
		t.Errorf("PUBLISH: %d Allow %q", res.StatusCode, header(res, "Allow"))
	}
}
