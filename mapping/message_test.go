package mapping

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"cpimgw/cpim"

	"mellium.im/xmpp/jid"
)

// msgMapper is the domain table of the message tests: the XMPP domain of
// RFC 7572's Juliet, the SIP domain of its Romeo, and a SIP domain whose
// URIs use im: (ADR-14).
func msgMapper(tb testing.TB) *Mapper {
	tb.Helper()
	m, err := NewMapper(Domains{
		Component: "gw.example.com",
		XMPP:      []string{"example.com"},
		SIP:       []string{"example.net", "im.example.org"},
		IMSchemes: []string{"im.example.org"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// fixedNow is the clock of the message/cpim tests.
func fixedNow() time.Time { return time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC) }

// wantStatus checks that err is a *cpim.Error with condition c and SIP
// status (0: any).
func wantStatus(t *testing.T, err error, c cpim.Condition, status int) *cpim.Error {
	t.Helper()
	var e *cpim.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *cpim.Error %s", err, err, c)
	}
	if e.Condition != c || e.Status != status {
		t.Fatalf("err = %v, want condition %s status %d", err, c, status)
	}
	return e
}

// x2s maps an XMPP message to SIP fields in one go.
func x2s(m *Mapper, x XMPPMessage, o SIPOptions) (SIPMessage, error) {
	msg, err := m.MessageFromXMPP(x)
	if err != nil {
		return SIPMessage{}, err
	}
	return m.MessageToSIP(msg, o)
}

// s2x maps SIP fields to an XMPP message in one go.
func s2x(m *Mapper, s SIPMessage) (XMPPMessage, error) {
	msg, err := m.MessageFromSIP(s)
	if err != nil {
		return XMPPMessage{}, err
	}
	return m.MessageToXMPP(msg)
}

// rfc7572Example1 is RFC 7572 Example 1 with a subject, a thread, an id
// and a language added, so every row of Table 1 has something to map.
func rfc7572Example1() XMPPMessage {
	return XMPPMessage{
		From:     jid.MustParse("juliet@example.com/yn0cl4bnw0yr3vym"),
		To:       jid.MustParse("romeo@example.net"),
		ID:       "ktx72v49",
		Lang:     "en",
		Bodies:   []cpim.Text{{Text: "Art thou not Romeo, and a Montague?"}},
		Subjects: []cpim.Text{{Text: "Balcony"}},
		Thread:   "D9AA95FD-2BD5-46E2-AF0F-6CFAA96BDDFA",
	}
}

// TestRFC7572Table1 has one row per row of RFC 7572 §4 Table 1 (MSG-01).
func TestRFC7572Table1(t *testing.T) {
	m := msgMapper(t)
	base, err := x2s(m, rfc7572Example1(), SIPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		row   string
		check func(t *testing.T, s SIPMessage)
	}{
		{"<body/> → body of MESSAGE", func(t *testing.T, s SIPMessage) {
			if string(s.Body) != "Art thou not Romeo, and a Montague?" || s.ContentType != "text/plain;charset=UTF-8" {
				t.Errorf("body %q, Content-Type %q", s.Body, s.ContentType)
			}
		}},
		{"<subject/> → Subject", func(t *testing.T, s SIPMessage) {
			if s.Subject != "Balcony" {
				t.Errorf("Subject = %q", s.Subject)
			}
		}},
		{"<thread/> → Call-ID", func(t *testing.T, s SIPMessage) {
			if s.CallID != "D9AA95FD-2BD5-46E2-AF0F-6CFAA96BDDFA" {
				t.Errorf("Call-ID = %q", s.CallID)
			}
		}},
		{"from → From (note 1: bare JID, resource as GRUU)", func(t *testing.T, s SIPMessage) {
			if s.From != "sip:juliet@example.com;gr=yn0cl4bnw0yr3vym" || s.FromName != "" {
				t.Errorf("From = %q (name %q)", s.From, s.FromName)
			}
		}},
		{"id → transaction identifier", func(t *testing.T, s SIPMessage) {
			if s.TransactionID != "ktx72v49" {
				t.Errorf("TransactionID = %q", s.TransactionID)
			}
		}},
		{"to → To or Request-URI", func(t *testing.T, s SIPMessage) {
			if s.To != "sip:romeo@example.net" || s.RequestURI != "sip:romeo@example.net" {
				t.Errorf("To = %q, Request-URI = %q", s.To, s.RequestURI)
			}
		}},
		{"type → (no mapping) (note 2)", func(t *testing.T, s SIPMessage) {
			for _, typ := range []string{"normal", "chat", "headline", "bogus"} {
				x := rfc7572Example1()
				x.Type = typ
				got, err := x2s(m, x, SIPOptions{})
				if err != nil {
					t.Fatalf("type %q: %v", typ, err)
				}
				if !reflect.DeepEqual(got, s) {
					t.Errorf("type %q changed the request:\n got %+v\nwant %+v", typ, got, s)
				}
			}
		}},
		{"xml:lang → Content-Language", func(t *testing.T, s SIPMessage) {
			if s.ContentLanguage != "en" {
				t.Errorf("Content-Language = %q", s.ContentLanguage)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.row, func(t *testing.T) { tc.check(t, base) })
	}
}

// rfc7572Example4 is RFC 7572 Example 4 with a GRUU, a subject, a
// language and a transaction id added.
func rfc7572Example4() SIPMessage {
	return SIPMessage{
		RequestURI:      "sip:juliet@example.com",
		From:            "sip:romeo@example.net;gr=dr4hcr0st3lup4c",
		FromName:        "Romeo",
		To:              "sip:juliet@example.com",
		CallID:          "9E97FB43-85F4-4A00-8751-1124FD4C7B2E",
		MaxForwards:     70,
		Subject:         "Re: Balcony",
		ContentType:     "text/plain",
		ContentLanguage: "en",
		Body:            []byte("Neither, fair saint, if either thee dislike."),
		TransactionID:   "z9hG4bKeskdgs677",
	}
}

// TestRFC7572Table2 has one row per row of RFC 7572 §5 Table 2 (MSG-02),
// plus the type rule under it (MSG-03).
func TestRFC7572Table2(t *testing.T) {
	m := msgMapper(t)
	base, err := s2x(m, rfc7572Example4())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		row   string
		check func(t *testing.T, x XMPPMessage)
	}{
		{"Call-ID → <thread/>", func(t *testing.T, x XMPPMessage) {
			if x.Thread != "9E97FB43-85F4-4A00-8751-1124FD4C7B2E" {
				t.Errorf("thread = %q", x.Thread)
			}
		}},
		{"Content-Language → xml:lang", func(t *testing.T, x XMPPMessage) {
			if x.Lang != "en" {
				t.Errorf("xml:lang = %q", x.Lang)
			}
		}},
		{"CSeq → (no mapping)", func(t *testing.T, x XMPPMessage) {
			// Every field of the stanza comes from another row: nothing is
			// left for CSeq to fill.
			want := XMPPMessage{
				From:     jid.MustParse("romeo@example.net/dr4hcr0st3lup4c"),
				To:       jid.MustParse("juliet@example.com"),
				ID:       "z9hG4bKeskdgs677",
				Lang:     "en",
				Bodies:   []cpim.Text{{Text: "Neither, fair saint, if either thee dislike."}},
				Subjects: []cpim.Text{{Text: "Re: Balcony"}},
				Thread:   "9E97FB43-85F4-4A00-8751-1124FD4C7B2E",
			}
			if got, w := dumpXMPP(x), dumpXMPP(want); got != w {
				t.Errorf("got\n%s\nwant\n%s", got, w)
			}
		}},
		{"From → from (note 1: full JID with the GRUU)", func(t *testing.T, x XMPPMessage) {
			if x.From.String() != "romeo@example.net/dr4hcr0st3lup4c" {
				t.Errorf("from = %q", x.From)
			}
			s := rfc7572Example4()
			s.From = "sip:romeo@example.net"
			bare, err := s2x(m, s)
			if err != nil || bare.From.String() != "romeo@example.net" {
				t.Errorf("without GRUU: from = %q, %v", bare.From, err)
			}
		}},
		{"Subject → <subject/>", func(t *testing.T, x XMPPMessage) {
			if !reflect.DeepEqual(x.Subjects, []cpim.Text{{Text: "Re: Balcony"}}) {
				t.Errorf("subjects = %q", x.Subjects)
			}
		}},
		{"Request-URI or To → to", func(t *testing.T, x XMPPMessage) {
			if x.To.String() != "juliet@example.com" {
				t.Errorf("to = %q", x.To)
			}
		}},
		{"body of MESSAGE → <body/>", func(t *testing.T, x XMPPMessage) {
			if !reflect.DeepEqual(x.Bodies, []cpim.Text{{Text: "Neither, fair saint, if either thee dislike."}}) {
				t.Errorf("bodies = %q", x.Bodies)
			}
		}},
		{"transaction identifier → id", func(t *testing.T, x XMPPMessage) {
			if x.ID != "z9hG4bKeskdgs677" {
				t.Errorf("id = %q", x.ID)
			}
		}},
		{"type absent (MSG-03)", func(t *testing.T, x XMPPMessage) {
			if x.Type != "" {
				t.Errorf("type = %q, want none", x.Type)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.row, func(t *testing.T) { tc.check(t, base) })
	}
}

func TestMessageFromXMPP(t *testing.T) {
	m := msgMapper(t)
	tests := map[string]struct {
		edit  func(x *XMPPMessage)
		check func(t *testing.T, msg cpim.Message, err error)
	}{
		"type error is never forwarded (ERR-08)": {
			func(x *XMPPMessage) { x.Type = "error" },
			func(t *testing.T, _ cpim.Message, err error) {
				var e *cpim.Error
				if !errors.Is(err, ErrErrorStanza) || errors.As(err, &e) {
					t.Errorf("err = %v, want ErrErrorStanza and no *cpim.Error", err)
				}
			}},
		"groupchat to a SIP user (MSG-26)": {
			func(x *XMPPMessage) { x.Type = "groupchat" },
			func(t *testing.T, _ cpim.Message, err error) { wantStatus(t, err, cpim.ServiceUnavailable, 0) }},
		"no body": {
			func(x *XMPPMessage) { x.Bodies = nil },
			func(t *testing.T, _ cpim.Message, err error) {
				if !errors.Is(err, ErrNoBody) {
					t.Errorf("err = %v, want ErrNoBody", err)
				}
			}},
		"normal": {
			func(x *XMPPMessage) { x.Type = "normal" },
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || msg.Type != cpim.Normal {
					t.Errorf("type = %q, %v", msg.Type, err)
				}
			}},
		"absent type is normal (MSG-25)": {
			func(x *XMPPMessage) { x.Type = "" },
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || msg.Type != cpim.Normal {
					t.Errorf("type = %q, %v", msg.Type, err)
				}
			}},
		"unknown type is normal (MSG-25)": {
			func(x *XMPPMessage) { x.Type = "whisper" },
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || msg.Type != cpim.Normal {
					t.Errorf("type = %q, %v", msg.Type, err)
				}
			}},
		"chat": {
			func(x *XMPPMessage) { x.Type = "chat" },
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || msg.Type != cpim.Chat {
					t.Errorf("type = %q, %v", msg.Type, err)
				}
			}},
		"headline": {
			func(x *XMPPMessage) { x.Type = "headline" },
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || msg.Type != cpim.Headline {
					t.Errorf("type = %q, %v", msg.Type, err)
				}
			}},
		"addresses": {
			func(x *XMPPMessage) {},
			func(t *testing.T, msg cpim.Message, err error) {
				want := cpim.Address{Local: "juliet", Domain: "example.com", Resource: "yn0cl4bnw0yr3vym"}
				if err != nil || !msg.From.Equal(want) || !msg.To.Equal(cpim.Address{Local: "romeo", Domain: "example.net"}) {
					t.Errorf("from %+v, to %+v, %v", msg.From, msg.To, err)
				}
			}},
		"unserved recipient domain": {
			func(x *XMPPMessage) { x.To = jid.MustParse("romeo@elsewhere.example") },
			func(t *testing.T, _ cpim.Message, err error) { wantStatus(t, err, cpim.ItemNotFound, 404) }},
		"invalid stanza xml:lang is ignored": {
			func(x *XMPPMessage) { x.Lang = "en_US" },
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || msg.Lang != "" {
					t.Errorf("lang = %q, %v", msg.Lang, err)
				}
			}},
		"one text per language (MSG-24)": {
			func(x *XMPPMessage) {
				x.Bodies = []cpim.Text{{Lang: "EN", Text: "one"}, {Text: "two"}, {Lang: "de", Text: "drei"}, {Lang: "de", Text: "vier"}, {Lang: "bad tag!", Text: "five"}}
			},
			func(t *testing.T, msg cpim.Message, err error) {
				// "EN" is the stanza's language: the text inherits it.
				want := []cpim.Text{{Text: "one"}, {Lang: "de", Text: "drei"}}
				if err != nil || !reflect.DeepEqual(msg.Bodies, want) {
					t.Errorf("bodies = %q, %v; want %q", msg.Bodies, err, want)
				}
			}},
		"id, thread, extensions copied": {
			func(x *XMPPMessage) {
				x.Extensions = []cpim.Extension{{Space: "urn:xmpp:receipts", Local: "request", XML: []byte(`<request xmlns='urn:xmpp:receipts'/>`)}}
			},
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || msg.ID != "ktx72v49" || msg.Thread != "D9AA95FD-2BD5-46E2-AF0F-6CFAA96BDDFA" || len(msg.Extensions) != 1 {
					t.Errorf("id %q, thread %q, extensions %d, %v", msg.ID, msg.Thread, len(msg.Extensions), err)
				}
			}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			x := rfc7572Example1()
			tc.edit(&x)
			msg, err := m.MessageFromXMPP(x)
			tc.check(t, msg, err)
		})
	}
}

// baseMessage is a message as MessageFromXMPP makes it.
func baseMessage() cpim.Message {
	return cpim.Message{
		From:   cpim.Address{Local: "juliet", Domain: "example.com", Resource: "balcony"},
		To:     cpim.Address{Local: "romeo", Domain: "example.net"},
		ID:     "m1",
		Type:   cpim.Normal,
		Lang:   "en",
		Bodies: []cpim.Text{{Text: "Hello"}},
	}
}

func TestMessageToSIP(t *testing.T) {
	m := msgMapper(t)
	tests := map[string]struct {
		edit  func(msg *cpim.Message, o *SIPOptions)
		check func(t *testing.T, s SIPMessage, err error)
	}{
		"body in the default language is chosen": {
			func(msg *cpim.Message, _ *SIPOptions) {
				msg.Bodies = []cpim.Text{{Lang: "de", Text: "Hallo"}, {Text: "Hello"}, {Lang: "fr", Text: "Bonjour"}}
			},
			func(t *testing.T, s SIPMessage, err error) {
				if err != nil || string(s.Body) != "Hello" || s.ContentLanguage != "en" {
					t.Errorf("body %q, Content-Language %q, %v", s.Body, s.ContentLanguage, err)
				}
			}},
		"body tagged with the default language is chosen": {
			func(msg *cpim.Message, _ *SIPOptions) {
				msg.Bodies = []cpim.Text{{Lang: "de", Text: "Hallo"}, {Lang: "EN", Text: "Hello"}}
			},
			func(t *testing.T, s SIPMessage, err error) {
				if err != nil || string(s.Body) != "Hello" || s.ContentLanguage != "EN" {
					t.Errorf("body %q, Content-Language %q, %v", s.Body, s.ContentLanguage, err)
				}
			}},
		"else the first body, with its language": {
			func(msg *cpim.Message, _ *SIPOptions) {
				msg.Bodies = []cpim.Text{{Lang: "de", Text: "Hallo"}, {Lang: "fr", Text: "Bonjour"}}
			},
			func(t *testing.T, s SIPMessage, err error) {
				if err != nil || string(s.Body) != "Hallo" || s.ContentLanguage != "de" {
					t.Errorf("body %q, Content-Language %q, %v", s.Body, s.ContentLanguage, err)
				}
			}},
		"subject chosen the same way": {
			func(msg *cpim.Message, _ *SIPOptions) {
				msg.Subjects = []cpim.Text{{Lang: "cs", Text: "Ahoj!"}, {Text: "Hi!"}}
			},
			func(t *testing.T, s SIPMessage, err error) {
				if err != nil || s.Subject != "Hi!" {
					t.Errorf("subject %q, %v", s.Subject, err)
				}
			}},
		"subject made one line": {
			func(msg *cpim.Message, _ *SIPOptions) { msg.Subjects = []cpim.Text{{Text: "two\r\nlines\tand\x00nul"}} },
			func(t *testing.T, s SIPMessage, err error) {
				if err != nil || s.Subject != "two  lines and nul" {
					t.Errorf("subject %q, %v", s.Subject, err)
				}
			}},
		"no language": {
			func(msg *cpim.Message, _ *SIPOptions) { msg.Lang = "" },
			func(t *testing.T, s SIPMessage, err error) {
				if err != nil || s.ContentLanguage != "" {
					t.Errorf("Content-Language %q, %v", s.ContentLanguage, err)
				}
			}},
		"invalid language is not emitted": {
			func(msg *cpim.Message, _ *SIPOptions) { msg.Lang = "english!" },
			func(t *testing.T, s SIPMessage, err error) {
				if err != nil || s.ContentLanguage != "" {
					t.Errorf("Content-Language %q, %v", s.ContentLanguage, err)
				}
			}},
		"Max-Forwards 70": {
			func(*cpim.Message, *SIPOptions) {},
			func(t *testing.T, s SIPMessage, err error) {
				if err != nil || s.MaxForwards != 70 {
					t.Errorf("Max-Forwards %d, %v", s.MaxForwards, err)
				}
			}},
		"no thread: no Call-ID": {
			func(*cpim.Message, *SIPOptions) {},
			func(t *testing.T, s SIPMessage, err error) {
				if err != nil || s.CallID != "" {
					t.Errorf("Call-ID %q, %v", s.CallID, err)
				}
			}},
		"thread unusable as Call-ID is hashed (MSG-27)": {
			func(msg *cpim.Message, _ *SIPOptions) { msg.Thread = "thread with spaces" },
			func(t *testing.T, s SIPMessage, err error) {
				if err != nil || s.CallID != CallIDForThread("thread with spaces") || !validCallID(s.CallID) {
					t.Errorf("Call-ID %q, %v", s.CallID, err)
				}
			}},
		"im: domain": {
			func(msg *cpim.Message, _ *SIPOptions) { msg.To = cpim.Address{Local: "a.b", Domain: "im.example.org"} },
			func(t *testing.T, s SIPMessage, err error) {
				if err != nil || s.RequestURI != "im:a%2Eb@im.example.org" || s.To != s.RequestURI {
					t.Errorf("Request-URI %q, To %q, %v", s.RequestURI, s.To, err)
				}
			}},
		"too large for MaxSize (MSG-07)": {
			func(msg *cpim.Message, o *SIPOptions) {
				msg.Bodies = []cpim.Text{{Text: strings.Repeat("x", 101)}}
				o.MaxSize = 100
			},
			func(t *testing.T, _ SIPMessage, err error) { wantStatus(t, err, cpim.PolicyViolation, 0) }},
		"exactly MaxSize": {
			func(msg *cpim.Message, o *SIPOptions) {
				msg.Bodies = []cpim.Text{{Text: strings.Repeat("x", 100)}}
				o.MaxSize = 100
			},
			func(t *testing.T, s SIPMessage, err error) {
				if err != nil || len(s.Body) != 100 {
					t.Errorf("body %d bytes, %v", len(s.Body), err)
				}
			}},
		"wrapped body counts for MaxSize": {
			func(msg *cpim.Message, o *SIPOptions) { o.WrapCPIM, o.MaxSize, o.Now = true, 50, fixedNow },
			func(t *testing.T, _ SIPMessage, err error) { wantStatus(t, err, cpim.PolicyViolation, 0) }},
		"groupchat (MSG-26)": {
			func(msg *cpim.Message, _ *SIPOptions) { msg.Type = cpim.Groupchat },
			func(t *testing.T, _ SIPMessage, err error) { wantStatus(t, err, cpim.ServiceUnavailable, 0) }},
		"no body": {
			func(msg *cpim.Message, _ *SIPOptions) { msg.Bodies = nil },
			func(t *testing.T, _ SIPMessage, err error) {
				if !errors.Is(err, ErrNoBody) {
					t.Errorf("err = %v, want ErrNoBody", err)
				}
			}},
		"unserved recipient": {
			func(msg *cpim.Message, _ *SIPOptions) { msg.To = cpim.Address{Local: "x", Domain: "elsewhere.example"} },
			func(t *testing.T, _ SIPMessage, err error) { wantStatus(t, err, cpim.ItemNotFound, 404) }},
		"message/cpim wrap (RFC 3922 §4.1)": {
			func(msg *cpim.Message, o *SIPOptions) {
				o.WrapCPIM, o.Now = true, fixedNow
				msg.Subjects = []cpim.Text{{Text: "Hi!"}, {Lang: "cs", Text: "Ahoj!"}}
			},
			func(t *testing.T, s SIPMessage, err error) {
				want := "From: <im:juliet@example.com>\r\n" +
					"To: <im:romeo@example.net>\r\n" +
					"DateTime: 2026-11-22T10:30:00Z\r\n" +
					"Subject:;lang=en Hi!\r\n" +
					"Subject:;lang=cs Ahoj!\r\n" +
					"\r\n" +
					"Content-Type: text/plain; charset=utf-8\r\n" +
					"\r\n" +
					"Hello"
				if err != nil || s.ContentType != "message/cpim" || string(s.Body) != want {
					t.Errorf("Content-Type %q, body %q, %v\nwant %q", s.ContentType, s.Body, err, want)
				}
			}},
		"message/cpim keeps the sender's DateTime": {
			func(msg *cpim.Message, o *SIPOptions) {
				o.WrapCPIM, o.Now = true, fixedNow
				msg.DateTime = time.Date(2000, 12, 13, 13, 40, 0, 0, time.FixedZone("", -8*3600))
			},
			func(t *testing.T, s SIPMessage, err error) {
				if err != nil || !bytes.Contains(s.Body, []byte("\r\nDateTime: 2000-12-13T13:40:00-08:00\r\n")) {
					t.Errorf("body %q, %v", s.Body, err)
				}
			}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			msg := baseMessage()
			var o SIPOptions
			tc.edit(&msg, &o)
			s, err := m.MessageToSIP(msg, o)
			tc.check(t, s, err)
		})
	}
}

func TestCallIDForThread(t *testing.T) {
	long := strings.Repeat("a", 129)
	tests := map[string]struct {
		thread string
		same   bool
	}{
		"uuid":            {"D9AA95FD-2BD5-46E2-AF0F-6CFAA96BDDFA", true},
		"callid with @":   {"a84b4c76e66710@pc33.atlanta.com", true},
		"word specials":   {`-.!%*_+` + "`'~()<>:\\\"/[]?{}", true},
		"128 octets":      {long[:128], true},
		"129 octets":      {long, false},
		"two @":           {"a@b@c", false},
		"empty word":      {"@host", false},
		"space":           {"my thread", false},
		"non-ASCII":       {"fäden", false},
		"control":         {"a\tb", false},
		"semicolon":       {"a;b", false},
		"XMPP-style hash": {"e0ffe42b28561960c6b12b944a092794b9683a38", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := CallIDForThread(tc.thread)
			if tc.same && got != tc.thread {
				t.Errorf("CallIDForThread(%q) = %q, want it unchanged", tc.thread, got)
			}
			if !tc.same {
				if got == tc.thread || len(got) != 33 || got != CallIDForThread(tc.thread) {
					t.Errorf("CallIDForThread(%q) = %q, want a stable 33-octet hash", tc.thread, got)
				}
			}
			if !validCallID(got) {
				t.Errorf("CallIDForThread(%q) = %q is not a valid Call-ID", tc.thread, got)
			}
		})
	}
	if CallIDForThread("") != "" {
		t.Error(`CallIDForThread("") is not ""`)
	}
	if CallIDForThread("a b") == CallIDForThread("a c") {
		t.Error("two threads hash to one Call-ID")
	}
}

// cpimBody builds a message/cpim body from header lines, entity fields
// and a body (CRLF line ends).
func cpimBody(headers []string, fields []string, body string) []byte {
	var b strings.Builder
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	for _, f := range fields {
		b.WriteString(f + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return []byte(b.String())
}

func TestMessageFromSIP(t *testing.T) {
	m := msgMapper(t)
	cpimFrom := []string{"From: <im:romeo@example.net>", "To: <im:juliet@example.com>"}
	textPlain := []string{"Content-Type: text/plain; charset=utf-8"}
	tests := map[string]struct {
		edit  func(s *SIPMessage)
		check func(t *testing.T, msg cpim.Message, err error)
	}{
		"text/plain without charset is UTF-8 (MSG-14)": {
			func(s *SIPMessage) { s.ContentType, s.Body = "text/plain", []byte("Grüße 🌍") },
			bodyIs("Grüße 🌍")},
		"charset UTF-8 in any case": {
			func(s *SIPMessage) { s.ContentType, s.Body = `text/plain; charset="UTF-8"`, []byte("é") },
			bodyIs("é")},
		"charset us-ascii": {
			func(s *SIPMessage) { s.ContentType, s.Body = "Text/Plain;charset=us-ascii", []byte("plain") },
			bodyIs("plain")},
		"charset iso-8859-1 decoded": {
			func(s *SIPMessage) { s.ContentType, s.Body = "text/plain;charset=iso-8859-1", []byte("caf\xe9 \xa4") },
			bodyIs("café ¤")},
		"charset windows-1252 decoded": {
			func(s *SIPMessage) {
				s.ContentType, s.Body = "text/plain;charset=windows-1252", []byte("\x80 \x93q\x94")
			},
			bodyIs("€ “q”")},
		"charset shift_jis decoded": {
			func(s *SIPMessage) {
				s.ContentType, s.Body = "text/plain;charset=Shift_JIS", []byte("\x82\xb1\x82\xf1")
			},
			bodyIs("こん")},
		"unknown charset (415)": {
			func(s *SIPMessage) { s.ContentType = "text/plain;charset=x-klingon" },
			status(cpim.NotAcceptable, 415)},
		"invalid UTF-8 (415)": {
			func(s *SIPMessage) { s.Body = []byte("caf\xe9") },
			status(cpim.NotAcceptable, 415)},
		"XML-illegal characters stripped (MSG-23)": {
			func(s *SIPMessage) {
				s.Body = []byte("a\x00b\x01c\td\ne\rf\x7fg\uFFFEh\uFFFFi\U0001F600")
				s.Subject = "s\x1bubject"
				s.CallID = "call\x02id"
				s.TransactionID = "z9\x03"
			},
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || msg.Bodies[0].Text != "abc\td\ne\rf\x7fghi\U0001F600" || msg.Subjects[0].Text != "subject" ||
					msg.Thread != "callid" || msg.ID != "z9" {
					t.Errorf("%+v, %v", msg, err)
				}
			}},
		"text/html (415)": {
			func(s *SIPMessage) { s.ContentType, s.Body = "text/html", []byte("<p>hi</p>") },
			status(cpim.NotAcceptable, 415)},
		"application/octet-stream (415)": {
			func(s *SIPMessage) { s.ContentType = "application/octet-stream" },
			status(cpim.NotAcceptable, 415)},
		"unreadable Content-Type (415)": {
			func(s *SIPMessage) { s.ContentType = "text/" },
			status(cpim.NotAcceptable, 415)},
		"body without Content-Type (400)": {
			func(s *SIPMessage) { s.ContentType = "" },
			status(cpim.BadRequest, 400)},
		"empty body": {
			func(s *SIPMessage) { s.Body = nil },
			func(t *testing.T, _ cpim.Message, err error) {
				wantStatus(t, err, cpim.BadRequest, 400)
				if !errors.Is(err, ErrNoBody) {
					t.Errorf("err = %v, want ErrNoBody", err)
				}
			}},
		"type is normal (MSG-03)": {
			func(*SIPMessage) {},
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || msg.Type != cpim.Normal {
					t.Errorf("type %q, %v", msg.Type, err)
				}
			}},
		"Max-Forwards carried": {
			func(s *SIPMessage) { s.MaxForwards = 12 },
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || msg.MaxForwards != 12 {
					t.Errorf("MaxForwards %d, %v", msg.MaxForwards, err)
				}
			}},
		"several Content-Language tags: the first": {
			func(s *SIPMessage) { s.ContentLanguage = "de-CH, en" },
			langIs("de-CH")},
		"invalid Content-Language ignored": {
			func(s *SIPMessage) { s.ContentLanguage = "deutsch_ch" },
			langIs("")},
		"sips Request-URI (480, ADR-23)": {
			func(s *SIPMessage) { s.RequestURI = "sips:juliet@example.com" },
			status(cpim.RecipientUnavailable, 480)},
		"sips To (480, ADR-23)": {
			func(s *SIPMessage) { s.To = "sips:juliet@example.com" },
			status(cpim.RecipientUnavailable, 480)},
		"tel: From (416)": {
			func(s *SIPMessage) { s.From = "tel:+15551234" },
			status(cpim.NotAcceptable, 416)},
		"unmappable From (400)": {
			func(s *SIPMessage) { s.From = "sip:%20romeo@example.net" },
			status(cpim.JIDMalformed, 400)},
		"unserved target (404)": {
			func(s *SIPMessage) {
				s.RequestURI, s.To = "sip:juliet@elsewhere.example", "sip:juliet@elsewhere.example"
			},
			status(cpim.ItemNotFound, 404)},
		"Request-URI wins when it is an XMPP domain": {
			func(s *SIPMessage) {
				s.RequestURI, s.To = "sip:juliet@example.com;gr=balcony", "sip:romeo-alias@example.net"
			},
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || !msg.To.Equal(cpim.Address{Local: "juliet", Domain: "example.com", Resource: "balcony"}) {
					t.Errorf("to %+v, %v", msg.To, err)
				}
			}},
		"else To": {
			func(s *SIPMessage) { s.RequestURI, s.To = "sip:gw@example.net", "sip:juliet@example.com" },
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || !msg.To.Equal(cpim.Address{Local: "juliet", Domain: "example.com"}) {
					t.Errorf("to %+v, %v", msg.To, err)
				}
			}},
		"im: Request-URI accepted": {
			func(s *SIPMessage) { s.RequestURI = "im:juliet@example.com" },
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || msg.To.Original != "im:juliet@example.com" {
					t.Errorf("to %+v, %v", msg.To, err)
				}
			}},
		"From original kept (ADR-25)": {
			func(s *SIPMessage) { s.From = "sip:Romeo@Example.NET" },
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || msg.From.Local != "romeo" || msg.From.Original != "sip:Romeo@Example.NET" {
					t.Errorf("from %+v, %v", msg.From, err)
				}
			}},
		"message/cpim unwrapped": {
			func(s *SIPMessage) {
				s.ContentType = "message/cpim"
				s.Body = cpimBody(cpimFrom, textPlain, "Wherefore art thou?")
			},
			bodyIs("Wherefore art thou?")},
		"message/cpim inner charset absent (us-ascii)": {
			func(s *SIPMessage) {
				s.ContentType = "Message/CPIM"
				s.Body = cpimBody(cpimFrom, []string{"Content-type: text/plain"}, "hi")
			},
			bodyIs("hi")},
		"message/cpim Subject;lang (MSG-19), NS not passed (MSG-20)": {
			func(s *SIPMessage) {
				s.ContentType = "message/cpim"
				s.Subject = "SIP subject, overridden"
				s.Body = cpimBody(append(cpimFrom, "Subject: Hi!", "Subject:;lang=cs Ahoj!", "Subject:;lang=bad_tag! x",
					"NS: imdn <urn:ietf:params:imdn>", "imdn.Message-ID: 34jk324j"), textPlain, "x")
			},
			func(t *testing.T, msg cpim.Message, err error) {
				want := []cpim.Text{{Text: "Hi!"}, {Lang: "cs", Text: "Ahoj!"}}
				if err != nil || !reflect.DeepEqual(msg.Subjects, want) || len(msg.Extensions) != 0 || len(msg.Parts) != 0 {
					t.Errorf("subjects %q, extensions %v, parts %v, %v", msg.Subjects, msg.Extensions, msg.Parts, err)
				}
			}},
		"message/cpim DateTime kept, not shown (MSG-21)": {
			func(s *SIPMessage) {
				s.ContentType = "message/cpim"
				s.Body = cpimBody(append(cpimFrom, "DateTime: 2000-12-13T13:40:00-08:00"), textPlain, "x")
			},
			func(t *testing.T, msg cpim.Message, err error) {
				want := time.Date(2000, 12, 13, 21, 40, 0, 0, time.UTC)
				if err != nil || !msg.DateTime.Equal(want) {
					t.Errorf("DateTime %v, %v", msg.DateTime, err)
				}
			}},
		"message/cpim entity Content-Language": {
			func(s *SIPMessage) {
				s.ContentType = "message/cpim"
				s.Body = cpimBody(cpimFrom, append(textPlain, "Content-Language: fr"), "Bonjour")
			},
			langIs("fr")},
		"message/cpim Require (415, MSG-20)": {
			func(s *SIPMessage) {
				s.ContentType = "message/cpim"
				s.Body = cpimBody(append(cpimFrom, "NS: MyFeatures <mid:MessageFeatures@id.foo.com>", "Require: MyFeatures.VitalMessageOption"), textPlain, "x")
			},
			status(cpim.NotAcceptable, 415)},
		"message/cpim inner text/html (415, MSG-16)": {
			func(s *SIPMessage) {
				s.ContentType = "message/cpim"
				s.Body = cpimBody(cpimFrom, []string{"Content-Type: text/html"}, "<p>x</p>")
			},
			status(cpim.NotAcceptable, 415)},
		"message/cpim inner message/imdn+xml (415, MSG-16)": {
			func(s *SIPMessage) {
				s.ContentType = "message/cpim"
				s.Body = cpimBody(cpimFrom, []string{"Content-Type: message/imdn+xml", "Content-Disposition: notification"}, "<imdn/>")
			},
			status(cpim.NotAcceptable, 415)},
		"message/cpim inner charset iso-8859-1 (415, MSG-17)": {
			func(s *SIPMessage) {
				s.ContentType = "message/cpim"
				s.Body = cpimBody(cpimFrom, []string{"Content-Type: text/plain; charset=iso-8859-1"}, "caf\xe9")
			},
			status(cpim.NotAcceptable, 415)},
		"message/cpim inner invalid UTF-8 (415)": {
			func(s *SIPMessage) {
				s.ContentType = "message/cpim"
				s.Body = cpimBody(cpimFrom, textPlain, "caf\xe9")
			},
			status(cpim.NotAcceptable, 415)},
		"message/cpim malformed (400)": {
			func(s *SIPMessage) {
				s.ContentType, s.Body = "message/cpim", []byte("From:<im:romeo@example.net>\r\n\r\n")
			},
			status(cpim.BadRequest, 400)},
		"message/cpim From in the SIP From domain replaces it": {
			func(s *SIPMessage) {
				s.ContentType = "message/cpim"
				s.Body = cpimBody([]string{"From: Mercutio <im:mercutio@example.net>", "To: <im:juliet@example.com>"}, textPlain, "x")
			},
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || !msg.From.Equal(cpim.Address{Local: "mercutio", Domain: "example.net"}) {
					t.Errorf("from %+v, %v", msg.From, err)
				}
			}},
		"message/cpim From of the same user keeps the GRUU": {
			func(s *SIPMessage) {
				s.ContentType = "message/cpim"
				s.Body = cpimBody(cpimFrom, textPlain, "x")
			},
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || !msg.From.Equal(cpim.Address{Local: "romeo", Domain: "example.net", Resource: "dr4hcr0st3lup4c"}) {
					t.Errorf("from %+v, %v", msg.From, err)
				}
			}},
		"message/cpim From in another domain ignored": {
			func(s *SIPMessage) {
				s.ContentType = "message/cpim"
				s.Body = cpimBody([]string{"From: <im:tybalt@im.example.org>", "To: <im:juliet@example.com>"}, textPlain, "x")
			},
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || msg.From.Local != "romeo" {
					t.Errorf("from %+v, %v", msg.From, err)
				}
			}},
		"message/cpim To in the target domain replaces it": {
			func(s *SIPMessage) {
				s.ContentType = "message/cpim"
				s.Body = cpimBody([]string{"From: <im:romeo@example.net>", "To: Nurse <im:nurse@example.com>"}, textPlain, "x")
			},
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || !msg.To.Equal(cpim.Address{Local: "nurse", Domain: "example.com"}) {
					t.Errorf("to %+v, %v", msg.To, err)
				}
			}},
		"message/cpim To in another domain ignored": {
			func(s *SIPMessage) {
				s.ContentType = "message/cpim"
				s.Body = cpimBody([]string{"From: <im:romeo@example.net>", "To: <im:juliet@im.example.org>"}, textPlain, "x")
			},
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || !msg.To.Equal(cpim.Address{Local: "juliet", Domain: "example.com"}) {
					t.Errorf("to %+v, %v", msg.To, err)
				}
			}},
		"message/cpim unparsable From ignored": {
			func(s *SIPMessage) {
				s.ContentType = "message/cpim"
				s.Body = cpimBody([]string{"From: romeo", "To: <im:juliet@example.com>"}, textPlain, "x")
			},
			func(t *testing.T, msg cpim.Message, err error) {
				if err != nil || msg.From.Local != "romeo" {
					t.Errorf("from %+v, %v", msg.From, err)
				}
			}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := rfc7572Example4()
			tc.edit(&s)
			msg, err := m.MessageFromSIP(s)
			tc.check(t, msg, err)
		})
	}
}

func bodyIs(want string) func(t *testing.T, msg cpim.Message, err error) {
	return func(t *testing.T, msg cpim.Message, err error) {
		t.Helper()
		if err != nil || len(msg.Bodies) != 1 || msg.Bodies[0] != (cpim.Text{Text: want}) {
			t.Errorf("bodies %q, %v; want %q", msg.Bodies, err, want)
		}
	}
}

func langIs(want string) func(t *testing.T, msg cpim.Message, err error) {
	return func(t *testing.T, msg cpim.Message, err error) {
		t.Helper()
		if err != nil || msg.Lang != want {
			t.Errorf("lang %q, %v; want %q", msg.Lang, err, want)
		}
	}
}

func status(c cpim.Condition, code int) func(t *testing.T, msg cpim.Message, err error) {
	return func(t *testing.T, _ cpim.Message, err error) {
		t.Helper()
		e := wantStatus(t, err, c, code)
		if e.Text == "" && e.Cause == nil {
			t.Errorf("error %v has neither Text nor Cause", e)
		}
	}
}

func TestMessageToXMPP(t *testing.T) {
	m := msgMapper(t)
	tests := map[string]struct {
		edit  func(msg *cpim.Message)
		check func(t *testing.T, x XMPPMessage, err error)
	}{
		"normal has no type (MSG-03)": {
			func(*cpim.Message) {},
			func(t *testing.T, x XMPPMessage, err error) {
				if err != nil || x.Type != "" {
					t.Errorf("type %q, %v", x.Type, err)
				}
			}},
		"chat kept": {
			func(msg *cpim.Message) { msg.Type = cpim.Chat },
			func(t *testing.T, x XMPPMessage, err error) {
				if err != nil || x.Type != "chat" {
					t.Errorf("type %q, %v", x.Type, err)
				}
			}},
		"full and bare JIDs": {
			func(*cpim.Message) {},
			func(t *testing.T, x XMPPMessage, err error) {
				if err != nil || x.From.String() != "juliet@example.com/balcony" || x.To.String() != "romeo@example.net" {
					t.Errorf("from %q, to %q, %v", x.From, x.To, err)
				}
			}},
		"XML-illegal characters and invalid UTF-8 removed (MSG-23)": {
			func(msg *cpim.Message) {
				msg.Bodies = []cpim.Text{{Text: "a\x00b\xffc\uFFFF"}}
				msg.Subjects = []cpim.Text{{Text: "s\x08"}}
				msg.Thread = "t\x01"
			},
			func(t *testing.T, x XMPPMessage, err error) {
				if err != nil || x.Bodies[0].Text != "abc" || x.Subjects[0].Text != "s" || x.Thread != "t" {
					t.Errorf("%+v, %v", x, err)
				}
			}},
		"invalid language dropped": {
			func(msg *cpim.Message) { msg.Lang = "-en" },
			func(t *testing.T, x XMPPMessage, err error) {
				if err != nil || x.Lang != "" {
					t.Errorf("lang %q, %v", x.Lang, err)
				}
			}},
		"no body": {
			func(msg *cpim.Message) { msg.Bodies = nil },
			func(t *testing.T, _ XMPPMessage, err error) {
				if !errors.Is(err, ErrNoBody) {
					t.Errorf("err = %v, want ErrNoBody", err)
				}
			}},
		"unmappable address": {
			func(msg *cpim.Message) { msg.From = cpim.Address{Local: "x", Domain: "elsewhere.example"} },
			func(t *testing.T, _ XMPPMessage, err error) { wantStatus(t, err, cpim.ItemNotFound, 404) }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			msg := baseMessage()
			tc.edit(&msg)
			x, err := m.MessageToXMPP(msg)
			tc.check(t, x, err)
		})
	}
}

func TestValidLang(t *testing.T) {
	valid := []string{"en", "EN", "fr-CA", "de-CH-1901", "zh-Hant-TW", "sr-Latn-RS", "es-419", "zh-yue-HK",
		"x-whatever", "i-default", "i-klingon", "en-GB-oed", "sgn-BE-FR", "en-a-bbb-x-a-ccc", "de-DE-u-co-phonebk",
		"cz", "tlh", "haw-US", "sl-rozaj-biske-1994"}
	invalid := []string{"", "e", "en_US", "-en", "en-", "en--US", "abcdefghi", "123", "en-a", "en-a-x-b", "x",
		"en-x", "é", "en US", "de-419-DE", strings.Repeat("a-", 40) + "a"}
	for _, tag := range valid {
		if validLang(tag) != tag {
			t.Errorf("validLang(%q) refused a well-formed tag", tag)
		}
	}
	for _, tag := range invalid {
		if validLang(tag) != "" {
			t.Errorf("validLang(%q) accepted an ill-formed tag", tag)
		}
	}
}

// TestMessageRoundTrip maps XMPP → cpim → SIP → cpim → XMPP and checks
// that body, language, subject, thread and addresses survive: the sender's
// full JID through the GRUU (ADR-17, ADR-18), the bare recipient.
func TestMessageRoundTrip(t *testing.T) {
	m := msgMapper(t)
	in := XMPPMessage{
		From:     jid.MustParse("juliet@example.com/balcony 2"),
		To:       jid.MustParse("romeo@example.net"),
		ID:       "z9hG4bK-1",
		Lang:     "de",
		Bodies:   []cpim.Text{{Text: "Grüße, Romeo!\nZeile 2"}},
		Subjects: []cpim.Text{{Text: "Über den Balkon"}},
		Thread:   "e0ffe42b28561960c6b12b944a092794b9683a38",
	}
	for _, wrap := range []bool{false, true} {
		t.Run(fmt.Sprintf("WrapCPIM=%v", wrap), func(t *testing.T) {
			s, err := x2s(m, in, SIPOptions{WrapCPIM: wrap, Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			out, err := s2x(m, s)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := dumpXMPP(out), dumpXMPP(in); got != want {
				t.Errorf("round trip:\n got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// dumpSIP renders a SIPMessage for golden files, strings in Go %q notation.
func dumpSIP(s SIPMessage) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Request-URI      %q\n", s.RequestURI)
	fmt.Fprintf(&b, "From             %q\n", s.From)
	fmt.Fprintf(&b, "From name        %q\n", s.FromName)
	fmt.Fprintf(&b, "To               %q\n", s.To)
	fmt.Fprintf(&b, "Call-ID          %q\n", s.CallID)
	fmt.Fprintf(&b, "Max-Forwards     %d\n", s.MaxForwards)
	fmt.Fprintf(&b, "Subject          %q\n", s.Subject)
	fmt.Fprintf(&b, "Content-Type     %q\n", s.ContentType)
	fmt.Fprintf(&b, "Content-Language %q\n", s.ContentLanguage)
	fmt.Fprintf(&b, "transaction      %q\n", s.TransactionID)
	fmt.Fprintf(&b, "body             %d bytes\n", len(s.Body))
	for _, l := range bytes.SplitAfter(s.Body, []byte("\n")) {
		if len(l) > 0 {
			fmt.Fprintf(&b, "  %q\n", l)
		}
	}
	return b.String()
}

// dumpXMPP renders an XMPPMessage for golden files and comparisons.
func dumpXMPP(x XMPPMessage) string {
	var b strings.Builder
	fmt.Fprintf(&b, "from     %q\n", x.From.String())
	fmt.Fprintf(&b, "to       %q\n", x.To.String())
	fmt.Fprintf(&b, "id       %q\n", x.ID)
	fmt.Fprintf(&b, "type     %q\n", x.Type)
	fmt.Fprintf(&b, "xml:lang %q\n", x.Lang)
	for _, t := range x.Subjects {
		fmt.Fprintf(&b, "subject  xml:lang=%q %q\n", t.Lang, t.Text)
	}
	for _, t := range x.Bodies {
		fmt.Fprintf(&b, "body     xml:lang=%q %q\n", t.Lang, t.Text)
	}
	fmt.Fprintf(&b, "thread   %q\n", x.Thread)
	for _, e := range x.Extensions {
		fmt.Fprintf(&b, "extension {%s}%s %q\n", e.Space, e.Local, e.XML)
	}
	return b.String()
}

// TestMessageGolden writes complete mappings to testdata/message/.
func TestMessageGolden(t *testing.T) {
	m := msgMapper(t)
	x := XMPPMessage{
		From:     jid.MustParse("juliet@example.com/balcony"),
		To:       jid.MustParse("romeo@example.net"),
		ID:       "ktx72v49",
		Type:     "chat",
		Lang:     "fr",
		Bodies:   []cpim.Text{{Lang: "en", Text: "Wherefore art thou, Romeo?"}, {Text: "Ô Roméo, pourquoi es-tu Roméo ?\n— Juliette"}},
		Subjects: []cpim.Text{{Text: "Le balcon"}, {Lang: "cs", Text: "Balkón"}},
		Thread:   "act2-scene2",
		Extensions: []cpim.Extension{{Space: "http://jabber.org/protocol/chatstates", Local: "active",
			XML: []byte(`<active xmlns='http://jabber.org/protocol/chatstates'/>`)}},
	}
	for _, tc := range []struct {
		name string
		o    SIPOptions
	}{
		{"x2s-text-plain.txt", SIPOptions{}},
		{"x2s-message-cpim.txt", SIPOptions{WrapCPIM: true, Now: fixedNow}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := x2s(m, x, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "message/"+tc.name, []byte("# XMPP message\n"+dumpXMPP(x)+
				fmt.Sprintf("# SIPOptions WrapCPIM=%v\n# SIP MESSAGE fields\n", tc.o.WrapCPIM)+dumpSIP(s)))
		})
	}

	textPlain := SIPMessage{
		RequestURI:      "sip:juliet@example.com",
		From:            "sip:romeo@example.net;gr=dr4hcr0st3lup4c",
		FromName:        "Romeo Montague",
		To:              "sip:juliet@example.com",
		CallID:          "9E97FB43-85F4-4A00-8751-1124FD4C7B2E@s2x.example.net",
		MaxForwards:     69,
		Subject:         "Réponse",
		ContentType:     "text/plain;charset=iso-8859-1",
		ContentLanguage: "fr, en",
		Body:            []byte("Ni l'un ni l'autre, belle vierge, si l'un ou l'autre te d\xe9pla\xeet."),
		TransactionID:   "z9hG4bKeskdgs677",
	}
	wrapped := textPlain
	wrapped.ContentType = "message/cpim"
	wrapped.ContentLanguage = ""
	wrapped.Subject = ""
	wrapped.Body = cpimBody([]string{
		"From: Romeo Montague <im:romeo@example.net>",
		"To: Juliet Capulet <im:juliet@example.com>",
		"DateTime: 2026-11-22T10:30:00+01:00",
		"Subject: Neither",
		"Subject:;lang=fr Ni l'un ni l'autre",
		"Subject:;lang=cs Ani jeden",
		"NS: imdn <urn:ietf:params:imdn>",
		"imdn.Message-ID: 34jk324j",
		"imdn.Disposition-Notification: positive-delivery",
		"cc: <im:mercutio@example.net>",
	}, []string{"Content-Type: text/plain; charset=utf-8", "Content-ID: <123456789@example.net>", "Content-Language: en"},
		"Neither, fair saint, if either thee dislike. ✝")
	for _, tc := range []struct {
		name string
		s    SIPMessage
	}{
		{"s2x-text-plain.txt", textPlain},
		{"s2x-message-cpim.txt", wrapped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := s2x(m, tc.s)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "message/"+tc.name, []byte("# SIP MESSAGE fields\n"+dumpSIP(tc.s)+"# XMPP message\n"+dumpXMPP(out)))
		})
	}
}

// fuzzContentTypes are the Content-Types FuzzMessageFromSIP chooses from
// with the first byte of its input.
var fuzzContentTypes = []string{"text/plain", "text/plain;charset=iso-8859-1", "message/cpim"}

// FuzzMessageFromSIP maps arbitrary bodies: a success must give only
// valid UTF-8, XML-legal texts and valid language tags; a failure must be a
// *cpim.Error with a 4xx Status.
func FuzzMessageFromSIP(f *testing.F) {
	addSeeds(f, "FuzzMessageFromSIP")
	m := msgMapper(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		s := rfc7572Example4()
		s.ContentType = fuzzContentTypes[int(b[0])%len(fuzzContentTypes)]
		s.Body = b[1:]
		msg, err := m.MessageFromSIP(s)
		if err != nil {
			var e *cpim.Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 {
				t.Fatalf("error %v (%T) is not a *cpim.Error with a 4xx Status", err, err)
			}
			return
		}
		legal := func(what, s string) {
			if !utf8.ValidString(s) || xmlText(s) != s {
				t.Fatalf("%s %q is not valid UTF-8 XML text", what, s)
			}
		}
		if len(msg.Bodies) != 1 {
			t.Fatalf("%d bodies", len(msg.Bodies))
		}
		for _, x := range append(append([]cpim.Text(nil), msg.Bodies...), msg.Subjects...) {
			legal("text", x.Text)
			if x.Lang != validLang(x.Lang) {
				t.Fatalf("invalid language %q", x.Lang)
			}
		}
		legal("thread", msg.Thread)
		legal("id", msg.ID)
		if msg.Lang != validLang(msg.Lang) {
			t.Fatalf("invalid language %q", msg.Lang)
		}
		x, err := m.MessageToXMPP(msg)
		if err != nil {
			t.Fatalf("MessageToXMPP: %v", err)
		}
		if _, err := jid.Parse(x.From.String()); err != nil {
			t.Fatalf("from %q: %v", x.From, err)
		}
	})
}

func BenchmarkMessageFromXMPP(b *testing.B) {
	m := msgMapper(b)
	x := rfc7572Example1()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.MessageFromXMPP(x); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMessageToSIP(b *testing.B) {
	m := msgMapper(b)
	msg, err := m.MessageFromXMPP(rfc7572Example1())
	if err != nil {
		b.Fatal(err)
	}
	for _, wrap := range []bool{false, true} {
		b.Run(fmt.Sprintf("WrapCPIM=%v", wrap), func(b *testing.B) {
			o := SIPOptions{WrapCPIM: wrap, Now: fixedNow, MaxSize: 1300}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.MessageToSIP(msg, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMessageFromSIP(b *testing.B) {
	m := msgMapper(b)
	plain := rfc7572Example4()
	wrapped := plain
	wrapped.ContentType = "message/cpim"
	wrapped.Body = cpimBody([]string{
		"From: Romeo <im:romeo@example.net>", "To: Juliet <im:juliet@example.com>",
		"NS: imdn <urn:ietf:params:imdn>", "imdn.Message-ID: 34jk324j0Az9xQ", "DateTime: 2006-04-04T12:16:49-05:00",
		"imdn.Disposition-Notification: positive-delivery, negative-delivery", "Subject:;lang=en Balcony",
	}, []string{"Content-Type: text/plain; charset=utf-8"}, "Neither, fair saint, if either thee dislike.")
	for name, s := range map[string]SIPMessage{"text-plain": plain, "message-cpim": wrapped} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.MessageFromSIP(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMessageToXMPP(b *testing.B) {
	m := msgMapper(b)
	msg, err := m.MessageFromSIP(rfc7572Example4())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.MessageToXMPP(msg); err != nil {
			b.Fatal(err)
		}
	}
}
