// Package geo parses and checks the GeoJSON polygons users send (service
// areas, search polygons) before they reach PostGIS, so a bad shape is a
// clear INVALID_ARGUMENT naming what is wrong rather than a database error.
package geo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/geojson"
)

// MaxGeoJSONBytes bounds the size of a polygon document.
const MaxGeoJSONBytes = 1 << 20

// ParsePolygon decodes a GeoJSON Polygon or MultiPolygon (a bare geometry or
// a Feature holding one) in WGS84 and checks it: closed rings of at least
// four positions, coordinates in range, at most maxVertices positions, and
// no ring that crosses itself or another ring of its polygon.
func ParsePolygon(doc string, maxVertices int) (*geom.MultiPolygon, error) {
	if len(doc) > MaxGeoJSONBytes {
		return nil, fmt.Errorf("GeoJSON is %d bytes, more than the maximum of %d", len(doc), MaxGeoJSONBytes)
	}
	var probe struct {
		Type     string          `json:"type"`
		Geometry json.RawMessage `json:"geometry"`
	}
	if err := json.Unmarshal([]byte(doc), &probe); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	raw := []byte(doc)
	if probe.Type == "Feature" {
		raw = probe.Geometry
	}
	var g geom.T
	if err := geojson.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("not a GeoJSON geometry: %v", err)
	}
	var mp *geom.MultiPolygon
	switch t := g.(type) {
	case *geom.Polygon:
		mp = geom.NewMultiPolygon(t.Layout())
		if err := mp.Push(t); err != nil {
			return nil, err
		}
	case *geom.MultiPolygon:
		mp = t
	default:
		return nil, fmt.Errorf("geometry type %T is not a Polygon or MultiPolygon", g)
	}
	// A geometry without coordinates has no layout (stride 0).
	if mp.NumPolygons() == 0 || mp.Stride() == 0 {
		return nil, errors.New("polygon has no rings")
	}
	if n := len(mp.FlatCoords()) / mp.Stride(); n > maxVertices {
		return nil, fmt.Errorf("polygon has %d vertices, more than the maximum of %d", n, maxVertices)
	}
	for i := 0; i < mp.NumPolygons(); i++ {
		if err := checkPolygon(mp.Polygon(i)); err != nil {
			if mp.NumPolygons() > 1 {
				return nil, fmt.Errorf("polygon %d: %w", i, err)
			}
			return nil, err
		}
	}
	if err := checkParts(mp); err != nil {
		return nil, err
	}
	return mp, nil
}

// checkParts rejects a MultiPolygon whose parts overlap or touch: an edge
// of one crossing another's, or one part lying inside another (and not in
// its hole). PostGIS calls such a shape invalid, and overlay operations on
// it fail.
func checkParts(mp *geom.MultiPolygon) error {
	n := mp.NumPolygons()
	for i := 0; i < n; i++ {
		pi := mp.Polygon(i)
		bi := geom.NewBounds(geom.XY).Extend(pi)
		for j := i + 1; j < n; j++ {
			pj := mp.Polygon(j)
			if !bi.Overlaps(geom.XY, geom.NewBounds(geom.XY).Extend(pj)) {
				continue
			}
			if edgesMeet(pi, pj) {
				return fmt.Errorf("polygons %d and %d of the MultiPolygon cross or touch", i, j)
			}
			if contains(pi, pj.LinearRing(0).Coord(0)) || contains(pj, pi.LinearRing(0).Coord(0)) {
				return fmt.Errorf("polygons %d and %d of the MultiPolygon overlap", i, j)
			}
		}
	}
	return nil
}

func edgesMeet(p, q *geom.Polygon) bool {
	for r := 0; r < p.NumLinearRings(); r++ {
		a := p.LinearRing(r)
		for s := 0; s < q.NumLinearRings(); s++ {
			b := q.LinearRing(s)
			for k := 1; k < a.NumCoords(); k++ {
				for m := 1; m < b.NumCoords(); m++ {
					if intersects(a.Coord(k-1), a.Coord(k), b.Coord(m-1), b.Coord(m)) {
						return true
					}
				}
			}
		}
	}
	return false
}

// contains is the even-odd rule over all rings of p (so holes exclude).
func contains(p *geom.Polygon, c geom.Coord) bool {
	in := false
	x, y := c.X(), c.Y()
	for r := 0; r < p.NumLinearRings(); r++ {
		ring := p.LinearRing(r)
		for i, j := 0, ring.NumCoords()-1; i < ring.NumCoords(); j, i = i, i+1 {
			xi, yi, xj, yj := ring.Coord(i).X(), ring.Coord(i).Y(), ring.Coord(j).X(), ring.Coord(j).Y()
			if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
				in = !in
			}
		}
	}
	return in
}

func checkPolygon(p *geom.Polygon) error {
	if p.NumLinearRings() == 0 {
		return errors.New("polygon has no rings")
	}
	var segs []segment
	for r := 0; r < p.NumLinearRings(); r++ {
		ring := p.LinearRing(r)
		n := ring.NumCoords()
		if n < 4 {
			return fmt.Errorf("ring %d has %d positions; a closed ring needs at least 4", r, n)
		}
		first, last := ring.Coord(0), ring.Coord(n-1)
		if first.X() != last.X() || first.Y() != last.Y() {
			return fmt.Errorf("ring %d is not closed (first and last positions differ)", r)
		}
		for i := 0; i < n; i++ {
			c := ring.Coord(i)
			lon, lat := c.X(), c.Y()
			if math.IsNaN(lon) || math.IsNaN(lat) || lon < -180 || lon > 180 || lat < -90 || lat > 90 {
				return fmt.Errorf("ring %d position %d (%v, %v) is outside WGS84 longitude/latitude range", r, i, lon, lat)
			}
			if i > 0 {
				segs = append(segs, segment{ring: r, idx: i - 1, n: n - 1, a: ring.Coord(i - 1), b: c})
			}
		}
	}
	if a, b, ok := firstCrossing(segs); ok {
		return fmt.Errorf("polygon is self-intersecting: edge %d of ring %d crosses edge %d of ring %d", a.idx, a.ring, b.idx, b.ring)
	}
	return nil
}

type segment struct {
	ring, idx, n int
	a, b         geom.Coord
}

// firstCrossing finds two edges that touch or cross, other than neighbours
// in the same ring sharing their common vertex. Quadratic, which the vertex
// limit keeps cheap; bounding boxes skip most pairs.
func firstCrossing(segs []segment) (segment, segment, bool) {
	for i := range segs {
		s := segs[i]
		for j := i + 1; j < len(segs); j++ {
			t := segs[j]
			if s.ring == t.ring && (t.idx == s.idx+1 || (s.idx == 0 && t.idx == s.n-1)) {
				if collinearOverlap(s, t) {
					return s, t, true
				}
				continue
			}
			if intersects(s.a, s.b, t.a, t.b) {
				return s, t, true
			}
		}
	}
	return segment{}, segment{}, false
}

// collinearOverlap catches a ring that doubles back on itself (spike).
func collinearOverlap(s, t segment) bool {
	if orient(s.a, s.b, t.a) != 0 || orient(s.a, s.b, t.b) != 0 {
		return false
	}
	// Neighbours share one vertex; an overlap means more than that point is shared.
	dx1, dy1 := s.b.X()-s.a.X(), s.b.Y()-s.a.Y()
	dx2, dy2 := t.b.X()-t.a.X(), t.b.Y()-t.a.Y()
	return dx1*dx2+dy1*dy2 < 0
}

func intersects(p1, p2, q1, q2 geom.Coord) bool {
	if math.Max(p1.X(), p2.X()) < math.Min(q1.X(), q2.X()) || math.Max(q1.X(), q2.X()) < math.Min(p1.X(), p2.X()) ||
		math.Max(p1.Y(), p2.Y()) < math.Min(q1.Y(), q2.Y()) || math.Max(q1.Y(), q2.Y()) < math.Min(p1.Y(), p2.Y()) {
		return false
	}
	d1, d2 := orient(q1, q2, p1), orient(q1, q2, p2)
	d3, d4 := orient(p1, p2, q1), orient(p1, p2, q2)
	if d1*d2 < 0 && d3*d4 < 0 {
		return true
	}
	return (d1 == 0 && onSegment(q1, q2, p1)) || (d2 == 0 && onSegment(q1, q2, p2)) ||
		(d3 == 0 && onSegment(p1, p2, q1)) || (d4 == 0 && onSegment(p1, p2, q2))
}

func orient(a, b, c geom.Coord) float64 {
	v := (b.X()-a.X())*(c.Y()-a.Y()) - (b.Y()-a.Y())*(c.X()-a.X())
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

func onSegment(a, b, p geom.Coord) bool {
	return math.Min(a.X(), b.X()) <= p.X() && p.X() <= math.Max(a.X(), b.X()) &&
		math.Min(a.Y(), b.Y()) <= p.Y() && p.Y() <= math.Max(a.Y(), b.Y())
}

// ValidLatLng reports whether a WGS84 position is usable.
func ValidLatLng(lat, lng float64) bool {
	return !math.IsNaN(lat) && !math.IsNaN(lng) && !math.IsInf(lat, 0) && !math.IsInf(lng, 0) &&
		lat >= -90 && lat <= 90 && lng >= -180 && lng <= 180
}

// EarthRadius is the mean radius PostGIS uses for sphere distances
// (geography KNN): (2a+b)/3 of WGS84.
const EarthRadius = 6371008.771415059

// SphereDistance is the great-circle distance in metres between two WGS84
// positions on PostGIS's sphere (haversine).
func SphereDistance(lat1, lng1, lat2, lng2 float64) float64 {
	const rad = math.Pi / 180
	φ1, φ2 := lat1*rad, lat2*rad
	dφ, dλ := (lat2-lat1)*rad, (lng2-lng1)*rad
	h := math.Sin(dφ/2)*math.Sin(dφ/2) + math.Cos(φ1)*math.Cos(φ2)*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * EarthRadius * math.Asin(math.Min(1, math.Sqrt(h)))
}

// EncodeMultiPolygon writes mp as a plain two-dimensional GeoJSON
// MultiPolygon. Services hand PostGIS this form rather than the user's
// document: ParsePolygon accepts a Feature wrapper, a "crs" member and
// third or fourth coordinates, which ST_GeomFromGeoJSON rejects or turns
// into a non-WGS84 or 3D geometry that the geography columns refuse.
func EncodeMultiPolygon(mp *geom.MultiPolygon) string {
	polys := make([][][][2]float64, mp.NumPolygons())
	for i := range polys {
		p := mp.Polygon(i)
		rings := make([][][2]float64, p.NumLinearRings())
		for r := range rings {
			ring := p.LinearRing(r)
			pts := make([][2]float64, ring.NumCoords())
			for k := range pts {
				c := ring.Coord(k)
				pts[k] = [2]float64{c.X(), c.Y()}
			}
			rings[r] = pts
		}
		polys[i] = rings
	}
	// Only finite numbers reach here (ParsePolygon checked the ranges), so
	// encoding cannot fail.
	b, _ := json.Marshal(struct {
		Type        string           `json:"type"`
		Coordinates [][][][2]float64 `json:"coordinates"`
	}{"MultiPolygon", polys})
	return string(b)
}

// CheckSphereEdges rejects polygons with an edge spanning maxDegrees of
// arc or more. Stored as geography, an edge is the great circle between its
// ends, and PostGIS refuses edges whose ends are (nearly) antipodal, such
// as a pole-to-pole side of a whole-world rectangle.
func CheckSphereEdges(mp *geom.MultiPolygon, maxDegrees float64) error {
	limit := maxDegrees * math.Pi / 180 * EarthRadius
	for i := 0; i < mp.NumPolygons(); i++ {
		p := mp.Polygon(i)
		for r := 0; r < p.NumLinearRings(); r++ {
			ring := p.LinearRing(r)
			for k := 1; k < ring.NumCoords(); k++ {
				a, b := ring.Coord(k-1), ring.Coord(k)
				if SphereDistance(a.Y(), a.X(), b.Y(), b.X()) >= limit {
					return fmt.Errorf("edge %d of ring %d spans %.0f° or more of arc; split it into shorter edges", k-1, r, maxDegrees)
				}
			}
		}
	}
	return nil
}

// ParseBBox reads a box as "minLon,minLat,maxLon,maxLat" (WGS84), the
// OGC order every bbox parameter of the API uses.
func ParseBBox(s string) ([4]float64, error) {
	var b [4]float64
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return b, errors.New("must be four numbers: minLon,minLat,maxLon,maxLat")
	}
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return b, errors.New("must be four numbers: minLon,minLat,maxLon,maxLat")
		}
		b[i] = f
	}
	if !ValidLatLng(b[1], b[0]) || !ValidLatLng(b[3], b[2]) {
		return b, errors.New("corners must be WGS84 longitude (-180..180) and latitude (-90..90)")
	}
	if b[0] > b[2] || b[1] > b[3] {
		return b, fmt.Errorf("minimum corner must be south-west of the maximum corner")
	}
	return b, nil
}
