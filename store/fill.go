package store

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"cpimgw/cpim"
)

// The domains of the synthetic state Fill generates.
const (
	SyntheticUserDomain    = "xmpp.example.test" // XMPP users
	SyntheticContactDomain = "sip.example.test"  // SIP contacts
)

// SyntheticPair returns the two parties of Fill's pair i: an XMPP user
// "user<i>@xmpp.example.test" and a SIP contact
// "contact<i>@sip.example.test", both bare.
func SyntheticPair(i int) (user, contact cpim.Address) {
	n := strconv.Itoa(i)
	return cpim.Address{Local: "user" + n, Domain: SyntheticUserDomain},
		cpim.Address{Local: "contact" + n, Domain: SyntheticContactDomain}
}

// fillWorkers is how many goroutines Fill writes with: enough to fill the
// commit groups of Bolt's committer.
const fillWorkers = 64

// Fill writes the state of pairs subscription pairs, as the gateway holds
// it for a user and a contact who watch each other, for benchmarks of the
// store and of a restart: for each pair i (SyntheticPair), a granted
// authorization each way, a subscriber dialog (the user watches the
// contact, through an outbound proxy) and a notifier dialog (the contact
// watches the user, over TCP) that expire an hour from now, and the last
// presence of both (the user on two resources, one away with a note; the
// contact available with a note). It writes from several goroutines and
// returns the first error. Writing the same pairs again replaces them.
func Fill(s Store, pairs int) error {
	now := time.Now().Truncate(time.Second)
	idx := make(chan int)
	var (
		once  sync.Once
		first error
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	fail := func(err error) {
		once.Do(func() { first = err; close(stop) })
	}
	for range fillWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				if err := fillPair(s, i, now); err != nil {
					fail(fmt.Errorf("store: fill pair %d: %w", i, err))
				}
			}
		}()
	}
feed:
	for i := range pairs {
		select {
		case idx <- i:
		case <-stop:
			break feed
		}
	}
	close(idx)
	wg.Wait()
	return first
}

func fillPair(s Store, i int, now time.Time) error {
	u, c := SyntheticPair(i)
	uk, ck := Key(u), Key(c)
	for _, a := range []Auth{
		{Direction: X2S, Watcher: uk, Target: ck, State: AuthGranted, Updated: now},
		{Direction: S2X, Watcher: ck, Target: uk, State: AuthGranted, Updated: now},
	} {
		if err := s.PutAuth(a); err != nil {
			return err
		}
	}
	h := fmt.Sprintf("%08x", uint32(i)*2654435761) // spread like random tags
	sub := Dialog{
		Role: Subscriber, Watcher: uk, Target: ck,
		CallID:   "gw-" + h + "-" + strconv.Itoa(i),
		LocalTag: "l" + h, RemoteTag: "r" + h,
		LocalURI:   "sip:" + u.Local + "@" + u.Domain,
		RemoteURI:  "sip:" + c.Local + "@" + c.Domain,
		RouteSet:   []string{"<sip:proxy." + SyntheticContactDomain + ";lr>"},
		Contact:    "<sip:" + c.Local + "@192.0.2.10:5060;transport=tcp>",
		LocalCSeq:  200,
		RemoteCSeq: 17,
		State:      cpim.SubActive, Expires: now.Add(time.Hour),
		Event: "presence",
	}
	sub.ID = sub.CallID + ";" + sub.LocalTag + ";" + sub.RemoteTag
	not := Dialog{
		Role: Notifier, Watcher: ck, Target: uk,
		CallID:   h + "-" + strconv.Itoa(i) + "@192.0.2.10",
		LocalTag: "n" + h, RemoteTag: "w" + h,
		LocalURI:  "sip:" + u.Local + "@" + u.Domain,
		RemoteURI: "sip:" + c.Local + "@" + c.Domain,
		RouteSet: []string{
			"<sip:proxy." + SyntheticContactDomain + ";lr;transport=tcp>",
			"<sip:edge." + SyntheticContactDomain + ";lr>",
		},
		Contact:    "<sip:" + c.Local + "@192.0.2.10:5072;transport=tcp;ob>",
		LocalCSeq:  100,
		RemoteCSeq: 2,
		State:      cpim.SubActive, Expires: now.Add(time.Hour),
		Event:     "presence",
		Accept:    []string{"application/pidf+xml", "multipart/related", "application/rlmi+xml"},
		Transport: "TCP", Source: "192.0.2.10:" + strconv.Itoa(40000+i%20000),
	}
	not.ID = not.CallID + ";" + not.LocalTag + ";" + not.RemoteTag
	for _, d := range []Dialog{sub, not} {
		if err := s.PutDialog(d); err != nil {
			return err
		}
	}
	up := cpim.Presence{Entity: u, Lang: "en", Tuples: []cpim.Tuple{
		{Resource: "laptop", Basic: cpim.Open, Show: cpim.ShowAway,
			Notes:    []cpim.Text{{Lang: "en", Text: "In a meeting"}, {Lang: "de", Text: "In einer Besprechung"}},
			Priority: 5, HasPriority: true, Timestamp: now},
		{Resource: "phone", Basic: cpim.Open, Priority: 1, HasPriority: true, Timestamp: now},
	}}
	cp := cpim.Presence{Entity: c, Tuples: []cpim.Tuple{
		{Resource: "t" + h, Basic: cpim.Open, Notes: []cpim.Text{{Text: "Available"}}, Timestamp: now},
	}}
	if err := s.PutPresence(uk, up); err != nil {
		return err
	}
	return s.PutPresence(ck, cp)
}
