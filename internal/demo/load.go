package demo

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/assets"
)

// Load writes the demo organisations and directory unless they are already
// there (checked by the first demo id), and returns how many assets it
// added. The assets are written as the admin of their owner organisation.
func Load(ctx context.Context, pool *pgxpool.Pool, store *assets.Store) (int64, error) {
	if err := LoadOrgs(ctx, pool); err != nil {
		return 0, err
	}
	ctx = OwnerContext(ctx)
	all, err := Assets()
	if err != nil {
		return 0, err
	}
	if _, err := store.Get(ctx, assets.ID(all[0])); err == nil {
		return 0, nil
	}
	n, err := store.BulkInsert(ctx, all)
	if err != nil {
		return 0, fmt.Errorf("inserting demo assets: %w", err)
	}
	nr, err := loadRemote(ctx, store)
	return n + nr, err
}
