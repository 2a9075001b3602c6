package coverage_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/testenv"
)

func get(t *testing.T, env *demoEnv, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	return env.Do(t, http.MethodGet, path, "", header...)
}

// ringArea is the shoelace sum of a ring: positive when it winds
// counter-clockwise in longitude/latitude.
func ringArea(ring [][]float64) float64 {
	var a float64
	for i := 0; i+1 < len(ring); i++ {
		a += ring[i][0]*ring[i+1][1] - ring[i+1][0]*ring[i][1]
	}
	return a / 2
}

// checkRFC7946 validates a GeoJSON FeatureCollection of polygons against
// RFC 7946: no "crs" (WGS84 only), positions in range, closed rings of at
// least four positions, exterior rings counter-clockwise and holes
// clockwise (the right-hand rule, section 3.1.6).
func checkRFC7946(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var fc struct {
		Type     string            `json:"type"`
		CRS      json.RawMessage   `json:"crs"`
		Features []json.RawMessage `json:"features"`
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatalf("GeoJSON does not parse: %v", err)
	}
	if fc.Type != "FeatureCollection" || fc.CRS != nil {
		t.Fatalf("type %q, crs %s: want a FeatureCollection without crs", fc.Type, fc.CRS)
	}
	var props []map[string]any
	for i, raw := range fc.Features {
		var f struct {
			Type     string
			ID       any
			Geometry struct {
				Type        string
				Coordinates json.RawMessage
			}
			Properties map[string]any
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("feature %d: %v", i, err)
		}
		if f.Type != "Feature" || f.Properties == nil {
			t.Fatalf("feature %d: type %q, properties %v", i, f.Type, f.Properties)
		}
		var polys [][][][]float64
		switch f.Geometry.Type {
		case "Polygon":
			var p [][][]float64
			if err := json.Unmarshal(f.Geometry.Coordinates, &p); err != nil {
				t.Fatal(err)
			}
			polys = [][][][]float64{p}
		case "MultiPolygon":
			if err := json.Unmarshal(f.Geometry.Coordinates, &polys); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("feature %d: geometry %q", i, f.Geometry.Type)
		}
		for _, p := range polys {
			for r, ring := range p {
				if len(ring) < 4 || ring[0][0] != ring[len(ring)-1][0] || ring[0][1] != ring[len(ring)-1][1] {
					t.Fatalf("feature %d: ring %d not closed or too short", i, r)
				}
				for _, pos := range ring {
					if len(pos) < 2 || pos[0] < -180 || pos[0] > 180 || pos[1] < -90 || pos[1] > 90 {
						t.Fatalf("feature %d: position %v is not WGS84 longitude, latitude", i, pos)
					}
				}
				if a := ringArea(ring); (r == 0) != (a > 0) {
					t.Errorf("feature %d (%v): ring %d has signed area %g: breaks the right-hand rule", i, f.ID, r, a)
				}
			}
		}
		props = append(props, f.Properties)
	}
	return props
}

func TestDownloadsAreRFC7946GeoJSONAndCSVWithTheAPIFigures(t *testing.T) {
	t.Parallel()
	env := newDemoEnv(t)
	ctx := context.Background()
	// All the LSOAs of one Birmingham MSOA and two categories.
	const parent = "E02001875"
	query := "parent_code=" + parent + "&categories=food&categories=physical_activity"
	api, err := env.Coverage.ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{
		ParentCode: parent, Categories: []string{"food", "physical_activity"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(api.GetAreas()) < 3 {
		t.Fatalf("parent %s has %d areas; choose a parent with children", parent, len(api.GetAreas()))
	}
	// The parent may be given by its name too.
	byName, err := env.Coverage.ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{
		ParentCode: "areas/" + parent, Categories: []string{"food", "physical_activity"}, SummaryOnly: true})
	if err != nil || byName.GetSummary().GetAreas() != int32(len(api.GetAreas())) {
		t.Errorf("parent_code areas/%s: %d areas (%v), want %d", parent, byName.GetSummary().GetAreas(), err, len(api.GetAreas()))
	}

	resp, body := get(t, env, "/v1/coverage.geojson?"+query)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/geo+json" {
		t.Fatalf("GeoJSON: %s %s: %.300s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	props := checkRFC7946(t, body)
	if len(props) != len(api.GetAreas()) {
		t.Fatalf("GeoJSON has %d features, the API %d areas", len(props), len(api.GetAreas()))
	}
	for i, a := range api.GetAreas() {
		p := props[i]
		if a.GetArea() != "areas/"+a.GetCode() || a.GetDisplayName() == "" {
			t.Errorf("area %s: area %q display name %q", a.GetCode(), a.GetArea(), a.GetDisplayName())
		}
		if p["code"] != a.GetCode() || p["area"] != a.GetArea() || p["display_name"] != a.GetDisplayName() || p["assets_within_walk"] != float64(a.GetAssetsWithinWalk()) ||
			p["coverage_score"] != a.GetCoverageScore() || p["deprivation_decile"] != float64(a.GetDeprivationDecile()) {
			t.Errorf("feature %d properties %v differ from the API's %v", i, p, a)
		}
		// Downloads round distances to 0.1 m.
		if d := a.GetNearest()[0].DistanceMeters; d != nil && p["nearest_food_m"] != math.Round(*d*10)/10 {
			t.Errorf("%s: nearest_food_m %v, API %v", a.GetCode(), p["nearest_food_m"], *d)
		}
	}
	// The source boundaries wind clockwise: the output was rewound, not
	// passed through.
	var src struct {
		Features []struct {
			Properties struct{ Code string }
			Geometry   struct{ Coordinates json.RawMessage }
		}
	}
	b, _ := demo.AreaData.ReadFile("data/birmingham-lsoa-2011.geojson")
	if err := json.Unmarshal(b, &src); err != nil {
		t.Fatal(err)
	}
	clockwise := 0
	for _, f := range src.Features {
		var p [][][]float64
		if json.Unmarshal(f.Geometry.Coordinates, &p) == nil && f.Properties.Code == api.GetAreas()[0].GetCode() && ringArea(p[0]) < 0 {
			clockwise++
		}
	}
	if clockwise == 0 {
		t.Errorf("expected the source of %s to wind clockwise (so this test proves the rewinding)", api.GetAreas()[0].GetCode())
	}

	// Simplified geometry is still valid RFC 7946, and smaller.
	_, simple := get(t, env, "/v1/coverage.geojson?"+query+"&simplify_meters=25")
	checkRFC7946(t, simple)
	if len(simple) >= len(body) {
		t.Errorf("simplified GeoJSON is %d bytes, not smaller than %d", len(simple), len(body))
	}

	resp, body = get(t, env, "/v1/coverage.csv?"+query)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(api.GetAreas())+1 {
		t.Fatalf("CSV has %d rows, want header + %d", len(recs), len(api.GetAreas()))
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, h := range []string{"code", "area", "display_name", "assets_inside", "assets_within_walk", "weekly_places_per_1000", "coverage_score", "nearest_food_m", "nearest_physical_activity_m", "deprivation_decile"} {
		if _, ok := col[h]; !ok {
			t.Fatalf("CSV header %v lacks %s", recs[0], h)
		}
	}
	for i, a := range api.GetAreas() {
		r := recs[i+1]
		places, _ := strconv.ParseFloat(r[col["weekly_places_per_1000"]], 64)
		if r[col["code"]] != a.GetCode() || r[col["area"]] != a.GetArea() || r[col["display_name"]] != a.GetDisplayName() || r[col["assets_inside"]] != strconv.Itoa(int(a.GetAssetsInside())) ||
			math.Abs(places-a.GetWeeklyPlacesPer_1000()) > 0.005 {
			t.Errorf("CSV row %v differs from the API's %v", r, a)
		}
	}

	// A bad query is the same 400 the JSON API gives, not a 500.
	for _, path := range []string{"/v1/coverage.geojson?kind=LSOA!", "/v1/coverage.csv?kind=lsoa&categories=nope",
		"/v1/coverage.geojson?kind=lsoa&simplify_meters=-3", "/v1/coverage.csv"} {
		resp, body := get(t, env, path)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "INVALID_ARGUMENT") && !strings.Contains(string(body), `"code":3`) {
			t.Errorf("%s: %s %.200s, want 400 with the status", path, resp.Status, body)
		}
	}
}

// tileOf returns the tile at zoom z holding a WGS84 position, and the
// position in that tile's 0..4096 coordinates.
func tileOf(lat, lng float64, z int) (x, y int, px, py float64) {
	n := math.Exp2(float64(z))
	fx := (lng + 180) / 360 * n
	s := math.Sin(lat * math.Pi / 180)
	fy := (0.5 - math.Log((1+s)/(1-s))/(4*math.Pi)) * n
	x, y = int(fx), int(fy)
	return x, y, (fx - float64(x)) * 4096, (fy - float64(y)) * 4096
}

func TestVectorTilesDecodeAndHoldTheExpectedFeatures(t *testing.T) {
	t.Parallel()
	env := newDemoEnv(t)
	ctx := context.Background()
	api, err := env.Coverage.ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{Kind: "lsoa"})
	if err != nil {
		t.Fatal(err)
	}
	const z = 12
	// The tile holding central Birmingham.
	x, y, _, _ := tileOf(52.4862, -1.8904, z)
	path := fmt.Sprintf("/tiles/coverage/%d/%d/%d.mvt?kind=lsoa", z, x, y)
	resp, body := get(t, env, path)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/vnd.mapbox-vector-tile" {
		t.Fatalf("%s: %s %s %.200s", path, resp.Status, resp.Header.Get("Content-Type"), body)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age") {
		t.Errorf("tile headers lack ETag or Cache-Control: %v", resp.Header)
	}
	layers, err := decodeMVT(body)
	if err != nil {
		t.Fatal(err)
	}
	cov := layers["coverage"]
	if cov == nil || len(cov.features) == 0 {
		t.Fatalf("no coverage features in %s (layers %v)", path, layers)
	}
	inTile := map[string]map[string]any{}
	for _, f := range cov.features {
		if f.typ != 3 || len(f.points()) < 3 {
			t.Errorf("coverage feature %v is not a polygon", f.props)
		}
		inTile[f.props["code"].(string)] = f.props
	}
	// Every area whose reference point lies in the tile is drawn, with
	// the API's figures.
	expected := 0
	for _, a := range api.GetAreas() {
		tx, ty, _, _ := tileOf(a.GetReferenceLatitude(), a.GetReferenceLongitude(), z)
		if tx != x || ty != y {
			continue
		}
		expected++
		p, ok := inTile[a.GetCode()]
		if !ok {
			t.Errorf("area %s (reference point in the tile) is missing from it", a.GetCode())
			continue
		}
		if p["coverage_score"] != a.GetCoverageScore() || p["assets_within_walk"] != float64(a.GetAssetsWithinWalk()) ||
			p["display_name"] != a.GetDisplayName() {
			t.Errorf("area %s: tile properties %v, API %v", a.GetCode(), p, a)
		}
	}
	if expected < 5 {
		t.Fatalf("only %d areas have their reference point in tile %d/%d/%d", expected, z, x, y)
	}

	// Unchanged data: the client's copy is current.
	resp, _ = get(t, env, path, "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the current ETag: %s, want 304", resp.Status)
	}

	// Asset tile at zoom 14 around the first demo asset: every active
	// asset in the tile is there, at its position.
	rows, err := env.Pool.Query(ctx, `SELECT id::text, ST_Y(location::geometry), ST_X(location::geometry) FROM assets
		WHERE status = 'active' AND location IS NOT NULL`) // remote services have no point to draw
	if err != nil {
		t.Fatal(err)
	}
	type pos struct{ lat, lng float64 }
	all := map[string]pos{}
	var first string
	for rows.Next() {
		var id string
		var p pos
		if err := rows.Scan(&id, &p.lat, &p.lng); err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = id
		}
		all[id] = p
	}
	rows.Close()
	const az = 13
	ax, ay, _, _ := tileOf(all[first].lat, all[first].lng, az)
	resp, body = get(t, env, fmt.Sprintf("/tiles/assets/%d/%d/%d.mvt", az, ax, ay))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("asset tile: %s %.200s", resp.Status, body)
	}
	layers, err = decodeMVT(body)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int64{}
	if l := layers["assets"]; l != nil {
		for _, f := range l.features {
			if pts := f.points(); f.typ == 1 && len(pts) == 1 {
				got[f.props["id"].(string)] = pts[0]
			}
		}
	}
	want := 0
	for id, p := range all {
		tx, ty, px, py := tileOf(p.lat, p.lng, az)
		if tx != ax || ty != ay {
			continue
		}
		want++
		g, ok := got[id]
		if !ok {
			t.Errorf("asset %s is in tile %d/%d/%d but not drawn", id, az, ax, ay)
			continue
		}
		if math.Abs(float64(g[0])-px) > 1.5 || math.Abs(float64(g[1])-py) > 1.5 {
			t.Errorf("asset %s drawn at %v, expected near (%.1f, %.1f)", id, g, px, py)
		}
	}
	if want == 0 {
		t.Fatal("no asset expected in the tile: the check proves nothing")
	}

	// A new asset shows in its tile within a second: the ETag (and so the
	// rendered tile cache) follows the data.
	assetPath := fmt.Sprintf("/tiles/assets/%d/%d/%d.mvt", az, ax, ay)
	resp, _ = get(t, env, assetPath)
	oldTag := resp.Header.Get("ETag")
	created, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "New lunch club", OwnerOrganisation: "organisations/" + env.AdminOrg,
		Location: &sparcv1.Location{Latitude: all[first].lat, Longitude: all[first].lng, Country: "GB"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Within about two seconds (the fingerprint is refreshed in the
	// background once a second), the tile changes.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, body = get(t, env, assetPath, "If-None-Match", oldTag)
		if resp.StatusCode == http.StatusOK && resp.Header.Get("ETag") != oldTag {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after a new asset: %s, ETag %s (was %s)", resp.Status, resp.Header.Get("ETag"), oldTag)
		}
	}
	if layers, err = decodeMVT(body); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range layers["assets"].features {
		found = found || f.props["id"] == strings.TrimPrefix(created.GetName(), "assets/")
	}
	if !found {
		t.Errorf("the new asset %s is not in its tile", created.GetName())
	}

	for _, bad := range []string{"/tiles/assets/12/99999/1.mvt", "/tiles/assets/12/1/1.png", "/tiles/coverage/23/0/0.mvt?kind=lsoa",
		"/tiles/coverage/12/1/1.mvt", "/tiles/coverage/12/1/1.mvt?kind=lsoa&walking_distance_meters=0"} {
		if resp, body := get(t, env, bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %s %.200s, want 400", bad, resp.Status, body)
		}
	}
}

func TestMapPageRendersCoverageAndAssetsInHeadlessChromium(t *testing.T) {
	t.Parallel()
	env := newDemoEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url := env.HTTPBase + "/map?lat=52.48&lng=-1.89&z=12"
	cmd := exec.CommandContext(ctx, testenv.Chromium(t), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--window-size=1024,768", "--virtual-time-budget=30000", "--dump-dom", url)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	attr := func(name string) int {
		m := regexp.MustCompile(`data-` + name + `="(\d+)"`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("the page did not finish drawing (no data-%s on <body>):\n%.2000s", name, out)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	features, painted, errors := attr("features"), attr("painted"), attr("errors")
	// 1024x768 sampled every 7th pixel: over 10% coloured means the areas
	// are drawn over the background, not just a few dots.
	t.Logf("map drew %d features, %d sampled pixels coloured, %d tile errors", features, painted, errors)
	if features < 50 || painted < 1024*768/7/10 || errors != 0 {
		t.Errorf("map drew %d features, %d sampled pixels coloured, %d tile errors", features, painted, errors)
	}
}
