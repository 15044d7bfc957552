package sipside

import (
	"crypto/tls"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestConfigDefaults checks the defaults the brief and the digest give.
func TestConfigDefaults(t *testing.T) {
	s, err := parseConfig(Config{Listen: []string{"udp:127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.AcceptStatus != 202 || s.MaxUDPSize != 1300 || !s.tcpFallback || s.MaxMessageSize != 64<<10 ||
		s.TransactionTimeout != 32*time.Second || s.Hostname != "127.0.0.1" || s.warnAgent != "127.0.0.1" {
		t.Errorf("defaults %+v", s)
	}
	s, err = parseConfig(Config{Listen: []string{"udp:[::1]:0"}})
	if err != nil || s.Hostname != "::1" || s.warnAgent != "[::1]" {
		t.Errorf("IPv6 listener: hostname %q, warn-agent %q, %v", s.Hostname, s.warnAgent, err)
	}
	s, err = parseConfig(Config{Listen: []string{"tcp:0.0.0.0:5060"}})
	if err != nil || s.Hostname != "" || s.warnAgent != "gateway.invalid" {
		t.Errorf("wildcard listener: hostname %q, warn-agent %q, %v", s.Hostname, s.warnAgent, err)
	}
	s, err = parseConfig(Config{Listen: []string{"udp:127.0.0.1:0"}, OutboundProxy: "sips:proxy.example:5061"})
	if err != nil || s.proxy.transport != "TLS" || s.proxy.uri.String() != "sips:proxy.example:5061;lr" {
		t.Errorf("sips proxy: %+v, %v", s.proxy, err)
	}
	s, err = parseConfig(Config{Listen: []string{"udp:127.0.0.1:0"}, OutboundProxy: "sip:127.0.0.1:5070;transport=tcp;lr"})
	if err != nil || s.proxy.transport != "TCP" || s.proxy.uri.String() != "sip:127.0.0.1:5070;transport=tcp;lr" {
		t.Errorf("tcp proxy: %+v, %v", s.proxy, err)
	}
}

// TestConfigErrors checks that every problem is reported, with its field.
func TestConfigErrors(t *testing.T) {
	tests := map[string]struct {
		cfg  Config
		want []string
	}{
		"no listener": {Config{}, []string{"Listen: no listener"}},
		"bad listeners": {Config{Listen: []string{"sctp:127.0.0.1:1", "udp:nohost", "tls:127.0.0.1:0"}},
			[]string{`Listen[0] "sctp:127.0.0.1:1"`, `Listen[1] "udp:nohost"`, `Listen[2] "tls:127.0.0.1:0": a tls listener needs TLS`}},
		"tls without certificate": {Config{Listen: []string{"tls:127.0.0.1:0"}, TLS: &tls.Config{}},
			[]string{"a tls listener needs TLS with a certificate"}},
		"everything else": {Config{
			Listen: []string{"udp:127.0.0.1:0"}, OutboundProxy: "tel:+1234", Hostname: "a b",
			AcceptStatus: 201, MaxUDPSize: -1, MaxMessageSize: -1, TransactionTimeout: -time.Second,
			TrustedSources: []netip.Prefix{{}}, Username: "gw",
		}, []string{"OutboundProxy", "Hostname", "AcceptStatus 201", "MaxUDPSize", "MaxMessageSize",
			"TransactionTimeout", "TrustedSources[0]", "Username and Password"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := parseConfig(tc.cfg)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "sipside: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	if _, err := New(Config{Listen: []string{"udp:127.0.0.1:0"}}, nil, &recorder{}, nil); err == nil {
		t.Error("New accepted a nil mapper")
	}
	if _, err := New(Config{Listen: []string{"udp:127.0.0.1:0"}}, testMapper(t), nil, nil); err == nil {
		t.Error("New accepted a nil handler")
	}
}
