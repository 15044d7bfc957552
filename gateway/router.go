// Package gateway joins the two protocol sides through the neutral model:
// it takes cpim values from one side, applies the gateway's routing policy,
// and hands them to the other side. It sees only cpim types and the small
// Sender interface; the sides never import each other (STYLE.md §1), and
// cmd/cpimgw wires them together.
//
// The policy is "no open relay" (RFC 8048 §8.1, SEC-03): only users of the
// configured XMPP domains may send into SIP, only towards SIP users behind
// the gateway, and SIP users may reach only users of those XMPP domains and
// may not pose as them. (Which SIP sources may send at all is the SIP
// side's check: it sees the source address.)
package gateway

import (
	"context"
	"log/slog"
	"sync/atomic"

	"cpimgw/cpim"
)

// Sender delivers a message to its side's network. It returns nil once the
// message is handed on (SIP: a 2xx final response; XMPP: the stanza is on
// the stream), or a *cpim.Error.
type Sender interface {
	SendMessage(ctx context.Context, m cpim.Message) error
}

// Domains answers which domains hold XMPP users and which SIP domains the
// gateway serves in same-domain mode (a *mapping.Mapper does).
type Domains interface {
	IsXMPPDomain(domain string) bool
	IsSIPDomain(domain string) bool
}

// Router routes messages between the sides.
type Router struct {
	domains    Domains
	foreignSIP bool
	log        *slog.Logger
	sip        atomic.Pointer[Sender]
	xmpp       atomic.Pointer[Sender]
}

// New returns a router; call Connect once both sides exist. foreignSIP
// says whether users of SIP domains other than the served ones may use the
// gateway (routes.foreign_sip: escape) or not (reject).
func New(domains Domains, foreignSIP bool, log *slog.Logger) *Router {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Router{domains: domains, foreignSIP: foreignSIP, log: log.With("side", "router")}
}

// Connect attaches the senders of both sides.
func (r *Router) Connect(sip, xmpp Sender) {
	r.sip.Store(&sip)
	r.xmpp.Store(&xmpp)
}

// FromXMPP returns the handler for messages XMPP users send (it satisfies
// xmppside.Handler).
func (r *Router) FromXMPP() FromXMPP { return FromXMPP{r} }

// FromSIP returns the handler for messages SIP users send (it satisfies
// sipside.Handler).
func (r *Router) FromSIP() FromSIP { return FromSIP{r} }

// FromXMPP routes messages from XMPP users into SIP.
type FromXMPP struct{ r *Router }

// Message refuses senders outside the configured XMPP domains with
// forbidden (SEC-03) and recipients that are XMPP users themselves (the
// gateway is not an XMPP router); everything else goes to the SIP side.
func (h FromXMPP) Message(ctx context.Context, m cpim.Message) error {
	r := h.r
	if !r.domains.IsXMPPDomain(m.From.Domain) {
		r.log.Warn("message from a foreign XMPP domain refused", "from", m.From.String(), "to", m.To.String(), "stanza_id", m.ID)
		return &cpim.Error{Condition: cpim.Forbidden, Text: "sender domain may not use this gateway"}
	}
	if r.domains.IsXMPPDomain(m.To.Domain) {
		r.log.Warn("message to an XMPP user refused", "from", m.From.String(), "to", m.To.String(), "stanza_id", m.ID)
		return &cpim.Error{Condition: cpim.ItemNotFound, Text: "not a SIP user"}
	}
	s := r.sip.Load()
	if s == nil {
		return &cpim.Error{Condition: cpim.ServiceUnavailable, Text: "SIP side not ready"}
	}
	return (*s).SendMessage(ctx, m)
}

// FromSIP routes messages from SIP users into XMPP.
type FromSIP struct{ r *Router }

// Message delivers to users of the configured XMPP domains only (404
// otherwise) and refuses, with 403, a SIP sender whose address lies in an
// XMPP domain (it would pose as an XMPP user) or in a foreign SIP domain
// when foreign domains are rejected.
func (h FromSIP) Message(ctx context.Context, m cpim.Message) error {
	r := h.r
	if !r.domains.IsXMPPDomain(m.To.Domain) {
		r.log.Warn("message to a domain the gateway does not serve refused", "from", m.From.String(), "to", m.To.String())
		return &cpim.Error{Condition: cpim.ItemNotFound, Text: "domain not served", Status: 404}
	}
	if r.domains.IsXMPPDomain(m.From.Domain) {
		r.log.Warn("SIP sender posing as an XMPP user refused", "from", m.From.String(), "to", m.To.String())
		return &cpim.Error{Condition: cpim.Forbidden, Text: "sender address belongs to an XMPP domain", Status: 403}
	}
	if !r.foreignSIP && !r.domains.IsSIPDomain(m.From.Domain) {
		r.log.Warn("sender from a foreign SIP domain refused", "from", m.From.String(), "to", m.To.String())
		return &cpim.Error{Condition: cpim.Forbidden, Text: "sender domain may not use this gateway", Status: 403}
	}
	s := r.xmpp.Load()
	if s == nil {
		return &cpim.Error{Condition: cpim.ServiceUnavailable, Text: "XMPP side not ready", Status: 503}
	}
	return (*s).SendMessage(ctx, m)
}
