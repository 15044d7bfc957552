package sipside

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"cpimgw/cpim"
	"cpimgw/internal/fuzzseed"
	"cpimgw/store"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
	"mellium.im/xmpp/jid"
)

// FuzzSubscriptionState checks the Subscription-State codec (RFC 6665
// §8.4): a value that parses, written back as the gateway writes it, is a
// safe header value that parses to the same state, expires, reason and
// retry-after.
func FuzzSubscriptionState(f *testing.F) {
	fuzzseed.Add(f, "FuzzSubscriptionState") // found-* files: inputs the fuzzer found
	f.Fuzz(func(t *testing.T, in []byte) {
		st, err := parseSubState(string(in))
		if err != nil {
			return
		}
		remaining := st.expires
		out := subStateValue(st.state, st.reason, st.retryAfter, remaining)
		if strings.ContainsAny(out, "\r\n\x00 ,\"") {
			t.Fatalf("unsafe value %q", out)
		}
		back, err := parseSubState(out)
		if err != nil {
			t.Fatalf("%q → %q does not parse: %v", in, out, err)
		}
		if back.state != st.state || back.reason != st.reason || back.retryAfter != st.retryAfter ||
			(st.hasExpires && back.expires != st.expires) {
			t.Fatalf("%q → %q → %+v, want %+v", in, out, back, st)
		}
	})
}

// FuzzNotifyRequest sends arbitrary header lines and bodies in a NOTIFY of
// a subscriber dialog (the input's first blank line separates them). The
// answer must be one the subscriber may give (RFC 6665 §4.1.3), a 200
// must come with exactly one Notified call carrying a defined state, and
// a presence in it must be the dialog's target's, to its watcher, with
// resources XMPP can carry (INTERWORKING.md §3.3).
func FuzzNotifyRequest(f *testing.F) {
	fuzzseed.Add(f, "FuzzNotifyRequest") // found-* files: inputs the fuzzer found
	h := newFakePresence()
	e, _ := newCheckEndpoint(f, Config{}, h)
	f.Fuzz(func(t *testing.T, in []byte) {
		head, body, _ := bytes.Cut(in, []byte("\n\n"))
		var b strings.Builder
		b.WriteString("NOTIFY sip:127.0.0.1:5060 SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK1\r\n" +
			"From: <sip:romeo@sip.example>;tag=pres1\r\n" +
			"To: <sip:juliet@xmpp.example>;tag=gw1\r\n" +
			"Call-ID: c1\r\nCSeq: 5 NOTIFY\r\nEvent: presence\r\n")
		for line := range strings.SplitSeq(string(head), "\n") {
			if line = strings.TrimRight(line, "\r"); line != "" {
				b.WriteString(line + "\r\n")
			}
		}
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
		b.Write(body)
		m, err := sip.ParseMessage([]byte(b.String()))
		if err != nil {
			return
		}
		req, ok := m.(*sip.Request)
		if !ok {
			return
		}
		req.SetSource("192.0.2.20:5060")
		s := e.subs
		d := &dialog{role: store.Subscriber, pair: pairKey(store.X2S, juliet, romeo), watcher: juliet, target: romeo,
			callID: "c1", localTag: "gw1", remoteTag: "pres1", established: true, routeFromNotify: true}
		s.mu.Lock()
		s.subscribers["c1"] = d
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.removeSubscriber(d)
			s.mu.Unlock()
		}()
		rec := siptest.NewServerTxRecorder(req)
		e.onNotify(req, rec)
		res := rec.Result()
		rec.Terminate()
		if len(res) != 1 {
			t.Fatalf("%d responses", len(res))
		}
		switch res[0].StatusCode {
		case 200:
		case 400, 481, 489, 500:
			select {
			case ev := <-h.events:
				if ev.kind != "refresh" {
					t.Fatalf("refused NOTIFY reported: %+v", ev)
				}
			default:
			}
			return
		default:
			t.Fatalf("status %d", res[0].StatusCode)
		}
		var ev event
		for ev.kind == "" || ev.kind == "refresh" { // a short expires makes RefreshDue of an earlier input come
			select {
			case ev = <-h.events:
			case <-time.After(5 * time.Second):
				t.Fatal("accepted NOTIFY not reported")
			}
		}
		if ev.kind != "notified" || ev.watcher != juliet || ev.target != romeo {
			t.Fatalf("event %+v", ev)
		}
		switch ev.n.State {
		case cpim.SubActive, cpim.SubPending, cpim.SubTerminated:
		default:
			t.Fatalf("state %q", ev.n.State)
		}
		if p := ev.n.Presence; p != nil {
			if !p.Entity.Equal(romeo) || !p.Watcher.Equal(juliet) {
				t.Fatalf("presence of %v to %v", p.Entity, p.Watcher)
			}
			for _, tu := range p.Tuples {
				if tu.Resource == "" {
					continue
				}
				if j, err := jid.New("juliet", "xmpp.example", tu.Resource); err != nil || j.Resourcepart() != tu.Resource {
					t.Fatalf("resource %q is not an XMPP resourcepart: %v", tu.Resource, err)
				}
			}
		}
	})
}

// FuzzSubscribeRequest sends SUBSCRIBEs with arbitrary extra header lines
// (the input, one per line; they may repeat or replace Event, Expires,
// Accept, To, Contact…) to the notifier. The answer must be one of the
// notifier's (INTERWORKING.md §3.7), a 423 must carry Min-Expires and a
// 489 Allow-Events; a 200 must grant no more than asked and the maximum
// (SUB-14), carry a Contact and a tag, and be followed by one NOTIFY in
// its dialog with a Subscription-State and the dialog's Event (SUB-12,
// SUB-15).
func FuzzSubscribeRequest(f *testing.F) {
	fuzzseed.Add(f, "FuzzSubscribeRequest") // found-* files: inputs the fuzzer found
	h := newFakePresence()
	h.setAnswer(func(cpim.Subscription) (cpim.Notification, error) {
		return cpim.Notification{State: cpim.SubPending}, nil
	})
	e, _ := newCheckEndpoint(f, Config{}, h)
	notifies := make(chan *sip.Request, 16)
	e.cli.TxRequester = &siptest.ClientTxRequester{OnRequest: func(req *sip.Request) *sip.Response {
		notifies <- req
		return sip.NewResponseFromRequest(req, 200, "OK", nil)
	}}
	allowed := map[int]bool{200: true, 400: true, 403: true, 404: true, 406: true, 416: true, 420: true, 423: true,
		480: true, 481: true, 483: true, 489: true, 500: true, 503: true, 603: true}
	f.Fuzz(func(t *testing.T, in []byte) {
		var b strings.Builder
		b.WriteString("SUBSCRIBE sip:juliet@xmpp.example SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\r\n" +
			"From: <sip:romeo@sip.example>;tag=r1\r\n" +
			"Call-ID: fz\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:romeo@192.0.2.10>\r\nEvent: presence\r\n")
		extra := strings.ReplaceAll(string(in), "\r", "")
		if !strings.Contains(strings.ToLower(extra), "to:") {
			b.WriteString("To: <sip:juliet@xmpp.example>\r\n")
		}
		for line := range strings.SplitSeq(extra, "\n") {
			if line != "" {
				b.WriteString(line + "\r\n")
			}
		}
		b.WriteString("Content-Length: 0\r\n\r\n")
		m, err := sip.ParseMessage([]byte(b.String()))
		if err != nil {
			return
		}
		req, ok := m.(*sip.Request)
		if !ok {
			return
		}
		req.SetSource("192.0.2.10:5060")
		req.SetTransport("UDP")
		defer func() {
			e.subs.mu.Lock()
			ds := make([]*dialog, 0, len(e.subs.notifiers))
			for _, d := range e.subs.notifiers {
				ds = append(ds, d)
			}
			e.subs.mu.Unlock()
			for _, d := range ds {
				e.subs.endNotifier(d, "")
			}
		}()
		rec := siptest.NewServerTxRecorder(req)
		e.onSubscribe(req, rec)
		results := rec.Result()
		rec.Terminate()
		if len(results) != 1 {
			t.Fatalf("%d responses", len(results))
		}
		res := results[0]
		if !allowed[res.StatusCode] {
			t.Fatalf("status %d %s", res.StatusCode, res.Reason)
		}
		asked := false
		select {
		case ev := <-h.events:
			asked = ev.kind == "subscribe"
		default:
		}
		reqExp, present, okExp := expiresOf(req, "Expires")
		switch res.StatusCode {
		case 423:
			if header(res, "Min-Expires") != "60" || !present || reqExp == 0 || reqExp >= 60 {
				t.Fatalf("423 with Min-Expires %q for Expires %d", header(res, "Min-Expires"), reqExp)
			}
		case 489:
			if header(res, "Allow-Events") != "presence" {
				t.Fatal("489 without Allow-Events")
			}
		case 200:
			granted, _, ok := expiresOf(res, "Expires")
			if !ok || !okExp || granted > 3600 || (present && granted > reqExp) || (!present && granted != 3600) {
				t.Fatalf("granted %q for %q", header(res, "Expires"), header(req, "Expires"))
			}
			if res.Contact() == nil || tagOf(res.To()) == "" || !asked {
				t.Fatalf("200 Contact %v To %s asked %v", res.Contact(), res.To().Value(), asked)
			}
			var n *sip.Request
			select {
			case n = <-notifies:
			case <-time.After(5 * time.Second):
				t.Fatal("no NOTIFY after the 200")
			}
			_, id, _ := eventOf(req)
			if n.CallID().Value() != "fz" || tagOf(n.From()) != tagOf(res.To()) || header(n, "Subscription-State") == "" ||
				header(n, "Event") != eventValue(id) {
				t.Fatalf("NOTIFY:\n%s", n)
			}
			if !isToken(id) && id != "" {
				t.Fatalf("event id %q echoed", id)
			}
		}
	})
}
