package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sparc-network/sparc/internal/audit"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/testenv"
)

// hostile is what a caller controls in an event (the resource comes from
// the request's id): text that breaks SQL built by hand, and a NUL, which
// PostgreSQL cannot store.
const hostile = "x'); DELETE FROM audit_events; -- \\' $1 \x00end"

// The store writes events as parameters, never as SQL text: on their own,
// batched with counts and times, and riding with a transaction.
func TestStoreWritesEventsVerbatimSingleBatchedAndWithATransaction(t *testing.T) {
	t.Parallel()
	owner := testenv.NewPool(t)
	app := testenv.AppPool(t, owner)
	store := audit.NewStore(app)
	ctx := context.Background()
	org := uuid.NewString()
	if _, err := owner.Exec(ctx, `INSERT INTO organisations (id, kind, name) VALUES ($1, 'other', 'Audit test')`, org); err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(hostile, "\x00", "")

	if err := store.Insert(ctx, auth.AuditEvent{Principal: "key:one", Org: org, Role: auth.RoleAdmin, Method: "/t/Single",
		Resource: hostile, Outcome: "error", Code: "Internal", RequestID: hostile, Peer: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	last := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := store.Insert(ctx,
		auth.AuditEvent{Principal: "anonymous", Method: "/t/Batch", Resource: "a", Outcome: "denied", Code: "Unauthenticated", Count: 7, Time: last},
		auth.AuditEvent{Principal: "anonymous", Method: "/t/Batch", Resource: "b", Outcome: "denied", Code: "PermissionDenied"},
	); err != nil {
		t.Fatal(err)
	}
	ride := db.NewRider(store.Statement(auth.AuditEvent{Principal: hostile, Org: org, Role: auth.RoleAdmin,
		Method: "/t/Ride", Resource: "r", Outcome: "ok", Code: "OK"}))
	rctx := db.WithRider(db.WithIdentity(ctx, db.Identity{Org: org, Role: auth.RoleAdmin}), ride)
	if err := db.InTx(rctx, app, pgx.ReadCommitted, func(pgx.Tx) error { return nil }); err != nil || !ride.Written() {
		t.Fatalf("riding event: %v, written %v", err, ride.Written())
	}

	type row struct {
		principal, org, resource, outcome, code, requestID string
		count                                              int
		at                                                 time.Time
	}
	got := map[string]row{}
	rows, err := owner.Query(ctx, `SELECT method, principal, COALESCE(organisation_id::text, ''), resource, outcome, code,
		request_id, count, time FROM audit_events WHERE method LIKE '/t/%'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m string
		var r row
		if err := rows.Scan(&m, &r.principal, &r.org, &r.resource, &r.outcome, &r.code, &r.requestID, &r.count, &r.at); err != nil {
			t.Fatal(err)
		}
		got[m+" "+r.resource] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d events, want 4: %v", len(got), got)
	}
	if r := got["/t/Single "+want]; r.resource != want || r.requestID != want || r.org != org || r.outcome != "error" || r.count != 1 {
		t.Errorf("single event stored as %+v, want resource and request id %q of %s", r, want, org)
	}
	if r := got["/t/Batch a"]; r.count != 7 || !r.at.Equal(last) || r.org != "" {
		t.Errorf("summed event stored as %+v, want 7 calls, the last at %s, no organisation", r, last)
	}
	if r := got["/t/Batch b"]; r.count != 1 || r.code != "PermissionDenied" {
		t.Errorf("second batched event stored as %+v", r)
	}
	if r := got["/t/Ride r"]; r.principal != want || r.outcome != "ok" || r.org != org {
		t.Errorf("riding event stored as %+v, want principal %q", r, want)
	}
}
