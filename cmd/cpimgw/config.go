package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the gateway's configuration file (YAML, decoded strictly:
// unknown keys and a second document are errors). Every key is documented
// in README.md; defaults are filled in by Load.
type Config struct {
	XMPP            XMPPConfig     `yaml:"xmpp"`
	SIP             SIPConfig      `yaml:"sip"`
	Routes          RoutesConfig   `yaml:"routes"`
	Presence        PresenceConfig `yaml:"presence"`
	Log             LogConfig      `yaml:"log"`
	ShutdownTimeout time.Duration  `yaml:"shutdown_timeout"`
}

// XMPPConfig is the component link (XEP-0114).
type XMPPConfig struct {
	Component        string         `yaml:"component"`
	Server           string         `yaml:"server"`
	Secret           Secret         `yaml:"secret"`
	SecretFile       string         `yaml:"secret_file"`
	TLS              *XMPPTLSConfig `yaml:"tls"`
	HandshakeTimeout time.Duration  `yaml:"handshake_timeout"`
	ReconnectMax     time.Duration  `yaml:"reconnect_max"`
	PingInterval     time.Duration  `yaml:"ping_interval"`
	PingTimeout      time.Duration  `yaml:"ping_timeout"`
	PingTo           string         `yaml:"ping_to"`
	Workers          int            `yaml:"workers"`
	QueueDepth       int            `yaml:"queue_depth"`
	MaxPending       int            `yaml:"max_pending"`
}

// XMPPTLSConfig wraps the component link in TLS (a TLS component port).
type XMPPTLSConfig struct {
	ServerName         string `yaml:"server_name"`
	CAFile             string `yaml:"ca_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SIPConfig is the SIMPLE endpoint.
type SIPConfig struct {
	Listen             []string       `yaml:"listen"`
	OutboundProxy      string         `yaml:"outbound_proxy"`
	Hostname           string         `yaml:"hostname"`
	Username           string         `yaml:"username"`
	Password           Secret         `yaml:"password"`
	PasswordFile       string         `yaml:"password_file"`
	AcceptStatus       int            `yaml:"accept_status"`
	MaxUDPSize         int            `yaml:"max_udp_size"`
	TCPFallback        *bool          `yaml:"tcp_fallback"`
	MaxMessageSize     int            `yaml:"max_message_size"`
	TransactionTimeout time.Duration  `yaml:"transaction_timeout"`
	WrapCPIM           bool           `yaml:"wrap_cpim"`
	TLS                *SIPTLSConfig  `yaml:"tls"`
	UserAgent          string         `yaml:"user_agent"`
	trusted            []netip.Prefix // parsed routes.trusted_sip_sources
}

// SIPTLSConfig is the certificate of tls: listeners.
type SIPTLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// RoutesConfig says which domains live where.
type RoutesConfig struct {
	XMPPDomains       []string `yaml:"xmpp_domains"`
	SIPDomains        []string `yaml:"sip_domains"`
	ForeignSIP        string   `yaml:"foreign_sip"`
	TrustedSIPSources []string `yaml:"trusted_sip_sources"`
	IMSchemes         []string `yaml:"im_schemes"`
}

// PresenceConfig is presence and subscriptions (RFC 8048).
type PresenceConfig struct {
	Enabled          *bool         `yaml:"enabled"`
	Mode             string        `yaml:"mode"`
	StateDir         string        `yaml:"state_dir"`
	SubscribeExpires time.Duration `yaml:"subscribe_expires"`
	MinExpires       time.Duration `yaml:"min_expires"`
	MaxExpires       time.Duration `yaml:"max_expires"`
	PublishExpires   time.Duration `yaml:"publish_expires"`
	NotifyInterval   time.Duration `yaml:"notify_interval"`
	ProbeTimeout     time.Duration `yaml:"probe_timeout"`
	MaxPerWatcher    int           `yaml:"max_per_watcher"`
	MaxSubscriptions int           `yaml:"max_subscriptions"`
	SubscribeRate    float64       `yaml:"subscribe_rate"`
}

// On reports whether presence is enabled (the default).
func (p PresenceConfig) On() bool { return p.Enabled == nil || *p.Enabled }

// LogConfig selects the log format and level.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Secret is a password or shared secret: it never appears in logs or
// printed configuration.
type Secret string

func (Secret) String() string       { return "[redacted]" }
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }
func (Secret) GoString() string     { return `"[redacted]"` }
func (s Secret) MarshalText() ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	return []byte("[redacted]"), nil
}

// Load reads, decodes, defaults and validates a configuration file.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse decodes a configuration strictly, fills in defaults and validates
// it, reporting every problem with its YAML path.
func Parse(b []byte) (*Config, error) {
	var c Config
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	if err := d.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("config: empty document")
		}
		return nil, fmt.Errorf("config: %s", withPaths(err.Error(), b))
	}
	var extra yaml.Node
	if err := d.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("config: more than one YAML document")
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// linePrefix matches the "line N:" yaml.v3 puts before each decode problem.
var linePrefix = regexp.MustCompile(`line (\d+): `)

// withPaths adds the YAML path of the key on each reported line, so
// "line 4: cannot unmarshal !!str `soon` into time.Duration" becomes
// "line 4 (shutdown_timeout): cannot unmarshal …".
func withPaths(msg string, doc []byte) string {
	var root yaml.Node
	if yaml.Unmarshal(doc, &root) != nil {
		return msg
	}
	paths := map[int]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				paths[k.Line] = p
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if _, ok := paths[c.Line]; !ok || c.Kind == yaml.ScalarNode {
					paths[c.Line] = p
				}
				walk(c, p)
			}
		}
	}
	walk(&root, "")
	return linePrefix.ReplaceAllStringFunc(msg, func(m string) string {
		n, _ := strconv.Atoi(linePrefix.FindStringSubmatch(m)[1])
		if p, ok := paths[n]; ok {
			return fmt.Sprintf("line %d (%s): ", n, p)
		}
		return m
	})
}

func (c *Config) setDefaults() {
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.SIP.AcceptStatus == 0 {
		c.SIP.AcceptStatus = 202
	}
	if c.Routes.ForeignSIP == "" {
		c.Routes.ForeignSIP = "escape"
	}
	if len(c.SIP.Listen) == 0 {
		c.SIP.Listen = []string{"udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"}
	}
	if c.Presence.Mode == "" {
		c.Presence.Mode = "notifier"
	}
	if c.Presence.StateDir == "" {
		c.Presence.StateDir = "/var/lib/cpimgw"
	}
	if c.Presence.MaxPerWatcher == 0 {
		c.Presence.MaxPerWatcher = 1000
	}
	if c.Presence.MaxSubscriptions == 0 {
		c.Presence.MaxSubscriptions = 200000
	}
	if c.Presence.SubscribeRate == 0 {
		c.Presence.SubscribeRate = 50
	}
}

// Validate reports every problem of the configuration, each prefixed with
// its YAML path, joined into one error. It also reads secret files.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if c.XMPP.Component == "" {
		bad("xmpp.component", "required: the component domain the gateway serves")
	} else if !isDomain(c.XMPP.Component) {
		bad("xmpp.component", "%q is not a domain name", c.XMPP.Component)
	}
	if c.XMPP.Server == "" {
		bad("xmpp.server", "required: host:port of the XMPP server's component port")
	} else if _, _, err := net.SplitHostPort(c.XMPP.Server); err != nil {
		bad("xmpp.server", "%q: want host:port", c.XMPP.Server)
	}
	secretFrom(bad, "xmpp", "secret", &c.XMPP.Secret, c.XMPP.SecretFile)
	if c.XMPP.Secret == "" && c.XMPP.SecretFile == "" {
		bad("xmpp.secret", "required (or secret_file): the component secret")
	}
	for _, d := range []struct {
		path string
		v    time.Duration
	}{
		{"xmpp.handshake_timeout", c.XMPP.HandshakeTimeout}, {"xmpp.reconnect_max", c.XMPP.ReconnectMax},
		{"xmpp.ping_timeout", c.XMPP.PingTimeout}, {"sip.transaction_timeout", c.SIP.TransactionTimeout},
		{"shutdown_timeout", c.ShutdownTimeout},
	} {
		if d.v < 0 {
			bad(d.path, "must not be negative")
		}
	}
	if c.XMPP.Workers < 0 {
		bad("xmpp.workers", "must not be negative")
	}
	if c.XMPP.QueueDepth < 0 {
		bad("xmpp.queue_depth", "must not be negative")
	}
	if c.XMPP.MaxPending < 0 {
		bad("xmpp.max_pending", "must not be negative")
	}
	if t := c.XMPP.TLS; t != nil && t.CAFile != "" {
		if _, err := os.Stat(t.CAFile); err != nil {
			bad("xmpp.tls.ca_file", "%v", err)
		}
	}

	hasTLS := false
	for i, l := range c.SIP.Listen {
		network, addr, ok := strings.Cut(l, ":")
		path := fmt.Sprintf("sip.listen[%d]", i)
		if !ok || (network != "udp" && network != "tcp" && network != "tls") {
			bad(path, "%q: want udp:HOST:PORT, tcp:HOST:PORT or tls:HOST:PORT", l)
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(path, "%q: want %s:HOST:PORT", l, network)
		}
		hasTLS = hasTLS || network == "tls"
	}
	if hasTLS && (c.SIP.TLS == nil || c.SIP.TLS.CertFile == "" || c.SIP.TLS.KeyFile == "") {
		bad("sip.tls", "a tls: listener needs cert_file and key_file")
	}
	if p := c.SIP.OutboundProxy; p != "" && !strings.HasPrefix(p, "sip:") && !strings.HasPrefix(p, "sips:") {
		bad("sip.outbound_proxy", "%q: want a sip: URI such as sip:127.0.0.1:5070", p)
	}
	if c.SIP.AcceptStatus != 200 && c.SIP.AcceptStatus != 202 {
		bad("sip.accept_status", "%d: want 202 (RFC 3428 §7, default) or 200", c.SIP.AcceptStatus)
	}
	if c.SIP.MaxUDPSize < 0 {
		bad("sip.max_udp_size", "must not be negative")
	}
	if c.SIP.MaxMessageSize < 0 {
		bad("sip.max_message_size", "must not be negative")
	}
	secretFrom(bad, "sip", "password", &c.SIP.Password, c.SIP.PasswordFile)
	if c.SIP.Password != "" && c.SIP.Username == "" {
		bad("sip.username", "required with a password")
	}

	if len(c.Routes.XMPPDomains) == 0 {
		bad("routes.xmpp_domains", "required: the XMPP domains SIP users may reach")
	}
	for i, d := range c.Routes.XMPPDomains {
		if !isDomain(d) {
			bad(fmt.Sprintf("routes.xmpp_domains[%d]", i), "%q is not a domain name", d)
		}
	}
	for i, d := range c.Routes.SIPDomains {
		if !isDomain(d) {
			bad(fmt.Sprintf("routes.sip_domains[%d]", i), "%q is not a domain name", d)
		}
	}
	for i, d := range c.Routes.IMSchemes {
		if !isDomain(d) {
			bad(fmt.Sprintf("routes.im_schemes[%d]", i), "%q is not a domain name", d)
		}
	}
	if f := c.Routes.ForeignSIP; f != "escape" && f != "reject" {
		bad("routes.foreign_sip", "%q: want escape or reject", f)
	}
	c.SIP.trusted = c.SIP.trusted[:0]
	for i, s := range c.Routes.TrustedSIPSources {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			if a, err2 := netip.ParseAddr(s); err2 == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				bad(fmt.Sprintf("routes.trusted_sip_sources[%d]", i), "%q is not a CIDR prefix or address", s)
				continue
			}
		}
		c.SIP.trusted = append(c.SIP.trusted, p.Masked())
	}
	if len(c.Routes.TrustedSIPSources) == 0 {
		bad("routes.trusted_sip_sources", "required: the networks allowed to send SIP into XMPP (no open relay)")
	}
	if m := c.Presence.Mode; m != "notifier" && m != "publish" {
		bad("presence.mode", "%q: want notifier or publish", m)
	}
	for _, d := range []struct {
		path string
		v    time.Duration
	}{
		{"presence.subscribe_expires", c.Presence.SubscribeExpires}, {"presence.min_expires", c.Presence.MinExpires},
		{"presence.max_expires", c.Presence.MaxExpires}, {"presence.publish_expires", c.Presence.PublishExpires},
		{"presence.probe_timeout", c.Presence.ProbeTimeout},
	} {
		if d.v < 0 {
			bad(d.path, "must not be negative")
		}
	}
	if c.Presence.MinExpires > 0 && c.Presence.MaxExpires > 0 && c.Presence.MinExpires > c.Presence.MaxExpires {
		bad("presence.min_expires", "%v is above max_expires %v", c.Presence.MinExpires, c.Presence.MaxExpires)
	}
	if c.Presence.MaxPerWatcher < 0 {
		bad("presence.max_per_watcher", "must not be negative")
	}
	if c.Presence.MaxSubscriptions < 0 {
		bad("presence.max_subscriptions", "must not be negative")
	}
	if c.Presence.SubscribeRate < 0 {
		bad("presence.subscribe_rate", "must not be negative")
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		bad("log.level", "%v", err)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q: want text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}

// secretFrom reads the secret name of section (e.g. "xmpp", "secret")
// from file (name_file) into *value, unless *value is given inline;
// giving both is an error.
func secretFrom[S ~string](bad func(path, format string, args ...any), section, name string, value *S, file string) {
	switch {
	case *value != "" && file != "":
		bad(section+"."+name+"_file", "give either %s or %s_file, not both", name, name)
	case file != "":
		s, err := readSecret(file)
		if err != nil {
			bad(section+"."+name+"_file", "%v", err)
		}
		*value = S(s)
	}
}

// isDomain accepts a DNS name (letters, digits, hyphens, dots; U-labels
// allowed) without scheme, port or path.
func isDomain(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 || strings.ContainsAny(s, " /:@[]") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
	}
	return true
}

func readSecret(path string) (Secret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return Secret(s), nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	if err != nil {
		return 0, fmt.Errorf("%q: want debug, info, warn or error", s)
	}
	return l, nil
}
