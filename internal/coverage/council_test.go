package coverage_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/testenv"
)

// A council's coverage holds exactly its areas (LSOAs from the lookup,
// MSOAs from their LSOAs), each ranked within its council; an unknown
// council or kind is a 400 with a field violation in the JSON API and in
// both downloads, and the downloads carry every figure of the answer,
// rounded.
func TestCoverageByCouncilRanksWithinItAndRefusesUnknownCouncilsAndKinds(t *testing.T) {
	t.Parallel()
	env := newDemoEnv(t)
	ctx := context.Background()
	const wirral = "E08000015"
	lsoas, err := env.Coverage.ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{Kind: "lsoa", Council: wirral, Categories: []string{"food"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(lsoas.GetAreas()) != 206 || lsoas.GetSummary().GetAreas() != 206 {
		t.Fatalf("Wirral LSOAs: %d areas, summary %d; want 206", len(lsoas.GetAreas()), lsoas.GetSummary().GetAreas())
	}
	var ranks []int32
	for _, a := range lsoas.GetAreas() {
		if a.GetCouncilCode() != wirral || a.GetCouncilAreas() != 206 {
			t.Errorf("%s: council %q of %d areas, want %s of 206", a.GetCode(), a.GetCouncilCode(), a.GetCouncilAreas(), wirral)
		}
		ranks = append(ranks, a.GetCouncilRank())
	}
	slices.Sort(ranks)
	for i, r := range ranks {
		if r != int32(i+1) {
			t.Fatalf("ranks are not 1..206: %v", ranks)
		}
	}
	// Rank 1 is the least served: no area has a lower coverage score.
	byRank := slices.Clone(lsoas.GetAreas())
	slices.SortFunc(byRank, func(x, y *sparcv1.AreaCoverage) int { return int(x.GetCouncilRank() - y.GetCouncilRank()) })
	for i := 1; i < len(byRank); i++ {
		if byRank[i].GetCoverageScore() < byRank[i-1].GetCoverageScore() {
			t.Errorf("rank %d (%s) has score %v, below rank %d's %v", i+1, byRank[i].GetCode(), byRank[i].GetCoverageScore(), i, byRank[i-1].GetCoverageScore())
		}
	}
	if byRank[0].GetCoverageScore() == byRank[len(byRank)-1].GetCoverageScore() {
		t.Errorf("every Wirral LSOA has coverage score %v: the ranking is not tested", byRank[0].GetCoverageScore())
	}
	// In a wider answer each area is ranked among its own council's: the
	// Wirral ranks are the same as in the council's own answer.
	all, err := env.Coverage.ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{Kind: "lsoa", Categories: []string{"food"}})
	if err != nil {
		t.Fatal(err)
	}
	rankOf := map[string]int32{}
	for _, a := range lsoas.GetAreas() {
		rankOf[a.GetCode()] = a.GetCouncilRank()
	}
	councils := map[string]int32{}
	for _, a := range all.GetAreas() {
		councils[a.GetCouncilCode()] = a.GetCouncilAreas()
		if r, ok := rankOf[a.GetCode()]; ok && a.GetCouncilRank() != r {
			t.Errorf("%s: rank %d in the answer for all LSOAs, %d in Wirral's", a.GetCode(), a.GetCouncilRank(), r)
		}
	}
	if len(all.GetAreas()) != 1213 || councils["E08000025"] != 639 || councils[wirral] != 206 || len(councils) != 7 {
		t.Errorf("all LSOAs: %d areas in councils %v; want 1,213 in the 7 demo councils (Birmingham 639, Wirral 206)", len(all.GetAreas()), councils)
	}

	// MSOAs belong to their LSOAs' council and have their population, so
	// their rates are there.
	msoas, err := env.Coverage.ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{Kind: "msoa", Council: wirral})
	if err != nil {
		t.Fatal(err)
	}
	if len(msoas.GetAreas()) != 42 || msoas.GetSummary().GetPopulation() != 324011 {
		t.Errorf("Wirral MSOAs: %d areas, population %d; want 42 and 324,011", len(msoas.GetAreas()), msoas.GetSummary().GetPopulation())
	}
	for _, a := range msoas.GetAreas() {
		if a.GetPopulation() <= 0 || a.WeeklyPlacesPer_1000 == nil {
			t.Errorf("MSOA %s: population %d, places per 1,000 %v", a.GetCode(), a.GetPopulation(), a.WeeklyPlacesPer_1000)
		}
	}

	// The councils' own boundaries take the population of their LSOAs.
	las, err := env.Coverage.ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{Kind: demo.CouncilKind})
	if err != nil {
		t.Fatal(err)
	}
	laPop := map[string]int64{}
	for _, a := range las.GetAreas() {
		laPop[a.GetCode()] = a.GetPopulation()
	}
	if len(laPop) != 7 || laPop[wirral] != 324011 || laPop["E08000025"] != 1141816 { // ONS mid-2019
		t.Errorf("council populations %v; want 7, Wirral 324,011 and Birmingham 1,141,816", laPop)
	}

	// Unknown councils and kinds: 400 with the field, everywhere.
	for _, bad := range []struct {
		req   *sparcv1.ComputeCoverageRequest
		field string
	}{
		{&sparcv1.ComputeCoverageRequest{Kind: "lsoa", Council: "E08999999"}, "council"},
		{&sparcv1.ComputeCoverageRequest{Kind: "lsoa", Council: "E08 000025"}, "council"},
		{&sparcv1.ComputeCoverageRequest{Council: wirral}, "council"},
		{&sparcv1.ComputeCoverageRequest{Kind: "ward"}, "kind"},
	} {
		_, err := env.Coverage.ComputeCoverage(ctx, bad.req)
		if f := testenv.Fields(err); len(f) != 1 || f[0] != bad.field {
			t.Errorf("%v: %v, want one violation on %s", bad.req, err, bad.field)
		}
	}
	for _, path := range []string{"/v1/coverage.csv?kind=lsoa&council=E08999999", "/v1/coverage.geojson?kind=lsoa&council=E08999999",
		"/v1/coverage.csv?kind=ward", "/v1/coverage.geojson?kind=ward", "/v1/coverage.csv?council=" + wirral} {
		resp, body := get(t, env, path)
		var st struct {
			Details []struct {
				FieldViolations []struct{ Field string } `json:"field_violations"`
			}
		}
		_ = json.Unmarshal(body, &st)
		field := strings.SplitN(strings.SplitN(path, "?", 2)[1], "=", 2)[0]
		if strings.Contains(path, "council=") {
			field = "council"
		}
		if resp.StatusCode != http.StatusBadRequest || len(st.Details) == 0 || len(st.Details[0].FieldViolations) != 1 || st.Details[0].FieldViolations[0].Field != field {
			t.Errorf("%s: %s %.300s, want 400 with a violation on %s", path, resp.Status, body, field)
		}
	}

	// A map layer of a kind without areas is empty, not an error.
	if resp, body := get(t, env, "/tiles/coverage/12/2025/1362.mvt?kind=ward"); resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		t.Errorf("tile of kind ward: %s %.200s, want an empty tile", resp.Status, body)
	}

	// The downloads of the council carry every figure, rounded.
	resp, body := get(t, env, "/v1/coverage.csv?kind=lsoa&council="+wirral+"&categories=food")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CSV: %s %.300s", resp.Status, body)
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"code", "area", "display_name", "kind", "parent_code", "council_code", "population", "deprivation_value",
		"deprivation_decile", "assets_inside", "assets_within_walk", "weekly_sessions_per_1000", "weekly_places_per_1000",
		"referrals_per_1000", "coverage_score", "council_rank", "council_areas", "reference_latitude", "reference_longitude", "nearest_food_m"}
	if !slices.Equal(recs[0], want) {
		t.Fatalf("CSV columns %v, want %v", recs[0], want)
	}
	if len(recs) != 207 {
		t.Fatalf("CSV has %d rows, want header + 206", len(recs))
	}
	decimals := map[string]int{"weekly_sessions_per_1000": 2, "weekly_places_per_1000": 2, "referrals_per_1000": 2, "coverage_score": 2,
		"reference_latitude": 6, "reference_longitude": 6, "nearest_food_m": 1}
	long := 0
	for _, r := range recs[1:] {
		for i, cell := range r {
			d, ok := decimals[recs[0][i]]
			if !ok || cell == "" {
				continue
			}
			if !regexp.MustCompile(`^-?\d+(\.\d{1,` + string(rune('0'+d)) + `})?$`).MatchString(cell) {
				t.Errorf("%s %s = %q: more than %d decimals", r[0], recs[0][i], cell, d)
			}
			if strings.Contains(cell, ".") && len(strings.SplitN(cell, ".", 2)[1]) == d {
				long++
			}
		}
		if r[5] != wirral || r[15] == "" || r[15] == "0" || r[16] != "206" {
			t.Errorf("row %v: council %q rank %q of %q", r[:3], r[5], r[15], r[16])
		}
	}
	if long == 0 {
		t.Error("no figure uses its full decimals: the rounding is not tested")
	}
}

// The real CBS buurten of Rotterdam are loaded as kind buurt with income
// as the deprivation measure and income quintiles within the gemeente
// (equal to the source's own); coverage of the gemeente has an equity
// summary. A file with a self-intersecting ring, a feature without
// geometry and missing figures imports what it can: the ring repaired,
// the feature skipped, each counted.
func TestRotterdamBuurtenImportWithIncomeQuintilesAndEquity(t *testing.T) {
	t.Parallel()
	env := newDemoEnv(t)
	ctx := context.Background()
	raw, err := demo.ReadAreaData(demo.BuurtFile)
	if err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Features []struct {
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(raw, &fc); err != nil {
		t.Fatal(err)
	}
	list, err := env.Areas.ListAreas(ctx, &sparcv1.ListAreasRequest{Kind: "buurt", PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetAreas()) != 92 || len(fc.Features) != 92 {
		t.Fatalf("%d buurten stored, %d in the file; want 92", len(list.GetAreas()), len(fc.Features))
	}
	stored := map[string]*sparcv1.Area{}
	for _, a := range list.GetAreas() {
		stored[a.GetCode()] = a
	}
	withIncome, poorest, lowest := 0, "", 1e9
	for _, f := range fc.Features {
		if inc, ok := f.Properties["avg_income_per_inhabitant_keur"].(float64); ok && inc < lowest {
			poorest, lowest = f.Properties["code"].(string), inc
		}
		code := f.Properties["code"].(string)
		a := stored[code]
		if a == nil || a.GetCountry() != "NL" || a.GetCouncilCode() != "GM0599" {
			t.Fatalf("%s: stored %v, want an NL buurt of GM0599", code, a)
		}
		q, ok := f.Properties["income_quintile_in_rotterdam"].(float64)
		if !ok {
			if _, has := a.GetAttributes()[demo.IncomeQuintileAttribute]; has {
				t.Errorf("%s has no income in the file but quintile %v", code, a.GetAttributes())
			}
			continue
		}
		withIncome++
		if a.GetAttributes()[demo.IncomeQuintileAttribute] != q || a.GetAttributes()[demo.IncomeAttribute] != f.Properties["avg_income_per_inhabitant_keur"] {
			t.Errorf("%s: attributes %v, want quintile %v and income %v", code, a.GetAttributes(), q, f.Properties["avg_income_per_inhabitant_keur"])
		}
	}
	if withIncome != 76 {
		t.Errorf("%d buurten with income, want 76", withIncome)
	}

	// Equity for the gemeente: income deciles, lowest income first.
	cov, err := env.Coverage.ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{Kind: "buurt", Council: "GM0599"})
	if err != nil {
		t.Fatal(err)
	}
	s := cov.GetSummary()
	if s.GetAreas() != 92 || s.GetDeprivationAttribute() != demo.IncomeAttribute || len(s.GetDeciles()) != 10 || s.GetPlacesPer_1000() == nil {
		t.Errorf("buurt summary: %v", s)
	}
	found := false
	for _, a := range cov.GetAreas() {
		if a.GetCode() == poorest {
			found = true
			if a.GetDeprivationDecile() != 1 || a.GetDeprivationValue() != lowest {
				t.Errorf("%s, the lowest income (%v): decile %d, value %v; want decile 1", poorest, lowest, a.GetDeprivationDecile(), a.GetDeprivationValue())
			}
		}
	}
	if !found || poorest != "BU05991086" { // Afrikaanderwijk, 14.3 k€
		t.Errorf("lowest-income buurt %q not in the answer (found %v)", poorest, found)
	}

	// An imperfect copy: a bow-tie ring, a feature without geometry, one
	// without income.
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	feats := doc["features"].([]any)
	bow := feats[0].(map[string]any)
	bowCode := bow["properties"].(map[string]any)["code"].(string)
	bow["geometry"] = map[string]any{"type": "Polygon", "coordinates": [][][]float64{{{4.47, 51.91}, {4.49, 51.93}, {4.49, 51.91}, {4.47, 51.93}, {4.47, 51.91}}}}
	feats[1].(map[string]any)["geometry"] = nil
	delete(feats[2].(map[string]any)["properties"].(map[string]any), "avg_income_per_inhabitant_keur")
	imperfect, _ := json.Marshal(doc)
	rep, err := demo.ImportBuurten(demo.AdminContext(ctx), areas.NewService(env.App.Areas, env.App.Tokens), bytes.NewReader(imperfect))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 91 || len(rep.Skipped) != 1 || !strings.HasPrefix(rep.Skipped[0], "feature 2:") ||
		len(rep.Repaired) != 1 || rep.Repaired[0].GetCode() != bowCode || rep.WithoutIncome != 17 || rep.WithoutPopulation != 1 {
		t.Errorf("imperfect file: %+v; want 91 imported, feature 2 skipped, %s repaired, 17 without income, 1 without population", rep, bowCode)
	}
	a, err := env.Areas.GetArea(ctx, &sparcv1.GetAreaRequest{Name: "areas/" + bowCode, IncludeGeometry: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.GetGeometryGeojson(), "MultiPolygon") || a.GetCouncilCode() != "GM0599" {
		t.Errorf("repaired %s: %.200s council %q", bowCode, a.GetGeometryGeojson(), a.GetCouncilCode())
	}
}
