package auth

import (
	"testing"
	"time"
)

func TestKeyCacheKeepsOnlyWhatItMayTrust(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	entry := cachedKey{hash: []byte("h"), p: Principal{Name: "key:abcdefgh", Org: "o", Role: RoleLinkWorker}}
	cases := []struct {
		name string
		run  func(c *keyCache) // ends with the cache as the case leaves it
		want bool              // is "abcdefgh" served from the cache?
	}{
		{"kept while the listener is connected", func(c *keyCache) {
			c.flush(true)
			_, _, gen := c.get("abcdefgh")
			c.put("abcdefgh", entry, gen)
		}, true},
		{"not kept before the listener connects", func(c *keyCache) {
			_, _, gen := c.get("abcdefgh")
			c.put("abcdefgh", entry, gen)
		}, false},
		{"dropped when the listener disconnects", func(c *keyCache) {
			c.flush(true)
			_, _, gen := c.get("abcdefgh")
			c.put("abcdefgh", entry, gen)
			c.flush(false)
		}, false},
		{"not kept when a flush ran during the lookup", func(c *keyCache) {
			c.flush(true)
			_, _, gen := c.get("abcdefgh")
			c.flush(true) // a revocation arrived while the key was being read
			c.put("abcdefgh", entry, gen)
		}, false},
		{"expired after the TTL even with the listener up", func(c *keyCache) {
			c.flush(true)
			_, _, gen := c.get("abcdefgh")
			c.put("abcdefgh", entry, gen)
			now = now.Add(keyCacheTTL + time.Second)
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newKeyCache()
			c.now = func() time.Time { return now }
			tc.run(c)
			if _, ok, _ := c.get("abcdefgh"); ok != tc.want {
				t.Errorf("served from cache: %v, want %v", ok, tc.want)
			}
		})
	}
}
