package presence

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// task is a timed action of the core: a coalesced notification, a probe
// timeout, a re-subscription. Cancelling marks it dead; it stays in the
// heap until its time and is then skipped. The functions check, under
// their pair's lock, that they are still the pair's current task.
type task struct {
	at   time.Time
	seq  uint64
	fn   func(ctx context.Context)
	dead atomic.Bool
	idx  int
}

// cancel marks t dead; nil is allowed.
func (t *task) cancel() {
	if t != nil {
		t.dead.Store(true)
	}
}

// scheduler is a min-heap of tasks by time, then by insertion order.
type scheduler struct {
	mu   sync.Mutex
	h    taskHeap
	seq  uint64
	wake chan struct{}
}

// add schedules fn at at and wakes Run.
func (s *scheduler) add(at time.Time, fn func(ctx context.Context)) *task {
	s.mu.Lock()
	s.seq++
	t := &task{at: at, seq: s.seq, fn: fn}
	heap.Push(&s.h, t)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return t
}

// popDue removes and returns the live tasks due at now, in order.
func (s *scheduler) popDue(now time.Time) []*task {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*task
	for len(s.h) > 0 && !s.h[0].at.After(now) {
		t := heap.Pop(&s.h).(*task)
		if !t.dead.Load() {
			out = append(out, t)
		}
	}
	return out
}

// next returns the time of the earliest task.
func (s *scheduler) next() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.h) > 0 && s.h[0].dead.Load() {
		heap.Pop(&s.h)
	}
	if len(s.h) == 0 {
		return time.Time{}, false
	}
	return s.h[0].at, true
}

type taskHeap []*task

func (h taskHeap) Len() int { return len(h) }
func (h taskHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h taskHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *taskHeap) Push(x any) {
	t := x.(*task)
	t.idx = len(*h)
	*h = append(*h, t)
}
func (h *taskHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return t
}
