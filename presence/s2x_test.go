package presence

import (
	"errors"
	"testing"
	"time"

	"cpimgw/cpim"
	"cpimgw/store"
)

const unavailRJ = "presence romeo@example.net→juliet@example.com (no tuples)"

// TestS2XRows has one case per row of INTERWORKING.md §3.7, "S2X — SIP
// user C watches XMPP user U", named after the row.
func TestS2XRows(t *testing.T) {
	rows := []struct {
		name string
		o    opts
		run  func(h *harness)
	}{
		{"initial SUBSCRIBE: checks (489, 406, 423, 400/404) are sipside's; policy: refused 403 in PUBLISH mode", opts{cfg: Config{Mode: Publish}}, func(h *harness) {
			_, err := h.sipEv.SubscribeRequest(h.ctx, cpim.Subscription{Op: cpim.Subscribe, Watcher: romeo, Target: juliet})
			var e *cpim.Error
			if !errors.As(err, &e) || e.Condition != cpim.Forbidden || e.Status != 403 {
				h.t.Errorf("SubscribeRequest in PUBLISH mode: %v, want forbidden 403", err)
			}
			h.expect()
			h.wantAuth(store.S2X, romeo, juliet, store.AuthNone)
		}},
		{"accepted → immediately NOTIFY pending with empty body when U has not authorized C (6665 §4.2.1.2)", opts{}, func(h *harness) {
			h.wantNotification(h.subscribeReq(cpim.Subscribe, false), "pending (no body)")
			h.expect(subscribRJ)
			h.wantAuth(store.S2X, romeo, juliet, store.AuthPending)
		}},
		{"XMPP link down: the SUBSCRIBE is refused with its 503 + Retry-After, never left pending unasked; the next one asks", opts{}, func(h *harness) {
			down := &cpim.Error{Condition: cpim.ServiceUnavailable, Status: 503, RetryAfter: 5 * time.Second}
			h.fx.down.Store(down)
			_, err := h.sipEv.SubscribeRequest(h.ctx, cpim.Subscription{Op: cpim.Subscribe, Watcher: romeo, Target: juliet, ID: "dlg-1"})
			if !errors.Is(err, down) {
				h.t.Errorf("SubscribeRequest with the link down: %v, want the XMPP side's error", err)
			}
			h.expect()
			h.fx.down.Store(nil)
			h.wantNotification(h.subscribeReq(cpim.Subscribe, false), "pending (no body)")
			h.expect(subscribRJ)
			h.wantAuth(store.S2X, romeo, juliet, store.AuthPending)
		}},
		{"accepted → immediately NOTIFY active with PIDF when U already authorized C (6665 §4.2.1.2)", opts{}, func(h *harness) {
			h.s2xGranted()
			h.pres(juliet, "balcony", "away", romeo, "on the balcony")
			h.calls()
			h.wantNotification(h.subscribeReq(cpim.Subscribe, false), `active [balcony open/away "on the balcony"]`)
			h.expect() // nothing toward XMPP: U's state is known
		}},
		{"— and toward XMPP: subscribe C→U if not yet authorized, probe C→U if authorized but no state (8048 §5.3.1, §7.2)", opts{}, func(h *harness) {
			h.subscribeReq(cpim.Subscribe, false)
			h.expect(subscribRJ)
			h.subscribeReq(cpim.Subscribe, false) // a second dialog asks again
			h.expect(subscribRJ)
			h.xsub(cpim.Subscribed, romeo, juliet)
			h.calls()
			h.wantNotification(h.subscribeReq(cpim.Subscribe, false), "active (no body)")
			h.expect(probeRJ)
			h.pres(juliet, "balcony", "open", romeo) // the probe's answer
			h.expect(notifyRJ + "active [balcony open]")
		}},
		{"U→C subscribed → NOTIFY active (8048 §5.3.1, SUB-17)", opts{}, func(h *harness) {
			h.subscribeReq(cpim.Subscribe, false)
			h.calls()
			h.xsub(cpim.Subscribed, romeo, juliet)
			h.expect(notifyRJ + "active (no body)")
			h.wantAuth(store.S2X, romeo, juliet, store.AuthGranted)
			h.pres(juliet, "balcony", "open", romeo) // U's server sends U's presence next
			h.expect(notifyRJ + "active [balcony open]")
		}},
		{"U→C unsubscribed (decline) → NOTIFY terminated;reason=rejected, empty; authorization none (8048 §5.3.1, SUB-18)", opts{}, func(h *harness) {
			h.subscribeReq(cpim.Subscribe, false)
			h.calls()
			h.xsub(cpim.Unsubscribed, romeo, juliet)
			h.expect(notifyRJ + "terminated;reason=rejected (no body)")
			h.wantAuth(store.S2X, romeo, juliet, store.AuthNone)
		}},
		{"U→C unsubscribed (later cancel) → NOTIFY terminated;reason=rejected; presence stops (SUB-31)", opts{}, func(h *harness) {
			h.s2xGranted()
			h.pres(juliet, "balcony", "open", romeo)
			h.calls()
			h.xsub(cpim.Unsubscribed, romeo, juliet)
			h.expect(notifyRJ + "terminated;reason=rejected (no body)")
			h.wantAuth(store.S2X, romeo, juliet, store.AuthNone)
			h.pres(juliet, "balcony", "dnd", romeo)
			h.advance(time.Minute)
			h.expect()
		}},
		{"U presence (available/unavailable, any resource) → NOTIFY active with full-state PIDF (8048 §6.2, PRS-13)", opts{cfg: Config{NotifyInterval: -1}}, func(h *harness) {
			h.s2xGranted()
			h.pres(juliet, "balcony", "open", romeo)
			h.expect(notifyRJ + "active [balcony open]")
			h.pres(juliet, "chamber", "dnd", romeo, "busy")
			h.expect(notifyRJ + `active [balcony open, chamber open/dnd "busy"]`)
			h.pres(juliet, "balcony", "closed", romeo)
			h.expect(notifyRJ + `active [balcony closed, chamber open/dnd "busy"]`) // once closed, …
			h.pres(juliet, "chamber", "away", romeo)
			h.expect(notifyRJ + "active [chamber open/away]") // … then dropped (§3.6)
			h.pres(juliet, "chamber", "closed", romeo)
			h.expect(notifyRJ + "active [chamber closed]")
			h.pres(juliet, "", "closed", romeo) // nothing new
			h.expect()
			h.pres(juliet, "balcony", "open", romeo)
			h.pres(juliet, "", "closed", romeo) // all offline at once
			h.expect(notifyRJ+"active [balcony open]", notifyRJ+"active [balcony closed]")
			h.wantNotification(h.subscribeReq(cpim.Subscribe, true), "active (no tuples)") // one closed tuple in PIDF, never zero (§3.6)
		}},
		{"refresh SUBSCRIBE → current state; empty body when nothing is known (8048 §5.3.2, SUB-19)", opts{}, func(h *harness) {
			h.s2xGranted()
			h.wantNotification(h.subscribeReq(cpim.Subscribe, true), "active (no body)")
			h.expect() // no XMPP traffic
			h.pres(juliet, "balcony", "xa", romeo)
			h.calls()
			h.wantNotification(h.subscribeReq(cpim.Subscribe, true), "active [balcony open/xa]")
			h.expect()
		}},
		{"SUBSCRIBE Expires:0 in dialog → NOTIFY terminated;reason=timeout, PIDF closed; directed unavailable C→U; authorization unchanged (8048 §5.3.3, SUB-20)", opts{}, func(h *harness) {
			h.s2xGranted()
			h.pres(juliet, "balcony", "open", romeo)
			h.calls()
			h.wantNotification(h.subscribeReq(cpim.Unsubscribe, false), "terminated;reason=timeout [- closed]")
			h.expect(unavailRJ)
			h.wantAuth(store.S2X, romeo, juliet, store.AuthGranted)
		}},
		{"SUBSCRIBE Expires:0 out of dialog (poll) → NOTIFY terminated;reason=timeout with cached state or empty; probe C→U if nothing cached (8048 §7.2, SUB-21)", opts{}, func(h *harness) {
			h.wantNotification(h.subscribeReq(cpim.Probe, false), "terminated;reason=timeout (no body)")
			h.expect(probeRJ)
			h.pres(juliet, "balcony", "open", romeo) // answer to the probe: cached
			h.expect()
			h.wantNotification(h.subscribeReq(cpim.Probe, false), "terminated;reason=timeout [balcony open]")
			h.expect()
		}},
		{"dialog expires unrefreshed → (sipside: terminated;reason=timeout) directed unavailable C→U [D] (6665 §4.2.1.4)", opts{}, func(h *harness) {
			h.s2xGranted()
			h.ok(h.sipEv.SubscriptionEnded(h.ctx, romeo, juliet, "timeout"))
			h.expect(unavailRJ)
			h.wantAuth(store.S2X, romeo, juliet, store.AuthGranted)
		}},
		{"NOTIFY gets 404…604 or Timer F → subscription removed (sipside) + directed unavailable C→U [D] (6665 §4.2.2, SUB-22)", opts{}, func(h *harness) {
			h.s2xGranted()
			h.ok(h.sipEv.SubscriptionEnded(h.ctx, romeo, juliet, "notify-failed"))
			h.expect(unavailRJ)
			h.wantAuth(store.S2X, romeo, juliet, store.AuthGranted)
		}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) { r.run(newHarness(t, r.o)) })
	}
}

// TestS2XErrorReasons is the last S2X row: an XMPP error answering our
// subscribe or probe → NOTIFY terminated with the reason of the table
// (SUB-32 [D]).
func TestS2XErrorReasons(t *testing.T) {
	want := map[cpim.Condition]string{
		cpim.ItemNotFound: "noresource", cpim.JIDMalformed: "noresource", cpim.Gone: "noresource",
		cpim.Forbidden: "rejected", cpim.NotAuthorized: "rejected", cpim.NotAllowed: "rejected",
		cpim.ServiceUnavailable: "rejected", cpim.SubscriptionRequired: "rejected",
		cpim.RegistrationRequired: "rejected", cpim.PolicyViolation: "rejected",
		cpim.RemoteServerNotFound: "probation;retry-after=300", cpim.RemoteServerTimeout: "probation;retry-after=300",
		cpim.InternalServerError: "probation;retry-after=300", cpim.ResourceConstraint: "probation;retry-after=300",
	}
	for _, cond := range cpim.Conditions {
		reason, ok := want[cond]
		if !ok {
			reason = "probation;retry-after=300" // not in the table: transient [D]
		}
		t.Run(string(cond), func(t *testing.T) {
			h := newHarness(t, opts{})
			h.subscribeReq(cpim.Subscribe, false)
			h.expect(subscribRJ)
			h.ok(h.xEv.PresenceError(h.ctx, juliet, romeo, &cpim.Error{Condition: cond}))
			h.expect(notifyRJ + "terminated;reason=" + reason + " (no body)")
			wantAuth := store.AuthPending
			if reason == "noresource" || reason == "rejected" {
				wantAuth = store.AuthNone
			}
			h.wantAuth(store.S2X, romeo, juliet, wantAuth)
			// An error nobody asked for (no outstanding request) is ignored.
			h.xsub(cpim.Subscribed, romeo, juliet)
			h.calls()
			h.ok(h.xEv.PresenceError(h.ctx, juliet, romeo, &cpim.Error{Condition: cond}))
			h.expect()
		})
	}
	t.Run("error to the probe of an authorized watcher's SUBSCRIBE", func(t *testing.T) {
		h := newHarness(t, opts{})
		h.s2xGranted()
		h.subscribeReq(cpim.Subscribe, false)
		h.expect(probeRJ)
		h.ok(h.xEv.PresenceError(h.ctx, juliet, romeo, &cpim.Error{Condition: cpim.ItemNotFound}))
		h.expect(notifyRJ + "terminated;reason=noresource (no body)")
		h.wantAuth(store.S2X, romeo, juliet, store.AuthNone)
	})
}

// TestS2XNotes covers the §3.7 notes that concern S2X.
func TestS2XNotes(t *testing.T) {
	t.Run("never auto-approve on the XMPP user's behalf (6121 §3.1.3 rule 1, SUB-28)", func(t *testing.T) {
		h := newHarness(t, opts{})
		h.wantNotification(h.subscribeReq(cpim.Subscribe, false), "pending (no body)")
		h.pres(juliet, "balcony", "open", romeo) // directed presence is no approval
		h.advance(time.Hour)
		h.wantNotification(h.subscribeReq(cpim.Subscribe, true), "pending (no body)")
		h.expect(subscribRJ)
		h.wantAuth(store.S2X, romeo, juliet, store.AuthPending)
	})
	t.Run("U's pre-approval (6121 §3.4) → active at the first SUBSCRIBE", func(t *testing.T) {
		h := newHarness(t, opts{})
		h.xsub(cpim.Subscribed, romeo, juliet)
		h.expect() // no dialog to notify
		h.wantAuth(store.S2X, romeo, juliet, store.AuthGranted)
		h.wantNotification(h.subscribeReq(cpim.Subscribe, false), "active (no body)")
		h.expect(probeRJ)
	})
	t.Run("presence of U reaches only the watcher it was sent to (8048 §8.2, PRS-16)", func(t *testing.T) {
		h := newHarness(t, opts{cfg: Config{NotifyInterval: -1}})
		benvolio := cpim.Address{Local: "benvolio", Domain: "example.net"}
		for _, w := range []cpim.Address{romeo, benvolio} {
			_, err := h.sipEv.SubscribeRequest(h.ctx, cpim.Subscription{Op: cpim.Subscribe, Watcher: w, Target: juliet})
			h.ok(err)
			h.xsub(cpim.Subscribed, w, juliet)
		}
		h.calls()
		h.pres(juliet, "balcony", "open", romeo)
		h.pres(juliet, "balcony", "closed", benvolio) // U blocks benvolio
		h.expect(notifyRJ+"active [balcony open]", "NOTIFY benvolio@example.net←juliet@example.com active [balcony closed]")
	})
	t.Run("a renewal after U refused → terminated;reason=rejected [D]", func(t *testing.T) {
		h := newHarness(t, opts{})
		h.wantNotification(h.subscribeReq(cpim.Subscribe, true), "terminated;reason=rejected (no body)")
	})
	t.Run("status notes get the stanza's language explicitly when resources mix languages", func(t *testing.T) {
		h := newHarness(t, opts{cfg: Config{NotifyInterval: -1}})
		h.s2xGranted()
		p := xmppPresence(juliet, "balcony", "away", romeo, "dehors")
		p.Lang = "fr"
		h.ok(h.xEv.Presence(h.ctx, p))
		p = xmppPresence(juliet, "chamber", "open", romeo, "inside")
		p.Lang = "en"
		h.ok(h.xEv.Presence(h.ctx, p))
		h.expect(notifyRJ+`active [balcony open/away fr:"dehors"]`, notifyRJ+`active [balcony open/away fr:"dehors", chamber open en:"inside"]`)
	})
}

// TestCoalescing checks RFC 3856 §6.10 (PRS-17) with a fake clock: the
// first change of a window is notified at once, later ones are merged into
// one NOTIFY of the full state at the end of the window, per (watcher,
// presentity).
func TestCoalescing(t *testing.T) {
	h := newHarness(t, opts{cfg: Config{NotifyInterval: 5 * time.Second}})
	benvolio := cpim.Address{Local: "benvolio", Domain: "example.net"}
	h.s2xGranted()
	_, err := h.sipEv.SubscribeRequest(h.ctx, cpim.Subscription{Op: cpim.Subscribe, Watcher: benvolio, Target: juliet})
	h.ok(err)
	h.xsub(cpim.Subscribed, benvolio, juliet)
	h.calls()

	h.pres(juliet, "balcony", "open", romeo)
	h.expect(notifyRJ + "active [balcony open]") // first: at once
	h.advance(time.Second)
	h.pres(juliet, "balcony", "away", romeo)
	h.pres(juliet, "chamber", "dnd", romeo)
	h.pres(juliet, "balcony", "closed", romeo)
	h.pres(juliet, "balcony", "closed", benvolio) // another watcher: its own window
	h.expect("NOTIFY benvolio@example.net←juliet@example.com active [balcony closed]")
	h.advance(3*time.Second + 999*time.Millisecond)
	h.expect()
	h.advance(time.Millisecond) // end of the window: the merged full state
	h.expect(notifyRJ + "active [balcony closed, chamber open/dnd]")
	h.advance(5 * time.Second)
	h.expect() // nothing pending
	h.pres(juliet, "chamber", "open", romeo)
	h.expect(notifyRJ + "active [chamber open]") // a new window
	h.pres(juliet, "chamber", "xa", romeo)
	h.xsub(cpim.Unsubscribed, romeo, juliet) // revoked inside the window
	h.expect(notifyRJ + "terminated;reason=rejected (no body)")
	h.advance(10 * time.Second)
	h.expect() // the pending merge is dropped
}

// TestPublishMode checks PUBLISH mode (INTERWORKING.md §3.8): one
// aggregated state per XMPP user, published on change, coalesced, closed
// when every resource is offline; authorizations still recorded.
func TestPublishMode(t *testing.T) {
	h := newHarness(t, opts{cfg: Config{Mode: Publish, NotifyInterval: 5 * time.Second}})
	benvolio := cpim.Address{Local: "benvolio", Domain: "example.net"}
	const pubJ = "PUBLISH juliet@example.com "
	h.xsub(cpim.Subscribed, romeo, juliet)
	h.expect() // no NOTIFY in this mode
	h.wantAuth(store.S2X, romeo, juliet, store.AuthGranted)

	h.pres(juliet, "balcony", "open", romeo)
	h.pres(juliet, "balcony", "open", benvolio) // the copy for another contact
	h.expect(pubJ + "[balcony open]")
	h.pres(juliet, "chamber", "dnd", romeo)
	h.pres(juliet, "chamber", "dnd", benvolio)
	h.expect()
	h.advance(5 * time.Second)
	h.expect(pubJ + "[balcony open, chamber open/dnd]")
	h.advance(5 * time.Second)
	h.pres(juliet, "balcony", "closed", romeo)
	h.expect(pubJ + "[balcony closed, chamber open/dnd]")
	h.advance(5 * time.Second)
	h.pres(juliet, "chamber", "closed", romeo)
	h.expect(pubJ + "(no tuples)") // all offline: one closed tuple in the PIDF
	h.advance(5 * time.Second)
	h.pres(juliet, "", "closed", benvolio)
	h.expect() // nothing changes

	// X2S works as in notifier mode.
	h.xsub(cpim.Subscribe, juliet, romeo)
	h.expect(subJR)
	h.xsub(cpim.Unsubscribed, romeo, juliet)
	h.expect()
	h.wantAuth(store.S2X, romeo, juliet, store.AuthNone)
}
