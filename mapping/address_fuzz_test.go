package mapping

import (
	"errors"
	"strings"
	"testing"

	"cpimgw/cpim"

	"github.com/emiago/sipgo/sip"
	"mellium.im/xmpp/jid"
)

// checkRefusal fails unless err is a *cpim.Error with one of the
// condition/status pairs the address rules use.
func checkRefusal(t *testing.T, err error, allowed ...int) {
	t.Helper()
	var e *cpim.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *cpim.Error", err, err)
	}
	want := map[int]cpim.Condition{
		400: cpim.JIDMalformed,
		404: cpim.ItemNotFound,
		416: cpim.NotAcceptable,
		480: cpim.RecipientUnavailable,
	}
	for _, s := range allowed {
		if e.Status == s && e.Condition == want[s] {
			return
		}
	}
	t.Fatalf("error %v: status %d/%s not among %v", err, e.Status, e.Condition, allowed)
}

// checkSIPURI parses u with sipgo and checks that it names the address a:
// the gateway's SIP URIs must be readable by a SIP stack, not only by us.
func checkSIPURI(t *testing.T, u string, a cpim.Address) {
	t.Helper()
	var su sip.Uri
	if err := sip.ParseUri(u, &su); err != nil {
		t.Fatalf("sipgo cannot parse %q: %v", u, err)
	}
	if su.Scheme != "sip" || su.Password != "" || su.HierarhicalSlashes {
		t.Fatalf("sipgo reads %q as scheme %q, password %q, slashes %v", u, su.Scheme, su.Password, su.HierarhicalSlashes)
	}
	user, err := percentDecode(su.User)
	if err != nil || user != a.Local {
		t.Fatalf("sipgo reads the user of %q as %q (%q, %v), want %q", u, su.User, user, err, a.Local)
	}
	_, host, err := domainForms(a.Domain)
	if err != nil || !strings.EqualFold(su.Host, host) {
		t.Fatalf("sipgo reads the host of %q as %q, want %q (%v)", u, su.Host, host, err)
	}
	gr, ok := su.UriParams.Get("gr")
	if a.Resource == "" {
		if ok {
			t.Fatalf("sipgo finds gr=%q in %q for a bare address", gr, u)
		}
		return
	}
	if v, err := percentDecode(gr); !ok || err != nil || v != a.Resource {
		t.Fatalf("sipgo reads gr of %q as %q, want %q", u, gr, a.Resource)
	}
}

// FuzzURIToJID: a URI that maps gives a JID mellium re-parses to the same
// JID, the JID maps back to the same address, and the address gives SIP,
// im: and pres: URIs that sipgo (for sip:) and our parser read back as the
// same address (INTERWORKING.md §2.3, §2.4).
func FuzzURIToJID(f *testing.F) {
	addSeeds(f, "FuzzURIToJID")
	f.Fuzz(func(t *testing.T, data []byte) {
		uri := string(data)
		a, err := URIToAddress(uri)
		if err != nil {
			checkRefusal(t, err, 400, 416, 480)
			return
		}
		if a.Original != uri {
			t.Fatalf("Original = %q, want %q", a.Original, uri)
		}
		j, err := AddressToJID(a)
		if err != nil {
			t.Fatalf("URIToAddress(%q) = %#v, which AddressToJID refuses: %v", uri, a, err)
		}
		if p, err := jid.Parse(j.String()); err != nil || !p.Equal(j) {
			t.Fatalf("jid.Parse(%q) = %q, %v", j, p, err)
		}
		b, err := JIDToAddress(j)
		if err != nil || !b.Equal(a) {
			t.Fatalf("JIDToAddress(%q) = %#v, %v; want %#v", j, b, err, a)
		}
		for _, s := range []Scheme{SchemeSIP, SchemeIM, SchemePres} {
			u, err := AddressToURI(a, s)
			if s != SchemeSIP && a.Local == "" {
				if err == nil {
					t.Fatalf("AddressToURI(%#v, %s) = %q for a domain-only address", a, s, u)
				}
				continue
			}
			if err != nil {
				t.Fatalf("AddressToURI(%#v, %s): %v", a, s, err)
			}
			want := a.Bare()
			if s == SchemeSIP {
				want = a
				checkSIPURI(t, u, a)
			}
			back, err := URIToAddress(u)
			if err != nil || !back.Equal(want) {
				t.Fatalf("URIToAddress(%q) = %#v, %v; want %#v", u, back, err, want)
			}
		}
	})
}

// FuzzJIDToURI: a JID that mellium accepts and that maps gives an address
// that maps back to the same JID, and SIP, im: and pres: URIs that parse
// (with sipgo for sip:) and map back to the same JID (bare for im:/pres:).
func FuzzJIDToURI(f *testing.F) {
	addSeeds(f, "FuzzJIDToURI")
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := jid.Parse(string(data))
		if err != nil {
			return
		}
		a, err := JIDToAddress(j)
		if err != nil {
			checkRefusal(t, err, 400)
			return
		}
		if j2, err := AddressToJID(a); err != nil || !j2.Equal(j) {
			t.Fatalf("AddressToJID(JIDToAddress(%q) = %#v) = %q, %v", j, a, j2, err)
		}
		for _, s := range []Scheme{SchemeSIP, SchemeIM, SchemePres} {
			u, err := AddressToURI(a, s)
			if s != SchemeSIP && a.Local == "" {
				if err == nil {
					t.Fatalf("AddressToURI(%#v, %s) = %q for a domain-only address", a, s, u)
				}
				continue
			}
			if err != nil {
				t.Fatalf("AddressToURI(%#v, %s): %v", a, s, err)
			}
			want := j.Bare()
			if s == SchemeSIP {
				want = j
				checkSIPURI(t, u, a)
			} else if _, err := splitURI(u); err != nil {
				t.Fatalf("%q does not parse: %v", u, err)
			}
			back, err := uriToJID(u)
			if err != nil || !back.Equal(want) {
				t.Fatalf("%q maps to %q, %v; want %q", u, back, err, want)
			}
		}
	})
}

// FuzzMapper: with the gateway-subdomain table and the shipped one, a JID
// or a URI the Mapper maps comes back unchanged through the other side
// (Mode A and Mode B round trips).
func FuzzMapper(f *testing.F) {
	addSeeds(f, "FuzzMapper")
	mappers := []*Mapper{mustMapper(f, gwDomains), mustMapper(f, shippedDomains), mustMapper(f, rejectDomains)}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := string(data)
		for _, m := range mappers {
			if j, err := jid.Parse(s); err == nil {
				for _, p := range []Purpose{ForMessage, ForPresence} {
					u, a, err := m.JIDToURI(j, p)
					if err != nil {
						checkRefusal(t, err, 400, 404)
						continue
					}
					want := j
					if !strings.HasPrefix(u, "sip:") {
						want = j.Bare()
					}
					back, _, err := m.URIToJID(u)
					if err != nil || !back.Equal(want) {
						t.Fatalf("%s: JIDToURI(%q) = %q, which maps to %q, %v", m.Component(), j, u, back, err)
					}
					if j2, err := m.JID(a); err != nil || !j2.Equal(j) {
						t.Fatalf("%s: JID(Address(%q) = %#v) = %q, %v", m.Component(), j, a, j2, err)
					}
				}
			}
			j, a, err := m.URIToJID(s)
			if err != nil {
				checkRefusal(t, err, 400, 404, 416, 480)
				continue
			}
			if p, err := jid.Parse(j.String()); err != nil || !p.Equal(j) {
				t.Fatalf("jid.Parse(%q) = %q, %v", j, p, err)
			}
			b, err := m.Address(j)
			if err != nil || !b.Equal(a) {
				t.Fatalf("%s: Address(%q) = %#v, %v; want %#v", m.Component(), j, b, err, a)
			}
			u, err := m.URI(a, ForMessage)
			if err != nil {
				t.Fatalf("%s: URI(%#v): %v", m.Component(), a, err)
			}
			want := j
			if !strings.HasPrefix(u, "sip:") {
				want = j.Bare()
			}
			if back, _, err := m.URIToJID(u); err != nil || !back.Equal(want) {
				t.Fatalf("%s: URI(%#v) = %q, which maps to %q, %v; want %q", m.Component(), a, u, back, err, want)
			}
		}
	})
}

// FuzzAddressToJID feeds raw UTF-8 as a localpart, which reaches PRECIS
// corner cases (width mapping, composition, Bidi) faster than URIs do: an
// address that maps keeps its XEP-0106 characters, its canonical form maps
// to the same JID, and every URI of it maps back; Mode B round-trips too.
func FuzzAddressToJID(f *testing.F) {
	addSeeds(f, "FuzzAddressToJID")
	m := mustMapper(f, gwDomains)
	f.Fuzz(func(t *testing.T, data []byte) {
		local := string(data)
		for _, a := range []cpim.Address{
			{Local: local, Domain: "example.com"},
			{Local: "r", Domain: "example.com", Resource: local},
		} {
			j, err := AddressToJID(a)
			if err != nil {
				checkRefusal(t, err, 400)
				continue
			}
			if p, err := jid.Parse(j.String()); err != nil || !p.Equal(j) {
				t.Fatalf("jid.Parse(%q) = %q, %v", j, p, err)
			}
			c, err := JIDToAddress(j)
			if err != nil {
				t.Fatalf("JIDToAddress(%q): %v (from %#v)", j, err, a)
			}
			if !specialsEqual(a.Local, c.Local) {
				t.Fatalf("%#v maps to %#v: XEP-0106 characters changed", a, c)
			}
			if j2, err := AddressToJID(c); err != nil || !j2.Equal(j) {
				t.Fatalf("AddressToJID(%#v) = %q, %v; want %q", c, j2, err, j)
			}
			u, err := AddressToURI(c, SchemeSIP)
			if err != nil {
				t.Fatalf("AddressToURI(%#v): %v", c, err)
			}
			checkSIPURI(t, u, c)
			if back, err := URIToAddress(u); err != nil || !back.Equal(c) {
				t.Fatalf("URIToAddress(%q) = %#v, %v; want %#v", u, back, err, c)
			}
		}
		a := cpim.Address{Local: local, Domain: "example.net", Resource: "x"}
		j, err := m.JID(a)
		if err != nil {
			checkRefusal(t, err, 400, 404)
			return
		}
		c, err := m.Address(j)
		if err != nil {
			t.Fatalf("Address(%q): %v (from %#v)", j, err, a)
		}
		if c.Domain != "example.net" || !specialsEqual(a.Local, c.Local) {
			t.Fatalf("%#v maps to %q and back to %#v", a, j, c)
		}
		if j2, err := m.JID(c); err != nil || !j2.Equal(j) {
			t.Fatalf("JID(%#v) = %q, %v; want %q", c, j2, err, j)
		}
	})
}
