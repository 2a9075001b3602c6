package nearby_test

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/sparc-network/sparc/internal/assets/nearby"
)

type pt struct {
	id       uuid.UUID
	lat, lng float64
	tag      int
}

// brute is the answer by definition: every point measured, filtered,
// sorted by (distance, id).
func brute(pts map[uuid.UUID]pt, lat, lng, radius float64, k int, after *nearby.After, tag int) []nearby.Hit[int] {
	var out []nearby.Hit[int]
	for _, p := range pts {
		d := nearby.Distance(p.lat, p.lng, lat, lng)
		if d > radius || (tag >= 0 && p.tag != tag) {
			continue
		}
		if after != nil && (d < after.Distance || (d == after.Distance && bytes.Compare(p.id[:], after.ID[:]) <= 0)) {
			continue
		}
		out = append(out, nearby.Hit[int]{ID: p.id, Distance: d, Value: p.tag})
	}
	slices.SortFunc(out, func(a, b nearby.Hit[int]) int {
		return cmp.Or(cmp.Compare(a.Distance, b.Distance), bytes.Compare(a.ID[:], b.ID[:]))
	})
	if len(out) > k {
		out = out[:k]
	}
	return out
}

// Random points (some stacked on one spot, so ties occur), random moves
// and deletions, and random queries with filters and pages: the index
// answers exactly what measuring every point answers.
func TestNearestEqualsBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 5))
	ix := nearby.New[int]()
	pts := map[uuid.UUID]pt{}
	randomPoint := func() (float64, float64) {
		if r.IntN(10) == 0 {
			return 52.48, -1.89 // a stack of points at one place
		}
		return 52.3 + r.Float64()*0.4, -2.1 + r.Float64()*0.5
	}
	for i := 0; i < 3000; i++ {
		id := uuid.New()
		lat, lng := randomPoint()
		p := pt{id, lat, lng, r.IntN(4)}
		pts[id] = p
		ix.Set(id, lat, lng, p.tag)
	}
	var ids []uuid.UUID
	for id := range pts {
		ids = append(ids, id)
	}
	for q := 0; q < 300; q++ {
		// Writes between queries: a move, a deletion.
		id := ids[r.IntN(len(ids))]
		if p, ok := pts[id]; ok {
			if r.IntN(2) == 0 {
				p.lat, p.lng = randomPoint()
				pts[id] = p
				ix.Set(id, p.lat, p.lng, p.tag)
			} else {
				delete(pts, id)
				ix.Delete(id)
			}
		}
		snap := ix.Snapshot()
		lat, lng := randomPoint()
		radius := []float64{50, 500, 2000, 20000, 100000}[r.IntN(5)]
		k := 1 + r.IntN(30)
		tag := r.IntN(5) - 1
		accept := func(v int) bool { return tag < 0 || v == tag }
		var after *nearby.After
		for page := 0; page < 4; page++ {
			got := snap.Nearest(lat, lng, radius, k, after, accept)
			want := brute(pts, lat, lng, radius, k, after, tag)
			if len(got) != len(want) {
				t.Fatalf("query %d page %d: %d hits, brute force %d", q, page, len(got), len(want))
			}
			for i := range got {
				if got[i].ID != want[i].ID || got[i].Distance != want[i].Distance {
					t.Fatalf("query %d page %d position %d: %v at %v, brute force %v at %v", q, page, i, got[i].ID, got[i].Distance, want[i].ID, want[i].Distance)
				}
			}
			if len(got) < k {
				break
			}
			after = &nearby.After{Distance: got[len(got)-1].Distance, ID: got[len(got)-1].ID}
		}
	}
}

// A snapshot does not change when the index goes on changing, and
// readers may search it while the writer writes (run with -race).
func TestSnapshotIsIsolatedFromLaterWrites(t *testing.T) {
	ix := nearby.New[int]()
	a, b := uuid.New(), uuid.New()
	ix.Set(a, 52.48, -1.89, 1)
	snap := ix.Snapshot()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 2000; i++ {
			if got := snap.Nearest(52.48, -1.89, 1000, 5, nil, nil); len(got) != 1 || got[0].ID != a {
				t.Errorf("the snapshot changed: %v", got)
				return
			}
		}
	}()
	for i := 0; i < 2000; i++ {
		ix.Set(uuid.New(), 52.48+float64(i)*1e-6, -1.89, 2)
	}
	ix.Set(b, 52.48, -1.89, 3)
	ix.Delete(a)
	wg.Wait()
	// At the spot: b and the first of the loop's points, not a.
	got := ix.Snapshot().Nearest(52.48, -1.89, 0.05, 5, nil, nil)
	if len(got) != 2 || (got[0].ID != b && got[1].ID != b) || got[0].ID == a || got[1].ID == a {
		t.Fatalf("a new snapshot misses the writes: %v", got)
	}
}

// BenchmarkNearest: the 21 nearest within 2 km among 100,000 points over
// 450 km² (a city's directory ten times over), no filter.
func BenchmarkNearest(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	ix := nearby.New[int]()
	for i := range 100000 {
		ix.Set(uuid.New(), 52.4+r.Float64()*0.2, -2+r.Float64()*0.3, i)
	}
	snap := ix.Snapshot()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if got := snap.Nearest(52.42+r.Float64()*0.16, -1.97+r.Float64()*0.24, 2000, 21, nil, nil); len(got) != 21 {
			b.Fatal(len(got))
		}
	}
}

// BenchmarkNearestDense: as BenchmarkNearest over a hundredth of the area
// (a city centre: the twenty nearest within about 20 m).
func BenchmarkNearestDense(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	ix := nearby.New[int]()
	for i := range 100000 {
		ix.Set(uuid.New(), 52.47+r.Float64()*0.02, -1.9+r.Float64()*0.03, i)
	}
	snap := ix.Snapshot()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if got := snap.Nearest(52.472+r.Float64()*0.016, -1.897+r.Float64()*0.024, 2000, 21, nil, nil); len(got) != 21 {
			b.Fatal(len(got))
		}
	}
}
