package coverage_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/geojson"
	"github.com/twpayne/go-geom/xy"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/geo"
)

// oracleAsset is an asset as the brute-force oracle sees it.
type oracleAsset struct {
	lat, lng   float64
	categories []string
	sessions   int
	capacity   int
	country    string
}

func loadOracleAssets(t *testing.T, env *demoEnv) []oracleAsset {
	t.Helper()
	rows, err := env.Pool.Query(context.Background(), `SELECT ST_Y(location::geometry), ST_X(location::geometry), categories,
		jsonb_array_length(sessions), coalesce(capacity, 0), country FROM assets WHERE status = 'active'
		AND location IS NOT NULL`) // remote services (the demo has some) are never walked to
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []oracleAsset
	for rows.Next() {
		var a oracleAsset
		if err := rows.Scan(&a.lat, &a.lng, &a.categories, &a.sessions, &a.capacity, &a.country); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// inPolygon is go-geom's point-in-ring test: inside an exterior ring and
// outside that polygon's holes.
func inPolygon(mp *geom.MultiPolygon, lng, lat float64) bool {
	p := geom.Coord{lng, lat}
	for i := 0; i < mp.NumPolygons(); i++ {
		poly := mp.Polygon(i)
		if !xy.IsPointInRing(geom.XY, p, poly.LinearRing(0).FlatCoords()) {
			continue
		}
		inHole := false
		for r := 1; r < poly.NumLinearRings(); r++ {
			if xy.IsPointInRing(geom.XY, p, poly.LinearRing(r).FlatCoords()) {
				inHole = true
			}
		}
		if !inHole {
			return true
		}
	}
	return false
}

// boundaryDistance is the distance in metres from a point to the nearest
// edge of mp, on a local equirectangular plane around the point (the
// sphere PostGIS uses, flattened over a few km: well under a metre of
// error at walking distances).
func boundaryDistance(mp *geom.MultiPolygon, lng, lat float64) float64 {
	const rad = math.Pi / 180
	kx := geo.EarthRadius * rad * math.Cos(lat*rad)
	ky := geo.EarthRadius * rad
	best := math.Inf(1)
	flat := mp.FlatCoords()
	for _, ends := range mp.Endss() {
		start := 0
		for _, end := range ends {
			for i := start; i+3 < end; i += 2 {
				ax, ay := (flat[i]-lng)*kx, (flat[i+1]-lat)*ky
				bx, by := (flat[i+2]-lng)*kx, (flat[i+3]-lat)*ky
				best = math.Min(best, segmentDistance(ax, ay, bx, by))
			}
			start = end
		}
	}
	return best
}

// segmentDistance is the distance from the origin to segment ab.
func segmentDistance(ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l))
	}
	return math.Hypot(ax+t*dx, ay+t*dy)
}

func TestCoverageMatchesABruteForceOracleOnRealAreas(t *testing.T) {
	t.Parallel()
	env := newDemoEnv(t)
	ctx := context.Background()
	cats := []string{"food", "physical_activity", "social_connection"}
	resp, err := env.Coverage.ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{Kind: "lsoa", Categories: cats})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetAreas()) != 1213 {
		t.Fatalf("got %d areas, want the 1213 demo LSOAs", len(resp.GetAreas()))
	}
	assets := loadOracleAssets(t, env)
	const walk = 800.0
	// Distances near the walking limit or an edge depend on the projection
	// (British National Grid in the service, a sphere here); assets within
	// these bands may count either way.
	const walkBand, edgeBand = 5.0, 0.5

	rng := rand.New(rand.NewPCG(6, 2026))
	sample := rng.Perm(len(resp.GetAreas()))[:80]
	var strictRates, checkedAssets, sumInside, sumWithin int
	for _, i := range sample {
		got := resp.GetAreas()[i]
		a, err := env.Areas.GetArea(ctx, &sparcv1.GetAreaRequest{Name: got.GetArea(), IncludeGeometry: true})
		if err != nil {
			t.Fatal(err)
		}
		var g geom.T
		if err := geojson.Unmarshal([]byte(a.GetGeometryGeojson()), &g); err != nil {
			t.Fatal(err)
		}
		mp := g.(*geom.MultiPolygon)
		if !inPolygon(mp, got.GetReferenceLongitude(), got.GetReferenceLatitude()) {
			t.Errorf("%s: reference point (%v, %v) is not inside the area", got.GetCode(), got.GetReferenceLongitude(), got.GetReferenceLatitude())
		}
		if got.GetPopulation() != a.GetPopulation() || float64(got.GetDeprivationDecile()) != a.GetAttributes()["uk_composite_imd_decile"] {
			t.Errorf("%s: population %d decile %d, area has %d and %v", got.GetCode(), got.GetPopulation(), got.GetDeprivationDecile(),
				a.GetPopulation(), a.GetAttributes()["uk_composite_imd_decile"])
		}

		var inside, insideMaybe, within, withinMaybe, sessions, places int
		nearest := make([]float64, len(cats))
		for k := range nearest {
			nearest[k] = math.Inf(1)
		}
		for _, s := range assets {
			if s.country != a.GetCountry() {
				continue
			}
			for k, c := range cats {
				if slices.Contains(s.categories, c) {
					nearest[k] = math.Min(nearest[k], geo.SphereDistance(got.GetReferenceLatitude(), got.GetReferenceLongitude(), s.lat, s.lng))
				}
			}
			if !slices.ContainsFunc(s.categories, func(c string) bool { return slices.Contains(cats, c) }) {
				continue
			}
			checkedAssets++
			d := boundaryDistance(mp, s.lng, s.lat)
			in := inPolygon(mp, s.lng, s.lat)
			switch {
			case d < edgeBand:
				insideMaybe++
			case in:
				inside++
			}
			switch {
			case !in && math.Abs(d-walk) < walkBand:
				withinMaybe++
			case in || d <= walk:
				within++
				sessions += s.sessions
				places += s.sessions * s.capacity
			}
		}
		sumInside += inside
		sumWithin += within
		if n := int(got.GetAssetsInside()); n < inside || n > inside+insideMaybe {
			t.Errorf("%s: assets_inside = %d, oracle %d (+%d on the edge)", got.GetCode(), n, inside, insideMaybe)
		}
		if n := int(got.GetAssetsWithinWalk()); n < within || n > within+withinMaybe {
			t.Errorf("%s: assets_within_walk = %d, oracle %d (+%d at the limit)", got.GetCode(), n, within, withinMaybe)
		}
		if withinMaybe == 0 && got.GetPopulation() > 0 {
			strictRates++
			wantS := float64(sessions) * 1000 / float64(got.GetPopulation())
			wantP := float64(places) * 1000 / float64(got.GetPopulation())
			if math.Abs(got.GetWeeklySessionsPer_1000()-wantS) > 1e-9 || math.Abs(got.GetWeeklyPlacesPer_1000()-wantP) > 1e-9 {
				t.Errorf("%s: sessions %v places %v per 1,000, oracle %v and %v", got.GetCode(),
					got.GetWeeklySessionsPer_1000(), got.GetWeeklyPlacesPer_1000(), wantS, wantP)
			}
		}
		covered := 0
		for k, c := range cats {
			n := got.GetNearest()[k]
			if n.GetCategory() != c {
				t.Fatalf("%s: nearest[%d] is %q, want %q", got.GetCode(), k, n.GetCategory(), c)
			}
			if math.IsInf(nearest[k], 1) {
				if n.DistanceMeters != nil {
					t.Errorf("%s: nearest %s = %v, but there is no such asset", got.GetCode(), c, n.GetDistanceMeters())
				}
				continue
			}
			// Both measure great-circle distance on PostGIS's sphere: the
			// nearest must be the same asset, to the micrometre.
			if n.DistanceMeters == nil || math.Abs(n.GetDistanceMeters()-nearest[k]) > 1e-6 {
				t.Errorf("%s: nearest %s = %.1f m (set: %t), oracle %.1f m", got.GetCode(), c, n.GetDistanceMeters(), n.DistanceMeters != nil, nearest[k])
			}
			if nearest[k] <= walk {
				covered++
			}
		}
		if want := 100 * float64(covered) / float64(len(cats)); math.Abs(got.GetCoverageScore()-want) > 1e-9 &&
			!slices.ContainsFunc(nearest, func(d float64) bool { return math.Abs(d-walk) < walkBand }) {
			t.Errorf("%s: coverage_score %v, oracle %v", got.GetCode(), got.GetCoverageScore(), want)
		}
	}
	// Guard against an oracle that checks nothing.
	if strictRates < len(sample)*3/4 || checkedAssets == 0 || sumInside == 0 || sumWithin <= sumInside {
		t.Fatalf("the sample checks too little: %d of %d areas with exact rates, %d asset checks, %d inside, %d within",
			strictRates, len(sample), checkedAssets, sumInside, sumWithin)
	}
	t.Logf("sample of %d areas: %d assets inside, %d within walking distance", len(sample), sumInside, sumWithin)
}
