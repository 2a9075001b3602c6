package db

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Read replicas. sparcd may be given a second database URL
// (--database-read-url), a streaming replica of the primary (a hot
// standby, a Patroni or CloudNativePG read-only service). There is no
// router deciding per statement where a query goes: the composition root
// opens a second pool with OpenRead and hands it explicitly to the read
// paths that may lag the primary by the replica's replay delay (search,
// listings, Open Referral, coverage and tiles: public directory data).
// Every other path, and every read that follows its caller's own write
// (Get after Create or Update, a referral's history after a change),
// keeps the primary pool. A path that must read a replica after a write
// it knows of waits for the replica with WaitReplayed.

// ReadApplicationName names the read pool's sessions in
// pg_stat_activity, apart from the primary pool's "sparcd".
const ReadApplicationName = "sparcd-read"

// OpenRead opens the pool the application reads from on a replica: like
// OpenAppTraced (row-level security binds every connection as AppRole),
// and every transaction is read-only, so that nothing written through it
// could ever succeed, even when url points at a primary (a read-only
// service that fell back to it). A nil tracer traces nothing.
func OpenRead(ctx context.Context, url string, maxConns int32, tracer pgx.QueryTracer) (*pgxpool.Pool, error) {
	return open(ctx, url, maxConns, AppRole, tracer, map[string]string{
		"application_name":              ReadApplicationName,
		"default_transaction_read_only": "on",
	})
}

// ErrReplicaBehind means a replica did not replay a position of the
// primary's write-ahead log within the bound given to WaitReplayed.
var ErrReplicaBehind = errors.New("read replica has not replayed the write yet")

// WALPosition returns the primary's write-ahead log position after
// everything committed so far, such as the caller's own write: the
// position a replica must replay before it shows the write. It is the
// insert position: the write position (pg_current_wal_lsn) may still be
// short of a commit made with synchronous_commit off.
func WALPosition(ctx context.Context, primary *pgxpool.Pool) (string, error) {
	var lsn string
	if err := primary.QueryRow(ctx, walPositionSQL).Scan(&lsn); err != nil {
		return "", fmt.Errorf("reading WAL position: %w", err)
	}
	return lsn, nil
}

const walPositionSQL = `SELECT pg_current_wal_insert_lsn()::text`

// replayedSQL is true once the server has replayed lsn. A server that is
// not in recovery (the read pool is the primary itself) has everything:
// pg_last_wal_replay_lsn() is then NULL.
const replayedSQL = `SELECT NOT pg_is_in_recovery() OR COALESCE(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)`

// WaitReplayed waits until read's server has replayed the primary's WAL
// up to lsn (from WALPosition), polling every few milliseconds, for at
// most bound: ErrReplicaBehind after that (the caller then reads the
// primary instead, or fails UNAVAILABLE). With a pool on the primary it
// returns at once.
func WaitReplayed(ctx context.Context, read *pgxpool.Pool, lsn string, bound time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	wait := time.Millisecond
	for {
		var done bool
		err := read.QueryRow(ctx, replayedSQL, lsn).Scan(&done)
		switch {
		case err == nil && done:
			return nil
		case err != nil && ctx.Err() == nil:
			return fmt.Errorf("reading replica position: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: position %s after %s", ErrReplicaBehind, lsn, bound)
		case <-time.After(wait):
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
}

// MigrationCount is the number of embedded migrations: a migrated
// database records each once in schema_migrations, however many sparcd
// replicas started on it together.
func MigrationCount() int {
	files, _ := fs.Glob(migrations, "migrations/*.sql")
	return len(files)
}
