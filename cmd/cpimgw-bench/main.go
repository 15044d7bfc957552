// Command cpimgw-bench is the end-to-end pager benchmark of cpimgw
// (make bench-e2e). On loopback it starts a throwaway Prosody, the real
// cpimgw binary as a subprocess attached to it, XMPP clients and sipp, and
// drives pager-mode messages (RFC 3428 MESSAGE ⇄ XMPP <message/>) through
// the gateway at stepped rates, both ways:
//
//	S2X: sipp UAC → cpimgw → Prosody → counting XMPP client
//	X2S: paced XMPP client → Prosody → cpimgw → sipp UAS (the outbound proxy)
//
// and, in the same run, the baselines without the gateway: Prosody alone
// (XMPP client → XMPP client) and sipp alone (UAC → UAS). For each path it
// reports the highest rate with zero loss, p50/p99 one-way latency (every
// body carries its send time) and the gateway's CPU-seconds per 1000
// messages, read from /proc/<pid>/stat. The figures describe this machine
// on this day; they are a benchmark, never a test threshold.
//
//	cpimgw-bench -gateway bin/cpimgw -out bin/bench-results.md
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"cpimgw/internal/peers"
)

const (
	xmppDomain = "xmpp.example.test"
	sipDomain  = "sip.example.test"
	// idleWindow is how long the gateway's CPU use at rest is sampled.
	idleWindow = 2 * time.Second
)

// options are the command-line settings.
type options struct {
	gateway string
	rates   []int
	step    time.Duration
	grace   time.Duration
	settle  time.Duration
	ref     int
	dests   int
	paths   map[string]bool
	out     string
	keep    bool
	all     bool
	retries int
	command string

	// The presence benchmark (-presence).
	presence      bool
	pairs         []int
	prates        []int
	throughputMax int
	firstRate     int
}

func main() {
	var o options
	var rates, paths, pairs, prates string
	flag.StringVar(&o.gateway, "gateway", "bin/cpimgw", "the cpimgw binary to measure")
	flag.StringVar(&rates, "rates", "100,200,500,1000,2000,5000,10000,15000,20000", "the steps, in messages per second, in increasing order")
	flag.DurationVar(&o.step, "step", 5*time.Second, "how long each step sends")
	flag.DurationVar(&o.grace, "grace", 3*time.Second, "how long after the last send a message may still arrive without counting as lost")
	flag.DurationVar(&o.settle, "settle", 500*time.Millisecond, "pause between steps")
	flag.IntVar(&o.ref, "ref", 500, "the reference rate at which every path's latency is compared")
	flag.IntVar(&o.dests, "dests", 16, "X2S: SIP destinations the messages are spread over (the gateway sends one MESSAGE per destination at a time, RFC 3428 §8)")
	flag.StringVar(&paths, "paths", strings.Join(allPaths, ","), "the paths to measure")
	flag.StringVar(&o.out, "out", "", "also write the Markdown report to this file")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (configs, sipp logs, gateway log) and print its path")
	flag.IntVar(&o.retries, "retries", 2, "run a step again, up to this many times, when other users' processes took more than 10% of a core during it")
	flag.BoolVar(&o.all, "all-steps", false, "run every step even after one did not pass (to see CPU and latency beyond the limit)")
	flag.BoolVar(&o.presence, "presence", false, "run the presence scale benchmark (presence.go) instead of the pager one")
	flag.StringVar(&pairs, "pairs", "10000,100000", "presence: the numbers of generated subscription pairs, in increasing order")
	flag.StringVar(&prates, "presence-rates", "500,1000,2000,5000,10000,20000", "presence: the steps, in notifications per second, in increasing order")
	flag.IntVar(&o.firstRate, "first-rate", 2000, "presence: the rate of the first presence→NOTIFY pass over every restored dialog")
	flag.IntVar(&o.throughputMax, "throughput-max", 0, "presence: measure the throughput only at pair counts up to this (0: at every count); restore and memory are measured at every count")
	flag.Parse()
	var err error
	if o.rates, err = parseRates(rates); err != nil {
		fmt.Fprintln(os.Stderr, "cpimgw-bench:", err)
		os.Exit(2)
	}
	if o.pairs, err = parseRates(pairs); err != nil {
		fmt.Fprintln(os.Stderr, "cpimgw-bench: -pairs:", err)
		os.Exit(2)
	}
	if o.prates, err = parseRates(prates); err != nil {
		fmt.Fprintln(os.Stderr, "cpimgw-bench: -presence-rates:", err)
		os.Exit(2)
	}
	o.paths = map[string]bool{}
	for _, p := range strings.Split(paths, ",") {
		if !slices.Contains(allPaths, p) {
			fmt.Fprintf(os.Stderr, "cpimgw-bench: unknown path %q (want some of %s)\n", p, strings.Join(allPaths, ","))
			os.Exit(2)
		}
		o.paths[p] = true
	}
	if o.step <= 0 || o.grace <= 0 || o.dests <= 0 || o.dests > 99 || o.firstRate <= 0 {
		fmt.Fprintln(os.Stderr, "cpimgw-bench: -step, -grace and -first-rate must be positive, -dests between 1 and 99")
		os.Exit(2)
	}
	o.command = "cpimgw-bench " + strings.Join(os.Args[1:], " ")

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	run := benchmark
	if o.presence {
		run = presenceBenchmark
	}
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "cpimgw-bench:", err)
		stop()
		os.Exit(1)
	}
}

func parseRates(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-rates: %q is not a positive rate", f)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, errors.New("-rates must increase")
		}
		out = append(out, n)
	}
	return out, nil
}

func secret() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// bench is the running test bed: one Prosody, one gateway, two XMPP
// clients (alice receives, carol sends) and the work directory.
type bench struct {
	o       options
	dir     string
	prosody *peers.Prosody
	gw      *gatewayProc
	sipAddr string // the gateway's SIP listener (UDP and TCP)
	uasPort int    // the gateway's outbound proxy: the X2S sipp UAS binds it

	alice, carol       *peers.Client
	aliceBox, carolBox *inbox

	clkTck float64
	// linked follows Prosody's log: the gateway's component link is up.
	linked  atomic.Bool
	tagMu   sync.Mutex
	lastTag int
}

func benchmark(ctx context.Context, o options) error {
	start := time.Now()
	b, done, err := newBench(o, "cpimgw-bench-")
	if err != nil {
		return err
	}
	defer done()
	dir := b.dir

	// Prosody with the sending and the receiving user. The line of the
	// component's successful handshake in Prosody's log tells that the
	// gateway is up (the gateway itself logs at warn, so it does not say
	// so).
	users := map[string]string{"alice": secret(), "carol": secret()}
	componentUp, stopProsody, err := b.startProsody(ctx, users)
	if err != nil {
		return err
	}
	defer stopProsody()

	sipPort, err := peers.FreePort()
	if err != nil {
		return err
	}
	if b.uasPort, err = peers.FreePort(); err != nil {
		return err
	}
	b.sipAddr = fmt.Sprintf("127.0.0.1:%d", sipPort)
	cfg := fmt.Sprintf(`# cpimgw-bench: loopback only
xmpp:
  component: %s
  server: %s
  secret: %s
sip:
  listen: ["udp:%s", "tcp:%s"]
  outbound_proxy: "sip:127.0.0.1:%d"
routes:
  xmpp_domains: [%s]
  sip_domains: [%s]
  trusted_sip_sources: [127.0.0.0/8]
# warn: one info line per message would measure the logger.
log:
  level: warn
`, sipDomain, b.prosody.ComponentAddr(), b.prosodySecret(), b.sipAddr, b.sipAddr, b.uasPort, xmppDomain, sipDomain)
	cfgPath := filepath.Join(dir, "cpimgw.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	b.gw, err = startGateway(o.gateway, cfgPath, filepath.Join(dir, "cpimgw.log"))
	if err != nil {
		return err
	}
	defer b.gw.stop()
	select {
	case <-componentUp:
	case <-b.gw.exited:
		return fmt.Errorf("the gateway exited at start:\n%s", b.gw.tail(20))
	case <-time.After(15 * time.Second):
		return fmt.Errorf("the gateway did not connect to Prosody:\n%s", b.gw.tail(20))
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := waitSIP(ctx, b.sipAddr); err != nil {
		return fmt.Errorf("the gateway's SIP listener: %w", err)
	}

	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if b.alice, err = peers.Login(lctx, b.prosody.C2SAddr(), "alice@"+xmppDomain+"/bench", users["alice"]); err != nil {
		return err
	}
	defer b.alice.Close()
	if b.carol, err = peers.Login(lctx, b.prosody.C2SAddr(), "carol@"+xmppDomain+"/bench", users["carol"]); err != nil {
		return err
	}
	defer b.carol.Close()
	b.aliceBox, b.carolBox = collect(ctx, b.alice), collect(ctx, b.carol)
	progress("Prosody %s, cpimgw pid %d (SIP %s, outbound proxy 127.0.0.1:%d), work dir %s",
		b.prosody.C2SAddr(), b.gw.pid(), b.sipAddr, b.uasPort, dir)

	// A warm-up through every path before the first measured step.
	var results []stepResult
	for _, p := range b.paths() {
		if !o.paths[p.id] {
			continue
		}
		if err := b.warmUp(ctx, p, 50); err != nil {
			return err
		}
	}

	// The gateway's CPU use at rest, the floor under every step's figure.
	time.Sleep(o.settle)
	idle0, err := b.gw.cpu(b.clkTck)
	if err != nil {
		return err
	}
	time.Sleep(idleWindow)
	idle1, err := b.gw.cpu(b.clkTck)
	if err != nil {
		return err
	}
	idle := (idle1 - idle0) / idleWindow.Seconds()

	for _, p := range b.paths() {
		if !o.paths[p.id] {
			continue
		}
		steps, err := b.stepUp(o.rates,
			func(rate int) string { return fmt.Sprintf("%-28s %5d msg/s", p.title, rate) },
			stepResult.summary,
			func(rate int) (stepResult, error) {
				r, err := b.measure(ctx, p, rate)
				if err != nil {
					return r, fmt.Errorf("%s at %d msg/s: %w", p.title, rate, err)
				}
				return r, nil
			})
		if err != nil {
			return err
		}
		results = append(results, steps...)
	}

	rep := report{o: o, results: results, paths: b.paths(), facts: machineFacts(o.gateway),
		idleCPU: idle, started: start, runtime: time.Since(start)}
	return publish(o, rep.markdown())
}

// progress tells how the run goes, on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench | "+format+"\n", args...)
}

// publish prints the report and, with -out, writes it to that file too.
func publish(o options, text string) error {
	fmt.Print(text)
	if o.out == "" {
		return nil
	}
	if err := os.WriteFile(o.out, []byte(text), 0o644); err != nil {
		return err
	}
	progress("report written to %s", o.out)
	return nil
}

// newBench checks that the gateway is built and makes the work directory
// of a run (prefix begins its name). done removes the directory or, with
// -keep, says where it is.
func newBench(o options, prefix string) (b *bench, done func(), err error) {
	if _, err := os.Stat(o.gateway); err != nil {
		return nil, nil, fmt.Errorf("%s not built (run make build): %w", o.gateway, err)
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, nil, err
	}
	done = func() { os.RemoveAll(dir) }
	if o.keep {
		done = func() { fmt.Fprintln(os.Stderr, "cpimgw-bench: work directory kept:", dir) }
	}
	return &bench{o: o, dir: dir, clkTck: clockTicks()}, done, nil
}

// startProsody starts Prosody with users and the gateway's component, whose
// secret is random. Prosody's log goes to a file in the work directory and
// is followed for the component link: b.linked tells whether it is up, and
// up is closed at its first handshake. stop stops Prosody and closes its
// log.
func (b *bench) startProsody(ctx context.Context, users map[string]string) (up <-chan struct{}, stop func(), err error) {
	plog, err := os.Create(filepath.Join(b.dir, "prosody.log"))
	if err != nil {
		return nil, nil, err
	}
	componentUp := make(chan struct{})
	var upOnce sync.Once
	var plogMu sync.Mutex
	b.prosody, err = peers.NewProsody(peers.ProsodyOptions{
		Dir: filepath.Join(b.dir, "prosody"), Domain: xmppDomain,
		Components: map[string]string{sipDomain: secret()},
		Users:      users,
		Logf: func(format string, args ...any) {
			line := fmt.Sprintf(format, args...)
			plogMu.Lock()
			fmt.Fprintln(plog, line)
			plogMu.Unlock()
			switch {
			case strings.Contains(line, "External component successfully authenticated"):
				b.linked.Store(true)
				upOnce.Do(func() { close(componentUp) })
			case strings.Contains(line, "component disconnected"):
				b.linked.Store(false)
			}
		},
	})
	if err == nil {
		err = b.prosody.Start(ctx)
	}
	if err != nil {
		plog.Close()
		return nil, nil, err
	}
	return componentUp, func() {
		b.prosody.Stop()
		plog.Close()
	}, nil
}

// prosodySecret is the component secret Prosody was configured with.
func (b *bench) prosodySecret() string { return b.prosody.Opts.Components[sipDomain] }

// nextTag returns a fresh step tag: every body carries its step's tag, so
// a straggler from an earlier step is never counted in a later one.
func (b *bench) nextTag() int {
	b.tagMu.Lock()
	defer b.tagMu.Unlock()
	b.lastTag++
	return b.lastTag
}

// warmUp sends n messages through p, unmeasured: it proves the plumbing
// (an error here is a set-up error, not a result) and lets the processes
// allocate their pools before the first measured step. A loss is reported
// but not fatal: the steps will measure it.
func (b *bench) warmUp(ctx context.Context, p path, n int) error {
	r, err := p.run(ctx, b.nextTag(), n, time.Second)
	if err != nil {
		return fmt.Errorf("warm-up of %s: %w", p.title, err)
	}
	if r.Received == 0 {
		return fmt.Errorf("warm-up of %s: nothing arrived (gateway log:\n%s)", p.title, b.gw.tail(20))
	}
	if !r.clean() {
		progress("warm-up of %s was not clean: %s", p.title, r.failure())
	}
	time.Sleep(b.o.settle)
	return nil
}

// measure runs one step of path p at rate and adds the CPU and the
// gateway log of the step window.
func (b *bench) measure(ctx context.Context, p path, rate int) (stepResult, error) {
	if err := b.gw.alive(); err != nil {
		return stepResult{}, err
	}
	if p.gw {
		// After a step that lost the component link, the gateway
		// reconnects with a backoff; a step must not start before.
		deadline := time.Now().Add(15 * time.Second)
		if err := waitFor(ctx, deadline, b.linked.Load); err != nil {
			return stepResult{}, err
		}
		if !b.linked.Load() {
			return stepResult{}, fmt.Errorf("the gateway did not reconnect to Prosody:\n%s", b.gw.tail(20))
		}
	}
	r, logOff, err := b.runStep(ctx, p, rate, b.o.step)
	if err != nil {
		return r, err
	}
	if p.gw {
		r.Warnings = b.gw.warnings(logOff)
		r.GatewayRSS = b.gw.rss()
	}
	return r, nil
}

// stepUp measures at each of rates in turn and returns the steps. A step
// is run again, up to -retries times, when other users' processes skewed
// it: whether to run again depends on the load only, never on the
// outcome. The stepping stops after the first step that did not pass,
// unless -all-steps. The progress line of a step is its rate's label and
// what show says of its result.
func (b *bench) stepUp(rates []int, label func(rate int) string, show func(stepResult) string,
	measure func(rate int) (stepResult, error)) ([]stepResult, error) {
	var results []stepResult
	for _, rate := range rates {
		var r stepResult
		for try := 0; ; try++ {
			var err error
			if r, err = measure(rate); err != nil {
				return nil, err
			}
			progress("%s: %s", label(rate), show(r))
			if !r.loaded() || try == b.o.retries {
				break
			}
			progress("%s: other load %.0f%% of a core; again", label(rate), 100*r.foreignShare())
			time.Sleep(b.o.settle)
		}
		results = append(results, r)
		if !r.passed() && !b.o.all {
			break
		}
		time.Sleep(b.o.settle)
	}
	return results, nil
}

// runStep runs p at rate for d and measures around it: the CPU-seconds of
// Prosody, of the gateway (when p goes through it) and of other users'
// processes. logOff is the size of the gateway log before the step, where
// the step's records begin.
func (b *bench) runStep(ctx context.Context, p path, rate int, d time.Duration) (r stepResult, logOff int64, err error) {
	logOff = b.gw.logSize()
	g0, err := b.gw.cpu(b.clkTck)
	if err != nil {
		return stepResult{}, logOff, err
	}
	p0, _ := b.prosodyCPU()
	load := b.startLoadMeter()
	r, err = p.run(ctx, b.nextTag(), rate, d)
	if err != nil {
		load.stop()
		return r, logOff, err
	}
	g1, err := b.gw.cpu(b.clkTck)
	if err != nil {
		load.stop()
		return r, logOff, fmt.Errorf("the gateway died during the step: %w\n%s", err, b.gw.tail(20))
	}
	p1, _ := b.prosodyCPU()
	r.ForeignCPU = float64(load.stop()) / b.clkTck
	r.Path, r.Rate = p.id, rate
	if p.gw {
		r.GatewayCPU = g1 - g0
	}
	r.ProsodyCPU = p1 - p0
	return r, logOff, nil
}

// prosodyCPU reads Prosody's CPU seconds through its pid file.
func (b *bench) prosodyCPU() (float64, error) {
	pid, err := os.ReadFile(filepath.Join(b.prosody.Opts.Dir, "prosody.pid"))
	if err != nil {
		return 0, err
	}
	return cpuSeconds(strings.TrimSpace(string(pid)), b.clkTck)
}

// cpuSeconds reads the user+system CPU time of process pid.
func cpuSeconds(pid string, clkTck float64) (float64, error) {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	st, err := parseProcPIDStat(string(stat))
	if err != nil {
		return 0, err
	}
	return float64(st.Own) / clkTck, nil
}

// processes snapshots /proc/PID/stat of every process.
func processes() map[int]procStat {
	out := map[int]procStat{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // it has just ended
		}
		if st, err := parseProcPIDStat(string(b)); err == nil {
			out[pid] = st
		}
	}
	return out
}

// loadMeter adds up the CPU time of other users' processes while a step
// runs, from snapshots of /proc every loadEvery.
type loadMeter struct {
	quit  chan struct{}
	done  chan struct{}
	ticks int64
}

// loadEvery is how often the load meter looks: a process of someone else
// that lives shorter than this between two looks is missed.
const loadEvery = 250 * time.Millisecond

func (b *bench) startLoadMeter() *loadMeter {
	m := &loadMeter{quit: make(chan struct{}), done: make(chan struct{})}
	ours := b.ours()
	since := bootTicks(b.clkTck)
	prev := processes()
	go func() {
		defer close(m.done)
		tick := time.NewTicker(loadEvery)
		defer tick.Stop()
		for {
			stopping := false
			select {
			case <-m.quit:
				stopping = true
			case <-tick.C:
			}
			now := bootTicks(b.clkTck)
			cur := processes()
			m.ticks += foreignTicks(prev, cur, ours, since)
			prev, since = cur, now
			if stopping {
				return
			}
		}
	}()
	return m
}

// stop ends the metering and returns the foreign CPU ticks seen; it may
// be called more than once.
func (m *loadMeter) stop() int64 {
	select {
	case <-m.quit:
	default:
		close(m.quit)
	}
	<-m.done
	return m.ticks
}

// bootTicks is the time since boot in clock ticks (/proc/uptime), the
// clock of procStat.Start; it errs early, never late.
func bootTicks(clkTck float64) int64 {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	up, _, _ := strings.Cut(string(b), " ")
	secs, err := strconv.ParseFloat(up, 64)
	if err != nil {
		return 0
	}
	return int64(secs*clkTck) - 1
}

// ours are the bench's processes: itself (with its XMPP clients and, as
// waited-for children, every sipp run), the gateway and Prosody.
func (b *bench) ours() map[int]bool {
	m := map[int]bool{os.Getpid(): true, b.gw.pid(): true}
	if pid, err := os.ReadFile(filepath.Join(b.prosody.Opts.Dir, "prosody.pid")); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(pid))); err == nil {
			m[n] = true
		}
	}
	return m
}

// clockTicks is sysconf(_SC_CLK_TCK), the unit of /proc/PID/stat times.
func clockTicks() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return float64(n)
		}
	}
	return 100 // USER_HZ on every Linux architecture Go supports
}

// waitSIP waits until the gateway's SIP listener takes UDP and accepts TCP.
func waitSIP(ctx context.Context, addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			if u, err := net.ListenPacket("udp", addr); err != nil {
				return nil // taken: the gateway has bound it
			} else {
				u.Close()
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is not listening", addr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// gatewayProc is the cpimgw subprocess; its log goes to a file.
type gatewayProc struct {
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

func startGateway(bin, cfgPath, logPath string, env ...string) (*gatewayProc, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-config", cfgPath)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so a stop reaches everything it started;
	// Pdeathsig ends it if the bench dies without running its defers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	g := &gatewayProc{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		g.waitErr = cmd.Wait()
		log.Close()
		close(g.exited)
	}()
	return g, nil
}

func (g *gatewayProc) pid() int { return g.cmd.Process.Pid }

// alive reports an error when the gateway has exited.
func (g *gatewayProc) alive() error {
	select {
	case <-g.exited:
		return fmt.Errorf("the gateway exited (%v):\n%s", g.waitErr, g.tail(20))
	default:
		return nil
	}
}

func (g *gatewayProc) cpu(clkTck float64) (float64, error) {
	if err := g.alive(); err != nil {
		return 0, err
	}
	return cpuSeconds(strconv.Itoa(g.pid()), clkTck)
}

// stop sends SIGTERM (the gateway's ordered shutdown) and, after 5 s,
// SIGKILL to its process group: after an interrupt the gateway may hold
// X2S messages for a UAS that is gone, and its drain is not measured.
func (g *gatewayProc) stop() {
	syscall.Kill(-g.pid(), syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(5 * time.Second):
		syscall.Kill(-g.pid(), syscall.SIGKILL)
		<-g.exited
	}
}

// rss reads the gateway's resident set size (VmRSS of proc(5)
// /proc/PID/status) in bytes, or 0.
func (g *gatewayProc) rss() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.pid()))
	if err != nil {
		return 0
	}
	return parseVmRSS(string(b))
}

func (g *gatewayProc) logSize() int64 {
	fi, err := os.Stat(g.logPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// warnings counts the warn and error records the gateway logged after
// offset, by message; records sipside's filter suppressed count too.
func (g *gatewayProc) warnings(offset int64) map[string]int {
	f, err := os.Open(g.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil
	}
	out := map[string]int{}
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for s.Scan() {
		r, ok := parseLogLine(s.Text())
		if !ok || (r.Level != "WARN" && r.Level != "ERROR") {
			continue
		}
		out[r.Level+" "+r.Msg] += 1 + r.Suppressed
	}
	return out
}

// tail returns the last n lines of the gateway log.
func (g *gatewayProc) tail(n int) string {
	b, _ := os.ReadFile(g.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
