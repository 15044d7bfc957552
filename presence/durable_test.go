package presence

import (
	"errors"
	"sync/atomic"
	"testing"

	"cpimgw/cpim"
	"cpimgw/store"
)

// failingStore fails authorization writes while fail is set.
type failingStore struct {
	*store.Memory
	fail atomic.Bool
}

var errDiskFull = errors.New("disk full")

func (f *failingStore) PutAuth(a store.Auth) error {
	if f.fail.Load() {
		return errDiskFull
	}
	return f.Memory.PutAuth(a)
}

func (f *failingStore) DeleteAuth(d store.Direction, w, t string) error {
	if f.fail.Load() {
		return errDiskFull
	}
	return f.Memory.DeleteAuth(d, w, t)
}

// TestDurableBeforeActing: an authorization is stored before anybody is
// told about it (issue4.md: a SIGKILL loses none); when the store refuses,
// nothing is sent and the handler reports internal-server-error.
func TestDurableBeforeActing(t *testing.T) {
	fs := &failingStore{}
	h := newHarness(t, opts{wrap: func(m *store.Memory) store.Store { fs.Memory = m; return fs }})
	wantFail := func(err error) {
		t.Helper()
		if !errors.Is(err, errDiskFull) || cpim.ConditionOf(err) != cpim.InternalServerError {
			t.Errorf("handler error %v, want internal-server-error wrapping the store's", err)
		}
	}

	h.xsub(cpim.Subscribe, juliet, romeo)
	h.calls()
	fs.fail.Store(true)
	wantFail(h.sipEv.Notified(h.ctx, juliet, romeo, active("phone", "open")))
	h.expect() // no subscribed, no presence
	h.wantAuth(store.X2S, juliet, romeo, store.AuthPending)

	_, err := h.sipEv.SubscribeRequest(h.ctx, cpim.Subscription{Op: cpim.Subscribe, Watcher: romeo, Target: juliet})
	wantFail(err)
	h.expect() // no subscribe to juliet

	fs.fail.Store(false)
	h.subscribeReq(cpim.Subscribe, false)
	h.calls()
	fs.fail.Store(true)
	wantFail(h.xEv.Subscription(h.ctx, cpim.Subscription{Op: cpim.Subscribed, Watcher: romeo, Target: juliet}))
	h.expect() // no NOTIFY active
	h.wantAuth(store.S2X, romeo, juliet, store.AuthPending)
	wantFail(h.xEv.Subscription(h.ctx, cpim.Subscription{Op: cpim.Unsubscribe, Watcher: juliet, Target: romeo}))
	h.expect() // no unSUBSCRIBE, no unsubscribed
}
