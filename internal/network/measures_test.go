package network

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/graph/network"
	"gonum.org/v1/gonum/graph/simple"
)

// fixture is a small referral network whose measures are worked out by
// hand below. Two link-worker services (R1, R2) refer to four groups;
// G1 refers back to R1 (a reciprocal pair) and on to G2, which refers on
// to G4; R1 also refers straight to G4.
//
//	R1 ⇄ G1 → G2 → G4
//	R1 → G4,  R2 → G1,  R2 → G3
func fixture() *Graph {
	return &Graph{
		Nodes: []Node{
			{Key: "R1", Kind: Referrer, Quintile: 1}, // 0
			{Key: "R2", Kind: Referrer, Quintile: 3}, // 1
			{Key: "G1", Kind: Group, Quintile: 1},    // 2
			{Key: "G2", Kind: Group, Quintile: 2},    // 3
			{Key: "G3", Kind: Group, Quintile: 0},    // 4: quintile unknown
			{Key: "G4", Kind: Group, Quintile: 5},    // 5
		},
		Ties: []Tie{
			{From: 0, To: 2, Referrals: 10}, // R1→G1
			{From: 2, To: 0, Referrals: 2},  // G1→R1
			{From: 2, To: 3, Referrals: 3},  // G1→G2
			{From: 1, To: 2, Referrals: 6},  // R2→G1
			{From: 1, To: 4, Referrals: 5},  // R2→G3
			{From: 3, To: 5, Referrals: 1},  // G2→G4
			{From: 0, To: 5, Referrals: 4},  // R1→G4
		},
	}
}

func TestMeasureHandComputedNetwork(t *testing.T) {
	m := Measure(fixture())

	// Degrees and strengths, read off the tie list:
	//   R1: out R1→G1 10, R1→G4 4 = 14; in G1→R1 2
	//   R2: out R2→G1 6, R2→G3 5 = 11; in none
	//   G1: in R1 10 + R2 6 = 16; out G1→R1 2, G1→G2 3 = 5
	//   G2: in 3; out 1.   G3: in 5.   G4: in G2 1 + R1 4 = 5
	//
	// Betweenness (ordered pairs s≠v≠t, share of shortest s→t paths
	// through v):
	//   from R1: R1→G2 only via G1                        G1 +1
	//   from R2: R2→R1 via G1, R2→G2 via G1               G1 +2
	//            R2→G4 at distance 3 by two paths, R2→G1→R1→G4 and
	//            R2→G1→G2→G4                               G1 +1, R1 +½, G2 +½
	//   from G1: G1→G4 by G1→R1→G4 and G1→G2→G4            R1 +½, G2 +½
	//   from G2, G3, G4: no path with an intermediate node
	// so G1 4, R1 1, G2 1, normalised by (n-1)(n-2) = 5·4 = 20.
	want := []NodeMeasures{
		{DegreeIn: 1, DegreeOut: 2, StrengthIn: 2, StrengthOut: 14, Betweenness: 1.0 / 20},
		{DegreeIn: 0, DegreeOut: 2, StrengthIn: 0, StrengthOut: 11, Betweenness: 0},
		{DegreeIn: 2, DegreeOut: 2, StrengthIn: 16, StrengthOut: 5, Betweenness: 4.0 / 20},
		{DegreeIn: 1, DegreeOut: 1, StrengthIn: 3, StrengthOut: 1, Betweenness: 1.0 / 20},
		{DegreeIn: 1, DegreeOut: 0, StrengthIn: 5, StrengthOut: 0, Betweenness: 0},
		{DegreeIn: 2, DegreeOut: 0, StrengthIn: 5, StrengthOut: 0, Betweenness: 0},
	}
	if len(m.PerNode) != len(want) {
		t.Fatalf("PerNode has %d entries, want %d", len(m.PerNode), len(want))
	}
	for i, w := range want {
		got := m.PerNode[i]
		if got.DegreeIn != w.DegreeIn || got.DegreeOut != w.DegreeOut || got.StrengthIn != w.StrengthIn || got.StrengthOut != w.StrengthOut || !near(got.Betweenness, w.Betweenness) {
			t.Errorf("node %s: got %+v, want %+v", fixture().Nodes[i].Key, got, w)
		}
	}

	if m.Nodes != 6 || m.Edges != 7 {
		t.Errorf("Nodes, Edges = %d, %d; want 6, 7", m.Nodes, m.Edges)
	}
	// 10+2+3+6+5+1+4.
	if m.Referrals != 31 {
		t.Errorf("Referrals = %d, want 31", m.Referrals)
	}
	// 7 ties of n(n-1) = 30 possible.
	if !near(m.Density, 7.0/30) {
		t.Errorf("Density = %v, want 7/30", m.Density)
	}
	// R1→G1 and G1→R1 have their reverse; the other 5 do not.
	if !near(m.Reciprocity, 2.0/7) {
		t.Errorf("Reciprocity = %v, want 2/7", m.Reciprocity)
	}
	// Four groups, so the top ceil(0.4) = 1: G1 receives 16 of the 29
	// referrals groups receive (the 2 back to R1 are not flow to groups).
	if !near(m.TopDecileShare, 16.0/29) {
		t.Errorf("TopDecileShare = %v, want 16/29", m.TopDecileShare)
	}
	// Ties with both quintiles known (R2→G3 is not: G3 has none):
	//   R1→G1 1-1, G1→R1 1-1 same; G1→G2 1-2, R2→G1 3-1, G2→G4 2-5,
	//   R1→G4 1-5 differ: 4 of 6.
	if !near(m.CrossQuintileShare, 4.0/6) {
		t.Errorf("CrossQuintileShare = %v, want 4/6", m.CrossQuintileShare)
	}
}

func TestMeasureTopDecileAtAssetGranularity(t *testing.T) {
	// Twelve assets and one group: with Asset nodes present the group is
	// not counted, and the top ceil(1.2) = 2 assets are taken. Asset i
	// receives i+1 referrals (1..12, total 78); the group receives 100.
	g := &Graph{Nodes: []Node{{Key: "R", Kind: Referrer}, {Key: "G", Kind: Group}}}
	g.Ties = append(g.Ties, Tie{From: 0, To: 1, Referrals: 100})
	for i := range 12 {
		g.Nodes = append(g.Nodes, Node{Key: fmt.Sprintf("A%02d", i), Kind: Asset})
		g.Ties = append(g.Ties, Tie{From: 0, To: 2 + i, Referrals: int64(i + 1)})
	}
	// 12 + 11 of 78.
	if got := Measure(g).TopDecileShare; !near(got, 23.0/78) {
		t.Errorf("TopDecileShare = %v, want 23/78", got)
	}
}

func TestMeasureDegenerateGraphsHaveNoNaN(t *testing.T) {
	pair := &Graph{
		Nodes: []Node{{Key: "R", Kind: Referrer}, {Key: "G", Kind: Group}},
		Ties:  []Tie{{From: 0, To: 1, Referrals: 3}, {From: 1, To: 0, Referrals: 1}},
	}
	lonely := &Graph{Nodes: []Node{{Key: "R", Kind: Referrer}, {Key: "G", Kind: Group}, {Key: "H", Kind: Group}}}
	for name, c := range map[string]struct {
		g                         *Graph
		density, reciprocity, top float64
	}{
		"nil":          {g: nil},
		"empty":        {g: &Graph{}},
		"one node":     {g: &Graph{Nodes: []Node{{Key: "G", Kind: Group}}}},
		"no ties":      {g: lonely},
		"pair, n < 3 ": {g: pair, density: 1, reciprocity: 1, top: 1},
	} {
		m := Measure(c.g)
		for _, x := range []float64{m.Density, m.Reciprocity, m.TopDecileShare, m.CrossQuintileShare} {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Errorf("%s: %+v has NaN or Inf", name, m)
			}
		}
		if m.Density != c.density || m.Reciprocity != c.reciprocity || m.TopDecileShare != c.top || m.CrossQuintileShare != 0 {
			t.Errorf("%s: density %v reciprocity %v top %v cross %v; want %v %v %v 0", name, m.Density, m.Reciprocity, m.TopDecileShare, m.CrossQuintileShare, c.density, c.reciprocity, c.top)
		}
		for _, p := range m.PerNode {
			if p.Betweenness != 0 {
				t.Errorf("%s: betweenness %v, want 0", name, p.Betweenness)
			}
		}
	}
}

// TestBetweennessMatchesAllShortestPaths checks Measure's betweenness,
// source skipping included, against a direct enumeration of every
// shortest path on random small graphs: uniform ones, and referral-like
// ones where most nodes only receive (the case the skipping is for).
func TestBetweennessMatchesAllShortestPaths(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 1))
	for i := range 300 {
		n := 1 + rng.IntN(9)
		var g *Graph
		if i%2 == 0 {
			g = randomGraph(rng, n, rng.Float64())
		} else {
			g = referralLike(rng, 1+rng.IntN(3), n, 0.3)
		}
		want := bruteForceBetweenness(g)
		got := Measure(g)
		for v := range g.Nodes {
			if !near(got.PerNode[v].Betweenness, want[v]) {
				t.Fatalf("graph %d %v: node %d betweenness %v, enumeration gives %v", i, g.Ties, v, got.PerNode[v].Betweenness, want[v])
			}
		}
	}
}

// TestBetweennessMatchesGonum checks Measure against gonum's
// network.Betweenness on larger random graphs, big enough that the
// sources are split across workers.
func TestBetweennessMatchesGonum(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 2))
	for i, g := range []*Graph{
		randomGraph(rng, 120, 0.03),
		randomGraph(rng, 200, 0.01),
		referralLike(rng, 100, 150, 0.05),
		referralLike(rng, 20, 300, 0.2),
	} {
		d := simple.NewDirectedGraph()
		for v := range g.Nodes {
			d.AddNode(simple.Node(v))
		}
		for _, e := range g.Ties {
			d.SetEdge(d.NewEdge(simple.Node(e.From), simple.Node(e.To)))
		}
		want := network.Betweenness(d)
		n := float64(len(g.Nodes))
		got := Measure(g)
		nonzero := 0
		for v := range g.Nodes {
			w := want[int64(v)] / ((n - 1) * (n - 2))
			if w != 0 {
				nonzero++
			}
			if !near(got.PerNode[v].Betweenness, w) {
				t.Fatalf("graph %d: node %d betweenness %v, gonum %v", i, v, got.PerNode[v].Betweenness, w)
			}
		}
		if nonzero < 10 {
			t.Fatalf("graph %d: only %d nodes with betweenness; the check needs a richer graph", i, nonzero)
		}
	}
}

// bruteForceBetweenness enumerates, for every ordered pair s ≠ t, all
// shortest s→t paths (distances by Floyd–Warshall) and credits each
// interior node with its share of them; normalised by (n-1)(n-2).
func bruteForceBetweenness(g *Graph) []float64 {
	n := len(g.Nodes)
	const inf = math.MaxInt32
	d := make([][]int, n)
	succ := make([][]int, n)
	for i := range d {
		d[i] = make([]int, n)
		for j := range d[i] {
			if i != j {
				d[i][j] = inf
			}
		}
	}
	for _, e := range g.Ties {
		d[e.From][e.To] = 1
		succ[e.From] = append(succ[e.From], e.To)
	}
	for k := range n {
		for i := range n {
			for j := range n {
				if d[i][k] < inf && d[k][j] < inf && d[i][k]+d[k][j] < d[i][j] {
					d[i][j] = d[i][k] + d[k][j]
				}
			}
		}
	}
	cb := make([]float64, n)
	for s := range n {
		for t := range n {
			if s == t || d[s][t] == inf {
				continue
			}
			var paths [][]int
			var walk func(v int, path []int)
			walk = func(v int, path []int) {
				if v == t {
					paths = append(paths, append([]int(nil), path...))
					return
				}
				for _, w := range succ[v] {
					if d[s][w] == d[s][v]+1 && d[w][t] < inf && d[s][w]+d[w][t] == d[s][t] {
						walk(w, append(path, w))
					}
				}
			}
			walk(s, []int{s})
			for _, p := range paths {
				for _, v := range p[1 : len(p)-1] {
					cb[v] += 1 / float64(len(paths))
				}
			}
		}
	}
	if n < 3 {
		return make([]float64, n)
	}
	for v := range cb {
		cb[v] /= float64(n-1) * float64(n-2)
	}
	return cb
}

// randomGraph has each ordered pair tied with probability p.
func randomGraph(rng *rand.Rand, n int, p float64) *Graph {
	g := &Graph{}
	for v := range n {
		g.Nodes = append(g.Nodes, Node{Key: fmt.Sprint(v), Kind: Group})
	}
	for u := range n {
		for v := range n {
			if u != v && rng.Float64() < p {
				g.Ties = append(g.Ties, Tie{From: u, To: v, Referrals: 1 + rng.Int64N(9)})
			}
		}
	}
	return g
}

// referralLike has referrers tied to groups with probability p, and each
// group referring back to a referrer or on to another group only
// sometimes, so most groups only receive.
func referralLike(rng *rand.Rand, referrers, groups int, p float64) *Graph {
	g := &Graph{}
	for v := range referrers {
		g.Nodes = append(g.Nodes, Node{Key: fmt.Sprint("R", v), Kind: Referrer})
	}
	for v := range groups {
		g.Nodes = append(g.Nodes, Node{Key: fmt.Sprint("G", v), Kind: Group})
	}
	n := referrers + groups
	tied := map[[2]int]bool{}
	tie := func(u, v int) {
		if u != v && !tied[[2]int{u, v}] {
			tied[[2]int{u, v}] = true
			g.Ties = append(g.Ties, Tie{From: u, To: v, Referrals: 1 + rng.Int64N(9)})
		}
	}
	for r := range referrers {
		for v := referrers; v < n; v++ {
			if rng.Float64() < p {
				tie(r, v)
			}
		}
	}
	for v := referrers; v < n; v++ {
		if rng.IntN(4) == 0 {
			tie(v, rng.IntN(referrers))
		}
		if rng.IntN(6) == 0 {
			tie(v, referrers+rng.IntN(groups))
		}
	}
	return g
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }
