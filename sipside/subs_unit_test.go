package sipside

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"cpimgw/cpim"

	"github.com/emiago/sipgo/sip"
)

// TestPresenceConfig checks the defaults of the presence fields of Config
// and that every problem is reported.
func TestPresenceConfig(t *testing.T) {
	s, err := parseConfig(Config{Listen: []string{"udp:127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.SubscribeExpires != time.Hour || s.MinExpires != time.Minute || s.MaxExpires != time.Hour ||
		s.PublishExpires != time.Hour || s.contactHost != "" {
		t.Errorf("defaults %+v", s)
	}
	for _, tc := range []struct {
		host, wantHost string
		port           int
	}{
		{"gw.example", "gw.example", 0}, {"gw.example:5080", "gw.example", 5080}, {"[::1]:5060", "::1", 5060}, {"::1", "::1", 0},
	} {
		s, err := parseConfig(Config{Listen: []string{"udp:127.0.0.1:0"}, ContactHost: tc.host})
		if err != nil || s.contactHost != tc.wantHost || s.contactPort != tc.port {
			t.Errorf("ContactHost %q: %q %d %v", tc.host, s.contactHost, s.contactPort, err)
		}
	}
	_, err = parseConfig(Config{
		Listen: []string{"udp:0.0.0.0:0"}, Presence: newFakePresence(),
		SubscribeExpires: 1500 * time.Millisecond, MinExpires: 2 * time.Hour, MaxExpires: time.Hour,
		PublishExpires: -time.Second, MaxSubscriptionsPerWatcher: -1, MaxSubscriptions: -2, SubscribeRate: -1,
	})
	for _, w := range []string{"SubscribeExpires", "MinExpires 2h0m0s: above MaxExpires", "PublishExpires",
		"MaxSubscriptionsPerWatcher", "MaxSubscriptions -2", "SubscribeRate", "ContactHost: needed"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
	if _, err := parseConfig(Config{Listen: []string{"udp:127.0.0.1:0"}, ContactHost: "a b:1"}); err == nil {
		t.Error("bad ContactHost accepted")
	}
	if _, err := parseConfig(Config{Listen: []string{"udp:127.0.0.1:0"}, ContactHost: "gw:99999"}); err == nil {
		t.Error("bad ContactHost port accepted")
	}
}

// TestContactURI checks the Contact of the gateway: the listener of the
// transport, transport=tcp when not UDP, ContactHost when set.
func TestContactURI(t *testing.T) {
	e, _ := newPresenceEndpoint(t, Config{}, newFakePresence())
	u := e.contactURI("TCP")
	if u.String() != "sip:"+addrOf(t, e, "tcp")+";transport=tcp" {
		t.Errorf("TCP contact %s", u.String())
	}
	if u := e.contactURI("TLS"); u.String() != "sip:"+addrOf(t, e, "udp") {
		t.Errorf("contact for a transport without listener: %s", u.String())
	}
	e2, _ := newPresenceEndpoint(t, Config{ContactHost: "gw.example:5099"}, newFakePresence())
	if u := e2.contactURI("UDP"); u.String() != "sip:gw.example:5099" {
		t.Errorf("ContactHost contact %s", u.String())
	}
}

// TestStrictRouting checks a route set whose first hop lacks lr (RFC 3261
// §12.2.1.1): that hop becomes the Request-URI and the remote target the
// last Route.
func TestStrictRouting(t *testing.T) {
	e, _ := newCheckEndpoint(t, Config{}, newFakePresence())
	d := benchNotifier()
	var strict, loose sip.Uri
	sip.ParseUri("sip:p1.example:5070", &strict)
	sip.ParseUri("sip:p2.example;lr", &loose)
	d.routes = []sip.Uri{strict, loose}
	v := d.view()
	req := e.newDialogRequest(sip.NOTIFY, &v, 1, false)
	var routes []string
	for _, h := range req.GetHeaders("Route") {
		routes = append(routes, h.Value())
	}
	if req.Recipient.String() != "sip:p1.example:5070" || req.Destination() != "p1.example:5070" {
		t.Errorf("Request-URI %s, destination %s", req.Recipient.String(), req.Destination())
	}
	diff(t, "Route", routes, []string{"<sip:p2.example;lr>", "<sip:romeo@192.0.2.10:5060>"})
}

// TestSerializer checks the per-pair order of handler calls and the bound
// of each pair's queue.
func TestSerializer(t *testing.T) {
	var workers []func()
	s := &serializer{q: map[string][]func(){}, limit: 3, start: func(f func()) bool { workers = append(workers, f); return true }}
	var got []string
	rec := func(v string) func() { return func() { got = append(got, v) } }
	for i := range 3 {
		if !s.post("a", rec(fmt.Sprint("a", i))) {
			t.Fatalf("post %d refused", i)
		}
	}
	if s.post("a", rec("a-over")) {
		t.Error("post over the limit accepted")
	}
	if !s.post("b", rec("b0")) {
		t.Error("another pair refused")
	}
	if len(workers) != 2 {
		t.Fatalf("%d workers, want one per pair", len(workers))
	}
	for _, w := range workers {
		w()
	}
	diff(t, "order", got, []string{"a0", "a1", "a2", "b0"})
	if len(s.q) != 0 {
		t.Errorf("queues left: %v", s.q)
	}
	stopped := &serializer{q: map[string][]func(){}, limit: 3, start: func(func()) bool { return false }}
	if stopped.post("a", func() {}) || len(stopped.q) != 0 {
		t.Error("post accepted while stopping")
	}
}

// TestRateLimiter checks the token bucket: a burst of one second's worth,
// refill at the rate, Retry-After, one "first refusal" per burst, and the
// sweep of full buckets.
func TestRateLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	r := newRateLimiter(0.5, func() time.Time { return now })
	if ok, _, _ := r.allow("a"); !ok {
		t.Fatal("first refused")
	}
	ok, wait, first := r.allow("a")
	if ok || wait != 2 || !first {
		t.Errorf("second: ok %v wait %d first %v", ok, wait, first)
	}
	if _, _, first := r.allow("a"); first {
		t.Error("second refusal of the burst marked first")
	}
	now = now.Add(2 * time.Second)
	if ok, _, _ := r.allow("a"); !ok {
		t.Error("refused after refill")
	}
	for i := range maxBuckets {
		r.allow(fmt.Sprint("src", i))
	}
	now = now.Add(time.Hour)
	r.allow("new")
	if len(r.buckets) != 1 {
		t.Errorf("%d buckets after the sweep", len(r.buckets))
	}
}

// TestHeaderSyntax checks the readers of Event, Expires and Accept and the
// writer of Subscription-State.
func TestHeaderSyntax(t *testing.T) {
	parse := func(headers ...string) *sip.Request {
		r := defaultMessage()
		for _, h := range headers {
			k, v, _ := strings.Cut(h, ":")
			r = r.with(k, strings.TrimSpace(v))
		}
		return r.parse(t, "192.0.2.1:5060")
	}
	for _, tc := range []struct {
		headers []string
		pkg, id string
		n       int
	}{
		{nil, "", "", 0},
		{[]string{"Event: presence"}, "presence", "", 1},
		{[]string{"o: presence;ID=a1"}, "presence", "a1", 1},
		{[]string{"Event: presence", "o: presence"}, "presence", "", 2},
	} {
		pkg, id, n := eventOf(parse(tc.headers...))
		if pkg != tc.pkg || id != tc.id || n != tc.n {
			t.Errorf("%v: %q %q %d", tc.headers, pkg, id, n)
		}
	}
	for _, tc := range []struct {
		v           string
		secs        uint32
		present, ok bool
	}{{"", 0, false, true}, {"600", 600, true, true}, {"99999999999", maxExpiresSeconds, true, true}, {"-1", 0, true, false}, {"1h", 0, true, false}} {
		var req *sip.Request
		if tc.v == "" {
			req = parse()
		} else {
			req = parse("Expires: " + tc.v)
		}
		secs, present, ok := expiresOf(req, "Expires")
		if secs != tc.secs || present != tc.present || ok != tc.ok {
			t.Errorf("Expires %q: %d %v %v", tc.v, secs, present, ok)
		}
	}
	for v, want := range map[string]bool{
		"": true, "application/pidf+xml": true, "text/plain, Application/PIDF+XML;q=0.5": true,
		"application/*": true, "*/*": true, "application/pidf+xml;q=0": false, "text/plain": false,
	} {
		req := parse()
		if v != "" {
			req = parse("Accept: " + v)
		}
		if got := acceptsPIDF(req); got != want {
			t.Errorf("Accept %q: %v", v, got)
		}
	}
	for _, tc := range []struct {
		state      cpim.SubState
		reason     string
		retry, rem time.Duration
		want       string
	}{
		{cpim.SubActive, "", 0, 599900 * time.Millisecond, "active;expires=599"},
		{cpim.SubPending, "x", time.Second, -time.Second, "pending;expires=0"},
		{cpim.SubTerminated, "rejected", 0, 0, "terminated;reason=rejected"},
		{cpim.SubTerminated, "probation", 1500 * time.Millisecond, 0, "terminated;reason=probation;retry-after=2"},
		{cpim.SubTerminated, "no token", 0, 0, "terminated"},
	} {
		if got := subStateValue(tc.state, tc.reason, tc.retry, tc.rem); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.state, tc.reason, got, tc.want)
		}
	}
}
