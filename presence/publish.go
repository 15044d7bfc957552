package presence

import (
	"context"
	"sync"
	"time"

	"cpimgw/cpim"
	"cpimgw/store"
)

// pub is an XMPP user's aggregated presence in PUBLISH mode
// (INTERWORKING.md §3.8): every presence the user sends to any SIP contact
// behind the gateway is folded into one state, published as the user's
// AOR. The presence server applies its own authorization policy to its
// watchers.
type pub struct {
	mu     sync.Mutex
	u      cpim.Address
	view   cpim.Presence
	known  bool
	loaded bool
	last   time.Time // last PUBLISH (coalescing)
	flush  *task
}

func (c *Core) pubOf(u cpim.Address) *pub {
	k := store.Key(u)
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.pubs[k]
	if s == nil {
		s = &pub{u: u.Bare()}
		c.pubs[k] = s
	}
	return s
}

// publishPresence folds in into the user's state and publishes it when it
// changed, coalesced per user like the NOTIFYs (RFC 3856 §6.10): the XMPP
// server sends one copy per authorized contact, and only the first copy
// changes anything.
func (c *Core) publishPresence(ctx context.Context, in cpim.Presence) error {
	s := c.pubOf(in.Entity)
	s.mu.Lock()
	defer s.mu.Unlock()
	key := store.Key(s.u)
	if !s.loaded {
		s.loaded = true
		pr, ok, err := c.st.GetPresence(key)
		if err != nil {
			c.log.Warn("reading cached presence failed", "from", s.u.String(), "err", err)
		} else if ok {
			s.view, s.known = pr, true
		}
	}
	prev, known := s.view, s.known
	next := merge(prev, in, c.now())
	next.Entity, next.Watcher = s.u, cpim.Address{}
	if known && !changedView(known, prev, next) {
		return nil
	}
	s.view, s.known = next, true
	c.putPresence(key, next)
	c.coalesce(ctx, &s.mu, s.last, &s.flush, func(ctx context.Context, now time.Time) {
		c.sendPublish(ctx, s, now)
	})
	return nil
}

// sendPublish publishes the user's full state: its available resources
// plus, once, the ones that just went offline; with none available, one
// closed tuple (§3.6) rather than removing the publication [D], so SIP
// watchers see the user go offline. Called with s.mu held.
func (c *Core) sendPublish(ctx context.Context, s *pub, now time.Time) {
	s.last = now
	doc := snapshot(s.view)
	if !hasOpen(*doc) {
		doc.Tuples = nil
	}
	if next := dropClosed(s.view); len(next.Tuples) != len(s.view.Tuples) {
		s.view = next
		c.putPresence(store.Key(s.u), next)
	}
	sip := c.sipSide()
	if sip == nil {
		c.log.Warn("SIP side not connected; PUBLISH dropped", "from", s.u.String())
		return
	}
	if err := sip.Publish(ctx, s.u, doc); err != nil {
		c.log.Warn("PUBLISH failed", "from", s.u.String(), "err", err)
	}
}
