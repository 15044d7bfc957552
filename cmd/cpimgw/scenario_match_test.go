package main

import (
	"encoding/xml"
	"reflect"
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
			lines, err := sectionLines(tt.expected+"\n", nil, true)
			if err != nil {
				t.Fatal(err)
			}
			d, _ := matchSIP(expectedSIP(lines, false, false), g)
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
			lines, err := sectionLines(tt.section+"\n", map[string]string{"content-length": clMarker}, false)
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
			lines, err := sectionLines(tt.section+"\n", nil, false)
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
	lines, err := sectionLines("A{{\\x0a}}B\nC\n", nil, false)
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
	words := "# c\n-- <sip xml exact --\nNOTIFY sip:x SIP/2.0\n\n<presence/>\n-- <sip eventually xml --\nNOTIFY sip:x SIP/2.0\ni: d1\n\n<presence/>\n"
	sc, err = parseScenario("words", []byte(words))
	if err != nil {
		t.Fatal(err)
	}
	if s0, s1 := sc.steps[0], sc.steps[1]; !s0.xml || !s0.exact || s0.eventually || !s1.xml || s1.exact || !s1.eventually {
		t.Errorf("<sip words: %+v, %+v", s0, s1)
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
		"exact without xml":     "# c\n-- <sip exact --\nSIP/2.0 200 OK\n",
		"none and xml":          "# c\n-- <sip none xml --\n",
		"eventually, response":  "# c\n-- <sip eventually --\nSIP/2.0 200 OK\nCall-ID: x\n",
		"eventually, no dialog": "# c\n-- <sip eventually --\nNOTIFY sip:x SIP/2.0\nCSeq: 2 NOTIFY\n",
	}
	for name, text := range bad {
		if _, err := parseScenario(name, []byte(text)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

// TestCaptures: {{=name}} belongs in sections that receive; there it
// records what arrived at its place, in SIP start lines and header values
// (after white space normalisation), XML attribute values and text.
func TestCaptures(t *testing.T) {
	vars := map[string]string{"gw": "127.0.0.1:5060"}
	if _, err := expand("Call-ID: {{=c}}", vars); err == nil || !strings.Contains(err.Error(), "section that receives") {
		t.Errorf("a capture in a section that sends: err %v", err)
	}
	for _, bad := range []string{"{{=gw}}", "{{=alice.bare}}", "{{=a b}}", "{{=}}"} {
		if _, err := expandExpected(bad, vars); err == nil {
			t.Errorf("%s: expanded without error", bad)
		}
	}
	text, err := expandExpected("<sip:{{gw}}>;tag={{=sub.tag}}", vars)
	if err != nil || !reflectEqual(capturesIn(text), []string{"sub.tag"}) || showPattern(text) != "<sip:127.0.0.1:5060>;tag={{=sub.tag}}" {
		t.Errorf("expandExpected = %q, %v", text, err)
	}

	got := parseSIP([]byte(crlf(`NOTIFY sip:127.0.0.1:5060 SIP/2.0
From: <sip:bob@sip.example.test>;tag=abc;x=1
To: <sip:alice@xmpp.example.test> ; tag = t9
Call-ID: c-1@host
Contact: <sip:a@h>
Contact: <sip:b@h;gr=r1>
Content-Length: 0

`)))
	sipTests := map[string]struct {
		expected string
		caps     map[string]string // nil: no match
	}{
		"start line, headers, normalised value": {
			"{{=m}} sip:127.0.0.1:5060 SIP/2.0\nCall-ID: {{=c}}\nTo: <sip:alice@xmpp.example.test>;tag={{=t}}",
			map[string]string{"m": "NOTIFY", "c": "c-1@host", "t": "t9"},
		},
		"shortest run that lets the rest match": {
			"NOTIFY * SIP/2.0\nFrom: <sip:bob@sip.example.test>;tag={{=f}};*",
			map[string]string{"f": "abc"},
		},
		"the occurrence that matches":      {"NOTIFY * SIP/2.0\nContact: <sip:b@h;gr={{=g}}>", map[string]string{"g": "r1"}},
		"a capture is never empty":         {"NOTIFY * SIP/2.0\nCall-ID: c-1@host{{=x}}", nil},
		"no captures when another differs": {"NOTIFY * SIP/2.0\nCall-ID: {{=c}}\nCSeq: 9 NOTIFY", nil},
	}
	for name, tt := range sipTests {
		t.Run(name, func(t *testing.T) {
			lines, err := sectionLines(tt.expected+"\n", vars, true)
			if err != nil {
				t.Fatal(err)
			}
			d, caps := matchSIP(expectedSIP(lines, false, false), got)
			switch {
			case tt.caps == nil && len(d) == 0:
				t.Errorf("matched with %v, want a difference", caps)
			case tt.caps != nil && (len(d) > 0 || !reflectEqual(caps, tt.caps)):
				t.Errorf("differences %q, captures %v; want %v", d, caps, tt.caps)
			}
		})
	}

	stanza, err := parseXML(`<presence from='bob@sip.example.test/desk' id='p1'><x xmlns='urn:a' v='1'/><x xmlns='urn:a' v='2' w='b'/><status>Bin da</status></presence>`)
	if err != nil {
		t.Fatal(err)
	}
	xmlTests := map[string]struct {
		expected string
		caps     map[string]string
	}{
		"attribute and text": {
			`<presence from='bob@sip.example.test/{{=res}}' id='*'><status>{{=st}} da</status></presence>`,
			map[string]string{"res": "desk", "st": "Bin"},
		},
		// The first <x> is tried, records v and fails on w: what it
		// recorded must not survive; the second one's v counts.
		"only the candidate that matches records": {
			`<presence><x v='{{=v}}' w='b'/><status>Bin da</status></presence>`,
			map[string]string{"v": "2"},
		},
		"a later candidate": {
			`<presence><x v='{{=v}}'/><x v='2'/></presence>`,
			map[string]string{"v": "1"},
		},
		"text has no wildcard": {`<presence><status>Bin *</status></presence>`, nil},
	}
	for name, tt := range xmlTests {
		t.Run(name, func(t *testing.T) {
			text, err := expandExpected(tt.expected, nil)
			if err != nil {
				t.Fatal(err)
			}
			exp, err := parseXML(text)
			if err != nil {
				t.Fatal(err)
			}
			d, caps := matchXMLCaptures(exp, stanza, false)
			switch {
			case tt.caps == nil && len(d) == 0:
				t.Errorf("matched with %v, want a difference", caps)
			case tt.caps != nil && (len(d) > 0 || !reflectEqual(caps, tt.caps)):
				t.Errorf("differences %q, captures %v; want %v", d, caps, tt.caps)
			}
		})
	}
}

// TestXMLBody: a `<sip xml` section compares the body as an element tree
// with the rules of `<xmpp` sections, and the XML declaration when it
// gives one.
func TestXMLBody(t *testing.T) {
	got := parseSIP([]byte(crlf(`NOTIFY sip:w@h SIP/2.0
Content-Type: application/pidf+xml

<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="pres:alice@xmpp.example.test">
<tuple id="ID-r1"><status><basic>open</basic></status><note xml:lang="de">Hallo</note><timestamp>2026-01-01T00:00:00Z</timestamp></tuple>
<dm:person id="p"/>
</presence>`)))
	tests := map[string]struct {
		body  string
		exact bool
		diffs []string
	}{
		"tree, namespaces, glob attribute, any timestamp": {
			"<?xml version='1.0' encoding='UTF-8'?>\n<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:alice@xmpp.example.test'>\n  <tuple id='ID-*'>\n    <note xml:lang='de'>Hallo</note>\n  </tuple>\n</presence>",
			false, nil,
		},
		"exact lists everything": {
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='*'><tuple id='*'><status><basic>open</basic></status><note xml:lang='de'>Hallo</note><timestamp/></tuple><person xmlns='urn:ietf:params:xml:ns:pidf:data-model' id='p'/></presence>",
			true, nil,
		},
		"exact: an element not listed": {
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='*'><tuple id='*'><status><basic>open</basic></status><note xml:lang='de'>Hallo</note><timestamp/></tuple></presence>",
			true, []string{"body: /presence: unexpected child <person/> (exact)"},
		},
		"another namespace": {
			"<presence xmlns='urn:ietf:params:xml:ns:pidf'><person xmlns='urn:ietf:params:xml:ns:pidf:rpid'/></presence>",
			false, []string{"body: /presence/person: element is <person xmlns='urn:ietf:params:xml:ns:pidf:data-model'>"},
		},
		"another text": {
			"<presence><tuple><status><basic>closed</basic></status></tuple></presence>",
			false, []string{`body: /presence/tuple/status/basic: text "open", want "closed"`},
		},
		"another declaration": {
			"<?xml version='1.0'?>\n<presence/>",
			false, []string{`body: XML declaration "version=\"1.0\" encoding=\"UTF-8\"", want "version=\"1.0\""`},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			lines, err := sectionLines("NOTIFY sip:w@h SIP/2.0\n\n"+tt.body+"\n", nil, true)
			if err != nil {
				t.Fatal(err)
			}
			d, _ := matchSIP(expectedSIP(lines, true, tt.exact), got)
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
	notXML := parseSIP([]byte(crlf("MESSAGE sip:b@h SIP/2.0\n\nhello")))
	lines, _ := sectionLines("MESSAGE sip:b@h SIP/2.0\n\n<x/>\n", nil, true)
	if d, _ := matchSIP(expectedSIP(lines, true, false), notXML); len(d) != 1 || !strings.Contains(d[0], "body is not one XML element") {
		t.Errorf("a body that is not XML: %q", d)
	}
}

// TestSuperseded: `<sip eventually` skips only requests of the expected
// method in the expected dialog.
func TestSuperseded(t *testing.T) {
	lines, err := sectionLines("NOTIFY sip:w@h SIP/2.0\nCall-ID: d-{{=n}}\nSubscription-State: active;*\n", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	exp := expectedSIP(lines, false, false)
	tests := map[string]struct {
		msg  string
		skip bool
	}{
		"an older NOTIFY of the dialog": {"NOTIFY sip:w@h SIP/2.0\ni: d-1\nSubscription-State: pending;expires=9\n\n", true},
		"another dialog":                {"NOTIFY sip:w@h SIP/2.0\nCall-ID: e-1\n\n", false},
		"another method":                {"MESSAGE sip:w@h SIP/2.0\nCall-ID: d-1\n\n", false},
		"a response":                    {"SIP/2.0 200 OK\nCall-ID: d-1\nCSeq: 1 NOTIFY\n\n", false},
	}
	for name, tt := range tests {
		if got := superseded(exp, parseSIP([]byte(crlf(tt.msg)))); got != tt.skip {
			t.Errorf("%s: superseded = %v, want %v", name, got, tt.skip)
		}
	}
}

// reflectEqual compares two values deeply; nil and empty maps and slices
// are equal.
func reflectEqual[T any](a, b T) bool {
	if reflect.ValueOf(a).Len() == 0 && reflect.ValueOf(b).Len() == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}
