package demo

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/sparc-network/sparc/internal/assets"
)

// Load writes the demo directory through store unless it is already there
// (checked by the first demo id), and returns how many assets it added.
func Load(ctx context.Context, store *assets.Store) (int64, error) {
	all, err := Assets()
	if err != nil {
		return 0, err
	}
	if _, err := store.Get(ctx, uuid.MustParse(all[0].GetId())); err == nil {
		return 0, nil
	}
	n, err := store.BulkInsert(ctx, all)
	if err != nil {
		return 0, fmt.Errorf("inserting demo assets: %w", err)
	}
	return n, nil
}
