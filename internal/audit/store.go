// Package audit owns the append-only audit trail: its store is the only
// code that touches audit_events, and its service lists them. The
// authorisation layer (internal/auth) decides what is audited and writes
// through this store, which app wiring hands it as its auth.AuditLog: an
// audited change's event rides with the change's own transaction
// (Statement, run by db.InTx), reads, failures and denials are inserted
// on their own (Insert, batched for the summed denials). An
// organisation's admin reads the events of its own organisation's
// principals; the network admin reads the whole network's, anonymous calls
// included. Reading it is itself audited.
package audit

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
)

// Store is the SQL side of the audit trail.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a store over pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// insertSQL is the one statement that writes the trail. An event without
// a time is stamped when it is written (clock_timestamp, not the
// transaction's start).
const insertSQL = `INSERT INTO audit_events
	(principal, organisation_id, role, method, resource, outcome, code, request_id, peer, count, time,
		principal_display_name)
	VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10, COALESCE($11::timestamptz, clock_timestamp()), $12)`

// listSQL pages through the trail newest first. Every filter is optional
// (NULL: not applied); $7 confines the page to one organisation's events.
const listSQL = `SELECT id, time, principal, COALESCE(organisation_id::text, ''), role, method,
		resource, outcome, code, request_id, peer, count, principal_display_name
	FROM audit_events
	WHERE ($1::timestamptz IS NULL OR time >= $1)
		AND ($2::timestamptz IS NULL OR time < $2)
		AND ($3::text IS NULL OR principal = $3)
		AND ($4::text IS NULL OR resource = $4)
		AND ($5::text IS NULL OR outcome = $5)
		AND ($6::bigint IS NULL OR id < $6)
		AND ($7::uuid IS NULL OR organisation_id = $7)
		AND ($9::text IS NULL OR method = $9 OR (right($9, 1) = '/' AND starts_with(method, $9)))
	ORDER BY id DESC LIMIT $8`

// Statement returns the insert of ev, for db.InTx to run in the round trip
// that begins the call's transaction (see db.Rider).
func (s *Store) Statement(ev auth.AuditEvent) db.Statement {
	var at any
	if !ev.Time.IsZero() {
		at = ev.Time
	}
	return db.Statement{SQL: insertSQL, Args: []any{text(ev.Principal), nullable(ev.Org), text(ev.Role), text(ev.Method),
		text(ev.Resource), text(ev.Outcome), text(ev.Code), text(ev.RequestID), text(ev.Peer), max(ev.Count, 1), at,
		text(ev.DisplayName)}}
}

// text drops NUL, which PostgreSQL cannot store in text: a call naming a
// resource with one must still be audited, and an audited change must not
// fail for it.
func text(s string) string { return strings.ReplaceAll(s, "\x00", "") }

// Insert stores events on their own, in one round trip (a batch when
// there are several; each insert is its own statement, so one bad row
// loses only itself).
func (s *Store) Insert(ctx context.Context, events ...auth.AuditEvent) error {
	switch len(events) {
	case 0:
		return nil
	case 1:
		st := s.Statement(events[0])
		if _, err := s.pool.Exec(ctx, st.SQL, st.Args...); err != nil {
			return fmt.Errorf("writing audit event: %w", err)
		}
		return nil
	}
	b := &pgx.Batch{}
	for _, ev := range events {
		st := s.Statement(ev)
		b.Queue(st.SQL, st.Args...)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("writing %d audit events: %w", len(events), err)
	}
	return nil
}

// filter selects events; zero fields select all.
type filter struct {
	start, end                   *time.Time
	principal, resource, outcome string
	method                       string // a full method name, or a service's ending in "/"
	before                       int64  // events with a lower id only (the page token)
	org                          string // one organisation's events only
}

// list returns up to limit+1 events newest first (the one more tells
// aip.Next that another page follows). It runs in a transaction
// for the caller's identity (row-level security) but without the call's
// audit event: that is written after it, by the authorisation layer, so a
// page never lists the read that fetched it.
func (s *Store) list(ctx context.Context, f filter, limit int) ([]*sparcv1.AuditEvent, error) {
	var out []*sparcv1.AuditEvent
	err := db.InTx(db.WithoutRider(ctx), s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, listSQL, f.start, f.end, nullable(f.principal), nullable(f.resource),
			nullable(f.outcome), nullableID(f.before), nullable(f.org), limit+1, nullable(f.method))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e sparcv1.AuditEvent
			var id int64
			var t time.Time
			var org, role string
			if err := rows.Scan(&id, &t, &e.Principal, &org, &role, &e.Method, &e.Resource,
				&e.Outcome, &e.Code, &e.RequestId, &e.Peer, &e.Count, &e.PrincipalDisplayName); err != nil {
				return err
			}
			e.Name, e.Organisation = eventName(id), aip.NameOf(aip.Organisations, org)
			e.Time, e.Role = timestamppb.New(t), auth.RoleFromCode(role)
			out = append(out, &e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("listing audit events: %w", err)
	}
	return out, nil
}

// nullable is s, or NULL when empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullableID is id, or NULL when zero.
func nullableID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
