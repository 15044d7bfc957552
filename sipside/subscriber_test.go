package sipside

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"cpimgw/cpim"
	"cpimgw/store"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
)

// newSubscriberSetup is a running presence endpoint whose outbound proxy
// is a loopback peer standing for the presence server.
func newSubscriberSetup(t *testing.T, cfg Config) (*Endpoint, *fakePresence, *sipPeer) {
	t.Helper()
	p := startSIPPeer(t)
	cfg.OutboundProxy = "sip:" + p.addr()
	h := newFakePresence()
	e, _ := newPresenceEndpoint(t, cfg, h)
	return e, h, p
}

// checkInitialSubscribe checks a new-dialog SUBSCRIBE from juliet to romeo
// (INTERWORKING.md §3.7 X2S first row, SUB-01).
func checkInitialSubscribe(t *testing.T, e *Endpoint, p *sipPeer, sub *sip.Request, expires string) {
	t.Helper()
	var routes []string
	for _, h := range sub.GetHeaders("Route") {
		routes = append(routes, h.Value())
	}
	diff(t, "Route", routes, []string{"<sip:" + p.addr() + ";lr>"})
	if sub.Recipient.String() != "sip:romeo@sip.example" || sub.To().Address.String() != "sip:romeo@sip.example" ||
		tagOf(sub.To()) != "" {
		t.Errorf("Request-URI %s, To %s", sub.Recipient.String(), sub.To().Value())
	}
	if sub.From().Address.String() != "sip:juliet@xmpp.example" || tagOf(sub.From()) == "" {
		t.Errorf("From %s", sub.From().Value())
	}
	if header(sub, "Event") != "presence" || header(sub, "Accept") != "application/pidf+xml" ||
		header(sub, "Expires") != expires || sub.MaxForwards().Val() != 70 {
		t.Errorf("Event %q Accept %q Expires %q Max-Forwards %v", header(sub, "Event"), header(sub, "Accept"),
			header(sub, "Expires"), sub.MaxForwards())
	}
	if c := sub.Contact(); c == nil || c.Address.String() != "sip:"+addrOf(t, e, "udp") {
		t.Errorf("Contact %v, want the UDP listener", sub.Contact())
	}
	if sub.CSeq().MethodName != sip.SUBSCRIBE || sub.CallID() == nil || len(sub.Body()) != 0 {
		t.Errorf("CSeq %s", sub.CSeq().Value())
	}
}

// establish subscribes juliet to romeo and answers 200 with the peer's tag
// "pres1", Expires 600, a Contact and a Record-Route; it returns the
// SUBSCRIBE.
func establish(t *testing.T, e *Endpoint, p *sipPeer) *sip.Request {
	t.Helper()
	p.setAnswer(func(req *sip.Request) *sip.Response {
		return ok(req, "pres1", "Expires: 600", "Contact: <sip:presence@"+p.addr()+">",
			"Record-Route: <sip:"+p.addr()+";lr;rr=ok>")
	})
	if err := e.Subscribe(context.Background(), juliet, romeo); err != nil {
		t.Fatal(err)
	}
	sub := p.next(t, sip.SUBSCRIBE)
	waitSettled(t, e)
	return sub
}

// waitSettled waits until the endpoint handled the final response to a
// SUBSCRIBE: Subscribe does nothing while one is outstanding.
func waitSettled(t *testing.T, e *Endpoint) subOp {
	t.Helper()
	select {
	case op := <-e.subs.settled:
		return op
	case <-time.After(10 * time.Second):
		t.Fatal("no final response to the SUBSCRIBE handled")
	}
	return 0
}

// TestSubscriberFlow runs a whole X2S subscription against a loopback
// presence server: the new-dialog SUBSCRIBE, its 200 (stored dialog),
// NOTIFY pending (Notified, no presence: SUB-02 is the core's), NOTIFY
// active with PIDF and Content-Language (mapped presence, RFC 8048 §6.3),
// a refresh in the dialog (remote target from the NOTIFY's Contact, route
// set from the first NOTIFY's Record-Route, RFC 6665 §4.4.1; CSeq+1), an
// unsubscription (Expires: 0; the final NOTIFY answered 200 and not
// reported; dialog out of the store), then 481 in the ended dialog.
func TestSubscriberFlow(t *testing.T) {
	st := newMemStore()
	e, h, p := newSubscriberSetup(t, Config{Store: st})
	ctx := context.Background()
	udp := addrOf(t, e, "udp")
	sub := establish(t, e, p)
	checkInitialSubscribe(t, e, p, sub, "3600")
	if sub.CSeq().SeqNo != 1 {
		t.Errorf("CSeq %d", sub.CSeq().SeqNo)
	}

	rr := [2]string{"Record-Route", "<sip:" + p.addr() + ";lr;rr=notify>"}
	if res := p.send(t, "udp", udp, p.notifyRaw(sub, "pres1", 1, "pending;expires=600", "", rr)); res.StatusCode != 200 {
		t.Fatalf("NOTIFY pending: %d", res.StatusCode)
	}
	ev := h.next(t, "notified")
	diff(t, "pending", ev.n, cpim.Notification{State: cpim.SubPending, Expires: 600 * time.Second})
	if ev.watcher != juliet || ev.target != romeo {
		t.Errorf("pair %v → %v", ev.watcher, ev.target)
	}
	stored := storedDialogs(t, st)
	if len(stored) != 1 || stored[0].Role != store.Subscriber || stored[0].RemoteTag != "pres1" ||
		stored[0].LocalTag != tagOf(sub.From()) || stored[0].CallID != sub.CallID().Value() ||
		stored[0].Watcher != "juliet@xmpp.example" || stored[0].Target != "romeo@sip.example" ||
		stored[0].LocalCSeq < 1 || stored[0].State != cpim.SubPending {
		t.Fatalf("stored %+v", stored)
	}

	res := p.send(t, "udp", udp, p.notifyRaw(sub, "pres1", 2, "active;expires=599", romeoPIDF, [2]string{"Content-Language", "de"}))
	if res.StatusCode != 200 {
		t.Fatalf("NOTIFY active: %d", res.StatusCode)
	}
	ev = h.next(t, "notified")
	want := cpim.Notification{State: cpim.SubActive, Expires: 599 * time.Second, Presence: &cpim.Presence{
		Entity: romeo, Watcher: juliet, Lang: "de",
		Tuples: []cpim.Tuple{{Resource: "phone", Basic: cpim.Open, Show: cpim.ShowAway, Notes: []cpim.Text{{Text: "Im Garten"}}}},
	}}
	diff(t, "active", ev.n, want)

	// Refresh.
	p.setAnswer(func(req *sip.Request) *sip.Response { return ok(req, "pres1", "Expires: 600") })
	if err := e.Subscribe(ctx, juliet, romeo); err != nil {
		t.Fatal(err)
	}
	ref := p.next(t, sip.SUBSCRIBE)
	var routes []string
	for _, hd := range ref.GetHeaders("Route") {
		routes = append(routes, hd.Value())
	}
	diff(t, "refresh Route", routes, []string{"<sip:" + p.addr() + ";lr;rr=notify>"})
	if ref.Recipient.String() != "sip:presence@"+p.addr() || tagOf(ref.To()) != "pres1" ||
		tagOf(ref.From()) != tagOf(sub.From()) || ref.CallID().Value() != sub.CallID().Value() ||
		ref.CSeq().SeqNo != 2 || header(ref, "Expires") != "3600" {
		t.Errorf("refresh: %s To %s CSeq %d Expires %q", ref.Recipient.String(), ref.To().Value(), ref.CSeq().SeqNo, header(ref, "Expires"))
	}
	if res := p.send(t, "udp", udp, p.notifyRaw(sub, "pres1", 3, "active;expires=600", romeoPIDF)); res.StatusCode != 200 {
		t.Fatalf("NOTIFY after refresh: %d", res.StatusCode)
	}
	h.next(t, "notified")

	// Unsubscribe.
	if err := e.Unsubscribe(ctx, juliet, romeo); err != nil {
		t.Fatal(err)
	}
	un := p.next(t, sip.SUBSCRIBE)
	if header(un, "Expires") != "0" || un.CSeq().SeqNo != 3 || tagOf(un.To()) != "pres1" {
		t.Errorf("unsubscribe: Expires %q CSeq %d", header(un, "Expires"), un.CSeq().SeqNo)
	}
	if len(storedDialogs(t, st)) != 0 {
		t.Errorf("unsubscribed dialog still stored")
	}
	if res := p.send(t, "udp", udp, p.notifyRaw(sub, "pres1", 4, "terminated;reason=timeout", "")); res.StatusCode != 200 {
		t.Fatalf("final NOTIFY: %d", res.StatusCode)
	}
	if res := p.send(t, "udp", udp, p.notifyRaw(sub, "pres1", 5, "active;expires=10", "")); res.StatusCode != 481 {
		t.Errorf("NOTIFY in the ended dialog: %d, want 481", res.StatusCode)
	}
	h.none(t)
	if err := e.Unsubscribe(ctx, juliet, romeo); err != nil {
		t.Errorf("Unsubscribe without subscription: %v", err)
	}
	p.nothing(t, 100*time.Millisecond)
}

// TestSubscriberNotifyBefore2xx checks a NOTIFY that arrives before the
// 200 to the SUBSCRIBE (RFC 6665 §4.1.2.4 MUST): it is accepted and
// reported, its From tag becomes the remote tag; the 2xx from another
// fork does not change it, and a NOTIFY from that fork gets 481 [D].
func TestSubscriberNotifyBefore2xx(t *testing.T) {
	e, h, p := newSubscriberSetup(t, Config{})
	udp := addrOf(t, e, "udp")
	notified := make(chan int, 1)
	p.setAnswer(func(req *sip.Request) *sip.Response {
		res, err := p.sendErr("udp", udp, p.notifyRaw(req, "pres1", 1, "active;expires=600", romeoPIDF))
		if err != nil {
			notified <- 0
		} else {
			notified <- res.StatusCode
		}
		return ok(req, "pres2", "Expires: 600")
	})
	if err := e.Subscribe(context.Background(), juliet, romeo); err != nil {
		t.Fatal(err)
	}
	sub := p.next(t, sip.SUBSCRIBE)
	if s := <-notified; s != 200 {
		t.Fatalf("early NOTIFY: %d", s)
	}
	waitSettled(t, e)
	if ev := h.next(t, "notified"); ev.n.State != cpim.SubActive || ev.n.Presence == nil {
		t.Errorf("Notified %+v", ev.n)
	}
	p.setAnswer(nil)
	if res := p.send(t, "udp", udp, p.notifyRaw(sub, "pres2", 1, "active;expires=600", "")); res.StatusCode != 481 {
		t.Errorf("NOTIFY of another fork: %d, want 481", res.StatusCode)
	}
	if res := p.send(t, "udp", udp, p.notifyRaw(sub, "pres1", 2, "active;expires=600", "")); res.StatusCode != 200 {
		t.Errorf("NOTIFY of the dialog: %d", res.StatusCode)
	}
	h.next(t, "notified")
	if err := e.Subscribe(context.Background(), juliet, romeo); err != nil {
		t.Fatal(err)
	}
	if ref := p.next(t, sip.SUBSCRIBE); tagOf(ref.To()) != "pres1" {
		t.Errorf("refresh To tag %q, want the NOTIFY's", tagOf(ref.To()))
	}
}

// TestSubscriberInitialResponses checks the final responses to a new
// SUBSCRIBE (INTERWORKING.md §3.7 X2S error rows): failures are reported
// with their status and initial set, and the dialog is gone (a NOTIFY for
// it gets 481); 423 is retried once with Min-Expires (RFC 6665 §4.1.2.1);
// 401 is answered with the credentials; no answer is 408, reported once
// although Timer F and Timer N both fire.
func TestSubscriberInitialResponses(t *testing.T) {
	tests := map[string]struct {
		cfg     Config
		answers []string // status and headers of each answer, "" no answer
		status  int      // reported failure; 0: success
		check   func(t *testing.T, reqs []*sip.Request)
	}{
		"403":                  {answers: []string{"403"}, status: 403},
		"404":                  {answers: []string{"404"}, status: 404},
		"489":                  {answers: []string{"489"}, status: 489},
		"603":                  {answers: []string{"603"}, status: 603},
		"500 with Retry-After": {answers: []string{"500|Retry-After: 30"}, status: 500},
		"423 then 200": {answers: []string{"423|Min-Expires: 7200", "200|Expires: 7200"},
			check: func(t *testing.T, reqs []*sip.Request) {
				if header(reqs[1], "Expires") != "7200" || reqs[1].CSeq().SeqNo != 2 ||
					reqs[1].CallID().Value() != reqs[0].CallID().Value() {
					t.Errorf("retry Expires %q CSeq %d", header(reqs[1], "Expires"), reqs[1].CSeq().SeqNo)
				}
			}},
		"423 twice": {answers: []string{"423|Min-Expires: 7200", "423|Min-Expires: 9000"}, status: 423},
		"401 with credentials": {cfg: Config{Username: "gw", Password: "pw"},
			answers: []string{`401|WWW-Authenticate: Digest realm="sip.example", nonce="n1"`, "200|Expires: 600"},
			check: func(t *testing.T, reqs []*sip.Request) {
				if !strings.Contains(header(reqs[1], "Authorization"), `username="gw"`) || reqs[1].CSeq().SeqNo != 2 {
					t.Errorf("retry: %q CSeq %d", header(reqs[1], "Authorization"), reqs[1].CSeq().SeqNo)
				}
			}},
		"401 without credentials": {answers: []string{`401|WWW-Authenticate: Digest realm="x", nonce="n"`}, status: 401},
		"no answer":               {cfg: Config{TransactionTimeout: time.Second}, answers: []string{""}, status: 408},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e, h, p := newSubscriberSetup(t, tc.cfg)
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
				if status == 200 {
					return ok(req, "pres1", parts[1:]...)
				}
				return respondTo(req, status, parts[1:]...)
			})
			if err := e.Subscribe(context.Background(), juliet, romeo); err != nil {
				t.Fatal(err)
			}
			var reqs []*sip.Request
			for range tc.answers {
				reqs = append(reqs, p.next(t, sip.SUBSCRIBE))
			}
			checkInitialSubscribe(t, e, p, reqs[0], "3600")
			if tc.check != nil {
				tc.check(t, reqs)
			}
			if tc.status == 0 {
				res := p.send(t, "udp", addrOf(t, e, "udp"), p.notifyRaw(reqs[0], "pres1", 1, "active;expires=600", ""))
				if res.StatusCode != 200 {
					t.Errorf("NOTIFY: %d", res.StatusCode)
				}
				h.next(t, "notified")
				return
			}
			ev := h.next(t, "failed")
			if ev.err.Status != tc.status || !ev.initial || ev.watcher != juliet || ev.target != romeo {
				t.Errorf("SubscribeFailed %+v %+v", ev, ev.err)
			}
			res := p.send(t, "udp", addrOf(t, e, "udp"), p.notifyRaw(reqs[0], "pres1", 1, "active;expires=600", ""))
			if res.StatusCode != 481 {
				t.Errorf("NOTIFY for the failed subscription: %d, want 481", res.StatusCode)
			}
			if tc.status == 408 {
				select {
				case ev := <-h.events:
					t.Errorf("second report %+v", ev)
				case <-time.After(2500 * time.Millisecond): // past Timer N and Timer F
				}
			}
			h.none(t)
		})
	}
}

// TestSubscriberRefreshResponses checks failures of a refresh (RFC 6665
// §4.1.2.2, SUB-23): 481 and the other listed codes end the dialog (the
// next Subscribe starts a new one), other codes keep it until it expires;
// both are reported with initial false.
func TestSubscriberRefreshResponses(t *testing.T) {
	for _, tc := range []struct {
		status int
		ends   bool
	}{{481, true}, {404, true}, {489, true}, {500, false}, {403, false}} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			e, h, p := newSubscriberSetup(t, Config{})
			sub := establish(t, e, p)
			p.send(t, "udp", addrOf(t, e, "udp"), p.notifyRaw(sub, "pres1", 1, "active;expires=600", ""))
			h.next(t, "notified")
			p.setAnswer(func(req *sip.Request) *sip.Response { return respondTo(req, tc.status) })
			if err := e.Subscribe(context.Background(), juliet, romeo); err != nil {
				t.Fatal(err)
			}
			p.next(t, sip.SUBSCRIBE)
			ev := h.next(t, "failed")
			if ev.err.Status != tc.status || ev.initial {
				t.Errorf("SubscribeFailed status %d initial %v", ev.err.Status, ev.initial)
			}
			p.setAnswer(nil)
			if err := e.Subscribe(context.Background(), juliet, romeo); err != nil {
				t.Fatal(err)
			}
			next := p.next(t, sip.SUBSCRIBE)
			newDialog := next.CallID().Value() != sub.CallID().Value()
			if newDialog != tc.ends {
				t.Errorf("after %d: new dialog %v (CSeq %d, To tag %q)", tc.status, newDialog, next.CSeq().SeqNo, tagOf(next.To()))
			}
			if !tc.ends && (next.CSeq().SeqNo != 3 || tagOf(next.To()) != "pres1") {
				t.Errorf("kept dialog: CSeq %d", next.CSeq().SeqNo)
			}
		})
	}
}

// TestSubscriberTimerN checks Timer N (RFC 6665 §4.1.2.4, INTERWORKING.md
// §11 correction 1): a 200 but no NOTIFY within 64·T1 of sending fails the
// subscription with 408 (initial, or not for a refresh) and drops the
// dialog; a late NOTIFY gets 481.
func TestSubscriberTimerN(t *testing.T) {
	t.Run("initial", func(t *testing.T) {
		e, h, p := newSubscriberSetup(t, Config{})
		e.subs.timerN = 300 * time.Millisecond
		sub := establish(t, e, p)
		ev := h.next(t, "failed")
		if ev.err.Status != 408 || !ev.initial {
			t.Errorf("SubscribeFailed %+v initial %v", ev.err, ev.initial)
		}
		res := p.send(t, "udp", addrOf(t, e, "udp"), p.notifyRaw(sub, "pres1", 1, "active;expires=600", ""))
		if res.StatusCode != 481 {
			t.Errorf("late NOTIFY: %d, want 481", res.StatusCode)
		}
	})
	t.Run("refresh", func(t *testing.T) {
		e, h, p := newSubscriberSetup(t, Config{})
		sub := establish(t, e, p)
		p.send(t, "udp", addrOf(t, e, "udp"), p.notifyRaw(sub, "pres1", 1, "active;expires=600", ""))
		h.next(t, "notified")
		e.subs.mu.Lock()
		e.subs.timerN = 300 * time.Millisecond
		e.subs.mu.Unlock()
		if err := e.Subscribe(context.Background(), juliet, romeo); err != nil {
			t.Fatal(err)
		}
		p.next(t, sip.SUBSCRIBE)
		ev := h.next(t, "failed")
		if ev.err.Status != 408 || ev.initial {
			t.Errorf("SubscribeFailed %+v initial %v", ev.err, ev.initial)
		}
	})
}

// TestSubscriberRefreshDueAndLapse checks the refresh schedule: RefreshDue
// at 80 % of the granted Expires (at most what was asked), and, when the
// core lets the subscription lapse and the notifier sends nothing, a
// Notified terminated;reason=timeout after the expiry [D].
func TestSubscriberRefreshDueAndLapse(t *testing.T) {
	st := newMemStore()
	e, h, p := newSubscriberSetup(t, Config{Store: st})
	p.setAnswer(func(req *sip.Request) *sip.Response { return ok(req, "pres1", "Expires: 2") })
	start := time.Now()
	if err := e.Subscribe(context.Background(), juliet, romeo); err != nil {
		t.Fatal(err)
	}
	sub := p.next(t, sip.SUBSCRIBE)
	p.send(t, "udp", addrOf(t, e, "udp"), p.notifyRaw(sub, "pres1", 1, "active;expires=2", ""))
	h.next(t, "notified")
	h.next(t, "refresh")
	if d := time.Since(start); d < 1200*time.Millisecond || d > 2*time.Second {
		t.Errorf("RefreshDue after %v, want about 1.6 s", d)
	}
	ev := h.next(t, "notified")
	diff(t, "lapse", ev.n, cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonTimeout})
	if len(storedDialogs(t, st)) != 0 {
		t.Error("lapsed dialog still stored")
	}
}

// TestFetch checks Fetch (RFC 8048 §7.1, SUB-10): a SUBSCRIBE with
// Expires: 0 in a new dialog, beside the pair's subscription; its NOTIFY
// is reported with the presence and the dialog is gone.
func TestFetch(t *testing.T) {
	e, h, p := newSubscriberSetup(t, Config{})
	sub := establish(t, e, p)
	if err := e.Fetch(context.Background(), juliet, romeo); err != nil {
		t.Fatal(err)
	}
	f := p.next(t, sip.SUBSCRIBE)
	checkInitialSubscribe(t, e, p, f, "0")
	if f.CallID().Value() == sub.CallID().Value() || f.CSeq().SeqNo != 1 {
		t.Errorf("fetch in Call-ID %s CSeq %d", f.CallID().Value(), f.CSeq().SeqNo)
	}
	udp := addrOf(t, e, "udp")
	if res := p.send(t, "udp", udp, p.notifyRaw(f, "pres1", 1, "terminated;reason=timeout", romeoPIDF)); res.StatusCode != 200 {
		t.Fatalf("fetch NOTIFY: %d", res.StatusCode)
	}
	ev := h.next(t, "notified")
	if ev.n.State != cpim.SubTerminated || ev.n.Reason != cpim.ReasonTimeout || ev.n.Presence == nil ||
		len(ev.n.Presence.Tuples) != 1 {
		t.Errorf("fetch result %+v", ev.n)
	}
	if res := p.send(t, "udp", udp, p.notifyRaw(f, "pres1", 2, "terminated;reason=timeout", "")); res.StatusCode != 481 {
		t.Errorf("second fetch NOTIFY: %d", res.StatusCode)
	}
	if res := p.send(t, "udp", udp, p.notifyRaw(sub, "pres1", 1, "active;expires=600", "")); res.StatusCode != 200 {
		t.Errorf("subscription NOTIFY: %d", res.StatusCode)
	}
	h.next(t, "notified")
}

// TestUnsubscribeBeforeEstablished checks an Unsubscribe while the
// SUBSCRIBE is unanswered: once the 200 comes, the dialog is unsubscribed
// (Expires: 0 in it) and nothing is reported.
func TestUnsubscribeBeforeEstablished(t *testing.T) {
	e, h, p := newSubscriberSetup(t, Config{})
	release := make(chan struct{})
	p.setAnswer(func(req *sip.Request) *sip.Response {
		if header(req, "Expires") != "0" {
			<-release
		}
		return ok(req, "pres1", "Expires: 600")
	})
	if err := e.Subscribe(context.Background(), juliet, romeo); err != nil {
		t.Fatal(err)
	}
	sub := p.next(t, sip.SUBSCRIBE)
	if err := e.Unsubscribe(context.Background(), juliet, romeo); err != nil {
		t.Fatal(err)
	}
	close(release)
	un := p.next(t, sip.SUBSCRIBE)
	if header(un, "Expires") != "0" || tagOf(un.To()) != "pres1" || un.CallID().Value() != sub.CallID().Value() {
		t.Errorf("unsubscribe Expires %q To %s", header(un, "Expires"), un.To().Value())
	}
	res := p.send(t, "udp", addrOf(t, e, "udp"), p.notifyRaw(sub, "pres1", 1, "terminated;reason=timeout", ""))
	if res.StatusCode != 200 {
		t.Errorf("final NOTIFY: %d", res.StatusCode)
	}
	h.none(t)
}

// TestNotifyChecks checks the subscriber's handling of single NOTIFYs
// (RFC 6665 §4.1.3; SUB-25): the response and what Notified gets.
func TestNotifyChecks(t *testing.T) {
	base := rawReq{
		method: "NOTIFY",
		ruri:   "sip:127.0.0.1:5060",
		headers: [][2]string{
			{"Via", "SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK1"},
			{"Max-Forwards", "70"},
			{"From", "<sip:romeo@sip.example>;tag=pres1"},
			{"To", "<sip:juliet@xmpp.example>;tag=gw1"},
			{"Call-ID", "c1"},
			{"CSeq", "5 NOTIFY"},
			{"Contact", "<sip:presence@192.0.2.20>"},
			{"Event", "presence"},
			{"Subscription-State", "active;expires=300"},
		},
	}
	withBody := func(ct, body string) rawReq {
		r := base.with("Content-Type", ct)
		r.body = body
		return r
	}
	tests := map[string]struct {
		cfg    Config
		req    rawReq
		status int
		want   *cpim.Notification // what Notified gets; nil: no call
		ends   bool
	}{
		"active":                     {req: base, status: 200, want: &cpim.Notification{State: cpim.SubActive, Expires: 300 * time.Second}},
		"compact Event":              {req: base.without("Event").with("o", "presence"), status: 200, want: &cpim.Notification{State: cpim.SubActive, Expires: 300 * time.Second}},
		"no expires is accepted":     {req: base.with("Subscription-State", "active"), status: 200, want: &cpim.Notification{State: cpim.SubActive}},
		"state case-insensitive":     {req: base.with("Subscription-State", "Pending;Expires=30"), status: 200, want: &cpim.Notification{State: cpim.SubPending, Expires: 30 * time.Second}},
		"terminated with retry":      {req: base.with("Subscription-State", "terminated;reason=probation;retry-after=120"), status: 200, want: &cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonProbation, RetryAfter: 120 * time.Second}, ends: true},
		"terminated ignores expires": {req: base.with("Subscription-State", "terminated;reason=rejected;expires=5"), status: 200, want: &cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonRejected}, ends: true},
		"broken PIDF":                {req: withBody("application/pidf+xml", "<presence"), status: 200, want: &cpim.Notification{State: cpim.SubActive, Expires: 300 * time.Second}},
		"not PIDF":                   {req: withBody("text/plain", "hello"), status: 200, want: &cpim.Notification{State: cpim.SubActive, Expires: 300 * time.Second}},
		"PIDF of another entity (trust the dialog)": {req: withBody("application/pidf+xml", strings.Replace(romeoPIDF, "pres:romeo@sip.example", "pres:tybalt@sip.example", 1)),
			status: 200, want: &cpim.Notification{State: cpim.SubActive, Expires: 300 * time.Second, Presence: &cpim.Presence{
				Entity: romeo, Watcher: juliet, Tuples: []cpim.Tuple{{Resource: "phone", Basic: cpim.Open, Show: cpim.ShowAway, Notes: []cpim.Text{{Text: "Im Garten"}}}}}}},
		"untrusted source":         {cfg: Config{TrustedSources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, req: base, status: 403},
		"no Event":                 {req: base.without("Event"), status: 489},
		"another event":            {req: base.with("Event", "dialog"), status: 489},
		"another event id":         {req: base.with("Event", "presence;id=7"), status: 481},
		"no Subscription-State":    {req: base.without("Subscription-State"), status: 400},
		"bad Subscription-State":   {req: base.with("Subscription-State", "dormant"), status: 400},
		"bad expires":              {req: base.with("Subscription-State", "active;expires=soon"), status: 400},
		"unknown Call-ID (SUB-25)": {req: base.with("Call-ID", "c2"), status: 481},
		"wrong local tag":          {req: base.with("To", "<sip:juliet@xmpp.example>;tag=other"), status: 481},
		"no To tag":                {req: base.with("To", "<sip:juliet@xmpp.example>"), status: 481},
		"another fork":             {req: base.with("From", "<sip:romeo@sip.example>;tag=pres2"), status: 481},
		"old CSeq":                 {req: base.with("CSeq", "3 NOTIFY"), status: 500},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newFakePresence()
			e, _ := newCheckEndpoint(t, tc.cfg, h)
			d := &dialog{role: store.Subscriber, pair: pairKey(store.X2S, juliet, romeo), watcher: juliet, target: romeo,
				callID: "c1", localTag: "gw1", remoteTag: "pres1", established: true, remoteCSeq: 4, remoteCSeqSet: true}
			e.subs.subscribers["c1"] = d
			e.subs.subscriberPairs[d.pair] = d
			req := tc.req.parse(t, "192.0.2.20:5060")
			rec := siptest.NewServerTxRecorder(req)
			e.onNotify(req, rec)
			res := rec.Result()[0]
			if res.StatusCode != tc.status {
				t.Fatalf("status %d %s, want %d", res.StatusCode, res.Reason, tc.status)
			}
			if tc.status == 489 && header(res, "Allow-Events") != "presence" {
				t.Errorf("489 without Allow-Events")
			}
			if tc.want == nil {
				h.none(t)
				return
			}
			ev := h.next(t, "notified")
			diff(t, "notification", ev.n, *tc.want)
			e.subs.mu.Lock()
			_, kept := e.subs.subscribers["c1"]
			e.subs.mu.Unlock()
			if kept == tc.ends {
				t.Errorf("dialog kept %v", kept)
			}
		})
	}
}
