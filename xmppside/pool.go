package xmppside

import (
	"context"
	"hash/maphash"
	"sync"
)

// job is one unit of work handed from the Serve goroutine to a worker. run
// does the work; reject answers the sender when the work cannot be done
// (queue full, shutting down) so that nothing is dropped silently.
type job struct {
	run    func(ctx context.Context)
	reject func(reason rejectReason)
}

type rejectReason int

const (
	rejectQueueFull rejectReason = iota
	rejectShutdown
)

// pool is a fixed set of workers, each with a bounded queue. A job goes to
// the worker chosen by its key, so jobs with one key run in order.
type pool struct {
	seed   maphash.Seed
	queues []chan job

	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
}

func newPool(workers, depth int) *pool {
	p := &pool{seed: maphash.MakeSeed(), queues: make([]chan job, workers)}
	for i := range p.queues {
		p.queues[i] = make(chan job, depth)
	}
	return p
}

// start runs the workers until stop; ctx is handed to every job.
func (p *pool) start(ctx context.Context) {
	for _, q := range p.queues {
		p.wg.Add(1)
		go func(q chan job) {
			defer p.wg.Done()
			for j := range q {
				j.run(ctx)
			}
		}(q)
	}
}

// submit queues j under key. It never blocks: when the queue is full or the
// pool is stopping, j is rejected instead.
func (p *pool) submit(key string, j job) {
	if ok, r := p.offer(p.shard(key), j); !ok {
		j.reject(r)
	}
}

// shard returns the index of the worker that runs the jobs of key.
func (p *pool) shard(key string) int {
	return int(maphash.String(p.seed, key) % uint64(len(p.queues)))
}

// offer queues j on worker shard if there is room, without blocking; when
// it does not, it says why and leaves j to the caller.
func (p *pool) offer(shard int, j job) (bool, rejectReason) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return false, rejectShutdown
	}
	select {
	case p.queues[shard] <- j:
		return true, 0
	default:
		return false, rejectQueueFull
	}
}

// stop refuses new jobs and waits until the workers have run every queued
// job. Callers bound the wait through the context handed to start.
func (p *pool) stop() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		for _, q := range p.queues {
			close(q)
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}
