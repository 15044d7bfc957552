package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"cpimgw/internal/peers"
)

// The paths, in the order they run. S2X over UDP comes last of the
// gateway's: sipgo keeps each UDP server transaction for Timer J (32 s,
// RFC 3261 §17.2.2), and their expiry would otherwise cost CPU in the
// first steps of the next gateway path.
var allPaths = []string{"s2x-tcp", "x2s-udp", "s2x-udp", "prosody", "sipp-udp", "sipp-tcp"}

// direction is a report table: the gateway rows of one direction and the
// baselines beside them.
type direction int

const (
	s2x direction = iota
	x2s
)

// path is one way a message can take, measured step by step.
type path struct {
	id    string
	title string
	dirs  []direction // the tables that show it (baselines show in both)
	gw    bool        // the gateway carries it: its CPU per message counts
	// run sends rate msg/s for d with step tag and returns what arrived.
	run func(ctx context.Context, tag, rate int, d time.Duration) (stepResult, error)
}

func (b *bench) paths() []path {
	return []path{
		{id: "s2x-tcp", title: "cpimgw S2X, SIP over TCP", dirs: []direction{s2x}, gw: true,
			run: func(ctx context.Context, tag, rate int, d time.Duration) (stepResult, error) {
				return b.s2x(ctx, tag, rate, d, true)
			}},
		{id: "x2s-udp", title: "cpimgw X2S, SIP over UDP", dirs: []direction{x2s}, gw: true, run: b.x2s},
		{id: "s2x-udp", title: "cpimgw S2X, SIP over UDP", dirs: []direction{s2x}, gw: true,
			run: func(ctx context.Context, tag, rate int, d time.Duration) (stepResult, error) {
				return b.s2x(ctx, tag, rate, d, false)
			}},
		{id: "prosody", title: "Prosody alone, c2s → c2s", dirs: []direction{s2x, x2s}, run: b.prosodyAlone},
		{id: "sipp-udp", title: "sipp alone, UAC → UAS, UDP", dirs: []direction{s2x, x2s},
			run: func(ctx context.Context, tag, rate int, d time.Duration) (stepResult, error) {
				return b.sippAlone(ctx, tag, rate, d, false)
			}},
		{id: "sipp-tcp", title: "sipp alone, UAC → UAS, TCP", dirs: []direction{s2x, x2s},
			run: func(ctx context.Context, tag, rate int, d time.Duration) (stepResult, error) {
				return b.sippAlone(ctx, tag, rate, d, true)
			}},
	}
}

// stepResult is what one step at one rate measured.
type stepResult struct {
	Path     string
	Rate     int           // target msg/s
	Duration time.Duration // the sending time asked for
	Sent     int           // messages offered
	Offered  float64       // msg/s measured from the send times
	Received int           // distinct messages that arrived in time
	Dups     int           // further copies (SIP retransmissions that got through twice)
	Failed   int           // sipp failed calls or XMPP error stanzas
	FailWhy  map[string]int
	Retrans  int // sipp UAC retransmissions (UDP)
	Latency  []time.Duration
	// GatewayCPU and ProsodyCPU are CPU-seconds used during the step.
	GatewayCPU, ProsodyCPU float64
	// GatewayRSS is the gateway's resident memory at the step's end.
	GatewayRSS int64
	// ForeignCPU is the CPU-seconds other user processes used during the
	// step (foreignTicks): other load on a shared machine, which makes
	// the step's figures less trustworthy.
	ForeignCPU float64
	Warnings   map[string]int
	// Fresh counts, in a presence→NOTIFY step, the NOTIFYs that were the
	// first on their dialog since the gateway started: each stores the
	// dialog's CSeq high-water mark durably before it is sent.
	Fresh int
	// GC is the gateway's garbage collections during the step, when it
	// runs with GODEBUG=gctrace=1 (the presence benchmark).
	GC gcStats
}

// gcStats sums the gctrace lines of a window.
type gcStats struct {
	Cycles int
	CPU    time.Duration // the collector's CPU time
	Live   int64         // MiB marked live by the last cycle
}

// add counts one cycle.
func (g *gcStats) add(c gcCycle) {
	g.Cycles++
	g.CPU += c.CPU
	g.Live = c.Live
}

func (r stepResult) lost() int { return r.Sent - r.Received }

// foreignShare is the other load as a share of one core over the
// sending time.
func (r stepResult) foreignShare() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return r.ForeignCPU / r.Duration.Seconds()
}

// loaded reports a step that other users' processes skewed.
func (r stepResult) loaded() bool { return r.foreignShare() > foreignLimit }

// clean is zero loss: every message arrived within the grace period and
// none was refused.
func (r stepResult) clean() bool { return r.lost() == 0 && r.Failed == 0 }

// kept reports whether the sender offered at least 95% of the target
// rate; below it the step measured the sender, not the path. (An unknown
// rate, NaN, is not kept.)
func (r stepResult) kept() bool { return r.Offered >= 0.95*float64(r.Rate) }

// offered renders the offered rate, "—" when unknown.
func (r stepResult) offered() string {
	if math.IsNaN(r.Offered) {
		return "—"
	}
	return fmt.Sprintf("%.0f", r.Offered)
}

// passed is a step that counts: zero loss at the rate asked for. The
// stepping stops after the first step that did not pass.
func (r stepResult) passed() bool { return r.clean() && r.kept() }

func (r stepResult) p(q float64) time.Duration { return percentile(r.Latency, q) }

// failure says why a step did not pass.
func (r stepResult) failure() string {
	var why []string
	if n := r.lost(); n > 0 {
		why = append(why, fmt.Sprintf("%d of %d lost", n, r.Sent))
	}
	if r.Failed > 0 {
		why = append(why, fmt.Sprintf("%d refused (%s)", r.Failed, countList(r.FailWhy)))
	}
	if len(why) == 0 && !r.kept() {
		why = append(why, fmt.Sprintf("the sender reached only %.0f msg/s", r.Offered))
	}
	return strings.Join(why, ", ")
}

func (r stepResult) summary() string {
	s := fmt.Sprintf("offered %6s/s, %d/%d delivered, p50 %s, p99 %s", r.offered(), r.Received, r.Sent, ms(r.p(50)), ms(r.p(99)))
	if r.GatewayCPU > 0 {
		s += fmt.Sprintf(", gateway %.2f CPU-s", r.GatewayCPU)
	}
	if !r.passed() {
		s += " — " + r.failure()
	}
	return s
}

// countList renders counts as "a×3, b×1", largest first.
func countList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// tally turns what arrived into the result's counts and latencies; sent
// times give the offered rate.
func (r *stepResult) tally(tag int, got []received, sentTimes []time.Time) {
	fromBodies := sentTimes == nil // a sipp UAC: only the bodies tell when it sent
	seen := make(map[int]bool, len(got))
	for _, g := range got {
		if g.Tag != tag {
			continue
		}
		if seen[g.Seq] {
			r.Dups++
			continue
		}
		seen[g.Seq] = true
		r.Latency = append(r.Latency, g.At.Sub(g.Sent))
		if fromBodies {
			sentTimes = append(sentTimes, g.Sent)
		}
	}
	r.Received = len(seen)
	sortDurations(r.Latency)
	if fromBodies && r.Received < r.Sent {
		// The bodies of lost messages, and so their send times, are
		// unknown: the span of the others understates the rate.
		r.Offered = math.NaN()
		return
	}
	r.Offered = offeredRate(sentTimes)
}

// offeredRate is messages per second over the span of their send times:
// n-1 intervals between the first and the last.
func offeredRate(sent []time.Time) float64 {
	if len(sent) < 2 {
		return 0
	}
	first, last := sent[0], sent[0]
	for _, t := range sent {
		if t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	span := last.Sub(first).Seconds()
	if span <= 0 {
		return 0
	}
	return float64(len(sent)-1) / span
}

// inbox records the messages an XMPP client receives, by step tag.
type inbox struct {
	mu    sync.Mutex
	byTag map[int][]peers.Message
}

// collect drains c's messages into an inbox until ctx ends. Draining
// matters: the client drops what its buffer cannot hold.
func collect(ctx context.Context, c *peers.Client) *inbox {
	in := &inbox{byTag: map[int][]peers.Message{}}
	go func() {
		for {
			select {
			case m := <-c.Messages():
				tag := bodyTag(m.Body)
				if m.Type == "error" {
					tag = idTag(m.ID)
				}
				in.mu.Lock()
				in.byTag[tag] = append(in.byTag[tag], m)
				in.mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	}()
	return in
}

// idTag reads the tag of a bench stanza id "TAG-SEQ", or -1.
func idTag(id string) int {
	t, _, ok := strings.Cut(id, "-")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(t)
	if err != nil {
		return -1
	}
	return n
}

func (in *inbox) count(tag int) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.byTag[tag])
}

// take removes and returns the messages of tag.
func (in *inbox) take(tag int) []peers.Message {
	in.mu.Lock()
	defer in.mu.Unlock()
	m := in.byTag[tag]
	delete(in.byTag, tag)
	return m
}

// waitFor polls until done reports true or the deadline passes.
func waitFor(ctx context.Context, deadline time.Time, done func() bool) error {
	for !done() {
		if time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// xmppReceived reads the benchmark messages an inbox got for tag.
func xmppReceived(msgs []peers.Message) (got []received, errs map[string]int) {
	errs = map[string]int{}
	for _, m := range msgs {
		if m.Type == "error" {
			errs[m.ErrorCondition]++
			continue
		}
		p, err := parseBody(m.Body)
		if err != nil {
			errs["unexpected message"]++
			continue
		}
		got = append(got, received{probe: p, At: m.Received})
	}
	return got, errs
}

// sippRun starts sipp with the bench's settings: a socket buffer of 4 MiB
// (sipp's default 64 KiB overflows in bursts at a few thousand UDP
// messages per second, which would measure sipp rather than the path),
// no cap on open calls below the step's size, and, for a UAC, a receive
// timeout of the grace period so a lost message fails its call instead
// of retransmitting for 32 s.
func (b *bench) sippRun(o peers.SIPpOptions, uac bool) (*peers.SIPp, error) {
	o.Dir = filepath.Join(b.dir, "sipp")
	o.Extra = append(o.Extra, "-buff_size", "4194304")
	if uac {
		o.Extra = append(o.Extra,
			"-l", strconv.Itoa(o.Calls+1),
			"-recv_timeout", strconv.FormatInt(b.o.grace.Milliseconds(), 10),
			"-trace_stat", "-stf", filepath.Join(o.Dir, o.Name+".csv"),
			// A safety net: sipp ends itself well before this.
			"-timeout", strconv.Itoa(int(float64(o.Calls)/float64(o.Rate)+b.o.grace.Seconds())+30))
	}
	return peers.StartSIPp(o)
}

// uacStats waits for a sipp UAC and reads its final statistics.
func (b *bench) uacStats(ctx context.Context, s *peers.SIPp, d time.Duration) (ok, failed, retrans int, err error) {
	wctx, cancel := context.WithTimeout(ctx, d+b.o.grace+45*time.Second)
	defer cancel()
	if _, err := s.Wait(wctx); err != nil {
		return 0, 0, 0, fmt.Errorf("sipp %s did not finish: %w", s.Opts.Name, err)
	}
	f, err := os.Open(filepath.Join(s.Opts.Dir, s.Opts.Name+".csv"))
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	st, err := parseSIPpStats(f)
	if err != nil {
		return 0, 0, 0, err
	}
	ok, err1 := statInt(st, "SuccessfulCall(C)")
	failed, err2 := statInt(st, "FailedCall(C)")
	retrans, err3 := statInt(st, "Retransmissions(C)")
	return ok, failed, retrans, errors.Join(err1, err2, err3)
}

// uasLog follows the log of a bench UAS (peers.BenchUAS) and keeps the
// lines of one tag.
type uasLog struct {
	path string
	tag  int
	off  int64
	part string
	got  []received
	seen map[int]bool
	bad  int
}

func newUASLog(path string, tag int) *uasLog {
	return &uasLog{path: path, tag: tag, seen: map[int]bool{}}
}

// read takes in the lines written since the last call and returns the
// number of distinct messages of the tag so far.
func (l *uasLog) read() int {
	var lines []string
	lines, l.off, l.part = readLines(l.path, l.off, l.part)
	for _, line := range lines {
		g, err := parseUASLine(line)
		if err != nil {
			l.bad++
			continue
		}
		if g.Tag == l.tag {
			l.got = append(l.got, g)
			l.seen[g.Seq] = true
		}
	}
	return len(l.seen)
}

// readLines returns the complete lines of path from off on, the offset
// after them and an unfinished last line to complete next time.
func readLines(path string, off int64, part string) ([]string, int64, string) {
	f, err := os.Open(path)
	if err != nil {
		return nil, off, part
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, off, part
	}
	var out []string
	r := bufio.NewReaderSize(f, 1<<16)
	for {
		line, err := r.ReadString('\n')
		off += int64(len(line))
		if err != nil {
			part += line
			return out, off, part
		}
		out = append(out, part+line)
		part = ""
	}
}

// uasReceived follows the log of a bench UAS until n distinct messages of
// tag have arrived or the grace period has passed, then stops the UAS and
// returns what it logged of tag.
func (b *bench) uasReceived(ctx context.Context, uas *peers.SIPp, tag, n int) ([]received, error) {
	log := newUASLog(uas.LogFile, tag)
	if err := waitFor(ctx, time.Now().Add(b.o.grace), func() bool { return log.read() >= n }); err != nil {
		return nil, err
	}
	uas.Stop()
	log.read()
	return log.got, nil
}

// uacResult waits for a sipp UAC that sent n requests over d and counts
// its failed calls (why: the answer it missed) as refused.
func (b *bench) uacResult(ctx context.Context, uac *peers.SIPp, n int, d time.Duration, why string) (stepResult, error) {
	r := stepResult{Duration: d, Sent: n, FailWhy: map[string]int{}}
	okCalls, failed, retrans, err := b.uacStats(ctx, uac, d)
	if err != nil {
		return r, err
	}
	r.Retrans = retrans
	if failed > 0 || okCalls < n {
		r.Failed = max(failed, n-okCalls)
		r.FailWhy[why] = r.Failed
	}
	return r, nil
}

// s2x: sipp sends MESSAGEs to alice through the gateway; alice's client
// timestamps their arrival.
func (b *bench) s2x(ctx context.Context, tag, rate int, d time.Duration, tcp bool) (stepResult, error) {
	n := int(float64(rate) * d.Seconds())
	sc, err := peers.MessageUAC{
		RequestURI: "sip:alice@" + xmppDomain, From: "<sip:bob@" + sipDomain + ">", To: "sip:alice@" + xmppDomain,
		Body: fmt.Sprintf("bench %d [call_number] [timestamp]", tag), Expect: 202,
	}.Render()
	if err != nil {
		return stepResult{}, err
	}
	uac, err := b.sippRun(peers.SIPpOptions{Name: fmt.Sprintf("s2x-%d", tag), Scenario: sc, Remote: b.sipAddr,
		TCP: tcp, Calls: n, Rate: rate, RatePeriod: time.Second}, true)
	if err != nil {
		return stepResult{}, err
	}
	defer uac.Stop()
	r, err := b.uacResult(ctx, uac, n, d, "no 202 from the gateway (sipp failed call)")
	if err != nil {
		return r, err
	}
	// Every 202 means the stanza is on the component stream; give Prosody
	// the grace period to hand it to alice.
	if err := waitFor(ctx, time.Now().Add(b.o.grace), func() bool { return b.aliceBox.count(tag) >= n }); err != nil {
		return r, err
	}
	got, errs := xmppReceived(b.aliceBox.take(tag))
	for k, v := range errs {
		r.Failed += v
		r.FailWhy["alice got "+k] += v
	}
	r.tally(tag, got, nil)
	return r, nil
}

// pace calls send(seq) for seq 1..n at rate per second, catching up in
// bursts when a tick comes late, and returns the send times.
func pace(ctx context.Context, rate, n int, send func(seq int, now time.Time) error) ([]time.Time, error) {
	times := make([]time.Time, 0, n)
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for len(times) < n {
		due := min(n, int(float64(rate)*time.Since(start).Seconds())+1)
		for len(times) < due {
			now := time.Now()
			if err := send(len(times)+1, now); err != nil {
				return times, err
			}
			times = append(times, now)
		}
		if len(times) == n {
			break
		}
		select {
		case <-ctx.Done():
			return times, ctx.Err()
		case <-tick.C:
		}
	}
	return times, nil
}

// x2s: carol sends to bob01…bobNN@sip through the gateway; the sipp UAS
// at the gateway's outbound proxy timestamps their arrival.
func (b *bench) x2s(ctx context.Context, tag, rate int, d time.Duration) (stepResult, error) {
	n := int(float64(rate) * d.Seconds())
	sc, err := peers.BenchUAS{}.Render()
	if err != nil {
		return stepResult{}, err
	}
	uas, err := b.sippRun(peers.SIPpOptions{Name: fmt.Sprintf("x2s-uas-%d", tag), Scenario: sc,
		LocalPort: b.uasPort, TraceLogs: true}, false)
	if err != nil {
		return stepResult{}, err
	}
	defer uas.Stop()
	r := stepResult{Duration: d, Sent: n, FailWhy: map[string]int{}}
	sent, err := pace(ctx, rate, n, func(seq int, now time.Time) error {
		to := fmt.Sprintf("bob%02d@%s", (seq-1)%b.o.dests+1, sipDomain)
		return b.carol.SendMessage(ctx, to, fmt.Sprintf("%d-%d", tag, seq), "", fmt.Sprintf("bench %d %d %s", tag, seq, formatEpoch(now)), "")
	})
	if err != nil {
		return r, err
	}
	got, err := b.uasReceived(ctx, uas, tag, n)
	if err != nil {
		return r, err
	}
	for _, m := range b.carolBox.take(tag) {
		if m.Type == "error" {
			r.Failed++
			r.FailWhy["error stanza "+m.ErrorCondition]++
		}
	}
	r.tally(tag, got, sent)
	return r, nil
}

// prosodyAlone: carol sends to alice on the same Prosody.
func (b *bench) prosodyAlone(ctx context.Context, tag, rate int, d time.Duration) (stepResult, error) {
	n := int(float64(rate) * d.Seconds())
	r := stepResult{Duration: d, Sent: n, FailWhy: map[string]int{}}
	to := "alice@" + xmppDomain
	sent, err := pace(ctx, rate, n, func(seq int, now time.Time) error {
		return b.carol.SendMessage(ctx, to, fmt.Sprintf("%d-%d", tag, seq), "", fmt.Sprintf("bench %d %d %s", tag, seq, formatEpoch(now)), "")
	})
	if err != nil {
		return r, err
	}
	if err := waitFor(ctx, time.Now().Add(b.o.grace), func() bool { return b.aliceBox.count(tag) >= n }); err != nil {
		return r, err
	}
	got, errs := xmppReceived(b.aliceBox.take(tag))
	for _, m := range b.carolBox.take(tag) {
		if m.Type == "error" {
			errs["error stanza "+m.ErrorCondition]++
		}
	}
	for k, v := range errs {
		r.Failed += v
		r.FailWhy[k] += v
	}
	r.tally(tag, got, sent)
	return r, nil
}

// sippAlone: a sipp UAC sends to a sipp UAS directly.
func (b *bench) sippAlone(ctx context.Context, tag, rate int, d time.Duration, tcp bool) (stepResult, error) {
	n := int(float64(rate) * d.Seconds())
	usc, err := peers.BenchUAS{}.Render()
	if err != nil {
		return stepResult{}, err
	}
	uas, err := b.sippRun(peers.SIPpOptions{Name: fmt.Sprintf("sipp-uas-%d", tag), Scenario: usc, TCP: tcp, TraceLogs: true}, false)
	if err != nil {
		return stepResult{}, err
	}
	defer uas.Stop()
	csc, err := peers.MessageUAC{
		RequestURI: "sip:bob@" + sipDomain, From: "<sip:carol@" + sipDomain + ">", To: "sip:bob@" + sipDomain,
		Body: fmt.Sprintf("bench %d [call_number] [timestamp]", tag), Expect: 200,
	}.Render()
	if err != nil {
		return stepResult{}, err
	}
	uac, err := b.sippRun(peers.SIPpOptions{Name: fmt.Sprintf("sipp-uac-%d", tag), Scenario: csc, Remote: uas.Addr(),
		TCP: tcp, Calls: n, Rate: rate, RatePeriod: time.Second}, true)
	if err != nil {
		return stepResult{}, err
	}
	defer uac.Stop()
	r, err := b.uacResult(ctx, uac, n, d, "no 200 from the UAS (sipp failed call)")
	if err != nil {
		return r, err
	}
	got, err := b.uasReceived(ctx, uas, tag, n)
	if err != nil {
		return r, err
	}
	r.tally(tag, got, nil)
	return r, nil
}
