package reports

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// fixed is test data for the renderer: Sources that answer with fixed
// messages, as the analytics and coverage services would for one area
// and window, and note what they were asked. (The services themselves
// are tested in their packages; the lead's end-to-end test runs the
// report over them.)
type fixed struct {
	mu       sync.Mutex
	coverage *sparcv1.ComputeCoverageResponse
	networks map[string]*sparcv1.ReferralNetwork // by window
	outcomes *sparcv1.OutcomeEvidence
	err      error // returned by every call when set
	// coverageFor answers ComputeCoverage when set.
	coverageFor func(*sparcv1.ComputeCoverageRequest) (*sparcv1.ComputeCoverageResponse, error)

	asked struct {
		coverage []*sparcv1.ComputeCoverageRequest
		network  []*sparcv1.GetReferralNetworkRequest
		outcomes []*sparcv1.GetOutcomeEvidenceRequest
	}
}

func (s *fixed) GetReferralNetwork(_ context.Context, r *sparcv1.GetReferralNetworkRequest) (*sparcv1.ReferralNetwork, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked.network = append(s.asked.network, r)
	if s.err != nil {
		return nil, s.err
	}
	if n, ok := s.networks[r.GetWindow()]; ok {
		return n, nil
	}
	return &sparcv1.ReferralNetwork{Window: r.GetWindow(), Area: r.GetArea(), Measures: &sparcv1.NetworkMeasures{}}, nil
}

func (s *fixed) GetOutcomeEvidence(_ context.Context, r *sparcv1.GetOutcomeEvidenceRequest) (*sparcv1.OutcomeEvidence, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked.outcomes = append(s.asked.outcomes, r)
	if s.err != nil {
		return nil, s.err
	}
	return s.outcomes, nil
}

func (s *fixed) ComputeCoverage(_ context.Context, r *sparcv1.ComputeCoverageRequest) (*sparcv1.ComputeCoverageResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked.coverage = append(s.asked.coverage, r)
	if s.err != nil {
		return nil, s.err
	}
	if s.coverageFor != nil {
		return s.coverageFor(r)
	}
	return s.coverage, nil
}

func count(v int64) *sparcv1.StatCount { return &sparcv1.StatCount{Value: v} }

var suppressedCount = &sparcv1.StatCount{Suppressed: true}

func f64(x float64) *float64 { return &x }

func ts(s string) *timestamppb.Timestamp {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return timestamppb.New(t)
}

// The fixture's area: a council with four neighbourhoods, in the third
// quarter of 2026.
const (
	fixtureArea   = "E08000099"
	fixtureWindow = "2026-Q3"
)

// fixture is a small neighbourhood: two public link-worker services, one
// anonymous GP practice, three public groups; a coverage of four
// neighbourhoods, one of them (the most deprived) with no asset within
// walking distance; outcomes with a suppressed quintile.
func fixture() *fixed {
	node := func(id, name string, kind sparcv1.NetworkNodeKind, q int32, in, out int64) *sparcv1.NetworkNode {
		n := &sparcv1.NetworkNode{Id: id, DisplayName: name, Kind: kind, Anonymous: name == "", DeprivationQuintile: q,
			StrengthIn: count(in), StrengthOut: count(out)}
		if in > 0 {
			n.DegreeIn = 2 // every group here has two referrers
		}
		if out > 0 {
			n.DegreeOut = 2 // every referrer here refers to two groups
		}
		return n
	}
	ref, grp := sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_REFERRER, sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_GROUP
	edge := func(s, t string, n int64) *sparcv1.NetworkEdge {
		return &sparcv1.NetworkEdge{Source: s, Target: t, Referrals: count(n)}
	}
	now := &sparcv1.ReferralNetwork{
		Window: fixtureWindow, StartTime: ts("2026-07-01"), EndTime: ts("2026-10-01"), Area: fixtureArea,
		Nodes: []*sparcv1.NetworkNode{
			node("org-lw1", "Wellbeing Link North", ref, 1, 0, 60),
			node("org-lw2", "Wellbeing Link South", ref, 3, 0, 25),
			node("anon-7f3k2q9z", "", ref, 2, 0, 15),
			node("org-g1", "Walking Group Aston", grp, 1, 45, 0),
			node("org-g2", "Café Één Repair Café", grp, 2, 40, 0),
			node("org-g3", "Men's Shed Digbeth", grp, 4, 15, 0),
		},
		Edges: []*sparcv1.NetworkEdge{
			edge("org-lw1", "org-g1", 35), edge("org-lw1", "org-g2", 25),
			edge("org-lw2", "org-g2", 15), edge("org-lw2", "org-g3", 10),
			edge("anon-7f3k2q9z", "org-g1", 10), edge("anon-7f3k2q9z", "org-g3", 5),
		},
		Measures: &sparcv1.NetworkMeasures{Nodes: 6, Edges: 6, Density: 0.2, Reciprocity: 0, TopDecileShare: 0.45,
			CrossQuintileShare: 0.8333, NewTies: 2, LostTies: 1, Referrals: count(1234)},
		Changes: []*sparcv1.TieChange{
			{Source: "anon-7f3k2q9z", Target: "org-g3", Kind: sparcv1.TieChangeKind_TIE_CHANGE_KIND_FORMED, Before: count(0), After: count(5)},
			{Source: "org-lw1", Target: "org-g1", Kind: sparcv1.TieChangeKind_TIE_CHANGE_KIND_STRENGTHENED, Before: count(20), After: count(35)},
			{Source: "org-lw2", Target: "org-g2", Kind: sparcv1.TieChangeKind_TIE_CHANGE_KIND_WEAKENED, Before: count(30), After: count(15)},
			{Source: "org-lw2", Target: "org-gone", Kind: sparcv1.TieChangeKind_TIE_CHANGE_KIND_LOST, Before: suppressedCount, After: count(0)},
		},
		Suppressed: true,
	}
	before := &sparcv1.ReferralNetwork{
		Window: "2026-Q2", StartTime: ts("2026-04-01"), EndTime: ts("2026-07-01"), Area: fixtureArea,
		Measures: &sparcv1.NetworkMeasures{Nodes: 5, Edges: 5, Density: 0.25, Reciprocity: 0.1, TopDecileShare: 0.5,
			CrossQuintileShare: 0.6, NewTies: 0, LostTies: 3, Referrals: count(987)},
	}
	est := func(v, lo, hi float64) *sparcv1.Estimate { return &sparcv1.Estimate{Value: v, CiLow: lo, CiHigh: hi} }
	group := func(key, label string, n int64, sw *sparcv1.Estimate) *sparcv1.OutcomeGroup {
		g := &sparcv1.OutcomeGroup{Key: key, Label: label, N: count(n), SwemwbsChange: sw, SwemwbsImprovedShare: est(0.55, 0.45, 0.65)}
		if n == 0 {
			g.N, g.SwemwbsChange, g.SwemwbsImprovedShare = suppressedCount, &sparcv1.Estimate{Suppressed: true}, &sparcv1.Estimate{Suppressed: true}
		}
		return g
	}
	overall := group("all", "", 1234, est(2.4, 1.1, 3.7))
	overall.Ons4Change = []*sparcv1.Estimate{est(1.25, 0.5, 2), est(0.8, 0.1, 1.5), est(1.1, 0.3, 1.9), est(-1.3, -2.1, -0.5)}
	for _, e := range overall.Ons4Change {
		e.N = count(1185) // fewer than the group's 1,234: ONS4 not always recorded
	}
	outcomes := &sparcv1.OutcomeEvidence{
		Window: fixtureWindow, Area: fixtureArea, StartTime: ts("2026-07-01"), EndTime: ts("2026-10-01"),
		Overall: overall,
		ByQuintile: []*sparcv1.OutcomeGroup{
			group("1", "Quintile 1 (most deprived)", 600, est(3.1, 1.5, 4.7)),
			group("2", "Quintile 2", 0, nil),
			group("3", "Quintile 3", 400, est(1.8, -0.2, 3.8)),
		},
		ByCategory: []*sparcv1.OutcomeGroup{group("physical_activity", "Physical activity", 700, est(2.9, 1.2, 4.6))},
		ByProvider: []*sparcv1.OutcomeGroup{group("anon-p9r8s7t6", "", 300, est(-0.5, -2.5, 1.5))},
		Suppressed: true,
	}
	area := func(code, name string, decile, inside, walk int32, places, score float64) *sparcv1.AreaCoverage {
		return &sparcv1.AreaCoverage{Code: code, DisplayName: name, Kind: "msoa", ParentCode: fixtureArea, Population: 8000,
			DeprivationDecile: decile, AssetsInside: inside, AssetsWithinWalk: walk, WeeklyPlacesPer_1000: f64(places), CoverageScore: score}
	}
	coverage := &sparcv1.ComputeCoverageResponse{
		WalkingDistanceMeters: 800,
		Areas: []*sparcv1.AreaCoverage{
			area("E02000001", "Aston North", 1, 0, 0, 0, 0),
			area("E02000002", "Aston South", 2, 3, 7, 12.5, 100),
			area("E02000003", "Digbeth", 5, 1, 4, 4.25, 50),
			area("E02000004", "Sutton Park", 10, 2, 9, 20, 100),
		},
		Summary: &sparcv1.CoverageSummary{
			Areas: 4, Population: 12345, AreasWithoutAssetWithinWalk: 1, DeprivationAttribute: "imd_score",
			Deciles: []*sparcv1.DecileSummary{
				{Decile: 1, Areas: 1, Population: 8000, MeanWeeklyPlacesPer_1000: f64(0), ShareWithoutAssetWithinWalk: 1},
				{Decile: 2, Areas: 1, Population: 8000, MeanWeeklyPlacesPer_1000: f64(12.5)},
				{Decile: 5, Areas: 1, Population: 8000, MeanWeeklyPlacesPer_1000: f64(4.25)},
				{Decile: 10, Areas: 1, Population: 8000, MeanWeeklyPlacesPer_1000: f64(1234.5)},
			},
			PlacesPer_1000:              &sparcv1.QuintileComparison{MostDeprived: f64(6.25), LeastDeprived: f64(20), Ratio: f64(0.3125), Gap: f64(-13.75)},
			ShareWithoutAssetWithinWalk: &sparcv1.QuintileComparison{MostDeprived: f64(0.5), LeastDeprived: f64(0), Gap: f64(0.5)},
			ConcentrationIndex:          f64(0.125),
		},
	}
	return &fixed{coverage: coverage, outcomes: outcomes,
		networks: map[string]*sparcv1.ReferralNetwork{fixtureWindow: now, "2026-Q2": before}}
}

// serve runs the report's routes on a test server over src.
func serve(t *testing.T, src Sources) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for _, r := range NewHTTP(src, nil).Routes() {
		mux.Handle(r.Pattern, r.Handler)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// get asks srv for path with the headers given as name, value pairs.
func get(t *testing.T, srv *httptest.Server, path string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func reportPath(q string) string { return fmt.Sprintf("/v1/reports/neighbourhood?%s", q) }
