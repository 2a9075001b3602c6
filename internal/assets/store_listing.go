package assets

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// Listing is a validated Open Referral UK listing of assets (package oruk
// serves it): its filters, an offset page, and the order that follows from
// them: distance (Near), else text rank (Text), else id.
type Listing struct {
	Text          string // tsquery of prefix terms, see TextQuery
	Categories    []string
	Kinds         []string
	HasCategory   bool // at least one category
	HasCapacity   bool // a capacity is set
	OtherZone     bool // sessions in a time zone other than the country's usual one
	None          bool // nothing matches (a taxonomy no asset carries)
	Owner         *string
	ModifiedAfter *time.Time
	Near          *Near
	Limit, Offset int
}

// Unfiltered reports whether l lists every asset.
func (l Listing) Unfiltered() bool {
	return l.Text == "" && len(l.Categories) == 0 && len(l.Kinds) == 0 && !l.HasCategory && !l.HasCapacity &&
		!l.OtherZone && !l.None && l.Owner == nil && l.ModifiedAfter == nil && l.Near == nil
}

// Owner is what the directory shows of an asset's owner organisation: its
// public fields.
type Owner struct {
	ID, Name, Website string
}

// where returns the predicate and parameters of l, and the ORDER BY.
//
// The proximity predicate is Search's: ST_DWithin on geography with
// use_spheroid = false, ordered by the KNN distance location <-> point, so
// both APIs agree on what is near and use the same GiST index.
func (l Listing) where() (where, order, dist string, p args) {
	w := []string{"true"}
	order = "a.id"
	if l.None {
		w = append(w, "false")
	}
	if l.Near != nil {
		var within string
		dist, within = p.near(l.Near)
		w = append(w, within)
		order = dist + ", a.id"
	}
	if l.Text != "" {
		tsq := tsquerySQL(p.add(l.Text))
		w = append(w, "a.search_doc @@ "+tsq)
		if l.Near == nil {
			order = "ts_rank(a.search_doc, " + tsq + ") DESC, a.id"
		}
	}
	w = p.tagged(w, l.Categories, l.Kinds)
	if l.HasCategory {
		w = append(w, "cardinality(a.categories) > 0")
	}
	if l.HasCapacity {
		w = append(w, "a.capacity IS NOT NULL")
	}
	if l.OtherZone {
		w = append(w, otherZoneSQL)
	}
	if l.Owner != nil {
		w = append(w, "a.owner_organisation = "+p.add(*l.Owner)+"::uuid")
	}
	if l.ModifiedAfter != nil {
		w = append(w, "a.updated_at >= "+p.add(*l.ModifiedAfter))
	}
	return strings.Join(w, " AND "), order, dist, p
}

// otherZoneSQL: the first session's time zone is not the usual one of the
// asset's country (the sessions of an asset share one zone).
const otherZoneSQL = `jsonb_array_length(a.sessions) > 0 AND a.sessions->0->>'timezone' IS DISTINCT FROM
			CASE a.country WHEN 'GB' THEN 'Europe/London' WHEN 'NL' THEN 'Europe/Amsterdam' END`

// listingColumns are whole assets with their owners' public fields.
const listingColumns = `SELECT ` + selectColumns + `, COALESCE(o.id::text, ''), COALESCE(o.name, ''), COALESCE(o.website, '')`

// listingPageSQL returns the statement of one page of l: the page's ids
// first (an index-only scan of the primary key for the plain list, however
// deep the offset), then their assets and owners in one statement. A
// proximity page is, as Search's, a KNN scan by distance alone (the order
// the GiST index gives) for the rows up to the page's end, WITH TIES, then
// the page in (distance, id) order.
//
// The owners' public name and website come from organisations, joined
// here so a page stays one statement.
func (l Listing) pageSQL() (string, []any) {
	where, order, dist, p := l.where()
	if dist == "" {
		return listingColumns + ` FROM (SELECT a.id FROM assets a WHERE ` + where + " ORDER BY " + order +
			" LIMIT " + p.add(l.Limit) + " OFFSET " + p.add(l.Offset) + `) p
			JOIN assets a ON a.id = p.id LEFT JOIN organisations o ON o.id = a.owner_organisation
			ORDER BY ` + strings.ReplaceAll(order, "a.id", "p.id"), p
	}
	return listingColumns + ` FROM (SELECT a.id, ` + dist + ` AS knn_distance FROM assets a
			WHERE ` + where + ` ORDER BY ` + dist + ` FETCH FIRST ` + p.add(l.Offset+l.Limit) + ` ROWS WITH TIES) p
			JOIN assets a ON a.id = p.id LEFT JOIN organisations o ON o.id = a.owner_organisation
			ORDER BY p.knn_distance, p.id LIMIT ` + p.add(l.Limit) + " OFFSET " + p.add(l.Offset), p
}

// ListingPage returns one page of l with the owners of its assets by id.
// The assets are whole (selectColumns), not the BASIC view: an Open
// Referral service list carries each service's description, url, email,
// ages, assured date and last change, none of them in BASIC.
func (s *Store) ListingPage(ctx context.Context, l Listing) ([]*sparcv1.Asset, map[string]Owner, error) {
	sql, p := l.pageSQL()
	// A proximity page runs, as Search, on the point search pool: else the
	// planner reads and sorts every asset in the circle instead of
	// walking the index in KNN order.
	pool, err := s.pointsOr(l.Near != nil)
	if err != nil {
		return nil, nil, err
	}
	var b pgx.Batch
	var list []*sparcv1.Asset
	owners := map[string]Owner{}
	b.Queue(sql, p...).Query(func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var r row
			var o Owner
			if err := rows.Scan(r.targets(&o.ID, &o.Name, &o.Website)...); err != nil {
				return fmt.Errorf("reading asset: %w", err)
			}
			a, err := r.asset()
			if err != nil {
				return err
			}
			list = append(list, a)
			if o.ID != "" {
				owners[o.ID] = o
			}
		}
		return rows.Err()
	})
	if err := pool.SendBatch(ctx, &b).Close(); err != nil {
		return nil, nil, fmt.Errorf("listing services: %w", err)
	}
	return list, owners, nil
}

// ListingCount counts the assets l matches.
func (s *Store) ListingCount(ctx context.Context, l Listing) (int, error) {
	sql, p := l.countSQL()
	pool, err := s.pointsOr(l.Near != nil) // the count's index-only plan, see countSQL
	if err != nil {
		return 0, err
	}
	var total int
	if err := pool.QueryRow(ctx, sql, p...).Scan(&total); err != nil {
		return 0, fmt.Errorf("counting services: %w", err)
	}
	return total, nil
}

// countSQL counts l. A proximity count is an index-only scan of
// assets_location_geom_covering: the circle's bounding box in degrees on
// the planar index, then the exact test _ST_DWithin, on the sphere, on the
// geography the index includes. It selects exactly what ST_DWithin
// selects (ST_DWithin is the box test plus _ST_DWithin), but ST_DWithin's
// own box test would steer the planner to the geography index, which must
// visit the table for every candidate.
func (l Listing) countSQL() (string, []any) {
	if l.Near == nil {
		where, _, _, p := l.where()
		return "SELECT count(*) FROM assets a WHERE " + where, p
	}
	g := l
	n := *l.Near
	g.Near = nil
	where, _, _, p := g.where()
	box := circleBox(n.Lat, n.Lng, n.RadiusMeters)
	pt := p.add(n.point())
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

const (
	// ownersSQL: the organisations that own at least one asset, by name.
	ownersSQL = `SELECT o.id::text, o.name, o.website FROM organisations o
		WHERE EXISTS (SELECT 1 FROM assets a WHERE a.owner_organisation = o.id) ORDER BY o.name, o.id`
	// ownerSQL: one organisation's public fields, whether or not it owns
	// assets.
	ownerSQL = `SELECT o.id::text, o.name, o.website FROM organisations o WHERE o.id = $1`
	// postcodeCentreSQL: how many assets with a point are at a postcode,
	// and their mean position (a remote service's postal address has none).
	postcodeCentreSQL = `SELECT count(a.location), COALESCE(avg(ST_Y(a.location::geometry)), 0), COALESCE(avg(ST_X(a.location::geometry)), 0)
		FROM assets a WHERE a.postcode = $1`
)

// Owners returns the organisations that own at least one asset, by name.
func (s *Store) Owners(ctx context.Context) ([]Owner, error) {
	rows, err := s.read.Query(ctx, ownersSQL)
	if err != nil {
		return nil, fmt.Errorf("listing organisations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Owner, error) {
		var o Owner
		return o, r.Scan(&o.ID, &o.Name, &o.Website)
	})
	if err != nil {
		return nil, fmt.Errorf("listing organisations: %w", err)
	}
	return out, nil
}

// OwnerOf returns the public fields of organisation id; ok is false when
// there is none.
func (s *Store) OwnerOf(ctx context.Context, id uuid.UUID) (o Owner, ok bool, err error) {
	err = s.read.QueryRow(ctx, ownerSQL, id).Scan(&o.ID, &o.Name, &o.Website)
	if errors.Is(err, pgx.ErrNoRows) {
		return Owner{}, false, nil
	}
	if err != nil {
		return Owner{}, false, fmt.Errorf("reading organisation %s: %w", id, err)
	}
	return o, true, nil
}

// PostcodeCentre is the mean position of the assets at a postcode; ok is
// false when none is there.
func (s *Store) PostcodeCentre(ctx context.Context, postcode string) (lat, lng float64, ok bool, err error) {
	var n int
	if err = s.read.QueryRow(ctx, postcodeCentreSQL, postcode).Scan(&n, &lat, &lng); err != nil {
		return 0, 0, false, fmt.Errorf("looking up postcode: %w", err)
	}
	return lat, lng, n > 0, nil
}
