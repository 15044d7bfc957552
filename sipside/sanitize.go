package sipside

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// sipgo writes header values verbatim and puts a display name between
// quotes without escaping it (LIBRARY-NOTES §1.8). Every string that comes
// from XMPP passes through one of these functions before it reaches a
// header, so that a CR or LF cannot end the header (header injection) and a
// quote cannot end the quoted-string.

// cleanHeaderValue makes s safe as the value of a generic header such as
// Subject (RFC 3261 §25.1 TEXT-UTF8-TRIM): invalid UTF-8 becomes U+FFFD,
// CR, LF, TAB and every other control character become a space, runs of
// spaces collapse to one, and the result is trimmed of white space
// (Unicode's, as a peer's parser may trim it too).
func cleanHeaderValue(s string) string {
	if isCleanValue(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	s = strings.TrimLeftFunc(strings.ToValidUTF8(s, "\uFFFD"), unicode.IsSpace)
	for _, r := range s {
		if r < 0x20 || r == 0x7f || unicode.Is(unicode.Cc, r) || r == '\u2028' || r == '\u2029' || r == ' ' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return strings.TrimRightFunc(b.String(), unicode.IsSpace)
}

// isCleanValue reports whether cleanHeaderValue would return s unchanged:
// the common case, checked without allocating.
func isCleanValue(s string) bool {
	if s == "" {
		return true
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return false
	}
	prevSpace := false
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || (c == ' ' && prevSpace) {
				return false
			}
			prevSpace = c == ' '
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || unicode.Is(unicode.Cc, r) || r == '\u2028' || r == '\u2029' {
			return false
		}
		prevSpace = false
		i += n
	}
	return true
}

// displayName returns the content of the quoted-string display name of a
// From header (RFC 3261 §25.1) for name: the name enforced with the PRECIS
// Nickname profile (RFC 8266, which rejects controls, CR and LF; SEC-07)
// with '\' and '"' escaped as quoted-pairs. A name the profile rejects is
// dropped (""): the header then carries the URI alone.
func displayName(name string) string {
	if name == "" {
		return ""
	}
	n, err := precis.Nickname.String(name)
	if err != nil {
		return ""
	}
	if !strings.ContainsAny(n, `\"`) {
		return n
	}
	var b strings.Builder
	b.Grow(len(n) + 4)
	for i := 0; i < len(n); i++ {
		if n[i] == '\\' || n[i] == '"' {
			b.WriteByte('\\')
		}
		b.WriteByte(n[i])
	}
	return b.String()
}

// unquoteDisplayName undoes the quoted-pair escaping of a display name as
// sipgo parsed it (it keeps the escapes): `Alice \"A\"` becomes `Alice "A"`.
// An unquoted token display name has no escapes and is returned as is.
func unquoteDisplayName(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isWord reports whether s is a non-empty RFC 3261 §25.1 word, the syntax
// of a Call-ID: alphanumerics and -.!%*_+`'~()<>:\"/[]?{} plus '@' once
// between two words.
func isWord(s string) bool {
	if s == "" || len(s) > 1024 {
		return false
	}
	at := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-.!%*_+`'~()<>:\\\"/[]?{}", c) >= 0:
		case c == '@' && !at && i > 0 && i < len(s)-1:
			at = true
		default:
			return false
		}
	}
	return true
}
