package coverage

import (
	"math"

	"github.com/sparc-network/sparc/internal/geo"
)

// pointIndex finds the nearest of a set of points (great-circle distance on
// PostGIS's sphere) with a uniform grid in longitude/latitude. The nearest
// asset of each category for tens of thousands of areas is a nearest-
// neighbour question on points only, so it is answered here: one KNN query
// per category and area in SQL costs about 1.1 s per category nationally,
// while the grid answers all of them in a fraction of a second from one
// fetch of the candidate assets.
type pointIndex struct {
	lat, lng []float64
	cosLat   []float64 // cos of each point's latitude, for the haversine
	cells    map[[2]int32][]int32
	// cell size in degrees
	dLat, dLng     float64
	minRow, maxRow int32
	minCol, maxCol int32
	maxAbsLat      float64
}

// metresPerDegree on the sphere geo.SphereDistance uses.
const metresPerDegree = geo.EarthRadius * math.Pi / 180

// newPointIndex indexes the points at positions idx of lat/lng. The cell
// size is chosen for about two points per cell, so dense cities and
// sparse demo data alike need only a few rings of cells per query.
func newPointIndex(lat, lng, cosLat []float64, idx []int32) *pointIndex {
	p := &pointIndex{lat: lat, lng: lng, cosLat: cosLat, cells: map[[2]int32][]int32{}}
	if len(idx) == 0 {
		return p
	}
	minLat, maxLat, minLng, maxLng := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, i := range idx {
		minLat, maxLat = math.Min(minLat, lat[i]), math.Max(maxLat, lat[i])
		minLng, maxLng = math.Min(minLng, lng[i]), math.Max(maxLng, lng[i])
	}
	cos := math.Cos((minLat + maxLat) / 2 * math.Pi / 180)
	// Square cells in metres: the area in "latitude degrees squared".
	area := math.Max(maxLat-minLat, 1e-3) * math.Max((maxLng-minLng)*cos, 1e-3)
	p.dLat = math.Min(1, math.Max(0.002, math.Sqrt(2*area/float64(len(idx)))))
	p.dLng = p.dLat / math.Max(cos, 0.1)
	p.maxAbsLat = math.Max(math.Abs(minLat), math.Abs(maxLat))
	p.minRow, p.minCol = math.MaxInt32, math.MaxInt32
	p.maxRow, p.maxCol = math.MinInt32, math.MinInt32
	for _, i := range idx {
		k := p.key(lat[i], lng[i])
		p.cells[k] = append(p.cells[k], i)
		p.minRow, p.maxRow = min(p.minRow, k[0]), max(p.maxRow, k[0])
		p.minCol, p.maxCol = min(p.minCol, k[1]), max(p.maxCol, k[1])
	}
	return p
}

func (p *pointIndex) key(lat, lng float64) [2]int32 {
	return [2]int32{int32(math.Floor(lat / p.dLat)), int32(math.Floor(lng / p.dLng))}
}

// nearest returns the great-circle distance from (lat, lng) to the nearest
// point, or false when there are none.
func (p *pointIndex) nearest(lat, lng float64) (float64, bool) {
	d, _, ok := p.nearestPoint(lat, lng)
	return d, ok
}

// nearestPoint returns the distance to the nearest point and its
// position in lat/lng, or false when there are none. It searches rings
// of cells around the query's cell and stops once no unsearched cell can
// hold a point nearer than the best found.
func (p *pointIndex) nearestPoint(lat, lng float64) (float64, int32, bool) {
	if len(p.cells) == 0 {
		return 0, -1, false
	}
	// The shorter cell side, in metres, wherever the search can go: cell
	// widths shrink with the cosine of the highest latitude involved. A
	// 10% margin covers the flat-grid approximation of the sphere.
	cos := math.Cos(math.Min(89, math.Max(p.maxAbsLat, math.Abs(lat))) * math.Pi / 180)
	minCell := 0.9 * metresPerDegree * math.Min(p.dLat, p.dLng*cos)
	q := p.key(lat, lng)
	// Beyond this ring no cell holds points.
	limit := max(abs32(q[0]-p.minRow), abs32(q[0]-p.maxRow), abs32(q[1]-p.minCol), abs32(q[1]-p.maxCol))
	// Candidates are compared by the haversine term h (monotonic in the
	// distance); the distance is computed as geo.SphereDistance does.
	const rad = math.Pi / 180
	cosQ := math.Cos(lat * rad)
	bestH, best, found := math.Inf(1), int32(-1), false
	dist := func(h float64) float64 { return 2 * geo.EarthRadius * math.Asin(math.Min(1, math.Sqrt(h))) }
	consider := func(pts []int32) {
		for _, i := range pts {
			sφ := math.Sin((p.lat[i] - lat) * rad / 2)
			sλ := math.Sin((p.lng[i] - lng) * rad / 2)
			if h := sφ*sφ + cosQ*p.cosLat[i]*sλ*sλ; h < bestH {
				bestH, best, found = h, i, true
			}
		}
	}
	for r := int32(0); r <= limit; r++ {
		// Rings 0..r-1 are searched; a point in ring r is at least r-1
		// whole cells away, wherever the query lies in its own cell.
		if found && dist(bestH) <= float64(r-1)*minCell {
			break
		}
		if int(8*r) > len(p.cells) {
			// Far from sparse points, a ring has more cells than there
			// are occupied ones: look at every point once instead.
			for _, pts := range p.cells {
				consider(pts)
			}
			break
		}
		p.ring(q, r, consider)
	}
	return dist(bestH), best, found
}

// ring calls fn with the points of each non-empty cell at Chebyshev
// distance r from cell q.
func (p *pointIndex) ring(q [2]int32, r int32, fn func([]int32)) {
	visit := func(row, col int32) {
		if pts, ok := p.cells[[2]int32{row, col}]; ok {
			fn(pts)
		}
	}
	if r == 0 {
		visit(q[0], q[1])
		return
	}
	for c := q[1] - r; c <= q[1]+r; c++ {
		visit(q[0]-r, c)
		visit(q[0]+r, c)
	}
	for row := q[0] - r + 1; row <= q[0]+r-1; row++ {
		visit(row, q[1]-r)
		visit(row, q[1]+r)
	}
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}
