package mapping

import "strings"

// XEP-0106 (JID Escaping) v1.1.1 §3, §4. mellium's jid.Escape/Unescape are
// not used: their Transform loses and misplaces bytes (LIBRARY-NOTES §2.5).

// xep0106Specials are the characters XEP-0106 escapes: the nine characters
// RFC 7622 §3.3.1 forbids in a localpart, and the escaping character itself
// (INTERWORKING.md §2.2).
const xep0106Specials = ` "&'/:<>@\`

// escapeCode returns the two lower-case hex digits that escape c, or "" when
// c is not one of the nine disallowed characters (XEP-0106 §3.2 table).
func escapeCode(c byte) string {
	switch c {
	case ' ':
		return "20"
	case '"':
		return "22"
	case '&':
		return "26"
	case '\'':
		return "27"
	case '/':
		return "2f"
	case ':':
		return "3a"
	case '<':
		return "3c"
	case '>':
		return "3e"
	case '@':
		return "40"
	}
	return ""
}

// unescapeCode returns the character the escape sequence `\` h1 h2 stands for
// and true, or false when h1 h2 is not one of the ten defined codes. With fold
// set, upper-case hex digits match as well.
func unescapeCode(h1, h2 byte, fold bool) (byte, bool) {
	if fold && 'A' <= h2 && h2 <= 'F' {
		h2 += 'a' - 'A'
	}
	switch h1 {
	case '2':
		switch h2 {
		case '0':
			return ' ', true
		case '2':
			return '"', true
		case '6':
			return '&', true
		case '7':
			return '\'', true
		case 'f':
			return '/', true
		}
	case '3':
		switch h2 {
		case 'a':
			return ':', true
		case 'c':
			return '<', true
		case 'e':
			return '>', true
		}
	case '4':
		if h2 == '0' {
			return '@', true
		}
	case '5':
		if h2 == 'c' {
			return '\\', true
		}
	}
	return 0, false
}

// startsEscape reports whether s[i] is a backslash that begins one of the ten
// escape sequences of XEP-0106 §3.2 (lower-case hex only, unless fold).
func startsEscape(s string, i int, fold bool) bool {
	if s[i] != '\\' || i+2 >= len(s) {
		return false
	}
	_, ok := unescapeCode(s[i+1], s[i+2], fold)
	return ok
}

// EscapeLocal escapes s for use as a JID localpart (XEP-0106 §4.2, the
// address transformation algorithm; ADR-05, ADR-06): first every `\` that
// begins one of the ten escape sequences (`\20` … `\5c`, lower-case hex)
// becomes `\5c`, then each of the nine characters a localpart cannot hold
// (space " & ' / : < > @) becomes `\20 \22 \26 \27 \2f \3a \3c \3e \40`.
// Other backslashes are kept, as XEP-0106 §4.3 requires.
//
// The result never holds one of the nine characters, and
// UnescapeLocal(EscapeLocal(s)) == s for every s. EscapeLocal works on
// bytes: s need not be valid UTF-8. It does not check the rule that `\20`
// must not begin or end a localpart (ADR-07); the address mapping does.
func EscapeLocal(s string) string {
	return escapeLocal(s, false)
}

// escapeLocal is EscapeLocal; with fold set it also protects a backslash
// that begins an escape sequence written with upper-case hex (`\2F`), which
// PRECIS case mapping would otherwise turn into a real escape (see toJID).
func escapeLocal(s string, fold bool) string {
	i := strings.IndexAny(s, xep0106Specials)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if startsEscape(s, i, fold) {
				b.WriteString(`\5c`)
			} else {
				b.WriteByte('\\')
			}
		case escapeCode(c) != "":
			b.WriteByte('\\')
			b.WriteString(escapeCode(c))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// UnescapeLocal undoes XEP-0106 escaping of a JID localpart (XEP-0106 §4.3;
// ADR-12 [D]: all ten sequences, not only the three of RFC 7247 §6.5 step
// 3). Only the ten defined sequences with lower-case hex are replaced; a
// partial or unknown sequence such as `\2plus`, `foo\bar` or `foob\41r` is
// left as it is (XEP-0106 §4.3 "Exceptions").
//
// Unescape only a localpart that has been through PRECIS enforcement
// (XEP-0106 §4.1 rule 2), and never compare JIDs in unescaped form (ADR-24).
func UnescapeLocal(s string) string {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+2 < len(s) {
			if u, ok := unescapeCode(s[i+1], s[i+2], false); ok {
				b.WriteByte(u)
				i += 2
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// specialsEqual reports whether a and b hold the same sequence of the ten
// XEP-0106 characters (space " & ' / : < > @ \), ignoring everything else.
// It detects PRECIS mappings that created or destroyed an escape sequence.
func specialsEqual(a, b string) bool {
	for {
		i := strings.IndexAny(a, xep0106Specials)
		j := strings.IndexAny(b, xep0106Specials)
		if i < 0 || j < 0 {
			return i < 0 && j < 0
		}
		if a[i] != b[j] {
			return false
		}
		a, b = a[i+1:], b[j+1:]
	}
}
