package cpim_test

import (
	"errors"
	"fmt"

	"cpimgw/cpim"
)

// An Address keeps the SIP URI it came from, but the identity is the
// canonical form: two addresses are equal whatever their originals.
func ExampleAddress() {
	a := cpim.Address{Local: "alice", Domain: "example.com", Resource: "phone", Original: "sip:Alice@Example.COM;gr=phone"}
	b := cpim.Address{Local: "alice", Domain: "example.com", Resource: "phone"}
	fmt.Println(a.String(), a.Equal(b))
	fmt.Println(a.Bare().String(), a.Bare().Original == "")
	// Output:
	// alice@example.com/phone true
	// alice@example.com true
}

// Errors carry a condition from a closed set; errors.Is compares
// conditions through any wrapping.
func ExampleError() {
	err := fmt.Errorf("sipside: %w", &cpim.Error{Condition: cpim.RecipientUnavailable, Text: "Busy Here", Status: 486})
	fmt.Println(errors.Is(err, cpim.NewError(cpim.RecipientUnavailable, "")))
	fmt.Println(cpim.ConditionOf(err))
	fmt.Println(err)
	// Output:
	// true
	// recipient-unavailable
	// sipside: cpim: recipient-unavailable (SIP 486): Busy Here
}

// A condition name from the wire that is not defined is treated as
// undefined-condition (RFC 6120 §8.3.2).
func ExampleParseCondition() {
	fmt.Println(cpim.ParseCondition("item-not-found"), cpim.ParseCondition("payment-required"))
	// Output: item-not-found undefined-condition
}
