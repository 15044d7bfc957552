package store_test

import (
	"fmt"
	"log"
	"os"
	"time"

	"cpimgw/cpim"
	"cpimgw/store"
)

// An XMPP user approves a SIP contact: the core records the authorization
// before it acts on it, and finds it again after a restart.
func ExampleOpenBolt() {
	dir, err := os.MkdirTemp("", "cpimgw-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	alice := cpim.Address{Local: "alice", Domain: "xmpp.example.test"}
	bob := cpim.Address{Local: "bob", Domain: "sip.example.test"}

	s, err := store.OpenBolt(dir, store.BoltOptions{})
	if err != nil {
		log.Fatal(err)
	}
	err = s.PutAuth(store.Auth{
		Direction: store.S2X, // bob (SIP) watches alice (XMPP)
		Watcher:   store.Key(bob),
		Target:    store.Key(alice),
		State:     store.AuthGranted,
		Updated:   time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC),
	})
	if err != nil { // durable once PutAuth returned nil
		log.Fatal(err)
	}
	s.Close()

	// After a restart (or a crash) the authorization is there.
	s, err = store.OpenBolt(dir, store.BoltOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	err = s.Auths(func(a store.Auth) error {
		fmt.Println(a.Direction, a.Watcher, "→", a.Target, a.State, a.Updated.Format(time.RFC3339))
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// s2x bob@sip.example.test → alice@xmpp.example.test granted 2026-05-01T12:00:00Z
}

// Memory is the store for tests: the same behaviour without a file.
func ExampleMemory() {
	s := store.NewMemory()
	defer s.Close()

	d := store.Dialog{
		ID: "a84b4c76e66710;gw1;8321234356", Role: store.Subscriber,
		Watcher: "alice@xmpp.example.test", Target: "bob@sip.example.test",
		RouteSet:  []string{"<sip:proxy.sip.example.test;lr>"},
		LocalCSeq: 100, State: cpim.SubActive,
	}
	if err := s.PutDialog(d); err != nil {
		log.Fatal(err)
	}
	d.RouteSet[0] = "<sip:changed.example.test;lr>" // the store kept its own copy

	got, ok, err := s.GetDialog("a84b4c76e66710;gw1;8321234356")
	fmt.Println(ok, err, got.Role, got.RouteSet, got.LocalCSeq)

	_, ok, err = s.GetDialog("no-such-dialog")
	fmt.Println(ok, err)
	// Output:
	// true <nil> subscriber [<sip:proxy.sip.example.test;lr>] 100
	// false <nil>
}

// Fill generates the state of subscription pairs for benchmarks.
func ExampleFill() {
	s := store.NewMemory()
	defer s.Close()
	if err := store.Fill(s, 1000); err != nil {
		log.Fatal(err)
	}
	user, contact := store.SyntheticPair(42)
	a, _, _ := s.GetAuth(store.X2S, store.Key(user), store.Key(contact))
	p, _, _ := s.GetPresence(store.Key(user))
	fmt.Println(a.Watcher, "sees", a.Target, a.State)
	fmt.Println(len(p.Tuples), "resources;", p.Tuples[0].Resource, p.Tuples[0].Show, p.Tuples[0].Notes[0].Text)
	// Output:
	// user42@xmpp.example.test sees contact42@sip.example.test granted
	// 2 resources; laptop away In a meeting
}
