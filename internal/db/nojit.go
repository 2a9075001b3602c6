package db

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// WithoutJIT runs fn in a transaction on b with PostgreSQL's JIT
// compilation off (SET LOCAL). The planner compiles any statement
// estimated above jit_above_cost; a per-row lateral search over a few
// thousand rows (the coverage worker's statements) is estimated at
// 10^5-10^6 and then spends 1-3.6 s compiling what runs in 0.1-1 s.
func WithoutJIT(ctx context.Context, b interface {
	Begin(context.Context) (pgx.Tx, error)
}, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, b, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('jit', 'off', true)`); err != nil {
			return err
		}
		return fn(tx)
	})
}
