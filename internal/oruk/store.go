package oruk

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
)

// store runs the ORUK listing queries. It selects ids (with a count for
// the page envelope) and reads the assets through the asset store, so the
// column list and row decoding stay in one place.
type store struct {
	pool   *pgxpool.Pool
	assets *assets.Store
	totals countCache
}

// countCache keeps the total of the unfiltered list for a moment: a
// validator or importer pages through every service in quick succession,
// and counting the whole table for each page would cost more than the
// page itself. Filtered totals are always counted. A total may lag a
// write by countTTL, no more than the pages themselves can (ORUK paging is
// by offset, not a snapshot).
type countCache struct {
	mu      sync.Mutex
	total   int
	expires time.Time
}

const countTTL = 2 * time.Second

func (c *countCache) get(sql string) (int, bool) {
	if sql != unfilteredCountSQL {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total, time.Now().Before(c.expires)
}

func (c *countCache) put(sql string, noArgs bool, total int) {
	if sql != unfilteredCountSQL || !noArgs {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total, c.expires = total, time.Now().Add(countTTL)
}

const unfilteredCountSQL = "SELECT count(*) FROM assets a WHERE true"

// filter is a validated ORUK list query over assets.
type filter struct {
	text          string // tsquery of prefix terms, see textQuery
	categories    []string
	kinds         []string
	attribute     string // a term of the service attributes taxonomy
	hasCategory   bool   // taxonomy_id of the categories taxonomy
	none          bool   // a taxonomy (term) that no asset can carry
	owner         *string
	modifiedAfter *time.Time
	near          *assets.Near
	limit, offset int
}

// args numbers query parameters as they are added.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// where returns the predicate and parameters of f, and the ORDER BY.
//
// The proximity predicate is the native search's (internal/assets
// SearchSQL): ST_DWithin on geography with use_spheroid = false, ordered
// by the KNN distance location <-> point, so both APIs agree on what is
// near and use the same GiST index.
func (f filter) where() (where, order, dist string, p args) {
	w := []string{"true"}
	order = "a.id"
	if f.none {
		w = append(w, "false")
	}
	if f.near != nil {
		pt := p.add(fmt.Sprintf("SRID=4326;POINT(%s %s)",
			strconv.FormatFloat(f.near.Lng, 'g', -1, 64), strconv.FormatFloat(f.near.Lat, 'g', -1, 64)))
		w = append(w, "ST_DWithin(a.location, "+pt+"::geography, "+p.add(f.near.RadiusMeters)+", false)")
		dist = "(a.location <-> " + pt + "::geography)"
		order = dist + ", a.id"
	}
	if f.text != "" {
		tq := p.add(f.text)
		tsq := "(to_tsquery('sparc_en', " + tq + ") || to_tsquery('sparc_nl', " + tq + "))"
		w = append(w, "a.search_doc @@ "+tsq)
		if f.near == nil {
			order = "ts_rank(a.search_doc, " + tsq + ") DESC, a.id"
		}
	}
	if len(f.categories) > 0 {
		w = append(w, "a.categories && "+p.add(f.categories)+"::text[]")
	}
	if f.hasCategory {
		w = append(w, "cardinality(a.categories) > 0")
	}
	if len(f.kinds) > 0 {
		w = append(w, "a.kind = ANY("+p.add(f.kinds)+"::text[])")
	}
	switch f.attribute {
	case AttrCapacity:
		w = append(w, "a.capacity IS NOT NULL")
	case AttrTimezone:
		w = append(w, `jsonb_array_length(a.sessions) > 0 AND a.sessions->0->>'timezone' IS DISTINCT FROM
			CASE a.country WHEN 'GB' THEN 'Europe/London' WHEN 'NL' THEN 'Europe/Amsterdam' END`)
	}
	if f.owner != nil {
		w = append(w, "a.owner_organisation = "+p.add(*f.owner)+"::uuid")
	}
	if f.modifiedAfter != nil {
		w = append(w, "a.updated_at >= "+p.add(*f.modifiedAfter))
	}
	return strings.Join(w, " AND "), order, dist, p
}

// knnPlanSQL is the native point search's planner setting (see
// internal/assets SearchBatch).
const knnPlanSQL = `SELECT set_config('enable_bitmapscan', 'off', true), set_config('jit', 'off', true)`

// list returns one page of assets, their owners' public fields and the
// total number matching. Both statements go to the database in one round
// trip; the assets are then read by id through the asset store.
func (s *store) list(ctx context.Context, f filter) ([]*sparcv1.Asset, Orgs, int, error) {
	where, order, dist, p := f.where()
	countSQL := "SELECT count(*) FROM assets a WHERE " + where
	countArgs := p
	if f.near != nil {
		countSQL, countArgs = f.nearCount()
	}
	pageArgs := append(args(nil), p...)
	// Whole assets with their owners' public fields, in one statement.
	cols := `SELECT ` + assets.Columns + `, COALESCE(o.id::text, ''), COALESCE(o.name, ''), COALESCE(o.website, '')`
	var pageSQL string
	if dist == "" {
		// The page's ids first (an index-only scan of the primary key for
		// the plain list, however deep the offset), then their owners.
		pageSQL = cols + ` FROM (SELECT a.id FROM assets a WHERE ` + where + " ORDER BY " + order +
			" LIMIT " + pageArgs.add(f.limit) + " OFFSET " + pageArgs.add(f.offset) + `) p
			JOIN assets a ON a.id = p.id LEFT JOIN organisations o ON o.id = a.owner_organisation
			ORDER BY ` + strings.ReplaceAll(order, "a.id", "p.id")
	} else {
		// As the native point search: a KNN scan by distance alone (the
		// order the GiST index gives) for the rows up to the page's end,
		// WITH TIES, then the page in (distance, id) order.
		pageSQL = cols + ` FROM (SELECT a.id, ` + dist + ` AS knn_distance FROM assets a
			WHERE ` + where + ` ORDER BY ` + dist + ` FETCH FIRST ` + pageArgs.add(f.offset+f.limit) + ` ROWS WITH TIES) p
			JOIN assets a ON a.id = p.id LEFT JOIN organisations o ON o.id = a.owner_organisation
			ORDER BY p.knn_distance, p.id LIMIT ` + pageArgs.add(f.limit) + " OFFSET " + pageArgs.add(f.offset)
	}
	var b pgx.Batch
	if dist != "" {
		// Transaction-local (the batch's implicit transaction), as the
		// native search: without it the planner reads and sorts every
		// asset in the circle instead of walking the index in KNN order.
		b.Queue(knnPlanSQL)
	}
	// The count runs on its own connection while the page is read: a
	// proximity count visits every asset in the circle, the page only its
	// first rows, so a request takes the longer of the two, not the sum.
	total, haveCount := s.totals.get(countSQL)
	countDone := make(chan error, 1)
	if haveCount {
		countDone <- nil
	} else {
		go func() {
			var cb pgx.Batch
			if dist != "" {
				cb.Queue(knnPlanSQL) // the count's index-only plan, see nearCount
			}
			cb.Queue(countSQL, countArgs...).QueryRow(func(r pgx.Row) error { return r.Scan(&total) })
			countDone <- s.pool.SendBatch(ctx, &cb).Close()
		}()
	}
	var list []*sparcv1.Asset
	orgs := Orgs{}
	b.Queue(pageSQL, pageArgs...).Query(func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var org string
			var info OrgInfo
			a, err := assets.Scan(rows, &org, &info.Name, &info.Website)
			if err != nil {
				return err
			}
			list = append(list, a)
			if org != "" {
				orgs[org] = info
			}
		}
		return rows.Err()
	})
	pageErr := s.pool.SendBatch(ctx, &b).Close()
	if err := <-countDone; err != nil {
		return nil, nil, 0, fmt.Errorf("counting services: %w", err)
	}
	if pageErr != nil {
		return nil, nil, 0, fmt.Errorf("listing services: %w", pageErr)
	}
	if !haveCount {
		s.totals.put(countSQL, len(countArgs) == 0, total)
	}
	return list, orgs, total, nil
}

// nearCount is the count of a proximity filter as an index-only scan of
// assets_location_geom_covering: the circle's bounding box in degrees on
// the planar index, then the exact test _ST_DWithin, on the sphere, on
// the geography the index includes. It selects exactly what ST_DWithin
// selects (ST_DWithin is the box test plus _ST_DWithin), but ST_DWithin's
// own box test would steer the planner to the geography index, which
// must visit the table for every candidate.
func (f filter) nearCount() (string, args) {
	g := f
	n := *f.near
	g.near = nil
	where, _, _, p := g.where()
	box := circleBox(n.Lat, n.Lng, n.RadiusMeters)
	pt := p.add(fmt.Sprintf("SRID=4326;POINT(%s %s)",
		strconv.FormatFloat(n.Lng, 'g', -1, 64), strconv.FormatFloat(n.Lat, 'g', -1, 64)))
	where += " AND a.location::geometry && ST_MakeEnvelope(" + p.add(box[0]) + ", " + p.add(box[1]) + ", " +
		p.add(box[2]) + ", " + p.add(box[3]) + ", 4326) AND _ST_DWithin(a.location, " + pt + "::geography, " +
		p.add(n.RadiusMeters) + ", false)"
	return "SELECT count(*) FROM assets a WHERE " + where, p
}

// circleBox is a longitude/latitude box holding every point within r
// metres of (lat, lng) on PostGIS's sphere, with a margin; near a pole or
// the antimeridian it widens to all longitudes.
func circleBox(lat, lng, r float64) [4]float64 {
	const sphereRadius = 6371008.8 // metres, the mean radius PostGIS uses
	dLat := r / sphereRadius * 180 / math.Pi * 1.01
	minLat, maxLat := max(-90, lat-dLat), min(90, lat+dLat)
	edge := max(math.Abs(minLat), math.Abs(maxLat))
	if edge >= 89 {
		return [4]float64{-180, minLat, 180, maxLat}
	}
	dLng := dLat / math.Cos(edge*math.Pi/180) * 1.01
	if lng-dLng < -180 || lng+dLng > 180 {
		return [4]float64{-180, minLat, 180, maxLat}
	}
	return [4]float64{lng - dLng, minLat, lng + dLng, maxLat}
}

// orgRow is an organisation as ORUK shows it.
type orgRow struct {
	id string
	OrgInfo
}

// owningOrgs returns the organisations that own at least one asset, by
// name; one id when only is set.
func (s *store) owningOrgs(ctx context.Context, only *uuid.UUID) ([]orgRow, error) {
	sql := `SELECT o.id::text, o.name, o.website FROM organisations o
		WHERE EXISTS (SELECT 1 FROM assets a WHERE a.owner_organisation = o.id)`
	var params []any
	if only != nil {
		sql = `SELECT o.id::text, o.name, o.website FROM organisations o WHERE o.id = $1`
		params = append(params, *only)
	}
	rows, err := s.pool.Query(ctx, sql+` ORDER BY o.name, o.id`, params...)
	if err != nil {
		return nil, fmt.Errorf("listing organisations: %w", err)
	}
	defer rows.Close()
	var out []orgRow
	for rows.Next() {
		var r orgRow
		if err := rows.Scan(&r.id, &r.Name, &r.Website); err != nil {
			return nil, fmt.Errorf("listing organisations: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// assetWithOrg reads one asset and its owner's public fields.
func (s *store) assetWithOrg(ctx context.Context, id uuid.UUID) (*sparcv1.Asset, Orgs, error) {
	list, err := s.assets.GetMany(ctx, []uuid.UUID{id})
	if err != nil || len(list) == 0 {
		return nil, nil, err
	}
	a := list[0]
	orgs := Orgs{}
	if owner := a.GetOwnerOrganisation(); owner != "" {
		var info OrgInfo
		err := s.pool.QueryRow(ctx, `SELECT o.name, o.website FROM organisations o WHERE o.id = $1::uuid`, owner).Scan(&info.Name, &info.Website)
		if err == nil {
			orgs[owner] = info
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return nil, nil, fmt.Errorf("reading organisation %s: %w", owner, err)
		}
	}
	return a, orgs, nil
}

// postcodeCentre is the mean position of the directory's assets at a
// postcode: SPARC has no postcode gazetteer, so ORUK postcode searches use
// the addresses the directory already holds.
func (s *store) postcodeCentre(ctx context.Context, postcode string) (lat, lng float64, ok bool, err error) {
	var n int
	err = s.pool.QueryRow(ctx, `SELECT count(*), COALESCE(avg(ST_Y(a.location::geometry)), 0), COALESCE(avg(ST_X(a.location::geometry)), 0)
		FROM assets a WHERE a.postcode = $1`, postcode).Scan(&n, &lat, &lng)
	if err != nil {
		return 0, 0, false, fmt.Errorf("looking up postcode: %w", err)
	}
	return lat, lng, n > 0, nil
}

// textQuery turns free text into prefix terms joined by AND, as the
// native search does; only letters and digits pass, so input can never
// inject tsquery operators.
func textQuery(s string) string {
	var terms []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		terms = append(terms, strings.ToLower(w)+":*")
	}
	return strings.Join(terms, " & ")
}
