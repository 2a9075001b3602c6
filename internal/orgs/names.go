package orgs

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sparc-network/sparc/internal/db"
)

// namesSQL reads organisations' display names (public fields) by id ($1).
const namesSQL = `SELECT id, name FROM organisations WHERE id = ANY ($1)`

// DisplayNames returns the display names of the organisations among ids,
// keyed by id, in one query on tx (the caller's transaction): another
// domain's page of rows naming organisations reads them at once.
func (s *Store) DisplayNames(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	if len(ids) == 0 {
		return map[uuid.UUID]string{}, nil
	}
	out, err := db.Pairs[uuid.UUID, string](ctx, tx, namesSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("reading organisation names: %w", err)
	}
	return out, nil
}
