package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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

// AuditRecord is written by InTx inside the transaction it commits, so a
// change and its audit event land together or not at all. Written reports
// whether the event was stored, so the caller does not store it twice.
// Count and Time are set only for an event that stands for several calls
// (denied calls are aggregated): how many, and when the last was made.
type AuditRecord struct {
	Principal, Org, Role, Method, Resource, RequestID, Peer string
	Written                                                 bool
	Count                                                   int       // zero: one call
	Time                                                    time.Time // zero: now
}

type identityKey struct{}
type auditKey struct{}

// WithIdentity returns ctx carrying id for the transactions run under it.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity in ctx (zero when none).
func IdentityFrom(ctx context.Context) Identity {
	id, _ := ctx.Value(identityKey{}).(Identity)
	return id
}

// WithAudit returns ctx with an audit record that the next committed
// transaction writes.
func WithAudit(ctx context.Context, rec *AuditRecord) context.Context {
	return context.WithValue(ctx, auditKey{}, rec)
}

// AuditFrom returns the pending audit record in ctx, or nil.
func AuditFrom(ctx context.Context) *AuditRecord {
	rec, _ := ctx.Value(auditKey{}).(*AuditRecord)
	return rec
}

// beginQuery starts a transaction, scopes the caller's identity to it
// (set_config(..., true) is SET LOCAL) and, for an audited call, writes its
// audit event, all in one round trip: the simple protocol takes several
// statements at once, so values are quoted literals. The event is written
// first but commits only with the change: if the transaction fails, it
// vanishes with it and the caller records the failure instead.
func beginQuery(iso pgx.TxIsoLevel, id Identity, rec *AuditRecord) string {
	var b strings.Builder
	b.WriteString("BEGIN")
	if iso != "" {
		b.WriteString(" ISOLATION LEVEL " + string(iso))
	}
	b.WriteString("; SELECT set_config('sparc.org', " + quote(id.Org) + ", true), set_config('sparc.role', " + quote(id.Role) + ", true)")
	if rec != nil && !rec.Written {
		org := "NULL"
		if rec.Org != "" {
			org = quote(rec.Org) + "::uuid"
		}
		b.WriteString("; INSERT INTO audit_events (principal, organisation_id, role, method, resource, outcome, code, request_id, peer) VALUES (" +
			quote(rec.Principal) + ", " + org + ", " + quote(rec.Role) + ", " + quote(rec.Method) + ", " + quote(rec.Resource) +
			", 'ok', 'OK', " + quote(rec.RequestID) + ", " + quote(rec.Peer) + ")")
	}
	return b.String()
}

// quote makes s a string literal (standard_conforming_strings, the
// default since PostgreSQL 9.1: only quotes need doubling; NUL cannot be
// stored and is dropped).
func quote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, "\x00", ""), "'", "''") + "'"
}

// InsertAudit stores rec with outcome and code, inside tx when tx is a
// transaction (or directly on the pool).
func InsertAudit(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, rec *AuditRecord, outcome, code string) error {
	_, err := q.Exec(ctx, insertAuditSQL, auditArgs(rec, outcome, code)...)
	if err != nil {
		return fmt.Errorf("writing audit event: %w", err)
	}
	return nil
}

// AuditEvent is a record to store with its outcome and code.
type AuditEvent struct {
	Rec           AuditRecord
	Outcome, Code string
}

// InsertAudits stores events in one round trip (a batch; each insert is
// its own statement, so one bad row loses only itself).
func InsertAudits(ctx context.Context, pool *pgxpool.Pool, events []AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for i := range events {
		b.Queue(insertAuditSQL, auditArgs(&events[i].Rec, events[i].Outcome, events[i].Code)...)
	}
	if err := pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("writing %d audit events: %w", len(events), err)
	}
	return nil
}

const insertAuditSQL = `INSERT INTO audit_events
	(principal, organisation_id, role, method, resource, outcome, code, request_id, peer, count, time)
	VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10, COALESCE($11::timestamptz, clock_timestamp()))`

func auditArgs(rec *AuditRecord, outcome, code string) []any {
	var at any
	if !rec.Time.IsZero() {
		at = rec.Time
	}
	return []any{rec.Principal, nullUUID(rec.Org), rec.Role, rec.Method, rec.Resource,
		outcome, code, rec.RequestID, rec.Peer, max(rec.Count, 1), at}
}

func nullUUID(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// OpenApp opens the pool the application serves requests with: every
// connection switches to AppRole, so row-level security applies even when
// url logs in as the schema owner.
func OpenApp(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	return open(ctx, url, maxConns, AppRole)
}
