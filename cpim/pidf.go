package cpim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// XML namespaces of the PIDF codec.
const (
	// NSPIDF is the PIDF namespace (RFC 3863 §4.2.2).
	NSPIDF = "urn:ietf:params:xml:ns:pidf"
	// NSPIDFIM is the "hypothetical" instant-messaging status namespace of
	// the RFC 3863 §4.3.1 example, used by RFC 3922 §5.1.5 and by old UAs.
	// It is accepted on input and never emitted (INTERWORKING.md §3.2).
	NSPIDFIM = "urn:ietf:params:xml:ns:pidf:im"
	// NSDataModel is the presence data model namespace of RFC 4479
	// (<dm:person>, <dm:note>, <dm:timestamp>).
	NSDataModel = "urn:ietf:params:xml:ns:pidf:data-model"
	// NSRPID is the rich presence namespace of RFC 4480.
	NSRPID = "urn:ietf:params:xml:ns:pidf:rpid"
	// NSJabberClient qualifies the XMPP <show/> element carried inside a
	// PIDF <status> (RFC 8048 §6.2 note 7).
	NSJabberClient = "jabber:client"
)

// nsXML is the namespace encoding/xml gives the reserved "xml" prefix.
const nsXML = "http://www.w3.org/XML/1998/namespace"

// PIDF is a presence document (RFC 3863) with the extensions the gateway
// understands: RPID activities and user-input (RFC 4480), the RFC 4479
// <dm:person> element that carries them, the jabber:client <show/>
// (RFC 8048 §6.2 note 7) and the legacy pidf:im status (RFC 3863 §4.3.1).
// Everything else in a parsed document is ignored (RFC 3863 §4.2.3,
// PRS-15).
type PIDF struct {
	// Entity is the presentity URI (a pres: or sip: URI), taken as is.
	// It is required (RFC 3863 §4.1.1).
	Entity string
	// Tuples are the presence tuples in document order.
	Tuples []PIDFTuple
	// Notes are the presence-level <note> elements.
	Notes []Text
	// Persons are the RFC 4479 <dm:person> elements.
	Persons []Person
}

// PIDFTuple is one PIDF <tuple> (RFC 3863 §4.1.2).
type PIDFTuple struct {
	// ID is the tuple id (an xs:ID; RFC 8048 §6.2 note 2).
	ID string
	// Basic is the <basic> status; "" when the status has none.
	Basic Basic
	// Show is the <show xmlns='jabber:client'> inside <status> (RFC 8048
	// §6.2 note 7); only the four values of RFC 6121 §4.7.2.1 are kept.
	Show Show
	// IM is the value of a legacy <im:im> of the pidf:im namespace (away,
	// busy, …). It is read but never written (INTERWORKING.md §3.2).
	IM string
	// Activities are the RPID activity names (local names such as "away"
	// or "on-the-phone", RFC 4480 §3.2) of an <rpid:activities> element in
	// the tuple's <status> or, as RFC 4479 §3.4.2 would place it, directly
	// in the tuple. An <rpid:other> and <rpid:note> there are dropped.
	Activities []string
	// UserInput is an RPID <user-input> value, "active" or "idle"
	// (RFC 4480 §3.14); "" when absent.
	UserInput string
	// Contact is the <contact> URI; "" when absent.
	Contact string
	// Priority is the contact priority in thousandths, 0..1000 (the
	// qvalue of RFC 3863 §4.1.5); it counts only when HasPriority is set.
	Priority    int
	HasPriority bool
	// Notes are the tuple's <note> elements.
	Notes []Text
	// Timestamp is the <timestamp>, in UTC; zero when absent.
	Timestamp time.Time
}

// Person is an RFC 4479 <dm:person> element with the RPID data of
// RFC 4480 the gateway uses.
type Person struct {
	// ID is the person's id (an xs:ID, required by RFC 4479 §5.1.2).
	ID string
	// Activities are the RPID activity names (RFC 4480 §3.2), without
	// "other", which is represented by OtherActivity.
	Activities []string
	// OtherActivity is the text of <rpid:other> inside <rpid:activities>.
	OtherActivity string
	// ActivityNotes are the <rpid:note> elements inside <rpid:activities>.
	ActivityNotes []Text
	// UserInput is the RPID <user-input> value, "active" or "idle".
	UserInput string
	// Notes are the <dm:note> elements.
	Notes []Text
	// Timestamp is the <dm:timestamp>, in UTC; zero when absent.
	Timestamp time.Time
}

// activityNames is the enumeration of RFC 4480 §3.2 (without "other").
// "lunch" is defined in the §3.2 prose but missing from the §5.1 schema;
// the prose wins (INTERWORKING.md §3.4 maps it).
var activityNames = map[string]bool{
	"appointment": true, "away": true, "breakfast": true, "busy": true,
	"dinner": true, "holiday": true, "in-transit": true,
	"looking-for-work": true, "lunch": true, "meal": true, "meeting": true,
	"on-the-phone": true, "performance": true, "permanent-absence": true,
	"playing": true, "presentation": true, "shopping": true,
	"sleeping": true, "spectator": true, "steering": true, "travel": true,
	"tv": true, "unknown": true, "vacation": true, "working": true,
	"worship": true,
}

// ParsePIDF parses an application/pidf+xml document.
//
// The document is streamed through encoding/xml in strict mode and refused
// with a *[SyntaxError] (Format "pidf") when it is larger than
// [MaxDocumentSize] (ErrTooLarge), nests deeper than [MaxDepth]
// (ErrTooDeep), has more than [MaxElements] elements (ErrTooLarge), or is
// not well-formed or not PIDF (ErrMalformed): a DTD (<!DOCTYPE …>), a
// processing instruction other than the XML declaration, an entity
// reference other than the five predefined ones, an encoding other than
// UTF-8 (RFC 3863 §4.1, §7), a root other than <presence> in [NSPIDF], or
// a root without an entity attribute (RFC 3863 §4.1.1).
//
// Interpretation is lenient, as RFC 3863 §4.2.3 and RFC 4479 §5 ask:
//   - any namespace prefixes, tuples in any order, zero tuples;
//   - unknown elements are ignored with all their content (PRS-15); an
//     unknown element marked mustUnderstand='true' or '1' (unqualified or
//     in [NSPIDF]) makes the enclosing extension element (jabber:client
//     <show>, <im:im>, <dm:person> and the RPID elements) be ignored as a
//     whole, and that failure propagates further up only through elements
//     that carry mustUnderstand themselves (RFC 3863 §4.2.3 NOTE); the
//     PIDF elements themselves are always processed;
//   - a <basic> other than open/closed, a <show> other than the RFC 6121
//     values, a <user-input> other than active/idle, a malformed or
//     out-of-range priority (more than three decimals included) and a
//     timestamp that is not RFC 3339 are ignored (RFC 3863 §4.1.5);
//     surrounding white space is trimmed from these values, from ids, the
//     entity and contact URIs, but not from notes;
//   - a note's language is its own xml:lang or else the nearest
//     ancestor's (XML 1.0 §2.12); "" when neither says, meaning the
//     Content-Language of the enclosing message;
//   - when tuple ids repeat (RFC 3863 §4.1.2 forbids it) the first tuple
//     is kept and later ones are dropped; a tuple without an id is kept
//     with ID "" (under the same rule); persons likewise;
//   - timestamps are converted to UTC.
//
// An empty body (nothing but white space) is not an error: it yields a
// PIDF with no entity and nothing else, the "no information" of a
// bodiless NOTIFY (RFC 8048 §5.2.1).
func ParsePIDF(b []byte) (*PIDF, error) {
	if len(b) > MaxDocumentSize {
		return nil, &SyntaxError{Format: "pidf", Msg: fmt.Sprintf("document of %d bytes exceeds %d", len(b), MaxDocumentSize), Err: ErrTooLarge}
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	if isXMLSpace(b) {
		return &PIDF{}, nil
	}
	r := &pidfReader{d: xml.NewDecoder(bytes.NewReader(b))}
	r.d.Strict = true
	var root xml.StartElement
	for {
		tok, err := r.next()
		if err == io.EOF {
			return nil, r.malformed("no root element")
		}
		if err != nil {
			return nil, err
		}
		if s, ok := tok.(xml.StartElement); ok {
			root = s
			break
		}
	}
	if root.Name.Space != NSPIDF || root.Name.Local != "presence" {
		return nil, r.malformed(fmt.Sprintf("root element is {%s}%s, want {%s}presence", root.Name.Space, root.Name.Local, NSPIDF))
	}
	p := &PIDF{Entity: strings.TrimSpace(attr(root, "entity"))}
	if p.Entity == "" {
		return nil, r.malformed("presence has no entity attribute (RFC 3863 §4.1.1)")
	}
	if err := r.presence(p); err != nil {
		return nil, err
	}
	for {
		tok, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if _, ok := tok.(xml.StartElement); ok {
			return nil, r.malformed("element after the root element")
		}
	}
	return p, nil
}

// pidfReader walks the token stream and enforces the codec limits on every
// token, so nothing is built beyond them.
type pidfReader struct {
	d        *xml.Decoder
	depth    int
	elements int
	langs    []string // in-scope xml:lang per open element
	sawDecl  bool     // an XML declaration was read
	started  bool     // a token other than white space was read
}

func (r *pidfReader) line() int {
	l, _ := r.d.InputPos()
	return l
}

func (r *pidfReader) malformed(msg string) error {
	return &SyntaxError{Format: "pidf", Line: r.line(), Msg: msg, Err: ErrMalformed}
}

// next returns the next token. Tokens that are never acceptable (DTDs,
// foreign processing instructions, text outside the root) are errors.
func (r *pidfReader) next() (xml.Token, error) {
	tok, err := r.d.Token()
	if err == io.EOF {
		if r.depth > 0 {
			return nil, r.malformed("unexpected end of document")
		}
		return nil, io.EOF
	}
	if err != nil {
		line := r.line()
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			line = se.Line
		}
		return nil, &SyntaxError{Format: "pidf", Line: line, Msg: err.Error(), Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
	}
	switch t := tok.(type) {
	case xml.StartElement:
		r.depth++
		r.elements++
		if r.depth > MaxDepth {
			return nil, &SyntaxError{Format: "pidf", Line: r.line(), Msg: fmt.Sprintf("elements nested deeper than %d", MaxDepth), Err: ErrTooDeep}
		}
		if r.elements > MaxElements {
			return nil, &SyntaxError{Format: "pidf", Line: r.line(), Msg: fmt.Sprintf("more than %d elements", MaxElements), Err: ErrTooLarge}
		}
		if dupAttr(t.Attr) {
			return nil, r.malformed(fmt.Sprintf("repeated attribute on <%s>", t.Name.Local))
		}
		lang := r.lang()
		for _, a := range t.Attr {
			if a.Name.Space == nsXML && a.Name.Local == "lang" {
				lang = strings.TrimSpace(a.Value)
			}
		}
		r.langs = append(r.langs, lang)
	case xml.EndElement:
		r.depth--
		r.langs = r.langs[:len(r.langs)-1]
	case xml.ProcInst:
		if t.Target != "xml" {
			return nil, r.malformed(fmt.Sprintf("processing instruction <?%s?> not allowed", t.Target))
		}
		// White space before the declaration is tolerated (UAs that
		// prepend a line break); anything else is not (XML 1.0 §2.8).
		if r.sawDecl || r.started {
			return nil, r.malformed("XML declaration not at the start of the document")
		}
		r.sawDecl = true
	case xml.Directive:
		return nil, r.malformed("DTDs and other <!…> declarations are not allowed")
	case xml.CharData:
		if r.depth == 0 && !isXMLSpace(t) {
			return nil, r.malformed("text outside the root element")
		}
		if isXMLSpace(t) {
			return tok, nil
		}
	}
	r.started = true
	return tok, nil
}

// lang is the xml:lang in scope for the innermost open element.
func (r *pidfReader) lang() string {
	if len(r.langs) == 0 {
		return ""
	}
	return r.langs[len(r.langs)-1]
}

// childFunc handles one child element whose start tag has been read: it
// reports whether it knows the element (an unknown one is skipped by the
// caller) and, for a known one, whether it had to be ignored because of a
// mustUnderstand child it did not understand. A known handler consumes the
// element through its end tag.
type childFunc func(start xml.StartElement) (known, failed bool, err error)

// content reads the content of the element whose start tag was just read,
// through its end tag. Character data of the element itself is appended to
// text when text is not nil. It reports whether a child that could not be
// understood carried mustUnderstand (RFC 3863 §4.2.3): the element must
// then be ignored as a whole unless it is a PIDF element.
func (r *pidfReader) content(text *[]byte, child childFunc) (failed bool, err error) {
	for {
		tok, err := r.next()
		if err != nil {
			if err == io.EOF {
				err = r.malformed("unexpected end of document")
			}
			return false, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if text != nil {
				*text = append(*text, t...)
			}
		case xml.StartElement:
			known, childFailed := false, false
			if child != nil {
				known, childFailed, err = child(t)
				if err != nil {
					return false, err
				}
			}
			if !known {
				if err := r.skip(); err != nil {
					return false, err
				}
				childFailed = true
			}
			if childFailed && mustUnderstand(t) {
				failed = true
			}
		case xml.EndElement:
			return failed, nil
		}
	}
}

// skip consumes the element whose start tag was just read, with all its
// content, still counting it against the limits.
func (r *pidfReader) skip() error {
	depth := r.depth
	for r.depth >= depth {
		if _, err := r.next(); err != nil {
			if err == io.EOF {
				err = r.malformed("unexpected end of document")
			}
			return err
		}
	}
	return nil
}

// mustUnderstand reports whether the element carries mustUnderstand='true'
// or '1' (an xs:boolean, RFC 3863 §4.4), unqualified as RFC 3863 §4.2.3
// writes it or in the PIDF namespace as its §4.3.3 example does.
func mustUnderstand(s xml.StartElement) bool {
	for _, a := range s.Attr {
		if a.Name.Local == "mustUnderstand" && (a.Name.Space == "" || a.Name.Space == NSPIDF) {
			v := strings.TrimSpace(a.Value)
			return v == "true" || v == "1"
		}
	}
	return false
}

// simple reads an element with simple content: its own text, with child
// elements ignored. failed reports a not-understood mustUnderstand child.
func (r *pidfReader) simple() (text string, failed bool, err error) {
	var buf []byte
	failed, err = r.content(&buf, nil)
	return string(buf), failed, err
}

func (r *pidfReader) presence(p *PIDF) error {
	seenTuple := map[string]bool{}
	seenPerson := map[string]bool{}
	_, err := r.content(nil, func(s xml.StartElement) (bool, bool, error) {
		switch {
		case s.Name.Space == NSPIDF && s.Name.Local == "tuple":
			t := PIDFTuple{ID: strings.TrimSpace(attr(s, "id"))}
			if err := r.tuple(&t); err != nil {
				return true, false, err
			}
			if !seenTuple[t.ID] {
				seenTuple[t.ID] = true
				p.Tuples = append(p.Tuples, t)
			}
			return true, false, nil
		case s.Name.Space == NSPIDF && s.Name.Local == "note":
			n, err := r.note()
			if err == nil {
				p.Notes = append(p.Notes, n)
			}
			return true, false, err
		case s.Name.Space == NSDataModel && s.Name.Local == "person":
			per := Person{ID: strings.TrimSpace(attr(s, "id"))}
			failed, err := r.person(&per)
			if err == nil && !failed && !seenPerson[per.ID] {
				seenPerson[per.ID] = true
				p.Persons = append(p.Persons, per)
			}
			return true, failed, err
		}
		return false, false, nil
	})
	return err
}

// note reads a PIDF <note> (or an RPID/data-model note, same type Note_t of
// RFC 4479 §5.1.1) with its language in scope.
func (r *pidfReader) note() (Text, error) {
	lang := r.lang()
	text, _, err := r.simple()
	return Text{Lang: lang, Text: text}, err
}

func (r *pidfReader) tuple(t *PIDFTuple) error {
	_, err := r.content(nil, func(s xml.StartElement) (bool, bool, error) {
		switch s.Name.Space {
		case NSPIDF:
			switch s.Name.Local {
			case "status":
				_, err := r.content(nil, func(s xml.StartElement) (bool, bool, error) {
					return r.status(t, s)
				})
				return true, false, err
			case "contact":
				return true, false, r.contact(t, s)
			case "note":
				n, err := r.note()
				if err == nil {
					t.Notes = append(t.Notes, n)
				}
				return true, false, err
			case "timestamp":
				text, _, err := r.simple()
				if ts, ok := parseTimestamp(text); ok && t.Timestamp.IsZero() {
					t.Timestamp = ts
				}
				return true, false, err
			}
		case NSRPID:
			// RFC 4479 §3.4.2 puts status attributes directly in the
			// tuple; older UAs put them in <status>. Accept both.
			return r.rpidTupleStatus(t, s)
		}
		return false, false, nil
	})
	return err
}

// status handles one child of <status>.
func (r *pidfReader) status(t *PIDFTuple, s xml.StartElement) (known, failed bool, err error) {
	switch {
	case s.Name.Space == NSPIDF && s.Name.Local == "basic":
		text, _, err := r.simple()
		if v := Basic(strings.TrimSpace(text)); (v == Open || v == Closed) && t.Basic == "" {
			t.Basic = v
		}
		return true, false, err
	case s.Name.Space == NSJabberClient && s.Name.Local == "show":
		text, failed, err := r.simple()
		if v := Show(strings.TrimSpace(text)); !failed && v != ShowNone && v.Valid() && t.Show == ShowNone {
			t.Show = v
		}
		return true, failed, err
	case s.Name.Space == NSPIDFIM && s.Name.Local == "im":
		text, failed, err := r.simple()
		if v := strings.TrimSpace(text); !failed && t.IM == "" {
			t.IM = v
		}
		return true, failed, err
	case s.Name.Space == NSRPID:
		return r.rpidTupleStatus(t, s)
	}
	return false, false, nil
}

// rpidTupleStatus handles an RPID element in a tuple or its status.
func (r *pidfReader) rpidTupleStatus(t *PIDFTuple, s xml.StartElement) (known, failed bool, err error) {
	switch s.Name.Local {
	case "activities":
		var a Person
		failed, err := r.activities(&a)
		if err == nil && !failed {
			t.Activities = append(t.Activities, a.Activities...)
		}
		return true, failed, err
	case "user-input":
		v, failed, err := r.userInput()
		if !failed && v != "" && t.UserInput == "" {
			t.UserInput = v
		}
		return true, failed, err
	}
	return false, false, nil
}

func (r *pidfReader) userInput() (value string, failed bool, err error) {
	text, failed, err := r.simple()
	if v := strings.TrimSpace(text); v == "active" || v == "idle" {
		return v, failed, err
	}
	return "", failed, err
}

func (r *pidfReader) contact(t *PIDFTuple, s xml.StartElement) error {
	text, _, err := r.simple()
	if err != nil || t.Contact != "" || t.HasPriority {
		return err
	}
	t.Contact = strings.TrimSpace(text)
	for _, a := range s.Attr {
		if a.Name.Space == "" && a.Name.Local == "priority" {
			t.Priority, t.HasPriority = parseQValue(a.Value)
		}
	}
	return nil
}

// activities reads an <rpid:activities> element into a's Activities,
// OtherActivity and ActivityNotes. failed reports that it must be ignored.
func (r *pidfReader) activities(a *Person) (failed bool, err error) {
	var got Person
	failed, err = r.content(nil, func(s xml.StartElement) (bool, bool, error) {
		if s.Name.Space != NSRPID {
			return false, false, nil
		}
		switch {
		case s.Name.Local == "note":
			lang := r.lang()
			text, failed, err := r.simple()
			if !failed {
				got.ActivityNotes = append(got.ActivityNotes, Text{Lang: lang, Text: text})
			}
			return true, failed, err
		case s.Name.Local == "other":
			text, failed, err := r.simple()
			if !failed && got.OtherActivity == "" {
				got.OtherActivity = text
			}
			return true, failed, err
		case activityNames[s.Name.Local]:
			_, failed, err := r.simple()
			if !failed {
				got.Activities = append(got.Activities, s.Name.Local)
			}
			return true, failed, err
		}
		return false, false, nil
	})
	if err != nil || failed {
		return failed, err
	}
	a.Activities = append(a.Activities, got.Activities...)
	a.ActivityNotes = append(a.ActivityNotes, got.ActivityNotes...)
	if a.OtherActivity == "" {
		a.OtherActivity = got.OtherActivity
	}
	return false, nil
}

// person reads a <dm:person>; failed reports that it must be ignored.
func (r *pidfReader) person(p *Person) (failed bool, err error) {
	return r.content(nil, func(s xml.StartElement) (bool, bool, error) {
		switch {
		case s.Name.Space == NSRPID && s.Name.Local == "activities":
			failed, err := r.activities(p)
			return true, failed, err
		case s.Name.Space == NSRPID && s.Name.Local == "user-input":
			v, failed, err := r.userInput()
			if !failed && v != "" && p.UserInput == "" {
				p.UserInput = v
			}
			return true, failed, err
		case s.Name.Space == NSDataModel && s.Name.Local == "note":
			lang := r.lang()
			text, failed, err := r.simple()
			if !failed {
				p.Notes = append(p.Notes, Text{Lang: lang, Text: text})
			}
			return true, failed, err
		case s.Name.Space == NSDataModel && s.Name.Local == "timestamp":
			text, failed, err := r.simple()
			if ts, ok := parseTimestamp(text); ok && !failed && p.Timestamp.IsZero() {
				p.Timestamp = ts
			}
			return true, failed, err
		}
		return false, false, nil
	})
}

// dupAttr reports whether an attribute name (after namespace resolution)
// repeats, which XML 1.0 §3.1 and Namespaces in XML §6.3 forbid and
// encoding/xml does not check.
func dupAttr(attrs []xml.Attr) bool {
	if len(attrs) <= 8 {
		for i := range attrs {
			for j := i + 1; j < len(attrs); j++ {
				if attrs[i].Name == attrs[j].Name {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[xml.Name]bool, len(attrs))
	for _, a := range attrs {
		if seen[a.Name] {
			return true
		}
		seen[a.Name] = true
	}
	return false
}

func attr(s xml.StartElement, local string) string {
	for _, a := range s.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// parseQValue parses a PIDF contact priority (RFC 3863 §4.4 qvalue:
// "0(.[0-9]{0,3})?" or "1(.0{0,3})?") into thousandths.
func parseQValue(s string) (milli int, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	whole := int(s[0] - '0')
	frac := s[1:]
	if frac != "" {
		if frac[0] != '.' || len(frac) > 4 {
			return 0, false
		}
		frac = frac[1:]
	}
	m := 0
	for i := 0; i < 3; i++ {
		m *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			m += int(c - '0')
		}
	}
	if whole == 1 && m != 0 {
		return 0, false
	}
	return whole*1000 + m, true
}

// formatQValue writes thousandths as a qvalue with at most three decimals
// and no trailing zeros: 0, 0.5, 0.992, 1.
func formatQValue(milli int) string {
	switch milli {
	case 0:
		return "0"
	case 1000:
		return "1"
	}
	s := strconv.Itoa(1000 + milli)[1:] // three digits
	return "0." + strings.TrimRight(s, "0")
}

// parseTimestamp parses an RFC 3339 date-time (RFC 3863 §4.1.7) into UTC.
func parseTimestamp(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

func isXMLSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// Marshal serialises the document (PRS-10…PRS-12): an XML declaration with
// UTF-8 (RFC 3863 §4.1), the root in the default PIDF namespace with the
// dm: and rpid: prefixes declared on it only when used, elements in the
// order of the RFC 3863 §4.4 schema (status, extensions, contact, notes,
// timestamp), the jabber:client <show> inside <status> after <basic>
// (RFC 8048 §6.2 note 7), tuple RPID activities inside <status> and
// user-input after it, priorities with at most three decimals and
// timestamps in RFC 3339 UTC. IM is never written (INTERWORKING.md §3.2).
//
// Marshal refuses a document that would break a MUST: no entity (RFC 3863
// §4.1.1), no tuple (RFC 3922 §6.3.2, PRS-11), an empty, repeated or
// non-NCName tuple or person id (xs:ID, RFC 3863 §4.4, RFC 4479 §5.1.2), a
// tuple whose <status> would be empty (RFC 3863 §4.1.3), or a value the
// schemas do not allow (basic, show, user-input, activity name, priority
// outside 0..1000, timestamp year outside 0000..9999, characters XML
// cannot carry).
func (p *PIDF) Marshal() ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	usesRPID := len(p.Persons) > 0
	for i := range p.Tuples {
		if len(p.Tuples[i].Activities) > 0 || p.Tuples[i].UserInput != "" {
			usesRPID = true
		}
	}
	w := &pidfWriter{b: make([]byte, 0, 512)}
	w.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w.raw(`<presence xmlns="` + NSPIDF + `"`)
	if len(p.Persons) > 0 {
		w.raw(` xmlns:dm="` + NSDataModel + `"`)
	}
	if usesRPID {
		w.raw(` xmlns:rpid="` + NSRPID + `"`)
	}
	w.attr("entity", p.Entity)
	w.raw(">\n")
	for i := range p.Tuples {
		w.tuple(&p.Tuples[i])
	}
	for _, n := range p.Notes {
		w.note(1, "note", n)
	}
	for i := range p.Persons {
		w.person(&p.Persons[i])
	}
	w.raw("</presence>\n")
	return w.b, nil
}

func (p *PIDF) check() error {
	if strings.TrimSpace(p.Entity) != p.Entity || p.Entity == "" {
		return errors.New("cpim: pidf: entity is empty or has surrounding white space (RFC 3863 §4.1.1)")
	}
	if err := checkChars("entity", p.Entity); err != nil {
		return err
	}
	if len(p.Tuples) == 0 {
		return errors.New("cpim: pidf: a document needs at least one tuple (RFC 3922 §6.3.2, PRS-11)")
	}
	ids := map[string]bool{}
	checkID := func(kind, id string) error {
		if !isNCName(id) {
			return fmt.Errorf("cpim: pidf: %s id %q is not an xs:ID (RFC 3863 §4.4)", kind, id)
		}
		if ids[id] {
			return fmt.Errorf("cpim: pidf: %s id %q is not unique (RFC 3863 §4.1.2)", kind, id)
		}
		ids[id] = true
		return nil
	}
	for i := range p.Tuples {
		t := &p.Tuples[i]
		if err := checkID("tuple", t.ID); err != nil {
			return err
		}
		if t.Basic != "" && t.Basic != Open && t.Basic != Closed {
			return fmt.Errorf("cpim: pidf: tuple %q: basic %q is neither open nor closed (RFC 3863 §4.1.4)", t.ID, t.Basic)
		}
		if !t.Show.Valid() {
			return fmt.Errorf("cpim: pidf: tuple %q: show %q is not an RFC 6121 §4.7.2.1 value", t.ID, t.Show)
		}
		if t.Basic == "" && t.Show == ShowNone && len(t.Activities) == 0 {
			return fmt.Errorf("cpim: pidf: tuple %q: status would be empty (RFC 3863 §4.1.3)", t.ID)
		}
		if err := checkActivities(t.ID, t.Activities, ""); err != nil {
			return err
		}
		if err := checkUserInput(t.ID, t.UserInput); err != nil {
			return err
		}
		if err := checkChars("contact", t.Contact); err != nil {
			return err
		}
		if t.HasPriority && (t.Priority < 0 || t.Priority > 1000) {
			return fmt.Errorf("cpim: pidf: tuple %q: priority %d is outside 0..1000 thousandths (RFC 3863 §4.1.5)", t.ID, t.Priority)
		}
		if err := checkNotes(t.Notes); err != nil {
			return err
		}
		if err := checkTime(t.Timestamp); err != nil {
			return err
		}
	}
	if err := checkNotes(p.Notes); err != nil {
		return err
	}
	for i := range p.Persons {
		per := &p.Persons[i]
		if err := checkID("person", per.ID); err != nil {
			return err
		}
		if err := checkActivities(per.ID, per.Activities, per.OtherActivity); err != nil {
			return err
		}
		if err := checkChars("other activity", per.OtherActivity); err != nil {
			return err
		}
		if err := checkNotes(per.ActivityNotes); err != nil {
			return err
		}
		if err := checkUserInput(per.ID, per.UserInput); err != nil {
			return err
		}
		if err := checkNotes(per.Notes); err != nil {
			return err
		}
		if err := checkTime(per.Timestamp); err != nil {
			return err
		}
	}
	return nil
}

func checkActivities(id string, names []string, other string) error {
	for _, a := range names {
		if !activityNames[a] {
			return fmt.Errorf("cpim: pidf: %q: %q is not an RFC 4480 §3.2 activity", id, a)
		}
		if a == "unknown" && (len(names) > 1 || other != "") {
			return fmt.Errorf("cpim: pidf: %q: activity \"unknown\" cannot be combined with others (RFC 4480 §5.1)", id)
		}
	}
	return nil
}

func checkUserInput(id, v string) error {
	if v != "" && v != "active" && v != "idle" {
		return fmt.Errorf("cpim: pidf: %q: user-input %q is neither active nor idle (RFC 4480 §3.14)", id, v)
	}
	return nil
}

func checkNotes(notes []Text) error {
	for _, n := range notes {
		if err := checkChars("note", n.Text); err != nil {
			return err
		}
		if err := checkChars("xml:lang", n.Lang); err != nil {
			return err
		}
	}
	return nil
}

func checkTime(t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("cpim: pidf: timestamp year %d cannot be written in RFC 3339", y)
	}
	return nil
}

// checkChars refuses strings XML cannot carry (invalid UTF-8, characters
// outside the XML 1.0 Char production).
func checkChars(what, s string) error {
	for i, c := range s {
		if c == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return fmt.Errorf("cpim: pidf: %s is not valid UTF-8", what)
			}
		}
		if !isXMLChar(c) {
			return fmt.Errorf("cpim: pidf: %s contains %U, which XML cannot carry", what, c)
		}
	}
	return nil
}

func isXMLChar(c rune) bool {
	return c == 0x09 || c == 0x0A || c == 0x0D ||
		c >= 0x20 && c <= 0xD7FF ||
		c >= 0xE000 && c <= 0xFFFD ||
		c >= 0x10000 && c <= 0x10FFFF
}

// isNCName reports whether s is an XML NCName (Namespaces in XML 1.0 §3,
// with the name characters of XML 1.0 fifth edition §2.3), the lexical
// space of xs:ID.
func isNCName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == utf8.RuneError {
			return false
		}
		if !isNameStartChar(c) && (i == 0 || !isNameChar(c)) {
			return false
		}
	}
	return true
}

func isNameStartChar(c rune) bool {
	return c >= 'A' && c <= 'Z' || c == '_' || c >= 'a' && c <= 'z' ||
		c >= 0xC0 && c <= 0xD6 || c >= 0xD8 && c <= 0xF6 ||
		c >= 0xF8 && c <= 0x2FF || c >= 0x370 && c <= 0x37D ||
		c >= 0x37F && c <= 0x1FFF || c >= 0x200C && c <= 0x200D ||
		c >= 0x2070 && c <= 0x218F || c >= 0x2C00 && c <= 0x2FEF ||
		c >= 0x3001 && c <= 0xD7FF || c >= 0xF900 && c <= 0xFDCF ||
		c >= 0xFDF0 && c <= 0xFFFD || c >= 0x10000 && c <= 0xEFFFF
}

func isNameChar(c rune) bool {
	return isNameStartChar(c) || c == '-' || c == '.' || c >= '0' && c <= '9' ||
		c == 0xB7 || c >= 0x300 && c <= 0x36F || c >= 0x203F && c <= 0x2040
}

// pidfWriter writes the document by hand: encoding/xml would repeat
// xmlns= declarations on every element, which some SIP UAs do not parse.
type pidfWriter struct{ b []byte }

func (w *pidfWriter) raw(s string) { w.b = append(w.b, s...) }

func (w *pidfWriter) indent(level int) {
	for range level {
		w.b = append(w.b, "  "...)
	}
}

// text appends s escaped for character data or, with attr, for a
// double-quoted attribute value; white space that a parser would
// normalise is written as a character reference.
func (w *pidfWriter) text(s string, attr bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			w.raw("&amp;")
		case '<':
			w.raw("&lt;")
		case '>':
			w.raw("&gt;")
		case '\r':
			w.raw("&#xD;")
		case '"':
			if attr {
				w.raw("&quot;")
			} else {
				w.b = append(w.b, c)
			}
		case '\n':
			if attr {
				w.raw("&#xA;")
			} else {
				w.b = append(w.b, c)
			}
		case '\t':
			if attr {
				w.raw("&#x9;")
			} else {
				w.b = append(w.b, c)
			}
		default:
			w.b = append(w.b, c)
		}
	}
}

func (w *pidfWriter) attr(name, value string) {
	w.raw(" " + name + `="`)
	w.text(value, true)
	w.b = append(w.b, '"')
}

// element writes <name>text</name> on its own line.
func (w *pidfWriter) element(level int, name, text string) {
	w.indent(level)
	w.raw("<" + name + ">")
	w.text(text, false)
	w.raw("</" + name + ">\n")
}

func (w *pidfWriter) note(level int, name string, n Text) {
	w.indent(level)
	w.raw("<" + name)
	if n.Lang != "" {
		w.attr("xml:lang", n.Lang)
	}
	if n.Text == "" {
		w.raw("/>\n")
		return
	}
	w.b = append(w.b, '>')
	w.text(n.Text, false)
	w.raw("</" + name + ">\n")
}

func (w *pidfWriter) activities(level int, names []string, other string, notes []Text) {
	w.indent(level)
	w.raw("<rpid:activities>\n")
	for _, n := range notes {
		w.note(level+1, "rpid:note", n)
	}
	for _, a := range names {
		w.indent(level + 1)
		w.raw("<rpid:" + a + "/>\n")
	}
	if other != "" {
		w.element(level+1, "rpid:other", other)
	}
	w.indent(level)
	w.raw("</rpid:activities>\n")
}

func (w *pidfWriter) tuple(t *PIDFTuple) {
	w.indent(1)
	w.raw("<tuple")
	w.attr("id", t.ID)
	w.raw(">\n    <status>\n")
	if t.Basic != "" {
		w.element(3, "basic", string(t.Basic))
	}
	if t.Show != ShowNone {
		w.raw(`      <show xmlns="` + NSJabberClient + `">` + string(t.Show) + "</show>\n")
	}
	if len(t.Activities) > 0 {
		w.activities(3, t.Activities, "", nil)
	}
	w.raw("    </status>\n")
	if t.UserInput != "" {
		w.element(2, "rpid:user-input", t.UserInput)
	}
	if t.Contact != "" || t.HasPriority {
		w.indent(2)
		w.raw("<contact")
		if t.HasPriority {
			w.attr("priority", formatQValue(t.Priority))
		}
		w.b = append(w.b, '>')
		w.text(t.Contact, false)
		w.raw("</contact>\n")
	}
	for _, n := range t.Notes {
		w.note(2, "note", n)
	}
	if !t.Timestamp.IsZero() {
		w.element(2, "timestamp", t.Timestamp.UTC().Format(time.RFC3339Nano))
	}
	w.raw("  </tuple>\n")
}

func (w *pidfWriter) person(p *Person) {
	w.indent(1)
	w.raw("<dm:person")
	w.attr("id", p.ID)
	if len(p.Activities) == 0 && p.OtherActivity == "" && len(p.ActivityNotes) == 0 &&
		p.UserInput == "" && len(p.Notes) == 0 && p.Timestamp.IsZero() {
		w.raw("/>\n")
		return
	}
	w.raw(">\n")
	if len(p.Activities) > 0 || p.OtherActivity != "" || len(p.ActivityNotes) > 0 {
		w.activities(2, p.Activities, p.OtherActivity, p.ActivityNotes)
	}
	if p.UserInput != "" {
		w.element(2, "rpid:user-input", p.UserInput)
	}
	for _, n := range p.Notes {
		w.note(2, "dm:note", n)
	}
	if !p.Timestamp.IsZero() {
		w.element(2, "dm:timestamp", p.Timestamp.UTC().Format(time.RFC3339Nano))
	}
	w.raw("  </dm:person>\n")
}
