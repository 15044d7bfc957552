package presence

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"cpimgw/cpim"
	"cpimgw/internal/fuzzseed"
	"cpimgw/store"
)

// checkingSides checks, at every call, the invariants no event sequence
// may break, against the authorizations stored at that moment:
//   - 'subscribed' goes only from a SIP contact (never on an XMPP user's
//     behalf, SUB-28) and only once the contact's approval is stored
//     (durable before acting);
//   - presence of a SIP contact showing an available resource reaches an
//     XMPP user only with a stored X2S authorization (RFC 8048 §8.2);
//   - NOTIFY active goes only to a SIP watcher with a stored S2X
//     authorization;
//   - subscription stanzas use bare addresses (SUB-29).
type checkingSides struct {
	st   store.Store
	mu   sync.Mutex
	errs []string
}

func (s *checkingSides) fail(format string, a ...any) {
	s.mu.Lock()
	s.errs = append(s.errs, fmt.Sprintf(format, a...))
	s.mu.Unlock()
}

func (s *checkingSides) granted(d store.Direction, w, t cpim.Address) bool {
	a, ok, _ := s.st.GetAuth(d, store.Key(w), store.Key(t))
	return ok && a.State == store.AuthGranted
}

func isSIP(a cpim.Address) bool { return a.Domain == "example.net" }

func (s *checkingSides) Subscribe(_ context.Context, w, t cpim.Address) error {
	if isSIP(w) || !isSIP(t) {
		s.fail("SUBSCRIBE %s→%s: not an XMPP user to a SIP contact", w, t)
	}
	return nil
}
func (s *checkingSides) Unsubscribe(context.Context, cpim.Address, cpim.Address) error { return nil }
func (s *checkingSides) Fetch(context.Context, cpim.Address, cpim.Address) error       { return nil }
func (s *checkingSides) Notify(_ context.Context, w, t cpim.Address, n cpim.Notification) error {
	if !isSIP(w) || isSIP(t) {
		s.fail("NOTIFY %s←%s: not a SIP watcher of an XMPP user", w, t)
	}
	if n.State == cpim.SubActive && !s.granted(store.S2X, w, t) {
		s.fail("NOTIFY active %s←%s without authorization", w, t)
	}
	if n.Presence != nil && !n.Presence.Watcher.IsZero() && !n.Presence.Watcher.Equal(w) {
		s.fail("NOTIFY to %s carries presence for %s", w, n.Presence.Watcher)
	}
	return nil
}
func (s *checkingSides) Publish(context.Context, cpim.Address, *cpim.Presence) error {
	s.fail("PUBLISH in notifier mode")
	return nil
}
func (s *checkingSides) SendPresence(_ context.Context, p cpim.Presence) error {
	if !isSIP(p.Entity) || isSIP(p.Watcher) || !p.Watcher.IsBare() || !p.Entity.IsBare() {
		s.fail("presence %s→%s: not a SIP contact's to an XMPP user, bare", p.Entity, p.Watcher)
	}
	if hasOpen(p) && !s.granted(store.X2S, p.Watcher, p.Entity) {
		s.fail("available presence %s→%s without authorization", p.Entity, p.Watcher)
	}
	return nil
}
func (s *checkingSides) SendSubscription(_ context.Context, sub cpim.Subscription) error {
	if !sub.Watcher.IsBare() || !sub.Target.IsBare() || sub.Watcher.Original != "" || sub.Target.Original != "" {
		s.fail("%s with a non-bare address: %+v", sub.Op, sub)
	}
	switch sub.Op {
	case cpim.Subscribed:
		if !isSIP(sub.Target) {
			s.fail("subscribed sent on behalf of XMPP user %s", sub.Target)
		} else if !s.granted(store.X2S, sub.Watcher, sub.Target) {
			s.fail("subscribed %s→%s before the approval was stored", sub.Target, sub.Watcher)
		}
	case cpim.Unsubscribed:
		if !isSIP(sub.Target) {
			s.fail("unsubscribed sent on behalf of XMPP user %s", sub.Target)
		}
	case cpim.Subscribe, cpim.Probe:
		if !isSIP(sub.Watcher) {
			s.fail("%s sent on behalf of XMPP user %s", sub.Op, sub.Watcher)
		}
	}
	return nil
}
func (s *checkingSides) SendPresenceError(_ context.Context, from, to cpim.Address, _ string, e *cpim.Error) error {
	if !isSIP(from) || isSIP(to) {
		s.fail("presence error %s→%s", from, to)
	}
	return nil
}

// FuzzPresenceCore drives the core with an arbitrary sequence of events of
// both sides (one byte each) for two XMPP users and two SIP contacts, with
// time passing, and checks checkingSides' invariants at every call and the
// notifications the core returns.
func FuzzPresenceCore(f *testing.F) {
	fuzzseed.Add(f, "FuzzPresenceCore")
	users := []cpim.Address{juliet, {Local: "nurse", Domain: "example.com", Resource: "r"}}
	contacts := []cpim.Address{romeo, {Local: "benvolio", Domain: "example.net", Original: "sip:Benvolio@example.net"}}
	conds := []cpim.Condition{cpim.ItemNotFound, cpim.Forbidden, cpim.RemoteServerTimeout, cpim.BadRequest}
	reasons := []string{cpim.ReasonRejected, cpim.ReasonTimeout, cpim.ReasonProbation, cpim.ReasonInvariant}
	statuses := []int{403, 481, 404, 408}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 200 {
			in = in[:200]
		}
		st := store.NewMemory()
		sides := &checkingSides{st: st}
		clk := &fakeClock{t: t0}
		c, err := New(Config{Store: st, SIP: sides, XMPP: sides, Now: clk.Now, NotifyInterval: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		defer func() { cancel(); <-done }()
		sipEv, xEv := c.SIPEvents(), c.XMPPEvents()
		for _, b := range in {
			u, sc, v := users[b>>4&1], contacts[b>>5&1], int(b>>6)
			var err error
			switch b & 0x0f {
			case 0:
				err = xEv.Subscription(ctx, cpim.Subscription{Op: cpim.Subscribe, Watcher: u, Target: sc})
			case 1:
				err = xEv.Subscription(ctx, cpim.Subscription{Op: cpim.Unsubscribe, Watcher: u, Target: sc})
			case 2:
				err = xEv.Subscription(ctx, cpim.Subscription{Op: cpim.Probe, Watcher: u, Target: sc})
			case 3:
				err = xEv.Subscription(ctx, cpim.Subscription{Op: cpim.Subscribed, Watcher: sc, Target: u})
			case 4:
				err = xEv.Subscription(ctx, cpim.Subscription{Op: cpim.Unsubscribed, Watcher: sc, Target: u})
			case 5:
				res := []string{"a", "b"}[v&1]
				state := "open"
				if v&2 != 0 {
					state = "closed"
				}
				if v == 3 {
					res = ""
				}
				err = xEv.Presence(ctx, xmppPresence(u, res, state, sc))
			case 6:
				err = xEv.PresenceError(ctx, u, sc, &cpim.Error{Condition: conds[v]})
			case 7:
				err = sipEv.Notified(ctx, u, sc, cpim.Notification{State: cpim.SubPending})
			case 8:
				rs := [][]string{nil, {"p", "open"}, {"p", "away", "q", "open"}, {"q", "closed"}}[v]
				err = sipEv.Notified(ctx, u, sc, cpim.Notification{State: cpim.SubActive, Presence: sipPresence(sc, rs...)})
			case 9:
				err = sipEv.Notified(ctx, u, sc, cpim.Notification{State: cpim.SubTerminated, Reason: reasons[v]})
			case 10:
				err = sipEv.SubscribeFailed(ctx, u, sc, &cpim.Error{Condition: cpim.UndefinedCondition, Status: statuses[v]}, v == 2)
			case 11:
				err = sipEv.RefreshDue(ctx, u, sc)
			case 12, 13:
				op := cpim.Subscribe
				if b&0x0f == 13 {
					op = []cpim.SubscriptionOp{cpim.Unsubscribe, cpim.Probe}[v&1]
				}
				var n cpim.Notification
				n, err = sipEv.SubscribeRequest(ctx, cpim.Subscription{Op: op, Watcher: sc, Target: u, Renewal: v >= 2})
				if n.State == cpim.SubActive && !sides.granted(store.S2X, sc, u) {
					sides.fail("SubscribeRequest answered active without authorization")
				}
				if n.Presence != nil && !n.Presence.Watcher.IsZero() && !n.Presence.Watcher.Equal(sc.Bare()) {
					sides.fail("SubscribeRequest of %s answered with presence for %s", sc, n.Presence.Watcher)
				}
			case 14:
				err = sipEv.SubscriptionEnded(ctx, sc, u, "timeout")
			case 15:
				clk.advance(time.Duration(v+1) * 40 * time.Second)
				err = c.settle(ctx)
			}
			if err != nil {
				t.Fatalf("event %#x: %v", b, err) // the memory store never fails
			}
		}
		clk.advance(time.Hour)
		if err := c.settle(ctx); err != nil {
			t.Fatal(err)
		}
		sides.mu.Lock()
		defer sides.mu.Unlock()
		if len(sides.errs) > 0 {
			t.Fatalf("input %x:\n%s", in, fmt.Sprint(sides.errs))
		}
	})
}
