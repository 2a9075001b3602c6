package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/testenv"
)

// riderPool returns a pool on a fresh database with a table for a rider to
// write: the text it was given, its transaction and the identity it saw.
func riderPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := testenv.NewPool(t)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE ride (what text, tx xid8, org text, by_rider bool)`); err != nil {
		t.Fatal(err)
	}
	return pool
}

// hostile is text that breaks SQL built by hand; a parameterised
// statement stores it as it is.
const hostile = `o'neil\'); DELETE FROM ride; -- $1 \x`

func rideRider(what string) *db.Rider {
	return db.NewRider(db.Statement{
		SQL:  `INSERT INTO ride VALUES ($1, pg_current_xact_id(), current_setting('sparc.org', true), true)`,
		Args: []any{what},
	})
}

func rides(t *testing.T, pool *pgxpool.Pool) (riders, work int, sameTx, sawOrg bool) {
	t.Helper()
	err := pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE by_rider), count(*) FILTER (WHERE NOT by_rider),
		count(DISTINCT tx) <= 1, COALESCE(bool_and(org = 'org-1' OR NOT by_rider) AND bool_and(what = $1 OR NOT by_rider), true)
		FROM ride`, hostile).Scan(&riders, &work, &sameTx, &sawOrg)
	if err != nil {
		t.Fatal(err)
	}
	return riders, work, sameTx, sawOrg
}

// The rider commits with the first transaction that commits under its
// context, in that transaction, after the identity is set, and only once;
// a failed transaction takes it with it.
func TestRiderWritesOnceWithTheFirstCommittedTransaction(t *testing.T) {
	t.Parallel()
	pool := riderPool(t)
	r := rideRider(hostile)
	ctx := db.WithRider(db.WithIdentity(context.Background(), db.Identity{Org: "org-1"}), r)
	work := func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO ride VALUES ('work', pg_current_xact_id(), '', false)`)
		return err
	}

	failed := errors.New("the work failed")
	err := db.InTx(ctx, pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		if err := work(tx); err != nil {
			return err
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("InTx: %v, want %v", err, failed)
	}
	if n, w, _, _ := rides(t, pool); n != 0 || w != 0 || r.Written() || !db.RiderPending(ctx) {
		t.Fatalf("after a failed transaction: %d rider rows, %d work rows, written %v; want none", n, w, r.Written())
	}

	if err := db.InTx(ctx, pool, pgx.ReadCommitted, work); err != nil {
		t.Fatal(err)
	}
	n, w, sameTx, ok := rides(t, pool)
	if n != 1 || w != 1 || !sameTx || !ok || !r.Written() || db.RiderPending(ctx) {
		t.Fatalf("after a commit: %d rider rows, %d work rows, same transaction %v, text and identity kept %v, written %v; want one of each in one transaction",
			n, w, sameTx, ok, r.Written())
	}

	// Later transactions under the same context do not write it again.
	if err := db.InTx(ctx, pool, pgx.ReadCommitted, func(pgx.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n, _, _, _ := rides(t, pool); n != 1 {
		t.Fatalf("after a second transaction: %d rider rows, want 1", n)
	}
}

// A read that must not carry the call's event runs without the rider.
func TestWithoutRiderLeavesTheRiderPending(t *testing.T) {
	t.Parallel()
	pool := riderPool(t)
	r := rideRider(hostile)
	ctx := db.WithRider(context.Background(), r)
	if err := db.InTx(db.WithoutRider(ctx), pool, pgx.ReadCommitted, func(pgx.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n, _, _, _ := rides(t, pool); n != 0 || r.Written() {
		t.Fatalf("%d rider rows, written %v; want none", n, r.Written())
	}
}

// A pipeline whose statements do the rider's work themselves reports it,
// and the rider counts as written only when they did and committed.
func TestPipelineRecordsARiderItsStatementsCarried(t *testing.T) {
	t.Parallel()
	pool := riderPool(t)
	r := rideRider(hostile)
	ctx := db.WithRider(context.Background(), r)
	wrote := false
	if err := db.Pipeline(ctx, pool, func(b *pgx.Batch) func() bool {
		b.Queue(`INSERT INTO ride SELECT $1, pg_current_xact_id(), '', true WHERE false`, hostile)
		return func() bool { return wrote }
	}); err != nil {
		t.Fatal(err)
	}
	if r.Written() {
		t.Fatal("rider written by a pipeline that says it did not carry it")
	}
	wrote = true
	if err := db.Pipeline(ctx, pool, func(b *pgx.Batch) func() bool {
		b.Queue(`SELECT 1`)
		return func() bool { return wrote }
	}); err != nil {
		t.Fatal(err)
	}
	if !r.Written() || db.RiderPending(ctx) {
		t.Fatal("rider not recorded as written after a pipeline that carried it")
	}
	// InTx does not write it again.
	if err := db.InTx(ctx, pool, pgx.ReadCommitted, func(pgx.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n, _, _, _ := rides(t, pool); n != 0 {
		t.Fatalf("%d rider rows after InTx, want 0 (the pipeline carried it)", n)
	}
}
