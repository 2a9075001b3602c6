package coverage_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/areas/areaclient"
	"github.com/sparc-network/sparc/internal/coverage"
	"github.com/sparc-network/sparc/internal/testenv"
)

// equityAreas builds 20 small square areas, 10 km apart (so no asset is
// within walking distance of two of them), two per deprivation decile,
// 1,000 residents each.
func equityAreas(t *testing.T, env *testenv.Env) (centres map[int][][2]float64) {
	t.Helper()
	ctx := context.Background()
	c := sparcv1.NewAreaServiceClient(env.Network(t))
	var fc strings.Builder
	var csv strings.Builder
	csv.WriteString("code,population,decile\n")
	fc.WriteString(`{"type":"FeatureCollection","features":[`)
	centres = map[int][][2]float64{}
	for i := 0; i < 20; i++ {
		decile := i/2 + 1
		lat, lng := 52.3+float64(i/5)*0.1, -2.2+float64(i%5)*0.15
		const h = 0.0035
		if i > 0 {
			fc.WriteString(",")
		}
		fmt.Fprintf(&fc, `{"type":"Feature","properties":{"code":"T%04d","name":"Test area %d"},"geometry":{"type":"Polygon","coordinates":[[[%f,%f],[%f,%f],[%f,%f],[%f,%f],[%f,%f]]]}}`,
			i, i, lng-h, lat-h, lng+h, lat-h, lng+h, lat+h, lng-h, lat+h, lng-h, lat-h)
		fmt.Fprintf(&csv, "T%04d,1000,%d\n", i, decile)
		centres[decile] = append(centres[decile], [2]float64{lat, lng})
	}
	fc.WriteString("]}")
	if _, err := areaclient.ImportGeoJSON(ctx, c, strings.NewReader(fc.String()), "equity.geojson", "test_lsoa",
		areaclient.GeoJSONFields{Code: "code", Name: "name"}); err != nil {
		t.Fatal(err)
	}
	if _, err := areaclient.ImportCSV(ctx, c, strings.NewReader(csv.String()), "equity.csv",
		areaclient.CSVColumns{Code: "code", Attributes: map[string]string{"population": "population", "imd_decile": "decile"}}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetDeprivationMeasure(ctx, &sparcv1.SetDeprivationMeasureRequest{
		Kind: "test_lsoa", Attribute: "imd_decile", Scale: sparcv1.DeprivationScale_DEPRIVATION_SCALE_DECILE}); err != nil {
		t.Fatal(err)
	}
	return centres
}

func TestEquitySummaryOfAConstructedSetGivesTheKnownAnswer(t *testing.T) {
	t.Parallel()
	some := func(f float64) *float64 { return &f }
	// Each case puts one asset (10 places, one weekly session: 10 places
	// per 1,000 residents) in both areas of one decile. By hand, with the
	// most deprived quintile = deciles 1-2 (4 areas) and the least = 9-10:
	// places per 1,000 are 0 in every area but the two served ones, so the
	// served quintile's mean is (10+10+0+0)/4 = 5; every unserved area has
	// no asset within walking distance. Concentration index, equal weights
	// 1/20, μ = 1, decile d ranked at R = (d-1)/10 + 0.05:
	// C = 2 · 2 · (1/20) · 10 · (R − 0.5) = 2(R − 0.5).
	cases := []struct {
		name          string
		servedDecile  int
		places        *sparcv1.QuintileComparison
		share         *sparcv1.QuintileComparison
		concentration float64
	}{
		{"assets only in the least deprived decile", 10,
			&sparcv1.QuintileComparison{MostDeprived: some(0), LeastDeprived: some(5), Ratio: some(0), Gap: some(-5)},
			&sparcv1.QuintileComparison{MostDeprived: some(1), LeastDeprived: some(0.5), Ratio: some(2), Gap: some(0.5)},
			0.9},
		{"assets only in the most deprived decile", 1,
			&sparcv1.QuintileComparison{MostDeprived: some(5), LeastDeprived: some(0), Gap: some(5)}, // no ratio: divide by 0
			&sparcv1.QuintileComparison{MostDeprived: some(0.5), LeastDeprived: some(1), Ratio: some(0.5), Gap: some(-0.5)},
			-0.9},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.NewServer(t)
			ctx := context.Background()
			centres := equityAreas(t, env)
			for i, c := range centres[tc.servedDecile] {
				if _, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
					Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: fmt.Sprintf("Food club %d", i),
					Categories: []string{"food"}, Capacity: proto.Int32(10), OwnerOrganisation: "organisations/" + env.AdminOrg,
					Location: &sparcv1.Location{Latitude: c[0], Longitude: c[1], Country: "GB"},
					Sessions: []*sparcv1.Session{{Day: sparcv1.Weekday_WEEKDAY_FRIDAY, StartTime: "12:00", EndTime: "14:00", Timezone: "Europe/London"}},
				}}); err != nil {
					t.Fatal(err)
				}
			}
			resp, err := sparcv1.NewCoverageServiceClient(env.Conn).ComputeCoverage(ctx,
				&sparcv1.ComputeCoverageRequest{Kind: "test_lsoa", Categories: []string{"food"}})
			if err != nil {
				t.Fatal(err)
			}
			s := resp.GetSummary()
			if s.GetAreas() != 20 || s.GetPopulation() != 20000 || s.GetAreasWithoutAssetWithinWalk() != 18 || s.GetDeprivationAttribute() != "imd_decile" {
				t.Errorf("summary totals: %v", s)
			}
			if len(s.GetDeciles()) != 10 {
				t.Fatalf("%d deciles, want 10", len(s.GetDeciles()))
			}
			for _, d := range s.GetDeciles() {
				wantMean, wantShare := 0.0, 1.0
				if int(d.GetDecile()) == tc.servedDecile {
					wantMean, wantShare = 10, 0
				}
				if d.GetAreas() != 2 || d.GetMeanWeeklyPlacesPer_1000() != wantMean || d.GetShareWithoutAssetWithinWalk() != wantShare {
					t.Errorf("decile %d: %v, want mean %v share %v", d.GetDecile(), d, wantMean, wantShare)
				}
			}
			checkComparison(t, "places_per_1000", s.GetPlacesPer_1000(), tc.places)
			checkComparison(t, "share_without_asset_within_walk", s.GetShareWithoutAssetWithinWalk(), tc.share)
			if s.ConcentrationIndex == nil || math.Abs(s.GetConcentrationIndex()-tc.concentration) > 1e-9 {
				t.Errorf("concentration index %v, want %v", s.ConcentrationIndex, tc.concentration)
			}
		})
	}
}

func checkComparison(t *testing.T, name string, got, want *sparcv1.QuintileComparison) {
	t.Helper()
	for _, f := range []struct {
		field     string
		got, want *float64
	}{
		{"most_deprived", got.MostDeprived, want.MostDeprived},
		{"least_deprived", got.LeastDeprived, want.LeastDeprived},
		{"ratio", got.Ratio, want.Ratio},
		{"gap", got.Gap, want.Gap},
	} {
		switch {
		case (f.got == nil) != (f.want == nil):
			t.Errorf("%s.%s = %v, want %v", name, f.field, f.got, f.want)
		case f.got != nil && math.Abs(*f.got-*f.want) > 1e-9:
			t.Errorf("%s.%s = %v, want %v", name, f.field, *f.got, *f.want)
		}
	}
}

// referralCounts supplies fixed monthly counts, to pin the disclosure
// rule on exact numbers, and records the window it was asked for;
// internal/referrals tests the real counts end to end.
type referralCounts struct {
	monthly  map[string][]int64
	from, to time.Time
}

func (r *referralCounts) ReferralsByArea(_ context.Context, codes []string, from, to time.Time) (map[string][]int64, error) {
	r.from, r.to = from, to
	return r.monthly, nil
}

func TestReferralDemandIsPerThousandWithSmallNumbersSuppressed(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	equityAreas(t, env)
	counts := &referralCounts{monthly: map[string][]int64{"T0000": {12}, "T0001": {4}, "T0002": {1}, "T0003": nil, "T0004": {7},
		"T0005": {8}, "T0006": {13},
		// Over several months each month is a released cell and the
		// figure their sum, a withheld month counting as 4: 4+10 → 15,
		// withheld months only → withheld, 10+10+15 → 35.
		"T0007": {3, 12}, "T0008": {1, 2}, "T0009": {12, 8, 13}}}
	svc := coverage.NewService(env.App.Coverage, counts)
	q, err := coverage.ParseRequest(&sparcv1.ComputeCoverageRequest{Kind: "test_lsoa", WindowStart: "2025-03-10", WindowEnd: "2025-04-02"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Compute(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	resp := res.Proto()
	got := map[string]*float64{}
	for _, a := range resp.GetAreas() {
		got[a.GetCode()] = a.ReferralsPer_1000
	}
	// 1,000 residents each: counts of 1 to 7 are withheld, others rounded
	// to the nearest 5 (12 → 10, 8 → 10, 13 → 15); 0 is published as 0.
	for code, want := range map[string]*float64{"T0000": proto.Float64(10), "T0001": nil, "T0002": nil, "T0003": proto.Float64(0),
		"T0004": nil, "T0005": proto.Float64(10), "T0006": proto.Float64(15),
		"T0007": proto.Float64(15), "T0008": nil, "T0009": proto.Float64(35)} {
		switch g := got[code]; {
		case (g == nil) != (want == nil):
			t.Errorf("%s: referrals_per_1000 = %v, want %v", code, g, want)
		case g != nil && *g != *want:
			t.Errorf("%s: referrals_per_1000 = %v, want %v", code, *g, *want)
		}
	}
	// The window is widened to whole months and said so.
	if from, to := counts.from.Format(time.RFC3339), counts.to.Format(time.RFC3339); from != "2025-03-01T00:00:00Z" || to != "2025-05-01T00:00:00Z" {
		t.Errorf("referral counts asked for [%s, %s), want March and April 2025", from, to)
	}
	if resp.GetReferralWindowStart() != "2025-03-01" || resp.GetReferralWindowEnd() != "2025-04-30" {
		t.Errorf("referral window %q..%q, want 2025-03-01..2025-04-30", resp.GetReferralWindowStart(), resp.GetReferralWindowEnd())
	}

	// A window inside the current month holds no month that has ended: no
	// referral figures at all, whatever the counts.
	today := time.Now().UTC().Format(time.DateOnly)
	q, err = coverage.ParseRequest(&sparcv1.ComputeCoverageRequest{Kind: "test_lsoa", WindowStart: today, WindowEnd: today})
	if err != nil {
		t.Fatal(err)
	}
	if res, err = svc.Compute(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	resp = res.Proto()
	for _, a := range resp.GetAreas() {
		if a.ReferralsPer_1000 != nil {
			t.Errorf("%s: referrals_per_1000 = %v for today, want absent", a.GetCode(), *a.ReferralsPer_1000)
		}
	}
	if resp.GetReferralWindowStart() != "" || resp.GetReferralWindowEnd() != "" {
		t.Errorf("referral window for today %q..%q, want none", resp.GetReferralWindowStart(), resp.GetReferralWindowEnd())
	}
}

func TestSessionWindowCountsOnlySessionsRunningInIt(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	centre := equityAreas(t, env)[10][0] // area T0018
	session := func(from, until string) *sparcv1.Session {
		return &sparcv1.Session{Day: sparcv1.Weekday_WEEKDAY_MONDAY, StartTime: "10:00", EndTime: "11:00",
			Timezone: "Europe/London", ValidFrom: from, ValidUntil: until}
	}
	for i, sessions := range [][]*sparcv1.Session{
		nil,                                   // a garden: always counts, no sessions
		{session("2025-01-01", "2025-12-31")}, // ended before the window
		{session("2026-03-01", ""), session("", "2025-06-30")},           // one of two runs in the window
		{session("2026-01-01", "2026-12-31"), session("2027-01-01", "")}, // one of two runs in the window
	} {
		if _, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
			Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: fmt.Sprintf("Club %d", i), Categories: []string{"food"},
			Capacity: proto.Int32(10), OwnerOrganisation: "organisations/" + env.AdminOrg, Sessions: sessions,
			Location: &sparcv1.Location{Latitude: centre[0] + float64(i)*0.0005, Longitude: centre[1], Country: "GB"},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	c := sparcv1.NewCoverageServiceClient(env.Conn)
	for _, tc := range []struct {
		name            string
		start, end      string
		assets          int32
		sessionsPer1000 float64
	}{
		{"no window: every asset and session", "", "", 4, 5},
		{"2026: the garden and the two clubs running then, one session each", "2026-01-01", "2026-12-31", 3, 2},
		{"open start up to mid-2025", "", "2025-06-30", 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{ParentCode: "", Kind: "test_lsoa",
				Categories: []string{"food"}, WindowStart: tc.start, WindowEnd: tc.end})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range resp.GetAreas() {
				if a.GetCode() != "T0018" {
					continue
				}
				if a.GetAssetsWithinWalk() != tc.assets || a.GetWeeklySessionsPer_1000() != tc.sessionsPer1000 ||
					a.GetWeeklyPlacesPer_1000() != 10*tc.sessionsPer1000 {
					t.Errorf("T0018: %d assets, %v sessions and %v places per 1,000; want %d, %v and %v", a.GetAssetsWithinWalk(),
						a.GetWeeklySessionsPer_1000(), a.GetWeeklyPlacesPer_1000(), tc.assets, tc.sessionsPer1000, 10*tc.sessionsPer1000)
				}
				return
			}
			t.Fatal("area T0018 missing")
		})
	}
	if _, err := c.ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{Kind: "test_lsoa", WindowStart: "2026-13-01"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a bad date: %v, want INVALID_ARGUMENT", err)
	}
}
