package assets_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/testenv"
)

// BenchmarkIndexSearch compares the twenty nearest within 2 km among
// 100,000 assets (with sessions, as the benchmark's) answered by the
// index (BASIC: from memory alone; FULL: the page's rows read by id) and
// by PostGIS, and reports the index's load time and memory per asset
// (heap after a GC, before and after the load). Run it alone:
//
//	go test -run '^$' -bench BenchmarkIndexSearch -benchtime 3s ./internal/assets/
func BenchmarkIndexSearch(b *testing.B) {
	n := 100000
	pool := testenv.NewPool(b)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	batch := make([]*sparcv1.Asset, 0, n)
	for i := range n {
		a := &sparcv1.Asset{Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: fmt.Sprintf("Group %d", i),
			Status: sparcv1.AssetStatus_ASSET_STATUS_ACTIVE, Categories: subset(rng, vocabCategories, 3),
			Location: &sparcv1.Location{Latitude: 52.4 + rng.Float64()*0.2, Longitude: -2 + rng.Float64()*0.3, Locality: "Birmingham", Country: "GB"}}
		for range rng.IntN(4) {
			h := 8 + rng.IntN(12)
			a.Sessions = append(a.Sessions, &sparcv1.Session{Day: sparcv1.Weekday(1 + rng.IntN(7)), StartTime: fmt.Sprintf("%02d:%02d", h, 30*rng.IntN(2)),
				EndTime: fmt.Sprintf("%02d:00", h+1+rng.IntN(3)), Timezone: "Europe/London"})
		}
		batch = append(batch, a)
	}
	store := assets.NewStore(pool)
	if _, err := store.BulkInsert(ctx, batch); err != nil {
		b.Fatal(err)
	}
	batch = nil
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE assets"); err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix := assets.NewIndex(store, assets.IndexConfig{})
	start := time.Now()
	if err := ix.Step(ctx); err != nil {
		b.Fatal(err)
	}
	load := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	perAsset := float64(after.HeapAlloc-before.HeapAlloc) / float64(ix.Len())
	b.Logf("index of %d assets: loaded in %v, %.0f bytes per asset (heap), so about %.2f s and %.0f MB per million",
		ix.Len(), load, perAsset, load.Seconds()*1e6/float64(ix.Len()), perAsset)
	indexed := store.WithIndex(ix)
	qs := make([]assets.SearchQuery, 4096)
	for i := range qs {
		qs[i] = assets.SearchQuery{Near: &assets.Near{Lat: 52.42 + rng.Float64()*0.16, Lng: -1.97 + rng.Float64()*0.24, RadiusMeters: 2000},
			Statuses: []string{"active"}, Limit: 20, Remote: assets.RemoteExclude}
	}
	for _, c := range []struct {
		name  string
		s     *assets.Store
		basic bool
	}{{"index-basic", indexed, true}, {"index-full", indexed, false}, {"postgis-full", store, false}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := selfCPU()
			for i := 0; b.Loop(); i++ {
				q := qs[i%len(qs)]
				q.Basic = c.basic
				hits, err := c.s.Search(ctx, q)
				if err != nil || len(hits) != 21 {
					b.Fatalf("%d hits, %v", len(hits), err)
				}
			}
			// This process's CPU per search: the index path's whole cost
			// (BASIC), or its Go side (the others), whatever the load.
			b.ReportMetric(float64((selfCPU()-cpu).Microseconds())/float64(b.N), "go-µs/op")
			b.ReportMetric(load.Seconds(), "load-s")
			b.ReportMetric(perAsset, "B/asset")
		})
	}
	if st := ix.Stats(); st.Fallbacks != 0 {
		b.Fatalf("stats %+v: the index path went to PostGIS", st)
	}
}
