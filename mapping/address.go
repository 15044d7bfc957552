package mapping

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"unicode/utf8"

	"cpimgw/cpim"

	"golang.org/x/net/idna"
	"mellium.im/xmpp/jid"
)

// This file holds the domain-agnostic address rules of INTERWORKING.md §2
// (RFC 7247 §6, XEP-0106, RFC 7622): SIP/im/pres URI ⇄ cpim.Address ⇄ JID in
// the same-domain form. The per-domain choices (same-domain or gateway
// subdomain, which scheme) are made by a [Mapper].

// Scheme is a URI scheme the gateway produces for a SIP-side address.
type Scheme string

// The schemes of RFC 7247 §6.5 step 7. sips is never produced: the gateway
// does not translate SIPS requests (ADR-23).
const (
	SchemeSIP  Scheme = "sip"  // RFC 3261 §19.1
	SchemeIM   Scheme = "im"   // RFC 3860 App. A, for messages
	SchemePres Scheme = "pres" // RFC 3859 App. A, for presence
)

// SIP status codes the address errors carry (cpim.Error.Status).
const (
	statusBadRequest           = 400 // unmappable address (ADR-21, ADR-22)
	statusNotFound             = 404 // domain or user not served
	statusUnsupportedURIScheme = 416 // tel:, http:, … (ADR-22)
	statusTemporarilyUnavail   = 480 // sips: (ADR-23, RFC 5630)
	statusServerInternalError  = 500 // a caller passed a value outside an enum
)

// maxPart is the largest localpart, domainpart or resourcepart, in octets
// (RFC 7622 §3.1; ADR-09).
const maxPart = 1023

// malformed returns the error for an address that cannot be mapped: a
// jid-malformed condition that the SIP side answers with 400 (ADR-21,
// ADR-22).
func malformed(format string, args ...any) *cpim.Error {
	return &cpim.Error{
		Condition: cpim.JIDMalformed,
		Status:    statusBadRequest,
		Cause:     fmt.Errorf("mapping: "+format, args...),
	}
}

// notFound returns the error for an address whose domain the gateway does
// not serve (404, item-not-found).
func notFound(format string, args ...any) *cpim.Error {
	return &cpim.Error{
		Condition: cpim.ItemNotFound,
		Status:    statusNotFound,
		Cause:     fmt.Errorf("mapping: "+format, args...),
	}
}

// internal returns the error for a caller passing a value outside an enum.
func internal(format string, args ...any) *cpim.Error {
	return &cpim.Error{
		Condition: cpim.InternalServerError,
		Status:    statusServerInternalError,
		Cause:     fmt.Errorf("mapping: "+format, args...),
	}
}

// URIToAddress maps a sip:, im: or pres: URI to the canonical address of the
// user it names (INTERWORKING.md §2.3 steps 1–8; RFC 7247 §6.4; ADR-01,
// ADR-04…ADR-11, ADR-15, ADR-16, ADR-20, ADR-22, ADR-23). It applies the
// same-domain rule only: the domain is not looked up, see [Mapper.JID].
//
//   - The scheme is case-insensitive. sips: is refused with
//     recipient-unavailable and Status 480, Text "SIPS Not Allowed" (the SIP
//     side adds Warning 380; ADR-23); any other scheme but sip:, im: and
//     pres: is refused with not-acceptable and Status 416 (ADR-22).
//   - A URI is printable ASCII: a space, a control or a raw non-ASCII octet
//     anywhere makes it malformed (an IDN host comes as A-labels).
//   - sip: URIs follow RFC 3261 §19.1: the userinfo is split off at the
//     first '@' before URI parameters are parsed (ADR-10), since a user may
//     hold ';' and '?'. A password ("user:pw@") is refused, and so is a
//     user with an octet RFC 3261 §25 wants encoded (a bare '#', '%' that
//     starts no escape, '"', '[' …). The port, the URI parameters other
//     than gr, and the headers are ignored.
//   - im: and pres: URIs (RFC 3860/3859 App. A) are split at the first '@';
//     the local part may use the safe set of RFC 7247 §6.2 or of RFC 3922
//     §3.2 (so '.', '#' and '?' may come bare or encoded); headers after the
//     domain are ignored. A Formal-name must have been stripped already
//     (ADR-20). The URI must have a local part.
//   - The user part is percent-decoded and must be valid UTF-8 (ADR-04); it
//     is XEP-0106-escaped, enforced with PRECIS UsernameCaseMapped (ADR-08)
//     and unescaped again: Local is the case-mapped Unicode form
//     ("sip:Alice@…" gives "alice"). A user that cannot be a JID localpart
//     (a PRECIS failure, a leading or trailing space (ADR-07), more than 1023
//     octets) is refused.
//   - The host loses a trailing dot (ADR-11), is lower-cased and converted to
//     U-labels (IDNA2008, "xn--mller-kva.example" gives "müller.example").
//     An IPv4 address is kept; an IPv6 reference keeps its brackets in the
//     canonical text form of RFC 5952 ("[2001:db8::1]"), as mellium's jid
//     accepts both (in im: and pres: too). An IPv4 address in brackets and
//     an IPv4-mapped IPv6 address are refused: jid would not take them.
//   - A gr parameter with a value becomes Resource (ADR-15, ADR-18) after
//     percent-decoding and PRECIS OpaqueString; a valueless gr is a
//     temporary GRUU and is not mapped (ADR-16), and a value that is not a
//     valid resourcepart is dropped, keeping the bare address [D]. The first
//     gr parameter counts.
//
// Every refusal is a *cpim.Error; an unmappable URI gives jid-malformed and
// Status 400 (ADR-22). Original is set to uri verbatim (ADR-25).
func URIToAddress(uri string) (cpim.Address, error) {
	p, err := splitURI(uri)
	if err != nil {
		return cpim.Address{}, err
	}
	_, a, err := toJID(p.local, p.host, p.gr, true)
	if err != nil {
		return cpim.Address{}, err
	}
	a.Original = uri
	return a, nil
}

// AddressToJID maps an address to the JID of the same-domain form
// (INTERWORKING.md §2.3 steps 4, 5, 8; RFC 7247 §6.4 steps 5–8): the
// localpart is XEP-0106-escaped (ADR-03, ADR-05, ADR-06) and enforced with
// PRECIS UsernameCaseMapped (ADR-08), the domain normalised as in
// [URIToAddress] and the resource enforced with OpaqueString (ADR-09).
//
// The address is refused (jid-malformed, Status 400) when any part cannot be
// made valid, when the escaped localpart would begin or end with `\20`
// (ADR-07), or when PRECIS mapping would change the escaping itself: width
// mapping turns a fullwidth backslash (U+FF3C) into `\` and can so create an
// escape sequence that was not in the input ("a＼40" would become "a@"), and
// canonical composition can swallow one; such a localpart has no faithful
// JID. Each part must be 1–1023 octets after mapping.
func AddressToJID(a cpim.Address) (jid.JID, error) {
	j, _, err := toJID(a.Local, a.Domain, a.Resource, false)
	return j, err
}

// JIDToAddress maps a JID to its address (INTERWORKING.md §2.4 steps 1–2;
// RFC 7247 §6.5 steps 1–3): the localpart is XEP-0106-unescaped, all ten
// sequences (ADR-12 [D]); the domainpart and resourcepart are kept as they
// are (mellium's jid has already enforced them).
//
// A JID the gateway could not map back to itself is refused with
// jid-malformed (ADR-21): a localpart that begins or ends with `\20`
// (XEP-0106 §3.2), one that is not the XEP-0106 escaping of its own
// unescaped form [D] (such as `a\5cbc`, which would alias `a\bc`), and a
// domainpart that is not a canonical host name or IP address (such as
// "a..example" or an IPv6 address without brackets).
func JIDToAddress(j jid.JID) (cpim.Address, error) {
	d := j.Domainpart()
	if d == "" {
		return cpim.Address{}, malformed("JID without a domainpart")
	}
	if nd, _, err := domainForms(d); err != nil {
		return cpim.Address{}, malformed("domainpart %q: %w", d, err)
	} else if nd != d {
		return cpim.Address{}, malformed("domainpart %q is not canonical (%q)", d, nd)
	}
	local, err := unescapeJIDLocal(j.Localpart())
	if err != nil {
		return cpim.Address{}, err
	}
	return cpim.Address{Local: local, Domain: d, Resource: j.Resourcepart()}, nil
}

// unescapeJIDLocal unescapes an enforced JID localpart e, refusing one that
// begins or ends with `\20` or is not in canonical escaped form.
func unescapeJIDLocal(e string) (string, error) {
	if e == "" {
		return "", nil
	}
	if strings.HasPrefix(e, `\20`) || strings.HasSuffix(e, `\20`) {
		return "", malformed(`localpart %q begins or ends with \20 (XEP-0106 §3.2)`, e)
	}
	u := UnescapeLocal(e)
	if EscapeLocal(u) != e {
		return "", malformed("localpart %q is not the XEP-0106 escaping of %q", e, u)
	}
	return u, nil
}

// AddressToURI maps an address to a URI of scheme s (INTERWORKING.md §2.4
// steps 3–6; RFC 7247 §6.5 steps 4–8; ADR-02, ADR-13, ADR-15, ADR-19).
// Original is ignored: a SIP side that answers within a dialog reuses the
// stored original URI itself (ADR-25).
//
//   - The local part is percent-encoded per UTF-8 octet with upper-case hex.
//     For sip: every octet but alphanumerics and -_.!~*'()&=+$,;?/ is
//     encoded; for im: and pres: every octet but alphanumerics and
//     !$&'*+-/=^_`{|}~, so '.' is encoded as RFC 7247 §6.5 step 5 says
//     ("a.b" gives "im:a%2Eb@…") and '#', '?' and '%' as well, being URI
//     delimiters (INTERWORKING.md §9 [D]). A leading '/' is always encoded,
//     so no URI starts with "sip://" [D].
//   - The domain becomes A-labels (IDNA2008 ToASCII): SIP hosts are ASCII
//     [D]; an IPv6 address keeps its brackets.
//   - For sip: a resource is appended as ";gr=" with every octet outside
//     the SIP paramchar set (alphanumerics, -_.!~*'() and /:&+$)
//     percent-encoded (ADR-15, RFC 7247 §6.5 step 8); '[' and ']' are
//     encoded too, for SIP stacks that take them for an IPv6 host [D]. im: and pres:
//     addresses are bare (RFC 3922 §4.1.1, §5.1.1; ADR-19): the resource is
//     dropped.
//
// An address without a domain, with a domain that has no ASCII form, with
// invalid UTF-8, or (for im: and pres:, whose URIs name a mailbox) without
// a local part, is refused with jid-malformed and Status 400. An unknown
// Scheme is a programming error (internal-server-error).
func AddressToURI(a cpim.Address, s Scheme) (string, error) {
	var keep *charset
	switch s {
	case SchemeSIP:
		keep = &sipUserOut
	case SchemeIM, SchemePres:
		keep = &imLocalOut
		if a.Local == "" {
			return "", malformed("%s: URI needs a local part", s)
		}
	default:
		return "", internal("unknown URI scheme %q", s)
	}
	if !utf8.ValidString(a.Local) || !utf8.ValidString(a.Resource) {
		return "", malformed("address holds invalid UTF-8")
	}
	if a.Domain == "" {
		return "", malformed("address without a domain")
	}
	_, host, err := domainForms(a.Domain)
	if err != nil {
		return "", malformed("domain %q: %w", a.Domain, err)
	}
	var b strings.Builder
	b.Grow(len(s) + 1 + 3*len(a.Local) + 1 + len(host) + 4 + 3*len(a.Resource))
	b.WriteString(string(s))
	b.WriteByte(':')
	if a.Local != "" {
		local := a.Local
		if local[0] == '/' {
			b.WriteString("%2F")
			local = local[1:]
		}
		percentEncode(&b, local, keep)
		b.WriteByte('@')
	}
	b.WriteString(host)
	if s == SchemeSIP && a.Resource != "" {
		b.WriteString(";gr=")
		percentEncode(&b, a.Resource, &paramOut)
	}
	return b.String(), nil
}

// toJID builds the JID and the canonical address of local@domain/resource
// (INTERWORKING.md §2.3 steps 4–8). With dropBadResource an invalid resource
// is dropped instead of refused (a gr value, §2.3 step 7 [D]).
func toJID(local, domain, resource string, dropBadResource bool) (jid.JID, cpim.Address, error) {
	d, _, err := domainForms(domain)
	if err != nil {
		return jid.JID{}, cpim.Address{}, malformed("domain %q: %w", domain, err)
	}
	var esc string
	if local != "" {
		if !utf8.ValidString(local) {
			return jid.JID{}, cpim.Address{}, malformed("user part is not valid UTF-8 (ADR-04)")
		}
		// Protect backslashes before upper-case escape look-alikes too:
		// case mapping would turn `\2F` into the escape `\2f`.
		esc = escapeLocal(local, true)
		if len(esc) > 4*maxPart {
			// Cheap bound before PRECIS; the exact check is jid's.
			return jid.JID{}, cpim.Address{}, malformed("localpart longer than %d octets", maxPart)
		}
	}
	// One jid.New for the whole JID; only when it fails is the resource
	// tried apart, to drop it (a gr value) or to blame it.
	j, err := jid.New(esc, d, resource)
	if err != nil && resource != "" {
		var errBare error
		j, errBare = jid.New(esc, d, "")
		switch {
		case errBare != nil:
			err = errBare
		case !dropBadResource:
			return jid.JID{}, cpim.Address{}, malformed("resource %q: %w", resource, err)
		default:
			err = nil
		}
	}
	if err != nil {
		return jid.JID{}, cpim.Address{}, malformed("%q@%q is not a valid bare JID: %w", esc, d, err)
	}
	if j.Domainpart() != d {
		return jid.JID{}, cpim.Address{}, malformed("domain %q changed to %q by jid", d, j.Domainpart())
	}
	var u string
	if e := j.Localpart(); e != "" {
		if strings.HasPrefix(e, `\20`) || strings.HasSuffix(e, `\20`) {
			return jid.JID{}, cpim.Address{}, malformed("%q: a localpart cannot begin or end with a space (ADR-07)", local)
		}
		u = UnescapeLocal(e)
		// PRECIS may have created, changed or destroyed an escape
		// sequence (a fullwidth backslash, a combining mark after a hex
		// digit): the JID would then not stand for this user.
		if EscapeLocal(u) != e || !specialsEqual(local, u) {
			return jid.JID{}, cpim.Address{}, malformed("%q: PRECIS mapping changes its XEP-0106 escaping (%q)", local, e)
		}
	}
	return j, cpim.Address{Local: u, Domain: d, Resource: j.Resourcepart()}, nil
}

// uriParts are the pieces of a URI that the mapping uses.
type uriParts struct {
	scheme Scheme
	local  string // percent-decoded user or mailbox local part; "" if none
	host   string // host as written, without port
	gr     string // percent-decoded gr value; "" if none or invalid
}

// splitURI takes a sip:, im: or pres: URI apart (INTERWORKING.md §2.3 steps
// 1–3, 7).
func splitURI(uri string) (uriParts, error) {
	colon := strings.IndexByte(uri, ':')
	if colon <= 0 || !validScheme(uri[:colon]) {
		return uriParts{}, malformed("%q is not a URI", uri)
	}
	var p uriParts
	switch scheme := strings.ToLower(uri[:colon]); scheme {
	case "sip":
		p.scheme = SchemeSIP
	case "im":
		p.scheme = SchemeIM
	case "pres":
		p.scheme = SchemePres
	case "sips":
		return uriParts{}, &cpim.Error{
			Condition: cpim.RecipientUnavailable,
			Status:    statusTemporarilyUnavail,
			Text:      "SIPS Not Allowed",
			Cause:     errors.New("mapping: a gateway must not translate sips: URIs (RFC 7247 §8)"),
		}
	default:
		return uriParts{}, &cpim.Error{
			Condition: cpim.NotAcceptable,
			Status:    statusUnsupportedURIScheme,
			Text:      "Unsupported URI Scheme",
			Cause:     fmt.Errorf("mapping: URI scheme %q cannot be mapped (RFC 7247 §6.1)", scheme),
		}
	}
	rest := uri[colon+1:]
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c <= ' ' || c >= 0x7f {
			return uriParts{}, malformed("URI holds octet %#02x: a URI is printable ASCII", c)
		}
	}
	if p.scheme == SchemeSIP {
		return splitSIP(p, rest)
	}
	return splitIM(p, rest)
}

// splitSIP parses the part of a sip: URI after the scheme (RFC 3261 §19.1.1,
// §25).
func splitSIP(p uriParts, rest string) (uriParts, error) {
	// ADR-10: no '@' can occur in the parameters or headers of a valid
	// SIP URI, but ';' and '?' can occur in the user part: split first.
	if at := strings.IndexByte(rest, '@'); at >= 0 {
		user := rest[:at]
		rest = rest[at+1:]
		if strings.IndexByte(user, ':') >= 0 {
			return uriParts{}, malformed("SIP URI with a password")
		}
		if user == "" {
			return uriParts{}, malformed("SIP URI with an empty user part")
		}
		if !sipUserIn.allows(user) {
			return uriParts{}, malformed("SIP user part %q holds characters RFC 3261 does not allow", user)
		}
		local, err := percentDecode(user)
		if err != nil {
			return uriParts{}, err
		}
		p.local = local
	}
	// hostport = host [ ":" port ]
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return uriParts{}, malformed("IPv6 reference without ']'")
		}
		p.host, rest = rest[:end+1], rest[end+1:]
	} else {
		end := strings.IndexAny(rest, ":;?")
		if end < 0 {
			end = len(rest)
		}
		p.host, rest = rest[:end], rest[end:]
		if !hostChars.allows(p.host) {
			return uriParts{}, malformed("host %q is not a host name or IPv4 address", p.host)
		}
	}
	if p.host == "" {
		return uriParts{}, malformed("SIP URI without a host")
	}
	if strings.HasPrefix(rest, ":") {
		end := strings.IndexAny(rest, ";?")
		if end < 0 {
			end = len(rest)
		}
		port := rest[1:end]
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return uriParts{}, malformed("port %q is not a number", port)
		}
		rest = rest[end:]
	}
	params := rest
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		params = rest[:q] // headers are ignored
	}
	if params != "" && params[0] != ';' {
		return uriParts{}, malformed("unexpected %q after the host", params)
	}
	if params == "" {
		return p, nil
	}
	for param := range strings.SplitSeq(params[1:], ";") {
		name, value, _ := strings.Cut(param, "=")
		if !strings.EqualFold(name, "gr") {
			continue
		}
		// The first gr counts. A valueless gr is a temporary GRUU
		// (ADR-16); an invalid value is dropped (§2.3 step 7 [D]).
		if value != "" && paramIn.allows(value) {
			if v, err := percentDecode(value); err == nil && utf8.ValidString(v) {
				p.gr = v
			}
		}
		break
	}
	return p, nil
}

// splitIM parses the part of an im: or pres: URI after the scheme (RFC 3860
// App. A, RFC 3859 App. A; RFC 3922 §3.3; RFC 7247 §6.4 step 2).
func splitIM(p uriParts, rest string) (uriParts, error) {
	at := strings.IndexByte(rest, '@')
	if at < 0 {
		return uriParts{}, malformed("%s: URI without a local part", p.scheme)
	}
	local, host := rest[:at], rest[at+1:]
	if q := strings.IndexByte(host, '?'); q >= 0 {
		host = host[:q] // headers are ignored
	}
	if local == "" {
		return uriParts{}, malformed("%s: URI with an empty local part", p.scheme)
	}
	if !imLocalIn.allows(local) {
		return uriParts{}, malformed("%s: local part %q holds characters a mailbox cannot", p.scheme, local)
	}
	// An IPv6 reference comes in brackets, as in SIP; domainForms checks it.
	if host == "" || host[0] != '[' && !hostChars.allows(host) {
		return uriParts{}, malformed("%s: domain %q is not a host name or IP address", p.scheme, host)
	}
	l, err := percentDecode(local)
	if err != nil {
		return uriParts{}, err
	}
	p.local, p.host = l, host
	return p, nil
}

// validScheme reports whether s is an RFC 3986 §3.1 scheme name.
func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// percentDecode decodes %HH sequences (either case of hex). A '%' not
// followed by two hex digits makes the URI malformed. The result may be
// invalid UTF-8; the caller checks.
func percentDecode(s string) (string, error) {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return "", malformed("bad percent-encoding in %q", s)
		}
		b = append(b, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
		i += 2
	}
	return string(b), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// percentEncode writes s to b, encoding as %HH (upper-case hex, RFC 3986
// §2.1) every octet that keep does not allow.
func percentEncode(b *strings.Builder, s string, keep *charset) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep.has(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
}

// domainForms returns the canonical (U-label) form of a domain, as mellium's
// jid stores it, and its ASCII (A-label) form for URIs (INTERWORKING.md §2.3
// step 6, §2.4 step 5; RFC 7622 §3.2; ADR-11). IPv4 addresses and bracketed
// IPv6 references are accepted, as jid accepts them, in their canonical text
// form; a bare IPv6 address is not (it cannot be a URI host).
func domainForms(d string) (unicode, ascii string, err error) {
	if d == "" {
		return "", "", errors.New("empty domain")
	}
	if len(d) > maxPart {
		return "", "", fmt.Errorf("domain longer than %d octets", maxPart)
	}
	if d[0] == '[' {
		if d[len(d)-1] != ']' {
			return "", "", errors.New("IPv6 reference without ']'")
		}
		ip := net.ParseIP(d[1 : len(d)-1])
		if ip == nil || ip.To4() != nil {
			return "", "", errors.New("not an IPv6 reference")
		}
		s := "[" + ip.String() + "]"
		return s, s, nil
	}
	if ip := net.ParseIP(d); ip != nil {
		if ip.To4() == nil || strings.IndexByte(d, ':') >= 0 {
			return "", "", errors.New("an IPv6 address needs brackets")
		}
		s := ip.String()
		return s, s, nil
	}
	// RFC 7622 §3.2: strip a trailing dot before any other step.
	d = strings.TrimSuffix(d, ".")
	if isHostName(d, true) {
		return d, d, nil // lower-case LDH, no A-labels: already canonical
	}
	u, err := idna.Display.ToUnicode(d)
	if err != nil {
		return "", "", err
	}
	a, err := idna.Display.ToASCII(u)
	if err != nil {
		return "", "", err
	}
	if !isHostName(a, false) {
		return "", "", fmt.Errorf("%q is not a host name", a)
	}
	if u2, err := idna.Display.ToUnicode(a); err != nil || u2 != u {
		return "", "", fmt.Errorf("IDNA forms of %q do not round-trip", d)
	}
	if len(u) > maxPart {
		return "", "", fmt.Errorf("domain longer than %d octets", maxPart)
	}
	return u, a, nil
}

// isHostName reports whether d is a host name of lower-case LDH labels
// (RFC 3261 §25 hostname, RFC 5890 §2.3.1): non-empty labels of a–z, 0–9 and
// '-', not beginning or ending with '-'. With canonical set, a label must
// also not hold "--" in its third and fourth positions (an A-label, or a
// label IDNA2008 refuses), so that d is its own U-label form.
func isHostName(d string, canonical bool) bool {
	if d == "" {
		return false
	}
	for label := range strings.SplitSeq(d, ".") {
		n := len(label)
		if n == 0 || label[0] == '-' || label[n-1] == '-' {
			return false
		}
		if canonical && n >= 4 && label[2] == '-' && label[3] == '-' {
			return false
		}
		for i := 0; i < n; i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// charset is a set of ASCII octets.
type charset [2]uint64

func newCharset(chars string) charset {
	var s charset
	for i := 0; i < len(chars); i++ {
		c := chars[i]
		s[c/64] |= 1 << (c % 64)
	}
	return s
}

func (s *charset) has(c byte) bool { return c < 128 && s[c/64]&(1<<(c%64)) != 0 }

// allows reports whether every octet of str is in s.
func (s *charset) allows(str string) bool {
	for i := 0; i < len(str); i++ {
		if !s.has(str[i]) {
			return false
		}
	}
	return true
}

const (
	alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	// RFC 3261 §25: unreserved = alphanum / mark.
	mark = "-_.!~*'()"
)

var (
	// sipUserOut: RFC 3261 §25 user = unreserved / user-unreserved; every
	// other octet is encoded (INTERWORKING.md §2.4 step 4).
	sipUserOut = newCharset(alnum + mark + "&=+$,;?/")
	// sipUserIn: what a SIP user part may hold, '%' for escapes.
	sipUserIn = newCharset(alnum + mark + "&=+$,;?/" + "%")
	// imLocalOut: RFC 7247 §6.5 step 5 with '#', '?' and '%' encoded too
	// (INTERWORKING.md §2.4 step 4, §9 [D]).
	imLocalOut = newCharset(alnum + "!$&'*+-/=^_`{|}~")
	// imLocalIn: RFC 5322 atext and '.', which covers the safe sets of
	// both RFC 7247 §6.2 and RFC 3922 §3.2 step 4, '%' for escapes.
	imLocalIn = newCharset(alnum + "!#$%&'*+-/=?^_`{|}~" + ".")
	// paramOut: RFC 3261 §25 paramchar without escaped, and without '['
	// and ']': sipgo reads a '[' before any '@' as the start of an IPv6
	// host, so "sip:example.com;gr=[" does not parse there [D].
	paramOut = newCharset(alnum + mark + "/:&+$")
	paramIn  = newCharset(alnum + mark + "[]/:&+$" + "%")
	// hostChars: RFC 3261 §25 hostname and IPv4address characters; the
	// case-insensitive host is checked further by domainForms.
	hostChars = newCharset(alnum + "-.")
)
