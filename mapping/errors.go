package mapping

import (
	"net/http"
	"strings"
	"time"

	"cpimgw/cpim"
)

// This file holds the error tables of RFC 7247 §7 (INTERWORKING.md §5.1 and
// §5.2) and the stanza error types of RFC 6120 §8.3.3. It is the one place
// where SIP status codes, cpim conditions and XMPP stanza errors meet.

// ErrorType is the type attribute of an XMPP stanza error (RFC 6120 §8.3.2).
type ErrorType string

// The stanza error types.
const (
	Auth     ErrorType = "auth"
	Cancel   ErrorType = "cancel"
	Continue ErrorType = "continue"
	Modify   ErrorType = "modify"
	Wait     ErrorType = "wait"
)

// StanzaError is the content of an XMPP <error/> element: its type, one
// defined condition (ERR-06), an optional text, and for gone/redirect the
// new address as character data of the condition element.
type StanzaError struct {
	Type      ErrorType
	Condition cpim.Condition
	Text      string
	Alternate string
}

// defaultTypes gives each condition its error type as RFC 6120 §8.3.3
// suggests; the SIP-origin rows of INTERWORKING.md §5.2 use the same types.
var defaultTypes = map[cpim.Condition]ErrorType{
	cpim.BadRequest:            Modify,
	cpim.Conflict:              Cancel,
	cpim.FeatureNotImplemented: Cancel,
	cpim.Forbidden:             Auth,
	cpim.Gone:                  Cancel,
	cpim.InternalServerError:   Cancel,
	cpim.ItemNotFound:          Cancel,
	cpim.JIDMalformed:          Modify,
	cpim.NotAcceptable:         Modify,
	cpim.NotAllowed:            Cancel,
	cpim.NotAuthorized:         Auth,
	cpim.PolicyViolation:       Modify,
	cpim.RecipientUnavailable:  Wait,
	cpim.Redirect:              Modify,
	cpim.RegistrationRequired:  Auth,
	cpim.RemoteServerNotFound:  Cancel,
	cpim.RemoteServerTimeout:   Wait,
	cpim.ResourceConstraint:    Wait,
	cpim.ServiceUnavailable:    Cancel,
	cpim.SubscriptionRequired:  Auth,
	cpim.UndefinedCondition:    Cancel,
	// RFC 6120 §8.3.3.22 allows wait or modify; §5.2 row 491 chose wait [D].
	cpim.UnexpectedRequest: Wait,
}

// sipToCondition is RFC 7247 §7.2 Table 3 (INTERWORKING.md §5.2): the codes
// listed there. Codes not listed fall back by class (see ErrorFromSIP).
var sipToCondition = map[int]cpim.Condition{
	300: cpim.Redirect, 301: cpim.Gone, 302: cpim.Redirect, 305: cpim.Redirect,
	380: cpim.NotAcceptable,
	400: cpim.BadRequest, 401: cpim.NotAuthorized,
	402: cpim.BadRequest, // payment-required was removed from RFC 6120 (note 2)
	403: cpim.Forbidden, 404: cpim.ItemNotFound, 405: cpim.FeatureNotImplemented,
	406: cpim.NotAcceptable, 407: cpim.RegistrationRequired, 408: cpim.RemoteServerTimeout,
	410: cpim.Gone, 413: cpim.PolicyViolation, 414: cpim.PolicyViolation,
	415: cpim.NotAcceptable, 416: cpim.NotAcceptable, 420: cpim.FeatureNotImplemented,
	421: cpim.NotAcceptable, 423: cpim.ResourceConstraint, 430: cpim.RecipientUnavailable,
	439: cpim.FeatureNotImplemented, 440: cpim.PolicyViolation, 480: cpim.RecipientUnavailable,
	481: cpim.ItemNotFound, 482: cpim.NotAcceptable, 483: cpim.NotAcceptable,
	484: cpim.ItemNotFound, 485: cpim.ItemNotFound, 486: cpim.RecipientUnavailable,
	487: cpim.RecipientUnavailable, 488: cpim.NotAcceptable, 489: cpim.PolicyViolation,
	491: cpim.UnexpectedRequest, 493: cpim.BadRequest,
	500: cpim.InternalServerError, 501: cpim.FeatureNotImplemented,
	502: cpim.RemoteServerNotFound, 503: cpim.InternalServerError,
	504: cpim.RemoteServerTimeout, 505: cpim.NotAcceptable, 513: cpim.PolicyViolation,
	600: cpim.RecipientUnavailable, 603: cpim.RecipientUnavailable,
	604: cpim.ItemNotFound, 606: cpim.NotAcceptable,
}

// ErrorFromSIP maps a final SIP failure response to a cpim error
// (RFC 7247 §7.2 Table 3; ERR-04, ERR-05). Codes Table 3 does not list map
// by class: 3xx redirect, 4xx bad-request, 5xx internal-server-error, 6xx
// recipient-unavailable. reason becomes the error text (ERR-12); contact,
// the first Contact URI of the response, becomes the new address of a 3xx
// (a 301 maps to gone with that address, a 410 to gone without one:
// RFC 7247 §7.2 note 1). retryAfter is the response's Retry-After, if any.
//
// It returns nil for codes outside 300–699: 1xx and 2xx have no mapping
// (RFC 7247 §7) and anything else is not a SIP status.
func ErrorFromSIP(status int, reason string, retryAfter time.Duration, contact string) *cpim.Error {
	if status < 300 || status > 699 {
		return nil
	}
	c, ok := sipToCondition[status]
	if !ok {
		switch status / 100 {
		case 3:
			c = cpim.Redirect
		case 4:
			c = cpim.BadRequest
		case 5:
			c = cpim.InternalServerError
		default:
			c = cpim.RecipientUnavailable
		}
	}
	e := &cpim.Error{Condition: c, Text: reason, Status: status, RetryAfter: retryAfter}
	if c == cpim.Redirect || (c == cpim.Gone && status == 301) {
		e.Alternate = contact
	}
	return e
}

// StanzaErrorOf renders a cpim error as an XMPP stanza error: the condition
// (unknown ones become undefined-condition, ERR-09), its RFC 6120 §8.3.3
// type, the text and, for gone and redirect only, the new address. Two
// adjustments follow INTERWORKING.md §5.2: an error that came from a SIP 5xx
// with Retry-After, or that the gateway raised with a retry time, has type
// wait [D]; a gone without an address stays a plain gone (410, note 1).
func StanzaErrorOf(e *cpim.Error) StanzaError {
	c := e.Condition
	if !c.Valid() {
		c = cpim.UndefinedCondition
	}
	se := StanzaError{Type: defaultTypes[c], Condition: c, Text: e.Text}
	if c == cpim.Gone || c == cpim.Redirect {
		se.Alternate = e.Alternate
	}
	if e.RetryAfter > 0 && (c == cpim.InternalServerError || c == cpim.ServiceUnavailable) {
		se.Type = Wait
	}
	return se
}

// ErrorFromStanza turns a received XMPP stanza error into a cpim error.
// Unknown conditions are treated as undefined-condition (RFC 6120 §8.3.2,
// ERR-09); alternate is the character data of a gone or redirect condition.
func ErrorFromStanza(condition, text, alternate string) *cpim.Error {
	c := cpim.ParseCondition(condition)
	e := &cpim.Error{Condition: c, Text: text}
	if c == cpim.Gone || c == cpim.Redirect {
		e.Alternate = alternate
	}
	return e
}

// SIPStatus maps a cpim error to the SIP final response code the gateway
// sends (RFC 7247 §7.1 Table 2; ERR-01…ERR-03). toFullJID says whether the
// failed stanza was addressed to a full JID: per notes 1 and 2 of Table 2,
// errors about one resource take the 4xx code and errors about a user (bare
// JID) the 6xx or 501 code.
//
// An error that carries an exact Status (a SIP-side check such as 416 for an
// unsupported scheme) keeps it. Deviations from Table 2, decided here [D]:
//   - service-unavailable → 403: the table forbids 503 (note 5, ERR-03) and
//     names 403 or 405 as closest; 405 would require an Allow header that
//     says nothing useful about a recipient.
//   - remote-server-not-found → 404 (note 4 offers 404 "does not exist" or
//     408 "cannot be resolved"; an XMPP error does not say which).
//   - unexpected-request → 491 (the table offers 491 or 400).
//   - not-authorized → 403 instead of 401, and registration-required → 403
//     instead of 407: a 401 MUST carry WWW-Authenticate and a 407
//     Proxy-Authenticate (RFC 3261 §21.4.2, §21.4.8), and the gateway has no
//     challenge to offer on the XMPP server's behalf. RFC 7247 §7 lets
//     implementations deviate; the reason phrase keeps the XMPP condition.
func SIPStatus(e *cpim.Error, toFullJID bool) int {
	if e.Status >= 300 && e.Status <= 699 {
		return e.Status
	}
	pick := func(full, bare int) int {
		if toFullJID {
			return full
		}
		return bare
	}
	switch e.Condition {
	case cpim.BadRequest, cpim.Conflict, cpim.JIDMalformed,
		cpim.SubscriptionRequired, cpim.UndefinedCondition:
		return 400
	case cpim.FeatureNotImplemented:
		return pick(405, 501)
	case cpim.Forbidden:
		return pick(403, 603)
	case cpim.Gone:
		if e.Alternate != "" {
			return 301 // RFC 7247 §7.1 note 3 MUST (ERR-02)
		}
		return 410
	case cpim.InternalServerError, cpim.ResourceConstraint:
		return 500
	case cpim.ItemNotFound:
		return pick(404, 604)
	case cpim.NotAcceptable:
		return pick(406, 606)
	case cpim.NotAllowed, cpim.PolicyViolation, cpim.ServiceUnavailable,
		cpim.NotAuthorized, cpim.RegistrationRequired:
		return 403
	case cpim.RecipientUnavailable:
		return pick(480, 600)
	case cpim.Redirect:
		return 302
	case cpim.RemoteServerNotFound:
		return 404
	case cpim.RemoteServerTimeout:
		return 408
	case cpim.UnexpectedRequest:
		return 491
	}
	return 400 // an unknown condition is undefined-condition (ERR-09)
}

// ReasonPhrase returns the Reason-Phrase for a response the gateway sends
// for e: the error's text when it has one (ERR-12), else the standard phrase
// of the status code, else the condition name.
func ReasonPhrase(e *cpim.Error, status int) string {
	if t := sanitizePhrase(e.Text); t != "" {
		return t
	}
	if p, ok := deviationPhrases[e.Condition]; ok && status == 403 {
		return p
	}
	if p, ok := sipPhrases[status]; ok {
		return p
	}
	if p := http.StatusText(status); p != "" {
		return p
	}
	return string(e.Condition)
}

// deviationPhrases name the XMPP condition in the reason phrase of a 403
// that SIPStatus chose instead of the table's code.
var deviationPhrases = map[cpim.Condition]string{
	cpim.NotAuthorized:        "Not Authorized",
	cpim.RegistrationRequired: "Registration Required",
	cpim.ServiceUnavailable:   "Service Unavailable",
}

// sanitizePhrase keeps a Reason-Phrase on one line of printable characters
// (RFC 3261 §25.1 Reason-Phrase: no CR or LF; other controls dropped).
func sanitizePhrase(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s))
}

// sipPhrases are the RFC 3261 §21 reason phrases (and those of the SIP
// extensions in Table 3) for the codes the gateway may send.
var sipPhrases = map[int]string{
	301: "Moved Permanently", 302: "Moved Temporarily",
	400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
	405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
	408: "Request Timeout", 410: "Gone", 413: "Request Entity Too Large",
	415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
	423: "Interval Too Brief", 480: "Temporarily Unavailable",
	481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops",
	486: "Busy Here", 489: "Bad Event", 491: "Request Pending",
	500: "Server Internal Error", 501: "Not Implemented", 503: "Service Unavailable",
	600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
	606: "Not Acceptable",
}
