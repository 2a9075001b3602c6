package coverage

import (
	"context"
	"fmt"
	"runtime"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/areas"
)

// Store runs coverage SQL over areas and assets.
type Store struct {
	pool *pgxpool.Pool
	// parallel bounds the statements one computation runs at once.
	parallel int
}

// NewStore returns a store over pool running up to parallel statements
// of one computation at a time; 0 means one per CPU (2 to 8).
func NewStore(pool *pgxpool.Pool, parallel int) *Store {
	if parallel <= 0 {
		parallel = min(8, max(2, runtime.NumCPU()))
	}
	return &Store{pool: pool, parallel: parallel}
}

// area is one area of a computation: what is read about it and what is
// computed for it.
type area struct {
	Code, Name, Kind, Parent, Country string
	Population                        int64
	RefLat, RefLng                    float64
	Deprivation                       *float64
	Scale                             string // decile, rank, score; "" without a measure
	Measure                           string
	Web                               [4]float64 // Web Mercator bounding box, for tiles

	Inside, Within   int32
	Sessions, Places float64
	Nearest          []*float64 // per category of the query
	Decile           int32
	Referrals        *float64 // per 1,000, when a ReferralDemand is configured
}

// selectAreas reads the area set of q with each area's deprivation value
// (the attribute its kind declares), in code order.
const selectAreas = `
SELECT a.code, a.name, a.kind, a.parent_code, a.country, coalesce(a.population, 0),
	ST_Y(a.ref_point), ST_X(a.ref_point),
	(a.attributes ->> k.deprivation_attribute)::float8, coalesce(k.deprivation_scale, ''),
	coalesce(k.deprivation_attribute, ''),
	ST_XMin(a.geom_web::box2d), ST_YMin(a.geom_web::box2d), ST_XMax(a.geom_web::box2d), ST_YMax(a.geom_web::box2d)
FROM areas a
LEFT JOIN area_kinds k ON k.kind = a.kind
WHERE ($1 = '' OR a.parent_code = $1)
  AND ($2 = '' OR a.kind = $2)
  AND ($3::float8[] IS NULL OR (a.geom && ST_MakeEnvelope($3[1], $3[2], $3[3], $3[4], 4326)
       AND ST_Intersects(a.geom, ST_MakeEnvelope($3[1], $3[2], $3[3], $3[4], 4326))))
ORDER BY a.code
LIMIT $4`

func (s *Store) loadAreas(ctx context.Context, q Query) ([]*area, error) {
	var bbox []float64
	if q.BBox != nil {
		bbox = q.BBox[:]
	}
	rows, err := s.pool.Query(ctx, selectAreas, q.Parent, q.Kind, bbox, maxAreas+1)
	if err != nil {
		return nil, fmt.Errorf("selecting areas: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*area, error) {
		a := &area{}
		err := r.Scan(&a.Code, &a.Name, &a.Kind, &a.Parent, &a.Country, &a.Population, &a.RefLat, &a.RefLng,
			&a.Deprivation, &a.Scale, &a.Measure, &a.Web[0], &a.Web[1], &a.Web[2], &a.Web[3])
		return a, err
	})
}

// sessionsExpr counts an asset's weekly sessions that run in the window
// (parameters ws and we: "YYYY-MM-DD", "" = open); dates compare as text.
func sessionsExpr(ws, we string) string {
	return `(CASE WHEN ` + ws + ` = '' AND ` + we + ` = '' THEN jsonb_array_length(s.sessions)
	ELSE (SELECT count(*)::int FROM jsonb_array_elements(s.sessions) e
		WHERE (` + ws + ` = '' OR coalesce(e->>'valid_until', '') = '' OR e->>'valid_until' >= ` + ws + `)
		  AND (` + we + ` = '' OR coalesce(e->>'valid_from', '') = '' OR e->>'valid_from' <= ` + we + `)) END)`
}

// assetFilter keeps active assets with any of the categories (parameter
// cats, NULL for all) that run in the window: assets without sessions (a
// garden, a drop-in space) always count.
func assetFilter(cats, ws, we string) string {
	return `s.status = 'active' AND (` + cats + `::text[] IS NULL OR s.categories && ` + cats + `::text[])
	AND (jsonb_array_length(s.sessions) = 0 OR (` + ws + ` = '' AND ` + we + ` = '') OR ` + sessionsExpr(ws, we) + ` > 0)`
}

// walkSQL counts, per area of $1, the assets inside it and within $2
// metres of its boundary, with their weekly sessions and places ($3
// categories, $4/$5 window). The join is ST_DWithin on projected geometry:
// the asset's stored grid position (location_grid), served by the
// country's partial index (assets_grid_gb_gist or assets_grid_nl_gist);
// each pair's figures come from the asset row the index led to, so no
// second lookup of the asset is needed.
func walkSQL(c areas.Country) string {
	const pt = "s.location_grid"
	return `
SELECT a.code, count(*) FILTER (WHERE ST_Intersects(a.geom_local, ` + pt + `)), count(*),
	coalesce(sum(x.sessions), 0), coalesce(sum(x.sessions::float8 * coalesce(s.capacity, 0)), 0)
FROM areas a
JOIN assets s ON s.country = '` + c.Code + `' AND ST_DWithin(a.geom_local, ` + pt + `, $2)
CROSS JOIN LATERAL (SELECT ` + sessionsExpr("$4", "$5") + ` AS sessions) x
-- coalesce keeps the planner from AND-ing the categories GIN index into
-- every area's spatial probe (a bitmap of thousands of assets per area:
-- 17 s instead of 0.6 s for 4,000 areas); the test runs on the rows the
-- spatial index finds.
WHERE a.code = ANY($1) AND s.status = 'active' AND ($3::text[] IS NULL OR coalesce(s.categories && $3::text[], false))
  AND (jsonb_array_length(s.sessions) = 0 OR ($4 = '' AND $5 = '') OR x.sessions > 0)
GROUP BY a.code`
}

func walkArgs(codes []string, q Query) []any {
	return []any{codes, q.WalkMeters, nullIfEmpty(q.Categories), q.WindowStart, q.WindowEnd}
}

// candidatesSQL reads the assets that can be an area's nearest: those of
// one country that count for the query ($1 categories, $2/$3 window).
func candidatesSQL(c areas.Country) string {
	return `SELECT ST_Y(s.location::geometry), ST_X(s.location::geometry), s.categories
FROM assets s WHERE s.country = '` + c.Code + `' AND ` + assetFilter("$1", "$2", "$3")
}

func candidateArgs(q Query) []any {
	return []any{nullIfEmpty(q.Categories), q.WindowStart, q.WindowEnd}
}

func nullIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
