package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"cpimgw/cpim"
	"cpimgw/internal/peers"
	"cpimgw/presence"
)

// The presence scale benchmark (cpimgw-bench -presence, make
// bench-presence): the real gateway restores N generated subscription
// pairs (pstate.go) and carries presence both ways between one XMPP user
// and N SIP contacts:
//
//	presence→NOTIFY (S2X): U's XMPP client sends directed presence to C_n
//	  (RFC 6121 §4.6) → Prosody → cpimgw, U's presence agent → NOTIFY on
//	  C_n's restored notifier dialog → sipp NOTIFY sink (answers 200)
//	NOTIFY→presence (X2S): sipp sends in-dialog NOTIFYs on the restored
//	  subscriber dialogs → cpimgw (200) → presence from C_n → Prosody →
//	  U's client
//
// For each N (0 first, for the empty gateway's memory) it measures the
// time from exec to readiness, the idle memory after the restore, the
// stepped throughput both ways, and the restart after a SIGKILL on the
// same state.

// presenceUser is U's localpart; the bench logs in as U/bench.
const presenceUser = "bench"

// idleSettle is how long the gateway rests after it is ready before its
// idle memory is read.
const idleSettle = 5 * time.Second

// startTimeout bounds a gateway start (restore included).
const startTimeout = 3 * time.Minute

// pbench is the presence test bed.
type pbench struct {
	*bench
	user     cpim.Address
	client   *peers.Client
	inbox    *presenceInbox
	sinks    []*peers.SIPp
	sinkLog  *tagLog
	sinkAddr string
	uacAddr  string
	uacPort  int
	notify   peers.NotifyUAC
	cfgPath  string
	interval time.Duration // the gateway's presence.notify_interval

	// The current state.
	pairs    int
	expires  time.Time
	cursor   int         // the last S2X pair used (cycle)
	lastSent []time.Time // per pair: the last S2X presence sent to it
	touched  []bool      // per pair: notified since the gateway started
	xcseq    uint32      // the CSeq of the next X2S step's NOTIFYs
}

// startup is one gateway start, from exec to readiness, read from its
// info log lines (their time= is the gateway's clock, the bench's too).
type startup struct {
	Exec time.Time
	// State: the core restored authorizations and dialog liveness
	// ("presence state restored"); Dialogs: sipside restored its dialogs
	// ("dialogs restored", logged only when there are some); Listening:
	// the SIP listeners serve ("listening", after the dialogs); Linked:
	// the component link is up.
	State, Dialogs, Listening, Linked time.Time
	// Ready is the last of them: every handler has its state.
	Ready time.Time
	// Counts are the attributes the two restore lines carry.
	Counts map[string]string
	// CPU is the gateway's CPU-seconds at readiness.
	CPU float64
}

func (s startup) since(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return t.Sub(s.Exec)
}

// pairsRun is everything measured at one N.
type pairsRun struct {
	Pairs     int
	Gen       stateStats
	First     startup
	Restart   startup
	Idle      memStatus
	IdleAfter memStatus // after the restart
	// IdleGC and IdleAfterGC are the collections from the start to the
	// idle reading (the restore's): Live is the heap the last one marked.
	IdleGC, IdleAfterGC gcStats
	Steps               []stepResult
	Check               []stepResult // the flows after the restart
	Throughput          bool
}

func presenceBenchmark(ctx context.Context, o options) error {
	start := time.Now()
	b, done, err := newBench(o, "cpimgw-pbench-")
	if err != nil {
		return err
	}
	defer done()
	dir := b.dir
	pb := &pbench{bench: b, user: cpim.Address{Local: presenceUser, Domain: xmppDomain}, interval: presence.DefaultNotifyInterval}

	password := secret()
	_, stopProsody, err := b.startProsody(ctx, map[string]string{presenceUser: password})
	if err != nil {
		return err
	}
	defer stopProsody()

	var ports [3]int
	for i := range ports {
		if ports[i], err = peers.FreePort(); err != nil {
			return err
		}
	}
	b.sipAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	pb.sinkAddr = fmt.Sprintf("127.0.0.1:%d", ports[1])
	pb.uacPort = ports[2]
	pb.uacAddr = fmt.Sprintf("127.0.0.1:%d", pb.uacPort)
	pb.notify = peers.NotifyUAC{RequestURI: "sip:" + b.sipAddr, WatcherURI: sipURI(pb.user), Domain: sipDomain}

	// The NOTIFY sink lives through the whole run: a NOTIFY the gateway
	// sent while no sink listened would go unanswered, and a NOTIFY that
	// times out ends its dialog (RFC 6665 §4.2.2). It listens on UDP and
	// TCP at the same port, as a SIP UA reached by a URI without a
	// transport parameter should: the gateway sends a request over 1300
	// bytes over TCP (RFC 3261 §18.1.1), and the NOTIFY of an away
	// presence with a status is that large.
	sinkXML, err := peers.NotifySink{}.Render()
	if err != nil {
		return err
	}
	var sinkLogs []string
	for _, tcp := range []bool{false, true} {
		name := "notify-sink-udp"
		if tcp {
			name = "notify-sink-tcp"
		}
		s, err := b.sippRun(peers.SIPpOptions{Name: name, Scenario: sinkXML, LocalPort: ports[1], TCP: tcp,
			TraceLogs: true, Extra: []string{"-deadcall_wait", "0"}}, false)
		if err != nil {
			return err
		}
		defer s.Stop()
		pb.sinks = append(pb.sinks, s)
		sinkLogs = append(sinkLogs, s.LogFile)
	}
	pb.sinkLog = newTagLog(sinkLogs...)

	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if pb.client, err = peers.Login(lctx, b.prosody.C2SAddr(), presenceUser+"@"+xmppDomain+"/bench", password); err != nil {
		return err
	}
	defer pb.client.Close()
	pb.inbox = collectPresence(ctx, pb.client)
	progress("Prosody %s, gateway SIP %s, NOTIFY sink %s, NOTIFY sender %s, work dir %s",
		b.prosody.C2SAddr(), b.sipAddr, pb.sinkAddr, pb.uacAddr, dir)

	var runs []pairsRun
	for _, n := range append([]int{0}, o.pairs...) {
		r, err := pb.runPairs(ctx, n)
		if err != nil {
			return fmt.Errorf("%d pairs: %w", n, err)
		}
		runs = append(runs, r)
	}
	rep := presenceReport{o: o, runs: runs, facts: machineFacts(o.gateway), interval: pb.interval,
		started: start, runtime: time.Since(start)}
	return publish(o, rep.markdown())
}

// runPairs generates the state of n pairs, starts the gateway on it and
// measures; the gateway is stopped when it returns.
func (pb *pbench) runPairs(ctx context.Context, n int) (pairsRun, error) {
	r := pairsRun{Pairs: n, Throughput: n > 0 && (pb.o.throughputMax == 0 || n <= pb.o.throughputMax)}
	stateDir := filepath.Join(pb.dir, fmt.Sprintf("state-%d", n))
	if !pb.o.keep {
		defer os.RemoveAll(stateDir)
	}
	now := time.Now().Truncate(time.Second)
	pb.expires = now.Add(time.Hour)
	if n > 0 {
		var err error
		progress("%d pairs: generating the state", n)
		r.Gen, err = generateState(stateDir, stateSpec{Pairs: n, User: pb.user, Sink: pb.sinkAddr, UAC: pb.uacAddr,
			Notify: pb.notify, Now: now, Expires: pb.expires})
		if err != nil {
			return r, err
		}
		progress("%d pairs: generated in %s, %.1f MB", n, r.Gen.Took.Round(time.Millisecond), float64(r.Gen.FileBytes)/1e6)
	}
	pb.cfgPath = filepath.Join(pb.dir, fmt.Sprintf("cpimgw-%d.yaml", n))
	if err := os.WriteFile(pb.cfgPath, []byte(pb.config(stateDir)), 0o600); err != nil {
		return r, err
	}
	pb.pairs, pb.cursor, pb.xcseq = n, 0, 2
	pb.lastSent, pb.touched = make([]time.Time, n+1), make([]bool, n+1)

	var err error
	if r.First, err = pb.start(ctx, n, "first"); err != nil {
		return r, err
	}
	defer func() { pb.gw.stop() }()
	progress("%d pairs: ready %s ms after exec (state restored %s, dialogs restored %s, listening %s, linked %s), %.2f CPU-s",
		n, ms(r.First.since(r.First.Ready)), ms(r.First.since(r.First.State)), ms(r.First.since(r.First.Dialogs)),
		ms(r.First.since(r.First.Listening)), ms(r.First.since(r.First.Linked)), r.First.CPU)
	if r.Idle, r.IdleGC, err = pb.idleMemory(ctx); err != nil {
		return r, err
	}
	progress("%d pairs: idle RSS %.1f MiB (anon %.1f, file %.1f), live heap at the last of %d GCs %d MiB",
		n, mib(r.Idle.VmRSS), mib(r.Idle.RssAnon), mib(r.Idle.RssFile), r.IdleGC.Cycles, r.IdleGC.Live)
	if n == 0 {
		return r, nil
	}

	if r.Throughput {
		if r.Steps, err = pb.throughput(ctx); err != nil {
			return r, err
		}
	}

	// SIGKILL (no shutdown, nothing flushed beyond what the store made
	// durable) and a start on the same state.
	pb.gw.kill()
	if r.Restart, err = pb.start(ctx, n, "restart"); err != nil {
		return r, err
	}
	progress("%d pairs: after SIGKILL ready %s ms after exec", n, ms(r.Restart.since(r.Restart.Ready)))
	if r.IdleAfter, r.IdleAfterGC, err = pb.idleMemory(ctx); err != nil {
		return r, err
	}
	// Presence flows again both ways, on dialogs the restart restored.
	for _, p := range pb.paths()[:2] {
		rate := min(200, n)
		s, err := pb.measure(ctx, p, rate, time.Duration(float64(min(n, 100))/float64(rate)*float64(time.Second)))
		if err != nil {
			return r, fmt.Errorf("after the restart, %s: %w", p.title, err)
		}
		progress("%d pairs: after the restart, %s: %s", n, p.title, s.summary())
		r.Check = append(r.Check, s)
	}
	return r, nil
}

// config is the gateway's configuration: the defaults but for loopback
// addresses, the state directory and log level info (the restore lines;
// at info the gateway logs nothing per presence or NOTIFY that goes well).
// No outbound proxy: in-dialog requests go to the remote target.
func (pb *pbench) config(stateDir string) string {
	return fmt.Sprintf(`# cpimgw-bench -presence: loopback only
xmpp:
  component: %s
  server: %s
  secret: %s
sip:
  listen: ["udp:%s"]
routes:
  xmpp_domains: [%s]
  sip_domains: [%s]
  trusted_sip_sources: [127.0.0.0/8]
presence:
  state_dir: %s
log:
  level: info
`, sipDomain, pb.prosody.ComponentAddr(), pb.prosodySecret(), pb.sipAddr, xmppDomain, sipDomain, stateDir)
}

// start runs the gateway and waits for its restore and readiness lines.
func (pb *pbench) start(ctx context.Context, n int, name string) (startup, error) {
	logPath := filepath.Join(pb.dir, fmt.Sprintf("cpimgw-%d-%s.log", n, name))
	su := startup{Exec: time.Now(), Counts: map[string]string{}}
	// gctrace: one line per garbage collection on stderr (its log), for
	// the collector's share of the CPU and the live heap.
	gw, err := startGateway(pb.o.gateway, pb.cfgPath, logPath, "GODEBUG=gctrace=1")
	if err != nil {
		return su, err
	}
	pb.gw = gw
	pb.touched = make([]bool, n+1)
	deadline := time.Now().Add(startTimeout)
	var off int64
	var part string
	for {
		lines, noff, npart := readLines(logPath, off, part)
		off, part = noff, npart
		for _, l := range lines {
			a := parseLogAttrs(l)
			if a == nil {
				continue
			}
			t, err := logTime(a)
			if err != nil {
				return su, err
			}
			switch a["msg"] {
			case "presence state restored":
				su.State = t
				for _, k := range []string{"pairs", "live_dialogs", "resubscribe"} {
					su.Counts[k] = a[k]
				}
			case "dialogs restored":
				su.Dialogs = t
				for _, k := range []string{"notifiers", "subscribers"} {
					su.Counts[k] = a[k]
				}
			case "listening":
				su.Listening = t
			case "component link up":
				su.Linked = t
			}
		}
		if !su.State.IsZero() && !su.Listening.IsZero() && !su.Linked.IsZero() && (n == 0 || !su.Dialogs.IsZero()) {
			break
		}
		if err := gw.alive(); err != nil {
			return su, err
		}
		if time.Now().After(deadline) {
			return su, fmt.Errorf("the gateway was not ready within %v:\n%s", startTimeout, gw.tail(20))
		}
		select {
		case <-ctx.Done():
			return su, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	for _, t := range []time.Time{su.State, su.Dialogs, su.Listening, su.Linked} {
		if t.After(su.Ready) {
			su.Ready = t
		}
	}
	su.CPU, err = gw.cpu(pb.clkTck)
	if err != nil {
		return su, err
	}
	if n > 0 {
		want := strconv.Itoa(n)
		if su.Counts["live_dialogs"] != want || su.Counts["notifiers"] != want || su.Counts["subscribers"] != want || su.Counts["resubscribe"] != "0" {
			return su, fmt.Errorf("the gateway did not restore the %d pairs: %v", n, su.Counts)
		}
	}
	return su, nil
}

// idleMemory lets the gateway rest, then reads its memory and the
// garbage collections since its start (the last one's live heap).
func (pb *pbench) idleMemory(ctx context.Context) (memStatus, gcStats, error) {
	select {
	case <-ctx.Done():
		return memStatus{}, gcStats{}, ctx.Err()
	case <-time.After(idleSettle):
	}
	if err := pb.gw.alive(); err != nil {
		return memStatus{}, gcStats{}, err
	}
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pb.gw.pid()))
	if err != nil {
		return memStatus{}, gcStats{}, err
	}
	m, err := parseProcStatus(string(s))
	_, gc := notableLogs(pb.gw.logPath, 0)
	return m, gc, err
}

// kill ends the gateway with SIGKILL, as a crash would.
func (g *gatewayProc) kill() {
	syscall.Kill(-g.pid(), syscall.SIGKILL)
	<-g.exited
}

// paths are the two presence directions, measured like the pager paths.
func (pb *pbench) paths() []path {
	return []path{
		{id: "presence-s2x", title: "presence→NOTIFY (S2X)", gw: true, run: pb.s2xStep},
		{id: "presence-x2s", title: "NOTIFY→presence (X2S)", gw: true, run: pb.x2sStep},
	}
}

// firstPath is the pass of presence→NOTIFY over every restored dialog.
func (pb *pbench) firstPath() path {
	return path{id: "presence-s2x-first", title: "presence→NOTIFY, first on each dialog", gw: true, run: pb.s2xStep}
}

// throughput runs a warm-up, a first presence→NOTIFY to every pair, then
// the steps of both directions.
//
// The first NOTIFY on a restored notifier dialog costs more than the next
// ones: sipside continues the dialog's CSeq above the stored high-water
// mark and stores the next mark durably before sending, and the core reads
// the pair's presence view from the store. The first pass, at one rate
// (-first-rate) for every N, measures that cost after a restart; the steps
// then measure dialogs that have had one, at every N alike (without it,
// the steps at 100 000 pairs would meet only fresh dialogs and those at
// 10 000 mostly used ones).
func (pb *pbench) throughput(ctx context.Context) ([]stepResult, error) {
	for _, p := range pb.paths() {
		if err := pb.warmUp(ctx, p, min(50, pb.pairs)); err != nil {
			return nil, err
		}
	}
	var results []stepResult
	// Not run again under other load: a second pass would meet used
	// dialogs.
	rate := min(pb.o.firstRate, pb.pairs)
	first, err := pb.measure(ctx, pb.firstPath(), rate, time.Duration(float64(pb.pairs)/float64(rate)*float64(time.Second))+time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("the first presence→NOTIFY pass: %w", err)
	}
	progress("%s: %s", pb.stepLabel("first NOTIFY on each dialog", rate), withGC(first))
	results = append(results, first)
	time.Sleep(pb.o.settle)
	for _, p := range pb.paths() {
		steps, err := pb.stepUp(pb.o.prates,
			func(rate int) string { return pb.stepLabel(p.title, rate) },
			withGC,
			func(rate int) (stepResult, error) {
				r, err := pb.measure(ctx, p, rate, pb.o.step)
				if err != nil {
					return r, fmt.Errorf("%s at %d/s: %w", p.title, rate, err)
				}
				return r, nil
			})
		if err != nil {
			return nil, err
		}
		results = append(results, steps...)
	}
	return results, nil
}

// stepLabel begins the progress lines of a step.
func (pb *pbench) stepLabel(title string, rate int) string {
	return fmt.Sprintf("%6d pairs %-24s %5d/s", pb.pairs, title, rate)
}

// withGC is a step's summary and the gateway's garbage collections in it.
func withGC(r stepResult) string {
	return fmt.Sprintf("%s; %d GCs, %.2f CPU-s", r.summary(), r.GC.Cycles, r.GC.CPU.Seconds())
}

// measure runs one step of p at rate for up to d and adds the CPU, the
// other load and the gateway's notable log lines of the step window.
func (pb *pbench) measure(ctx context.Context, p path, rate int, d time.Duration) (stepResult, error) {
	b := pb.bench
	if err := b.gw.alive(); err != nil {
		return stepResult{}, err
	}
	if err := waitFor(ctx, time.Now().Add(15*time.Second), b.linked.Load); err != nil {
		return stepResult{}, err
	}
	if !b.linked.Load() {
		return stepResult{}, fmt.Errorf("the gateway is not linked to Prosody:\n%s", b.gw.tail(20))
	}
	// Every presence path goes through the gateway (p.gw): runStep counts
	// its CPU.
	r, logOff, err := b.runStep(ctx, p, rate, d)
	if err != nil {
		return r, err
	}
	r.Warnings, r.GC = notableLogs(b.gw.logPath, logOff)
	r.GatewayRSS = b.gw.rss()
	return r, nil
}

// notableLogs counts the records the gateway logged after offset by level
// and message (at info it logs nothing per presence or NOTIFY that goes
// well, so every record of a step window is worth showing) and sums its
// gctrace lines.
func notableLogs(path string, offset int64) (map[string]int, gcStats) {
	lines, _, _ := readLines(path, offset, "")
	out := map[string]int{}
	var gc gcStats
	for _, l := range lines {
		l = strings.TrimRight(l, "\r\n") // the last attribute (suppressed=N) must not carry the line end
		if c, ok := parseGCLine(l); ok {
			gc.add(c)
			continue
		}
		r, ok := parseLogLine(l)
		if !ok || r.Level == "DEBUG" {
			continue
		}
		out[r.Level+" "+r.Msg] += 1 + r.Suppressed
	}
	return out, gc
}

// s2xStep: U sends directed presence, one to each of the next pairs of
// the cycle; the sink logs the NOTIFYs. The gateway coalesces the
// presence-driven NOTIFYs of a pair within notify_interval (RFC 3856
// §6.10, its default 5 s, PRS-17): a step waits until every pair it uses
// was last sent to more than that (and a second of slack) ago, so that
// each presence gives one NOTIFY at once.
func (pb *pbench) s2xStep(ctx context.Context, tag, rate int, d time.Duration) (stepResult, error) {
	n, dur := stepPairs(rate, pb.pairs, d)
	pairs, last := cycle(pb.cursor, n, pb.pairs)
	var busy time.Time
	fresh := 0
	for _, p := range pairs {
		if pb.lastSent[p].After(busy) {
			busy = pb.lastSent[p]
		}
		if !pb.touched[p] {
			fresh++
		}
	}
	if wait := time.Until(busy.Add(pb.interval + time.Second)); wait > 0 {
		select {
		case <-ctx.Done():
			return stepResult{}, ctx.Err()
		case <-time.After(wait):
		}
	}
	r := stepResult{Duration: dur, Sent: n, FailWhy: map[string]int{}, Fresh: fresh}
	var b strings.Builder
	sent, err := pace(ctx, rate, n, func(seq int, now time.Time) error {
		p := pairs[seq-1]
		pb.lastSent[p], pb.touched[p] = now, true
		b.Reset()
		fmt.Fprintf(&b, "<presence to='c%d@%s'><show>away</show><status>bench %d %d %s</status></presence>",
			p, sipDomain, tag, seq, formatEpoch(now))
		return pb.client.SendRaw(ctx, b.String())
	})
	pb.cursor = last
	if err != nil {
		return r, err
	}
	if err := waitFor(ctx, time.Now().Add(pb.o.grace), func() bool { return pb.sinkLog.count(tag) >= n }); err != nil {
		return r, err
	}
	got := pb.sinkLog.take(tag)
	for _, e := range pb.inbox.takeErrors() {
		r.Failed++
		r.FailWhy["U got a presence error "+e]++
	}
	r.tally(tag, got, sent)
	return r, nil
}

// x2sStep: sipp sends one NOTIFY on each of the first pairs' subscriber
// dialogs (call N on pair N, peers.NotifyUAC.Dialog), all with the step's
// CSeq; U's client counts the presence that arrives.
func (pb *pbench) x2sStep(ctx context.Context, tag, rate int, d time.Duration) (stepResult, error) {
	n, dur := stepPairs(rate, pb.pairs, d)
	u := pb.notify
	u.Tag = tag
	sc, err := u.Render()
	if err != nil {
		return stepResult{}, err
	}
	cseq := pb.xcseq
	pb.xcseq++
	uac, err := pb.sippRun(peers.SIPpOptions{Name: fmt.Sprintf("x2s-%d", tag), Scenario: sc, Remote: pb.sipAddr,
		LocalPort: pb.uacPort, Calls: n, Rate: rate, RatePeriod: time.Second, Extra: u.Args(cseq, pb.expires)}, true)
	if err != nil {
		return stepResult{}, err
	}
	defer uac.Stop()
	r, err := pb.uacResult(ctx, uac, n, dur, "no 200 from the gateway (sipp failed call)")
	if err != nil {
		return r, err
	}
	if err := waitFor(ctx, time.Now().Add(pb.o.grace), func() bool { return pb.inbox.count(tag) >= n }); err != nil {
		return r, err
	}
	for _, e := range pb.inbox.takeErrors() {
		r.Failed++
		r.FailWhy["U got a presence error "+e]++
	}
	r.tally(tag, pb.inbox.take(tag), nil)
	return r, nil
}

// presenceInbox records the presence U's client receives, by step tag
// (the status carries "bench TAG SEQ SENT").
type presenceInbox struct {
	mu     sync.Mutex
	byTag  map[int][]received
	errors []string
	other  int
}

// collectPresence drains c's presence until ctx ends (the client drops
// what its buffer of 10 000 cannot hold).
func collectPresence(ctx context.Context, c *peers.Client) *presenceInbox {
	in := &presenceInbox{byTag: map[int][]received{}}
	go func() {
		for {
			p, err := c.NextPresence(ctx)
			if err != nil {
				return
			}
			in.mu.Lock()
			switch pr, perr := parseBody(p.Status); {
			case p.Type == "error":
				in.errors = append(in.errors, p.ErrorCondition)
			case perr != nil:
				in.other++
			default:
				in.byTag[pr.Tag] = append(in.byTag[pr.Tag], received{probe: pr, At: p.Received})
			}
			in.mu.Unlock()
		}
	}()
	return in
}

func (in *presenceInbox) count(tag int) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.byTag[tag])
}

func (in *presenceInbox) take(tag int) []received {
	in.mu.Lock()
	defer in.mu.Unlock()
	r := in.byTag[tag]
	delete(in.byTag, tag)
	return r
}

func (in *presenceInbox) takeErrors() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	e := in.errors
	in.errors = nil
	return e
}

// tagLog follows the logs of the NOTIFY sinks (peers.NotifySink) and
// keeps their lines by step tag.
type tagLog struct {
	files []*logTail
	byTag map[int][]received
	bad   int
}

// logTail is where the reading of one log file stands.
type logTail struct {
	path string
	off  int64
	part string
}

func newTagLog(paths ...string) *tagLog {
	l := &tagLog{byTag: map[int][]received{}}
	for _, p := range paths {
		l.files = append(l.files, &logTail{path: p})
	}
	return l
}

func (l *tagLog) read() {
	for _, f := range l.files {
		var lines []string
		lines, f.off, f.part = readLines(f.path, f.off, f.part)
		for _, line := range lines {
			g, err := parseUASLine(line)
			if err != nil {
				l.bad++
				continue
			}
			l.byTag[g.Tag] = append(l.byTag[g.Tag], g)
		}
	}
}

func (l *tagLog) count(tag int) int {
	l.read()
	return len(l.byTag[tag])
}

func (l *tagLog) take(tag int) []received {
	l.read()
	r := l.byTag[tag]
	delete(l.byTag, tag)
	return r
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
