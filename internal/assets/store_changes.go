package assets

import (
	"context"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/outbox"
)

// The asset-change outbox (migration 0061) and the reads that keep stored
// coverage current (package coverage maintains it). Triggers on assets
// write asset_changes in the writing transaction; these read it in order,
// below the snapshot horizon, as outbox.Read reads referral_outbox.

// Querier runs a query: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Change is one recorded asset change: where the asset was and is
// (Old/New nil: it did not exist, or had no location).
type Change struct {
	Cursor   outbox.Cursor
	Asset    uuid.UUID
	Old, New *Position
}

// Position is an asset's country and WGS84 position.
type Position struct {
	Country  string
	Lat, Lng float64
}

// changesSQL reads the changes after a cursor ($1 txid, $2 seq), up to $3;
// the last column says whether a row is below the horizon.
const changesSQL = `SELECT txid::text::bigint, seq, asset_id, old_country, old_lat, old_lng, new_country, new_lat, new_lng,
		txid < pg_snapshot_xmin(pg_current_snapshot())
	FROM asset_changes WHERE (txid, seq) > ($1::text::xid8, $2) ORDER BY txid, seq LIMIT $3`

// Changes returns up to limit changes after cur that every transaction
// before them has finished (so none can commit behind them later), in
// order, and whether committed changes wait behind the horizon.
func (s *Store) Changes(ctx context.Context, q Querier, cur outbox.Cursor, limit int) ([]Change, bool, error) {
	rows, err := q.Query(ctx, changesSQL, strconv.FormatUint(cur.TxID, 10), cur.Seq, limit)
	if err != nil {
		return nil, false, fmt.Errorf("reading asset changes: %w", err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		var oc, nc *string
		var olat, olng, nlat, nlng *float64
		var ready bool
		if err := rows.Scan(&c.Cursor.TxID, &c.Cursor.Seq, &c.Asset, &oc, &olat, &olng, &nc, &nlat, &nlng, &ready); err != nil {
			return nil, false, fmt.Errorf("reading asset changes: %w", err)
		}
		if !ready {
			return out, true, nil
		}
		c.Old, c.New = position(oc, olat, olng), position(nc, nlat, nlng)
		out = append(out, c)
	}
	return out, false, rows.Err()
}

func position(country *string, lat, lng *float64) *Position {
	if country == nil || lat == nil || lng == nil {
		return nil
	}
	return &Position{Country: *country, Lat: *lat, Lng: *lng}
}

// latestChangeSQL is the position of the newest change this snapshot sees.
const latestChangeSQL = `SELECT txid::text::bigint, seq FROM asset_changes ORDER BY txid DESC, seq DESC LIMIT 1`

// LatestChange returns the position of the newest committed change (zero
// when there is none), read on the primary: a read waiting for it
// reflects every asset write committed before.
func (s *Store) LatestChange(ctx context.Context) (outbox.Cursor, error) {
	var c outbox.Cursor
	err := s.pool.QueryRow(ctx, latestChangeSQL).Scan(&c.TxID, &c.Seq)
	if err == pgx.ErrNoRows {
		return outbox.Cursor{}, nil
	}
	if err != nil {
		return c, fmt.Errorf("reading the latest asset change: %w", err)
	}
	return c, nil
}

// TrimChanges deletes the changes of the transactions before the cursor's
// (every reader has applied them). It returns how many.
func (s *Store) TrimChanges(ctx context.Context, before outbox.Cursor) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM asset_changes WHERE txid < $1::text::xid8`, strconv.FormatUint(before.TxID, 10))
	if err != nil {
		return 0, fmt.Errorf("trimming asset changes: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Horizon is the cursor before every transaction still running: a build
// that starts reading after it and then applies the changes after it
// misses none.
func (s *Store) Horizon(ctx context.Context) (outbox.Cursor, error) {
	var c outbox.Cursor
	err := s.pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&c.TxID)
	return c, err
}

// Counted is an asset as coverage counts it now.
type Counted struct {
	ID         uuid.UUID
	Country    string
	Lat, Lng   float64
	Categories []string
}

// countedByIDSQL reads those of the assets $1 that count for the standard
// coverage (active, located; every category, no window).
const countedByIDSQL = `SELECT s.id, s.country, ST_Y(s.location::geometry), ST_X(s.location::geometry), s.categories
FROM assets s WHERE s.id = ANY($1) AND s.status = 'active' AND s.location IS NOT NULL`

// CountedByID returns those of ids that count for coverage now.
func (s *Store) CountedByID(ctx context.Context, ids []uuid.UUID) ([]Counted, error) {
	rows, err := s.pool.Query(ctx, countedByIDSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("reading changed assets: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Counted, error) {
		var c Counted
		err := r.Scan(&c.ID, &c.Country, &c.Lat, &c.Lng, &c.Categories)
		return c, err
	})
}

// NearProbe asks for the assets nearest a point that count for coverage
// and carry Category ("" = any).
type NearProbe struct {
	Lat, Lng float64
	Category string
}

// nearestSQL finds, per probe ($1 numbers, $2 lat, $3 lng, $4 category),
// the $5 nearest assets that count, by the geography index's
// great-circle ordering; the caller measures them itself.
func nearestSQL(country string) string {
	return `SELECT p.i, k.id, k.lat, k.lng
FROM unnest($1::int[], $2::float8[], $3::float8[], $4::text[]) p(i, lat, lng, cat)
CROSS JOIN LATERAL (
	SELECT s.id, ST_Y(s.location::geometry) AS lat, ST_X(s.location::geometry) AS lng FROM assets s
	WHERE s.country = '` + country + `' AND s.status = 'active' AND s.location IS NOT NULL
	  AND (p.cat = '' OR s.categories @> ARRAY[p.cat])
	ORDER BY s.location <-> ST_SetSRID(ST_MakePoint(p.lng, p.lat), 4326)::geography LIMIT $5) k`
}

// Nearest calls fn with the k assets of country nearest each probe (by
// number) that count for coverage. The index orders by PostGIS's sphere
// distance; callers measure the few candidates with their own formula.
func (s *Store) Nearest(ctx context.Context, country string, probes []NearProbe, k int,
	fn func(probe int, id uuid.UUID, lat, lng float64)) error {
	if err := checkCountry(country); err != nil {
		return err
	}
	n := len(probes)
	nums, lats, lngs, cats := make([]int32, n), make([]float64, n), make([]float64, n), make([]string, n)
	for i, p := range probes {
		nums[i], lats[i], lngs[i], cats[i] = int32(i), p.Lat, p.Lng, p.Category
	}
	// Planned for these arguments (an unnamed statement), not generically.
	return db.WithoutJIT(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, nearestSQL(country), pgx.QueryExecModeDescribeExec, nums, lats, lngs, cats, k)
		if err != nil {
			return fmt.Errorf("finding nearest assets: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var i int32
			var id uuid.UUID
			var lat, lng float64
			if err := rows.Scan(&i, &id, &lat, &lng); err != nil {
				return fmt.Errorf("finding nearest assets: %w", err)
			}
			fn(int(i), id, lat, lng)
		}
		return rows.Err()
	})
}

// WalkGroup is the walking-distance figures of one area over the assets
// carrying one list of categories (the same set in another order is
// another group: the caller merges them).
type WalkGroup struct {
	Categories string // comma-joined
	WalkCounts
}

// walkGroupsSQL is walkSQL for the standard coverage (every active asset,
// no window), grouped by the assets' category sets instead of filtered:
// per area (a lateral join), so no sort of all the pairs with their
// geometries, which spilled to disk for a few thousand areas.
func walkGroupsSQL(country string) string {
	return `
SELECT a.code, g.* FROM areas a
CROSS JOIN LATERAL (
	SELECT array_to_string(s.categories, ','),
		count(*) FILTER (WHERE ST_Intersects(a.geom_local, s.location_grid)), count(*),
		coalesce(sum(jsonb_array_length(s.sessions)), 0),
		coalesce(sum(jsonb_array_length(s.sessions)::float8 * coalesce(s.capacity, 0)), 0)
	FROM assets s
	WHERE s.country = '` + country + `' AND ST_DWithin(a.geom_local, s.location_grid, $2) AND s.status = 'active'
	GROUP BY s.categories) g
WHERE a.code = ANY($1)`
}

// WalkGroups calls fn with the figures of each area of codes (all of
// country) per category set of the assets within walkMeters of it.
func (s *Store) WalkGroups(ctx context.Context, country string, codes []string, walkMeters float64, fn func(code string, g WalkGroup)) error {
	if err := checkCountry(country); err != nil {
		return err
	}
	return db.WithoutJIT(ctx, s.read, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, walkGroupsSQL(country), codes, walkMeters)
		if err != nil {
			return fmt.Errorf("computing walking-distance groups: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var code string
			var g WalkGroup
			if err := rows.Scan(&code, &g.Categories, &g.Inside, &g.Within, &g.Sessions, &g.Places); err != nil {
				return fmt.Errorf("reading walking-distance groups: %w", err)
			}
			fn(code, g)
		}
		return rows.Err()
	})
}
