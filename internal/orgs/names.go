package orgs

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// namesSQL reads organisations' display names (public fields) by id ($1).
const namesSQL = `SELECT id, name FROM organisations WHERE id = ANY ($1)`

// DisplayNames returns the display names of the organisations among ids,
// keyed by id, in one query on tx (the caller's transaction): another
// domain's page of rows naming organisations reads them at once.
func (s *Store) DisplayNames(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	out := make(map[uuid.UUID]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, namesSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("reading organisation names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var n string
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}
