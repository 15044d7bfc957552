package mapping

import (
	"fmt"
	"slices"
	"strings"

	"cpimgw/cpim"

	"mellium.im/xmpp/jid"
)

// XMPPPresence holds the fields of an XMPP <presence/> notification
// (RFC 6121 §4.7): no type (available) or type 'unavailable'. Other types
// are subscription operations (INTERWORKING.md §3.7) and are not mapped
// here.
type XMPPPresence struct {
	From, To jid.JID
	// Type is "" or "unavailable".
	Type string
	// ID is the stanza id. It has no SIP mapping (RFC 8048 §6.2 note 3).
	ID string
	// Lang is the stanza xml:lang; statuses with an empty Lang are in it.
	Lang string
	// Show is "", "chat", "away", "xa" or "dnd" (RFC 6121 §4.7.2.1).
	Show string
	// Statuses are the <status/> elements, at most one per language
	// (RFC 6121 §4.7.2.2).
	Statuses []cpim.Text
	// Priority is the <priority/>, -128..127 (RFC 6121 §4.7.2.3); it
	// counts only when HasPriority is set.
	Priority    int
	HasPriority bool
}

// The tuple id prefix of RFC 8048 §6.2 note 2 (PRS-05), and the id of the
// <dm:person> element, which cannot collide with a tuple id since it lacks
// the prefix.
const (
	tupleIDPrefix = "ID-"
	personID      = "person"
)

// PresenceFromXMPP maps one XMPP presence notification to the neutral model
// (RFC 8048 §6.2 Table 1, INTERWORKING.md §3.2): a Presence of the bare
// sender with one tuple for the sending resource.
//
//   - No type gives basic open, 'unavailable' gives closed (PRS-02); any
//     other type is refused with bad-request: it is a subscription
//     operation (PRS-01).
//   - The show is kept for an available tuple; a value outside RFC 6121
//     §4.7.2.1 is dropped (the presence still maps, without sub-state).
//   - Statuses become notes; Lang is the stanza xml:lang (it becomes the
//     Content-Language). A status in that language is stored without a
//     language, a second status in the same language and an empty one are
//     dropped (RFC 6121 §4.7.2.2 allows one per language).
//   - The priority is kept as is (PresenceToPIDF drops a negative one);
//     one outside -128..127 is dropped.
//   - The id has no mapping (RFC 8048 §6.2 note 3); Timestamp is left zero
//     for the caller to set when it receives the stanza.
//
// From must map to an address ([Mapper.Address]); To, when set, gives the
// watcher. Their errors are returned as they are (*cpim.Error).
func (m *Mapper) PresenceFromXMPP(x XMPPPresence) (cpim.Presence, error) {
	if x.Type != "" && x.Type != "unavailable" {
		return cpim.Presence{}, &cpim.Error{Condition: cpim.BadRequest,
			Text: fmt.Sprintf("mapping: presence of type %q is not a notification (RFC 8048 §6.2 note 1)", x.Type)}
	}
	from, err := m.Address(x.From)
	if err != nil {
		return cpim.Presence{}, fmt.Errorf("mapping: presence from: %w", err)
	}
	var watcher cpim.Address
	if x.To.String() != "" {
		if watcher, err = m.Address(x.To); err != nil {
			return cpim.Presence{}, fmt.Errorf("mapping: presence to: %w", err)
		}
	}
	t := cpim.Tuple{Resource: from.Resource, Basic: cpim.Open}
	if x.Type == "unavailable" {
		t.Basic = cpim.Closed
	} else if s := cpim.Show(x.Show); s.Valid() {
		t.Show = s
	}
	t.Notes = uniqueNotes(x.Statuses, x.Lang, true)
	if x.HasPriority && x.Priority >= -128 && x.Priority <= 127 {
		t.Priority, t.HasPriority = x.Priority, true
	}
	return cpim.Presence{Entity: from.Bare(), Watcher: watcher, Lang: x.Lang, Tuples: []cpim.Tuple{t}}, nil
}

// PresenceToXMPP maps a presence state to XMPP presence notifications
// (RFC 8048 §6.3 Table 2, INTERWORKING.md §3.3): one stanza per tuple
// (RFC 3922 §6.3.1, PRS-14), from the entity's JID with the tuple's
// resource, to the watcher's JID when the watcher is set.
//
//   - basic open gives no type, anything else 'unavailable' (PRS-03);
//   - the show of an available tuple is copied (PRS-09);
//   - notes become statuses: Lang becomes the stanza xml:lang, a note in
//     that language loses its own, one status per language is kept and
//     empty notes are dropped;
//   - a priority in 0..127 is copied; any other is dropped (PRS-07);
//   - timestamps are not passed (PRS-19).
//
// A presence without tuples gives one 'unavailable' from the bare JID
// (RFC 3922 §6.3.2). Whether to send it is the caller's decision
// (INTERWORKING.md §3.6: only when resources were reported available
// before); to tell XMPP which resources left, send the stanzas of
// [ChangedTuples] instead.
func (m *Mapper) PresenceToXMPP(p cpim.Presence) ([]XMPPPresence, error) {
	var to jid.JID
	if !p.Watcher.IsZero() {
		j, err := m.JID(p.Watcher)
		if err != nil {
			return nil, fmt.Errorf("mapping: presence watcher: %w", err)
		}
		to = j
	}
	if len(p.Tuples) == 0 {
		from, err := m.JID(p.Entity.Bare())
		if err != nil {
			return nil, fmt.Errorf("mapping: presence entity: %w", err)
		}
		return []XMPPPresence{{From: from, To: to, Type: "unavailable", Lang: p.Lang}}, nil
	}
	out := make([]XMPPPresence, 0, len(p.Tuples))
	for _, t := range p.Tuples {
		a := p.Entity.Bare()
		a.Resource = t.Resource
		from, err := m.JID(a)
		if err != nil {
			return nil, fmt.Errorf("mapping: presence tuple %q: %w", t.Resource, err)
		}
		x := XMPPPresence{From: from, To: to, Lang: p.Lang, Statuses: uniqueNotes(t.Notes, p.Lang, true)}
		if t.Basic == cpim.Open {
			if t.Show.Valid() {
				x.Show = string(t.Show)
			}
		} else {
			x.Type = "unavailable"
		}
		if t.HasPriority && t.Priority >= 0 && t.Priority <= 127 {
			x.Priority, x.HasPriority = t.Priority, true
		}
		out = append(out, x)
	}
	return out, nil
}

// uniqueNotes keeps the first non-empty note of each language, a note
// without a language being in lang (language tags compare without regard
// to case, RFC 5646 §2.1.1). With stripDefault a note in lang is returned
// without a language.
func uniqueNotes(notes []cpim.Text, lang string, stripDefault bool) []cpim.Text {
	var out []cpim.Text
	var seen []string
	for _, n := range notes {
		if strings.TrimSpace(n.Text) == "" {
			continue
		}
		eff := n.Lang
		if eff == "" {
			eff = lang
		}
		eff = strings.ToLower(eff)
		if slices.Contains(seen, eff) {
			continue
		}
		seen = append(seen, eff)
		if stripDefault && strings.EqualFold(n.Lang, lang) {
			n.Lang = ""
		}
		out = append(out, n)
	}
	return out
}

// PresenceToPIDF builds the PIDF document of a presence state
// (RFC 8048 §6.2 Table 1, INTERWORKING.md §3.2, §3.4–3.6):
//
//   - entity: the bare pres: URI of the entity (ADR-19, RFC 3922 §5.1.1);
//   - one tuple per tuple of p (PRS-13), with id "ID-" and the resource
//     encoded NCName-safe and reversibly: ASCII letters, digits, '-' and
//     '.' are kept, every other byte is written "_XX" in upper-case hex
//     (RFC 8048 §6.2 note 2, PRS-05);
//   - basic open or closed (a tuple with no basic counts as closed);
//   - for an open tuple with a show, <show xmlns='jabber:client'> in the
//     status (PRS-08); and one <dm:person> with the RPID activity of the
//     most available open tuple (chat, plain, away, xa, dnd in that order):
//     away and xa give <rpid:away/>, dnd <rpid:busy/>, chat and plain none
//     (§3.4 [D], PRS-20);
//   - contact sip:user@domain;gr=<resource> ([D], §3.2), with the priority
//     of [PriorityToPIDF] when it is not negative (PRS-06);
//   - the notes, one <note> per language (empty ones dropped), each with
//     its xml:lang: a note without a language gets p.Lang (RFC 3863 §4.1.6 SHOULD; the caller
//     also sends p.Lang as Content-Language);
//   - Timestamp when set. The caller must set distinct timestamps in
//     successive documents (RFC 3863 §4.1.7, PRS-12): that needs state the
//     mapper does not keep.
//
// A presence without tuples gives one closed tuple for the bare entity
// (id "ID-"), never a document without tuples (PRS-11). Tuples of
// resources that went offline stay as closed tuples for as long as the
// caller keeps them in p (§3.6: once, then dropped).
func (m *Mapper) PresenceToPIDF(p cpim.Presence) (*cpim.PIDF, error) {
	bare := p.Entity.Bare()
	entity, err := AddressToURI(bare, SchemePres)
	if err != nil {
		return nil, fmt.Errorf("mapping: presence entity: %w", err)
	}
	doc := &cpim.PIDF{Entity: entity}
	tuples := p.Tuples
	if len(tuples) == 0 {
		tuples = []cpim.Tuple{{Basic: cpim.Closed}}
	}
	best := -1
	for i, t := range tuples {
		if slices.ContainsFunc(tuples[:i], func(o cpim.Tuple) bool { return o.Resource == t.Resource }) {
			return nil, fmt.Errorf("mapping: presence: two tuples for resource %q", t.Resource)
		}
		a := bare
		a.Resource = t.Resource
		contact, err := AddressToURI(a, SchemeSIP)
		if err != nil {
			return nil, fmt.Errorf("mapping: presence tuple %q: %w", t.Resource, err)
		}
		pt := cpim.PIDFTuple{
			ID:        tupleID(t.Resource),
			Basic:     cpim.Closed,
			Contact:   contact,
			Timestamp: t.Timestamp,
		}
		// RFC 3863 §4.1.6: a note SHOULD carry xml:lang; many UAs ignore
		// Content-Language.
		pt.Notes = uniqueNotes(t.Notes, p.Lang, false)
		for i := range pt.Notes {
			if pt.Notes[i].Lang == "" {
				pt.Notes[i].Lang = p.Lang
			}
		}
		if t.Basic == cpim.Open {
			pt.Basic = cpim.Open
			if t.Show.Valid() {
				pt.Show = t.Show
			}
			if best < 0 || availability(pt.Show) < availability(doc.Tuples[best].Show) {
				best = i
			}
		}
		if t.HasPriority {
			pt.Priority, pt.HasPriority = PriorityToPIDF(t.Priority)
		}
		doc.Tuples = append(doc.Tuples, pt)
	}
	if best >= 0 {
		var act string
		switch doc.Tuples[best].Show {
		case cpim.ShowAway, cpim.ShowXA:
			act = "away"
		case cpim.ShowDND:
			act = "busy"
		}
		if act != "" {
			doc.Persons = []cpim.Person{{ID: personID, Activities: []string{act}}}
		}
	}
	return doc, nil
}

// availability ranks show values, most available first.
func availability(s cpim.Show) int {
	switch s {
	case cpim.ShowChat:
		return 0
	case cpim.ShowNone:
		return 1
	case cpim.ShowAway:
		return 2
	case cpim.ShowXA:
		return 3
	}
	return 4
}

// tupleID returns the PIDF tuple id of an XMPP resource: "ID-" followed by
// the resource with every byte other than an ASCII letter, digit, '-' or
// '.' written as "_XX" (upper-case hex). The result is an NCName (the
// xs:ID of RFC 3863 §4.4; RFC 8048 §6.2 note 2) and [resourceFromTupleID]
// inverts it.
func tupleID(resource string) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(tupleIDPrefix)+len(resource))
	b = append(b, tupleIDPrefix...)
	for i := 0; i < len(resource); i++ {
		c := resource[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' {
			b = append(b, c)
			continue
		}
		b = append(b, '_', hex[c>>4], hex[c&15])
	}
	return string(b)
}

// resourceFromTupleID returns the resource a tuple id stands for
// (INTERWORKING.md §3.3 [D]): for an id of [tupleID]'s form the decoded
// resource; for another id starting "ID-" the rest verbatim; for any other
// id the id itself (RFC 3922 §5.2.1).
func resourceFromTupleID(id string) string {
	rest, ok := strings.CutPrefix(id, tupleIDPrefix)
	if !ok {
		return id
	}
	if strings.IndexByte(rest, '_') < 0 {
		return rest
	}
	b := make([]byte, 0, len(rest))
	for i := 0; i < len(rest); i++ {
		if rest[i] != '_' {
			b = append(b, rest[i])
			continue
		}
		if i+2 >= len(rest) {
			return rest
		}
		hi, lo := unhex(rest[i+1]), unhex(rest[i+2])
		if hi < 0 || lo < 0 {
			return rest
		}
		b = append(b, byte(hi<<4|lo))
		i += 2
	}
	return string(b)
}

// PresenceFromPIDF maps a PIDF document to a presence state
// (RFC 8048 §6.3 Table 2, INTERWORKING.md §3.3–3.6).
//
//   - Entity is the bare address of the document's entity. When the entity
//     cannot be mapped, Entity is zero with Original set to it. The mapper
//     only reports it: the caller compares it with the dialog identity and
//     trusts the dialog (§3.3 [D]).
//   - Lang is contentLanguage (the Content-Language header).
//   - Each tuple gives a tuple whose resource is the gr parameter of its
//     <contact> when that is a SIP URI with one, else the tuple id as
//     [resourceFromTupleID] reads it. A resource that is not a valid XMPP
//     resourcepart is replaced by the [tupleID] encoding of the id (ASCII,
//     always valid); when two tuples give the same resource the first is
//     kept.
//   - basic open and closed map as such (PRS-03); a tuple without basic is
//     closed.
//   - The show of an open tuple is its jabber:client show (PRS-09), else
//     the first match of §3.4 over the tuple's and the persons' RPID data
//     (PRS-20): away-like activities → away; vacation, holiday, travel,
//     sleeping → xa; busy-like → dnd; permanent-absence → closed (RFC 4480
//     §3.2); legacy im:im away → away, busy → dnd; user-input idle → away.
//   - Notes are the tuple's notes, one per language (a note without a
//     language is in contentLanguage, and a note in contentLanguage is
//     stored without one), empty ones dropped; a tuple without
//     notes takes the persons' <rpid:note>s in <rpid:activities>, else an
//     <rpid:other> text. Presence-level notes and <dm:note>s are not
//     passed (RFC 3922 §5.2.11).
//   - The priority is [PriorityFromPIDF] of the contact priority (PRS-07).
//   - The timestamp is kept in the tuple, for the caller (an XEP-0203
//     delay at most; PRS-19: it is not a stanza field).
//
// A document without tuples gives a presence without tuples; what to send
// then is the caller's decision (§3.6). A nil document is an error.
func (m *Mapper) PresenceFromPIDF(doc *cpim.PIDF, contentLanguage string) (cpim.Presence, error) {
	if doc == nil {
		return cpim.Presence{}, &cpim.Error{Condition: cpim.BadRequest, Text: "mapping: no PIDF document"}
	}
	p := cpim.Presence{Lang: contentLanguage}
	if a, err := URIToAddress(doc.Entity); err == nil && a.Local != "" {
		p.Entity = a.Bare()
	}
	p.Entity.Original = doc.Entity

	// RPID data of the person applies to every tuple (RFC 4479 §3.1).
	var personActs []string
	var personNotes []cpim.Text
	var personOther, personInput string
	for _, per := range doc.Persons {
		personActs = append(personActs, per.Activities...)
		personNotes = append(personNotes, per.ActivityNotes...)
		if personOther == "" {
			personOther = per.OtherActivity
		}
		if personInput == "" {
			personInput = per.UserInput
		}
	}

	var seen []string
	for _, pt := range doc.Tuples {
		res := tupleResource(pt)
		if slices.Contains(seen, res) {
			continue
		}
		seen = append(seen, res)
		t := cpim.Tuple{Resource: res, Basic: cpim.Closed, Timestamp: pt.Timestamp}
		if pt.Basic == cpim.Open {
			t.Basic = cpim.Open
			show, open := pt.Show, true
			if show == cpim.ShowNone {
				input := pt.UserInput
				if input == "" {
					input = personInput
				}
				show, open = showFromRPID(append(slices.Clip(pt.Activities), personActs...), pt.IM, input)
			}
			if open {
				t.Show = show
			} else {
				t.Basic = cpim.Closed
			}
		}
		t.Notes = uniqueNotes(pt.Notes, contentLanguage, true)
		if len(t.Notes) == 0 {
			t.Notes = uniqueNotes(personNotes, contentLanguage, true)
		}
		if len(t.Notes) == 0 && strings.TrimSpace(personOther) != "" {
			t.Notes = []cpim.Text{{Text: personOther}}
		}
		if pt.HasPriority {
			t.Priority, t.HasPriority = PriorityFromPIDF(pt.Priority), true
		}
		p.Tuples = append(p.Tuples, t)
	}
	return p, nil
}

// tupleResource picks the XMPP resource of a PIDF tuple (§3.3 [D]).
func tupleResource(t cpim.PIDFTuple) string {
	if t.Contact != "" {
		if a, err := URIToAddress(t.Contact); err == nil && a.Resource != "" {
			return a.Resource // already a valid resourcepart
		}
	}
	res := resourceFromTupleID(t.ID)
	if res == "" {
		return ""
	}
	if j, err := jid.New("", "example.invalid", res); err == nil && j.Resourcepart() == res {
		return res
	}
	return tupleID(t.ID)
}

// RPID activities by the show they give (INTERWORKING.md §3.4, PRS-20).
var (
	awayActivities = []string{"away", "meal", "breakfast", "lunch", "dinner", "steering", "in-transit"}
	xaActivities   = []string{"vacation", "holiday", "travel", "sleeping"}
	dndActivities  = []string{"busy", "on-the-phone", "meeting", "appointment", "performance", "presentation"}
)

// showFromRPID derives the show of an open tuple without a jabber:client
// show, first match wins (INTERWORKING.md §3.4 steps 1–6). open is false
// when the tuple must be unavailable (permanent-absence).
func showFromRPID(activities []string, im, userInput string) (show cpim.Show, open bool) {
	has := func(set []string) bool {
		for _, a := range activities {
			if slices.Contains(set, a) {
				return true
			}
		}
		return false
	}
	switch {
	case has(awayActivities):
		return cpim.ShowAway, true
	case has(xaActivities):
		return cpim.ShowXA, true
	case has(dndActivities):
		return cpim.ShowDND, true
	case slices.Contains(activities, "permanent-absence"):
		return cpim.ShowNone, false
	case strings.EqualFold(im, "away"):
		return cpim.ShowAway, true
	case strings.EqualFold(im, "busy"):
		return cpim.ShowDND, true
	case userInput == "idle":
		return cpim.ShowAway, true
	}
	return cpim.ShowNone, true
}

// PriorityToPIDF maps an XMPP priority to a PIDF contact priority in
// thousandths (INTERWORKING.md §3.5 [D]): milli = floor(k*1000/127), so 0
// gives 0, 1 gives 0.007, 126 gives 0.992 and 127 gives 1, all 128 values
// distinct (RFC 8048 §6.2 note 6). A negative priority, or one above 127,
// is not mapped (ok false; PRS-06).
func PriorityToPIDF(k int) (milli int, ok bool) {
	if k < 0 || k > 127 {
		return 0, false
	}
	return k * 1000 / 127, true
}

// PriorityFromPIDF maps a PIDF contact priority in thousandths to an XMPP
// priority (INTERWORKING.md §3.5 [D]): the smallest k in 0..127 with
// PriorityToPIDF(k) ≥ milli, which inverts PriorityToPIDF exactly
// (0.001 → 1, 0.008 → 2, 0.5 → 64, 0.999 → 127). The result is never
// negative (PRS-07); milli is clamped to 0..1000.
func PriorityFromPIDF(milli int) int {
	switch {
	case milli <= 0:
		return 0
	case milli >= 1000:
		return 127
	}
	// floor(1000k/127) ≥ p ⇔ 1000k/127 ≥ p (p integer) ⇔ k ≥ 127p/1000.
	return (127*milli + 999) / 1000
}

// ChangedTuples returns what XMPP needs to hear when the state of a SIP
// presentity goes from prev to next (RFC 3922 §6.3.1, PRS-14,
// INTERWORKING.md §3.6): the tuples of next that are new or whose
// availability, show, notes (in any order) or priority changed, in next's
// order, then a closed tuple for each resource that was available in prev
// and is missing from next. The priority counts because XMPP routes
// messages by it (RFC 6121 §8.5.2). Timestamps do not count.
//
// With a zero prev (the first notification) every tuple of next is
// returned.
func ChangedTuples(prev, next cpim.Presence) []cpim.Tuple {
	var out []cpim.Tuple
	for _, t := range next.Tuples {
		i := slices.IndexFunc(prev.Tuples, func(o cpim.Tuple) bool { return o.Resource == t.Resource })
		if i < 0 || changed(prev.Tuples[i], t) {
			out = append(out, t)
		}
	}
	for _, o := range prev.Tuples {
		if o.Basic != cpim.Open {
			continue
		}
		if !slices.ContainsFunc(next.Tuples, func(t cpim.Tuple) bool { return t.Resource == o.Resource }) {
			out = append(out, cpim.Tuple{Resource: o.Resource, Basic: cpim.Closed})
		}
	}
	return out
}

func changed(a, b cpim.Tuple) bool {
	if a.Basic != b.Basic || a.Show != b.Show || a.HasPriority != b.HasPriority ||
		a.HasPriority && a.Priority != b.Priority || len(a.Notes) != len(b.Notes) {
		return true
	}
	for _, n := range a.Notes {
		if !slices.Contains(b.Notes, n) {
			return true
		}
	}
	return false
}
