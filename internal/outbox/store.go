package outbox

import (
	"context"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// notifySQL tells every server's hub that referrals changed.
const notifySQL = `SELECT pg_notify('sparc_referrals', '')`

// tryLockSQL and unlockSQL hold one delivery target's lock on a session
// (Scheduler).
const (
	tryLockSQL = `SELECT pg_try_advisory_lock($1, $2)`
	unlockSQL  = `SELECT pg_advisory_unlock($1, $2)`
)

// horizonSQL is the cursor before every transaction still running: a
// reader starting there misses nothing committed later.
const horizonSQL = `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`

// changesSQL reads the changes after a cursor ($1 txid, $2 seq) that the
// transaction's identity (sparc_org(), sparc_role()) may see; the last
// column says whether a row is below the horizon.
const changesSQL = `SELECT txid::text::bigint, seq, referral_id, referring_org, provider_org, type, from_status, to_status, time,
		txid < pg_snapshot_xmin(pg_current_snapshot())
	FROM referral_outbox
	WHERE (txid, seq) > ($1::text::xid8, $2)
	  AND ` + VisibleChange + `
	ORDER BY txid, seq LIMIT 500`

// VisibleChange is referrals' visibility rule for one change
// (referrals/visibility.go) as a condition on referral_outbox, as
// row-level security states it too (migration 0040): the referring side
// sees every change; the providing side the changes from the referral's
// sending on (a draft is the referrer's alone). Readers that count
// changes (a webhook's pending count) use it with their own cursor.
const VisibleChange = `((referring_org = sparc_org() AND sparc_role() IN ('link_worker', 'admin'))
	OR (provider_org = sparc_org() AND sparc_role() IN ('group_editor', 'admin')
	    AND NOT (to_status = 'draft' OR (from_status = 'draft' AND to_status <> 'requested'))))`

// Change is one change to a referral as the outbox holds it.
type Change struct {
	Cursor             Cursor
	Referral, Referrer uuid.UUID
	Provider           *uuid.UUID
	Type, From, To     string
	Time               time.Time
}

// Horizon returns the cursor before every transaction still running.
func Horizon(ctx context.Context, tx pgx.Tx) (Cursor, error) {
	var c Cursor
	err := tx.QueryRow(ctx, horizonSQL).Scan(&c.TxID)
	return c, err
}

// QueueRead adds to b the read of the changes after cur that the batch's
// identity may see; done receives those below the horizon, in order, and
// whether committed changes wait behind it (pending).
func QueueRead(b *pgx.Batch, cur Cursor, done func(changes []Change, pending bool)) {
	b.Queue(changesSQL, strconv.FormatUint(cur.TxID, 10), cur.Seq).Query(func(rows pgx.Rows) error {
		changes, pending, err := scan(rows)
		if err == nil {
			done(changes, pending)
		}
		return err
	})
}

// Read is QueueRead in tx.
func Read(ctx context.Context, tx pgx.Tx, cur Cursor) ([]Change, bool, error) {
	rows, err := tx.Query(ctx, changesSQL, strconv.FormatUint(cur.TxID, 10), cur.Seq)
	if err != nil {
		return nil, false, err
	}
	return scan(rows)
}

// scan reads changesSQL's rows: sorted by txid, the rows below the
// horizon come first; the first one above it ends the read as pending.
func scan(rows pgx.Rows) ([]Change, bool, error) {
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		var ready bool
		if err := rows.Scan(&c.Cursor.TxID, &c.Cursor.Seq, &c.Referral, &c.Referrer, &c.Provider, &c.Type, &c.From, &c.To,
			&c.Time, &ready); err != nil {
			return nil, false, err
		}
		if !ready {
			return out, true, nil
		}
		out = append(out, c)
	}
	return out, false, rows.Err()
}
