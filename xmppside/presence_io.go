package xmppside

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"

	"cpimgw/cpim"
	"cpimgw/mapping"
)

// SetPresenceHandler installs the receiver of presence stanzas. Without
// one, presence to SIP users is ignored, as RFC 6121 §8.5.1 lets a server
// do for users it does not know.
func (c *Component) SetPresenceHandler(h PresenceHandler) {
	c.presence.Store(&presenceHandler{h})
}

type presenceHandler struct{ PresenceHandler }

// wirePresence is an incoming <presence/> as read off the stream.
type wirePresence struct {
	From, To, ID, Type, Lang string
	Show                     string
	Statuses                 []cpim.Text
	Priority                 int
	HasPriority              bool
	ErrorCondition           string
	ErrorText                string
	ErrorAlternate           string
}

// readPresence decodes the <presence/> whose start tag is start.
func readPresence(r xml.TokenReader, start *xml.StartElement) (*wirePresence, error) {
	p := &wirePresence{
		From: attrValue(start, "from"), To: attrValue(start, "to"),
		ID: attrValue(start, "id"), Type: attrValue(start, "type"), Lang: langOf(*start),
	}
	budget := maxStanzaText
	for {
		tok, err := r.Token()
		if errors.Is(err, io.EOF) {
			return p, nil
		}
		if err != nil {
			return p, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if !isStanzaNS(se.Name.Space) {
			if err := skip(r, &budget); err != nil {
				return p, err
			}
			continue
		}
		switch se.Name.Local {
		case "show":
			if p.Show, err = readText(r, &budget); err != nil {
				return p, err
			}
			p.Show = strings.TrimSpace(p.Show)
		case "status":
			s, err := readText(r, &budget)
			if err != nil {
				return p, err
			}
			p.Statuses = append(p.Statuses, cpim.Text{Lang: langOf(se), Text: s})
		case "priority":
			s, err := readText(r, &budget)
			if err != nil {
				return p, err
			}
			// RFC 6121 §4.7.2.3: an integer between -128 and +127; a value
			// outside it is ignored rather than failing the presence.
			if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= -128 && n <= 127 {
				p.Priority, p.HasPriority = n, true
			}
		case "error":
			if p.ErrorCondition, p.ErrorText, err = readError(r, &budget); err != nil {
				return p, err
			}
		default:
			if err := skip(r, &budget); err != nil {
				return p, err
			}
		}
	}
}

// skip consumes the rest of the element whose start tag was just read.
func skip(r xml.TokenReader, budget *int) error {
	_, err := readText(r, budget)
	return err
}

// subscriptionOps maps presence types to subscription operations.
var subscriptionOps = map[string]cpim.SubscriptionOp{
	"subscribe":    cpim.Subscribe,
	"unsubscribe":  cpim.Unsubscribe,
	"subscribed":   cpim.Subscribed,
	"unsubscribed": cpim.Unsubscribed,
	"probe":        cpim.Probe,
}

func (c *Component) handlePresence(t xmlstream.TokenReadEncoder, start *xml.StartElement) {
	w, err := readPresence(t, start)
	if err != nil {
		// As for messages: a stanza over the limit is refused (never an
		// error to an error, ERR-08); XML that is not well-formed ends
		// the stream (RFC 6120 §11.1), which mellium does after we return.
		if errors.Is(err, errStanzaTooLarge) && w.Type != "error" {
			c.reply(t, "presence", w.From, w.To, w.ID, &cpim.Error{Condition: cpim.PolicyViolation, Text: "presence too large"})
			c.log.Warn("presence too large", "from", w.From, "to", w.To, "type", w.Type)
			return
		}
		c.log.Warn("unreadable presence", "err", err, "from", w.From)
		return
	}
	log := c.log.With("from", w.From, "to", w.To, "type", w.Type)
	ph := c.presence.Load()
	if ph == nil {
		log.Debug("presence ignored: presence is not enabled")
		return
	}
	from, err1 := jid.Parse(w.From)
	to, err2 := jid.Parse(w.To)
	if err1 != nil || err2 != nil || to.Domainpart() != c.cfg.Domain {
		// RFC 6121 §8.5.1: presence to an unknown user is ignored; an
		// unparsable sender cannot be answered anyway.
		log.Debug("presence with unusable addresses ignored", "err", errors.Join(err1, err2))
		return
	}
	// No open relay (RFC 8048 §8.1, SEC-03): only users of the configured
	// XMPP domains may subscribe to or send presence to SIP users.
	if !c.mapper.IsXMPPDomain(from.Domainpart()) {
		if _, isSub := subscriptionOps[w.Type]; isSub && w.Type != "probe" {
			c.reply(t, "presence", w.From, w.To, w.ID, &cpim.Error{Condition: cpim.Forbidden, Text: "sender domain may not use this gateway"})
		}
		log.Warn("presence from a foreign XMPP domain refused")
		return
	}
	var run func(ctx context.Context) error
	switch op, isSub := subscriptionOps[w.Type]; {
	case w.Type == "" || w.Type == "unavailable":
		p, err := c.mapper.PresenceFromXMPP(mapping.XMPPPresence{
			From: from, To: to, Type: w.Type, ID: w.ID, Lang: w.Lang, Show: w.Show,
			Statuses: w.Statuses, Priority: w.Priority, HasPriority: w.HasPriority,
		})
		if err != nil {
			log.Debug("presence ignored", "err", err) // RFC 6121 §8.5.1
			return
		}
		run = func(ctx context.Context) error { return ph.Presence(ctx, p) }
	case isSub:
		s, err := c.subscriptionFrom(op, from, to)
		if err != nil {
			log.Debug("subscription stanza ignored", "err", err) // RFC 6121 §8.5.1
			return
		}
		s.ID = w.ID
		run = func(ctx context.Context) error { return ph.Subscription(ctx, s) }
	case w.Type == "error":
		fa, err1 := c.mapper.Address(from.Bare())
		ta, err2 := c.mapper.Address(to.Bare())
		if err1 != nil || err2 != nil {
			log.Debug("presence error ignored", "err", errors.Join(err1, err2))
			return
		}
		e := mapping.ErrorFromStanza(w.ErrorCondition, w.ErrorText, w.ErrorAlternate)
		// Never answer an error with an error (ERR-08).
		c.pool.submit(from.Bare().String()+" "+to.Bare().String(), job{
			run: func(ctx context.Context) {
				if err := ph.PresenceError(ctx, fa, ta, e); err != nil {
					log.Info("presence error not handled", "err", err)
				}
			},
			reject: func(rejectReason) { log.Warn("presence error dropped: queue full") },
		})
		return
	default:
		// RFC 6121 §4.7.1: an unknown presence type is an error.
		c.reply(t, "presence", w.From, w.To, w.ID, &cpim.Error{Condition: cpim.BadRequest, Text: "unknown presence type"})
		log.Info("presence of unknown type refused")
		return
	}
	key := from.Bare().String() + " " + to.Bare().String()
	j := job{
		run: func(ctx context.Context) {
			if ctx.Err() != nil {
				return // shutting down: presence is state, the next one supersedes it
			}
			if err := run(ctx); err != nil {
				log.Info("presence not handled", "err", err, "condition", cpim.ConditionOf(err))
				if w.Type != "" && w.Type != "unavailable" {
					c.sendStanzaError("presence", w.From, w.To, w.ID, asCPIM(err))
				}
			}
		},
		reject: func(reason rejectReason) {
			// Presence is state: a newer one supersedes a lost one, but a
			// subscription request must not vanish silently.
			if w.Type == "" || w.Type == "unavailable" {
				if reason == rejectShutdown {
					log.Info("presence dropped: shutting down")
				} else {
					log.Warn("presence dropped: queue full and too many presences waiting")
				}
				return
			}
			e := &cpim.Error{Condition: cpim.ResourceConstraint, Text: "gateway busy, try again", RetryAfter: c.cfg.RetryAfter}
			if reason == rejectShutdown {
				e = c.shuttingDown()
			}
			c.reply(t, "presence", w.From, w.To, w.ID, e)
			log.Warn("subscription stanza refused", "condition", e.Condition)
		},
	}
	if w.Type == "" || w.Type == "unavailable" {
		// Per resource: the newest waits when the queue is full.
		c.latest.submit(key, from.String()+" "+key, j)
		return
	}
	c.pool.submit(key, j)
}

// subscriptionFrom builds the cpim operation of a subscription stanza from
// an XMPP user to a SIP user: subscribe, unsubscribe and probe go from the
// watcher to the target; subscribed and unsubscribed are the target's
// decision about a watcher. Addresses are bare (RFC 6121 §3.1.1, SUB-29).
func (c *Component) subscriptionFrom(op cpim.SubscriptionOp, from, to jid.JID) (cpim.Subscription, error) {
	fa, err := c.mapper.Address(from.Bare())
	if err != nil {
		return cpim.Subscription{}, err
	}
	ta, err := c.mapper.Address(to.Bare())
	if err != nil {
		return cpim.Subscription{}, err
	}
	s := cpim.Subscription{Op: op, Watcher: fa, Target: ta}
	if op == cpim.Subscribed || op == cpim.Unsubscribed {
		s.Watcher, s.Target = ta, fa
	}
	return s, nil
}

// sendStanzaError answers a stanza with an error from a worker.
func (c *Component) sendStanzaError(kind, origFrom, origTo, id string, e *cpim.Error) {
	se := mapping.StanzaErrorOf(e)
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.WriteTimeout)
	defer cancel()
	if err := c.send(ctx, errorStanza(kind, origFrom, origTo, id, c.cfg.Domain, se)); err != nil {
		c.log.Warn("error reply lost: component link down", "to", origFrom, "stanza_id", id, "condition", se.Condition, "err", err)
	}
}

// SendPresence sends a SIP user's presence to an XMPP user: one stanza per
// tuple, from the tuple's resource; no tuples gives one bare unavailable
// (INTERWORKING.md §3.3, §3.6). Every stanza is from the component domain.
func (c *Component) SendPresence(ctx context.Context, p cpim.Presence) error {
	stanzas, err := c.mapper.PresenceToXMPP(p)
	if err != nil {
		return err
	}
	for _, x := range stanzas {
		if x.From.Domainpart() != c.cfg.Domain {
			return &cpim.Error{Condition: cpim.Forbidden, Text: "presence from outside the gateway's domain",
				Cause: fmt.Errorf("xmppside: from %s", x.From)}
		}
		if err := c.send(ctx, presenceStanza(x)); err != nil {
			return err
		}
	}
	return nil
}

// SendSubscription sends a subscription stanza for a SIP user: subscribe,
// unsubscribe and probe from the SIP watcher to the XMPP target;
// subscribed and unsubscribed from the SIP target to the XMPP watcher.
// Addresses are bare (SUB-29).
func (c *Component) SendSubscription(ctx context.Context, s cpim.Subscription) error {
	from, to := s.Watcher, s.Target
	if s.Op == cpim.Subscribed || s.Op == cpim.Unsubscribed {
		from, to = s.Target, s.Watcher
	}
	if _, ok := subscriptionOps[string(s.Op)]; !ok {
		return fmt.Errorf("xmppside: unknown subscription operation %q", s.Op)
	}
	fj, tj, err := c.bareJIDs(from, to)
	if err != nil {
		return err
	}
	if fj.Domainpart() != c.cfg.Domain {
		return &cpim.Error{Condition: cpim.Forbidden, Text: "subscription from outside the gateway's domain",
			Cause: fmt.Errorf("xmppside: from %s", fj)}
	}
	attrs := []xml.Attr{attr("from", fj.String()), attr("to", tj.String()), attr("type", string(s.Op))}
	if s.ID != "" {
		attrs = append(attrs, attr("id", s.ID))
	}
	return c.send(ctx, xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "presence"}, Attr: attrs}))
}

// bareJIDs maps the bare addresses of from and to to JIDs.
func (c *Component) bareJIDs(from, to cpim.Address) (fj, tj jid.JID, err error) {
	if fj, err = c.mapper.JID(from.Bare()); err != nil {
		return
	}
	tj, err = c.mapper.JID(to.Bare())
	return
}

// SendPresenceError sends a presence of type error from a SIP user to an
// XMPP user, answering a subscription request the SIP network refused
// (RFC 3922 §6.1: an unknown SIP user is item-not-found).
func (c *Component) SendPresenceError(ctx context.Context, from, to cpim.Address, id string, e *cpim.Error) error {
	fj, tj, err := c.bareJIDs(from, to)
	if err != nil {
		return err
	}
	se := mapping.StanzaErrorOf(e)
	return c.send(ctx, errorStanza("presence", tj.String(), fj.String(), id, c.cfg.Domain, se))
}

// presenceStanza encodes an outgoing presence notification (RFC 6121
// §4.7: show, status per language, priority).
func presenceStanza(x mapping.XMPPPresence) xml.TokenReader {
	attrs := []xml.Attr{attr("from", x.From.String()), attr("to", x.To.String())}
	if x.Type != "" {
		attrs = append(attrs, attr("type", x.Type))
	}
	if x.ID != "" {
		attrs = append(attrs, attr("id", x.ID))
	}
	attrs = append(attrs, langAttr(x.Lang)...)
	var parts []xml.TokenReader
	if x.Show != "" {
		parts = append(parts, textElem("show", "", x.Show))
	}
	for _, s := range x.Statuses {
		parts = append(parts, textElem("status", s.Lang, s.Text))
	}
	if x.HasPriority {
		parts = append(parts, textElem("priority", "", strconv.Itoa(x.Priority)))
	}
	return xmlstream.Wrap(xmlstream.MultiReader(parts...), xml.StartElement{Name: xml.Name{Local: "presence"}, Attr: attrs})
}
