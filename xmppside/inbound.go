package xmppside

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"

	"cpimgw/cpim"
	"cpimgw/mapping"
)

// Version is reported to jabber:iq:version queries; cmd sets it at start.
var Version = "dev"

// features are the disco#info features of the component domain and of every
// SIP user behind it (INTERWORKING.md §7; CMP-06 requires advertising only
// what is implemented).
var features = []string{nsDiscoInfo, nsPing, nsVersion}

// handle is the one handler of the stream. It runs on mellium's Serve
// goroutine with the output lock held, so it only decodes, answers what it
// can through t, and queues the rest. It never returns an error: mellium
// would close the stream for every user (LIBRARY-NOTES.md §2.3). A panic is
// caught and logged for the same reason.
func (c *Component) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic handling a stanza", "panic", r, "stack", string(debug.Stack()))
			err = nil
		}
	}()
	switch start.Name.Local {
	case "message":
		c.handleMessage(t, start)
	case "iq":
		c.handleIQ(t, start)
	case "presence":
		c.handlePresence(t, start)
	default:
		c.log.Warn("unknown top-level element ignored", "element", start.Name.Local)
	}
	return nil
}

func attrValue(se *xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// reply writes an error reply through the Serve response writer.
func (c *Component) reply(t xmlstream.TokenReadEncoder, kind, from, to, id string, e *cpim.Error) {
	se := mapping.StanzaErrorOf(e)
	if _, err := xmlstream.Copy(t, errorStanza(kind, from, to, id, c.cfg.Domain, se)); err != nil {
		c.log.Warn("writing an error reply failed", "err", err, "to", from)
	}
}

func (c *Component) handleMessage(t xmlstream.TokenReadEncoder, start *xml.StartElement) {
	w, err := readMessage(t, start)
	if err != nil {
		// A stanza we cannot read to its end would leave the stream out
		// of step; mellium closes it after we return, as RFC 6120 §11.1
		// requires for XML that is not well-formed.
		if errors.Is(err, errStanzaTooLarge) {
			c.reply(t, "message", w.From, w.To, w.ID, &cpim.Error{Condition: cpim.PolicyViolation, Text: "message too large"})
			c.log.Warn("message too large", "from", w.From, "to", w.To, "stanza_id", w.ID)
			return
		}
		c.log.Warn("unreadable message", "err", err, "from", w.From)
		return
	}
	log := c.log.With("from", w.From, "to", w.To, "stanza_id", w.ID)
	if w.Type == "error" {
		// Never answer an error with an error (RFC 6120 §8.3.1 rule 8,
		// ERR-08). The SIP sender already had its 2xx; delivery reports
		// for SIP come with IMDN support.
		log.Info("XMPP error for a message the gateway delivered", "condition", w.ErrorCondition, "text", w.ErrorText)
		return
	}
	if len(w.Bodies) == 0 {
		// Chat states and receipts are not yet interworked; a message
		// without a body carries nothing for a SIP user (INTERWORKING.md
		// §4.3: otherwise drop).
		log.Debug("message without a body ignored")
		return
	}
	from, err1 := jid.Parse(w.From)
	to, err2 := jid.Parse(w.To)
	if err := errors.Join(err1, err2); err != nil {
		if err1 != nil {
			log.Warn("message with an unparsable sender ignored", "err", err1)
			return // no address to answer
		}
		c.reply(t, "message", w.From, w.To, w.ID, &cpim.Error{Condition: cpim.JIDMalformed, Text: "recipient address is not a valid JID", Cause: err})
		log.Warn("message to a malformed JID refused", "err", err)
		return
	}
	if to.Domainpart() != c.cfg.Domain {
		c.reply(t, "message", w.From, w.To, w.ID, &cpim.Error{Condition: cpim.ItemNotFound, Text: "not a user of this gateway"})
		log.Warn("message for another domain refused")
		return
	}
	msg, err := c.mapper.MessageFromXMPP(mapping.XMPPMessage{
		From: from, To: to, ID: w.ID, Type: w.Type, Lang: w.Lang,
		Bodies: w.Bodies, Subjects: w.Subjects, Thread: w.Thread, Extensions: w.Extensions,
	})
	if err != nil {
		c.reply(t, "message", w.From, w.To, w.ID, asCPIM(err))
		log.Info("message refused", "err", err)
		return
	}
	c.pool.submit(from.Bare().String()+" "+to.Bare().String(), job{
		run: func(ctx context.Context) {
			if ctx.Err() != nil {
				c.sendError(w, c.shuttingDown())
				return
			}
			err := c.handler.Message(ctx, msg)
			if err == nil {
				return
			}
			e := asCPIM(err)
			if ctx.Err() != nil && e.Condition == cpim.InternalServerError {
				e = c.shuttingDown() // the drain deadline cut the delivery short
			}
			log.Info("message not delivered", "err", err, "condition", e.Condition)
			c.sendError(w, e)
		},
		reject: func(reason rejectReason) {
			e := &cpim.Error{Condition: cpim.ResourceConstraint, Text: "gateway busy, try again", RetryAfter: c.cfg.RetryAfter}
			if reason == rejectShutdown {
				e = c.shuttingDown()
			}
			c.reply(t, "message", w.From, w.To, w.ID, e)
			log.Warn("message refused", "condition", e.Condition, "reason", e.Text)
		},
	})
}

func (c *Component) shuttingDown() *cpim.Error {
	return &cpim.Error{Condition: cpim.ServiceUnavailable, Text: "gateway shutting down", RetryAfter: c.cfg.RetryAfter}
}

// sendError answers a message with an error stanza from a worker.
func (c *Component) sendError(w *wireMessage, e *cpim.Error) {
	se := mapping.StanzaErrorOf(e)
	se.Alternate = c.alternateIRI(se.Alternate)
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.WriteTimeout)
	defer cancel()
	if err := c.send(ctx, errorStanza("message", w.From, w.To, w.ID, c.cfg.Domain, se)); err != nil {
		c.log.Warn("error reply lost: component link down", "to", w.From, "stanza_id", w.ID, "condition", se.Condition, "err", err)
	}
}

// alternateIRI turns the new address of a gone or redirect error, which
// comes from a SIP Contact, into an xmpp: IRI when the address maps to a JID
// (RFC 7247 §7.2 notes: "Contact → IRI"); otherwise the URI stays as is,
// which RFC 6120 §8.3.3.5 also allows.
func (c *Component) alternateIRI(uri string) string {
	if uri == "" {
		return ""
	}
	a, err := mapping.URIToAddress(uri)
	if err != nil {
		return uri
	}
	j, err := c.mapper.JID(a)
	if err != nil {
		return uri
	}
	return "xmpp:" + j.String()
}

// asCPIM returns err as a *cpim.Error; anything else is an internal error
// whose details stay in the logs.
func asCPIM(err error) *cpim.Error {
	var e *cpim.Error
	if errors.As(err, &e) {
		return e
	}
	return &cpim.Error{Condition: cpim.InternalServerError, Text: "gateway error", Cause: err}
}

// handleIQ answers every IQ get/set (RFC 6120 §8.2.3, ERR-11): disco#info
// and disco#items, XEP-0199 pings and jabber:iq:version; anything else gets
// service-unavailable. Results and errors to the component's own requests
// are consumed by mellium before they reach here; stray ones are ignored.
func (c *Component) handleIQ(t xmlstream.TokenReadEncoder, start *xml.StartElement) {
	typ, from, to, id := attrValue(start, "type"), attrValue(start, "from"), attrValue(start, "to"), attrValue(start, "id")
	if typ != "get" && typ != "set" {
		// A result or error: the answer to one of the component's pings.
		if ch, ok := c.pings.LoadAndDelete(id); ok {
			ch.(chan struct{}) <- struct{}{}
		}
		return
	}
	var payload xml.StartElement
	for {
		tok, err := t.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok {
			payload = se
			break
		}
	}
	result := func(inner xml.TokenReader) {
		self := to
		if self == "" {
			self = c.cfg.Domain
		}
		iq := xmlstream.Wrap(inner, xml.StartElement{Name: xml.Name{Local: "iq"}, Attr: []xml.Attr{
			attr("type", "result"), attr("from", self), attr("to", from), attr("id", id)}})
		if _, err := xmlstream.Copy(t, iq); err != nil {
			c.log.Warn("writing an IQ result failed", "err", err)
		}
	}
	switch {
	case typ == "get" && payload.Name.Space == nsDiscoInfo:
		result(c.discoInfo(payload))
	case typ == "get" && payload.Name.Space == nsDiscoItem:
		result(xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: nsDiscoItem, Local: "query"}}))
	case typ == "get" && payload.Name.Space == nsPing && payload.Name.Local == "ping":
		result(nil)
	case typ == "get" && payload.Name.Space == nsVersion:
		result(xmlstream.Wrap(xmlstream.MultiReader(
			textElem("name", "", "cpimgw"), textElem("version", "", Version)),
			xml.StartElement{Name: xml.Name{Space: nsVersion, Local: "query"}}))
	default:
		c.reply(t, "iq", from, to, id, &cpim.Error{Condition: cpim.ServiceUnavailable})
		c.log.Debug("IQ not supported", "from", from, "to", to, "payload", payload.Name.Space+" "+payload.Name.Local)
	}
}

// discoInfo describes the component (XEP-0030): identity gateway/simple
// (the XMPP registrar's category for SIP/SIMPLE gateways) and the features
// implemented. A query with a node gets the same answer with the node
// echoed.
func (c *Component) discoInfo(q xml.StartElement) xml.TokenReader {
	items := []xml.TokenReader{xmlstream.Wrap(nil, xml.StartElement{
		Name: xml.Name{Local: "identity"},
		Attr: []xml.Attr{attr("category", "gateway"), attr("type", "simple"), attr("name", "SIP/SIMPLE gateway")},
	})}
	for _, f := range features {
		items = append(items, xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "feature"}, Attr: []xml.Attr{attr("var", f)}}))
	}
	var attrs []xml.Attr
	if n := attrValue(&q, "node"); n != "" {
		attrs = append(attrs, attr("node", n))
	}
	return xmlstream.Wrap(xmlstream.MultiReader(items...),
		xml.StartElement{Name: xml.Name{Space: nsDiscoInfo, Local: "query"}, Attr: attrs})
}

// SendMessage delivers a message from a SIP user to an XMPP user: it maps
// it to a stanza and writes it on the component stream. It returns once the
// stanza is written, so the SIP side may then answer 2xx; while the link is
// down, or when MaxPending messages already wait for the stream, it returns
// a service-unavailable error with a retry time (the SIP side answers 503 +
// Retry-After).
func (c *Component) SendMessage(ctx context.Context, m cpim.Message) error {
	select {
	case c.pending <- struct{}{}:
		defer func() { <-c.pending }()
	default:
		return &cpim.Error{Condition: cpim.ServiceUnavailable, Status: 503, RetryAfter: time.Second,
			Text: "gateway busy, try again"}
	}
	x, err := c.mapper.MessageToXMPP(m)
	if err != nil {
		return err
	}
	// XEP-0114 §3 (CMP-04): the server drops stanzas from outside the
	// component's domain; refuse them here, where the error is clear.
	if x.From.Domainpart() != c.cfg.Domain {
		return &cpim.Error{Condition: cpim.Forbidden, Status: 403,
			Text: "sender is not in the gateway's domain", Cause: fmt.Errorf("xmppside: from %s", x.From)}
	}
	r, err := messageStanza(x)
	if err != nil {
		return err
	}
	return c.send(ctx, r)
}
