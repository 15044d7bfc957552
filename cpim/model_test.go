package cpim

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestAddress(t *testing.T) {
	a := Address{Local: "o'malley", Domain: "sip.example", Resource: "desk phone", Original: "sip:O'Malley@SIP.example;gr=desk%20phone"}
	if got, want := a.String(), "o'malley@sip.example/desk phone"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	b := a.Bare()
	if b != (Address{Local: "o'malley", Domain: "sip.example"}) || !b.IsBare() || a.IsBare() {
		t.Errorf("Bare = %+v", b)
	}
	// Original is not part of the identity (ADR-25 keeps it for replies only).
	c := a
	c.Original = ""
	if !a.Equal(c) || a.Equal(b) {
		t.Errorf("Equal ignores Original and compares the resource")
	}
	if !(Address{}).IsZero() || a.IsZero() {
		t.Errorf("IsZero")
	}
	if got := (Address{Domain: "example.com"}).String(); got != "example.com" {
		t.Errorf("domain-only String = %q", got)
	}
}

func TestError(t *testing.T) {
	cause := errors.New("precis: disallowed rune")
	e := &Error{Condition: JIDMalformed, Text: "bad address", Status: 400, Cause: cause, RetryAfter: time.Second}
	if got, want := e.Error(), "cpim: jid-malformed (SIP 400): bad address: precis: disallowed rune"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("sipside: %w", e)
	if !errors.Is(wrapped, NewError(JIDMalformed, "")) {
		t.Errorf("errors.Is by condition failed")
	}
	if errors.Is(wrapped, NewError(ItemNotFound, "")) {
		t.Errorf("errors.Is matched another condition")
	}
	if !errors.Is(wrapped, cause) {
		t.Errorf("cause not reachable through Unwrap")
	}
	var got *Error
	if !errors.As(wrapped, &got) || got != e {
		t.Errorf("errors.As failed")
	}
	if ConditionOf(wrapped) != JIDMalformed || ConditionOf(cause) != UndefinedCondition || ConditionOf(nil) != UndefinedCondition {
		t.Errorf("ConditionOf")
	}
	if got := NewError(Gone, "").Error(); got != "cpim: gone" {
		t.Errorf("minimal Error() = %q", got)
	}
}

// TestConditions: the set is closed and has the 22 conditions of RFC 6120
// §8.3.3; unknown names are undefined-condition (RFC 6120 §8.3.2, ERR-09).
func TestConditions(t *testing.T) {
	if len(Conditions) != 22 {
		t.Fatalf("%d conditions, want 22", len(Conditions))
	}
	seen := map[Condition]bool{}
	for _, c := range Conditions {
		if seen[c] || !c.Valid() || ParseCondition(string(c)) != c {
			t.Errorf("condition %q", c)
		}
		seen[c] = true
	}
	for _, s := range []string{"", "payment-required", "Item-Not-Found"} {
		if ParseCondition(s) != UndefinedCondition || Condition(s).Valid() {
			t.Errorf("%q should be unknown", s)
		}
	}
}

func TestShowValid(t *testing.T) {
	for _, s := range []Show{ShowNone, ShowChat, ShowAway, ShowXA, ShowDND} {
		if !s.Valid() {
			t.Errorf("%q invalid", s)
		}
	}
	if Show("busy").Valid() {
		t.Errorf("busy is not an XMPP show value")
	}
	if !(Tuple{Basic: Open}).Available() || (Tuple{Basic: Closed}).Available() {
		t.Errorf("Available")
	}
}
