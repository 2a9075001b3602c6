package db

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Pairs runs a query of two columns, a key and its value, on tx and
// returns the rows as a map: how a domain reads, say, the display names
// of the things a page of rows refers to, in one round trip.
func Pairs[K comparable, V any](ctx context.Context, tx pgx.Tx, sql string, args ...any) (map[K]V, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out := map[K]V{}
	var k K
	var v V
	_, err = pgx.ForEachRow(rows, []any{&k, &v}, func() error {
		out[k] = v
		return nil
	})
	return out, err
}
