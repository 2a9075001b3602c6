// Package nearby is an in-memory index of points on the sphere that
// answers exact k-nearest-neighbour queries in the order PostGIS gives a
// geography KNN scan (location <-> point, use_spheroid = false), ties
// broken by id: the order of the asset search (internal/assets).
//
// The points are kept in a B-tree (github.com/tidwall/btree) keyed by the
// S2 leaf cell of each point (github.com/golang/geo/s2), as the C++ S2
// library's S2PointIndex does: a cell is a contiguous key range, so the
// points within a cap are read by covering the cap with a few cells and
// walking each cell's range. A query covers a cap of radius r, keeps every
// point within r that the caller accepts, and stops once it holds more
// than k of them (then every one of the k nearest lies within r);
// otherwise it grows r, up to the query's radius. The answer is exact:
// the distance is PostGIS's own formula (Distance), and the covering is
// padded so that no point S2 places a hair outside the cap is missed.
//
// One goroutine writes an Index; Snapshot hands readers an immutable
// copy (the B-tree's copy-on-write clone, O(1)), so searches never wait
// for writes nor writes for searches.
package nearby

import (
	"bytes"
	"math"
	"slices"
	"sync/atomic"

	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
	"github.com/google/uuid"
	"github.com/tidwall/btree"
)

// EarthRadius is the radius of PostGIS's sphere for WGS84 geography: the
// mean radius (2a+b)/3 (spheroid_init_from_srid sets s.radius so; with
// use_spheroid = false the distance is s.radius * sphere_distance).
const EarthRadius = 6371008.771415059

// Distance is PostGIS's sphere distance in metres from the point
// (lat1, lng1) to (lat2, lng2), computed as liblwgeom's sphere_distance
// does (the Vincenty special case of the great-circle formula, atan2 of
// the two components) with the same operations in the same order, with
// location first as in location <-> point. Measured against PostGIS
// (internal/assets, TestIndexDistanceIsPostGISDistance): a third of the
// distances are bit-identical, the rest differ by at most about 10⁻¹¹
// relative, where Go's sin, cos and atan2 round the last bit otherwise
// than the C library's.
func Distance(lat1, lng1, lat2, lng2 float64) float64 {
	slat, slon := rad(lat1), rad(lng1)
	elat, elon := rad(lat2), rad(lng2)
	dLon := elon - slon
	cosDLon := math.Cos(dLon)
	cosLatE, sinLatE := math.Cos(elat), math.Sin(elat)
	cosLatS, sinLatS := math.Cos(slat), math.Sin(slat)
	a1 := cosLatE * math.Sin(dLon)
	a1 *= a1
	a2 := cosLatS*sinLatE - sinLatS*cosLatE*cosDLon
	a2 *= a2
	a := math.Sqrt(a1 + a2)
	b := sinLatS*sinLatE + cosLatS*cosLatE*cosDLon
	return EarthRadius * math.Atan2(a, b)
}

// rad is liblwgeom's deg2rad, (M_PI * (x) / 180.0), with its
// normalisation of the one value it changes in range (-180° is 180°).
func rad(deg float64) float64 {
	r := math.Pi * deg / 180.0
	if r == -math.Pi {
		return math.Pi
	}
	return r
}

// point is one indexed point: its key in the tree and its value.
type point[V any] struct {
	key      uint64 // S2 leaf cell id
	id       uuid.UUID
	lat, lng float64
	val      V
}

func less[V any](a, b point[V]) bool {
	if a.key != b.key {
		return a.key < b.key
	}
	return bytes.Compare(a.id[:], b.id[:]) < 0
}

// Index is the writer's side: one goroutine sets and deletes points and
// takes snapshots for the readers.
type Index[V any] struct {
	hint *atomic.Uint64 // shared with the snapshots: see Snapshot.Nearest
	tree *btree.BTreeG[point[V]]
	byID map[uuid.UUID]point[V]
}

// New returns an empty index.
func New[V any]() *Index[V] {
	// No locks: the writer's tree has one goroutine, and snapshots are
	// only read once published.
	return &Index[V]{hint: &atomic.Uint64{}, tree: btree.NewBTreeGOptions(less[V], btree.Options{NoLocks: true}), byID: map[uuid.UUID]point[V]{}}
}

func key(lat, lng float64) uint64 {
	return uint64(s2.CellIDFromLatLng(s2.LatLngFromDegrees(lat, lng)))
}

// Set puts id at (lat, lng) with val, replacing what id had.
func (ix *Index[V]) Set(id uuid.UUID, lat, lng float64, val V) {
	if old, ok := ix.byID[id]; ok {
		ix.tree.Delete(old)
	}
	p := point[V]{key: key(lat, lng), id: id, lat: lat, lng: lng, val: val}
	ix.tree.Set(p)
	ix.byID[id] = p
}

// Delete removes id (nothing when it is not there).
func (ix *Index[V]) Delete(id uuid.UUID) {
	if old, ok := ix.byID[id]; ok {
		ix.tree.Delete(old)
		delete(ix.byID, id)
	}
}

// Get returns id's value.
func (ix *Index[V]) Get(id uuid.UUID) (V, bool) {
	p, ok := ix.byID[id]
	return p.val, ok
}

// Len is the number of points.
func (ix *Index[V]) Len() int { return len(ix.byID) }

// Snapshot returns an immutable copy of the index as it is now, safe for
// any number of concurrent readers while the writer goes on.
func (ix *Index[V]) Snapshot() *Snapshot[V] { return &Snapshot[V]{tree: ix.tree.Copy(), hint: ix.hint} }

// Snapshot is a read-only copy of an Index.
type Snapshot[V any] struct {
	tree *btree.BTreeG[point[V]]
	// hint is a moving average, over the searches that found their k, of
	// the k-th distance divided by √k (float64 bits; 0: none yet): the
	// first cap's radius for the next search, so that a dense city
	// centre does not measure thousands of points and a sparse county
	// does not take several rounds.
	hint *atomic.Uint64
}

// Len is the number of points.
func (s *Snapshot[V]) Len() int { return s.tree.Len() }

// Hit is one answer of Nearest.
type Hit[V any] struct {
	ID       uuid.UUID
	Distance float64
	Value    V
}

// After is a page position: answers come after (Distance, ID).
type After struct {
	Distance float64
	ID       uuid.UUID
}

// startRadius is the first cap's radius in metres: the twenty nearest of
// a city's directory lie within a few hundred metres; sparser places
// take one or two more rounds.
const startRadius = 300

// Nearest returns the k points nearest (lat, lng) within radius metres
// (Distance ≤ radius, as ST_DWithin on the sphere), after after when it
// is not nil, that accept takes, ordered by (distance, id).
func (s *Snapshot[V]) Nearest(lat, lng, radius float64, k int, after *After, accept func(V) bool) []Hit[V] {
	if k <= 0 || radius < 0 {
		return nil
	}
	center := s2.PointFromLatLng(s2.LatLngFromDegrees(lat, lng))
	coverer := &s2.RegionCoverer{MaxLevel: s2.MaxLevel, MaxCells: 8}
	r := startRadius + 0.0
	if unit := math.Float64frombits(s.hint.Load()); unit > 0 {
		r = 1.3 * unit * math.Sqrt(float64(k))
	}
	if after != nil {
		r += after.Distance
	}
	var hits []Hit[V]
	for {
		r = min(r, radius)
		hits = s.within(center, coverer, lat, lng, r, after, accept, hits[:0])
		if len(hits) >= k || r >= radius {
			break
		}
		// Grow to the radius that would hold k at the density seen
		// (area ∝ r²), with a margin, at least doubling.
		grow := 2.0
		if len(hits) > 0 {
			grow = max(grow, 1.25*math.Sqrt(float64(k)/float64(len(hits))))
		} else {
			grow = 4
		}
		r *= grow
	}
	slices.SortFunc(hits, func(a, b Hit[V]) int {
		if a.Distance != b.Distance {
			if a.Distance < b.Distance {
				return -1
			}
			return 1
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	if len(hits) > k {
		hits = hits[:k]
	}
	if len(hits) == k && after == nil {
		unit := hits[k-1].Distance / math.Sqrt(float64(k))
		if old := math.Float64frombits(s.hint.Load()); old > 0 {
			unit = 0.9*old + 0.1*unit
		}
		s.hint.Store(math.Float64bits(max(unit, 0.01)))
	}
	return hits
}

// within appends to out the points within r metres of the centre that
// come after after and that accept takes.
func (s *Snapshot[V]) within(center s2.Point, coverer *s2.RegionCoverer, lat, lng, r float64, after *After,
	accept func(V) bool, out []Hit[V]) []Hit[V] {
	// Padded by a centimetre and a part in a billion: S2's position of a
	// point and PostGIS's distance to it may disagree in the last bits.
	angle := (r*(1+1e-9) + 0.01) / EarthRadius
	if angle > math.Pi {
		angle = math.Pi
	}
	c := s2.CapFromCenterAngle(center, s1.Angle(angle))
	// Cells no smaller than about half the cap's width: the covering
	// is a little looser (a few more points measured) and found in a
	// fraction of the time the coverer takes to reach leaf-sized cells.
	coverer.MaxLevel = min(s2.MaxLevel, s2.MinWidthMetric.MaxLevel(angle)+1)
	for _, cell := range coverer.Covering(c) {
		hi := uint64(cell.RangeMax())
		s.tree.Ascend(point[V]{key: uint64(cell.RangeMin())}, func(p point[V]) bool {
			if p.key > hi {
				return false
			}
			d := Distance(p.lat, p.lng, lat, lng)
			if d > r {
				return true
			}
			// The page's last point itself is skipped by id too: a
			// position made by PostGIS may put it a few nanometres off.
			if after != nil && (d < after.Distance || p.id == after.ID || (d == after.Distance && bytes.Compare(p.id[:], after.ID[:]) <= 0)) {
				return true
			}
			if accept == nil || accept(p.val) {
				out = append(out, Hit[V]{ID: p.id, Distance: d, Value: p.val})
			}
			return true
		})
	}
	return out
}
