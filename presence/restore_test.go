package presence

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cpimgw/cpim"
	"cpimgw/store"
)

var (
	nurse    = cpim.Address{Local: "nurse", Domain: "example.com"}
	benvolio = cpim.Address{Local: "benvolio", Domain: "example.net"}
	tybalt   = cpim.Address{Local: "tybalt", Domain: "example.net"}
)

func auth(d store.Direction, w, t cpim.Address, st store.AuthState) store.Auth {
	return store.Auth{Direction: d, Watcher: store.Key(w), Target: store.Key(t), State: st, Updated: t0.Add(-time.Hour)}
}

// TestRestore starts the core on a pre-filled store: authorizations and
// cached presence are taken from it, nobody is asked for authorization
// again, live subscriber dialogs are left to sipside, and granted X2S
// authorizations without one are re-subscribed.
func TestRestore(t *testing.T) {
	st := store.NewMemory()
	for _, a := range []store.Auth{
		auth(store.X2S, juliet, romeo, store.AuthGranted),    // live dialog
		auth(store.X2S, juliet, benvolio, store.AuthGranted), // dialog expired
		auth(store.X2S, nurse, romeo, store.AuthGranted),     // no dialog
		auth(store.X2S, juliet, tybalt, store.AuthPending),   // undecided, no dialog
		auth(store.S2X, romeo, juliet, store.AuthGranted),
		auth(store.S2X, benvolio, juliet, store.AuthPending),
	} {
		st.PutAuth(a)
	}
	st.PutDialog(store.Dialog{ID: "d1", Role: store.Subscriber, Watcher: store.Key(juliet), Target: store.Key(romeo),
		State: cpim.SubActive, Expires: t0.Add(30 * time.Minute)})
	st.PutDialog(store.Dialog{ID: "d2", Role: store.Subscriber, Watcher: store.Key(juliet), Target: store.Key(benvolio),
		State: cpim.SubActive, Expires: t0.Add(-time.Minute)})
	st.PutDialog(store.Dialog{ID: "d3", Role: store.Notifier, Watcher: store.Key(romeo), Target: store.Key(juliet),
		State: cpim.SubActive, Expires: t0.Add(30 * time.Minute)})
	st.PutPresence(viewKey(romeo, juliet), *sipPresence(romeo, "phone", "away"))
	st.PutPresence(viewKey(juliet, romeo), cpim.Presence{Entity: juliet, Watcher: romeo, Tuples: []cpim.Tuple{{Resource: "balcony", Basic: cpim.Open}}})

	h := newHarness(t, opts{st: st, cfg: Config{MaxPerWatcher: 3}})
	h.advance(time.Second) // the spread re-subscriptions
	h.expectUnordered("SUBSCRIBE juliet@example.com→benvolio@example.net", "SUBSCRIBE nurse@example.com→romeo@example.net")

	// X2S: the live dialog's next NOTIFY is a plain update, the cache answers probes.
	h.notified(active("phone", "away"))
	h.expect()
	h.xsub(cpim.Probe, juliet, romeo)
	h.expect(presRJ + "[phone open/away]")
	// S2X: the watcher's refresh gets the cached state; the undecided one stays pending.
	h.wantNotification(h.subscribeReq(cpim.Subscribe, true), "active [balcony open]")
	n, err := h.sipEv.SubscribeRequest(h.ctx, cpim.Subscription{Op: cpim.Subscribe, Renewal: true, Watcher: benvolio, Target: juliet})
	h.ok(err)
	h.wantNotification(n, "pending (no body)")
	h.pres(juliet, "balcony", "dnd", romeo)
	h.expect(notifyRJ + "active [balcony open/dnd]")
	// The limit counts restored subscriptions: juliet has three.
	h.xsub(cpim.Subscribe, juliet, cpim.Address{Local: "mercutio", Domain: "example.net"})
	h.expect("error resource-constraint mercutio@example.net→juliet@example.com")
	// No authorization was asked again, nothing changed in the store.
	for _, a := range []struct {
		d    store.Direction
		w, t cpim.Address
		want store.AuthState
	}{
		{store.X2S, juliet, romeo, store.AuthGranted}, {store.X2S, juliet, benvolio, store.AuthGranted},
		{store.X2S, nurse, romeo, store.AuthGranted}, {store.X2S, juliet, tybalt, store.AuthPending},
		{store.S2X, romeo, juliet, store.AuthGranted}, {store.S2X, benvolio, juliet, store.AuthPending},
	} {
		h.wantAuth(a.d, a.w, a.t, a.want)
	}
}

// TestRestart runs a core, stops it and starts another on the same store:
// presence flows again both ways without any authorization being asked.
func TestRestart(t *testing.T) {
	st := store.NewMemory()
	h := newHarness(t, opts{st: st, cfg: Config{NotifyInterval: -1}})
	h.granted("phone", "open")
	h.s2xGranted()
	h.pres(juliet, "balcony", "open", romeo)
	h.calls()
	// sipside's dialog record of the X2S pair.
	st.PutDialog(store.Dialog{ID: "x", Role: store.Subscriber, Watcher: store.Key(juliet), Target: store.Key(romeo),
		State: cpim.SubActive, Expires: t0.Add(time.Hour)})
	h.stop()

	h2 := newHarness(t, opts{st: st, cfg: Config{NotifyInterval: -1}})
	h2.advance(time.Second)
	h2.expect() // dialog live: nothing to re-subscribe; nobody asked
	h2.notified(active("phone", "dnd"))
	h2.expect(presRJ + "[phone open/dnd]")
	h2.pres(juliet, "balcony", "away", romeo)
	h2.expect(notifyRJ + "active [balcony open/away]")
}

// TestLimits checks MaxPerWatcher and MaxTotal (issue 4 item 5): beyond
// them a subscribe gets resource-constraint, nothing reaches SIP, and a
// freed slot can be used again.
func TestLimits(t *testing.T) {
	h := newHarness(t, opts{cfg: Config{MaxPerWatcher: 2, MaxTotal: 3}})
	c := func(i int) cpim.Address { return cpim.Address{Local: fmt.Sprintf("c%d", i), Domain: "example.net"} }
	h.xsub(cpim.Subscribe, juliet, c(1))
	h.xsub(cpim.Subscribe, juliet, c(2))
	h.xsub(cpim.Subscribe, juliet, c(3))
	h.expect("SUBSCRIBE juliet@example.com→c1@example.net", "SUBSCRIBE juliet@example.com→c2@example.net",
		"error resource-constraint c3@example.net→juliet@example.com")
	h.wantAuth(store.X2S, juliet, c(3), store.AuthNone)
	h.xsub(cpim.Subscribe, juliet, c(2)) // a repeat is not a new subscription
	h.xsub(cpim.Subscribe, nurse, c(1))
	h.xsub(cpim.Subscribe, nurse, c(2))
	h.expect("SUBSCRIBE nurse@example.com→c1@example.net", "error resource-constraint c2@example.net→nurse@example.com")
	h.xsub(cpim.Unsubscribe, juliet, c(1))
	h.calls()
	h.xsub(cpim.Subscribe, nurse, c(2))
	h.expect("SUBSCRIBE nurse@example.com→c2@example.net")
	// A refusal by C frees the slot too.
	h.ok(h.sipEv.SubscribeFailed(h.ctx, nurse, c(2), &cpim.Error{Condition: cpim.Forbidden, Status: 403}, true))
	h.calls()
	h.xsub(cpim.Subscribe, juliet, c(3))
	h.expect("SUBSCRIBE juliet@example.com→c3@example.net")
}

// TestNewConfig checks New's validation and defaults.
func TestNewConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no store":       {},
		"unknown mode":   {Store: store.NewMemory(), Mode: "broadcast"},
		"negative limit": {Store: store.NewMemory(), MaxTotal: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
	c, err := New(Config{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	if c.mode != Notifier || c.interval != DefaultNotifyInterval || c.probeTimeout != DefaultProbeTimeout {
		t.Errorf("defaults: mode %q interval %v probe timeout %v", c.mode, c.interval, c.probeTimeout)
	}
}

// TestRunLifecycle: handlers wait for the restore; Run runs once; a store
// that fails the restore makes Run and the waiting handlers fail.
func TestRunLifecycle(t *testing.T) {
	h := newHarness(t, opts{})
	if err := h.c.Run(h.ctx); err == nil {
		t.Error("second Run accepted")
	}
	h.stop()

	st := store.NewMemory()
	st.Close()
	c, err := New(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		waited <- c.XMPPEvents().Subscription(context.Background(), cpim.Subscription{Op: cpim.Probe, Watcher: juliet, Target: romeo})
	}()
	if err := c.Run(context.Background()); err == nil {
		t.Error("Run on a closed store: no error")
	}
	if err := <-waited; err == nil {
		t.Error("handler: no error after a failed restore")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c2, _ := New(Config{Store: store.NewMemory()})
	if err := c2.XMPPEvents().Subscription(ctx, cpim.Subscription{Op: cpim.Probe, Watcher: juliet, Target: romeo}); err == nil {
		t.Error("handler before Run with a done context: no error")
	}
}
