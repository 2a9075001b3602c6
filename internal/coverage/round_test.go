package coverage

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/sparc-network/sparc/internal/areas"
)

// Every per-area figure reaches the CSV, rounded: rates and scores to 2
// decimals, coordinates to 6, distances to 1; referrals_per_1000 too.
func TestCSVRoundsEveryFigure(t *testing.T) {
	dep, near, refs := 54.4271234, 475.3331480853162, 2.0/3
	res := &Result{Query: Query{WalkMeters: 800}, Areas: []*area{{
		CoverageArea: areas.CoverageArea{Code: "E01008906", Kind: "lsoa", Council: "E08000025", Population: 1957,
			RefLat: 52.5003161234, RefLng: -1.9079194993645425, Deprivation: &dep},
		Within: 1, Sessions: 1, Places: 60, Nearest: []*float64{&near}, Referrals: &refs, CouncilRank: 2, CouncilAreas: 5,
	}}}
	var b bytes.Buffer
	if err := WriteCSV(&b, res); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for i, h := range recs[0] {
		got[h] = recs[1][i]
	}
	for col, want := range map[string]string{
		"weekly_sessions_per_1000": "0.51", "weekly_places_per_1000": "30.66", "referrals_per_1000": "0.67",
		"reference_latitude": "52.500316", "reference_longitude": "-1.907919", "nearest_any_m": "475.3",
		"deprivation_value": "54.4271", "coverage_score": "100", "council_code": "E08000025", "council_rank": "2", "council_areas": "5",
	} {
		if got[col] != want {
			t.Errorf("%s = %q, want %q (row %v)", col, got[col], want, got)
		}
	}
}
