package webhooks

import "github.com/sparc-network/sparc/internal/outbox"

// The webhooks table is read and written here only; deliveries read the
// changes through package outbox.

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
	// tryLockSQL and unlockSQL hold one webhook's delivery lock on a session.
	tryLockSQL = `SELECT pg_try_advisory_lock($1, $2)`
	unlockSQL  = `SELECT pg_advisory_unlock($1, $2)`
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
	// listSQL lists organisation $1's webhooks; listAfterSQL continues after ($2 created, $3 id); listOrderSQL orders them.
	listSQL      = `SELECT ` + webhookColumns + ` FROM webhooks w WHERE w.organisation_id = $1 AND w.deleted_at IS NULL`
	listAfterSQL = ` AND (w.created_at, w.id) > ($2, $3)`
	listOrderSQL = ` ORDER BY w.created_at, w.id LIMIT `
)
