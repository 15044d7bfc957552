package cpim

import (
	"bytes"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is the Message/CPIM codec (RFC 3862 §2–4; INTERWORKING.md §4.4,
// MSG-22).
//
// Decisions where RFC 3862 is silent or where we accept more than it
// allows ([D] in INTERWORKING.md terms):
//
//   - Line ends: §2.2 requires CRLF. Many user agents send bare LF, so a
//     line may end in LF or CRLF on input; output always uses CRLF. A CR
//     anywhere else in a header line is a control character and refused.
//   - Whitespace at the start of a header line is refused (§2.2 MUST NOT):
//     it would be an RFC 5322 folded continuation, and a CPIM header must be
//     on one line. Whitespace at the end of a line is accepted and kept as
//     part of the value: refusing it would drop otherwise good messages for
//     a cosmetic fault, and keeping the octets is what §2.2 asks anyway.
//   - A header must have ": " (colon, optional parameters, one space)
//     after its name (§2.2, §3.6). "Name:" with nothing after it is refused,
//     so an empty value is written "Name: " (the grammar's SP wins over the
//     §2.2 rule against trailing whitespace, as RFC 5438 §7.1.1.3 needs for
//     an empty Disposition-Notification).
//   - Control characters (U+0000–U+001F, U+007F) in a header line and
//     invalid UTF-8 are refused (§2.2, §3.6).
//   - Header names follow §3.6 NAMECHAR with at most one "." separating a
//     namespace prefix (§3.1, §3.4). A prefix that no earlier NS header
//     declared is not a parse error (unknown headers are ignored, §2.2);
//     [Envelope.Namespace] reports it. NS header values are checked at
//     parse time because they govern how later names are read.
//   - A header named exactly "NS" is an NS declaration even after an NS
//     default declaration moved the default namespace elsewhere; otherwise
//     a default declaration could never be undone (§3.4 is silent).
//   - The encapsulated entity's header fields follow RFC 5322 §2.2: any
//     spacing after the colon, folded continuation lines (unfolded on
//     input; RFC 5322 §2.2.3), HTAB allowed, other control characters and
//     invalid UTF-8 refused. Field values are stored trimmed; Marshal writes
//     "Name: value". A missing blank line after them or a missing
//     Content-Type is malformed (§2.4 MUST).
//   - The entity body is kept byte for byte (SEC-05); Content-Length inside
//     the entity is not checked (the transport frames the message).

// DefaultNamespace is the namespace URI of the headers RFC 3862 §4 defines
// (From, To, cc, DateTime, Subject, NS, Require) and the default namespace
// of a Message/CPIM document (RFC 3862 §7.1, §3.4).
const DefaultNamespace = "urn:ietf:params:cpim-headers:"

const cpimFormat = "message/cpim"

// Param is a header parameter (RFC 3862 §3.6 Parameter): the language of
// the value (Lang-param, §3.3, e.g. lang=fr) or an extension parameter
// (Ext-param). Value has escapes decoded.
type Param struct{ Name, Value string }

// Header is one Message/CPIM message header (RFC 3862 §2.2, §3.6).
//
// A header returned by [ParseEnvelope] remembers the line it was parsed
// from: as long as Name, Params and Value keep their parsed values,
// [Envelope.Marshal] writes that line back octet for octet, because
// message processors MUST preserve all octets of all headers (§2.2). A
// header whose fields were changed, or one made with [NewHeader], is
// written in canonical form.
type Header struct {
	// Name is the header name as written, with any namespace prefix
	// ("imdn.Message-ID"). Names are case-sensitive (§2.2).
	Name string
	// Params are the parameters between the colon and the value, in order.
	Params []Param
	// Value is the header value with the escape sequences of §2.3
	// decoded. A value that has a double-quoted string (the Formal-name
	// of From, To and cc) holds its characters decoded, delimiters kept:
	// use [ParseNameAddr] to take it apart.
	Value string

	raw       string  // the line as received, without its terminator
	rawValue  string  // Value as parsed from raw
	rawParams []Param // a copy of Params as parsed from raw
}

// NewHeader returns a header with the given name, value (unescaped text)
// and parameters. It is written in canonical form (§2.3.1 escaping).
func NewHeader(name, value string, params ...Param) Header {
	h := Header{Name: name, Value: value}
	if len(params) > 0 {
		h.Params = append([]Param(nil), params...)
	}
	return h
}

// Lang returns the value of the header's lang parameter (RFC 3862 §3.3),
// or "" if it has none. An absent language means 'i-default'.
func (h Header) Lang() string {
	for _, p := range h.Params {
		if p.Name == "lang" {
			return p.Value
		}
	}
	return ""
}

// unchanged reports whether h still holds what was parsed from its raw
// line, so that line can be written back instead of a canonical one.
func (h *Header) unchanged() bool {
	if h.raw == "" || h.Value != h.rawValue || len(h.Params) != len(h.rawParams) {
		return false
	}
	n := len(h.Name)
	if len(h.raw) <= n || h.raw[:n] != h.Name || h.raw[n] != ':' {
		return false
	}
	for i, p := range h.Params {
		if p != h.rawParams[i] {
			return false
		}
	}
	return true
}

// Field is one MIME header field of the encapsulated entity, such as
// Content-Type. Value is unfolded and trimmed of surrounding whitespace.
type Field struct{ Name, Value string }

// Entity is the encapsulated MIME object of a Message/CPIM document
// (RFC 3862 §2.4): its header fields in their original order, and its
// content.
type Entity struct {
	Header []Field
	// Body is the content, byte for byte as received (SEC-05). After
	// [ParseEnvelope] it shares storage with the parsed input.
	Body []byte
}

// Get returns the value of the first header field named name, compared
// case-insensitively as MIME field names are (RFC 2045 §1), or "" if there
// is none.
func (e Entity) Get(name string) string {
	for _, f := range e.Header {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// ContentType returns the entity's Content-Type field value, parameters
// included ("text/plain; charset=utf-8").
func (e Entity) ContentType() string { return e.Get("Content-Type") }

// Envelope is a parsed Message/CPIM document as SIP carries it in a
// message/cpim body: the message headers (RFC 3862 §2.2) in their original
// order, then the encapsulated MIME entity (§2.4). The enclosing MIME
// header (the SIP Content-Type) is not part of it.
type Envelope struct {
	Headers []Header
	Content Entity
}

func syntaxErr(line int, err error, msg string) *SyntaxError {
	return &SyntaxError{Format: cpimFormat, Line: line, Msg: msg, Err: err}
}

// lineReader splits a document into lines ending in LF or CRLF.
type lineReader struct {
	b    []byte
	pos  int
	line int // number of the line last returned
}

// next returns the next line without its terminator; ok is false at the
// end of input. term reports whether the line had a terminator (the last
// line of a document need not).
func (r *lineReader) next() (line []byte, term, ok bool) {
	if r.pos >= len(r.b) {
		return nil, false, false
	}
	r.line++
	rest := r.b[r.pos:]
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		r.pos = len(r.b)
		return rest, false, true
	}
	r.pos += i + 1
	line = rest[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, true, true
}

// ParseEnvelope parses a Message/CPIM document: message headers, a blank
// line, the encapsulated MIME entity's header fields, a blank line, the
// content. Lines may end in CRLF or bare LF.
//
// Input beyond [MaxDocumentSize] bytes, or with more than [MaxHeaders]
// lines in either header block, yields a *[SyntaxError] wrapping
// [ErrTooLarge]; any other violation of RFC 3862 §2–3 a *SyntaxError
// wrapping [ErrMalformed]. The entity's Body shares storage with b.
func ParseEnvelope(b []byte) (*Envelope, error) {
	if len(b) > MaxDocumentSize {
		return nil, syntaxErr(0, ErrTooLarge, "document larger than the size limit")
	}
	if len(b) == 0 {
		return nil, syntaxErr(0, ErrMalformed, "empty document")
	}
	r := lineReader{b: b}
	env := &Envelope{}
	blank := false
	for {
		line, term, ok := r.next()
		if !ok {
			break
		}
		if len(line) == 0 && term {
			blank = true
			break
		}
		if !term {
			return nil, syntaxErr(r.line, ErrMalformed, "message headers not followed by a blank line")
		}
		if len(env.Headers) == MaxHeaders {
			return nil, syntaxErr(r.line, ErrTooLarge, "too many message headers")
		}
		h, msg := parseHeaderLine(line)
		if msg != "" {
			return nil, syntaxErr(r.line, ErrMalformed, msg)
		}
		if h.Name == "NS" {
			if _, _, ok := parseNS(h.Value); !ok {
				return nil, syntaxErr(r.line, ErrMalformed, "NS header value is not [prefix] <URI>")
			}
		}
		if env.Headers == nil {
			env.Headers = make([]Header, 0, 8)
		}
		env.Headers = append(env.Headers, h)
	}
	if !blank {
		return nil, syntaxErr(r.line, ErrMalformed, "message headers not followed by a blank line")
	}

	// The encapsulated MIME entity (§2.4). A field's folded continuation
	// lines (RFC 5322 §2.2.3) are collected in fold and unfolded by
	// dropping the line breaks when the next field starts.
	blank = false
	var fold []byte
	unfold := func() {
		if fold != nil {
			f := &env.Content.Header[len(env.Content.Header)-1]
			f.Value = strings.Trim(f.Value+string(fold), " \t")
			fold = nil
		}
	}
	for {
		line, term, ok := r.next()
		if !ok || !term {
			break
		}
		if len(line) == 0 {
			blank = true
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(env.Content.Header) == 0 {
				return nil, syntaxErr(r.line, ErrMalformed, "entity header starts with whitespace")
			}
			if msg := checkFieldText(line); msg != "" {
				return nil, syntaxErr(r.line, ErrMalformed, msg)
			}
			fold = append(fold, line...)
			continue
		}
		unfold()
		if len(env.Content.Header) == MaxHeaders {
			return nil, syntaxErr(r.line, ErrTooLarge, "too many entity header fields")
		}
		f, msg := parseField(line)
		if msg != "" {
			return nil, syntaxErr(r.line, ErrMalformed, msg)
		}
		if env.Content.Header == nil {
			env.Content.Header = make([]Field, 0, 4)
		}
		env.Content.Header = append(env.Content.Header, f)
	}
	unfold()
	if !blank {
		return nil, syntaxErr(r.line, ErrMalformed, "entity header fields not followed by a blank line")
	}
	if env.Content.ContentType() == "" {
		return nil, syntaxErr(0, ErrMalformed, "encapsulated entity has no Content-Type")
	}
	env.Content.Body = b[r.pos:len(b):len(b)]
	return env, nil
}

// nameChar is RFC 3862 §3.6 NAMECHAR: US-ASCII except ".", CTLs and
// SEPARATORS.
var nameChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-^_`|~" {
		t[c] = true
	}
	return t
}()

// tokenChar reports whether c is a byte of a §3.6 TOKENCHAR (NAMECHAR, ".",
// or any octet of a multi-byte UTF-8 sequence).
func tokenChar(c byte) bool { return nameChar[c] || c == '.' || c >= 0x80 }

// validHeaderName reports whether s is a §3.6 Header-name:
// [Name-prefix "."] Name.
func validHeaderName(s string) bool {
	dot := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if dot >= 0 {
				return false
			}
			dot = i
			continue
		}
		if !nameChar[c] {
			return false
		}
	}
	return len(s) > 0 && dot != 0 && dot != len(s)-1
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !nameChar[s[i]] {
			return false
		}
	}
	return len(s) > 0
}

func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !tokenChar(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

// parseHeaderLine parses one message header line (without terminator). It
// returns a non-empty message when the line is malformed.
func parseHeaderLine(line []byte) (Header, string) {
	if len(line) == 0 {
		return Header{}, "empty header line"
	}
	if line[0] == ' ' || line[0] == '\t' {
		return Header{}, "whitespace at the start of a header line (RFC 3862 §2.2)"
	}
	for _, c := range line {
		if c < 0x20 || c == 0x7f {
			return Header{}, "control character in a header (RFC 3862 §2.2)"
		}
	}
	if !utf8.Valid(line) {
		return Header{}, "header is not valid UTF-8 (RFC 3862 §2.2)"
	}
	raw := string(line)
	colon := strings.IndexByte(raw, ':')
	if colon < 0 {
		return Header{}, "header has no colon"
	}
	h := Header{Name: raw[:colon], raw: raw}
	if !validHeaderName(h.Name) {
		return Header{}, "invalid header name (RFC 3862 §3.6)"
	}
	i := colon + 1
	for i < len(raw) && raw[i] == ';' {
		i++
		j := i
		for j < len(raw) && nameChar[raw[j]] {
			j++
		}
		if j == i || j == len(raw) || raw[j] != '=' {
			return Header{}, "invalid header parameter name (RFC 3862 §3.6)"
		}
		p := Param{Name: raw[i:j]}
		i = j + 1
		if i < len(raw) && raw[i] == '"' {
			v, end, ok := parseString(raw, i)
			if !ok {
				return Header{}, "unterminated quoted parameter value (RFC 3862 §3.6)"
			}
			p.Value, i = v, end
		} else {
			j = i
			for j < len(raw) && tokenChar(raw[j]) {
				j++
			}
			if j == i {
				return Header{}, "empty header parameter value (RFC 3862 §3.6)"
			}
			p.Value, i = raw[i:j], j
		}
		h.Params = append(h.Params, p)
	}
	if i >= len(raw) || raw[i] != ' ' {
		return Header{}, `header name not followed by ": " (RFC 3862 §2.2)`
	}
	h.Value = unescape(raw[i+1:])
	h.rawValue = h.Value
	if len(h.Params) > 0 {
		h.rawParams = append([]Param(nil), h.Params...)
	}
	return h, ""
}

// parseString parses a §3.6 String starting at s[i] == '"'; it returns the
// decoded content and the index after the closing quote.
func parseString(s string, i int) (string, int, bool) {
	j := i + 1
	esc := false
	for j < len(s) {
		switch s[j] {
		case '\\':
			esc = true
			j += 2
			continue
		case '"':
			v := s[i+1 : j]
			if esc {
				v = unescape(v)
			}
			return v, j + 1, true
		}
		j++
	}
	return "", 0, false
}

// unescape decodes the escape sequences of RFC 3862 §2.3: \uXXXX (UTF-16
// surrogate pairs are combined; a lone surrogate becomes U+FFFD), \\ \" \'
// \b \t \n \r. An unrecognised escape stands for the character after the
// backslash, and a lone backslash at the end is ignored (§2.3.1 SHOULD).
func unescape(s string) string {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for i < len(s) {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		i++
		if i == len(s) {
			break // isolated trailing backslash: ignored
		}
		switch c = s[i]; c {
		case 'b':
			b = append(b, '\b')
		case 't':
			b = append(b, '\t')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				b = append(b, 'u') // unrecognised: the character itself
				break
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s, i+3); ok && i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					}
				}
			}
			b = utf8.AppendRune(b, r) // a lone surrogate becomes U+FFFD
		default:
			// \\ \" \' and any unrecognised escape: the character
			// following the backslash, which may be multi-byte.
			_, n := utf8.DecodeRuneInString(s[i:])
			b = append(b, s[i:i+n]...)
			i += n
			continue
		}
		i++
	}
	return string(b)
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// checkFieldText checks the text of an entity header line: HTAB allowed,
// other control characters and invalid UTF-8 not.
func checkFieldText(line []byte) string {
	for _, c := range line {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return "control character in an entity header field"
		}
	}
	if !utf8.Valid(line) {
		return "entity header field is not valid UTF-8"
	}
	return ""
}

// parseField parses one header field of the encapsulated entity
// (RFC 5322 §2.2: field-name ":" field-body).
func parseField(line []byte) (Field, string) {
	if msg := checkFieldText(line); msg != "" {
		return Field{}, msg
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return Field{}, "entity header field has no name or no colon"
	}
	for _, c := range line[:colon] {
		if c <= ' ' || c >= 0x7f {
			return Field{}, "invalid entity header field name (RFC 5322 §3.6.8)"
		}
	}
	s := string(line)
	return Field{Name: s[:colon], Value: strings.Trim(s[colon+1:], " \t")}, ""
}

// parseNS parses an NS header value (RFC 3862 §4.6): [Name-prefix SP]
// "<" URI ">". An empty prefix declares the default namespace.
func parseNS(v string) (prefix, uri string, ok bool) {
	if lt := strings.IndexByte(v, '<'); lt > 0 {
		if v[lt-1] != ' ' || !validName(v[:lt-1]) {
			return "", "", false
		}
		prefix, v = v[:lt-1], v[lt:]
	}
	if len(v) < 2 || v[0] != '<' || v[len(v)-1] != '>' || !validURI(v[1:len(v)-1]) {
		return "", "", false
	}
	return prefix, v[1 : len(v)-1], true
}

// validURI reports whether s looks like an absolute URI (RFC 2396 §3:
// scheme ":" and at least one more character). Beyond the scheme it only
// refuses characters that cannot appear in a URI inside "<" ">" (space,
// controls, "<", ">", '"'); non-ASCII is accepted, as IRIs are common.
func validURI(s string) bool {
	colon := strings.IndexByte(s, ':')
	if colon <= 0 || colon == len(s)-1 {
		return false
	}
	for i := 0; i < colon; i++ {
		c := s[i]
		alpha := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !alpha && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	for i := colon + 1; i < len(s); i++ {
		switch c := s[i]; {
		case c <= ' ', c == 0x7f, c == '<', c == '>', c == '"':
			return false
		}
	}
	return true
}

// Marshal serialises the envelope: message headers, a blank line, the
// entity's header fields, a blank line, the body, every line ending in
// CRLF (RFC 3862 §2.2).
//
// A header parsed by [ParseEnvelope] and left unchanged is written back
// exactly as received (§2.2 MUST preserve all octets). Any other header is
// written canonically: "Name:", each parameter as ";name=value" (a Token
// when the value is one, else a quoted String), one space, and the value
// escaped as §2.3.1 requires — \\ \b \t \n \r for backslash, backspace,
// tab, LF and CR, \uXXXX for the other control characters, \" for a double
// quote inside a quoted Formal-name (a value shaped `"…" <…>`, as
// [FormatNameAddr] makes), and no other escapes. Invalid UTF-8 in a value
// is written as U+FFFD.
//
// Entity fields are written "Name: value" (a control character other than
// HTAB in a value becomes a space) and the body is copied unchanged.
// Header and parameter names are written as given: a name outside the
// §3.6 syntax yields a document ParseEnvelope refuses.
func (e *Envelope) Marshal() []byte {
	n := 4 + len(e.Content.Body)
	for i := range e.Headers {
		h := &e.Headers[i]
		n += len(h.Name) + len(h.Value) + 4
		if h.raw != "" {
			n += len(h.raw) - len(h.Name) - len(h.Value)
		}
		for _, p := range h.Params {
			n += len(p.Name) + len(p.Value) + 4
		}
	}
	for _, f := range e.Content.Header {
		n += len(f.Name) + len(f.Value) + 4
	}
	b := make([]byte, 0, n)
	for i := range e.Headers {
		h := &e.Headers[i]
		if h.unchanged() {
			b = append(b, h.raw...)
		} else {
			b = appendHeader(b, h)
		}
		b = append(b, '\r', '\n')
	}
	b = append(b, '\r', '\n')
	for _, f := range e.Content.Header {
		b = append(b, f.Name...)
		b = append(b, ':')
		if f.Value != "" {
			b = append(b, ' ')
			b = appendFieldValue(b, f.Value)
		}
		b = append(b, '\r', '\n')
	}
	b = append(b, '\r', '\n')
	return append(b, e.Content.Body...)
}

func appendHeader(b []byte, h *Header) []byte {
	b = append(b, h.Name...)
	b = append(b, ':')
	for _, p := range h.Params {
		b = append(b, ';')
		b = append(b, p.Name...)
		b = append(b, '=')
		if validToken(p.Value) && utf8.ValidString(p.Value) {
			b = append(b, p.Value...)
		} else {
			b = append(b, '"')
			b = appendEscaped(b, p.Value, true)
			b = append(b, '"')
		}
	}
	b = append(b, ' ')
	if lo, hi, ok := quotedFormalName(h.Value); ok {
		b = appendEscaped(b, h.Value[:lo], false)
		b = appendEscaped(b, h.Value[lo:hi], true)
		return appendEscaped(b, h.Value[hi:], false)
	}
	return appendEscaped(b, h.Value, false)
}

// quotedFormalName reports whether v has the shape `"…" <…>` of a
// name-addr with a quoted Formal-name, and returns the bounds of the text
// between the quotes.
func quotedFormalName(v string) (lo, hi int, ok bool) {
	lt := strings.LastIndexByte(v, '<')
	if len(v) < 5 || v[0] != '"' || v[len(v)-1] != '>' || lt < 3 || v[lt-1] != ' ' || v[lt-2] != '"' {
		return 0, 0, false
	}
	return 1, lt - 2, true
}

const hexDigits = "0123456789abcdef"

// appendEscaped appends s with the escapes of RFC 3862 §2.3.1. quoted says
// s lies inside a double-quoted string, where '"' is escaped too.
func appendEscaped(b []byte, s string, quoted bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			var n int
			b, n = appendRune(b, s[i:])
			i += n
			continue
		}
		switch {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '"' && quoted:
			b = append(b, '\\', '"')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return b
}

// appendFieldValue appends an entity header field value, replacing the
// control characters a MIME field cannot hold (all but HTAB) with spaces
// and invalid UTF-8 with U+FFFD.
func appendFieldValue(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			var n int
			b, n = appendRune(b, s[i:])
			i += n
			continue
		}
		if (c < 0x20 && c != '\t') || c == 0x7f {
			c = ' '
		}
		b = append(b, c)
		i++
	}
	return b
}

// appendRune appends the rune s starts with (not ASCII), or U+FFFD for
// invalid UTF-8, and returns how many bytes of s it took.
func appendRune(b []byte, s string) ([]byte, int) {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && n == 1 {
		return utf8.AppendRune(b, utf8.RuneError), 1
	}
	return append(b, s[:n]...), n
}

// nsScope tracks the namespace declarations in force while walking the
// headers in order (RFC 3862 §3.4).
type nsScope struct {
	def   string
	binds []Param // Name = prefix, Value = URI; later entries win
}

func (s *nsScope) declare(h *Header) {
	if h.Name != "NS" {
		return
	}
	prefix, uri, ok := parseNS(h.Value)
	if !ok {
		return
	}
	if prefix == "" {
		s.def = uri
		return
	}
	s.binds = append(s.binds, Param{Name: prefix, Value: uri})
}

func (s *nsScope) resolve(name string) (ns, local string, ok bool) {
	if name == "NS" {
		return DefaultNamespace, name, true
	}
	dot := strings.IndexByte(name, '.')
	if dot < 0 {
		return s.def, name, true
	}
	prefix := name[:dot]
	for i := len(s.binds) - 1; i >= 0; i-- {
		if s.binds[i].Name == prefix {
			return s.binds[i].Value, name[dot+1:], true
		}
	}
	return "", "", false
}

func sameHeader(a, b *Header) bool {
	if a.Name != b.Name || a.Value != b.Value || a.raw != b.raw || len(a.Params) != len(b.Params) {
		return false
	}
	for i := range a.Params {
		if a.Params[i] != b.Params[i] {
			return false
		}
	}
	return true
}

// Namespace returns the namespace URI and the name within that namespace
// of header h (RFC 3862 §3.4): a prefixed name resolves through the latest
// NS header declaring that prefix before h; an unprefixed name belongs to
// the default namespace, [DefaultNamespace] unless an earlier NS header
// without a prefix declared another. A header named "NS" always belongs to
// DefaultNamespace.
//
// h is located in e.Headers by value (the first equal header); a header not
// in the envelope is resolved as if it were appended to it. A prefix with
// no declaration yields a *[SyntaxError] wrapping [ErrMalformed] (§3.4: a
// declaration MUST precede any use).
func (e *Envelope) Namespace(h Header) (ns, name string, err error) {
	s := nsScope{def: DefaultNamespace}
	for i := range e.Headers {
		if sameHeader(&e.Headers[i], &h) {
			break
		}
		s.declare(&e.Headers[i])
	}
	ns, name, ok := s.resolve(h.Name)
	if !ok {
		return "", "", syntaxErr(0, ErrMalformed, "undeclared namespace prefix in header "+h.Name+" (RFC 3862 §3.4)")
	}
	return ns, name, nil
}

// Get returns the first header whose namespace URI is ns and whose name
// within it is name (case-sensitive, RFC 3862 §2.2), for example
// Get(DefaultNamespace, "Subject") or Get("urn:ietf:params:imdn",
// "Message-ID") whatever prefix the sender chose.
func (e *Envelope) Get(ns, name string) (Header, bool) {
	s := nsScope{def: DefaultNamespace}
	for i := range e.Headers {
		h := &e.Headers[i]
		if hns, hname, ok := s.resolve(h.Name); ok && hname == name && hns == ns {
			return *h, true
		}
		s.declare(h)
	}
	return Header{}, false
}

// All returns every header whose namespace URI is ns and whose name within
// it is name, in order.
func (e *Envelope) All(ns, name string) []Header {
	var out []Header
	s := nsScope{def: DefaultNamespace}
	for i := range e.Headers {
		h := &e.Headers[i]
		if hns, hname, ok := s.resolve(h.Name); ok && hname == name && hns == ns {
			out = append(out, *h)
		}
		s.declare(h)
	}
	return out
}

// Require returns the header or feature names listed in the envelope's
// Require headers (RFC 3862 §3.5, §4.7), as written (with any prefix), in
// order. A receiver that does not implement one of them cannot process the
// message correctly.
func (e *Envelope) Require() []string {
	var out []string
	for _, h := range e.All(DefaultNamespace, "Require") {
		for n := range strings.SplitSeq(h.Value, ",") {
			if n = strings.Trim(n, " "); n != "" {
				out = append(out, n)
			}
		}
	}
	return out
}

// ParseNameAddr splits a From, To or cc header value (RFC 3862 §4.1–4.3:
// [Formal-name] "<" URI ">") into its Formal-name and URI. v is a
// [Header.Value], escapes already decoded: a quoted Formal-name is returned
// without its quotes, its characters as they are in v. An unquoted
// Formal-name must be Tokens separated by single spaces (§3.6). The URI
// must look absolute (scheme ":" …) and hold no space, control character,
// "<", ">" or '"'.
func ParseNameAddr(v string) (formalName, uri string, err error) {
	lt := strings.LastIndexByte(v, '<')
	if lt < 0 || v[len(v)-1] != '>' {
		return "", "", syntaxErr(0, ErrMalformed, "name-addr has no <URI> (RFC 3862 §4.1)")
	}
	uri = v[lt+1 : len(v)-1]
	if !validURI(uri) {
		return "", "", syntaxErr(0, ErrMalformed, "name-addr URI is not an absolute URI (RFC 3862 §3.6)")
	}
	if lt == 0 {
		return "", uri, nil
	}
	name := v[:lt]
	if name[len(name)-1] != ' ' {
		return "", "", syntaxErr(0, ErrMalformed, "Formal-name not followed by a space (RFC 3862 §3.6)")
	}
	name = name[:len(name)-1]
	if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
		return name[1 : len(name)-1], uri, nil
	}
	if !tokenWords(name) {
		return "", "", syntaxErr(0, ErrMalformed, "Formal-name is neither Tokens nor a quoted String (RFC 3862 §3.6)")
	}
	return name, uri, nil
}

// tokenWords reports whether s is one or more Tokens separated by single
// spaces.
func tokenWords(s string) bool {
	for w := range strings.SplitSeq(s, " ") {
		if !validToken(w) {
			return false
		}
	}
	return s != ""
}

// FormatNameAddr returns a From, To or cc header value (RFC 3862 §4.1):
// "<uri>" when formalName is empty, `formalName <uri>` when it is Tokens
// separated by single spaces, else `"formalName" <uri>` (Marshal escapes
// any quote or backslash inside it, §2.3.1). uri must be an absolute URI
// without "<" or ">".
func FormatNameAddr(formalName, uri string) string {
	switch {
	case formalName == "":
		return "<" + uri + ">"
	case tokenWords(formalName) && utf8.ValidString(formalName):
		return formalName + " <" + uri + ">"
	default:
		return `"` + formalName + `" <` + uri + ">"
	}
}
