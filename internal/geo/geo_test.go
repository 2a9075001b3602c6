package geo_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/sparc-network/sparc/internal/geo"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type ring = [][2]float64

func polygon(rings ...ring) string {
	return mustJSON(map[string]any{"type": "Polygon", "coordinates": rings})
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func reversed(r ring) ring {
	out := make(ring, len(r))
	for i := range r {
		out[i] = r[len(r)-1-i]
	}
	return out
}

var (
	// Counter-clockwise square around Birmingham centre.
	shell = ring{{-1.95, 52.45}, {-1.85, 52.45}, {-1.85, 52.55}, {-1.95, 52.55}, {-1.95, 52.45}}
	hole  = ring{{-1.92, 52.48}, {-1.92, 52.52}, {-1.88, 52.52}, {-1.88, 52.48}, {-1.92, 52.48}}
	// A hole that pokes out through the shell's east edge.
	crossingHole = ring{{-1.90, 52.48}, {-1.90, 52.52}, {-1.80, 52.52}, {-1.80, 52.48}, {-1.90, 52.48}}
	bowTie       = ring{{-1.95, 52.45}, {-1.85, 52.55}, {-1.85, 52.45}, {-1.95, 52.55}, {-1.95, 52.45}}
	// Goes out to a point and straight back along the same line.
	spike = ring{{-1.95, 52.45}, {-1.85, 52.45}, {-1.80, 52.45}, {-1.85, 52.45}, {-1.85, 52.55}, {-1.95, 52.55}, {-1.95, 52.45}}
)

func circle(n int, lng, lat, r float64) ring {
	out := make(ring, n)
	for i := 0; i < n-1; i++ {
		a := 2 * math.Pi * float64(i) / float64(n-1)
		out[i] = [2]float64{lng + r*math.Cos(a), lat + r*math.Sin(a)}
	}
	out[n-1] = out[0]
	return out
}

type polygonCase struct {
	name    string
	doc     string
	errHas  string // empty: valid
	invalid bool   // PostGIS must agree the shape is invalid (ST_IsValid false)
}

func polygonCases() []polygonCase {
	far := ring{{4.40, 51.90}, {4.50, 51.90}, {4.50, 51.95}, {4.40, 51.95}, {4.40, 51.90}}
	return []polygonCase{
		{"counter-clockwise square", polygon(shell), "", false},
		{"clockwise square (as real boundary files wind)", polygon(reversed(shell)), "", false},
		{"square with a hole", polygon(shell, hole), "", false},
		{"multipolygon of two parts", mustJSON(map[string]any{"type": "MultiPolygon", "coordinates": []any{[]ring{shell}, []ring{far}}}), "", false},
		{"feature wrapping a polygon", mustJSON(map[string]any{"type": "Feature", "properties": map[string]any{"name": "x"}, "geometry": map[string]any{"type": "Polygon", "coordinates": []ring{shell}}}), "", false},
		{"polygon with a crs member", `{"type":"Polygon","crs":{"type":"name","properties":{"name":"EPSG:27700"}},"coordinates":` + mustJSON([]ring{shell}) + `}`, "", false},
		{"polygon with heights", `{"type":"Polygon","coordinates":[[[-1.95,52.45,100],[-1.85,52.45,100],[-1.85,52.55,100],[-1.95,52.45,100]]]}`, "", false},
		{"exactly the vertex limit", polygon(circle(50, -1.9, 52.5, 0.05)), "", false},
		{"multipolygon with a part inside another's hole", mustJSON(map[string]any{"type": "MultiPolygon", "coordinates": []any{[]ring{shell, hole},
			[]ring{{{-1.91, 52.49}, {-1.89, 52.49}, {-1.89, 52.51}, {-1.91, 52.51}, {-1.91, 52.49}}}}}), "", false},
		{"multipolygon with overlapping parts", mustJSON(map[string]any{"type": "MultiPolygon", "coordinates": []any{[]ring{shell},
			[]ring{{{-1.90, 52.50}, {-1.80, 52.50}, {-1.80, 52.60}, {-1.90, 52.60}, {-1.90, 52.50}}}}}), "cross or touch", true},
		{"multipolygon with one part inside another", mustJSON(map[string]any{"type": "MultiPolygon", "coordinates": []any{[]ring{shell}, []ring{hole}}}), "overlap", true},
		{"multipolygon with the same part twice", mustJSON(map[string]any{"type": "MultiPolygon", "coordinates": []any{[]ring{shell}, []ring{shell}}}), "cross or touch", true},
		{"unclosed ring", polygon(shell[:4]), "not closed", false},
		{"too few positions", polygon(ring{{-1.95, 52.45}, {-1.85, 52.45}, {-1.95, 52.45}}), "at least 4", false},
		{"self-intersecting bow-tie", polygon(bowTie), "self-intersecting", true},
		{"spike", polygon(spike), "self-intersecting", true},
		{"hole crossing the shell", polygon(shell, crossingHole), "self-intersecting", true},
		{"too many vertices", polygon(circle(51, -1.9, 52.5, 0.05)), "51 vertices, more than the maximum of 50", false},
		{"latitude out of range", polygon(ring{{0, 89}, {1, 89}, {1, 91}, {0, 89}}), "outside WGS84", false},
		{"longitude out of range", polygon(ring{{179, 0}, {181, 0}, {181, 1}, {179, 0}}), "outside WGS84", false},
		{"a point", `{"type":"Point","coordinates":[-1.9,52.5]}`, "not a Polygon", false},
		{"a line", `{"type":"LineString","coordinates":[[-1.9,52.5],[-1.8,52.5]]}`, "not a Polygon", false},
		{"feature without geometry", `{"type":"Feature","properties":{}}`, "", false},
		{"empty multipolygon", `{"type":"MultiPolygon","coordinates":[]}`, "no rings", false},
		{"polygon without rings", `{"type":"Polygon","coordinates":[]}`, "no rings", false},
		{"polygon without coordinates", `{"type":"Polygon"}`, "no rings", false},
		{"ring without positions", `{"type":"Polygon","coordinates":[[]]}`, "at least 4", false},
		{"not JSON", `POLYGON((0 0, 1 0, 1 1, 0 0))`, "not valid JSON", false},
		{"empty document", ``, "not valid JSON", false},
	}
}

func TestParsePolygon(t *testing.T) {
	for _, tc := range polygonCases() {
		t.Run(tc.name, func(t *testing.T) {
			mp, err := geo.ParsePolygon(tc.doc, 50)
			switch {
			case tc.name == "feature without geometry":
				if err == nil {
					t.Fatalf("accepted a Feature without a geometry: %v", mp)
				}
			case tc.errHas == "" && err != nil:
				t.Fatalf("rejected a valid polygon: %v", err)
			case tc.errHas != "" && err == nil:
				t.Fatalf("accepted %s", tc.doc)
			case tc.errHas != "" && !strings.Contains(err.Error(), tc.errHas):
				t.Fatalf("error %q does not mention %q", err, tc.errHas)
			}
		})
	}
}

func TestParsePolygonRejectsOversizedDocument(t *testing.T) {
	doc := polygon(shell) + strings.Repeat(" ", geo.MaxGeoJSONBytes)
	if _, err := geo.ParsePolygon(doc, 50); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Fatalf("got %v, want a size error", err)
	}
}

// PostGIS is the oracle for validity: what ParsePolygon accepts, encoded
// with EncodeMultiPolygon, must be a valid WGS84 MultiPolygon that the
// geography columns take; the shapes it calls self-intersecting must be
// invalid to PostGIS as well.
func TestAcceptedPolygonsAreValidInPostGIS(t *testing.T) {
	t.Parallel()
	pool := testenv.NewPool(t)
	ctx := context.Background()
	for _, tc := range polygonCases() {
		mp, err := geo.ParsePolygon(tc.doc, 50)
		if err != nil {
			if tc.invalid {
				var valid bool
				if err := pool.QueryRow(ctx, `SELECT ST_IsValid(ST_GeomFromGeoJSON($1))`, tc.doc).Scan(&valid); err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if valid {
					t.Errorf("%s: rejected, but PostGIS finds it valid", tc.name)
				}
			}
			continue
		}
		doc := geo.EncodeMultiPolygon(mp)
		var valid bool
		var typ string
		var srid, dims int
		err = pool.QueryRow(ctx, `
			SELECT ST_IsValid(g), GeometryType(g), ST_SRID(g), ST_NDims(g)
			FROM (SELECT ST_Multi(ST_GeomFromGeoJSON($1))::geography::geometry AS g) s`, doc).Scan(&valid, &typ, &srid, &dims)
		if err != nil {
			t.Errorf("%s: PostGIS cannot take the encoded polygon %s: %v", tc.name, doc, err)
			continue
		}
		if !valid || typ != "MULTIPOLYGON" || srid != 4326 || dims != 2 {
			t.Errorf("%s: PostGIS sees valid=%v type=%s srid=%d dims=%d for %s", tc.name, valid, typ, srid, dims, doc)
		}
	}
}

func TestEncodeMultiPolygonKeepsCoordinates(t *testing.T) {
	mp, err := geo.ParsePolygon(polygon(shell, hole), 50)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Type        string
		Coordinates [][]ring
	}
	if err := json.Unmarshal([]byte(geo.EncodeMultiPolygon(mp)), &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != "MultiPolygon" || len(got.Coordinates) != 1 || len(got.Coordinates[0]) != 2 {
		t.Fatalf("got %+v", got)
	}
	for i, want := range []ring{shell, hole} {
		if mustJSON(got.Coordinates[0][i]) != mustJSON(want) {
			t.Fatalf("ring %d = %v, want %v", i, got.Coordinates[0][i], want)
		}
	}
}

func TestValidLatLng(t *testing.T) {
	cases := []struct {
		lat, lng float64
		want     bool
	}{
		{52.5, -1.9, true}, {90, 180, true}, {-90, -180, true},
		{90.000001, 0, false}, {0, -180.000001, false},
		{math.NaN(), 0, false}, {0, math.NaN(), false}, {math.Inf(1), 0, false}, {0, math.Inf(-1), false},
	}
	for _, c := range cases {
		if got := geo.ValidLatLng(c.lat, c.lng); got != c.want {
			t.Errorf("ValidLatLng(%v, %v) = %v, want %v", c.lat, c.lng, got, c.want)
		}
	}
}

// SphereDistance must agree with PostGIS's sphere distance for geography
// (what the search reports) to well under a millimetre.
func TestSphereDistanceMatchesPostGIS(t *testing.T) {
	t.Parallel()
	pool := testenv.NewPool(t)
	pairs := [][4]float64{
		{52.4862, -1.8904, 52.4862, -1.8904},
		{52.4862, -1.8904, 52.4900, -1.8800},
		{52.4862, -1.8904, 51.9225, 4.4792},
		{53.39, -3.05, 51.6, -3.0},
		{0, 0, 0, 179.9},
		{-45, 170, 45, -170},
	}
	for _, p := range pairs {
		var want float64
		err := pool.QueryRow(context.Background(), `SELECT ST_Distance(
			ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography,
			ST_SetSRID(ST_MakePoint($4, $3), 4326)::geography, false)`, p[0], p[1], p[2], p[3]).Scan(&want)
		if err != nil {
			t.Fatal(err)
		}
		if got := geo.SphereDistance(p[0], p[1], p[2], p[3]); math.Abs(got-want) > 1e-3 {
			t.Errorf("SphereDistance%v = %.6f, PostGIS says %.6f", p, got, want)
		}
	}
}

// FuzzParsePolygon: any document either fails with an error or yields a
// polygon whose canonical encoding parses again to the same encoding.
func FuzzParsePolygon(f *testing.F) {
	for _, tc := range polygonCases() {
		f.Add(tc.doc)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		mp, err := geo.ParsePolygon(doc, 50)
		if err != nil {
			return
		}
		enc := geo.EncodeMultiPolygon(mp)
		again, err := geo.ParsePolygon(enc, 50)
		if err != nil {
			t.Fatalf("canonical form %s of accepted %q is rejected: %v", enc, doc, err)
		}
		if geo.EncodeMultiPolygon(again) != enc {
			t.Fatalf("encoding is not stable for %q", doc)
		}
	})
}

func TestCheckSphereEdges(t *testing.T) {
	cases := []struct {
		name string
		ring ring
		ok   bool
	}{
		{"Birmingham square", shell, true},
		{"across the antimeridian the short way", ring{{179.9, 0}, {-179.9, 0}, {-179.9, 1}, {179.9, 1}, {179.9, 0}}, true},
		{"whole world rectangle (pole to pole sides)", ring{{-180, -90}, {180, -90}, {180, 90}, {-180, 90}, {-180, -90}}, false},
		{"an edge of 100 degrees along the equator", ring{{0, 0}, {100, 0}, {100, 1}, {0, 0}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mp, err := geo.ParsePolygon(polygon(tc.ring), 50)
			if err != nil {
				t.Fatal(err)
			}
			if err := geo.CheckSphereEdges(mp, 90); (err == nil) != tc.ok {
				t.Fatalf("CheckSphereEdges = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
