package main

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseEpoch(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		"sipp micro":      {in: "1795323728.274090", want: time.Unix(1795323728, 274090000)},
		"no fraction":     {in: "1795323728", want: time.Unix(1795323728, 0)},
		"one digit":       {in: "12.5", want: time.Unix(12, 500000000)},
		"nanoseconds":     {in: "12.000000001", want: time.Unix(12, 1)},
		"too many digits": {in: "12.0000000001", wantErr: true},
		"empty":           {in: "", wantErr: true},
		"negative":        {in: "-1.5", wantErr: true},
		"signed fraction": {in: "1.-5", wantErr: true},
		"words":           {in: "now", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseEpoch(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseEpoch(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if !got.Equal(tc.want) {
				t.Errorf("parseEpoch(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestFormatEpochRoundTrip(t *testing.T) {
	in := time.Unix(1795323728, 274090123)
	s := formatEpoch(in)
	if s != "1795323728.274090" {
		t.Fatalf("formatEpoch = %q", s)
	}
	got, err := parseEpoch(s)
	if err != nil || !got.Equal(in.Truncate(time.Microsecond)) {
		t.Fatalf("parseEpoch(formatEpoch) = %v, %v; want %v", got, err, in.Truncate(time.Microsecond))
	}
}

func TestParseBody(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    probe
		wantErr bool
	}{
		"sipp timestamp": {in: "bench 7 12 2026-11-22\t05:02:08.274090\t1795323728.274090",
			want: probe{Tag: 7, Seq: 12, Sent: time.Unix(1795323728, 274090000)}},
		"go sender":     {in: "bench 3 1 1795323728.000001", want: probe{Tag: 3, Seq: 1, Sent: time.Unix(1795323728, 1000)}},
		"other message": {in: "hello", wantErr: true},
		"no send time":  {in: "bench 3 1", wantErr: true},
		"bad tag":       {in: "bench x 1 1795323728.0", wantErr: true},
		"bad time":      {in: "bench 3 1 yesterday", wantErr: true},
		"other marker":  {in: "bunch 3 1 1795323728.0", wantErr: true},
		"empty":         {in: "", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseBody(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseBody(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseBody(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseUASLine(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    received
		wantErr bool
	}{
		// As sipp 3.6.1 writes them with peers.BenchUAS and -trace_logs.
		"from sipp UAC": {
			in: "2026-11-22\t05:03:24.866642\t1795323804.866642|bench 7 1 2026-11-22\t05:03:24.866472\t1795323804.866472\n",
			want: received{probe: probe{Tag: 7, Seq: 1, Sent: time.Unix(1795323804, 866472000)},
				At: time.Unix(1795323804, 866642000)},
		},
		"from the gateway": {
			in: "2026-11-22\t05:03:24.866642\t1795323804.866642|bench 9 250 1795323804.865000",
			want: received{probe: probe{Tag: 9, Seq: 250, Sent: time.Unix(1795323804, 865000000)},
				At: time.Unix(1795323804, 866642000)},
		},
		"body without the marker": {in: "2026-11-22\t05:03:24.866642\t1795323804.866642|", wantErr: true},
		"no separator":            {in: "2026-11-22\t05:03:24.866642\t1795323804.866642", wantErr: true},
		"bad receipt time":        {in: "soon|bench 9 250 1795323804.865000", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseUASLine(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseUASLine error = %v, want error %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseUASLine = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseSIPpStats(t *testing.T) {
	// Abridged from sipp 3.6.1 -trace_stat: a header, a periodic row and
	// the row written at exit (trailing ';' included).
	const csv = "StartTime;CurrentTime;OutgoingCall(C);SuccessfulCall(C);FailedCall(C);Retransmissions(C);\n" +
		"2026-11-22\t05:02:08.170423\t1795323728.170423;2026-11-22\t05:02:09.0\t1795323729.0;3;2;0;0;\n" +
		"2026-11-22\t05:02:08.170423\t1795323728.170423;2026-11-22\t05:02:10.0\t1795323730.0;5;4;1;2;\n"
	m, err := parseSIPpStats(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{"OutgoingCall(C)": 5, "SuccessfulCall(C)": 4, "FailedCall(C)": 1, "Retransmissions(C)": 2} {
		got, err := statInt(m, name)
		if err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", name, got, err, want)
		}
	}
	if _, err := statInt(m, "Missing(C)"); err == nil {
		t.Error("statInt of a missing counter: no error")
	}
	if _, err := parseSIPpStats(strings.NewReader("StartTime;FailedCall(C);\n")); err == nil {
		t.Error("a statistics file without a data row: no error")
	}
}

func TestParseProcPIDStat(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    procStat
		wantErr bool
	}{
		"plain": {in: "1234 (cpimgw) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 75 40 2 20 0 9 0 5000 1661744 100",
			want: procStat{PPid: 1, Flags: 4194560, Own: 325, Start: 5000}},
		"name with spaces and parens": {in: "99 (a) b) (c) R 7 99 99 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 42 0 0",
			want: procStat{PPid: 7, Own: 10, Start: 42}},
		"kernel thread": {in: "15 (rcu_preempt) I 2 0 0 0 -1 2129984 0 0 0 0 0 26 0 0 20 0 1 0 1 0 0",
			want: procStat{PPid: 2, Flags: 2129984, Own: 26, Start: 1}},
		"short":     {in: "99 (x) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", wantErr: true},
		"no name":   {in: "99 x R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20", wantErr: true},
		"not ticks": {in: "99 (x) R 1 99 99 0 -1 0 0 0 0 0 a b 0 0 20 0 1 0 1 0 0", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseProcPIDStat(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseProcPIDStat error = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("parseProcPIDStat = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestForeignTicks(t *testing.T) {
	const since = 1000 // the first snapshot, in ticks since boot
	before := map[int]procStat{
		1:   {Own: 10, Start: 1},                   // init, someone else's
		100: {PPid: 1, Own: 50, Start: 900},        // the bench
		101: {PPid: 100, Own: 5, Start: 950},       // a sipp of the bench
		200: {PPid: 1, Own: 300, Start: 10},        // a fuzzer
		300: {PPid: 1, Own: 7, Start: 20},          // ends in between
		500: {PPid: 1, Own: 70, Start: 30},         // its pid is reused
		15:  {PPid: 2, Flags: pfKThread, Start: 1}, // a kernel thread
	}
	after := map[int]procStat{
		1:   {Own: 10, Start: 1},
		100: {PPid: 1, Own: 90, Start: 900},  // ours
		200: {PPid: 1, Own: 420, Start: 10},  // +120
		400: {PPid: 1, Own: 30, Start: 1010}, // new: all 30
		401: {PPid: 100, Own: 3, Start: 1020},
		402: {PPid: 1, Own: 9999, Start: 700}, // missed by the first look: unknown, 0
		500: {PPid: 1, Own: 4, Start: 1050},   // a new process on an old pid: all 4
		15:  {PPid: 2, Flags: pfKThread, Own: 80, Start: 1},
	}
	if got, want := foreignTicks(before, after, map[int]bool{100: true}, since), int64(120+30+4); got != want {
		t.Errorf("foreignTicks = %d, want %d", got, want)
	}
	if len(processes()) == 0 {
		t.Error("no process in /proc")
	}
	if _, err := cpuSeconds("self", 100); err != nil {
		t.Errorf("reading our own /proc stat: %v", err)
	}
	if bootTicks(100) <= 0 {
		t.Error("no time since boot")
	}
}

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		d := make([]time.Duration, len(xs))
		for i, x := range xs {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := map[string]struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		"empty":               {in: nil, p: 50, want: 0},
		"one":                 {in: ms(7), p: 99, want: 7 * time.Millisecond},
		"median of odd":       {in: ms(1, 2, 3, 4, 5), p: 50, want: 3 * time.Millisecond},
		"median of even":      {in: ms(1, 2, 3, 4), p: 50, want: 2 * time.Millisecond},
		"p99 of 100":          {in: ms(hundred...), p: 99, want: 99 * time.Millisecond},
		"p99 of 10 is max":    {in: ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), p: 99, want: 10 * time.Millisecond},
		"p100 is max":         {in: ms(1, 2, 3), p: 100, want: 3 * time.Millisecond},
		"tiny p is the first": {in: ms(1, 2, 3), p: 0.001, want: time.Millisecond},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := percentile(tc.in, tc.p); got != tc.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tc.in, tc.p, got, tc.want)
			}
		})
	}
}

func TestParseLogLine(t *testing.T) {
	tests := map[string]struct {
		in     string
		want   logRecord
		wantOK bool
	}{
		"quoted message": {
			in:     `time=2026-11-22T05:07:07.971Z level=WARN msg="component link down; reconnecting" side=xmpp err="write tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout" retry_in=500ms attempt=1`,
			want:   logRecord{Level: "WARN", Msg: "component link down; reconnecting"},
			wantOK: true,
		},
		"bare message": {
			in:     `time=2026-11-22T05:07:07.971Z level=ERROR msg=boom side=sip`,
			want:   logRecord{Level: "ERROR", Msg: "boom"},
			wantOK: true,
		},
		"suppressed sipgo records": {
			in:     `time=2026-11-22T05:07:07.971Z level=WARN msg="transaction timeout" side=sip lib=sipgo suppressed=41`,
			want:   logRecord{Level: "WARN", Msg: "transaction timeout", Suppressed: 41},
			wantOK: true,
		},
		"escaped quote in message": {
			in:     `level=WARN msg="say \"hi\"" x=1`,
			want:   logRecord{Level: "WARN", Msg: `say "hi"`},
			wantOK: true,
		},
		"not slog": {in: "panic: runtime error", wantOK: false},
		"empty":    {in: "", wantOK: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := parseLogLine(tc.in)
			if ok != tc.wantOK || (ok && !reflect.DeepEqual(got, tc.want)) {
				t.Errorf("parseLogLine = %+v, %v; want %+v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestTally(t *testing.T) {
	base := time.Unix(1000, 0)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	got := []received{
		{probe: probe{Tag: 5, Seq: 1, Sent: at(0)}, At: at(2)},
		{probe: probe{Tag: 5, Seq: 2, Sent: at(10)}, At: at(11)},
		{probe: probe{Tag: 5, Seq: 2, Sent: at(10)}, At: at(600)}, // a retransmission
		{probe: probe{Tag: 4, Seq: 3, Sent: at(0)}, At: at(1)},    // a straggler from step 4
		{probe: probe{Tag: 5, Seq: 3, Sent: at(20)}, At: at(25)},
	}
	r := stepResult{Sent: 3, Rate: 100}
	r.tally(5, got, nil)
	if r.Received != 3 || r.Dups != 1 || r.lost() != 0 {
		t.Errorf("received %d, dups %d, lost %d; want 3, 1, 0", r.Received, r.Dups, r.lost())
	}
	want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond}
	if !reflect.DeepEqual(r.Latency, want) {
		t.Errorf("latencies %v, want %v", r.Latency, want)
	}
	if r.Offered != 100 { // 2 intervals over 20 ms
		t.Errorf("offered %v msg/s, want 100", r.Offered)
	}
	if !r.passed() {
		t.Errorf("step did not pass: %s", r.failure())
	}

	// A sipp sender with a loss: its rate is unknown, the step fails.
	lossy := stepResult{Sent: 4, Rate: 100}
	lossy.tally(5, got, nil)
	if !math.IsNaN(lossy.Offered) || lossy.passed() || lossy.failure() != "1 of 4 lost" {
		t.Errorf("lossy step: offered %v, passed %v, failure %q", lossy.Offered, lossy.passed(), lossy.failure())
	}

	// A paced sender that fell behind: its own send times tell.
	slow := stepResult{Sent: 3, Rate: 1000}
	slow.tally(5, got, []time.Time{at(0), at(10), at(20)})
	if slow.passed() || slow.failure() != "the sender reached only 100 msg/s" {
		t.Errorf("slow step: passed %v, failure %q", slow.passed(), slow.failure())
	}
}

func TestParseVmRSS(t *testing.T) {
	tests := map[string]struct {
		in   string
		want int64
	}{
		"status":  {in: "Name:\tcpimgw\nVmHWM:\t   30000 kB\nVmRSS:\t   24576 kB\nRssAnon:\t 1 kB\n", want: 24576 * 1024},
		"absent":  {in: "Name:\tcpimgw\n", want: 0},
		"no unit": {in: "VmRSS:\t24576\n", want: 0},
		"garbage": {in: "VmRSS:\tlots kB\n", want: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := parseVmRSS(tc.in); got != tc.want {
				t.Errorf("parseVmRSS = %d, want %d", got, tc.want)
			}
		})
	}
}
