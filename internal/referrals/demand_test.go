package referrals_test

import (
	"context"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/testenv"
)

// Coverage maps show referral demand per area: the referrals received by
// the assets inside it, per 1,000 residents, small numbers withheld.
func TestCoverageMapsShowReferralDemandWithSmallNumbersWithheld(t *testing.T) {
	t.Parallel()
	w := statsWorld(t) // 13 referrals to a Birmingham asset, 2 to a Wirral one
	ctx := context.Background()
	w.env.ImportAreas(t, "demand_test", 5000,
		&sparcv1.AreaFeature{Code: "E02999991", DisplayName: "Central Birmingham", GeometryGeojson: testenv.Box(-1.95, 52.44, -1.80, 52.52)},
		&sparcv1.AreaFeature{Code: "E02999992", DisplayName: "North Wirral", GeometryGeojson: testenv.Box(-3.10, 53.35, -2.95, 53.43)},
		&sparcv1.AreaFeature{Code: "E02999993", DisplayName: "Nowhere near", GeometryGeojson: testenv.Box(-2.50, 52.00, -2.40, 52.05)})
	// Coverage is open data: asked anonymously.
	resp, err := sparcv1.NewCoverageServiceClient(w.env.Anonymous()).ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{Kind: "demand_test"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*float64{}
	for _, a := range resp.GetAreas() {
		got[a.GetCode()] = a.ReferralsPer_1000
	}
	// 13 rounds to 15: 15 per 5,000 residents = 3 per 1,000; 2 is withheld.
	if g := got["E02999991"]; g == nil || *g != 3 {
		t.Errorf("Birmingham: %v, want 3 per 1,000", g)
	}
	if g := got["E02999992"]; g != nil {
		t.Errorf("Wirral: %v, want withheld (2 referrals)", *g)
	}
	if g := got["E02999993"]; g == nil || *g != 0 {
		t.Errorf("no referrals: %v, want 0", g)
	}
}
