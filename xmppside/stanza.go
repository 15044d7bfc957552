package xmppside

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"mellium.im/xmlstream"

	"cpimgw/cpim"
	"cpimgw/mapping"
)

// XML namespaces the component reads and writes.
const (
	nsStanzas   = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsXML       = "http://www.w3.org/XML/1998/namespace"
	nsDiscoInfo = "http://jabber.org/protocol/disco#info"
	nsDiscoItem = "http://jabber.org/protocol/disco#items"
	nsPing      = "urn:xmpp:ping"
	nsVersion   = "jabber:iq:version"
	nsClient    = "jabber:client"
	nsAccept    = "jabber:component:accept"
)

// maxStanzaText bounds the character data the component keeps from one
// incoming stanza; a larger stanza is refused with policy-violation rather
// than buffered.
const maxStanzaText = 256 << 10

// wireMessage is an incoming <message/> as read off the stream, before any
// address is parsed: the raw attributes are kept so an error reply can
// mirror them even when they do not parse.
type wireMessage struct {
	From, To, ID, Type, Lang string
	Bodies, Subjects         []cpim.Text
	Thread                   string
	Extensions               []cpim.Extension
	// Error holds the condition of a type='error' message, if any.
	ErrorCondition, ErrorText string
}

// isStanzaNS reports whether a child element is in the stanza's own
// namespace (the stream default or one of the stanza namespaces servers
// use on component streams).
func isStanzaNS(space string) bool {
	return space == "" || space == nsAccept || space == nsClient
}

// readMessage decodes the <message/> whose start tag is start from r (the
// rest of the element). Unknown children are kept as opaque extensions.
func readMessage(r xml.TokenReader, start *xml.StartElement) (*wireMessage, error) {
	m := &wireMessage{
		From: attrValue(start, "from"), To: attrValue(start, "to"),
		ID: attrValue(start, "id"), Type: attrValue(start, "type"), Lang: langOf(*start),
	}
	budget := maxStanzaText
	for {
		tok, err := r.Token()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return m, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue // character data between children carries nothing
		}
		switch {
		case isStanzaNS(se.Name.Space) && (se.Name.Local == "body" || se.Name.Local == "subject"):
			text, err := readText(r, &budget)
			if err != nil {
				return m, err
			}
			t := cpim.Text{Lang: langOf(se), Text: text}
			if se.Name.Local == "body" {
				m.Bodies = append(m.Bodies, t)
			} else {
				m.Subjects = append(m.Subjects, t)
			}
		case isStanzaNS(se.Name.Space) && se.Name.Local == "thread":
			if m.Thread, err = readText(r, &budget); err != nil {
				return m, err
			}
		case isStanzaNS(se.Name.Space) && se.Name.Local == "error":
			if m.ErrorCondition, m.ErrorText, err = readError(r, &budget); err != nil {
				return m, err
			}
		default:
			raw, err := captureElement(r, se, &budget)
			if err != nil {
				return m, err
			}
			m.Extensions = append(m.Extensions, cpim.Extension{Space: se.Name.Space, Local: se.Name.Local, XML: raw})
		}
	}
}

var errStanzaTooLarge = errors.New("stanza too large")

// readText returns the character data of the element whose start tag was
// just read, up to its end tag. Nested elements are not expected there and
// are skipped.
func readText(r xml.TokenReader, budget *int) (string, error) {
	var b strings.Builder
	depth := 1
	for depth > 0 {
		tok, err := r.Token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 1 {
				if *budget -= len(t); *budget < 0 {
					return "", errStanzaTooLarge
				}
				b.Write(t)
			}
		}
	}
	return b.String(), nil
}

// readError reads a stanza <error/>: the defined condition and the text.
func readError(r xml.TokenReader, budget *int) (cond, text string, err error) {
	for {
		tok, err := r.Token()
		if err != nil {
			return cond, text, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return cond, text, nil
		case xml.StartElement:
			s, err := readText(r, budget)
			if err != nil {
				return cond, text, err
			}
			if t.Name.Space == nsStanzas {
				if t.Name.Local == "text" {
					text = s
				} else if cond == "" {
					cond = t.Name.Local
				}
			}
		}
	}
}

// captureElement re-encodes the element whose start tag is start (already
// read) and its content as standalone XML.
func captureElement(r xml.TokenReader, start xml.StartElement, budget *int) ([]byte, error) {
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	if err := enc.EncodeToken(start); err != nil {
		return nil, err
	}
	depth := 1
	for depth > 0 {
		tok, err := r.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if *budget -= len(t); *budget < 0 {
				return nil, errStanzaTooLarge
			}
		case xml.Comment, xml.ProcInst, xml.Directive:
			continue // not allowed on an XMPP stream (RFC 6120 §11.1); never re-emitted
		}
		if err := enc.EncodeToken(xml.CopyToken(tok)); err != nil {
			return nil, err
		}
	}
	if err := enc.Flush(); err != nil {
		return nil, err
	}
	if buf.Len() > maxStanzaText {
		return nil, errStanzaTooLarge
	}
	return buf.Bytes(), nil
}

func langOf(se xml.StartElement) string {
	for _, a := range se.Attr {
		if a.Name.Local == "lang" && (a.Name.Space == nsXML || a.Name.Space == "xml") {
			return a.Value
		}
	}
	return ""
}

func attr(name, value string) xml.Attr {
	return xml.Attr{Name: xml.Name{Local: name}, Value: value}
}

func langAttr(lang string) []xml.Attr {
	if lang == "" {
		return nil
	}
	return []xml.Attr{{Name: xml.Name{Space: nsXML, Local: "lang"}, Value: lang}}
}

// textElem returns <name xml:lang=…>text</name>.
func textElem(name, lang, text string) xml.TokenReader {
	return xmlstream.Wrap(xmlstream.Token(xml.CharData(text)),
		xml.StartElement{Name: xml.Name{Local: name}, Attr: langAttr(lang)})
}

// messageStanza encodes an outgoing message (RFC 7572 §5 Table 2 fields).
func messageStanza(x mapping.XMPPMessage) (xml.TokenReader, error) {
	attrs := []xml.Attr{attr("from", x.From.String()), attr("to", x.To.String())}
	if x.ID != "" {
		attrs = append(attrs, attr("id", x.ID))
	}
	if x.Type != "" {
		attrs = append(attrs, attr("type", x.Type))
	}
	attrs = append(attrs, langAttr(x.Lang)...)
	var parts []xml.TokenReader
	for _, s := range x.Subjects {
		parts = append(parts, textElem("subject", s.Lang, s.Text))
	}
	for _, b := range x.Bodies {
		parts = append(parts, textElem("body", b.Lang, b.Text))
	}
	if x.Thread != "" {
		parts = append(parts, textElem("thread", "", x.Thread))
	}
	for _, e := range x.Extensions {
		toks, err := tokens(e.XML)
		if err != nil {
			return nil, fmt.Errorf("xmppside: extension %s: %w", e.Local, err)
		}
		parts = append(parts, toks)
	}
	return xmlstream.Wrap(xmlstream.MultiReader(parts...),
		xml.StartElement{Name: xml.Name{Local: "message"}, Attr: attrs}), nil
}

// tokens decodes a serialized element into a token stream.
func tokens(b []byte) (xml.TokenReader, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	var toks []xml.Token
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok.(type) {
		case xml.Comment, xml.ProcInst, xml.Directive:
			continue
		}
		toks = append(toks, xml.CopyToken(tok))
	}
	i := 0
	return xmlstream.ReaderFunc(func() (xml.Token, error) {
		if i >= len(toks) {
			return nil, io.EOF
		}
		i++
		return toks[i-1], nil
	}), nil
}

// errorStanza returns the error reply to a stanza of the given kind
// (message, presence or iq) that had the given from, to and id: addresses
// swapped, id mirrored (ERR-07), type error, one defined condition with its
// type and optional text (ERR-06, RFC 6120 §8.3). from falls back to the
// component domain when the original to was empty.
func errorStanza(kind, origFrom, origTo, id, domain string, se mapping.StanzaError) xml.TokenReader {
	from := origTo
	if from == "" {
		from = domain
	}
	attrs := []xml.Attr{attr("from", from), attr("to", origFrom), attr("type", "error")}
	if id != "" {
		attrs = append(attrs, attr("id", id))
	}
	var cond xml.TokenReader
	if se.Alternate != "" {
		cond = xmlstream.Token(xml.CharData(se.Alternate))
	}
	inner := []xml.TokenReader{xmlstream.Wrap(cond,
		xml.StartElement{Name: xml.Name{Space: nsStanzas, Local: string(se.Condition)}})}
	if se.Text != "" {
		inner = append(inner, xmlstream.Wrap(xmlstream.Token(xml.CharData(se.Text)),
			xml.StartElement{Name: xml.Name{Space: nsStanzas, Local: "text"}, Attr: langAttr("en")}))
	}
	errEl := xmlstream.Wrap(xmlstream.MultiReader(inner...),
		xml.StartElement{Name: xml.Name{Local: "error"}, Attr: []xml.Attr{
			attr("type", string(se.Type)), attr("by", domain)}})
	return xmlstream.Wrap(errEl, xml.StartElement{Name: xml.Name{Local: kind}, Attr: attrs})
}
