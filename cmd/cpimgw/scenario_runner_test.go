package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cpimgw/internal/peers"
	"cpimgw/sipside"
	"cpimgw/xmppside"
)

// The scenario runner: the stack a transcript runs against and the
// execution of its sections (testdata/scenarios/README.md).

// Waiting bounds of the runner.
const (
	// expectWait bounds the wait for a stanza or SIP message an expect
	// section or a marker names.
	expectWait = 5 * time.Second
)

// logSink passes the gateway's and Prosody's log lines to the test that is
// running, so that they appear with the scenario that caused them and
// never reach a test that has ended.
type logSink struct {
	mu sync.Mutex
	t  testing.TB // nil: discard
}

func (s *logSink) set(t testing.TB) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t = t
}

func (s *logSink) Write(p []byte) (int, error) {
	s.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (s *logSink) Logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t != nil {
		s.t.Logf(format, args...)
	}
}

// scenStack is one gateway between one Prosody (alice and dave logged in)
// and the raw SIP peer, which is its outbound proxy.
type scenStack struct {
	dir      string
	prosody  *peers.Prosody
	users    map[string]*xmppUser
	peer     *sipPeer
	peerAddr string
	gw       string // the gateway's UDP listener, host:port
	cancel   context.CancelFunc
	done     chan error
	marks    int // markers sent so far
}

func newScenStack(sink *logSink) (st *scenStack, err error) {
	// Not t.TempDir: the stack outlives the subtest that starts it.
	dir, err := os.MkdirTemp("", "cpimgw-scenarios-")
	if err != nil {
		return nil, err
	}
	st = &scenStack{dir: dir, users: map[string]*xmppUser{}}
	defer func() {
		if err != nil {
			st.close()
			st = nil
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	passwords := map[string]string{}
	for _, u := range scenarioUsers {
		passwords[u] = u + "-pw"
	}
	st.prosody, err = peers.NewProsody(peers.ProsodyOptions{
		Dir: filepath.Join(dir, "prosody"), Domain: xmppDomain,
		Components: map[string]string{sipDomain: "component-secret"},
		Users:      passwords, Logf: sink.Logf,
	})
	if err != nil {
		return st, err
	}
	if err := st.prosody.Start(ctx); err != nil {
		return st, err
	}
	if st.peer, err = newSIPPeer(); err != nil {
		return st, err
	}
	st.peerAddr = st.peer.Addr
	cfg := &Config{
		XMPP: XMPPConfig{
			Component: sipDomain, Server: st.prosody.ComponentAddr(), Secret: "component-secret",
			ReconnectMax: time.Second, PingInterval: 5 * time.Second, PingTimeout: 2 * time.Second,
			// One worker: X2S messages go to SIP one after the other, in
			// the order they arrived, so the marker of a <sip none section
			// cannot overtake a message sent before it.
			Workers: 1,
		},
		SIP: SIPConfig{
			Listen:             []string{"udp:127.0.0.1:0"},
			OutboundProxy:      "sip:" + st.peer.Addr,
			TransactionTimeout: expectWait,
		},
		Routes: RoutesConfig{
			XMPPDomains: []string{xmppDomain}, SIPDomains: []string{sipDomain},
			ForeignSIP: "escape", TrustedSIPSources: []string{"127.0.0.1/32"},
		},
		// Presence timers short enough for a transcript: NOTIFYs at most
		// every 200 ms per watcher and presentity instead of 5 s (RFC 3856
		// §6.10); 500 ms for an XMPP user's answer to the probe before a
		// refresh; SIP watchers may subscribe for 2 s (Expires: 1 is too
		// brief). A subscription the peer grants the gateway for 2 s is
		// refreshed at 1.6 s (80 %).
		Presence: PresenceConfig{StateDir: filepath.Join(dir, "state"),
			NotifyInterval: 200 * time.Millisecond, ProbeTimeout: 500 * time.Millisecond,
			MinExpires: 2 * time.Second},
		ShutdownTimeout: 10 * time.Second,
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return st, err
	}
	log := slog.New(slog.NewTextHandler(sink, &slog.HandlerOptions{Level: slog.LevelDebug}))
	runCtx, stop := context.WithCancel(context.Background())
	st.cancel, st.done = stop, make(chan error, 1)
	ready := make(chan struct{})
	var comp *xmppside.Component
	var ep *sipside.Endpoint
	go func() {
		st.done <- run(runCtx, cfg, log, func(c *xmppside.Component, e *sipside.Endpoint) {
			comp, ep = c, e
			close(ready)
		})
	}()
	select {
	case <-ready:
	case err := <-st.done:
		st.done <- err
		return st, fmt.Errorf("gateway exited: %v", err)
	}
	if err := ep.WaitReady(ctx); err != nil {
		return st, err
	}
	addrs := ep.Addrs()
	if len(addrs) == 0 || !strings.HasPrefix(addrs[0], "udp:") {
		return st, fmt.Errorf("gateway listens on %v, want a UDP listener", addrs)
	}
	st.gw = strings.TrimPrefix(addrs[0], "udp:")
	if err := comp.WaitUp(ctx); err != nil {
		return st, fmt.Errorf("component did not connect to Prosody: %w", err)
	}
	for _, u := range scenarioUsers {
		// The server chooses the resource ({{alice.resource}}).
		c, err := loginUser(ctx, u, st.prosody.C2SAddr(), u+"@"+xmppDomain, passwords[u], sink.Logf)
		if err != nil {
			return st, err
		}
		st.users[u] = c
	}
	return st, nil
}

// vars returns the placeholders the stack defines.
func (st *scenStack) vars() map[string]string {
	v := map[string]string{"gw": st.gw, "peer": st.peerAddr, "content-length": clMarker}
	for name, u := range st.users {
		v[name] = u.JID.String()
		v[name+".bare"] = u.JID.Bare().String()
		v[name+".resource"] = u.JID.Resourcepart()
	}
	return v
}

// close stops everything. From now on the SIP peer answers every request
// with a 500, so the gateway need not wait for transactions to time out
// before it can stop.
func (st *scenStack) close() {
	for _, u := range st.users {
		u.Close()
	}
	if st.peer != nil {
		st.peer.answerAll("SIP/2.0 500 Scenario Ended")
	}
	if st.cancel != nil {
		st.cancel()
		select {
		case <-st.done:
		case <-time.After(20 * time.Second):
		}
	}
	if st.peer != nil {
		st.peer.Close()
	}
	if st.prosody != nil {
		st.prosody.Stop()
	}
	os.RemoveAll(st.dir)
}

// reporter is what a run reports to: a *testing.T, or a recorder in the
// runner's own tests.
type reporter interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
}

// scenRun is the run of one transcript.
type scenRun struct {
	t       reporter
	st      *scenStack
	sc      *scenario
	vars    map[string]string
	token   string  // fresh per file
	sends   int     // sip> requests sent
	lastReq *sipMsg // the last request the SIP peer received
}

// newRun prepares the run of sc on st, with the placeholders of the
// stack and fresh ones for the file.
func newRun(t reporter, st *scenStack, sc *scenario) *scenRun {
	r := &scenRun{t: t, st: st, sc: sc, vars: st.vars(), token: strings.ToLower(rand.Text()[:10])}
	r.vars["callid"] = "scen-" + r.token + "@peer.example.test"
	r.vars["tag"] = "tag-" + r.token
	r.vars["totag"] = "totag-" + r.token
	return r
}

// capture makes what a matching section's captures recorded available as
// placeholders for the sections after it.
func (r *scenRun) capture(caps map[string]string) {
	for name, v := range caps {
		r.vars[name] = v
		r.t.Logf("captured {{%s}} = %q", name, v)
	}
}

// run runs every section in turn, stopping at the first that fails, then
// checks that nobody received anything more.
func (r *scenRun) run() {
	for _, s := range r.sc.steps {
		if !r.step(s) {
			return
		}
	}
	// The transcript is complete: nobody got anything more.
	for _, u := range scenarioUsers {
		if !r.xmppNothing(u, "after the last section") {
			return
		}
	}
	r.sipNothing("after the last section")
}

// at names a place in the file for a report: "file.txtar:12 (-- <sip --)"
// for a section, "file.txtar, after the last section" for the final check.
func (r *scenRun) at(where string) string {
	if l, ok := strings.CutPrefix(where, "line "); ok {
		return filepath.Base(r.sc.path) + ":" + l
	}
	return filepath.Base(r.sc.path) + ", " + where
}

// fail reports a failed section with the expected text and what arrived.
func (r *scenRun) fail(s step, what string, expected, got string, diffs []string) bool {
	r.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", r.at(s.where()), what)
	for _, d := range diffs {
		fmt.Fprintf(&b, "  - %s\n", d)
	}
	if expected != "" {
		fmt.Fprintf(&b, "--- expected (%s)\n%s", s.marker, strings.TrimSuffix(expected, "\n")+"\n")
	}
	if got != "" {
		fmt.Fprintf(&b, "+++ got\n%s", strings.TrimSuffix(got, "\n")+"\n")
	}
	r.t.Errorf("%s", b.String())
	return false
}

func (r *scenRun) step(s step) bool {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), expectWait)
	defer cancel()
	switch s.kind {
	case xmppSend:
		text, err := expand(s.data, r.vars)
		if err == nil {
			_, err = parseXML(text)
		}
		if err == nil {
			r.t.Logf("%s sends:\n%s", s.user, text)
			err = r.st.users[s.user].send(ctx, text)
		}
		if err != nil {
			return r.fail(s, "cannot send: "+err.Error(), "", "", nil)
		}
	case xmppExpect:
		text, err := expandExpected(s.data, r.vars)
		var exp *xnode
		if err == nil {
			exp, err = parseXML(text)
		}
		if err != nil {
			return r.fail(s, "bad expected stanza: "+err.Error(), s.data, "", nil)
		}
		shown := showPattern(text)
		got, err := r.st.users[s.user].next(ctx)
		if err != nil {
			return r.fail(s, fmt.Sprintf("%s received nothing within %v", s.user, expectWait), shown, "", nil)
		}
		r.t.Logf("%s received:\n%s", s.user, got)
		d, caps := matchXMLCaptures(exp, got, s.exact)
		if len(d) > 0 {
			return r.fail(s, s.user+" received another stanza", shown, got.String(), d)
		}
		r.capture(caps)
	case xmppNone:
		return r.xmppNothing(s.user, s.where())
	case sipSend:
		isResponse := strings.HasPrefix(s.data, "SIP/2.0 ")
		if !isResponse {
			// A fresh branch for each request (RFC 3261 §8.1.1.7).
			r.sends++
			r.vars["branch"] = fmt.Sprintf("z9hG4bK-scen-%s-%d", r.token, r.sends)
		}
		lines, err := sectionLines(s.data, r.vars, false)
		if err != nil {
			return r.fail(s, err.Error(), "", "", nil)
		}
		if isResponse {
			if r.lastReq == nil {
				return r.fail(s, "a response, but the SIP peer has received no request", "", "", nil)
			}
			raw := responseTo(r.lastReq, lines, r.vars["totag"])
			r.t.Logf("the SIP peer answers:\n%s", showSIP(raw))
			err = r.st.peer.respond(r.lastReq, raw)
		} else {
			via := fmt.Sprintf("SIP/2.0/UDP %s;branch=%s", r.st.peerAddr, r.vars["branch"])
			raw := requestText(lines, via)
			r.t.Logf("the SIP peer sends:\n%s", showSIP(raw))
			err = r.st.peer.send(raw, r.st.gw)
		}
		if err != nil {
			return r.fail(s, "cannot send: "+err.Error(), "", "", nil)
		}
	case sipExpect:
		lines, err := sectionLines(s.data, r.vars, true)
		if err != nil {
			return r.fail(s, err.Error(), "", "", nil)
		}
		exp := expectedSIP(lines, s.xml, s.exact)
		shown := showPattern(strings.Join(lines, "\n"))
		var got *sipMsg
		var d []string
		var caps map[string]string
		for {
			got, err = r.st.peer.next(ctx, r.st.peer.inbox)
			if err != nil {
				return r.fail(s, fmt.Sprintf("the SIP peer received nothing within %v", expectWait), shown, "", nil)
			}
			r.t.Logf("the SIP peer received:\n%s", got)
			d, caps = matchSIP(exp, got)
			if len(d) == 0 || !s.eventually || !superseded(exp, got) {
				break
			}
			// An older state of the same dialog (eventually).
			if err := r.st.peer.respond(got, responseTo(got, []string{"SIP/2.0 200 OK"}, r.vars["totag"])); err != nil {
				return r.fail(s, "cannot answer a skipped request: "+err.Error(), "", "", nil)
			}
			r.t.Logf("the SIP peer answers 200 and skips it (eventually): %s", strings.Join(d, "; "))
		}
		if !got.isResponse() {
			r.lastReq = got
		}
		if len(d) > 0 {
			return r.fail(s, "the SIP peer received another message", shown, got.String(), d)
		}
		r.capture(caps)
	case sipNone:
		return r.sipNothing(s.where())
	}
	return true
}

// xmppNothing checks that user has received nothing: the SIP peer sends a
// marker MESSAGE to user through the gateway, which must be the next
// stanza user receives. The gateway writes stanzas on one component
// stream in order, so anything it sent user before the marker arrives
// first.
func (r *scenRun) xmppNothing(user, where string) bool {
	r.t.Helper()
	st := r.st
	st.marks++
	id := fmt.Sprintf("%s-%d", r.token, st.marks)
	body := "scenario marker " + id
	req := strings.Join([]string{
		"MESSAGE sip:" + user + "@" + xmppDomain + " SIP/2.0",
		"Via: SIP/2.0/UDP " + st.peerAddr + ";branch=" + markerBranch + id,
		"Max-Forwards: 70",
		"From: <sip:scenario-marker@" + sipDomain + ">;tag=m" + id,
		"To: <sip:" + user + "@" + xmppDomain + ">",
		"Call-ID: marker-" + id,
		"CSeq: 1 MESSAGE",
		"Content-Type: text/plain",
		fmt.Sprintf("Content-Length: %d", len(body)),
		"", body}, "\r\n")
	ctx, cancel := context.WithTimeout(context.Background(), expectWait)
	defer cancel()
	if err := st.peer.send([]byte(req), st.gw); err != nil {
		return r.report(where, "cannot send the marker: "+err.Error(), "")
	}
	for {
		res, err := st.peer.next(ctx, st.peer.marks)
		if err != nil {
			return r.report(where, "the gateway did not answer the marker MESSAGE", "")
		}
		if res.branch() != markerBranch+id {
			continue // a late answer to an earlier marker
		}
		if !strings.HasPrefix(res.Start, "SIP/2.0 2") {
			return r.report(where, "the gateway refused the marker MESSAGE to "+user, res.String())
		}
		break
	}
	got, err := st.users[user].next(ctx)
	if err != nil {
		return r.report(where, user+" did not receive the marker message", "")
	}
	if got.Name.Local != "message" || !strings.Contains(got.String(), body) {
		return r.report(where, fmt.Sprintf("%s received a stanza, want none", user), got.String())
	}
	return true
}

// report reports a failed none check with what arrived.
func (r *scenRun) report(where, what, got string) bool {
	r.t.Helper()
	if got != "" {
		got = "\n+++ got\n" + got
	}
	r.t.Errorf("%s: %s%s", r.at(where), what, got)
	return false
}

// sipNothing checks that the SIP peer has received nothing: alice sends a
// marker message to a SIP user, whose MESSAGE must be the next thing the
// peer receives; the peer answers it 200.
func (r *scenRun) sipNothing(where string) bool {
	r.t.Helper()
	st := r.st
	st.marks++
	id := fmt.Sprintf("%s-%d", r.token, st.marks)
	ctx, cancel := context.WithTimeout(context.Background(), expectWait)
	defer cancel()
	stanza := fmt.Sprintf(`<message to='marker-%s@%s' id='marker-%s'><body>scenario marker %s</body></message>`, id, sipDomain, id, id)
	if err := st.users["alice"].send(ctx, stanza); err != nil {
		return r.report(where, "cannot send the marker: "+err.Error(), "")
	}
	got, err := st.peer.next(ctx, st.peer.inbox)
	if err != nil {
		return r.report(where, "the SIP peer did not receive the marker MESSAGE", "")
	}
	if got.isResponse() || !strings.Contains(got.Start, "marker-"+id+"@") {
		return r.report(where, "the SIP peer received a message, want none", got.String())
	}
	res := responseTo(got, []string{"SIP/2.0 200 OK"}, "m"+id)
	if err := st.peer.respond(got, res); err != nil {
		return r.report(where, "cannot answer the marker: "+err.Error(), "")
	}
	return true
}
