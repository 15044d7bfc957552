package sipside

import (
	"context"
	"strings"
	"testing"
	"time"

	"cpimgw/cpim"
	"cpimgw/store"

	"github.com/emiago/sipgo/sip"
)

// TestCSeqHighWater checks the lazy CSeq persistence of the issue 4
// design: the stored mark moves once per cseqBlock requests and is always
// above every CSeq used, digest retries included.
func TestCSeqHighWater(t *testing.T) {
	d := &dialog{}
	moves := 0
	for i := 1; i <= 250; i++ {
		n, moved := d.nextCSeq()
		if n != uint32(i) {
			t.Fatalf("CSeq %d, want %d", n, i)
		}
		if moved {
			moves++
		}
		if d.cseqMark < n {
			t.Fatalf("mark %d below CSeq %d", d.cseqMark, n)
		}
	}
	if moves != 3 || d.cseqMark != 301 {
		t.Errorf("%d moves, mark %d; want 3, 301", moves, d.cseqMark)
	}
	if d.observeCSeq(200) || !d.observeCSeq(301) || d.cseqMark != 401 {
		t.Errorf("observe: mark %d", d.cseqMark)
	}
	// A restored dialog continues above its mark.
	r, err := dialogFromRecord(store.Dialog{ID: "x", Role: store.Notifier, Watcher: "romeo@sip.example",
		Target: "juliet@xmpp.example", CallID: "c", LocalTag: "l", RemoteTag: "r",
		LocalURI: "sip:juliet@xmpp.example", RemoteURI: "sip:romeo@sip.example", LocalCSeq: 401, Event: "presence"})
	if err != nil {
		t.Fatal(err)
	}
	if n, moved := r.nextCSeq(); n != 402 || !moved || r.cseqMark != 502 {
		t.Errorf("after restore: CSeq %d, moved %v, mark %d", n, moved, r.cseqMark)
	}
}

// TestRestoreNotifier checks a restart in the notifier role: the dialog
// is in the store with its mark; a new endpoint on the same store
// continues it: NOTIFY in the same dialog with a CSeq above every CSeq
// used, and the watcher's refresh is recognised.
func TestRestoreNotifier(t *testing.T) {
	dir := t.TempDir()
	st, err := store.OpenBolt(dir, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := newFakePresence()
	e, _, stop := startPresence(t, Config{Store: st}, h)
	p := startSIPPeer(t)
	r := p.subscribeRaw("rst-1", 1, "600")
	res, _, sub := acceptSub(t, e, h, p, "udp", r)
	gwTag := tagOf(res.To())
	ctx := context.Background()
	for i := 2; i <= 3; i++ {
		if err := e.Notify(ctx, romeo, juliet, cpim.Notification{State: cpim.SubActive}); err != nil {
			t.Fatal(err)
		}
		if n := p.next(t, sip.NOTIFY); n.CSeq().SeqNo != uint32(i) {
			t.Fatalf("CSeq %d", n.CSeq().SeqNo)
		}
	}
	stop()
	// The process ends: the file is all that is left.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err = store.OpenBolt(dir, store.BoltOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	stored := storedDialogs(t, st)
	if len(stored) != 1 || stored[0].ID != sub.ID || stored[0].LocalCSeq < 3 || stored[0].Role != store.Notifier ||
		stored[0].Contact != "sip:romeo@"+p.addr() || stored[0].RemoteCSeq != 1 || stored[0].Expires.IsZero() {
		t.Fatalf("stored %+v", stored)
	}
	mark := stored[0].LocalCSeq

	h2 := newFakePresence()
	e2, _ := newPresenceEndpoint(t, Config{Store: st}, h2)
	if err := e2.Notify(ctx, romeo, juliet, cpim.Notification{State: cpim.SubActive, Presence: julietPresence()}); err != nil {
		t.Fatal(err)
	}
	n := p.next(t, sip.NOTIFY)
	checkNotify(t, n, p, "rst-1", gwTag, mark+1)
	subState(t, n, "active;expires=600")
	if n.Source() != addrOf(t, e2, "udp") {
		t.Errorf("NOTIFY from %s, want the new endpoint", n.Source())
	}
	res = p.send(t, "udp", addrOf(t, e2, "udp"), r.inDialog(gwTag, 2))
	if res.StatusCode != 200 {
		t.Fatalf("refresh after restart: %d", res.StatusCode)
	}
	if ev := h2.next(t, "subscribe"); !ev.sub.Renewal || ev.sub.ID != sub.ID {
		t.Errorf("refresh %+v", ev.sub)
	}
	if n := p.next(t, sip.NOTIFY); n.CSeq().SeqNo != mark+2 {
		t.Errorf("CSeq %d, want %d", n.CSeq().SeqNo, mark+2)
	}
}

// notifierRecord is a stored notifier dialog of romeo watching juliet,
// whose Contact is the peer.
func notifierRecord(p *sipPeer, expires time.Time) store.Dialog {
	return store.Dialog{
		ID: sip.DialogIDMake("stored-1", "gwtag", "rtag"), Role: store.Notifier,
		Watcher: "romeo@sip.example", Target: "juliet@xmpp.example",
		CallID: "stored-1", LocalTag: "gwtag", RemoteTag: "rtag",
		LocalURI: "sip:juliet@xmpp.example", RemoteURI: "sip:romeo@sip.example",
		Contact: "sip:romeo@" + p.addr(), LocalCSeq: 201, RemoteCSeq: 4,
		State: cpim.SubActive, Expires: expires, Event: "presence", Accept: []string{"application/pidf+xml"},
	}
}

// TestRestoreExpiredNotifier checks a notifier dialog that expired while
// the gateway was down: on start it ends with NOTIFY
// terminated;reason=timeout (RFC 6665 §4.2.1.4) and SubscriptionEnded.
func TestRestoreExpiredNotifier(t *testing.T) {
	st := newMemStore()
	p := startSIPPeer(t)
	if err := st.PutDialog(notifierRecord(p, time.Now().Add(-time.Minute))); err != nil {
		t.Fatal(err)
	}
	h := newFakePresence()
	newPresenceEndpoint(t, Config{Store: st}, h)
	n := p.next(t, sip.NOTIFY)
	if n.CallID().Value() != "stored-1" || tagOf(n.From()) != "gwtag" || tagOf(n.To()) != "rtag" || n.CSeq().SeqNo != 202 {
		t.Errorf("NOTIFY Call-ID %s From %s To %s CSeq %d", n.CallID().Value(), n.From().Value(), n.To().Value(), n.CSeq().SeqNo)
	}
	subState(t, n, "terminated;reason=timeout")
	if ev := h.next(t, "ended"); ev.reason != "timeout" || ev.watcher != romeo || ev.target != juliet {
		t.Errorf("SubscriptionEnded %+v", ev)
	}
	if len(storedDialogs(t, st)) != 0 {
		t.Error("ended dialog still stored")
	}
}

// TestRestoreFlowGone checks a restored notifier dialog whose TCP flow
// died with the old process: the NOTIFY is routed to the Contact instead,
// and the flow is forgotten.
func TestRestoreFlowGone(t *testing.T) {
	st := newMemStore()
	p := startSIPPeer(t)
	rec := notifierRecord(p, time.Now().Add(time.Hour))
	rec.Transport, rec.Source = "TCP", freePort(t)
	if err := st.PutDialog(rec); err != nil {
		t.Fatal(err)
	}
	e, _ := newPresenceEndpoint(t, Config{Store: st}, newFakePresence())
	if err := e.Notify(context.Background(), romeo, juliet, cpim.Notification{State: cpim.SubActive}); err != nil {
		t.Fatal(err)
	}
	n := p.next(t, sip.NOTIFY)
	if n.Transport() != "UDP" || n.CSeq().SeqNo != 203 {
		t.Errorf("NOTIFY over %s CSeq %d, want UDP to the Contact with CSeq 203 (one lost on the flow)", n.Transport(), n.CSeq().SeqNo)
	}
	if got := storedDialogs(t, st); len(got) != 1 || got[0].Transport != "" || got[0].Source != "" {
		t.Errorf("stored %+v", got)
	}
}

// TestRestoreSubscriber checks a restart in the subscriber role: a stored
// dialog past its refresh time gets RefreshDue at once, and the refresh
// goes in the stored dialog (route set, remote target, tags, CSeq above
// the mark).
func TestRestoreSubscriber(t *testing.T) {
	st := newMemStore()
	p := startSIPPeer(t)
	err := st.PutDialog(store.Dialog{
		ID: sip.DialogIDMake("sub-1", "pres1", "gwtag"), Role: store.Subscriber,
		Watcher: "juliet@xmpp.example", Target: "romeo@sip.example",
		CallID: "sub-1", LocalTag: "gwtag", RemoteTag: "pres1",
		LocalURI: "sip:juliet@xmpp.example", RemoteURI: "sip:romeo@sip.example",
		RouteSet: []string{"<sip:" + p.addr() + ";lr;rr=x>"}, Contact: "sip:presence@" + p.addr(),
		LocalCSeq: 101, RemoteCSeq: 7, State: cpim.SubActive, Expires: time.Now().Add(100 * time.Second),
		Event: "presence",
	})
	if err != nil {
		t.Fatal(err)
	}
	// A record the store keeps but the endpoint cannot use.
	if err := st.PutDialog(store.Dialog{ID: "junk", Role: store.Notifier, Watcher: "a@b.example", Target: "c@d.example",
		CallID: "junk", LocalTag: "x", LocalURI: "sip:c@d.example", RemoteURI: "sip:a@b.example", Event: "presence"}); err != nil {
		t.Fatal(err)
	}
	h := newFakePresence()
	e, _ := newPresenceEndpoint(t, Config{Store: st}, h)
	if ev := h.next(t, "refresh"); ev.watcher != juliet || ev.target != romeo {
		t.Errorf("RefreshDue %+v", ev)
	}
	for _, d := range storedDialogs(t, st) {
		if d.ID == "junk" {
			t.Error("unreadable record kept")
		}
	}
	p.setAnswer(func(req *sip.Request) *sip.Response { return ok(req, "pres1", "Expires: 3600") })
	if err := e.Subscribe(context.Background(), juliet, romeo); err != nil {
		t.Fatal(err)
	}
	ref := p.next(t, sip.SUBSCRIBE)
	if ref.CallID().Value() != "sub-1" || tagOf(ref.From()) != "gwtag" || tagOf(ref.To()) != "pres1" ||
		ref.CSeq().SeqNo != 102 || ref.Recipient.String() != "sip:presence@"+p.addr() ||
		header(ref, "Route") != "<sip:"+p.addr()+";lr;rr=x>" {
		t.Errorf("refresh after restart:\n%s", ref)
	}
	res := p.send(t, "udp", addrOf(t, e, "udp"), p.notifyRaw(ref, "pres1", 8, "active;expires=3600", ""))
	if res.StatusCode != 200 {
		t.Errorf("NOTIFY after restart: %d", res.StatusCode)
	}
	if ev := h.next(t, "notified"); ev.n.State != cpim.SubActive {
		t.Errorf("Notified %+v", ev.n)
	}
	// An old NOTIFY (below the stored remote CSeq) is refused.
	if res := p.send(t, "udp", addrOf(t, e, "udp"), p.notifyRaw(ref, "pres1", 6, "active;expires=3600", "")); res.StatusCode != 500 {
		t.Errorf("old NOTIFY: %d", res.StatusCode)
	}
	if !strings.Contains(storedDialogs(t, st)[0].ID, "sub-1") {
		t.Errorf("stored %+v", storedDialogs(t, st))
	}
}
