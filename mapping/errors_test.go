package mapping

import (
	"testing"
	"time"

	"cpimgw/cpim"
)

// TestErrorFromSIPTable3 checks every row of RFC 7247 §7.2 Table 3 with the
// error types of INTERWORKING.md §5.2 (ERR-04).
func TestErrorFromSIPTable3(t *testing.T) {
	rows := []struct {
		status int
		cond   cpim.Condition
		typ    ErrorType
	}{
		{300, cpim.Redirect, Modify}, {301, cpim.Gone, Cancel}, {302, cpim.Redirect, Modify},
		{305, cpim.Redirect, Modify}, {380, cpim.NotAcceptable, Modify},
		{400, cpim.BadRequest, Modify}, {401, cpim.NotAuthorized, Auth},
		{402, cpim.BadRequest, Modify}, {403, cpim.Forbidden, Auth},
		{404, cpim.ItemNotFound, Cancel}, {405, cpim.FeatureNotImplemented, Cancel},
		{406, cpim.NotAcceptable, Modify}, {407, cpim.RegistrationRequired, Auth},
		{408, cpim.RemoteServerTimeout, Wait}, {410, cpim.Gone, Cancel},
		{413, cpim.PolicyViolation, Modify}, {414, cpim.PolicyViolation, Modify},
		{415, cpim.NotAcceptable, Modify}, {416, cpim.NotAcceptable, Modify},
		{420, cpim.FeatureNotImplemented, Cancel}, {421, cpim.NotAcceptable, Modify},
		{423, cpim.ResourceConstraint, Wait}, {430, cpim.RecipientUnavailable, Wait},
		{439, cpim.FeatureNotImplemented, Cancel}, {440, cpim.PolicyViolation, Modify},
		{480, cpim.RecipientUnavailable, Wait}, {481, cpim.ItemNotFound, Cancel},
		{482, cpim.NotAcceptable, Modify}, {483, cpim.NotAcceptable, Modify},
		{484, cpim.ItemNotFound, Cancel}, {485, cpim.ItemNotFound, Cancel},
		{486, cpim.RecipientUnavailable, Wait}, {487, cpim.RecipientUnavailable, Wait},
		{488, cpim.NotAcceptable, Modify}, {489, cpim.PolicyViolation, Modify},
		{491, cpim.UnexpectedRequest, Wait}, {493, cpim.BadRequest, Modify},
		{500, cpim.InternalServerError, Cancel}, {501, cpim.FeatureNotImplemented, Cancel},
		{502, cpim.RemoteServerNotFound, Cancel}, {503, cpim.InternalServerError, Cancel},
		{504, cpim.RemoteServerTimeout, Wait}, {505, cpim.NotAcceptable, Modify},
		{513, cpim.PolicyViolation, Modify},
		{600, cpim.RecipientUnavailable, Wait}, {603, cpim.RecipientUnavailable, Wait},
		{604, cpim.ItemNotFound, Cancel}, {606, cpim.NotAcceptable, Modify},
		// Codes Table 3 does not list fall back by class (RFC 7247 §7.2).
		{399, cpim.Redirect, Modify}, {422, cpim.BadRequest, Modify},
		{494, cpim.BadRequest, Modify}, {580, cpim.InternalServerError, Cancel},
		{607, cpim.RecipientUnavailable, Wait}, {699, cpim.RecipientUnavailable, Wait},
	}
	for _, r := range rows {
		e := ErrorFromSIP(r.status, "Phrase", 0, "")
		if e == nil {
			t.Fatalf("%d: no error", r.status)
		}
		if e.Condition != r.cond || e.Status != r.status || e.Text != "Phrase" {
			t.Errorf("%d: got %+v, want condition %s", r.status, e, r.cond)
		}
		if se := StanzaErrorOf(e); se.Type != r.typ || se.Condition != r.cond {
			t.Errorf("%d: stanza error %+v, want %s/%s", r.status, se, r.typ, r.cond)
		}
	}
}

// TestErrorFromSIPNoMapping: 1xx and 2xx have no mapping (RFC 7247 §7),
// and values outside the status range are not statuses.
func TestErrorFromSIPNoMapping(t *testing.T) {
	for _, s := range []int{0, 100, 180, 199, 200, 202, 299, 700, 999, -1} {
		if e := ErrorFromSIP(s, "", 0, ""); e != nil {
			t.Errorf("%d: got %v, want nil", s, e)
		}
	}
}

// TestErrorFromSIPAlternate checks the address rules of RFC 7247 §7.2
// note 1 (ERR-05): 301 carries the new address, 410 never does, and a
// redirect carries the Contact.
func TestErrorFromSIPAlternate(t *testing.T) {
	const c = "sip:romeo@new.example"
	for _, tc := range []struct {
		status int
		want   string
	}{{301, c}, {302, c}, {300, c}, {410, ""}, {404, ""}, {486, ""}} {
		e := ErrorFromSIP(tc.status, "", 0, c)
		if e.Alternate != tc.want {
			t.Errorf("%d: alternate %q, want %q", tc.status, e.Alternate, tc.want)
		}
		if se := StanzaErrorOf(e); se.Alternate != tc.want {
			t.Errorf("%d: stanza alternate %q, want %q", tc.status, se.Alternate, tc.want)
		}
	}
}

// TestStanzaErrorRetryAfter: a 503 with Retry-After becomes type wait
// (INTERWORKING.md §5.2 [D]); without it, cancel.
func TestStanzaErrorRetryAfter(t *testing.T) {
	if se := StanzaErrorOf(ErrorFromSIP(503, "", 30*time.Second, "")); se.Type != Wait {
		t.Errorf("503 with Retry-After: type %s, want wait", se.Type)
	}
	if se := StanzaErrorOf(ErrorFromSIP(503, "", 0, "")); se.Type != Cancel {
		t.Errorf("503 without Retry-After: type %s, want cancel", se.Type)
	}
	gw := &cpim.Error{Condition: cpim.ServiceUnavailable, RetryAfter: time.Second}
	if se := StanzaErrorOf(gw); se.Type != Wait {
		t.Errorf("gateway service-unavailable with retry: type %s, want wait", se.Type)
	}
}

// TestSIPStatusTable2 checks every row of RFC 7247 §7.1 Table 2 with the
// full/bare split of notes 1 and 2 (ERR-01, ERR-02, ERR-03) and the
// deviations documented on SIPStatus.
func TestSIPStatusTable2(t *testing.T) {
	rows := []struct {
		cond       cpim.Condition
		full, bare int
	}{
		{cpim.BadRequest, 400, 400},
		{cpim.Conflict, 400, 400},
		{cpim.FeatureNotImplemented, 405, 501},
		{cpim.Forbidden, 403, 603},
		{cpim.Gone, 410, 410},
		{cpim.InternalServerError, 500, 500},
		{cpim.ItemNotFound, 404, 604},
		{cpim.JIDMalformed, 400, 400},
		{cpim.NotAcceptable, 406, 606},
		{cpim.NotAllowed, 403, 403},
		{cpim.NotAuthorized, 403, 403},        // [D] table: 401, needs a challenge
		{cpim.PolicyViolation, 403, 403},      //
		{cpim.RecipientUnavailable, 480, 600}, //
		{cpim.Redirect, 302, 302},
		{cpim.RegistrationRequired, 403, 403}, // [D] table: 407, needs a challenge
		{cpim.RemoteServerNotFound, 404, 404},
		{cpim.RemoteServerTimeout, 408, 408},
		{cpim.ResourceConstraint, 500, 500},
		{cpim.ServiceUnavailable, 403, 403}, // never 503 (note 5, ERR-03)
		{cpim.SubscriptionRequired, 400, 400},
		{cpim.UndefinedCondition, 400, 400},
		{cpim.UnexpectedRequest, 491, 491},
		{cpim.Condition("no-such-condition"), 400, 400}, // ERR-09
	}
	if len(rows) != len(cpim.Conditions)+1 {
		t.Fatalf("table has %d rows, want one per condition (%d) plus an unknown one", len(rows), len(cpim.Conditions))
	}
	for _, r := range rows {
		e := &cpim.Error{Condition: r.cond}
		if got := SIPStatus(e, true); got != r.full {
			t.Errorf("%s to full JID: %d, want %d", r.cond, got, r.full)
		}
		if got := SIPStatus(e, false); got != r.bare {
			t.Errorf("%s to bare JID: %d, want %d", r.cond, got, r.bare)
		}
		if SIPStatus(e, true) == 503 || SIPStatus(e, false) == 503 {
			t.Errorf("%s maps to 503 (ERR-03)", r.cond)
		}
	}
	// gone with a new address MUST be 301 (RFC 7247 §7.1 note 3, ERR-02).
	if got := SIPStatus(&cpim.Error{Condition: cpim.Gone, Alternate: "xmpp:romeo@new.example"}, false); got != 301 {
		t.Errorf("gone with address: %d, want 301", got)
	}
	// An exact status set by a SIP-side check wins over the table.
	if got := SIPStatus(&cpim.Error{Condition: cpim.NotAcceptable, Status: 416}, true); got != 416 {
		t.Errorf("explicit status: %d, want 416", got)
	}
}

// TestEveryConditionBothWays: every condition maps to a SIP failure code
// (both for full and bare JIDs), and that code maps back to a defined
// condition of a type RFC 6120 allows; the table says which condition comes
// back when the round trip is lossy.
func TestEveryConditionBothWays(t *testing.T) {
	back := map[cpim.Condition]cpim.Condition{
		cpim.Conflict:             cpim.BadRequest,
		cpim.JIDMalformed:         cpim.BadRequest,
		cpim.NotAllowed:           cpim.Forbidden,
		cpim.NotAuthorized:        cpim.Forbidden,
		cpim.PolicyViolation:      cpim.Forbidden,
		cpim.RegistrationRequired: cpim.Forbidden,
		cpim.RemoteServerNotFound: cpim.ItemNotFound,
		cpim.ResourceConstraint:   cpim.InternalServerError,
		cpim.ServiceUnavailable:   cpim.Forbidden,
		cpim.SubscriptionRequired: cpim.BadRequest,
		cpim.UndefinedCondition:   cpim.BadRequest,
	}
	// 6xx codes for a bare JID come back as the condition of the 6xx row.
	backBare := map[cpim.Condition]cpim.Condition{
		cpim.Forbidden:            cpim.RecipientUnavailable, // 603
		cpim.NotAcceptable:        cpim.NotAcceptable,        // 606
		cpim.ItemNotFound:         cpim.ItemNotFound,         // 604
		cpim.RecipientUnavailable: cpim.RecipientUnavailable, // 600
	}
	for _, c := range cpim.Conditions {
		for _, full := range []bool{true, false} {
			e := &cpim.Error{Condition: c, Alternate: "sip:x@y.example"}
			code := SIPStatus(e, full)
			if code < 300 || code > 699 {
				t.Fatalf("%s (full=%v): code %d is not a failure", c, full, code)
			}
			got := ErrorFromSIP(code, "", 0, "sip:x@y.example")
			want := c
			if b, ok := back[c]; ok {
				want = b
			}
			if b, ok := backBare[c]; ok && !full {
				want = b
			}
			if got.Condition != want {
				t.Errorf("%s (full=%v) → %d → %s, want %s", c, full, code, got.Condition, want)
			}
			if se := StanzaErrorOf(got); se.Type == "" {
				t.Errorf("%s: no error type", got.Condition)
			}
		}
	}
}

// TestEverySIPClassBothWays: every code of every failure class maps to a
// defined condition, and the error remembers its code so a SIP-originated
// error is never renumbered on its way back.
func TestEverySIPClassBothWays(t *testing.T) {
	for code := 300; code <= 699; code++ {
		e := ErrorFromSIP(code, "", 0, "")
		if !e.Condition.Valid() {
			t.Fatalf("%d: condition %q not defined", code, e.Condition)
		}
		if got := SIPStatus(e, true); got != code {
			t.Errorf("%d → %s → %d", code, e.Condition, got)
		}
		e.Status = 0 // as if the error had come from XMPP
		got := SIPStatus(e, true)
		if got < 300 || got > 699 {
			t.Errorf("%d → %s → %d: not a failure code", code, e.Condition, got)
		}
	}
}

func TestErrorFromStanza(t *testing.T) {
	for _, tc := range []struct {
		cond, text, alt string
		want            cpim.Error
	}{
		{"item-not-found", "no such user", "", cpim.Error{Condition: cpim.ItemNotFound, Text: "no such user"}},
		{"gone", "", "xmpp:romeo@new.example", cpim.Error{Condition: cpim.Gone, Alternate: "xmpp:romeo@new.example"}},
		{"redirect", "", "xmpp:room@other.example", cpim.Error{Condition: cpim.Redirect, Alternate: "xmpp:room@other.example"}},
		// Character data on other conditions is not an address.
		{"forbidden", "", "junk", cpim.Error{Condition: cpim.Forbidden}},
		// RFC 6120 §8.3.2: unknown conditions are undefined-condition (ERR-09).
		{"payment-required", "", "", cpim.Error{Condition: cpim.UndefinedCondition}},
		{"", "", "", cpim.Error{Condition: cpim.UndefinedCondition}},
	} {
		got := ErrorFromStanza(tc.cond, tc.text, tc.alt)
		if *got != tc.want {
			t.Errorf("%q: got %+v, want %+v", tc.cond, *got, tc.want)
		}
	}
}

func TestStanzaErrorUnknownCondition(t *testing.T) {
	se := StanzaErrorOf(&cpim.Error{Condition: "bogus", Text: "x"})
	if se.Condition != cpim.UndefinedCondition || se.Type != Cancel || se.Text != "x" {
		t.Errorf("got %+v", se)
	}
}

func TestReasonPhrase(t *testing.T) {
	for _, tc := range []struct {
		e      cpim.Error
		status int
		want   string
	}{
		{cpim.Error{Condition: cpim.ItemNotFound}, 404, "Not Found"},
		{cpim.Error{Condition: cpim.ItemNotFound, Text: "No such user"}, 404, "No such user"},
		// A Reason-Phrase never spans lines (RFC 3261 §25.1): no header injection.
		{cpim.Error{Condition: cpim.BadRequest, Text: "a\r\nX-Injected: 1"}, 400, "a  X-Injected: 1"},
		{cpim.Error{Condition: cpim.NotAuthorized}, 403, "Not Authorized"},
		{cpim.Error{Condition: cpim.Forbidden}, 603, "Decline"},
		{cpim.Error{Condition: cpim.BadRequest}, 499, "bad-request"},
	} {
		if got := ReasonPhrase(&tc.e, tc.status); got != tc.want {
			t.Errorf("%+v %d: %q, want %q", tc.e, tc.status, got, tc.want)
		}
	}
}
