package areas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/db"
)

// Store is the SQL side of areas.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a store over pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Country is a national grid areas are projected to for distances. The
// boxes decide an area's country from its ST_PointOnSurface; they do not
// overlap, so the choice is unambiguous.
type Country struct {
	Code           string
	SRID           int
	MinLon, MinLat float64
	MaxLon, MaxLat float64
}

// Countries is the fixed allow-list of national grids.
var Countries = []Country{
	{Code: "GB", SRID: 27700, MinLon: -8.75, MinLat: 49.8, MaxLon: 1.8, MaxLat: 60.95},
	{Code: "NL", SRID: 28992, MinLon: 3.2, MinLat: 50.7, MaxLon: 7.3, MaxLat: 53.7},
}

// Repair is a feature whose geometry ST_MakeValid repaired.
type Repair struct {
	Number       int64
	Code, Reason string
}

// ImportResult says what an import changed.
type ImportResult struct {
	Created, Updated int64
	Repaired         []Repair
}

const createAreaStaging = `
CREATE TEMP TABLE area_import (
	feature_number bigint NOT NULL,
	code           text NOT NULL,
	name           text NOT NULL,
	parent_code    text NOT NULL,
	geojson        text NOT NULL
) ON COMMIT DROP`

// checkAreaStaging parses every staged geometry, keeps valid ones and
// repairs the others with ST_MakeValid (keeping only polygonal parts), and
// finds the point on surface that decides the country.
const checkAreaStaging = `
CREATE TEMP TABLE area_checked ON COMMIT DROP AS
SELECT s.feature_number, s.code, s.name, s.parent_code, s.reason, s.g, ST_PointOnSurface(s.g) AS p
FROM (
	SELECT i.feature_number, i.code, i.name, i.parent_code, v.reason,
		CASE WHEN v.reason IS NULL THEN ST_Multi(x.g)
		     ELSE ST_Multi(ST_CollectionExtract(ST_MakeValid(x.g), 3)) END AS g
	FROM area_import i
	CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_GeomFromGeoJSON(i.geojson), 4326)) AS x(g)
	CROSS JOIN LATERAL (SELECT CASE WHEN ST_IsValid(x.g) THEN NULL ELSE ST_IsValidReason(x.g) END) AS v(reason)
) s`

// countryCase maps the point on surface p to a country code by the boxes
// of Countries ($1..$8), or NULL outside all of them.
const countryCase = `CASE
	WHEN ST_X(p) BETWEEN $1 AND $3 AND ST_Y(p) BETWEEN $2 AND $4 THEN 'GB'
	WHEN ST_X(p) BETWEEN $5 AND $7 AND ST_Y(p) BETWEEN $6 AND $8 THEN 'NL' END`

func countryArgs() []any {
	var a []any
	for _, c := range Countries {
		a = append(a, c.MinLon, c.MinLat, c.MaxLon, c.MaxLat)
	}
	return a
}

// listRepairsSQL lists the features whose geometry was repaired.
const listRepairsSQL = `SELECT feature_number, code, reason FROM area_checked WHERE reason IS NOT NULL ORDER BY feature_number`

const findAreaProblems = `
SELECT c.feature_number, c.code,
	CASE
		WHEN ST_IsEmpty(c.g) THEN 'geometry is invalid and could not be repaired into a polygon (' || coalesce(c.reason, 'empty') || ')'
		WHEN ` + countryCase + ` IS NULL THEN 'lies outside Great Britain and the Netherlands (point on surface ' ||
			round(ST_X(c.p)::numeric, 5) || ', ' || round(ST_Y(c.p)::numeric, 5) || '); SPARC measures distances in their national grids'
		ELSE 'code ' || c.code || ' already belongs to an area of kind "' || a.kind || '" (codes are unique across kinds)'
	END
FROM area_checked c
LEFT JOIN areas a ON a.code = c.code
WHERE ST_IsEmpty(c.g) OR ` + countryCase + ` IS NULL OR (a.code IS NOT NULL AND a.kind <> $9)
ORDER BY c.feature_number`

// upsertAreas writes the checked areas: new codes are created, existing
// ones get the new name, parent and boundary (attributes and population
// are kept). The local and web geometries are derived here, once.
const upsertAreas = `
WITH src AS (
	SELECT c.*, ` + countryCase + ` AS country FROM area_checked c
), prj AS (
	SELECT src.*, CASE country WHEN 'GB' THEN 27700 WHEN 'NL' THEN 28992 END AS srid FROM src
)
INSERT INTO areas AS a (code, kind, name, parent_code, country, srid, geom, geom_local, geom_web, geom_web_low, ref_point, ref_local)
SELECT code, $9, name, parent_code, country, srid, g, ST_Transform(g, srid), ST_Transform(g, 3857),
	ST_Multi(ST_SimplifyPreserveTopology(ST_Transform(g, 3857), 25)), p, ST_Transform(p, srid)
FROM prj
ON CONFLICT (code) DO UPDATE SET
	name = EXCLUDED.name, parent_code = EXCLUDED.parent_code, country = EXCLUDED.country, srid = EXCLUDED.srid,
	geom = EXCLUDED.geom, geom_local = EXCLUDED.geom_local, geom_web = EXCLUDED.geom_web, geom_web_low = EXCLUDED.geom_web_low,
	ref_point = EXCLUDED.ref_point, ref_local = EXCLUDED.ref_local, updated_at = now()
RETURNING (xmax = 0)`

// ImportAreas writes the features next returns, batch by batch, in one
// transaction: they are staged with COPY as they arrive, then checked,
// repaired and upserted together. next returns io.EOF after the last
// batch; any other error (a bad feature found by the caller, a broken
// stream) rolls everything back, so previous areas stay as they were.
func (s *Store) ImportAreas(ctx context.Context, kind string, next func() ([]*sparcv1.AreaFeature, error)) (ImportResult, error) {
	var res ImportResult
	err := s.importTx(ctx, func(tx pgx.Tx) error {
		err := stage(ctx, tx, createAreaStaging, "area_import", []string{"feature_number", "code", "name", "parent_code", "geojson"}, next,
			func(f *sparcv1.AreaFeature) ([]any, error) {
				return []any{f.GetFeatureNumber(), f.GetCode(), f.GetDisplayName(), f.GetParentCode(), f.GetGeometryGeojson()}, nil
			})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, checkAreaStaging); err != nil {
			return fmt.Errorf("checking area geometries: %w", err)
		}
		args := append(countryArgs(), kind)
		if err := areaProblems(ctx, tx, args); err != nil {
			return err
		}
		if res.Repaired, err = repairs(ctx, tx); err != nil {
			return err
		}
		if res.Created, res.Updated, err = upsertChecked(ctx, tx, args); err != nil {
			return err
		}
		return rollUp(ctx, tx)
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

// areaProblems reports the staged features that cannot be stored: those
// whose geometry could not be repaired, that lie outside the national
// grids, or whose code belongs to an area of another kind.
func areaProblems(ctx context.Context, tx pgx.Tx, args []any) error {
	rows, err := tx.Query(ctx, findAreaProblems, args...)
	if err != nil {
		return fmt.Errorf("checking areas: %w", err)
	}
	defer rows.Close()
	var vs violations
	for rows.Next() {
		var n int64
		var code, problem string
		if err := rows.Scan(&n, &code, &problem); err != nil {
			return err
		}
		vs.add(featureField(n), "%s: %s", code, problem)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("checking areas: %w", err)
	}
	return vs.err()
}

// repairs lists the staged features whose geometry was repaired.
func repairs(ctx context.Context, tx pgx.Tx) ([]Repair, error) {
	rows, err := tx.Query(ctx, listRepairsSQL)
	if err != nil {
		return nil, fmt.Errorf("listing repairs: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Repair, error) {
		var rp Repair
		return rp, r.Scan(&rp.Number, &rp.Code, &rp.Reason)
	})
	if err != nil {
		return nil, fmt.Errorf("listing repairs: %w", err)
	}
	return list, nil
}

// upsertChecked writes the checked features and counts the areas created
// and updated.
func upsertChecked(ctx context.Context, tx pgx.Tx, args []any) (created, updated int64, err error) {
	rows, err := tx.Query(ctx, upsertAreas, args...)
	if err != nil {
		return 0, 0, fmt.Errorf("writing areas: %w", err)
	}
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err != nil {
		return 0, 0, fmt.Errorf("writing areas: %w", err)
	}
	for _, c := range inserted {
		if c {
			created++
		} else {
			updated++
		}
	}
	return created, updated, nil
}

// importTx runs fn in the one transaction of an import. An import
// consumes a stream, which cannot be read twice, so a retry by db.InTx
// (after a deadlock with a concurrent import of the same codes) is
// refused with ABORTED.
func (s *Store) importTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	var once oneShot
	return db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		if err := once.start(); err != nil {
			return err
		}
		return fn(tx)
	})
}

// stage creates an import's staging table (create) and copies into it,
// with COPY, the rows of every batch next returns until io.EOF.
func stage[T any](ctx context.Context, tx pgx.Tx, create, table string, columns []string, next func() ([]T, error), row func(T) ([]any, error)) error {
	if _, err := tx.Exec(ctx, create); err != nil {
		return fmt.Errorf("creating staging table %s: %w", table, err)
	}
	for {
		batch, err := next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		rows := make([][]any, len(batch))
		for i, x := range batch {
			if rows[i], err = row(x); err != nil {
				return err
			}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("staging %s: %w", table, err)
		}
	}
}

// oneShot refuses a second run of a transaction that consumes a stream.
type oneShot struct{ started bool }

func (o *oneShot) start() error {
	if o.started {
		return status.Error(codes.Aborted, "the import conflicted with a concurrent change to the same areas; run it again")
	}
	o.started = true
	return nil
}

func featureField(n int64) string { return "features[" + strconv.FormatInt(n, 10) + "]" }
func lineField(n int64) string    { return "lines[" + strconv.FormatInt(n, 10) + "]" }

// AttributeRow is one validated row of an attributes file.
type AttributeRow struct {
	Line       int64
	Code       string
	Values     map[string]float64
	Population *int64
	Council    string // "" keeps the area's council
}

// AttributeResult says what an attributes import changed.
type AttributeResult struct {
	Updated, SkippedUnknown int64
}

// Statements of ImportAttributes: rows are staged, unknown codes found,
// and the values merged into the areas' attributes (a population column
// sets the population).
const (
	createAttrStaging = `CREATE TEMP TABLE attr_import (
	line_number bigint NOT NULL, code text NOT NULL, vals jsonb NOT NULL, population bigint,
	council text NOT NULL) ON COMMIT DROP`
	unknownAttrCodes = `
SELECT i.line_number, i.code FROM attr_import i
WHERE NOT EXISTS (SELECT 1 FROM areas a WHERE a.code = i.code)
ORDER BY i.line_number`
	mergeAttributes = `
UPDATE areas a SET attributes = a.attributes || i.vals,
	population = coalesce(i.population, a.population),
	population_derived = a.population_derived AND i.population IS NULL,
	council_code = CASE WHEN i.council <> '' THEN i.council ELSE a.council_code END, updated_at = now()
FROM attr_import i WHERE a.code = i.code`
)

// ImportAttributes merges the rows next returns into their areas'
// attributes (and population) in one transaction, all or nothing. Rows
// whose code matches no area fail the import, or are counted and skipped
// when skipUnknown is set.
func (s *Store) ImportAttributes(ctx context.Context, skipUnknown bool, next func() ([]AttributeRow, error)) (AttributeResult, error) {
	var res AttributeResult
	err := s.importTx(ctx, func(tx pgx.Tx) error {
		err := stage(ctx, tx, createAttrStaging, "attr_import", []string{"line_number", "code", "vals", "population", "council"}, next,
			func(r AttributeRow) ([]any, error) {
				vals, err := json.Marshal(r.Values)
				return []any{r.Line, r.Code, string(vals), r.Population, r.Council}, err
			})
		if err != nil {
			return err
		}
		var vs violations
		if res.SkippedUnknown, err = unknownCodes(ctx, tx, &vs); err != nil {
			return err
		}
		if !skipUnknown {
			if err := vs.err(); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, mergeAttributes)
		if err != nil {
			return fmt.Errorf("writing attributes: %w", err)
		}
		res.Updated = tag.RowsAffected()
		return rollUp(ctx, tx)
	})
	if err != nil {
		return AttributeResult{}, err
	}
	return res, nil
}

// Statements of rollUp. A parent's population, when no file gave it (or
// it was derived before), is the sum of its children's, once every child
// has one (a partial sum would understate it). A parent without a council
// takes its children's when they all share one (an MSOA lies in one local
// authority), unless that council is the parent itself.
const (
	rollUpPopulation = `
UPDATE areas p SET population = s.pop, population_derived = true, updated_at = now()
FROM (SELECT parent_code, sum(population)::bigint AS pop FROM areas WHERE parent_code <> ''
	GROUP BY parent_code HAVING count(*) = count(population)) s
WHERE p.code = s.parent_code AND (p.population IS NULL OR p.population_derived)
  AND p.population IS DISTINCT FROM s.pop`
	rollUpCouncil = `
UPDATE areas p SET council_code = s.council, updated_at = now()
FROM (SELECT parent_code, min(council_code) AS council FROM areas WHERE parent_code <> ''
	GROUP BY parent_code HAVING count(DISTINCT council_code) = 1 AND min(council_code) <> '') s
WHERE p.code = s.parent_code AND p.council_code = '' AND s.council <> p.code`
	// A council's area (a local authority boundary) without a population
	// of its own gets the sum over its member areas of one kind: the kind
	// with the most members (the finest partition, LSOAs rather than
	// MSOAs), once every member of that kind has a population.
	rollUpCouncilPopulation = `
UPDATE areas c SET population = s.pop, population_derived = true, updated_at = now()
FROM (SELECT DISTINCT ON (council_code) council_code, pop FROM (
		SELECT council_code, sum(population)::bigint AS pop, count(*) AS n FROM areas WHERE council_code <> ''
		GROUP BY council_code, kind HAVING count(*) = count(population)) k
	ORDER BY council_code, n DESC) s
WHERE c.code = s.council_code AND (c.population IS NULL OR c.population_derived)
  AND c.population IS DISTINCT FROM s.pop`
)

// maxRollUpLevels bounds the levels rollUp climbs (LSOA -> MSOA -> local
// authority is two), so a cycle of parents cannot loop for ever.
const maxRollUpLevels = 8

// rollUp derives the parents' populations and councils from their
// children's, level by level, and the councils' populations from their
// areas, after an import changed areas or their
// figures: a statement per level until nothing changes.
func rollUp(ctx context.Context, tx pgx.Tx) error {
	for _, stmt := range []string{rollUpPopulation, rollUpCouncil, rollUpCouncilPopulation} {
		for range maxRollUpLevels {
			tag, err := tx.Exec(ctx, stmt)
			if err != nil {
				return fmt.Errorf("deriving parents' figures: %w", err)
			}
			if tag.RowsAffected() == 0 {
				break
			}
		}
	}
	return nil
}

// unknownCodes reports the staged rows whose code matches no area to vs
// and counts them.
func unknownCodes(ctx context.Context, tx pgx.Tx, vs *violations) (int64, error) {
	rows, err := tx.Query(ctx, unknownAttrCodes)
	if err != nil {
		return 0, fmt.Errorf("finding unknown codes: %w", err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var line int64
		var code string
		if err := rows.Scan(&line, &code); err != nil {
			return 0, err
		}
		n++
		vs.add(lineField(line)+".code", "code %q matches no area (import the areas first, or skip unknown codes)", code)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("finding unknown codes: %w", err)
	}
	return n, nil
}

// geoJSONExpr renders the boundary of area "a" as RFC 7946 GeoJSON
// (exterior rings counter-clockwise, holes clockwise: the boundary files
// wind the other way), optionally simplified in the national grid by the
// tolerance in the SQL parameter tol (metres).
func geoJSONExpr(tol string) string {
	return `ST_AsGeoJSON(ST_ForcePolygonCCW(CASE WHEN ` + tol + ` > 0
		THEN ST_Multi(ST_Transform(ST_SimplifyPreserveTopology(a.geom_local, ` + tol + `), 4326)) ELSE a.geom END), 6)`
}

// The boundary simplified by parameter $2 or $4.
var (
	geoJSONSQL2 = geoJSONExpr("$2::float8")
	geoJSONSQL4 = geoJSONExpr("$4::float8")
)

const areaColumns = `a.code, a.name, a.kind, a.parent_code, a.population, a.attributes, a.country,
	ST_Y(a.ref_point), ST_X(a.ref_point), a.council_code`

func scanArea(r pgx.CollectableRow) (*sparcv1.Area, error) {
	a := &sparcv1.Area{}
	var attrs map[string]float64
	var geojson *string
	if err := r.Scan(&a.Code, &a.DisplayName, &a.Kind, &a.ParentCode, &a.Population, &attrs, &a.Country,
		&a.ReferenceLatitude, &a.ReferenceLongitude, &a.CouncilCode, &geojson); err != nil {
		return nil, err
	}
	a.Name = Name(a.Code)
	a.Attributes = attrs
	if geojson != nil {
		a.GeometryGeojson = *geojson
	}
	return a, nil
}

// getAreaSQL reads area $1, with its boundary simplified by $2 metres
// (getAreaWithGeometrySQL).
const getAreaSQL = `SELECT ` + areaColumns + `, NULL::text FROM areas a WHERE a.code = $1 AND $2::float8 >= 0`

var getAreaWithGeometrySQL = `SELECT ` + areaColumns + `, ` + geoJSONSQL2 + ` FROM areas a WHERE a.code = $1 AND $2::float8 >= 0`

// Get returns one area.
func (s *Store) Get(ctx context.Context, code string, withGeometry bool, simplify float64) (*sparcv1.Area, error) {
	sql := getAreaSQL
	if withGeometry {
		sql = getAreaWithGeometrySQL
	}
	rows, err := s.pool.Query(ctx, sql, code, simplify)
	if err != nil {
		return nil, fmt.Errorf("reading area %s: %w", code, err)
	}
	a, err := pgx.CollectExactlyOneRow(rows, scanArea)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s %w", Name(code), apierr.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading area %s: %w", code, err)
	}
	return a, nil
}

// ListQuery is a validated area listing.
type ListQuery struct {
	Kind, Parent string
	BBox         *[4]float64
	WithGeometry bool
	Simplify     float64
	After        *string // last code of the previous page, nil on the first
	Limit        int
}

// NameQuery is a validated listing by the start of a word of the name.
type NameQuery struct {
	ListQuery
	// Prefix is the start of a word, LIKE-escaped (see LikePrefix).
	Prefix string
	After  *NamePosition // the last area of the previous page, nil on the first
}

// NamePosition is an area's place in a name listing: shortest names
// first, then by name (bytewise) and code.
type NamePosition struct {
	Len        int
	Name, Code string
}

// areasFrom selects areas of kind $1 and parent $2 ("" = any) that meet
// bbox $3 (NULL = anywhere); boundaries are simplified by $4 metres.
const areasFrom = ` FROM areas a
WHERE ($1 = '' OR a.kind = $1) AND ($2 = '' OR a.parent_code = $2)
  AND ($3::float8[] IS NULL OR (a.geom && ST_MakeEnvelope($3[1], $3[2], $3[3], $3[4], 4326)
       AND ST_Intersects(a.geom, ST_MakeEnvelope($3[1], $3[2], $3[3], $3[4], 4326))))
  AND $4::float8 >= 0`

// byCode: after code $5, in code order, up to $6.
const byCode = ` AND a.code > $5 ORDER BY a.code LIMIT $6`

// wordsOf folds a name for matching by word start: accents and case
// dropped, word separators made spaces, one space in front.
func wordsOf(expr string) string {
	return `(' ' || translate(lower(unaccent(` + expr + `)), '-/''(),', '      '))`
}

// byName: a word of the name starts with $7 (LIKE-escaped); after
// position ($8 name length, $9 name, $5 code) in that order, up to $6.
// The folded names are computed per row: a seq scan of the areas, a few
// milliseconds for a country's LSOAs, MSOAs and buurten.
var byName = ` AND ` + wordsOf("a.name") + ` LIKE '%' || ` + wordsOf("$7::text") + ` || '%'
  AND (char_length(a.name), a.name COLLATE "C", a.code) > ($8::int, $9::text COLLATE "C", $5)
ORDER BY char_length(a.name), a.name COLLATE "C", a.code LIMIT $6`

// LikePrefix escapes a LIKE pattern's wildcards in s.
func LikePrefix(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// listSelect is the SELECT of a listing, with or without boundaries.
func listSelect(withGeometry bool) string {
	if withGeometry {
		return `SELECT ` + areaColumns + `, ` + geoJSONSQL4
	}
	return `SELECT ` + areaColumns + `, NULL::text`
}

// List returns up to q.Limit+1 areas in code order.
func (s *Store) List(ctx context.Context, q ListQuery) ([]*sparcv1.Area, error) {
	after := ""
	if q.After != nil {
		after = *q.After
	}
	return s.list(ctx, listSelect(q.WithGeometry)+areasFrom+byCode, q, after, q.Limit+1)
}

// ListByName returns up to q.Limit+1 areas with a word of their name
// starting with q.Prefix, shortest names first.
func (s *Store) ListByName(ctx context.Context, q NameQuery) ([]*sparcv1.Area, error) {
	pos := NamePosition{Len: -1}
	if q.After != nil {
		pos = *q.After
	}
	return s.list(ctx, listSelect(q.WithGeometry)+areasFrom+byName, q.ListQuery, pos.Code, q.Limit+1, q.Prefix, pos.Len, pos.Name)
}

func (s *Store) list(ctx context.Context, sql string, q ListQuery, args ...any) ([]*sparcv1.Area, error) {
	var bbox []float64
	if q.BBox != nil {
		bbox = q.BBox[:]
	}
	rows, err := s.pool.Query(ctx, sql, append([]any{q.Kind, q.Parent, bbox, q.Simplify}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("listing areas: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanArea)
	if err != nil {
		return nil, fmt.Errorf("listing areas: %w", err)
	}
	return list, nil
}

// scaleCode is the stored form of each deprivation scale.
var scaleCode = map[sparcv1.DeprivationScale]string{
	sparcv1.DeprivationScale_DEPRIVATION_SCALE_DECILE: "decile",
	sparcv1.DeprivationScale_DEPRIVATION_SCALE_RANK:   "rank",
	sparcv1.DeprivationScale_DEPRIVATION_SCALE_SCORE:  "score",
}

// Statements of deprivation measures: whether kind $1 has areas, declare
// its measure ($2 attribute, $3 scale), read its attribute.
const (
	kindExistsSQL = `SELECT EXISTS (SELECT 1 FROM areas WHERE kind = $1)`
	setMeasureSQL = `
INSERT INTO area_kinds (kind, deprivation_attribute, deprivation_scale) VALUES ($1, $2, $3)
ON CONFLICT (kind) DO UPDATE SET deprivation_attribute = EXCLUDED.deprivation_attribute,
	deprivation_scale = EXCLUDED.deprivation_scale`
	measureSQL = `SELECT coalesce(deprivation_attribute, '') FROM area_kinds WHERE kind = $1`
)

// SetDeprivationMeasure declares the deprivation attribute of a kind. The
// kind must have areas, so a typo does not silently declare a new kind.
func (s *Store) SetDeprivationMeasure(ctx context.Context, m *sparcv1.DeprivationMeasure) error {
	return db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, kindExistsSQL, m.GetKind()).Scan(&exists); err != nil {
			return fmt.Errorf("checking kind %s: %w", m.GetKind(), err)
		}
		if !exists {
			return &apierr.PreconditionError{Type: "AREA_KIND", Subject: "areaKinds/" + m.GetKind(),
				Description: fmt.Sprintf("there are no areas of kind %q; import them before declaring their deprivation measure", m.GetKind())}
		}
		_, err := tx.Exec(ctx, setMeasureSQL,
			m.GetKind(), m.GetAttribute(), scaleCode[m.GetScale()])
		if err != nil {
			return fmt.Errorf("declaring deprivation measure of %s: %w", m.GetKind(), err)
		}
		return nil
	})
}

// deprivationAttribute returns the declared deprivation attribute of
// kind, or "" when none is declared.
func (s *Store) deprivationAttribute(ctx context.Context, kind string) (string, error) {
	var attr string
	err := s.pool.QueryRow(ctx, measureSQL, kind).Scan(&attr)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading deprivation measure of %s: %w", kind, err)
	}
	return attr, nil
}

// CoverageArea is an area as a coverage computation reads it: its
// figures, its deprivation value (the attribute its kind declares) and
// its Web Mercator bounding box, for tiles.
type CoverageArea struct {
	Code, DisplayName, Kind, Parent, Country string
	Council                                  string // "" when unknown
	Population                               int64
	RefLat, RefLng                           float64
	Deprivation                              *float64
	Scale                                    string // decile, rank, score; "" without a measure
	Measure                                  string
	Web                                      [4]float64
}

// coverageAreasSQL reads an area set ($1 parent, $2 kind, $3 bbox, $5
// council, all optional; $4 limit) in code order.
const coverageAreasSQL = `
SELECT a.code, a.name, a.kind, a.parent_code, a.country, coalesce(a.population, 0),
	ST_Y(a.ref_point), ST_X(a.ref_point),
	(a.attributes ->> k.deprivation_attribute)::float8, coalesce(k.deprivation_scale, ''),
	coalesce(k.deprivation_attribute, ''), a.council_code,
	ST_XMin(a.geom_web::box2d), ST_YMin(a.geom_web::box2d), ST_XMax(a.geom_web::box2d), ST_YMax(a.geom_web::box2d)
FROM areas a
LEFT JOIN area_kinds k ON k.kind = a.kind
WHERE ($1 = '' OR a.parent_code = $1)
  AND ($2 = '' OR a.kind = $2)
  AND ($3::float8[] IS NULL OR (a.geom && ST_MakeEnvelope($3[1], $3[2], $3[3], $3[4], 4326)
       AND ST_Intersects(a.geom, ST_MakeEnvelope($3[1], $3[2], $3[3], $3[4], 4326))))
  AND ($5 = '' OR a.council_code = $5)
ORDER BY a.code
LIMIT $4`

// AreaSet selects the areas of a coverage computation; "" and nil mean
// any.
type AreaSet struct {
	Parent, Kind, Council string
	BBox                  *[4]float64
}

// CoverageAreas returns up to limit areas of set, in code order.
func (s *Store) CoverageAreas(ctx context.Context, set AreaSet, limit int) ([]*CoverageArea, error) {
	var box []float64
	if set.BBox != nil {
		box = set.BBox[:]
	}
	rows, err := s.pool.Query(ctx, coverageAreasSQL, set.Parent, set.Kind, box, limit, set.Council)
	if err != nil {
		return nil, fmt.Errorf("selecting areas: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*CoverageArea, error) {
		a := &CoverageArea{}
		err := r.Scan(&a.Code, &a.DisplayName, &a.Kind, &a.Parent, &a.Country, &a.Population, &a.RefLat, &a.RefLng,
			&a.Deprivation, &a.Scale, &a.Measure, &a.Council, &a.Web[0], &a.Web[1], &a.Web[2], &a.Web[3])
		return a, err
	})
}

// councilExistsSQL: whether any area belongs to council $1.
const councilExistsSQL = `SELECT EXISTS (SELECT 1 FROM areas WHERE council_code = $1 AND council_code <> '')`

// CouncilExists reports whether any area belongs to council code.
func (s *Store) CouncilExists(ctx context.Context, code string) (bool, error) {
	return s.exists(ctx, councilExistsSQL, code)
}

// KindExists reports whether any area is of kind.
func (s *Store) KindExists(ctx context.Context, kind string) (bool, error) {
	return s.exists(ctx, kindExistsSQL, kind)
}

func (s *Store) exists(ctx context.Context, sql, arg string) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, sql, arg).Scan(&ok); err != nil {
		return false, fmt.Errorf("checking %q: %w", arg, err)
	}
	return ok, nil
}

// fingerprintSQL changes whenever areas or deprivation measures change:
// the count catches deletes, the latest update time the rest.
const fingerprintSQL = `
SELECT (SELECT count(*) || '/' || coalesce(max(updated_at)::text, '') FROM areas),
       (SELECT coalesce(string_agg(kind || ':' || coalesce(deprivation_attribute, '') || ':' || coalesce(deprivation_scale, ''), ',' ORDER BY kind), '') FROM area_kinds)`

// Fingerprint is a short text that changes whenever areas or deprivation
// measures change, for caches of what is computed from them.
func (s *Store) Fingerprint(ctx context.Context) (string, error) {
	var a, k string
	if err := s.pool.QueryRow(ctx, fingerprintSQL).Scan(&a, &k); err != nil {
		return "", fmt.Errorf("reading area fingerprint: %w", err)
	}
	return a + "|" + k, nil
}

// Figures are per-area values drawn on a coverage tile, one slice entry
// per area code.
type Figures struct {
	Codes          []string
	Scores, Places []*float64
	Inside, Within []int32
	Deciles        []int32
}

// figuresTileSQL draws the areas given by code ($4) with their figures
// ($5..$9), clipped to tile $1/$2/$3, as layer "coverage".
const figuresTileSQL = `
WITH c AS (
	SELECT * FROM unnest($4::text[], $5::float8[], $6::int[], $7::int[], $8::int[], $9::float8[])
		AS c(code, coverage_score, assets_inside, assets_within_walk, deprivation_decile, weekly_places_per_1000)
), t AS (
	SELECT a.code, a.name AS display_name, c.coverage_score, c.assets_inside, c.assets_within_walk,
		c.deprivation_decile, c.weekly_places_per_1000,
		ST_AsMVTGeom(CASE WHEN $1 <= 12 THEN a.geom_web_low ELSE a.geom_web END,
			ST_TileEnvelope($1, $2, $3), 4096, 64, true) AS geom
	FROM c JOIN areas a ON a.code = c.code
)
SELECT coalesce(ST_AsMVT(t.*, 'coverage', 4096, 'geom'), '') FROM t WHERE t.geom IS NOT NULL`

// FiguresTile renders tile z/x/y of the areas in f with their figures
// as a Mapbox vector tile.
func (s *Store) FiguresTile(ctx context.Context, z, x, y int, f Figures) ([]byte, error) {
	var tile []byte
	err := s.pool.QueryRow(ctx, figuresTileSQL, z, x, y, f.Codes, f.Scores, f.Inside, f.Within, f.Deciles, f.Places).Scan(&tile)
	if err != nil {
		return nil, fmt.Errorf("rendering coverage tile %d/%d/%d: %w", z, x, y, err)
	}
	return tile, nil
}

// EachBoundary calls fn with the GeoJSON boundary (see geoJSONExpr,
// simplified by tol metres) of each area of codes, in code order,
// streaming: a national set is never held in memory.
func (s *Store) EachBoundary(ctx context.Context, codes []string, tol float64, fn func(code, geojson string) error) error {
	rows, err := s.pool.Query(ctx, boundariesSQL, codes, tol)
	if err != nil {
		return fmt.Errorf("reading area geometry: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var code, geom string
		if err := rows.Scan(&code, &geom); err != nil {
			return fmt.Errorf("reading area geometry: %w", err)
		}
		if err := fn(code, geom); err != nil {
			return err
		}
	}
	return rows.Err()
}

// boundariesSQL: the areas of codes ($1) with their boundaries simplified
// by $2 metres, in code order.
var boundariesSQL = `SELECT a.code, ` + geoJSONSQL2 + ` FROM areas a WHERE a.code = ANY($1) ORDER BY a.code`

// codesNearSQL lists the areas of one national grid (srid inlined, so
// the grid's partial index on geom_local serves it) within $3 metres of
// any of the WGS84 points ($1 latitudes, $2 longitudes): those whose
// walking-distance figures an asset there changes. The point is
// transformed as assets.location_grid is, so the test is the coverage
// join's own.
func codesNearSQL(srid int) string {
	return `SELECT DISTINCT a.code FROM unnest($1::float8[], $2::float8[]) p(lat, lng)
JOIN areas a ON a.srid = ` + strconv.Itoa(srid) + `
	AND ST_DWithin(a.geom_local, ST_Transform(ST_SetSRID(ST_MakePoint(p.lng, p.lat), 4326), ` + strconv.Itoa(srid) + `), $3)`
}

// CodesNear returns the codes of country's areas within meters of any of
// the points (latitude, longitude), in its national grid.
func (s *Store) CodesNear(ctx context.Context, country string, lats, lngs []float64, meters float64) ([]string, error) {
	srid := 0
	for _, c := range Countries {
		if c.Code == country {
			srid = c.SRID
		}
	}
	if srid == 0 || len(lats) == 0 {
		return nil, nil
	}
	var codes []string
	err := db.WithoutJIT(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, codesNearSQL(srid), pgx.QueryExecModeDescribeExec, lats, lngs, meters)
		if err != nil {
			return fmt.Errorf("finding areas near assets: %w", err)
		}
		codes, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return codes, err
}
