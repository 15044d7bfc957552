package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestParseLogAttrs(t *testing.T) {
	tests := map[string]struct {
		in   string
		want map[string]string
	}{
		"core restore": {
			in: `time=2026-11-22T06:43:04.172Z level=INFO msg="presence state restored" side=presence pairs=1000 live_dialogs=1000 resubscribe=0` + "\n",
			want: map[string]string{"time": "2026-11-22T06:43:04.172Z", "level": "INFO", "msg": "presence state restored",
				"side": "presence", "pairs": "1000", "live_dialogs": "1000", "resubscribe": "0"}},
		"unquoted message and a list": {
			in:   `time=2026-11-22T06:43:04.172Z level=INFO msg=listening side=sip addrs=[udp:127.0.0.1:34867]`,
			want: map[string]string{"time": "2026-11-22T06:43:04.172Z", "level": "INFO", "msg": "listening", "side": "sip", "addrs": "[udp:127.0.0.1:34867]"}},
		"escaped quote in a value": {
			in:   `time=2026-11-22T06:43:09.184Z level=INFO msg="NOTIFY failed" state="active;expires=3594" err="say \"no\""`,
			want: map[string]string{"time": "2026-11-22T06:43:09.184Z", "level": "INFO", "msg": "NOTIFY failed", "state": "active;expires=3594", "err": `say "no"`}},
		"no time":           {in: `level=INFO msg=listening`},
		"a panic's output":  {in: `goroutine 1 [running]:`},
		"unfinished quote":  {in: `time=2026-11-22T06:43:04.172Z level=INFO msg="presence state`},
		"empty":             {in: ""},
		"sipgo's own print": {in: `2026/11/22 06:43:04 something happened`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := parseLogAttrs(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseLogAttrs(%q) =\n%v\nwant\n%v", tc.in, got, tc.want)
			}
		})
	}
}

func TestLogTime(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		"slog millis": {in: "2026-11-22T06:43:04.172Z", want: time.Date(2026, 11, 22, 6, 43, 4, 172e6, time.UTC)},
		"offset":      {in: "2026-11-22T07:43:04.172+01:00", want: time.Date(2026, 11, 22, 6, 43, 4, 172e6, time.UTC)},
		"no zone":     {in: "2026-11-22T06:43:04.172", wantErr: true},
		"empty":       {in: "", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := logTime(map[string]string{"time": tc.in})
			if (err != nil) != tc.wantErr {
				t.Fatalf("logTime(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if !got.Equal(tc.want) {
				t.Errorf("logTime(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseProcStatus(t *testing.T) {
	const kernel = `Name:	cpimgw
Umask:	0022
State:	S (sleeping)
VmPeak:	 1262400 kB
VmRSS:	   21400 kB
RssAnon:	    9728 kB
RssFile:	   11672 kB
RssShmem:	       0 kB
VmData:	   64512 kB
Threads:	9
`
	tests := map[string]struct {
		in      string
		want    memStatus
		wantErr bool
	}{
		"kernel text":                {in: kernel, want: memStatus{VmRSS: 21400 << 10, RssAnon: 9728 << 10, RssFile: 11672 << 10}},
		"spaces":                     {in: "VmRSS: 10 kB\nRssAnon: 4 kB\nRssFile: 6 kB\n", want: memStatus{VmRSS: 10 << 10, RssAnon: 4 << 10, RssFile: 6 << 10}},
		"no RssAnon (an old kernel)": {in: "VmRSS: 10 kB\n", wantErr: true},
		"other unit":                 {in: "VmRSS: 10 MB\nRssAnon: 4 kB\n", wantErr: true},
		"not a number":               {in: "VmRSS: ten kB\nRssAnon: 4 kB\n", wantErr: true},
		"a kernel thread":            {in: "Name:\tkthreadd\nState:\tS\n", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseProcStatus(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseProcStatus error = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("parseProcStatus = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPerPair(t *testing.T) {
	tests := map[string]struct {
		base, with int64
		pairs      int
		want       float64
	}{
		"growth":   {base: 10 << 20, with: 30 << 20, pairs: 10000, want: 2097.152},
		"no pairs": {base: 10 << 20, with: 10 << 20, pairs: 0, want: 0},
		"shrank":   {base: 10 << 20, with: 9 << 20, pairs: 1024, want: -1024},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := perPair(tc.base, tc.with, tc.pairs); got != tc.want {
				t.Errorf("perPair(%d, %d, %d) = %v, want %v", tc.base, tc.with, tc.pairs, got, tc.want)
			}
		})
	}
}

func TestStepPairs(t *testing.T) {
	tests := map[string]struct {
		rate, pairs int
		d           time.Duration
		wantN       int
		wantD       time.Duration
	}{
		"below the pairs":      {rate: 1000, pairs: 10000, d: 5 * time.Second, wantN: 5000, wantD: 5 * time.Second},
		"exactly the pairs":    {rate: 2000, pairs: 10000, d: 5 * time.Second, wantN: 10000, wantD: 5 * time.Second},
		"capped at the pairs":  {rate: 20000, pairs: 10000, d: 5 * time.Second, wantN: 10000, wantD: 500 * time.Millisecond},
		"fraction of a second": {rate: 200, pairs: 1000, d: 500 * time.Millisecond, wantN: 100, wantD: 500 * time.Millisecond},
		"no pairs":             {rate: 200, pairs: 0, d: time.Second, wantN: 0, wantD: 0},
		"no rate":              {rate: 0, pairs: 10, d: time.Second, wantN: 0, wantD: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n, d := stepPairs(tc.rate, tc.pairs, tc.d)
			if n != tc.wantN || d != tc.wantD {
				t.Errorf("stepPairs(%d, %d, %v) = %d, %v; want %d, %v", tc.rate, tc.pairs, tc.d, n, d, tc.wantN, tc.wantD)
			}
		})
	}
}

func TestCycle(t *testing.T) {
	tests := map[string]struct {
		after, n, pairs int
		want            []int
		wantLast        int
	}{
		"from the start": {after: 0, n: 3, pairs: 5, want: []int{1, 2, 3}, wantLast: 3},
		"wraps":          {after: 4, n: 3, pairs: 5, want: []int{5, 1, 2}, wantLast: 2},
		"all of them":    {after: 2, n: 5, pairs: 5, want: []int{3, 4, 5, 1, 2}, wantLast: 2},
		"none":           {after: 2, n: 0, pairs: 5, want: nil, wantLast: 2},
		"no pairs":       {after: 0, n: 3, pairs: 0, want: nil, wantLast: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, last := cycle(tc.after, tc.n, tc.pairs)
			if !reflect.DeepEqual(got, tc.want) || last != tc.wantLast {
				t.Errorf("cycle(%d, %d, %d) = %v, %d; want %v, %d", tc.after, tc.n, tc.pairs, got, last, tc.want, tc.wantLast)
			}
		})
	}
}

func TestReadLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("one\ntwo\nthr"), 0o600); err != nil {
		t.Fatal(err)
	}
	lines, off, part := readLines(path, 0, "")
	if !reflect.DeepEqual(lines, []string{"one\n", "two\n"}) || off != 11 || part != "thr" {
		t.Fatalf("first read = %q, %d, %q", lines, off, part)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("ee\nfour\n")
	f.Close()
	lines, off, part = readLines(path, off, part)
	if !reflect.DeepEqual(lines, []string{"three\n", "four\n"}) || off != 19 || part != "" {
		t.Fatalf("second read = %q, %d, %q", lines, off, part)
	}
	lines, off2, part := readLines(filepath.Join(t.TempDir(), "missing"), 5, "x")
	if lines != nil || off2 != 5 || part != "x" {
		t.Fatalf("missing file = %q, %d, %q", lines, off2, part)
	}
}

func TestTagLog(t *testing.T) {
	dir := t.TempDir()
	udp, tcp := filepath.Join(dir, "udp.log"), filepath.Join(dir, "tcp.log")
	ts := "2026-11-22\t06:44:00.000100\t1795329840.000100"
	os.WriteFile(udp, []byte(ts+"|bench 3 1 1795329839.999000\n"+ts+"|\n"), 0o600)
	os.WriteFile(tcp, []byte(ts+"|bench 3 2 1795329839.999500\n"+ts+"|bench 4 1 1795329839.9995"), 0o600)
	l := newTagLog(udp, tcp)
	if n := l.count(3); n != 2 {
		t.Errorf("count(3) = %d, want 2", n)
	}
	if n := l.count(4); n != 0 {
		t.Errorf("count(4) = %d before its line is complete, want 0", n)
	}
	got := l.take(3)
	want := []received{
		{probe: probe{Tag: 3, Seq: 1, Sent: time.Unix(1795329839, 999000000)}, At: time.Unix(1795329840, 100000)},
		{probe: probe{Tag: 3, Seq: 2, Sent: time.Unix(1795329839, 999500000)}, At: time.Unix(1795329840, 100000)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("take(3) = %+v, want %+v", got, want)
	}
	if l.bad != 1 {
		t.Errorf("bad = %d, want 1 (the line without a note)", l.bad)
	}
	if n := l.count(3); n != 0 {
		t.Errorf("count(3) after take = %d", n)
	}
}

func TestParseGCLine(t *testing.T) {
	tests := map[string]struct {
		in     string
		want   gcCycle
		wantOK bool
	}{
		"restore": {in: "gc 23 @5.270s 8%: 0.13+422+0.064 ms clock, 0.27+6.8/223/267+0.12 ms cpu, 501->532->481 MB, 566 MB goal, 0 MB stacks, 0 MB globals, 2 P\n",
			want: gcCycle{N: 23, CPU: 497190 * time.Microsecond, Start: 501, End: 532, Live: 481}, wantOK: true},
		"small": {in: "gc 1 @0.040s 2%: 1.7+1.1+0.075 ms clock, 3.4+1.6/0.65/0+0.15 ms cpu, 3->4->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P",
			want: gcCycle{N: 1, CPU: 5800 * time.Microsecond, Start: 3, End: 4, Live: 1}, wantOK: true},
		"forced": {in: "gc 40 @121.3s 1%: 0.05+3.1+0.01 ms clock, 0.1+0/2.9/1.2+0.02 ms cpu, 90->90->88 MB, 180 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)",
			want: gcCycle{N: 40, CPU: 4220 * time.Microsecond, Start: 90, End: 90, Live: 88}, wantOK: true},
		"a log record":      {in: `time=2026-11-22T06:50:51.862Z level=INFO msg=listening side=sip`},
		"scavenger trace":   {in: "scav 0 KiB work (bg), 0 KiB work (eager), 2948 KiB now, 99% util"},
		"cut short":         {in: "gc 23 @5.270s 8%: 0.13+422+0.064 ms clock, 0.27+6.8/223"},
		"without heap size": {in: "gc 1 @0.040s 2%: 1.7+1.1+0.075 ms clock, 3.4+1.6/0.65/0+0.15 ms cpu"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := parseGCLine(tc.in)
			if ok != tc.wantOK {
				t.Fatalf("parseGCLine(%q) ok = %v, want %v", tc.in, ok, tc.wantOK)
			}
			// The CPU is a sum of decimal milliseconds: compare to the
			// microsecond.
			got.CPU = got.CPU.Round(time.Microsecond)
			if got != tc.want {
				t.Errorf("parseGCLine(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestGCStats(t *testing.T) {
	var g gcStats
	for _, c := range []gcCycle{{N: 1, CPU: time.Millisecond, Live: 10}, {N: 2, CPU: 2 * time.Millisecond, Live: 8}} {
		g.add(c)
	}
	if want := (gcStats{Cycles: 2, CPU: 3 * time.Millisecond, Live: 8}); g != want {
		t.Errorf("gcStats = %+v, want %+v", g, want)
	}
}

// TestNotableLogsLineEnds: records read from the gateway's log keep their
// last attribute whole: suppressed=N counts N more records, and a message
// in the last field has no line end in it.
func TestNotableLogsLineEnds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.log")
	log := "time=2026-11-22T07:12:00.000Z level=WARN msg=\"sipgo: read error\" side=sip suppressed=41\n" +
		"time=2026-11-22T07:12:00.001Z level=INFO msg=stopped\n"
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	got, _ := notableLogs(path, 0)
	want := map[string]int{"WARN sipgo: read error": 42, "INFO stopped": 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("notableLogs = %v, want %v", got, want)
	}
}
