// Package db opens the PostgreSQL pool, applies the embedded migrations and
// runs transactions. Every store uses InTx so that no handler deals with
// Begin/Commit/Rollback, and transient failures (serialization conflicts,
// deadlocks) are retried in one place.
package db

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects a pool to url and checks the server is reachable.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	return open(ctx, url, maxConns, "", nil, nil)
}

func open(ctx context.Context, url string, maxConns int32, role string, tracer pgx.QueryTracer, params map[string]string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parsing database url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "sparcd"
	cfg.ConnConfig.Tracer = tracer
	for k, v := range params {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	if role != "" {
		cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, "SET ROLE "+pgx.Identifier{role}.Sanitize())
			return err
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("creating pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to database: %w", err)
	}
	return pool, nil
}

// migrationLockKey is the advisory lock that serialises migrations between
// replicas starting at the same time ("SPARC" in ASCII).
const migrationLockKey = 0x5350415243

// Migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own transaction, under an advisory lock.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquiring connection for migrations: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		return fmt.Errorf("taking migration lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLockKey) //nolint:errcheck
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY,
		name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "migrations/"), ".sql")
		version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", f)
		}
		var done bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", version).Scan(&done); err != nil {
			return fmt.Errorf("checking migration %s: %w", name, err)
		}
		if done {
			continue
		}
		sql, err := migrations.ReadFile(f)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
			return err
		})
		if err != nil {
			return fmt.Errorf("applying migration %s: %w", name, err)
		}
	}
	return nil
}

// InTx runs fn in a transaction and commits it, or rolls back when fn fails.
// The transaction carries the caller's identity (WithIdentity) for
// row-level security and runs ctx's pending rider (WithRider), both in the
// round trip that begins it. Serialization failures and deadlocks are
// retried with backoff, so fn must be safe to run again (it only touches
// the database through tx).
func InTx(ctx context.Context, pool *pgxpool.Pool, iso pgx.TxIsoLevel, fn func(pgx.Tx) error) error {
	r := riderFrom(ctx)
	return retry(ctx, func() error {
		carried := r.pending()
		if err := inTx(ctx, pool, beginBatch(iso, IdentityFrom(ctx), r), fn); err != nil {
			return err
		}
		if carried {
			r.written.Store(true)
		}
		return nil
	})
}

// inTx begins the transaction with b, runs fn and commits, like
// pgx.BeginTxFunc: any failure, or a panic in fn, rolls back.
func inTx(ctx context.Context, pool *pgxpool.Pool, b *pgx.Batch, fn func(pgx.Tx) error) (err error) {
	br := pool.SendBatch(ctx, b)
	tx := br.Tx()
	defer func() {
		if rerr := tx.Rollback(ctx); rerr != nil && !errors.Is(rerr, pgx.ErrTxClosed) && err == nil {
			err = rerr
		}
	}()
	if err := br.Close(); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Pipeline sends the statements build queues as one implicit transaction
// in one round trip, after the caller's identity (WithIdentity): all of
// them commit or none does. It suits a change that needs no decision in Go
// between its statements, and is retried like InTx, so build runs again on
// each attempt (callbacks must reset what they set). It does not run ctx's
// rider: a statement that writes the rider's effect itself, only when it
// writes its change, returns from build a function that says, once the
// batch committed, whether it did; Pipeline then records the rider as
// written. build returns nil when it carries no rider.
func Pipeline(ctx context.Context, pool *pgxpool.Pool, build func(*pgx.Batch) (carried func() bool)) error {
	id := IdentityFrom(ctx)
	r := riderFrom(ctx)
	return retry(ctx, func() error {
		b := IdentityBatch(id)
		carried := build(b)
		if err := pool.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if carried != nil && carried() && r.pending() {
			r.written.Store(true)
		}
		return nil
	})
}

// Read sends the reads queue adds (with Queue(...).Query callbacks) as
// one implicit transaction in one round trip, after the caller's identity
// and ctx's pending rider (the call's audit event), which commits with
// the reads or not at all: InTx's guarantees for a read that needs no
// decision in Go between statements, in one round trip instead of three
// (begin, read, commit). It is retried like InTx, so queue runs again on
// each attempt (callbacks must reset what they set). A callback's own
// error (reading a row in Go) comes after PostgreSQL committed: the rider
// is then not recorded as written, so the call's outcome is audited once
// more, never lost.
func Read(ctx context.Context, pool *pgxpool.Pool, queue func(*pgx.Batch)) error {
	id := IdentityFrom(ctx)
	r := riderFrom(ctx)
	return retry(ctx, func() error {
		b := IdentityBatch(id)
		carried := r.pending()
		if carried {
			b.Queue(r.stmt.SQL, r.stmt.Args...)
		}
		queue(b)
		if err := pool.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if carried {
			r.written.Store(true)
		}
		return nil
	})
}

// IdentityBatch returns a batch whose first statement scopes id to the
// batch's implicit transaction (set_config(..., true) = SET LOCAL), for
// the row-level security policies of the statements queued after it.
func IdentityBatch(id Identity) *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue(setIdentitySQL, id.Org, id.Role)
	return b
}

// retry runs attempt until it succeeds, fails for good, or ctx ends:
// serialization failures and deadlocks are retried with backoff, and so are
// lost connections when ctx is Idempotent.
func retry(ctx context.Context, attempt func() error) error {
	attempts := 5
	if isIdempotent(ctx) {
		attempts = 15 // rides out a server restart of several seconds
	}
	var err error
	for i := 0; i < attempts; i++ {
		err = attempt()
		if err != nil && isIdempotent(ctx) && connectionLost(err) {
			// The commit may or may not have happened; an idempotent
			// transaction finds its own earlier result when it runs again.
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(min(time.Duration(1<<i)*50*time.Millisecond, time.Second)):
			}
			continue
		}
		if !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(min(time.Duration(1<<i)*5*time.Millisecond, time.Second)):
		}
	}
	return err
}

type idempotentKey struct{}

// Idempotent marks ctx: transactions under it are safe to run again after
// the connection was lost mid-way (e.g. they are keyed by a request id), so
// InTx retries them on a fresh connection, riding out a database restart.
func Idempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

func isIdempotent(ctx context.Context) bool {
	v, _ := ctx.Value(idempotentKey{}).(bool)
	return v
}

// connectionLost reports failures of the connection rather than of the
// statement: the server went away, was shut down, or is starting up.
func connectionLost(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var netErr net.Error
	return pgconn.SafeToRetry(err) || errors.As(err, &netErr) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "failed to connect")
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return true
		}
	}
	return false
}
