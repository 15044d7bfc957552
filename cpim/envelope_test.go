package cpim

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// rebuilt returns a copy of e whose headers are made with NewHeader, so
// they carry no raw line and Marshal writes them canonically. It is also
// the form used to compare envelopes while ignoring the raw lines. An empty
// body becomes nil.
func rebuilt(e *Envelope) *Envelope {
	out := &Envelope{}
	for _, h := range e.Headers {
		out.Headers = append(out.Headers, NewHeader(h.Name, h.Value, h.Params...))
	}
	out.Content.Header = append([]Field(nil), e.Content.Header...)
	if len(e.Content.Body) > 0 {
		out.Content.Body = append([]byte(nil), e.Content.Body...)
	}
	return out
}

// sameEnvelope reports whether a and b have equal exported fields.
func sameEnvelope(a, b *Envelope) bool { return reflect.DeepEqual(rebuilt(a), rebuilt(b)) }

// dumpEnvelope renders e as readable text for golden files: one block per
// message header (with its namespace and, for From/To/cc and NS, its
// parsed value), then the entity's fields and body. Strings are in Go %q
// notation so control characters and line ends are visible.
func dumpEnvelope(e *Envelope) string {
	var b strings.Builder
	b.WriteString("# message/cpim parsed by ParseEnvelope; strings in Go %q notation\n")
	for _, h := range e.Headers {
		fmt.Fprintf(&b, "header %q\n", h.Name)
		for _, p := range h.Params {
			fmt.Fprintf(&b, "  param %q = %q\n", p.Name, p.Value)
		}
		fmt.Fprintf(&b, "  value %q\n", h.Value)
		ns, name, err := e.Namespace(h)
		if err != nil {
			fmt.Fprintf(&b, "  namespace error: %v\n", err)
			continue
		}
		fmt.Fprintf(&b, "  namespace %q name %q\n", ns, name)
		if ns != DefaultNamespace {
			continue
		}
		switch name {
		case "From", "To", "cc":
			formal, uri, err := ParseNameAddr(h.Value)
			if err != nil {
				fmt.Fprintf(&b, "  name-addr error: %v\n", err)
			} else {
				fmt.Fprintf(&b, "  name-addr formal %q uri %q\n", formal, uri)
			}
		case "NS":
			prefix, uri, _ := parseNS(h.Value)
			fmt.Fprintf(&b, "  declares prefix %q uri %q\n", prefix, uri)
		}
	}
	if r := e.Require(); r != nil {
		fmt.Fprintf(&b, "require %q\n", r)
	}
	for _, f := range e.Content.Header {
		fmt.Fprintf(&b, "field %q = %q\n", f.Name, f.Value)
	}
	fmt.Fprintf(&b, "content-type %q\n", e.Content.ContentType())
	fmt.Fprintf(&b, "body %d bytes\n", len(e.Content.Body))
	for _, l := range bytes.SplitAfter(e.Content.Body, []byte("\n")) {
		if len(l) > 0 {
			fmt.Fprintf(&b, "  %q\n", l)
		}
	}
	return b.String()
}

// goldenDocs lists the documents in ../testdata/cpim/*.cpim. Canonical
// ones (CRLF, entity fields written "Name: value") must marshal back to
// the exact input; the others get a golden of their Marshal output.
var goldenDocs = []struct {
	name      string
	canonical bool
}{
	{"rfc3862-5.1", true},       // RFC 3862 §5.1
	{"namespaces", true},        // RFC 3862 §3.4: prefixes, two for one URI, default declarations
	{"subject-lang", true},      // RFC 3862 §3.3, §4.5; Ext-params (§3.6)
	{"escapes", true},           // RFC 3862 §2.3: every escape form
	{"formal-name", true},       // RFC 3862 §4.1–4.3: quoted and token Formal-names
	{"imdn-request", true},      // RFC 5438 §7.1.1.3
	{"imdn-notification", true}, // RFC 5438 §7.2.1.1
	{"x2s-rfc3922", true},       // RFC 3922 §4.1
	{"lf-only", false},          // bare LF line ends ([D] accepted)
	{"utf8", true},              // non-ASCII values and body (§2.2 UTF-8)
	{"entity-folded", false},    // MIME folding and spacing in the entity (RFC 5322 §2.2.3)
}

func TestEnvelopeGolden(t *testing.T) {
	for _, d := range goldenDocs {
		t.Run(d.name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("..", "testdata", "cpim", d.name+".cpim"))
			if err != nil {
				t.Fatal(err)
			}
			e, err := ParseEnvelope(in)
			if err != nil {
				t.Fatalf("ParseEnvelope: %v", err)
			}
			golden(t, "cpim/"+d.name+".txt", []byte(dumpEnvelope(e)))

			out := e.Marshal()
			if d.canonical {
				if !bytes.Equal(out, in) {
					t.Errorf("Marshal(ParseEnvelope(b)) != b:\n got %q\nwant %q", out, in)
				}
			} else {
				golden(t, "cpim/"+d.name+".marshal.cpim", out)
			}
			e2, err := ParseEnvelope(out)
			if err != nil {
				t.Fatalf("re-parse of Marshal output: %v", err)
			}
			if !sameEnvelope(e, e2) {
				t.Errorf("ParseEnvelope(Marshal(e)) != e:\n got %s\nwant %s", dumpEnvelope(e2), dumpEnvelope(e))
			}
			if out2 := e2.Marshal(); !bytes.Equal(out2, out) {
				t.Errorf("Marshal is not a fixed point:\n got %q\nwant %q", out2, out)
			}

			// Canonical encoding of every header (§2.3.1), and its round trip.
			r := rebuilt(e)
			canon := r.Marshal()
			golden(t, "cpim/"+d.name+".rebuilt.cpim", canon)
			r2, err := ParseEnvelope(canon)
			if err != nil {
				t.Fatalf("re-parse of canonical output: %v", err)
			}
			if !sameEnvelope(r, r2) {
				t.Errorf("ParseEnvelope(Marshal(rebuilt)) != rebuilt:\n got %s\nwant %s", dumpEnvelope(r2), dumpEnvelope(r))
			}
		})
	}
}

// TestEnvelopeRFC3862Example checks what a user of the API sees for the
// RFC 3862 §5.1 example.
func TestEnvelopeRFC3862Example(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("..", "testdata", "cpim", "rfc3862-5.1.cpim"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseEnvelope(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Headers) != 9 {
		t.Fatalf("got %d headers, want 9", len(e.Headers))
	}
	subjects := e.All(DefaultNamespace, "Subject")
	if len(subjects) != 2 || subjects[0].Lang() != "" || subjects[1].Lang() != "fr" ||
		subjects[1].Value != "beau temps prevu pour aujourd'hui" {
		t.Errorf("Subjects = %+v", subjects)
	}
	if got, want := e.Require(), []string{"MyFeatures.VitalMessageOption"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Require() = %q, want %q", got, want)
	}
	if h, ok := e.Get("mid:MessageFeatures@id.foo.com", "WackyMessageOption"); !ok || h.Value != "Use-silly-font" {
		t.Errorf("Get(WackyMessageOption) = %+v, %v", h, ok)
	}
	if got := e.Content.ContentType(); got != "text/xml; charset=utf-8" {
		t.Errorf("ContentType() = %q", got)
	}
	if got := e.Content.Get("content-id"); got != "<1234567890@foo.com>" {
		t.Errorf("Get(content-id) = %q", got)
	}
	if got, want := string(e.Content.Body), "<body>\r\nHere is the text of my message.\r\n</body>\r\n"; got != want {
		t.Errorf("Body = %q, want %q", got, want)
	}
}

func TestEnvelopeNamespaces(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("..", "testdata", "cpim", "namespaces.cpim"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseEnvelope(in)
	if err != nil {
		t.Fatal(err)
	}
	const wily = "http://id.acme.widgets/wily-headers/"
	var traps []string
	for _, h := range e.All(wily, "runner-trap") {
		traps = append(traps, h.Name+"="+h.Value)
	}
	// RFC 3862 §3.4: two prefixes for one URI and an NS default declaration
	// all name the same header.
	if want := []string{"acme.runner-trap=set", "widget.runner-trap=sprung", "runner-trap=reset"}; !reflect.DeepEqual(traps, want) {
		t.Errorf("All(wily, runner-trap) = %q, want %q", traps, want)
	}
	if h, ok := e.Get(wily, "Subject"); !ok || !strings.HasPrefix(h.Value, "not the CPIM Subject") {
		t.Errorf("Get(wily, Subject) = %+v, %v", h, ok)
	}
	if h, ok := e.Get(DefaultNamespace, "Subject"); !ok || h.Value != "the CPIM Subject again" {
		t.Errorf("Get(default, Subject) = %+v, %v", h, ok)
	}
	if h, ok := e.Get("urn:ietf:params:imdn", "Message-ID"); !ok || h.Value != "34jk324j" {
		t.Errorf("Get(imdn, Message-ID) = %+v, %v", h, ok)
	}
	if _, ok := e.Get(DefaultNamespace, "runner-trap"); ok {
		t.Error("Get(default, runner-trap) found a header of another namespace")
	}

	tests := map[string]struct {
		h        Header
		ns, name string
		err      bool
	}{
		"prefixed":           {h: e.Headers[4], ns: wily, name: "runner-trap"},
		"default moved":      {h: e.Headers[7], ns: wily, name: "runner-trap"},
		"default restored":   {h: e.Headers[10], ns: DefaultNamespace, name: "Subject"},
		"NS itself":          {h: e.Headers[6], ns: DefaultNamespace, name: "NS"},
		"not in envelope":    {h: NewHeader("imdn.Disposition-Notification", "display"), ns: "urn:ietf:params:imdn", name: "Disposition-Notification"},
		"undeclared prefix":  {h: NewHeader("nope.X", "y"), err: true},
		"unprefixed default": {h: e.Headers[0], ns: DefaultNamespace, name: "From"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ns, n, err := e.Namespace(tc.h)
			if tc.err {
				var se *SyntaxError
				if !errors.As(err, &se) || !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want a *SyntaxError wrapping ErrMalformed", err)
				}
				return
			}
			if err != nil || ns != tc.ns || n != tc.name {
				t.Errorf("Namespace() = %q, %q, %v; want %q, %q", ns, n, err, tc.ns, tc.name)
			}
		})
	}
}

func TestEnvelopeEscapes(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("..", "testdata", "cpim", "escapes.cpim"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseEnvelope(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"backslash \\ quote \" apostrophe ' backspace \b tab \t lf \n cr \r",
		"bell \a nul \x00 del \x7f e-acute é emoji 😀 lone \uFFFD",
		"unknown q é short u12 not-hex uZZZZ trailing ",
	}
	for i, h := range e.All(DefaultNamespace, "Subject") {
		if h.Value != want[i] {
			t.Errorf("Subject %d = %q, want %q", i, h.Value, want[i])
		}
	}
	if h, _ := e.Get(DefaultNamespace, "X-Quoted"); len(h.Params) != 1 || h.Params[0].Value != "a\\b\"c\td" {
		t.Errorf("X-Quoted params = %q", h.Params)
	}
}

func TestUnescape(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"none":               {`plain`, "plain"},
		"backslash":          {`a\\b`, `a\b`},
		"double quote":       {`\"`, `"`},
		"single quote":       {`\'`, `'`},
		"backspace":          {`\b`, "\b"},
		"tab":                {`\t`, "\t"},
		"linefeed":           {`\n`, "\n"},
		"carriage return":    {`\r`, "\r"},
		"u lower":            {`\u00e9`, "é"},
		"u upper":            {`\u00E9`, "é"},
		"u control":          {`\u001b`, "\x1b"},
		"u nul":              {`\u0000`, "\x00"},
		"surrogate pair":     {`\uD83D\uDE00`, "😀"},
		"lone high":          {`\ud83dx`, "\uFFFDx"},
		"lone low":           {`\ude00`, "\uFFFD"},
		"high then non-low":  {`\ud83d\u0041`, "\uFFFDA"},
		"short u":            {`\u12`, "u12"},
		"non-hex u":          {`\u12G4`, "u12G4"},
		"unknown ascii":      {`\q`, "q"},
		"unknown multi-byte": {`\é`, "é"},
		"trailing lone":      {`abc\`, "abc"},
		"escaped trailing":   {`abc\\`, `abc\`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := unescape(tc.in); got != tc.want {
				t.Errorf("unescape(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestMarshalCanonical checks the §2.3.1 encoding of built headers.
func TestMarshalCanonical(t *testing.T) {
	tests := map[string]struct {
		h    Header
		want string
	}{
		"plain":             {NewHeader("Subject", "Hi!"), "Subject: Hi!"},
		"empty value":       {NewHeader("imdn.Disposition-Notification", ""), "imdn.Disposition-Notification: "},
		"lang":              {NewHeader("Subject", "Ahoj!", Param{"lang", "cz"}), "Subject:;lang=cz Ahoj!"},
		"quoted param":      {NewHeader("X", "v", Param{"p", `a "b"\c`}), `X:;p="a \"b\"\\c" v`},
		"empty param":       {NewHeader("X", "v", Param{"p", ""}), `X:;p="" v`},
		"param with space":  {NewHeader("X", "v", Param{"p", "a b"}), `X:;p="a b" v`},
		"token param utf8":  {NewHeader("X", "v", Param{"p", "é.1"}), `X:;p=é.1 v`},
		"special escapes":   {NewHeader("Subject", "\\ \b \t \n \r"), `Subject: \\ \b \t \n \r`},
		"u escapes":         {NewHeader("Subject", "\x00\x07\x0b\x0c\x0e\x1f\x7f"), `Subject: \u0000\u0007\u000b\u000c\u000e\u001f\u007f`},
		"quotes unescaped":  {NewHeader("Subject", `He said "hi" and 'bye'`), `Subject: He said "hi" and 'bye'`},
		"non-ASCII literal": {NewHeader("Subject", "é 😀 \u0085"), "Subject: é 😀 \u0085"},
		"invalid UTF-8":     {NewHeader("Subject", "a\xffb"), "Subject: a\uFFFDb"},
		"quoted formal":     {NewHeader("From", FormatNameAddr(`Juliet "Jules" C\`, "im:juliet@example.com")), `From: "Juliet \"Jules\" C\\" <im:juliet@example.com>`},
		"token formal":      {NewHeader("To", FormatNameAddr("Romeo Montague", "im:romeo@example.net")), "To: Romeo Montague <im:romeo@example.net>"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := &Envelope{Headers: []Header{tc.h}, Content: Entity{Header: []Field{{"Content-Type", "text/plain"}}}}
			out := string(e.Marshal())
			line, _, _ := strings.Cut(out, "\r\n")
			if line != tc.want {
				t.Errorf("got %q, want %q", line, tc.want)
			}
			e2, err := ParseEnvelope([]byte(out))
			if err != nil {
				t.Fatalf("re-parse: %v", err)
			}
			if name == "invalid UTF-8" {
				return // the value was repaired, so it cannot round-trip
			}
			if !sameEnvelope(e, e2) {
				t.Errorf("round trip: got %+v, want %+v", e2.Headers, e.Headers)
			}
		})
	}
}

// TestMarshalPreservesRaw checks RFC 3862 §2.2: unchanged headers keep
// every octet; a changed header is re-encoded canonically.
func TestMarshalPreservesRaw(t *testing.T) {
	in := "Subject: caf\\u00e9 \\q\r\nSubject:;lang=fr x\r\n\r\nContent-Type: text/plain\r\n\r\nbody"
	e, err := ParseEnvelope([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(e.Marshal()); got != in {
		t.Errorf("unchanged: got %q, want %q", got, in)
	}
	e.Headers[0].Value += "!"
	e.Headers[1].Params[0].Value = "de"
	want := "Subject: café q!\r\nSubject:;lang=de x\r\n\r\nContent-Type: text/plain\r\n\r\nbody"
	if got := string(e.Marshal()); got != want {
		t.Errorf("changed: got %q, want %q", got, want)
	}
	e.Headers[0].Name = "Subj"
	if got := string(e.Marshal()); !strings.HasPrefix(got, "Subj: café q!\r\n") {
		t.Errorf("renamed: got %q", got)
	}
}

func TestParseEnvelopeAccepts(t *testing.T) {
	tests := map[string]struct {
		in      string
		headers int
		body    string
	}{
		"no message headers":  {"\r\nContent-Type: text/plain\r\n\r\nx", 0, "x"},
		"empty body":          {"A: b\r\n\r\nContent-Type: text/plain\r\n\r\n", 1, ""},
		"mixed line ends":     {"A: b\nC: d\r\n\nContent-Type: text/plain\r\n\nx\r\ny\n", 2, "x\r\ny\n"},
		"trailing whitespace": {"Subject: hi  \r\n\r\nContent-Type: text/plain\r\n\r\n", 1, ""},
		"colon in value":      {"DateTime: 2000-12-13T13:40:00-08:00\r\n\r\nContent-Type: text/plain\r\n\r\n", 1, ""},
		"body binary":         {"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\xff\r\x01", 0, "\x00\xff\r\x01"},
		"max headers":         {strings.Repeat("A: b\r\n", MaxHeaders) + "\r\nContent-Type: text/plain\r\n\r\n", MaxHeaders, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e, err := ParseEnvelope([]byte(tc.in))
			if err != nil {
				t.Fatalf("ParseEnvelope: %v", err)
			}
			if len(e.Headers) != tc.headers || string(e.Content.Body) != tc.body {
				t.Errorf("got %d headers, body %q; want %d, %q", len(e.Headers), e.Content.Body, tc.headers, tc.body)
			}
		})
	}
}

func TestParseEnvelopeErrors(t *testing.T) {
	const entity = "\r\nContent-Type: text/plain\r\n\r\nhello"
	tests := map[string]struct {
		in   string
		kind error
		line int
	}{
		"empty":                      {"", ErrMalformed, 0},
		"oversize":                   {"Subject: " + strings.Repeat("x", MaxDocumentSize) + "\r\n" + entity, ErrTooLarge, 0},
		"too many headers":           {strings.Repeat("A: b\r\n", MaxHeaders+1) + entity, ErrTooLarge, MaxHeaders + 1},
		"too many entity fields":     {"A: b\r\n\r\nContent-Type: text/plain\r\n" + strings.Repeat("X: y\r\n", MaxHeaders) + "\r\n", ErrTooLarge, MaxHeaders + 3},
		"no blank line":              {"From: <im:a@example.com>\r\nTo: <im:b@example.com>\r\n", ErrMalformed, 2},
		"no blank line, no newline":  {"From: <im:a@example.com>", ErrMalformed, 1},
		"entity without blank line":  {"A: b\r\n\r\nContent-Type: text/plain\r\n", ErrMalformed, 3},
		"entity unterminated":        {"A: b\r\n\r\nContent-Type: text/plain", ErrMalformed, 3},
		"no entity Content-Type":     {"A: b\r\n\r\nContent-ID: <x@y>\r\n\r\nhello", ErrMalformed, 0},
		"empty entity Content-Type":  {"A: b\r\n\r\nContent-Type:\r\n\r\nhello", ErrMalformed, 0},
		"no entity at all":           {"A: b\r\n\r\n", ErrMalformed, 2},
		"control char (tab)":         {"Subject: a\tb\r\n" + entity, ErrMalformed, 1},
		"control char (NUL)":         {"Subject: a\x00b\r\n" + entity, ErrMalformed, 1},
		"control char (DEL)":         {"Subject: a\x7fb\r\n" + entity, ErrMalformed, 1},
		"bare CR inside":             {"Subject: a\rb\r\n" + entity, ErrMalformed, 1},
		"bad UTF-8":                  {"Subject: caf\xe9\r\n" + entity, ErrMalformed, 1},
		"bad UTF-8 (surrogate)":      {"Subject: \xed\xa0\x80\r\n" + entity, ErrMalformed, 1},
		"leading space":              {"From: <im:a@example.com>\r\n Subject: x\r\n" + entity, ErrMalformed, 2},
		"leading tab":                {"\tSubject: x\r\n" + entity, ErrMalformed, 1},
		"no space after colon":       {"From:<im:a@example.com>\r\n" + entity, ErrMalformed, 1},
		"nothing after colon":        {"Subject:\r\n" + entity, ErrMalformed, 1},
		"no colon":                   {"Subject hi\r\n" + entity, ErrMalformed, 1},
		"space in name":              {"Sub ject: hi\r\n" + entity, ErrMalformed, 1},
		"separator in name":          {"Sub/ject: hi\r\n" + entity, ErrMalformed, 1},
		"non-ASCII name":             {"Sübject: hi\r\n" + entity, ErrMalformed, 1},
		"two dots in name":           {"a.b.c: hi\r\n" + entity, ErrMalformed, 1},
		"leading dot":                {".b: hi\r\n" + entity, ErrMalformed, 1},
		"trailing dot":               {"a.: hi\r\n" + entity, ErrMalformed, 1},
		"param without value":        {"Subject:;lang hi\r\n" + entity, ErrMalformed, 1},
		"param with empty value":     {"Subject:;lang= hi\r\n" + entity, ErrMalformed, 1},
		"param unterminated string":  {"Subject:;p=\"a b\r\n" + entity, ErrMalformed, 1},
		"param no space after":       {"Subject:;lang=fr\r\n" + entity, ErrMalformed, 1},
		"param bad char":             {"Subject:;lang=f/r x\r\n" + entity, ErrMalformed, 1},
		"NS without URI":             {"NS: foo\r\n" + entity, ErrMalformed, 1},
		"NS relative URI":            {"NS: foo <bar>\r\n" + entity, ErrMalformed, 1},
		"NS bad prefix":              {"NS: a.b <urn:x:y>\r\n" + entity, ErrMalformed, 1},
		"NS two spaces":              {"NS: foo  <urn:x:y>\r\n" + entity, ErrMalformed, 1},
		"entity leading whitespace":  {"A: b\r\n\r\n Content-Type: text/plain\r\n\r\n", ErrMalformed, 3},
		"entity field without colon": {"A: b\r\n\r\nContent-Type text/plain\r\n\r\n", ErrMalformed, 3},
		"entity field bad name":      {"A: b\r\n\r\nContent Type: text/plain\r\n\r\n", ErrMalformed, 3},
		"entity control char":        {"A: b\r\n\r\nContent-Type: text/plain\x01\r\n\r\n", ErrMalformed, 3},
		"entity bad UTF-8":           {"A: b\r\n\r\nContent-Type: text/plain; x=\xff\r\n\r\n", ErrMalformed, 3},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e, err := ParseEnvelope([]byte(tc.in))
			if err == nil {
				t.Fatalf("ParseEnvelope succeeded: %+v", e)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %T %v, want *SyntaxError", err, err)
			}
			if se.Format != "message/cpim" || !errors.Is(err, tc.kind) || se.Line != tc.line {
				t.Errorf("err = %v (format %q, line %d), want %v at line %d", err, se.Format, se.Line, tc.kind, tc.line)
			}
			if !strings.HasPrefix(err.Error(), "cpim: message/cpim: ") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestParseNameAddr(t *testing.T) {
	tests := map[string]struct {
		in, formal, uri string
		err             bool
	}{
		"uri only":           {in: "<im:tigger@100akerwood.com>", uri: "im:tigger@100akerwood.com"},
		"tokens":             {in: "Winnie the Pooh <im:pooh@100akerwood.com>", formal: "Winnie the Pooh", uri: "im:pooh@100akerwood.com"},
		"token with dots":    {in: "J.R.R. Tolkien <im:jrr@example.com>", formal: "J.R.R. Tolkien", uri: "im:jrr@example.com"},
		"non-ASCII tokens":   {in: "Jürgen Groß <im:j@example.de>", formal: "Jürgen Groß", uri: "im:j@example.de"},
		"quoted":             {in: `"O'Brien, Pat" <im:pat@example.net>`, formal: "O'Brien, Pat", uri: "im:pat@example.net"},
		"quoted with quote":  {in: `"a "b" <c>" <sip:x@example.com;gr=y>`, formal: `a "b" <c>`, uri: "sip:x@example.com;gr=y"},
		"quoted empty":       {in: `"" <im:x@example.com>`, formal: "", uri: "im:x@example.com"},
		"no brackets":        {in: "im:x@example.com", err: true},
		"empty":              {in: "", err: true},
		"unclosed":           {in: "<im:x@example.com", err: true},
		"no scheme":          {in: "<x@example.com>", err: true},
		"space in uri":       {in: "<im:x @example.com>", err: true},
		"empty uri":          {in: "<>", err: true},
		"no space before <":  {in: "Pooh<im:x@example.com>", err: true},
		"two spaces":         {in: "Winnie  Pooh <im:x@example.com>", err: true},
		"leading space":      {in: " <im:x@example.com>", err: true},
		"separator unquoted": {in: "Doe, John <im:x@example.com>", err: true},
		"text after >":       {in: "<im:x@example.com> x", err: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			formal, uri, err := ParseNameAddr(tc.in)
			if tc.err {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("ParseNameAddr(%q) = %q, %q, %v; want ErrMalformed", tc.in, formal, uri, err)
				}
				return
			}
			if err != nil || formal != tc.formal || uri != tc.uri {
				t.Errorf("ParseNameAddr(%q) = %q, %q, %v; want %q, %q", tc.in, formal, uri, err, tc.formal, tc.uri)
			}
		})
	}
}

func TestFormatNameAddr(t *testing.T) {
	tests := map[string]struct{ formal, uri, want string }{
		"none":           {"", "im:a@example.com", "<im:a@example.com>"},
		"tokens":         {"Juliet Capulet", "im:juliet@example.com", "Juliet Capulet <im:juliet@example.com>"},
		"comma":          {"Doe, John", "im:j@example.com", `"Doe, John" <im:j@example.com>`},
		"quote":          {`Jules "J" C`, "im:j@example.com", `"Jules "J" C" <im:j@example.com>`},
		"double space":   {"a  b", "im:j@example.com", `"a  b" <im:j@example.com>`},
		"trailing space": {"a ", "im:j@example.com", `"a " <im:j@example.com>`},
		"non-ASCII":      {"Zoë", "im:z@example.gr", "Zoë <im:z@example.gr>"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := FormatNameAddr(tc.formal, tc.uri)
			if got != tc.want {
				t.Errorf("FormatNameAddr(%q, %q) = %q, want %q", tc.formal, tc.uri, got, tc.want)
			}
			formal, uri, err := ParseNameAddr(got)
			if err != nil || formal != tc.formal || uri != tc.uri {
				t.Errorf("round trip: %q, %q, %v", formal, uri, err)
			}
		})
	}
}

func TestHeaderLang(t *testing.T) {
	if got := NewHeader("Subject", "x", Param{"level", "1"}, Param{"lang", "fr"}).Lang(); got != "fr" {
		t.Errorf("Lang() = %q, want fr", got)
	}
	if got := NewHeader("Subject", "x").Lang(); got != "" {
		t.Errorf("Lang() = %q, want empty", got)
	}
	if got := NewHeader("Subject", "x", Param{"Lang", "fr"}).Lang(); got != "" {
		t.Errorf("Lang() with Lang= = %q, want empty (names are case-sensitive)", got)
	}
}

func TestRequire(t *testing.T) {
	in := "Require: a.B,c.D\r\nNS: <urn:other:>\r\nRequire: not-the-cpim-one\r\nNS: <urn:ietf:params:cpim-headers:>\r\nRequire: E , F\r\n\r\nContent-Type: text/plain\r\n\r\n"
	e, err := ParseEnvelope([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.Require(), []string{"a.B", "c.D", "E", "F"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Require() = %q, want %q", got, want)
	}
}

// FuzzEnvelope checks that any document ParseEnvelope accepts marshals to
// one it accepts again with equal content, that Marshal is then a fixed
// point, and that the canonical encoding of the same headers round-trips.
func FuzzEnvelope(f *testing.F) {
	addSeeds(f, "FuzzEnvelope")
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnvelope(b)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || !(errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge)) {
				t.Fatalf("error is not a *SyntaxError wrapping ErrMalformed/ErrTooLarge: %v", err)
			}
			return
		}
		for _, h := range e.Headers {
			// Namespace must not panic; an undeclared prefix is allowed.
			_, _, _ = e.Namespace(h)
		}
		_ = e.Require()
		check := func(what string, e *Envelope) {
			out := e.Marshal()
			if len(out) > MaxDocumentSize {
				return // CRLF and escapes may grow a document past the limit
			}
			e2, err := ParseEnvelope(out)
			if err != nil {
				t.Fatalf("%s: re-parse of %q: %v", what, out, err)
			}
			if !sameEnvelope(e, e2) {
				t.Fatalf("%s: re-parse differs:\n got %s\nwant %s", what, dumpEnvelope(e2), dumpEnvelope(e))
			}
			if out2 := e2.Marshal(); !bytes.Equal(out, out2) {
				t.Fatalf("%s: Marshal not a fixed point:\n got %q\nwant %q", what, out2, out)
			}
		}
		check("parsed", e)
		check("rebuilt", rebuilt(e))
	})
}

// imdnMessage is a typical IMDN-bearing message/cpim body (about 400
// bytes), as the gateway sends and receives them (RFC 5438 §7.1.1.3).
var imdnMessage = []byte("From: Alice <im:alice@example.com>\r\n" +
	"To: Bob <im:bob@example.com>\r\n" +
	"NS: imdn <urn:ietf:params:imdn>\r\n" +
	"imdn.Message-ID: 34jk324j0Az9xQ\r\n" +
	"DateTime: 2006-04-04T12:16:49-05:00\r\n" +
	"imdn.Disposition-Notification: positive-delivery, negative-delivery\r\n" +
	"Subject:;lang=en Weekend plans\r\n" +
	"\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Hello Bob! Are we still on for Saturday? I can bring the cake, and Carol said she would take care of the music. Let me know.\r\n")

func BenchmarkParseEnvelope(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(imdnMessage)))
	for b.Loop() {
		if _, err := ParseEnvelope(imdnMessage); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalEnvelope(b *testing.B) {
	e, err := ParseEnvelope(imdnMessage)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("parsed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = e.Marshal()
		}
	})
	r := rebuilt(e)
	b.Run("built", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = r.Marshal()
		}
	})
}
