package sipside

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"cpimgw/cpim"
	"cpimgw/mapping"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Handler receives the messages SIP users send to XMPP users (S2X). The
// router implements it with the XMPP side.
type Handler interface {
	// Message delivers a message from a SIP user to an XMPP user. It returns
	// nil once the stanza is written to the XMPP stream, or an error; a
	// *cpim.Error is answered with its mapped status (e.g. Status 503 +
	// RetryAfter while the XMPP link is down). Other errors are answered
	// with 500. ctx ends when the transaction's time is up
	// (Config.TransactionTimeout), when the SIP transaction fails, or when
	// the Endpoint stops.
	Message(ctx context.Context, m cpim.Message) error
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(ctx context.Context, m cpim.Message) error

// Message calls f.
func (f HandlerFunc) Message(ctx context.Context, m cpim.Message) error { return f(ctx, m) }

// Limits that are not configurable.
const (
	// maxQueuedPerDestination bounds the MESSAGEs waiting behind an
	// outstanding one to the same URI (MSG-09); one more is refused with
	// resource-constraint.
	maxQueuedPerDestination = 256
	// cseqTableSize bounds the Call-IDs whose CSeq is remembered (MSG-27).
	cseqTableSize = 4096
)

// Endpoint is the SIMPLE page-mode endpoint: it serves the listeners of its
// Config, hands accepted MESSAGEs to its Handler and sends the messages
// given to SendMessage. Create it with [New], then call Run.
type Endpoint struct {
	cfg    *settings
	mapper *mapping.Mapper
	h      Handler
	log    *slog.Logger

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	cli *sipgo.Client

	// life ends when Run returns; Handler calls and transactions use it.
	life     context.Context
	stop     context.CancelFunc
	running  atomic.Bool
	ready    chan struct{} // closed once every listener is up
	readyErr error         // why Run failed before ready, set before ready closes

	mu       sync.Mutex
	closing  bool           // Run is stopping: no new Handler calls
	inflight sync.WaitGroup // Handler calls in progress
	addrs    []string       // "udp:127.0.0.1:PORT", after ready
	udp      sip.Addr       // the first UDP listener: the source of UDP requests
	tcp      int            // the port of the first TCP listener (Via of TCP requests)
	tls      int            // the port of the first TLS listener

	queues *destQueues
	cseq   *cseqTable
	subs   *subscriptions // presence: dialogs of both roles, PUBLISH state
}

// New checks cfg and builds an Endpoint that maps addresses and messages
// with mapper and hands incoming messages to h. It does not touch sipgo's
// globals (see [SetGlobals]) and opens no socket: Run does.
func New(cfg Config, mapper *mapping.Mapper, h Handler, log *slog.Logger) (*Endpoint, error) {
	s, err := parseConfig(cfg)
	if err != nil {
		return nil, err
	}
	if mapper == nil {
		return nil, errors.New("sipside: New: nil mapper")
	}
	if h == nil {
		return nil, errors.New("sipside: New: nil handler")
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("side", "sip")
	libLog := slog.New(NewSIPGoLogHandler(log.Handler()))

	uaOpts := []sipgo.UserAgentOption{
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(libLog)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(libLog)),
	}
	if s.UserAgent != "" {
		uaOpts = append(uaOpts, sipgo.WithUserAgent(s.UserAgent))
	}
	if s.Hostname != "" {
		uaOpts = append(uaOpts, sipgo.WithUserAgentHostname(s.Hostname))
	}
	if s.TLS != nil {
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(s.TLS))
	}
	ua, err := sipgo.NewUA(uaOpts...)
	if err != nil {
		return nil, fmt.Errorf("sipside: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(libLog))
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("sipside: server: %w", err)
	}
	cliOpts := []sipgo.ClientOption{sipgo.WithClientLogger(libLog)}
	if s.Hostname != "" {
		cliOpts = append(cliOpts, sipgo.WithClientHostname(s.Hostname))
	}
	cli, err := sipgo.NewClient(ua, cliOpts...)
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("sipside: client: %w", err)
	}
	life, stop := context.WithCancel(context.Background())
	e := &Endpoint{
		cfg: s, mapper: mapper, h: h, log: log,
		ua: ua, srv: srv, cli: cli,
		life: life, stop: stop,
		ready:  make(chan struct{}),
		queues: newDestQueues(maxQueuedPerDestination),
		cseq:   newCSeqTable(cseqTableSize),
	}
	e.subs = newSubscriptions(e)
	srv.OnMessage(e.onMessage)
	srv.OnOptions(e.onOptions)
	srv.OnNoRoute(e.onOther)
	if s.Presence != nil {
		srv.OnSubscribe(e.onSubscribe)
		srv.OnNotify(e.onNotify)
	}
	return e, nil
}

// Run opens the listeners and serves them until ctx ends; then it ends the
// Handler calls in progress (their ctx ends; they must return) and waits
// for their answers, closes the listeners and the user agent, which ends
// pending transactions, and returns once every goroutine it started has
// stopped. It
// returns nil after ctx ended, or the error that stopped a listener. Run may
// be called once.
func (e *Endpoint) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("sipside: Run called twice")
	}
	closers, err := e.listen()
	if err != nil {
		e.readyErr = err
		close(e.ready)
		e.stop()
		e.subs.shutdown()
		e.ua.Close()
		return err
	}

	var wg sync.WaitGroup
	errc := make(chan error, len(closers))
	for _, l := range closers {
		wg.Go(func() {
			if err := l.serve(); err != nil && ctx.Err() == nil && e.life.Err() == nil {
				errc <- fmt.Errorf("sipside: %s listener %s: %w", l.network, l.addr, err)
			}
		})
	}
	// Ready once sipgo serves every UDP socket: only then does its pool
	// hold the socket that UDP requests must leave from.
	for _, l := range closers {
		if l.serving == nil {
			continue
		}
		select {
		case <-l.serving:
		case err = <-errc:
		case <-ctx.Done():
		}
		if err != nil || ctx.Err() != nil {
			break
		}
	}
	if err == nil && ctx.Err() == nil {
		// Restored dialogs need the listeners (their NOTIFYs and refreshes
		// leave from them); WaitReady returns once they are back.
		e.restoreDialogs()
	}
	e.readyErr = err
	close(e.ready)
	if err == nil {
		e.log.Info("listening", "addrs", e.Addrs())
		select {
		case <-ctx.Done():
		case err = <-errc:
		}
	}
	// Stop: end the Handler calls in progress (their ctx ends) and let
	// them answer, then close the sockets and sipgo's layers.
	e.stop()
	e.mu.Lock()
	e.closing = true
	e.mu.Unlock()
	e.inflight.Wait()
	e.subs.shutdown() // timers stopped, dialog goroutines done; dialogs stay stored
	for _, l := range closers {
		l.close()
	}
	e.ua.Close() // transaction and transport layers: pools and their readers
	wg.Wait()
	e.log.Info("stopped")
	return err
}

// openListener is one listening socket and the sipgo loop that serves it.
type openListener struct {
	network, addr string
	serve         func() error
	close         func() error
	serving       <-chan struct{} // UDP: closed when sipgo first reads
}

// servedPacketConn tells when sipgo starts reading a UDP socket, which it
// does right after adding the socket to its connection pool.
type servedPacketConn struct {
	net.PacketConn
	once    sync.Once
	serving chan struct{}
}

func (c *servedPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	c.once.Do(func() { close(c.serving) })
	return c.PacketConn.ReadFrom(b)
}

// listen opens every listener of the configuration, recording their real
// addresses. On failure it closes what it opened.
func (e *Endpoint) listen() ([]openListener, error) {
	var out []openListener
	fail := func(err error) ([]openListener, error) {
		for _, l := range out {
			l.close()
		}
		return nil, err
	}
	var addrs []string
	udp, tcpPort, tlsPort := sip.Addr{}, 0, 0
	for _, l := range e.cfg.listeners {
		switch l.network {
		case "udp":
			pc, err := net.ListenPacket("udp", l.addr)
			if err != nil {
				return fail(fmt.Errorf("sipside: listen udp %s: %w", l.addr, err))
			}
			a := pc.LocalAddr().(*net.UDPAddr)
			if udp.IP == nil {
				udp = sip.Addr{IP: a.IP, Port: a.Port, Hostname: a.IP.String()}
			}
			addrs = append(addrs, "udp:"+a.String())
			sc := &servedPacketConn{PacketConn: pc, serving: make(chan struct{})}
			out = append(out, openListener{network: "udp", addr: a.String(),
				serve: func() error { return e.srv.ServeUDP(sc) }, close: pc.Close, serving: sc.serving})
		case "tcp", "tls":
			ln, err := net.Listen("tcp", l.addr)
			if err != nil {
				return fail(fmt.Errorf("sipside: listen %s %s: %w", l.network, l.addr, err))
			}
			a := ln.Addr().(*net.TCPAddr)
			addrs = append(addrs, l.network+":"+a.String())
			if l.network == "tcp" {
				if tcpPort == 0 {
					tcpPort = a.Port
				}
				out = append(out, openListener{network: "tcp", addr: a.String(),
					serve: func() error { return e.srv.ServeTCP(ln) }, close: ln.Close})
				continue
			}
			if tlsPort == 0 {
				tlsPort = a.Port
			}
			tl := tls.NewListener(ln, e.cfg.TLS)
			out = append(out, openListener{network: "tls", addr: a.String(),
				serve: func() error { return e.srv.ServeTLS(tl) }, close: tl.Close})
		}
	}
	e.mu.Lock()
	e.addrs, e.udp, e.tcp, e.tls = addrs, udp, tcpPort, tlsPort
	e.mu.Unlock()
	return out, nil
}

// WaitReady waits until every listener is up (or Run failed to open one,
// which it returns), or until ctx ends.
func (e *Endpoint) WaitReady(ctx context.Context) error {
	select {
	case <-e.ready:
		return e.readyErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Addrs returns the listening addresses as "udp:127.0.0.1:PORT",
// "tcp:…", "tls:…", in the order of Config.Listen, with the ports the
// system chose for port 0. It is empty before [Endpoint.WaitReady] returns.
func (e *Endpoint) Addrs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.addrs...)
}

// listenPort returns the port of the first listener of the transport
// (upper case), or 0.
func (e *Endpoint) listenPort(transport string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch transport {
	case "UDP":
		return e.udp.Port
	case "TCP":
		return e.tcp
	case "TLS":
		return e.tls
	}
	return 0
}

// udpSource returns the address of the first UDP listener, from which UDP
// requests are sent so that responses come back to it (LIBRARY-NOTES §1.2).
func (e *Endpoint) udpSource() sip.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.udp
}
