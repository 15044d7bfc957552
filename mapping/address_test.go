package mapping

import (
	"errors"
	"strings"
	"testing"

	"cpimgw/cpim"

	"mellium.im/xmpp/jid"
)

// wantErr checks that err is a *cpim.Error with the given condition and SIP
// status.
func wantErr(t *testing.T, err error, cond cpim.Condition, status int) {
	t.Helper()
	var e *cpim.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want a *cpim.Error %s/%d", err, err, cond, status)
	}
	if e.Condition != cond || e.Status != status {
		t.Fatalf("error = %v, want condition %s and status %d", err, cond, status)
	}
	if e.Cause == nil || !strings.HasPrefix(e.Cause.Error(), "mapping: ") {
		t.Errorf("error cause = %v, want a \"mapping: \" cause", e.Cause)
	}
}

// uriToJID runs the S2X chain of the pure rules: URI → address → JID.
func uriToJID(uri string) (jid.JID, error) {
	a, err := URIToAddress(uri)
	if err != nil {
		return jid.JID{}, err
	}
	return AddressToJID(a)
}

// jidToURI runs the X2S chain of the pure rules: JID → address → URI.
func jidToURI(s string, scheme Scheme) (string, error) {
	j, err := jid.Parse(s)
	if err != nil {
		return "", err
	}
	a, err := JIDToAddress(j)
	if err != nil {
		return "", err
	}
	return AddressToURI(a, scheme)
}

// The worked examples of INTERWORKING.md §2.6, numbered as there. A row with
// both s2x and x2s set is checked in both directions.
func TestWorkedExamples(t *testing.T) {
	type dir int
	const (
		s2x dir = 1 << iota
		x2s
		both = s2x | x2s
	)
	tests := map[string]struct {
		uri    string
		jid    string
		scheme Scheme
		dir    dir
		cond   cpim.Condition // S2X refusal
		status int
	}{
		"01 percent-decoded UTF-8":     {uri: "sip:f%C3%BC@sip.example", jid: "fü@sip.example", dir: both},
		"02 apostrophe escaped":        {uri: "sip:o'malley@sip.example", jid: `o\27malley@sip.example`, dir: both},
		"03 GRUU to resource":          {uri: "sip:foo@sip.example;gr=bar", jid: "foo@sip.example/bar", dir: both},
		"04 ampersand legal in SIP":    {uri: "sip:m&m@xmpp.example", jid: `m\26m@xmpp.example`, dir: both},
		"05 non-ASCII encoded":         {uri: "sip:tsch%C3%BCss@xmpp.example", jid: "tschüss@xmpp.example", dir: both},
		"06 resource to gr":            {uri: "sip:baz@xmpp.example;gr=qux", jid: "baz@xmpp.example/qux", dir: both},
		"07 case-mapped":               {uri: "sip:Alice@Example.COM", jid: "alice@example.com", dir: s2x},
		"07 reverse is lower case":     {uri: "sip:alice@example.com", jid: "alice@example.com", dir: both},
		"08 space escaped":             {uri: "sip:john%20doe@x.example", jid: `john\20doe@x.example`, dir: both},
		"09 leading space refused":     {uri: "sip:%20john@x.example", dir: s2x, cond: cpim.JIDMalformed, status: 400},
		"10 at escaped":                {uri: "sip:a%40b@x.example", jid: `a\40b@x.example`, dir: both},
		"11 look-alike protected":      {uri: "sip:back%5C27slash@x.example", jid: `back\5c27slash@x.example`, dir: both},
		"12 im ampersand":              {uri: "im:m&m@x.example", jid: `m\26m@x.example`, scheme: SchemeIM, dir: both},
		"12 pres slash":                {uri: "pres:a/b@x.example", jid: `a\2fb@x.example`, scheme: SchemePres, dir: both},
		"13 semicolon and equals":      {uri: "sip:alice;day=tuesday@x.example", jid: "alice;day=tuesday@x.example", dir: both},
		"14 fullwidth A":               {uri: "sip:%EF%BC%A1lice@x.example", jid: "alice@x.example", dir: s2x},
		"15 roman numeral refused":     {uri: "sip:%E2%85%A3@x.example", dir: s2x, cond: cpim.JIDMalformed, status: 400},
		"16 sips refused":              {uri: "sips:romeo@x.example", dir: s2x, cond: cpim.RecipientUnavailable, status: 480},
		"17 hash in sip":               {uri: "sip:a%23b@x.example", jid: "a#b@x.example", dir: both},
		"17 hash in im":                {uri: "im:a%23b@x.example", jid: "a#b@x.example", scheme: SchemeIM, dir: both},
		"18 dot in sip":                {uri: "sip:a.b@x.example", jid: "a.b@x.example", dir: both},
		"18 dot in im":                 {uri: "im:a%2Eb@x.example", jid: "a.b@x.example", scheme: SchemeIM, dir: both},
		"19 percent always encoded":    {uri: "sip:x%25y@x.example", jid: "x%y@x.example", dir: both},
		"20 paramchar encoding":        {uri: "sip:juliet@example.com;gr=balcony%202", jid: "juliet@example.com/balcony 2", dir: both},
		"21 at not a paramchar":        {uri: "sip:room@chat.example;gr=Nick%40Home", jid: "room@chat.example/Nick@Home", dir: both},
		"22 valueless gr is temporary": {uri: "sip:asd887f9dfkk76690@example.com;gr", jid: "asd887f9dfkk76690@example.com", dir: s2x},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.dir&s2x != 0 {
				j, err := uriToJID(tc.uri)
				if tc.cond != "" {
					wantErr(t, err, tc.cond, tc.status)
					return
				}
				if err != nil {
					t.Fatalf("%s: %v", tc.uri, err)
				}
				if j.String() != tc.jid {
					t.Errorf("%s → %q, want %q", tc.uri, j, tc.jid)
				}
			}
			if tc.dir&x2s != 0 {
				scheme := tc.scheme
				if scheme == "" {
					scheme = SchemeSIP
				}
				got, err := jidToURI(tc.jid, scheme)
				if err != nil {
					t.Fatalf("%s: %v", tc.jid, err)
				}
				if got != tc.uri {
					t.Errorf("%s → %q, want %q", tc.jid, got, tc.uri)
				}
			}
		})
	}
}

// URIToAddress, rule by rule (INTERWORKING.md §2.3, checklist ADR-xx).
func TestURIToAddress(t *testing.T) {
	tests := map[string]struct {
		uri  string
		want cpim.Address // Original is checked to be uri
	}{
		// Step 1: schemes.
		"upper-case scheme": {"SIP:alice@example.com", cpim.Address{Local: "alice", Domain: "example.com"}},
		"im scheme":         {"im:alice@example.com", cpim.Address{Local: "alice", Domain: "example.com"}},
		"pres scheme":       {"pres:alice@example.com", cpim.Address{Local: "alice", Domain: "example.com"}},
		"domain-only sip":   {"sip:example.com", cpim.Address{Domain: "example.com"}},
		"domain-only gr":    {"sip:example.com;gr=x", cpim.Address{Domain: "example.com", Resource: "x"}},
		// Step 2 / ADR-10: userinfo split at the first '@' before params.
		"ADR-10 semicolon in user": {"sip:a;b=c@example.com;transport=tcp", cpim.Address{Local: "a;b=c", Domain: "example.com"}},
		"ADR-10 question in user":  {"sip:a?b@example.com", cpim.Address{Local: "a?b", Domain: "example.com"}},
		"ADR-10 gr after user ;":   {"sip:a;gr=x@example.com;gr=y", cpim.Address{Local: "a;gr=x", Domain: "example.com", Resource: "y"}},
		"ADR-10 slash in user":     {"sip:a/b@example.com", cpim.Address{Local: "a/b", Domain: "example.com"}},
		"leading slash in user":    {"sip://a@example.com", cpim.Address{Local: "//a", Domain: "example.com"}},
		// Steps 3–4 / ADR-04, ADR-05: decode, then escape all nine.
		"ADR-05 all nine decoded": {"sip:a%20%22%26%27%2F%3A%3C%3E%40b@example.com",
			cpim.Address{Local: `a "&'/:<>@b`, Domain: "example.com"}},
		"lower-case hex decoded": {"sip:f%c3%bc@example.com", cpim.Address{Local: "fü", Domain: "example.com"}},
		"unreserved encoded":     {"sip:%61lice@example.com", cpim.Address{Local: "alice", Domain: "example.com"}},
		// ADR-06: a backslash look-alike survives.
		"ADR-06 look-alike":       {"sip:c%3A%5C5commas@example.com", cpim.Address{Local: `c:\5commas`, Domain: "example.com"}},
		"ADR-06 upper look-alike": {"sip:a%5C2Fb@example.com", cpim.Address{Local: `a\2fb`, Domain: "example.com"}},
		"lone backslash":          {"sip:foo%5Cbar@example.com", cpim.Address{Local: `foo\bar`, Domain: "example.com"}},
		// ADR-07: \20 inside is fine.
		"ADR-07 inner space": {"sip:a%20b@example.com", cpim.Address{Local: "a b", Domain: "example.com"}},
		// ADR-08: PRECIS UsernameCaseMapped.
		"ADR-08 case mapped":  {"sip:ALICE@example.com", cpim.Address{Local: "alice", Domain: "example.com"}},
		"ADR-08 width mapped": {"sip:%EF%BC%A1%EF%BC%A2@example.com", cpim.Address{Local: "ab", Domain: "example.com"}},
		"ADR-08 NFC":          {"sip:a%CC%81@example.com", cpim.Address{Local: "á", Domain: "example.com"}},
		"telephone number":    {"sip:+15551234567@example.com;user=phone", cpim.Address{Local: "+15551234567", Domain: "example.com"}},
		// Step 6 / ADR-11: host.
		"ADR-11 trailing dot":     {"sip:alice@example.com.", cpim.Address{Local: "alice", Domain: "example.com"}},
		"host lower-cased":        {"sip:alice@EXAMPLE.Com", cpim.Address{Local: "alice", Domain: "example.com"}},
		"IDN A-label to U-label":  {"sip:alice@xn--mller-kva.example", cpim.Address{Local: "alice", Domain: "müller.example"}},
		"IDN upper-case A-label":  {"sip:alice@XN--MLLER-KVA.example", cpim.Address{Local: "alice", Domain: "müller.example"}},
		"IPv4 host":               {"sip:alice@192.0.2.1", cpim.Address{Local: "alice", Domain: "192.0.2.1"}},
		"IPv6 host canonicalised": {"sip:alice@[2001:DB8:0::1]:5061", cpim.Address{Local: "alice", Domain: "[2001:db8::1]"}},
		"port ignored":            {"sip:alice@example.com:5060", cpim.Address{Local: "alice", Domain: "example.com"}},
		"params ignored":          {"sip:alice@example.com;transport=tcp;lr;maddr=192.0.2.9", cpim.Address{Local: "alice", Domain: "example.com"}},
		"headers ignored":         {"sip:alice@example.com?subject=hi&priority=urgent", cpim.Address{Local: "alice", Domain: "example.com"}},
		"port, params, headers":   {"sip:alice@example.com:5060;gr=x?h=v", cpim.Address{Local: "alice", Domain: "example.com", Resource: "x"}},
		// Step 7 / ADR-15, ADR-16: gr.
		"ADR-15 gr decoded":            {"sip:a@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", cpim.Address{Local: "a", Domain: "example.com", Resource: "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"}},
		"ADR-15 gr non-ASCII":          {"sip:a@example.com;gr=caf%C3%A9", cpim.Address{Local: "a", Domain: "example.com", Resource: "café"}},
		"ADR-15 gr keeps case":         {"sip:a@example.com;gr=Phone", cpim.Address{Local: "a", Domain: "example.com", Resource: "Phone"}},
		"ADR-15 GR name case":          {"sip:a@example.com;GR=Phone", cpim.Address{Local: "a", Domain: "example.com", Resource: "Phone"}},
		"ADR-15 first gr counts":       {"sip:a@example.com;gr=one;gr=two", cpim.Address{Local: "a", Domain: "example.com", Resource: "one"}},
		"ADR-16 valueless gr":          {"sip:a@example.com;gr;gr=two", cpim.Address{Local: "a", Domain: "example.com"}},
		"ADR-16 empty gr":              {"sip:a@example.com;gr=", cpim.Address{Local: "a", Domain: "example.com"}},
		"invalid gr UTF-8 dropped":     {"sip:a@example.com;gr=%FF", cpim.Address{Local: "a", Domain: "example.com"}},
		"invalid gr control dropped":   {"sip:a@example.com;gr=a%00b", cpim.Address{Local: "a", Domain: "example.com"}},
		"invalid gr escape dropped":    {"sip:a@example.com;gr=a%zz", cpim.Address{Local: "a", Domain: "example.com"}},
		"invalid gr character dropped": {"sip:a@example.com;gr=a\"b", cpim.Address{Local: "a", Domain: "example.com"}},
		"over-long gr dropped":         {"sip:a@example.com;gr=" + strings.Repeat("r", 1024), cpim.Address{Local: "a", Domain: "example.com"}},
		"gr of 1023 octets kept":       {"sip:a@example.com;gr=" + strings.Repeat("r", 1023), cpim.Address{Local: "a", Domain: "example.com", Resource: strings.Repeat("r", 1023)}},
		// im:/pres: (ADR-20, RFC 3922 §3.3, INTERWORKING.md §9).
		"im RFC 7247 encoding":  {"im:a%2Eb%28c%29@example.com", cpim.Address{Local: "a.b(c)", Domain: "example.com"}},
		"im RFC 3922 encoding":  {"im:here%27s_a.b%26c@example.com", cpim.Address{Local: "here's_a.b&c", Domain: "example.com"}},
		"im bare hash":          {"im:a#b@example.com", cpim.Address{Local: "a#b", Domain: "example.com"}},
		"im bare question mark": {"im:a?b@example.com", cpim.Address{Local: "a?b", Domain: "example.com"}},
		"im encoded question":   {"im:a%3Fb@example.com", cpim.Address{Local: "a?b", Domain: "example.com"}},
		"im headers ignored":    {"im:a@example.com?subject=hi", cpim.Address{Local: "a", Domain: "example.com"}},
		"im IDN domain":         {"pres:a@xn--mller-kva.example", cpim.Address{Local: "a", Domain: "müller.example"}},
		"im trailing dot":       {"pres:a@example.com.", cpim.Address{Local: "a", Domain: "example.com"}},
		"im IPv6 domain":        {"im:a@[2001:DB8::1]", cpim.Address{Local: "a", Domain: "[2001:db8::1]"}},
		"im upper-case scheme":  {"IM:A@Example.com", cpim.Address{Local: "a", Domain: "example.com"}},
		// Lengths (ADR-09): 1023 octets are fine.
		"localpart of 1023 octets": {"sip:" + strings.Repeat("a", 1023) + "@example.com", cpim.Address{Local: strings.Repeat("a", 1023), Domain: "example.com"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := URIToAddress(tc.uri)
			if err != nil {
				t.Fatalf("URIToAddress(%q): %v", tc.uri, err)
			}
			tc.want.Original = tc.uri
			if got != tc.want {
				t.Errorf("URIToAddress(%q)\n got %#v\nwant %#v", tc.uri, got, tc.want)
			}
		})
	}
}

// Every refusal of URIToAddress, with the condition and SIP status the SIP
// side answers with (ADR-21, ADR-22, ADR-23).
func TestURIToAddressErrors(t *testing.T) {
	tests := map[string]struct {
		uri    string
		cond   cpim.Condition
		status int
	}{
		"ADR-23 sips":            {"sips:romeo@example.com", cpim.RecipientUnavailable, 480},
		"ADR-23 upper-case SIPS": {"SIPS:romeo@example.com", cpim.RecipientUnavailable, 480},
		"ADR-22 tel":             {"tel:+15551234567", cpim.NotAcceptable, 416},
		"ADR-22 http":            {"http://example.com/", cpim.NotAcceptable, 416},
		"ADR-22 xmpp":            {"xmpp:romeo@example.com", cpim.NotAcceptable, 416},
		"ADR-22 mailto":          {"mailto:romeo@example.com", cpim.NotAcceptable, 416},
		"no scheme":              {"romeo@example.com", cpim.JIDMalformed, 400},
		"empty":                  {"", cpim.JIDMalformed, 400},
		"bad scheme name":        {"s p:romeo@example.com", cpim.JIDMalformed, 400},
		"scheme only":            {"sip:", cpim.JIDMalformed, 400},
		"password":               {"sip:romeo:secret@example.com", cpim.JIDMalformed, 400},
		"empty password":         {"sip:romeo:@example.com", cpim.JIDMalformed, 400},
		"empty user":             {"sip:@example.com", cpim.JIDMalformed, 400},
		"bare hash in SIP user":  {"sip:a#b@example.com", cpim.JIDMalformed, 400},
		"bare percent":           {"sip:x%y@example.com", cpim.JIDMalformed, 400},
		"truncated escape":       {"sip:x%2@example.com", cpim.JIDMalformed, 400},
		"space in URI":           {"sip:a b@example.com", cpim.JIDMalformed, 400},
		"raw UTF-8 in URI":       {"sip:fü@example.com", cpim.JIDMalformed, 400},
		"raw UTF-8 host":         {"sip:a@müller.example", cpim.JIDMalformed, 400},
		"control in URI":         {"sip:a@example.com\r\nX: y", cpim.JIDMalformed, 400},
		"ADR-04 invalid UTF-8":   {"sip:%C3%28@example.com", cpim.JIDMalformed, 400},
		"ADR-04 lone byte":       {"sip:%FF@example.com", cpim.JIDMalformed, 400},
		"ADR-07 leading space":   {"sip:%20a@example.com", cpim.JIDMalformed, 400},
		"ADR-07 trailing space":  {"sip:a%20@example.com", cpim.JIDMalformed, 400},
		"ADR-08 PRECIS control":  {"sip:a%00b@example.com", cpim.JIDMalformed, 400},
		"ADR-08 titlecase ǅ":     {"sip:%C7%85@example.com", cpim.JIDMalformed, 400},
		"ADR-08 zero width":      {"sip:alice%E2%80%8B@example.com", cpim.JIDMalformed, 400},
		"ADR-08 fullwidth at":    {"sip:a%EF%BC%A0b@example.com", cpim.JIDMalformed, 400},
		// Width mapping turns U+FF3C into '\' and would create the escape
		// \40 ('@') that the user never wrote.
		"fullwidth backslash makes an escape":   {"sip:%EF%BD%81%EF%BC%BC40@example.com", cpim.JIDMalformed, 400},
		"fullwidth backslash makes \\5c":        {"sip:%EF%BD%81%EF%BC%BC5c@example.com", cpim.JIDMalformed, 400},
		"combining mark swallows an escape":     {"sip:%3A%CC%81x@example.com", cpim.JIDMalformed, 400},
		"localpart over 1023 octets":            {"sip:" + strings.Repeat("a", 1024) + "@example.com", cpim.JIDMalformed, 400},
		"localpart over 1023 octets by escapes": {"sip:" + strings.Repeat("%40", 342) + "@example.com", cpim.JIDMalformed, 400},
		"no host":                               {"sip:alice@", cpim.JIDMalformed, 400},
		"no host before port":                   {"sip:alice@:5060", cpim.JIDMalformed, 400},
		"bad port":                              {"sip:alice@example.com:50x0", cpim.JIDMalformed, 400},
		"empty port":                            {"sip:alice@example.com:", cpim.JIDMalformed, 400},
		"junk after host":                       {"sip:alice@[::1]x", cpim.JIDMalformed, 400},
		"IPv6 without bracket":                  {"sip:alice@[::1", cpim.JIDMalformed, 400},
		"IPv4 in brackets":                      {"sip:alice@[192.0.2.1]", cpim.JIDMalformed, 400},
		"v4-mapped IPv6":                        {"sip:alice@[::ffff:192.0.2.1]", cpim.JIDMalformed, 400},
		"second at":                             {"sip:a@b@example.com", cpim.JIDMalformed, 400},
		"underscore host":                       {"sip:alice@gw_example", cpim.JIDMalformed, 400},
		"hyphen-led label":                      {"sip:alice@-gw.example", cpim.JIDMalformed, 400},
		"empty label":                           {"sip:alice@gw..example", cpim.JIDMalformed, 400},
		"bad A-label":                           {"sip:alice@xn--a.example", cpim.JIDMalformed, 400},
		"two trailing dots":                     {"sip:alice@example.com..", cpim.JIDMalformed, 400},
		"im without local part":                 {"im:example.com", cpim.JIDMalformed, 400},
		"im empty local part":                   {"im:@example.com", cpim.JIDMalformed, 400},
		"im quoted local part":                  {`im:"a b"@example.com`, cpim.JIDMalformed, 400},
		"im parenthesis bare":                   {"im:a(b)@example.com", cpim.JIDMalformed, 400},
		"im second at":                          {"im:a@b@example.com", cpim.JIDMalformed, 400},
		"pres without domain":                   {"pres:a@", cpim.JIDMalformed, 400},
		"pres IPv4 domain literal":              {"pres:a@[192.0.2.1]", cpim.JIDMalformed, 400},
		"pres bad IPv6":                         {"pres:a@[2001:db8::1", cpim.JIDMalformed, 400},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := URIToAddress(tc.uri)
			if err == nil {
				t.Fatalf("URIToAddress(%q) = %#v, want an error", tc.uri, a)
			}
			wantErr(t, err, tc.cond, tc.status)
		})
	}
}

// The exact error SIPS gives (ADR-23): the SIP side turns it into 480 with
// Warning 380 "SIPS Not Allowed".
func TestURIToAddressSIPS(t *testing.T) {
	_, err := URIToAddress("sips:romeo@example.com")
	var e *cpim.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a *cpim.Error", err)
	}
	if e.Condition != cpim.RecipientUnavailable || e.Status != 480 || e.Text != "SIPS Not Allowed" {
		t.Errorf("sips: error = %+v, want recipient-unavailable, 480, \"SIPS Not Allowed\"", e)
	}
	if !errors.Is(err, cpim.NewError(cpim.RecipientUnavailable, "")) {
		t.Errorf("errors.Is(%v, recipient-unavailable) = false", err)
	}
	_, err = URIToAddress("tel:+1555")
	if !errors.As(err, &e) || e.Text != "Unsupported URI Scheme" {
		t.Errorf("tel: error = %v, want Text \"Unsupported URI Scheme\"", err)
	}
}

func TestAddressToJID(t *testing.T) {
	tests := map[string]struct {
		in   cpim.Address
		want string
	}{
		"plain":                 {cpim.Address{Local: "romeo", Domain: "example.net"}, "romeo@example.net"},
		"ADR-05 all nine":       {cpim.Address{Local: `a "&'/:<>@b`, Domain: "example.net"}, `a\20\22\26\27\2f\3a\3c\3e\40b@example.net`},
		"ADR-06 look-alike":     {cpim.Address{Local: `\27`, Domain: "example.net"}, `\5c27@example.net`},
		"ADR-06 upper-case":     {cpim.Address{Local: `\2F`, Domain: "example.net"}, `\5c2f@example.net`},
		"ADR-08 case mapped":    {cpim.Address{Local: "Romeo", Domain: "example.net"}, "romeo@example.net"},
		"ADR-09 resource":       {cpim.Address{Local: "romeo", Domain: "example.net", Resource: "Orchard Phone"}, "romeo@example.net/Orchard Phone"},
		"ADR-09 resource slash": {cpim.Address{Local: "romeo", Domain: "example.net", Resource: "a/b@c"}, "romeo@example.net/a/b@c"},
		"ADR-11 trailing dot":   {cpim.Address{Local: "romeo", Domain: "Example.NET."}, "romeo@example.net"},
		"IDN U-label":           {cpim.Address{Local: "romeo", Domain: "müller.example"}, "romeo@müller.example"},
		"IDN A-label":           {cpim.Address{Local: "romeo", Domain: "xn--mller-kva.example"}, "romeo@müller.example"},
		"domain only":           {cpim.Address{Domain: "example.net"}, "example.net"},
		"IPv6":                  {cpim.Address{Local: "r", Domain: "[2001:db8::1]"}, "r@[2001:db8::1]"},
		"Original ignored":      {cpim.Address{Local: "r", Domain: "example.net", Original: "sip:R@example.net"}, "r@example.net"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			j, err := AddressToJID(tc.in)
			if err != nil {
				t.Fatalf("AddressToJID(%#v): %v", tc.in, err)
			}
			if j.String() != tc.want {
				t.Errorf("AddressToJID(%#v) = %q, want %q", tc.in, j, tc.want)
			}
			// What is produced parses back to the same JID (ADR-24).
			if p, err := jid.Parse(j.String()); err != nil || !p.Equal(j) {
				t.Errorf("jid.Parse(%q) = %q, %v", j, p, err)
			}
		})
	}
}

func TestAddressToJIDErrors(t *testing.T) {
	tests := map[string]cpim.Address{
		"no domain":            {Local: "romeo"},
		"ADR-07 leading space": {Local: " romeo", Domain: "example.net"},
		"ADR-07 trailing":      {Local: "romeo ", Domain: "example.net"},
		"ADR-08 PRECIS":        {Local: "Ⅳ", Domain: "example.net"},
		"ADR-09 resource":      {Local: "romeo", Domain: "example.net", Resource: "a\u0000b"},
		"ADR-09 long resource": {Local: "romeo", Domain: "example.net", Resource: strings.Repeat("r", 1024)},
		"long localpart":       {Local: strings.Repeat("a", 1024), Domain: "example.net"},
		"invalid UTF-8":        {Local: "a\xffb", Domain: "example.net"},
		"fullwidth backslash":  {Local: "a＼40", Domain: "example.net"},
		"bad domain":           {Local: "romeo", Domain: "exa mple.net"},
		"bare IPv6 domain":     {Local: "romeo", Domain: "2001:db8::1"},
	}
	for name, a := range tests {
		t.Run(name, func(t *testing.T) {
			j, err := AddressToJID(a)
			if err == nil {
				t.Fatalf("AddressToJID(%#v) = %q, want an error", a, j)
			}
			wantErr(t, err, cpim.JIDMalformed, 400)
		})
	}
}

func TestJIDToAddress(t *testing.T) {
	tests := map[string]struct {
		in   string
		want cpim.Address
	}{
		"plain":                    {"juliet@example.com", cpim.Address{Local: "juliet", Domain: "example.com"}},
		"ADR-12 all ten":           {`a\20\22\26\27\2f\3a\3c\3e\40\5c27b@example.com`, cpim.Address{Local: `a "&'/:<>@\27b`, Domain: "example.com"}},
		"ADR-12 lone backslash":    {`foo\bar@example.com`, cpim.Address{Local: `foo\bar`, Domain: "example.com"}},
		"ADR-12 partial sequences": {`\2plus\2is\4@example.com`, cpim.Address{Local: `\2plus\2is\4`, Domain: "example.com"}},
		"resource kept":            {"juliet@example.com/Balcony/2", cpim.Address{Local: "juliet", Domain: "example.com", Resource: "Balcony/2"}},
		"IDN kept as U-label":      {"juliet@xn--mller-kva.example", cpim.Address{Local: "juliet", Domain: "müller.example"}},
		"domain only":              {"example.com", cpim.Address{Domain: "example.com"}},
		"IPv4":                     {"juliet@192.0.2.1", cpim.Address{Local: "juliet", Domain: "192.0.2.1"}},
		"IPv6":                     {"juliet@[2001:db8::1]", cpim.Address{Local: "juliet", Domain: "[2001:db8::1]"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := JIDToAddress(jid.MustParse(tc.in))
			if err != nil {
				t.Fatalf("JIDToAddress(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("JIDToAddress(%q)\n got %#v\nwant %#v", tc.in, got, tc.want)
			}
		})
	}
}

// JIDs that mellium accepts but that have no faithful address (ADR-21).
func TestJIDToAddressErrors(t *testing.T) {
	tests := map[string]string{
		"leading \\20":               `\20juliet@example.com`,
		"trailing \\20":              `juliet\20@example.com`,
		"not canonical: \\5c alone":  `a\5cbc@example.com`,
		"empty label":                "juliet@gw..example",
		"IPv6 upper case":            "juliet@[2001:DB8::1]",
		"IPv6 not compressed":        "juliet@[2001:db8:0:0:0:0:0:1]",
		"v4-mapped without brackets": "juliet@::ffff:192.0.2.1",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			j, err := jid.Parse(in)
			if err != nil {
				t.Fatalf("jid.Parse(%q): %v (the test needs a JID mellium accepts)", in, err)
			}
			a, err := JIDToAddress(j)
			if err == nil {
				t.Fatalf("JIDToAddress(%q) = %#v, want an error", in, a)
			}
			wantErr(t, err, cpim.JIDMalformed, 400)
		})
	}
	_, err := JIDToAddress(jid.JID{})
	wantErr(t, err, cpim.JIDMalformed, 400)
}

func TestAddressToURI(t *testing.T) {
	all := "a \"#%&'()*+,-./:;<=>?@[\\]^_`{|}~b"
	tests := map[string]struct {
		in     cpim.Address
		scheme Scheme
		want   string
	}{
		"ADR-13 sip every ASCII special": {cpim.Address{Local: all, Domain: "example.com"}, SchemeSIP,
			"sip:a%20%22%23%25&'()*+,-./%3A;%3C=%3E?%40%5B%5C%5D%5E_%60%7B%7C%7D~b@example.com"},
		"ADR-13 im every ASCII special": {cpim.Address{Local: all, Domain: "example.com"}, SchemeIM,
			"im:a%20%22%23%25&'%28%29*+%2C-%2E/%3A%3B%3C=%3E%3F%40%5B%5C%5D^_`{|}~b@example.com"},
		"ADR-13 pres like im":       {cpim.Address{Local: "a.b#c?d", Domain: "example.com"}, SchemePres, "pres:a%2Eb%23c%3Fd@example.com"},
		"slash kept inside":         {cpim.Address{Local: "a/b", Domain: "example.com"}, SchemeSIP, "sip:a/b@example.com"},
		"leading slash encoded sip": {cpim.Address{Local: "//a", Domain: "example.com"}, SchemeSIP, "sip:%2F/a@example.com"},
		"leading slash encoded im":  {cpim.Address{Local: "/a", Domain: "example.com"}, SchemeIM, "im:%2Fa@example.com"},
		"non-ASCII upper-case hex":  {cpim.Address{Local: "ü", Domain: "example.com"}, SchemeSIP, "sip:%C3%BC@example.com"},
		"IDN to A-label":            {cpim.Address{Local: "a", Domain: "müller.example"}, SchemeSIP, "sip:a@xn--mller-kva.example"},
		"IDN to A-label for im":     {cpim.Address{Local: "a", Domain: "müller.example"}, SchemeIM, "im:a@xn--mller-kva.example"},
		"non-canonical domain":      {cpim.Address{Local: "a", Domain: "Example.COM."}, SchemeSIP, "sip:a@example.com"},
		"IPv6 host":                 {cpim.Address{Local: "a", Domain: "[2001:db8::1]"}, SchemeSIP, "sip:a@[2001:db8::1]"},
		"domain only":               {cpim.Address{Domain: "example.com"}, SchemeSIP, "sip:example.com"},
		"ADR-15 gr paramchar": {cpim.Address{Local: "a", Domain: "example.com", Resource: "x y;z=1?[]/:&+$-_.!~*'()@é"}, SchemeSIP,
			"sip:a@example.com;gr=x%20y%3Bz%3D1%3F%5B%5D/:&+$-_.!~*'()%40%C3%A9"},
		"gr brackets, domain only": {cpim.Address{Domain: "example.com", Resource: "[x]"}, SchemeSIP, "sip:example.com;gr=%5Bx%5D"},
		"ADR-19 im is bare":        {cpim.Address{Local: "a", Domain: "example.com", Resource: "r"}, SchemeIM, "im:a@example.com"},
		"ADR-19 pres is bare":      {cpim.Address{Local: "a", Domain: "example.com", Resource: "r"}, SchemePres, "pres:a@example.com"},
		"Original not used":        {cpim.Address{Local: "a", Domain: "example.com", Original: "sip:A@example.com"}, SchemeSIP, "sip:a@example.com"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := AddressToURI(tc.in, tc.scheme)
			if err != nil {
				t.Fatalf("AddressToURI(%#v, %s): %v", tc.in, tc.scheme, err)
			}
			if got != tc.want {
				t.Errorf("AddressToURI(%#v, %s)\n got %s\nwant %s", tc.in, tc.scheme, got, tc.want)
			}
			// The URI maps back to the same (bare for im/pres) address.
			back, err := URIToAddress(got)
			if err != nil {
				t.Fatalf("URIToAddress(%q): %v", got, err)
			}
			want := tc.in
			if tc.scheme != SchemeSIP {
				want = want.Bare()
			}
			wantJ, err := AddressToJID(want)
			if err != nil {
				t.Fatalf("AddressToJID(%#v): %v", want, err)
			}
			if gotJ, err := AddressToJID(back); err != nil || !gotJ.Equal(wantJ) {
				t.Errorf("%s maps back to %q, %v; want %q", got, gotJ, err, wantJ)
			}
		})
	}
}

func TestAddressToURIErrors(t *testing.T) {
	tests := map[string]struct {
		in     cpim.Address
		scheme Scheme
		cond   cpim.Condition
		status int
	}{
		"no domain":             {cpim.Address{Local: "a"}, SchemeSIP, cpim.JIDMalformed, 400},
		"bad domain":            {cpim.Address{Local: "a", Domain: "a_b.example"}, SchemeSIP, cpim.JIDMalformed, 400},
		"empty label":           {cpim.Address{Local: "a", Domain: "a..example"}, SchemeSIP, cpim.JIDMalformed, 400},
		"invalid UTF-8 local":   {cpim.Address{Local: "\xff", Domain: "example.com"}, SchemeSIP, cpim.JIDMalformed, 400},
		"invalid UTF-8 gr":      {cpim.Address{Local: "a", Domain: "example.com", Resource: "\xff"}, SchemeSIP, cpim.JIDMalformed, 400},
		"im needs a local part": {cpim.Address{Domain: "example.com"}, SchemeIM, cpim.JIDMalformed, 400},
		"pres needs one too":    {cpim.Address{Domain: "example.com"}, SchemePres, cpim.JIDMalformed, 400},
		"sips is not produced":  {cpim.Address{Local: "a", Domain: "example.com"}, "sips", cpim.InternalServerError, 500},
		"unknown scheme":        {cpim.Address{Local: "a", Domain: "example.com"}, "", cpim.InternalServerError, 500},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := AddressToURI(tc.in, tc.scheme)
			if err == nil {
				t.Fatalf("AddressToURI(%#v, %q) = %q, want an error", tc.in, tc.scheme, got)
			}
			wantErr(t, err, tc.cond, tc.status)
		})
	}
}

// IDN domains map both ways: A-labels in URIs, U-labels in JIDs.
func TestIDNBothWays(t *testing.T) {
	j, err := uriToJID("sip:anna@xn--mller-kva.example")
	if err != nil || j.String() != "anna@müller.example" {
		t.Fatalf("S2X = %q, %v; want anna@müller.example", j, err)
	}
	u, err := jidToURI("anna@müller.example", SchemeSIP)
	if err != nil || u != "sip:anna@xn--mller-kva.example" {
		t.Fatalf("X2S = %q, %v; want sip:anna@xn--mller-kva.example", u, err)
	}
	u, err = jidToURI("anna@xn--mller-kva.example", SchemePres)
	if err != nil || u != "pres:anna@xn--mller-kva.example" {
		t.Fatalf("X2S = %q, %v; want pres:anna@xn--mller-kva.example", u, err)
	}
}

// ADR-25: the original URI is kept verbatim; the identity is case-mapped.
func TestOriginalKept(t *testing.T) {
	const uri = "sip:Alice@Example.COM:5060;transport=tcp;gr=Desk?Subject=x"
	a, err := URIToAddress(uri)
	if err != nil {
		t.Fatal(err)
	}
	want := cpim.Address{Local: "alice", Domain: "example.com", Resource: "Desk", Original: uri}
	if a != want {
		t.Errorf("URIToAddress(%q)\n got %#v\nwant %#v", uri, a, want)
	}
}

// One or more cases for each address item of the conformance checklist
// (INTERWORKING.md §8.1, ADR-01…ADR-25). Many more are in the tables above.
func TestChecklistADR(t *testing.T) {
	s2x := func(uri, want string) func(*testing.T) {
		return func(t *testing.T) {
			t.Helper()
			j, err := uriToJID(uri)
			if err != nil || j.String() != want {
				t.Errorf("%s → %q, %v; want %q", uri, j, err, want)
			}
		}
	}
	x2s := func(in string, s Scheme, want string) func(*testing.T) {
		return func(t *testing.T) {
			t.Helper()
			u, err := jidToURI(in, s)
			if err != nil || u != want {
				t.Errorf("%s → %q, %v; want %q", in, u, err, want)
			}
		}
	}
	refuse := func(uri string, cond cpim.Condition, status int) func(*testing.T) {
		return func(t *testing.T) {
			t.Helper()
			_, err := uriToJID(uri)
			wantErr(t, err, cond, status)
		}
	}
	gw := mustMapper(t, gwDomains)
	tests := map[string]func(*testing.T){
		"ADR-01 unescape, keep, escape":    x2s(`a\27b#c@x.example`, SchemeSIP, "sip:a'b%23c@x.example"),
		"ADR-02 percent-encode for URIs":   x2s("a[b@x.example", SchemeSIP, "sip:a%5Bb@x.example"),
		"ADR-03 XEP-0106 for JIDs":         s2x("sip:a%3Cb%3E@x.example", `a\3cb\3e@x.example`),
		"ADR-04 decode as UTF-8":           s2x("sip:%C3%BC@x.example", "ü@x.example"),
		"ADR-04 invalid UTF-8":             refuse("sip:%C3@x.example", cpim.JIDMalformed, 400),
		"ADR-05 & ' / escaped":             s2x("sip:a&b'c/d@x.example", `a\26b\27c\2fd@x.example`),
		"ADR-06 backslash look-alike":      s2x("sip:%5C5c@x.example", `\5c5c@x.example`),
		"ADR-07 trailing space":            refuse("sip:a%20@x.example", cpim.JIDMalformed, 400),
		"ADR-08 UsernameCaseMapped":        s2x("sip:ALICE@x.example", "alice@x.example"),
		"ADR-08 PRECIS refusal":            refuse("sip:%E2%85%A3@x.example", cpim.JIDMalformed, 400),
		"ADR-09 OpaqueString resource":     s2x("sip:a@x.example;gr=%E2%85%A3", "a@x.example/Ⅳ"),
		"ADR-09 resource length":           s2x("sip:a@x.example;gr="+strings.Repeat("r", 1024), "a@x.example"),
		"ADR-10 user before params":        s2x("sip:a;b@x.example;gr=r", "a;b@x.example/r"),
		"ADR-10 JID split at / first":      x2s("a@x.example/c@d/e", SchemeSIP, "sip:a@x.example;gr=c%40d/e"),
		"ADR-11 trailing dot":              s2x("sip:a@x.example.", "a@x.example"),
		"ADR-12 all ten unescaped":         x2s(`a\20b\22\26\27\2f\3a\3c\3e\40\5c27@x.example`, SchemeSIP, `sip:a%20b%22&'/%3A%3C%3E%40%5C27@x.example`),
		"ADR-13 sip set":                   x2s("a^b`c@x.example", SchemeSIP, "sip:a%5Eb%60c@x.example"),
		"ADR-13 im set":                    x2s("a(b),c;d@x.example", SchemeIM, "im:a%28b%29%2Cc%3Bd@x.example"),
		"ADR-15 resource to gr":            x2s("a@x.example/Büro 1", SchemeSIP, "sip:a@x.example;gr=B%C3%BCro%201"),
		"ADR-16 temporary GRUU":            s2x("sip:tgruu.7hs==jd7vnzga5w7fajsc7-ajd6fabz0f8g5@example.com;gr", "tgruu.7hs==jd7vnzga5w7fajsc7-ajd6fabz0f8g5@example.com"),
		"ADR-17 From is AOR with gr":       x2s("juliet@example.com/balcony", SchemeSIP, "sip:juliet@example.com;gr=balcony"),
		"ADR-18 GRUU gives a full JID":     s2x("sip:romeo@example.net;gr=phone", "romeo@example.net/phone"),
		"ADR-19 im: is bare":               x2s("juliet@example.com/balcony", SchemeIM, "im:juliet@example.com"),
		"ADR-19 pres: is bare":             x2s("juliet@example.com/balcony", SchemePres, "pres:juliet@example.com"),
		"ADR-20 im: scheme stripped":       s2x("im:juliet@example.com", "juliet@example.com"),
		"ADR-20 pres: scheme stripped":     s2x("pres:juliet@example.com", "juliet@example.com"),
		"ADR-22 unmappable is 400":         refuse("sip:a:b@x.example", cpim.JIDMalformed, 400),
		"ADR-22 unsupported scheme is 416": refuse("tel:+15551234567", cpim.NotAcceptable, 416),
		"ADR-23 sips is 480":               refuse("sips:a@x.example", cpim.RecipientUnavailable, 480),
		"ADR-14 im:/pres: only configured": func(t *testing.T) {
			for _, tc := range []struct {
				j    string
				p    Purpose
				want string
			}{
				{"carol@cpim.example.org", ForMessage, "im:carol@cpim.example.org"},
				{"carol@cpim.example.org", ForPresence, "pres:carol@cpim.example.org"},
				{"bob@sip.example.org", ForMessage, "sip:bob@sip.example.org"},
			} {
				if u, _, err := gw.JIDToURI(jid.MustParse(tc.j), tc.p); err != nil || u != tc.want {
					t.Errorf("JIDToURI(%s, %d) = %q, %v; want %q", tc.j, tc.p, u, err, tc.want)
				}
			}
		},
		"ADR-21 unmappable JID": func(t *testing.T) {
			_, err := JIDToAddress(jid.MustParse(`\20a@x.example`))
			wantErr(t, err, cpim.JIDMalformed, 400)
		},
		"ADR-24 no unescaped disallowed characters on the wire": func(t *testing.T) {
			j, err := uriToJID("sip:%22%26%27%2F%3A%3C%3E%40@x.example")
			if err != nil {
				t.Fatal(err)
			}
			if l := j.Localpart(); strings.ContainsAny(l, `"&'/:<>@ `) || l != `\22\26\27\2f\3a\3c\3e\40` {
				t.Errorf("localpart = %q", l)
			}
		},
		"ADR-25 original kept": func(t *testing.T) {
			const uri = "sip:Romeo@Example.NET;gr=Phone"
			a, err := URIToAddress(uri)
			if err != nil || a.Original != uri || a.Local != "romeo" || a.Resource != "Phone" {
				t.Errorf("URIToAddress(%q) = %#v, %v", uri, a, err)
			}
		},
	}
	for name, run := range tests {
		t.Run(name, run)
	}
}
