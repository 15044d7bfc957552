package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
)

// The SIP half of the scenario runner: a raw SIP peer on a UDP socket that
// sends the exact text of a transcript and receives what the gateway sends
// as text, plus the matching of `<sip` sections. Nothing here parses SIP
// with sipgo: the point is to see and send bytes as a user agent does.

// sipField is one header field of a SIP message. In an expected message,
// Absent marks a `!Name` line: the header must not be there.
type sipField struct {
	Name, Value string
	Absent      bool
}

// sipMsg is a SIP message split into its start line, header fields (folded
// lines joined with one space) and body.
type sipMsg struct {
	Raw     []byte
	Start   string
	Headers []sipField
	// HasBody is whether a body is given: always for a received message;
	// for an expected one, whether the section has a blank line.
	HasBody bool
	Body    []byte
	// BodyXML and Exact (expected messages of `<sip xml [exact]`
	// sections): the body is compared as an XML element tree.
	BodyXML, Exact bool
	// Src is where a received message came from.
	Src *net.UDPAddr
}

// compactForms maps the compact header names of RFC 3261 §7.3.3 (and of
// the extensions that define one) to the full names.
var compactForms = map[string]string{
	"a": "accept-contact", "b": "referred-by", "c": "content-type", "d": "request-disposition",
	"e": "content-encoding", "f": "from", "i": "call-id", "j": "reject-contact", "k": "supported",
	"l": "content-length", "m": "contact", "o": "event", "r": "refer-to", "s": "subject",
	"t": "to", "u": "allow-events", "v": "via", "x": "session-expires", "y": "identity",
}

// canonicalName returns the lower-case full name of a header name.
func canonicalName(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	if full, ok := compactForms[n]; ok {
		return full
	}
	return n
}

// parseSIP splits a received SIP message. It never fails: whatever the
// gateway sent is shown and matched as text.
func parseSIP(raw []byte) *sipMsg {
	m := &sipMsg{Raw: raw, HasBody: true}
	head, body, found := bytes.Cut(raw, []byte("\r\n\r\n"))
	if found {
		m.Body = body
	}
	lines := strings.Split(string(head), "\r\n")
	m.Start = lines[0]
	m.Headers = parseFields(lines[1:])
	return m
}

// parseFields reads header lines: "Name: value", folded continuation
// lines (starting with SP or HT) joined to the previous one, and, for
// expected messages, "!Name".
func parseFields(lines []string) []sipField {
	var out []sipField
	for _, l := range lines {
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && len(out) > 0 {
			out[len(out)-1].Value += " " + strings.TrimSpace(l)
			continue
		}
		if name, ok := strings.CutPrefix(l, "!"); ok {
			out = append(out, sipField{Name: strings.TrimSuffix(strings.TrimSpace(name), ":"), Absent: true})
			continue
		}
		name, value, _ := strings.Cut(l, ":")
		out = append(out, sipField{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
	return out
}

// isResponse reports whether the message is a response.
func (m *sipMsg) isResponse() bool { return strings.HasPrefix(m.Start, "SIP/2.0 ") }

// method returns the method of a request.
func (m *sipMsg) method() string {
	method, _, _ := strings.Cut(m.Start, " ")
	return method
}

// all returns the values of every header named name (any form).
func (m *sipMsg) all(name string) []string {
	want := canonicalName(name)
	var out []string
	for _, h := range m.Headers {
		if canonicalName(h.Name) == want {
			out = append(out, h.Value)
		}
	}
	return out
}

// fields returns the header fields named name, as they were written.
func (m *sipMsg) fields(name string) []sipField {
	want := canonicalName(name)
	var out []sipField
	for _, h := range m.Headers {
		if canonicalName(h.Name) == want {
			out = append(out, h)
		}
	}
	return out
}

// branch returns the branch parameter of the top Via, or "".
func (m *sipMsg) branch() string {
	vias := m.all("Via")
	if len(vias) == 0 {
		return ""
	}
	top, _, _ := strings.Cut(vias[0], ",")
	for _, p := range strings.Split(top, ";")[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "branch") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// key identifies a request by its transaction (top Via branch, method and
// CSeq: RFC 3261 §17.2.3), so that retransmissions are recognised; for a
// response it adds the status line, so that repeats are.
func (m *sipMsg) key() string {
	b := m.branch()
	if b == "" {
		return string(m.Raw)
	}
	cseq := strings.Join(m.all("CSeq"), ",")
	if m.isResponse() {
		return "response|" + b + "|" + cseq + "|" + m.Start
	}
	return m.method() + "|" + b + "|" + cseq
}

// String shows the message as a transcript would: one line per line, with
// characters that are not printable as {{\xHH}}.
func (m *sipMsg) String() string { return showSIP(m.Raw) }

func showSIP(raw []byte) string {
	var b strings.Builder
	s := strings.ReplaceAll(string(raw), "\r\n", "\n")
	for _, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f {
			fmt.Fprintf(&b, `{{\x%02x}}`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// normValue normalises the white space of a header value or start line:
// runs of white space become one space, and none is kept around the
// separators , ; and = (so "MESSAGE, OPTIONS" equals "MESSAGE,OPTIONS").
func normValue(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	for _, sep := range []string{",", ";", "="} {
		s = strings.ReplaceAll(s, " "+sep, sep)
		s = strings.ReplaceAll(s, sep+" ", sep)
	}
	return s
}

// globMatch reports whether value matches pattern, where * in the pattern
// stands for any run of characters and a capture marker for a non-empty
// one, after normalising both; it returns what the captures recorded.
func globMatch(pattern, value string) (map[string]string, bool) {
	return compilePattern(normValue(pattern), true).match(normValue(value))
}

// matchSIP compares a received message with an expected one (the rules of
// testdata/scenarios/README.md) and returns every difference and, when
// there is none, what the captures recorded.
func matchSIP(exp, got *sipMsg) ([]string, map[string]string) {
	var diffs []string
	caps := map[string]string{}
	keep := func(c map[string]string) {
		for k, v := range c {
			caps[k] = v
		}
	}
	if c, ok := globMatch(exp.Start, got.Start); ok {
		keep(c)
	} else {
		diffs = append(diffs, fmt.Sprintf("start line %q, want %q", got.Start, showPattern(exp.Start)))
	}
	for _, h := range exp.Headers {
		have := got.fields(h.Name)
		if h.Absent {
			for _, g := range have {
				diffs = append(diffs, fmt.Sprintf("header %s: %s present, want none", h.Name, g.Value))
			}
			continue
		}
		if len(have) == 0 {
			diffs = append(diffs, fmt.Sprintf("header %s missing, want %q", h.Name, showPattern(h.Value)))
			continue
		}
		ok := false
		var vals []string
		for _, g := range have {
			if c, m := globMatch(h.Value, g.Value); m && !ok {
				ok = true
				keep(c)
			}
			vals = append(vals, fmt.Sprintf("%q", g.Value))
		}
		if !ok {
			diffs = append(diffs, fmt.Sprintf("header %s = %s, want %q", h.Name, strings.Join(vals, " and "), showPattern(h.Value)))
		}
	}
	switch {
	case exp.HasBody && exp.BodyXML:
		d, c := matchXMLBody(exp, got)
		diffs = append(diffs, d...)
		keep(c)
	case exp.HasBody && !bytes.Equal(exp.Body, got.Body):
		diffs = append(diffs, fmt.Sprintf("body %q, want %q", got.Body, exp.Body))
	}
	if len(diffs) > 0 {
		return diffs, nil
	}
	return nil, caps
}

// superseded reports whether a received message that does not match the
// expected one of a `<sip eventually` section may be skipped: a request of
// the expected method in the expected dialog (the section's Call-ID; the
// section must give one).
func superseded(exp, got *sipMsg) bool {
	if got.isResponse() || strings.HasPrefix(exp.Start, "SIP/2.0 ") {
		return false
	}
	method, _, _ := strings.Cut(exp.Start, " ")
	if got.method() != method {
		return false
	}
	for _, h := range exp.Headers {
		if canonicalName(h.Name) == "call-id" && !h.Absent {
			ids := got.all("Call-ID")
			if len(ids) != 1 {
				return false
			}
			_, ok := globMatch(h.Value, ids[0])
			return ok
		}
	}
	return false
}

// matchXMLBody compares the body of a received message with the XML body
// of a `<sip xml` section: the XML declaration, when the section gives
// one, must be there with the same content; the root element is compared
// as an `<xmpp` section compares a stanza (exact when the section says
// so).
func matchXMLBody(exp, got *sipMsg) ([]string, map[string]string) {
	want, err := parseXML(string(exp.Body))
	if err != nil {
		return []string{"bad expected body: " + err.Error()}, nil
	}
	var diffs []string
	if d, ok := xmlDecl(exp.Body); ok {
		if g, gok := xmlDecl(got.Body); !gok || g != d {
			diffs = append(diffs, fmt.Sprintf("body: XML declaration %q, want %q", g, d))
		}
	}
	have, err := parseXML(string(got.Body))
	if err != nil {
		return append(diffs, fmt.Sprintf("body is not one XML element: %v", err)), nil
	}
	d, caps := matchXMLCaptures(want, have, exp.Exact)
	for _, x := range d {
		diffs = append(diffs, "body: "+x)
	}
	return diffs, caps
}

// xmlDecl returns the content of the XML declaration a document starts
// with (RFC 3863 §4.1 requires one in PIDF), white space normalised and
// quotes made double, or false.
func xmlDecl(doc []byte) (string, bool) {
	rest, ok := bytes.CutPrefix(doc, []byte("<?xml"))
	if !ok || len(rest) == 0 || (rest[0] != ' ' && rest[0] != '\t' && rest[0] != '\r' && rest[0] != '\n') {
		return "", false
	}
	inst, _, ok := bytes.Cut(rest, []byte("?>"))
	if !ok {
		return "", false
	}
	return normValue(strings.ReplaceAll(string(inst), "'", `"`)), true
}

// sipPeer is the raw SIP user agent of the scenarios: the gateway's
// outbound proxy and the sender of `sip>` sections. Its reader queues what
// arrives on inbox, answers retransmitted requests with the response it
// already sent (RFC 3261 §17.2.2) instead of queueing them again, drops
// duplicate responses, and passes responses to the runner's own requests
// (branches with markerBranch) to marks.
type sipPeer struct {
	conn  *net.UDPConn
	Addr  string
	inbox chan *sipMsg
	marks chan *sipMsg
	done  chan struct{}

	mu       sync.Mutex
	answered map[string][]byte  // request key → the response sent, nil while unanswered
	pending  map[string]*sipMsg // requests not answered yet, by key
	seen     map[string]bool    // response keys seen
	auto     string             // when set, the status line every new request gets at once
}

// markerBranch starts the Via branch of the runner's own requests.
const markerBranch = "z9hG4bK-scenmark-"

func newSIPPeer() (*sipPeer, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	p := &sipPeer{conn: c, Addr: c.LocalAddr().String(), inbox: make(chan *sipMsg, 256),
		marks: make(chan *sipMsg, 16), done: make(chan struct{}),
		answered: map[string][]byte{}, pending: map[string]*sipMsg{}, seen: map[string]bool{}}
	go p.read()
	return p, nil
}

func (p *sipPeer) read() {
	defer close(p.done)
	buf := make([]byte, 65535)
	for {
		n, src, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		m := parseSIP(bytes.Clone(buf[:n]))
		m.Src = src
		if !p.fresh(m) {
			continue
		}
		p.mu.Lock()
		auto := p.auto
		p.mu.Unlock()
		if auto != "" && !m.isResponse() {
			p.respond(m, responseTo(m, []string{auto}, "closing"))
			continue
		}
		ch := p.inbox
		if m.isResponse() && strings.HasPrefix(m.branch(), markerBranch) {
			ch = p.marks
		}
		select {
		case ch <- m:
		default: // a scenario that reads nothing must not block the reader
		}
	}
}

// fresh reports whether m is new, answering a retransmitted request with
// the response already sent to it.
func (p *sipPeer) fresh(m *sipMsg) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := m.key()
	if m.isResponse() {
		if p.seen[k] {
			return false
		}
		p.seen[k] = true
		return true
	}
	res, dup := p.answered[k]
	if !dup {
		p.answered[k] = nil
		p.pending[k] = m
		return true
	}
	if res != nil {
		p.conn.WriteToUDP(res, m.Src)
	}
	return false
}

// respond sends res as the answer to req and remembers it for
// retransmissions of req.
func (p *sipPeer) respond(req *sipMsg, res []byte) error {
	p.mu.Lock()
	p.answered[req.key()] = res
	delete(p.pending, req.key())
	p.mu.Unlock()
	_, err := p.conn.WriteToUDP(res, req.Src)
	return err
}

// send sends raw bytes to addr.
func (p *sipPeer) send(raw []byte, addr string) error {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	_, err = p.conn.WriteToUDP(raw, ua)
	return err
}

// next returns the next message queued on ch, or an error when ctx ends.
func (p *sipPeer) next(ctx context.Context, ch chan *sipMsg) (*sipMsg, error) {
	select {
	case m := <-ch:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.done:
		return nil, errors.New("SIP peer socket closed")
	}
}

// answerAll answers every request not answered yet, and from now on every
// new one, with status (a status line).
func (p *sipPeer) answerAll(status string) {
	p.mu.Lock()
	p.auto = status
	var reqs []*sipMsg
	for _, m := range p.pending {
		reqs = append(reqs, m)
	}
	p.mu.Unlock()
	for _, m := range reqs {
		p.respond(m, responseTo(m, []string{status}, "closing"))
	}
}

func (p *sipPeer) Close() {
	p.conn.Close()
	<-p.done
}

// responseTo builds the response of a `sip>` section that starts with a
// status line: the section's lines (start line and headers; body after a
// blank line) plus, unless the section gives them, the request's Via
// fields, From, To with a tag added when it has none, Call-ID and CSeq
// (RFC 3261 §8.2.6.2), and Content-Length.
func responseTo(req *sipMsg, lines []string, toTag string) []byte {
	head, body, _ := splitSection(lines)
	given := map[string]bool{}
	for _, h := range parseFields(head[1:]) {
		given[canonicalName(h.Name)] = true
	}
	out := []string{head[0]}
	for _, name := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		if given[canonicalName(name)] {
			continue
		}
		for _, v := range req.all(name) {
			if name == "To" && !strings.Contains(strings.ToLower(v), ";tag=") {
				v += ";tag=" + toTag
			}
			out = append(out, name+": "+v)
		}
	}
	out = append(out, head[1:]...)
	if !given["content-length"] {
		out = append(out, fmt.Sprintf("Content-Length: %d", len(body)))
	}
	return []byte(strings.Join(out, "\r\n") + "\r\n\r\n" + body)
}

// requestText builds the request of a `sip>` section: its lines as given,
// with a Via (first header) when the section has none and a Content-Length
// (last header) when it has none. clMarker in a header stands for the
// length of the body.
func requestText(lines []string, via string) []byte {
	head, body, _ := splitSection(lines)
	hasVia, hasCL := false, false
	for _, h := range parseFields(head[1:]) {
		switch canonicalName(h.Name) {
		case "via":
			hasVia = true
		case "content-length":
			hasCL = true
		}
	}
	out := []string{head[0]}
	if !hasVia {
		out = append(out, "Via: "+via)
	}
	out = append(out, head[1:]...)
	if !hasCL {
		out = append(out, fmt.Sprintf("Content-Length: %d", len(body)))
	}
	text := strings.Join(out, "\r\n")
	text = strings.ReplaceAll(text, clMarker, fmt.Sprint(len(body)))
	return []byte(text + "\r\n\r\n" + body)
}

// clMarker is what {{content-length}} expands to until the body is known.
const clMarker = "\x00content-length\x00"

// splitSection splits the lines of a SIP section at the first blank line:
// the head (start line and header lines) and the body, the following
// lines joined with CRLF. hasBody says whether there was a blank line.
func splitSection(lines []string) (head []string, body string, hasBody bool) {
	for i, l := range lines {
		if l == "" && i > 0 {
			return lines[:i], strings.Join(lines[i+1:], "\r\n"), true
		}
	}
	return lines, "", false
}

// expectedSIP reads the expected message of a `<sip` section; xml and
// exact are the words of a `<sip xml [exact]` section.
func expectedSIP(lines []string, xml, exact bool) *sipMsg {
	head, body, hasBody := splitSection(lines)
	return &sipMsg{Start: head[0], Headers: parseFields(head[1:]), HasBody: hasBody, Body: []byte(body),
		BodyXML: xml, Exact: exact}
}
