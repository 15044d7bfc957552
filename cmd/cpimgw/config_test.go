package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExampleConfig loads the shipped example, so it cannot rot.
func TestExampleConfig(t *testing.T) {
	c, err := Load("../../deploy/cpimgw.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.XMPP.Component != "sip.example.test" || c.XMPP.Server != "127.0.0.1:5347" || c.XMPP.Secret != "change-me" {
		t.Errorf("xmpp: %+v", c.XMPP)
	}
	if len(c.SIP.Listen) != 2 || c.SIP.OutboundProxy != "sip:127.0.0.1:5070" {
		t.Errorf("sip: %+v", c.SIP)
	}
	if c.Routes.ForeignSIP != "escape" || len(c.SIP.trusted) != 1 || c.SIP.trusted[0].String() != "127.0.0.0/8" {
		t.Errorf("routes: %+v trusted %v", c.Routes, c.SIP.trusted)
	}
	// Defaults.
	if c.SIP.AcceptStatus != 202 || c.ShutdownTimeout != 10*time.Second || c.Log.Level != "info" || c.Log.Format != "text" {
		t.Errorf("defaults: accept %d shutdown %v log %+v", c.SIP.AcceptStatus, c.ShutdownTimeout, c.Log)
	}
}

const minimal = `
xmpp: {component: gw.example.net, server: "127.0.0.1:5347", secret: s}
routes: {xmpp_domains: [example.net], trusted_sip_sources: [10.0.0.0/8]}
`

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // every fragment must appear in the error
	}{
		{"unknown key", minimal + "bogus: 1\n", []string{"field bogus not found"}},
		{"unknown nested key", strings.Replace(minimal, "secret: s", "secret: s, secert: x", 1), []string{"field secert not found"}},
		{"second document", minimal + "---\nxmpp: {}\n", []string{"more than one YAML document"}},
		{"empty", "", []string{"empty document"}},
		{"every problem with its path", `
xmpp: {component: "not a domain", server: nohostport}
sip: {listen: ["sctp:1.2.3.4:5", "udp:nohost"], accept_status: 201, outbound_proxy: "127.0.0.1:5070", password: x}
routes: {xmpp_domains: ["bad/domain"], foreign_sip: maybe, trusted_sip_sources: [10.0.0.0/33]}
log: {level: loud, format: xml}
`, []string{
			`xmpp.component: "not a domain" is not a domain name`,
			`xmpp.server: "nohostport": want host:port`,
			`xmpp.secret: required`,
			`sip.listen[0]: "sctp:1.2.3.4:5"`,
			`sip.listen[1]: "udp:nohost"`,
			`sip.accept_status: 201`,
			`sip.outbound_proxy: "127.0.0.1:5070"`,
			`sip.username: required with a password`,
			`routes.xmpp_domains[0]: "bad/domain" is not a domain name`,
			`routes.foreign_sip: "maybe"`,
			`routes.trusted_sip_sources[0]: "10.0.0.0/33"`,
			`log.level: "loud"`,
			`log.format: "xml"`,
		}},
		{"missing routes", `xmpp: {component: gw.example.net, server: "127.0.0.1:5347", secret: s}`,
			[]string{"routes.xmpp_domains: required", "routes.trusted_sip_sources: required"}},
		{"negative duration", minimal + "shutdown_timeout: -1s\n", []string{"shutdown_timeout: must not be negative"}},
		{"bad duration", minimal + "shutdown_timeout: soon\n", []string{"shutdown_timeout"}},
		{"tls listener without cert", minimal + "sip: {listen: [\"tls:127.0.0.1:5061\"]}\n", []string{"sip.tls: a tls: listener needs"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if err := os.WriteFile(path, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse([]byte(strings.Replace(minimal, "secret: s", "secret_file: "+path, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c.XMPP.Secret != "from-file" {
		t.Errorf("secret %q", string(c.XMPP.Secret))
	}
	_, err = Parse([]byte(strings.Replace(minimal, "secret: s", "secret: s, secret_file: "+path, 1)))
	if err == nil || !strings.Contains(err.Error(), "either secret or secret_file") {
		t.Errorf("both given: %v", err)
	}
	_, err = Parse([]byte(strings.Replace(minimal, "secret: s", "secret_file: "+filepath.Join(dir, "missing"), 1)))
	if err == nil || !strings.Contains(err.Error(), "xmpp.secret_file") {
		t.Errorf("missing file: %v", err)
	}
}

// TestSecretRedacted: secrets never reach logs or printed configuration.
func TestSecretRedacted(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(minimal, "secret: s", "secret: hunter2", 1)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "secret", c.XMPP.Secret, "xmpp", c.XMPP)
	for _, s := range []string{buf.String(), fmt.Sprint(c.XMPP), fmt.Sprintf("%+v %#v", c.XMPP, c.XMPP.Secret)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("secret leaked: %s", s)
		}
	}
}

func TestCLI(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := cli([]string{"-version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "cpimgw ") {
		t.Errorf("-version: %d %q", code, out.String())
	}
	out.Reset()
	if code := cli([]string{"-check", "-config", "../../deploy/cpimgw.example.yaml"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "configuration OK") {
		t.Errorf("-check example: %d %q %q", code, out.String(), errOut.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("xmpp: {component: x}\nrouting: {}\n"), 0o600)
	errOut.Reset()
	if code := cli([]string{"-check", "-config", bad}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "field routing not found") {
		t.Errorf("-check bad: %d %q", code, errOut.String())
	}
	if code := cli([]string{}, &out, &errOut); code != 2 {
		t.Errorf("no -config: %d", code)
	}
}
