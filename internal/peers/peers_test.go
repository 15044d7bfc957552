package peers

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// requireBinary fails when CI=true and the binary is missing, skips
// otherwise (the house rule for tests that need a real peer).
func requireBinary(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", path, err)
		}
		t.Skipf("%s not installed: %v", path, err)
	}
}

// checkRender renders a scenario and checks that it fails exactly when
// wantErr is set and otherwise contains each of want.
func checkRender(t *testing.T, in interface{ Render() (string, error) }, want []string, wantErr bool) {
	t.Helper()
	got, err := in.Render()
	if (err != nil) != wantErr {
		t.Fatalf("Render error = %v, want error %v", err, wantErr)
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("scenario lacks %q:\n%s", w, got)
		}
	}
}

// sippTimestamp matches sipp's [timestamp] in a -trace_logs line: date,
// time and epoch, each to the microsecond.
const sippTimestamp = `\d{4}-\d\d-\d\d\t\d\d:\d\d:\d\d\.\d{6}\t\d+\.\d{6}`

// readLogLines returns the lines of a sipp -trace_logs file, and the
// file's content for failure messages.
func readLogLines(t *testing.T, path string) ([]string, []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"), b
}

// TestProsodyHarness checks the harness itself: a rendered Prosody starts
// on loopback, two users log in over c2s and exchange a message.
func TestProsodyHarness(t *testing.T) {
	requireBinary(t, ProsodyBinary)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := NewProsody(ProsodyOptions{
		Dir: t.TempDir(), Domain: "xmpp.example.test",
		Components: map[string]string{"sip.example.test": "s3cret"},
		Users:      map[string]string{"alice": "pw-a", "bob": "pw-b"},
		Logf:       t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	alice, err := Login(ctx, p.C2SAddr(), "alice@xmpp.example.test/a", "pw-a")
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	bob, err := Login(ctx, p.C2SAddr(), "bob@xmpp.example.test/b", "pw-b")
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if err := alice.SendMessage(ctx, "bob@xmpp.example.test", "h1", "en", "hello", ""); err != nil {
		t.Fatal(err)
	}
	m, err := bob.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Body != "hello" || m.From != alice.JID.String() || m.ID != "h1" {
		t.Fatalf("bob got %+v", m)
	}
	if _, err := Login(ctx, p.C2SAddr(), "alice@xmpp.example.test/c", "wrong"); err == nil {
		t.Fatal("login with a wrong password succeeded")
	}
}

// TestSIPpHarness checks the sipp harness: a rendered UAC scenario talks to
// a rendered UAS scenario; the UAS's message trace holds the MESSAGE as sent.
func TestSIPpHarness(t *testing.T) {
	requireBinary(t, SIPpBinary)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	uasXML, err := MessageUAS{Status: 486, Reason: "Busy Here", Headers: []string{"Retry-After: 30"}}.Render()
	if err != nil {
		t.Fatal(err)
	}
	// One call, then sipp exits by itself and flushes its trace (a killed
	// sipp may lose the trace of what it sent last).
	uas, err := StartSIPp(SIPpOptions{Dir: dir, Name: "uas", Scenario: uasXML, TraceMsg: true, Calls: 1, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer uas.Stop()
	uacXML, err := MessageUAC{
		RequestURI: "sip:bob@" + uas.Addr(), From: `"Alice" <sip:alice@127.0.0.1>`, To: "sip:bob@127.0.0.1",
		Headers: []string{"Subject: hi"}, Body: "Grüße\nzweite Zeile", Expect: 486,
	}.Render()
	if err != nil {
		t.Fatal(err)
	}
	uac, err := StartSIPp(SIPpOptions{Dir: dir, Name: "uac", Scenario: uacXML, Remote: uas.Addr(), Calls: 1, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := uac.Wait(ctx); err != nil || code != 0 {
		t.Fatalf("uac exit %d %v: %s", code, err, uac.Errors())
	}
	if code, err := uas.Wait(ctx); err != nil || code != 0 {
		t.Fatalf("uas exit %d %v: %s", code, err, uas.Errors())
	}
	msgs, err := uas.Messages()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("trace: %v %d", err, len(msgs))
	}
	if !msgs[0].Received || !strings.HasPrefix(msgs[0].Raw, "MESSAGE sip:bob@") || !strings.HasSuffix(msgs[0].Raw, "\r\n\r\nGrüße\r\nzweite Zeile") { // sipp sends scenario lines with CRLF
		t.Errorf("received %q", msgs[0].Raw)
	}
	if msgs[1].Received || !strings.HasPrefix(msgs[1].Raw, "SIP/2.0 486 Busy Here\r\n") || !strings.Contains(msgs[1].Raw, "Retry-After: 30\r\n") {
		t.Errorf("sent %q", msgs[1].Raw)
	}
}
