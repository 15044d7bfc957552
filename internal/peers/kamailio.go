package peers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"text/template"
)

// Kamailio as the SIP presence server of the end-to-end tests (issue 4).
//
// The harness renders a kamailio.cfg for Kamailio 5.6 (Debian packages
// kamailio and kamailio-presence-modules) into its own directory and runs
// `kamailio -DD -E` in the foreground, in its own process group, bound to
// 127.0.0.1 on one UDP and one TCP port. Routing is by Request-URI domain:
//
//   - PUBLISH and SUBSCRIBE for SIPDomain are handled by the presence and
//     presence_xml modules (RFC 3856/3903/6665): Kamailio is the presence
//     agent of the SIP users.
//   - Every request for a gateway domain is relayed to the gateway;
//     SUBSCRIBEs are record-routed, so NOTIFYs and refreshes of those
//     dialogs pass through Kamailio in both directions (loose routing). With
//     PublishMode, PUBLISH and SUBSCRIBE for the gateway domains are
//     handled locally instead (digest §3.8: the gateway publishes, Kamailio
//     notifies).
//   - Requests for the users listed in Users (static locations, no
//     registrar) are relayed to their address; anything else gets 404.
//
// Authorization: presence_xml runs with force_active=1 and no XCAP server,
// so every watcher is authorized at once — Kamailio never sends a `pending`
// NOTIFY and never rejects a watcher. Tests of authorization on the SIP side
// therefore cannot use this server's policy; they use a sipp notifier.
//
// What Kamailio 5.6.3 was seen to do with this configuration (measured on
// loopback over UDP and TCP; the gateway's end-to-end tests depend on it):
//
//   - SUBSCRIBE accepted → 200 OK (never 202; subs_respond_200 defaults to 1)
//     with Expires and Contact <sip:127.0.0.1:PORT;transport=udp|tcp>, then
//     at once a NOTIFY with `Subscription-State: active;expires=N` (N counts
//     down on later NOTIFYs). NOTIFY CSeq starts at 2.
//   - No publication for the presentity → that NOTIFY is `active` with NO
//     body (no Content-Type, Content-Length 0), not a `closed` PIDF.
//   - A publication expiring (not refreshed) → NOTIFY `active` with no body
//     again, within about clean_period after the expiry. A PUBLISH with
//     Expires: 0 (removal) instead → NOTIFY with a synthesised `closed` PIDF
//     that keeps the tuple ids and drops notes and person data. So an empty
//     NOTIFY after presence was seen means "nothing published any more".
//   - A PUBLISH refresh (no body, SIP-If-Match) → 200 with a new SIP-ETag
//     and a NOTIFY carrying the unchanged document to every watcher.
//   - Several publications of one presentity (several ETags, e.g. devices)
//     → one aggregated PIDF, newest first, tuples of all of them; person
//     elements are copied as they are (duplicate ids possible) and
//     namespaces are redeclared on the copied elements. Bodies are
//     re-serialised: compare parsed documents, never bytes.
//   - SIP-If-Match with an unknown entity-tag → 500 Server Internal Error,
//     not the 412 of RFC 3903 §6 (also with publ_cache 0). A PUBLISH
//     without body and without SIP-If-Match → 400.
//   - Event other than presence/presence.winfo/xcap-diff → 489 with
//     Allow-Events. Missing Expires → 3600; above max_expires (3600) →
//     lowered to 3600 in the 200 (no 423 with min_expires 0).
//   - SUBSCRIBE Expires: 0 in the dialog → 200 with Expires: 0 and a final
//     NOTIFY `terminated;reason=timeout` (not noresource/deactivated), with
//     the current PIDF when something is published, else without body.
//   - A subscription not refreshed → NOTIFY `terminated;reason=timeout`
//     about 1–2 s after it expired (db_update_period 1).
//   - NOTIFYs go to the subscriber's Contact. A TCP subscriber whose
//     Contact has no ;transport=tcp gets its NOTIFYs over UDP to the
//     Contact's host:port; with ;transport=tcp they reuse its connection.
//   - Kamailio answers a PUBLISH before it sends the NOTIFYs. With two UDP
//     workers, which run independently, the NOTIFYs of back-to-back
//     PUBLISHes were seen out of order (the initial document arriving after
//     the removal, with a higher CSeq), and a relayed 2xx and the NOTIFY
//     the gateway sent right behind it swapped: sipp then received the
//     2xx while it was about to answer the NOTIFY and aborted the call
//     (seen in CI). So the harness runs one UDP worker (children=1), which
//     relays in arrival order. Still, wait for the effect of one PUBLISH
//     (WaitLog on "notify-reply", or the gateway's output) before sending
//     the next: its NOTIFYs are sent after its 200.
//   - Record-Route (and so the gateway's Route) is
//     <sip:127.0.0.1:PORT;lr;ftag=FROM-TAG>.
//   - publ_cache=2 (everything in memory) loses the document on a body-less
//     refresh (later NOTIFYs have no body): publ_cache=1 is used.
//   - It runs as root without -u/-g (no refusal, no warning that stops it).
//     It never resolves a name here: requests for a gateway domain carry $du,
//     NOTIFYs go to IP Contacts, and SIPDomain is an alias.
//
// Start copies the db_text tables afresh every time, so a restart of
// Kamailio loses its publications and subscriptions.

// KamailioBinary is the path of the kamailio executable.
const KamailioBinary = "/usr/sbin/kamailio"

// KamailioDBText is the directory of the packaged db_text tables; Start
// copies it into the run directory (Kamailio writes to its tables).
const KamailioDBText = "/usr/share/kamailio/dbtext/kamailio"

// KamailioOptions describes a throwaway Kamailio presence server.
type KamailioOptions struct {
	// Dir holds the config, the db_text tables, the pid file; created if
	// missing.
	Dir string
	// Port is the UDP and TCP port on 127.0.0.1; zero picks a free one.
	Port int
	// SIPDomain is the domain whose users Kamailio serves as presence
	// server (PUBLISH/SUBSCRIBE handled locally), e.g. "sip.example.test".
	SIPDomain string
	// GatewayDomains are the domains of the users behind the gateway (e.g.
	// "xmpp.example.test"): requests for them are relayed to Gateway.
	GatewayDomains []string
	// Gateway is the gateway's host:port (an IP address: Kamailio must not
	// resolve names here).
	Gateway string
	// GatewayTCP relays to the gateway over TCP instead of UDP.
	GatewayTCP bool
	// PublishMode makes Kamailio the presence server of the gateway domains
	// too: their PUBLISH and SUBSCRIBE requests are handled locally, other
	// requests still go to the gateway (digest §3.8).
	PublishMode bool
	// Users are static locations of SIPDomain users (localpart → host:port):
	// requests other than PUBLISH/SUBSCRIBE for them are relayed there.
	Users map[string]string
	// Logf receives Kamailio's log lines; nil discards them.
	Logf Logf
}

// Kamailio is a running (or stopped) Kamailio process.
type Kamailio struct {
	Opts       KamailioOptions
	ConfigPath string

	mu   sync.Mutex
	proc *proc // nil when stopped
	log  *procLog
}

// Addr is the loopback host:port Kamailio listens on (UDP and TCP).
func (k *Kamailio) Addr() string { return fmt.Sprintf("127.0.0.1:%d", k.Opts.Port) }

// kamailioConfig is the kamailio.cfg template. Strings in it were checked by
// NewKamailio (no quotes, no spaces).
var kamailioConfig = template.Must(template.New("kamailio").Parse(`#!KAMAILIO
# rendered by cpimgw's test harness (internal/peers/kamailio.go); loopback only

debug=2
log_stderror=yes
children=1
tcp_children=2
auto_aliases=no
listen=udp:127.0.0.1:{{.Port}}
listen=tcp:127.0.0.1:{{.Port}}
# The SIP domain is local: Request-URIs in it match "myself".
alias={{.SIPDomain}}
# No name is ever resolved: gateway-bound requests carry $du, NOTIFYs go to
# IP contacts.
dns=no
rev_dns=no
dns_try_ipv6=no
use_dns_cache=no

mpath="{{.Modules}}/"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "db_text.so"
loadmodule "presence.so"
loadmodule "presence_xml.so"

# A relayed request to a silent peer fails with 408 after 5 s instead of 30 s.
modparam("tm", "fr_timer", 5000)

# Presence agent: subscriptions in memory only (subs_db_mode 0); an index of
# publications in memory over the db_text table (publ_cache 1; 2 loses the
# document on a body-less refresh). Expiry is checked every second.
modparam("presence", "db_url", "text://{{.DBDir}}")
modparam("presence", "subs_db_mode", 0)
modparam("presence", "publ_cache", 1)
modparam("presence", "clean_period", 1)
modparam("presence", "db_update_period", 1)
# No XCAP: every watcher is authorized (active) at once.
modparam("presence_xml", "db_url", "text://{{.DBDir}}")
modparam("presence_xml", "force_active", 1)
modparam("presence_xml", "integrated_xcap_server", 0)

request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (!sanity_check()) {
		exit;
	}
	xlog("L_INFO", "route: $rm $ru from $proto:$si:$sp\n");
	if (is_method("CANCEL")) {
		if (t_check_trans()) {
			route(RELAY);
		}
		exit;
	}
	if (has_totag()) {
		route(WITHINDLG);
		exit;
	}
	# A preloaded Route to this proxy (outbound proxy) is consumed; routing
	# below goes by Request-URI domain only.
	if (is_present_hf("Route")) {
		loose_route();
	}
{{- range .GatewayDomains}}
	if ($(rd{s.tolower}) == "{{.}}") {
		route(GATEWAY);
		exit;
	}
{{- end}}
	if ($(rd{s.tolower}) == "{{.SIPDomain}}") {
		if (is_method("PUBLISH|SUBSCRIBE")) {
			route(PRESENCE);
			exit;
		}
{{- range .Users}}
		if ($rU == "{{.User}}") {
			$du = "sip:{{.Addr}}";
			route(RELAY);
			exit;
		}
{{- end}}
	}
	sl_send_reply("404", "Not here");
}

# In-dialog requests: those carrying our Record-Route go on to the remote
# target; refreshes and un-SUBSCRIBEs of our own presence dialogs come to
# our Contact without a Route.
route[WITHINDLG] {
	if (loose_route()) {
		if (is_method("SUBSCRIBE") && uri == myself) {
			route(PRESENCE);
			exit;
		}
		# A NOTIFY may create the subscriber's dialog before the 2xx does:
		# it carries the route set too (RFC 6665 §4.1.2.4).
		if (is_method("NOTIFY")) {
			record_route();
		}
		route(RELAY);
		exit;
	}
	if (is_method("SUBSCRIBE") && uri == myself) {
		route(PRESENCE);
		exit;
	}
	if (is_method("ACK")) {
		if (t_check_trans()) {
			t_relay();
		}
		exit;
	}
	sl_send_reply("404", "Not here");
}

route[GATEWAY] {
{{- if .PublishMode}}
	if (is_method("PUBLISH|SUBSCRIBE")) {
		route(PRESENCE);
		exit;
	}
{{- end}}
	$du = "sip:{{.Gateway}}{{if .GatewayTCP}};transport=tcp{{end}}";
	if (is_method("SUBSCRIBE")) {
		record_route();
	}
	route(RELAY);
}

route[RELAY] {
	if (!t_relay()) {
		sl_reply_error();
	}
	exit;
}

route[PRESENCE] {
	if (!t_newtran()) {
		sl_reply_error();
		exit;
	}
	if (is_method("PUBLISH")) {
		handle_publish();
	} else {
		handle_subscribe();
	}
	t_release();
	# Read by Kamailio.WaitLog: the reply has been sent.
	xlog("L_INFO", "presence: handled $rm $ru from $fu expires $hdr(Expires)\n");
}

# Read by Kamailio.WaitLog: a NOTIFY of the presence server got its reply.
event_route[presence:notify-reply] {
	xlog("L_INFO", "presence: notify-reply $notify_reply($rs) for $subs(pres_uri) to $subs(watcher_username)@$subs(watcher_domain) status $subs(status)\n");
}
`))

type kamailioUser struct{ User, Addr string }

// safeToken is what may appear inside a quoted string of the rendered config.
var safeToken = regexp.MustCompile(`^[A-Za-z0-9._~!*'()+-]+$`)
var safePath = regexp.MustCompile(`^[A-Za-z0-9._/+-]+$`)

// NewKamailio checks the options and renders the configuration; Start runs
// the server.
func NewKamailio(o KamailioOptions) (*Kamailio, error) {
	if _, err := os.Stat(KamailioBinary); err != nil {
		return nil, fmt.Errorf("kamailio is not installed (apt-get install kamailio kamailio-presence-modules): %w", err)
	}
	modules, err := kamailioModules()
	if err != nil {
		return nil, err
	}
	if o.Port == 0 {
		if o.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return nil, err
	}
	if !safePath.MatchString(o.Dir) {
		return nil, fmt.Errorf("kamailio: directory %q must not need quoting", o.Dir)
	}
	o.SIPDomain = strings.ToLower(o.SIPDomain)
	if !safeToken.MatchString(o.SIPDomain) {
		return nil, fmt.Errorf("kamailio: bad SIP domain %q", o.SIPDomain)
	}
	o.GatewayDomains = append([]string(nil), o.GatewayDomains...)
	for i, d := range o.GatewayDomains {
		o.GatewayDomains[i] = strings.ToLower(d)
		if !safeToken.MatchString(o.GatewayDomains[i]) || o.GatewayDomains[i] == o.SIPDomain {
			return nil, fmt.Errorf("kamailio: bad gateway domain %q", d)
		}
	}
	if len(o.GatewayDomains) > 0 {
		if err := checkIPPort(o.Gateway); err != nil {
			return nil, fmt.Errorf("kamailio: gateway: %w", err)
		}
	}
	users := make([]kamailioUser, 0, len(o.Users))
	for u, a := range o.Users {
		if !safeToken.MatchString(u) {
			return nil, fmt.Errorf("kamailio: bad user %q", u)
		}
		if err := checkIPPort(a); err != nil {
			return nil, fmt.Errorf("kamailio: user %s: %w", u, err)
		}
		users = append(users, kamailioUser{u, a})
	}
	sort.Slice(users, func(i, j int) bool { return users[i].User < users[j].User })
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	k := &Kamailio{Opts: o, ConfigPath: filepath.Join(o.Dir, "kamailio.cfg")}
	var b strings.Builder
	err = kamailioConfig.Execute(&b, struct {
		KamailioOptions
		Modules, DBDir string
		Users          []kamailioUser
	}{o, modules, k.dbDir(), users})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(k.ConfigPath, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *Kamailio) dbDir() string { return filepath.Join(k.Opts.Dir, "db") }

// checkIPPort accepts an IPv4 host:port only.
func checkIPPort(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || ip.To4() == nil {
		return fmt.Errorf("%q is not an IPv4 address", host)
	}
	if !safeToken.MatchString(port) {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// kamailioModules finds the directory of the installed modules (Debian puts
// them under the multiarch triplet, e.g. /usr/lib/x86_64-linux-gnu).
func kamailioModules() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/*/kamailio/modules")
	dirs = append(dirs, "/usr/lib/kamailio/modules", "/usr/lib64/kamailio/modules", "/usr/local/lib64/kamailio/modules")
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "presence_xml.so")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("kamailio: presence modules not found (apt-get install kamailio-presence-modules)")
}

// Check runs `kamailio -c` on the rendered configuration.
func (k *Kamailio) Check() error {
	out, err := exec.Command(KamailioBinary, "-c", "-f", k.ConfigPath).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kamailio -c: %v: %s", err, out)
	}
	return nil
}

// Start copies fresh db_text tables, runs kamailio in the foreground of a
// child process (own process group, killed with the test process) and waits
// until its UDP and TCP sockets are bound.
func (k *Kamailio) Start(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.proc != nil {
		return errors.New("kamailio already running")
	}
	// Tables written at the last shutdown can stop it starting: start from
	// the packaged ones every time.
	if err := os.RemoveAll(k.dbDir()); err != nil {
		return err
	}
	if err := copyDir(KamailioDBText, k.dbDir()); err != nil {
		return fmt.Errorf("kamailio: copy db_text tables: %w", err)
	}
	run := filepath.Join(k.Opts.Dir, "run")
	if err := os.MkdirAll(run, 0o700); err != nil {
		return err
	}
	cmd := exec.Command(KamailioBinary, "-DD", "-E", "-f", k.ConfigPath,
		"-w", k.Opts.Dir, "-Y", run, "-P", filepath.Join(run, "kamailio.pid"), "-m", "32")
	if k.log == nil {
		k.log = newProcLog()
	}
	out := lineWriter(k.log.logf(k.Opts.Logf), "")
	cmd.Stdout, cmd.Stderr = out, out
	var err error
	k.proc, err = startProc(cmd, func(exited <-chan struct{}) error {
		if err := waitListening(ctx, k.Addr(), exited); err != nil {
			return fmt.Errorf("kamailio did not listen on tcp %s: %w\n%s", k.Addr(), err, k.log.tail(20))
		}
		if err := waitUDPBound(ctx, k.Addr(), exited); err != nil {
			return fmt.Errorf("kamailio did not bind udp %s: %w\n%s", k.Addr(), err, k.log.tail(20))
		}
		return nil
	})
	return err
}

// Stop terminates kamailio (SIGTERM to its process group, SIGKILL after 5 s)
// and waits.
func (k *Kamailio) Stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.proc.stop()
	k.proc = nil
}

// copyDir copies the regular files of src into a new directory dst.
func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// LogMark returns a position in Kamailio's log for WaitLog: only lines
// logged after it are searched.
func (k *Kamailio) LogMark() int {
	k.mu.Lock()
	l := k.log
	k.mu.Unlock()
	if l == nil {
		return 0
	}
	return l.mark()
}

// WaitLog waits until a log line after mark contains substr and returns it:
// the readiness hook of tests that must know Kamailio has done something
// (the config logs "presence: handled METHOD R-URI …" after each PUBLISH and
// SUBSCRIBE it answered, and "presence: notify-reply STATUS for PRESENTITY
// to WATCHER …" when a NOTIFY of its own got its final reply).
func (k *Kamailio) WaitLog(ctx context.Context, mark int, substr string) (string, error) {
	k.mu.Lock()
	l := k.log
	k.mu.Unlock()
	if l == nil {
		return "", errors.New("kamailio was never started")
	}
	return l.wait(ctx, mark, substr)
}

// procLog keeps a process's output lines (bounded) and wakes waiters.
type procLog struct {
	mu      sync.Mutex
	lines   []string
	dropped int // lines dropped from the front
	changed chan struct{}
}

const procLogMax = 100000

func newProcLog() *procLog { return &procLog{changed: make(chan struct{})} }

func (l *procLog) logf(next Logf) Logf {
	return func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		l.mu.Lock()
		l.lines = append(l.lines, line)
		if len(l.lines) > procLogMax {
			n := len(l.lines) - procLogMax/2
			l.lines = append([]string(nil), l.lines[n:]...)
			l.dropped += n
		}
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
		if next != nil {
			next("kamailio: %s", line)
		}
	}
}

func (l *procLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped + len(l.lines)
}

func (l *procLog) wait(ctx context.Context, mark int, substr string) (string, error) {
	for {
		l.mu.Lock()
		for i := max(mark-l.dropped, 0); i < len(l.lines); i++ {
			if strings.Contains(l.lines[i], substr) {
				line := l.lines[i]
				l.mu.Unlock()
				return line, nil
			}
		}
		mark = l.dropped + len(l.lines)
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return "", fmt.Errorf("kamailio: no log line with %q: %w", substr, ctx.Err())
		}
	}
}

func (l *procLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines[max(len(l.lines)-n, 0):], "\n")
}
