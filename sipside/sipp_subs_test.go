package sipside

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"cpimgw/cpim"
)

// TestSippWatcher: SIPp as a SIP watcher subscribes to an XMPP user behind
// the endpoint (S2X), refreshes with a short Expires and unsubscribes;
// SIPp checks the 200s and the NOTIFYs (testdata/sipp/uac_subscribe.xml)
// and the handler must see the three operations in order.
func TestSippWatcher(t *testing.T) {
	sippBinary(t)
	h := newFakePresence()
	h.setAnswer(func(s cpim.Subscription) (cpim.Notification, error) {
		return cpim.Notification{State: cpim.SubActive, Presence: julietPresence()}, nil
	})
	e, _ := newPresenceEndpoint(t, Config{Listen: []string{"udp:127.0.0.1:0"}, MinExpires: time.Second}, h)
	dir := t.TempDir()
	scenario, _ := filepath.Abs("testdata/sipp/uac_subscribe.xml")
	r := startSipp(t, dir, "-sf", scenario, "-s", "juliet", "-m", "1", "-i", "127.0.0.1", "-t", "u1",
		"-nostdin", "-timeout", "30s", "-timeout_error", "-trace_msg", "-message_file", "messages.log",
		addrOf(t, e, "udp"))
	if code := r.wait(t); code != 0 {
		t.Fatalf("sipp exit code %d: the watcher's checks failed", code)
	}
	first := h.next(t, "subscribe").sub
	want := cpim.Subscription{Op: cpim.Subscribe, Watcher: romeo, Target: juliet, Duration: 2 * time.Second, ID: first.ID}
	diff(t, "subscribe", first, want)
	want.Renewal = true
	diff(t, "refresh", h.next(t, "subscribe").sub, want)
	want.Op, want.Renewal, want.Duration = cpim.Unsubscribe, false, 0
	diff(t, "unsubscribe", h.next(t, "subscribe").sub, want)
	h.none(t)
	e.subs.mu.Lock()
	defer e.subs.mu.Unlock()
	if len(e.subs.notifiers) != 0 {
		t.Errorf("%d dialogs left", len(e.subs.notifiers))
	}
}

// TestSippNotifier: SIPp as a SIP presence server answers the endpoint's
// SUBSCRIBE for an XMPP user (X2S) with 200 and sends NOTIFY pending,
// active with PIDF and terminated;reason=rejected
// (testdata/sipp/uas_notifier.xml); the handler must get each as
// Notified, the active one with the presence mapped.
func TestSippNotifier(t *testing.T) {
	sippBinary(t)
	dir := t.TempDir()
	scenario, _ := filepath.Abs("testdata/sipp/uas_notifier.xml")
	port := freeUDPPort(t)
	r := startSipp(t, dir, "-sf", scenario, "-m", "1", "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-t", "u1", "-nostdin", "-timeout", "30s", "-timeout_error", "-trace_msg", "-message_file", "messages.log")
	waitUDPBound(t, port, r)

	h := newFakePresence()
	e, _ := newPresenceEndpoint(t, Config{Listen: []string{"udp:127.0.0.1:0"},
		OutboundProxy: fmt.Sprintf("sip:127.0.0.1:%d", port)}, h)
	if err := e.Subscribe(context.Background(), juliet, romeo); err != nil {
		t.Fatal(err)
	}
	ev := h.next(t, "notified")
	diff(t, "pending", ev.n, cpim.Notification{State: cpim.SubPending, Expires: 600 * time.Second})
	ev = h.next(t, "notified")
	diff(t, "active", ev.n, cpim.Notification{State: cpim.SubActive, Expires: 599 * time.Second, Presence: &cpim.Presence{
		Entity: romeo, Watcher: juliet, Lang: "de",
		Tuples: []cpim.Tuple{{Resource: "phone", Basic: cpim.Open, Show: cpim.ShowAway, Notes: []cpim.Text{{Text: "Im Garten"}}}},
	}})
	ev = h.next(t, "notified")
	diff(t, "terminated", ev.n, cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonRejected})
	if code := r.wait(t); code != 0 {
		t.Fatalf("sipp exit code %d: the SUBSCRIBE failed its checks or a NOTIFY got no 200", code)
	}
	h.none(t)
}
