package cpim_test

import (
	"fmt"
	"time"

	"cpimgw/cpim"
)

func ExampleParsePIDF() {
	// A SIP UA's NOTIFY body: one tuple with the jabber:client show
	// (RFC 8048 §6.2 note 7) and an RPID person (RFC 4480 §4).
	body := []byte(`<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf"
    xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
    xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"
    entity="pres:romeo@example.net">
  <tuple id="ID-orchard">
    <status>
      <basic>open</basic>
      <show xmlns="jabber:client">away</show>
    </status>
    <contact priority="0.5">sip:romeo@example.net;gr=orchard</contact>
    <note xml:lang="en">Under the balcony</note>
    <timestamp>2024-05-01T22:00:00+02:00</timestamp>
  </tuple>
  <dm:person id="p1">
    <rpid:activities><rpid:away/></rpid:activities>
  </dm:person>
</presence>`)
	doc, err := cpim.ParsePIDF(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	t := doc.Tuples[0]
	fmt.Println(doc.Entity)
	fmt.Println(t.ID, t.Basic, t.Show, t.Priority, t.HasPriority)
	fmt.Println(t.Notes[0].Lang, t.Notes[0].Text)
	fmt.Println(t.Timestamp)
	fmt.Println(doc.Persons[0].Activities)

	// Hostile input is refused before it costs anything.
	_, err = cpim.ParsePIDF([]byte(`<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>`))
	fmt.Println(err)
	// Output:
	// pres:romeo@example.net
	// ID-orchard open away 500 true
	// en Under the balcony
	// 2024-05-01 20:00:00 +0000 UTC
	// [away]
	// cpim: pidf: line 1: DTDs and other <!…> declarations are not allowed
}

func ExamplePIDF_Marshal() {
	doc := &cpim.PIDF{
		Entity: "pres:juliet@example.com",
		Tuples: []cpim.PIDFTuple{{
			ID:          "ID-balcony",
			Basic:       cpim.Open,
			Show:        cpim.ShowDND,
			Contact:     "sip:juliet@example.com;gr=balcony",
			Priority:    102, // XMPP priority 13 (RFC 3922 §5.1.7)
			HasPriority: true,
			Notes:       []cpim.Text{{Lang: "en", Text: "Wooing Romeo"}},
			Timestamp:   time.Date(2024, 5, 1, 20, 0, 0, 0, time.UTC),
		}},
		Persons: []cpim.Person{{ID: "p1", Activities: []string{"busy"}}},
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
	//   <tuple id="ID-balcony">
	//     <status>
	//       <basic>open</basic>
	//       <show xmlns="jabber:client">dnd</show>
	//     </status>
	//     <contact priority="0.102">sip:juliet@example.com;gr=balcony</contact>
	//     <note xml:lang="en">Wooing Romeo</note>
	//     <timestamp>2024-05-01T20:00:00Z</timestamp>
	//   </tuple>
	//   <dm:person id="p1">
	//     <rpid:activities>
	//       <rpid:busy/>
	//     </rpid:activities>
	//   </dm:person>
	// </presence>
}
