package auth

import (
	"sync"
	"time"
)

// Limit is a token bucket's shape: Rate tokens per second up to Burst.
type Limit struct {
	Rate  float64
	Burst int
}

func (l Limit) off() bool { return l.Rate == 0 && l.Burst == 0 }

func (l Limit) valid() bool { return l.off() || (l.Rate > 0 && l.Burst > 0) }

// limiter is a token bucket per key: rate tokens per second up to burst.
// Buckets idle long enough to be full again are dropped, so memory stays
// bounded by the keys active in the last burst/rate seconds. A nil limiter
// limits nothing.
type limiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	now     func() time.Time
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	return &limiter{rate: rate, burst: float64(burst), now: now, buckets: map[string]*bucket{}, sweep: now()}
}

// limiterFor returns the limiter of l, nil when l is off.
func limiterFor(l Limit, now func() time.Time) *limiter {
	if l.off() {
		return nil
	}
	return newLimiter(l.Rate, l.Burst, now)
}

// take spends one token for key. When none is left it returns how long to
// wait for the next one.
func (l *limiter) take(key string) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(key)
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return l.waitFor(b), false
}

// wait returns how long key must wait for a token (zero when it has one),
// spending nothing.
func (l *limiter) wait(key string) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(key)
	if b.tokens >= 1 {
		return 0
	}
	return l.waitFor(b)
}

func (l *limiter) waitFor(b *bucket) time.Duration {
	return max(time.Millisecond, time.Duration((1-b.tokens)/l.rate*float64(time.Second)))
}

// refill returns key's bucket topped up to now; l.mu is held.
func (l *limiter) refill(key string) *bucket {
	now := l.now()
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	if now.Sub(l.sweep) > full {
		for k, b := range l.buckets {
			if now.Sub(b.last) > full {
				delete(l.buckets, k)
			}
		}
		l.sweep = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	return b
}

// streamCounter counts the server streams each principal holds open.
type streamCounter struct {
	mu   sync.Mutex
	max  int // <= 0: no cap
	open map[string]int
}

// DefaultMaxStreams is the per-key cap on open server streams (watches)
// when the configuration sets none: enough for a few dashboards and
// integrations of one organisation, far below what exhausts a server.
const DefaultMaxStreams = 8

func newStreamCounter(max int) *streamCounter {
	return &streamCounter{max: max, open: map[string]int{}}
}

// acquire takes one of key's stream slots; false when all are in use.
func (c *streamCounter) acquire(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max > 0 && c.open[key] >= c.max {
		return false
	}
	c.open[key]++
	return true
}

func (c *streamCounter) release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[key]--; c.open[key] <= 0 {
		delete(c.open, key)
	}
}
