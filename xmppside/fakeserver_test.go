package xmppside

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeServer plays the server side of XEP-0114 over net.Pipe: mellium has
// no server side of the component protocol (LIBRARY-NOTES.md §2.10), so the
// fake does the handshake itself. Each dial produces a fakeConn the test
// can read stanzas from and write raw XML to.
type fakeServer struct {
	t      *testing.T
	domain string
	secret string
	// mode decides how the handshake goes: "ok", "reject" (not-authorized
	// stream error) or "silent" (accept the TCP connection, never answer).
	mu     sync.Mutex
	mode   string
	dials  int
	dialed chan struct{}
	conns  chan *fakeConn
}

func newFakeServer(t *testing.T, domain, secret string) *fakeServer {
	return &fakeServer{t: t, domain: domain, secret: secret, mode: "ok", conns: make(chan *fakeConn, 16), dialed: make(chan struct{}, 1)}
}

func (f *fakeServer) setMode(m string) {
	f.mu.Lock()
	f.mode = m
	f.mu.Unlock()
}

func (f *fakeServer) dialCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dials
}

// dial is the component's Config.Dial.
func (f *fakeServer) dial(ctx context.Context) (net.Conn, error) {
	client, server := net.Pipe()
	f.mu.Lock()
	f.dials++
	mode := f.mode
	f.mu.Unlock()
	select {
	case f.dialed <- struct{}{}:
	default:
	}
	fc := &fakeConn{t: f.t, conn: server, stanzas: make(chan stanzaSeen, 64), closed: make(chan struct{})}
	go fc.serve(f, mode)
	return client, nil
}

// next returns the next connection that completed its handshake.
func (f *fakeServer) next(t *testing.T) *fakeConn {
	t.Helper()
	select {
	case c := <-f.conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no component connection")
		return nil
	}
}

// stanzaSeen is one top-level element the component sent.
type stanzaSeen struct {
	Name  string
	Attr  map[string]string
	Inner string
}

type fakeConn struct {
	t       *testing.T
	conn    net.Conn
	stanzas chan stanzaSeen
	closed  chan struct{} // closed when the component's stream ended
	wmu     sync.Mutex
	// ignorePings makes the fake leave pings unanswered (a dead peer).
	ignorePings atomic.Bool
	handshake   string // the handshake hash the component sent
}

const testStreamID = "3BF96D32"

func (c *fakeConn) serve(f *fakeServer, mode string) {
	defer close(c.closed)
	defer c.conn.Close()
	d := xml.NewDecoder(c.conn)
	// The component's stream header.
	for {
		tok, err := d.Token()
		if err != nil {
			return
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "stream" {
				return
			}
			break
		}
	}
	if mode == "silent" {
		io.Copy(io.Discard, c.conn)
		return
	}
	c.write(fmt.Sprintf(`<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' from='%s' id='%s'>`, f.domain, testStreamID))
	var hs struct {
		Value string `xml:",chardata"`
	}
	if err := d.Decode(&hs); err != nil {
		return
	}
	c.handshake = hs.Value
	f.mu.Lock()
	secret := f.secret
	f.mu.Unlock()
	sum := sha1.Sum([]byte(testStreamID + secret))
	if mode == "reject" || hs.Value != hex.EncodeToString(sum[:]) {
		c.write(`<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`)
		return
	}
	c.write(`<handshake/>`)
	f.conns <- c
	for {
		tok, err := d.Token()
		if err != nil {
			return
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			if _, end := tok.(xml.EndElement); end {
				return // </stream:stream>
			}
			continue
		}
		var inner struct {
			Inner string `xml:",innerxml"`
		}
		if err := d.DecodeElement(&inner, &se); err != nil {
			return
		}
		s := stanzaSeen{Name: se.Name.Local, Attr: map[string]string{}, Inner: inner.Inner}
		for _, a := range se.Attr {
			s.Attr[a.Name.Local] = a.Value
		}
		if s.Name == "iq" && s.Attr["type"] == "get" && strings.Contains(s.Inner, "urn:xmpp:ping") {
			if !c.ignorePings.Load() {
				c.write(fmt.Sprintf(`<iq type='result' from='%s' to='%s' id='%s'/>`, s.Attr["to"], s.Attr["from"], s.Attr["id"]))
			}
			continue
		}
		c.stanzas <- s
	}
}

// write sends raw XML to the component.
func (c *fakeConn) write(s string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Logf("fake server write: %v", err)
	}
}

// expect returns the next stanza the component sent.
func (c *fakeConn) expect(t *testing.T) stanzaSeen {
	t.Helper()
	select {
	case s := <-c.stanzas:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("component sent nothing")
		return stanzaSeen{}
	}
}

// expectNone checks that the component sent nothing more once a round
// trip through the stream has completed: the disco query is answered after
// everything the component wrote before it.
func (c *fakeConn) expectNone(t *testing.T, domain string) {
	t.Helper()
	c.write(fmt.Sprintf(`<iq type='get' from='probe@xmpp.example.test/x' to='%s' id='sync'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, domain))
	s := c.expect(t)
	if s.Name != "iq" || s.Attr["id"] != "sync" {
		t.Fatalf("unexpected stanza %s %v %s", s.Name, s.Attr, s.Inner)
	}
}

// waitDials waits until the component has dialled at least n times.
func (f *fakeServer) waitDials(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if f.dialCount() >= n {
			return
		}
		select {
		case <-f.dialed:
		case <-deadline:
			t.Fatalf("only %d dials, want %d", f.dialCount(), n)
		}
	}
}

// testLogger logs through t.Log, so a failing test shows the component's
// log lines and a passing one stays quiet.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
