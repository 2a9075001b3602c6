package assets

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// The reads coverage maps make of the directory (package coverage
// computes and draws them).

// CoverageFilter selects the assets that count for a coverage: active
// ones with any of Categories (none = all) that run in the window
// [WindowStart, WindowEnd] ("YYYY-MM-DD", "" = open). Assets without
// sessions (a garden, a drop-in space) always count.
type CoverageFilter struct {
	Categories             []string
	WindowStart, WindowEnd string
}

func (f CoverageFilter) categories() []string {
	if len(f.Categories) == 0 {
		return nil // NULL: all categories
	}
	return f.Categories
}

// sessionsExpr counts an asset's weekly sessions that run in the window
// (parameters ws and we: "YYYY-MM-DD", "" = open); dates compare as text.
func sessionsExpr(ws, we string) string {
	return `(CASE WHEN ` + ws + ` = '' AND ` + we + ` = '' THEN jsonb_array_length(s.sessions)
	ELSE (SELECT count(*)::int FROM jsonb_array_elements(s.sessions) e
		WHERE (` + ws + ` = '' OR coalesce(e->>'valid_until', '') = '' OR e->>'valid_until' >= ` + ws + `)
		  AND (` + we + ` = '' OR coalesce(e->>'valid_from', '') = '' OR e->>'valid_from' <= ` + we + `)) END)`
}

// coverageFilterSQL keeps the assets of CoverageFilter (parameters cats,
// NULL for all, and the window ws/we).
func coverageFilterSQL(cats, ws, we string) string {
	return `s.status = 'active' AND (` + cats + `::text[] IS NULL OR s.categories && ` + cats + `::text[])
	AND (jsonb_array_length(s.sessions) = 0 OR (` + ws + ` = '' AND ` + we + ` = '') OR ` + sessionsExpr(ws, we) + ` > 0)`
}

// checkCountry guards the country codes the coverage statements inline
// (a literal, so the planner matches the country's partial grid index).
func checkCountry(c string) error {
	if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
		return fmt.Errorf("country %q is not an ISO 3166 alpha-2 code", c)
	}
	return nil
}

// walkSQL counts, per area of $1, the assets inside it and within $2
// metres of its boundary, with their weekly sessions and places ($3
// categories, $4/$5 window). The join is ST_DWithin on projected geometry:
// the area's boundary in its national grid (areas.geom_local, read here
// so the join stays one statement: the spatial join is what makes a
// national coverage take seconds, not minutes) and the asset's stored grid
// position (location_grid), served by the country's partial index
// (assets_grid_gb_gist or assets_grid_nl_gist); each pair's figures come
// from the asset row the index led to, so no second lookup of the asset is
// needed.
func walkSQL(country string) string {
	const pt = "s.location_grid"
	return `
SELECT a.code, count(*) FILTER (WHERE ST_Intersects(a.geom_local, ` + pt + `)), count(*),
	coalesce(sum(x.sessions), 0), coalesce(sum(x.sessions::float8 * coalesce(s.capacity, 0)), 0)
FROM areas a
JOIN assets s ON s.country = '` + country + `' AND ST_DWithin(a.geom_local, ` + pt + `, $2)
CROSS JOIN LATERAL (SELECT ` + sessionsExpr("$4", "$5") + ` AS sessions) x
-- coalesce keeps the planner from AND-ing the categories GIN index into
-- every area's spatial probe (a bitmap of thousands of assets per area:
-- 17 s instead of 0.6 s for 4,000 areas); the test runs on the rows the
-- spatial index finds.
WHERE a.code = ANY($1) AND s.status = 'active' AND ($3::text[] IS NULL OR coalesce(s.categories && $3::text[], false))
  AND (jsonb_array_length(s.sessions) = 0 OR ($4 = '' AND $5 = '') OR x.sessions > 0)
GROUP BY a.code`
}

// WalkCounts are one area's figures from WalkCoverage.
type WalkCounts struct {
	Inside, Within   int32   // assets inside the area, and within the walk of it
	Sessions, Places float64 // their weekly sessions, and places (sessions × capacity)
}

// WalkCoverage calls fn with the figures of each area of codes (all of
// country, in its national grid) that has any asset of f within
// walkMeters of its boundary.
func (s *Store) WalkCoverage(ctx context.Context, country string, codes []string, walkMeters float64, f CoverageFilter,
	fn func(code string, c WalkCounts)) error {
	if err := checkCountry(country); err != nil {
		return err
	}
	rows, err := s.read.Query(ctx, walkSQL(country), codes, walkMeters, f.categories(), f.WindowStart, f.WindowEnd)
	if err != nil {
		return fmt.Errorf("computing walking-distance coverage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var code string
		var c WalkCounts
		if err := rows.Scan(&code, &c.Inside, &c.Within, &c.Sessions, &c.Places); err != nil {
			return fmt.Errorf("reading walking-distance coverage: %w", err)
		}
		fn(code, c)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("computing walking-distance coverage: %w", err)
	}
	return nil
}

// candidatesSQL reads the assets of one country that count for a
// coverage ($1 categories, $2/$3 window). Remote services (no location)
// never count: coverage measures what people can walk to. (walkSQL and
// the tiles leave them out by their NULL location too.)
func candidatesSQL(country string) string {
	return `SELECT s.id, ST_Y(s.location::geometry), ST_X(s.location::geometry), s.categories
FROM assets s WHERE s.country = '` + country + `' AND s.location IS NOT NULL AND ` + coverageFilterSQL("$1", "$2", "$3")
}

// EachCounted calls fn with the id, position and categories of each asset
// of country that counts for f.
func (s *Store) EachCounted(ctx context.Context, country string, f CoverageFilter, fn func(id uuid.UUID, lat, lng float64, categories []string)) error {
	if err := checkCountry(country); err != nil {
		return err
	}
	rows, err := s.read.Query(ctx, candidatesSQL(country), f.categories(), f.WindowStart, f.WindowEnd)
	if err != nil {
		return fmt.Errorf("reading assets for nearest distances: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var lat, lng float64
		var cats []string
		if err := rows.Scan(&id, &lat, &lng, &cats); err != nil {
			return fmt.Errorf("reading assets for nearest distances: %w", err)
		}
		fn(id, lat, lng, cats)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading assets for nearest distances: %w", err)
	}
	return nil
}

// fingerprintSQL changes whenever assets change: the count catches
// deletes, the latest update time the rest.
const fingerprintSQL = `SELECT count(*) || '/' || coalesce(max(updated_at)::text, '') FROM assets`

// Fingerprint is a short text that changes whenever the directory
// changes, for caches of what is computed from it.
func (s *Store) Fingerprint(ctx context.Context) (string, error) {
	var fp string
	if err := s.read.QueryRow(ctx, fingerprintSQL).Scan(&fp); err != nil {
		return "", fmt.Errorf("reading asset fingerprint: %w", err)
	}
	return fp, nil
}

// pointsTileSQL draws active assets as points; the && test on the
// longitude/latitude index uses the tile (with its buffer) in WGS84.
// From zoom $4 down, assets closer than half a pixel (8 of the tile's
// 4096 units, displayed at 256 px) are drawn as one point with only their
// count, so a tile over a whole city stays small (a unique id per point
// was most of its bytes); ids, names and categories come from zoom $4+1.
const pointsTileSQL = `
WITH p AS (
	SELECT s.id::text AS id, s.name, s.kind, array_to_string(s.categories, ',') AS categories,
		ST_AsMVTGeom(ST_Transform(s.location::geometry, 3857), ST_TileEnvelope($1, $2, $3), 4096, 64, true) AS geom
	FROM assets s
	WHERE s.status = 'active'
	  AND s.location::geometry && ST_Transform(ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096), 4326)
), t AS (
	SELECT id, name, kind, categories, 1 AS count, geom FROM p WHERE $1 > $4 AND geom IS NOT NULL
	UNION ALL
	SELECT NULL, NULL, NULL, NULL, count(*)::int,
		ST_SetSRID(ST_MakePoint(floor(ST_X(geom) / 8) * 8 + 4, floor(ST_Y(geom) / 8) * 8 + 4), 3857)
	FROM p WHERE $1 <= $4 AND geom IS NOT NULL
	GROUP BY floor(ST_X(geom) / 8), floor(ST_Y(geom) / 8)
)
SELECT coalesce(ST_AsMVT(t.*, 'assets', 4096, 'geom'), '') FROM t`

// PointsTile renders tile z/x/y of the active assets as a Mapbox vector
// tile (layer "assets": points with id, name, kind and categories,
// comma-separated), clustered up to zoom clusterMaxZoom.
func (s *Store) PointsTile(ctx context.Context, z, x, y, clusterMaxZoom int) ([]byte, error) {
	var tile []byte
	if err := s.read.QueryRow(ctx, pointsTileSQL, z, x, y, clusterMaxZoom).Scan(&tile); err != nil {
		return nil, fmt.Errorf("rendering asset tile %d/%d/%d: %w", z, x, y, err)
	}
	return tile, nil
}
