package xmppside

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"cpimgw/cpim"
	"cpimgw/mapping"
)

// Config configures the component link. Zero durations and counts take the
// defaults documented on each field.
type Config struct {
	// Domain is the component's domain, served by the gateway (for example
	// "sip.example.test"). Every stanza it sends is from this domain.
	Domain string
	// Server is the XMPP server's component port, host:port.
	Server string
	// Secret is the shared secret of the XEP-0114 handshake.
	Secret string
	// TLS, when set, wraps the connection in TLS (a TLS component port:
	// XEP-0114 has no STARTTLS).
	TLS *tls.Config
	// Dial replaces the TCP dialler (tests use in-memory pipes).
	Dial func(ctx context.Context) (net.Conn, error)

	// HandshakeTimeout bounds dialling plus the handshake (default 10s).
	HandshakeTimeout time.Duration
	// WriteTimeout bounds every write to the server (default 10s); a write
	// that takes longer tears the link down.
	WriteTimeout time.Duration
	// BackoffMin and BackoffMax bound the reconnect delay, which doubles
	// per failed attempt with full jitter (defaults 500ms and 30s).
	BackoffMin, BackoffMax time.Duration
	// KeepAlive is the TCP keepalive period (default 15s).
	KeepAlive time.Duration
	// PingInterval is how often the link is checked with an XEP-0199 ping
	// (default 30s; negative disables); PingTimeout is how long an answer
	// may take before the link counts as dead (default 10s).
	PingInterval, PingTimeout time.Duration
	// PingTo is the address pinged: an XMPP server domain (default: the
	// component's parent domain).
	PingTo string
	// Workers is the number of message workers (default 16); QueueDepth
	// the messages each may hold waiting (default 256).
	Workers, QueueDepth int
	// MaxPending bounds the messages from SIP waiting to be written to the
	// stream (default 1024); beyond it SendMessage refuses at once with a
	// retry time (the SIP side answers 503 + Retry-After) instead of
	// letting senders pile up.
	MaxPending int
	// DrainTimeout bounds the work still queued at shutdown (default 5s).
	DrainTimeout time.Duration
	// RetryAfter is the retry time senders are told while the link is down
	// (default 5s).
	RetryAfter time.Duration
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.HandshakeTimeout, 10*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.BackoffMin, 500*time.Millisecond)
	def(&c.BackoffMax, 30*time.Second)
	def(&c.KeepAlive, 15*time.Second)
	def(&c.PingInterval, 30*time.Second)
	def(&c.PingTimeout, 10*time.Second)
	def(&c.DrainTimeout, 5*time.Second)
	def(&c.RetryAfter, 5*time.Second)
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.QueueDepth <= 0 {
		c.QueueDepth = 256
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 1024
	}
	if c.PingTo == "" {
		if _, parent, ok := cut(c.Domain, '.'); ok && parent != "" {
			c.PingTo = parent
		} else {
			c.PingTo = c.Domain
		}
	}
}

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// Handler receives what XMPP users send to SIP users. It is called from a
// worker goroutine, in order for each conversation, never from the stream's
// reading goroutine, so it may block (for example until a SIP final
// response). A non-nil error is returned to the sender as a stanza error:
// a *cpim.Error keeps its condition; any other error becomes
// internal-server-error.
type Handler interface {
	Message(ctx context.Context, m cpim.Message) error
}

// Component is the gateway's XEP-0114 component link. Create it with New,
// run it with Run; Send* methods may be called from any goroutine.
type Component struct {
	cfg      Config
	mapper   *mapping.Mapper
	handler  Handler
	presence atomic.Pointer[presenceHandler] // nil: presence is ignored
	log      *slog.Logger

	mu      sync.Mutex
	sess    *xmpp.Session
	conn    net.Conn
	changed chan struct{} // closed and replaced on every up/down change
	stopped bool          // closeLink has run: accept no new link

	pings   sync.Map      // outstanding ping id → chan struct{}
	pingSeq atomic.Uint64 // ping ids

	pool    *pool
	latest  *latest       // presence waiting for room in the pool, newest per resource
	pending chan struct{} // a slot per message from SIP waiting to be written
}

// New returns a component for cfg. It does not connect; call Run.
func New(cfg Config, mapper *mapping.Mapper, h Handler, log *slog.Logger) (*Component, error) {
	if cfg.Domain == "" || (cfg.Server == "" && cfg.Dial == nil) {
		return nil, errors.New("xmppside: component domain and server are required")
	}
	if mapper == nil || h == nil {
		return nil, errors.New("xmppside: a mapper and a handler are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d, err := jid.Parse(cfg.Domain)
	if err != nil || d.Localpart() != "" || d.Resourcepart() != "" {
		return nil, fmt.Errorf("xmppside: component domain %q is not a domain JID", cfg.Domain)
	}
	cfg.Domain = d.Domainpart() // the canonical form stanzas are compared with
	cfg.setDefaults()
	p := newPool(cfg.Workers, cfg.QueueDepth)
	return &Component{
		cfg:     cfg,
		mapper:  mapper,
		handler: h,
		log:     log.With("side", "xmpp"),
		changed: make(chan struct{}),
		pool:    p,
		latest:  newLatest(p, 4*cfg.Workers*cfg.QueueDepth),
		pending: make(chan struct{}, cfg.MaxPending),
	}, nil
}

// Domain returns the component's domain.
func (c *Component) Domain() string { return c.cfg.Domain }

// Up reports whether the link is established.
func (c *Component) Up() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess != nil
}

// WaitUp blocks until the link is established or ctx ends.
func (c *Component) WaitUp(ctx context.Context) error { return c.waitState(ctx, true) }

// WaitDown blocks until the link is down or ctx ends.
func (c *Component) WaitDown(ctx context.Context) error { return c.waitState(ctx, false) }

func (c *Component) waitState(ctx context.Context, up bool) error {
	for {
		c.mu.Lock()
		now, ch := c.sess != nil, c.changed
		c.mu.Unlock()
		if now == up {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// setSession records the current link (nil when down) and wakes waiters.
// It refuses a new link once closeLink has run.
func (c *Component) setSession(s *xmpp.Session, conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s != nil && c.stopped {
		return false
	}
	if (c.sess == nil) != (s == nil) {
		close(c.changed)
		c.changed = make(chan struct{})
	}
	c.sess, c.conn = s, conn
	return true
}

// Run keeps the component connected until ctx ends: it dials, handshakes,
// serves the stream, and on any failure reconnects after a backoff that
// doubles up to BackoffMax with full jitter. When ctx ends it shuts down in
// order: it stops taking new messages (answering them with a wait error),
// lets the workers finish queued ones within DrainTimeout while the link is
// still up (answering the rest with an error), closes the stream and
// returns nil.
func (c *Component) Run(ctx context.Context) error {
	workCtx, cancelWork := context.WithCancel(context.Background())
	defer cancelWork()
	c.pool.start(workCtx)
	latestCtx, stopLatest := context.WithCancel(context.Background())
	latestDone := make(chan struct{})
	go func() {
		defer close(latestDone)
		c.latest.run(latestCtx)
	}()
	defer func() { stopLatest(); <-latestDone }()

	linkCtx, stopLink := context.WithCancel(context.Background())
	defer stopLink()
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		c.loop(linkCtx)
	}()

	<-ctx.Done()
	// Presence still waiting for room is dropped (it is state: the user's
	// server sends it again when the gateway is back, RFC 6121 §4.3).
	stopLatest()
	<-latestDone
	// The pool refuses new messages from here on (answering them with a
	// wait error) and runs the queued ones.
	drained := make(chan struct{})
	go func() { c.pool.stop(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(c.cfg.DrainTimeout):
		cancelWork() // queued jobs now see a cancelled context and answer with an error
		<-drained
	}
	stopLink()
	c.closeLink()
	<-loopDone
	c.log.Info("component stopped")
	return nil
}

// loop connects and serves until ctx ends, backing off between attempts.
func (c *Component) loop(ctx context.Context) {
	attempt := 0
	for ctx.Err() == nil {
		up, err := c.connectAndServe(ctx)
		if ctx.Err() != nil {
			return
		}
		if up {
			attempt = 0 // the link worked; start the backoff afresh
		}
		delay := backoff(c.cfg.BackoffMin, c.cfg.BackoffMax, attempt)
		attempt++
		c.log.Warn("component link down; reconnecting", "err", err, "retry_in", delay.Round(time.Millisecond), "attempt", attempt)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// backoff returns the delay before reconnect attempt n (0-based): a random
// duration in [min, min·2ⁿ] capped at max ("full jitter", so a fleet of
// gateways does not reconnect in lockstep after a server restart).
func backoff(min, max time.Duration, n int) time.Duration {
	ceil := min
	for i := 0; i < n && ceil < max; i++ {
		ceil *= 2
	}
	if ceil > max {
		ceil = max
	}
	if ceil <= min {
		return min
	}
	return min + rand.N(ceil-min+1)
}

// connectAndServe establishes one link and serves it until it fails or ctx
// ends. up reports whether the handshake succeeded.
func (c *Component) connectAndServe(ctx context.Context) (up bool, err error) {
	dctx, cancel := context.WithTimeout(ctx, c.cfg.HandshakeTimeout)
	conn, err := c.dial(dctx)
	cancel()
	if err != nil {
		return false, fmt.Errorf("dial %s: %w", c.cfg.Server, err)
	}
	s, err := c.handshake(ctx, conn)
	if err != nil {
		conn.Close()
		return false, fmt.Errorf("handshake: %w", err)
	}
	if !c.setSession(s, conn) {
		conn.Close() // shutting down: closeLink has already run
		return false, errors.New("shutting down")
	}
	c.log.Info("component link up", "server", c.cfg.Server, "domain", c.cfg.Domain)

	serveCtx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	// Shutdown or a failed ping closes the link, which ends Serve.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.watch(serveCtx, s, conn)
	}()
	err = s.Serve(xmpp.HandlerFunc(c.handle))
	stopServe()
	wg.Wait()
	c.setSession(nil, nil)
	conn.Close()
	if err == nil {
		err = errors.New("server closed the stream")
	}
	return true, err
}

// watch pings the server every PingInterval and closes conn when a ping
// goes unanswered for PingTimeout (dead-peer detection, XEP-0199 §4.2).
func (c *Component) watch(ctx context.Context, s *xmpp.Session, conn net.Conn) {
	var tick <-chan time.Time
	if c.cfg.PingInterval > 0 {
		t := time.NewTicker(c.cfg.PingInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if err := c.ping(ctx, s); err != nil && ctx.Err() == nil {
				c.log.Warn("ping unanswered; closing the link", "err", err)
				conn.Close()
				return
			}
		}
	}
}

// ping sends an XEP-0199 ping and waits for any answer: a result or an error
// both prove the server is alive. It does not use mellium's SendIQ, which
// would hand its timeout context to the write (see send); the answer is
// picked up by handleIQ through c.pings.
func (c *Component) ping(ctx context.Context, s *xmpp.Session) error {
	id := "ping-" + strconv.FormatUint(c.pingSeq.Add(1), 10)
	answered := make(chan struct{}, 1)
	c.pings.Store(id, answered)
	defer c.pings.Delete(id)
	iq := xmlstream.Wrap(
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "urn:xmpp:ping", Local: "ping"}}),
		xml.StartElement{Name: xml.Name{Local: "iq"}, Attr: []xml.Attr{
			{Name: xml.Name{Local: "type"}, Value: string(stanza.GetIQ)},
			{Name: xml.Name{Local: "id"}, Value: id},
			{Name: xml.Name{Local: "from"}, Value: c.cfg.Domain},
			{Name: xml.Name{Local: "to"}, Value: c.cfg.PingTo},
		}},
	)
	if err := s.Send(context.Background(), iq); err != nil {
		return err
	}
	t := time.NewTimer(c.cfg.PingTimeout)
	defer t.Stop()
	select {
	case <-answered:
		return nil
	case <-t.C:
		return errors.New("no answer to XEP-0199 ping")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeLink sends the closing stream tag and closes the connection. The
// polite close is bounded by WriteTimeout, since it needs the output lock.
func (c *Component) closeLink() {
	c.mu.Lock()
	s, conn := c.sess, c.conn
	c.stopped = true
	c.mu.Unlock()
	if s == nil {
		return
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(c.cfg.WriteTimeout):
	}
	conn.Close()
}

// linkDown is the error senders get while the component is not connected:
// the SIP side answers it with 503 and a Retry-After (INTERWORKING.md §5.4).
func (c *Component) linkDown() *cpim.Error {
	return &cpim.Error{
		Condition:  cpim.ServiceUnavailable,
		Text:       "XMPP server unreachable",
		Status:     503,
		RetryAfter: c.cfg.RetryAfter,
	}
}

// send writes one stanza on the current link. A failed write tears the link
// down (a partly written stanza would corrupt the stream) and reports the
// link as down.
func (c *Component) send(ctx context.Context, r xml.TokenReader) error {
	c.mu.Lock()
	s, conn := c.sess, c.conn
	c.mu.Unlock()
	if s == nil {
		return c.linkDown()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// mellium arms a goroutine per Send that, once ctx ends, sets the
	// connection's write deadline into the past — and may do so after Send
	// has returned (session.go setWriteDeadline selects at random between
	// ctx and its own cancel), failing a later, unrelated write and so
	// tearing the link down. Callers routinely cancel right after sending
	// (the SIP side does after its 202), so ctx never reaches mellium:
	// writeConn bounds every write instead.
	if err := s.Send(context.WithoutCancel(ctx), r); err != nil {
		conn.Close()
		e := c.linkDown()
		e.Cause = err
		return e
	}
	return nil
}
