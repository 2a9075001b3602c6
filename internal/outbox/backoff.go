package outbox

import (
	"math/rand/v2"
	"time"
)

// Backoff is how long a delivery from the outbox (webhooks, email) waits
// after its n-th consecutive failure (n ≥ 1): exponential from base,
// capped at max, with "equal jitter" (half fixed, half random) so that
// deliveries failing together do not retry together.
func Backoff(n int, base, max time.Duration) time.Duration {
	d := max
	if n <= 30 {
		d = min(base<<(n-1), max)
	}
	return d/2 + rand.N(d/2+1)
}

// Defaults fills a delivery worker's zero settings: 1 s after a first
// failure, doubling up to 10 min (never below base), a poll every 5 s,
// and the kind's own timeout and concurrency.
func Defaults(base, cap, poll, timeout *time.Duration, concurrency *int, defTimeout time.Duration, defConcurrency int) {
	if *base <= 0 {
		*base = time.Second
	}
	if *cap <= 0 {
		*cap = 10 * time.Minute
	}
	*cap = max(*cap, *base)
	if *poll <= 0 {
		*poll = 5 * time.Second
	}
	if *timeout <= 0 {
		*timeout = defTimeout
	}
	if *concurrency <= 0 {
		*concurrency = defConcurrency
	}
}
