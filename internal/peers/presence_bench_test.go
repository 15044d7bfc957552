package peers

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNotifySinkRender(t *testing.T) {
	tests := map[string]struct {
		in      NotifySink
		want    []string
		wantErr bool
	}{
		"defaults": {in: NotifySink{}, want: []string{
			`<recv request="NOTIFY">`,
			`<ereg regexp="bench [0-9]+ [0-9]+ [^&lt;]*" search_in="body" check_it="false" assign_to="body"/>`,
			`<log message="[timestamp]|[$body]"/>`, "SIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:]\n"}},
		"marker":                     {in: NotifySink{Marker: "pres_1"}, want: []string{`regexp="pres_1 [0-9]+`}},
		"marker breaking the regexp": {in: NotifySink{Marker: "a*"}, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { checkRender(t, tc.in, tc.want, tc.wantErr) })
	}
}

func TestNotifyUACRender(t *testing.T) {
	ok := NotifyUAC{RequestURI: "sip:127.0.0.1:5060", WatcherURI: "sip:bench@xmpp.example.test", Domain: "sip.example.test", Tag: 4}
	tests := map[string]struct {
		in      NotifyUAC
		want    []string
		wantErr bool
	}{
		"defaults": {in: ok, want: []string{
			"NOTIFY sip:127.0.0.1:5060 SIP/2.0\n",
			"From: <sip:c[call_number]@sip.example.test>;tag=pbn[call_number]\n",
			"To: <sip:bench@xmpp.example.test>;tag=pbg[call_number]\n",
			"Call-ID: [call_id]\n", "CSeq: [notify_cseq] NOTIFY\n",
			"Contact: <sip:c[call_number]@[local_ip]:[local_port]>\n",
			"Subscription-State: active;expires=[$expires]\n",
			`<assignstr assign_to="expiry" value="[expiry]"/>`,
			`entity="sip:c[call_number]@sip.example.test"><tuple id="t">`,
			"<note>bench 4 [call_number] [timestamp]</note>",
			`<recv response="200" rtd="true"/>`}},
		"prefixes, tuple and marker": {in: NotifyUAC{RequestURI: ok.RequestURI, WatcherURI: ok.WatcherURI, Domain: ok.Domain,
			UserPrefix: "bob", Prefix: "x", TupleID: "desk", Marker: "m", Tag: 1}, want: []string{
			"From: <sip:bob[call_number]@sip.example.test>;tag=xn[call_number]\n", `<tuple id="desk">`, "<note>m 1 [call_number]"}},
		"keyword in a URI":    {in: NotifyUAC{RequestURI: "sip:[service]@h", WatcherURI: ok.WatcherURI, Domain: ok.Domain}, wantErr: true},
		"angle in a URI":      {in: NotifyUAC{RequestURI: ok.RequestURI, WatcherURI: "<sip:a@b>", Domain: ok.Domain}, wantErr: true},
		"no domain":           {in: NotifyUAC{RequestURI: ok.RequestURI, WatcherURI: ok.WatcherURI}, wantErr: true},
		"quote in a tuple id": {in: NotifyUAC{RequestURI: ok.RequestURI, WatcherURI: ok.WatcherURI, Domain: ok.Domain, TupleID: `a"`}, wantErr: true},
		"percent in a prefix": {in: NotifyUAC{RequestURI: ok.RequestURI, WatcherURI: ok.WatcherURI, Domain: ok.Domain, Prefix: "a%u"}, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { checkRender(t, tc.in, tc.want, tc.wantErr) })
	}
}

func TestNotifyUACDialogAndArgs(t *testing.T) {
	u := NotifyUAC{}
	if got, want := u.Dialog(7), (NotifyDialog{CallID: "pb-7@bench", NotifierTag: "pbn7", SubscriberTag: "pbg7", User: "c7"}); got != want {
		t.Errorf("Dialog(7) = %+v, want %+v", got, want)
	}
	u = NotifyUAC{Prefix: "x", UserPrefix: "bob"}
	if got, want := u.Dialog(1), (NotifyDialog{CallID: "x-1@bench", NotifierTag: "xn1", SubscriberTag: "xg1", User: "bob1"}); got != want {
		t.Errorf("Dialog(1) = %+v, want %+v", got, want)
	}
	got := u.Args(12, time.Unix(1795323728, 0))
	want := []string{"-cid_str", "x-%u@bench", "-key", "notify_cseq", "12", "-key", "expiry", "1795323728"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Args = %q, want %q", got, want)
	}
}

// TestNotifyScenariosWithSIPp runs the two scenarios against each other
// under the installed sipp: the UAC sends in-dialog NOTIFYs on the dialogs
// Dialog names, with the remaining seconds of a subscription computed by
// sipp, to the sink, which answers 200 and logs the note; a second run
// sends on the same dialogs (Call-IDs) again, which the sink must answer
// too (-deadcall_wait 0).
func TestNotifyScenariosWithSIPp(t *testing.T) {
	requireBinary(t, SIPpBinary)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	sinkXML, err := NotifySink{}.Render()
	if err != nil {
		t.Fatal(err)
	}
	sink, err := StartSIPp(SIPpOptions{Dir: dir, Name: "sink", Scenario: sinkXML, TraceLogs: true, TraceMsg: true,
		Extra: []string{"-deadcall_wait", "0"}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Stop()
	expiry := time.Now().Add(time.Hour)
	notify := NotifyUAC{RequestURI: "sip:" + sink.Addr(), WatcherURI: "sip:bench@xmpp.example.test",
		Domain: "sip.example.test", Tag: 9}
	uacXML, err := notify.Render()
	if err != nil {
		t.Fatal(err)
	}
	// Two runs on the same two dialogs, the second with a higher CSeq.
	for run, cseq := range []uint32{5, 6} {
		uac, err := StartSIPp(SIPpOptions{Dir: dir, Name: fmt.Sprintf("uac%d", run), Scenario: uacXML, Remote: sink.Addr(),
			Calls: 2, Rate: 20, Extra: notify.Args(cseq, expiry), Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		if code, err := uac.Wait(ctx); err != nil || code != 0 {
			t.Fatalf("uac run %d exit %d %v: %s", run, code, err, uac.Errors())
		}
	}
	sink.Stop()
	lines, b := readLogLines(t, sink.LogFile)
	ts := sippTimestamp
	for i, l := range lines {
		want := regexp.MustCompile(fmt.Sprintf(`^%s\|bench 9 %d %s$`, ts, i%2+1, ts))
		if !want.MatchString(l) {
			t.Errorf("sink log line %d = %q, want it to match %s", i+1, l, want)
		}
	}
	if len(lines) != 4 {
		t.Fatalf("%d sink log lines, want 4:\n%s", len(lines), b)
	}
	msgs, err := sink.Messages()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	state := regexp.MustCompile(`(?m)^Subscription-State: active;expires=(\d+)\r?$`)
	for _, m := range msgs {
		if !m.Received {
			continue
		}
		head, _, _ := strings.Cut(m.Raw, "\n")
		got = append(got, strings.TrimSpace(head))
		sm := state.FindStringSubmatch(m.Raw)
		if sm == nil {
			t.Errorf("NOTIFY without Subscription-State active;expires=N:\n%s", m.Raw)
			continue
		}
		var secs int64
		fmt.Sscan(sm[1], &secs)
		if secs < 3590 || secs > 3600 {
			t.Errorf("expires=%d, want the remaining seconds of an hour", secs)
		}
		d := notify.Dialog((len(got)-1)%2 + 1)
		cseq := fmt.Sprintf("CSeq: %d NOTIFY\r\n", 5+(len(got)-1)/2)
		for _, h := range []string{"Call-ID: " + d.CallID + "\r\n", cseq,
			"From: <sip:" + d.User + "@sip.example.test>;tag=" + d.NotifierTag + "\r\n",
			"To: <sip:bench@xmpp.example.test>;tag=" + d.SubscriberTag + "\r\n",
			"Contact: <sip:" + d.User + "@127.0.0.1:"} {
			if !strings.Contains(m.Raw, h) {
				t.Errorf("NOTIFY lacks %q:\n%s", h, m.Raw)
			}
		}
	}
	if len(got) != 4 {
		t.Errorf("the sink received %d requests, want 4 NOTIFYs: %q", len(got), got)
	}
}
