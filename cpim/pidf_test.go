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
	"time"
)

// dumpPIDF renders a parsed document one field per line, for the *.parsed
// goldens: only fields that are set appear; strings are quoted.
func dumpPIDF(p *PIDF) string {
	var b strings.Builder
	fmt.Fprintf(&b, "entity: %q\n", p.Entity)
	fmt.Fprintf(&b, "tuples: %d, notes: %d, persons: %d\n", len(p.Tuples), len(p.Notes), len(p.Persons))
	notes := func(indent, name string, ns []Text) {
		for _, n := range ns {
			fmt.Fprintf(&b, "%s%s[%s]: %q\n", indent, name, n.Lang, n.Text)
		}
	}
	stamp := func(indent string, t time.Time) {
		if !t.IsZero() {
			fmt.Fprintf(&b, "%stimestamp: %s\n", indent, t.Format(time.RFC3339Nano))
		}
	}
	for _, t := range p.Tuples {
		fmt.Fprintf(&b, "tuple %q\n", t.ID)
		if t.Basic != "" {
			fmt.Fprintf(&b, "  basic: %s\n", t.Basic)
		}
		if t.Show != "" {
			fmt.Fprintf(&b, "  show: %s\n", t.Show)
		}
		if t.IM != "" {
			fmt.Fprintf(&b, "  im: %q\n", t.IM)
		}
		if len(t.Activities) > 0 {
			fmt.Fprintf(&b, "  activities: %s\n", strings.Join(t.Activities, ", "))
		}
		if t.UserInput != "" {
			fmt.Fprintf(&b, "  user-input: %s\n", t.UserInput)
		}
		if t.Contact != "" {
			fmt.Fprintf(&b, "  contact: %q\n", t.Contact)
		}
		if t.HasPriority {
			fmt.Fprintf(&b, "  priority: %s (%d thousandths)\n", formatQValue(t.Priority), t.Priority)
		}
		notes("  ", "note", t.Notes)
		stamp("  ", t.Timestamp)
	}
	notes("", "note", p.Notes)
	for _, per := range p.Persons {
		fmt.Fprintf(&b, "person %q\n", per.ID)
		if len(per.Activities) > 0 {
			fmt.Fprintf(&b, "  activities: %s\n", strings.Join(per.Activities, ", "))
		}
		if per.OtherActivity != "" {
			fmt.Fprintf(&b, "  other: %q\n", per.OtherActivity)
		}
		notes("  ", "activity-note", per.ActivityNotes)
		if per.UserInput != "" {
			fmt.Fprintf(&b, "  user-input: %s\n", per.UserInput)
		}
		notes("  ", "note", per.Notes)
		stamp("  ", per.Timestamp)
	}
	return b.String()
}

// inputs returns the hand-written input documents of testdata/pidf.
func inputs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "pidf", "*.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var in []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".out.xml") {
			in = append(in, f)
		}
	}
	if len(in) == 0 {
		t.Fatal("no input documents in testdata/pidf")
	}
	return in
}

// TestParsePIDFGolden parses every input document of testdata/pidf (RFC
// examples and real-UA-like variants) and compares a dump of the result
// with its *.parsed golden.
func TestParsePIDFGolden(t *testing.T) {
	for _, f := range inputs(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".xml")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParsePIDF(b)
			if err != nil {
				t.Fatalf("ParsePIDF: %v", err)
			}
			golden(t, filepath.Join("pidf", name+".parsed"), []byte(dumpPIDF(p)))
		})
	}
}

// withoutIM returns a copy of p without the legacy im:im values, which
// Marshal never writes (INTERWORKING.md §3.2).
func withoutIM(p *PIDF) *PIDF {
	q := *p
	q.Tuples = append([]PIDFTuple(nil), p.Tuples...)
	for i := range q.Tuples {
		q.Tuples[i].IM = ""
	}
	return &q
}

// TestParsePIDFRoundTrip re-serialises every input document that Marshal
// accepts and checks that the result parses to the same value.
func TestParsePIDFRoundTrip(t *testing.T) {
	accepted := 0
	for _, f := range inputs(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".xml")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParsePIDF(b)
			if err != nil {
				t.Fatal(err)
			}
			out, err := p.Marshal()
			if err != nil {
				t.Skipf("Marshal refuses this document: %v", err)
			}
			accepted++
			q, err := ParsePIDF(out)
			if err != nil {
				t.Fatalf("re-parse: %v\n%s", err, out)
			}
			if want := withoutIM(p); !reflect.DeepEqual(q, want) {
				t.Errorf("round trip differs:\n--- got ---\n%s--- want ---\n%s", dumpPIDF(q), dumpPIDF(want))
			}
		})
	}
	if accepted < 10 {
		t.Errorf("only %d input documents survive Marshal", accepted)
	}
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// models are documents built in code, with goldens of their Marshal output.
var models = map[string]*PIDF{
	// RFC 8048 Example 19: XMPP available with show away.
	"rfc8048-example19": {
		Entity: "pres:juliet@example.com",
		Tuples: []PIDFTuple{{ID: "ID-yn0cl4bnw0yr3vym", Basic: Open, Show: ShowAway}},
	},
	// RFC 3922 §5.1.4 unavailable presence.
	"closed": {
		Entity: "pres:juliet@example.com",
		Tuples: []PIDFTuple{{ID: "balcony", Basic: Closed}},
	},
	// What the gateway emits for an XMPP user with two resources (PRS-13).
	"two-resources-rpid": {
		Entity: "pres:juliet@example.com",
		Tuples: []PIDFTuple{
			{
				ID: "ID-balcony", Basic: Open, Show: ShowDND,
				Contact: "sip:juliet@example.com;gr=balcony", Priority: 1000, HasPriority: true,
				Notes:     []Text{{Lang: "en", Text: "Wooing Romeo"}, {Lang: "de", Text: "Umwerbe Romeo"}},
				Timestamp: ts("2024-05-01T20:00:00Z"),
			},
			{
				ID: "ID-chamber", Basic: Open, Show: ShowAway,
				Contact: "sip:juliet@example.com;gr=chamber", Priority: 7, HasPriority: true,
				Timestamp: ts("2024-05-01T20:00:00.5Z"),
			},
		},
		Persons: []Person{{ID: "ID-person", Activities: []string{"busy"}}},
	},
	// Every field, and text that needs escaping.
	"all-fields": {
		Entity: "sip:o'hara&co@example.com",
		Tuples: []PIDFTuple{
			{
				ID: "t-1", Basic: Open, Show: ShowChat, IM: "never written",
				Activities: []string{"on-the-phone", "in-transit"}, UserInput: "idle",
				Contact: "sip:x@example.com;gr=a<b>", Priority: 500, HasPriority: true,
				Notes: []Text{
					{Lang: "en", Text: "5 < 6 & \"quotes\" 'apostrophes' > all"},
					{Text: "line\nbreak, tab\t, carriage return\r."},
					{Lang: "ja", Text: "会議中"},
					{Lang: "fr", Text: ""},
				},
				Timestamp: ts("2001-10-27T16:49:29.123456789+02:00"),
			},
			{ID: "t-2", Show: ShowXA},
			{ID: "t-3", Activities: []string{"sleeping"}, HasPriority: true},
			{ID: "t-4", Basic: Closed, Contact: "im:x@example.com", Priority: 992, HasPriority: true},
		},
		Notes: []Text{{Text: "presence-level"}, {Lang: "x-\"odd\"", Text: "odd language"}},
		Persons: []Person{
			{
				ID: "p1", Activities: []string{"meal", "meeting"}, OtherActivity: "reading <poetry>",
				ActivityNotes: []Text{{Lang: "en", Text: "Lunch meeting"}, {Text: ""}},
				UserInput:     "active", Notes: []Text{{Lang: "en", Text: "dm note"}},
				Timestamp: ts("2005-05-30T16:09:44+05:00"),
			},
			{ID: "p2"},
			{ID: "p3", OtherActivity: "only other"},
		},
	},
}

// TestMarshalGolden compares Marshal output of the models with
// testdata/pidf/*.out.xml and checks that it parses back to the model.
func TestMarshalGolden(t *testing.T) {
	for name, p := range models {
		t.Run(name, func(t *testing.T) {
			out, err := p.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			golden(t, filepath.Join("pidf", name+".out.xml"), out)
			q, err := ParsePIDF(out)
			if err != nil {
				t.Fatalf("re-parse: %v\n%s", err, out)
			}
			if want := withoutIM(p); !reflect.DeepEqual(q, want) {
				t.Errorf("round trip differs:\n--- got ---\n%s--- want ---\n%s", dumpPIDF(q), dumpPIDF(want))
			}
			again, err := q.Marshal()
			if err != nil || !bytes.Equal(again, out) {
				t.Errorf("Marshal is not a fixed point (err %v):\n%s\n---\n%s", err, again, out)
			}
		})
	}
}

// TestMarshalPrefixes checks that the dm: and rpid: prefixes are declared
// on the root only when used, and never the pidf:im namespace (§3.2).
func TestMarshalPrefixes(t *testing.T) {
	tests := map[string]struct {
		doc      *PIDF
		dm, rpid bool
	}{
		"plain":            {doc: models["closed"]},
		"person":           {doc: models["two-resources-rpid"], dm: true, rpid: true},
		"tuple activities": {doc: &PIDF{Entity: "pres:a@b", Tuples: []PIDFTuple{{ID: "a", Activities: []string{"away"}}}}, rpid: true},
		"tuple user-input": {doc: &PIDF{Entity: "pres:a@b", Tuples: []PIDFTuple{{ID: "a", Basic: Open, UserInput: "idle"}}}, rpid: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := tc.doc.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			s := string(out)
			if got := strings.Contains(s, `xmlns:dm="`+NSDataModel+`"`); got != tc.dm {
				t.Errorf("dm declared = %v, want %v:\n%s", got, tc.dm, s)
			}
			if got := strings.Contains(s, `xmlns:rpid="`+NSRPID+`"`); got != tc.rpid {
				t.Errorf("rpid declared = %v, want %v:\n%s", got, tc.rpid, s)
			}
			if strings.Count(s, "xmlns:") != btoi(tc.dm)+btoi(tc.rpid) {
				t.Errorf("prefixes declared off the root:\n%s", s)
			}
			if strings.Contains(s, NSPIDFIM) {
				t.Errorf("pidf:im emitted:\n%s", s)
			}
			if !strings.HasPrefix(s, `<?xml version="1.0" encoding="UTF-8"?>`+"\n") {
				t.Errorf("no UTF-8 XML declaration (RFC 3863 §4.1):\n%s", s)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestParsePIDFErrors(t *testing.T) {
	const head = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	const ok = `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com"><tuple id="t"><status><basic>open</basic></status></tuple></presence>`
	nested := func(n int) string {
		return `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com">` +
			strings.Repeat("<x>", n-1) + strings.Repeat("</x>", n-1) + `</presence>`
	}
	many := func(n int) string {
		return `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com">` +
			strings.Repeat("<x/>", n-1) + `</presence>`
	}
	tests := map[string]struct {
		in   string
		want error
	}{
		"mismatched end tag":  {head + `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com"><tuple></presence>`, ErrMalformed},
		"truncated":           {head + ok[:60], ErrMalformed},
		"not XML":             {"Hello, world", ErrMalformed},
		"no root":             {head + "<!-- nothing -->", ErrMalformed},
		"wrong root name":     {`<pidf xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com"/>`, ErrMalformed},
		"draft namespace":     {`<presence xmlns="urn:ietf:params:xml:ns:cpim-pidf" entity="pres:a@example.com"/>`, ErrMalformed},
		"no namespace":        {`<presence entity="pres:a@example.com"/>`, ErrMalformed},
		"unbound prefix":      {`<impp:presence entity="pres:a@example.com"/>`, ErrMalformed},
		"missing entity":      {`<presence xmlns="urn:ietf:params:xml:ns:pidf"/>`, ErrMalformed},
		"empty entity":        {`<presence xmlns="urn:ietf:params:xml:ns:pidf" entity=" "/>`, ErrMalformed},
		"prefixed entity":     {`<p:presence xmlns:p="urn:ietf:params:xml:ns:pidf" p:entity="pres:a@example.com"/>`, ErrMalformed},
		"repeated attribute":  {`<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com" entity="pres:b@example.com"/>`, ErrMalformed},
		"two roots":           {ok + ok, ErrMalformed},
		"text after root":     {ok + "trailing", ErrMalformed},
		"text before root":    {"junk" + ok, ErrMalformed},
		"undefined entity":    {`<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com"><note>&nbsp;</note></presence>`, ErrMalformed},
		"illegal char ref":    {`<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com"><note>&#1;</note></presence>`, ErrMalformed},
		"invalid UTF-8":       {`<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com"><note>` + "\xff\xfe" + `</note></presence>`, ErrMalformed},
		"UTF-16 document":     {"\xff\xfe<\x00p\x00", ErrMalformed},
		"ISO-8859-1 declared": {`<?xml version="1.0" encoding="ISO-8859-1"?>` + ok, ErrMalformed},
		"XML 1.1":             {`<?xml version="1.1" encoding="UTF-8"?>` + ok, ErrMalformed},
		"late declaration":    {"<!-- c -->" + head + ok, ErrMalformed},
		"two declarations":    {head + head + ok, ErrMalformed},
		"stylesheet PI":       {head + `<?xml-stylesheet href="x.xsl"?>` + ok, ErrMalformed},
		"PI inside":           {`<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com"><?php echo 1; ?></presence>`, ErrMalformed},
		"DOCTYPE":             {head + `<!DOCTYPE presence>` + ok, ErrMalformed},
		"billion laughs": {head + `<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com"><note>&lol4;</note></presence>`, ErrMalformed},
		"external entity": {head + `<!DOCTYPE presence [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com"><note>&xxe;</note></presence>`, ErrMalformed},
		"too large":         {ok + strings.Repeat(" ", MaxDocumentSize-len(ok)+1), ErrTooLarge},
		"too deep":          {nested(MaxDepth + 1), ErrTooDeep},
		"too many elements": {many(MaxElements + 1), ErrTooLarge},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := ParsePIDF([]byte(tc.in))
			if err == nil {
				t.Fatalf("ParsePIDF succeeded: %s", dumpPIDF(p))
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v does not wrap %v", err, tc.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || se.Format != "pidf" {
				t.Errorf("error %#v is not a *SyntaxError with Format pidf", err)
			}
			if !strings.HasPrefix(err.Error(), "cpim: pidf: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestParsePIDFLimits checks the documents just inside the limits parse.
func TestParsePIDFLimits(t *testing.T) {
	const open = `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com">`
	tests := map[string]string{
		"depth":    open + strings.Repeat("<x>", MaxDepth-1) + strings.Repeat("</x>", MaxDepth-1) + `</presence>`,
		"elements": open + strings.Repeat("<x/>", MaxElements-1) + `</presence>`,
		"size":     open + `</presence>` + strings.Repeat(" ", MaxDocumentSize-len(open)-len(`</presence>`)),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if len(in) > MaxDocumentSize {
				t.Fatalf("test document of %d bytes", len(in))
			}
			p, err := ParsePIDF([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if p.Entity != "pres:a@example.com" || len(p.Tuples) != 0 {
				t.Errorf("got %s", dumpPIDF(p))
			}
		})
	}
}

// TestParsePIDFPriority checks the qvalue grammar of RFC 3863 §4.4.
func TestParsePIDFPriority(t *testing.T) {
	tests := map[string]struct {
		milli int
		ok    bool
	}{
		"0": {0, true}, "0.": {0, true}, "0.0": {0, true}, "0.021": {21, true},
		"0.5": {500, true}, "0.8": {800, true}, "0.65": {650, true}, "0.992": {992, true},
		"1": {1000, true}, "1.": {1000, true}, "1.0": {1000, true}, "1.00": {1000, true},
		"1.000": {1000, true}, " 0.7 ": {700, true},
		"": {}, ".5": {}, "00.5": {}, "0.5000": {}, "1.001": {}, "1.5": {}, "2": {},
		"-0": {}, "+0.5": {}, "0,5": {}, "0.5e1": {}, "0.x": {}, "1.0000": {},
	}
	for in, tc := range tests {
		t.Run(in, func(t *testing.T) {
			doc := `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com"><tuple id="t"><status><basic>open</basic></status><contact priority="` + in + `">sip:a@example.com</contact></tuple></presence>`
			p, err := ParsePIDF([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			tu := p.Tuples[0]
			if tu.HasPriority != tc.ok || tu.Priority != tc.milli {
				t.Errorf("priority %q = (%d, %v), want (%d, %v)", in, tu.Priority, tu.HasPriority, tc.milli, tc.ok)
			}
		})
	}
}

func TestFormatQValue(t *testing.T) {
	tests := map[int]string{0: "0", 1: "0.001", 7: "0.007", 10: "0.01", 15: "0.015", 102: "0.102", 500: "0.5", 992: "0.992", 999: "0.999", 1000: "1"}
	for milli, want := range tests {
		if got := formatQValue(milli); got != want {
			t.Errorf("formatQValue(%d) = %q, want %q", milli, got, want)
		}
		if back, ok := parseQValue(want); !ok || back != milli {
			t.Errorf("parseQValue(%q) = %d, %v", want, back, ok)
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	open := func(id string) PIDFTuple { return PIDFTuple{ID: id, Basic: Open} }
	doc := func(tuples ...PIDFTuple) *PIDF { return &PIDF{Entity: "pres:a@example.com", Tuples: tuples} }
	withPerson := func(per Person) *PIDF { d := doc(open("t")); d.Persons = []Person{per}; return d }
	tests := map[string]struct {
		doc  *PIDF
		want string
	}{
		"no entity":             {&PIDF{Tuples: []PIDFTuple{open("t")}}, "entity"},
		"entity with space":     {&PIDF{Entity: " pres:a@example.com", Tuples: []PIDFTuple{open("t")}}, "entity"},
		"zero tuples":           {doc(), "at least one tuple"},
		"empty tuple id":        {doc(open("")), "xs:ID"},
		"digit-led tuple id":    {doc(open("1abc")), "xs:ID"},
		"tuple id with space":   {doc(open("a b")), "xs:ID"},
		"tuple id with colon":   {doc(open("a:b")), "xs:ID"},
		"duplicate tuple id":    {doc(open("t"), open("t")), "not unique"},
		"tuple and person id":   {withPerson(Person{ID: "t"}), "not unique"},
		"empty person id":       {withPerson(Person{}), "xs:ID"},
		"empty status":          {doc(PIDFTuple{ID: "t", Contact: "sip:a@example.com", IM: "busy"}), "status would be empty"},
		"bad basic":             {doc(PIDFTuple{ID: "t", Basic: "OPEN"}), "basic"},
		"bad show":              {doc(PIDFTuple{ID: "t", Basic: Open, Show: "online"}), "show"},
		"bad tuple activity":    {doc(PIDFTuple{ID: "t", Activities: []string{"napping"}}), "activity"},
		"unknown and away":      {doc(PIDFTuple{ID: "t", Activities: []string{"unknown", "away"}}), "unknown"},
		"unknown and other":     {withPerson(Person{ID: "p", Activities: []string{"unknown"}, OtherActivity: "x"}), "unknown"},
		"other as activity":     {withPerson(Person{ID: "p", Activities: []string{"other"}}), "activity"},
		"bad person user-input": {withPerson(Person{ID: "p", UserInput: "asleep"}), "user-input"},
		"bad tuple user-input":  {doc(PIDFTuple{ID: "t", Basic: Open, UserInput: "Idle"}), "user-input"},
		"negative priority":     {doc(PIDFTuple{ID: "t", Basic: Open, Priority: -1, HasPriority: true}), "priority"},
		"priority above 1":      {doc(PIDFTuple{ID: "t", Basic: Open, Priority: 1001, HasPriority: true}), "priority"},
		"control char in note":  {doc(PIDFTuple{ID: "t", Basic: Open, Notes: []Text{{Text: "a\x01b"}}}), "XML cannot carry"},
		"invalid UTF-8 note":    {doc(PIDFTuple{ID: "t", Basic: Open, Notes: []Text{{Text: "a\xffb"}}}), "UTF-8"},
		"bad presence note":     {&PIDF{Entity: "pres:a@example.com", Tuples: []PIDFTuple{open("t")}, Notes: []Text{{Text: "\uFFFE"}}}, "XML cannot carry"},
		"bad contact":           {doc(PIDFTuple{ID: "t", Basic: Open, Contact: "sip:\x00"}), "contact"},
		"bad other activity":    {withPerson(Person{ID: "p", OtherActivity: "\x1b"}), "other activity"},
		"year 10000":            {doc(PIDFTuple{ID: "t", Basic: Open, Timestamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}), "timestamp"},
		"negative year":         {withPerson(Person{ID: "p", Timestamp: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}), "timestamp"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := tc.doc.Marshal()
			if err == nil {
				t.Fatalf("Marshal succeeded:\n%s", out)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "cpim: pidf: ") {
				t.Errorf("error %q, want one mentioning %q with the package prefix", err, tc.want)
			}
		})
	}
}

// TestParsePIDFEmptyBody pins the decision for bodiless NOTIFYs.
func TestParsePIDFEmptyBody(t *testing.T) {
	for _, in := range []string{"", " \r\n\t", "\xef\xbb\xbf"} {
		p, err := ParsePIDF([]byte(in))
		if err != nil {
			t.Errorf("ParsePIDF(%q): %v", in, err)
			continue
		}
		if !reflect.DeepEqual(p, &PIDF{}) {
			t.Errorf("ParsePIDF(%q) = %s", in, dumpPIDF(p))
		}
	}
}

// FuzzPIDF checks that whatever parses and marshals re-parses to the same
// value (the legacy im:im aside, which is never written) and that Marshal
// is then a fixed point.
func FuzzPIDF(f *testing.F) {
	addSeeds(f, "FuzzPIDF")
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePIDF(b)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Format != "pidf" ||
				!(errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrTooDeep)) {
				t.Fatalf("error %v is not a pidf *SyntaxError wrapping a codec error", err)
			}
			return
		}
		out, err := p.Marshal()
		if err != nil {
			return
		}
		q, err := ParsePIDF(out)
		if err != nil {
			t.Fatalf("Marshal output does not parse: %v\n%s", err, out)
		}
		if want := withoutIM(p); !reflect.DeepEqual(q, want) {
			t.Fatalf("round trip differs:\n--- got ---\n%s--- want ---\n%s--- document ---\n%s", dumpPIDF(q), dumpPIDF(want), out)
		}
		again, err := q.Marshal()
		if err != nil {
			t.Fatalf("re-marshal: %v", err)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("Marshal is not a fixed point:\n%s\n---\n%s", out, again)
		}
	})
}

var benchDoc = []byte(`<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="pres:juliet@example.com">
  <tuple id="ID-balcony">
    <status>
      <basic>open</basic>
      <show xmlns="jabber:client">dnd</show>
    </status>
    <contact priority="1">sip:juliet@example.com;gr=balcony</contact>
    <note xml:lang="en">Wooing Romeo</note>
    <note xml:lang="de">Umwerbe Romeo</note>
    <timestamp>2024-05-01T20:00:00Z</timestamp>
  </tuple>
  <tuple id="ID-chamber">
    <status>
      <basic>open</basic>
      <show xmlns="jabber:client">away</show>
    </status>
    <contact priority="0.007">sip:juliet@example.com;gr=chamber</contact>
    <timestamp>2024-05-01T20:00:00.5Z</timestamp>
  </tuple>
  <dm:person id="ID-person">
    <rpid:activities>
      <rpid:busy/>
    </rpid:activities>
  </dm:person>
</presence>
`)

func BenchmarkParsePIDF(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchDoc)))
	for b.Loop() {
		if _, err := ParsePIDF(benchDoc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalPIDF(b *testing.B) {
	p, err := ParsePIDF(benchDoc)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}
