package webhooks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/outbox"
)

// The webhooks table is read and written here only, by the service's
// calls (in the caller's transaction, under row-level security) and by the
// worker's (on the connection that holds a webhook's delivery lock, as the
// webhook's organisation). Deliveries read the changes through package
// outbox.

// webhookColumns read a webhook with its pending count: the changes after
// its cursor that its organisation may see (row-level security and the
// same filter as WatchReferrals), counted up to 10,000.
const webhookColumns = `w.id, w.organisation_id, w.url, w.description, w.created_at, w.last_success_at, w.last_failure_at,
	w.last_error, w.consecutive_failures, w.next_attempt_at,
	(SELECT count(*) FROM (SELECT 1 FROM referral_outbox
		WHERE (txid, seq) > (w.cursor_txid, w.cursor_seq) AND ` + outbox.VisibleChange + ` LIMIT 10000) p)`

const (
	// activeSQL lists the live webhooks of every organisation and how long each waits before its next attempt.
	activeSQL = `SELECT id, organisation_id::text, wait_seconds FROM sparc_webhooks_active()`
	// loadTargetSQL reads what a delivery needs of a webhook ($1).
	loadTargetSQL = `SELECT url, secret_sealed, cursor_txid::text::bigint, cursor_seq, consecutive_failures,
			GREATEST(COALESCE(extract(epoch FROM next_attempt_at - clock_timestamp()), 0), 0)::double precision, role
		FROM webhooks WHERE id = $1 AND deleted_at IS NULL`
	// aliveSQL says whether webhook $1 is not deleted.
	aliveSQL = `SELECT EXISTS (SELECT 1 FROM webhooks WHERE id = $1 AND deleted_at IS NULL)`
	// advanceSQL moves webhook $1's cursor past an acknowledged change ($2 txid, $3 seq), never backwards.
	advanceSQL = `UPDATE webhooks SET cursor_txid = $2::text::xid8, cursor_seq = $3, last_success_at = clock_timestamp(),
			last_error = '', consecutive_failures = 0, next_attempt_at = NULL
		WHERE id = $1 AND deleted_at IS NULL AND (cursor_txid, cursor_seq) < ($2::text::xid8, $3)`
	// failSQL records a failed delivery to webhook $1: $2 the error, $3 the wait before the next attempt (µs).
	failSQL = `UPDATE webhooks SET consecutive_failures = consecutive_failures + 1, last_failure_at = clock_timestamp(),
			last_error = $2, next_attempt_at = clock_timestamp() + $3 * interval '1 microsecond'
		WHERE id = $1 AND deleted_at IS NULL`
	// lockOrgSQL serialises one organisation's webhook creations (the limit).
	lockOrgSQL = `SELECT pg_advisory_xact_lock($1, $2)`
	// countSQL counts organisation $1's webhooks.
	countSQL = `SELECT count(*) FROM webhooks WHERE organisation_id = $1 AND deleted_at IS NULL`
	// insertSQL stores a new webhook ($1 id, $2 organisation, $3 URL, $4 description, $5 sealed secret).
	insertSQL = `WITH w AS (
				INSERT INTO webhooks (id, organisation_id, url, description, secret_sealed, cursor_txid)
				VALUES ($1, $2, $3, $4, $5, pg_snapshot_xmin(pg_current_snapshot()))
				RETURNING *)
			SELECT ` + webhookColumns + ` FROM w`
	// getSQL reads webhook $1.
	getSQL = `SELECT ` + webhookColumns + ` FROM webhooks w
			WHERE w.id = $1 AND w.deleted_at IS NULL`
	// deleteSQL deletes webhook $1, forgetting its secret.
	deleteSQL = `UPDATE webhooks SET deleted_at = now(), secret_sealed = NULL, next_attempt_at = NULL
			WHERE id = $1 AND deleted_at IS NULL`
	// listSQL lists organisation $1's webhooks after ($2 created, $3 id),
	// oldest first, at most $4 (no $2: from the first).
	listSQL = `SELECT ` + webhookColumns + ` FROM webhooks w
			WHERE w.organisation_id = $1 AND w.deleted_at IS NULL
				AND ($2::timestamptz IS NULL OR (w.created_at, w.id) > ($2, $3))
			ORDER BY w.created_at, w.id LIMIT $4`
)

// Advisory lock classes (the first key of the two-key form, "SWO1" and
// "SWD1"): one organisation's webhook creations, one webhook's delivery.
const (
	webhookOrgLockClass      = 0x53574f31
	webhookDeliveryLockClass = 0x53574431
)

// store runs the SQL of webhooks: the service's calls through pool, the
// worker's on the connection it delivers with.
type store struct {
	pool *pgxpool.Pool
}

func scanWebhook(r pgx.Row) (*sparcv1.Webhook, error) {
	var h sparcv1.Webhook
	var id, org uuid.UUID
	var created time.Time
	var success, failure, next *time.Time
	err := r.Scan(&id, &org, &h.Url, &h.Description, &created, &success, &failure, &h.LastError,
		&h.ConsecutiveFailures, &next, &h.Pending)
	if err != nil {
		return nil, err
	}
	h.Name, h.Organisation, h.CreateTime = aip.Name(aip.Webhooks, id), aip.Name(aip.Organisations, org), timestamppb.New(created)
	for _, t := range []struct {
		at  *time.Time
		out **timestamppb.Timestamp
	}{{success, &h.LastSuccessTime}, {failure, &h.LastFailureTime}, {next, &h.NextAttemptTime}} {
		if t.at != nil {
			*t.out = timestamppb.New(*t.at)
		}
	}
	return &h, nil
}

// create stores a webhook of org unless org has MaxWebhooks already. Its
// cursor starts at the horizon of finished transactions, as
// WatchReferrals' "now": every change committed from then on is
// delivered.
func (s *store) create(ctx context.Context, id, org uuid.UUID, url, description string, sealed []byte) (*sparcv1.Webhook, error) {
	var out *sparcv1.Webhook
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		// Two concurrent creations must not both see room for one more.
		if _, err := tx.Exec(ctx, lockOrgSQL, int32(webhookOrgLockClass), outbox.LockKey(org)); err != nil {
			return fmt.Errorf("locking organisation's webhooks: %w", err)
		}
		var n int
		if err := tx.QueryRow(ctx, countSQL, org).Scan(&n); err != nil {
			return fmt.Errorf("counting webhooks: %w", err)
		}
		if n >= MaxWebhooks {
			return &apierr.PreconditionError{Type: "WEBHOOK_LIMIT", Subject: aip.Name(aip.Organisations, org),
				Description: fmt.Sprintf("organisation %s has %d webhooks, the most allowed is %d; delete one first", org, n, MaxWebhooks)}
		}
		var err error
		if out, err = scanWebhook(tx.QueryRow(ctx, insertSQL, id, org, url, description, sealed)); err != nil {
			return fmt.Errorf("inserting webhook: %w", err)
		}
		return nil
	})
	return out, err
}

// notFound names a webhook that is not there, or not the caller's:
// row-level security hides other organisations' webhooks, so they are as
// missing as ids that never existed.
func notFound(id uuid.UUID) error {
	return fmt.Errorf("%s %w", aip.Name(aip.Webhooks, id), apierr.ErrNotFound)
}

// get reads a webhook of the caller's organisation.
func (s *store) get(ctx context.Context, id uuid.UUID) (*sparcv1.Webhook, error) {
	var out *sparcv1.Webhook
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		var err error
		out, err = scanWebhook(tx.QueryRow(ctx, getSQL, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(id)
		}
		return err
	})
	return out, err
}

// listCursor is the keyset position of a webhook in a list: its creation
// (µs) and id.
type listCursor struct {
	Created int64     `json:"c"`
	ID      uuid.UUID `json:"i"`
}

// list reads up to limit of org's webhooks after the position after (nil:
// from the first), oldest first.
func (s *store) list(ctx context.Context, org string, after *listCursor, limit int) ([]*sparcv1.Webhook, error) {
	var created *time.Time
	var afterID uuid.UUID
	if after != nil {
		t := time.UnixMicro(after.Created)
		created, afterID = &t, after.ID
	}
	var out []*sparcv1.Webhook
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		out = nil // a retried transaction starts again
		rows, err := tx.Query(ctx, listSQL, org, created, afterID, limit)
		if err != nil {
			return fmt.Errorf("listing webhooks: %w", err)
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sparcv1.Webhook, error) { return scanWebhook(r) })
		return err
	})
	return out, err
}

// delete marks a webhook of the caller's organisation deleted and forgets
// its secret.
func (s *store) delete(ctx context.Context, id uuid.UUID) error {
	return db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, deleteSQL, id)
		if err != nil {
			return fmt.Errorf("deleting webhook: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return notFound(id)
		}
		return nil
	})
}

// active lists the live webhooks of every organisation, each with how
// long it still backs off.
func (s *store) active(ctx context.Context) ([]outbox.Target, error) {
	rows, err := s.pool.Query(ctx, activeSQL)
	if err != nil {
		return nil, fmt.Errorf("listing webhooks: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (outbox.Target, error) {
		var t outbox.Target
		var wait float64
		err := r.Scan(&t.ID, &t.Org, &wait)
		t.Wait = time.Duration(wait * float64(time.Second))
		return t, err
	})
}

// asOrg starts a batch acting as org (no role): row-level security then
// shows the worker exactly what a caller of that organisation sees. The
// batch runs as one implicit transaction.
func asOrg(org string) *pgx.Batch { return db.IdentityBatch(db.Identity{Org: org}) }

// loadTarget reads what a turn of deliveries needs of webhook t.id (of
// t.org) into t, and returns its sealed secret and how long it still
// backs off; errWebhookGone when it is deleted.
func loadTarget(ctx context.Context, conn *pgxpool.Conn, t *target) ([]byte, time.Duration, error) {
	var sealed []byte
	var wait float64
	b := asOrg(t.org)
	b.Queue(loadTargetSQL, t.id).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&t.url, &sealed, &t.cur.TxID, &t.cur.Seq, &t.failures, &wait, &t.role)
		if errors.Is(err, pgx.ErrNoRows) {
			return errWebhookGone
		}
		return err
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, 0, err
	}
	return sealed, time.Duration(wait * float64(time.Second)), nil
}

// queueAlive adds to b the check that webhook id is not deleted, read
// into alive, so a turn reads nothing after a deletion.
func queueAlive(b *pgx.Batch, id uuid.UUID, alive *bool) {
	b.Queue(aliveSQL, id).QueryRow(func(row pgx.Row) error { return row.Scan(alive) })
}

// advance moves t's stored cursor past an acknowledged change c and
// clears its failures; errWebhookGone when nothing moved (see Worker.advance).
func advance(ctx context.Context, conn *pgxpool.Conn, t *target, c outbox.Cursor) error {
	b := asOrg(t.org)
	return outbox.ExecOne(ctx, conn, b, b.Queue(advanceSQL, t.id, strconv.FormatUint(c.TxID, 10), c.Seq), errWebhookGone)
}

// recordFailure stores a failed delivery to t: the error shown to its
// owner and the wait before the next attempt.
func recordFailure(ctx context.Context, conn *pgxpool.Conn, t *target, msg string, wait time.Duration) error {
	b := asOrg(t.org)
	return outbox.ExecOne(ctx, conn, b, b.Queue(failSQL, t.id, msg, wait.Microseconds()), errWebhookGone)
}
