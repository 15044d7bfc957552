package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"cpimgw/cpim"
	"cpimgw/internal/peers"
)

// The presence end-to-end tests put the gateway between a real Prosody
// (XMPP users alice and dave over c2s) and a real Kamailio acting as the
// SIP presence server (its presence and presence_xml modules) and proxy:
// SIP users publish with sipp (PUBLISH to Kamailio), the gateway
// subscribes to Kamailio on behalf of XMPP users, and SIP watchers (sipp)
// subscribe through Kamailio to XMPP users behind the gateway.

// requireKamailio fails when CI=true and Kamailio is missing.
func requireKamailio(t *testing.T) {
	t.Helper()
	requirePeers(t)
	if _, err := os.Stat(peers.KamailioBinary); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI (make test installs it): %v", peers.KamailioBinary, err)
		}
		t.Skipf("%s not installed (run .ci/install-peers.sh): %v", peers.KamailioBinary, err)
	}
}

type presenceStack struct {
	*stack
	kam *peers.Kamailio
}

type presenceOptions struct {
	subscribeExpires time.Duration
	// outboundProxy replaces Kamailio as the next hop (a sipp notifier).
	outboundProxy string
	// publish runs presence.mode: publish, with Kamailio serving the
	// XMPP domain's presence from the gateway's publications.
	publish bool
	// maxPerWatcher sets presence.max_per_watcher.
	maxPerWatcher int
	// subscribeRate sets presence.subscribe_rate (default 50/s).
	subscribeRate float64
}

// newPresenceStack starts Prosody, Kamailio and the gateway with presence
// on and short timers.
func newPresenceStack(t *testing.T, o presenceOptions) *presenceStack {
	t.Helper()
	requireKamailio(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := &stack{t: t, dir: t.TempDir(), password: "alice-pw"}
	s.prosody = startProsody(ctx, t, s.dir, map[string]string{"alice": s.password, "dave": "dave-pw"})
	s.sipAddr = freeLoopbackAddr(t)
	kam := startKamailio(ctx, t, peers.KamailioOptions{
		Dir: filepath.Join(s.dir, "kamailio"), SIPDomain: sipDomain,
		GatewayDomains: []string{xmppDomain}, Gateway: s.sipAddr, PublishMode: o.publish,
	})
	proxy := o.outboundProxy
	if proxy == "" {
		proxy = "sip:" + kam.Addr()
	}
	if o.subscribeExpires == 0 {
		o.subscribeExpires = time.Hour
	}
	cfg := &Config{
		XMPP: XMPPConfig{Component: sipDomain, Server: s.prosody.ComponentAddr(), Secret: "component-secret",
			ReconnectMax: time.Second, PingInterval: 5 * time.Second, PingTimeout: 2 * time.Second},
		SIP: SIPConfig{Listen: []string{"udp:" + s.sipAddr, "tcp:" + s.sipAddr},
			OutboundProxy: proxy, TransactionTimeout: 5 * time.Second},
		Routes: RoutesConfig{XMPPDomains: []string{xmppDomain}, SIPDomains: []string{sipDomain},
			ForeignSIP: "escape", TrustedSIPSources: []string{"127.0.0.1/32"}},
		Presence: PresenceConfig{StateDir: filepath.Join(s.dir, "state"), Mode: map[bool]string{true: "publish"}[o.publish],
			SubscribeExpires: o.subscribeExpires, MinExpires: time.Second, MaxExpires: time.Minute,
			NotifyInterval: 200 * time.Millisecond, ProbeTimeout: 500 * time.Millisecond,
			MaxPerWatcher: o.maxPerWatcher, SubscribeRate: o.subscribeRate},
		ShutdownTimeout: 10 * time.Second,
	}
	s.startGateway(ctx, cfg)
	s.alice = s.login(ctx)
	return &presenceStack{stack: s, kam: kam}
}

// startKamailio starts a Kamailio with the options and its log in the
// test's, until the test ends.
func startKamailio(ctx context.Context, t *testing.T, o peers.KamailioOptions) *peers.Kamailio {
	t.Helper()
	o.Logf = t.Logf
	kam, err := peers.NewKamailio(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := kam.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kam.Stop)
	return kam
}

// nextPresence returns the next presence stanza c receives.
func nextPresence(t *testing.T, c *peers.Client) peers.Presence {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p, err := c.NextPresence(ctx)
	if err != nil {
		t.Fatalf("%s received no presence: %v", c.JID, err)
	}
	t.Logf("%s got presence %+v", c.JID, p)
	return p
}

// expectPresence waits for a presence matching want (fields left empty are
// not compared), skipping ones that do not match only if skip allows.
func expectPresence(t *testing.T, c *peers.Client, what string, match func(peers.Presence) bool) peers.Presence {
	t.Helper()
	for range 10 {
		p := nextPresence(t, c)
		if match(p) {
			return p
		}
		t.Logf("%s: skipping %+v", what, p)
	}
	t.Fatalf("%s: not received", what)
	return peers.Presence{}
}

const bobURI = "sip:bob@" + sipDomain

func pidf(entity, tuple, basic, extra string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="` + entity + `">
<tuple id="` + tuple + `"><status><basic>` + basic + `</basic></status>` + extra + `</tuple>
</presence>`
}

// TestE2EPresenceX2S: an XMPP user subscribes to a SIP user; the gateway
// subscribes to Kamailio; the SIP user's publications reach the XMPP user
// as presence (RFC 8048 §5.2, §6.3 Table 2), and unsubscribing ends it.
func TestE2EPresenceX2S(t *testing.T) {
	ps := newPresenceStack(t, presenceOptions{subscribeExpires: 4 * time.Second})
	alice := ps.alice
	ctx := context.Background()

	// alice asks to see bob's presence (SUB-01).
	if err := alice.SendRaw(ctx, `<presence type='subscribe' to='bob@`+sipDomain+`' id='sub1'/>`); err != nil {
		t.Fatal(err)
	}
	// Kamailio authorizes every watcher (force_active): the first active
	// NOTIFY makes the gateway send 'subscribed' from bob (SUB-04).
	expectPresence(t, alice, "subscribed from bob", func(p peers.Presence) bool {
		return p.Type == "subscribed" && p.From == "bob@"+sipDomain
	})

	// bob publishes: available with a note, then away (RPID) with a German
	// note, then withdraws his publication.
	pub, err := peers.PublishUAC{RequestURI: bobURI, Steps: []peers.PublishStep{
		{Expires: 60, Body: pidf("pres:bob@"+sipDomain, "desk", "open", `<note xml:lang="en">At my desk</note>`), PauseMS: 1500},
		{Expires: 60, Body: `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="pres:bob@` + sipDomain + `">
<tuple id="desk"><status><basic>open</basic></status><note xml:lang="de">Mittagspause</note></tuple>
<dm:person id="p1"><rpid:activities><rpid:lunch/></rpid:activities></dm:person>
</presence>`, PauseMS: 1500},
		{Expires: 60, Body: `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="pres:bob@` + sipDomain + `">
<tuple id="desk"><status><basic>open</basic></status><note xml:lang="en">On the phone</note></tuple>
<dm:person id="p1"><rpid:activities><rpid:on-the-phone/></rpid:activities></dm:person>
</presence>`, PauseMS: 1500},
		{Expires: 0, PauseMS: 500},
	}}.Render()
	if err != nil {
		t.Fatal(err)
	}
	publisher, err := peers.StartSIPp(peers.SIPpOptions{Dir: ps.dir, Name: "bob-publish", Scenario: pub,
		Remote: ps.kam.Addr(), Calls: 1, TraceMsg: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer publisher.Stop()

	p := expectPresence(t, alice, "bob available", func(p peers.Presence) bool {
		return p.Type == "" && strings.HasPrefix(p.From, "bob@"+sipDomain+"/")
	})
	if p.Status != "At my desk" || p.Show != "" {
		t.Errorf("available presence %+v, want status 'At my desk' and no show (RFC 8048 §6.3)", p)
	}
	p = expectPresence(t, alice, "bob away", func(p peers.Presence) bool { return p.Show != "" })
	if p.Show != "away" || p.Statuses["de"] != "Mittagspause" {
		t.Errorf("away presence %+v, want show away (RPID lunch, §3.4) and the German status", p)
	}
	p = expectPresence(t, alice, "bob dnd", func(p peers.Presence) bool { return p.Show == "dnd" })
	if p.Statuses["en"] != "On the phone" {
		t.Errorf("dnd presence %+v, want show dnd (RPID on-the-phone, §3.4) and the English status", p)
	}
	expectPresence(t, alice, "bob unavailable", func(p peers.Presence) bool { return p.Type == "unavailable" })
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if code, err := publisher.Wait(wctx); err != nil || code != 0 {
		t.Fatalf("publisher exit %d %v: %s", code, err, publisher.Errors())
	}

	// The SUBSCRIBE was refreshed before it expired (4 s): Kamailio still
	// notifies the gateway. A new publication reaches alice.
	pub2, _ := peers.PublishUAC{RequestURI: bobURI, Steps: []peers.PublishStep{
		{Expires: 60, Body: pidf("pres:bob@"+sipDomain, "desk", "open", `<note xml:lang="en">Back</note>`), PauseMS: 200},
	}}.Render()
	// Two refreshes (at ~80 % of 4 s each) take the subscription well
	// past its first expiry plus Kamailio's clean-up period: only the
	// refreshes keep it alive (RFC 6665 §4.1.2.2, SUB-07).
	for i := range 2 {
		mark := ps.kam.LogMark()
		if _, err := ps.kam.WaitLog(wctx, mark, "from sip:alice@"+xmppDomain+" expires 4"); err != nil {
			t.Fatalf("refresh %d of the SUBSCRIBE did not reach Kamailio: %v", i+1, err)
		}
	}
	publisher2, err := peers.StartSIPp(peers.SIPpOptions{Dir: ps.dir, Name: "bob-publish2", Scenario: pub2,
		Remote: ps.kam.Addr(), Calls: 1, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer publisher2.Stop()
	p = expectPresence(t, alice, "bob back after a refresh", func(p peers.Presence) bool { return p.Type == "" })
	if p.Status != "Back" {
		t.Errorf("presence after refresh %+v", p)
	}

	// alice unsubscribes: the gateway ends the SIP subscription with an
	// in-dialog SUBSCRIBE Expires: 0 (SUB-09) and, as bob's "home server",
	// sends unavailable from bob's available resources (RFC 6121 §3.3.3).
	// (It also sends 'unsubscribed' (RFC 8048 §5.2.3), which Prosody does
	// not pass on: alice's own unsubscribe already cleared her roster item.)
	mark := ps.kam.LogMark()
	if err := alice.SendRaw(ctx, `<presence type='unsubscribe' to='bob@`+sipDomain+`'/>`); err != nil {
		t.Fatal(err)
	}
	expectPresence(t, alice, "unavailable from bob's resource", func(p peers.Presence) bool {
		return p.Type == "unavailable" && p.From == "bob@"+sipDomain+"/desk"
	})
	if _, err := ps.kam.WaitLog(wctx, mark, "from sip:alice@"+xmppDomain+" expires 0"); err != nil {
		t.Fatalf("no SUBSCRIBE Expires: 0 reached Kamailio: %v", err)
	}
}

// notifies returns the NOTIFYs a sipp watcher received, parsed.
func notifies(t *testing.T, p *peers.SIPp) []*sip.Request {
	t.Helper()
	msgs, err := p.Messages()
	if err != nil {
		t.Fatal(err)
	}
	var out []*sip.Request
	for _, m := range msgs {
		if m.Received && strings.HasPrefix(m.Raw, "NOTIFY ") {
			msg, err := sip.ParseMessage([]byte(m.Raw))
			if err != nil {
				t.Fatalf("unparsable NOTIFY: %v\n%s", err, m.Raw)
			}
			out = append(out, msg.(*sip.Request))
		}
	}
	return out
}

// state returns a NOTIFY's Subscription-State.
func state(r *sip.Request) string {
	if h := r.GetHeader("Subscription-State"); h != nil {
		return h.Value()
	}
	return ""
}

// sipWatcher reads the NOTIFYs a sipp watcher received, in order.
type sipWatcher struct {
	p    *peers.SIPp
	next int // NOTIFYs before this index were matched already
}

// waitNotify waits until the watcher received, after the last NOTIFY
// matched before, a NOTIFY for which match holds, and returns it. Other
// NOTIFYs in between are allowed (a notifier may split state changes).
func (w *sipWatcher) waitNotify(t *testing.T, what string, match func(*sip.Request) bool) *sip.Request {
	t.Helper()
	var found *sip.Request
	poll(t, "a NOTIFY with "+what, func() bool {
		all := notifies(t, w.p)
		for i := w.next; i < len(all); i++ {
			if match(all[i]) {
				found, w.next = all[i], i+1
				return true
			}
		}
		return false
	})
	return found
}

// waitNotifies waits until the watcher received n NOTIFYs.
func waitNotifies(t *testing.T, p *peers.SIPp, n int) []*sip.Request {
	t.Helper()
	var got []*sip.Request
	poll(t, fmt.Sprintf("%d NOTIFYs at the SIP watcher", n), func() bool {
		got = notifies(t, p)
		return len(got) >= n
	})
	return got
}

func tuples(t *testing.T, r *sip.Request) []cpim.PIDFTuple {
	t.Helper()
	if len(r.Body()) == 0 {
		return nil
	}
	doc, err := cpim.ParsePIDF(r.Body())
	if err != nil {
		t.Fatalf("NOTIFY body is not PIDF: %v\n%s", err, r.Body())
	}
	return doc.Tuples
}

// TestE2EPresenceS2X: a SIP watcher subscribes through Kamailio to an XMPP
// user; the gateway, as the user's presence agent, answers pending, asks
// the user, and notifies the user's presence once authorized; a revocation
// terminates the subscription (RFC 8048 §5.3, §6.2 Table 1).
func TestE2EPresenceS2X(t *testing.T) {
	ps := newPresenceStack(t, presenceOptions{})
	alice := ps.alice
	ctx := context.Background()
	if err := alice.SendRaw(ctx, `<presence xml:lang='en'><status>Hello</status><priority>5</priority></presence>`); err != nil {
		t.Fatal(err)
	}

	// carol subscribes to alice through Kamailio and expects: pending,
	// active (after alice's approval), a change, and the revocation.
	sub, err := peers.SubscribeUAC{RequestURI: "sip:alice@" + xmppDomain, From: "<sip:carol@" + sipDomain + ">",
		Expires: 60, UntilTerminated: true}.Render()
	if err != nil {
		t.Fatal(err)
	}
	carol, err := peers.StartSIPp(peers.SIPpOptions{Dir: ps.dir, Name: "carol", Scenario: sub,
		Remote: ps.kam.Addr(), Calls: 1, TraceMsg: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer carol.Stop()
	defer func() {
		if t.Failed() {
			t.Logf("sipp carol errors:\n%s", carol.Errors())
			msgs, _ := carol.Messages()
			for _, m := range msgs {
				t.Logf("carol traced (received=%v):\n%s", m.Received, m.Raw)
			}
		}
	}()

	// The gateway answers at once with NOTIFY pending, empty (RFC 6665
	// §4.2.1.2, SUB-12) and asks alice (RFC 8048 §5.3.1).
	n := waitNotifies(t, carol, 1)
	if ss := n[0].GetHeader("Subscription-State"); ss == nil || !strings.HasPrefix(ss.Value(), "pending") || !strings.Contains(ss.Value(), "expires=") {
		t.Errorf("first NOTIFY Subscription-State %v, want pending;expires=… (SUB-15)", ss)
	}
	if len(n[0].Body()) != 0 {
		t.Errorf("pending NOTIFY has a body: %s", n[0].Body())
	}
	expectPresence(t, alice, "subscribe from carol", func(p peers.Presence) bool {
		return p.Type == "subscribe" && p.From == "carol@"+sipDomain
	})

	// alice approves: NOTIFY active with her presence (SUB-17, PRS-*).
	// The number of NOTIFYs is not fixed: the approval is notified at
	// once, and Prosody then sends alice's presence to her new subscriber,
	// which may or may not be merged into the next NOTIFY (RFC 3856 §6.10).
	if err := alice.SendRaw(ctx, `<presence type='subscribed' to='carol@`+sipDomain+`'/>`); err != nil {
		t.Fatal(err)
	}
	w := &sipWatcher{p: carol, next: 1}
	w.waitNotify(t, "active, open, note Hello, priority 0.039 (RFC 8048 §6.2)", func(r *sip.Request) bool {
		tu := tuples(t, r)
		return strings.HasPrefix(state(r), "active") && len(tu) == 1 && tu[0].Basic == cpim.Open &&
			len(tu[0].Notes) > 0 && tu[0].Notes[0].Text == "Hello" && tu[0].HasPriority && tu[0].Priority == 39
	})

	// alice goes dnd with a German status: the full state is notified,
	// with the jabber:client show and the RPID busy activity (§3.4).
	if err := alice.SendRaw(ctx, `<presence><show>dnd</show><status xml:lang='de'>Beschäftigt</status></presence>`); err != nil {
		t.Fatal(err)
	}
	r := w.waitNotify(t, "active with show dnd and the German note", func(r *sip.Request) bool {
		tu := tuples(t, r)
		return len(tu) == 1 && tu[0].Show == cpim.ShowDND && len(tu[0].Notes) > 0 &&
			tu[0].Notes[0].Text == "Beschäftigt" && tu[0].Notes[0].Lang == "de"
	})
	if !strings.Contains(string(r.Body()), "<rpid:busy/>") {
		t.Errorf("dnd NOTIFY lacks the RPID busy activity (§3.4):\n%s", r.Body())
	}

	// alice goes away, then offline: the full state each time; offline is
	// one closed tuple, never zero tuples (§3.6, PRS-11).
	if err := alice.SendRaw(ctx, `<presence><show>away</show><status xml:lang='en'>Lunch</status></presence>`); err != nil {
		t.Fatal(err)
	}
	w.waitNotify(t, "active with show away", func(r *sip.Request) bool {
		tu := tuples(t, r)
		return len(tu) == 1 && tu[0].Basic == cpim.Open && tu[0].Show == cpim.ShowAway &&
			len(tu[0].Notes) > 0 && tu[0].Notes[0].Text == "Lunch"
	})
	if err := alice.SendRaw(ctx, `<presence type='unavailable'/>`); err != nil {
		t.Fatal(err)
	}
	w.waitNotify(t, "one closed tuple", func(r *sip.Request) bool {
		tu := tuples(t, r)
		return strings.HasPrefix(state(r), "active") && len(tu) == 1 && tu[0].Basic == cpim.Closed
	})

	// alice revokes: NOTIFY terminated;reason=rejected (SUB-18).
	if err := alice.SendRaw(ctx, `<presence type='unsubscribed' to='carol@`+sipDomain+`'/>`); err != nil {
		t.Fatal(err)
	}
	w.waitNotify(t, "terminated;reason=rejected", func(r *sip.Request) bool {
		return strings.HasPrefix(state(r), "terminated") && strings.Contains(state(r), "reason=rejected")
	})
	n = notifies(t, carol)
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if code, err := carol.Wait(wctx); err != nil || code != 0 {
		t.Fatalf("sipp watcher exit %d %v: %s", code, err, carol.Errors())
	}
	// The CSeq of the gateway's NOTIFYs increases in the dialog.
	for i := 1; i < len(n); i++ {
		if n[i].CSeq().SeqNo <= n[i-1].CSeq().SeqNo {
			t.Errorf("NOTIFY CSeq %d after %d", n[i].CSeq().SeqNo, n[i-1].CSeq().SeqNo)
		}
	}
}
