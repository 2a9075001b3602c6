package coverage

import (
	"context"
	"fmt"
	"runtime"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/assets"
)

// Store reads what coverage is computed from: areas through the area
// store and assets through the asset store, which own their tables and
// the SQL over them. Coverage's own tables hold the stored results
// (stored.go).
type Store struct {
	db     *pgxpool.Pool
	areas  *areas.Store
	assets *assets.Store
	// parallel bounds the statements one computation runs at once.
	parallel int
	// stored: answer from the stored results when they can (sparcd, with
	// a Maintainer keeping them current); false: always from scratch.
	stored bool
}

// NewStore returns a store over pool running up to parallel statements
// of one computation at a time; 0 means one per CPU (2 to 8).
func NewStore(pool *pgxpool.Pool, parallel int) *Store {
	if parallel <= 0 {
		parallel = min(8, max(2, runtime.NumCPU()))
	}
	return &Store{db: pool, areas: areas.NewStore(pool), assets: assets.NewStore(pool), parallel: parallel}
}

// WithStoredResults returns a copy of s that answers from the stored
// results when they can answer (see fromStored); a Maintainer must keep
// them current.
func (s *Store) WithStoredResults() *Store {
	c := *s
	c.stored = true
	return &c
}

// area is one area of a computation: what is read about it and what is
// computed for it.
type area struct {
	areas.CoverageArea

	Inside, Within   int32
	Sessions, Places float64
	Nearest          []*float64 // per category of the query
	Decile           int32
	Referrals        *float64 // per 1,000, when a ReferralDemand is configured
	// Rank among the computation's areas of its council and kind (1 =
	// least served) and how many there are; 0 without a council.
	CouncilRank, CouncilAreas int32
}

// loadAreas reads the area set of q (one more than maxAreas tells the
// caller it is too many), in code order.
func (s *Store) loadAreas(ctx context.Context, q Query) ([]*area, error) {
	list, err := s.areas.CoverageAreas(ctx, areas.AreaSet{Parent: q.Parent, Kind: q.Kind, Council: q.Council, BBox: q.BBox}, maxAreas+1)
	if err != nil {
		return nil, err
	}
	out := make([]*area, len(list))
	for i, a := range list {
		out[i] = &area{CoverageArea: *a}
	}
	return out, nil
}

// assetFilter is the asset store's filter for q.
func assetFilter(q Query) assets.CoverageFilter {
	return assets.CoverageFilter{Categories: q.Categories, WindowStart: q.WindowStart, WindowEnd: q.WindowEnd}
}

// fingerprint changes whenever assets, areas or deprivation measures
// change, and with stored results whenever they do (a change is applied
// after the asset's write, so a tile computed in between must not stay).
func (s *Store) fingerprint(ctx context.Context) (string, error) {
	a, err := s.assets.Fingerprint(ctx)
	if err != nil {
		return "", err
	}
	b, err := s.areas.Fingerprint(ctx)
	if err != nil {
		return "", err
	}
	if !s.stored {
		return a + "|" + b, nil
	}
	g, err := s.currentGeneration(ctx)
	if err != nil || g == nil {
		return a + "|" + b, err
	}
	return fmt.Sprintf("%s|%s|%d:%d:%d", a, b, g.ID, g.Cursor.TxID, g.Cursor.Seq), nil
}
