// Package peers starts the real protocol peers the gateway is proven
// against — Prosody (XMPP server with a component port), SIPp, and
// Kamailio as SIP proxy and presence server — on loopback, each with a
// configuration rendered into its own directory, and provides a minimal
// XMPP client for c2s logins. Tests, the demo and the
// end-to-end benchmark share it.
//
// Nothing here reaches beyond 127.0.0.1.
package peers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/template"
)

// Logf receives a peer's output lines (t.Logf in tests).
type Logf func(format string, args ...any)

// ProsodyOptions describes a throwaway Prosody.
type ProsodyOptions struct {
	// Dir holds config, data, pid file; created if missing.
	Dir string
	// Domain is the VirtualHost for XMPP users.
	Domain string
	// Components maps component domains to their secrets.
	Components map[string]string
	// Users maps localparts to passwords, registered before start.
	Users map[string]string
	// C2SPort and ComponentPort; zero picks free loopback ports.
	C2SPort, ComponentPort int
	// Logf receives Prosody's log lines; nil discards them.
	Logf Logf
}

// Prosody is a running (or stopped) Prosody process.
type Prosody struct {
	Opts       ProsodyOptions
	ConfigPath string

	mu   sync.Mutex
	proc *proc // nil when stopped
}

// ProsodyBinary is the path of the prosody executable.
const ProsodyBinary = "/usr/bin/prosody"

// C2SAddr and ComponentAddr are the loopback addresses of the listeners.
func (p *Prosody) C2SAddr() string       { return fmt.Sprintf("127.0.0.1:%d", p.Opts.C2SPort) }
func (p *Prosody) ComponentAddr() string { return fmt.Sprintf("127.0.0.1:%d", p.Opts.ComponentPort) }

var prosodyConfig = template.Must(template.New("prosody").Parse(`-- rendered by cpimgw's test harness; loopback only
run_as_root = true
daemonize = false
pidfile = "{{.Dir}}/prosody.pid"
data_path = "{{.Dir}}/data"
certificates = "{{.Dir}}/certs"
log = { { levels = { min = "info" }, to = "console" } }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { {{.C2SPort}} }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
s2s_ports = { }
component_ports = { {{.ComponentPort}} }
component_interfaces = { "127.0.0.1" }
http_ports = { }
https_ports = { }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
-- Prosody's default Nagle setting adds ~40 ms delayed-ACK stalls (LIBRARY-NOTES.md §5).
network_settings = { nagle = false }
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "presence"; "message"; "iq"; "version"; "time" }
-- Offline storage would accept messages for absent users silently.
modules_disabled = { "offline"; "s2s"; "tls"; "c2s_direct_tls" }
limits = { c2s = { rate = "100mb/s" }; s2sin = { rate = "100mb/s" } }
VirtualHost "{{.Domain}}"
{{range $d, $s := .Components}}
Component "{{$d}}"
  component_secret = "{{$s}}"
{{end}}
`))

// NewProsody renders the configuration and registers the users; Start runs
// the server.
func NewProsody(o ProsodyOptions) (*Prosody, error) {
	if _, err := os.Stat(ProsodyBinary); err != nil {
		return nil, fmt.Errorf("prosody is not installed (apt-get install prosody): %w", err)
	}
	var err error
	if o.C2SPort == 0 {
		if o.C2SPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if o.ComponentPort == 0 {
		if o.ComponentPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{o.Dir, filepath.Join(o.Dir, "data"), filepath.Join(o.Dir, "certs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	p := &Prosody{Opts: o, ConfigPath: filepath.Join(o.Dir, "prosody.cfg.lua")}
	f, err := os.Create(p.ConfigPath)
	if err != nil {
		return nil, err
	}
	if err := prosodyConfig.Execute(f, o); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	users := make([]string, 0, len(o.Users))
	for u := range o.Users {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		if err := p.Register(u, o.Users[u]); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Register creates (or resets) an account with prosodyctl.
func (p *Prosody) Register(user, password string) error {
	out, err := exec.Command("prosodyctl", "--config", p.ConfigPath, "register", user, p.Opts.Domain, password).CombinedOutput()
	if err != nil {
		return fmt.Errorf("prosodyctl register %s: %v: %s", user, err, out)
	}
	return nil
}

// Start runs prosody in the foreground of a child process and waits until
// both listeners accept connections.
func (p *Prosody) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil {
		return errors.New("prosody already running")
	}
	cmd := exec.Command(ProsodyBinary, "--config", p.ConfigPath, "-F")
	out := lineWriter(p.Opts.Logf, "prosody: ")
	cmd.Stdout, cmd.Stderr = out, out
	var err error
	p.proc, err = startProc(cmd, func(exited <-chan struct{}) error {
		for _, addr := range []string{p.C2SAddr(), p.ComponentAddr()} {
			if err := waitListening(ctx, addr, exited); err != nil {
				return fmt.Errorf("prosody did not listen on %s: %w", addr, err)
			}
		}
		return nil
	})
	return err
}

// Stop terminates prosody (SIGTERM, then SIGKILL after 5s) and waits.
func (p *Prosody) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.proc.stop()
	p.proc = nil
}

// FreePort returns a loopback port that is free for both TCP and UDP at the
// time of the call.
func FreePort() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return port, nil
	}
	return 0, errors.New("no free loopback port")
}

// lineWriter forwards whole lines to logf with a prefix.
func lineWriter(logf Logf, prefix string) *linesOut {
	return &linesOut{logf: logf, prefix: prefix}
}

type linesOut struct {
	mu     sync.Mutex
	logf   Logf
	prefix string
	buf    []byte
}

func (w *linesOut) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		if w.logf != nil {
			w.logf("%s%s", w.prefix, w.buf[:i])
		}
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}
