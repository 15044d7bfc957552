package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"mellium.im/xmpp/jid"

	"cpimgw/cpim"
	"cpimgw/internal/peers"
	"cpimgw/mapping"
	"cpimgw/store"
)

// The presence benchmark's state: N subscription pairs written into a
// state directory through the store API (store.OpenBolt), as the gateway
// would have written them after N SIP contacts and one XMPP user had
// subscribed to each other and been authorized both ways. The gateway is
// then started on that directory and restores them.
//
// Pair n (1…N) is the XMPP user U (the bench's own c2s user) and the SIP
// contact C_n = c<n>@sip.example.test:
//
//   - S2X (C_n watches U): a granted authorization and a notifier dialog
//     whose route set is empty and whose remote target is the NOTIFY sink
//     (sipp on loopback), over UDP; the last presence of U as C_n sees it.
//   - X2S (U watches C_n): a granted authorization and a subscriber dialog
//     whose identifiers are those the NOTIFY sender's call n uses
//     (peers.NotifyUAC.Dialog), whose remote target is that sender; the
//     last presence of C_n as U sees it.
//
// Both dialogs are active and expire an hour after the generation, past
// the end of the benchmark: the gateway neither refreshes nor re-subscribes
// during it (a subscriber refreshes at 80 % of its duration).

// stateSpec says what to generate.
type stateSpec struct {
	Pairs int
	// User is U, bare.
	User cpim.Address
	// Sink is the NOTIFY sink's host:port (the notifier dialogs' remote
	// target) and UAC the NOTIFY sender's (the subscriber dialogs').
	Sink, UAC string
	// Notify names the subscriber dialogs.
	Notify peers.NotifyUAC
	// Now is the generation time; dialogs expire at Expires.
	Now, Expires time.Time
}

// stateStats is what the generation measured.
type stateStats struct {
	Took      time.Duration
	FileBytes int64
}

// genWorkers is how many goroutines write: the store commits concurrent
// writes in groups of up to 1000 with one fsync each, so more writers
// mean fewer, larger commits.
const genWorkers = 1000

// dialogCSeq is the local CSeq high-water mark the generated dialogs
// carry: what sipside stores after a dialog's first request (its CSeq, 1,
// plus its block of 100).
const dialogCSeq = 101

// contactAddr is C_n.
func contactAddr(n int) cpim.Address {
	return cpim.Address{Local: "c" + strconv.Itoa(n), Domain: sipDomain}
}

// sipURI is the SIP URI of a bare address.
func sipURI(a cpim.Address) string { return "sip:" + a.Local + "@" + a.Domain }

// notifier is the dialog in which the gateway notifies C_n of U's
// presence (C_n's SUBSCRIBE came over UDP: no flow is recorded).
func (s stateSpec) notifier(n int) store.Dialog {
	c := contactAddr(n)
	d := store.Dialog{
		Role: store.Notifier, Watcher: store.Key(c), Target: store.Key(s.User),
		CallID:   fmt.Sprintf("pbw-%d@127.0.0.1", n),
		LocalTag: fmt.Sprintf("pbl%d", n), RemoteTag: fmt.Sprintf("pbr%d", n),
		LocalURI: sipURI(s.User), RemoteURI: sipURI(c),
		Contact:   "sip:" + c.Local + "@" + s.Sink,
		LocalCSeq: dialogCSeq, RemoteCSeq: 1,
		State: cpim.SubActive, Expires: s.Expires,
		Event: "presence", Accept: []string{"application/pidf+xml"},
	}
	// sipside's dialog id of a notifier: Call-ID, its own tag, the
	// watcher's (LIBRARY-NOTES §1.6).
	d.ID = sip.DialogIDMake(d.CallID, d.LocalTag, d.RemoteTag)
	return d
}

// subscriber is the dialog in which the gateway, for U, receives C_n's
// NOTIFYs: the one the NOTIFY sender's call n uses.
func (s stateSpec) subscriber(n int) store.Dialog {
	c := contactAddr(n)
	nd := s.Notify.Dialog(n)
	d := store.Dialog{
		Role: store.Subscriber, Watcher: store.Key(s.User), Target: store.Key(c),
		CallID: nd.CallID, LocalTag: nd.SubscriberTag, RemoteTag: nd.NotifierTag,
		LocalURI: sipURI(s.User), RemoteURI: sipURI(c),
		// What the sender's NOTIFYs carry as Contact, so that they change
		// nothing the gateway would have to store again.
		Contact:   "sip:" + nd.User + "@" + s.UAC,
		LocalCSeq: dialogCSeq, RemoteCSeq: 1,
		State: cpim.SubActive, Expires: s.Expires,
		Event: "presence",
	}
	// sipside's dialog id of a subscriber: Call-ID, the notifier's tag,
	// its own.
	d.ID = sip.DialogIDMake(d.CallID, d.RemoteTag, d.LocalTag)
	return d
}

// views are the last presence of both sides of pair n, as the core keeps
// them (store.PresenceKey: per pair): U as C_n sees it, from U's resource
// "bench", and C_n as U sees it, from the tuple the NOTIFY sender sends.
// They are made by the gateway's own mapping from a stanza and a PIDF
// document like the ones the benchmark sends, so that the first event of
// the benchmark replaces a tuple rather than adding one.
type views struct {
	m       *mapping.Mapper
	userJID jid.JID
}

func newViews(user cpim.Address) (*views, error) {
	m, err := mapping.NewMapper(mapping.Domains{Component: sipDomain, XMPP: []string{xmppDomain}, SIP: []string{sipDomain}})
	if err != nil {
		return nil, err
	}
	j, err := jid.New(user.Local, user.Domain, "bench")
	if err != nil {
		return nil, err
	}
	return &views{m: m, userJID: j}, nil
}

func (v *views) user(n int, c cpim.Address, now time.Time) (cpim.Presence, error) {
	to, err := jid.New(c.Local, c.Domain, "")
	if err != nil {
		return cpim.Presence{}, err
	}
	p, err := v.m.PresenceFromXMPP(mapping.XMPPPresence{From: v.userJID, To: to, Show: "away",
		Statuses: []cpim.Text{{Text: "generated " + strconv.Itoa(n)}}})
	if err != nil {
		return cpim.Presence{}, err
	}
	p.Entity, p.Watcher = p.Entity.Bare(), c
	for i := range p.Tuples {
		p.Tuples[i].Timestamp = now
	}
	return p, nil
}

func (v *views) contact(n int, c, user cpim.Address, tupleID string, now time.Time) (cpim.Presence, error) {
	doc, err := cpim.ParsePIDF([]byte(`<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="` + sipURI(c) + `"><tuple id="` + tupleID +
		`"><status><basic>open</basic></status><note>generated ` + strconv.Itoa(n) + `</note></tuple></presence>`))
	if err != nil {
		return cpim.Presence{}, err
	}
	p, err := v.m.PresenceFromPIDF(doc, "")
	if err != nil {
		return cpim.Presence{}, err
	}
	p.Entity, p.Watcher = c, user
	for i := range p.Tuples {
		p.Tuples[i].Timestamp = now
	}
	return p, nil
}

// generateState writes the state of spec into dir (created; it must not
// hold a store yet) and closes the store, so every write is on disk.
func generateState(dir string, s stateSpec) (stateStats, error) {
	start := time.Now()
	if _, err := os.Stat(filepath.Join(dir, store.FileName)); err == nil {
		return stateStats{}, fmt.Errorf("%s already holds a store", dir)
	}
	st, err := store.OpenBolt(dir, store.BoltOptions{})
	if err != nil {
		return stateStats{}, err
	}
	v, err := newViews(s.User)
	if err != nil {
		st.Close()
		return stateStats{}, err
	}
	tupleID := s.Notify.TupleID
	if tupleID == "" {
		tupleID = "t"
	}
	write := func(n int) error {
		c := contactAddr(n)
		uk, ck := store.Key(s.User), store.Key(c)
		for _, a := range []store.Auth{
			{Direction: store.X2S, Watcher: uk, Target: ck, State: store.AuthGranted, Updated: s.Now},
			{Direction: store.S2X, Watcher: ck, Target: uk, State: store.AuthGranted, Updated: s.Now},
		} {
			if err := st.PutAuth(a); err != nil {
				return err
			}
		}
		for _, d := range []store.Dialog{s.notifier(n), s.subscriber(n)} {
			if err := st.PutDialog(d); err != nil {
				return err
			}
		}
		up, err := v.user(n, c, s.Now)
		if err != nil {
			return err
		}
		if err := st.PutPresence(store.PresenceKey(s.User, c), up); err != nil {
			return err
		}
		cp, err := v.contact(n, c, s.User, tupleID, s.Now)
		if err != nil {
			return err
		}
		return st.PutPresence(store.PresenceKey(c, s.User), cp)
	}
	idx := make(chan int)
	errc := make(chan error, genWorkers)
	var wg sync.WaitGroup
	for range min(genWorkers, max(s.Pairs, 1)) {
		wg.Go(func() {
			for n := range idx {
				if err := write(n); err != nil {
					errc <- fmt.Errorf("pair %d: %w", n, err)
					return
				}
			}
		})
	}
	var werr error
feed:
	for n := 1; n <= s.Pairs; n++ {
		select {
		case idx <- n:
		case werr = <-errc:
			break feed
		}
	}
	close(idx)
	wg.Wait()
	close(errc)
	for err := range errc {
		werr = errors.Join(werr, err)
	}
	if err := st.Close(); err != nil {
		werr = errors.Join(werr, err)
	}
	if werr != nil {
		return stateStats{}, werr
	}
	fi, err := os.Stat(filepath.Join(dir, store.FileName))
	if err != nil {
		return stateStats{}, err
	}
	return stateStats{Took: time.Since(start), FileBytes: fi.Size()}, nil
}
