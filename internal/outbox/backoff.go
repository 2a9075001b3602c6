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
