package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
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
	// of the process; Children is cutime+cstime (fields 16 and 17): that
	// of the children it has waited for. Both in clock ticks.
	Own, Children int64
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
	if len(f) < 15 {
		return procStat{}, errors.New("bench: short /proc stat")
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("bench: /proc stat ppid: %w", err)
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("bench: /proc stat flags: %w", err)
	}
	var v [4]int64
	for k := range v {
		n, err := strconv.ParseInt(f[11+k], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("bench: /proc stat: %w", err)
		}
		v[k] = n
	}
	return procStat{PPid: ppid, Flags: flags, Own: v[0] + v[1], Children: v[2] + v[3]}, nil
}

// foreignTicks is the CPU time, in clock ticks, that user processes other
// than those in ours (and their children) used between two snapshots of
// every process: for a process in both, the growth of its own and its
// waited-for children's time; for one that appeared, all of it. A
// process that ended in between is seen through its parent's children
// time when the parent is alive. Kernel threads are left out: they also
// carry the loopback traffic of the bench itself.
func foreignTicks(before, after map[int]procStat, ours map[int]bool) int64 {
	var sum int64
	for pid, a := range after {
		if ours[pid] || ours[a.PPid] || a.Flags&pfKThread != 0 {
			continue
		}
		total := a.Own + a.Children
		if b, ok := before[pid]; ok {
			total -= b.Own + b.Children
		}
		sum += max(total, 0)
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

// parseLogLine reads level=, msg= and suppressed= of a log/slog text
// handler line; ok is false for other lines.
func parseLogLine(line string) (r logRecord, ok bool) {
	rest := line
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		key, after, found := strings.Cut(rest, "=")
		if !found {
			break
		}
		var val string
		if strings.HasPrefix(after, `"`) {
			q, err := strconv.QuotedPrefix(after)
			if err != nil {
				break
			}
			val, _ = strconv.Unquote(q)
			rest = after[len(q):]
		} else {
			val, rest, _ = strings.Cut(after, " ")
		}
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
