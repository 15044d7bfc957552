package sipside

import (
	"strings"
	"testing"
	"unicode/utf8"

	"cpimgw/internal/fuzzseed"
	"cpimgw/mapping"

	"github.com/emiago/sipgo/sip"
)

func TestCleanHeaderValue(t *testing.T) {
	tests := map[string]string{
		"":                          "",
		"plain":                     "plain",
		"Grüße 世界":                  "Grüße 世界",
		"  padded  ":                "padded",
		"a\r\nX-Injected: 1":        "a X-Injected: 1",
		"a\nb\rc\td\x00e\x7ff":      "a b c d e f",
		"many   spaces":             "many spaces",
		"next line\u0085here":       "next line here",
		"line\u2028sep\u2029para":   "line sep para",
		"bad \xff utf8":             "bad \uFFFD utf8",
		"\r\n\r\nINVITE sip:x@y":    "INVITE sip:x@y",
		"tab\tinside":               "tab inside",
		"trailing control\x1b":      "trailing control",
		"zero width\u200bjoiner ok": "zero width\u200bjoiner ok",
		"\u2000":                    "",
		"\u00a0nbsp\u00a0":          "nbsp",
	}
	for in, want := range tests {
		if got := cleanHeaderValue(in); got != want {
			t.Errorf("cleanHeaderValue(%q) = %q, want %q", in, got, want)
		}
		if isCleanValue(in) != (cleanHeaderValue(in) == in) {
			t.Errorf("isCleanValue(%q) = %v disagrees with cleanHeaderValue", in, isCleanValue(in))
		}
	}
}

func TestDisplayName(t *testing.T) {
	tests := map[string]string{
		"":                  "",
		"Juliet":            "Juliet",
		`Eve "the" Hacker`:  `Eve \"the\" Hacker`,
		`back\slash`:        `back\\slash`,
		"Eve\r\nX-Injected": "", // PRECIS Nickname rejects controls
		"\u0007bell":        "",
		"ＪＵＬＩＥＴ":            "JULIET", // width mapping
		"  spaced  out ":    "spaced out",
	}
	for in, want := range tests {
		got := displayName(in)
		if got != want {
			t.Errorf("displayName(%q) = %q, want %q", in, got, want)
		}
		if got != "" && unquoteDisplayName(got) == got && strings.ContainsAny(got, `\"`) {
			t.Errorf("unquoteDisplayName(%q) did not undo the escaping", got)
		}
	}
}

func TestIsWord(t *testing.T) {
	for s, want := range map[string]bool{
		"abc": true, "a@b": true, "f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com": true,
		"": false, "@a": false, "a@": false, "a@b@c": false, "a b": false, "a;b": false, "ü": false,
		"(x)<y>:\\\"/[]?{}": true,
	} {
		if isWord(s) != want {
			t.Errorf("isWord(%q) = %v", s, !want)
		}
	}
}

// FuzzHeaderInjection checks the property the sanitisers exist for: no
// XMPP-derived string, put in Subject, Content-Language or the display
// name, changes the set of headers a SIP peer parses, and the values come
// back as sanitised.
func FuzzHeaderInjection(f *testing.F) {
	fuzzseed.Add(f, "FuzzHeaderInjection") // found-* files: inputs the fuzzer found
	e, _ := newTestEndpoint(f, Config{}, &recorder{})
	f.Fuzz(func(t *testing.T, in []byte) {
		s := string(in)
		m := mapping.SIPMessage{
			RequestURI: "sip:romeo@sip.example", To: "sip:romeo@sip.example",
			From: "sip:juliet@xmpp.example;gr=balcony", FromName: s,
			Subject: s, ContentLanguage: s, ContentType: "text/plain;charset=UTF-8", Body: []byte("b"),
		}
		req, _, err := e.buildRequest(m)
		if err != nil {
			t.Fatal(err)
		}
		wire := req.String()
		msg, err := sip.ParseMessage([]byte(wire))
		if err != nil {
			t.Fatalf("peer cannot parse %q: %v", wire, err)
		}
		got := msg.(*sip.Request)
		if len(got.Headers()) != len(req.Headers()) {
			t.Fatalf("%d headers sent, %d parsed:\n%q", len(req.Headers()), len(got.Headers()), wire)
		}
		h := headerMap(got)
		if v := cleanHeaderValue(s); h["subject"] != v || h["content-language"] != v {
			t.Errorf("Subject %q, Content-Language %q, want %q", h["subject"], h["content-language"], v)
		}
		if n := unquoteDisplayName(got.From().DisplayName); displayName(s) != "" && n != unquoteDisplayName(displayName(s)) {
			t.Errorf("display name %q, want %q", n, unquoteDisplayName(displayName(s)))
		}
		if u := got.From().Address.String(); u != "sip:juliet@xmpp.example;gr=balcony" {
			t.Errorf("From URI %q", u)
		}
		if string(got.Body()) != "b" {
			t.Errorf("body %q", got.Body())
		}
		for _, v := range []string{h["subject"], h["content-language"], got.From().DisplayName} {
			if !utf8.ValidString(v) || strings.ContainsAny(v, "\r\n\x00") {
				t.Errorf("unsafe header value %q", v)
			}
		}
	})
}
