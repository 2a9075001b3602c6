package db

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Pairs runs a query of two columns, a key and its value, on q (a
// transaction, a connection or a pool) and returns the rows as a map: how
// a domain reads, say, the display names of the things a page of rows
// refers to, in one round trip.
func Pairs[K comparable, V any](ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string, args ...any) (map[K]V, error) {
	rows, err := q.Query(ctx, sql, args...)
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

// InTxResult is InTx for a function that computes a value: it returns
// what fn returned in the transaction that committed (fn may run more
// than once, see InTx).
func InTxResult[T any](ctx context.Context, pool *pgxpool.Pool, iso pgx.TxIsoLevel, fn func(pgx.Tx) (T, error)) (T, error) {
	var out T
	err := InTx(ctx, pool, iso, func(tx pgx.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}
