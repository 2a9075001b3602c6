package areas_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/areas/areaclient"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/testenv"
)

var (
	lsoaFields = areaclient.GeoJSONFields{Code: "code", Name: "name", Parent: "msoa_code"}
	msoaFields = areaclient.GeoJSONFields{Code: "code", Name: "name"}
)

func demoFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := demo.AreaData.ReadFile("data/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// featureCount counts the features of a GeoJSON file independently of the
// importer's streaming reader.
func featureCount(t *testing.T, b []byte) int {
	t.Helper()
	var fc struct{ Features []json.RawMessage }
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatal(err)
	}
	return len(fc.Features)
}

func importFile(t *testing.T, c sparcv1.AreaServiceClient, b []byte, name, kind string, f areaclient.GeoJSONFields) (*sparcv1.ImportAreasResponse, error) {
	t.Helper()
	return areaclient.ImportGeoJSON(context.Background(), c, bytes.NewReader(b), name, kind, f)
}

// mustImport imports a boundary file the test relies on.
func mustImport(t *testing.T, c sparcv1.AreaServiceClient, b []byte, name, kind string, f areaclient.GeoJSONFields) {
	t.Helper()
	if _, err := importFile(t, c, b, name, kind, f); err != nil {
		t.Fatal(err)
	}
}

// newAreaServer starts a server and returns it with an area client acting
// as the network admin, who imports boundaries.
func newAreaServer(t *testing.T) (*testenv.Env, sparcv1.AreaServiceClient) {
	t.Helper()
	env := testenv.NewServer(t)
	return env, sparcv1.NewAreaServiceClient(env.Network(t))
}

// snapshot fingerprints every stored area (all columns that an import
// writes) so a test can prove a failed import changed nothing.
func snapshot(t *testing.T, env *testenv.Env) string {
	t.Helper()
	var s string
	err := env.Pool.QueryRow(context.Background(), `SELECT count(*) || ':' || coalesce(md5(string_agg(
		code || kind || name || parent_code || coalesce(population::text, '') || attributes::text || md5(ST_AsBinary(geom)),
		',' ORDER BY code)), '') FROM areas`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestImportingRealBoundaryFilesStoresValidAreasAndReportsRepairs(t *testing.T) {
	t.Parallel()
	env, c := newAreaServer(t)
	ctx := context.Background()

	var repairedTotal int
	for _, f := range []struct {
		file, kind string
		fields     areaclient.GeoJSONFields
	}{
		{"birmingham-msoa-2011.geojson", "msoa", msoaFields},
		{"birmingham-lsoa-2011.geojson", "lsoa", lsoaFields},
		{"wirral-lsoa-2011.geojson", "lsoa", lsoaFields},
		{"gwent-lsoa-2011.geojson", "lsoa", lsoaFields},
	} {
		b := demoFile(t, f.file)
		res, err := importFile(t, c, b, f.file, f.kind, f.fields)
		if err != nil {
			t.Fatalf("%s: %v", f.file, err)
		}
		if want := int64(featureCount(t, b)); res.GetCreated() != want || res.GetUpdated() != 0 {
			t.Errorf("%s: created %d updated %d, want %d created", f.file, res.GetCreated(), res.GetUpdated(), want)
		}
		for _, r := range res.GetRepaired() {
			if r.GetCode() == "" || r.GetReason() == "" || r.GetFeatureNumber() < 1 {
				t.Errorf("%s: repair report %v lacks its feature, code or reason", f.file, r)
			}
		}
		repairedTotal += len(res.GetRepaired())
	}
	// The regional LSOA files hold 4 self-intersecting polygons (data README).
	if repairedTotal == 0 {
		t.Errorf("no repaired features reported; the regional boundary files contain self-intersecting polygons")
	}

	var invalid, total, withParent int
	if err := env.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE NOT ST_IsValid(geom) OR NOT ST_IsValid(geom_local)),
		count(*), count(*) FILTER (WHERE kind = 'lsoa' AND parent_code <> '') FROM areas`).Scan(&invalid, &total, &withParent); err != nil {
		t.Fatal(err)
	}
	if invalid != 0 {
		t.Errorf("%d stored areas have invalid geometry", invalid)
	}
	if total != 132+639+206+368 {
		t.Errorf("stored %d areas, want %d", total, 132+639+206+368)
	}
	if withParent != 639+206+368 {
		t.Errorf("%d LSOAs have a parent MSOA, want all %d", withParent, 639+206+368)
	}

	// Importing again updates in place: same count, nothing created.
	before := snapshot(t, env)
	b := demoFile(t, "wirral-lsoa-2011.geojson")
	res, err := importFile(t, c, b, "wirral", "lsoa", lsoaFields)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetCreated() != 0 || res.GetUpdated() != 206 {
		t.Errorf("re-import: created %d updated %d, want 0 and 206", res.GetCreated(), res.GetUpdated())
	}
	if after := snapshot(t, env); after != before {
		t.Errorf("re-importing the same file changed the stored areas")
	}

	// The stored area reads back with a point inside it and its parent.
	a, err := c.GetArea(ctx, &sparcv1.GetAreaRequest{Name: "areas/E01007110", IncludeGeometry: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.GetName() != "areas/E01007110" || a.GetCode() != "E01007110" || a.GetDisplayName() == "" || a.GetKind() != "lsoa" || a.GetCountry() != "GB" || a.GetParentCode() == "" || !strings.Contains(a.GetGeometryGeojson(), "MultiPolygon") {
		t.Errorf("GetArea = %v", a)
	}
}

// mutate decodes a FeatureCollection, lets change edit it and re-encodes it.
func mutate(t *testing.T, b []byte, change func(features []map[string]any)) []byte {
	t.Helper()
	var fc struct {
		Type     string           `json:"type"`
		Features []map[string]any `json:"features"`
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatal(err)
	}
	change(fc.Features)
	out, err := json.Marshal(fc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func props(f map[string]any) map[string]any { return f["properties"].(map[string]any) }

func TestBadFilesAreRejectedWithTheirLocationAndChangeNothing(t *testing.T) {
	t.Parallel()
	env, c := newAreaServer(t)
	ctx := context.Background()
	wirral := demoFile(t, "wirral-lsoa-2011.geojson")
	mustImport(t, c, wirral, "wirral", "lsoa", lsoaFields)
	csvFile := demoFile(t, "demo-lsoa-2011-deprivation-population.csv")
	cols := areaclient.CSVColumns{Code: "lsoa_code", Attributes: map[string]string{"population": "population_2019", "imd_decile": "imd_decile"}}
	if _, err := areaclient.ImportCSV(ctx, c, bytes.NewReader(wirralRows(t, csvFile)), "deprivation.csv", cols, false); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, env)

	// Each bad file changes one thing in a real file (with renamed areas,
	// so a partial write would show).
	rename := func(fs []map[string]any) {
		for _, f := range fs {
			props(f)["name"] = "CHANGED " + props(f)["name"].(string)
		}
	}
	geomCases := []struct {
		name string
		file []byte
		kind string
		want []string // all must appear in the error
	}{
		{"broken JSON", mutate(t, wirral, rename)[:len(wirral)/2], "lsoa", []string{"line 1", "file ends inside feature"}},
		{"missing code field", mutate(t, wirral, func(fs []map[string]any) {
			rename(fs)
			delete(props(fs[16]), "code")
		}), "lsoa", []string{"features[17].code", "missing"}},
		{"duplicate codes", mutate(t, wirral, func(fs []map[string]any) {
			rename(fs)
			props(fs[29])["code"] = props(fs[1])["code"]
		}), "lsoa", []string{"features[30].code", "duplicate code", "also feature 2"}},
		{"ring with too few positions", mutate(t, wirral, func(fs []map[string]any) {
			rename(fs)
			fs[4]["geometry"] = map[string]any{"type": "Polygon", "coordinates": [][][]float64{{{-3.05, 53.4}, {-3.04, 53.4}, {-3.05, 53.4}}}}
		}), "lsoa", []string{"features[5].geometry", "at least 4"}},
		{"geometry that cannot be repaired into a polygon", mutate(t, wirral, func(fs []map[string]any) {
			rename(fs)
			fs[7]["geometry"] = map[string]any{"type": "Polygon", "coordinates": [][][]float64{{{-3.05, 53.4}, {-3.04, 53.4}, {-3.03, 53.4}, {-3.05, 53.4}}}}
		}), "lsoa", []string{"features[8]", "could not be repaired"}},
		{"not a polygon", mutate(t, wirral, func(fs []map[string]any) {
			rename(fs)
			fs[2]["geometry"] = map[string]any{"type": "Point", "coordinates": []float64{-3.05, 53.4}}
		}), "lsoa", []string{"features[3].geometry", "not a Polygon"}},
		{"area outside Great Britain and the Netherlands", mutate(t, wirral, func(fs []map[string]any) {
			rename(fs)
			fs[9]["geometry"] = map[string]any{"type": "Polygon", "coordinates": [][][]float64{{{10, 45}, {10.01, 45}, {10.01, 45.01}, {10, 45}}}}
		}), "lsoa", []string{"features[10]", "outside Great Britain and the Netherlands"}},
		{"code of another kind", mutate(t, wirral, rename), "msoa", []string{"features[1]", `kind "lsoa"`}},
		{"not a FeatureCollection", []byte(`{"type": "Feature", "properties": {}}`), "lsoa", []string{"not FeatureCollection"}},
	}
	for _, tc := range geomCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := importFile(t, c, tc.file, "bad.geojson", tc.kind, lsoaFields)
			checkError(t, err, tc.want)
			if after := snapshot(t, env); after != before {
				t.Fatalf("a rejected file changed the stored areas")
			}
		})
	}

	unknown := append(bytes.Clone(csvFile[:bytes.IndexByte(csvFile, '\n')+1]), []byte("E01007110,england,1616,11.491,7,8\nE99999999,england,1,1,1,1\n")...)
	csvCases := []struct {
		name string
		file []byte
		want []string
	}{
		// Birmingham codes are not loaded here: the unknown codes are
		// reported by line, and nothing is written.
		{"CSV with unknown codes", csvFile, []string{"lines[207].code", "E01008881", "matches no area", "more problems not listed"}},
		{"CSV with one unknown code among known ones", unknown, []string{"lines[3].code", "E99999999"}},
		{"CSV with a value that is not a number", []byte("lsoa_code,population_2019,imd_decile\nE01007110,12x,3\n"), []string{"line 2", "not a number"}},
		{"CSV without the code column", []byte("code,population_2019,imd_decile\nE01007110,1,3\n"), []string{"line 1", `no column "lsoa_code"`}},
		{"CSV with a duplicate code", []byte("lsoa_code,population_2019,imd_decile\nE01007110,1,3\nE01007110,2,4\n"), []string{"lines[3].code", "duplicate code", "also line 2"}},
		{"CSV with a fractional population", []byte("lsoa_code,population_2019,imd_decile\nE01007110,1.5,3\n"), []string{"lines[2].values[population]", "whole number"}},
	}
	for _, tc := range csvCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := areaclient.ImportCSV(ctx, c, bytes.NewReader(tc.file), "bad.csv", cols, false)
			checkError(t, err, tc.want)
			if after := snapshot(t, env); after != before {
				t.Fatalf("a rejected file changed the stored areas")
			}
		})
	}
}

// checkError asserts err mentions every wanted fragment, in its message or
// its field violations.
func checkError(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("import succeeded, want an error mentioning %q", want)
	}
	text := err.Error()
	if st, ok := status.FromError(err); ok && st.Code() != codes.InvalidArgument && st.Code() != codes.Unknown {
		t.Errorf("code %s, want INVALID_ARGUMENT: %v", st.Code(), err)
	}
	for field, d := range fieldViolations(err) {
		text += "\n" + field + ": " + d
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("error does not mention %q:\n%s", w, text)
		}
	}
}

// wirralRows keeps the header and the Wirral rows (E08000015 LSOAs) of
// the demo CSV, found by the codes in the Wirral boundary file.
func wirralRows(t *testing.T, csvFile []byte) []byte {
	t.Helper()
	codes := map[string]bool{}
	var fc struct {
		Features []struct{ Properties struct{ Code string } }
	}
	if err := json.Unmarshal(demoFile(t, "wirral-lsoa-2011.geojson"), &fc); err != nil {
		t.Fatal(err)
	}
	for _, f := range fc.Features {
		codes[f.Properties.Code] = true
	}
	var out bytes.Buffer
	for i, line := range strings.Split(string(csvFile), "\n") {
		if i == 0 || codes[strings.SplitN(line, ",", 2)[0]] {
			out.WriteString(line + "\n")
		}
	}
	return out.Bytes()
}

func TestAttributesAreMergedIntoAreasAndPopulationSet(t *testing.T) {
	t.Parallel()
	_, c := newAreaServer(t)
	ctx := context.Background()
	mustImport(t, c, demoFile(t, "gwent-lsoa-2011.geojson"), "gwent", "lsoa", lsoaFields)
	csvFile := demoFile(t, "demo-lsoa-2011-deprivation-population.csv")
	cols := areaclient.CSVColumns{Code: "lsoa_code", Attributes: map[string]string{
		"population": "population_2019", "imd_decile": "imd_decile", "imd_score": "imd_score"}}
	// The demo CSV also holds Birmingham and Wirral, which are not loaded.
	res, err := areaclient.ImportCSV(ctx, c, bytes.NewReader(csvFile), "demo.csv", cols, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetUpdated() != 368 || res.GetSkippedUnknown() != 1213-368 {
		t.Errorf("updated %d skipped %d, want 368 and %d", res.GetUpdated(), res.GetSkippedUnknown(), 1213-368)
	}
	// A second file adds an attribute without losing the first ones.
	if _, err := areaclient.ImportCSV(ctx, c, strings.NewReader("code,wimd_rank\nW01001495,17\n"), "wimd.csv",
		areaclient.CSVColumns{Code: "code", Attributes: map[string]string{"wimd_rank": "wimd_rank"}}, false); err != nil {
		t.Fatal(err)
	}

	// Compare every Gwent row of the file with what the API returns.
	r := csv.NewReader(bytes.NewReader(csvFile))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, rec := range recs[1:] {
		if !strings.HasPrefix(rec[0], "W") {
			continue
		}
		a, err := c.GetArea(ctx, &sparcv1.GetAreaRequest{Name: "areas/" + rec[0]})
		if err != nil {
			t.Fatal(err)
		}
		pop, _ := strconv.ParseInt(rec[2], 10, 64)
		score, _ := strconv.ParseFloat(rec[3], 64)
		dec, _ := strconv.ParseFloat(rec[4], 64)
		if a.GetPopulation() != pop || a.GetAttributes()["imd_score"] != score || a.GetAttributes()["imd_decile"] != dec {
			t.Errorf("%s: population %d attributes %v, want %d, score %v, decile %v", rec[0], a.GetPopulation(), a.GetAttributes(), pop, score, dec)
		}
		checked++
	}
	if checked != 368 {
		t.Errorf("checked %d Welsh rows, want 368", checked)
	}
	a, err := c.GetArea(ctx, &sparcv1.GetAreaRequest{Name: "areas/W01001495"})
	if err != nil {
		t.Fatal(err)
	}
	if a.GetAttributes()["wimd_rank"] != 17 || a.GetAttributes()["imd_decile"] == 0 {
		t.Errorf("attributes after a second file: %v", a.GetAttributes())
	}
}

func TestListingAreasPagesByCodeWithFilters(t *testing.T) {
	t.Parallel()
	_, c := newAreaServer(t)
	ctx := context.Background()
	for _, f := range []struct {
		file, kind string
		fields     areaclient.GeoJSONFields
	}{
		{"wirral-msoa-2011.geojson", "msoa", msoaFields},
		{"wirral-lsoa-2011.geojson", "lsoa", lsoaFields},
	} {
		mustImport(t, c, demoFile(t, f.file), f.file, f.kind, f.fields)
	}
	var listed []string
	req := &sparcv1.ListAreasRequest{Kind: "lsoa", PageSize: 50}
	for pages := 0; ; pages++ {
		resp, err := c.ListAreas(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range resp.GetAreas() {
			listed = append(listed, a.GetCode())
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		req.PageToken = resp.GetNextPageToken()
	}
	if len(listed) != 206 {
		t.Fatalf("listed %d LSOAs, want 206", len(listed))
	}
	for i := 1; i < len(listed); i++ {
		if listed[i-1] >= listed[i] {
			t.Fatalf("codes out of order at %d: %s, %s", i, listed[i-1], listed[i])
		}
	}

	// Children of one MSOA, with simplified geometry.
	parent := "E02001501"
	resp, err := c.ListAreas(ctx, &sparcv1.ListAreasRequest{ParentCode: parent, IncludeGeometry: true, SimplifyMeters: 20})
	if err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Features []struct {
			Properties struct {
				MsoaCode string `json:"msoa_code"`
			}
		}
	}
	_ = json.Unmarshal(demoFile(t, "wirral-lsoa-2011.geojson"), &fc)
	want := 0
	for _, f := range fc.Features {
		if f.Properties.MsoaCode == parent {
			want++
		}
	}
	if want == 0 || len(resp.GetAreas()) != want {
		t.Fatalf("children of %s: got %d, file has %d", parent, len(resp.GetAreas()), want)
	}
	for _, a := range resp.GetAreas() {
		if a.GetParentCode() != parent || !strings.HasPrefix(a.GetGeometryGeojson(), `{"type":"MultiPolygon"`) {
			t.Errorf("child %s: parent %q geometry %.40q", a.GetCode(), a.GetParentCode(), a.GetGeometryGeojson())
		}
	}

	// Bad requests are refused before the database.
	for _, bad := range []*sparcv1.ListAreasRequest{
		{Kind: "LSOA!"}, {Bbox: "1,2,3"}, {SimplifyMeters: -1}, {PageToken: "nonsense"},
	} {
		if _, err := c.ListAreas(ctx, bad); status.Code(err) != codes.InvalidArgument {
			t.Errorf("ListAreas(%v) = %v, want INVALID_ARGUMENT", bad, err)
		}
	}
	if _, err := c.GetArea(ctx, &sparcv1.GetAreaRequest{Name: "areas/E01999999"}); status.Code(err) != codes.NotFound ||
		!strings.Contains(err.Error(), "areas/E01999999 not found") {
		t.Errorf("GetArea of a missing code = %v, want NOT_FOUND naming areas/E01999999", err)
	}
}
