package peers

import (
	"context"
	"regexp"
	"testing"
	"time"
)

func TestBenchUASRender(t *testing.T) {
	tests := map[string]struct {
		in      BenchUAS
		want    []string // substrings of the scenario
		wantErr bool
	}{
		"defaults": {in: BenchUAS{}, want: []string{
			`<ereg regexp="bench[[:print:][:blank:]]*" search_in="body" check_it="false" assign_to="body"/>`,
			`<log message="[timestamp]|[$body]"/>`, "SIP/2.0 200 OK\n"}},
		"202 and a marker": {in: BenchUAS{Status: 202, Reason: "Accepted", Marker: "probe_1"}, want: []string{
			`regexp="probe_1[[:print:][:blank:]]*"`, "SIP/2.0 202 Accepted\n"}},
		"marker that would break the regexp": {in: BenchUAS{Marker: "a.b"}, wantErr: true},
		"marker that would break the XML":    {in: BenchUAS{Marker: `a"b`}, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { checkRender(t, tc.in, tc.want, tc.wantErr) })
	}
}

// TestBenchUASWithSIPp runs the scenario under the installed sipp: a UAC
// sends bodies that carry sipp's [timestamp], and the UAS's log has one
// line per MESSAGE in the form cmd/cpimgw-bench parses.
func TestBenchUASWithSIPp(t *testing.T) {
	requireBinary(t, SIPpBinary)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	uasXML, err := BenchUAS{}.Render()
	if err != nil {
		t.Fatal(err)
	}
	uas, err := StartSIPp(SIPpOptions{Dir: dir, Name: "uas", Scenario: uasXML, TraceLogs: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer uas.Stop()
	uacXML, err := MessageUAC{
		RequestURI: "sip:bob@" + uas.Addr(), From: "<sip:alice@127.0.0.1>", To: "sip:bob@127.0.0.1",
		Body: "bench 7 [call_number] [timestamp]\r\nnot logged", Expect: 200,
	}.Render()
	if err != nil {
		t.Fatal(err)
	}
	uac, err := StartSIPp(SIPpOptions{Dir: dir, Name: "uac", Scenario: uacXML, Remote: uas.Addr(), Calls: 3, Rate: 100, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := uac.Wait(ctx); err != nil || code != 0 {
		t.Fatalf("uac exit %d %v: %s", code, err, uac.Errors())
	}
	uas.Stop()
	lines, b := readLogLines(t, uas.LogFile)
	ts := sippTimestamp
	for i, l := range lines {
		want := regexp.MustCompile(`^` + ts + `\|bench 7 ` + string(rune('1'+i)) + ` ` + ts + `$`)
		if !want.MatchString(l) {
			t.Errorf("log line %d = %q, want it to match %s", i+1, l, want)
		}
	}
	if len(lines) != 3 {
		t.Errorf("%d log lines, want 3:\n%s", len(lines), b)
	}
}
