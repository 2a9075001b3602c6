package postcodes_test

import (
	"context"
	"testing"
	"time"

	"github.com/sparc-network/sparc/internal/postcodes"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The cache of places is used only while its store listens, and an import
// from elsewhere (another store: the CLI, another replica) reaches it: a
// postcode placed at its sector's centre is found exactly once a file
// adds it. Without the notification the old point would be served for
// the cache's lifetime and the Until below would time out.
func TestCachedPlacesFollowImportsFromElsewhere(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := postcodes.NewStore(env.Pool)
	code, err := postcodes.Parse("", "b11zz")
	if err != nil {
		t.Fatal(err)
	}

	// Not listening: nothing is kept.
	if p, err := store.Lookup(ctx, code); err != nil || p.Match != postcodes.MatchSector {
		t.Fatalf("B1 1ZZ before its import: %+v %v, want its sector's centre", p, err)
	}
	if n := postcodes.CachedPlaces(store); n != 0 {
		t.Fatalf("%d places cached by a store that does not listen, want 0", n)
	}

	done := make(chan struct{})
	go func() { store.Listen(ctx, nil); close(done) }()
	testenv.Until(t, 10*time.Second, "the cache to go live", func() bool { return postcodes.CacheLive(store) })
	if _, err := store.Lookup(ctx, code); err != nil {
		t.Fatal(err)
	}
	if n := postcodes.CachedPlaces(store); n != 1 {
		t.Fatalf("%d places cached after a lookup, want 1", n)
	}
	// An unknown district is not kept.
	unknown, _ := postcodes.Parse("", "ZE9 9ZZ")
	if _, err := store.Lookup(ctx, unknown); err == nil {
		t.Fatal("an unknown district was placed")
	}
	if n := postcodes.CachedPlaces(store); n != 1 {
		t.Fatalf("%d places cached after an unknown district, want 1", n)
	}

	load(t, env, "postcode,latitude,longitude,lsoa11,lad_code,country_code,positional_quality\nB1 1ZZ,52.47,-1.91,E01033625,E08000025,E92000001,10\n", "")
	testenv.Until(t, 10*time.Second, "the import to reach the cache", func() bool {
		p, err := store.Lookup(ctx, code)
		return err == nil && p.Match == postcodes.MatchPostcode && p.LSOA == "E01033625"
	})

	// The server's own store listens too (app.Run), so searches from a
	// postcode use its cache.
	testenv.Until(t, 10*time.Second, "the server's cache to go live", func() bool { return postcodes.CacheLive(env.App.Postcodes) })

	cancel()
	<-done
	if postcodes.CacheLive(store) || postcodes.CachedPlaces(store) != 0 {
		t.Fatal("the cache outlived its listener")
	}
}
