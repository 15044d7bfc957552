package peers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// requireKamailio is requireBinary for Kamailio and its presence modules.
func requireKamailio(t *testing.T) {
	t.Helper()
	requireBinary(t, KamailioBinary)
	if _, err := kamailioModules(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kamailio's presence modules are required in CI: %v", err)
		}
		t.Skip(err)
	}
}

// bobPIDF is what bob publishes: open, with a note in German (RFC 3863).
const bobPIDF = `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:bob@sip.example.test">
<tuple id="bob-phone"><status><basic>open</basic></status></tuple>
<note xml:lang="de">Im Büro</note>
</presence>`

// TestKamailioPresenceServer proves the harness against real Kamailio:
// sipp user agents PUBLISH and SUBSCRIBE to it as the SIP users' presence
// server, and SUBSCRIBE and MESSAGE requests for the gateway's domain go
// through it to a sipp standing in for the gateway, NOTIFYs coming back
// along the recorded route. The subtests share one Kamailio and run in
// order.
func TestKamailioPresenceServer(t *testing.T) {
	requireKamailio(t)
	requireBinary(t, SIPpBinary)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	gwPort, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	davePort, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	gw := fmt.Sprintf("127.0.0.1:%d", gwPort)
	k, err := NewKamailio(KamailioOptions{
		Dir: filepath.Join(dir, "kamailio"), SIPDomain: "sip.example.test",
		GatewayDomains: []string{"xmpp.example.test"}, Gateway: gw,
		Users: map[string]string{"dave": fmt.Sprintf("127.0.0.1:%d", davePort)},
		Logf:  t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Check(); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Stop)
	t.Logf("kamailio listening on %s after %v", k.Addr(), time.Since(started))

	sipps := kamailioSIPp{ctx: ctx, dir: dir, k: k}

	// PUBLISH (RFC 3903 §4): an initial publication, then a refresh with
	// the entity-tag of the first 2xx; each 2xx has a new SIP-ETag.
	t.Run("publish", func(t *testing.T) {
		xml, err := PublishUAC{RequestURI: "sip:bob@sip.example.test",
			Steps: []PublishStep{{Expires: 60, Body: bobPIDF}, {Expires: 60}}}.Render()
		msgs := sipps.finish(t, sipps.start(t, "publish", xml, err, 0))
		if !checkFlow(t, msgs, "> PUBLISH sip:bob@sip.example.test", "< SIP/2.0 200 OK", "> PUBLISH sip:bob@sip.example.test", "< SIP/2.0 200 OK") {
			t.Fatal(dump(msgs))
		}
		etag1, etag2 := header(msgs[1].Raw, "SIP-ETag"), header(msgs[3].Raw, "SIP-ETag")
		if etag1 == "" || etag2 == "" || etag1 == etag2 || header(msgs[1].Raw, "Expires") != "60" {
			t.Errorf("2xx to PUBLISH: want Expires 60 and a new SIP-ETag each:\n%s", dump(msgs))
		}
		if got := header(msgs[2].Raw, "SIP-If-Match"); got != etag1 || header(msgs[0].Raw, "SIP-If-Match") != "" {
			t.Errorf("refresh carries SIP-If-Match %q, want %q", got, etag1)
		}
		if body(msgs[2].Raw) != "" || header(msgs[2].Raw, "Content-Type") != "" {
			t.Errorf("refresh has a body:\n%s", msgs[2].Raw)
		}
	})

	// A watcher of a published presentity: 200 (not 202), an immediate
	// NOTIFY active with the published PIDF, and a final NOTIFY
	// terminated;reason=timeout after SUBSCRIBE Expires: 0.
	for _, tcp := range []bool{false, true} {
		name := "subscribe_local_udp"
		if tcp {
			name = "subscribe_local_tcp"
		}
		t.Run(name, func(t *testing.T) {
			xml, err := SubscribeUAC{RequestURI: "sip:bob@sip.example.test", From: "<sip:carol@sip.example.test>",
				Unsubscribe: true}.Render()
			if err != nil {
				t.Fatal(err)
			}
			s, err := StartSIPp(SIPpOptions{Dir: dir, Name: name, Scenario: xml, Calls: 1, TraceMsg: true, TCP: tcp,
				Remote: k.Addr(), Extra: []string{"-recv_timeout", "5000"}, Logf: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Stop)
			msgs := sipps.finish(t, s)
			if !checkFlow(t, msgs, "> SUBSCRIBE sip:bob@sip.example.test", "< SIP/2.0 200 OK", "< NOTIFY sip:watcher@", "> SIP/2.0 200",
				"> SUBSCRIBE sip:127.0.0.1:", "< SIP/2.0 200 OK", "< NOTIFY sip:watcher@", "> SIP/2.0 200") {
				return
			}
			ok, notify, final := msgs[1].Raw, msgs[2].Raw, msgs[6].Raw
			wantTransport := "udp"
			if tcp {
				wantTransport = "tcp"
			}
			if header(ok, "Expires") != "60" || header(ok, "Contact") != fmt.Sprintf("<sip:%s;transport=%s>", k.Addr(), wantTransport) {
				t.Errorf("200 to SUBSCRIBE:\n%s", ok)
			}
			checkNotify(t, notify, `active;expires=(60|59)`, "application/pidf+xml", "<basic>open</basic>", `<note xml:lang="de">Im Büro</note>`)
			// With a publication the final NOTIFY carries it too.
			checkNotify(t, final, `terminated;reason=timeout`, "application/pidf+xml", "<basic>open</basic>")
			if header(msgs[5].Raw, "Expires") != "0" {
				t.Errorf("200 to un-SUBSCRIBE:\n%s", msgs[5].Raw)
			}
		})
	}

	// What a watcher sees across the life of a publication (RFC 3903 §4):
	// nothing published → empty NOTIFY; initial → the document; refresh →
	// the same document again; modify → the new one; remove → a
	// synthesised closed PIDF without the note.
	t.Run("publication_lifecycle", func(t *testing.T) {
		mark := k.LogMark()
		xml, err := SubscribeUAC{RequestURI: "sip:erin@sip.example.test", From: "<sip:carol@sip.example.test>",
			Notifies: 4, Unsubscribe: true}.Render()
		watcher := sipps.start(t, "lifecycle_watcher", xml, err, 0)
		if _, err := k.WaitLog(ctx, mark, "notify-reply 200 for sip:erin@sip.example.test"); err != nil {
			t.Fatal(err)
		}
		pidf := func(basic, note string) string {
			return `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:erin@sip.example.test">
<tuple id="erin-pc"><status><basic>` + basic + `</basic></status></tuple>
<note>` + note + `</note>
</presence>`
		}
		// One sipp run per PUBLISH, each after the watcher answered the
		// NOTIFY of the previous one: Kamailio answers a PUBLISH before it
		// notifies, and with two workers the NOTIFYs of back-to-back
		// PUBLISHes were seen out of order (the initial document after the
		// removal).
		etag := ""
		for i, step := range []PublishStep{
			{Expires: 60, Body: pidf("open", "Da")},
			{Expires: 60},
			{Expires: 60, Body: pidf("closed", "Weg")},
			{Expires: 0},
		} {
			step.IfMatch = etag
			mark := k.LogMark()
			xml, err := PublishUAC{RequestURI: "sip:erin@sip.example.test", Steps: []PublishStep{step}}.Render()
			pub := sipps.finish(t, sipps.start(t, fmt.Sprintf("lifecycle_publish%d", i), xml, err, 0))
			if !checkFlow(t, pub, "> PUBLISH", "< SIP/2.0 200") {
				t.Fatal(dump(pub))
			}
			got := header(pub[1].Raw, "SIP-ETag")
			if i == 3 && got != etag || i < 3 && got == etag {
				t.Errorf("PUBLISH %d: SIP-ETag %q after %q: want a new one on refresh and modify, the same on removal", i, got, etag)
			}
			etag = got
			if _, err := k.WaitLog(ctx, mark, "notify-reply 200 for sip:erin@sip.example.test"); err != nil {
				t.Fatal(err)
			}
		}
		msgs := sipps.finish(t, watcher)
		notifies := receivedNotifies(t, msgs, 6)
		checkNotify(t, notifies[0], `active;expires=\d+`, "", "")
		checkNotify(t, notifies[1], `active;expires=\d+`, "application/pidf+xml", "<basic>open</basic>", "<note>Da</note>")
		checkNotify(t, notifies[2], `active;expires=\d+`, "application/pidf+xml", "<basic>open</basic>", "<note>Da</note>")
		checkNotify(t, notifies[3], `active;expires=\d+`, "application/pidf+xml", "<basic>closed</basic>", "<note>Weg</note>")
		checkNotify(t, notifies[4], `active;expires=\d+`, "application/pidf+xml", "<basic>closed</basic>", `id="erin-pc"`)
		if strings.Contains(body(notifies[4]), "<note") {
			t.Errorf("NOTIFY after removal keeps the note:\n%s", notifies[4])
		}
		checkNotify(t, notifies[5], `terminated;reason=timeout`, "", "")
	})

	// Expiry: a publication not refreshed → an empty NOTIFY (not a closed
	// PIDF); a subscription not refreshed → terminated;reason=timeout.
	t.Run("expiry", func(t *testing.T) {
		mark := k.LogMark()
		xml, err := SubscribeUAC{RequestURI: "sip:frank@sip.example.test", From: "<sip:carol@sip.example.test>",
			Notifies: 2, Unsubscribe: true}.Render()
		pubWatcher := sipps.start(t, "expiry_pub_watcher", xml, err, 0)
		xml, err = SubscribeUAC{RequestURI: "sip:gina@sip.example.test", From: "<sip:carol@sip.example.test>",
			Expires: 2, Notifies: 1}.Render()
		subWatcher := sipps.start(t, "expiry_sub_watcher", xml, err, 0)
		if _, err := k.WaitLog(ctx, mark, "notify-reply 200 for sip:frank@sip.example.test"); err != nil {
			t.Fatal(err)
		}
		xml, err = PublishUAC{RequestURI: "sip:frank@sip.example.test",
			Steps: []PublishStep{{Expires: 2, Body: strings.ReplaceAll(bobPIDF, "bob", "frank")}}}.Render()
		published := time.Now()
		sipps.finish(t, sipps.start(t, "expiry_publisher", xml, err, 0))
		msgs := sipps.finish(t, pubWatcher)
		t.Logf("publication (2 s) expired after %v", time.Since(published))
		notifies := receivedNotifies(t, msgs, 4)
		checkNotify(t, notifies[1], `active;expires=\d+`, "application/pidf+xml", "<basic>open</basic>")
		checkNotify(t, notifies[2], `active;expires=\d+`, "", "")
		msgs = sipps.finish(t, subWatcher)
		if len(msgs) != 6 {
			t.Fatalf("subscription expiry: %d messages:\n%s", len(msgs), dump(msgs))
		}
		checkNotify(t, msgs[2].Raw, `active;expires=2`, "", "")
		checkNotify(t, msgs[4].Raw, `terminated;reason=timeout`, "", "")
	})

	// RFC 3903 §6 wants 412 for an unknown entity-tag; Kamailio 5.6.3
	// answers 500.
	t.Run("publish_unknown_etag", func(t *testing.T) {
		xml, err := PublishUAC{RequestURI: "sip:hank@sip.example.test", Steps: []PublishStep{
			{Expires: 60, Body: strings.ReplaceAll(bobPIDF, "bob", "hank")},
			{Expires: 60, IfMatch: "no-such-etag", Expect: 500},
		}}.Render()
		sipps.finish(t, sipps.start(t, "publish_unknown_etag", xml, err, 0))
	})

	// A SUBSCRIBE for the gateway's domain is relayed to the gateway and
	// record-routed: the gateway's NOTIFYs, the watcher's un-SUBSCRIBE and
	// the final NOTIFY all pass through Kamailio.
	t.Run("relay_subscribe", func(t *testing.T) {
		alicePIDF := `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@xmpp.example.test">
<tuple id="desktop"><status><basic>open</basic></status><note xml:lang="en">Writing specs</note></tuple>
</presence>`
		xml, err := NotifierUAS{Notifies: []NotifyStep{{State: "active;expires=60", Body: alicePIDF}}, Unsubscribe: true}.Render()
		gateway := sipps.start(t, "relay_gateway", xml, err, gwPort)
		// The pause keeps the watcher's un-SUBSCRIBE behind its 200 to the
		// NOTIFY: both pass through Kamailio, whose two workers could swap
		// them, and the sipp notifier expects them in order.
		xml, err = SubscribeUAC{RequestURI: "sip:alice@xmpp.example.test", From: "<sip:carol@sip.example.test>",
			Unsubscribe: true, UnsubscribePauseMS: 200}.Render()
		msgs := sipps.finish(t, sipps.start(t, "relay_watcher", xml, err, 0))
		gmsgs := sipps.finish(t, gateway)
		// A NOTIFY relayed by one worker may overtake the 200 relayed by
		// the other: compare without order.
		got, want := startLines(msgs), []string{"< NOTIFY sip:watcher@", "< NOTIFY sip:watcher@", "< SIP/2.0 200 OK", "< SIP/2.0 200 OK",
			"> SIP/2.0 200 OK", "> SIP/2.0 200 OK", "> SUBSCRIBE sip:alice@xmpp.example.test", "> SUBSCRIBE sip:notifier@" + gw}
		sort.Strings(got)
		if !prefixes(got, want) {
			t.Fatalf("watcher's messages:\n got %q\nwant %q\n%s", got, want, dump(msgs))
		}
		if !checkFlow(t, gmsgs, "< SUBSCRIBE sip:alice@xmpp.example.test", "> SIP/2.0 200 OK", "> NOTIFY sip:watcher@", "< SIP/2.0 200",
			"< SUBSCRIBE sip:notifier@"+gw, "> SIP/2.0 200 OK", "> NOTIFY sip:watcher@", "< SIP/2.0 200") {
			return
		}
		// rr appends the watcher's From tag: <sip:127.0.0.1:PORT;lr;ftag=…>.
		rr := header(gmsgs[0].Raw, "Record-Route")
		if !strings.HasPrefix(rr, fmt.Sprintf("<sip:%s;lr", k.Addr())) {
			t.Errorf("SUBSCRIBE at the gateway has Record-Route %q, want Kamailio's", rr)
		}
		if got := header(gmsgs[2].Raw, "Route"); got != rr {
			t.Errorf("the gateway's NOTIFY has Route %q, want %q", got, rr)
		}
		var notifies []string
		var resub string
		for _, m := range msgs {
			switch {
			case m.Received && strings.HasPrefix(m.Raw, "NOTIFY "):
				notifies = append(notifies, m.Raw)
			case !m.Received && strings.HasPrefix(m.Raw, "SUBSCRIBE sip:notifier@"):
				resub = m.Raw
			}
		}
		if got := header(resub, "Route"); got != rr {
			t.Errorf("the watcher's un-SUBSCRIBE has Route %q, want %q", got, rr)
		}
		if len(notifies) != 2 {
			t.Fatalf("%d NOTIFYs at the watcher", len(notifies))
		}
		for _, n := range notifies {
			if got := strings.Count(n, "\r\nVia:"); got != 2 || header(n, "Route") != "" {
				t.Errorf("NOTIFY did not come through Kamailio (%d Vias, Route %q):\n%s", got, header(n, "Route"), n)
			}
		}
		checkNotify(t, notifies[0], `active;expires=60`, "application/pidf+xml", `<note xml:lang="en">Writing specs</note>`)
		checkNotify(t, notifies[1], `terminated;reason=timeout`, "", "")
	})

	// MESSAGE: to the gateway's domain → the gateway; to a SIP user with a
	// static location → there; anything else → 404.
	t.Run("relay_message", func(t *testing.T) {
		xml, err := MessageUAS{Status: 202, Reason: "Accepted"}.Render()
		gateway := sipps.start(t, "message_gateway", xml, err, gwPort)
		xml, err = MessageUAS{Status: 200, Reason: "OK"}.Render()
		dave := sipps.start(t, "message_dave", xml, err, davePort)
		for _, c := range []struct {
			name, to string
			expect   int
		}{
			{"to_gateway", "sip:alice@xmpp.example.test", 202},
			{"to_user", "sip:dave@sip.example.test", 200},
			{"to_user_without_location", "sip:bob@sip.example.test", 404},
			{"elsewhere", "sip:someone@elsewhere.example", 404},
		} {
			t.Run(c.name, func(t *testing.T) {
				xml, err := MessageUAC{RequestURI: c.to, From: "<sip:carol@sip.example.test>", To: c.to, Body: "hi", Expect: c.expect}.Render()
				sipps.finish(t, sipps.start(t, "message_"+c.name, xml, err, 0))
			})
		}
		for _, s := range []*SIPp{gateway, dave} {
			msgs := sipps.finish(t, s)
			if len(msgs) != 2 || strings.Count(msgs[0].Raw, "\r\nVia:") != 2 || body(msgs[0].Raw) != "hi" {
				t.Errorf("%s got:\n%s", s.Opts.Name, dump(msgs))
			}
		}
	})
}

// TestKamailioPublishMode: with PublishMode Kamailio is the presence server
// of the gateway's domain too (digest §3.8): a PUBLISH for an XMPP user's
// SIP address is kept, a watcher gets it from Kamailio, and a MESSAGE still
// goes to the gateway.
func TestKamailioPublishMode(t *testing.T) {
	requireKamailio(t)
	requireBinary(t, SIPpBinary)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	gwPort, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKamailio(KamailioOptions{
		Dir: filepath.Join(dir, "kamailio"), SIPDomain: "sip.example.test",
		GatewayDomains: []string{"XMPP.example.test"}, Gateway: fmt.Sprintf("127.0.0.1:%d", gwPort),
		PublishMode: true, Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Stop)
	sipps := kamailioSIPp{ctx: ctx, dir: dir, k: k}
	// run runs a UAC to the end and returns its trace; with a port it only
	// starts sipp listening there.
	run := func(name, scenario string, err error, port int) []TracedMessage {
		t.Helper()
		s := sipps.start(t, name, scenario, err, port)
		if port != 0 {
			return nil
		}
		return sipps.finish(t, s)
	}
	alice := strings.ReplaceAll(bobPIDF, "bob@sip", "alice@xmpp")
	xml, err := PublishUAC{RequestURI: "sip:alice@xmpp.example.test", Steps: []PublishStep{{Expires: 60, Body: alice}}}.Render()
	run("publish", xml, err, 0)
	xml, err = SubscribeUAC{RequestURI: "sip:alice@xmpp.example.test", From: "<sip:carol@sip.example.test>"}.Render()
	msgs := run("subscribe", xml, err, 0)
	if checkFlow(t, msgs, "> SUBSCRIBE", "< SIP/2.0 200 OK", "< NOTIFY", "> SIP/2.0 200") {
		checkNotify(t, msgs[2].Raw, `active;expires=60`, "application/pidf+xml", `entity="sip:alice@xmpp.example.test"`, "<basic>open</basic>")
	} else {
		t.Error(dump(msgs))
	}
	xml, err = MessageUAS{Status: 202, Reason: "Accepted"}.Render()
	run("gateway", xml, err, gwPort)
	xml, err = MessageUAC{RequestURI: "sip:alice@xmpp.example.test", From: "<sip:carol@sip.example.test>", To: "sip:alice@xmpp.example.test", Body: "hi"}.Render()
	run("message", xml, err, 0)
}

// TestNewKamailioRejects: values that would need quoting in the rendered
// config, or names Kamailio would have to resolve, are refused.
func TestNewKamailioRejects(t *testing.T) {
	requireKamailio(t)
	ok := KamailioOptions{SIPDomain: "sip.example.test", GatewayDomains: []string{"xmpp.example.test"}, Gateway: "127.0.0.1:5070"}
	for name, change := range map[string]func(o *KamailioOptions){
		"quote in domain":       func(o *KamailioOptions) { o.SIPDomain = `sip"; exit; "` },
		"empty domain":          func(o *KamailioOptions) { o.SIPDomain = "" },
		"gateway domain = SIP":  func(o *KamailioOptions) { o.GatewayDomains = []string{"SIP.example.test"} },
		"gateway by name":       func(o *KamailioOptions) { o.Gateway = "gw.example.test:5070" },
		"gateway without port":  func(o *KamailioOptions) { o.Gateway = "127.0.0.1" },
		"user with quote":       func(o *KamailioOptions) { o.Users = map[string]string{`a"b`: "127.0.0.1:1"} },
		"user location by name": func(o *KamailioOptions) { o.Users = map[string]string{"dave": "localhost:5080"} },
	} {
		t.Run(name, func(t *testing.T) {
			o := ok
			o.GatewayDomains = append([]string(nil), ok.GatewayDomains...)
			o.Dir = t.TempDir()
			change(&o)
			if _, err := NewKamailio(o); err == nil {
				t.Error("accepted")
			}
		})
	}
	o := ok
	o.Dir = t.TempDir()
	k, err := NewKamailio(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Check(); err != nil {
		t.Fatal(err)
	}
}

// kamailioSIPp runs sipp scenarios of one call each in a test of k: a UAC
// sends to Kamailio; with a port set, sipp listens there instead (as the
// gateway or a user Kamailio relays to). Each run traces its messages and
// <log> actions into dir and is stopped when the test that started it
// ends.
type kamailioSIPp struct {
	ctx context.Context
	dir string
	k   *Kamailio
}

// start starts a run of scenario, which err (from its Render) must not
// spoil.
func (r kamailioSIPp) start(t *testing.T, name, scenario string, err error, port int) *SIPp {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	o := SIPpOptions{Dir: r.dir, Name: name, Scenario: scenario, Calls: 1, TraceMsg: true, TraceLogs: true,
		LocalPort: port, Extra: []string{"-recv_timeout", "5000"}, Logf: t.Logf}
	if port == 0 {
		o.Remote = r.k.Addr()
	}
	s, err := StartSIPp(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// finish waits for a run to succeed and returns its trace.
func (r kamailioSIPp) finish(t *testing.T, s *SIPp) []TracedMessage {
	t.Helper()
	if code, err := s.Wait(r.ctx); err != nil || code != 0 {
		t.Fatalf("sipp %s exit %d %v: %s", s.Opts.Name, code, err, s.Errors())
	}
	msgs, err := s.Messages()
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// receivedNotifies returns the NOTIFYs sipp received in a trace; it fails
// the test unless there are want of them.
func receivedNotifies(t *testing.T, msgs []TracedMessage, want int) []string {
	t.Helper()
	var notifies []string
	for _, m := range msgs {
		if m.Received && strings.HasPrefix(m.Raw, "NOTIFY ") {
			notifies = append(notifies, m.Raw)
		}
	}
	if len(notifies) != want {
		t.Fatalf("%d NOTIFYs, want %d:\n%s", len(notifies), want, dump(msgs))
	}
	return notifies
}

// checkNotify checks a NOTIFY's Subscription-State (a regexp), its
// Content-Type ("" = no body at all) and that its body contains each of
// want.
func checkNotify(t *testing.T, raw, state, ctype string, want ...string) {
	t.Helper()
	if !regexp.MustCompile(`^` + state + `$`).MatchString(header(raw, "Subscription-State")) {
		t.Errorf("Subscription-State %q, want %s:\n%s", header(raw, "Subscription-State"), state, raw)
	}
	if got := header(raw, "Content-Type"); got != ctype {
		t.Errorf("Content-Type %q, want %q:\n%s", got, ctype, raw)
	}
	if ctype == "" && (body(raw) != "" || header(raw, "Content-Length") != "0") {
		t.Errorf("NOTIFY has a body:\n%s", raw)
	}
	if header(raw, "Event") != "presence" {
		t.Errorf("NOTIFY without Event: presence:\n%s", raw)
	}
	for _, w := range want {
		if !strings.Contains(body(raw), w) {
			t.Errorf("NOTIFY body lacks %s:\n%s", w, raw)
		}
	}
}

// checkFlow compares the start lines of a trace with want, each prefixed
// "> " (sent) or "< " (received); it logs and returns false on a mismatch.
func checkFlow(t *testing.T, msgs []TracedMessage, want ...string) bool {
	t.Helper()
	got := startLines(msgs)
	if !prefixes(got, want) {
		t.Logf("flow:\n got %q\nwant %q", got, want)
		return false
	}
	return true
}

// startLines returns the start line of each message, prefixed "> " when
// sipp sent it and "< " when it received it.
func startLines(msgs []TracedMessage) []string {
	var out []string
	for _, m := range msgs {
		line, _, _ := strings.Cut(m.Raw, "\r\n")
		dir := "> "
		if m.Received {
			dir = "< "
		}
		out = append(out, dir+line)
	}
	return out
}

// prefixes reports whether got[i] starts with want[i] for every i.
func prefixes(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			return false
		}
	}
	return true
}

// header returns the first value of a header field of a raw message.
func header(raw, name string) string {
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	re := regexp.MustCompile(`(?im)^` + regexp.QuoteMeta(name) + `[ \t]*:[ \t]*(.*?)\r?$`)
	if m := re.FindStringSubmatch(head); m != nil {
		return m[1]
	}
	return ""
}

// body returns the body of a raw message.
func body(raw string) string {
	_, b, _ := strings.Cut(raw, "\r\n\r\n")
	return b
}

func dump(msgs []TracedMessage) string {
	var b strings.Builder
	for _, m := range msgs {
		dir := "sent"
		if m.Received {
			dir = "received"
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", dir, m.Raw)
	}
	return b.String()
}
