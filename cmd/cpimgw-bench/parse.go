package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// parseEpoch reads the epoch part of a timestamp as sipp prints it in
// [timestamp] ("date<TAB>time<TAB>1795323728.274090": seconds, a dot and
// up to nine fraction digits); the bench's own bodies use the same form.
func parseEpoch(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(s, ".")
	if sec == "" || len(frac) > 9 {
		return time.Time{}, fmt.Errorf("bench: %q is not an epoch timestamp", s)
	}
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || secs < 0 {
		return time.Time{}, fmt.Errorf("bench: %q is not an epoch timestamp", s)
	}
	var nanos int64
	if frac != "" {
		n, err := strconv.ParseInt(frac, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("bench: %q is not an epoch timestamp", s)
		}
		nanos = n * int64(math.Pow10(9-len(frac)))
	}
	return time.Unix(secs, nanos), nil
}

// formatEpoch writes t as seconds.microseconds, the form sipp uses.
func formatEpoch(t time.Time) string {
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}

// timestampEpoch returns the epoch of a sipp [timestamp] value: its last
// whitespace-separated field.
func timestampEpoch(s string) (time.Time, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return time.Time{}, errors.New("bench: empty timestamp")
	}
	return parseEpoch(f[len(f)-1])
}

// probe is what one benchmark message body says: "bench TAG SEQ SENT",
// where TAG identifies the step, SEQ the message within it (sipp's
// [call_number], from 1) and SENT the send time, either an epoch or a
// whole sipp [timestamp] whose last field is one.
type probe struct {
	Tag, Seq int
	Sent     time.Time
}

// parseBody reads a benchmark message body.
func parseBody(body string) (probe, error) {
	f := strings.Fields(body)
	if len(f) < 4 || f[0] != "bench" {
		return probe{}, fmt.Errorf("bench: not a benchmark body: %q", body)
	}
	tag, err1 := strconv.Atoi(f[1])
	seq, err2 := strconv.Atoi(f[2])
	sent, err3 := parseEpoch(f[len(f)-1])
	if err := errors.Join(err1, err2, err3); err != nil {
		return probe{}, fmt.Errorf("bench: body %q: %w", body, err)
	}
	return probe{Tag: tag, Seq: seq, Sent: sent}, nil
}

// bodyTag returns the step tag of a benchmark body, or -1.
func bodyTag(body string) int {
	f := strings.Fields(body)
	if len(f) < 2 || f[0] != "bench" {
		return -1
	}
	tag, err := strconv.Atoi(f[1])
	if err != nil {
		return -1
	}
	return tag
}

// received is one message as it arrived at the receiving end.
type received struct {
	probe
	At time.Time
}

// parseUASLine reads one line the bench UAS scenario logs
// (peers.BenchUAS): "<sipp [timestamp]>|<body>".
func parseUASLine(line string) (received, error) {
	ts, body, ok := strings.Cut(strings.TrimRight(line, "\r\n"), "|")
	if !ok {
		return received{}, fmt.Errorf("bench: UAS log line without '|': %q", line)
	}
	at, err := timestampEpoch(ts)
	if err != nil {
		return received{}, err
	}
	p, err := parseBody(body)
	if err != nil {
		return received{}, err
	}
	return received{probe: p, At: at}, nil
}

// parseSIPpStats reads sipp's -trace_stat file (semicolon-separated, a
// header row, then one row per period and a last one at exit) and returns
// the last row keyed by the header's names ("SuccessfulCall(C)", …).
func parseSIPpStats(r io.Reader) (map[string]string, error) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	var head, last []string
	for s.Scan() {
		line := strings.TrimRight(s.Text(), "\r")
		if line == "" {
			continue
		}
		if head == nil {
			head = strings.Split(line, ";")
			continue
		}
		last = strings.Split(line, ";")
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if last == nil {
		return nil, errors.New("bench: sipp statistics file has no data row")
	}
	m := make(map[string]string, len(head))
	for i, h := range head {
		if h != "" && i < len(last) {
			m[h] = last[i]
		}
	}
	return m, nil
}

// statInt reads one counter of parseSIPpStats's result.
func statInt(m map[string]string, name string) (int, error) {
	v, ok := m[name]
	if !ok {
		return 0, fmt.Errorf("bench: sipp statistics lack %s", name)
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("bench: sipp statistic %s=%q: %w", name, v, err)
	}
	return n, nil
}

// procStat is what the bench reads of proc(5) /proc/PID/stat.
type procStat struct {
	PPid  int
	Flags uint64
	// Own is utime+stime (fields 14 and 15): the CPU time of every thread
	// of the process, in clock ticks.
	Own int64
	// Start is when the process started (field 22), in clock ticks since
	// boot.
	Start int64
}

// pfKThread is PF_KTHREAD of the flags field: a kernel thread.
const pfKThread = 0x00200000

// parseProcPIDStat reads a /proc/PID/stat line. The command name (field 2)
// may hold spaces and parentheses, so the fields are counted after its
// last ')'.
func parseProcPIDStat(stat string) (procStat, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return procStat{}, errors.New("bench: malformed /proc stat")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so field N is f[N-3].
	if len(f) < 20 {
		return procStat{}, errors.New("bench: short /proc stat")
	}
	ppid, err1 := strconv.Atoi(f[1])
	flags, err2 := strconv.ParseUint(f[6], 10, 64)
	utime, err3 := strconv.ParseInt(f[11], 10, 64)
	stime, err4 := strconv.ParseInt(f[12], 10, 64)
	start, err5 := strconv.ParseInt(f[19], 10, 64)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return procStat{}, fmt.Errorf("bench: /proc stat: %w", err)
	}
	return procStat{PPid: ppid, Flags: flags, Own: utime + stime, Start: start}, nil
}

// foreignTicks is the CPU time, in clock ticks, that user processes not
// among ours (nor their children) used between two snapshots of every
// process: for a process in both, the growth of its time; for one that
// started after since (ticks since boot), all of it. Kernel threads are
// left out: they also carry the bench's own loopback traffic. A process
// that started and ended between the snapshots is not seen, so the
// snapshots are taken often (see loadMeter).
func foreignTicks(before, after map[int]procStat, ours map[int]bool, since int64) int64 {
	var sum int64
	for pid, a := range after {
		if ours[pid] || ours[a.PPid] || a.Flags&pfKThread != 0 {
			continue
		}
		if b, ok := before[pid]; ok && b.Start == a.Start {
			sum += max(a.Own-b.Own, 0)
		} else if a.Start >= since {
			sum += a.Own
		}
	}
	return sum
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted: the smallest value with at least p% of the values at or below
// it. It returns 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// sortDurations sorts d in place and returns it.
func sortDurations(d []time.Duration) []time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d
}

// logRecord is the level and message of one slog text line.
type logRecord struct {
	Level, Msg string
	// Suppressed is the count sipside's log filter adds when it dropped
	// sipgo records over its rate limit.
	Suppressed int
}

// slogPairs yields the key=value pairs of a log/slog text handler line in
// order, a quoted value (strconv.Quote) unquoted. It stops at text that
// is not a pair or at an unfinished quote.
func slogPairs(line string) iter.Seq2[string, string] {
	return func(yield func(key, val string) bool) {
		rest := line
		for rest != "" {
			rest = strings.TrimLeft(rest, " ")
			key, after, found := strings.Cut(rest, "=")
			if !found {
				return
			}
			var val string
			if strings.HasPrefix(after, `"`) {
				q, err := strconv.QuotedPrefix(after)
				if err != nil {
					return
				}
				val, _ = strconv.Unquote(q)
				rest = after[len(q):]
			} else {
				val, rest, _ = strings.Cut(after, " ")
			}
			if !yield(key, val) {
				return
			}
		}
	}
}

// parseLogLine reads level=, msg= and suppressed= of a log/slog text
// handler line; ok is false for other lines.
func parseLogLine(line string) (r logRecord, ok bool) {
	for key, val := range slogPairs(line) {
		switch key {
		case "level":
			r.Level = val
		case "msg":
			r.Msg = val
		case "suppressed":
			r.Suppressed, _ = strconv.Atoi(val)
		}
	}
	return r, r.Level != "" && r.Msg != ""
}

// parseVmRSS reads the VmRSS line ("VmRSS:     12345 kB") of a
// /proc/PID/status text, in bytes; 0 when absent.
func parseVmRSS(status string) int64 {
	for _, line := range strings.Split(status, "\n") {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0
		}
		return n * 1024
	}
	return 0
}
