package auth

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/db"
)

// keyCache remembers verified API keys, so that a call costs no database
// lookup. Revoking a key, suspending an organisation or changing a key's
// role notifies sparc_credentials (a trigger, so every writer does: this
// server, another replica, psql), and the cache drops everything. It is
// trusted only while its LISTEN connection is up: a notification missed
// while reconnecting cannot leave a revoked key in use. The Layer also
// drops it itself after a successful change through this server, so the
// next call here never sees a stale key, even before the notification
// arrives.
type keyCache struct {
	mu   sync.Mutex
	live bool   // LISTEN connected: entries may be used
	gen  uint64 // bumped by every flush, so a lookup racing one is not kept
	keys map[string]cachedKey
	ttl  time.Duration
	now  func() time.Time
}

type cachedKey struct {
	hash     []byte // SHA-256 of the secret, as stored
	p        Principal
	lastUsed time.Time // as last written to api_keys.last_used_at
	at       time.Time
}

// keyCacheTTL bounds how long an entry lives even with the listener up.
const keyCacheTTL = time.Minute

func newKeyCache() *keyCache {
	return &keyCache{keys: map[string]cachedKey{}, ttl: keyCacheTTL, now: time.Now}
}

// get returns the entry for prefix and the generation to hand to put
// after a lookup.
func (c *keyCache) get(prefix string) (cachedKey, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.keys[prefix]
	if ok && (!c.live || c.now().Sub(k.at) > c.ttl) {
		delete(c.keys, prefix)
		ok = false
	}
	return k, ok, c.gen
}

// put keeps a verified key unless the cache was flushed since gen was read
// (the lookup may predate a revocation) or is not live.
func (c *keyCache) put(prefix string, k cachedKey, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || gen != c.gen {
		return
	}
	if len(c.keys) >= maxCachedKeys {
		clear(c.keys) // crude, but only under a flood of distinct keys
	}
	k.at = c.now()
	c.keys[prefix] = k
}

// maxCachedKeys bounds memory; real deployments hold a few hundred keys.
const maxCachedKeys = 100_000

func (c *keyCache) touched(prefix string, t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.keys[prefix]; ok {
		k.lastUsed = t
		c.keys[prefix] = k
	}
}

// drop forgets every entry, staying as live as it was.
func (c *keyCache) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.keys)
	c.gen++
}

// flush drops every entry; live says whether new ones may be kept.
func (c *keyCache) flush(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.keys)
	c.gen++
	c.live = live
}

// Listen keeps the key cache in step with the database until ctx ends: it
// holds one connection in LISTEN sparc_credentials, reconnecting after
// failures, and uses no cache while it is not connected.
func (l *Layer) Listen(ctx context.Context, pool *pgxpool.Pool) {
	defer l.cache.flush(false)
	live := func() { l.cache.flush(true) }
	db.Listen(ctx, pool, "sparc_credentials", live, live, func(err error) {
		l.cache.flush(false)
		l.log.Warn("credential notifications interrupted; every call looks its key up until reconnected", "err", err)
	})
}
