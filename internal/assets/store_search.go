package assets

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// SearchQuery is a validated search. Exactly one of Near, BBox and
// WithinGeoJSON may be set; the order follows from it:
// distance (Near), text rank (Text without Near), else name.
type SearchQuery struct {
	Near          *Near
	BBox          *[4]float64 // minLon, minLat, maxLon, maxLat
	WithinGeoJSON string

	Categories         []string
	Kinds              []string
	FreeOnly           bool
	Accessibility      []string
	Language           string
	Age                *int32
	AcceptingReferrals *bool
	OpenAt             *time.Time
	Text               *Text // see ParseText
	HasPlaces          bool
	Statuses           []string
	// Remote says which services the search returns by delivery:
	// RemoteInclude (in person, then remote), RemoteOnly, RemoteExclude.
	Remote string

	// Basic asks for the BASIC view (sparcv1.AssetView): the hits carry
	// only what a result list shows, which is cheaper to read and send.
	Basic bool

	Limit int
	After *Cursor
}

// SearchQuery.Remote values.
const (
	RemoteInclude = "include"
	RemoteOnly    = "only"
	RemoteExclude = "exclude"
)

// inPerson reports whether the search reads in-person assets: not when it
// asks for remote services only, nor on a page that starts among them.
func (q SearchQuery) inPerson() bool {
	return q.Remote != RemoteOnly && (q.After == nil || !q.After.Remote)
}

// remote reports whether the search reads remote services.
func (q SearchQuery) remote() bool { return q.Remote != RemoteExclude }

// Near is a point and a radius in metres.
type Near struct {
	Lat, Lng, RadiusMeters float64
}

// point is the centre as EWKT, the parameter the statements cast to
// geography.
func (n *Near) point() string {
	return fmt.Sprintf("SRID=4326;POINT(%s %s)",
		strconv.FormatFloat(n.Lng, 'g', -1, 64), strconv.FormatFloat(n.Lat, 'g', -1, 64))
}

// Cursor is the keyset position after the last result of a page.
type Cursor struct {
	Distance float64   `json:"d,omitempty"`
	Rank     float32   `json:"r,omitempty"`
	Name     string    `json:"n,omitempty"`
	ID       uuid.UUID `json:"i"`
	// Remote: the page ends among the remote services, which follow the
	// in-person results; the next page holds remote services only.
	Remote bool `json:"m,omitempty"`
}

// Hit is one search result.
type Hit struct {
	Asset    *sparcv1.Asset
	Distance float64
	Rank     float32
	Remote   bool // a remote service whose area covers the search place
}

// args numbers query parameters as they are added.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// near returns the KNN distance to n's centre and the radius predicate:
// both on the sphere (use_spheroid = false), so the filter and the order
// agree and use the same GiST index.
func (a *args) near(n *Near) (dist, within string) {
	pt := a.add(n.point())
	return "(a.location <-> " + pt + "::geography)",
		"ST_DWithin(a.location, " + pt + "::geography, " + a.add(n.RadiusMeters) + ", false)"
}

// tagged appends the category (any of) and kind filters to where.
func (a *args) tagged(where []string, categories, kinds []string) []string {
	if len(categories) > 0 {
		where = append(where, "a.categories && "+a.add(categories)+"::text[]")
	}
	if len(kinds) > 0 {
		where = append(where, "a.kind = ANY("+a.add(kinds)+"::text[])")
	}
	return where
}

// Search runs q and returns up to q.Limit+1 hits (one extra tells the
// caller whether another page exists): the in-person assets in the page
// order, then, when they do not fill the page, the remote services whose
// area covers the search place, in their own order (text rank, else
// name). A full page of in-person results costs nothing more than before;
// the page where they run out takes a second round trip for the remote
// services (an indexed ST_Covers on their resolved areas). The hits carry
// q's view (q.Basic), with next_session_time from the time of the call.
//
// Point searches use the GiST index in KNN order (location <-> point), the
// sphere distance PostGIS computes for geography; the radius test uses the
// same sphere (use_spheroid = false) so the filter and the order agree.
// They run on the point search pool (PointSearchPool), whose connections
// keep the planner on that index: one statement, one round trip.
func (s *Store) Search(ctx context.Context, q SearchQuery) ([]Hit, error) {
	if hits, ok, err := s.searchIndex(ctx, q); ok || err != nil {
		return hits, err
	}
	now := time.Now()
	var hits []Hit
	if q.inPerson() {
		pool, err := s.pointsOr(q.Near != nil)
		if err != nil {
			return nil, err
		}
		sql, p := SearchSQL(q)
		if hits, err = search(ctx, pool, sql, p, q.Limit+1, q.Basic, false, now); err != nil {
			return nil, err
		}
	}
	if !q.remote() || len(hits) > q.Limit {
		return hits, nil
	}
	r := q
	r.Limit = q.Limit - len(hits)
	sql, p := RemoteSearchSQL(r)
	more, err := search(ctx, s.read, sql, p, r.Limit+1, q.Basic, true, now)
	return append(hits, more...), err
}

// search runs one search statement on pool and reads its hits in the view
// (basic or full).
func search(ctx context.Context, pool *pgxpool.Pool, sql string, p []any, capacity int, basic, remote bool, now time.Time) ([]Hit, error) {
	rows, err := pool.Query(ctx, sql, p...)
	if err != nil {
		return nil, fmt.Errorf("searching assets: %w", err)
	}
	defer rows.Close()
	hits := make([]Hit, 0, capacity)
	for rows.Next() {
		r := newViewRow(basic)
		h := Hit{Remote: remote}
		if err := rows.Scan(r.targets(&h.Distance, &h.Rank)...); err != nil {
			return nil, fmt.Errorf("reading search result: %w", err)
		}
		a, err := r.view(now)
		if err != nil {
			return nil, err
		}
		h.Asset = a
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("searching assets: %w", err)
	}
	return hits, nil
}

// ExplainSearch returns the plan of q's in-person statement as Search runs
// it (same statement, same pool and settings), with the planner settings
// that differ from the server's (EXPLAIN (SETTINGS)): the tests check that
// a point search walks the GiST index in KNN order.
func (s *Store) ExplainSearch(ctx context.Context, q SearchQuery) (string, error) {
	pool, err := s.pointsOr(q.Near != nil)
	if err != nil {
		return "", err
	}
	sql, p := SearchSQL(q)
	rows, err := pool.Query(ctx, "EXPLAIN (SETTINGS) "+sql, p...)
	if err != nil {
		return "", fmt.Errorf("explaining search: %w", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}

// SearchSQL returns the statement and arguments Search runs for q's
// in-person assets.
func SearchSQL(q SearchQuery) (string, []any) { return searchSQL(q, false) }

// RemoteSearchSQL returns the statement of q's remote services: those
// whose resolved area (reach, migration 0057) covers the search point or
// meets its box or polygon (any, without a place), with q's filters, in
// the order of a search without a point (text rank, else name), from
// q.After when it is a remote service's (a page that crosses from the
// in-person results starts at the first).
func RemoteSearchSQL(q SearchQuery) (string, []any) {
	var p args
	var where []string
	switch {
	case q.Near != nil:
		where = append(where, "ST_Covers(a.reach, "+p.add(q.Near.point())+"::geometry)")
	case q.BBox != nil:
		b := q.BBox
		where = append(where, "ST_Intersects(a.reach, ST_MakeEnvelope("+p.add(b[0])+", "+p.add(b[1])+", "+p.add(b[2])+", "+p.add(b[3])+", 4326))")
	case q.WithinGeoJSON != "":
		where = append(where, "ST_Intersects(a.reach, ST_SetSRID(ST_GeomFromGeoJSON("+p.add(q.WithinGeoJSON)+"), 4326))")
	default:
		where = append(where, "a.reach IS NOT NULL")
	}
	where, rankExpr := filterSQL(q, &p, where, false)
	r := q
	r.Near = nil
	if q.After != nil && !q.After.Remote {
		r.After = nil
	}
	order, after := pageOrder(r, &p, "0::float8", rankExpr)
	if after != "" {
		where = append(where, after)
	}
	return "SELECT " + viewColumns(q.Basic) + ", 0::float8, " + rankExpr + " FROM assets a WHERE " + strings.Join(where, " AND ") +
		" ORDER BY " + order + " LIMIT " + p.add(q.Limit+1), p
}

// BaselineSearchSQL is SearchSQL with the text search of before compound
// and partial matching (stemmed full-text prefixes only), kept for the
// benchmark to compare the two in one run.
func BaselineSearchSQL(q SearchQuery) (string, []any) { return searchSQL(q, true) }

// baselineTextSQL is the text predicate and rank of before issue 14: every
// word a stemmed full-text prefix in English or Dutch.
func baselineTextSQL(t *Text, p *args) (where, rank string) {
	words := make([]string, len(t.Words))
	for i, w := range t.Words {
		words[i] = w.Folded + ":*"
	}
	tsq := tsquerySQL(p.add(strings.Join(words, " & ")))
	return "a.search_doc @@ " + tsq, "ts_rank(a.search_doc, " + tsq + ")"
}

// searchSQL builds the statement of q (see SearchSQL).
//
// A point search is a KNN scan in a subquery: the nearest Limit+1 rows by
// distance alone (the only order the index can give), WITH TIES so that no
// asset at the same distance as the last one is cut off; the outer query
// then orders by (distance, id), the page order, and keeps Limit+1. Every
// row of the true page is in the subquery: those nearer than the last
// distance are, and WITH TIES adds all at that distance. The subquery
// costs nothing measurable (100k assets: the same PostgreSQL CPU as the
// bare KNN query with the status filter); ordering the KNN scan by
// (distance, id) directly is no alternative, as PostgreSQL 15 then sorts
// every asset in the circle (no incremental sort over an index's
// ordering operator).
func searchSQL(q SearchQuery, baseline bool) (string, []any) {
	var p args
	var where []string
	distExpr := "0::float8"

	if q.Near != nil {
		var within string
		distExpr, within = p.near(q.Near)
		where = append(where, within)
	}
	if q.BBox != nil {
		b := q.BBox
		// ST_Intersects, not a bare &&: the index compares float4 boxes,
		// which let through points up to ~0.5 m outside the box.
		where = append(where, "ST_Intersects(a.location::geometry, ST_MakeEnvelope("+p.add(b[0])+", "+p.add(b[1])+", "+p.add(b[2])+", "+p.add(b[3])+", 4326))")
	}
	if q.WithinGeoJSON != "" {
		where = append(where, "ST_Intersects(a.location::geometry, ST_SetSRID(ST_GeomFromGeoJSON("+p.add(q.WithinGeoJSON)+"), 4326))")
	}
	if q.Near == nil && q.BBox == nil && q.WithinGeoJSON == "" {
		where = append(where, "a.location IS NOT NULL") // remote services are the other group
	}
	where, rankExpr := filterSQL(q, &p, where, baseline)

	order, after := pageOrder(q, &p, distExpr, rankExpr)
	if after != "" {
		where = append(where, after)
	}
	if q.Near != nil {
		limit := p.add(q.Limit + 1)
		sql := "SELECT " + viewColumns(q.Basic) + ", a.knn_distance, " + rankExpr +
			" FROM (SELECT a.*, " + distExpr + " AS knn_distance FROM assets a WHERE " + strings.Join(where, " AND ") +
			" ORDER BY " + distExpr + " FETCH FIRST " + limit + " ROWS WITH TIES) a" +
			" ORDER BY a.knn_distance, a.id LIMIT " + limit
		return sql, p
	}
	sql := "SELECT " + viewColumns(q.Basic) + ", " + distExpr + ", " + rankExpr +
		" FROM assets a WHERE " + strings.Join(where, " AND ") +
		" ORDER BY " + order + " LIMIT " + p.add(q.Limit+1)
	return sql, p
}

// filterSQL appends q's filters other than its place to where (their
// parameters to p) and returns them with the text rank expression
// ("0::real" without text).
func filterSQL(q SearchQuery, p *args, where []string, baseline bool) ([]string, string) {
	rankExpr := "0::real"
	if q.Text != nil {
		var match string
		if baseline {
			match, rankExpr = baselineTextSQL(q.Text, p)
		} else {
			match, rankExpr = textSQL(q.Text, p)
		}
		where = append(where, match)
	}
	where = p.tagged(where, q.Categories, q.Kinds)
	if q.FreeOnly {
		where = append(where, "a.cost_kind = 'free'")
	}
	if len(q.Accessibility) > 0 {
		where = append(where, "a.accessibility @> "+p.add(q.Accessibility)+"::text[]")
	}
	if q.Language != "" {
		where = append(where, p.add(q.Language)+" = ANY(a.languages)")
	}
	if q.Age != nil {
		age := p.add(*q.Age)
		where = append(where, "(a.min_age IS NULL OR a.min_age <= "+age+") AND (a.max_age IS NULL OR a.max_age >= "+age+")")
	}
	if q.AcceptingReferrals != nil {
		where = append(where, "a.accepting_referrals = "+p.add(*q.AcceptingReferrals))
	}
	if q.OpenAt != nil {
		where = append(where, openAtSQL(p.add(*q.OpenAt)))
	}
	if q.HasPlaces {
		where = append(where, "(a.capacity IS NULL OR a.capacity > COALESCE((SELECT pl.taken FROM asset_places pl WHERE pl.asset_id = a.id), 0))")
	}
	where = append(where, "a.status = ANY("+p.add(q.Statuses)+"::text[])")
	return where, rankExpr
}

// pageOrder returns the ORDER BY of q and the predicate that starts the
// page after q.After ("" for the first page).
func pageOrder(q SearchQuery, p *args, distExpr, rankExpr string) (order, after string) {
	switch {
	case q.Near != nil:
		order = distExpr + ", a.id"
		if q.After != nil {
			after = "(" + distExpr + ", a.id) > (" + p.add(q.After.Distance) + "::float8, " + p.add(q.After.ID) + "::uuid)"
		}
	case q.Text != nil:
		order = rankExpr + " DESC, a.id"
		if q.After != nil {
			r, id := p.add(q.After.Rank), p.add(q.After.ID)
			after = "(" + rankExpr + " < " + r + "::real OR (" + rankExpr + " = " + r + "::real AND a.id > " + id + "::uuid))"
		}
	default:
		order = `a.name COLLATE "C", a.id`
		if q.After != nil {
			after = `(a.name COLLATE "C", a.id) > (` + p.add(q.After.Name) + `::text COLLATE "C", ` + p.add(q.After.ID) + `::uuid)`
		}
	}
	return order, after
}

// openAtSQL tests whether an asset is open at instant t as its
// availability says: always available at any time; by appointment without
// sessions at any time (one can be arranged); else (sessions, drop-in
// opening hours, appointment hours) when a session runs at t, in the
// session's own time zone, within its validity dates.
func openAtSQL(t string) string {
	local := "(" + t + "::timestamptz AT TIME ZONE s.timezone)"
	return `(a.availability = 'always_available'
		OR (a.availability = 'by_appointment' AND a.sessions = '[]'::jsonb)
		OR EXISTS (SELECT 1 FROM jsonb_to_recordset(a.sessions) AS s(day int, start_time text, end_time text, timezone text, valid_from date, valid_until date)
		WHERE extract(isodow FROM ` + local + `) = s.day
		AND ` + local + `::time >= s.start_time::time AND ` + local + `::time < s.end_time::time
		AND (s.valid_from IS NULL OR ` + local + `::date >= s.valid_from)
		AND (s.valid_until IS NULL OR ` + local + `::date <= s.valid_until)))`
}

// tsquerySQL matches the tsquery parameter tq in both text search
// configurations, English and Dutch.
func tsquerySQL(tq string) string {
	return "(to_tsquery('sparc_en', " + tq + ") || to_tsquery('sparc_nl', " + tq + "))"
}

// TextQuery turns free text into a tsquery string of prefix terms joined
// by AND ("walk tues" → "walk:* & tues:*"), for SearchQuery.Text and
// Listing.Text. Only letters and digits pass, so user input can never
// inject tsquery operators.
func TextQuery(s string) string {
	var terms []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		terms = append(terms, strings.ToLower(w)+":*")
	}
	return strings.Join(terms, " & ")
}

// ListQuery is a validated ListAssets request.
type ListQuery struct {
	Categories, Kinds, Statuses []string
	Owner                       string
	ModifiedSince               *time.Time
	Basic                       bool // the BASIC view, as SearchQuery.Basic
	Limit                       int
	After                       *ListCursor
}

// ListCursor is the keyset position in update order.
type ListCursor struct {
	UpdatedMicros int64     `json:"u"`
	ID            uuid.UUID `json:"i"`
}

// Listed is one asset of a list and its place in the list's order.
type Listed struct {
	Asset  *sparcv1.Asset
	Cursor ListCursor
}

// List returns up to q.Limit+1 assets in (update_time, id) order, in q's
// view, with next_session_time from the time of the call.
func (s *Store) List(ctx context.Context, q ListQuery) ([]Listed, error) {
	var p args
	where := []string{"true"}
	where = p.tagged(where, q.Categories, q.Kinds)
	if len(q.Statuses) > 0 {
		where = append(where, "a.status = ANY("+p.add(q.Statuses)+"::text[])")
	}
	if q.Owner != "" {
		where = append(where, "a.owner_organisation = "+p.add(q.Owner))
	}
	if q.ModifiedSince != nil {
		where = append(where, "a.updated_at >= "+p.add(*q.ModifiedSince))
	}
	if q.After != nil {
		where = append(where, "(a.updated_at, a.id) > ("+p.add(time.UnixMicro(q.After.UpdatedMicros))+"::timestamptz, "+p.add(q.After.ID)+"::uuid)")
	}
	// The page order's key comes last: the BASIC view has no update_time.
	sql := "SELECT " + viewColumns(q.Basic) + ", a.updated_at FROM assets a WHERE " + strings.Join(where, " AND ") +
		" ORDER BY a.updated_at, a.id LIMIT " + p.add(q.Limit+1)
	// A list of one owner's assets is what its editors reload after their
	// own change: the primary. The public feed may lag on a replica.
	pool := s.read
	if q.Owner != "" {
		pool = s.pool
	}
	rows, err := pool.Query(ctx, sql, p...)
	if err != nil {
		return nil, fmt.Errorf("listing assets: %w", err)
	}
	defer rows.Close()
	now := time.Now()
	var out []Listed
	for rows.Next() {
		r := newViewRow(q.Basic)
		var updated time.Time
		if err := rows.Scan(r.targets(&updated)...); err != nil {
			return nil, fmt.Errorf("reading asset: %w", err)
		}
		a, err := r.view(now)
		if err != nil {
			return nil, err
		}
		out = append(out, Listed{Asset: a, Cursor: ListCursor{UpdatedMicros: updated.UnixMicro(), ID: ID(a)}})
	}
	return out, rows.Err()
}

func collect(rows pgx.Rows) ([]*sparcv1.Asset, error) {
	defer rows.Close()
	var out []*sparcv1.Asset
	for rows.Next() {
		var r row
		if err := rows.Scan(r.targets()...); err != nil {
			return nil, fmt.Errorf("reading asset: %w", err)
		}
		a, err := r.asset()
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
