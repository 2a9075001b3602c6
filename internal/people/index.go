package people

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// indexBatch is how many people one backfill round trip indexes.
const indexBatch = 1000

// IndexNHSNumbers fills the NHS number blind index of people recorded
// before it existed (migration 0051 cannot: the key is not in the
// database). The app runs it at start-up, before serving, so that every
// search and the one-number-per-organisation rule see every person from
// the first call; afterwards it finds nothing to do in one index probe.
// It is idempotent and batched, and safe to run from several replicas at
// once (a row is indexed only while it has no index). People who repeat a
// number already indexed in their organisation (registered twice before
// the rule) stay unindexed and are returned, for an admin to resolve: an
// update giving them another number (or none) indexes them.
func (s *Service) IndexNHSNumbers(ctx context.Context) (indexed int64, duplicates []uuid.UUID, err error) {
	after := uuid.Nil
	for {
		ids, indexes, err := s.unindexed(ctx, after)
		if err != nil || len(ids) == 0 {
			return indexed, duplicates, err
		}
		var n int64
		var dup []uuid.UUID
		if err := s.pool.QueryRow(ctx, setNHSIndexSQL, ids, indexes).Scan(&n, &dup); err != nil {
			return indexed, duplicates, err
		}
		indexed, duplicates = indexed+n, append(duplicates, dup...)
		if len(ids) < indexBatch {
			return indexed, duplicates, nil
		}
		after = ids[len(ids)-1]
	}
}

// unindexed reads the next batch of people after id whose NHS number has
// no index, and computes each index from the opened number.
func (s *Service) unindexed(ctx context.Context, after uuid.UUID) ([]uuid.UUID, [][]byte, error) {
	rows, err := s.pool.Query(ctx, unindexedNHSSQL, after, indexBatch)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var ids []uuid.UUID
	var indexes [][]byte
	for rows.Next() {
		var id, org uuid.UUID
		var sealed []byte
		if err := rows.Scan(&id, &org, &sealed); err != nil {
			return nil, nil, err
		}
		plain, err := s.sealer.Open(sealed, id[:])
		if err != nil {
			// A number the data key cannot open: the key is wrong, and an
			// index made now would be too. Refuse to start.
			return nil, nil, fmt.Errorf("indexing NHS numbers: opening that of person %s: %w", id, err)
		}
		ids, indexes = append(ids, id), append(indexes, s.nhsIndex(org, normaliseNHS(string(plain))))
	}
	return ids, indexes, rows.Err()
}
