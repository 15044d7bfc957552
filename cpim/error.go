package cpim

import (
	"strconv"
	"strings"
	"time"
)

// Condition is an error condition. The set is closed: it is the set of
// stanza error conditions of RFC 6120 §8.3.3, which is the richest vocabulary
// either protocol has and the one RFC 7247 §7 maps SIP status codes onto.
type Condition string

// The error conditions (RFC 6120 §8.3.3).
const (
	BadRequest            Condition = "bad-request"
	Conflict              Condition = "conflict"
	FeatureNotImplemented Condition = "feature-not-implemented"
	Forbidden             Condition = "forbidden"
	Gone                  Condition = "gone"
	InternalServerError   Condition = "internal-server-error"
	ItemNotFound          Condition = "item-not-found"
	JIDMalformed          Condition = "jid-malformed"
	NotAcceptable         Condition = "not-acceptable"
	NotAllowed            Condition = "not-allowed"
	NotAuthorized         Condition = "not-authorized"
	PolicyViolation       Condition = "policy-violation"
	RecipientUnavailable  Condition = "recipient-unavailable"
	Redirect              Condition = "redirect"
	RegistrationRequired  Condition = "registration-required"
	RemoteServerNotFound  Condition = "remote-server-not-found"
	RemoteServerTimeout   Condition = "remote-server-timeout"
	ResourceConstraint    Condition = "resource-constraint"
	ServiceUnavailable    Condition = "service-unavailable"
	SubscriptionRequired  Condition = "subscription-required"
	UndefinedCondition    Condition = "undefined-condition"
	UnexpectedRequest     Condition = "unexpected-request"
)

// Conditions lists every condition, in the order of RFC 6120 §8.3.3.
var Conditions = []Condition{
	BadRequest, Conflict, FeatureNotImplemented, Forbidden, Gone,
	InternalServerError, ItemNotFound, JIDMalformed, NotAcceptable,
	NotAllowed, NotAuthorized, PolicyViolation, RecipientUnavailable,
	Redirect, RegistrationRequired, RemoteServerNotFound,
	RemoteServerTimeout, ResourceConstraint, ServiceUnavailable,
	SubscriptionRequired, UndefinedCondition, UnexpectedRequest,
}

// Valid reports whether c is one of the defined conditions.
func (c Condition) Valid() bool {
	for _, k := range Conditions {
		if c == k {
			return true
		}
	}
	return false
}

// ParseCondition returns the condition named s. An unknown name yields
// [UndefinedCondition], as RFC 6120 §8.3.2 requires of a recipient (ERR-09).
func ParseCondition(s string) Condition {
	c := Condition(s)
	if c.Valid() {
		return c
	}
	return UndefinedCondition
}

// Error is a protocol-neutral error: what went wrong with a message,
// presence or subscription operation, in a form both sides can render (a SIP
// response, an XMPP stanza error). It is a Go error; compare conditions with
// errors.Is against another *Error or use [ConditionOf].
type Error struct {
	Condition Condition
	// Text is an optional human-readable explanation (SIP Reason-Phrase,
	// XMPP <text/>; ERR-12).
	Text string
	// RetryAfter, when positive, tells the sender when to try again (SIP
	// Retry-After; it makes an XMPP error of type 'wait').
	RetryAfter time.Duration
	// Alternate is the new address carried by Gone or Redirect: a URI or
	// JID (RFC 7247 §7.1 note 3, §7.2 note 1). Empty when none.
	Alternate string
	// Status is the SIP status code the error came from, or the exact code
	// a SIP-side check must answer with when the mapping table would give
	// another (for example 416 for an unsupported URI scheme). Zero when
	// the table applies.
	Status int
	// Cause is the underlying Go error, for logs; it never reaches a peer.
	Cause error
}

// NewError returns an error with the given condition and text.
func NewError(c Condition, text string) *Error { return &Error{Condition: c, Text: text} }

// Error implements the error interface.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("cpim: ")
	b.WriteString(string(e.Condition))
	if e.Status != 0 {
		b.WriteString(" (SIP ")
		b.WriteString(strconv.Itoa(e.Status))
		b.WriteByte(')')
	}
	if e.Text != "" {
		b.WriteString(": ")
		b.WriteString(e.Text)
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Cause }

// Is reports whether target is an *Error with the same condition, so that
// errors.Is(err, cpim.NewError(cpim.ItemNotFound, "")) matches any
// item-not-found error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Condition == e.Condition
}

// ConditionOf returns the condition of the first *Error in err's chain, or
// [UndefinedCondition] when there is none.
func ConditionOf(err error) Condition {
	for err != nil {
		if e, ok := err.(*Error); ok {
			return e.Condition
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return UndefinedCondition
		}
		err = u.Unwrap()
	}
	return UndefinedCondition
}
