package people

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// HomeAreaFinder derives a home area (the code of the LSOA or buurt a
// postcode lies in, "" for none) from a postcode: postcodes.HomeAreas.
type HomeAreaFinder interface {
	HomeArea(ctx context.Context, postcode string) (string, error)
}

// WithHomeAreas makes the service keep each person's home area, for
// demand where people live (docs/coverage.md). Only the area's code is
// stored, never the postcode's point.
func (s *Service) WithHomeAreas(h HomeAreaFinder) *Service {
	s.homes = h
	return s
}

// homeArea is what a write stores as the person's home area: set says the
// postcode was written, code is the area (nil: not derived, left to the
// start-up backfill; "" none).
type homeArea struct {
	set  bool
	code *string
}

// homeOf derives the home area of postcode; without a finder it is left
// unset (NULL), for PlaceHomes to fill.
func (s *Service) homeOf(ctx context.Context, postcode string) (homeArea, error) {
	if s.homes == nil {
		return homeArea{set: true}, nil
	}
	code, err := s.homes.HomeArea(ctx, postcode)
	if err != nil {
		return homeArea{}, fmt.Errorf("finding the home area of a person's postcode: %w", err)
	}
	return homeArea{set: true, code: &code}, nil
}

// placeBatch is how many people one backfill round trip places.
const placeBatch = 1000

// PlaceHomes gives people recorded before home areas were kept (or while
// no finder was configured) theirs, and copies it to their referrals made
// before then. The app runs it at start-up, before serving; afterwards it
// finds nothing to do in one index probe. Idempotent, batched and safe
// from several replicas at once (a person is placed only while unplaced).
// The postcode is not sealed, so the server can read it; people without
// one get none.
func (s *Service) PlaceHomes(ctx context.Context) (placed int64, err error) {
	if s.homes == nil {
		return 0, nil
	}
	after := uuid.Nil
	for {
		ids, codes, err := s.unplaced(ctx, after)
		if err != nil || len(ids) == 0 {
			return placed, err
		}
		var n int64
		if err := s.pool.QueryRow(ctx, setHomeAreasSQL, ids, codes).Scan(&n); err != nil {
			return placed, fmt.Errorf("placing people's home areas: %w", err)
		}
		placed += n
		if len(ids) < placeBatch {
			return placed, nil
		}
		after = ids[len(ids)-1]
	}
}

// unplaced reads the next batch of unplaced people after id and derives
// each one's home area (one lookup per distinct postcode of the batch).
func (s *Service) unplaced(ctx context.Context, after uuid.UUID) ([]uuid.UUID, []string, error) {
	type row struct {
		id       uuid.UUID
		postcode string
	}
	rows, err := s.pool.Query(ctx, unplacedSQL, after, placeBatch)
	if err != nil {
		return nil, nil, err
	}
	var batch []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.postcode); err != nil {
			rows.Close()
			return nil, nil, err
		}
		batch = append(batch, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	ids, codes := make([]uuid.UUID, len(batch)), make([]string, len(batch))
	known := map[string]string{}
	for i, r := range batch {
		code, ok := known[r.postcode]
		if !ok {
			if code, err = s.homes.HomeArea(ctx, r.postcode); err != nil {
				return nil, nil, fmt.Errorf("placing people's home areas: %w", err)
			}
			known[r.postcode] = code
		}
		ids[i], codes[i] = r.id, code
	}
	return ids, codes, nil
}
