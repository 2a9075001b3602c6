package assets

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// manySQL reads assets by id ($1), for another domain's page of rows
// that name assets (a page of referrals): one query per page.
const manySQL = `SELECT ` + selectColumns + ` FROM assets a WHERE a.id = ANY ($1)`

// Many returns the assets among ids, keyed by id, in one query on tx (the
// caller's transaction and identity). Missing ones are absent.
func (s *Store) Many(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) (map[uuid.UUID]*sparcv1.Asset, error) {
	out := make(map[uuid.UUID]*sparcv1.Asset, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, manySQL, ids)
	if err != nil {
		return nil, fmt.Errorf("reading assets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r row
		if err := rows.Scan(r.targets()...); err != nil {
			return nil, fmt.Errorf("reading assets: %w", err)
		}
		a, err := r.asset()
		if err != nil {
			return nil, err
		}
		out[r.id] = a
	}
	return out, rows.Err()
}
