package presence

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"cpimgw/cpim"
	"cpimgw/mapping"
	"cpimgw/store"
)

// pairKey identifies an (XMPP user U, SIP contact C) pair by store keys.
type pairKey struct{ u, c string }

// dialogState is what the core knows of the pair's X2S subscriber dialog.
type dialogState uint8

const (
	dlgNone     dialogState = iota // none, or dead
	dlgStarting                    // Subscribe called, no NOTIFY yet
	dlgLive                        // a pending or active NOTIFY came
	dlgLapsing                     // U is offline: left to expire (issue4.md)
)

// online is what the core knows of whether U has a presence session, as
// seen from C (the answers U's server gives C).
type online uint8

const (
	onlineUnknown online = iota
	onlineYes
	onlineNo
)

// pair is the state of one (U, C) pair in both directions. Its mutex
// serialises every event and timer of the pair, including the calls to
// the sides they make (so a side must not wait, inside a call from the
// core, for a handler call of the same pair to return).
type pair struct {
	mu  sync.Mutex
	key pairKey
	u   cpim.Address // the XMPP user, bare
	c   cpim.Address // the SIP contact, without resource (Original kept)

	// X2S: U watches C; the gateway is the SIP subscriber and C's XMPP
	// "home server".
	xAuth   store.AuthState
	xDlg    dialogState
	xLast   *cpim.Presence // C's last presence as told to U (full state); nil: none
	xLoaded bool           // xLast read from the store
	xFails  int            // consecutive failures, for the back-off
	xAuto   time.Time      // last automatic re-subscription
	xProbe  *task          // pending pre-refresh probe: its timeout
	xRetry  *task          // scheduled re-subscription
	uOnline online
	xGone   bool   // terminated;reason=invariant: not re-subscribed until U asks again
	xReqID  string // id of U's pending subscribe, for an error answering it (not stored: lost on restart)

	// S2X: C watches U; the gateway is U's presence agent.
	sAuth       store.AuthState
	sAsked      bool           // a subscribe or probe C→U awaits an answer
	sView       *cpim.Presence // U's full presence as U shows it to C; nil: nothing known
	sLoaded     bool
	sLastNotify time.Time // last presence-driven NOTIFY (coalescing)
	sFlush      *task     // scheduled coalesced NOTIFY
}

// pairOf returns the pair of XMPP user u and SIP contact c, creating it.
// A SIP-side address with Original replaces one without, so replies to SIP
// reuse the URI the contact used (ADR-25).
func (c *Core) pairOf(u, sc cpim.Address) *pair {
	k := pairKey{store.Key(u), store.Key(sc)}
	sc.Resource = ""
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pairs[k]
	if p == nil {
		p = &pair{key: k, u: u.Bare(), c: sc, xAuth: store.AuthNone, sAuth: store.AuthNone}
		c.pairs[k] = p
	} else if sc.Original != "" && p.c.Original == "" {
		p.c.Original = sc.Original
	}
	return p
}

// setX2S stores the X2S authorization of U to C durably, then updates the
// pair and the limit counters. Called with p.mu held.
func (c *Core) setX2S(p *pair, st store.AuthState) error {
	if err := c.putAuth(store.X2S, p.key.u, p.key.c, st); err != nil {
		return err
	}
	was := p.xAuth != store.AuthNone
	now := st != store.AuthNone
	p.xAuth = st
	if was != now {
		c.mu.Lock()
		if now {
			c.perUser[p.key.u]++
			c.total++
		} else {
			c.perUser[p.key.u]--
			if c.perUser[p.key.u] <= 0 {
				delete(c.perUser, p.key.u)
			}
			c.total--
		}
		c.mu.Unlock()
	}
	return nil
}

// setS2X stores the S2X authorization of C to U durably, then updates the
// pair. Called with p.mu held.
func (c *Core) setS2X(p *pair, st store.AuthState) error {
	if err := c.putAuth(store.S2X, p.key.c, p.key.u, st); err != nil {
		return err
	}
	p.sAuth = st
	return nil
}

// putAuth writes an authorization; none deletes it.
func (c *Core) putAuth(d store.Direction, watcher, target string, st store.AuthState) error {
	var err error
	if st == store.AuthNone {
		err = c.st.DeleteAuth(d, watcher, target)
	} else {
		err = c.st.PutAuth(store.Auth{Direction: d, Watcher: watcher, Target: target, State: st, Updated: c.now()})
	}
	if err != nil {
		return &cpim.Error{Condition: cpim.InternalServerError, Text: "presence state not stored",
			Cause: fmt.Errorf("presence: storing %s authorization %s of %s to %s: %w", d, st, watcher, target, err)}
	}
	return nil
}

// checkLimits refuses a new X2S subscription of u beyond MaxPerWatcher or
// MaxTotal (issue 4 item 5).
func (c *Core) checkLimits(u string) *cpim.Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.maxPer > 0 && c.perUser[u] >= c.maxPer {
		return &cpim.Error{Condition: cpim.ResourceConstraint, Text: "too many presence subscriptions for this user"}
	}
	if c.maxTotal > 0 && c.total >= c.maxTotal {
		return &cpim.Error{Condition: cpim.ResourceConstraint, Text: "too many presence subscriptions"}
	}
	return nil
}

// loadX reads C's last presence as told to U from the store, once.
func (c *Core) loadX(p *pair) {
	if p.xLoaded {
		return
	}
	p.xLoaded = true
	pr, ok, err := c.st.GetPresence(viewKey(p.c, p.u))
	if err != nil {
		c.log.Warn("reading cached presence failed", "from", p.c.String(), "to", p.u.String(), "err", err)
		return
	}
	if ok {
		p.xLast = &pr
	}
}

// loadS reads U's presence as shown to C from the store, once.
func (c *Core) loadS(p *pair) {
	if p.sLoaded {
		return
	}
	p.sLoaded = true
	pr, ok, err := c.st.GetPresence(viewKey(p.u, p.c))
	if err != nil {
		c.log.Warn("reading cached presence failed", "from", p.u.String(), "to", p.c.String(), "err", err)
		return
	}
	if ok {
		p.sView = &pr
	}
}

// putPresence stores a presence view; failures are logged (presence is a
// cache: losing it costs a probe, not an authorization).
func (c *Core) putPresence(key string, pr cpim.Presence) {
	if err := c.st.PutPresence(key, pr); err != nil {
		c.log.Warn("storing presence failed", "key", key, "err", err)
	}
}

func (c *Core) deletePresence(key string) {
	if err := c.st.DeletePresence(key); err != nil {
		c.log.Warn("deleting presence failed", "key", key, "err", err)
	}
}

// val returns *p, or the zero presence for nil.
func val(p *cpim.Presence) cpim.Presence {
	if p == nil {
		return cpim.Presence{}
	}
	return *p
}

// openTuples returns the available tuples of p.
func openTuples(p cpim.Presence) []cpim.Tuple {
	var out []cpim.Tuple
	for _, t := range p.Tuples {
		if t.Basic == cpim.Open {
			out = append(out, t)
		}
	}
	return out
}

func hasOpen(p cpim.Presence) bool {
	return slices.ContainsFunc(p.Tuples, func(t cpim.Tuple) bool { return t.Basic == cpim.Open })
}

// dropClosed returns p without its closed tuples: a resource that went
// offline is sent once as a closed tuple, then dropped (§3.6).
func dropClosed(p cpim.Presence) cpim.Presence {
	if !slices.ContainsFunc(p.Tuples, func(t cpim.Tuple) bool { return t.Basic != cpim.Open }) {
		return p
	}
	p.Tuples = openTuples(p)
	return p
}

// snapshot returns a copy of p whose tuple slice the caller may keep:
// views are updated copy-on-write, so sharing notes is safe.
func snapshot(p cpim.Presence) *cpim.Presence {
	p.Tuples = slices.Clone(p.Tuples)
	return &p
}

// merge folds one presence stanza of an XMPP user (one tuple for the
// sending resource) into the user's full presence (§3.6, PRS-13): the
// resource's tuple is replaced or added; an unavailable from the bare JID
// closes every resource. Notes get an explicit language (the stanza's
// xml:lang), since tuples of different stanzas share one document. The
// result never shares a tuple slice with view.
func merge(view, in cpim.Presence, now time.Time) cpim.Presence {
	out := cpim.Presence{Entity: view.Entity, Watcher: view.Watcher, Lang: view.Lang}
	if out.Entity.IsZero() {
		out.Entity = in.Entity.Bare()
	}
	if out.Watcher.IsZero() {
		out.Watcher = in.Watcher.Bare()
	}
	var t cpim.Tuple
	if len(in.Tuples) > 0 {
		t = in.Tuples[0]
	} else {
		t = cpim.Tuple{Basic: cpim.Closed}
	}
	if in.Lang != "" && slices.ContainsFunc(t.Notes, func(n cpim.Text) bool { return n.Lang == "" }) {
		notes := slices.Clone(t.Notes)
		for i := range notes {
			if notes[i].Lang == "" {
				notes[i].Lang = in.Lang
			}
		}
		t.Notes = notes
	}
	if t.Timestamp.IsZero() {
		t.Timestamp = now
	}
	if t.Resource == "" && t.Basic != cpim.Open {
		out.Tuples = make([]cpim.Tuple, 0, len(view.Tuples))
		for _, o := range view.Tuples {
			if o.Basic == cpim.Open {
				o = cpim.Tuple{Resource: o.Resource, Basic: cpim.Closed, Notes: t.Notes, Timestamp: t.Timestamp}
			}
			out.Tuples = append(out.Tuples, o)
		}
		return out
	}
	out.Tuples = make([]cpim.Tuple, 0, len(view.Tuples)+1)
	replaced := false
	for _, o := range view.Tuples {
		if o.Resource == t.Resource {
			o, replaced = t, true
		}
		out.Tuples = append(out.Tuples, o)
	}
	if !replaced {
		out.Tuples = append(out.Tuples, t)
	}
	return out
}

// changedView reports whether a view update changes what a watcher sees.
func changedView(known bool, prev, next cpim.Presence) bool {
	return !known || len(mapping.ChangedTuples(prev, next)) > 0
}

// closedPresence is the document of SUB-20: one closed tuple for entity.
func closedPresence(entity, watcher cpim.Address) *cpim.Presence {
	return &cpim.Presence{Entity: entity.Bare(), Watcher: watcher.Bare(), Tuples: []cpim.Tuple{{Basic: cpim.Closed}}}
}

// subscribeNow asks the SIP side to start or refresh the pair's X2S
// dialog. A failure to even send is retried with back-off. Called with
// p.mu held.
func (c *Core) subscribeNow(ctx context.Context, p *pair) {
	p.xRetry.cancel()
	p.xRetry = nil
	s := c.sipSide()
	if s == nil {
		c.log.Warn("SIP side not connected; SUBSCRIBE postponed", "from", p.u.String(), "to", p.c.String())
		c.backoff(p, 0)
		return
	}
	p.xDlg = dlgStarting
	if err := s.Subscribe(ctx, p.u, p.c); err != nil {
		c.log.Warn("SUBSCRIBE failed to start", "from", p.u.String(), "to", p.c.String(), "err", err)
		p.xDlg = dlgNone
		c.backoff(p, 0)
	}
}
