package postcodes

import (
	"container/list"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sparc-network/sparc/internal/db"
)

// A search from a postcode is the point search plus the postcode's
// lookup, one more round trip (issue 14's benchmark: at most 10% slower
// than the point search). Postcodes change only when a file is imported,
// so the store remembers the places it looked up, in a bounded LRU
// (placeCache), kept in step with imports as the API key cache is
// (internal/auth/keycache.go):
//   - Import notifies notifyChannel in its transaction, so every server
//     (this one, another replica, the CLI's import from another process)
//     learns of it when it commits, and drops everything;
//   - the cache is used only while its LISTEN connection is up (Listen):
//     a notification missed while reconnecting cannot leave an old point
//     in use; a store whose Listen is not running looks every postcode up;
//   - an entry lives at most placeCacheTTL even so.
//
// Only places are kept: an unknown district (an error) is looked up each
// time, so a file adding it is seen at once and junk postcodes, which
// fail before any lookup or here, cannot crowd the cache.
const (
	notifyChannel   = "sparc_postcodes"
	placeCacheSize  = 20_000 // ~2 MB: every postcode of a few large towns
	placeCacheTTL   = 10 * time.Minute
	notifyPostcodes = `SELECT pg_notify('` + notifyChannel + `', '')`
)

// placeCache is a bounded LRU of looked-up places by country and key.
type placeCache struct {
	mu    sync.Mutex
	live  bool   // LISTEN connected: entries may be used
	gen   uint64 // bumped by every flush, so a lookup racing one is not kept
	size  int
	ttl   time.Duration
	now   func() time.Time
	order *list.List // of *cachedPlace, most recently used first
	byKey map[string]*list.Element
}

type cachedPlace struct {
	key string
	p   Place
	at  time.Time
}

func newPlaceCache(size int, ttl time.Duration) *placeCache {
	return &placeCache{size: size, ttl: ttl, now: time.Now, order: list.New(), byKey: map[string]*list.Element{}}
}

func cacheKey(c Code) string { return c.Country + " " + c.Key }

// get returns the place of c when cached, and the generation to hand to
// put after a lookup.
func (c *placeCache) get(code Code) (Place, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[cacheKey(code)]
	if !ok {
		return Place{}, false, c.gen
	}
	cp := e.Value.(*cachedPlace)
	if !c.live || c.now().Sub(cp.at) > c.ttl {
		c.order.Remove(e)
		delete(c.byKey, cp.key)
		return Place{}, false, c.gen
	}
	c.order.MoveToFront(e)
	return cp.p, true, c.gen
}

// put keeps p unless the cache was flushed since gen was read (the lookup
// may have read the table before an import committed) or is not live.
func (c *placeCache) put(p Place, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || gen != c.gen {
		return
	}
	key := cacheKey(p.Code)
	if e, ok := c.byKey[key]; ok {
		e.Value = &cachedPlace{key: key, p: p, at: c.now()}
		c.order.MoveToFront(e)
		return
	}
	c.byKey[key] = c.order.PushFront(&cachedPlace{key: key, p: p, at: c.now()})
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*cachedPlace).key)
	}
}

// flush drops every entry and sets whether entries may be kept and used.
func (c *placeCache) flush(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked()
	c.live = live
}

// drop drops every entry (an import through this store committed; its
// notification follows).
func (c *placeCache) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked()
}

func (c *placeCache) dropLocked() {
	c.order.Init()
	clear(c.byKey)
	c.gen++
}

// Listen keeps the store's cache of places in step with imports until
// ctx ends: it holds one connection of pool in LISTEN sparc_postcodes,
// reconnecting after failures, and uses no cache while not connected.
func (s *Store) Listen(ctx context.Context, log *slog.Logger) {
	defer s.cache.flush(false)
	live := func() { s.cache.flush(true) }
	db.Listen(ctx, s.pool, notifyChannel, live, live, func(err error) {
		s.cache.flush(false)
		if log != nil {
			log.Warn("postcode import notifications interrupted; every postcode is looked up until reconnected", "err", err)
		}
	})
}
