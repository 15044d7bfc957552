package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Parsing helpers of the presence benchmark.

// parseLogAttrs reads every key=value of a log/slog text handler line
// (values quoted with strconv.Quote when they hold spaces or quotes). It
// returns nil for a line that is not such a record (no time, level and
// msg).
func parseLogAttrs(line string) map[string]string {
	out := map[string]string{}
	for key, val := range slogPairs(strings.TrimRight(line, "\r\n")) {
		if key == "" || strings.ContainsAny(key, " \"") {
			break
		}
		out[key] = val
	}
	if out["time"] == "" || out["level"] == "" || out["msg"] == "" {
		return nil
	}
	return out
}

// logTime reads the time= of a record parseLogAttrs returned (slog's
// RFC 3339 with milliseconds).
func logTime(attrs map[string]string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, attrs["time"])
	if err != nil {
		return time.Time{}, fmt.Errorf("bench: log time %q: %w", attrs["time"], err)
	}
	return t, nil
}

// memStatus is the memory of a process as proc(5) /proc/PID/status gives
// it, in bytes: VmRSS is RssAnon + RssFile + RssShmem. RssFile holds the
// pages of files the process maps (its binary, and the state store's
// bbolt file, which is memory-mapped), RssAnon its heap and stacks.
type memStatus struct {
	VmRSS, RssAnon, RssFile, RssShmem int64
}

// parseProcStatus reads the memory lines of a /proc/PID/status text.
// Lines it does not know are skipped; a known line that is not
// "Name:  N kB" is an error.
func parseProcStatus(status string) (memStatus, error) {
	var m memStatus
	fields := map[string]*int64{"VmRSS:": &m.VmRSS, "RssAnon:": &m.RssAnon, "RssFile:": &m.RssFile, "RssShmem:": &m.RssShmem}
	seen := 0
	for _, line := range strings.Split(status, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		p, ok := fields[f[0]]
		if !ok {
			continue
		}
		if len(f) != 3 || f[2] != "kB" {
			return memStatus{}, fmt.Errorf("bench: /proc status line %q", line)
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || n < 0 {
			return memStatus{}, fmt.Errorf("bench: /proc status line %q", line)
		}
		*p = n * 1024
		seen++
	}
	if m.VmRSS == 0 || seen < 2 {
		return memStatus{}, fmt.Errorf("bench: /proc status without VmRSS and RssAnon")
	}
	return m, nil
}

// perPair is the growth of a memory figure from the empty gateway to one
// holding pairs pairs, per pair, in bytes (0 for no pairs).
func perPair(base, withPairs int64, pairs int) float64 {
	if pairs <= 0 {
		return 0
	}
	return float64(withPairs-base) / float64(pairs)
}

// stepPairs is the size of a presence step: rate per second for d, but
// never more than the pairs there are (each pair is used at most once
// per step), and the sending time that takes at rate.
func stepPairs(rate, pairs int, d time.Duration) (int, time.Duration) {
	n := int(float64(rate) * d.Seconds())
	n = max(min(n, pairs), 0)
	if rate <= 0 {
		return 0, 0
	}
	return n, time.Duration(float64(n) / float64(rate) * float64(time.Second))
}

// cycle returns the n pairs (numbered from 1) that follow pair after in
// the cycle 1, 2, …, pairs, 1, 2, …, and the last of them.
func cycle(after, n, pairs int) ([]int, int) {
	if pairs <= 0 || n <= 0 {
		return nil, after
	}
	out := make([]int, n)
	p := after
	for i := range out {
		p = p%pairs + 1
		out[i] = p
	}
	return out, p
}

// gcCycle is one line the Go runtime prints per garbage collection with
// GODEBUG=gctrace=1 (runtime package documentation):
//
//	gc 23 @5.270s 8%: 0.13+422+0.064 ms clock, 0.27+6.8/223/267+0.12 ms cpu, 501->532->481 MB, 566 MB goal, …
type gcCycle struct {
	N int
	// CPU is the collector's CPU time: the sum of the "ms cpu" terms
	// (stop-the-world sweep termination, assist, background and idle
	// marking, stop-the-world mark termination).
	CPU time.Duration
	// Start, End and Live are the heap at the start and the end of the
	// cycle and the heap marked live, in the runtime's MB (2^20 bytes).
	Start, End, Live int64
}

// gcLine matches a gctrace line up to its heap sizes.
var gcLine = regexp.MustCompile(`^gc (\d+) @[0-9.]+s \d+%: [0-9.+]+ ms clock, ([0-9.]+)\+([0-9.]+)/([0-9.]+)/([0-9.]+)\+([0-9.]+) ms cpu, (\d+)->(\d+)->(\d+) MB`)

// parseGCLine reads a gctrace line; ok is false for other lines.
func parseGCLine(line string) (gcCycle, bool) {
	m := gcLine.FindStringSubmatch(strings.TrimRight(line, "\r\n"))
	if m == nil {
		return gcCycle{}, false
	}
	var c gcCycle
	c.N, _ = strconv.Atoi(m[1])
	var ms float64
	for _, f := range m[2:7] {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return gcCycle{}, false
		}
		ms += v
	}
	c.CPU = time.Duration(ms * float64(time.Millisecond))
	for i, p := range []*int64{&c.Start, &c.End, &c.Live} {
		v, err := strconv.ParseInt(m[7+i], 10, 64)
		if err != nil {
			return gcCycle{}, false
		}
		*p = v
	}
	return c, true
}
