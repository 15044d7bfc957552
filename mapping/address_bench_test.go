package mapping

import (
	"testing"

	"mellium.im/xmpp/jid"
)

// Every SIP request and every stanza crossing the gateway maps its To and
// From: these are hot paths.

func BenchmarkURIToJID(b *testing.B) {
	for name, uri := range map[string]string{
		"ASCII":     "sip:alice@example.com",
		"ASCII-gr":  "sip:Alice@Example.COM:5060;transport=tcp;gr=desk",
		"escapes":   "sip:o'malley%20jr@example.com",
		"non-ASCII": "sip:tsch%C3%BCss@xn--mller-kva.example;gr=b%C3%BCro",
		"im":        "im:a%2Eb@example.com",
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a, err := URIToAddress(uri)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := AddressToJID(a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkJIDToURI(b *testing.B) {
	for name, s := range map[string]string{
		"ASCII":     "alice@example.com",
		"ASCII-gr":  "alice@example.com/desk",
		"escapes":   `o\27malley\20jr@example.com`,
		"non-ASCII": "tschüss@müller.example/büro",
	} {
		j := jid.MustParse(s)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a, err := JIDToAddress(j)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := AddressToURI(a, SchemeSIP); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMapper(b *testing.B) {
	m := mustMapper(b, gwDomains)
	b.Run("URIToJID-modeA", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := m.URIToJID("sip:bob@sip.example.org;gr=desk"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("URIToJID-modeB", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := m.URIToJID("sip:romeo@example.net;gr=orchard"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("URIToJID-modeB-non-ASCII", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := m.URIToJID("sip:j%C3%BCrgen@xn--caf-dma.example"); err != nil {
				b.Fatal(err)
			}
		}
	})
	modeB := jid.MustParse(`romeo\40example.net@gw.example.net/orchard`)
	b.Run("JIDToURI-modeB", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := m.JIDToURI(modeB, ForMessage); err != nil {
				b.Fatal(err)
			}
		}
	})
	xmppUser := jid.MustParse("juliet@example.com/balcony")
	b.Run("JIDToURI-modeA", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := m.JIDToURI(xmppUser, ForMessage); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEscapeLocal(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = UnescapeLocal(EscapeLocal(`here's_a_wild_&_/cr%zy/_address`))
	}
}
