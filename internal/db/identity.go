package db

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AppRole is the PostgreSQL role the application runs as. It owns no table,
// so row-level security binds it.
const AppRole = "sparc_app"

// Identity is who a transaction acts for; InTx hands it to PostgreSQL
// (set_config(..., true) = SET LOCAL) for the row-level security policies.
type Identity struct {
	Org  string // organisation UUID; empty for none
	Role string // admin, link_worker, group_editor, area_analyst; empty for none
}

type identityKey struct{}
type riderKey struct{}

// WithIdentity returns ctx carrying id for the transactions run under it.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity in ctx (zero when none).
func IdentityFrom(ctx context.Context) Identity {
	id, _ := ctx.Value(identityKey{}).(Identity)
	return id
}

// setIdentitySQL scopes an identity to the transaction it runs in
// (set_config(..., true) = SET LOCAL).
const setIdentitySQL = `SELECT set_config('sparc.org', $1, true), set_config('sparc.role', $2, true)`

// Statement is one parameterised SQL statement.
type Statement struct {
	SQL  string
	Args []any
}

// Rider is a statement that rides with the first transaction InTx commits
// under a context (WithRider): it is sent in the same round trip as the
// transaction's BEGIN and commits with the transaction's work or not at
// all. The authorisation layer uses it for a call's audit event, so a
// change never lands without its event. Whether it was written is state
// of the rider that only this package sets; whoever made the rider reads
// it (Written) to learn whether it must still record something itself.
type Rider struct {
	stmt    Statement
	written atomic.Bool
}

// NewRider returns a rider that runs stmt.
func NewRider(stmt Statement) *Rider { return &Rider{stmt: stmt} }

// Written reports whether a transaction carrying the rider committed.
func (r *Rider) Written() bool { return r != nil && r.written.Load() }

// pending reports whether r is still to be written.
func (r *Rider) pending() bool { return r != nil && !r.written.Load() }

// WithRider returns ctx whose next committed transaction runs r.
func WithRider(ctx context.Context, r *Rider) context.Context {
	return context.WithValue(ctx, riderKey{}, r)
}

// WithoutRider returns ctx whose transactions run no rider: for a read
// that must not carry the call's event (it is recorded after the read).
func WithoutRider(ctx context.Context) context.Context {
	return context.WithValue(ctx, riderKey{}, (*Rider)(nil))
}

// RiderPending reports whether ctx carries a rider not yet written, that
// is whether the next transaction under ctx will write it.
func RiderPending(ctx context.Context) bool { return riderFrom(ctx).pending() }

func riderFrom(ctx context.Context) *Rider {
	r, _ := ctx.Value(riderKey{}).(*Rider)
	return r
}

// OpenApp opens the pool the application serves requests with: every
// connection switches to AppRole, so row-level security applies even when
// url logs in as the schema owner.
func OpenApp(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	return open(ctx, url, maxConns, AppRole, nil, nil)
}

// OpenAppTraced is OpenApp with tracer on every connection (query spans,
// internal/telemetry); a nil tracer traces nothing.
func OpenAppTraced(ctx context.Context, url string, maxConns int32, tracer pgx.QueryTracer) (*pgxpool.Pool, error) {
	return open(ctx, url, maxConns, AppRole, tracer, nil)
}

// beginBatch returns the batch that begins a transaction with iso, scopes
// id to it and runs the pending rider r: one round trip, all parameterised.
// The rider runs first but commits only with the transaction's work: if
// the transaction fails, it vanishes with it.
func beginBatch(iso pgx.TxIsoLevel, id Identity, r *Rider) *pgx.Batch {
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{IsoLevel: iso})
	b.Queue(setIdentitySQL, id.Org, id.Role)
	if r.pending() {
		b.Queue(r.stmt.SQL, r.stmt.Args...)
	}
	return b
}
