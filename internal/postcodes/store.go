package postcodes

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/db"
)

// Store is the SQL side of postcodes, the only code that touches the
// postcodes table.
type Store struct {
	pool  *pgxpool.Pool
	cache *placeCache // see cache.go; used only while Listen runs
}

// NewStore returns a store over pool: an application pool for lookups and
// the demo loader (as the network admin), the owner's for the CLI import.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, cache: newPlaceCache(placeCacheSize, placeCacheTTL)}
}

// Match is what a place is the centre of.
type Match int

// The levels of a lookup, finest first.
const (
	MatchPostcode Match = iota + 1
	MatchSector
	MatchDistrict
)

// Place is where a postcode is.
type Place struct {
	Code          Code
	Lat, Lng      float64
	LSOA, Council string
	Match         Match
	Source        string
}

// Approximate says the point is a sector's or district's centre.
func (p Place) Approximate() bool { return p.Match != MatchPostcode }

// ErrUnknownDistrict says a well-formed postcode's district is not in the
// data, so it cannot be placed even approximately.
var ErrUnknownDistrict = errors.New("unknown postcode district")

// lookupSQL places a postcode in one round trip of three primary-key
// probes: the postcode itself (level 1), else its sector's centre (2),
// else its district's (3), kept in postcode_areas by the imports. An
// approximate point has no LSOA; its council is the sector's or
// district's when all its postcodes share one.
const lookupSQL = `
SELECT 1 AS level, ST_Y(location::geometry), ST_X(location::geometry), lsoa_code, council_code, source
FROM postcodes WHERE country = $1 AND postcode = $2
UNION ALL
SELECT level, lat, lng, '', council, source FROM postcode_areas WHERE country = $1 AND code IN ($3, $4)
ORDER BY level LIMIT 1`

// Lookup places a postcode: itself when the data has it, else its
// sector's or district's centre; ErrUnknownDistrict when neither is there.
func (s *Store) Lookup(ctx context.Context, c Code) (Place, error) {
	p, ok, gen := s.cache.get(c)
	if ok {
		return p, nil
	}
	p = Place{Code: c}
	err := s.pool.QueryRow(ctx, lookupSQL, c.Country, c.Key, c.Sector, c.District).Scan(&p.Match, &p.Lat, &p.Lng, &p.LSOA, &p.Council, &p.Source)
	if errors.Is(err, pgx.ErrNoRows) {
		return Place{}, ErrUnknownDistrict
	}
	if err != nil {
		return Place{}, fmt.Errorf("looking up postcode: %w", err)
	}
	s.cache.put(p, gen)
	return p, nil
}

const countSQL = `SELECT count(*) FROM postcodes WHERE country = $1`

// Count is how many postcodes of country are loaded.
func (s *Store) Count(ctx context.Context, country string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, countSQL, country).Scan(&n)
	return n, err
}

const createStaging = `
CREATE TEMP TABLE postcode_import (
	line     bigint NOT NULL,
	country  text NOT NULL,
	postcode text NOT NULL,
	sector   text NOT NULL,
	district text NOT NULL,
	lat      float8 NOT NULL,
	lng      float8 NOT NULL,
	lsoa     text NOT NULL,
	council  text NOT NULL,
	quality  smallint NOT NULL,
	source   text NOT NULL
) ON COMMIT DROP`

var stagingColumns = []string{"line", "country", "postcode", "sector", "district", "lat", "lng", "lsoa", "council", "quality", "source"}

// upsertSQL moves the staged rows in; a postcode listed twice keeps its
// last line. COPY cannot write a table under row-level security, hence
// the staging table.
const upsertSQL = `
INSERT INTO postcodes AS p (country, postcode, sector, district, location, lsoa_code, council_code, quality, source)
SELECT DISTINCT ON (country, postcode) country, postcode, sector, district,
	ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography, lsoa, council, quality, source
FROM postcode_import ORDER BY country, postcode, line DESC
ON CONFLICT (country, postcode) DO UPDATE SET
	sector = EXCLUDED.sector, district = EXCLUDED.district, location = EXCLUDED.location,
	lsoa_code = EXCLUDED.lsoa_code, council_code = EXCLUDED.council_code,
	quality = EXCLUDED.quality, source = EXCLUDED.source`

// refreshAreasSQL recomputes the centres of the sectors and districts the
// staged rows touch, from all their postcodes (loaded before or now).
// Means of latitude and longitude are fine at a district's scale.
const refreshAreasSQL = `
INSERT INTO postcode_areas AS a (country, code, level, lat, lng, council, source, postcodes)
SELECT country, sector, 2, avg(ST_Y(location::geometry)), avg(ST_X(location::geometry)),
	CASE WHEN count(DISTINCT council_code) = 1 THEN min(council_code) ELSE '' END, min(source), count(*)
FROM postcodes WHERE (country, sector) IN (SELECT DISTINCT country, sector FROM postcode_import)
GROUP BY country, sector
UNION ALL
SELECT country, district, 3, avg(ST_Y(location::geometry)), avg(ST_X(location::geometry)),
	CASE WHEN count(DISTINCT council_code) = 1 THEN min(council_code) ELSE '' END, min(source), count(*)
FROM postcodes WHERE (country, district) IN (SELECT DISTINCT country, district FROM postcode_import)
GROUP BY country, district
ON CONFLICT (country, code) DO UPDATE SET level = EXCLUDED.level, lat = EXCLUDED.lat, lng = EXCLUDED.lng,
	council = EXCLUDED.council, source = EXCLUDED.source, postcodes = EXCLUDED.postcodes`

// Import loads the rows next yields (io.EOF at the end) in one
// transaction, staged with COPY as they are read, so a file loads whole
// or not at all and a postcode already there is replaced. progress, when
// not nil, is called every 50,000 rows with the count so far. It returns
// how many postcodes were written.
func (s *Store) Import(ctx context.Context, next func() (Row, error), progress func(rows int64)) (int64, error) {
	var written int64
	attempts := 0
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		// The rows are read once, as they stream in: a retried transaction
		// (a deadlock with a concurrent import) cannot read them again.
		if attempts++; attempts > 1 {
			return errors.New("the import met a concurrent change to the same postcodes and was rolled back: run it again")
		}
		if _, err := tx.Exec(ctx, createStaging); err != nil {
			return fmt.Errorf("staging postcodes: %w", err)
		}
		src := &rowSource{next: next, progress: progress}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"postcode_import"}, stagingColumns, src); err != nil {
			if src.err != nil {
				return src.err
			}
			return fmt.Errorf("copying postcodes: %w", err)
		}
		if progress != nil {
			progress(src.n)
		}
		tag, err := tx.Exec(ctx, upsertSQL)
		if err != nil {
			return fmt.Errorf("writing postcodes: %w", err)
		}
		written = tag.RowsAffected()
		if _, err := tx.Exec(ctx, refreshAreasSQL); err != nil {
			return fmt.Errorf("computing sector and district centres: %w", err)
		}
		// Delivered on commit: every server's cache of places drops what
		// it holds (cache.go).
		if _, err := tx.Exec(ctx, notifyPostcodes); err != nil {
			return fmt.Errorf("announcing the import: %w", err)
		}
		return nil
	})
	if err == nil {
		s.cache.drop()
	}
	return written, err
}

// rowSource feeds COPY from next.
type rowSource struct {
	next     func() (Row, error)
	progress func(int64)
	row      Row
	n        int64
	err      error
}

func (r *rowSource) Next() bool {
	row, err := r.next()
	if errors.Is(err, io.EOF) {
		return false
	}
	if err != nil {
		r.err = err
		return false
	}
	r.row = row
	r.n++
	if r.progress != nil && r.n%50000 == 0 {
		r.progress(r.n)
	}
	return true
}

func (r *rowSource) Values() ([]any, error) {
	c := r.row.Code
	return []any{r.row.Line, c.Country, c.Key, c.Sector, c.District, r.row.Lat, r.row.Lng,
		r.row.LSOA, r.row.Council, r.row.Quality, r.row.Source}, nil
}

func (r *rowSource) Err() error { return r.err }
