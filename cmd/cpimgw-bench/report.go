package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// facts describe the machine and the software measured.
type facts struct {
	CPUs                   int
	CPUModel, Kernel, Mem  string
	Go, Gateway, Commit    string
	Prosody, SIPp, Started string
}

func machineFacts(gateway string) facts {
	f := facts{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				f.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		f.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				var kb int
				fmt.Sscan(v, &kb)
				f.Mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	run := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil && len(out) == 0 {
			return "unknown"
		}
		for _, l := range strings.Split(string(out), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				return l
			}
		}
		return "unknown"
	}
	f.Gateway = run(gateway, "-version")
	f.Commit = run("git", "describe", "--always", "--dirty")
	f.Prosody = "Prosody " + run("dpkg-query", "-W", "-f", "${Version}", "prosody")
	f.SIPp = strings.TrimSpace(strings.TrimRight(run("sipp", "-v"), "."))
	return f
}

// foreignLimit is the other load, in cores, above which a step is
// flagged in the report.
const foreignLimit = 0.10

// report renders the results as Markdown.
type report struct {
	o       options
	results []stepResult
	paths   []path
	facts   facts
	idleCPU float64 // the gateway's CPU-seconds per second at rest
	started time.Time
	runtime time.Duration
}

func (r report) markdown() string {
	var b strings.Builder
	f := r.facts
	fmt.Fprintf(&b, "## End-to-end pager benchmark\n\n")
	writeRun(&b, r.o, f, r.started, r.runtime)
	fmt.Fprintf(&b, "Steps of %s at %s msg/s. A step passes with zero loss: every message arrived within %s "+
		"of the last send, none was refused (sipp failed call, XMPP error stanza), and the sender kept at least 95%% "+
		"of the rate; stepping stops at the first step that does not pass. Latency is one-way, from the send time "+
		"in the body to the arrival at the receiving XMPP client or sipp UAS (one clock). Gateway CPU is utime+stime "+
		"of the cpimgw process over the step (/proc/PID/stat), per 1000 messages delivered (at rest it used %s); "+
		"it runs with its default settings and logs at warn. sipp, Prosody, cpimgw and the bench's XMPP clients share the %d cores.\n\n",
		r.o.step, joinInts(r.o.rates), r.o.grace, idleText(r.idleCPU), f.CPUs)

	writeLoadWarning(&b, r.results, r.o.retries, "the other-load column of the step table, and run again on a quieter machine")

	for _, d := range []direction{s2x, x2s} {
		switch d {
		case s2x:
			b.WriteString("### SIP → XMPP (sipp UAC → cpimgw → Prosody → XMPP client)\n\n")
		case x2s:
			fmt.Fprintf(&b, "### XMPP → SIP (XMPP client → Prosody → cpimgw → sipp UAS; %d SIP destinations)\n\n", r.o.dests)
		}
		fmt.Fprintf(&b, "| path | highest zero-loss rate (msg/s) | p50 / p99 there (ms) | p50 / p99 at %d msg/s (ms) | gateway CPU-s per 1000 msgs there | first step that did not pass |\n", r.o.ref)
		b.WriteString("|---|--:|--:|--:|--:|---|\n")
		for _, p := range r.shown() {
			if !slices.Contains(p.dirs, d) {
				continue
			}
			steps := stepsOf(r.results, p.id)
			if len(steps) == 0 {
				continue
			}
			best, fail := bestAndFail(steps)
			row := []string{p.title, "none", "—", "—", "—", "none"}
			if best >= 0 {
				s := steps[best]
				row[1] = fmt.Sprint(s.Rate)
				row[2] = latencies(s)
				if p.gw {
					row[4] = cpuPer1000(s)
				}
			}
			for _, s := range steps {
				if s.Rate == r.o.ref {
					row[3] = latencies(s) + didNotPass(s)
				}
			}
			row[5] = firstFailure(steps, fail, " msg/s")
			b.WriteString("| " + strings.Join(row, " | ") + " |\n")
		}
		b.WriteString("\n")
	}

	b.WriteString("### Every step\n\n")
	b.WriteString("| path | target msg/s | offered msg/s | delivered / sent | refused | dups | p50 ms | p99 ms | max ms | gateway CPU-s /1000 | gateway CPU | gateway RSS MiB | Prosody CPU | other load | gateway warnings |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, p := range r.shown() {
		for _, s := range stepsOf(r.results, p.id) {
			gwPer, gwPct, gwRSS, prPct := "—", "—", "—", "—"
			if p.gw {
				gwPer = cpuPer1000(s)
				gwPct = fmt.Sprintf("%.0f%%", 100*s.GatewayCPU/s.Duration.Seconds())
				gwRSS = fmt.Sprintf("%.0f", float64(s.GatewayRSS)/(1<<20))
			}
			if p.id != "sipp-udp" && p.id != "sipp-tcp" {
				prPct = fmt.Sprintf("%.0f%%", 100*s.ProsodyCPU/s.Duration.Seconds())
			}
			warn := "—"
			if p.gw && len(s.Warnings) > 0 {
				warn = countList(s.Warnings)
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %d / %d | %d | %d | %s | %s | %s | %s | %s | %s | %s | %.0f%% | %s |\n",
				p.title, s.Rate, s.offered(), s.Received, s.Sent, s.Failed, s.Dups,
				ms(s.p(50)), ms(s.p(99)), ms(s.p(100)), gwPer, gwPct, gwRSS, prPct,
				100*s.foreignShare(), warn)
		}
	}
	fmt.Fprintf(&b, "\nThe gateway, Prosody and other-load columns are CPU-seconds used during the step (the drain after "+
		"the last send included) over its %s of sending, as a share of one core. Other load is what user processes "+
		"other than the bench's (cpimgw, Prosody, sipp, the bench's own XMPP clients) used: other users of the "+
		"machine, which skew the step. Gateway RSS is its resident memory at the end of the step.\n", r.o.step)
	return b.String()
}

// shown returns the paths in the order of the tables: each gateway
// direction with UDP first, then the baselines.
func (r report) shown() []path {
	var out []path
	for _, id := range []string{"s2x-udp", "s2x-tcp", "x2s-udp", "prosody", "sipp-udp", "sipp-tcp"} {
		for _, p := range r.paths {
			if p.id == id {
				out = append(out, p)
			}
		}
	}
	return out
}

// writeRun writes when and how the benchmark ran and on what machine.
func writeRun(b *strings.Builder, o options, f facts, started time.Time, runtime time.Duration) {
	fmt.Fprintf(b, "Run %s, `%s`, %s in all.\n\n", started.UTC().Format("2006-01-02 15:04 UTC"), o.command, runtime.Round(time.Second))
	fmt.Fprintf(b, "Machine: %d × %s, %s RAM, Linux %s; %s (%s, commit %s); %s; %s.\n\n",
		f.CPUs, f.CPUModel, f.Mem, f.Kernel, f.Gateway, f.Go, f.Commit, f.Prosody, f.SIPp)
}

// writeLoadWarning warns, when other users' processes skewed some of
// steps, how many and how much; see says where to look.
func writeLoadWarning(b *strings.Builder, steps []stepResult, retries int, see string) {
	loaded, worst := 0, 0.0
	for _, s := range steps {
		if s.loaded() {
			loaded++
			worst = max(worst, s.foreignShare())
		}
	}
	if loaded > 0 {
		fmt.Fprintf(b, "**Other users' processes took more than %.0f%% of a core during %d of %d steps (up to %.0f%%).** "+
			"Those steps' figures are skewed (each was run up to %d more times); see %s.\n\n",
			100*foreignLimit, loaded, len(steps), 100*worst, retries, see)
	}
}

// stepsOf returns the steps of path id.
func stepsOf(steps []stepResult, id string) []stepResult {
	var out []stepResult
	for _, s := range steps {
		if s.Path == id {
			out = append(out, s)
		}
	}
	return out
}

// bestAndFail are the indexes in the steps of one path of the last step
// that passed and the first that did not, or -1.
func bestAndFail(steps []stepResult) (best, fail int) {
	best, fail = -1, -1
	for i, s := range steps {
		if s.passed() {
			best = i
		} else if fail < 0 {
			fail = i
		}
	}
	return best, fail
}

// firstFailure renders the first step that did not pass (steps[fail]),
// or that none did up to the last rate; unit follows a rate.
func firstFailure(steps []stepResult, fail int, unit string) string {
	if fail >= 0 {
		return fmt.Sprintf("%d%s: %s", steps[fail].Rate, unit, steps[fail].failure())
	}
	return fmt.Sprintf("none up to %d%s", steps[len(steps)-1].Rate, unit)
}

// latencies renders a step's p50 / p99 in milliseconds.
func latencies(s stepResult) string { return ms(s.p(50)) + " / " + ms(s.p(99)) }

// didNotPass marks a figure of a step that did not pass.
func didNotPass(s stepResult) string {
	if s.passed() {
		return ""
	}
	return " (did not pass)"
}

func cpuPer1000(s stepResult) string {
	if s.Received == 0 {
		return "—"
	}
	return fmt.Sprintf("%.3f", s.GatewayCPU/float64(s.Received)*1000)
}

// ms renders a duration in milliseconds with three significant digits
// where it matters.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

// idleText renders the gateway's CPU use at rest.
func idleText(cpuPerSecond float64) string {
	if cpuPerSecond == 0 {
		return "no measurable CPU: under one clock tick in " + idleWindow.String()
	}
	return fmt.Sprintf("%.3f CPU-s per second", cpuPerSecond)
}
