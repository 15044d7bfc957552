package sipside

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"cpimgw/cpim"
)

// These tests run the gateway's SIP endpoint against SIPp (Debian package
// sip-tester), a real SIP implementation, on loopback.

// sippBinary returns the path of sipp, or skips the test (fails it when
// CI=true: CI must run the real-peer tests).
func sippBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("sipp not found (install sip-tester): %v", err)
		}
		t.Skipf("sipp not found: %v", err)
	}
	return p
}

// sipp runs sipp with args in dir, bound to the test: it is killed when
// the test ends. wait returns its exit code; its output goes to the test
// log.
type sippRun struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
	err  error
}

func startSipp(t *testing.T, dir string, args ...string) *sippRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, sippBinary(t), args...)
	cmd.Dir = dir
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &sippRun{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		r.err = cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
		if t.Failed() {
			t.Logf("sipp %s:\n%s", strings.Join(args, " "), tail(out.String(), 4000))
			if b, err := os.ReadFile(filepath.Join(dir, "messages.log")); err == nil {
				t.Logf("sipp messages:\n%s", tail(string(b), 6000))
			}
		}
	})
	return r
}

// wait waits for sipp to exit on its own and returns its exit code.
func (r *sippRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(60 * time.Second):
		t.Fatal("sipp did not exit")
	}
	var ee *exec.ExitError
	if errors.As(r.err, &ee) {
		return ee.ExitCode()
	}
	if r.err != nil {
		t.Fatalf("sipp: %v", r.err)
	}
	return 0
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// waitUDPBound waits until a socket is bound to 127.0.0.1:port, reading the
// kernel's socket table (sipp gives no readiness signal).
func waitUDPBound(t *testing.T, port int, r *sippRun) {
	t.Helper()
	want := fmt.Sprintf("0100007F:%04X", port)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for {
		f, err := os.Open("/proc/net/udp")
		if err != nil {
			t.Skipf("cannot read the socket table: %v", err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fields := strings.Fields(sc.Text()); len(fields) > 1 && fields[1] == want {
				f.Close()
				return
			}
		}
		f.Close()
		select {
		case <-tick.C:
		case <-r.done:
			t.Fatalf("sipp exited before binding: %v", r.err)
		case <-deadline:
			t.Fatalf("sipp did not bind 127.0.0.1:%d", port)
		}
	}
}

// TestSippUAC: SIPp sends MESSAGEs with a UTF-8 body, Subject and
// Content-Language to the endpoint; the Handler must get them mapped
// (RFC 7572 §5 Table 2) and SIPp must see 202 without Contact or body.
func TestSippUAC(t *testing.T) {
	sippBinary(t)
	h := &recorder{}
	e, _ := newRunning(t, Config{Listen: []string{"udp:127.0.0.1:0"}}, h)
	dir := t.TempDir()
	scenario, _ := filepath.Abs("testdata/sipp/uac_message.xml")
	const calls = 3
	r := startSipp(t, dir, "-sf", scenario, "-s", "juliet", "-m", strconv.Itoa(calls), "-r", "50",
		"-i", "127.0.0.1", "-t", "u1", "-nostdin", "-timeout", "30s", "-timeout_error",
		"-trace_msg", "-message_file", "messages.log", addrOf(t, e, "udp"))
	if code := r.wait(t); code != 0 {
		t.Fatalf("sipp exit code %d: a call did not get the expected 202", code)
	}
	got := h.messages()
	if len(got) != calls {
		t.Fatalf("handler got %d messages, want %d", len(got), calls)
	}
	seen := map[string]bool{}
	for _, m := range got {
		if m.From.Local != "romeo" || m.From.Domain != "sip.example" || m.To.Local != "juliet" || m.To.Domain != "xmpp.example" {
			t.Errorf("from %v to %v", m.From, m.To)
		}
		if m.Lang != "de" {
			t.Errorf("lang %q, want de (Content-Language, MSG-06)", m.Lang)
		}
		if len(m.Subjects) != 1 || m.Subjects[0].Text != "Grüße aus Verona" {
			t.Errorf("subjects %q", m.Subjects)
		}
		if len(m.Bodies) != 1 || !strings.HasPrefix(m.Bodies[0].Text, "Grüße, 世界 🌍 — Nachricht ") {
			t.Errorf("bodies %q", m.Bodies)
		} else {
			seen[strings.TrimSpace(m.Bodies[0].Text)] = true
		}
		if m.Thread == "" || m.ID == "" || m.Type != cpim.Normal {
			t.Errorf("thread %q id %q type %q", m.Thread, m.ID, m.Type)
		}
	}
	if len(seen) != calls {
		t.Errorf("distinct bodies %v", seen)
	}
}

// TestSippUAS: SIPp answers the endpoint's MESSAGE with a rendered final
// response, or never; SendMessage must return what RFC 7247 §7.2 maps it
// to. SIPp checks the request itself (From with gr, Max-Forwards 70, no
// Contact, text/plain) and fails its call otherwise.
func TestSippUAS(t *testing.T) {
	sippBinary(t)
	tmpl := template.Must(template.ParseFiles("testdata/sipp/uas_answer.xml.tmpl"))
	tests := map[string]struct {
		status  int
		reason  string
		headers []string
		timeout time.Duration
		want    *cpim.Error // nil: success
	}{
		"200 OK":       {status: 200, reason: "OK"},
		"202 Accepted": {status: 202, reason: "Accepted"},
		"404 Not Found": {status: 404, reason: "Not Found",
			want: &cpim.Error{Condition: cpim.ItemNotFound, Status: 404, Text: "Not Found"}},
		"486 Busy Here": {status: 486, reason: "Busy Here",
			want: &cpim.Error{Condition: cpim.RecipientUnavailable, Status: 486, Text: "Busy Here"}},
		"503 with Retry-After": {status: 503, reason: "Service Unavailable", headers: []string{"Retry-After: 120"},
			want: &cpim.Error{Condition: cpim.InternalServerError, Status: 503, Text: "Service Unavailable", RetryAfter: 120 * time.Second}},
		"no answer": {timeout: 300 * time.Millisecond,
			want: &cpim.Error{Condition: cpim.RemoteServerTimeout, Status: 408}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			scenario := filepath.Join(dir, "uas.xml")
			var b bytes.Buffer
			if err := tmpl.Execute(&b, map[string]any{
				"Status": tc.status, "Reason": tc.reason, "Headers": tc.headers, "PauseMS": 1000,
			}); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(scenario, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			port := freeUDPPort(t)
			r := startSipp(t, dir, "-sf", scenario, "-m", "1", "-i", "127.0.0.1", "-p", strconv.Itoa(port),
				"-t", "u1", "-nostdin", "-timeout", "30s", "-timeout_error",
				"-trace_msg", "-message_file", "messages.log")
			waitUDPBound(t, port, r)

			cfg := Config{Listen: []string{"udp:127.0.0.1:0"}, OutboundProxy: fmt.Sprintf("sip:127.0.0.1:%d", port)}
			if tc.timeout > 0 {
				cfg.TransactionTimeout = tc.timeout
			}
			e, _ := newRunning(t, cfg, &recorder{})
			err := e.SendMessage(context.Background(), outMessage())
			if tc.want == nil {
				if err != nil {
					t.Fatalf("SendMessage: %v", err)
				}
			} else {
				var ce *cpim.Error
				if !errors.As(err, &ce) {
					t.Fatalf("SendMessage: %v, want a *cpim.Error", err)
				}
				if ce.Condition != tc.want.Condition || ce.Status != tc.want.Status || ce.Text != tc.want.Text ||
					ce.RetryAfter != tc.want.RetryAfter {
					t.Errorf("got %+v\nwant %+v", ce, tc.want)
				}
			}
			if code := r.wait(t); code != 0 {
				t.Errorf("sipp exit code %d: the request failed its checks", code)
			}
		})
	}
}
