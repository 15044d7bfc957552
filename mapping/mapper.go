package mapping

import (
	"errors"
	"fmt"
	"strings"

	"cpimgw/cpim"

	"mellium.im/xmpp/jid"
)

// ForeignPolicy says what a [Mapper] does with SIP domains it does not serve
// in the same-domain mode.
type ForeignPolicy int

const (
	// ForeignReject refuses addresses in other SIP domains (item-not-found,
	// 404).
	ForeignReject ForeignPolicy = iota
	// ForeignEscape gives them JIDs in the gateway-subdomain form (Mode B,
	// INTERWORKING.md §1.1): sip:romeo@example.net is
	// romeo\40example.net@<Component>.
	ForeignEscape
)

// Domains is the domain table of a [Mapper], as the configuration gives it.
// Domain names may be written in any case, with a trailing dot, and as
// A-labels or U-labels.
type Domains struct {
	// Component is the gateway's XMPP component domain (XEP-0114), e.g.
	// "sip.example.test" or "gw.example.net". It carries the Mode B JIDs of
	// foreign SIP users. It may also be listed in SIP.
	Component string
	// XMPP lists the domains whose users live on the XMPP side. Their JIDs
	// map to sip:user@domain unchanged (Mode A, RFC 7247).
	XMPP []string
	// SIP lists the SIP domains served in the same-domain mode: user@d ⇄
	// sip:user@d (Mode A).
	SIP []string
	// Foreign says what happens to every other SIP domain.
	Foreign ForeignPolicy
	// IMSchemes lists the domains whose URIs use im: for messages and pres:
	// for presence instead of sip: (ADR-14 [D]; RFC 6121 dropped the SRV
	// discovery RFC 7247 §6.5 step 4 relies on).
	IMSchemes []string
}

// Purpose says what a URI is for: it picks im: or pres: for the domains of
// Domains.IMSchemes.
type Purpose int

const (
	// ForMessage asks for an im: URI (RFC 7247 §6.5 step 7).
	ForMessage Purpose = iota
	// ForPresence asks for a pres: URI.
	ForPresence
)

// Mapper maps addresses between the two sides according to a domain table
// (INTERWORKING.md §1.1, §2). It is immutable and safe for concurrent use.
//
// A domain is in one of these roles:
//
//   - an XMPP domain or a same-domain SIP domain (Mode A): user@d is the
//     same identity on both sides, mapped by the rules of [URIToAddress],
//     [AddressToJID], [JIDToAddress] and [AddressToURI];
//   - the Component domain: with ForeignEscape, the JID of a user of any
//     other SIP domain is the XEP-0106 escaping of "user@domain" at the
//     Component (Mode B): sip:romeo@example.net is
//     romeo\40example.net@<Component>. Such a JID is decoded by splitting
//     the unescaped localpart at its last '@' (a SIP domain holds none);
//     the domain found there must be in canonical form (lower case,
//     U-labels, no trailing dot) and must not be an XMPP, same-domain SIP
//     or the Component domain, which have their own forms; otherwise the
//     JID is malformed;
//   - any other domain: a foreign SIP domain (Mode B with ForeignEscape,
//     refused with ForeignReject).
//
// The Component domain may itself be a same-domain SIP domain (the shipped
// example does this: component "sip.example.test", SIP domains
// ["sip.example.test"], ForeignEscape). Then a JID at the Component whose
// unescaped localpart holds '@' is read as Mode B, and an address on the
// Component domain whose Local holds '@' has no JID: it would read back as a
// foreign user, so [Mapper.JID] refuses it as ambiguous (jid-malformed, 400).
type Mapper struct {
	component      string
	xmpp, sip, im  map[string]bool
	foreign        ForeignPolicy
	componentIsSIP bool
}

// NewMapper checks and normalises a domain table (lower case, no trailing
// dot, U-labels; RFC 7622 §3.2). It reports every problem at once
// (errors.Join): an invalid or missing domain, a domain listed both as XMPP
// and as SIP (INTERWORKING.md §1.1: never mix both modes for one domain),
// the Component listed as an XMPP domain, an unknown ForeignPolicy.
func NewMapper(d Domains) (*Mapper, error) {
	var errs []error
	m := &Mapper{
		xmpp:    map[string]bool{},
		sip:     map[string]bool{},
		im:      map[string]bool{},
		foreign: d.Foreign,
	}
	if d.Component == "" {
		errs = append(errs, errors.New("mapping: Domains.Component: missing"))
	} else if c, _, err := domainForms(d.Component); err != nil {
		errs = append(errs, fmt.Errorf("mapping: Domains.Component %q: %w", d.Component, err))
	} else {
		m.component = c
	}
	add := func(field string, list []string, set map[string]bool) {
		for i, name := range list {
			u, _, err := domainForms(name)
			if err != nil {
				errs = append(errs, fmt.Errorf("mapping: Domains.%s[%d] %q: %w", field, i, name, err))
				continue
			}
			set[u] = true
		}
	}
	add("XMPP", d.XMPP, m.xmpp)
	add("SIP", d.SIP, m.sip)
	add("IMSchemes", d.IMSchemes, m.im)
	for i, name := range d.SIP {
		if u, _, err := domainForms(name); err == nil && m.xmpp[u] {
			errs = append(errs, fmt.Errorf("mapping: Domains.SIP[%d] %q: also an XMPP domain", i, name))
		}
	}
	if m.component != "" && m.xmpp[m.component] {
		errs = append(errs, fmt.Errorf("mapping: Domains.Component %q: also an XMPP domain", d.Component))
	}
	if d.Foreign != ForeignReject && d.Foreign != ForeignEscape {
		errs = append(errs, fmt.Errorf("mapping: Domains.Foreign: unknown policy %d", d.Foreign))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	m.componentIsSIP = m.sip[m.component]
	return m, nil
}

// Component returns the normalised Component domain.
func (m *Mapper) Component() string { return m.component }

// IsXMPPDomain reports whether domain (in any form NewMapper accepts) is an
// XMPP domain of the table.
func (m *Mapper) IsXMPPDomain(domain string) bool { return m.xmpp[m.lookup(domain)] }

// IsSIPDomain reports whether domain is a same-domain (Mode A) SIP domain of
// the table.
func (m *Mapper) IsSIPDomain(domain string) bool { return m.sip[m.lookup(domain)] }

// lookup returns the canonical form of domain, or "" when it has none.
func (m *Mapper) lookup(domain string) string {
	if m.xmpp[domain] || m.sip[domain] || domain == m.component {
		return domain // canonical already: the keys are
	}
	u, _, err := domainForms(domain)
	if err != nil {
		return ""
	}
	return u
}

// modeB reports whether the Mode B form is in use.
func (m *Mapper) modeB() bool { return m.foreign == ForeignEscape }

// JID returns the JID of a (INTERWORKING.md §1.1, §2.3):
//
//   - an address in an XMPP or same-domain SIP domain maps to the JID of
//     the same domain ([AddressToJID], Mode A);
//   - an address in another domain maps, with ForeignEscape, to the Mode B
//     JID at the Component: romeo@example.net gives
//     romeo\40example.net@<Component>, keeping the resource; with
//     ForeignReject it is refused with item-not-found (404);
//   - an address on the Component domain when that is not a same-domain SIP
//     domain names nobody (item-not-found, 404);
//   - an address without a local part in a foreign domain is refused with
//     item-not-found (404): Mode B needs a user.
//
// An address with a Local holding '@' on the Component domain is refused as
// ambiguous (jid-malformed, 400) when the Component is also a same-domain
// SIP domain and Mode B is in use (see [Mapper]). The address must first be
// valid in its own domain (the failures of [AddressToJID], jid-malformed,
// 400); a Mode B localpart is refused the same way when "user@domain" as a
// whole fails PRECIS (a right-to-left user before a left-to-right domain
// breaks the Bidi rule) or is longer than 1023 octets escaped.
func (m *Mapper) JID(a cpim.Address) (jid.JID, error) {
	j, _, err := m.jid(a)
	return j, err
}

// jid is JID, also returning the canonical address.
func (m *Mapper) jid(a cpim.Address) (jid.JID, cpim.Address, error) {
	j, c, err := toJID(a.Local, a.Domain, a.Resource, false)
	if err != nil {
		return jid.JID{}, cpim.Address{}, err
	}
	return m.place(j, c)
}

// place takes the same-domain JID j of the canonical address c and returns
// the JID the table gives c: j itself (Mode A), the Mode B JID, or an error.
func (m *Mapper) place(j jid.JID, c cpim.Address) (jid.JID, cpim.Address, error) {
	d := c.Domain
	switch {
	case m.xmpp[d] || m.sip[d]:
		if d == m.component && m.modeB() && strings.IndexByte(c.Local, '@') >= 0 {
			return jid.JID{}, cpim.Address{}, malformed("%q at the component domain %q is ambiguous with the gateway-subdomain form", c.Local, d)
		}
		return j, c, nil
	case d == m.component:
		return jid.JID{}, cpim.Address{}, notFound("the component domain %q has no users of its own", d)
	case !m.modeB():
		return jid.JID{}, cpim.Address{}, notFound("domain %q is not served", d)
	case c.Local == "":
		return jid.JID{}, cpim.Address{}, notFound("a domain-only address in %q has no gateway-subdomain JID", d)
	}
	inner := c.Local + "@" + d
	jb, cb, err := toJID(inner, m.component, c.Resource, false)
	if err != nil {
		return jid.JID{}, cpim.Address{}, err
	}
	if cb.Local != inner {
		// PRECIS changed the user or the domain inside the localpart.
		return jid.JID{}, cpim.Address{}, malformed("%q has no gateway-subdomain JID (%q)", inner, cb.Local)
	}
	return jb, c, nil
}

// Address returns the address of j, the inverse of [Mapper.JID]:
//
//   - a JID at the Component whose unescaped localpart holds '@' is decoded
//     as Mode B when ForeignEscape is set (see [Mapper] for the rules);
//   - a JID in an XMPP or same-domain SIP domain is decoded with
//     [JIDToAddress] (Mode A);
//   - any other JID, and one at the Component that has no valid Mode B form
//     and is not in a same-domain SIP domain, is refused with
//     item-not-found (404); a Mode B localpart without a user, whose
//     domain is malformed, not canonical, or served in Mode A, or that
//     [Mapper.JID] would not give back exactly, gives jid-malformed (400).
func (m *Mapper) Address(j jid.JID) (cpim.Address, error) {
	a, err := JIDToAddress(j)
	if err != nil {
		return cpim.Address{}, err
	}
	if a.Domain == m.component && m.modeB() {
		if at := strings.LastIndexByte(a.Local, '@'); at >= 0 {
			return m.decodeModeB(j, a, at)
		}
	}
	switch {
	case m.xmpp[a.Domain] || m.sip[a.Domain]:
		return a, nil
	case a.Domain == m.component:
		return cpim.Address{}, notFound("%q is not a gateway-subdomain JID", j)
	}
	return cpim.Address{}, notFound("domain %q is not served", a.Domain)
}

// decodeModeB splits the unescaped localpart of the Component JID j (whose
// address is a) at its last '@' (index at) into a foreign user and domain.
// The result must map back to j exactly, so that no two JIDs name one user.
func (m *Mapper) decodeModeB(j jid.JID, a cpim.Address, at int) (cpim.Address, error) {
	user, d := a.Local[:at], a.Local[at+1:]
	if user == "" {
		return cpim.Address{}, malformed("gateway-subdomain localpart %q has no user", a.Local)
	}
	nd, _, err := domainForms(d)
	switch {
	case err != nil:
		return cpim.Address{}, malformed("gateway-subdomain localpart %q: domain: %w", a.Local, err)
	case nd != d:
		return cpim.Address{}, malformed("gateway-subdomain localpart %q: domain is not canonical (%q)", a.Local, nd)
	case m.xmpp[d] || m.sip[d] || d == m.component:
		return cpim.Address{}, malformed("gateway-subdomain localpart %q: domain %q is served in the same-domain form", a.Local, d)
	}
	c := cpim.Address{Local: user, Domain: d, Resource: a.Resource}
	if back, _, err := m.jid(c); err != nil || !back.Equal(j) {
		return cpim.Address{}, malformed("gateway-subdomain localpart %q: the user has no JID of its own", a.Local)
	}
	return c, nil
}

// URI returns the URI of a for purpose p (INTERWORKING.md §2.4): im: (for
// ForMessage) or pres: (for ForPresence) when the domain is listed in
// Domains.IMSchemes (ADR-14), else sip:, built by [AddressToURI]. The
// address must be one the Mapper serves, as for [Mapper.JID]: an address on
// the Component domain (unless it is a same-domain SIP domain) or in a
// foreign domain under ForeignReject is refused with item-not-found (404).
// An unknown Purpose is a programming error (internal-server-error).
func (m *Mapper) URI(a cpim.Address, p Purpose) (string, error) {
	d, _, err := domainForms(a.Domain)
	if err != nil {
		return "", malformed("domain %q: %w", a.Domain, err)
	}
	switch {
	case m.xmpp[d] || m.sip[d]:
	case d == m.component:
		return "", notFound("the component domain %q has no users of its own", d)
	case !m.modeB():
		return "", notFound("domain %q is not served", d)
	}
	s := SchemeSIP
	switch {
	case p != ForMessage && p != ForPresence:
		return "", internal("unknown purpose %d", p)
	case !m.im[d]:
	case p == ForMessage:
		s = SchemeIM
	default:
		s = SchemePres
	}
	a.Domain = d
	return AddressToURI(a, s)
}

// URIToJID maps a SIP, im: or pres: URI to a JID: [URIToAddress] then
// [Mapper.JID]. It also returns the canonical address, with Original set to
// uri.
func (m *Mapper) URIToJID(uri string) (jid.JID, cpim.Address, error) {
	p, err := splitURI(uri)
	if err != nil {
		return jid.JID{}, cpim.Address{}, err
	}
	j, a, err := toJID(p.local, p.host, p.gr, true)
	if err != nil {
		return jid.JID{}, cpim.Address{}, err
	}
	a.Original = uri
	return m.place(j, a)
}

// JIDToURI maps a JID to a URI for purpose p: [Mapper.Address] then
// [Mapper.URI]. It also returns the address.
func (m *Mapper) JIDToURI(j jid.JID, p Purpose) (string, cpim.Address, error) {
	a, err := m.Address(j)
	if err != nil {
		return "", cpim.Address{}, err
	}
	u, err := m.URI(a, p)
	if err != nil {
		return "", cpim.Address{}, err
	}
	return u, a, nil
}
