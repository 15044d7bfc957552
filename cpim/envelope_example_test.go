package cpim_test

import (
	"fmt"
	"strings"

	"cpimgw/cpim"
)

func ExampleParseEnvelope() {
	body := "From: Alice <im:alice@example.com>\r\n" +
		"To: Bob <im:bob@example.com>\r\n" +
		"NS: imdn <urn:ietf:params:imdn>\r\n" +
		"imdn.Message-ID: 34jk324j\r\n" +
		"DateTime: 2006-04-04T12:16:49-05:00\r\n" +
		"imdn.Disposition-Notification: positive-delivery, negative-delivery\r\n" +
		"Subject:;lang=fr Bonjour\r\n" +
		"\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Hello World"
	env, err := cpim.ParseEnvelope([]byte(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	from, _ := env.Get(cpim.DefaultNamespace, "From")
	name, uri, _ := cpim.ParseNameAddr(from.Value)
	fmt.Printf("from: %q %s\n", name, uri)
	id, _ := env.Get("urn:ietf:params:imdn", "Message-ID")
	fmt.Println("message id:", id.Value)
	subject, _ := env.Get(cpim.DefaultNamespace, "Subject")
	fmt.Printf("subject [%s]: %s\n", subject.Lang(), subject.Value)
	fmt.Println("content type:", env.Content.ContentType())
	fmt.Printf("body: %s\n", env.Content.Body)

	_, err = cpim.ParseEnvelope([]byte("From:<im:alice@example.com>\r\n\r\n"))
	fmt.Println(err)
	// Output:
	// from: "Alice" im:alice@example.com
	// message id: 34jk324j
	// subject [fr]: Bonjour
	// content type: text/plain; charset=utf-8
	// body: Hello World
	// cpim: message/cpim: line 1: header name not followed by ": " (RFC 3862 §2.2)
}

func ExampleEnvelope_Marshal() {
	env := &cpim.Envelope{
		Headers: []cpim.Header{
			cpim.NewHeader("From", cpim.FormatNameAddr(`Juliet "Jules" Capulet`, "im:juliet@example.com")),
			cpim.NewHeader("To", cpim.FormatNameAddr("Romeo Montague", "im:romeo@example.net")),
			cpim.NewHeader("DateTime", "2004-01-28T21:12:00Z"),
			cpim.NewHeader("Subject", "Ahoj!\tTab and back\\slash", cpim.Param{Name: "lang", Value: "cz"}),
		},
		Content: cpim.Entity{
			Header: []cpim.Field{{Name: "Content-Type", Value: "text/plain; charset=utf-8"}},
			Body:   []byte("Wherefore art thou, Romeo?"),
		},
	}
	out := env.Marshal()
	// Every line ends in CRLF; print them without the CR.
	fmt.Println(strings.ReplaceAll(string(out), "\r\n", "\n"))
	// Output:
	// From: "Juliet \"Jules\" Capulet" <im:juliet@example.com>
	// To: Romeo Montague <im:romeo@example.net>
	// DateTime: 2004-01-28T21:12:00Z
	// Subject:;lang=cz Ahoj!\tTab and back\\slash
	//
	// Content-Type: text/plain; charset=utf-8
	//
	// Wherefore art thou, Romeo?
}
