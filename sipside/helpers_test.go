package sipside

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cpimgw/cpim"
	"cpimgw/mapping"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"
)

// TestMain sets sipgo's globals once (they are process-wide, so no test of
// this package runs in parallel with one that changes them) and checks
// that no goroutine outlives the tests.
func TestMain(m *testing.M) {
	level := slog.LevelError
	if os.Getenv("SIPSIDE_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	SetGlobals(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	goleak.VerifyTestMain(m)
}

// The domains of the tests: xmpp.example is served on the XMPP side,
// sip.example is a SIP domain in the same-domain mode.
func testMapper(t testing.TB) *mapping.Mapper {
	t.Helper()
	m, err := mapping.NewMapper(mapping.Domains{
		Component: "gw.example",
		XMPP:      []string{"xmpp.example"},
		SIP:       []string{"sip.example"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// recorder is a Handler that records the messages it gets and answers
// with err.
type recorder struct {
	mu   sync.Mutex
	got  []cpim.Message
	err  error
	hook func(ctx context.Context) // called before answering, if set
}

func (r *recorder) Message(ctx context.Context, m cpim.Message) error {
	if r.hook != nil {
		r.hook(ctx)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, m)
	return r.err
}

func (r *recorder) messages() []cpim.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cpim.Message(nil), r.got...)
}

// logSink collects JSON log records; safe for concurrent use.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// records returns the records logged so far.
func (s *logSink) records(t testing.TB) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(s.buf.Bytes()))
	for {
		var r map[string]any
		if err := dec.Decode(&r); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("log is not JSON lines: %v", err)
		}
		out = append(out, r)
	}
}

// find returns the first record whose attributes include all of want.
func (s *logSink) find(t testing.TB, want map[string]any) map[string]any {
	t.Helper()
	for _, r := range s.records(t) {
		ok := true
		for k, v := range want {
			if got, has := r[k]; !has || !jsonEqual(got, v) {
				ok = false
				break
			}
		}
		if ok {
			return r
		}
	}
	return nil
}

// await is find for records logged by another goroutine: the endpoint
// logs a request after its response has left, so a client can hold the
// response before the line is written. It waits up to 10 s for the record.
func (s *logSink) await(t testing.TB, want map[string]any) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r := s.find(t, want); r != nil || time.Now().After(deadline) {
			return r
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func jsonEqual(got, want any) bool {
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	return bytes.Equal(a, b)
}

func newLog() (*slog.Logger, *logSink) {
	s := &logSink{}
	return slog.New(slog.NewJSONHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug})), s
}

// newTestEndpoint returns an endpoint that is not running: its handlers
// can be called directly with siptest recorders.
func newTestEndpoint(t testing.TB, cfg Config, h Handler) (*Endpoint, *logSink) {
	t.Helper()
	if cfg.Listen == nil {
		cfg.Listen = []string{"udp:127.0.0.1:0"}
	}
	log, sink := newLog()
	e, err := New(cfg, testMapper(t), h, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.stop(); e.ua.Close() })
	return e, sink
}

// rawReq is a SIP request in text form, edited by the tests before parsing.
type rawReq struct {
	method, ruri string
	headers      [][2]string
	body         string
}

// defaultMessage is a well-formed MESSAGE from a SIP user to an XMPP user
// (RFC 3428 §4 example, with the test domains).
func defaultMessage() rawReq {
	return rawReq{
		method: "MESSAGE",
		ruri:   "sip:juliet@xmpp.example",
		headers: [][2]string{
			{"Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776sgdkse"},
			{"Max-Forwards", "70"},
			{"From", `"Romeo" <sip:romeo@sip.example>;tag=49583`},
			{"To", "<sip:juliet@xmpp.example>"},
			{"Call-ID", "asd88asd77a@192.0.2.10"},
			{"CSeq", "1 MESSAGE"},
			{"Content-Type", "text/plain;charset=UTF-8"},
		},
		body: "Watson, come here.",
	}
}

// with replaces the first header named name (exactly) or appends it.
func (r rawReq) with(name, value string) rawReq {
	h := append([][2]string(nil), r.headers...)
	for i := range h {
		if h[i][0] == name {
			h[i][1] = value
			r.headers = h
			return r
		}
	}
	r.headers = append(h, [2]string{name, value})
	return r
}

// without removes every header named name (exactly).
func (r rawReq) without(name string) rawReq {
	var h [][2]string
	for _, kv := range r.headers {
		if kv[0] != name {
			h = append(h, kv)
		}
	}
	r.headers = h
	return r
}

func (r rawReq) String() string {
	var b strings.Builder
	b.WriteString(r.method + " " + r.ruri + " SIP/2.0\r\n")
	for _, kv := range r.headers {
		b.WriteString(kv[0] + ": " + kv[1] + "\r\n")
	}
	b.WriteString("Content-Length: ")
	b.WriteString(strconv.Itoa(len(r.body)))
	b.WriteString("\r\n\r\n")
	b.WriteString(r.body)
	return b.String()
}

// parse parses r as sipgo does off the wire, with the given source.
func (r rawReq) parse(t testing.TB, src string) *sip.Request {
	t.Helper()
	m, err := sip.ParseMessage([]byte(r.String()))
	if err != nil {
		t.Fatalf("parse %q: %v", r.String(), err)
	}
	req, ok := m.(*sip.Request)
	if !ok {
		t.Fatalf("not a request: %q", r.String())
	}
	req.SetSource(src)
	req.SetTransport("UDP")
	return req
}

// headerMap returns the headers of a message by lower-case name, each
// name's values joined by "\n".
func headerMap(m sip.Message) map[string]string {
	out := map[string]string{}
	type headered interface{ Headers() []sip.Header }
	for _, h := range m.(headered).Headers() {
		k := strings.ToLower(h.Name())
		if v, ok := out[k]; ok {
			out[k] = v + "\n" + h.Value()
		} else {
			out[k] = h.Value()
		}
	}
	return out
}
