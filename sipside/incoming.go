package sipside

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"cpimgw/cpim"
	"cpimgw/mapping"

	"github.com/emiago/sipgo/sip"
	"mellium.im/xmpp/jid"
)

// allowHeader lists the methods the endpoint serves (RFC 3261 §8.2.1,
// §20.5; ERR-10).
const allowHeader = "MESSAGE, OPTIONS"

// reply is the final response the endpoint sends to a request, with what to
// log about it.
type reply struct {
	status  int
	reason  string
	headers []sip.Header
	level   slog.Level
	why     string // log message
	err     error  // logged as err
}

// refuse builds a failure reply logged at Info.
func refuse(status int, reason, why string, err error, headers ...sip.Header) reply {
	return reply{status: status, reason: reason, why: why, err: err, headers: headers, level: slog.LevelInfo}
}

// onMessage serves a MESSAGE request (S2X). It answers before it returns,
// as sipgo requires (LIBRARY-NOTES §1.3), and answers 2xx only after the
// Handler accepted the message onto the XMPP stream.
func (e *Endpoint) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	ctx, leave, ok := e.enter(req, tx)
	if !ok {
		return
	}
	defer leave()
	e.respond(req, tx, e.serveMessage(ctx, req))
}

// enter admits a request to be served: while the endpoint shuts down it
// answers 503 + Retry-After itself and returns false. Otherwise the request
// counts as in flight (Run waits for it) until the caller calls leave, and
// ctx is its context: it ends with the server transaction, after
// TransactionTimeout, or when the endpoint stops.
func (e *Endpoint) enter(req *sip.Request, tx sip.ServerTransaction) (ctx context.Context, leave func(), ok bool) {
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		e.respond(req, tx, reply{status: 503, reason: "Service Unavailable", why: "shutting down",
			level: slog.LevelInfo, headers: []sip.Header{sip.NewHeader("Retry-After", "5")}})
		return nil, nil, false
	}
	e.inflight.Add(1) // under e.mu: Run's Wait starts only after closing is set
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(e.life, e.cfg.TransactionTimeout)
	tx.OnTerminate(func(string, error) { cancel() })
	return ctx, func() {
		cancel()
		e.inflight.Done()
	}, true
}

// serveMessage runs the checks of INTERWORKING.md §5.4 in order, maps the
// request and calls the Handler.
func (e *Endpoint) serveMessage(ctx context.Context, req *sip.Request) reply {
	// Only trusted networks may inject messages into XMPP.
	if !e.trusted(req.Source()) {
		r := refuse(403, "Forbidden", "untrusted source", nil)
		r.level = slog.LevelWarn
		return r
	}
	// RFC 3261 §8.1.1: a request carries To, From, CSeq, Call-ID,
	// Max-Forwards and Via. sipgo itself refuses one without Via or CSeq;
	// without To, From or Call-ID there is nothing to map or to answer
	// correctly (RFC 4475 §3.1.2.18 expects 400). A missing Max-Forwards
	// is tolerated, as most implementations do.
	if req.CallID() == nil || req.To() == nil || req.From() == nil {
		return refuse(400, "Bad Request", "missing To, From or Call-ID", nil)
	}
	// SEC-02, RFC 3860 §3.4.2: a message that ran out of hops fails.
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
		return refuse(483, "Too Many Hops", "Max-Forwards 0", nil)
	}
	if r, ok := requireCheck(req); !ok {
		return r
	}
	// ADR-23, RFC 7247 §8: never translate a SIPS request.
	if req.Recipient.Scheme == "sips" || (req.To() != nil && req.To().Address.Scheme == "sips") {
		return e.sipsRefusal(nil)
	}
	s := readMessage(req)
	if r, ok := e.addressCheck(s); !ok {
		return r
	}
	if len(s.Body) > e.cfg.MaxMessageSize {
		return refuse(413, "Request Entity Too Large", "body too large", nil)
	}
	if enc := headerValue(req, "Content-Encoding", "e"); enc != "" && !strings.EqualFold(strings.TrimSpace(enc), "identity") {
		return refuse(415, "Unsupported Media Type", "content encoding", nil,
			sip.NewHeader("Accept-Encoding", "identity"), acceptHeader())
	}
	msg, err := e.mapper.MessageFromSIP(s)
	if err != nil {
		return e.errorReply(err, false, "unmappable message")
	}
	if err := e.h.Message(ctx, msg); err != nil {
		return e.errorReply(err, !msg.To.IsBare(), "handler refused")
	}
	reason := "Accepted"
	if e.cfg.AcceptStatus == 200 {
		reason = "OK"
	}
	return reply{status: e.cfg.AcceptStatus, reason: reason, why: "delivered", level: slog.LevelInfo}
}

// trusted reports whether a request from src ("ip:port") may reach XMPP.
func (e *Endpoint) trusted(src string) bool {
	if len(e.cfg.TrustedSources) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(src)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range e.cfg.TrustedSources {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// requireCheck refuses a request that requires an extension: the endpoint
// supports none (RFC 3261 §8.2.2.3; ERR-10), so every option tag is listed
// in Unsupported.
func requireCheck(req *sip.Request) (reply, bool) {
	var tags []string
	for _, h := range req.GetHeaders("Require") {
		for t := range strings.SplitSeq(h.Value(), ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, cleanHeaderValue(t))
			}
		}
	}
	if len(tags) == 0 {
		return reply{}, true
	}
	return refuse(420, "Bad Extension", "unsupported extension", nil,
		sip.NewHeader("Unsupported", strings.Join(tags, ", "))), false
}

// sipsRefusal is 480 with Warning 380 "SIPS Not Allowed" (RFC 5630 §3.2,
// RFC 7247 §8; ADR-23).
func (e *Endpoint) sipsRefusal(err error) reply {
	return refuse(480, "Temporarily Unavailable", "sips request", err,
		sip.NewHeader("Warning", `380 `+e.cfg.warnAgent+` "SIPS Not Allowed"`))
}

// addressCheck maps the Request-URI, To and From with the address rules
// (INTERWORKING.md §2.3, §4.2) and refuses, in this order: a sips URI
// (480), an unsupported scheme (416, ADR-22), an unmappable From (400), a
// From the gateway does not represent (403), and
// a request whose target is not an XMPP user: the target is the
// Request-URI when its domain is an XMPP domain, else the To (§4.2 [D]);
// when neither is, an unmappable one gives 400, else 404.
func (e *Endpoint) addressCheck(s mapping.SIPMessage) (reply, bool) {
	ruri, rErr := mapping.URIToAddress(s.RequestURI)
	to, tErr := mapping.URIToAddress(s.To)
	from, fErr := mapping.URIToAddress(s.From)
	errs := [3]error{rErr, tErr, fErr}
	for _, err := range errs {
		if statusOf(err) == 480 {
			return e.sipsRefusal(err), false
		}
	}
	for _, err := range errs {
		if statusOf(err) == 416 {
			return refuse(416, "Unsupported URI Scheme", "unsupported URI scheme", err), false
		}
	}
	if fErr != nil {
		return refuse(400, "Bad Request", "unmappable From", fErr), false
	}
	// A sender the gateway may not represent on the XMPP side (a foreign
	// SIP domain under routes.foreign_sip: reject) is refused as a sender:
	// 403, not the 404 the mapping gives for an unserved domain (no open
	// relay, RFC 8048 §8.1).
	if _, err := e.mapper.JID(from); err != nil {
		if statusOf(err) == 404 {
			return refuse(403, "Forbidden", "sender domain not served", err), false
		}
		return refuse(400, "Bad Request", "unmappable From", err), false
	}
	switch {
	case rErr == nil && e.mapper.IsXMPPDomain(ruri.Domain):
	case tErr == nil && e.mapper.IsXMPPDomain(to.Domain):
	case rErr != nil:
		return refuse(400, "Bad Request", "unmappable Request-URI", rErr), false
	case tErr != nil:
		return refuse(400, "Bad Request", "unmappable To", tErr), false
	default:
		return refuse(404, "Not Found", "not an XMPP domain", nil), false
	}
	return reply{}, true
}

// statusOf returns the SIP status a mapping error asks for, or 0.
func statusOf(err error) int {
	var ce *cpim.Error
	if errors.As(err, &ce) {
		return ce.Status
	}
	return 0
}

// errorReply turns a mapping or Handler error into the response of RFC
// 7247 §7.1 (mapping.SIPStatus; toFullJID says whether the XMPP target had
// a resource): Retry-After when the error has a retry time (CMP-08), Accept
// on 415 (MSG-15), Contact with the new address on 3xx. Errors that are
// not *cpim.Error are 500.
func (e *Endpoint) errorReply(err error, toFullJID bool, why string) reply {
	var ce *cpim.Error
	if !errors.As(err, &ce) {
		r := refuse(500, "Server Internal Error", why, err)
		r.level = slog.LevelWarn
		return r
	}
	status := mapping.SIPStatus(ce, toFullJID)
	r := refuse(status, mapping.ReasonPhrase(ce, status), why, err)
	if status >= 500 {
		r.level = slog.LevelWarn
	}
	if ce.RetryAfter > 0 {
		secs := int64((ce.RetryAfter + time.Second - 1) / time.Second)
		r.headers = append(r.headers, sip.NewHeader("Retry-After", strconv.FormatInt(secs, 10)))
	}
	if status == 415 {
		r.headers = append(r.headers, acceptHeader())
	}
	if status >= 300 && status < 400 && ce.Alternate != "" {
		if c := e.contactFor(ce.Alternate); c != nil {
			r.headers = append(r.headers, c)
		}
	}
	return r
}

// contactFor returns a Contact header for the new address of a gone or
// redirect error: a SIP, im: or pres: URI as it is, a JID mapped to its URI
// (RFC 7247 §7.1 note 3). It returns nil when the address cannot be mapped.
func (e *Endpoint) contactFor(alt string) sip.Header {
	scheme, _, _ := strings.Cut(alt, ":")
	switch strings.ToLower(scheme) {
	case "sip", "sips", "im", "pres":
	default:
		j, err := jid.Parse(alt)
		if err != nil {
			return nil
		}
		a, err := e.mapper.Address(j)
		if err != nil {
			return nil
		}
		if alt, err = e.mapper.URI(a, mapping.ForMessage); err != nil {
			return nil
		}
	}
	var u sip.Uri
	if err := sip.ParseUri(alt, &u); err != nil {
		return nil
	}
	return &sip.ContactHeader{Address: u}
}

// acceptHeader lists the body types the endpoint accepts (RFC 3261 §8.2.3,
// §20.1; MSG-15).
func acceptHeader() sip.Header {
	return sip.NewHeader("Accept", strings.Join(mapping.AcceptedContentTypes, ", "))
}

// readMessage reads the fields of RFC 7572 §5 Table 2 from a MESSAGE,
// compact header forms included (RFC 3261 §7.3.3: s for Subject, c for
// Content-Type; sipgo finds only the typed ones by their compact names).
func readMessage(req *sip.Request) mapping.SIPMessage {
	s := mapping.SIPMessage{
		RequestURI:      req.Recipient.String(),
		Subject:         headerValue(req, "Subject", "s"),
		ContentLanguage: headerValue(req, "Content-Language", ""),
		Body:            req.Body(),
		TransactionID:   transactionID(req),
	}
	if f := req.From(); f != nil {
		s.From = f.Address.String()
		s.FromName = unquoteDisplayName(f.DisplayName)
	}
	if t := req.To(); t != nil {
		s.To = t.Address.String()
	}
	if c := req.CallID(); c != nil {
		s.CallID = c.Value()
	}
	if mf := req.MaxForwards(); mf != nil {
		s.MaxForwards = int(mf.Val())
	}
	if ct := req.ContentType(); ct != nil {
		s.ContentType = ct.Value()
	}
	return s
}

// headerValue returns the value of the first header named name or, when
// short is not empty, by its compact form.
func headerValue(req *sip.Request, name, short string) string {
	if h := req.GetHeader(name); h != nil {
		return h.Value()
	}
	if short != "" {
		if h := req.GetHeader(short); h != nil {
			return h.Value()
		}
	}
	return ""
}

// transactionID identifies the SIP transaction of req: the branch of the
// top Via when it has the RFC 3261 magic cookie (§8.1.1.7, unique per
// transaction), else Call-ID and CSeq number (RFC 2543 §17 matching).
func transactionID(req *sip.Request) string {
	if v := req.Via(); v != nil {
		if b, ok := v.Params.Get("branch"); ok && strings.HasPrefix(b, sip.RFC3261BranchMagicCookie) {
			return b
		}
	}
	var id strings.Builder
	if c := req.CallID(); c != nil {
		id.WriteString(c.Value())
	}
	if c := req.CSeq(); c != nil {
		id.WriteByte('-')
		id.WriteString(strconv.FormatUint(uint64(c.SeqNo), 10))
	}
	return id.String()
}

// allow is the Allow header value: the methods the endpoint serves (RFC
// 3261 §20.5), SUBSCRIBE and NOTIFY too with presence on.
func (e *Endpoint) allow() string {
	if e.cfg.Presence != nil {
		return allowPresence
	}
	return allowHeader
}

// onOptions answers OPTIONS with the capabilities of the endpoint
// (RFC 3261 §11.2): Allow, Accept and Accept-Encoding, and with presence
// on Allow-Events and PIDF among the accepted types (RFC 6665 §4.1.1,
// §4.4.4).
func (e *Endpoint) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	r, ok := requireCheck(req)
	if ok {
		headers := []sip.Header{sip.NewHeader("Allow", e.allow())}
		accept := mapping.AcceptedContentTypes
		if e.cfg.Presence != nil {
			headers = append(headers, sip.NewHeader("Allow-Events", eventPresence))
			accept = append(slices.Clip(accept), pidfType)
		}
		headers = append(headers, sip.NewHeader("Accept", strings.Join(accept, ", ")),
			sip.NewHeader("Accept-Encoding", "identity"))
		r = reply{status: 200, reason: "OK", why: "capabilities", level: slog.LevelDebug, headers: headers}
	}
	e.respond(req, tx, r)
}

// onOther answers every method the endpoint does not serve: 405 with Allow
// (RFC 3261 §8.2.1; ERR-10; sipgo's default 405 has none), 481 to a CANCEL
// that matches no transaction (§9.2), nothing to an ACK (§17.2.3).
func (e *Endpoint) onOther(req *sip.Request, tx sip.ServerTransaction) {
	switch {
	case req.IsAck():
		return
	case req.IsCancel():
		e.respond(req, tx, refuse(481, "Call/Transaction Does Not Exist", "CANCEL without transaction", nil))
	default:
		e.respond(req, tx, refuse(405, "Method Not Allowed", "method not allowed", nil,
			sip.NewHeader("Allow", e.allow())))
	}
}

// respond sends r as the final response to req and logs it. The response
// carries the request's Via, From, To (with a tag), Call-ID and CSeq
// (RFC 3261 §8.2.6), r's headers, Server when configured, and never a body
// or Contact on 2xx (RFC 3428 §7, MSG-08).
func (e *Endpoint) respond(req *sip.Request, tx sip.ServerTransaction, r reply) {
	res := sip.NewResponseFromRequest(req, r.status, r.reason, nil)
	for _, h := range r.headers {
		res.AppendHeader(h)
	}
	if e.cfg.UserAgent != "" {
		res.AppendHeader(sip.NewHeader("Server", e.cfg.UserAgent))
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs,
		slog.String("method", string(req.Method)),
		slog.Int("status", r.status),
		slog.String("src", req.Source()))
	if c := req.CallID(); c != nil {
		attrs = append(attrs, slog.String("call_id", c.Value()))
	}
	if f := req.From(); f != nil {
		attrs = append(attrs, slog.String("from", f.Address.String()))
	}
	if t := req.To(); t != nil {
		attrs = append(attrs, slog.String("to", t.Address.String()))
	}
	if r.err != nil {
		attrs = append(attrs, slog.String("err", r.err.Error()))
	}
	if err := tx.Respond(res); err != nil {
		attrs = append(attrs, slog.String("respond_err", err.Error()))
		r.level = slog.LevelWarn
	}
	e.log.LogAttrs(context.Background(), r.level, r.why, attrs...)
}
