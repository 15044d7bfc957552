package sipside

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"cpimgw/cpim"
	"cpimgw/mapping"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// SendMessage sends m from an XMPP user to a SIP user as a MESSAGE request
// (X2S; RFC 7572 §4, RFC 3428) and waits for its final response. It returns
// nil on any 2xx (202 included: the next hop took the message, which is all
// SIP can say), and a *cpim.Error otherwise:
//
//   - the mapping's error when m cannot be expressed in SIP (an unmappable
//     address is jid-malformed, ADR-21);
//   - the RFC 7247 §7.2 mapping of a failure response (mapping.ErrorFromSIP,
//     with its Reason-Phrase, Retry-After and, for 3xx, Contact);
//   - remote-server-timeout (Status 408) when no final response came within
//     Config.TransactionTimeout, on a transport error, or when ctx ended;
//   - policy-violation when the request is over Config.MaxUDPSize for a UDP
//     next hop and cannot go over TCP (MSG-07), or its body over
//     Config.MaxMessageSize;
//   - resource-constraint when too many messages wait for the same
//     destination; service-unavailable once the Endpoint has stopped.
//
// Requests to one destination URI are sent one at a time, in call order
// (RFC 3428 §8, MSG-09): SendMessage waits for the previous one's final
// response. Requests to different destinations go in parallel.
func (e *Endpoint) SendMessage(ctx context.Context, m cpim.Message) error {
	if e.life.Err() != nil {
		return &cpim.Error{Condition: cpim.ServiceUnavailable, Cause: errors.New("sipside: endpoint stopped")}
	}
	s, err := e.mapper.MessageToSIP(m, mapping.SIPOptions{WrapCPIM: e.cfg.WrapCPIM, MaxSize: e.cfg.MaxMessageSize, Now: time.Now})
	if err != nil {
		var ce *cpim.Error
		if errors.As(err, &ce) {
			return err
		}
		return &cpim.Error{Condition: cpim.BadRequest, Cause: err}
	}
	log := e.log.With("method", "MESSAGE", "from", s.From, "to", s.RequestURI, "stanza_id", s.TransactionID)

	ctx, done, err := e.transaction(ctx, log, e.queues, s.RequestURI)
	if err != nil {
		return err
	}
	defer done()

	req, callID, err := e.buildRequest(s)
	if err != nil {
		log.Warn("cannot build request", "err", err)
		return err
	}
	log = log.With("call_id", callID)
	res, err := e.send(ctx, req)
	res, err = e.challenged(ctx, log, req, res, err, func(seq uint32) {
		if s.CallID == callID {
			e.cseq.observe(callID, seq)
		}
	})
	if err != nil {
		log.Info("no final response", "status", 0, "err", err)
		var ce *cpim.Error
		if errors.As(err, &ce) {
			return err
		}
		return timeoutError(err)
	}
	log.Info("final response", "status", res.StatusCode, "reason", res.Reason)
	return resultOf(res)
}

// resultOf maps a final response: 2xx is success, anything else the
// error of RFC 7247 §7.2 Table 3.
func resultOf(res *sip.Response) error {
	if res.StatusCode < 300 {
		return nil
	}
	contact := ""
	if c := res.Contact(); c != nil {
		contact = c.Address.String()
	}
	if ce := mapping.ErrorFromSIP(res.StatusCode, res.Reason, retryAfter(res), contact); ce != nil {
		return ce
	}
	return &cpim.Error{Condition: cpim.UndefinedCondition, Status: res.StatusCode, Text: res.Reason}
}

// retryAfter reads the delta-seconds of a Retry-After header (RFC 3261
// §20.33), ignoring its comment and parameters; 0 when absent or invalid.
func retryAfter(res *sip.Response) time.Duration {
	h := res.GetHeader("Retry-After")
	if h == nil {
		return 0
	}
	v := strings.TrimSpace(h.Value())
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	n, err := strconv.ParseUint(v[:end], 10, 32)
	if err != nil {
		return 0
	}
	return time.Duration(n) * time.Second
}

// isTransactionError reports whether err ended a transaction (ctx,
// transport, timer) rather than preceding one.
func isTransactionError(ctx context.Context, err error) bool {
	var ce *cpim.Error
	return ctx.Err() != nil || errors.As(err, &ce) ||
		errors.Is(err, sip.ErrTransactionTransport) || errors.Is(err, sip.ErrTransactionTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// timeoutError is the error for a transaction without final response
// (RFC 7247 §7.2: 408 is remote-server-timeout).
func timeoutError(cause error) *cpim.Error {
	return &cpim.Error{Condition: cpim.RemoteServerTimeout, Status: 408, Cause: cause}
}

// tooLarge is the error for a request that may not go over UDP and cannot
// go over TCP (RFC 7572 §6, MSG-07).
func tooLarge(size, limit int, cause error) *cpim.Error {
	return &cpim.Error{
		Condition: cpim.PolicyViolation,
		Text:      "message too large for the SIP network",
		Cause:     fmt.Errorf("sipside: request of %d bytes exceeds the UDP limit of %d: %w", size, limit, cause),
	}
}

// errNoTCPFallback is the cause of a refusal with TCPFallback off.
var errNoTCPFallback = errors.New("sipside: TCP fallback disabled")

// prebuilt tells sipgo the request is complete: with any option given,
// sipgo adds no header of its own (LIBRARY-NOTES §1.4).
func prebuilt(*sipgo.Client, *sip.Request) error { return nil }

// send runs one client transaction for req. A request over MaxUDPSize for a
// UDP next hop goes over TCP to the same host and port instead (RFC 3261
// §18.1.1; sipgo would fail it with ErrUDPMTUCongestion, LIBRARY-NOTES
// §1.10), or is refused when TCPFallback is off or TCP fails.
func (e *Endpoint) send(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	size, fellBack := 0, false
	if req.Transport() == "UDP" {
		size = wireSize(req)
		if size > e.cfg.MaxUDPSize {
			if !e.cfg.tcpFallback {
				return nil, tooLarge(size, e.cfg.MaxUDPSize, errNoTCPFallback)
			}
			e.toTCP(req)
			fellBack = true
		}
	}
	res, err := e.cli.Do(ctx, req, prebuilt)
	if err != nil && !fellBack && errors.Is(err, sip.ErrUDPMTUCongestion) {
		// sipgo's own limit (sip.UDPMTUSize) is below MaxUDPSize.
		if !e.cfg.tcpFallback {
			return nil, tooLarge(wireSize(req), e.cfg.MaxUDPSize, err)
		}
		e.toTCP(req)
		fellBack = true
		res, err = e.cli.Do(ctx, req, prebuilt)
	}
	if err != nil && fellBack && ctx.Err() == nil {
		return nil, tooLarge(size, e.cfg.MaxUDPSize, err)
	}
	return res, err
}

// authenticate answers a 401/407 challenge once with the configured
// credentials (RFC 3261 §22.2): sipgo's DoDigestAuth adds the
// Authorization or Proxy-Authorization header, increments CSeq and sends
// it in a new transaction (new branch). A second challenge is returned as
// the final response.
// challenged answers a 401/407 to req with the configured credentials
// (RFC 3261 §22.2), if any, and returns the final response to the
// authenticated request, or the transaction's failure. A challenge that
// cannot be answered (no or unreadable WWW-Authenticate) is itself the
// final response, logged on log. observe learns the CSeq the
// authenticated request used, for the caller's CSeq bookkeeping. Any other
// res and err are returned as they are.
func (e *Endpoint) challenged(ctx context.Context, log *slog.Logger, req *sip.Request, res *sip.Response, err error, observe func(cseq uint32)) (*sip.Response, error) {
	if err != nil || (res.StatusCode != 401 && res.StatusCode != 407) || e.cfg.Username == "" {
		return res, err
	}
	r, aerr := e.authenticate(ctx, req, res)
	observe(req.CSeq().SeqNo)
	switch {
	case aerr == nil:
		return r, nil
	case isTransactionError(ctx, aerr):
		return res, aerr
	default:
		log.Warn("cannot answer the challenge", "status", res.StatusCode, "err", aerr)
		return res, nil
	}
}

func (e *Endpoint) authenticate(ctx context.Context, req *sip.Request, res *sip.Response) (*sip.Response, error) {
	auth := sipgo.DigestAuth{Username: e.cfg.Username, Password: e.cfg.Password}
	r, err := e.cli.DoDigestAuth(ctx, req, res, auth)
	if err != nil && errors.Is(err, sip.ErrUDPMTUCongestion) {
		// The credentials pushed the request over sipgo's UDP limit.
		if !e.cfg.tcpFallback {
			return nil, tooLarge(wireSize(req), e.cfg.MaxUDPSize, err)
		}
		e.toTCP(req)
		r, err = e.cli.DoDigestAuth(ctx, req, res, auth)
		if err != nil && ctx.Err() == nil {
			return nil, tooLarge(wireSize(req), e.cfg.MaxUDPSize, err)
		}
	}
	return r, err
}

// toTCP moves req from UDP to TCP to the same next hop, changing the top Via
// as RFC 3261 §18.1.1 requires, with a new branch: the UDP attempt was
// never sent, but the new request is a new transaction for sipgo.
func (e *Endpoint) toTCP(req *sip.Request) {
	req.SetTransport("TCP")
	req.Laddr = sip.Addr{}
	if v := req.Via(); v != nil {
		v.Transport = "TCP"
		v.Port = e.listenPort("TCP")
		v.Params.Add("branch", newBranch())
	}
}

// bufPool holds the buffers wireSize serialises requests into.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// wireSize returns the size of req as it goes on the wire.
func wireSize(req *sip.Request) int {
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	req.StringWrite(b)
	n := b.Len()
	bufPool.Put(b)
	return n
}

// buildRequest builds a fresh MESSAGE request for s (RFC 7572 §4 Table 1,
// RFC 3428 §4), never reusing one (LIBRARY-NOTES §1.4). It returns the
// request and its Call-ID. Every value that came from XMPP is sanitised:
// the display name (PRECIS Nickname, quoted-pair escaping) and the
// generic headers (no CR, LF or controls).
func (e *Endpoint) buildRequest(s mapping.SIPMessage) (*sip.Request, string, error) {
	var ruri, from, to sip.Uri
	if err := sip.ParseUri(s.RequestURI, &ruri); err != nil {
		return nil, "", internalError("Request-URI %q: %w", s.RequestURI, err)
	}
	if err := sip.ParseUri(s.From, &from); err != nil {
		return nil, "", internalError("From %q: %w", s.From, err)
	}
	to = ruri
	if s.To != "" && s.To != s.RequestURI {
		if err := sip.ParseUri(s.To, &to); err != nil {
			return nil, "", internalError("To %q: %w", s.To, err)
		}
	}
	transport := "UDP"
	switch {
	case e.cfg.proxy != nil:
		transport = e.cfg.proxy.transport
	case ruri.Scheme != "sip" && ruri.Scheme != "sips":
		// RFC 3428 §5: an im: URI must be resolved to a SIP URI first; with
		// no proxy to do it, the destination cannot be reached.
		return nil, "", &cpim.Error{Condition: cpim.RemoteServerNotFound,
			Cause: fmt.Errorf("sipside: %s: no outbound proxy to resolve a %s: URI", s.RequestURI, ruri.Scheme)}
	default:
		transport = uriTransport(ruri)
	}

	req := sip.NewRequest(sip.MESSAGE, ruri)
	req.SetTransport(transport)
	e.addVia(req, transport)
	mf := sip.MaxForwardsHeader(70)
	if s.MaxForwards > 0 && s.MaxForwards < 70 {
		mf = sip.MaxForwardsHeader(s.MaxForwards)
	}
	req.AppendHeader(&mf)
	if e.cfg.proxy != nil {
		req.AppendHeader(&sip.RouteHeader{Address: e.cfg.proxy.uri})
	}
	fh := &sip.FromHeader{DisplayName: displayName(s.FromName), Address: from,
		Params: sip.HeaderParams{{K: "tag", V: newTag()}}}
	req.AppendHeader(fh)
	req.AppendHeader(&sip.ToHeader{Address: to})

	callID := s.CallID
	cseq := uint32(1)
	if isWord(callID) {
		cseq = e.cseq.next(callID)
	} else {
		// No thread (or, defensively, one the mapping left unusable): a
		// fresh Call-ID, used once.
		callID = newCallID()
	}
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.MESSAGE})
	if e.cfg.UserAgent != "" {
		req.AppendHeader(sip.NewHeader("User-Agent", e.cfg.UserAgent))
	}
	if v := cleanHeaderValue(s.Subject); v != "" {
		req.AppendHeader(sip.NewHeader("Subject", v))
	}
	if len(s.Body) > 0 {
		ct := sip.ContentTypeHeader(cleanHeaderValue(s.ContentType))
		if ct == "" {
			ct = "text/plain;charset=UTF-8" // MSG-14: a body needs a type
		}
		req.AppendHeader(&ct)
	}
	if v := cleanHeaderValue(s.ContentLanguage); v != "" {
		req.AppendHeader(sip.NewHeader("Content-Language", v))
	}
	req.SetBody(s.Body)
	return req, callID, nil
}

// internalError reports a mapping result sipgo cannot parse: a bug, not a
// user error.
func internalError(format string, args ...any) *cpim.Error {
	return &cpim.Error{Condition: cpim.InternalServerError, Cause: fmt.Errorf("sipside: "+format, args...)}
}

// newTag returns a From tag with 130 bits of randomness (RFC 3261 §19.3
// asks for at least 32, cryptographically random).
func newTag() string { return rand.Text() }

// newCallID returns a fresh Call-ID (RFC 3261 §8.1.1.4).
func newCallID() string { return rand.Text() }

// newBranch returns a Via branch with the RFC 3261 magic cookie
// (§8.1.1.7).
func newBranch() string { return sip.RFC3261BranchMagicCookie + "." + rand.Text() }
