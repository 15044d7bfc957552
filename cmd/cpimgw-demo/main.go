// Command cpimgw-demo runs a self-contained cpimgw demonstration on
// loopback: a throwaway Prosody with a demo XMPP user, the cpimgw binary
// attached to it as a component, and sipp as the SIP user agents. It sends
// one message each way, prints them, and then keeps everything running
// until Ctrl-C so a person can log in with an XMPP client or point a SIP
// user agent at the gateway.
//
//	cpimgw-demo -gateway bin/cpimgw
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"cpimgw/internal/peers"
)

const (
	xmppDomain = "xmpp.example.test"
	sipDomain  = "sip.example.test"
)

func main() {
	gateway := flag.String("gateway", "bin/cpimgw", "the cpimgw binary")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := demo(ctx, *gateway); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// port returns preferred when it is free on loopback (TCP and UDP), else a
// free port, so the demo uses the well-known ports when it can.
func port(preferred int) int {
	if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", preferred)); err == nil {
		l.Close()
		if u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", preferred)); err == nil {
			u.Close()
			return preferred
		}
	}
	p, err := peers.FreePort()
	if err != nil {
		panic(err)
	}
	return p
}

func secret() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func demo(ctx context.Context, gatewayBin string) error {
	if _, err := os.Stat(gatewayBin); err != nil {
		return fmt.Errorf("%s not built (run make build): %w", gatewayBin, err)
	}
	dir, err := os.MkdirTemp("", "cpimgw-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// 1. A throwaway Prosody with one XMPP user.
	alicePass := secret()
	prosody, err := peers.NewProsody(peers.ProsodyOptions{
		Dir: filepath.Join(dir, "prosody"), Domain: xmppDomain,
		Components: map[string]string{sipDomain: secret()},
		Users:      map[string]string{"alice": alicePass},
		C2SPort:    port(5222), ComponentPort: port(5347),
	})
	if err != nil {
		return err
	}
	if err := prosody.Start(ctx); err != nil {
		return err
	}
	defer prosody.Stop()
	say("Prosody is up: XMPP domain %s, c2s %s, component port %s", xmppDomain, prosody.C2SAddr(), prosody.ComponentAddr())

	// 2. sipp as the SIP user bob: the gateway's outbound proxy, answering
	// every MESSAGE with 200 and tracing what it gets.
	bobPort := port(5070)
	uasXML, err := peers.MessageUAS{Status: 200, Reason: "OK"}.Render()
	if err != nil {
		return err
	}
	bob, err := peers.StartSIPp(peers.SIPpOptions{Dir: dir, Name: "bob", Scenario: uasXML, LocalPort: bobPort, TraceMsg: true})
	if err != nil {
		return err
	}
	defer bob.Stop()

	// 3. cpimgw itself, with a generated configuration.
	sipPort := port(5060)
	cfgPath := filepath.Join(dir, "cpimgw.yaml")
	cfg := fmt.Sprintf(`xmpp:
  component: %s
  server: %s
  secret: %s
sip:
  listen: ["udp:127.0.0.1:%d", "tcp:127.0.0.1:%d"]
  outbound_proxy: "sip:127.0.0.1:%d"
routes:
  xmpp_domains: [%s]
  sip_domains: [%s]
  foreign_sip: escape
  trusted_sip_sources: [127.0.0.0/8]
presence:
  state_dir: %s
`, sipDomain, prosody.ComponentAddr(), prosody.Opts.Components[sipDomain], sipPort, sipPort, bobPort, xmppDomain, sipDomain,
		filepath.Join(dir, "state"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	gw := exec.Command(gatewayBin, "-config", cfgPath)
	gw.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	logs, err := gw.StderrPipe()
	if err != nil {
		return err
	}
	if err := gw.Start(); err != nil {
		return err
	}
	defer func() {
		gw.Process.Signal(syscall.SIGTERM)
		gw.Wait()
	}()
	up := make(chan struct{})
	go func() {
		s := bufio.NewScanner(logs)
		once := false
		for s.Scan() {
			fmt.Println("cpimgw |", s.Text())
			if !once && strings.Contains(s.Text(), "component link up") {
				once = true
				close(up)
			}
		}
	}()
	select {
	case <-up:
	case <-time.After(15 * time.Second):
		return errors.New("the gateway did not connect to Prosody")
	case <-ctx.Done():
		return ctx.Err()
	}

	// 4. alice logs in with an XMPP client.
	alice, err := peers.Login(ctx, prosody.C2SAddr(), "alice@"+xmppDomain+"/demo", alicePass)
	if err != nil {
		return err
	}
	defer alice.Close()

	// 5. SIP → XMPP: sipp sends a MESSAGE from bob to alice.
	uacXML, err := peers.MessageUAC{
		RequestURI: "sip:alice@" + xmppDomain, From: `"Bob" <sip:bob@` + sipDomain + `>`, To: "sip:alice@" + xmppDomain,
		Headers: []string{"Subject: Demo", "Content-Language: en"}, Body: "Hello Alice, this is Bob on SIP. Grüße!",
	}.Render()
	if err != nil {
		return err
	}
	uac, err := peers.StartSIPp(peers.SIPpOptions{Dir: dir, Name: "bob-uac", Scenario: uacXML,
		Remote: fmt.Sprintf("127.0.0.1:%d", sipPort), Calls: 1})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	code, err := uac.Wait(wctx)
	cancel()
	if err != nil || code != 0 {
		return fmt.Errorf("sipp MESSAGE to alice failed (exit %d): %v %s", code, err, uac.Errors())
	}
	say("SIP → XMPP: sipp (bob) sent a MESSAGE; the gateway answered 202 Accepted")
	wctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	m, err := alice.Next(wctx)
	cancel()
	if err != nil {
		return fmt.Errorf("alice received nothing: %w", err)
	}
	say("XMPP client alice received from %s (subject %q, xml:lang %q): %s", m.From, m.Subject, m.Lang, m.Body)

	// 6. XMPP → SIP: alice answers bob.
	if err := alice.SendMessage(ctx, "bob@"+sipDomain, "demo-1", "en", "Hi Bob, Alice here on XMPP.", ""); err != nil {
		return err
	}
	raw, err := waitTraced(ctx, bob, "MESSAGE", func(raw string) bool { return strings.HasPrefix(raw, "MESSAGE ") })
	if err != nil {
		return err
	}
	say("XMPP → SIP: sipp (bob) received:\n%s", indent(raw))

	// 7. Presence, SIP watching XMPP (RFC 8048): bob subscribes to alice;
	// the gateway, as alice's presence agent, asks her; she approves and
	// bob is notified of her presence as PIDF.
	if err := alice.SendRaw(ctx, `<presence xml:lang='en'><show>chat</show><status>Trying the gateway</status></presence>`); err != nil {
		return err
	}
	// The demo has no SIP proxy: the gateway's outbound proxy is sipp
	// (bob) answering MESSAGEs, and it sends requests of a dialog without
	// a route set there too. So bob's watcher record-routes itself, as a
	// proxy in front of it would, and the NOTIFYs come straight back.
	watchXML, err := peers.SubscribeUAC{RequestURI: "sip:alice@" + xmppDomain, From: "<sip:bob@" + sipDomain + ">",
		ContactUser: "bob", Expires: 3600, UntilTerminated: true,
		Headers: []string{"Record-Route: <sip:[local_ip]:[local_port];lr>"}}.Render()
	if err != nil {
		return err
	}
	watch, err := peers.StartSIPp(peers.SIPpOptions{Dir: dir, Name: "bob-watcher", Scenario: watchXML,
		Remote: fmt.Sprintf("127.0.0.1:%d", sipPort), Calls: 1, TraceMsg: true})
	if err != nil {
		return err
	}
	defer watch.Stop()
	if err := awaitSubscribe(ctx, alice, "bob@"+sipDomain); err != nil {
		return err
	}
	say("presence: sipp (bob) sent SUBSCRIBE for alice; the gateway answered 200, notified 'pending' and asked alice")
	if err := alice.SendRaw(ctx, `<presence type='subscribed' to='bob@`+sipDomain+`'/>`); err != nil {
		return err
	}
	raw, err = waitTraced(ctx, watch, "NOTIFY with alice's presence", func(raw string) bool {
		return strings.HasPrefix(raw, "NOTIFY ") && strings.Contains(raw, "Subscription-State: active") && strings.Contains(raw, "<presence")
	})
	if err != nil {
		return err
	}
	say("presence: alice approved; sipp (bob) received:\n%s", indent(raw))

	fmt.Printf(`
demo | The gateway is running. Try it yourself:
demo |   XMPP: log in as alice@%s with password %s
demo |         server 127.0.0.1, port %d, plain authentication without TLS (loopback only);
demo |         send a message to bob@%s: sipp (bob) answers 200 and the gateway log shows it.
demo |         change alice's status: bob (sipp) is notified, at most every 5 s, and the NOTIFY shown here.
demo |   SIP:  send a MESSAGE or SUBSCRIBE to sip:alice@%s via udp or tcp 127.0.0.1:%d
demo |         (from any sip:user@%s address; 127.0.0.0/8 is trusted).
demo | Press Ctrl-C to stop.
`, xmppDomain, alicePass, prosody.Opts.C2SPort, sipDomain, xmppDomain, sipPort, sipDomain)
	go func() {
		for {
			m, err := alice.Next(ctx)
			if err != nil {
				return
			}
			say("alice received from %s: %s", m.From, m.Body)
		}
	}()
	go showNotifies(ctx, watch, raw)
	<-ctx.Done()
	say("stopping")
	return nil
}

// waitTraced waits up to 10 s until sipp traced a received message that
// match accepts, and returns it; what names it in the error.
func waitTraced(ctx context.Context, s *peers.SIPp, what string, match func(raw string) bool) (string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		msgs, err := s.Messages()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		for _, m := range msgs {
			if m.Received && match(m.Raw) {
				return m.Raw, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("sipp (bob) received no %s: see the gateway log", what)
}

// awaitSubscribe waits until the XMPP client receives a subscription
// request from the given bare JID.
func awaitSubscribe(ctx context.Context, c *peers.Client, from string) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		p, err := c.NextPresence(wctx)
		if err != nil {
			return fmt.Errorf("alice received no subscription request from %s: %w", from, err)
		}
		if p.Type == "subscribe" && p.From == from {
			return nil
		}
	}
}

// showNotifies prints each NOTIFY sipp (bob) receives after the one
// already shown, until ctx ends.
func showNotifies(ctx context.Context, s *peers.SIPp, last string) {
	seen := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		msgs, _ := s.Messages()
		var notifies []string
		for _, m := range msgs {
			if m.Received && strings.HasPrefix(m.Raw, "NOTIFY ") {
				notifies = append(notifies, m.Raw)
			}
		}
		if seen == 0 {
			// Skip those up to the one shown already.
			for i, n := range notifies {
				if n == last {
					seen = i + 1
				}
			}
			if seen == 0 {
				continue
			}
		}
		for ; seen < len(notifies); seen++ {
			say("presence: sipp (bob) received:\n%s", indent(notifies[seen]))
		}
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n"), "\n") {
		b.WriteString("demo |     " + l + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// say prints a line of the demo's own narration.
func say(format string, args ...any) { fmt.Printf("demo | "+format+"\n", args...) }
