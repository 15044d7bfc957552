package mapping_test

import (
	"errors"
	"fmt"

	"cpimgw/cpim"
	"cpimgw/mapping"

	"mellium.im/xmpp/jid"
)

func ExampleEscapeLocal() {
	fmt.Println(mapping.EscapeLocal("d'artagnan"))
	fmt.Println(mapping.EscapeLocal("space cadet"))
	// A backslash that starts an escape look-alike is protected.
	fmt.Println(mapping.EscapeLocal(`c:\5commas`))
	// Other backslashes are left alone.
	fmt.Println(mapping.EscapeLocal(`c:\net`))
	fmt.Println(mapping.UnescapeLocal(`c\3a\5c5commas`))
	// Output:
	// d\27artagnan
	// space\20cadet
	// c\3a\5c5commas
	// c\3a\net
	// c:\5commas
}

func ExampleURIToAddress() {
	a, err := mapping.URIToAddress("sip:O'Hara@Example.COM;gr=desk")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("local %q, domain %q, resource %q\n", a.Local, a.Domain, a.Resource)
	fmt.Println("original:", a.Original)
	j, _ := mapping.AddressToJID(a)
	fmt.Println("JID:", j)

	// SIPS is refused with the status the SIP side must answer with.
	_, err = mapping.URIToAddress("sips:romeo@example.net")
	var e *cpim.Error
	if errors.As(err, &e) {
		fmt.Println(e.Condition, e.Status, e.Text)
	}
	// Output:
	// local "o'hara", domain "example.com", resource "desk"
	// original: sip:O'Hara@Example.COM;gr=desk
	// JID: o\27hara@example.com/desk
	// recipient-unavailable 480 SIPS Not Allowed
}

func ExampleJIDToAddress() {
	a, err := mapping.JIDToAddress(jid.MustParse(`john\20doe@müller.example/Balcony`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%q %q %q\n", a.Local, a.Domain, a.Resource)
	// Output:
	// "john doe" "müller.example" "Balcony"
}

func ExampleAddressToURI() {
	a := cpim.Address{Local: "a.b#c", Domain: "müller.example", Resource: "balcony 2"}
	for _, s := range []mapping.Scheme{mapping.SchemeSIP, mapping.SchemeIM, mapping.SchemePres} {
		u, err := mapping.AddressToURI(a, s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(u)
	}
	// Output:
	// sip:a.b%23c@xn--mller-kva.example;gr=balcony%202
	// im:a%2Eb%23c@xn--mller-kva.example
	// pres:a%2Eb%23c@xn--mller-kva.example
}

func ExampleMapper_JID() {
	m, err := mapping.NewMapper(mapping.Domains{
		Component: "gw.example.net",
		XMPP:      []string{"example.com"},
		SIP:       []string{"sip.example.org"},
		Foreign:   mapping.ForeignEscape,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Mode A: a same-domain SIP user.
	j, err := m.JID(cpim.Address{Local: "bob", Domain: "sip.example.org"})
	fmt.Println(j, err)
	// Mode B: a user of a foreign SIP domain, at the component.
	j, err = m.JID(cpim.Address{Local: "romeo", Domain: "example.net", Resource: "orchard"})
	fmt.Println(j, err)
	// And back.
	a, err := m.Address(j)
	fmt.Printf("%q %q %q %v\n", a.Local, a.Domain, a.Resource, err)
	// Output:
	// bob@sip.example.org <nil>
	// romeo\40example.net@gw.example.net/orchard <nil>
	// "romeo" "example.net" "orchard" <nil>
}

func ExampleMapper_URI() {
	m, err := mapping.NewMapper(mapping.Domains{
		Component: "gw.example.net",
		XMPP:      []string{"example.com"},
		SIP:       []string{"sip.example.org", "cpim.example.org"},
		IMSchemes: []string{"cpim.example.org"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	juliet := cpim.Address{Local: "juliet", Domain: "example.com", Resource: "balcony"}
	carol := cpim.Address{Local: "carol", Domain: "cpim.example.org", Resource: "x"}
	for _, a := range []cpim.Address{juliet, carol} {
		msg, _ := m.URI(a, mapping.ForMessage)
		pres, _ := m.URI(a, mapping.ForPresence)
		fmt.Println(msg, pres)
	}
	// Foreign domains are refused with ForeignReject (the default).
	_, err = m.URI(cpim.Address{Local: "romeo", Domain: "example.net"}, mapping.ForMessage)
	fmt.Println(cpim.ConditionOf(err))
	// Output:
	// sip:juliet@example.com;gr=balcony sip:juliet@example.com;gr=balcony
	// im:carol@cpim.example.org pres:carol@cpim.example.org
	// item-not-found
}
