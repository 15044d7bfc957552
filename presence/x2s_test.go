package presence

import (
	"fmt"
	"testing"
	"time"

	"cpimgw/cpim"
	"cpimgw/store"
)

// Calls as the fakes print them, for the pair juliet (XMPP) / romeo (SIP).
const (
	subJR      = "SUBSCRIBE juliet@example.com→romeo@example.net"
	unsubJR    = "unSUBSCRIBE juliet@example.com→romeo@example.net"
	subscribed = "subscribed romeo@example.net→juliet@example.com"
	unsubd     = "unsubscribed romeo@example.net→juliet@example.com"
	presRJ     = "presence romeo@example.net→juliet@example.com "
	probeRJ    = "probe romeo@example.net→juliet@example.com"
	subscribRJ = "subscribe romeo@example.net→juliet@example.com"
	notifyRJ   = "NOTIFY romeo@example.net←juliet@example.com "
)

// TestX2SRows has one case per row of INTERWORKING.md §3.7, "X2S — XMPP
// user U watches SIP contact C", named after the row. Each asserts the
// exact calls on both sides and the stored authorization.
func TestX2SRows(t *testing.T) {
	rows := []struct {
		name string
		run  func(h *harness)
	}{
		{"U→C subscribe → new-dialog SUBSCRIBE (8048 §5.2.1, SUB-01)", func(h *harness) {
			h.xsub(cpim.Subscribe, juliet, romeo)
			h.expect(subJR)
			h.wantAuth(store.X2S, juliet, romeo, store.AuthPending)
		}},
		{"SUBSCRIBE sent: Timer N without NOTIFY → failed, keep the authorization, retry later (6665 §4.1.2.4)", func(h *harness) {
			h.xsub(cpim.Subscribe, juliet, romeo)
			h.calls()
			h.failed(408, true)
			h.expect()
			h.wantAuth(store.X2S, juliet, romeo, store.AuthPending)
			h.advance(retryMin - time.Second)
			h.expect()
			h.advance(time.Second)
			h.expect(subJR)
		}},
		{"2xx to SUBSCRIBE: neutral until the first NOTIFY, which may precede the 2xx (6665 §4.1.2.4)", func(h *harness) {
			h.xsub(cpim.Subscribe, juliet, romeo)
			h.expect(subJR) // nothing to U: neutral
			h.notified(active("phone", "open"))
			h.expect(subscribed, presRJ+"[phone open]")
		}},
		{"NOTIFY pending → nothing to U (8048 §5.2.1, SUB-02)", func(h *harness) {
			h.xsub(cpim.Subscribe, juliet, romeo)
			h.calls()
			h.notified(cpim.Notification{State: cpim.SubPending})
			h.notified(cpim.Notification{State: cpim.SubPending, Presence: sipPresence(romeo, "phone", "open")})
			h.expect()
			h.wantAuth(store.X2S, juliet, romeo, store.AuthPending)
		}},
		{"first NOTIFY active → subscribed C→U, then presence per tuple (8048 §5.2.1, SUB-04)", func(h *harness) {
			h.xsub(cpim.Subscribe, juliet, romeo)
			h.calls()
			h.notified(cpim.Notification{State: cpim.SubPending})
			h.notified(active("dr4hcr0st3lup4c", "away", "desk", "open"))
			h.expect(subscribed, presRJ+"[dr4hcr0st3lup4c open/away, desk open]")
			h.wantAuth(store.X2S, juliet, romeo, store.AuthGranted)
		}},
		{"first NOTIFY active without body → subscribed only", func(h *harness) {
			h.xsub(cpim.Subscribe, juliet, romeo)
			h.calls()
			h.notified(cpim.Notification{State: cpim.SubActive})
			h.expect(subscribed)
			h.wantAuth(store.X2S, juliet, romeo, store.AuthGranted)
		}},
		{"NOTIFY active later → presence for changed tuples (3922 §6.3.1, PRS-14)", func(h *harness) {
			h.granted("phone", "open", "desk", "open")
			h.notified(active("phone", "open", "desk", "dnd", "tablet", "open"))
			h.expect(presRJ + "[desk open/dnd, tablet open]")
			h.notified(active("phone", "open", "desk", "dnd", "tablet", "open"))
			h.expect() // nothing changed
			h.notified(active("desk", "dnd"))
			h.expect(presRJ + "[phone closed, tablet closed]") // vanished resources
			h.notified(cpim.Notification{State: cpim.SubActive, Presence: sipPresence(romeo)})
			h.expect(presRJ + "(no tuples)") // zero tuples after available ones: bare unavailable (§3.6)
			h.notified(cpim.Notification{State: cpim.SubActive})
			h.expect() // nothing was available
		}},
		{"NOTIFY terminated;reason=rejected → unsubscribed C→U, authorization none (3922 §6.1)", func(h *harness) {
			h.granted("phone", "open")
			h.notified(cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonRejected})
			h.expect(unsubd, presRJ+"[phone closed]")
			h.wantAuth(store.X2S, juliet, romeo, store.AuthNone)
		}},
		{"NOTIFY terminated;reason=noresource → unsubscribed C→U, authorization none (6665 §4.1.3)", func(h *harness) {
			h.xsub(cpim.Subscribe, juliet, romeo)
			h.calls()
			h.notified(cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonNoResource})
			h.expect(unsubd)
			h.wantAuth(store.X2S, juliet, romeo, store.AuthNone)
		}},
		{"NOTIFY terminated;reason=timeout → re-SUBSCRIBE now (6665 §4.1.3)", func(h *harness) {
			h.granted("phone", "open")
			h.notified(cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonTimeout})
			h.expect(subJR)
			h.wantAuth(store.X2S, juliet, romeo, store.AuthGranted)
		}},
		{"NOTIFY terminated;reason=deactivated → re-SUBSCRIBE now (6665 §4.1.3)", func(h *harness) {
			h.granted("phone", "open")
			h.notified(cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonDeactivated})
			h.expect(subJR)
			// A second one within minAutoGap backs off instead of looping.
			h.notified(cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonDeactivated})
			h.expect()
			h.advance(retryMin)
			h.expect(subJR)
		}},
		{"NOTIFY terminated;reason=timeout while U is offline → no re-SUBSCRIBE", func(h *harness) {
			h.granted("phone", "open")
			h.s2xGranted()
			h.pres(juliet, "", "closed", romeo) // U offline (bare unavailable, romeo authorized)
			h.calls()
			h.notified(cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonTimeout})
			h.expect()
			h.xsub(cpim.Probe, juliet, romeo) // U logs in: U's server probes
			h.expect(presRJ+"[phone open]", subJR)
		}},
		{"NOTIFY terminated;reason=probation → re-SUBSCRIBE after retry-after (6665 §4.1.3)", func(h *harness) {
			h.granted("phone", "open")
			h.notified(cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonProbation, RetryAfter: 30 * time.Second})
			h.expect()
			h.advance(29 * time.Second)
			h.expect()
			h.advance(time.Second)
			h.expect(subJR)
		}},
		{"NOTIFY terminated;reason=giveup → re-SUBSCRIBE after 60–120 s without retry-after [D]", func(h *harness) {
			h.granted("phone", "open")
			h.notified(cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonGiveUp})
			h.advance(59 * time.Second)
			h.expect()
			h.advance(time.Second) // the harness's jitter picks the lower bound
			h.expect(subJR)
		}},
		{"NOTIFY terminated;reason=invariant → keep last state, do not re-subscribe", func(h *harness) {
			h.granted("phone", "open")
			h.notified(cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonInvariant})
			h.advance(3 * time.Hour)
			h.expect()
			h.wantAuth(store.X2S, juliet, romeo, store.AuthGranted)
			h.xsub(cpim.Probe, juliet, romeo)     // the last state is still there, …
			h.expect(presRJ + "[phone open]")     // … and a new session does not re-subscribe
			h.xsub(cpim.Subscribe, juliet, romeo) // U asking again does
			h.expect(subscribed, presRJ+"[phone open]", subJR)
		}},
		{"SUBSCRIBE error 403 → authorization cancelled, unsubscribed C→U (8048 §5.2.2, SUB-05)", x2sCancelled(403)},
		{"SUBSCRIBE error 489 → authorization cancelled, unsubscribed C→U (8048 §5.2.2, SUB-05)", x2sCancelled(489)},
		{"SUBSCRIBE error 603 → authorization cancelled, unsubscribed C→U (8048 §5.2.2, SUB-05)", x2sCancelled(603)},
		{"SUBSCRIBE error 423 → retried by sipside with Min-Expires; if reported, kept and retried later (6665 §4.2.1.1)", func(h *harness) {
			h.granted("phone", "open")
			h.failed(423, false)
			h.expect()
			h.wantAuth(store.X2S, juliet, romeo, store.AuthGranted)
			h.advance(retryMin)
			h.expect(subJR)
		}},
		{"SUBSCRIBE error 481 → new-dialog SUBSCRIBE, keep authorization (8048 §5.2.2, SUB-06)", func(h *harness) {
			h.granted("phone", "open")
			h.failed(481, false)
			h.expect(subJR)
			h.wantAuth(store.X2S, juliet, romeo, store.AuthGranted)
			h.failed(481, true) // again at once: back off
			h.expect()
			h.advance(2 * retryMin)
			h.expect(subJR)
		}},
		{"SUBSCRIBE error 404 on initial request → presence error item-not-found to U (3922 §6.1)", x2sNotFound(404)},
		{"SUBSCRIBE error 604 on initial request → presence error item-not-found to U (3922 §6.1)", x2sNotFound(604)},
		{"SUBSCRIBE error 484 on initial request → presence error item-not-found to U (3922 §6.1)", x2sNotFound(484)},
		{"SUBSCRIBE error 485 on initial request → presence error item-not-found to U (3922 §6.1)", x2sNotFound(485)},
		{"the item-not-found answers U's subscribe with its id, the latest when U asked again while pending (RFC 6120 §8.3.1)", func(h *harness) {
			h.ok(h.xEv.Subscription(h.ctx, cpim.Subscription{Op: cpim.Subscribe, Watcher: juliet, Target: romeo, ID: "s1"}))
			h.calls()
			h.ok(h.xEv.Subscription(h.ctx, cpim.Subscription{Op: cpim.Subscribe, Watcher: juliet, Target: romeo, ID: "s2"}))
			h.failed(404, true)
			h.expect("error item-not-found romeo@example.net→juliet@example.com id=s2")
		}},
		{"refresh error 404,405,410,416,480–485,501,604 → dialog dead, new SUBSCRIBE later, keep authorization (6665 §4.1.2.2, SUB-23)", func(h *harness) {
			h.granted("phone", "open")
			for _, st := range []int{404, 405, 410, 416, 480, 481, 482, 483, 484, 485, 501, 604} {
				if st == 481 {
					continue // its own row
				}
				h.notified(active("phone", "open")) // live again
				h.failed(st, false)
				h.expect()
				h.wantAuth(store.X2S, juliet, romeo, store.AuthGranted)
				h.advance(retryMin)
				if got := h.calls(); len(got) != 1 || got[0] != subJR {
					h.t.Errorf("after refresh error %d: calls %q, want one %q", st, got, subJR)
				}
			}
		}},
		{"401/407 → sipside authenticates; if reported, kept and retried later (RFC 3261)", func(h *harness) {
			h.xsub(cpim.Subscribe, juliet, romeo)
			h.calls()
			h.failed(407, true)
			h.expect()
			h.wantAuth(store.X2S, juliet, romeo, store.AuthPending)
			h.advance(retryMin)
			h.expect(subJR)
		}},
		{"U→C unsubscribe → SUBSCRIBE Expires:0, then unsubscribed C→U (8048 §5.2.3, SUB-09)", func(h *harness) {
			h.granted("phone", "open")
			h.xsub(cpim.Unsubscribe, juliet, romeo)
			h.expect(unsubJR, unsubd, presRJ+"[phone closed]")
			h.wantAuth(store.X2S, juliet, romeo, store.AuthNone)
			// The notifier's final NOTIFY is answered by sipside and
			// ignored here (SUB-31).
			h.notified(cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonTimeout})
			h.notified(active("phone", "away"))
			h.expect()
		}},
		{"U's server probes C, authorized → last presence per resource, full JIDs (6121 §4.3.2, SUB-30)", func(h *harness) {
			h.granted("phone", "away", "desk", "closed", "tablet", "open")
			h.xsub(cpim.Probe, juliet, romeo)
			h.expect(presRJ + "[phone open/away, tablet open]") // dialog live: no SUBSCRIBE
		}},
		{"U's server probes C, authorized, no resources → bare unavailable (6121 §4.3.2)", func(h *harness) {
			h.granted("desk", "closed")
			h.xsub(cpim.Probe, juliet, romeo)
			h.expect(presRJ + "(no tuples)")
		}},
		{"U's server probes C, not authorized → unsubscribed from C bare (6121 §4.3.2)", func(h *harness) {
			h.xsub(cpim.Probe, juliet, romeo)
			h.expect(unsubd)
		}},
		{"a probe's 'unsubscribed' mirrors its id (6121 §4.3.2.1)", func(h *harness) {
			h.ok(h.xEv.Subscription(h.ctx, cpim.Subscription{Op: cpim.Probe, Watcher: juliet, Target: romeo, ID: "p1"}))
			h.expect(unsubd + " id=p1")
		}},
		{"U's server probes C, request pending → bare unavailable, request kept [D]", func(h *harness) {
			h.xsub(cpim.Subscribe, juliet, romeo)
			h.calls()
			h.xsub(cpim.Probe, juliet, romeo)
			h.expect(presRJ + "(no tuples)")
			h.wantAuth(store.X2S, juliet, romeo, store.AuthPending)
		}},
		{"U starts a presence session → (re-)SUBSCRIBE when no dialog is live (8048 §5.2.2)", func(h *harness) {
			h.granted("phone", "open")
			h.s2xGranted()
			h.pres(juliet, "", "closed", romeo) // U logged out …
			h.notified(cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonTimeout})
			h.calls()                         // … so the expired dialog was not renewed
			h.xsub(cpim.Probe, juliet, romeo) // U logs in: its server probes C
			h.expect(presRJ+"[phone open]", subJR)
			h.notified(active("phone", "open")) // same state: nothing new for U
			h.expect()
			// Initial presence to an authorized contact also starts a session.
			h.pres(juliet, "", "closed", romeo)
			h.notified(cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonTimeout})
			h.advance(DefaultNotifyInterval) // past the NOTIFY window
			h.calls()
			h.pres(juliet, "balcony", "open", romeo)
			h.expect(subJR, notifyRJ+"active [balcony open]")
		}},
		{"refresh timer → probe U from C's JID first, refresh only if U is online (7248 §7, 8048 §8.1, SUB-08)", func(h *harness) {
			h.granted("phone", "open")
			h.ok(h.sipEv.RefreshDue(h.ctx, juliet, romeo))
			h.expect(probeRJ)
			h.pres(juliet, "balcony", "open", romeo) // the answer: available
			h.expect(subJR)
		}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) { r.run(newHarness(t, opts{})) })
	}
}

func x2sCancelled(status int) func(h *harness) {
	return func(h *harness) {
		h.granted("phone", "open")
		h.failed(status, false)
		h.expect(unsubd, presRJ+"[phone closed]")
		h.wantAuth(store.X2S, juliet, romeo, store.AuthNone)
		h.advance(3 * time.Hour)
		h.expect() // never re-subscribed
		// Also on the initial request, while pending.
		h.xsub(cpim.Subscribe, juliet, romeo)
		h.expect(subJR)
		h.failed(status, true)
		h.expect(unsubd)
		h.wantAuth(store.X2S, juliet, romeo, store.AuthNone)
	}
}

func x2sNotFound(status int) func(h *harness) {
	return func(h *harness) {
		h.xsub(cpim.Subscribe, juliet, romeo)
		h.calls()
		h.failed(status, true)
		h.expect("error item-not-found romeo@example.net→juliet@example.com")
		h.wantAuth(store.X2S, juliet, romeo, store.AuthNone)
		h.advance(3 * time.Hour)
		h.expect()
	}
}

// TestProbeFirstRefresh covers every branch of issue4.md's refresh rule.
func TestProbeFirstRefresh(t *testing.T) {
	cases := []struct {
		name       string
		authorized bool // romeo may see juliet (S2X granted)
		answer     func(h *harness)
		want       []string
		offline    bool
	}{
		{"available answer → refresh", true, func(h *harness) { h.pres(juliet, "balcony", "away", romeo) },
			[]string{subJR, notifyRJ + "active [balcony open/away]"}, false},
		{"bare unavailable while C authorized → lapse, U offline", true, func(h *harness) { h.pres(juliet, "", "closed", romeo) },
			[]string{notifyRJ + "active (no tuples)"}, true},
		{"bare unavailable without authorization → refresh (Prosody's answer to an unauthorized probe)", false,
			func(h *harness) { h.pres(juliet, "", "closed", romeo) }, []string{subJR}, false},
		{"no answer within ProbeTimeout → refresh", true, func(h *harness) { h.advance(DefaultProbeTimeout) },
			[]string{subJR}, false},
		{"presence error → refresh", false, func(h *harness) {
			h.ok(h.xEv.PresenceError(h.ctx, juliet, romeo, &cpim.Error{Condition: cpim.RemoteServerTimeout}))
		}, []string{subJR}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, opts{})
			h.granted("phone", "open")
			if tc.authorized {
				h.s2xGranted()
			}
			h.ok(h.sipEv.RefreshDue(h.ctx, juliet, romeo))
			h.ok(h.sipEv.RefreshDue(h.ctx, juliet, romeo)) // one probe at a time
			h.expect(probeRJ)
			tc.answer(h)
			h.expect(tc.want...)
			h.advance(DefaultProbeTimeout) // the timeout is cancelled by an answer
			h.expect()
			if tc.offline {
				// Lapsed: the dialog's end is not re-subscribed, U's next
				// probe is.
				h.notified(cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonTimeout})
				h.expect()
				h.xsub(cpim.Probe, juliet, romeo)
				h.expect(presRJ+"[phone open]", subJR)
			}
		})
	}
	t.Run("no authorization → let it lapse, no probe", func(t *testing.T) {
		h := newHarness(t, opts{})
		h.ok(h.sipEv.RefreshDue(h.ctx, juliet, romeo))
		h.expect()
	})
}

// TestX2SNotes covers the §3.7 notes that concern X2S.
func TestX2SNotes(t *testing.T) {
	t.Run("subscription stanzas use bare JIDs (SUB-29)", func(t *testing.T) {
		h := newHarness(t, opts{})
		full := juliet
		full.Resource = "balcony"
		h.xsub(cpim.Subscribe, full, cpim.Address{Local: "romeo", Domain: "example.net", Resource: "x"})
		h.notified(active())
		h.expect(subJR, subscribed)
	})
	t.Run("already authorized → auto-reply subscribed and C's presence (6121 §3.1.3 rule 2, SUB-28)", func(t *testing.T) {
		h := newHarness(t, opts{})
		h.granted("phone", "open", "desk", "closed")
		h.xsub(cpim.Subscribe, juliet, romeo)
		h.expect(subscribed, presRJ+"[phone open]") // dialog live: no SUBSCRIBE
		h.notified(cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonInvariant})
		h.calls()
		h.xsub(cpim.Subscribe, juliet, romeo)
		h.expect(subscribed, presRJ+"[phone open]", subJR)
	})
	t.Run("presence from C reaches only its watcher U (8048 §8.2, PRS-16)", func(t *testing.T) {
		h := newHarness(t, opts{})
		nurse := cpim.Address{Local: "nurse", Domain: "example.com"}
		h.xsub(cpim.Subscribe, juliet, romeo)
		h.xsub(cpim.Subscribe, nurse, romeo)
		h.calls()
		h.notified(active("phone", "open"))
		h.expect(subscribed, presRJ+"[phone open]")
	})
	t.Run("no presence error sender → unsubscribed instead", func(t *testing.T) {
		h := newHarness(t, opts{noErrors: true})
		h.xsub(cpim.Subscribe, juliet, romeo)
		h.calls()
		h.failed(404, true)
		h.expect(unsubd)
	})
	t.Run("initial 404 for a granted authorization → kept, retried later [D]", func(t *testing.T) {
		h := newHarness(t, opts{})
		h.granted("phone", "open")
		h.notified(cpim.Notification{State: cpim.SubTerminated, Reason: cpim.ReasonTimeout})
		h.expect(subJR)
		h.failed(404, true)
		h.expect()
		h.wantAuth(store.X2S, juliet, romeo, store.AuthGranted)
		h.advance(retryMin)
		h.expect(subJR)
	})
	t.Run("back-off doubles and is capped", func(t *testing.T) {
		h := newHarness(t, opts{})
		h.granted("phone", "open")
		want := []time.Duration{retryMin, 2 * retryMin, 4 * retryMin, 8 * retryMin, 16 * retryMin, 32 * retryMin, retryMax, retryMax}
		for i, d := range want {
			h.failed(408, false)
			h.advance(d - time.Second)
			if got := h.calls(); len(got) != 0 {
				t.Fatalf("failure %d: re-subscribed before %v: %q", i+1, d, got)
			}
			h.advance(time.Second)
			if got := h.calls(); fmt.Sprint(got) != fmt.Sprint([]string{subJR}) {
				t.Fatalf("failure %d: after %v got %q", i+1, d, got)
			}
		}
		h.notified(active("phone", "open")) // success resets
		h.failed(408, false)
		h.advance(retryMin)
		h.expect(subJR)
	})
	t.Run("default jitter stays in range", func(t *testing.T) {
		c, err := New(Config{Store: store.NewMemory()})
		if err != nil {
			t.Fatal(err)
		}
		for range 1000 {
			if d := c.jitter(retryMin, 2*retryMin); d < retryMin || d >= 2*retryMin {
				t.Fatalf("jitter %v outside [60s, 120s)", d)
			}
		}
	})
}
