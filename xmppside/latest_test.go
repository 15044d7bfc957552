package xmppside

import (
	"context"
	"sync"
	"testing"
)

// rejects records the reject calls of jobs.
type rejects struct {
	mu  sync.Mutex
	got map[string]rejectReason
}

func (r *rejects) job(name string, ran chan<- string) job {
	return job{
		run: func(context.Context) { ran <- name },
		reject: func(reason rejectReason) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.got[name] = reason
		},
	}
}

// TestLatestLimitAndShutdown: beyond max held presences the newest is
// rejected as queue-full (and its sender logs it); when the gateway stops,
// what is held is rejected as shutdown, never left without an answer.
func TestLatestLimitAndShutdown(t *testing.T) {
	p := newPool(1, 1)
	l := newLatest(p, 2)
	r := &rejects{got: map[string]rejectReason{}}
	ran := make(chan string, 8)
	// No worker runs: the queue takes one job, then presences are held.
	l.submit("k", "a", r.job("a1", ran))
	l.submit("k", "b", r.job("b1", ran))
	l.submit("k", "c", r.job("c1", ran))
	l.submit("k", "b", r.job("b2", ran)) // replaces b1 (superseded, not rejected)
	l.submit("k", "d", r.job("d1", ran)) // two held already: rejected
	if len(r.got) != 1 || r.got["d1"] != rejectQueueFull {
		t.Errorf("rejected %v, want d1 as queue full", r.got)
	}
	if l.flush() != 2 {
		t.Errorf("held %d, want 2 (the queue is still full)", len(l.held))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.run(ctx) // returns at once and rejects what it holds
	if len(r.got) != 3 || r.got["b2"] != rejectShutdown || r.got["c1"] != rejectShutdown {
		t.Errorf("rejected %v, want b2 and c1 as shutdown too", r.got)
	}
	if _, ok := r.got["b1"]; ok {
		t.Error("a superseded presence was rejected")
	}
	p.stop()
	if ok, reason := p.offer(0, r.job("x", ran)); ok || reason != rejectShutdown {
		t.Errorf("offer to a stopped pool: %v %v", ok, reason)
	}
	l.submit("k", "e", r.job("e1", ran))
	if r.got["e1"] != rejectShutdown {
		t.Errorf("submit to a stopped pool: %v", r.got)
	}
}
