package mapping_test

import (
	"fmt"

	"cpimgw/cpim"
	"cpimgw/mapping"
)

// A SIP 486 Busy Here answering a message the gateway sent on behalf of an
// XMPP user comes back to that user as a stanza error (RFC 7247 §7.2).
func ExampleErrorFromSIP() {
	e := mapping.ErrorFromSIP(486, "Busy Here", 0, "")
	se := mapping.StanzaErrorOf(e)
	fmt.Println(se.Type, se.Condition, se.Text)
	// Output: wait recipient-unavailable Busy Here
}

// An XMPP error about a bare JID takes the 6xx code, one about a full JID
// the 4xx code (RFC 7247 §7.1 note 2).
func ExampleSIPStatus() {
	e := mapping.ErrorFromStanza("item-not-found", "", "")
	fmt.Println(mapping.SIPStatus(e, true), mapping.SIPStatus(e, false))
	fmt.Println(mapping.SIPStatus(&cpim.Error{Condition: cpim.ServiceUnavailable}, false))
	// Output:
	// 404 604
	// 403
}
