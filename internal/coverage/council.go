package coverage

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/areas"
)

// checkedCompute is Compute for the JSON answer and the downloads, which
// refuse a kind or council without areas (see checkSet). Tiles do not: a
// map layer over a place without areas is just empty.
func (s *Service) checkedCompute(ctx context.Context, q Query) (*Result, error) {
	if err := s.store.checkSet(ctx, q); err != nil {
		return nil, err
	}
	return s.Compute(ctx, q)
}

// checkSet refuses a kind no area has and a council no area belongs to:
// either is a typo whose answer would be an empty set, which a download
// cannot tell from a place without areas.
func (s *Store) checkSet(ctx context.Context, q Query) error {
	var v apierr.InvalidArgument
	if q.Kind != "" {
		ok, err := s.areas.KindExists(ctx, q.Kind)
		if err != nil {
			return err
		}
		if !ok {
			v.Add("kind", "no areas of kind %q are loaded (documented kinds: %s)", q.Kind, strings.Join(areas.KnownKinds, ", "))
		}
	}
	if q.Council != "" {
		ok, err := s.areas.CouncilExists(ctx, q.Council)
		if err != nil {
			return err
		}
		if !ok {
			v.Add("council", "no areas belong to council %q (a local authority code such as E08000025, or a gemeente code such as GM0599)", q.Council)
		}
	}
	return v.Err()
}

// rankWithinCouncils ranks each area among the computation's areas of
// the same council and kind, 1 = least served: lowest coverage score,
// then fewest weekly places per 1,000 (unknown population counts as
// none), then fewest assets within walking distance, then code, so ranks
// are unique and stable. Areas without a council get no rank.
func rankWithinCouncils(list []*area, walk float64) {
	groups := map[[2]string][]*area{}
	for _, a := range list {
		if a.Council != "" {
			k := [2]string{a.Council, a.Kind}
			groups[k] = append(groups[k], a)
		}
	}
	for _, g := range groups {
		slices.SortFunc(g, func(x, y *area) int {
			return cmp.Or(
				cmp.Compare(score(x, walk), score(y, walk)),
				cmp.Compare(placesRate(x), placesRate(y)),
				cmp.Compare(x.Within, y.Within),
				strings.Compare(x.Code, y.Code))
		})
		for i, a := range g {
			a.CouncilRank, a.CouncilAreas = int32(i+1), int32(len(g))
		}
	}
}

// placesRate is the area's weekly places per 1,000, 0 when unknown.
func placesRate(a *area) float64 {
	if r := rate(a.Places, a.Population); r != nil {
		return *r
	}
	return 0
}
