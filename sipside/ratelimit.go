package sipside

import (
	"math"
	"sync"
	"time"
)

// rateLimiter is a token bucket per source address: each source earns
// rate tokens per second up to burst (one second's worth, at least one),
// and each request spends one (Config.SubscribeRate).
type rateLimiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens  float64
	last    time.Time
	limited bool // the last request was refused (log once per burst)
}

// maxBuckets bounds the sources remembered; beyond it, full buckets (which
// behave like new ones) are dropped.
const maxBuckets = 4096

func newRateLimiter(rate float64, now func() time.Time) *rateLimiter {
	return &rateLimiter{rate: rate, burst: max(1, rate), now: now, buckets: map[string]*bucket{}}
}

// allow spends a token of src. When none is left it returns false, the
// seconds until one is (for Retry-After, at least 1), and whether this is
// the first refusal of the burst (to log it once).
func (r *rateLimiter) allow(src string) (ok bool, retryAfter int, first bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	b := r.buckets[src]
	if b == nil {
		if len(r.buckets) >= maxBuckets {
			r.sweep(now)
		}
		b = &bucket{tokens: r.burst, last: now}
		r.buckets[src] = b
	}
	b.tokens = math.Min(r.burst, b.tokens+now.Sub(b.last).Seconds()*r.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		b.limited = false
		return true, 0, false
	}
	first = !b.limited
	b.limited = true
	return false, max(1, int(math.Ceil((1-b.tokens)/r.rate))), first
}

// sweep drops the buckets that are full again (lock held).
func (r *rateLimiter) sweep(now time.Time) {
	for k, b := range r.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*r.rate >= r.burst {
			delete(r.buckets, k)
		}
	}
}
