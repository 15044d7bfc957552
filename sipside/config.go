package sipside

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"cpimgw/store"

	"github.com/emiago/sipgo/sip"
)

// Defaults of [Config].
const (
	// DefaultAcceptStatus is the answer to an accepted MESSAGE: 202, as
	// RFC 3428 §7 asks of a UAS that relays into a non-SIP domain (MSG-11;
	// RFC 7572 §5 shows 200, INTERWORKING.md §9 chose 202 [D]).
	DefaultAcceptStatus = 202
	// DefaultMaxUDPSize is the largest request sent over UDP: 1300 bytes
	// (RFC 3428 §8, RFC 3261 §18.1.1 when the path MTU is unknown).
	DefaultMaxUDPSize = 1300
	// DefaultMaxMessageSize is the largest MESSAGE body accepted into XMPP.
	DefaultMaxMessageSize = 64 << 10
	// DefaultTransactionTimeout bounds one MESSAGE transaction: 64·T1,
	// Timer F of RFC 3261 §17.1.2.2.
	DefaultTransactionTimeout = 32 * time.Second
	// DefaultSubscribeExpires is the Expires of the SUBSCRIBEs the gateway
	// sends (INTERWORKING.md §3.7, RFC 3856 §6.4).
	DefaultSubscribeExpires = 3600 * time.Second
	// DefaultMinExpires is the shortest subscription the gateway accepts as
	// notifier; a shorter one gets 423 + Min-Expires (RFC 6665 §4.2.1.1,
	// SUB-26).
	DefaultMinExpires = 60 * time.Second
	// DefaultMaxExpires is the longest subscription the gateway grants as
	// notifier; a longer request is shortened (RFC 6665 §3.1.1, SUB-14).
	DefaultMaxExpires = 3600 * time.Second
	// DefaultPublishExpires is the Expires of the PUBLISHes the gateway
	// sends (RFC 3903 §4.2).
	DefaultPublishExpires = 3600 * time.Second
)

// Config configures an [Endpoint]. The zero value of every field but Listen
// is usable.
type Config struct {
	// Listen lists the listeners as "network:host:port" with network udp,
	// tcp or tls, e.g. "udp:127.0.0.1:5060", "tls:[::1]:5061". Port 0 picks
	// a free port (see [Endpoint.Addrs]). Requests over UDP leave from the
	// first udp listener, so that responses come back to it: its address
	// must be able to reach the next hop.
	Listen []string
	// TLS is the configuration of tls listeners (it needs a certificate)
	// and of TLS connections the gateway opens.
	TLS *tls.Config
	// OutboundProxy, when set, is the SIP URI every request the gateway
	// originates is sent to, as a loose route (RFC 3261 §8.1.2), e.g.
	// "sip:127.0.0.1:5070" or "sip:proxy.example;transport=tcp". Without
	// it the Request-URI is resolved (RFC 3263 A/AAAA and SRV through
	// sipgo; no NAPTR).
	OutboundProxy string
	// Hostname is the host put in the Via sent-by and the Warning agent of
	// the gateway's messages. Default: the host of the first listener
	// (set it when listening on a wildcard address).
	Hostname string
	// Username and Password answer 401/407 digest challenges to requests
	// the gateway originates (RFC 3261 §22.2). Without them a challenge is
	// mapped like any other failure response.
	Username, Password string
	// TrustedSources lists the networks allowed to send MESSAGE requests
	// into XMPP; a request from elsewhere gets 403 and is logged. Empty
	// means every source is allowed.
	TrustedSources []netip.Prefix
	// AcceptStatus is the final response to an accepted MESSAGE: 202
	// (default) or 200.
	AcceptStatus int
	// MaxUDPSize is the largest request, in bytes, the gateway sends over a
	// UDP next hop (default 1300; RFC 3428 §8).
	MaxUDPSize int
	// TCPFallback says what happens to a larger request: nil or true sends
	// it over TCP to the same host and port (RFC 3261 §18.1.1); false
	// refuses it with policy-violation (RFC 7572 §6, MSG-07). A failed TCP
	// fallback is also refused with policy-violation.
	TCPFallback *bool
	// MaxMessageSize is the largest MESSAGE body accepted into XMPP
	// (default 64 KiB); a larger one gets 413 (INTERWORKING.md §4.6).
	MaxMessageSize int
	// TransactionTimeout bounds one MESSAGE transaction in either
	// direction (default 32 s, Timer F). X2S, no final response within it
	// (counted once the message's turn for its destination came, a digest
	// retry included) is remote-server-timeout; S2X, it bounds the Handler
	// call.
	TransactionTimeout time.Duration
	// WrapCPIM sends message/cpim bodies (RFC 3862) instead of text/plain.
	WrapCPIM bool
	// UserAgent, when set, is sent as User-Agent in requests and as Server
	// in responses.
	UserAgent string

	// Presence, when set, turns on presence (RFC 3856 over RFC 6665 event
	// subscriptions, RFC 3903 publication): the endpoint serves SUBSCRIBE
	// as the notifier of XMPP users and NOTIFY in its subscriber dialogs,
	// reports them to Presence, and serves [Endpoint.Subscribe],
	// [Endpoint.Unsubscribe], [Endpoint.Fetch], [Endpoint.Notify] and
	// [Endpoint.Publish]. Without it SUBSCRIBE, NOTIFY and PUBLISH get 405
	// and those methods fail with feature-not-implemented.
	Presence PresenceHandler
	// Store keeps the subscription dialogs of both roles (their ids, route
	// sets, remote targets, CSeq high-water marks and expiries) across
	// restarts: Run restores them before it reports ready. Nil keeps them
	// in memory only.
	Store store.Store
	// SubscribeExpires is the Expires of the SUBSCRIBEs the gateway sends
	// for XMPP users (default 1 h; whole seconds).
	SubscribeExpires time.Duration
	// MinExpires is the shortest subscription the gateway accepts as
	// notifier: 0 < Expires < MinExpires gets 423 with Min-Expires
	// (default 60 s; RFC 6665 §4.2.1.1).
	MinExpires time.Duration
	// MaxExpires caps the subscriptions the gateway grants as notifier: a
	// longer request is granted MaxExpires (default 1 h; RFC 6665 §3.1.1).
	MaxExpires time.Duration
	// PublishExpires is the Expires of the PUBLISHes the gateway sends in
	// PUBLISH mode (default 1 h; RFC 3903 §4.2).
	PublishExpires time.Duration
	// MaxSubscriptionsPerWatcher caps the notifier dialogs of one SIP
	// watcher (all XMPP users it watches); 0 means no cap. One more gets
	// 503 with Retry-After.
	MaxSubscriptionsPerWatcher int
	// MaxSubscriptions caps the notifier dialogs in total; 0 means no cap.
	// One more gets 503 with Retry-After.
	MaxSubscriptions int
	// SubscribeRate limits the SUBSCRIBE requests accepted from one source
	// IP address, per second (a token bucket holding one second's worth,
	// at least one); 0 means no limit. A request over it gets 503 with
	// Retry-After, logged once per burst.
	SubscribeRate float64
	// ContactHost is the host, or host:port, of the Contact the gateway puts
	// in its SUBSCRIBEs, NOTIFYs and 2xx to SUBSCRIBE, where the peer sends
	// its in-dialog requests. Default: Hostname, else the address of the
	// listener of the transport used, with that listener's port.
	ContactHost string
}

// listener is one parsed entry of Config.Listen.
type listener struct {
	network string // "udp", "tcp" or "tls"
	addr    string // host:port
}

// nextHop is where requests go: the outbound proxy or the Request-URI.
type nextHop struct {
	uri       sip.Uri // the proxy URI, with lr
	transport string  // upper case: UDP, TCP, TLS
}

// settings is a Config with its defaults applied and its strings parsed.
type settings struct {
	Config
	listeners   []listener
	proxy       *nextHop
	tcpFallback bool
	warnAgent   string // Warning warn-agent (RFC 3261 §20.43)
	contactHost string // ContactHost's host, if set
	contactPort int    // ContactHost's port, if set
}

// parseConfig applies the defaults and checks every field, reporting all
// problems at once.
func parseConfig(c Config) (*settings, error) {
	s := &settings{Config: c, tcpFallback: true}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("sipside: "+format, args...))
	}
	if len(c.Listen) == 0 {
		bad("Listen: no listener")
	}
	for i, l := range c.Listen {
		network, addr, ok := strings.Cut(l, ":")
		network = strings.ToLower(network)
		if !ok || (network != "udp" && network != "tcp" && network != "tls") {
			bad("Listen[%d] %q: want udp:, tcp: or tls:host:port", i, l)
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("Listen[%d] %q: %v", i, l, err)
			continue
		}
		if network == "tls" && (c.TLS == nil || (len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil)) {
			bad("Listen[%d] %q: a tls listener needs TLS with a certificate", i, l)
			continue
		}
		s.listeners = append(s.listeners, listener{network: network, addr: addr})
	}
	if c.OutboundProxy != "" {
		var u sip.Uri
		if err := sip.ParseUri(c.OutboundProxy, &u); err != nil {
			bad("OutboundProxy %q: %v", c.OutboundProxy, err)
		} else if (u.Scheme != "sip" && u.Scheme != "sips") || u.Host == "" {
			bad("OutboundProxy %q: want a sip: or sips: URI with a host", c.OutboundProxy)
		} else {
			s.proxy = proxyHop(u)
		}
	}
	if c.Hostname == "" && len(s.listeners) > 0 {
		host, _, _ := net.SplitHostPort(s.listeners[0].addr)
		if ip, err := netip.ParseAddr(host); err != nil || !ip.IsUnspecified() {
			s.Hostname = host
		}
	}
	s.warnAgent = s.Hostname
	if s.warnAgent == "" {
		s.warnAgent = "gateway.invalid"
	} else if strings.Contains(s.warnAgent, ":") && !strings.HasPrefix(s.warnAgent, "[") {
		s.warnAgent = "[" + s.warnAgent + "]"
	}
	if strings.ContainsAny(c.Hostname, " \t\r\n;,\"<>") {
		bad("Hostname %q: not a host", c.Hostname)
	}
	switch c.AcceptStatus {
	case 0:
		s.AcceptStatus = DefaultAcceptStatus
	case 200, 202:
	default:
		bad("AcceptStatus %d: want 200 or 202", c.AcceptStatus)
	}
	switch {
	case c.MaxUDPSize == 0:
		s.MaxUDPSize = DefaultMaxUDPSize
	case c.MaxUDPSize < 0:
		bad("MaxUDPSize %d: negative", c.MaxUDPSize)
	}
	if c.TCPFallback != nil {
		s.tcpFallback = *c.TCPFallback
	}
	switch {
	case c.MaxMessageSize == 0:
		s.MaxMessageSize = DefaultMaxMessageSize
	case c.MaxMessageSize < 0:
		bad("MaxMessageSize %d: negative", c.MaxMessageSize)
	}
	switch {
	case c.TransactionTimeout == 0:
		s.TransactionTimeout = DefaultTransactionTimeout
	case c.TransactionTimeout < 0:
		bad("TransactionTimeout %v: negative", c.TransactionTimeout)
	}
	for i, p := range c.TrustedSources {
		if !p.IsValid() {
			bad("TrustedSources[%d]: invalid prefix", i)
		}
	}
	if (c.Username == "") != (c.Password == "") {
		bad("Username and Password: set both or neither")
	}
	s.UserAgent = cleanHeaderValue(c.UserAgent)
	parsePresenceConfig(s, bad)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// proxyHop turns the outbound proxy URI into a loose route: the transport
// comes from its transport parameter (sips means TLS), and lr is added
// (RFC 3261 §8.1.2, §16.12).
func proxyHop(u sip.Uri) *nextHop {
	h := &nextHop{uri: u, transport: uriTransport(u)}
	params := u.UriParams.Clone()
	if !params.Has("lr") {
		params.Add("lr", "")
	}
	h.uri.UriParams = params
	h.uri.Headers = nil
	return h
}

// uriTransport returns the transport a URI asks for: its transport
// parameter, else UDP, and TLS for sips (RFC 3263 §4.1 without NAPTR).
func uriTransport(u sip.Uri) string {
	tp := "UDP"
	if v, ok := u.UriParams.Get("transport"); ok && v != "" {
		tp = strings.ToUpper(v)
	}
	if u.IsEncrypted() && (tp == "TCP" || tp == "UDP") {
		tp = "TLS"
	}
	return tp
}
