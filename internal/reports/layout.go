package reports

import (
	"math"
	"sort"
)

// The network drawing's layout: Fruchterman–Reingold (1991) force-directed
// placement, made deterministic so that the same network gives the same
// picture at every meeting and in both formats: nodes start on a
// golden-angle spiral in the order of their ids (no random numbers), the
// number of iterations and the cooling schedule are fixed, and the result
// is scaled into the unit square. A report is read on paper, so nodes
// must not sit on one another: a last pass pushes apart nodes closer than
// their radii allow, and the scaling keeps every circle inside the frame.

// point is a position in the unit square, (0,0) top left.
type point struct{ X, Y float64 }

// layoutIterations and the cooling schedule are fixed: the layout is a
// function of the network only.
const layoutIterations = 300

// gravity pulls every node to the centre (in units of the ideal distance):
// strong enough that groups with few ties do not pile up along the frame,
// weak enough that clusters stay apart.
const gravity = 0.5

// layoutEdge is a tie between two node indices (direction does not
// matter for the layout).
type layoutEdge struct{ A, B int }

// layout places n nodes joined by edges in the unit square, each circle
// of radius radius[i] (in the same unit) inside it, and returns their
// centres. ids fix the starting order, so the result does not depend on
// the order the nodes came in.
func layout(ids []string, edges []layoutEdge, radius []float64) []point {
	n := len(ids)
	// Work in the order of the ids, so that neither the nodes' nor the
	// ties' order changes a bit of the result (floating-point sums
	// depend on their order).
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return ids[order[a]] < ids[order[b]] })
	rank := make([]int, n)
	r := make([]float64, n)
	for k, i := range order {
		rank[i] = k
		r[k] = radius[i]
	}
	var es []layoutEdge
	for _, e := range edges {
		if e.A < 0 || e.B < 0 || e.A >= n || e.B >= n {
			continue
		}
		es = append(es, layoutEdge{rank[e.A], rank[e.B]})
	}
	placed := layoutOrdered(es, r)
	pos := make([]point, n)
	for k, i := range order {
		pos[i] = placed[k]
	}
	return pos
}

// layoutOrdered is layout with the nodes numbered in the order of their
// ids: they start on a golden-angle spiral in that order.
func layoutOrdered(edges []layoutEdge, radius []float64) []point {
	n := len(radius)
	pos := make([]point, n)
	if n == 0 {
		return pos
	}
	golden := math.Pi * (3 - math.Sqrt(5))
	for i := range pos {
		r := 0.5 * math.Sqrt((float64(i)+0.5)/float64(n))
		th := float64(i) * golden
		pos[i] = point{0.5 + r*math.Cos(th), 0.5 + r*math.Sin(th)}
	}
	if n == 1 {
		pos[0] = point{0.5, 0.5}
		return pos
	}
	// Undirected, distinct, without self-loops.
	seen := map[[2]int]bool{}
	var es []layoutEdge
	for _, e := range edges {
		a, b := e.A, e.B
		if a == b || a < 0 || b < 0 || a >= n || b >= n {
			continue
		}
		if a > b {
			a, b = b, a
		}
		if !seen[[2]int{a, b}] {
			seen[[2]int{a, b}] = true
			es = append(es, layoutEdge{a, b})
		}
	}
	sort.Slice(es, func(i, j int) bool {
		if es[i].A != es[j].A {
			return es[i].A < es[j].A
		}
		return es[i].B < es[j].B
	})

	k := math.Sqrt(1.0 / float64(n)) // the ideal distance in a unit area
	disp := make([]point, n)
	temp := 0.1
	for it := 0; it < layoutIterations; it++ {
		for i := range disp {
			disp[i] = point{}
		}
		// Repulsion between nodes closer than 2k: k²/d. Farther nodes are
		// left out, as in Fruchterman and Reingold's grid variant: it
		// makes an iteration linear in the nodes rather than quadratic,
		// and the pull to the centre holds the whole together.
		newGrid(pos, 2*k).pairs(func(i, j int) {
			dx, dy := pos[i].X-pos[j].X, pos[i].Y-pos[j].Y
			d2 := dx*dx + dy*dy
			if d2 > 4*k*k {
				return
			}
			if d2 < 1e-12 {
				// Coincident: a fixed nudge by index keeps it deterministic.
				dx, dy, d2 = 1e-6*float64(i-j), 1e-6, 1e-12+1e-12*float64((i-j)*(i-j))
			}
			f := k * k / d2 // (k²/d) / d: the unit vector's length folded in
			disp[i].X += dx * f
			disp[i].Y += dy * f
			disp[j].X -= dx * f
			disp[j].Y -= dy * f
		})
		// Attraction along ties: d²/k.
		for _, e := range es {
			dx, dy := pos[e.A].X-pos[e.B].X, pos[e.A].Y-pos[e.B].Y
			d := math.Sqrt(dx*dx + dy*dy)
			f := d / k // (d²/k) / d
			disp[e.A].X -= dx * f
			disp[e.A].Y -= dy * f
			disp[e.B].X += dx * f
			disp[e.B].Y += dy * f
		}
		// A pull to the centre, so that parts of the network that are
		// not joined to the rest do not drift to the edges.
		for i := range pos {
			disp[i].X -= (pos[i].X - 0.5) * gravity / k
			disp[i].Y -= (pos[i].Y - 0.5) * gravity / k
		}
		for i := range pos {
			d := math.Hypot(disp[i].X, disp[i].Y)
			if d > 0 {
				step := math.Min(d, temp)
				pos[i].X += disp[i].X / d * step
				pos[i].Y += disp[i].Y / d * step
			}
			pos[i].X = math.Min(1, math.Max(0, pos[i].X))
			pos[i].Y = math.Min(1, math.Max(0, pos[i].Y))
		}
		temp = 0.1 * (1 - float64(it+1)/layoutIterations) // linear cooling
		if temp < 0.002 {
			temp = 0.002
		}
	}
	fit(pos, radius)
	separate(pos, radius)
	fit(pos, radius)
	return pos
}

// maxRadius is the largest radius of a circle: the frame's margin.
func maxRadius(radius []float64) float64 {
	m := 0.0
	for _, r := range radius {
		m = math.Max(m, r)
	}
	return m
}

// fit scales pos (keeping its shape) so that it fills the unit square
// less a margin of the largest radius on every side.
func fit(pos []point, radius []float64) {
	if len(pos) == 0 {
		return
	}
	m := maxRadius(radius)
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range pos {
		minX, maxX = math.Min(minX, p.X), math.Max(maxX, p.X)
		minY, maxY = math.Min(minY, p.Y), math.Max(maxY, p.Y)
	}
	span := math.Max(maxX-minX, maxY-minY)
	inner := 1 - 2*m
	for i, p := range pos {
		if span < 1e-12 {
			pos[i] = point{0.5, 0.5}
			continue
		}
		// Centred in both directions.
		pos[i] = point{
			X: 0.5 + (p.X-(minX+maxX)/2)/span*inner,
			Y: 0.5 + (p.Y-(minY+maxY)/2)/span*inner,
		}
	}
}

// separate pushes apart circles that overlap (closer than the sum of
// their radii plus a gap), a fixed number of sweeps in index order.
func separate(pos []point, radius []float64) {
	gap := 2 * maxRadius(radius) * 1.15
	if gap <= 0 {
		return
	}
	for sweep := 0; sweep < 50; sweep++ {
		moved := false
		newGrid(pos, gap).pairs(func(i, j int) {
			want := (radius[i] + radius[j]) * 1.15
			dx, dy := pos[j].X-pos[i].X, pos[j].Y-pos[i].Y
			d := math.Hypot(dx, dy)
			if d >= want {
				return
			}
			if d < 1e-9 {
				dx, dy, d = 1, 0, 1
				if (i+j)%2 == 1 {
					dx, dy = 0, 1
				}
			}
			push := (want - d) / 2
			pos[i].X -= dx / d * push
			pos[i].Y -= dy / d * push
			pos[j].X += dx / d * push
			pos[j].Y += dy / d * push
			moved = true
		})
		if !moved {
			return
		}
	}
}

// grid buckets points of the unit square into square cells, so that the
// pairs closer than a cell's side are found without trying every pair.
type grid struct {
	side  int
	cells [][]int // row-major; each cell's points in index order
}

// newGrid buckets pos into cells of the given size (points outside the
// unit square go to the border cells).
func newGrid(pos []point, size float64) *grid {
	side := int(math.Ceil(1 / size))
	side = max(1, min(side, 1024))
	g := &grid{side: side, cells: make([][]int, side*side)}
	for i, p := range pos {
		g.cells[g.cell(p)] = append(g.cells[g.cell(p)], i)
	}
	return g
}

func (g *grid) cell(p point) int {
	at := func(v float64) int {
		c := int(math.Floor(v * float64(g.side)))
		return max(0, min(c, g.side-1))
	}
	return at(p.Y)*g.side + at(p.X)
}

// pairs calls visit once for every pair of points in the same or
// neighbouring cells, in a fixed order: a point with those after it in
// its cell, then with the points of the cells right, below left, below
// and below right.
func (g *grid) pairs(visit func(i, j int)) {
	for cy := 0; cy < g.side; cy++ {
		for cx := 0; cx < g.side; cx++ {
			here := g.cells[cy*g.side+cx]
			for a, i := range here {
				for _, j := range here[a+1:] {
					visit(i, j)
				}
				for _, o := range [][2]int{{1, 0}, {-1, 1}, {0, 1}, {1, 1}} {
					nx, ny := cx+o[0], cy+o[1]
					if nx < 0 || nx >= g.side || ny >= g.side {
						continue
					}
					for _, j := range g.cells[ny*g.side+nx] {
						visit(i, j)
					}
				}
			}
		}
	}
}
