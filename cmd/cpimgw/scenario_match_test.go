package main

import (
	"encoding/xml"
	"strings"
	"testing"
)

// Tests of the transcript format and its matching rules
// (testdata/scenarios/README.md), without any peer.

// crlf turns a message written with \n into wire form.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestMatchSIP(t *testing.T) {
	const got = `SIP/2.0 202 Accepted
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-0
f: <sip:bob@sip.example.test>;tag=abc
To: <sip:alice@xmpp.example.test>;tag=xyz
i: call-1
CSeq: 1 MESSAGE
Allow: MESSAGE ,  OPTIONS
Warning: 380 127.0.0.1
  "SIPS Not Allowed"
Content-Length: 5

hello`
	tests := map[string]struct {
		expected string
		diffs    []string // substrings, one per difference; none: a match
	}{
		"headers not listed are ignored":        {"SIP/2.0 202 Accepted", nil},
		"long form matches compact form":        {"SIP/2.0 202 Accepted\nCall-ID: call-1\nFrom: <sip:bob@sip.example.test>;tag=abc", nil},
		"names are case-insensitive":            {"SIP/2.0 202 Accepted\ncall-id: call-1", nil},
		"white space is normalised":             {"SIP/2.0  202 Accepted\nAllow: MESSAGE,OPTIONS", nil},
		"a folded header is one value":          {`SIP/2.0 202 Accepted` + "\n" + `Warning: 380 * "SIPS Not Allowed"`, nil},
		"wildcards":                             {"SIP/2.0 202 *\nTo: <sip:alice@xmpp.example.test>;tag=*", nil},
		"any occurrence of a repeated header":   {"SIP/2.0 202 Accepted\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=*", nil},
		"the body exactly":                      {"SIP/2.0 202 Accepted\n\nhello", nil},
		"another status line":                   {"SIP/2.0 200 OK", []string{`start line "SIP/2.0 202 Accepted", want "SIP/2.0 200 OK"`}},
		"a missing header":                      {"SIP/2.0 202 Accepted\nContact: *", []string{`header Contact missing`}},
		"another value":                         {"SIP/2.0 202 Accepted\nCSeq: 2 MESSAGE", []string{`header CSeq = "1 MESSAGE", want "2 MESSAGE"`}},
		"a header that must be absent":          {"SIP/2.0 202 Accepted\n!From", []string{"header From: <sip:bob@sip.example.test>;tag=abc present, want none"}},
		"an absent header not there":            {"SIP/2.0 202 Accepted\n!Contact", nil},
		"another body":                          {"SIP/2.0 202 Accepted\n\nhello!", []string{`body "hello", want "hello!"`}},
		"an empty line and nothing: body empty": {"SIP/2.0 202 Accepted\n", []string{`body "hello", want ""`}},
		"several differences":                   {"SIP/2.0 200 OK\nContact: *\n!To", []string{"start line", "header Contact missing", "header To:"}},
	}
	g := parseSIP([]byte(crlf(got)))
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			lines, err := sectionLines(tt.expected+"\n", nil)
			if err != nil {
				t.Fatal(err)
			}
			d := matchSIP(expectedSIP(lines), g)
			if len(d) != len(tt.diffs) {
				t.Fatalf("differences %q, want %d like %q", d, len(tt.diffs), tt.diffs)
			}
			for i := range d {
				if !strings.Contains(d[i], tt.diffs[i]) {
					t.Errorf("difference %q, want one like %q", d[i], tt.diffs[i])
				}
			}
		})
	}
}

func TestMatchXML(t *testing.T) {
	const got = `<message xmlns='jabber:client' from='bob@sip.example.test' to='alice@xmpp.example.test' id='x1' xml:lang='de'>
  <subject>Grüße</subject>
  <body> spaced </body>
  <thread>t1</thread>
  <x xmlns='urn:example'/>
</message>`
	tests := map[string]struct {
		expected string
		exact    bool
		diffs    []string
	}{
		"attributes and children not listed are ignored": {`<message from='bob@sip.example.test'/>`, false, nil},
		"* is any value":                      {`<message id='*' xml:lang='de'/>`, false, nil},
		"children in order, others between":   {`<message><subject>Grüße</subject><thread>t1</thread></message>`, false, nil},
		"text is not trimmed":                 {`<message><body> spaced </body></message>`, false, nil},
		"a namespace is compared when given":  {`<message><x xmlns='urn:example'/></message>`, false, nil},
		"exact with everything listed":        {"<message from='*' to='*' id='*' xml:lang='de'><subject>Grüße</subject><body> spaced </body><thread>t1</thread><x xmlns='urn:example'/></message>", true, nil},
		"another attribute value":             {`<message xml:lang='en'/>`, false, []string{`/message: attribute xml:lang = "de", want "en"`}},
		"a missing attribute":                 {`<message type='chat'/>`, false, []string{`/message: attribute type missing`}},
		"another text":                        {`<message><body>spaced</body></message>`, false, []string{`/message/body: text " spaced ", want "spaced"`}},
		"children out of order":               {`<message><thread>t1</thread><subject>Grüße</subject></message>`, false, []string{`/message/subject: missing`}},
		"another namespace":                   {`<message><x xmlns='urn:other'/></message>`, false, []string{`/message/x: element is <x xmlns='urn:example'>`}},
		"another element":                     {`<presence/>`, false, []string{`/presence: element is <message`}},
		"exact: an attribute not listed":      {"<message from='*' to='*' id='*'><subject/><body/><thread/><x/></message>", true, []string{`unexpected attribute xml:lang="de"`}},
		"exact: a child not listed":           {"<message from='*' to='*' id='*' xml:lang='*'><subject/><body/><thread/></message>", true, []string{`/message: unexpected child <x/>`}},
		"exact: a child listed, not received": {"<message from='*' to='*' id='*' xml:lang='*'><subject/><body/><thread/><x/><y/></message>", true, []string{`/message/y: missing`}},
	}
	g, err := parseXML(got)
	if err != nil {
		t.Fatal(err)
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			exp, err := parseXML(tt.expected)
			if err != nil {
				t.Fatal(err)
			}
			d := matchXML(exp, g, tt.exact)
			if len(d) != len(tt.diffs) {
				t.Fatalf("differences %q, want %d like %q", d, len(tt.diffs), tt.diffs)
			}
			for i := range d {
				if !strings.Contains(d[i], tt.diffs[i]) {
					t.Errorf("difference %q, want one like %q", d[i], tt.diffs[i])
				}
			}
		})
	}
}

// TestXNodeString: a received stanza is shown in the notation of the
// transcripts, characters XML cannot carry as {{\xHH}}.
func TestXNodeString(t *testing.T) {
	n := &xnode{Name: xml.Name{Space: "jabber:client", Local: "message"}, Attr: nil, Children: []*xnode{
		{Name: xml.Name{Space: "jabber:client", Local: "body"}, Text: "a<b & \x01"},
		{Name: xml.Name{Space: "urn:ietf:params:xml:ns:xmpp-stanzas", Local: "gone"}, Text: "xmpp:x@y"},
	}}
	n.Attr = append(n.Attr, xml.Attr{Name: xml.Name{Space: nsXMLLang, Local: "lang"}, Value: "de"}, xml.Attr{Name: xml.Name{Space: "", Local: "id"}, Value: "it's"})
	want := "<message xml:lang='de' id='it&apos;s'>\n" +
		"  <body>a&lt;b &amp; {{\\x01}}</body>\n" +
		"  <gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>xmpp:x@y</gone>\n" +
		"</message>\n"
	if got := n.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRequestText(t *testing.T) {
	tests := map[string]struct {
		section, want string
	}{
		"Via and Content-Length added": {
			"MESSAGE sip:a@x SIP/2.0\nCSeq: 1 MESSAGE\n\nhé",
			"MESSAGE sip:a@x SIP/2.0\nVia: SIP/2.0/UDP p;branch=b\nCSeq: 1 MESSAGE\nContent-Length: 3\n\nhé",
		},
		"compact forms count, {{content-length}} is the body length": {
			"MESSAGE sip:a@x SIP/2.0\nv: SIP/2.0/UDP q;branch=c\nl: {{content-length}}\n\nhello",
			"MESSAGE sip:a@x SIP/2.0\nv: SIP/2.0/UDP q;branch=c\nl: 5\n\nhello",
		},
		"no body": {
			"OPTIONS sip:x SIP/2.0\nCSeq: 1 OPTIONS",
			"OPTIONS sip:x SIP/2.0\nVia: SIP/2.0/UDP p;branch=b\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n",
		},
		"a wrong Content-Length is sent as written": {
			"MESSAGE sip:a@x SIP/2.0\nContent-Length: 99\n\nab\ncd\n",
			"MESSAGE sip:a@x SIP/2.0\nVia: SIP/2.0/UDP p;branch=b\nContent-Length: 99\n\nab\ncd\n",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			lines, err := sectionLines(tt.section+"\n", map[string]string{"content-length": clMarker})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(requestText(lines, "SIP/2.0/UDP p;branch=b")), crlf(tt.want); got != want {
				t.Errorf("got\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func TestResponseTo(t *testing.T) {
	req := parseSIP([]byte(crlf(`MESSAGE sip:bob@sip.example.test SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK.1
v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK.0
Max-Forwards: 70
From: <sip:alice@xmpp.example.test>;tag=a
To: <sip:bob@sip.example.test>
Call-ID: c1
CSeq: 7 MESSAGE
Content-Length: 2

hi`)))
	tests := map[string]struct {
		section, want string
	}{
		"copied headers and a To tag": {
			"SIP/2.0 200 OK",
			`SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK.1
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK.0
From: <sip:alice@xmpp.example.test>;tag=a
To: <sip:bob@sip.example.test>;tag=T
Call-ID: c1
CSeq: 7 MESSAGE
Content-Length: 0

`,
		},
		"the section's headers, and its own To": {
			"SIP/2.0 301 Moved Permanently\nTo: <sip:bob@sip.example.test>;tag=mine\nContact: <sip:bob2@sip.example.test>",
			`SIP/2.0 301 Moved Permanently
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK.1
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK.0
From: <sip:alice@xmpp.example.test>;tag=a
Call-ID: c1
CSeq: 7 MESSAGE
To: <sip:bob@sip.example.test>;tag=mine
Contact: <sip:bob2@sip.example.test>
Content-Length: 0

`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			lines, err := sectionLines(tt.section+"\n", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(responseTo(req, lines, "T")), crlf(tt.want); got != want {
				t.Errorf("got\n%s\nwant\n%s", showSIP([]byte(got)), showSIP([]byte(want)))
			}
		})
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"alice": "alice@xmpp.example.test/r", "callid": "c1"}
	got, err := expand(`{{alice}} {{ callid }} a{{\x01}}{{\xff}}`, vars)
	if want := "alice@xmpp.example.test/r c1 a\x01\xff"; err != nil || got != want {
		t.Errorf("expand = %q, %v; want %q", got, err, want)
	}
	if _, err := expand("{{alice}} {{bob}} {{\\xzz}}", vars); err == nil ||
		!strings.Contains(err.Error(), "{{bob}}") || !strings.Contains(err.Error(), `{{\xzz}}`) {
		t.Errorf("unknown placeholders: err %v, want both named", err)
	}
	lines, err := sectionLines("A{{\\x0a}}B\nC\n", nil)
	if err != nil || len(lines) != 2 || lines[0] != "A\nB" {
		t.Errorf("sectionLines: %q, %v; want a bare LF inside the first line", lines, err)
	}
}

func TestParseScenario(t *testing.T) {
	ok := "# proves something\n# known bug: it breaks\n\n-- sip> --\nOPTIONS sip:x SIP/2.0\n-- <sip --\nSIP/2.0 200 OK\n-- <xmpp dave none --\n-- <xmpp alice exact --\n<message/>\n"
	sc, err := parseScenario("ok", []byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if sc.knownBug != "it breaks" {
		t.Errorf("known bug %q", sc.knownBug)
	}
	var got []string
	for _, s := range sc.steps {
		got = append(got, s.where())
	}
	want := []string{"line 4 (-- sip> --)", "line 6 (-- <sip --)", "line 8 (-- <xmpp dave none --)", "line 9 (-- <xmpp alice exact --)"}
	if strings.Join(got, "|") != strings.Join(want, "|") || sc.steps[2].kind != xmppNone || !sc.steps[3].exact {
		t.Errorf("steps %q, want %q", got, want)
	}

	bad := map[string]string{
		"no comment":            "-- sip> --\nOPTIONS sip:x SIP/2.0\n",
		"no sections":           "# nothing\n",
		"unknown section":       "# c\n-- irc> --\nx\n",
		"unknown user":          "# c\n-- xmpp> carol --\n<message/>\n",
		"no user":               "# c\n-- <xmpp --\n<message/>\n",
		"none with content":     "# c\n-- <sip none --\nSIP/2.0 200 OK\n",
		"empty section":         "# c\n-- <xmpp alice --\n\n",
		"none and exact":        "# c\n-- <xmpp alice none exact --\n",
		"indented start line":   "# c\n-- sip> --\n OPTIONS sip:x SIP/2.0\n",
		"known bug, no details": "# c\n# known bug:\n-- <sip none --\n",
	}
	for name, text := range bad {
		if _, err := parseScenario(name, []byte(text)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}
