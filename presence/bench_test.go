package presence

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"cpimgw/cpim"
	"cpimgw/store"
)

// countingSides count the calls of the core, at no cost.
type countingSides struct{ notifies, presences, other atomic.Int64 }

func (s *countingSides) Subscribe(context.Context, cpim.Address, cpim.Address) error   { return nil }
func (s *countingSides) Unsubscribe(context.Context, cpim.Address, cpim.Address) error { return nil }
func (s *countingSides) Fetch(context.Context, cpim.Address, cpim.Address) error       { return nil }
func (s *countingSides) Notify(context.Context, cpim.Address, cpim.Address, cpim.Notification) error {
	s.notifies.Add(1)
	return nil
}
func (s *countingSides) Publish(context.Context, cpim.Address, *cpim.Presence) error { return nil }
func (s *countingSides) SendPresence(context.Context, cpim.Presence) error {
	s.presences.Add(1)
	return nil
}
func (s *countingSides) SendSubscription(context.Context, cpim.Subscription) error {
	s.other.Add(1)
	return nil
}

// benchCore runs a core on st with coalescing off (every change is sent:
// the benchmark measures the path, not the window).
func benchCore(b *testing.B, st store.Store) (*Core, *countingSides) {
	b.Helper()
	sides := &countingSides{}
	c, err := New(Config{Store: st, SIP: sides, XMPP: sides, NotifyInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	if err := c.wait(ctx); err != nil {
		b.Fatal(err)
	}
	return c, sides
}

// BenchmarkPresenceToNotify measures an XMPP user's presence change
// reaching n SIP watchers: the XMPP server sends one stanza per
// authorized contact, each becomes one NOTIFY with the full state. One op
// is the whole fan-out.
func BenchmarkPresenceToNotify(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("watchers=%d", n), func(b *testing.B) {
			st := store.NewMemory()
			watchers := make([]cpim.Address, n)
			for i := range watchers {
				watchers[i] = cpim.Address{Local: fmt.Sprintf("w%d", i), Domain: "example.net"}
				st.PutAuth(store.Auth{Direction: store.S2X, Watcher: store.Key(watchers[i]), Target: store.Key(juliet), State: store.AuthGranted})
			}
			c, sides := benchCore(b, st)
			ev := c.XMPPEvents()
			ctx := context.Background()
			shows := []cpim.Show{cpim.ShowAway, cpim.ShowDND}
			in := cpim.Presence{Entity: juliet, Tuples: []cpim.Tuple{{Resource: "balcony", Basic: cpim.Open,
				Notes: []cpim.Text{{Text: "on the balcony"}}, Priority: 5, HasPriority: true}}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				in.Tuples[0].Show = shows[i%2]
				in.Tuples[0].Timestamp = time.Time{}
				for _, w := range watchers {
					in.Watcher = w
					if err := ev.Presence(ctx, in); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			if got := sides.notifies.Load(); got < int64(n) {
				b.Fatalf("%d NOTIFYs for %d watchers", got, n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sides.notifies.Load()), "ns/notify")
		})
	}
}

// BenchmarkNotifyToPresence measures a NOTIFY in an XMPP user's
// subscription becoming presence stanzas for the changed tuple.
func BenchmarkNotifyToPresence(b *testing.B) {
	st := store.NewMemory()
	st.PutAuth(store.Auth{Direction: store.X2S, Watcher: store.Key(juliet), Target: store.Key(romeo), State: store.AuthGranted})
	st.PutDialog(store.Dialog{ID: "d", Role: store.Subscriber, Watcher: store.Key(juliet), Target: store.Key(romeo),
		State: cpim.SubActive, Expires: time.Now().Add(time.Hour)})
	c, sides := benchCore(b, st)
	ev := c.SIPEvents()
	ctx := context.Background()
	n := []cpim.Notification{active("phone", "away", "desk", "open"), active("phone", "dnd", "desk", "open")}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := ev.Notified(ctx, juliet, romeo, n[i%2]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if sides.presences.Load() == 0 {
		b.Fatal("no presence sent")
	}
}

// BenchmarkRestore measures the core's start on a store holding n
// subscription pairs (store.Fill: both authorizations granted, both
// dialogs live): the time until handlers are served, and the heap the
// core keeps per pair (caches are read lazily, so this is the resting
// cost of a pair).
func BenchmarkRestore(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("pairs=%d", n), func(b *testing.B) {
			st := store.NewMemory()
			if err := store.Fill(st, n); err != nil {
				b.Fatal(err)
			}
			sides := &countingSides{}
			var heap uint64
			for b.Loop() {
				b.StopTimer()
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				c, err := New(Config{Store: st, SIP: sides, XMPP: sides})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				b.StartTimer()
				go func() { done <- c.Run(ctx) }()
				if err := c.wait(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap = after.HeapAlloc - before.HeapAlloc
				runtime.KeepAlive(c)
				cancel()
				<-done
				b.StartTimer()
			}
			b.ReportMetric(float64(heap)/float64(n), "heapB/pair")
		})
	}
}
