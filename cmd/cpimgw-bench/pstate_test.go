package main

import (
	"reflect"
	"testing"
	"time"

	"cpimgw/cpim"
	"cpimgw/internal/peers"
	"cpimgw/store"
)

// TestGenerateState writes a few pairs and reads them back through the
// store: what the gateway's restore will find (the benchmark itself checks
// that the gateway restores every pair).
func TestGenerateState(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	u := cpim.Address{Local: "bench", Domain: xmppDomain}
	spec := stateSpec{Pairs: 3, User: u, Sink: "127.0.0.1:5071", UAC: "127.0.0.1:5072",
		Notify: peers.NotifyUAC{}, Now: now, Expires: now.Add(time.Hour)}
	st, err := generateState(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	if st.FileBytes == 0 {
		t.Errorf("no file size: %+v", st)
	}
	if _, err := generateState(dir, spec); err == nil {
		t.Errorf("a second generation into the same directory did not fail")
	}
	s, err := store.OpenBolt(dir, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	auths := map[store.Direction]int{}
	s.Auths(func(a store.Auth) error {
		if a.State != store.AuthGranted {
			t.Errorf("auth %+v not granted", a)
		}
		auths[a.Direction]++
		return nil
	})
	if auths[store.X2S] != 3 || auths[store.S2X] != 3 {
		t.Errorf("auths by direction = %v, want 3 each way", auths)
	}
	if _, ok, _ := s.GetAuth(store.X2S, "bench@"+xmppDomain, "c2@"+sipDomain); !ok {
		t.Errorf("no X2S auth of U to c2")
	}
	if _, ok, _ := s.GetAuth(store.S2X, "c2@"+sipDomain, "bench@"+xmppDomain); !ok {
		t.Errorf("no S2X auth of c2 to U")
	}

	dialogs := map[string]store.Dialog{}
	s.Dialogs(func(d store.Dialog) error { dialogs[d.ID] = d; return nil })
	if len(dialogs) != 6 {
		t.Fatalf("%d dialogs, want 6", len(dialogs))
	}
	// The subscriber dialog of pair 2 is the one call 2 of the NOTIFY
	// sender uses; sipside's id is Call-ID, the notifier's tag, its own.
	sub, ok := dialogs["pb-2@bench__pbn2__pbg2"]
	want := store.Dialog{ID: "pb-2@bench__pbn2__pbg2", Role: store.Subscriber, Watcher: "bench@" + xmppDomain, Target: "c2@" + sipDomain,
		CallID: "pb-2@bench", LocalTag: "pbg2", RemoteTag: "pbn2",
		LocalURI: "sip:bench@" + xmppDomain, RemoteURI: "sip:c2@" + sipDomain, Contact: "sip:c2@127.0.0.1:5072",
		LocalCSeq: dialogCSeq, RemoteCSeq: 1, State: cpim.SubActive, Expires: now.Add(time.Hour), Event: "presence"}
	if !ok || !reflect.DeepEqual(sub, want) {
		t.Errorf("subscriber dialog of pair 2 =\n%+v\nwant\n%+v\n(ids %v)", sub, want, keys(dialogs))
	}
	// The notifier dialog: Call-ID, its own tag, the watcher's; NOTIFYs go
	// to the sink.
	not, ok := dialogs["pbw-2@127.0.0.1__pbl2__pbr2"]
	if !ok || not.Role != store.Notifier || not.Watcher != "c2@"+sipDomain || not.Target != "bench@"+xmppDomain ||
		not.Contact != "sip:c2@127.0.0.1:5071" || len(not.RouteSet) != 0 || not.Transport != "" || not.State != cpim.SubActive {
		t.Errorf("notifier dialog of pair 2 = %+v (ids %v)", not, keys(dialogs))
	}

	// U's presence as c2 sees it: the resource the bench's client sends
	// from; c2's as U sees it: the tuple the NOTIFY sender sends.
	up, ok, err := s.GetPresence(store.PresenceKey(u, contactAddr(2)))
	if err != nil || !ok || len(up.Tuples) != 1 || up.Tuples[0].Resource != "bench" || up.Tuples[0].Show != cpim.ShowAway ||
		up.Tuples[0].Basic != cpim.Open || !up.Watcher.Equal(contactAddr(2)) {
		t.Errorf("U's view for c2 = %+v, %v, %v", up, ok, err)
	}
	cp, ok, err := s.GetPresence(store.PresenceKey(contactAddr(2), u))
	if err != nil || !ok || len(cp.Tuples) != 1 || cp.Tuples[0].Resource == "" || cp.Tuples[0].Basic != cpim.Open ||
		!cp.Entity.Equal(contactAddr(2)) {
		t.Errorf("c2's view for U = %+v, %v, %v", cp, ok, err)
	}
}

func keys(m map[string]store.Dialog) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
