package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"cpimgw/cpim"
	"cpimgw/internal/peers"
)

// TestMain lets the test binary stand in for the gateway binary: with
// CPIMGW_TEST_GATEWAY=config.yaml it runs cpimgw with that configuration
// instead of the tests. The restart test needs a real process to SIGKILL.
func TestMain(m *testing.M) {
	if cfg := os.Getenv("CPIMGW_TEST_GATEWAY"); cfg != "" {
		os.Exit(cli([]string{"-config", cfg}, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// gatewayProcess is cpimgw running as a child process.
type gatewayProcess struct {
	cmd  *exec.Cmd
	up   chan struct{}
	done chan struct{}
}

// startGatewayProcess runs the gateway with the configuration at path and
// waits until its component link is up.
func startGatewayProcess(t *testing.T, path string) *gatewayProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CPIMGW_TEST_GATEWAY="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &gatewayProcess{cmd: cmd, up: make(chan struct{}), done: make(chan struct{})}
	var once sync.Once
	go func() {
		defer close(g.done)
		s := bufio.NewScanner(stderr)
		s.Buffer(make([]byte, 64<<10), 1<<20)
		for s.Scan() {
			t.Log("gateway:", s.Text())
			if strings.Contains(s.Text(), "component link up") {
				once.Do(func() { close(g.up) })
			}
		}
		cmd.Wait()
	}()
	select {
	case <-g.up:
	case <-g.done:
		t.Fatal("the gateway process exited at start")
	case <-time.After(20 * time.Second):
		t.Fatal("the gateway process did not connect to Prosody")
	}
	t.Cleanup(func() {
		if t.Failed() {
			// A goroutine dump of the gateway explains a hang.
			g.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-g.done:
			case <-time.After(5 * time.Second):
			}
		}
		g.kill()
	})
	return g
}

func (g *gatewayProcess) kill() {
	g.cmd.Process.Signal(syscall.SIGKILL)
	<-g.done
}

// TestE2EPresenceRestart: subscriptions established both ways survive a
// SIGKILL of the gateway: after a restart over the same state file,
// presence flows both ways again and nobody is asked for authorization
// again (issue 4 item 4).
func TestE2EPresenceRestart(t *testing.T) {
	requireKamailio(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	prosody := startProsody(ctx, t, dir, map[string]string{"alice": "alice-pw"})
	sipAddr := freeLoopbackAddr(t)
	kam := startKamailio(ctx, t, peers.KamailioOptions{Dir: filepath.Join(dir, "kamailio"), SIPDomain: sipDomain,
		GatewayDomains: []string{xmppDomain}, Gateway: sipAddr})
	cfgPath := filepath.Join(dir, "cpimgw.yaml")
	err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`xmpp:
  component: %s
  server: %s
  secret: component-secret
  reconnect_max: 1s
sip:
  listen: ["udp:%s", "tcp:%s"]
  outbound_proxy: "sip:%s"
routes:
  xmpp_domains: [%s]
  sip_domains: [%s]
  trusted_sip_sources: [127.0.0.1/32]
presence:
  state_dir: %s
  notify_interval: 200ms
  probe_timeout: 500ms
  min_expires: 1s
log:
  level: debug
`, sipDomain, prosody.ComponentAddr(), sipAddr, sipAddr, kam.Addr(), xmppDomain, sipDomain, filepath.Join(dir, "state"))), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	gw := startGatewayProcess(t, cfgPath)
	alice, err := peers.Login(ctx, prosody.C2SAddr(), "alice@"+xmppDomain+"/desk", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	if err := alice.SendRaw(ctx, `<presence><status>Before</status></presence>`); err != nil {
		t.Fatal(err)
	}

	// X2S: alice watches bob; bob publishes.
	if err := alice.SendRaw(ctx, `<presence type='subscribe' to='bob@`+sipDomain+`'/>`); err != nil {
		t.Fatal(err)
	}
	expectPresence(t, alice, "subscribed from bob", func(p peers.Presence) bool { return p.Type == "subscribed" })
	pub, err := peers.PublishUAC{RequestURI: bobURI, Steps: []peers.PublishStep{
		{Expires: 120, Body: pidf("pres:bob@"+sipDomain, "desk", "open", `<note xml:lang="en">Before the crash</note>`), PauseMS: 200},
	}}.Render()
	if err != nil {
		t.Fatal(err)
	}
	etag := sipETag(t, runSIPp(t, dir, "publish-before", pub, kam.Addr()))
	expectPresence(t, alice, "bob before the crash", func(p peers.Presence) bool { return p.Status == "Before the crash" })

	// S2X: carol watches alice; alice approves.
	sub, err := peers.SubscribeUAC{RequestURI: "sip:alice@" + xmppDomain, From: "<sip:carol@" + sipDomain + ">",
		Expires: 120, UntilTerminated: true}.Render()
	if err != nil {
		t.Fatal(err)
	}
	carol, err := peers.StartSIPp(peers.SIPpOptions{Dir: dir, Name: "carol", Scenario: sub, Remote: kam.Addr(),
		Calls: 1, TraceMsg: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer carol.Stop()
	expectPresence(t, alice, "subscribe from carol", func(p peers.Presence) bool { return p.Type == "subscribe" })
	if err := alice.SendRaw(ctx, `<presence type='subscribed' to='carol@`+sipDomain+`'/>`); err != nil {
		t.Fatal(err)
	}
	w := &sipWatcher{p: carol}
	before := w.waitNotify(t, "active with 'Before'", func(r *sip.Request) bool {
		tu := tuples(t, r)
		return len(tu) == 1 && len(tu[0].Notes) > 0 && tu[0].Notes[0].Text == "Before"
	})

	// SIGKILL: no goodbye, no flush beyond what the store made durable.
	gw.kill()
	startGatewayProcess(t, cfgPath)

	// Presence flows again both ways, over the restored dialogs.
	// A modification of bob's publication (SIP-If-Match, RFC 3903 §4.4):
	// a second initial PUBLISH would be a second publication, which
	// Kamailio merges with the first.
	pub2, _ := peers.PublishUAC{RequestURI: bobURI, Steps: []peers.PublishStep{
		{Expires: 120, IfMatch: etag, Body: pidf("pres:bob@"+sipDomain, "desk", "open", `<note xml:lang="en">After the crash</note>`), PauseMS: 200},
	}}.Render()
	runSIPp(t, dir, "publish-after", pub2, kam.Addr())
	expectPresence(t, alice, "bob after the restart", func(p peers.Presence) bool {
		if p.Type == "subscribe" || p.Type == "subscribed" {
			t.Errorf("alice was asked again after the restart: %+v", p)
		}
		return p.Status == "After the crash"
	})
	if err := alice.SendRaw(ctx, `<presence><show>away</show><status>After</status></presence>`); err != nil {
		t.Fatal(err)
	}
	after := w.waitNotify(t, "active with away and 'After'", func(r *sip.Request) bool {
		tu := tuples(t, r)
		return strings.HasPrefix(state(r), "active") && len(tu) == 1 && tu[0].Show == cpim.ShowAway &&
			len(tu[0].Notes) > 0 && tu[0].Notes[0].Text == "After"
	})
	// RFC 3261 §12.2.1.1: the restarted gateway continues the dialog's
	// CSeq above every number it used before.
	if after.CSeq().SeqNo <= before.CSeq().SeqNo || after.CallID().Value() != before.CallID().Value() {
		t.Errorf("NOTIFY after the restart: Call-ID %s CSeq %d; before: %s CSeq %d",
			after.CallID().Value(), after.CSeq().SeqNo, before.CallID().Value(), before.CSeq().SeqNo)
	}
	// alice ends carol's subscription: the watcher's scenario completes.
	if err := alice.SendRaw(ctx, `<presence type='unsubscribed' to='carol@`+sipDomain+`'/>`); err != nil {
		t.Fatal(err)
	}
	if code, err := carol.Wait(ctx); err != nil || code != 0 {
		t.Fatalf("sipp carol exit %d %v: %s", code, err, carol.Errors())
	}
}

// sipETag returns the SIP-ETag of the last 2xx a publisher received.
func sipETag(t *testing.T, p *peers.SIPp) string {
	t.Helper()
	msgs, err := p.Messages()
	if err != nil {
		t.Fatal(err)
	}
	etag := ""
	for _, m := range msgs {
		if m.Received && strings.HasPrefix(m.Raw, "SIP/2.0 2") {
			msg, err := sip.ParseMessage([]byte(m.Raw))
			if err != nil {
				t.Fatal(err)
			}
			if h := msg.(*sip.Response).GetHeader("SIP-ETag"); h != nil {
				etag = h.Value()
			}
		}
	}
	if etag == "" {
		t.Fatal("the publisher got no SIP-ETag")
	}
	return etag
}

// runSIPp runs a UAC scenario once against remote, fails on any error, and
// returns the finished run (its message trace is complete).
func runSIPp(t *testing.T, dir, name, scenario, remote string) *peers.SIPp {
	t.Helper()
	p, err := peers.StartSIPp(peers.SIPpOptions{Dir: dir, Name: name, Scenario: scenario, Remote: remote, Calls: 1, TraceMsg: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if code, err := p.Wait(ctx); err != nil || code != 0 {
		t.Fatalf("sipp %s exit %d %v: %s", name, code, err, p.Errors())
	}
	return p
}

// TestE2EPresenceAuthorization: a SIP user's presence agent denies, or
// later revokes, an XMPP user's subscription (NOTIFY terminated;
// reason=rejected, RFC 8048 §5.2.1 / RFC 3922 §6.1): the XMPP user gets
// 'unsubscribed'. Kamailio authorizes every watcher, so a sipp notifier
// plays the presence agent here, as the gateway's next hop.
func TestE2EPresenceAuthorization(t *testing.T) {
	for _, tc := range []struct {
		name     string
		notifies []peers.NotifyStep
		approved bool
	}{
		{"denied", []peers.NotifyStep{{State: "pending;expires=60"}, {State: "terminated;reason=rejected", PauseMS: 300}}, false},
		{"revoked", []peers.NotifyStep{
			{State: "active;expires=60", Body: pidf("pres:dan@"+sipDomain, "t1", "open", `<note>Here</note>`)},
			{State: "terminated;reason=rejected", PauseMS: 500}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireKamailio(t)
			port, err := peers.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			ps := newPresenceStack(t, presenceOptions{outboundProxy: fmt.Sprintf("sip:127.0.0.1:%d", port)})
			scen, err := peers.NotifierUAS{Notifies: tc.notifies}.Render()
			if err != nil {
				t.Fatal(err)
			}
			notifier, err := peers.StartSIPp(peers.SIPpOptions{Dir: ps.dir, Name: "dan", Scenario: scen,
				LocalPort: port, Calls: 1, Logf: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			defer notifier.Stop()
			if err := ps.alice.SendRaw(context.Background(), `<presence type='subscribe' to='dan@`+sipDomain+`'/>`); err != nil {
				t.Fatal(err)
			}
			if tc.approved {
				expectPresence(t, ps.alice, "subscribed from dan", func(p peers.Presence) bool { return p.Type == "subscribed" })
				expectPresence(t, ps.alice, "dan available", func(p peers.Presence) bool { return p.Type == "" && p.Status == "Here" })
			}
			expectPresence(t, ps.alice, "unsubscribed from dan", func(p peers.Presence) bool {
				if p.Type == "subscribed" && !tc.approved {
					t.Errorf("a denied subscription was reported as approved: %+v", p)
				}
				return p.Type == "unsubscribed" && p.From == "dan@"+sipDomain
			})
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if code, err := notifier.Wait(ctx); err != nil || code != 0 {
				t.Fatalf("sipp notifier exit %d %v: %s", code, err, notifier.Errors())
			}
		})
	}
}

// TestE2EPresenceExpiry: a SIP watcher that does not refresh its
// subscription gets NOTIFY terminated;reason=timeout when it lapses (RFC
// 6665 §4.2.1.4, SUB-24), and the XMPP user gets a directed unavailable
// from the watcher (INTERWORKING.md §3.7 [D]).
func TestE2EPresenceExpiry(t *testing.T) {
	ps := newPresenceStack(t, presenceOptions{})
	sub, err := peers.SubscribeUAC{RequestURI: "sip:alice@" + xmppDomain, From: "<sip:erin@" + sipDomain + ">",
		Expires: 2, UntilTerminated: true}.Render()
	if err != nil {
		t.Fatal(err)
	}
	erin, err := peers.StartSIPp(peers.SIPpOptions{Dir: ps.dir, Name: "erin", Scenario: sub, Remote: ps.kam.Addr(),
		Calls: 1, TraceMsg: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer erin.Stop()
	expectPresence(t, ps.alice, "subscribe from erin", func(p peers.Presence) bool { return p.Type == "subscribe" })
	w := &sipWatcher{p: erin}
	w.waitNotify(t, "terminated;reason=timeout at expiry", func(r *sip.Request) bool {
		return strings.HasPrefix(state(r), "terminated") && strings.Contains(state(r), "reason=timeout")
	})
	expectPresence(t, ps.alice, "unavailable from erin", func(p peers.Presence) bool {
		return p.Type == "unavailable" && p.From == "erin@"+sipDomain
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if code, err := erin.Wait(ctx); err != nil || code != 0 {
		t.Fatalf("sipp erin exit %d %v: %s", code, err, erin.Errors())
	}
}

// TestE2EPresencePublishMode: with presence.mode: publish the gateway
// publishes XMPP users' presence into the SIP presence server (RFC 3903,
// INTERWORKING.md §3.8), which answers SIP watchers itself: a change is a
// modify with SIP-If-Match (one publication, not a second one), and the
// user going offline publishes closed.
func TestE2EPresencePublishMode(t *testing.T) {
	ps := newPresenceStack(t, presenceOptions{publish: true})
	alice := ps.alice
	ctx := context.Background()
	// alice makes her presence available to a SIP user behind the gateway
	// (directed presence, RFC 6121 §4.6): the gateway receives it.
	if err := alice.SendRaw(ctx, `<presence to='carol@`+sipDomain+`' xml:lang='en'><show>away</show><status>Out for lunch</status></presence>`); err != nil {
		t.Fatal(err)
	}
	mark := ps.kam.LogMark()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := ps.kam.WaitLog(wctx, 0, "presence: handled PUBLISH sip:alice@"+xmppDomain); err != nil {
		t.Fatalf("the gateway did not publish alice's presence: %v", err)
	}
	// A SIP watcher subscribes at the presence server, not at the gateway.
	sub, err := peers.SubscribeUAC{RequestURI: "sip:alice@" + xmppDomain, From: "<sip:carol@" + sipDomain + ">",
		Expires: 60, UntilTerminated: true}.Render()
	if err != nil {
		t.Fatal(err)
	}
	carol, err := peers.StartSIPp(peers.SIPpOptions{Dir: ps.dir, Name: "carol", Scenario: sub, Remote: ps.kam.Addr(),
		Calls: 1, TraceMsg: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer carol.Stop()
	w := &sipWatcher{p: carol}
	w.waitNotify(t, "alice away, 'Out for lunch'", func(r *sip.Request) bool {
		tu := tuples(t, r)
		return len(tu) == 1 && tu[0].Basic == cpim.Open && tu[0].Show == cpim.ShowAway &&
			len(tu[0].Notes) > 0 && tu[0].Notes[0].Text == "Out for lunch"
	})
	// A change is a modify of the same publication (SIP-If-Match): the
	// watcher sees one tuple with the new state, not two publications
	// merged.
	mark = ps.kam.LogMark()
	if err := alice.SendRaw(ctx, `<presence to='carol@`+sipDomain+`' xml:lang='en'><show>dnd</show><status>In a meeting</status></presence>`); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.kam.WaitLog(wctx, mark, "presence: handled PUBLISH sip:alice@"+xmppDomain); err != nil {
		t.Fatal(err)
	}
	w.waitNotify(t, "alice dnd, one tuple", func(r *sip.Request) bool {
		tu := tuples(t, r)
		if len(tu) > 1 {
			t.Errorf("NOTIFY carries %d tuples: the change was a second publication, not a modify (RFC 3903 §4.4)", len(tu))
		}
		return len(tu) == 1 && tu[0].Show == cpim.ShowDND && len(tu[0].Notes) > 0 && tu[0].Notes[0].Text == "In a meeting"
	})
	// alice goes offline: closed is published.
	if err := alice.SendRaw(ctx, `<presence to='carol@`+sipDomain+`' type='unavailable'/>`); err != nil {
		t.Fatal(err)
	}
	w.waitNotify(t, "alice closed", func(r *sip.Request) bool {
		tu := tuples(t, r)
		return len(tu) >= 1 && tu[0].Basic == cpim.Closed
	})
}

// TestE2EPresenceLimits: beyond presence.max_per_watcher a SIP watcher's
// SUBSCRIBE gets 503 + Retry-After, and an XMPP user's subscribe a
// resource-constraint error (issue 4 item 5).
func TestE2EPresenceLimits(t *testing.T) {
	ps := newPresenceStack(t, presenceOptions{maxPerWatcher: 1})
	ctx := context.Background()
	// SIP side: carol may watch one XMPP user.
	first, err := peers.SubscribeUAC{RequestURI: "sip:alice@" + xmppDomain, From: "<sip:carol@" + sipDomain + ">", Expires: 60}.Render()
	if err != nil {
		t.Fatal(err)
	}
	runSIPp(t, ps.dir, "carol-alice", first, ps.kam.Addr())
	// The second goes straight to the gateway: a proxy must not pass a
	// 503 upstream (RFC 3261 §16.7 step 6), and Kamailio turns it into a
	// 500 without Retry-After.
	second, err := peers.SubscribeUAC{RequestURI: "sip:dave@" + xmppDomain, From: "<sip:carol@" + sipDomain + ">", Expires: 60, Expect: 503}.Render()
	if err != nil {
		t.Fatal(err)
	}
	p := runSIPp(t, ps.dir, "carol-dave", second, ps.sipAddr)
	if res := response(t, p); res.GetHeader("Retry-After") == nil {
		t.Errorf("503 without Retry-After: %v", res)
	}
	// XMPP side: alice may watch one SIP user (Kamailio accepts both).
	if err := ps.alice.SendRaw(ctx, `<presence type='subscribe' to='bob@`+sipDomain+`'/>`); err != nil {
		t.Fatal(err)
	}
	expectPresence(t, ps.alice, "subscribed from bob", func(p peers.Presence) bool { return p.Type == "subscribed" })
	if err := ps.alice.SendRaw(ctx, `<presence type='subscribe' to='dan@`+sipDomain+`' id='lim'/>`); err != nil {
		t.Fatal(err)
	}
	expectPresence(t, ps.alice, "resource-constraint from dan", func(p peers.Presence) bool {
		return p.Type == "error" && p.From == "dan@"+sipDomain && p.ErrorCondition == "resource-constraint" && p.ID == "lim"
	})
}

// TestE2EPresenceRate: beyond presence.subscribe_rate from one source a
// SUBSCRIBE gets 503 with Retry-After (issue 4 item 5). At 0.2/s the
// second SUBSCRIBE comes well within the 5 s a new token takes.
func TestE2EPresenceRate(t *testing.T) {
	ps := newPresenceStack(t, presenceOptions{subscribeRate: 0.2})
	first, err := peers.SubscribeUAC{RequestURI: "sip:alice@" + xmppDomain, From: "<sip:vera@" + sipDomain + ">", Expires: 60}.Render()
	if err != nil {
		t.Fatal(err)
	}
	runSIPp(t, ps.dir, "vera-1", first, ps.sipAddr)
	second, err := peers.SubscribeUAC{RequestURI: "sip:dave@" + xmppDomain, From: "<sip:vera@" + sipDomain + ">", Expires: 60, Expect: 503}.Render()
	if err != nil {
		t.Fatal(err)
	}
	p := runSIPp(t, ps.dir, "vera-2", second, ps.sipAddr)
	if res := response(t, p); res.GetHeader("Retry-After") == nil {
		t.Errorf("503 without Retry-After: %v", res)
	}
}

// TestE2EPresenceDeclined: an XMPP user declines a SIP watcher's request:
// the pending subscription ends with NOTIFY terminated;reason=rejected and
// no presence is ever notified (RFC 8048 §5.3.1, SUB-18, SUB-28).
func TestE2EPresenceDeclined(t *testing.T) {
	ps := newPresenceStack(t, presenceOptions{})
	ctx := context.Background()
	if err := ps.alice.SendRaw(ctx, `<presence><status>Here</status></presence>`); err != nil {
		t.Fatal(err)
	}
	sub, err := peers.SubscribeUAC{RequestURI: "sip:alice@" + xmppDomain, From: "<sip:mallory@" + sipDomain + ">",
		Expires: 60, UntilTerminated: true}.Render()
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := peers.StartSIPp(peers.SIPpOptions{Dir: ps.dir, Name: "mallory", Scenario: sub, Remote: ps.kam.Addr(),
		Calls: 1, TraceMsg: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer mallory.Stop()
	expectPresence(t, ps.alice, "subscribe from mallory", func(p peers.Presence) bool { return p.Type == "subscribe" })
	if err := ps.alice.SendRaw(ctx, `<presence type='unsubscribed' to='mallory@`+sipDomain+`'/>`); err != nil {
		t.Fatal(err)
	}
	w := &sipWatcher{p: mallory}
	w.waitNotify(t, "terminated;reason=rejected", func(r *sip.Request) bool {
		return strings.HasPrefix(state(r), "terminated") && strings.Contains(state(r), "reason=rejected")
	})
	for _, r := range notifies(t, mallory) {
		if len(r.Body()) != 0 {
			t.Errorf("a declined watcher received presence: %s\n%s", state(r), r.Body())
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if code, err := mallory.Wait(wctx); err != nil || code != 0 {
		t.Fatalf("sipp mallory exit %d %v: %s", code, err, mallory.Errors())
	}
}

// TestE2EPresenceTCP: NOTIFYs take the transport RFC 6665 and RFC 3261
// §18.1.1 ask for. A watcher that subscribed over TCP gets them over TCP
// (sipside sends them on the SUBSCRIBE's connection; that it is the same
// connection is proven by sipside's loopback tests, not here); a NOTIFY over 1300
// bytes to a watcher that subscribed over UDP through Kamailio leaves the
// gateway over TCP (the gateway's Via, below Kamailio's, says TCP) and
// still arrives whole.
func TestE2EPresenceTCP(t *testing.T) {
	ps := newPresenceStack(t, presenceOptions{})
	ctx := context.Background()
	long := strings.Repeat("Out of office until Monday. ", 60) // about 1.7 kB of note
	watch := func(t *testing.T, name, remote string, tcp bool) *sipWatcher {
		t.Helper()
		sub, err := peers.SubscribeUAC{RequestURI: "sip:alice@" + xmppDomain, From: "<sip:" + name + "@" + sipDomain + ">",
			Expires: 60, UntilTerminated: true}.Render()
		if err != nil {
			t.Fatal(err)
		}
		p, err := peers.StartSIPp(peers.SIPpOptions{Dir: ps.dir, Name: name, Scenario: sub, Remote: remote,
			Calls: 1, TCP: tcp, TraceMsg: true, Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Stop)
		expectPresence(t, ps.alice, "subscribe from "+name, func(p peers.Presence) bool {
			return p.Type == "subscribe" && p.From == name+"@"+sipDomain
		})
		if err := ps.alice.SendRaw(ctx, `<presence type='subscribed' to='`+name+`@`+sipDomain+`'/>`); err != nil {
			t.Fatal(err)
		}
		return &sipWatcher{p: p}
	}
	// gatewayVia is the transport of the gateway's Via in a NOTIFY (the
	// last one: a proxy adds its own above it).
	gatewayVia := func(r *sip.Request) string {
		vias := r.GetHeaders("Via")
		if len(vias) == 0 {
			return ""
		}
		v, ok := vias[len(vias)-1].(*sip.ViaHeader)
		if !ok {
			return ""
		}
		return v.Transport
	}
	hasNote := func(t *testing.T, r *sip.Request, note string) bool {
		for _, tu := range tuples(t, r) {
			for _, n := range tu.Notes {
				if n.Text == note {
					return true
				}
			}
		}
		return false
	}

	t.Run("a TCP watcher gets its NOTIFYs over TCP", func(t *testing.T) {
		w := watch(t, "tess", ps.sipAddr, true)
		if err := ps.alice.SendRaw(ctx, `<presence><status>over TCP</status></presence>`); err != nil {
			t.Fatal(err)
		}
		n := w.waitNotify(t, "active, note 'over TCP'", func(r *sip.Request) bool {
			return strings.HasPrefix(state(r), "active") && hasNote(t, r, "over TCP")
		})
		if tr := gatewayVia(n); tr != "TCP" {
			t.Errorf("NOTIFY Via transport %q, want TCP", tr)
		}
	})
	t.Run("over 1300 bytes leaves over TCP", func(t *testing.T) {
		w := watch(t, "uma", ps.kam.Addr(), false)
		if err := ps.alice.SendRaw(ctx, `<presence><status>`+long+`</status></presence>`); err != nil {
			t.Fatal(err)
		}
		n := w.waitNotify(t, "active with the long note", func(r *sip.Request) bool {
			return strings.HasPrefix(state(r), "active") && hasNote(t, r, long)
		})
		if len(n.Body()) <= 1300 {
			t.Fatalf("NOTIFY body %d bytes: not over the limit, the test proves nothing", len(n.Body()))
		}
		if tr := gatewayVia(n); tr != "TCP" {
			t.Errorf("a NOTIFY of %d bytes left the gateway over %q, want TCP (RFC 3261 §18.1.1)", len(n.Body()), tr)
		}
	})
}
