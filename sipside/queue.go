package sipside

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"cpimgw/cpim"
)

// destQueues serialises the MESSAGE requests to each destination URI: RFC
// 3428 §8 forbids a UAC to send a new out-of-dialog MESSAGE to a URI while
// an earlier one to it is still pending (MSG-09). Each destination has a
// FIFO of waiting senders, bounded by limit; the entry exists only while a
// request to it is outstanding, so idle destinations cost nothing.
type destQueues struct {
	mu    sync.Mutex
	m     map[string]*destQueue
	limit int // waiting senders per destination, besides the active one
}

// destQueue is the state of one destination: a request is outstanding (the
// entry exists), and waiters are the senders after it, in arrival order.
// Each waiter's channel is closed when the turn passes to it.
type destQueue struct {
	waiters []chan struct{}
}

func newDestQueues(limit int) *destQueues {
	return &destQueues{m: map[string]*destQueue{}, limit: limit}
}

// errQueueFull is returned by acquire when limit senders already wait.
type errQueueFull struct{}

func (errQueueFull) Error() string { return "sipside: too many messages queued for one destination" }

// acquire waits until the caller may send to dest, in FIFO order, and
// returns the function that ends its turn; the caller must call it once the
// final response arrived (or the transaction failed). It fails with
// ctx.Err() when ctx ends first, leaving the queue as if the caller had
// never come, and with errQueueFull when the destination's queue is full.
func (q *destQueues) acquire(ctx context.Context, dest string) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var once sync.Once
	release = func() { once.Do(func() { q.release(dest) }) }
	q.mu.Lock()
	d, busy := q.m[dest]
	if !busy {
		q.m[dest] = &destQueue{}
		q.mu.Unlock()
		return release, nil
	}
	if len(d.waiters) >= q.limit {
		q.mu.Unlock()
		return nil, errQueueFull{}
	}
	turn := make(chan struct{})
	d.waiters = append(d.waiters, turn)
	q.mu.Unlock()

	select {
	case <-turn:
		return release, nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	select {
	case <-turn:
		// The turn came while ctx ended: pass it on as if it were used.
		q.releaseLocked(dest)
	default:
		for i, w := range d.waiters {
			if w == turn {
				d.waiters = append(d.waiters[:i], d.waiters[i+1:]...)
				break
			}
		}
	}
	return nil, ctx.Err()
}

// release ends the current turn at dest.
func (q *destQueues) release(dest string) {
	q.mu.Lock()
	q.releaseLocked(dest)
	q.mu.Unlock()
}

func (q *destQueues) releaseLocked(dest string) {
	d, ok := q.m[dest]
	if !ok {
		return
	}
	if len(d.waiters) == 0 {
		delete(q.m, dest)
		return
	}
	next := d.waiters[0]
	d.waiters[0] = nil
	d.waiters = d.waiters[1:]
	close(next)
}

// len returns the number of destinations with an outstanding request.
func (q *destQueues) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.m)
}

// transaction waits for dest's turn on q, then returns the context of the
// request's transaction, bounded by TransactionTimeout and ended when the
// endpoint stops, and done, which ends it and passes the turn on. A full
// queue is resource-constraint with Retry-After 1 s, logged on log; ctx
// ending while the caller waits is remote-server-timeout.
func (e *Endpoint) transaction(ctx context.Context, log *slog.Logger, q *destQueues, dest string) (_ context.Context, done func(), _ error) {
	release, err := q.acquire(ctx, dest)
	if err != nil {
		if errors.As(err, new(errQueueFull)) {
			log.Warn("destination queue full")
			return nil, nil, &cpim.Error{Condition: cpim.ResourceConstraint, RetryAfter: time.Second, Cause: err}
		}
		return nil, nil, timeoutError(err)
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.TransactionTimeout)
	stop := context.AfterFunc(e.life, cancel)
	return ctx, func() {
		stop()
		cancel()
		release()
	}, nil
}
