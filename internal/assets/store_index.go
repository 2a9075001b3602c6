package assets

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sparc-network/sparc/internal/outbox"
)

// The SQL of the search index (index.go): its load, the feed of asset
// changes it applies (asset_index_changes, migration 0065) and the feed's
// trimming. All on the primary: the feed and the rows re-read for it must
// come from one server, and a replica's may lag.

// indexColumns are what the index holds of an asset (indexed), in
// scanIndexed's order.
const indexColumns = `a.id, ST_Y(a.location::geometry), ST_X(a.location::geometry), a.kind, a.status, a.cost_kind,
	coalesce(a.availability, ''), coalesce(a.delivery, ''), a.categories, a.accessibility, a.languages,
	a.min_age, a.max_age, a.capacity, coalesce(pl.taken, 0), a.accepting_referrals, a.name, a.locality, a.country,
	a.area_codes, a.area_country, ` + sessionsColumn

// indexRowsSQL reads the located assets (those of $1, or all when $1 is
// NULL, with ids from $2 up to $3 when given): the in-person side of the
// search (remote services have no location).
const indexRowsSQL = `SELECT ` + indexColumns + `
FROM assets a LEFT JOIN asset_places pl ON pl.asset_id = a.id
WHERE a.location IS NOT NULL AND ($1::uuid[] IS NULL OR a.id = ANY($1))
  AND ($2::uuid IS NULL OR a.id >= $2) AND ($3::uuid IS NULL OR a.id < $3)`

// loadParts is how many id ranges a load reads at once, each on its own
// connection: the database's share of a load (building each row's
// sessions array, sending it) then runs on as many cores.
const loadParts = 4

// indexAll reads every located asset, in loadParts ranges at once. Each
// range's snapshot is taken after the caller read the horizon, which is
// all a load needs (see Index.load).
func (s *Store) indexAll(ctx context.Context) ([][]*indexed, error) {
	parts := make([][]*indexed, loadParts)
	errs := make([]error, loadParts)
	var wg sync.WaitGroup
	for i := range loadParts {
		var lo, hi *uuid.UUID
		if i > 0 {
			lo = &uuid.UUID{byte(256 * i / loadParts)}
		}
		if i < loadParts-1 {
			hi = &uuid.UUID{byte(256 * (i + 1) / loadParts)}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.indexRange(ctx, nil, lo, hi, func(e *indexed) { parts[i] = append(parts[i], e) })
		}()
	}
	wg.Wait()
	return parts, errors.Join(errs...)
}

// indexRows calls fn with each located asset of ids.
func (s *Store) indexRows(ctx context.Context, ids []uuid.UUID, fn func(*indexed)) error {
	return s.indexRange(ctx, ids, nil, nil, fn)
}

// indexRange calls fn with each located asset of ids (nil: all) whose id
// is from lo (nil: any) up to hi (nil: any).
func (s *Store) indexRange(ctx context.Context, ids []uuid.UUID, lo, hi *uuid.UUID, fn func(*indexed)) error {
	var arg any
	if ids != nil {
		arg = ids
	}
	rows, err := s.pool.Query(ctx, indexRowsSQL, arg, lo, hi)
	if err != nil {
		return fmt.Errorf("search index: reading assets: %w", err)
	}
	defer rows.Close()
	var sessions []string
	for rows.Next() {
		e := &indexed{}
		if err := rows.Scan(&e.id, &e.lat, &e.lng, &e.kind, &e.status, &e.cost, &e.availability, &e.delivery,
			&e.categories, &e.accessibility, &e.langs, &e.minAge, &e.maxAge, &e.capacity, &e.taken, &e.accepting,
			&e.displayName, &e.locality, &e.country, &e.areaCodes, &e.areaCountry, &sessions); err != nil {
			return fmt.Errorf("search index: reading assets: %w", err)
		}
		if e.sessions, err = decodeSessions(sessions); err != nil {
			return fmt.Errorf("search index: asset %s: %w", e.id, err)
		}
		fn(e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("search index: reading assets: %w", err)
	}
	return nil
}

// indexChange is one feed row.
type indexChange struct {
	cursor outbox.Cursor
	asset  uuid.UUID
}

// indexChangesSQL reads the trim watermark and up to $3 feed rows after
// the cursor ($1 txid, $2 seq) in one statement, so in one snapshot: a
// trim that removed rows after the cursor shows in the watermark of the
// same read. The last columns: whether a row is below the horizon, and
// when it was recorded.
const indexChangesSQL = `SELECT t.txid::text::bigint, t.seq, c.txid::text::bigint, c.seq, c.asset_id,
	c.txid < pg_snapshot_xmin(pg_current_snapshot()), c.time
FROM asset_index_trimmed t LEFT JOIN LATERAL (
	SELECT * FROM asset_index_changes WHERE (txid, seq) > ($1::text::xid8, $2) ORDER BY txid, seq LIMIT $3) c ON true`

// indexChanges returns the ready feed rows after cur (those every
// transaction before has finished: none can commit behind them later),
// when the newest of them was recorded, or errFeedGap when rows after cur
// were trimmed.
func (s *Store) indexChanges(ctx context.Context, cur outbox.Cursor, limit int) ([]indexChange, time.Time, error) {
	rows, err := s.pool.Query(ctx, indexChangesSQL, strconv.FormatUint(cur.TxID, 10), cur.Seq, limit)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("search index: reading the feed: %w", err)
	}
	defer rows.Close()
	var out []indexChange
	var newest time.Time
	for rows.Next() {
		var trimmed outbox.Cursor
		var tx *uint64
		var seq *int64
		var id *uuid.UUID
		var ready *bool
		var at *time.Time
		if err := rows.Scan(&trimmed.TxID, &trimmed.Seq, &tx, &seq, &id, &ready, &at); err != nil {
			return nil, time.Time{}, fmt.Errorf("search index: reading the feed: %w", err)
		}
		if cursorBefore(cur, trimmed) {
			return nil, time.Time{}, errFeedGap
		}
		if tx == nil || !*ready {
			break
		}
		out = append(out, indexChange{cursor: outbox.Cursor{TxID: *tx, Seq: *seq}, asset: *id})
		newest = *at
	}
	return out, newest, rows.Err()
}

// IndexHead is the position of the newest committed feed row (zero when
// there is none), read on the primary: an index that has applied it
// reflects every asset write committed before the call.
func (s *Store) IndexHead(ctx context.Context) (outbox.Cursor, error) {
	var c outbox.Cursor
	err := s.pool.QueryRow(ctx, `SELECT txid::text::bigint, seq FROM asset_index_changes ORDER BY txid DESC, seq DESC LIMIT 1`).Scan(&c.TxID, &c.Seq)
	if err == pgx.ErrNoRows {
		return outbox.Cursor{}, nil
	}
	if err != nil {
		return c, fmt.Errorf("reading the asset index feed's head: %w", err)
	}
	return c, nil
}

// trimIndexSQL deletes the feed rows older than $1 whose transactions
// are behind the horizon, and moves the watermark to the newest deleted
// (never back: trims on several servers may overlap).
const trimIndexSQL = `WITH d AS (
	DELETE FROM asset_index_changes WHERE time < clock_timestamp() - $1::interval
	  AND txid < pg_snapshot_xmin(pg_current_snapshot()) RETURNING txid, seq),
m AS (SELECT txid, seq FROM d ORDER BY txid DESC, seq DESC LIMIT 1)
UPDATE asset_index_trimmed t SET txid = m.txid, seq = m.seq FROM m WHERE (m.txid, m.seq) > (t.txid, t.seq)`

// TrimIndexChanges deletes the feed rows older than keep. Readers that
// had not applied them load afresh (they see the watermark pass them).
func (s *Store) TrimIndexChanges(ctx context.Context, keep time.Duration) error {
	if _, err := s.pool.Exec(ctx, trimIndexSQL, keep); err != nil {
		return fmt.Errorf("trimming the asset index feed: %w", err)
	}
	return nil
}
