package referrals_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/referrals"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestSuppressWithholdsOneToSevenAndRoundsTheRestToFives(t *testing.T) {
	t.Parallel()
	cases := []struct {
		n          int64
		value      int64
		suppressed bool
	}{
		{0, 0, false}, {1, 0, true}, {2, 0, true}, {5, 0, true}, {7, 0, true},
		{8, 10, false}, {9, 10, false}, {10, 10, false}, {11, 10, false}, {12, 10, false}, {13, 15, false},
		{22, 20, false}, {23, 25, false}, {100, 100, false}, {102, 100, false}, {103, 105, false}, {1234, 1235, false},
	}
	for _, c := range cases {
		got := referrals.Suppress(c.n)
		if got.GetValue() != c.value || got.GetSuppressed() != c.suppressed {
			t.Errorf("Suppress(%d) = %d suppressed=%v, want %d suppressed=%v", c.n, got.GetValue(), got.GetSuppressed(), c.value, c.suppressed)
		}
	}
}

// statsWorld: the link-worker service made 13 referrals to the group's
// asset in Birmingham (9 requested, 4 accepted; 8 with ONS4 before and
// after, 3 with SWEMWBS) and 2 to a second asset on the Wirral.
func statsWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t, 0)
	ctx := context.Background()
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC)
	for i := range 13 {
		r := w.refer(t, p, fmt.Sprintf("stats-%d", i))
		if i < 4 {
			if _, err := move(w.group, r.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, ""); err != nil {
				t.Fatal(err)
			}
		}
		if i < 8 {
			out := &sparcv1.RecordOutcomeRequest{Name: r.GetName(),
				Baseline: &sparcv1.WellbeingMeasure{Ons4: []int32{5, 5, 5, 5}},
				FollowUp: &sparcv1.WellbeingMeasure{Ons4: []int32{6, 7, 5, int32(5 - i%2*2)}}}
			if i < 3 {
				out.Baseline.Swemwbs = []int32{2, 2, 2, 2, 2, 2, 2}
				out.FollowUp.Swemwbs = []int32{3, 3, 3, 3, 3, 3, 3}
			}
			if _, err := w.lw.RecordOutcome(ctx, out); err != nil {
				t.Fatal(err)
			}
		}
	}
	wirral, err := w.env.AssetsOf(t, w.groupOrg).CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Wirral walkers", AcceptingReferrals: true, OwnerOrganisation: "organisations/" + w.groupOrg,
		Location: &sparcv1.Location{Latitude: 53.39, Longitude: -3.02, Country: "GB"}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := w.lw.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: fmt.Sprintf("wirral-%d", i),
			Person: p.GetName(), Asset: assetName(wirral)}); err != nil {
			t.Fatal(err)
		}
	}
	// Figures for other organisations cover months that have ended: the
	// world happened in March 2025.
	backdate(t, w, statsMonth)
	return w
}

// statsMonth is when statsWorld's referrals were made.
var statsMonth = time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)

func TestStatsAreExactForTheReferrerAndSuppressedForEveryoneElse(t *testing.T) {
	t.Parallel()
	w := statsWorld(t)
	ctx := context.Background()
	own, err := w.lw.ComputeReferralStats(ctx, &sparcv1.ComputeReferralStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if own.GetSuppressed() || own.GetTotal().GetValue() != 15 || own.GetByStatus()["requested"].GetValue() != 11 ||
		own.GetByStatus()["accepted"].GetValue() != 4 {
		t.Errorf("own stats: %v", own)
	}
	// ONS4 change over 8 people: +1, +2, 0, and the anxiety item -1 on
	// alternate people (mean -1 over 8: 0,-2,0,-2,...).
	wantOns4 := []float64{1, 2, 0, -1}
	for i, m := range own.GetOns4Change() {
		if m.GetMean() != wantOns4[i] || m.GetN().GetValue() != 8 || m.GetSuppressed() {
			t.Errorf("own ONS4 item %d: %v, want mean %v over 8", i, m, wantOns4[i])
		}
	}
	if m := own.GetSwemwbsChange(); m.GetMean() != 7 || m.GetN().GetValue() != 3 || m.GetSuppressed() {
		t.Errorf("own SWEMWBS change: %v, want 7 over 3", m)
	}

	others := map[string]sparcv1.ReferralServiceClient{
		"analyst of another organisation":     w.analyst,
		"link worker of another organisation": w.outside,
		"the provider group":                  w.group,
	}
	for who, c := range others {
		s, err := c.ComputeReferralStats(ctx, &sparcv1.ComputeReferralStatsRequest{Organisation: aip.NameOf(aip.Organisations, w.lwOrg)})
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		// 15 → 15, 11 → 10, 4 withheld; ONS4 n 8 → 10 with the mean shown;
		// SWEMWBS n 3 withheld with its mean.
		if !s.GetSuppressed() || s.GetTotal().GetValue() != 15 || s.GetByStatus()["requested"].GetValue() != 10 ||
			!s.GetByStatus()["accepted"].GetSuppressed() || s.GetByStatus()["accepted"].GetValue() != 0 {
			t.Errorf("%s: counts %v", who, s)
		}
		for i, m := range s.GetOns4Change() {
			if m.GetMean() != wantOns4[i] || m.GetN().GetValue() != 10 || m.GetSuppressed() {
				t.Errorf("%s: ONS4 item %d %v", who, i, m)
			}
		}
		if m := s.GetSwemwbsChange(); !m.GetSuppressed() || m.GetMean() != 0 || !m.GetN().GetSuppressed() {
			t.Errorf("%s: SWEMWBS %v, want withheld", who, m)
		}
		// 4 acceptances: their median would be one of them.
		if own.GetMedianDaysToAcceptance() <= 0 || s.GetMedianDaysToAcceptance() != 0 {
			t.Errorf("%s: median days to acceptance %v (own %v), want withheld over 4", who, s.GetMedianDaysToAcceptance(), own.GetMedianDaysToAcceptance())
		}
	}

	// The period filter: nothing was created before March 2025.
	old, err := w.lw.ComputeReferralStats(ctx, &sparcv1.ComputeReferralStatsRequest{EndTime: timestamppb.New(statsMonth.Add(-time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if old.GetTotal().GetValue() != 0 || len(old.GetByStatus()) != 0 {
		t.Errorf("stats for before March 2025: %v", old)
	}
	if _, err := w.lw.ComputeReferralStats(ctx, &sparcv1.ComputeReferralStatsRequest{StartTime: timestamppb.Now(),
		EndTime: timestamppb.New(time.Now().Add(-time.Hour))}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("end before start: %v, want InvalidArgument", err)
	}
	// Group editors cannot read another organisation's stats exactly by
	// asking for their own organisation either.
	if s, err := w.group.ComputeReferralStats(ctx, &sparcv1.ComputeReferralStatsRequest{}); err != nil || !s.GetSuppressed() {
		t.Errorf("group editor own stats: %v, %v; want suppressed", s, err)
	}
}

func TestAreaStatsCountReferralsToAssetsInsideTheArea(t *testing.T) {
	t.Parallel()
	w := statsWorld(t)
	ctx := context.Background()
	// A square over central Birmingham, stored as the area import does.
	w.env.ImportAreas(t, "msoa", 0, &sparcv1.AreaFeature{Code: "E02999999", DisplayName: "Test Birmingham",
		GeometryGeojson: testenv.Box(-1.95, 52.44, -1.80, 52.52)})
	analyst := sparcv1.NewReferralServiceClient(w.env.ConnWithKey(t, w.env.Key(t, w.env.NewOrg(t, "Public health", "public_health"), auth.RoleAreaAnalyst)))
	for who, c := range map[string]sparcv1.ReferralServiceClient{"analyst": analyst, "referrer": w.lw} {
		s, err := c.ComputeReferralStats(ctx, &sparcv1.ComputeReferralStatsRequest{AreaCode: "E02999999"})
		if err != nil {
			t.Fatal(err)
		}
		// 13 inside (the Wirral two are not): 13 → 15, 9 → 10, 4 withheld;
		// area figures leave the organisation, so even its own are suppressed.
		if !s.GetSuppressed() || s.GetTotal().GetValue() != 15 || s.GetByStatus()["requested"].GetValue() != 10 ||
			!s.GetByStatus()["accepted"].GetSuppressed() {
			t.Errorf("%s: area stats %v", who, s)
		}
	}
	if _, err := analyst.ComputeReferralStats(ctx, &sparcv1.ComputeReferralStatsRequest{AreaCode: "E02000000"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("unknown area: %v, want InvalidArgument", err)
	}
}
