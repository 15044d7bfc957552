package mapping

import (
	"strings"
	"testing"

	"cpimgw/cpim"

	"mellium.im/xmpp/jid"
)

// Domain tables of the tests.
var (
	// gwDomains: a gateway subdomain for foreign SIP users (Mode B), one
	// same-domain SIP domain, two XMPP domains; cpim.example.org and the
	// foreign imforeign.example use im:/pres:.
	gwDomains = Domains{
		Component: "gw.example.net",
		XMPP:      []string{"example.com", "xn--mller-kva.example"},
		SIP:       []string{"sip.example.org", "cpim.example.org"},
		Foreign:   ForeignEscape,
		IMSchemes: []string{"cpim.example.org", "imforeign.example"},
	}
	// shippedDomains: the shipped example configuration, where the
	// Component is also the same-domain SIP domain.
	shippedDomains = Domains{
		Component: "sip.example.test",
		XMPP:      []string{"example.test"},
		SIP:       []string{"sip.example.test"},
		Foreign:   ForeignEscape,
	}
	// rejectDomains: gwDomains refusing foreign SIP domains.
	rejectDomains = Domains{
		Component: "gw.example.net",
		XMPP:      []string{"example.com"},
		SIP:       []string{"sip.example.org"},
		Foreign:   ForeignReject,
	}
)

func mustMapper(t testing.TB, d Domains) *Mapper {
	t.Helper()
	m, err := NewMapper(d)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNewMapperNormalises(t *testing.T) {
	m := mustMapper(t, Domains{
		Component: "GW.Example.NET.",
		XMPP:      []string{"XN--MLLER-KVA.example", "Example.COM."},
		SIP:       []string{"café.example", "sip.example.org", "sip.example.org"},
		IMSchemes: []string{"CPIM.example.org"},
	})
	if got := m.Component(); got != "gw.example.net" {
		t.Errorf("Component() = %q, want gw.example.net", got)
	}
	for _, d := range []string{"müller.example", "xn--mller-kva.example", "MÜLLER.example.", "example.com", "EXAMPLE.com."} {
		if !m.IsXMPPDomain(d) || m.IsSIPDomain(d) {
			t.Errorf("%q: IsXMPPDomain = %v, IsSIPDomain = %v; want true, false", d, m.IsXMPPDomain(d), m.IsSIPDomain(d))
		}
	}
	for _, d := range []string{"café.example", "xn--caf-dma.example", "SIP.example.org."} {
		if !m.IsSIPDomain(d) || m.IsXMPPDomain(d) {
			t.Errorf("%q: IsSIPDomain = %v, IsXMPPDomain = %v; want true, false", d, m.IsSIPDomain(d), m.IsXMPPDomain(d))
		}
	}
	for _, d := range []string{"gw.example.net", "other.example", "", "bad_domain", "cpim.example.org"} {
		if m.IsSIPDomain(d) || m.IsXMPPDomain(d) {
			t.Errorf("%q: IsSIPDomain = %v, IsXMPPDomain = %v; want false, false", d, m.IsSIPDomain(d), m.IsXMPPDomain(d))
		}
	}
	u, err := m.URI(cpim.Address{Local: "a", Domain: "café.example"}, ForMessage)
	if err != nil || u != "sip:a@xn--caf-dma.example" {
		t.Errorf("URI = %q, %v", u, err)
	}
}

// NewMapper reports every problem of a table at once.
func TestNewMapperErrors(t *testing.T) {
	_, err := NewMapper(Domains{
		Component: "",
		XMPP:      []string{"example.com", "bad_domain", "sip.example.org"},
		SIP:       []string{"sip.example.org", "a..b"},
		IMSchemes: []string{"-x.example"},
		Foreign:   7,
	})
	if err == nil {
		t.Fatal("NewMapper accepted a broken table")
	}
	msg := err.Error()
	for _, want := range []string{
		"mapping: Domains.Component: missing",
		`mapping: Domains.XMPP[1] "bad_domain"`,
		`mapping: Domains.SIP[1] "a..b"`,
		`mapping: Domains.IMSchemes[0] "-x.example"`,
		`mapping: Domains.SIP[0] "sip.example.org": also an XMPP domain`,
		"mapping: Domains.Foreign: unknown policy 7",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "\n") + 1; n != 6 {
		t.Errorf("error has %d lines, want 6:\n%s", n, msg)
	}

	_, err = NewMapper(Domains{Component: "Example.com", XMPP: []string{"example.com"}})
	if err == nil || !strings.Contains(err.Error(), `Domains.Component "Example.com": also an XMPP domain`) {
		t.Errorf("component as XMPP domain: err = %v", err)
	}
	_, err = NewMapper(Domains{Component: "gw example"})
	if err == nil || !strings.Contains(err.Error(), `Domains.Component "gw example"`) {
		t.Errorf("bad component: err = %v", err)
	}
}

// Mapper.URIToJID and Mapper.JID: Mode A, Mode B, refusals.
func TestMapperURIToJID(t *testing.T) {
	tests := map[string]struct {
		d      Domains
		uri    string
		want   string // JID
		cond   cpim.Condition
		status int
	}{
		"mode A SIP domain":          {d: gwDomains, uri: "sip:Bob@sip.example.org;gr=desk", want: "bob@sip.example.org/desk"},
		"mode A XMPP domain":         {d: gwDomains, uri: "sip:juliet@example.com", want: "juliet@example.com"},
		"mode A IDN XMPP domain":     {d: gwDomains, uri: "sip:anna@xn--mller-kva.example", want: "anna@müller.example"},
		"mode A escapes":             {d: gwDomains, uri: "im:o'hara@cpim.example.org", want: `o\27hara@cpim.example.org`},
		"mode A domain only":         {d: gwDomains, uri: "sip:sip.example.org", want: "sip.example.org"},
		"mode B foreign user":        {d: gwDomains, uri: "sip:romeo@example.net", want: `romeo\40example.net@gw.example.net`},
		"mode B keeps gr":            {d: gwDomains, uri: "sip:romeo@example.net;gr=orchard", want: `romeo\40example.net@gw.example.net/orchard`},
		"mode B case-mapped":         {d: gwDomains, uri: "sip:Romeo@Example.NET.", want: `romeo\40example.net@gw.example.net`},
		"mode B IDN domain":          {d: gwDomains, uri: "sip:romeo@xn--caf-dma.example", want: `romeo\40café.example@gw.example.net`},
		"mode B user with at":        {d: gwDomains, uri: "sip:a%40b@example.net", want: `a\40b\40example.net@gw.example.net`},
		"mode B user with escapes":   {d: gwDomains, uri: "sip:o'hara%20x@example.net", want: `o\27hara\20x\40example.net@gw.example.net`},
		"mode B IPv4 domain":         {d: gwDomains, uri: "sip:bob@192.0.2.7", want: `bob\40192.0.2.7@gw.example.net`},
		"mode B IPv6 domain":         {d: gwDomains, uri: "sip:bob@[2001:db8::7]", want: `bob\40[2001\3adb8\3a\3a7]@gw.example.net`},
		"mode B im: URI":             {d: gwDomains, uri: "im:romeo@imforeign.example", want: `romeo\40imforeign.example@gw.example.net`},
		"mode B trailing space":      {d: gwDomains, uri: "sip:romeo%20@example.net", cond: cpim.JIDMalformed, status: 400},
		"mode B RTL user refused":    {d: gwDomains, uri: "sip:%D7%A9%D7%9C%D7%95%D7%9D@example.net", cond: cpim.JIDMalformed, status: 400},
		"RTL user in mode A":         {d: gwDomains, uri: "sip:%D7%A9%D7%9C%D7%95%D7%9D@sip.example.org", want: "שלום@sip.example.org"},
		"mode B domain only":         {d: gwDomains, uri: "sip:example.net", cond: cpim.ItemNotFound, status: 404},
		"mode B leading space":       {d: gwDomains, uri: "sip:%20romeo@example.net", cond: cpim.JIDMalformed, status: 400},
		"mode B localpart too long":  {d: gwDomains, uri: "sip:" + strings.Repeat("r", 1012) + "@example.net", cond: cpim.JIDMalformed, status: 400},
		"mode B 1023 octets":         {d: gwDomains, uri: "sip:" + strings.Repeat("r", 1009) + "@example.net", want: strings.Repeat("r", 1009) + `\40example.net@gw.example.net`},
		"component is nobody's":      {d: gwDomains, uri: "sip:romeo@gw.example.net", cond: cpim.ItemNotFound, status: 404},
		"foreign rejected":           {d: rejectDomains, uri: "sip:romeo@example.net", cond: cpim.ItemNotFound, status: 404},
		"reject keeps mode A":        {d: rejectDomains, uri: "sip:bob@sip.example.org", want: "bob@sip.example.org"},
		"shipped mode A":             {d: shippedDomains, uri: "sip:alice@sip.example.test", want: "alice@sip.example.test"},
		"shipped XMPP user":          {d: shippedDomains, uri: "sip:juliet@example.test", want: "juliet@example.test"},
		"shipped mode B":             {d: shippedDomains, uri: "sip:bob@example.net", want: `bob\40example.net@sip.example.test`},
		"shipped ambiguous at":       {d: shippedDomains, uri: "sip:a%40b@sip.example.test", cond: cpim.JIDMalformed, status: 400},
		"shipped XMPP domain with @": {d: shippedDomains, uri: "sip:a%40b@example.test", want: `a\40b@example.test`},
		"sips refused first":         {d: gwDomains, uri: "sips:bob@sip.example.org", cond: cpim.RecipientUnavailable, status: 480},
		"tel refused":                {d: gwDomains, uri: "tel:+15551234567", cond: cpim.NotAcceptable, status: 416},
		"malformed refused":          {d: gwDomains, uri: "sip:bob:pw@sip.example.org", cond: cpim.JIDMalformed, status: 400},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := mustMapper(t, tc.d)
			j, a, err := m.URIToJID(tc.uri)
			if tc.cond != "" {
				if err == nil {
					t.Fatalf("URIToJID(%q) = %q, want an error", tc.uri, j)
				}
				wantErr(t, err, tc.cond, tc.status)
				return
			}
			if err != nil {
				t.Fatalf("URIToJID(%q): %v", tc.uri, err)
			}
			if j.String() != tc.want {
				t.Errorf("URIToJID(%q) = %q, want %q", tc.uri, j, tc.want)
			}
			if a.Original != tc.uri {
				t.Errorf("Original = %q, want %q", a.Original, tc.uri)
			}
			// The inverse gives back the address (ADR-24 round trip).
			back, err := m.Address(j)
			if err != nil {
				t.Fatalf("Address(%q): %v", j, err)
			}
			if !back.Equal(a) {
				t.Errorf("Address(%q) = %#v, want %#v", j, back, a)
			}
			if j2, err := m.JID(a); err != nil || !j2.Equal(j) {
				t.Errorf("JID(%#v) = %q, %v; want %q", a, j2, err, j)
			}
		})
	}
}

// Mapper.JIDToURI and Mapper.Address: Mode A, Mode B decoding, refusals.
func TestMapperJIDToURI(t *testing.T) {
	tests := map[string]struct {
		d      Domains
		jid    string
		p      Purpose
		want   string
		cond   cpim.Condition
		status int
	}{
		"XMPP user":                 {d: gwDomains, jid: "juliet@example.com/balcony", want: "sip:juliet@example.com;gr=balcony"},
		"XMPP user escapes":         {d: gwDomains, jid: `d\27artagnan@example.com`, want: "sip:d'artagnan@example.com"},
		"XMPP IDN domain":           {d: gwDomains, jid: "anna@müller.example", want: "sip:anna@xn--mller-kva.example"},
		"mode A SIP user":           {d: gwDomains, jid: "bob@sip.example.org/desk", want: "sip:bob@sip.example.org;gr=desk"},
		"ADR-14 im for messages":    {d: gwDomains, jid: "carol@cpim.example.org/x", p: ForMessage, want: "im:carol@cpim.example.org"},
		"ADR-14 pres for presence":  {d: gwDomains, jid: "carol.k@cpim.example.org", p: ForPresence, want: "pres:carol%2Ek@cpim.example.org"},
		"ADR-14 sip otherwise":      {d: gwDomains, jid: "bob@sip.example.org", p: ForPresence, want: "sip:bob@sip.example.org"},
		"mode B decoded":            {d: gwDomains, jid: `romeo\40example.net@gw.example.net/orchard`, want: "sip:romeo@example.net;gr=orchard"},
		"mode B last at splits":     {d: gwDomains, jid: `a\40b\40example.net@gw.example.net`, want: "sip:a%40b@example.net"},
		"mode B IDN":                {d: gwDomains, jid: `romeo\40café.example@gw.example.net`, want: "sip:romeo@xn--caf-dma.example"},
		"mode B IPv6":               {d: gwDomains, jid: `bob\40[2001\3adb8\3a\3a7]@gw.example.net`, want: "sip:bob@[2001:db8::7]"},
		"mode B im scheme":          {d: gwDomains, jid: `romeo\40imforeign.example@gw.example.net/x`, p: ForPresence, want: "pres:romeo@imforeign.example"},
		"mode B A-label refused":    {d: gwDomains, jid: `romeo\40xn--caf-dma.example@gw.example.net`, cond: cpim.JIDMalformed, status: 400},
		"mode B trailing dot":       {d: gwDomains, jid: `romeo\40example.net.@gw.example.net`, cond: cpim.JIDMalformed, status: 400},
		"mode B bad domain":         {d: gwDomains, jid: `romeo\40exa_mple.net@gw.example.net`, cond: cpim.JIDMalformed, status: 400},
		"mode B empty domain":       {d: gwDomains, jid: `romeo\40@gw.example.net`, cond: cpim.JIDMalformed, status: 400},
		"mode B trailing space":     {d: gwDomains, jid: `romeo\20\40example.net@gw.example.net`, cond: cpim.JIDMalformed, status: 400},
		"mode B no user":            {d: gwDomains, jid: `\40example.net@gw.example.net`, cond: cpim.JIDMalformed, status: 400},
		"mode B XMPP domain":        {d: gwDomains, jid: `juliet\40example.com@gw.example.net`, cond: cpim.JIDMalformed, status: 400},
		"mode B SIP domain":         {d: gwDomains, jid: `bob\40sip.example.org@gw.example.net`, cond: cpim.JIDMalformed, status: 400},
		"mode B component":          {d: gwDomains, jid: `x\40gw.example.net@gw.example.net`, cond: cpim.JIDMalformed, status: 400},
		"component without at":      {d: gwDomains, jid: "romeo@gw.example.net", cond: cpim.ItemNotFound, status: 404},
		"component itself":          {d: gwDomains, jid: "gw.example.net", cond: cpim.ItemNotFound, status: 404},
		"unserved domain":           {d: gwDomains, jid: "eve@elsewhere.example", cond: cpim.ItemNotFound, status: 404},
		"reject: mode B not served": {d: rejectDomains, jid: `romeo\40example.net@gw.example.net`, cond: cpim.ItemNotFound, status: 404},
		"shipped mode A":            {d: shippedDomains, jid: "alice@sip.example.test/x", want: "sip:alice@sip.example.test;gr=x"},
		"shipped mode B":            {d: shippedDomains, jid: `bob\40example.net@sip.example.test`, want: "sip:bob@example.net"},
		"shipped component":         {d: shippedDomains, jid: "sip.example.test", want: "sip:sip.example.test"},
		"shipped XMPP user":         {d: shippedDomains, jid: `juliet@example.test`, want: "sip:juliet@example.test"},
		"shipped mode B self":       {d: shippedDomains, jid: `x\40sip.example.test@sip.example.test`, cond: cpim.JIDMalformed, status: 400},
		"unmappable JID":            {d: gwDomains, jid: `\20juliet@example.com`, cond: cpim.JIDMalformed, status: 400},
		"unknown purpose":           {d: gwDomains, jid: "juliet@example.com", p: 9, cond: cpim.InternalServerError, status: 500},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := mustMapper(t, tc.d)
			j := jid.MustParse(tc.jid)
			u, a, err := m.JIDToURI(j, tc.p)
			if tc.cond != "" {
				if err == nil {
					t.Fatalf("JIDToURI(%q) = %q, want an error", tc.jid, u)
				}
				wantErr(t, err, tc.cond, tc.status)
				return
			}
			if err != nil {
				t.Fatalf("JIDToURI(%q): %v", tc.jid, err)
			}
			if u != tc.want {
				t.Errorf("JIDToURI(%q) = %q, want %q", tc.jid, u, tc.want)
			}
			// The URI maps back to the same JID, bare for im:/pres:.
			wantJ := j
			if !strings.HasPrefix(u, "sip:") {
				wantJ = j.Bare()
			}
			back, _, err := m.URIToJID(u)
			if err != nil || !back.Equal(wantJ) {
				t.Errorf("URIToJID(%q) = %q, %v; want %q", u, back, err, wantJ)
			}
			if j2, err := m.JID(a); err != nil || !j2.Equal(j) {
				t.Errorf("JID(%#v) = %q, %v; want %q", a, j2, err, j)
			}
		})
	}
}

// Mapper.JID and Mapper.URI on addresses built by hand.
func TestMapperAddressErrors(t *testing.T) {
	gw := mustMapper(t, gwDomains)
	shipped := mustMapper(t, shippedDomains)
	reject := mustMapper(t, rejectDomains)
	tests := map[string]struct {
		m      *Mapper
		a      cpim.Address
		cond   cpim.Condition
		status int
	}{
		"no domain":           {gw, cpim.Address{Local: "a"}, cpim.JIDMalformed, 400},
		"bad domain":          {gw, cpim.Address{Local: "a", Domain: "a_b"}, cpim.JIDMalformed, 400},
		"ambiguous component": {shipped, cpim.Address{Local: "a@b", Domain: "sip.example.test"}, cpim.JIDMalformed, 400},
		"component":           {gw, cpim.Address{Local: "a", Domain: "gw.example.net"}, cpim.ItemNotFound, 404},
		"foreign rejected":    {reject, cpim.Address{Local: "a", Domain: "example.net"}, cpim.ItemNotFound, 404},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			j, err := tc.m.JID(tc.a)
			if err == nil {
				t.Fatalf("JID(%#v) = %q, want an error", tc.a, j)
			}
			wantErr(t, err, tc.cond, tc.status)
			if name == "ambiguous component" {
				return // URI has no ambiguity: it is Mode A
			}
			u, err := tc.m.URI(tc.a, ForMessage)
			if err == nil {
				t.Fatalf("URI(%#v) = %q, want an error", tc.a, u)
			}
			wantErr(t, err, tc.cond, tc.status)
		})
	}
	// The same address is fine when the Component is no SIP domain, or
	// without Mode B.
	noB := shippedDomains
	noB.Foreign = ForeignReject
	a := cpim.Address{Local: "a@b", Domain: "sip.example.test"}
	j, err := mustMapper(t, noB).JID(a)
	if err != nil || j.String() != `a\40b@sip.example.test` {
		t.Errorf("without Mode B: JID(%#v) = %q, %v", a, j, err)
	}
	if back, err := mustMapper(t, noB).Address(j); err != nil || !back.Equal(a) {
		t.Errorf("without Mode B: Address(%q) = %#v, %v", j, back, err)
	}
}
