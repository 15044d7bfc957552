package mapping_test

import (
	"fmt"
	"time"

	"cpimgw/cpim"
	"cpimgw/mapping"

	"mellium.im/xmpp/jid"
)

func presenceExampleMapper() *mapping.Mapper {
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

func ExampleMapper_PresenceFromXMPP() {
	m := presenceExampleMapper()
	p, err := m.PresenceFromXMPP(mapping.XMPPPresence{
		From:     jid.MustParse("juliet@example.com/balcony"),
		To:       jid.MustParse("romeo@example.net"),
		Lang:     "en",
		Show:     "dnd",
		Statuses: []cpim.Text{{Text: "Wooing Romeo"}, {Lang: "de", Text: "Umwerbe Romeo"}},
		Priority: 13, HasPriority: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	t := p.Tuples[0]
	fmt.Println(p.Entity, "→", p.Watcher, p.Lang)
	fmt.Println(t.Resource, t.Basic, t.Show, t.Priority, t.Notes)

	_, err = m.PresenceFromXMPP(mapping.XMPPPresence{From: jid.MustParse("juliet@example.com"), Type: "subscribe"})
	fmt.Println(err)
	// Output:
	// juliet@example.com → romeo@example.net en
	// balcony open dnd 13 [{ Wooing Romeo} {de Umwerbe Romeo}]
	// cpim: bad-request: mapping: presence of type "subscribe" is not a notification (RFC 8048 §6.2 note 1)
}

func ExampleMapper_PresenceToPIDF() {
	m := presenceExampleMapper()
	doc, err := m.PresenceToPIDF(cpim.Presence{
		Entity: cpim.Address{Local: "juliet", Domain: "example.com"},
		Lang:   "en",
		Tuples: []cpim.Tuple{{
			Resource: "yn0cl4bnw0yr3vym", Basic: cpim.Open, Show: cpim.ShowAway,
			Notes:    []cpim.Text{{Text: "Be right back"}},
			Priority: 1, HasPriority: true,
			Timestamp: time.Date(2024, 5, 1, 20, 0, 0, 0, time.UTC), // the caller's, unique per document
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := doc.Marshal()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?>
	// <presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="pres:juliet@example.com">
	//   <tuple id="ID-yn0cl4bnw0yr3vym">
	//     <status>
	//       <basic>open</basic>
	//       <show xmlns="jabber:client">away</show>
	//     </status>
	//     <contact priority="0.007">sip:juliet@example.com;gr=yn0cl4bnw0yr3vym</contact>
	//     <note xml:lang="en">Be right back</note>
	//     <timestamp>2024-05-01T20:00:00Z</timestamp>
	//   </tuple>
	//   <dm:person id="person">
	//     <rpid:activities>
	//       <rpid:away/>
	//     </rpid:activities>
	//   </dm:person>
	// </presence>
}

func ExampleMapper_PresenceFromPIDF() {
	m := presenceExampleMapper()
	doc, err := cpim.ParsePIDF([]byte(`<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf"
    xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
    xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"
    entity="sip:romeo@example.net">
  <tuple id="ID-orchard">
    <status><basic>open</basic></status>
    <contact priority="0.5">sip:romeo@example.net;gr=orchard</contact>
  </tuple>
  <dm:person id="p1">
    <rpid:activities><rpid:note>Serenading</rpid:note><rpid:on-the-phone/></rpid:activities>
  </dm:person>
</presence>`))
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := m.PresenceFromPIDF(doc, "en") // Content-Language: en
	if err != nil {
		fmt.Println(err)
		return
	}
	t := p.Tuples[0]
	fmt.Println(p.Entity, p.Lang)
	fmt.Println(t.Resource, t.Basic, t.Show, t.Priority, t.Notes)
	// Output:
	// romeo@example.net en
	// orchard open dnd 64 [{ Serenading}]
}

func ExampleMapper_PresenceToXMPP() {
	m := presenceExampleMapper()
	xs, err := m.PresenceToXMPP(cpim.Presence{
		Entity:  cpim.Address{Local: "romeo", Domain: "example.net"},
		Watcher: cpim.Address{Local: "juliet", Domain: "example.com"},
		Tuples: []cpim.Tuple{
			{Resource: "orchard", Basic: cpim.Open, Show: cpim.ShowAway},
			{Resource: "desk", Basic: cpim.Closed, Notes: []cpim.Text{{Lang: "en", Text: "Gone"}}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, x := range xs {
		fmt.Printf("from=%s to=%s type=%q show=%q statuses=%v\n", x.From, x.To, x.Type, x.Show, x.Statuses)
	}
	// Output:
	// from=romeo@example.net/orchard to=juliet@example.com type="" show="away" statuses=[]
	// from=romeo@example.net/desk to=juliet@example.com type="unavailable" show="" statuses=[{en Gone}]
}

func ExamplePriorityToPIDF() {
	for _, k := range []int{0, 1, 13, 126, 127, -5} {
		milli, ok := mapping.PriorityToPIDF(k)
		fmt.Println(k, milli, ok)
	}
	// Output:
	// 0 0 true
	// 1 7 true
	// 13 102 true
	// 126 992 true
	// 127 1000 true
	// -5 0 false
}

func ExamplePriorityFromPIDF() {
	for _, milli := range []int{0, 1, 8, 500, 999, 1000} {
		fmt.Println(milli, mapping.PriorityFromPIDF(milli))
	}
	// Output:
	// 0 0
	// 1 1
	// 8 2
	// 500 64
	// 999 127
	// 1000 127
}

func ExampleChangedTuples() {
	prev := cpim.Presence{Tuples: []cpim.Tuple{
		{Resource: "orchard", Basic: cpim.Open},
		{Resource: "desk", Basic: cpim.Open},
	}}
	next := cpim.Presence{Tuples: []cpim.Tuple{
		{Resource: "orchard", Basic: cpim.Open, Show: cpim.ShowAway},
	}}
	for _, t := range mapping.ChangedTuples(prev, next) {
		fmt.Println(t.Resource, t.Basic, t.Show)
	}
	// Output:
	// orchard open away
	// desk closed
}
