package cpim

import "strings"

// Address is the canonical, protocol-neutral identity of a user
// (INTERWORKING.md §2.5): the localpart is stored unescaped in Unicode (never
// in XEP-0106 or percent-encoded form), the domain as lower-case U-labels
// without a trailing dot, and the resource (an XMPP resourcepart or the value
// of a SIP GRUU "gr" parameter) as is.
//
// Original keeps the SIP URI an address was mapped from, byte for byte, so
// replies can reuse it: the mapping is lossy (sip:Alice@example.com becomes
// alice@example.com) and SIP compares user parts case-sensitively
// (RFC 3261 §19.1.4; ADR-25). Original is not part of the identity.
type Address struct {
	Local    string // localpart, unescaped Unicode; empty for a domain-only address
	Domain   string // U-label domain, lower case, no trailing dot
	Resource string // optional resource (XMPP resourcepart or SIP gr value)
	Original string // the SIP URI this address came from, verbatim; optional
}

// IsZero reports whether a carries no identity at all.
func (a Address) IsZero() bool { return a.Local == "" && a.Domain == "" && a.Resource == "" }

// Bare returns a without its resource and without Original (an original URI
// would name the resource too, as a gr parameter).
func (a Address) Bare() Address { return Address{Local: a.Local, Domain: a.Domain} }

// IsBare reports whether a has no resource.
func (a Address) IsBare() bool { return a.Resource == "" }

// Equal reports whether a and b name the same identity; Original is ignored.
func (a Address) Equal(b Address) bool {
	return a.Local == b.Local && a.Domain == b.Domain && a.Resource == b.Resource
}

// String returns a human-readable form "local@domain/resource" for logs. It
// is neither a JID nor a URI: the localpart is not escaped. Use package
// mapping to produce either.
func (a Address) String() string {
	var b strings.Builder
	if a.Local != "" {
		b.WriteString(a.Local)
		b.WriteByte('@')
	}
	b.WriteString(a.Domain)
	if a.Resource != "" {
		b.WriteByte('/')
		b.WriteString(a.Resource)
	}
	return b.String()
}
