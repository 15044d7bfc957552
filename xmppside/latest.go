package xmppside

import (
	"context"
	"sync"
	"time"
)

// latest holds, per sending resource and recipient, the newest available
// or unavailable presence that found its worker's queue full, and hands it
// to the pool as soon as that worker has room. Presence is state (RFC 6121
// §4.4): a newer presence of the same resource replaces an older one
// waiting here, so under overload the gateway sheds the intermediate
// states of a burst, never the last one, and a watcher is not left showing
// a state the user has left. Subscription stanzas never come here: a full
// queue answers them with an error.
//
// A presence of a resource that has one waiting here waits behind it (it
// replaces it), so presence of one resource is never reordered.
type latest struct {
	pool *pool
	max  int // held presences beyond which the newest is dropped (and logged)

	mu   sync.Mutex
	held map[string]heldJob // slot (full sender, bare recipient) → newest job
	wake chan struct{}      // capacity 1: something was held
}

type heldJob struct {
	shard int
	j     job
}

func newLatest(p *pool, max int) *latest {
	return &latest{pool: p, max: max, held: make(map[string]heldJob), wake: make(chan struct{}, 1)}
}

// submit queues j, the presence of slot, on the worker of key, or holds it
// when that worker's queue is full. It never blocks. j.reject is called
// when the pool is stopping, or when the queue is full and max presences
// are held already.
func (l *latest) submit(key, slot string, j job) {
	shard := l.pool.shard(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.held[slot]; ok {
		l.held[slot] = heldJob{shard, j} // the older one is superseded
		return
	}
	ok, reason := l.pool.offer(shard, j)
	if ok {
		return
	}
	if reason != rejectQueueFull || len(l.held) >= l.max {
		j.reject(reason)
		return
	}
	l.held[slot] = heldJob{shard, j}
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run hands held presences to the pool until ctx ends; then it rejects
// what is still held (as rejectShutdown).
func (l *latest) run(ctx context.Context) {
	defer l.rejectAll()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		}
		for l.flush() > 0 {
			t := time.NewTimer(2 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// flush offers every held presence to its worker and returns how many are
// still held. A worker found full is not offered more in this pass.
func (l *latest) flush() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	full := make(map[int]bool)
	for slot, h := range l.held {
		if full[h.shard] {
			continue
		}
		ok, reason := l.pool.offer(h.shard, h.j)
		switch {
		case ok:
			delete(l.held, slot)
		case reason == rejectShutdown:
			delete(l.held, slot)
			h.j.reject(reason)
		default:
			full[h.shard] = true
		}
	}
	return len(l.held)
}

// rejectAll rejects every held presence as the gateway shuts down.
func (l *latest) rejectAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for slot, h := range l.held {
		delete(l.held, slot)
		h.j.reject(rejectShutdown)
	}
}
