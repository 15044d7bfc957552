package presence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cpimgw/cpim"
	"cpimgw/store"
)

// Mode says how the gateway gives SIP watchers the presence of XMPP users.
type Mode string

const (
	// Notifier (the default) makes the gateway the presence agent of XMPP
	// users: it answers SIP SUBSCRIBEs and sends NOTIFYs
	// (INTERWORKING.md §3.7, S2X).
	Notifier Mode = "notifier"
	// Publish makes the gateway PUBLISH every XMPP user's aggregated
	// presence to the SIP presence server as the user's AOR
	// (INTERWORKING.md §3.8); the presence server answers the SUBSCRIBEs
	// and applies its own authorization policy.
	Publish Mode = "publish"
)

// Defaults of Config.
const (
	// DefaultNotifyInterval is the coalescing window per (watcher,
	// presentity): RFC 3856 §6.10 asks a presence agent not to notify
	// more than once every five seconds (PRS-17).
	DefaultNotifyInterval = 5 * time.Second
	// DefaultProbeTimeout is how long a pre-refresh probe of an XMPP user
	// may stay unanswered before the core refreshes anyway (issue4.md).
	DefaultProbeTimeout = 5 * time.Second
)

// Timing of automatic re-subscriptions (X2S). retryMin..2·retryMin is the
// default wait after terminated;reason=probation or giveup without
// retry-after (INTERWORKING.md §3.7 [D]: 60–120 s jittered) and the first
// step of the back-off after failures; the back-off doubles up to retryMax.
// Two automatic re-subscriptions of one pair closer than minAutoGap are
// treated as a failure loop and backed off. restoreRate spreads the
// re-subscriptions made after a restart (per second).
const (
	retryMin    = 60 * time.Second
	retryMax    = time.Hour
	minAutoGap  = 30 * time.Second
	restoreRate = 500
	maxTasks    = 64
)

// Config configures a Core.
type Config struct {
	// Store keeps authorizations and the last presence of every pair
	// across restarts. Required.
	Store store.Store
	// SIP and XMPP are the sides; they may be set later with Connect.
	SIP  SIPSide
	XMPP XMPPSide
	// Mode is Notifier (the default, also for "") or Publish.
	Mode Mode
	// NotifyInterval is the coalescing window of presence-driven
	// notifications per (watcher, presentity) (RFC 3856 §6.10): the first
	// change is sent at once, later ones within the window are merged
	// into one notification at its end. Zero means
	// DefaultNotifyInterval; a negative value disables coalescing.
	NotifyInterval time.Duration
	// ProbeTimeout bounds the wait for an XMPP user's answer to the probe
	// sent before a refresh; zero means DefaultProbeTimeout.
	ProbeTimeout time.Duration
	// MaxPerWatcher and MaxTotal limit the X2S subscriptions (pending or
	// granted) per XMPP user and in total; zero means no limit. A
	// subscribe beyond them is refused with resource-constraint and
	// logged (issue 4 item 5).
	MaxPerWatcher, MaxTotal int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives the core's logs; nil discards them.
	Log *slog.Logger
}

// Core is the presence and subscription core. Create it with New, attach
// the sides with Connect (or Config), run it with Run, and give the sides
// SIPEvents and XMPPEvents as their presence handlers.
type Core struct {
	st           store.Store
	mode         Mode
	interval     time.Duration
	probeTimeout time.Duration
	maxPer       int
	maxTotal     int
	now          func() time.Time
	log          *slog.Logger
	// jitter returns a duration in [lo, hi); tests replace it.
	jitter func(lo, hi time.Duration) time.Duration

	sip  atomic.Pointer[SIPSide]
	xmpp atomic.Pointer[XMPPSide]

	started  atomic.Bool
	ready    chan struct{}
	readyErr error

	mu      sync.Mutex
	pairs   map[pairKey]*pair
	pubs    map[string]*pub
	perUser map[string]int // X2S subscriptions (pending or granted) per XMPP user
	total   int

	sched scheduler
	fire  chan chan struct{}
}

// New returns a core configured by cfg.
func New(cfg Config) (*Core, error) {
	if cfg.Store == nil {
		return nil, errors.New("presence: Config.Store is required")
	}
	switch cfg.Mode {
	case "":
		cfg.Mode = Notifier
	case Notifier, Publish:
	default:
		return nil, fmt.Errorf("presence: unknown mode %q (want %q or %q)", cfg.Mode, Notifier, Publish)
	}
	if cfg.MaxPerWatcher < 0 || cfg.MaxTotal < 0 {
		return nil, errors.New("presence: negative subscription limit")
	}
	if cfg.NotifyInterval == 0 {
		cfg.NotifyInterval = DefaultNotifyInterval
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := &Core{
		st:           cfg.Store,
		mode:         cfg.Mode,
		interval:     cfg.NotifyInterval,
		probeTimeout: cfg.ProbeTimeout,
		maxPer:       cfg.MaxPerWatcher,
		maxTotal:     cfg.MaxTotal,
		now:          cfg.Now,
		log:          cfg.Log.With("side", "presence"),
		jitter: func(lo, hi time.Duration) time.Duration {
			if hi <= lo {
				return lo
			}
			return lo + rand.N(hi-lo)
		},
		ready:   make(chan struct{}),
		pairs:   make(map[pairKey]*pair),
		pubs:    make(map[string]*pub),
		perUser: make(map[string]int),
		sched:   scheduler{wake: make(chan struct{}, 1)},
		fire:    make(chan chan struct{}),
	}
	if cfg.SIP != nil || cfg.XMPP != nil {
		c.Connect(cfg.SIP, cfg.XMPP)
	}
	return c, nil
}

// Connect attaches the sides (cmd builds them after the core, since they
// need its handlers). A nil side is left as it was.
func (c *Core) Connect(sip SIPSide, xmpp XMPPSide) {
	if sip != nil {
		c.sip.Store(&sip)
	}
	if xmpp != nil {
		c.xmpp.Store(&xmpp)
	}
}

// Run restores the state from the store, then runs the core's timers
// (coalesced notifications, probe timeouts, re-subscriptions) until ctx is
// done. Every goroutine it starts has ended when it returns. Handler calls
// made before the restore is complete wait for it.
//
// Restore: authorizations come from the store (nobody is asked again); an
// X2S pair is taken to have a live subscriber dialog when the store holds
// a subscriber dialog of the pair that is not terminated and not expired
// (sipside resumes those itself). Granted X2S authorizations without one
// are re-subscribed, spread at restoreRate per second. Cached presence is
// read from the store when a pair first needs it.
func (c *Core) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("presence: Run called twice")
	}
	if err := c.restore(); err != nil {
		c.readyErr = err
		close(c.ready)
		return err
	}
	close(c.ready)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxTasks)
	dispatch := func() {
		for _, t := range c.sched.popDue(c.now()) {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				t.fn(ctx)
			}()
		}
	}
	for {
		dispatch()
		if at, ok := c.sched.next(); ok {
			timer.Reset(max(at.Sub(c.now()), 0))
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-timer.C:
		case <-c.sched.wake:
		case done := <-c.fire:
			dispatch()
			wg.Wait()
			close(done)
		}
	}
}

// settle makes Run start every task due by the clock and waits until all
// tasks started so far have finished. Tests use it with a fake clock.
func (c *Core) settle(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case c.fire <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wait blocks a handler call until the restore is complete.
func (c *Core) wait(ctx context.Context) error {
	select {
	case <-c.ready:
		if c.readyErr != nil {
			return &cpim.Error{Condition: cpim.InternalServerError, Text: "presence core failed to start", Cause: c.readyErr}
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// restore rebuilds the authorizations and the dialog liveness from the
// store and schedules the re-subscriptions (see Run).
func (c *Core) restore() error {
	now := c.now()
	live := make(map[pairKey]bool)
	err := c.st.Dialogs(func(d store.Dialog) error {
		if d.Role == store.Subscriber && d.State != cpim.SubTerminated && d.Expires.After(now) {
			live[pairKey{d.Watcher, d.Target}] = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("presence: restoring dialogs: %w", err)
	}
	err = c.st.Auths(func(a store.Auth) error {
		if a.State != store.AuthPending && a.State != store.AuthGranted {
			return nil
		}
		switch a.Direction {
		case store.X2S:
			p := c.pairOf(parseKey(a.Watcher), parseKey(a.Target))
			p.xAuth = a.State
			c.mu.Lock()
			c.perUser[a.Watcher]++
			c.total++
			c.mu.Unlock()
		case store.S2X:
			p := c.pairOf(parseKey(a.Target), parseKey(a.Watcher))
			p.sAuth = a.State
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("presence: restoring authorizations: %w", err)
	}
	var resub []*pair
	c.mu.Lock()
	for k, p := range c.pairs {
		if live[k] {
			p.xDlg = dlgLive
		} else if p.xAuth == store.AuthGranted {
			resub = append(resub, p)
		}
	}
	c.mu.Unlock()
	slices.SortFunc(resub, func(a, b *pair) int {
		return strings.Compare(a.key.u+"\x00"+a.key.c, b.key.u+"\x00"+b.key.c)
	})
	for i, p := range resub {
		at := now.Add(time.Duration(i) * time.Second / restoreRate)
		var t *task
		t = c.sched.add(at, func(ctx context.Context) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.xRetry != t {
				return
			}
			p.xRetry = nil
			if p.xAuth == store.AuthGranted && p.xDlg == dlgNone {
				c.subscribeNow(ctx, p)
			}
		})
		p.xRetry = t
	}
	c.log.Info("presence state restored", "pairs", len(c.pairs), "live_dialogs", len(live), "resubscribe", len(resub))
	return nil
}

// parseKey inverts store.Key: the domain never contains '@', so the last
// '@' separates it from the localpart.
func parseKey(k string) cpim.Address {
	i := strings.LastIndexByte(k, '@')
	if i < 0 {
		return cpim.Address{Domain: k}
	}
	return cpim.Address{Local: k[:i], Domain: k[i+1:]}
}

// viewKey is the store key of the presence of entity as watcher sees it
// (store.PresenceKey; never let one watcher's presence reach another,
// PRS-16).
func viewKey(entity, watcher cpim.Address) string { return store.PresenceKey(entity, watcher) }

// sipSide and xmppSide return the connected sides, nil before Connect.
func (c *Core) sipSide() SIPSide {
	if p := c.sip.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *Core) xmppSide() XMPPSide {
	if p := c.xmpp.Load(); p != nil {
		return *p
	}
	return nil
}

// sendSub sends a subscription stanza; Watcher and Target are made bare
// (SUB-29). A failure is logged: the sides report their own errors and
// there is nobody to answer.
func (c *Core) sendSub(ctx context.Context, op cpim.SubscriptionOp, watcher, target cpim.Address) error {
	return c.sendSubID(ctx, op, watcher, target, "")
}

// sendSubID is sendSub for a stanza answering one with the given id (RFC
// 6121 §4.3.2.1: the answer to a probe SHOULD mirror its id).
func (c *Core) sendSubID(ctx context.Context, op cpim.SubscriptionOp, watcher, target cpim.Address, id string) error {
	s := cpim.Subscription{Op: op, Watcher: watcher.Bare(), Target: target.Bare(), ID: id}
	x := c.xmppSide()
	if x == nil {
		c.log.Warn("XMPP side not connected; subscription stanza dropped", "op", string(op), "from", watcher.String(), "to", target.String())
		return errNoXMPP
	}
	err := x.SendSubscription(ctx, s)
	if err != nil {
		c.log.Warn("sending a subscription stanza failed", "op", string(op), "watcher", watcher.String(), "target", target.String(), "err", err)
	}
	return err
}

// errNoXMPP is the failure of a stanza sent before the XMPP side is
// connected to the core.
var errNoXMPP = &cpim.Error{Condition: cpim.ServiceUnavailable, Status: 503, RetryAfter: 5 * time.Second,
	Text: "XMPP side not connected"}

// sendPresence sends entity's presence to watcher (both bare; PRS-16: the
// watcher of the pair is the only recipient).
func (c *Core) sendPresence(ctx context.Context, entity, watcher cpim.Address, lang string, tuples []cpim.Tuple) {
	x := c.xmppSide()
	if x == nil {
		c.log.Warn("XMPP side not connected; presence dropped", "from", entity.String(), "to", watcher.String())
		return
	}
	p := cpim.Presence{Entity: entity.Bare(), Watcher: watcher.Bare(), Lang: lang, Tuples: tuples}
	if err := x.SendPresence(ctx, p); err != nil {
		c.log.Warn("sending presence failed", "from", entity.String(), "to", watcher.String(), "err", err)
	}
}

// sendError sends a presence error from a SIP contact to an XMPP user
// through PresenceErrorSender, or, when the XMPP side lacks it, an
// 'unsubscribed' (the request is refused either way). id is that of the
// stanza the error answers ("" when the gateway no longer knows it).
func (c *Core) sendError(ctx context.Context, from, to cpim.Address, id string, e *cpim.Error) {
	x := c.xmppSide()
	if es, ok := x.(PresenceErrorSender); ok {
		if err := es.SendPresenceError(ctx, from.Bare(), to.Bare(), id, e); err != nil {
			c.log.Warn("sending a presence error failed", "from", from.String(), "to", to.String(), "condition", string(e.Condition), "err", err)
		}
		return
	}
	c.log.Warn("XMPP side cannot send presence errors; answering unsubscribed", "from", from.String(), "to", to.String(), "condition", string(e.Condition))
	c.sendSubID(ctx, cpim.Unsubscribed, to, from, id)
}

// notify sends n on the notifier dialogs of watcher for target.
func (c *Core) notify(ctx context.Context, watcher, target cpim.Address, n cpim.Notification) {
	s := c.sipSide()
	if s == nil {
		c.log.Warn("SIP side not connected; NOTIFY dropped", "from", target.String(), "to", watcher.String())
		return
	}
	if err := s.Notify(ctx, watcher, target, n); err != nil {
		c.log.Warn("NOTIFY failed", "from", target.String(), "to", watcher.String(), "state", string(n.State), "err", err)
	}
}
