package xmppside

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"cpimgw/cpim"
)

// presenceRecorder is a PresenceHandler that records what it gets.
type presenceRecorder struct {
	events chan any
	err    error
	block  chan struct{} // if set, Presence waits for it to close after recording
}

type presenceErr struct {
	from, to cpim.Address
	e        *cpim.Error
}

func newPresenceRecorder() *presenceRecorder { return &presenceRecorder{events: make(chan any, 64)} }

func (r *presenceRecorder) Presence(_ context.Context, p cpim.Presence) error {
	r.events <- p
	if r.block != nil {
		<-r.block
	}
	return nil
}

func (r *presenceRecorder) Subscription(_ context.Context, s cpim.Subscription) error {
	r.events <- s
	return r.err
}

func (r *presenceRecorder) PresenceError(_ context.Context, from, to cpim.Address, e *cpim.Error) error {
	r.events <- presenceErr{from, to, e}
	return nil
}

func (r *presenceRecorder) next(t *testing.T) any {
	t.Helper()
	select {
	case e := <-r.events:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("presence handler got nothing")
		return nil
	}
}

var (
	alice = cpim.Address{Local: "alice", Domain: "xmpp.example.test"}
	bob   = cpim.Address{Local: "bob", Domain: testDomain}
)

func startWithPresence(t *testing.T) (*Component, *fakeConn, *presenceRecorder) {
	t.Helper()
	fake := newFakeServer(t, testDomain, testSecret)
	pr := newPresenceRecorder()
	c := startComponent(t, fake, newRecorder(), nil)
	c.SetPresenceHandler(pr)
	conn := fake.next(t)
	waitUp(t, c)
	return c, conn, pr
}

// TestPresenceIntake: presence stanzas from XMPP users to SIP users reach
// the handler as cpim values: notifications with one tuple for the sending
// resource (RFC 8048 §6.2), subscription operations with bare addresses in
// the direction cpim.Subscription defines (SUB-29), errors as errors.
func TestPresenceIntake(t *testing.T) {
	_, conn, pr := startWithPresence(t)
	cases := []struct {
		name string
		in   string
		want any
	}{
		{"available with show, statuses and priority",
			`<presence from='alice@xmpp.example.test/desk' to='bob@sip.example.test' xml:lang='en'><show>away</show><status>Lunch</status><status xml:lang='de'>Mittag</status><priority>5</priority></presence>`,
			cpim.Presence{Entity: alice, Watcher: bob, Lang: "en", Tuples: []cpim.Tuple{{Resource: "desk", Basic: cpim.Open, Show: cpim.ShowAway,
				Notes: []cpim.Text{{Text: "Lunch"}, {Lang: "de", Text: "Mittag"}}, Priority: 5, HasPriority: true}}}},
		{"unavailable",
			`<presence from='alice@xmpp.example.test/desk' to='bob@sip.example.test' type='unavailable'/>`,
			cpim.Presence{Entity: alice, Watcher: bob, Tuples: []cpim.Tuple{{Resource: "desk", Basic: cpim.Closed}}}},
		{"subscribe from the watcher",
			`<presence from='alice@xmpp.example.test' to='bob@sip.example.test' type='subscribe' id='s1'/>`,
			cpim.Subscription{Op: cpim.Subscribe, Watcher: alice, Target: bob, ID: "s1"}},
		{"subscribed is the target's decision",
			`<presence from='alice@xmpp.example.test' to='bob@sip.example.test' type='subscribed'/>`,
			cpim.Subscription{Op: cpim.Subscribed, Watcher: bob, Target: alice}},
		{"unsubscribed from a full JID is bare",
			`<presence from='alice@xmpp.example.test/desk' to='bob@sip.example.test/x' type='unsubscribed'/>`,
			cpim.Subscription{Op: cpim.Unsubscribed, Watcher: bob, Target: alice}},
		{"probe",
			`<presence from='alice@xmpp.example.test' to='bob@sip.example.test' type='probe'/>`,
			cpim.Subscription{Op: cpim.Probe, Watcher: alice, Target: bob}},
		{"unsubscribe",
			`<presence from='alice@xmpp.example.test' to='bob@sip.example.test' type='unsubscribe'/>`,
			cpim.Subscription{Op: cpim.Unsubscribe, Watcher: alice, Target: bob}},
		{"error",
			`<presence from='alice@xmpp.example.test' to='bob@sip.example.test' type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>`,
			presenceErr{alice, bob, &cpim.Error{Condition: cpim.ItemNotFound}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn.write(tc.in)
			if got := pr.next(t); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
	// Ignored, without an answer: presence to a user that cannot exist
	// (RFC 6121 §8.5.1), an unknown type is answered bad-request.
	conn.write(`<presence from='alice@xmpp.example.test' to='dave\40xmpp.example.test@sip.example.test' type='subscribe'/>`)
	conn.write(`<presence from='eve@evil.example' to='bob@sip.example.test' type='subscribe' id='f1'/>`)
	s := conn.expect(t)
	if s.Attr["type"] != "error" || s.Attr["id"] != "f1" || !strings.Contains(s.Inner, "<forbidden") {
		t.Fatalf("foreign domain (SEC-03): %v %s", s.Attr, s.Inner)
	}
	conn.write(`<presence from='eve@evil.example/x' to='bob@sip.example.test'/>`)
	conn.write(`<presence from='alice@xmpp.example.test' to='bob@sip.example.test' type='bogus' id='b1'/>`)
	s = conn.expect(t)
	if s.Attr["type"] != "error" || s.Attr["id"] != "b1" || !strings.Contains(s.Inner, "<bad-request") {
		t.Fatalf("unknown type: %v %s", s.Attr, s.Inner)
	}
	conn.expectNone(t, testDomain)
	select {
	case e := <-pr.events:
		t.Errorf("handler got %#v", e)
	default:
	}
}

// TestSubscriptionRefused: a subscription the core refuses (a limit, say)
// comes back to the XMPP user as a presence error with the stanza id.
func TestSubscriptionRefused(t *testing.T) {
	_, conn, pr := startWithPresence(t)
	pr.err = &cpim.Error{Condition: cpim.ResourceConstraint, Text: "too many subscriptions"}
	conn.write(`<presence from='alice@xmpp.example.test' to='bob@sip.example.test' type='subscribe' id='lim'/>`)
	pr.next(t)
	s := conn.expect(t)
	if s.Name != "presence" || s.Attr["type"] != "error" || s.Attr["id"] != "lim" || s.Attr["from"] != "bob@"+testDomain ||
		!strings.Contains(s.Inner, "<resource-constraint") {
		t.Fatalf("got %s %v %s", s.Name, s.Attr, s.Inner)
	}
}

// TestSendPresence: a SIP user's presence goes out as one stanza per tuple
// from the tuple's resource (RFC 8048 §6.3), all in the component domain;
// no tuples is one bare unavailable.
func TestSendPresence(t *testing.T) {
	c, conn, _ := startWithPresence(t)
	ctx := context.Background()
	err := c.SendPresence(ctx, cpim.Presence{Entity: bob, Watcher: alice, Lang: "en", Tuples: []cpim.Tuple{
		{Resource: "phone", Basic: cpim.Open, Show: cpim.ShowDND, Notes: []cpim.Text{{Text: "In a call"}}, Priority: 10, HasPriority: true},
		{Resource: "desk", Basic: cpim.Closed},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := conn.expect(t)
	if s.Attr["from"] != "bob@"+testDomain+"/phone" || s.Attr["to"] != "alice@xmpp.example.test" || s.Attr["type"] != "" ||
		!strings.Contains(s.Inner, "<show>dnd</show>") || !strings.Contains(s.Inner, "In a call") || !strings.Contains(s.Inner, "<priority>10</priority>") {
		t.Errorf("first stanza %v %s", s.Attr, s.Inner)
	}
	if s := conn.expect(t); s.Attr["from"] != "bob@"+testDomain+"/desk" || s.Attr["type"] != "unavailable" {
		t.Errorf("second stanza %v %s", s.Attr, s.Inner)
	}
	if err := c.SendPresence(ctx, cpim.Presence{Entity: bob, Watcher: alice}); err != nil {
		t.Fatal(err)
	}
	if s := conn.expect(t); s.Attr["from"] != "bob@"+testDomain || s.Attr["type"] != "unavailable" {
		t.Errorf("bare unavailable %v", s.Attr)
	}
	// A presentity outside the component domain is refused (CMP-04).
	err = c.SendPresence(ctx, cpim.Presence{Entity: alice, Watcher: alice, Tuples: []cpim.Tuple{{Resource: "x", Basic: cpim.Open}}})
	if cpim.ConditionOf(err) != cpim.Forbidden {
		t.Errorf("foreign presentity: %v", err)
	}
}

func TestSendSubscription(t *testing.T) {
	c, conn, _ := startWithPresence(t)
	ctx := context.Background()
	for _, tc := range []struct {
		s        cpim.Subscription
		from, to string
	}{
		{cpim.Subscription{Op: cpim.Subscribed, Watcher: alice, Target: bob}, "bob@" + testDomain, "alice@xmpp.example.test"},
		{cpim.Subscription{Op: cpim.Unsubscribed, Watcher: alice, Target: bob}, "bob@" + testDomain, "alice@xmpp.example.test"},
		{cpim.Subscription{Op: cpim.Subscribe, Watcher: bob, Target: alice}, "bob@" + testDomain, "alice@xmpp.example.test"},
		{cpim.Subscription{Op: cpim.Probe, Watcher: bob, Target: alice}, "bob@" + testDomain, "alice@xmpp.example.test"},
	} {
		if err := c.SendSubscription(ctx, tc.s); err != nil {
			t.Fatal(err)
		}
		s := conn.expect(t)
		if s.Name != "presence" || s.Attr["type"] != string(tc.s.Op) || s.Attr["from"] != tc.from || s.Attr["to"] != tc.to {
			t.Errorf("%s: %v", tc.s.Op, s.Attr)
		}
	}
	err := c.SendSubscription(ctx, cpim.Subscription{Op: cpim.Subscribe, Watcher: alice, Target: bob})
	if !errors.As(err, new(*cpim.Error)) {
		t.Errorf("subscribe from an XMPP user: %v", err)
	}
	if err := c.SendPresenceError(ctx, bob, alice, "sub-1", &cpim.Error{Condition: cpim.ItemNotFound}); err != nil {
		t.Fatal(err)
	}
	s := conn.expect(t)
	if s.Attr["type"] != "error" || s.Attr["id"] != "sub-1" || s.Attr["from"] != "bob@"+testDomain || s.Attr["to"] != "alice@xmpp.example.test" ||
		!strings.Contains(s.Inner, "<item-not-found") || !strings.Contains(s.Inner, `type="cancel"`) {
		t.Errorf("presence error %v %s", s.Attr, s.Inner)
	}
}

// TestPresenceBurstKeepsNewest: with the worker busy and its queue full, a
// burst of presence from one resource is not dropped: the newest waits
// for room and reaches the handler, the ones it superseded never do
// (presence is state, RFC 6121 §4.4). Each resource keeps its own newest.
func TestPresenceBurstKeepsNewest(t *testing.T) {
	fake := newFakeServer(t, testDomain, testSecret)
	pr := newPresenceRecorder()
	pr.block = make(chan struct{})
	c := startComponent(t, fake, newRecorder(), func(cfg *Config) { cfg.Workers = 1; cfg.QueueDepth = 1 })
	c.SetPresenceHandler(pr)
	conn := fake.next(t)
	waitUp(t, c)
	pres := func(resource, status string) string {
		return `<presence from='alice@xmpp.example.test/` + resource + `' to='bob@sip.example.test'><status>` + status + `</status></presence>`
	}
	conn.write(pres("desk", "s0"))
	if got := noteOf(pr.next(t)); got != "desk s0" {
		t.Fatalf("first presence %q", got)
	}
	// The worker is busy with s0: s1 takes the queue, the rest wait.
	for _, s := range []string{"s1", "s2", "s3", "s4", "s5"} {
		conn.write(pres("desk", s))
	}
	conn.write(pres("phone", "p1"))
	conn.write(`<presence from='alice@xmpp.example.test/desk' to='bob@sip.example.test' type='unavailable'/>`)
	// Stanzas are handled in order, and a disco#info is answered inline:
	// its answer means every presence above was taken in.
	conn.write(`<iq type='get' from='alice@xmpp.example.test/a' to='` + testDomain + `' id='sync'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	if s := conn.expect(t); s.Attr["id"] != "sync" {
		t.Fatalf("got %v", s.Attr)
	}
	close(pr.block) // s0's call returns, and no later one waits
	if got := noteOf(pr.next(t)); got != "desk s1" {
		t.Errorf("queued presence %q, want desk s1", got)
	}
	got := []string{noteOf(pr.next(t)), noteOf(pr.next(t))}
	slices.Sort(got)
	if want := []string{"desk closed", "phone p1"}; !slices.Equal(got, want) {
		t.Errorf("held presences %q, want %q (the newest of each resource)", got, want)
	}
	// Nothing superseded follows: the next presence is a new one.
	conn.write(pres("tablet", "t1"))
	if got := noteOf(pr.next(t)); got != "tablet t1" {
		t.Errorf("after the burst: %q, want tablet t1 (s2–s5 were superseded)", got)
	}
	conn.expectNone(t, testDomain)
}

// noteOf describes a recorded presence by its tuple's resource and note,
// or "closed".
func noteOf(e any) string {
	p, ok := e.(cpim.Presence)
	if !ok || len(p.Tuples) != 1 {
		return fmt.Sprintf("not one tuple: %#v", e)
	}
	tu := p.Tuples[0]
	if tu.Basic == cpim.Closed {
		return tu.Resource + " closed"
	}
	if len(tu.Notes) != 1 {
		return tu.Resource + " without one note"
	}
	return tu.Resource + " " + tu.Notes[0].Text
}

// TestStanzaTooLarge: a message or presence whose text exceeds the
// component's limit is refused with policy-violation and its id (the
// gateway never buffers it), and the stream carries on with the next
// stanza.
func TestStanzaTooLarge(t *testing.T) {
	_, conn, pr := startWithPresence(t)
	big := strings.Repeat("x", maxStanzaText+1)
	for _, tc := range []struct{ kind, stanza string }{
		{"message", `<message from='alice@xmpp.example.test/a' to='bob@sip.example.test' id='big-m'><body>` + big + `</body></message>`},
		{"presence", `<presence from='alice@xmpp.example.test/a' to='bob@sip.example.test' id='big-p'><status>` + big + `</status></presence>`},
	} {
		conn.write(tc.stanza)
		s := conn.expect(t)
		if s.Name != tc.kind || s.Attr["type"] != "error" || s.Attr["id"] != "big-"+tc.kind[:1] ||
			s.Attr["to"] != "alice@xmpp.example.test/a" || !strings.Contains(s.Inner, "<policy-violation") {
			t.Errorf("%s: got %s %v %s", tc.kind, s.Name, s.Attr, s.Inner)
		}
	}
	conn.write(`<presence from='alice@xmpp.example.test/a' to='bob@sip.example.test'><status>small</status></presence>`)
	if got := noteOf(pr.next(t)); got != "a small" {
		t.Errorf("after the large stanzas: %q", got)
	}
}
