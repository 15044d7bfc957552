package sipside

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"cpimgw/cpim"
	"cpimgw/store"

	"github.com/emiago/sipgo/sip"
)

// dialog is one RFC 6665 subscription dialog of either role (RFC 3261
// §12 dialog state plus the subscription): its identifiers, route set,
// remote target, CSeq sequences, state and expiry, and the timers and
// send queue that serve it. Every field but the store bookkeeping is
// guarded by subscriptions.mu. URIs and the route set are never modified
// in place (they are replaced), so a view may share them.
type dialog struct {
	role    store.Role
	pair    string       // pairKey of the direction, watcher and target
	watcher cpim.Address // bare
	target  cpim.Address // bare

	callID, localTag, remoteTag string
	localURI, remoteURI         sip.Uri // From and To of the gateway's requests, without tags
	routes                      []sip.Uri
	remoteTarget                sip.Uri // Host empty: not known yet
	eventID                     string

	localCSeq, cseqMark uint32 // cseqMark: the high-water mark in the store
	remoteCSeq          uint32
	remoteCSeqSet       bool

	state   cpim.SubState
	expires time.Time
	granted time.Duration // the last negotiated duration (refresh schedule)

	// The flow the subscriber's requests came in on (notifier, TCP/TLS):
	// NOTIFYs go back over it (LIBRARY-NOTES §1.2).
	transport, source string

	transient bool        // not registered nor stored: a fetch's NOTIFY
	timer     *time.Timer // notifier: expiry; subscriber: lapse

	// Notifier: the NOTIFY queue. next is the notification waiting to be
	// sent (a newer one replaces it: every NOTIFY carries full state,
	// RFC 3856 §6.8); sending says a goroutine sends; holding delays
	// sending until the 200 to the SUBSCRIBE is out; ended says a
	// terminated NOTIFY is queued or the dialog is gone.
	next                    *notifyJob
	sending, holding, ended bool

	// Subscriber.
	refresh, timerN      *time.Timer
	nAttempt             uint64 // the SUBSCRIBE Timer N runs for
	nInitial             bool   // whether that SUBSCRIBE was the dialog's first
	inflight             bool   // a SUBSCRIBE transaction is outstanding
	established          bool   // the remote tag is known
	routeFromNotify      bool   // the route set came from a NOTIFY (RFC 6665 §4.4.1)
	unsubscribing, fetch bool
	pendingUnsub         bool // Unsubscribe came before the dialog was established
	removed              bool // unregistered
	savedExpires         time.Time
	savedState           cpim.SubState
	savedTarget          string

	version  uint64     // snapshots taken for the store (subscriptions.mu)
	storeMu  sync.Mutex // orders the store writes of the dialog
	written  uint64     // newest snapshot written (storeMu)
	storedID string     // the id under which it is stored (storeMu)
	deleted  bool       // removed from the store (storeMu)
}

// id is the dialog id, in sipgo's form Call-ID, notifier tag, subscriber
// tag (LIBRARY-NOTES §1.6): DialogIDFromRequestUAS of an in-dialog
// SUBSCRIBE as notifier, DialogIDFromRequestUAC of a NOTIFY as subscriber.
func (d *dialog) id() string {
	if d.role == store.Notifier {
		return sip.DialogIDMake(d.callID, d.localTag, d.remoteTag)
	}
	return sip.DialogIDMake(d.callID, d.remoteTag, d.localTag)
}

// nextCSeq returns the CSeq of the next request of the dialog (RFC 3261
// §12.2.1.1: increasing by one) and whether the stored high-water mark
// must move (it is written cseqBlock ahead).
func (d *dialog) nextCSeq() (uint32, bool) {
	d.localCSeq = bump(d.localCSeq)
	return d.localCSeq, d.raiseMark()
}

// observeCSeq records a CSeq sipgo chose itself (a digest retry
// increments it, RFC 3261 §22.2); it reports whether the mark moved.
func (d *dialog) observeCSeq(n uint32) bool {
	if n <= d.localCSeq {
		return false
	}
	d.localCSeq = n
	return d.raiseMark()
}

func (d *dialog) raiseMark() bool {
	if d.localCSeq < d.cseqMark {
		return false
	}
	d.cseqMark = min(d.localCSeq+cseqBlock, maxCSeq)
	return true
}

// stopTimers stops every timer of d.
func (d *dialog) stopTimers() {
	for _, t := range []*time.Timer{d.timer, d.refresh, d.timerN} {
		if t != nil {
			t.Stop()
		}
	}
}

// record is the store form of d.
func (d *dialog) record() store.Dialog {
	r := store.Dialog{
		ID: d.id(), Role: d.role,
		Watcher: store.Key(d.watcher), Target: store.Key(d.target),
		CallID: d.callID, LocalTag: d.localTag, RemoteTag: d.remoteTag,
		LocalURI: d.localURI.String(), RemoteURI: d.remoteURI.String(),
		LocalCSeq: d.cseqMark, RemoteCSeq: d.remoteCSeq,
		State: d.state, Expires: d.expires,
		Event: eventPresence, EventID: d.eventID,
		Transport: d.transport, Source: d.source,
	}
	for i := range d.routes {
		r.RouteSet = append(r.RouteSet, d.routes[i].String())
	}
	if d.remoteTarget.Host != "" {
		r.Contact = d.remoteTarget.String()
	}
	if d.role == store.Notifier {
		r.Accept = []string{pidfType}
	}
	return r
}

// dialogFromRecord rebuilds a dialog from its store form. Its CSeq
// continues at the stored high-water mark.
func dialogFromRecord(r store.Dialog) (*dialog, error) {
	d := &dialog{
		role: r.Role, callID: r.CallID, localTag: r.LocalTag, remoteTag: r.RemoteTag,
		localCSeq: r.LocalCSeq, cseqMark: r.LocalCSeq,
		remoteCSeq: r.RemoteCSeq, remoteCSeqSet: r.RemoteCSeq > 0,
		state: r.State, expires: r.Expires, eventID: r.EventID,
		transport: r.Transport, source: r.Source,
		established: r.RemoteTag != "",
	}
	if r.Event != "" && r.Event != eventPresence {
		return nil, fmt.Errorf("sipside: event %q", r.Event)
	}
	var dir store.Direction
	switch r.Role {
	case store.Notifier:
		dir = store.S2X
		if r.RemoteTag == "" {
			return nil, errors.New("sipside: notifier dialog without remote tag")
		}
	case store.Subscriber:
		dir = store.X2S
	default:
		return nil, fmt.Errorf("sipside: role %q", r.Role)
	}
	var ok1, ok2 bool
	d.watcher, ok1 = addressOfKey(r.Watcher)
	d.target, ok2 = addressOfKey(r.Target)
	if !ok1 || !ok2 || r.CallID == "" || r.LocalTag == "" {
		return nil, fmt.Errorf("sipside: incomplete dialog %q", r.ID)
	}
	d.pair = pairKey(dir, d.watcher, d.target)
	if err := sip.ParseUri(r.LocalURI, &d.localURI); err != nil {
		return nil, fmt.Errorf("sipside: local URI %q: %w", r.LocalURI, err)
	}
	if err := sip.ParseUri(r.RemoteURI, &d.remoteURI); err != nil {
		return nil, fmt.Errorf("sipside: remote URI %q: %w", r.RemoteURI, err)
	}
	if r.Contact != "" {
		if err := sip.ParseUri(r.Contact, &d.remoteTarget); err != nil {
			return nil, fmt.Errorf("sipside: remote target %q: %w", r.Contact, err)
		}
	}
	for _, rs := range r.RouteSet {
		var u sip.Uri
		if err := sip.ParseUri(strings.Trim(rs, "<>"), &u); err != nil {
			return nil, fmt.Errorf("sipside: route %q: %w", rs, err)
		}
		d.routes = append(d.routes, u)
	}
	return d, nil
}

// dialogView is what building a request needs of a dialog, copied under
// the lock.
type dialogView struct {
	callID, localTag, remoteTag string
	localURI, remoteURI         sip.Uri
	routes                      []sip.Uri
	remoteTarget                sip.Uri
	eventID                     string
	transport, source           string
}

func (d *dialog) view() dialogView {
	return dialogView{
		callID: d.callID, localTag: d.localTag, remoteTag: d.remoteTag,
		localURI: d.localURI, remoteURI: d.remoteURI, routes: d.routes,
		remoteTarget: d.remoteTarget, eventID: d.eventID,
		transport: d.transport, source: d.source,
	}
}

// hasFlow says whether requests go back over the peer's connection: it
// came over TCP or TLS (a UDP peer is reached through the route set and
// remote target as RFC 3261 §12.2.1.1 says [D]).
func (v *dialogView) hasFlow() bool {
	return v.source != "" && (v.transport == "TCP" || v.transport == "TLS")
}

// newDialogRequest builds a fresh request in the dialog of v (RFC 3261
// §12.2.1.1; never reused, LIBRARY-NOTES §1.4): Request-URI the remote
// target (or, for a subscriber's first SUBSCRIBE, the target URI), Route
// the route set (a strict-routing first hop becomes the Request-URI and
// the remote target the last Route), From/To with the tags, the Call-ID,
// cseq, the gateway's Contact, Event with the dialog's id, Max-Forwards 70.
// With an empty route set the outbound proxy, if any, is the route [D]: a
// gateway behind a proxy cannot resolve its peers' Contacts itself. With
// flow, the request goes over the connection the peer's requests came in
// on (LIBRARY-NOTES §1.2).
func (e *Endpoint) newDialogRequest(method sip.RequestMethod, v *dialogView, cseq uint32, flow bool) *sip.Request {
	ruri := *v.remoteTarget.Clone()
	routes := v.routes
	if len(routes) == 0 && e.cfg.proxy != nil {
		routes = []sip.Uri{e.cfg.proxy.uri}
	}
	var dest string
	if len(routes) > 0 && !routes[0].UriParams.Has("lr") {
		// Strict routing (RFC 3261 §12.2.1.1): the first route is the
		// Request-URI, the remote target the last Route.
		first := routes[0]
		dest = hostPort(first)
		routes = append(append([]sip.Uri(nil), routes[1:]...), ruri)
		ruri = *first.Clone()
		ruri.Headers = nil
	}
	req := sip.NewRequest(method, ruri)
	var transport string
	switch {
	case flow:
		transport = v.transport
		req.SetDestination(v.source)
	case dest != "":
		transport = uriTransport(ruri)
		req.SetDestination(dest)
	case len(routes) > 0:
		transport = uriTransport(routes[0])
	default:
		transport = uriTransport(ruri)
	}
	req.SetTransport(transport)
	e.addVia(req, transport)
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	for i := range routes {
		req.AppendHeader(&sip.RouteHeader{Address: *routes[i].Clone()})
	}
	req.AppendHeader(&sip.FromHeader{Address: *v.localURI.Clone(), Params: sip.HeaderParams{{K: "tag", V: v.localTag}}})
	to := &sip.ToHeader{Address: *v.remoteURI.Clone()}
	if v.remoteTag != "" {
		to.Params = sip.HeaderParams{{K: "tag", V: v.remoteTag}}
	}
	req.AppendHeader(to)
	cid := sip.CallIDHeader(v.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	req.AppendHeader(&sip.ContactHeader{Address: e.contactURI(transport)})
	req.AppendHeader(sip.NewHeader("Event", eventValue(v.eventID)))
	if e.cfg.UserAgent != "" {
		req.AppendHeader(sip.NewHeader("User-Agent", e.cfg.UserAgent))
	}
	return req
}

// hostPort is the host:port a URI names, with the transport's default
// port when it has none.
func hostPort(u sip.Uri) string {
	if u.Port > 0 {
		return net.JoinHostPort(strings.Trim(u.Host, "[]"), fmt.Sprint(u.Port))
	}
	return net.JoinHostPort(strings.Trim(u.Host, "[]"), fmt.Sprint(sip.DefaultPort(uriTransport(u))))
}

// addVia adds the gateway's Via for transport, with a fresh branch, and
// makes a UDP request leave from the first UDP listener so that its
// responses come back there (LIBRARY-NOTES §1.2).
func (e *Endpoint) addVia(req *sip.Request, transport string) {
	via := &sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       transport,
		Host:            e.cfg.Hostname,
		Port:            e.listenPort(transport),
		Params:          sip.HeaderParams{{K: "branch", V: newBranch()}},
	}
	if via.Host == "" {
		via.Host = e.cfg.contactHost
	}
	if transport == "UDP" {
		if src := e.udpSource(); src.IP != nil {
			req.Laddr = src
			if via.Host == "" && !src.IP.IsUnspecified() {
				via.Host = src.IP.String()
			}
		}
	}
	req.AppendHeader(via)
}

// contactURI is the gateway's Contact for requests and 2xx responses sent
// over transport: ContactHost, else Hostname, with the port of the
// transport's listener (a transport the gateway does not listen on is
// replaced by one it does), and transport=tcp or tls when not UDP.
func (e *Endpoint) contactURI(transport string) sip.Uri {
	tp := transport
	if e.listenPort(tp) == 0 {
		for _, t := range []string{"UDP", "TCP", "TLS"} {
			if e.listenPort(t) != 0 {
				tp = t
				break
			}
		}
	}
	host, port := e.cfg.contactHost, e.cfg.contactPort
	if host == "" {
		host = e.cfg.Hostname
	}
	if host == "" {
		if src := e.udpSource(); src.IP != nil {
			host = src.IP.String()
		}
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	if port == 0 {
		port = e.listenPort(tp)
	}
	u := sip.Uri{Scheme: "sip", Host: host, Port: port}
	if tp != "UDP" {
		u.UriParams = sip.HeaderParams{{K: "transport", V: strings.ToLower(tp)}}
	}
	return u
}

// exchange runs one in-dialog transaction: it takes the next CSeq of d,
// builds the request (decorate adds the method's headers and body), sends
// it over the peer's flow when there is one, and answers a 401/407 with
// the configured credentials (RFC 3261 §22.2). When the flow is gone (a
// restart, the peer closed it) the request is sent again, with the next
// CSeq, through the route set and remote target, and the flow is
// forgotten. It returns the final response.
func (e *Endpoint) exchange(ctx context.Context, d *dialog, method sip.RequestMethod, decorate func(*sip.Request)) (*sip.Response, error) {
	s := e.subs
	useFlow := true
	for {
		s.mu.Lock()
		cseq, moved := d.nextCSeq()
		v := d.view()
		s.mu.Unlock()
		if moved {
			s.persist(d)
		}
		flow := useFlow && v.hasFlow()
		req := e.newDialogRequest(method, &v, cseq, flow)
		decorate(req)
		res, err := e.send(ctx, req)
		if err != nil && flow && ctx.Err() == nil && !errors.Is(err, sip.ErrTransactionTimeout) && !errors.As(err, new(*cpim.Error)) {
			e.log.Info("flow gone, routing in-dialog request", "method", string(method), "call_id", v.callID, "src", v.source, "err", err)
			s.mu.Lock()
			if d.source == v.source {
				d.transport, d.source = "", ""
			}
			s.mu.Unlock()
			s.persist(d)
			useFlow = false
			continue
		}
		log := e.log.With("method", string(method), "call_id", v.callID)
		return e.challenged(ctx, log, req, res, err, func(seq uint32) {
			s.mu.Lock()
			moved := d.observeCSeq(seq)
			s.mu.Unlock()
			if moved {
				s.persist(d)
			}
		})
	}
}

// routeSet reads the Record-Route headers of m in order (RFC 3261
// §12.1.1: the route set of a UAS); reversed gives a UAC's (§12.1.2).
func routeSet(m sip.Message, reversed bool) []sip.Uri {
	type headered interface {
		GetHeaders(name string) []sip.Header
	}
	var out []sip.Uri
	for _, h := range m.(headered).GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			out = append(out, *rr.Address.Clone())
		}
	}
	if reversed {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

// contactOf returns the first Contact URI of m (the remote target, RFC
// 3261 §12.1), or false.
func contactOf(m sip.Message) (sip.Uri, bool) {
	type contacted interface{ Contact() *sip.ContactHeader }
	c := m.(contacted).Contact()
	if c == nil || c.Address.Wildcard || c.Address.Host == "" {
		return sip.Uri{}, false
	}
	return *c.Address.Clone(), true
}

// dialogEnding reports whether a failure response to a request in a
// subscription ends it (RFC 6665 §4.1.2.2 for SUBSCRIBE, §4.2.2 for
// NOTIFY; SUB-22, SUB-23): 404, 405, 410, 416, 480–485, 489, 501, 604.
func dialogEnding(status int) bool {
	switch status {
	case 404, 405, 410, 416, 489, 501, 604:
		return true
	}
	return status >= 480 && status <= 485
}

// failureOf is the error of a transaction that ended without success: the
// mapped failure response (RFC 7247 §7.2), or remote-server-timeout (408)
// when there was no final response.
func failureOf(res *sip.Response, err error) *cpim.Error {
	if err != nil {
		var ce *cpim.Error
		if errors.As(err, &ce) {
			return ce
		}
		return timeoutError(err)
	}
	var ce *cpim.Error
	if errors.As(resultOf(res), &ce) {
		return ce
	}
	return &cpim.Error{Condition: cpim.UndefinedCondition, Status: res.StatusCode}
}
