package mapping_test

import (
	"errors"
	"fmt"
	"time"

	"cpimgw/cpim"
	"cpimgw/mapping"

	"mellium.im/xmpp/jid"
)

func exampleMapper() *mapping.Mapper {
	m, err := mapping.NewMapper(mapping.Domains{
		Component: "gw.example.com",
		XMPP:      []string{"example.com"},
		SIP:       []string{"example.net"},
	})
	if err != nil {
		panic(err)
	}
	return m
}

// An XMPP message to a SIP user becomes the fields of a SIP MESSAGE
// (RFC 7572 §4).
func ExampleMapper_MessageToSIP() {
	m := exampleMapper()
	msg, err := m.MessageFromXMPP(mapping.XMPPMessage{
		From:   jid.MustParse("juliet@example.com/balcony"),
		To:     jid.MustParse("romeo@example.net"),
		ID:     "ktx72v49",
		Lang:   "en",
		Bodies: []cpim.Text{{Text: "Art thou not Romeo, and a Montague?"}},
		Thread: "act2-scene2",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := m.MessageToSIP(msg, mapping.SIPOptions{MaxSize: 1300})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("MESSAGE", s.RequestURI)
	fmt.Println("From:", s.From)
	fmt.Println("Call-ID:", s.CallID)
	fmt.Println("Content-Type:", s.ContentType)
	fmt.Println("Content-Language:", s.ContentLanguage)
	fmt.Printf("%s\n", s.Body)
	// Output:
	// MESSAGE sip:romeo@example.net
	// From: sip:juliet@example.com;gr=balcony
	// Call-ID: act2-scene2
	// Content-Type: text/plain;charset=UTF-8
	// Content-Language: en
	// Art thou not Romeo, and a Montague?
}

// With WrapCPIM the body is a message/cpim document (RFC 3922 §4.1).
func ExampleSIPOptions_wrapCPIM() {
	m := exampleMapper()
	msg, _ := m.MessageFromXMPP(mapping.XMPPMessage{
		From:     jid.MustParse("juliet@example.com/balcony"),
		To:       jid.MustParse("romeo@example.net"),
		Subjects: []cpim.Text{{Text: "Hi!"}, {Lang: "cs", Text: "Ahoj!"}},
		Bodies:   []cpim.Text{{Text: "Wherefore art thou, Romeo?"}},
	})
	now := func() time.Time { return time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC) }
	s, err := m.MessageToSIP(msg, mapping.SIPOptions{WrapCPIM: true, Now: now})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Content-Type:", s.ContentType)
	fmt.Printf("%q\n", s.Body)
	// Output:
	// Content-Type: message/cpim
	// "From: <im:juliet@example.com>\r\nTo: <im:romeo@example.net>\r\nDateTime: 2026-11-22T10:30:00Z\r\nSubject: Hi!\r\nSubject:;lang=cs Ahoj!\r\n\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nWherefore art thou, Romeo?"
}

// A SIP MESSAGE becomes an XMPP message (RFC 7572 §5); the GRUU in the
// From URI becomes the resource of the sender's full JID.
func ExampleMapper_MessageToXMPP() {
	m := exampleMapper()
	msg, err := m.MessageFromSIP(mapping.SIPMessage{
		RequestURI:      "sip:juliet@example.com",
		From:            "sip:romeo@example.net;gr=dr4hcr0st3lup4c",
		To:              "sip:juliet@example.com",
		CallID:          "9E97FB43-85F4-4A00-8751-1124FD4C7B2E",
		ContentType:     "text/plain;charset=iso-8859-1",
		ContentLanguage: "fr",
		Body:            []byte("Ni l'un ni l'autre, belle vierge, si l'un ou l'autre te d\xe9pla\xeet."),
		TransactionID:   "z9hG4bKeskdgs677",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	x, err := m.MessageToXMPP(msg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("<message from=%q to=%q id=%q xml:lang=%q>\n", x.From, x.To, x.ID, x.Lang)
	fmt.Printf("  <body>%s</body>\n  <thread>%s</thread>\n", x.Bodies[0].Text, x.Thread)
	// Output:
	// <message from="romeo@example.net/dr4hcr0st3lup4c" to="juliet@example.com" id="z9hG4bKeskdgs677" xml:lang="fr">
	//   <body>Ni l'un ni l'autre, belle vierge, si l'un ou l'autre te déplaît.</body>
	//   <thread>9E97FB43-85F4-4A00-8751-1124FD4C7B2E</thread>
}

// A body the gateway cannot map is refused with 415; the SIP side lists
// AcceptedContentTypes in its Accept header.
func ExampleMapper_MessageFromSIP() {
	m := exampleMapper()
	_, err := m.MessageFromSIP(mapping.SIPMessage{
		RequestURI:  "sip:juliet@example.com",
		From:        "sip:romeo@example.net",
		To:          "sip:juliet@example.com",
		ContentType: "text/html",
		Body:        []byte("<p>Neither</p>"),
	})
	var e *cpim.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Condition, e.Text)
		fmt.Println("Accept:", mapping.AcceptedContentTypes)
	}
	// Output:
	// 415 not-acceptable unsupported content type text/html
	// Accept: [text/plain message/cpim]
}

// Error stanzas are never forwarded, and body-less messages are dropped:
// both are errors the caller tells apart with errors.Is.
func ExampleMapper_MessageFromXMPP() {
	m := exampleMapper()
	x := mapping.XMPPMessage{
		From: jid.MustParse("juliet@example.com/balcony"),
		To:   jid.MustParse("romeo@example.net"),
		Type: "error",
	}
	_, err := m.MessageFromXMPP(x)
	fmt.Println(errors.Is(err, mapping.ErrErrorStanza))
	x.Type = "chat"
	_, err = m.MessageFromXMPP(x)
	fmt.Println(errors.Is(err, mapping.ErrNoBody))
	// Output:
	// true
	// true
}

func ExampleCallIDForThread() {
	fmt.Println(mapping.CallIDForThread("a84b4c76e66710@pc33.atlanta.com"))
	fmt.Println(mapping.CallIDForThread("thread with spaces"))
	fmt.Printf("%q\n", mapping.CallIDForThread(""))
	// Output:
	// a84b4c76e66710@pc33.atlanta.com
	// t88f8016918284c6e00fdba3fef4b3416
	// ""
}
