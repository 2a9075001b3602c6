package notify

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
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/etag"
	"github.com/sparc-network/sparc/internal/outbox"
	"github.com/sparc-network/sparc/internal/referrals"
)

// The email_notifications table (migration 0053) is read and written here
// only: by the worker, on the connection that holds an organisation's
// delivery lock, acting as that organisation (row-level security binds
// it), and by the settings service in the caller's transaction. Changes
// are read through package outbox, asset names through package referrals,
// contact addresses through package orgs.

const (
	// activeSQL lists the organisations with email on and how long each still backs off.
	activeSQL = `SELECT organisation_id, wait_seconds FROM sparc_email_notifications_active()`
	// loadSQL reads what a turn needs of organisation $1's settings.
	loadSQL = `SELECT language, cursor_txid::text::bigint, cursor_seq, consecutive_failures,
			GREATEST(COALESCE(extract(epoch FROM next_attempt_at - clock_timestamp()), 0), 0)::double precision,
			daily_digest, digest_hour, time_zone, digest_arrived, digest_accepted, digest_declined, digest_attended,
			COALESCE((SELECT max(day)::text FROM email_digests d WHERE d.organisation_id = $1), '')
		FROM email_notifications WHERE organisation_id = $1 AND enabled`
	// enabledSQL says whether $1 has email on, in the turn's mode ($4
	// daily digest), and its stored cursor is still the turn's ($2 txid, $3
	// seq): turning email off and on moves it.
	enabledSQL = `SELECT enabled AND daily_digest = $4 AND cursor_txid = $2::text::xid8 AND cursor_seq = $3
		FROM email_notifications WHERE organisation_id = $1`
	// advanceSQL moves $1's cursor past handled changes ($2 txid, $3 seq),
	// never backwards and only while email is on (moves), counting $4
	// emails sent and, for the digest, $5-$8 events of each kind (those
	// only with the move, so a change is counted once). Emails the server
	// accepted count even when email was turned off meanwhile: they were
	// sent. It answers whether the cursor is at $2/$3 with email on: if
	// not, the turn stops.
	advanceSQL = `UPDATE email_notifications SET
			cursor_txid = CASE WHEN ` + movesSQL + ` THEN $2::text::xid8 ELSE cursor_txid END,
			cursor_seq = CASE WHEN ` + movesSQL + ` THEN $3 ELSE cursor_seq END,
			emails_sent = emails_sent + $4,
			digest_arrived = digest_arrived + CASE WHEN ` + movesSQL + ` THEN $5 ELSE 0 END,
			digest_accepted = digest_accepted + CASE WHEN ` + movesSQL + ` THEN $6 ELSE 0 END,
			digest_declined = digest_declined + CASE WHEN ` + movesSQL + ` THEN $7 ELSE 0 END,
			digest_attended = digest_attended + CASE WHEN ` + movesSQL + ` THEN $8 ELSE 0 END,
			last_success_at = CASE WHEN $4 > 0 THEN clock_timestamp() ELSE last_success_at END,
			last_error = '', consecutive_failures = 0, next_attempt_at = NULL
		WHERE organisation_id = $1 AND (` + movesSQL + ` OR $4 > 0)
		RETURNING enabled AND cursor_txid = $2::text::xid8 AND cursor_seq = $3`
	movesSQL = `(enabled AND (cursor_txid, cursor_seq) < ($2::text::xid8, $3))`
	// failSQL records a failed email to $1: $2 the error, $3 the wait before the next attempt (µs).
	failSQL = `UPDATE email_notifications SET consecutive_failures = consecutive_failures + 1,
			last_failure_at = clock_timestamp(), last_error = $2,
			next_attempt_at = clock_timestamp() + $3 * interval '1 microsecond'
		WHERE organisation_id = $1 AND enabled`
	// digestSQL records organisation $1's digest for local day $2: the
	// counts it told ($3-$6), whether it was emailed ($7, not when all are
	// zero); they leave the running counts (even if email was turned off
	// meanwhile: they were told). Nothing when the day has one.
	digestSQL = `WITH d AS (
			INSERT INTO email_digests (organisation_id, day, arrived, accepted, declined, attended, emailed)
			VALUES ($1, $2::date, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING emailed)
		UPDATE email_notifications SET digest_arrived = digest_arrived - $3, digest_accepted = digest_accepted - $4,
			digest_declined = digest_declined - $5, digest_attended = digest_attended - $6,
			emails_sent = emails_sent + CASE WHEN $7 THEN 1 ELSE 0 END,
			last_success_at = CASE WHEN $7 THEN clock_timestamp() ELSE last_success_at END,
			last_error = '', consecutive_failures = 0, next_attempt_at = NULL
		WHERE organisation_id = $1 AND EXISTS (SELECT 1 FROM d)`
)

// Advisory lock class ("SEN1"): one organisation's email delivery
// (outbox.Scheduler takes it).
const emailLockClass = 0x53454e31

// asOrg starts a batch acting as org's admin: the role that sees both
// sides of its referrals in the outbox (row-level security), of which
// eventFor keeps each side's own events.
func asOrg(org string) *pgx.Batch { return db.IdentityBatch(db.Identity{Org: org, Role: "admin"}) }

// active lists the organisations with email on, each with how long it
// still backs off.
func active(ctx context.Context, pool *pgxpool.Pool) ([]outbox.Target, error) {
	rows, err := pool.Query(ctx, activeSQL)
	if err != nil {
		return nil, fmt.Errorf("listing organisations with email on: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (outbox.Target, error) {
		var t outbox.Target
		var wait float64
		err := r.Scan(&t.ID, &wait)
		t.Org = t.ID.String()
		t.Wait = time.Duration(wait * float64(time.Second))
		return t, err
	})
}

// errOff: the organisation turned email off (or is gone) during a turn.
var errOff = errors.New("email notifications off")

// recipient is one organisation's delivery state for a turn.
type recipient struct {
	org      string
	lang     string
	cur      outbox.Cursor
	failures int
	digest   digest
}

// tally counts events for the digest.
type tally struct{ Arrived, Accepted, Declined, Attended int }

// add counts e.
func (t *tally) add(e event) {
	switch e {
	case eventArrived:
		t.Arrived++
	case eventAccepted:
		t.Accepted++
	case eventDeclined:
		t.Declined++
	case eventAttended:
		t.Attended++
	}
}

// digest is an organisation's digest settings and what it has counted.
type digest struct {
	on      bool
	hour    int
	zone    string
	counted tally
	lastDay string // the local day of the last digest, YYYY-MM-DD; empty: none yet
}

// load reads r.org's settings; errOff when email is off.
func load(ctx context.Context, conn *pgxpool.Conn, r *recipient) (time.Duration, error) {
	var wait float64
	b := asOrg(r.org)
	b.Queue(loadSQL, r.org).QueryRow(func(row pgx.Row) error {
		d := &r.digest
		err := row.Scan(&r.lang, &r.cur.TxID, &r.cur.Seq, &r.failures, &wait, &d.on, &d.hour, &d.zone,
			&d.counted.Arrived, &d.counted.Accepted, &d.counted.Declined, &d.counted.Attended, &d.lastDay)
		if errors.Is(err, pgx.ErrNoRows) {
			return errOff
		}
		return err
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return 0, err
	}
	return time.Duration(wait * float64(time.Second)), nil
}

// readChanges reads the changes after r's cursor that r's organisation
// sees on either side, and whether committed ones wait behind the horizon;
// errOff when email was turned off (or off and on, which moves the
// cursor) since the turn began, so that the turn stops and the next one
// starts from the stored cursor. The check runs just before the read in
// the same batch; a change of settings committing between the two can let
// one email through, and advance then stops the turn.
func readChanges(ctx context.Context, conn *pgxpool.Conn, r *recipient) ([]outbox.Change, bool, error) {
	var changes []outbox.Change
	var pending, on bool
	b := asOrg(r.org)
	b.Queue(enabledSQL, r.org, strconv.FormatUint(r.cur.TxID, 10), r.cur.Seq, r.digest.on).QueryRow(func(row pgx.Row) error {
		if err := row.Scan(&on); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return nil
	})
	outbox.QueueRead(b, r.cur, func(c []outbox.Change, p bool) { changes, pending = c, p })
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, false, fmt.Errorf("reading referral changes: %w", err)
	}
	if !on {
		return nil, false, errOff
	}
	return changes, pending, nil
}

// subjects reads the asset names of referrals ids, as r's organisation.
func subjects(ctx context.Context, conn *pgxpool.Conn, r *recipient, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	var out map[uuid.UUID]string
	b := asOrg(r.org)
	referrals.QueueSubjects(b, ids, func(m map[uuid.UUID]string) { out = m })
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("reading asset names: %w", err)
	}
	return out, nil
}

// advance moves r's stored cursor to c, counting sent emails and the
// digest's events; errOff when nothing moved (email turned off, or
// another server moved it on).
func advance(ctx context.Context, conn *pgxpool.Conn, r *recipient, c outbox.Cursor, sent int, t tally) error {
	var at bool
	b := asOrg(r.org)
	b.Queue(advanceSQL, r.org, strconv.FormatUint(c.TxID, 10), c.Seq, sent,
		t.Arrived, t.Accepted, t.Declined, t.Attended).QueryRow(func(row pgx.Row) error {
		if err := row.Scan(&at); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return nil
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if !at {
		return errOff
	}
	return nil
}

// recordDigest stores r's digest for local day: t was told (emailed
// unless all zero); errOff when the day has one already.
func recordDigest(ctx context.Context, conn *pgxpool.Conn, r *recipient, day string, t tally, emailed bool) error {
	b := asOrg(r.org)
	return outbox.ExecOne(ctx, conn, b, b.Queue(digestSQL, r.org, day, t.Arrived, t.Accepted, t.Declined, t.Attended, emailed), errOff)
}

// recordFailure stores a failed email: the error shown to the
// organisation and the wait before the next attempt.
func recordFailure(ctx context.Context, conn *pgxpool.Conn, r *recipient, msg string, wait time.Duration) error {
	b := asOrg(r.org)
	return outbox.ExecOne(ctx, conn, b, b.Queue(failSQL, r.org, msg, wait.Microseconds()), errOff)
}

// The settings service's SQL, in the caller's transaction (row-level
// security: its own organisation's admin only).
const (
	settingsColumns = `enabled, language, emails_sent, last_success_at, last_failure_at, last_error,
		consecutive_failures, next_attempt_at, version, updated_at, daily_digest, digest_hour, time_zone`
	getSettingsSQL  = `SELECT ` + settingsColumns + ` FROM email_notifications WHERE organisation_id = $1`
	lockSettingsSQL = getSettingsSQL + ` FOR UPDATE`
	// updateSettingsSQL writes $1's settings ($2 enabled, $3 language, $4
	// daily digest, $5 its hour, $6 its time zone). A digest turned on
	// counts from then on.
	// Turned back on, the cursor moves to this transaction: changes of
	// transactions that began before it (made while email was off) are not
	// sent, a flood of stale news; those of transactions after it are. (Not
	// the horizon, as for a new organisation: a transaction left open
	// elsewhere would hold it back before changes made while off.)
	updateSettingsSQL = `UPDATE email_notifications SET
			cursor_txid = CASE WHEN $2 AND NOT enabled THEN pg_current_xact_id() ELSE cursor_txid END,
			cursor_seq = CASE WHEN $2 AND NOT enabled THEN 0 ELSE cursor_seq END,
			consecutive_failures = CASE WHEN $2 AND NOT enabled THEN 0 ELSE consecutive_failures END,
			next_attempt_at = CASE WHEN $2 AND NOT enabled THEN NULL ELSE next_attempt_at END,
			digest_arrived = CASE WHEN $4 AND NOT daily_digest THEN 0 ELSE digest_arrived END,
			digest_accepted = CASE WHEN $4 AND NOT daily_digest THEN 0 ELSE digest_accepted END,
			digest_declined = CASE WHEN $4 AND NOT daily_digest THEN 0 ELSE digest_declined END,
			digest_attended = CASE WHEN $4 AND NOT daily_digest THEN 0 ELSE digest_attended END,
			enabled = $2, language = $3, daily_digest = $4, digest_hour = $5, time_zone = $6,
			version = version + 1, updated_at = clock_timestamp()
		WHERE organisation_id = $1
		RETURNING ` + settingsColumns
)

// settingsStore runs the settings service's SQL.
type settingsStore struct{ pool *pgxpool.Pool }

func scanSettings(org uuid.UUID, row pgx.Row) (*sparcv1.EmailNotificationSettings, error) {
	var s sparcv1.EmailNotificationSettings
	var success, failure, next *time.Time
	var version int64
	var updated time.Time
	if err := row.Scan(&s.Enabled, &s.LanguageCode, &s.EmailsSent, &success, &failure, &s.LastError,
		&s.ConsecutiveFailures, &next, &version, &updated, &s.DailyDigest, &s.DigestHour, &s.TimeZone); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("%s: %w", settingsName(org), apierr.ErrNotFound)
		}
		return nil, err
	}
	for _, t := range []struct {
		at  *time.Time
		out **timestamppb.Timestamp
	}{{success, &s.LastSuccessTime}, {failure, &s.LastFailureTime}, {next, &s.NextAttemptTime}} {
		if t.at != nil {
			*t.out = timestamppb.New(*t.at)
		}
	}
	s.Etag = etag.Of(org, version, updated)
	return &s, nil
}

func (s *settingsStore) get(ctx context.Context, org uuid.UUID) (*sparcv1.EmailNotificationSettings, error) {
	var out *sparcv1.EmailNotificationSettings
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		var err error
		out, err = scanSettings(org, tx.QueryRow(ctx, getSettingsSQL, org))
		return err
	})
	return out, err
}

// update changes org's settings with mutate, only at version wantEtag
// when given.
func (s *settingsStore) update(ctx context.Context, org uuid.UUID, wantEtag string, mutate func(*sparcv1.EmailNotificationSettings)) (*sparcv1.EmailNotificationSettings, error) {
	var out *sparcv1.EmailNotificationSettings
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		cur, err := scanSettings(org, tx.QueryRow(ctx, lockSettingsSQL, org))
		if err != nil {
			return err
		}
		if wantEtag != "" && wantEtag != cur.Etag {
			return fmt.Errorf("%s: %w", settingsName(org), apierr.ErrStaleEtag)
		}
		mutate(cur)
		out, err = scanSettings(org, tx.QueryRow(ctx, updateSettingsSQL, org, cur.GetEnabled(), cur.GetLanguageCode(),
			cur.GetDailyDigest(), cur.GetDigestHour(), cur.GetTimeZone()))
		return err
	})
	return out, err
}
