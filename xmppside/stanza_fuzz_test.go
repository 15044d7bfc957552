package xmppside

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"cpimgw/cpim"
	"cpimgw/internal/fuzzseed"

	"mellium.im/xmlstream"
)

// FuzzReadStanza feeds arbitrary bytes to the readers of incoming
// <message/> and <presence/> stanzas, as the component stream hands them
// the inner tokens of a stanza. Properties: no panic; what they accept
// keeps within maxStanzaText; a kept extension is well-formed XML whose
// root is the element it names (it is re-emitted to SIP inside CPIM); a
// priority is within RFC 6121 §4.7.2.3's range; show has no surrounding
// white space.
func FuzzReadStanza(f *testing.F) {
	fuzzseed.Add(f, "FuzzReadStanza")
	f.Fuzz(func(t *testing.T, data []byte) {
		d := xml.NewDecoder(bytes.NewReader(data))
		var start xml.StartElement
		for {
			tok, err := d.Token()
			if err != nil {
				return
			}
			if se, ok := tok.(xml.StartElement); ok {
				start = se.Copy()
				break
			}
		}
		inner := xmlstream.Inner(d)
		switch start.Name.Local {
		case "message":
			m, err := readMessage(inner, &start)
			if err != nil {
				return
			}
			n := len(m.Thread)
			for _, x := range append(append([]cpim.Text(nil), m.Bodies...), m.Subjects...) {
				n += len(x.Text)
			}
			for _, e := range m.Extensions {
				n += checkExtension(t, e.Space, e.Local, e.XML)
			}
			if n > maxStanzaText {
				t.Errorf("message kept %d bytes of text, limit %d", n, maxStanzaText)
			}
		case "presence":
			p, err := readPresence(inner, &start)
			if err != nil {
				return
			}
			if p.HasPriority && (p.Priority < -128 || p.Priority > 127) {
				t.Errorf("priority %d out of range", p.Priority)
			}
			if p.Show != strings.TrimSpace(p.Show) {
				t.Errorf("show %q not trimmed", p.Show)
			}
			n := 0
			for _, s := range p.Statuses {
				n += len(s.Text)
			}
			if n > maxStanzaText {
				t.Errorf("presence kept %d bytes of status, limit %d", n, maxStanzaText)
			}
		}
	})
}

// checkExtension checks that raw is one well-formed element named
// space/local and returns the length of its character data.
func checkExtension(t *testing.T, space, local string, raw []byte) int {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(raw))
	depth, roots, text := 0, 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("extension %s is not well-formed XML: %v\n%s", local, err, raw)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if x.Name.Space != space || x.Name.Local != local {
					t.Errorf("extension root {%s}%s, named {%s}%s", x.Name.Space, x.Name.Local, space, local)
				}
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			text += len(x)
		}
	}
	if roots != 1 || depth != 0 {
		t.Errorf("extension has %d roots, depth %d at the end:\n%s", roots, depth, raw)
	}
	return text
}
