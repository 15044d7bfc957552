package sipside

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"cpimgw/cpim"
	"cpimgw/mapping"

	"github.com/emiago/sipgo/sip"
)

// PUBLISH mode (RFC 3903, INTERWORKING.md §3.8): the gateway is the event
// publication agent of its XMPP users toward a SIP presence server.

// publication is the state of one presentity's publication: the entity
// tag of its last 2xx (RFC 3903 §4.1), the last body (a 412 is answered
// with an initial PUBLISH of it, §5) and its refresh timer. One Call-ID
// and From tag serve all its PUBLISHes, with increasing CSeq. Guarded by
// subscriptions.mu.
type publication struct {
	uri        string // the Request-URI, also the key
	ruri       sip.Uri
	presentity cpim.Address
	callID     string
	fromTag    string
	cseq       uint32
	etag       string
	body       []byte
	lang       string
	expires    time.Time
	refresh    *time.Timer
}

// pubOp is the operation of RFC 3903 §4 Table 1 a PUBLISH performs.
type pubOp int

const (
	pubInitial pubOp = iota // body, no SIP-If-Match, Expires > 0
	pubRefresh              // no body, SIP-If-Match, Expires > 0
	pubModify               // body, SIP-If-Match, Expires > 0
	pubRemove               // no body, SIP-If-Match, Expires 0
)

func (o pubOp) String() string { return [...]string{"initial", "refresh", "modify", "remove"}[o] }

// Publish publishes the presence of presentity (an XMPP user) to the SIP
// presence server as PIDF (PUBLISH mode, RFC 3903, INTERWORKING.md §3.8):
// an initial PUBLISH (body, no SIP-If-Match) when the gateway holds no
// entity tag for it, else a modify (body and SIP-If-Match); nil p removes
// the publication (Expires: 0, SIP-If-Match, no body; nothing to do
// without an entity tag). The SIP-ETag of every 2xx is kept (MUST), and the
// publication is refreshed at 80 % of the granted Expires (no body,
// SIP-If-Match). A 412 makes the gateway forget the entity tag and publish
// anew once (MUST NOT retry the same request); a 423 is retried once with
// the Min-Expires; 401/407 are answered with the credentials. PUBLISHes to
// one Request-URI go one at a time (RFC 3903 §4 MUST). It returns nil on a
// 2xx, else the mapped failure (RFC 7247 §7.2) or remote-server-timeout.
// Entity tags are not stored: after a restart the first PUBLISH is an
// initial one and the old publication expires at the server.
func (e *Endpoint) Publish(ctx context.Context, presentity cpim.Address, p *cpim.Presence) error {
	if err := e.presenceReady(); err != nil {
		return err
	}
	a := presentity.Bare()
	uri, err := e.mapper.URI(a, mapping.ForPresence)
	if err != nil {
		return err
	}
	body, lang, err := e.pidfBody(p, a)
	if err != nil {
		return &cpim.Error{Condition: cpim.BadRequest, Cause: fmt.Errorf("sipside: Publish: %w", err)}
	}
	ctx, done, err := e.transaction(ctx, e.log.With("method", "PUBLISH", "to", uri), e.subs.pubQueues, uri)
	if err != nil {
		return err
	}
	defer done()

	pb, err := e.publicationOf(uri, a, p != nil)
	if err != nil || pb == nil {
		return err
	}
	if p == nil {
		return e.publishOnce(ctx, pb, pubRemove, nil, "")
	}
	op := pubInitial
	e.subs.mu.Lock()
	if pb.etag != "" {
		op = pubModify
	}
	e.subs.mu.Unlock()
	return e.publishOnce(ctx, pb, op, body, lang)
}

// publicationOf returns the publication of uri, creating it when create
// is set; nil when there is none to remove.
func (e *Endpoint) publicationOf(uri string, a cpim.Address, create bool) (*publication, error) {
	s := e.subs
	s.mu.Lock()
	defer s.mu.Unlock()
	if pb := s.pubs[uri]; pb != nil || !create {
		return pb, nil
	}
	pb := &publication{uri: uri, presentity: a, callID: newCallID(), fromTag: newTag()}
	if err := sip.ParseUri(uri, &pb.ruri); err != nil {
		return nil, internalError("presentity URI %q: %w", uri, err)
	}
	if sc := pb.ruri.Scheme; sc != "sip" && sc != "sips" && e.cfg.proxy == nil {
		return nil, &cpim.Error{Condition: cpim.RemoteServerNotFound,
			Cause: fmt.Errorf("sipside: %s: no outbound proxy to resolve a %s: URI", uri, sc)}
	}
	s.pubs[uri] = pb
	return pb, nil
}

// publishOnce performs op on pb with its retries (412 → initial, 423 →
// Min-Expires, once each), holding pb's destination turn.
func (e *Endpoint) publishOnce(ctx context.Context, pb *publication, op pubOp, body []byte, lang string) error {
	s := e.subs
	expires := uint32(e.cfg.PublishExpires / time.Second)
	retried412, retried423 := false, false
	for {
		s.mu.Lock()
		etag := pb.etag
		if op == pubRefresh || op == pubRemove {
			body, lang = nil, ""
		}
		if op == pubRemove {
			expires = 0
		}
		s.mu.Unlock()
		if (op == pubRefresh || op == pubRemove || op == pubModify) && etag == "" {
			if op != pubModify {
				s.dropPublication(pb)
				return nil // nothing published: nothing to refresh or remove
			}
			op = pubInitial
		}
		if op == pubInitial {
			etag = "" // RFC 3903 §4.2: an initial PUBLISH MUST NOT carry SIP-If-Match
		}
		res, err := e.sendPublish(ctx, pb, etag, body, lang, expires)
		attrs := []any{"method", "PUBLISH", "op", op.String(), "to", pb.uri, "call_id", pb.callID}
		if err != nil {
			e.log.Info("PUBLISH without final response", append(attrs, "err", err)...)
			var ce *cpim.Error
			if errors.As(err, &ce) {
				return err
			}
			return timeoutError(err)
		}
		e.log.Info("PUBLISH final response", append(attrs, "status", res.StatusCode)...)
		switch {
		case res.StatusCode < 300:
			s.published(pb, op, res, expires, body, lang)
			return nil
		case (res.StatusCode == 412 || res.StatusCode == 500) && etag != "" && !retried412:
			// RFC 3903 §5: discard the entity tag; MUST NOT retry the same
			// request; publish anew. Kamailio 5.6 answers an entity tag it
			// does not know with 500 instead of 412 (measured, see
			// internal/peers/kamailio.go), so a 500 to a conditional
			// PUBLISH is taken the same way: one fresh initial PUBLISH.
			retried412 = true
			s.mu.Lock()
			pb.etag = ""
			if op == pubRefresh {
				body, lang = pb.body, pb.lang
			}
			s.mu.Unlock()
			if op == pubRemove || body == nil {
				s.dropPublication(pb)
				return nil
			}
			op = pubInitial
			continue
		case res.StatusCode == 423 && !retried423 && expires > 0:
			if m, present, ok := expiresOf(res, "Min-Expires"); present && ok && m > expires {
				expires, retried423 = m, true
				continue
			}
		}
		s.mu.Lock()
		noTag := pb.etag == ""
		s.mu.Unlock()
		if op == pubRemove || noTag {
			s.dropPublication(pb)
		}
		return failureOf(res, nil)
	}
}

// published records a 2xx to a PUBLISH: its SIP-ETag (RFC 3903 §4.1
// MUST), the granted Expires (at most what was asked) and, for a body,
// the state; a remove drops the publication.
func (s *subscriptions) published(pb *publication, op pubOp, res *sip.Response, requested uint32, body []byte, lang string) {
	if op == pubRemove {
		s.dropPublication(pb)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pb.etag = ""
	if h := res.GetHeader("SIP-ETag"); h != nil {
		pb.etag = cleanHeaderValue(h.Value())
	}
	if pb.etag == "" {
		s.e.log.Warn("2xx to PUBLISH without SIP-ETag", "to", pb.uri)
	}
	if body != nil {
		pb.body, pb.lang = body, lang
	}
	granted, present, ok := expiresOf(res, "Expires")
	if !present || !ok || granted > requested {
		granted = requested
	}
	d := time.Duration(granted) * time.Second
	pb.expires = time.Now().Add(d)
	if pb.etag == "" || granted == 0 {
		return
	}
	delay := time.Duration(float64(d) * refreshShare)
	if pb.refresh == nil {
		pb.refresh = time.AfterFunc(delay, func() { s.refreshPublication(pb) })
	} else {
		pb.refresh.Reset(delay)
	}
}

// dropPublication forgets pb.
func (s *subscriptions) dropPublication(pb *publication) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pb.refresh != nil {
		pb.refresh.Stop()
	}
	pb.etag = ""
	if s.pubs[pb.uri] == pb {
		delete(s.pubs, pb.uri)
	}
}

// refreshPublication refreshes pb before it expires (RFC 3903 §4.3). When
// the refresh fails but time is left, it is tried again halfway to the
// expiry.
func (s *subscriptions) refreshPublication(pb *publication) {
	e := s.e
	if !e.enterBG() {
		return
	}
	defer s.wg.Done()
	s.mu.Lock()
	current := s.pubs[pb.uri] == pb && pb.etag != ""
	s.mu.Unlock()
	if !current {
		return
	}
	ctx, cancel := context.WithTimeout(e.life, e.cfg.TransactionTimeout)
	defer cancel()
	release, err := s.pubQueues.acquire(ctx, pb.uri)
	if err != nil {
		return
	}
	defer release()
	if err := e.publishOnce(ctx, pb, pubRefresh, nil, ""); err != nil && e.life.Err() == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		if rest := time.Until(pb.expires); rest > 2*time.Second && s.pubs[pb.uri] == pb && pb.refresh != nil {
			pb.refresh.Reset(rest / 2)
		}
	}
}

// sendPublish sends one PUBLISH of pb (RFC 3903 §4): to the presentity's
// URI through the outbound proxy, From and To the presentity, exactly one
// Event header (§4.1 MUST), Expires, SIP-If-Match when etag is set, the
// body as application/pidf+xml.
func (e *Endpoint) sendPublish(ctx context.Context, pb *publication, etag string, body []byte, lang string, expires uint32) (*sip.Response, error) {
	s := e.subs
	s.mu.Lock()
	pb.cseq = bump(pb.cseq)
	cseq := pb.cseq
	s.mu.Unlock()

	req := sip.NewRequest(sip.PUBLISH, *pb.ruri.Clone())
	transport := uriTransport(pb.ruri)
	if e.cfg.proxy != nil {
		transport = e.cfg.proxy.transport
	}
	req.SetTransport(transport)
	e.addVia(req, transport)
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	if e.cfg.proxy != nil {
		req.AppendHeader(&sip.RouteHeader{Address: *e.cfg.proxy.uri.Clone()})
	}
	req.AppendHeader(&sip.FromHeader{Address: *pb.ruri.Clone(), Params: sip.HeaderParams{{K: "tag", V: pb.fromTag}}})
	req.AppendHeader(&sip.ToHeader{Address: *pb.ruri.Clone()})
	cid := sip.CallIDHeader(pb.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.PUBLISH})
	req.AppendHeader(sip.NewHeader("Event", eventPresence))
	req.AppendHeader(sip.NewHeader("Expires", strconv.FormatUint(uint64(expires), 10)))
	if etag != "" {
		req.AppendHeader(sip.NewHeader("SIP-If-Match", etag))
	}
	if e.cfg.UserAgent != "" {
		req.AppendHeader(sip.NewHeader("User-Agent", e.cfg.UserAgent))
	}
	if len(body) > 0 {
		ct := sip.ContentTypeHeader(pidfType)
		req.AppendHeader(&ct)
		if lang != "" {
			req.AppendHeader(sip.NewHeader("Content-Language", lang))
		}
	}
	req.SetBody(body)
	res, err := e.send(ctx, req)
	return e.challenged(ctx, e.log.With("method", "PUBLISH"), req, res, err, func(seq uint32) {
		s.mu.Lock()
		pb.cseq = max(pb.cseq, seq)
		s.mu.Unlock()
	})
}
