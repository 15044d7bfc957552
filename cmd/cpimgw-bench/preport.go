package main

import (
	"fmt"
	"strings"
	"time"
)

// presenceReport renders the presence benchmark as Markdown.
type presenceReport struct {
	o        options
	runs     []pairsRun
	facts    facts
	interval time.Duration
	started  time.Time
	runtime  time.Duration
}

func (r presenceReport) markdown() string {
	var b strings.Builder
	f := r.facts
	fmt.Fprintf(&b, "## Presence scale benchmark\n\n")
	writeRun(&b, r.o, f, r.started, r.runtime)
	fmt.Fprintf(&b, "Each run writes N subscription pairs into a fresh state directory with the store API, then starts the gateway on it: "+
		"one XMPP user U (%s@%s, logged in over c2s) and N SIP contacts c1…cN@%s, each pair authorized both ways, with an active "+
		"notifier dialog (C watches U; remote target the sipp NOTIFY sink) and an active subscriber dialog (U watches C; the "+
		"dialogs the sipp NOTIFY sender uses). The gateway runs with its defaults (notify_interval %s) and logs at info, "+
		"which logs nothing per presence or NOTIFY that goes well. "+
		"Steps of up to %s at %s notifications/s; a step uses each pair at most once, so at a rate above N/%s it sends N "+
		"notifications in less time (the step column). presence→NOTIFY: U sends directed presence to C_n, the sink logs the "+
		"NOTIFY; a step waits until each pair it uses last had a presence more than notify_interval + 1 s ago, so coalescing "+
		"(RFC 3856 §6.10) never delays one. Before those steps, one pass sends a presence to every pair at %d/s: the first "+
		"NOTIFY on each restored dialog, which costs more (see below), so that the steps meet used dialogs at every N. NOTIFY→presence: sipp sends an in-dialog NOTIFY on C_n's subscriber dialog "+
		"(Subscription-State active with the remaining seconds, a PIDF whose note changes), U's client counts the presence. "+
		"A step passes with zero loss: every notification arrived within %s of the last send, none was refused (a NOTIFY "+
		"without its 200, an XMPP presence error), and the sender kept at least 95%% of the rate. Latency is one-way, from "+
		"the send time in the status or note to the arrival at the sink or the client (one clock). Gateway CPU is "+
		"utime+stime of the cpimgw process over the step, per 1000 notifications delivered. sipp, Prosody, cpimgw and the "+
		"bench's XMPP client share the %d cores.\n\n",
		presenceUser, xmppDomain, sipDomain, r.interval, r.o.step, joinInts(r.o.prates), r.o.step, r.o.firstRate, r.o.grace, f.CPUs)

	var all []stepResult
	for _, run := range r.runs {
		all = append(append(all, run.Steps...), run.Check...)
	}
	writeLoadWarning(&b, all, r.o.retries, "the other-load column")

	var base *pairsRun
	for i := range r.runs {
		if r.runs[i].Pairs == 0 {
			base = &r.runs[i]
		}
	}
	b.WriteString("### Restore and memory\n\n")
	b.WriteString("| pairs | state file | generated in | ready after exec | state restored / dialogs restored / listening / component linked | CPU-s to ready | ready after a SIGKILL restart | idle RSS MiB: total (anon / file) | per pair KiB: total / anon | idle RSS MiB after the restart: total (anon) |\n")
	b.WriteString("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, run := range r.runs {
		row := []string{fmt.Sprint(run.Pairs), "—", "—", sec(run.First.since(run.First.Ready)),
			strings.Join([]string{sec(run.First.since(run.First.State)), secOrDash(run.First.since(run.First.Dialogs)),
				sec(run.First.since(run.First.Listening)), sec(run.First.since(run.First.Linked))}, " / "),
			fmt.Sprintf("%.2f", run.First.CPU), "—",
			fmt.Sprintf("%.1f (%.1f / %.1f)", mib(run.Idle.VmRSS), mib(run.Idle.RssAnon), mib(run.Idle.RssFile)), "—", "—"}
		if run.Pairs > 0 {
			row[1] = fmt.Sprintf("%.1f MB (%.0f B/pair)", float64(run.Gen.FileBytes)/1e6, float64(run.Gen.FileBytes)/float64(run.Pairs))
			row[2] = sec(run.Gen.Took)
			row[6] = sec(run.Restart.since(run.Restart.Ready))
			row[9] = fmt.Sprintf("%.1f (%.1f)", mib(run.IdleAfter.VmRSS), mib(run.IdleAfter.RssAnon))
			if base != nil {
				row[8] = fmt.Sprintf("%.2f / %.2f", perPair(base.Idle.VmRSS, run.Idle.VmRSS, run.Pairs)/1024,
					perPair(base.Idle.RssAnon, run.Idle.RssAnon, run.Pairs)/1024)
			}
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	b.WriteString("\nTimes are seconds from the exec of the gateway to its log lines (time= of the gateway's own log, " +
		"millisecond resolution): \"presence state restored\" (the core read every authorization and dialog), \"dialogs " +
		"restored\" (the SIP side rebuilt every dialog with its timers), \"listening\" (logged after that) and \"component link " +
		"up\"; ready is the last of them. The state file was just written, so it is in the page cache: a cold start reads it " +
		"from disk first. Idle RSS is VmRSS of /proc/PID/status " + idleSettle.String() + " after ready; RssFile includes the " +
		"pages of the memory-mapped state file the restore read. Per pair is (RSS at N − RSS of the empty gateway) / N. The gateway " +
		"runs with GODEBUG=gctrace=1: the live heap is what the last garbage collection before the idle reading marked " +
		"(the runtime collects again only when the heap doubles or after two minutes, so a collection near the end of the " +
		"restore is the last one).\n\n")

	b.WriteString("### Throughput\n\n")
	fmt.Fprintf(&b, "| pairs | direction | highest zero-loss rate (/s) | p50 / p99 there (ms) | gateway CPU-s per 1000 there | at %d/s: p50 / p99 (ms), CPU-s per 1000 | first step that did not pass |\n", r.o.ref)
	b.WriteString("|--:|---|--:|--:|--:|--:|---|\n")
	for _, run := range r.runs {
		if !run.Throughput {
			if run.Pairs > 0 {
				fmt.Fprintf(&b, "| %d | both | not measured (-throughput-max %d) | — | — | — | — |\n", run.Pairs, r.o.throughputMax)
			}
			continue
		}
		for _, id := range []string{"presence-s2x-first", "presence-s2x", "presence-x2s"} {
			steps := stepsOf(run.Steps, id)
			if len(steps) == 0 {
				continue
			}
			row := []string{fmt.Sprint(run.Pairs), pathTitle(id), "none", "—", "—", "—", ""}
			best, fail := bestAndFail(steps)
			if best >= 0 {
				s := steps[best]
				row[2] = fmt.Sprint(s.Rate)
				if s.Duration < r.o.step {
					row[2] += fmt.Sprintf(" (all %d pairs in %.1f s)", s.Sent, s.Duration.Seconds())
				}
				row[3] = latencies(s)
				row[4] = cpuPer1000(s)
			}
			for _, s := range steps {
				if s.Rate == r.o.ref {
					row[5] = latencies(s) + ", " + cpuPer1000(s) + didNotPass(s)
				}
			}
			row[6] = firstFailure(steps, fail, "/s")
			b.WriteString("| " + strings.Join(row, " | ") + " |\n")
		}
	}

	b.WriteString("\n### Every step\n\n")
	b.WriteString("| pairs | direction | target /s | step s | offered /s | delivered / sent | refused | dups | first on dialog | p50 ms | p99 ms | max ms | gateway CPU-s /1000 | gateway CPU | GC cycles (share of gateway CPU) | gateway RSS MiB | live heap MiB | Prosody CPU | other load | gateway log |\n")
	b.WriteString("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, run := range r.runs {
		for _, s := range run.Steps {
			r.stepRow(&b, run.Pairs, pathTitle(s.Path), s)
		}
		for _, s := range run.Check {
			r.stepRow(&b, run.Pairs, pathTitle(s.Path)+", after the SIGKILL restart", s)
		}
	}
	fmt.Fprintf(&b, "\nFirst on dialog counts, for presence→NOTIFY, the NOTIFYs that were the first on their dialog since the gateway "+
		"started: sipside continues a restored dialog's CSeq above the stored high-water mark and stores the next mark durably "+
		"(an fsync, shared by concurrent writers) before that first NOTIFY goes out. The CPU and other-load columns are "+
		"CPU-seconds during the step (the drain after the last send included) over its sending time, as a share of one core. "+
		"GC cycles are the gateway's garbage collections during the step and the collector's CPU time (gctrace) as a share "+
		"of the gateway's; live heap is what the last of them marked. The gateway log column counts its records of the step "+
		"window by level and message.\n")
	return b.String()
}

func (r presenceReport) stepRow(b *strings.Builder, pairs int, title string, s stepResult) {
	fresh := "—"
	if s.Path == "presence-s2x" || s.Path == "presence-s2x-first" {
		fresh = fmt.Sprint(s.Fresh)
	}
	logs := "—"
	if len(s.Warnings) > 0 {
		logs = countList(s.Warnings)
	}
	gc, live := "—", "—"
	if s.GC.Cycles > 0 {
		gc = fmt.Sprintf("%d (%.0f%%)", s.GC.Cycles, 100*s.GC.CPU.Seconds()/max(s.GatewayCPU, 1e-9))
		live = fmt.Sprint(s.GC.Live)
	}
	fmt.Fprintf(b, "| %d | %s | %d | %.1f | %s | %d / %d | %d | %d | %s | %s | %s | %s | %s | %.0f%% | %s | %.0f | %s | %.0f%% | %.0f%% | %s |\n",
		pairs, title, s.Rate, s.Duration.Seconds(), s.offered(), s.Received, s.Sent, s.Failed, s.Dups, fresh,
		ms(s.p(50)), ms(s.p(99)), ms(s.p(100)), cpuPer1000(s), 100*s.GatewayCPU/s.Duration.Seconds(), gc,
		mib(s.GatewayRSS), live, 100*s.ProsodyCPU/s.Duration.Seconds(), 100*s.foreignShare(), logs)
}

func pathTitle(id string) string {
	switch id {
	case "presence-s2x-first":
		return "presence→NOTIFY, first on each restored dialog"
	case "presence-s2x":
		return "presence→NOTIFY"
	case "presence-x2s":
		return "NOTIFY→presence"
	}
	return id
}

// sec renders a duration in seconds.
func sec(d time.Duration) string {
	switch s := d.Seconds(); {
	case s < 10:
		return fmt.Sprintf("%.3f", s)
	default:
		return fmt.Sprintf("%.1f", s)
	}
}

func secOrDash(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	return sec(d)
}
