package cpim

import "time"

// MessageType is the kind of an instant message. XMPP carries it in the
// stanza type (RFC 6121 §5.2.2); SIP page-mode MESSAGE has no such field and
// always maps to [Normal] (RFC 7572 §5, MSG-03).
type MessageType string

// The message types of RFC 6121 §5.2.2. An unknown or absent type is
// [Normal] (MSG-25).
const (
	Normal    MessageType = "normal"
	Chat      MessageType = "chat"
	Headline  MessageType = "headline"
	Groupchat MessageType = "groupchat"
)

// Text is a human-readable string in one language. An empty Lang means the
// default language of the enclosing message or presence (its Lang field).
type Text struct {
	Lang string
	Text string
}

// Part is one piece of message content other than a plain-text body: a MIME
// type with its parameters (as in a Content-Type header value) and the raw
// octets, for example text/html or application/im-iscomposing+xml.
type Part struct {
	ContentType string
	Body        []byte
}

// Extension is an opaque payload the gateway carries without interpreting
// it: one XML element in serialized form (for example an XEP-0071 XHTML-IM
// <html/> element), with its namespace and local name for lookup.
type Extension struct {
	Space string
	Local string
	XML   []byte
}

// Message is an instant message in page mode (RFC 3860 §3.1 message
// operation), carrying the fields the direct mappings of RFC 7572 need
// beyond CPIM (INTERWORKING.md §1.3).
type Message struct {
	From Address
	To   Address

	// ID identifies the message: the XMPP stanza id, or an id the SIP side
	// derives from the transaction (RFC 7572 §5 Table 2). Errors mirror it.
	ID   string
	Type MessageType

	// Thread is the XMPP <thread/>, mapped to and from the SIP Call-ID
	// (RFC 7572 §4, §5).
	Thread string

	// Lang is the default language: the stanza xml:lang, or the SIP
	// Content-Language (RFC 7572 §8). Texts with an empty Lang use it.
	Lang string

	// Bodies and Subjects hold at most one text per language (RFC 6121
	// §5.2.3–5.2.4, MSG-24).
	Bodies   []Text
	Subjects []Text

	// Parts holds content that is not a text/plain body, in arrival order.
	Parts []Part

	// Extensions holds opaque XMPP payloads carried through unchanged.
	Extensions []Extension

	// DateTime is when the sender sent the message (Message/CPIM DateTime,
	// RFC 3862 §4.4); zero when unknown.
	DateTime time.Time

	// MaxForwards is the remaining hop count (RFC 3860 §3.4.2); zero when
	// the source protocol has none (XMPP).
	MaxForwards int
}
