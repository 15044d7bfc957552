package mapping

import (
	"strings"
	"testing"
)

// XEP-0106 §5.1 "JID Examples" (user input ⇄ escaped JID localpart), the
// §5.2–5.4 mailbox, sip: and im: examples, and the §4.3 rules.
func TestEscapeLocal(t *testing.T) {
	tests := map[string]struct {
		in, want string
	}{
		"xep0106 ex1 space":           {"space cadet", `space\20cadet`},
		"xep0106 ex2 quotes":          {`call me "ishmael"`, `call\20me\20\22ishmael\22`},
		"xep0106 ex3 ampersand":       {"at&t guy", `at\26t\20guy`},
		"xep0106 ex4 apostrophe":      {"d'artagnan", `d\27artagnan`},
		"xep0106 ex5 slash":           {"/.fanboy", `\2f.fanboy`},
		"xep0106 ex6 colons":          {"::foo::", `\3a\3afoo\3a\3a`},
		"xep0106 ex7 angle brackets":  {"<foo>", `\3cfoo\3e`},
		"xep0106 ex8 at":              {"user@host", `user\40host`},
		"xep0106 ex9 lone backslash":  {`c:\net`, `c\3a\net`},
		"xep0106 ex10 two slashes":    {`c:\\net`, `c\3a\\net`},
		"xep0106 ex11 backslash c":    {`c:\cool stuff`, `c\3a\cool\20stuff`},
		"xep0106 ex12 look-alike":     {`c:\5commas`, `c\3a\5c5commas`},
		"xep0106 §5.2 mailbox":        {"here's_a_wild_&_/cr%zy/_address", `here\27s_a_wild_\26_\2fcr%zy\2f_address`},
		"xep0106 §4.2 wv example":     {`\3and\2is\5cool`, `\5c3and\2is\5c5cool`},
		"xep0106 §4.3 partial":        {`\2plus\2is\4`, `\2plus\2is\4`},
		"xep0106 §4.3 invalid 1":      {`foo\bar`, `foo\bar`},
		"xep0106 §4.3 invalid 2":      {`foob\41r`, `foob\41r`},
		"upper-case hex is no escape": {`a\2Fb`, `a\2Fb`},
		"backslash at the end":        {`a\`, `a\`},
		"backslash before escape":     {`\\40`, `\\5c40`},
		"backslash before at":         {`\@`, `\\40`},
		"every escape look-alike": {`\20\22\26\27\2f\3a\3c\3e\40\5c`,
			`\5c20\5c22\5c26\5c27\5c2f\5c3a\5c3c\5c3e\5c40\5c5c`},
		"nothing to escape": {"tschüss", "tschüss"},
		"empty":             {"", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := EscapeLocal(tc.in); got != tc.want {
				t.Errorf("EscapeLocal(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if got := UnescapeLocal(tc.want); got != tc.in {
				t.Errorf("UnescapeLocal(%q) = %q, want %q", tc.want, got, tc.in)
			}
		})
	}
}

// UnescapeLocal on JIDs that are not the escaping of anything, and the
// XEP-0106 §3.3 example.
func TestUnescapeLocal(t *testing.T) {
	tests := map[string]struct {
		in, want string
	}{
		"xep0106 §3.3 treville":     {"tr\u00e9ville\\40musketeers.lit", "tr\u00e9ville@musketeers.lit"},
		"each of the ten":           {`\20\22\26\27\2f\3a\3c\3e\40\5c`, ` "&'/:<>@\`},
		"upper-case hex kept":       {`\2F\3A\5C`, `\2F\3A\5C`},
		"unknown code kept":         {`\41\5d\2g`, `\41\5d\2g`},
		"truncated sequence":        {`a\4`, `a\4`},
		"escaped backslash first":   {`\5c40`, `\40`},
		"no rescanning of output":   {`\5c5c40`, `\5c40`},
		"backslash then sequence":   {`\\40`, `\@`},
		"lone backslash":            {`\`, `\`},
		"non-ASCII around sequence": {`ü\40ü`, `ü@ü`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := UnescapeLocal(tc.in); got != tc.want {
				t.Errorf("UnescapeLocal(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// The escaping that protects against PRECIS case mapping also protects `\`
// before upper-case look-alikes, and still unescapes to the input.
func TestEscapeLocalFold(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"upper-case look-alike": {`a\2Fb`, `a\5c2Fb`},
		"lower-case look-alike": {`a\2fb`, `a\5c2fb`},
		"upper-case 5C":         {`\5C`, `\5c5C`},
		"not a code":            {`\2G`, `\2G`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := escapeLocal(tc.in, true)
			if got != tc.want {
				t.Errorf("escapeLocal(%q, true) = %q, want %q", tc.in, got, tc.want)
			}
			if back := UnescapeLocal(got); back != tc.in {
				t.Errorf("UnescapeLocal(%q) = %q, want %q", got, back, tc.in)
			}
		})
	}
}

func TestSpecialsEqual(t *testing.T) {
	tests := map[string]struct {
		a, b string
		want bool
	}{
		"same specials, other text": {"a@b c", "x@y z", true},
		"none":                      {"abc", "xyz", true},
		"one created":               {"a＼40", `a@`, false},
		"one lost":                  {"a:", "a", false},
		"order differs":             {"@:", ":@", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := specialsEqual(tc.a, tc.b); got != tc.want {
				t.Errorf("specialsEqual(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

// FuzzXEP0106 checks that escaping is reversible and leaves no character a
// localpart cannot hold, for any input (XEP-0106 §4).
func FuzzXEP0106(f *testing.F) {
	addSeeds(f, "FuzzXEP0106")
	f.Fuzz(func(t *testing.T, data []byte) {
		s := string(data)
		for _, fold := range []bool{false, true} {
			e := escapeLocal(s, fold)
			if back := UnescapeLocal(e); back != s {
				t.Fatalf("UnescapeLocal(escapeLocal(%q, %v)) = %q, escaped %q", s, fold, back, e)
			}
			if i := strings.IndexAny(e, ` "&'/:<>@`); i >= 0 {
				t.Fatalf("escapeLocal(%q, %v) = %q holds %q", s, fold, e, e[i])
			}
			if !fold && EscapeLocal(UnescapeLocal(e)) != e {
				t.Fatalf("escaped form %q is not canonical", e)
			}
		}
		// Unescaping never grows a string, and a string without a
		// backslash is its own unescaping.
		u := UnescapeLocal(s)
		if len(u) > len(s) || !strings.Contains(s, `\`) && u != s {
			t.Fatalf("UnescapeLocal(%q) = %q", s, u)
		}
	})
}
