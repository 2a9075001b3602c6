// Package coverage answers where community assets are, and are not, across
// a set of neighbourhoods: per area counts inside and within walking
// distance, nearest asset per category, weekly sessions and places per
// 1,000 residents and a coverage score, plus an equity summary by
// deprivation decile. It serves the figures as gRPC/JSON, GeoJSON, CSV and
// Mapbox Vector Tiles, and a small offline map page (/map). The
// computation is planned as several indexed statements on the national
// grid (see Compute); PostGIS builds GeoJSON and MVT, Go streams them.
// It reads areas through the area store and assets through the asset
// store, which hold the SQL; its own tables hold the stored results that
// the Maintainer keeps current from the asset-change outbox (stored.go,
// maintain.go).
package coverage

import (
	"context"
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/disclosure"
)

// ReferralDemand supplies referral-demand figures: the referrals store
// implements it (counting each referral in the area holding its asset) and
// each area gets referrals_per_1000 under the disclosure rule.
type ReferralDemand interface {
	// ReferralsByArea counts referrals per area (by code) made in
	// [from, to), one count per calendar month (UTC) that has any.
	ReferralsByArea(ctx context.Context, codes []string, from, to time.Time) (map[string][]int64, error)
}

// referralWindow is the window referral figures cover for q: its session
// window (open ends: from 1970 to now) widened to whole calendar months
// and cut at the start of the current month (disclosure.Months). Coverage
// is open data, so the map cannot show the day a referral arrives.
func referralWindow(q Query, now time.Time) (from, to time.Time, ok bool) {
	from, to = time.Unix(0, 0).UTC(), now
	if q.WindowStart != "" {
		from, _ = time.Parse(time.DateOnly, q.WindowStart) // checked by ParseRequest
	}
	if q.WindowEnd != "" {
		end, _ := time.Parse(time.DateOnly, q.WindowEnd)
		to = end.AddDate(0, 0, 1)
	}
	return disclosure.Months(from, to, now)
}

// demandRate is the referral rate to publish: each month's count is a
// released cell (1 to 7 withheld, the rest rounded to 5) and the window's
// count their disclosure.Sum, so overlapping windows cannot be differenced
// into a withheld month. Nil when withheld or the population is unknown.
func demandRate(monthly []int64, population int64) *float64 {
	cells := make([]disclosure.Cell, len(monthly))
	for i, n := range monthly {
		cells[i] = disclosure.Count(n)
	}
	c := disclosure.Sum(cells...)
	if c.Withheld {
		return nil
	}
	return rate(float64(c.Value), population)
}

// Service implements sparcv1.CoverageServiceServer.
type Service struct {
	sparcv1.UnimplementedCoverageServiceServer
	store     *Store
	referrals ReferralDemand // nil: no referral figures
	// nil: no demand by home area (demand.go)
	homeDemand HomeDemand
	// nil: no settings calls (settings.go)
	settings *settingsConfig
}

// NewService returns the coverage service; referrals may be nil.
func NewService(store *Store, referrals ReferralDemand) *Service {
	return &Service{store: store, referrals: referrals}
}

// Compute validates nothing: q comes from ParseRequest. It adds referral
// figures when a ReferralDemand is configured.
func (s *Service) Compute(ctx context.Context, q Query) (*Result, error) {
	res, err := s.store.Compute(ctx, q)
	if err != nil {
		return nil, err
	}
	if s.referrals == nil {
		return res, nil
	}
	from, to, ok := referralWindow(q, time.Now())
	if !ok {
		return res, nil // no whole month has ended in the window: no figures
	}
	res.ReferralsFrom, res.ReferralsTo = from, to
	codes := make([]string, len(res.Areas))
	for i, a := range res.Areas {
		codes[i] = a.Code
	}
	counts, err := s.referrals.ReferralsByArea(ctx, codes, from, to)
	if err != nil {
		return nil, err
	}
	for _, a := range res.Areas {
		a.Referrals = demandRate(counts[a.Code], a.Population)
	}
	return res, nil
}

// ComputeCoverage computes coverage for a set of areas.
func (s *Service) ComputeCoverage(ctx context.Context, req *sparcv1.ComputeCoverageRequest) (*sparcv1.ComputeCoverageResponse, error) {
	q, err := ParseRequest(req)
	if err != nil {
		return nil, err
	}
	res, err := s.checkedCompute(ctx, q)
	if err != nil {
		return nil, err
	}
	return res.Proto(), nil
}

// Proto converts the result to its API form.
func (r *Result) Proto() *sparcv1.ComputeCoverageResponse {
	out := &sparcv1.ComputeCoverageResponse{WalkingDistanceMeters: r.Query.WalkMeters, Summary: r.Summary.proto()}
	if !r.ReferralsTo.IsZero() {
		out.ReferralWindowStart = r.ReferralsFrom.Format(time.DateOnly)
		out.ReferralWindowEnd = r.ReferralsTo.AddDate(0, 0, -1).Format(time.DateOnly) // inclusive, as the request's
	}
	if r.Query.SummaryOnly {
		return out
	}
	out.Areas = make([]*sparcv1.AreaCoverage, len(r.Areas))
	for i, a := range r.Areas {
		out.Areas[i] = a.proto(r.Query)
	}
	return out
}

func (a *area) proto(q Query) *sparcv1.AreaCoverage {
	c := &sparcv1.AreaCoverage{
		Code: a.Code, DisplayName: a.DisplayName, Area: areas.Name(a.Code), Kind: a.Kind, ParentCode: a.Parent, Population: a.Population,
		DeprivationValue: a.Deprivation, DeprivationDecile: a.Decile,
		AssetsInside: a.Inside, AssetsWithinWalk: a.Within,
		WeeklySessionsPer_1000: rate(a.Sessions, a.Population),
		WeeklyPlacesPer_1000:   rate(a.Places, a.Population),
		ReferralsPer_1000:      a.Referrals,
		CoverageScore:          score(a, q.WalkMeters),
		ReferenceLatitude:      a.RefLat, ReferenceLongitude: a.RefLng,
		CouncilCode: a.Council, CouncilRank: a.CouncilRank, CouncilAreas: a.CouncilAreas,
	}
	cats := q.Categories
	if len(cats) == 0 {
		cats = []string{""}
	}
	c.Nearest = make([]*sparcv1.CategoryDistance, len(cats))
	for i, cat := range cats {
		c.Nearest[i] = &sparcv1.CategoryDistance{Category: cat, DistanceMeters: a.Nearest[i]}
	}
	return c
}

func (s Summary) proto() *sparcv1.CoverageSummary {
	out := &sparcv1.CoverageSummary{
		Areas: int32(s.Areas), Population: s.Population, AreasWithoutAssetWithinWalk: int32(s.WithoutWalk),
		DeprivationAttribute: s.Measure, ConcentrationIndex: s.ConcentrationIdx,
		PlacesPer_1000:              s.Places.proto(),
		ShareWithoutAssetWithinWalk: s.ShareWithoutWalk.proto(),
	}
	for _, d := range s.Deciles {
		out.Deciles = append(out.Deciles, &sparcv1.DecileSummary{Decile: d.Decile, Areas: int32(d.Areas),
			Population: d.Population, MeanWeeklyPlacesPer_1000: d.MeanPlaces, ShareWithoutAssetWithinWalk: d.ShareWithoutWalk})
	}
	return out
}

func (c Comparison) proto() *sparcv1.QuintileComparison {
	return &sparcv1.QuintileComparison{MostDeprived: c.Most, LeastDeprived: c.Least, Ratio: c.Ratio, Gap: c.Gap}
}
