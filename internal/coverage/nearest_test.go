package coverage

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sparc-network/sparc/internal/geo"
)

// The grid must give exactly the brute-force nearest point, for dense and
// sparse sets and for queries inside, beside and far from the points.
func TestPointIndexFindsTheBruteForceNearest(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		points int
		box    [4]float64 // minLat, minLng, maxLat, maxLng
	}{
		{"dense city", 5000, [4]float64{52.38, -2.03, 52.60, -1.72}},
		{"sparse region", 40, [4]float64{51.3, -3.4, 53.5, -1.7}},
		{"one point", 1, [4]float64{52.4, -1.9, 52.4, -1.9}},
		{"clustered", 300, [4]float64{53.35, -3.1, 53.36, -3.09}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(tc.points), 2))
			var lat, lng, cos []float64
			var idx []int32
			for i := 0; i < tc.points; i++ {
				la := tc.box[0] + rng.Float64()*(tc.box[2]-tc.box[0])
				lo := tc.box[1] + rng.Float64()*(tc.box[3]-tc.box[1])
				lat, lng, cos = append(lat, la), append(lng, lo), append(cos, math.Cos(la*(math.Pi/180)))
				if i%3 != 1 || tc.points < 3 { // index a subset, as a category does
					idx = append(idx, int32(i))
				}
			}
			p := newPointIndex(lat, lng, cos, idx)
			for q := 0; q < 2000; q++ {
				// Queries over a box twice as large as the points'.
				qla := tc.box[0] - 0.5 + rng.Float64()*(tc.box[2]-tc.box[0]+1)
				qlo := tc.box[1] - 0.5 + rng.Float64()*(tc.box[3]-tc.box[1]+1)
				want := math.Inf(1)
				for _, i := range idx {
					want = math.Min(want, geo.SphereDistance(qla, qlo, lat[i], lng[i]))
				}
				got, ok := p.nearest(qla, qlo)
				if !ok || got != want {
					t.Fatalf("nearest to (%v, %v) = %v (%t), brute force %v", qla, qlo, got, ok, want)
				}
			}
		})
	}
	if _, ok := newPointIndex(nil, nil, nil, nil).nearest(52, -1); ok {
		t.Error("an empty index found a point")
	}
}
