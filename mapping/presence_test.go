package mapping

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"cpimgw/cpim"

	"mellium.im/xmpp/jid"
)

// presenceDomains: juliet@example.com is an XMPP user, romeo@example.net a
// SIP user served in the same-domain mode (the users of RFC 8048 §6), any
// other SIP domain gets gateway-subdomain JIDs.
var presenceDomains = Domains{
	Component: "gw.example.com",
	XMPP:      []string{"example.com"},
	SIP:       []string{"example.net"},
	Foreign:   ForeignEscape,
}

func presenceMapper(t testing.TB) *Mapper {
	t.Helper()
	m, err := NewMapper(presenceDomains)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustJID(s string) jid.JID { return jid.MustParse(s) }

// renderStanza writes a stanza as XMPP would carry it, for goldens and
// failure messages.
func renderStanza(x XMPPPresence) string {
	var b strings.Builder
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;").Replace
	text := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
	b.WriteString("<presence from='" + esc(x.From.String()) + "'")
	if s := x.To.String(); s != "" {
		b.WriteString(" to='" + esc(s) + "'")
	}
	if x.Type != "" {
		b.WriteString(" type='" + x.Type + "'")
	}
	if x.ID != "" {
		b.WriteString(" id='" + esc(x.ID) + "'")
	}
	if x.Lang != "" {
		b.WriteString(" xml:lang='" + esc(x.Lang) + "'")
	}
	if x.Show == "" && len(x.Statuses) == 0 && !x.HasPriority {
		b.WriteString("/>\n")
		return b.String()
	}
	b.WriteString(">\n")
	if x.Show != "" {
		b.WriteString("  <show>" + text(x.Show) + "</show>\n")
	}
	for _, s := range x.Statuses {
		b.WriteString("  <status")
		if s.Lang != "" {
			b.WriteString(" xml:lang='" + esc(s.Lang) + "'")
		}
		b.WriteString(">" + text(s.Text) + "</status>\n")
	}
	if x.HasPriority {
		b.WriteString("  <priority>" + strconv.Itoa(x.Priority) + "</priority>\n")
	}
	b.WriteString("</presence>\n")
	return b.String()
}

func renderStanzas(xs []XMPPPresence) string {
	var b strings.Builder
	for _, x := range xs {
		b.WriteString(renderStanza(x))
	}
	return b.String()
}

// x2s maps one stanza to a PIDF document.
func presX2S(t *testing.T, m *Mapper, x XMPPPresence) *cpim.PIDF {
	t.Helper()
	p, err := m.PresenceFromXMPP(x)
	if err != nil {
		t.Fatalf("PresenceFromXMPP: %v", err)
	}
	doc, err := m.PresenceToPIDF(p)
	if err != nil {
		t.Fatalf("PresenceToPIDF: %v", err)
	}
	if _, err := doc.Marshal(); err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return doc
}

// s2x maps a PIDF document to stanzas.
func presS2X(t *testing.T, m *Mapper, doc string, lang string) []XMPPPresence {
	t.Helper()
	d, err := cpim.ParsePIDF([]byte(doc))
	if err != nil {
		t.Fatalf("ParsePIDF: %v", err)
	}
	p, err := m.PresenceFromPIDF(d, lang)
	if err != nil {
		t.Fatalf("PresenceFromPIDF: %v", err)
	}
	xs, err := m.PresenceToXMPP(p)
	if err != nil {
		t.Fatalf("PresenceToXMPP: %v", err)
	}
	return xs
}

// TestPresenceTable1 checks every row of RFC 8048 §6.2 Table 1 (XMPP →
// SIP, INTERWORKING.md §3.2, PRS-01, PRS-02, PRS-04…PRS-08).
func TestPresenceTable1(t *testing.T) {
	m := presenceMapper(t)
	from := mustJID("juliet@example.com/yn0cl4bnw0yr3vym")
	to := mustJID("romeo@example.net")

	t.Run("presence stanza is a notification (note 1)", func(t *testing.T) {
		for _, typ := range []string{"subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "error", "bogus"} {
			_, err := m.PresenceFromXMPP(XMPPPresence{From: from, Type: typ})
			if cpim.ConditionOf(err) != cpim.BadRequest {
				t.Errorf("type %q: error %v, want bad-request", typ, err)
			}
		}
	})
	t.Run("resource to tuple id (note 2)", func(t *testing.T) {
		doc := presX2S(t, m, XMPPPresence{From: from, To: to})
		if got := doc.Tuples[0].ID; got != "ID-yn0cl4bnw0yr3vym" {
			t.Errorf("tuple id %q, want ID-yn0cl4bnw0yr3vym (RFC 8048 Example 19)", got)
		}
	})
	t.Run("from to entity, bare, pres:", func(t *testing.T) {
		p, _ := m.PresenceFromXMPP(XMPPPresence{From: from})
		if !p.Entity.Equal(cpim.Address{Local: "juliet", Domain: "example.com"}) {
			t.Errorf("entity %+v", p.Entity)
		}
		doc := presX2S(t, m, XMPPPresence{From: from})
		if doc.Entity != "pres:juliet@example.com" {
			t.Errorf("entity %q, want pres:juliet@example.com (ADR-19)", doc.Entity)
		}
	})
	t.Run("id has no mapping (note 3)", func(t *testing.T) {
		a := presX2S(t, m, XMPPPresence{From: from, ID: "x1"})
		b := presX2S(t, m, XMPPPresence{From: from})
		if !reflect.DeepEqual(a, b) {
			t.Errorf("the stanza id changed the document")
		}
	})
	t.Run("to to watcher", func(t *testing.T) {
		p, err := m.PresenceFromXMPP(XMPPPresence{From: from, To: to})
		if err != nil || !p.Watcher.Equal(cpim.Address{Local: "romeo", Domain: "example.net"}) {
			t.Errorf("watcher %+v, %v", p.Watcher, err)
		}
	})
	t.Run("type to basic (notes 4, 5)", func(t *testing.T) {
		if got := presX2S(t, m, XMPPPresence{From: from}).Tuples[0].Basic; got != cpim.Open {
			t.Errorf("no type gives basic %q, want open", got)
		}
		doc := presX2S(t, m, XMPPPresence{From: from, Type: "unavailable", Show: "away"})
		if got := doc.Tuples[0]; got.Basic != cpim.Closed || got.Show != "" || len(doc.Persons) != 0 {
			t.Errorf("unavailable gives %+v, persons %v; want closed without show", got, doc.Persons)
		}
	})
	t.Run("xml:lang to Content-Language", func(t *testing.T) {
		p, _ := m.PresenceFromXMPP(XMPPPresence{From: from, Lang: "en", Statuses: []cpim.Text{{Text: "Hi"}}})
		if p.Lang != "en" || p.Tuples[0].Notes[0] != (cpim.Text{Text: "Hi"}) {
			t.Errorf("lang %q, notes %v", p.Lang, p.Tuples[0].Notes)
		}
	})
	t.Run("priority to contact priority (note 6)", func(t *testing.T) {
		for _, tc := range []struct {
			k     int
			milli int
			ok    bool
		}{{13, 102, true}, {0, 0, true}, {127, 1000, true}, {-1, 0, false}, {-128, 0, false}} {
			tu := presX2S(t, m, XMPPPresence{From: from, Priority: tc.k, HasPriority: true}).Tuples[0]
			if tu.HasPriority != tc.ok || tu.Priority != tc.milli {
				t.Errorf("priority %d gives (%d, %v), want (%d, %v)", tc.k, tu.Priority, tu.HasPriority, tc.milli, tc.ok)
			}
		}
		if tu := presX2S(t, m, XMPPPresence{From: from}).Tuples[0]; tu.HasPriority {
			t.Errorf("absent priority mapped to %d", tu.Priority)
		}
	})
	t.Run("show copied as jabber:client (note 7)", func(t *testing.T) {
		doc := presX2S(t, m, XMPPPresence{From: from, Show: "away"})
		out, _ := doc.Marshal()
		if !strings.Contains(string(out), `<show xmlns="jabber:client">away</show>`) {
			t.Errorf("no jabber:client show:\n%s", out)
		}
	})
	t.Run("status to note", func(t *testing.T) {
		doc := presX2S(t, m, XMPPPresence{From: from, Statuses: []cpim.Text{{Text: "retired to the chamber"}}})
		if want := []cpim.Text{{Text: "retired to the chamber"}}; !reflect.DeepEqual(doc.Tuples[0].Notes, want) {
			t.Errorf("notes %v, want %v", doc.Tuples[0].Notes, want)
		}
	})
	t.Run("contact", func(t *testing.T) {
		if got := presX2S(t, m, XMPPPresence{From: from}).Tuples[0].Contact; got != "sip:juliet@example.com;gr=yn0cl4bnw0yr3vym" {
			t.Errorf("contact %q", got)
		}
	})
	t.Run("unmappable from", func(t *testing.T) {
		_, err := m.PresenceFromXMPP(XMPPPresence{From: mustJID("juliet@elsewhere.example/r")})
		if cpim.ConditionOf(err) != cpim.ItemNotFound {
			t.Errorf("error %v, want item-not-found", err)
		}
	})
}

// TestPresenceRFC8048Example19 checks the whole document against RFC 8048
// Example 19.
func TestPresenceRFC8048Example19(t *testing.T) {
	m := presenceMapper(t)
	doc := presX2S(t, m, XMPPPresence{From: mustJID("juliet@example.com/yn0cl4bnw0yr3vym"), To: mustJID("romeo@example.net"), Show: "away"})
	want := &cpim.PIDF{
		Entity: "pres:juliet@example.com",
		Tuples: []cpim.PIDFTuple{{ID: "ID-yn0cl4bnw0yr3vym", Basic: cpim.Open, Show: cpim.ShowAway,
			Contact: "sip:juliet@example.com;gr=yn0cl4bnw0yr3vym"}},
		Persons: []cpim.Person{{ID: "person", Activities: []string{"away"}}},
	}
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("got %+v\nwant %+v", doc, want)
	}
}

// TestPresenceTable2 checks every row of RFC 8048 §6.3 Table 2 (SIP →
// XMPP, INTERWORKING.md §3.3, PRS-03, PRS-04, PRS-07, PRS-09, PRS-19).
func TestPresenceTable2(t *testing.T) {
	m := presenceMapper(t)
	doc := func(status, tail string) string {
		return `<?xml version='1.0' encoding='UTF-8'?>
<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:romeo@example.net'>
  <tuple id='ID-dr4hcr0st3lup4c'><status>` + status + `</status>` + tail + `</tuple></presence>`
	}
	tests := map[string]struct {
		doc  string
		lang string
		want string
	}{
		"basic closed (note 1, Example 21)": {doc("<basic>closed</basic>", ""), "",
			"<presence from='romeo@example.net/dr4hcr0st3lup4c' type='unavailable'/>\n"},
		"basic open (note 1)": {doc("<basic>open</basic>", ""), "",
			"<presence from='romeo@example.net/dr4hcr0st3lup4c'/>\n"},
		"Content-Language to xml:lang": {doc("<basic>open</basic>", "<note>Wooing Juliet</note>"), "en",
			"<presence from='romeo@example.net/dr4hcr0st3lup4c' xml:lang='en'>\n  <status>Wooing Juliet</status>\n</presence>\n"},
		"priority (note 2)": {doc("<basic>open</basic>", "<contact priority='0.5'>sip:romeo@example.net</contact>"), "",
			"<presence from='romeo@example.net/dr4hcr0st3lup4c'>\n  <priority>64</priority>\n</presence>\n"},
		"note to status": {doc("<basic>open</basic>", "<note xml:lang='en'>Wooing Juliet</note><note xml:lang='it'>Corteggio Giulietta</note>"), "",
			"<presence from='romeo@example.net/dr4hcr0st3lup4c'>\n  <status xml:lang='en'>Wooing Juliet</status>\n  <status xml:lang='it'>Corteggio Giulietta</status>\n</presence>\n"},
		"show (note 3)": {doc("<basic>open</basic><show xmlns='jabber:client'>dnd</show>", ""), "",
			"<presence from='romeo@example.net/dr4hcr0st3lup4c'>\n  <show>dnd</show>\n</presence>\n"},
		"timestamp and contact not passed (PRS-19)": {doc("<basic>open</basic>", "<contact>im:romeo@example.net</contact><timestamp>2024-01-01T00:00:00Z</timestamp>"), "",
			"<presence from='romeo@example.net/dr4hcr0st3lup4c'/>\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := renderStanzas(presS2X(t, m, tc.doc, tc.lang)); got != tc.want {
				t.Errorf("got\n%swant\n%s", got, tc.want)
			}
		})
	}
	t.Run("From and To", func(t *testing.T) {
		d, _ := cpim.ParsePIDF([]byte(doc("<basic>open</basic>", "")))
		p, err := m.PresenceFromPIDF(d, "")
		if err != nil {
			t.Fatal(err)
		}
		p.Watcher = cpim.Address{Local: "juliet", Domain: "example.com", Resource: "yn0cl4bnw0yr3vym"}
		xs, err := m.PresenceToXMPP(p)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := renderStanzas(xs), "<presence from='romeo@example.net/dr4hcr0st3lup4c' to='juliet@example.com/yn0cl4bnw0yr3vym'/>\n"; got != want {
			t.Errorf("got\n%swant\n%s", got, want)
		}
	})
}

// TestPresenceShowBothWays checks the §3.4 table row by row (PRS-08,
// PRS-09, PRS-20): the X2S document and the show read back from it.
func TestPresenceShowBothWays(t *testing.T) {
	m := presenceMapper(t)
	from := mustJID("juliet@example.com/balcony")
	tests := []struct {
		typ, show string
		basic     cpim.Basic
		jabber    cpim.Show
		rpid      []string
	}{
		{"", "", cpim.Open, "", nil},
		{"", "chat", cpim.Open, cpim.ShowChat, nil},
		{"", "away", cpim.Open, cpim.ShowAway, []string{"away"}},
		{"", "xa", cpim.Open, cpim.ShowXA, []string{"away"}},
		{"", "dnd", cpim.Open, cpim.ShowDND, []string{"busy"}},
		{"unavailable", "", cpim.Closed, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.typ+"/"+tc.show, func(t *testing.T) {
			doc := presX2S(t, m, XMPPPresence{From: from, Type: tc.typ, Show: tc.show})
			tu := doc.Tuples[0]
			var rpid []string
			if len(doc.Persons) > 0 {
				rpid = doc.Persons[0].Activities
			}
			if tu.Basic != tc.basic || tu.Show != tc.jabber || !reflect.DeepEqual(rpid, tc.rpid) {
				t.Errorf("got basic %q, show %q, RPID %v; want %q, %q, %v", tu.Basic, tu.Show, rpid, tc.basic, tc.jabber, tc.rpid)
			}
			out, err := doc.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			xs := presS2X(t, m, string(out), "")
			if len(xs) != 1 || xs[0].Type != tc.typ || xs[0].Show != tc.show || xs[0].From.String() != from.String() {
				t.Errorf("read back as %s", renderStanzas(xs))
			}
		})
	}
}

// TestPresenceRPIDToShow checks the S2X derivation of §3.4 for every
// activity of each group, the legacy pidf:im values, user-input and the
// first-match order (PRS-20).
func TestPresenceRPIDToShow(t *testing.T) {
	m := presenceMapper(t)
	type want struct {
		typ, show string
	}
	tests := map[string]want{}
	for _, a := range []string{"away", "meal", "breakfast", "lunch", "dinner", "steering", "in-transit"} {
		tests["person:"+a] = want{"", "away"}
		tests["status:"+a] = want{"", "away"}
	}
	for _, a := range []string{"vacation", "holiday", "travel", "sleeping"} {
		tests["person:"+a] = want{"", "xa"}
		tests["tuple:"+a] = want{"", "xa"}
	}
	for _, a := range []string{"busy", "on-the-phone", "meeting", "appointment", "performance", "presentation"} {
		tests["person:"+a] = want{"", "dnd"}
		tests["status:"+a] = want{"", "dnd"}
	}
	tests["person:permanent-absence"] = want{"unavailable", ""}
	for _, a := range []string{"looking-for-work", "playing", "shopping", "spectator", "tv", "unknown", "working", "worship"} {
		tests["person:"+a] = want{"", ""}
	}
	// First match wins, in the order of the groups, not of the document.
	tests["person:busy,away"] = want{"", "away"}
	tests["person:sleeping,meeting"] = want{"", "xa"}
	tests["person:permanent-absence,busy"] = want{"", "dnd"}
	tests["person:permanent-absence;im:busy"] = want{"unavailable", ""}
	tests["person:tv;im:busy"] = want{"", "dnd"}
	tests["im:away"] = want{"", "away"}
	tests["im:busy"] = want{"", "dnd"}
	tests["im:lunch"] = want{"", ""}
	tests["im:busy;person-input:idle"] = want{"", "dnd"}
	tests["person-input:idle"] = want{"", "away"}
	tests["person-input:active"] = want{"", ""}
	tests["tuple-input:idle"] = want{"", "away"}
	tests["status:working;tuple-input:idle"] = want{"", "away"}
	// A jabber:client show wins over RPID; basic closed wins over both.
	tests["jabber:chat;person:busy"] = want{"", "chat"}
	tests["jabber:away;im:busy"] = want{"", "away"}
	tests["closed;person:busy"] = want{"unavailable", ""}
	tests["closed;jabber:dnd"] = want{"unavailable", ""}

	for name, w := range tests {
		t.Run(name, func(t *testing.T) {
			basic, status, tuple, person, personInput := "open", "", "", "", ""
			for _, part := range strings.Split(name, ";") {
				kind, val, _ := strings.Cut(part, ":")
				acts := ""
				for _, a := range strings.Split(val, ",") {
					acts += "<rpid:" + a + "/>"
				}
				switch kind {
				case "person":
					person = "<rpid:activities>" + acts + "</rpid:activities>"
				case "status":
					status += "<rpid:activities>" + acts + "</rpid:activities>"
				case "tuple":
					tuple += "<rpid:activities>" + acts + "</rpid:activities>"
				case "im":
					status += "<im:im>" + val + "</im:im>"
				case "jabber":
					status += "<show xmlns='jabber:client'>" + val + "</show>"
				case "person-input":
					personInput = "<rpid:user-input>" + val + "</rpid:user-input>"
				case "tuple-input":
					tuple += "<rpid:user-input>" + val + "</rpid:user-input>"
				case "closed":
					basic = "closed"
				}
			}
			doc := `<presence xmlns='urn:ietf:params:xml:ns:pidf' xmlns:im='urn:ietf:params:xml:ns:pidf:im'
  xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid'
  entity='pres:romeo@example.net'>
  <tuple id='orchard'><status><basic>` + basic + `</basic>` + status + `</status>` + tuple + `</tuple>
  <dm:person id='p'>` + person + personInput + `</dm:person>
</presence>`
			xs := presS2X(t, m, doc, "")
			if len(xs) != 1 || xs[0].Type != w.typ || xs[0].Show != w.show {
				t.Errorf("got %swant type %q show %q\n%s", renderStanzas(xs), w.typ, w.show, doc)
			}
		})
	}
}

// TestPresenceRFC3922Examples: the legacy pidf:im examples of RFC 3922
// §5.2.10 and §5.2.11.
func TestPresenceRFC3922Examples(t *testing.T) {
	m := presenceMapper(t)
	doc := `<?xml version='1.0' encoding='UTF-8'?>
<presence xmlns='urn:ietf:params:xml:ns:pidf'
          xmlns:im='urn:ietf:params:xml:ns:pidf:im'
          entity='pres:romeo@example.net'>
  <tuple id='orchard'>
    <status>
      <basic>open</basic>
      <im:im>busy</im:im>
    </status>
    <note>Wooing Juliet</note>
  </tuple>
</presence>`
	want := "<presence from='romeo@example.net/orchard'>\n  <show>dnd</show>\n  <status>Wooing Juliet</status>\n</presence>\n"
	if got := renderStanzas(presS2X(t, m, doc, "")); got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
}

func TestPriorityVectors(t *testing.T) {
	to := map[int]int{0: 0, 1: 7, 2: 15, 13: 102, 126: 992, 127: 1000}
	for k, want := range to {
		if got, ok := PriorityToPIDF(k); !ok || got != want {
			t.Errorf("PriorityToPIDF(%d) = %d, %v; want %d (INTERWORKING.md §3.5)", k, got, ok, want)
		}
	}
	for _, k := range []int{-1, -128, 128} {
		if _, ok := PriorityToPIDF(k); ok {
			t.Errorf("PriorityToPIDF(%d) mapped (PRS-06)", k)
		}
	}
	from := map[int]int{0: 0, 1: 1, 7: 1, 8: 2, 15: 2, 102: 13, 500: 64, 992: 126, 993: 127, 999: 127, 1000: 127, -5: 0, 2000: 127}
	for milli, want := range from {
		if got := PriorityFromPIDF(milli); got != want {
			t.Errorf("PriorityFromPIDF(%d) = %d, want %d", milli, got, want)
		}
	}
}

// TestPriorityExhaustive: all 128 values map to distinct PIDF priorities
// and back (PRS-06), and every PIDF priority maps into 0..127 (PRS-07).
func TestPriorityExhaustive(t *testing.T) {
	seen := map[int]int{}
	for k := 0; k <= 127; k++ {
		milli, ok := PriorityToPIDF(k)
		if !ok || milli < 0 || milli > 1000 {
			t.Fatalf("PriorityToPIDF(%d) = %d, %v", k, milli, ok)
		}
		if j, dup := seen[milli]; dup {
			t.Errorf("%d and %d both map to %d", j, k, milli)
		}
		seen[milli] = k
		if back := PriorityFromPIDF(milli); back != k {
			t.Errorf("PriorityFromPIDF(PriorityToPIDF(%d)) = %d", k, back)
		}
	}
	prev := 0
	for milli := 0; milli <= 1000; milli++ {
		k := PriorityFromPIDF(milli)
		if k < prev || k > 127 {
			t.Fatalf("PriorityFromPIDF(%d) = %d, after %d", milli, k, prev)
		}
		prev = k
	}
}

// TestPresenceNotesLanguages: statuses in several languages become one
// note each and back, the stanza xml:lang being the Content-Language.
func TestPresenceNotesLanguages(t *testing.T) {
	m := presenceMapper(t)
	x := XMPPPresence{
		From: mustJID("juliet@example.com/balcony"), Lang: "en",
		Statuses: []cpim.Text{
			{Text: "At the window"},
			{Lang: "de", Text: "Am Fenster"},
			{Lang: "it", Text: "Alla finestra"},
			{Lang: "DE", Text: "second German status, dropped (RFC 6121 §4.7.2.2)"},
			{Lang: "EN", Text: "second status in the stanza language, dropped"},
			{Lang: "fr", Text: "  "},
		},
	}
	p, err := m.PresenceFromXMPP(x)
	if err != nil {
		t.Fatal(err)
	}
	wantNotes := []cpim.Text{{Text: "At the window"}, {Lang: "de", Text: "Am Fenster"}, {Lang: "it", Text: "Alla finestra"}}
	if p.Lang != "en" || !reflect.DeepEqual(p.Tuples[0].Notes, wantNotes) {
		t.Fatalf("lang %q notes %v, want en %v", p.Lang, p.Tuples[0].Notes, wantNotes)
	}
	doc, err := m.PresenceToPIDF(p)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := doc.Marshal()
	for _, want := range []string{`<note xml:lang="en">At the window</note>`, `<note xml:lang="de">Am Fenster</note>`, `<note xml:lang="it">Alla finestra</note>`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
	// Back, with Content-Language: en.
	xs := presS2X(t, m, string(out), "en")
	want := "<presence from='juliet@example.com/balcony' xml:lang='en'>\n  <status>At the window</status>\n  <status xml:lang='de'>Am Fenster</status>\n  <status xml:lang='it'>Alla finestra</status>\n</presence>\n"
	if got := renderStanzas(xs); got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
	// A note in the Content-Language loses its xml:lang; a later note
	// without one is a duplicate of it.
	xs = presS2X(t, m, `<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:romeo@example.net'><tuple id='a'><status><basic>open</basic></status>
<note xml:lang='EN'>one</note><note>two</note><note xml:lang='de'>drei</note></tuple></presence>`, "en")
	want = "<presence from='romeo@example.net/a' xml:lang='en'>\n  <status>one</status>\n  <status xml:lang='de'>drei</status>\n</presence>\n"
	if got := renderStanzas(xs); got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
}

// TestPresenceNoteFallback: <rpid:note> and <rpid:other> become statuses
// only when the tuple has no note (§3.4 step 6).
func TestPresenceNoteFallback(t *testing.T) {
	m := presenceMapper(t)
	doc := func(tupleNote, person string) string {
		return `<presence xmlns='urn:ietf:params:xml:ns:pidf' xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model'
 xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' entity='pres:romeo@example.net'>
<tuple id='a'><status><basic>open</basic></status>` + tupleNote + `</tuple>
<note>presence-level, never passed</note>
<dm:person id='p'>` + person + `<dm:note>person note, never passed</dm:note></dm:person></presence>`
	}
	tests := map[string]struct{ doc, want string }{
		"tuple note wins": {doc("<note>tuple</note>", "<rpid:activities><rpid:note>rpid</rpid:note><rpid:other>other</rpid:other></rpid:activities>"),
			"<presence from='romeo@example.net/a'>\n  <status>tuple</status>\n</presence>\n"},
		"rpid note": {doc("", "<rpid:activities><rpid:note xml:lang='en'>Far away</rpid:note><rpid:other>other</rpid:other><rpid:away/></rpid:activities>"),
			"<presence from='romeo@example.net/a'>\n  <show>away</show>\n  <status xml:lang='en'>Far away</status>\n</presence>\n"},
		"rpid other": {doc("", "<rpid:activities><rpid:other>reading</rpid:other></rpid:activities>"),
			"<presence from='romeo@example.net/a'>\n  <status>reading</status>\n</presence>\n"},
		"empty tuple note": {doc("<note/>", "<rpid:activities><rpid:other>reading</rpid:other></rpid:activities>"),
			"<presence from='romeo@example.net/a'>\n  <status>reading</status>\n</presence>\n"},
		"nothing": {doc("", ""), "<presence from='romeo@example.net/a'/>\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := renderStanzas(presS2X(t, m, tc.doc, "")); got != tc.want {
				t.Errorf("got\n%swant\n%s", got, tc.want)
			}
		})
	}
}

// TestPresenceMultiTuple: a multi-tuple document is split into one stanza
// per tuple (PRS-14), resources from the contact's gr, else the id; a
// repeated resource is dropped ("again"), and an id that is no valid
// resourcepart (OpaqueString would map its no-break space) is encoded.
func TestPresenceMultiTuple(t *testing.T) {
	m := presenceMapper(t)
	doc := `<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='sip:Romeo@Example.NET'>
  <tuple id='ID-x'><status><basic>open</basic></status><contact>sip:romeo@example.net;gr=desk%202</contact></tuple>
  <tuple id='ID-phone'><status><basic>closed</basic></status><contact priority='1'>sip:romeo@example.net</contact></tuple>
  <tuple id='ID-tablet_20home'><status><basic>open</basic></status><contact>tel:+15551234</contact></tuple>
  <tuple id='bs35r9'><status><basic>open</basic></status></tuple>
  <tuple id='ID-'><status><basic>open</basic></status></tuple>
  <tuple id='ID-my_phone'><status><basic>open</basic></status></tuple>
  <tuple id='again'><status><basic>closed</basic></status><contact>sip:romeo@example.net;gr=phone</contact></tuple>
  <tuple id='ID-&#xA0;x'><status><basic>open</basic></status></tuple>
</presence>`
	want := `<presence from='romeo@example.net/desk 2'/>
<presence from='romeo@example.net/phone' type='unavailable'>
  <priority>127</priority>
</presence>
<presence from='romeo@example.net/tablet home'/>
<presence from='romeo@example.net/bs35r9'/>
<presence from='romeo@example.net'/>
<presence from='romeo@example.net/my_phone'/>
<presence from='romeo@example.net/ID-ID-_C2_A0x'/>
`
	if got := renderStanzas(presS2X(t, m, doc, "")); got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
}

// TestPresenceZeroTuples pins the §3.6 decision both ways (PRS-11).
func TestPresenceZeroTuples(t *testing.T) {
	m := presenceMapper(t)
	d, err := cpim.ParsePIDF([]byte(`<presence entity='pres:romeo@example.net' xmlns='urn:ietf:params:xml:ns:pidf'><note>Gone to Mantua</note></presence>`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.PresenceFromPIDF(d, "en")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tuples) != 0 || !p.Entity.Equal(cpim.Address{Local: "romeo", Domain: "example.net"}) {
		t.Errorf("got %+v", p)
	}
	xs, err := m.PresenceToXMPP(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := renderStanzas(xs), "<presence from='romeo@example.net' type='unavailable' xml:lang='en'/>\n"; got != want {
		t.Errorf("got %swant %s(notes are never translated, RFC 3922 §5.2.11)", got, want)
	}

	doc, err := m.PresenceToPIDF(cpim.Presence{Entity: cpim.Address{Local: "juliet", Domain: "example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	want := &cpim.PIDF{Entity: "pres:juliet@example.com", Tuples: []cpim.PIDFTuple{{ID: "ID-", Basic: cpim.Closed, Contact: "sip:juliet@example.com"}}}
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("got %+v, want %+v", doc, want)
	}
	if _, err := doc.Marshal(); err != nil {
		t.Error(err)
	}
}

func TestPresenceToPIDFAggregate(t *testing.T) {
	m := presenceMapper(t)
	entity := cpim.Address{Local: "juliet", Domain: "example.com"}
	tests := map[string]struct {
		tuples []cpim.Tuple
		rpid   []string
	}{
		"most available wins":    {[]cpim.Tuple{{Resource: "a", Basic: cpim.Open, Show: cpim.ShowDND}, {Resource: "b", Basic: cpim.Open, Show: cpim.ShowXA}}, []string{"away"}},
		"plain beats away":       {[]cpim.Tuple{{Resource: "a", Basic: cpim.Open, Show: cpim.ShowAway}, {Resource: "b", Basic: cpim.Open}}, nil},
		"closed tuples ignored":  {[]cpim.Tuple{{Resource: "a", Basic: cpim.Closed}, {Resource: "b", Basic: cpim.Open, Show: cpim.ShowDND}}, []string{"busy"}},
		"all closed: no person":  {[]cpim.Tuple{{Resource: "a", Basic: cpim.Closed}, {Resource: "b", Basic: cpim.Closed}}, nil},
		"chat beats everything":  {[]cpim.Tuple{{Resource: "a", Basic: cpim.Open, Show: cpim.ShowDND}, {Resource: "b", Basic: cpim.Open, Show: cpim.ShowChat}}, nil},
		"first of equals counts": {[]cpim.Tuple{{Resource: "a", Basic: cpim.Open, Show: cpim.ShowXA}, {Resource: "b", Basic: cpim.Open, Show: cpim.ShowAway}}, []string{"away"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			doc, err := m.PresenceToPIDF(cpim.Presence{Entity: entity, Tuples: tc.tuples})
			if err != nil {
				t.Fatal(err)
			}
			if len(doc.Tuples) != len(tc.tuples) {
				t.Errorf("%d tuples, want %d (PRS-13)", len(doc.Tuples), len(tc.tuples))
			}
			var rpid []string
			if len(doc.Persons) == 1 {
				rpid = doc.Persons[0].Activities
			}
			if !reflect.DeepEqual(rpid, tc.rpid) {
				t.Errorf("RPID %v, want %v", rpid, tc.rpid)
			}
		})
	}
	_, err := m.PresenceToPIDF(cpim.Presence{Entity: entity, Tuples: []cpim.Tuple{{Resource: "a", Basic: cpim.Open}, {Resource: "a", Basic: cpim.Closed}}})
	if err == nil {
		t.Error("two tuples for one resource accepted")
	}
	_, err = m.PresenceToPIDF(cpim.Presence{Entity: cpim.Address{Domain: "example.com"}, Tuples: []cpim.Tuple{{Basic: cpim.Open}}})
	if err == nil {
		t.Error("entity without local part accepted (pres: needs one)")
	}
}

// TestTupleID: the resource encoding is NCName-safe and reversible.
func TestTupleID(t *testing.T) {
	tests := map[string]string{
		"yn0cl4bnw0yr3vym": "ID-yn0cl4bnw0yr3vym",
		"":                 "ID-",
		"balcony 2":        "ID-balcony_202",
		"Nick@Home":        "ID-Nick_40Home",
		"a_b":              "ID-a_5Fb",
		"1st":              "ID-1st",
		"a:b/c.d-e":        "ID-a_3Ab_2Fc.d-e",
		"é":                "ID-_C3_A9",
		"\U0001F600":       "ID-_F0_9F_98_80",
	}
	for res, want := range tests {
		id := tupleID(res)
		if id != want {
			t.Errorf("tupleID(%q) = %q, want %q", res, id, want)
		}
		if back := resourceFromTupleID(id); back != res {
			t.Errorf("resourceFromTupleID(%q) = %q, want %q", id, back, res)
		}
		doc := &cpim.PIDF{Entity: "pres:a@example.com", Tuples: []cpim.PIDFTuple{{ID: id, Basic: cpim.Open}}}
		if _, err := doc.Marshal(); err != nil {
			t.Errorf("tuple id %q is not an xs:ID: %v", id, err)
		}
	}
	// Ids of other UAs (RFC 3922 §5.2.1 uses them verbatim).
	for id, want := range map[string]string{"bs35r9": "bs35r9", "ID-my_phone": "my_phone", "ID-x_4": "x_4", "ID-x_zz": "x_zz", "id-lower": "id-lower"} {
		if got := resourceFromTupleID(id); got != want {
			t.Errorf("resourceFromTupleID(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestPresenceEntity(t *testing.T) {
	m := presenceMapper(t)
	for entity, want := range map[string]cpim.Address{
		"pres:romeo@example.net":           {Local: "romeo", Domain: "example.net"},
		"sip:Romeo@Example.NET;gr=orchard": {Local: "romeo", Domain: "example.net"},
		"im:romeo@example.net":             {Local: "romeo", Domain: "example.net"},
		"tel:+15551234":                    {},
		"sip:example.net":                  {},
		"mailto:romeo@example.net":         {},
	} {
		p, err := m.PresenceFromPIDF(&cpim.PIDF{Entity: entity}, "")
		if err != nil {
			t.Fatal(err)
		}
		if !p.Entity.Equal(want) || p.Entity.Original != entity {
			t.Errorf("entity %q gives %+v, want %+v with Original", entity, p.Entity, want)
		}
	}
	if _, err := m.PresenceFromPIDF(nil, ""); err == nil {
		t.Error("nil document accepted")
	}
}

func TestChangedTuples(t *testing.T) {
	open := func(res string, show cpim.Show, notes ...cpim.Text) cpim.Tuple {
		return cpim.Tuple{Resource: res, Basic: cpim.Open, Show: show, Notes: notes}
	}
	closed := func(res string) cpim.Tuple { return cpim.Tuple{Resource: res, Basic: cpim.Closed} }
	state := func(ts ...cpim.Tuple) cpim.Presence { return cpim.Presence{Tuples: ts} }
	en, de := cpim.Text{Lang: "en", Text: "hi"}, cpim.Text{Lang: "de", Text: "hallo"}
	withPrio := func(t cpim.Tuple, k int) cpim.Tuple { t.Priority, t.HasPriority = k, true; return t }
	withTime := func(t cpim.Tuple) cpim.Tuple { t.Timestamp = time.Unix(1, 0); return t }
	tests := map[string]struct {
		prev, next cpim.Presence
		want       []cpim.Tuple
	}{
		"first notification":    {state(), state(open("a", ""), closed("b")), []cpim.Tuple{open("a", ""), closed("b")}},
		"nothing changed":       {state(open("a", "away", en)), state(open("a", "away", en)), nil},
		"timestamp only":        {state(open("a", "")), state(withTime(open("a", ""))), nil},
		"notes reordered":       {state(open("a", "", en, de)), state(open("a", "", de, en)), nil},
		"show changed":          {state(open("a", ""), open("b", "")), state(open("a", "dnd"), open("b", "")), []cpim.Tuple{open("a", "dnd")}},
		"availability changed":  {state(open("a", "")), state(closed("a")), []cpim.Tuple{closed("a")}},
		"note changed":          {state(open("a", "", en)), state(open("a", "", de)), []cpim.Tuple{open("a", "", de)}},
		"note added":            {state(open("a", "", en)), state(open("a", "", en, de)), []cpim.Tuple{open("a", "", en, de)}},
		"priority changed":      {state(withPrio(open("a", ""), 1)), state(withPrio(open("a", ""), 2)), []cpim.Tuple{withPrio(open("a", ""), 2)}},
		"new resource":          {state(open("a", "")), state(open("a", ""), open("b", "xa")), []cpim.Tuple{open("b", "xa")}},
		"resource gone":         {state(open("a", ""), open("b", "")), state(open("b", "")), []cpim.Tuple{closed("a")}},
		"closed resource gone":  {state(closed("a"), open("b", "")), state(open("b", "")), nil},
		"all gone (zero tuple)": {state(open("a", "away", en), open("b", "")), state(), []cpim.Tuple{closed("a"), closed("b")}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ChangedTuples(tc.prev, tc.next); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestPresenceGoldenX2S: the PIDF the gateway sends for an XMPP user with
// two resources, dnd and away, statuses in English and German, and
// priorities (PRS-13): the caller aggregates the per-resource presences.
func TestPresenceGoldenX2S(t *testing.T) {
	m := presenceMapper(t)
	stanzas := []XMPPPresence{
		{From: mustJID("juliet@example.com/balcony"), To: mustJID("romeo@example.net"), Lang: "en", Show: "dnd",
			Statuses: []cpim.Text{{Text: "Wooing Romeo"}, {Lang: "de", Text: "Umwerbe Romeo"}}, Priority: 13, HasPriority: true},
		{From: mustJID("juliet@example.com/chamber 2"), To: mustJID("romeo@example.net"), Lang: "en", Show: "away",
			Statuses: []cpim.Text{{Text: "Asleep"}, {Lang: "de", Text: "Schlafend"}}, Priority: -1, HasPriority: true},
	}
	var state cpim.Presence
	stamp := time.Date(2024, 5, 1, 20, 0, 0, 0, time.UTC)
	for i, x := range stanzas {
		p, err := m.PresenceFromXMPP(x)
		if err != nil {
			t.Fatal(err)
		}
		tu := p.Tuples[0]
		tu.Timestamp = stamp.Add(time.Duration(i) * time.Second) // set by the caller (PRS-12)
		state.Entity, state.Watcher, state.Lang = p.Entity, p.Watcher, p.Lang
		state.Tuples = append(state.Tuples, tu)
	}
	doc, err := m.PresenceToPIDF(state)
	if err != nil {
		t.Fatal(err)
	}
	out, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("presence", "x2s-two-resources.pidf.xml"), out)
}

// TestPresenceGoldenS2X: the stanzas the gateway sends for an RFC 4480
// style SIP document.
func TestPresenceGoldenS2X(t *testing.T) {
	m := presenceMapper(t)
	in, err := os.ReadFile(filepath.Join("..", "testdata", "presence", "s2x-rpid.pidf.xml"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := cpim.ParsePIDF(in)
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.PresenceFromPIDF(d, "en")
	if err != nil {
		t.Fatal(err)
	}
	p.Watcher = cpim.Address{Local: "juliet", Domain: "example.com"} // from the dialog
	xs, err := m.PresenceToXMPP(p)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("presence", "s2x-rpid.stanzas"), []byte(renderStanzas(xs)))
}

// FuzzPresenceFromPIDF: any document that parses maps without error; every
// stanza has a valid show, a priority in 0..127 and a From that re-parses;
// and the state survives a trip through PresenceToPIDF.
func FuzzPresenceFromPIDF(f *testing.F) {
	addSeeds(f, "FuzzPresenceFromPIDF")
	m := presenceMapper(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := cpim.ParsePIDF(b)
		if err != nil {
			return
		}
		p, err := m.PresenceFromPIDF(doc, "en")
		if err != nil {
			t.Fatalf("PresenceFromPIDF: %v", err)
		}
		if p.Entity.IsZero() {
			p.Entity = cpim.Address{Local: "romeo", Domain: "example.net"} // the dialog identity
		}
		xs, err := m.PresenceToXMPP(p)
		if err != nil {
			var ce *cpim.Error
			if !errors.As(err, &ce) {
				t.Fatalf("PresenceToXMPP: %v", err)
			}
			return // an entity the mapper does not serve
		}
		if len(xs) != max(len(p.Tuples), 1) {
			t.Fatalf("%d stanzas for %d tuples", len(xs), len(p.Tuples))
		}
		froms := map[string]bool{}
		for _, x := range xs {
			if !cpim.Show(x.Show).Valid() || x.Type != "" && x.Type != "unavailable" || x.Type != "" && x.Show != "" {
				t.Errorf("bad type/show: %s", renderStanza(x))
			}
			if x.HasPriority && (x.Priority < 0 || x.Priority > 127) {
				t.Errorf("priority out of range: %s", renderStanza(x))
			}
			j, err := jid.Parse(x.From.String())
			if err != nil || !j.Equal(x.From) {
				t.Errorf("from %q does not re-parse: %v", x.From, err)
			}
			if froms[x.From.String()] {
				t.Errorf("two stanzas from %s", x.From)
			}
			froms[x.From.String()] = true
		}
		if len(p.Tuples) == 0 || p.Entity.Local == "" {
			return
		}
		back, err := m.PresenceToPIDF(p)
		if err != nil {
			t.Fatalf("PresenceToPIDF: %v", err)
		}
		out, err := back.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		doc2, err := cpim.ParsePIDF(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		p2, err := m.PresenceFromPIDF(doc2, "en")
		if err != nil {
			t.Fatal(err)
		}
		if !p2.Entity.Equal(p.Entity) || !reflect.DeepEqual(p2.Tuples, p.Tuples) {
			t.Fatalf("state changed on the way back:\n%+v\n%+v\n%s", p, p2, out)
		}
	})
}

var benchStanza = XMPPPresence{
	From: jid.MustParse("juliet@example.com/balcony"), To: jid.MustParse("romeo@example.net"), Lang: "en", Show: "dnd",
	Statuses: []cpim.Text{{Text: "Wooing Romeo"}, {Lang: "de", Text: "Umwerbe Romeo"}}, Priority: 13, HasPriority: true,
}

func BenchmarkPresenceFromXMPP(b *testing.B) {
	m := presenceMapper(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.PresenceFromXMPP(benchStanza); err != nil {
			b.Fatal(err)
		}
	}
}

func benchPresence(b *testing.B, m *Mapper) cpim.Presence {
	p, err := m.PresenceFromXMPP(benchStanza)
	if err != nil {
		b.Fatal(err)
	}
	t2 := p.Tuples[0]
	t2.Resource, t2.Show = "chamber", cpim.ShowAway
	p.Tuples = append(p.Tuples, t2)
	return p
}

func BenchmarkPresenceToPIDF(b *testing.B) {
	m := presenceMapper(b)
	p := benchPresence(b, m)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.PresenceToPIDF(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPresenceFromPIDF(b *testing.B) {
	m := presenceMapper(b)
	doc, err := m.PresenceToPIDF(benchPresence(b, m))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.PresenceFromPIDF(doc, "en"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPresenceToXMPP(b *testing.B) {
	m := presenceMapper(b)
	p := benchPresence(b, m)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.PresenceToXMPP(p); err != nil {
			b.Fatal(err)
		}
	}
}
