package network

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// Two windows by hand. The nodes are listed in a different order in each,
// and C is new in the second, so ties must be matched by key, not index.
//
//	tie    before  after   change
//	A→X      5       5     unchanged: left out
//	A→Y      3       6     strengthened
//	B→X      2       1     weakened
//	B→Z      4       -     lost
//	C→Z      -       2     formed
//	X→A      1       -     lost
func TestCompareHandMadeWindows(t *testing.T) {
	before := &Graph{
		Nodes: []Node{{Key: "A"}, {Key: "B"}, {Key: "X"}, {Key: "Y"}, {Key: "Z"}},
		Ties: []Tie{
			{From: 0, To: 2, Referrals: 5},
			{From: 0, To: 3, Referrals: 3},
			{From: 1, To: 2, Referrals: 2},
			{From: 1, To: 4, Referrals: 4},
			{From: 2, To: 0, Referrals: 1},
		},
	}
	after := &Graph{
		Nodes: []Node{{Key: "Z"}, {Key: "Y"}, {Key: "X"}, {Key: "C"}, {Key: "B"}, {Key: "A"}},
		Ties: []Tie{
			{From: 3, To: 0, Referrals: 2}, // C→Z
			{From: 5, To: 2, Referrals: 5}, // A→X
			{From: 4, To: 2, Referrals: 1}, // B→X
			{From: 5, To: 1, Referrals: 6}, // A→Y
		},
	}
	want := []Change{
		{From: "A", To: "Y", Kind: Strengthened, Before: 3, After: 6},
		{From: "B", To: "X", Kind: Weakened, Before: 2, After: 1},
		{From: "B", To: "Z", Kind: Lost, Before: 4, After: 0},
		{From: "C", To: "Z", Kind: Formed, Before: 0, After: 2},
		{From: "X", To: "A", Kind: Lost, Before: 1, After: 0},
	}
	if got := compare(before, after); !slices.Equal(got, want) {
		t.Errorf("compare:\n got %+v\nwant %+v", got, want)
	}

	// Reversed, every change turns round: formed ↔ lost, strengthened ↔
	// weakened.
	wantBack := []Change{
		{From: "A", To: "Y", Kind: Weakened, Before: 6, After: 3},
		{From: "B", To: "X", Kind: Strengthened, Before: 1, After: 2},
		{From: "B", To: "Z", Kind: Formed, Before: 0, After: 4},
		{From: "C", To: "Z", Kind: Lost, Before: 2, After: 0},
		{From: "X", To: "A", Kind: Formed, Before: 0, After: 1},
	}
	if got := compare(after, before); !slices.Equal(got, wantBack) {
		t.Errorf("compare reversed:\n got %+v\nwant %+v", got, wantBack)
	}
}

func TestCompareEdgeCases(t *testing.T) {
	g := &Graph{
		Nodes: []Node{{Key: "A"}, {Key: "B"}, {Key: "C"}},
		Ties:  []Tie{{From: 1, To: 0, Referrals: 2}, {From: 0, To: 1, Referrals: 3}, {From: 0, To: 2, Referrals: 0}},
	}
	if got := compare(g, g); len(got) != 0 {
		t.Errorf("compare(g, g) = %+v, want no changes", got)
	}
	if got := compare(nil, nil); len(got) != 0 {
		t.Errorf("compare(nil, nil) = %+v, want no changes", got)
	}
	// From nothing every tie with referrals is formed (A→C has none: it
	// is not a tie), and to nothing every one is lost; ordered by keys
	// whatever the tie order.
	formed := []Change{{From: "A", To: "B", Kind: Formed, After: 3}, {From: "B", To: "A", Kind: Formed, After: 2}}
	if got := compare(nil, g); !slices.Equal(got, formed) {
		t.Errorf("compare(nil, g) = %+v, want %+v", got, formed)
	}
	lost := []Change{{From: "A", To: "B", Kind: Lost, Before: 3}, {From: "B", To: "A", Kind: Lost, Before: 2}}
	if got := compare(g, &Graph{}); !slices.Equal(got, lost) {
		t.Errorf("compare(g, empty) = %+v, want %+v", got, lost)
	}
}

// TestCompareMatchesPairwiseLookup checks compare (so mergeTies) on random windows
// against the definition applied tie by tie, with keys shared between
// the windows in different node orders.
func TestCompareMatchesPairwiseLookup(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 3))
	window := func() *Graph {
		g := &Graph{}
		for _, k := range rng.Perm(30)[:20] {
			g.Nodes = append(g.Nodes, Node{Key: fmt.Sprintf("k%02d", k)})
		}
		for u := range g.Nodes {
			for v := range g.Nodes {
				if u != v && rng.IntN(8) == 0 {
					g.Ties = append(g.Ties, Tie{From: u, To: v, Referrals: rng.Int64N(4)})
				}
			}
		}
		rng.Shuffle(len(g.Ties), func(i, j int) { g.Ties[i], g.Ties[j] = g.Ties[j], g.Ties[i] })
		return g
	}
	for range 50 {
		before, after := window(), window()
		count := func(g *Graph) map[[2]string]int64 {
			m := map[[2]string]int64{}
			for _, t := range g.Ties {
				m[[2]string{g.Nodes[t.From].Key, g.Nodes[t.To].Key}] = t.Referrals
			}
			return m
		}
		was, now := count(before), count(after)
		var want []Change
		for from := range 30 {
			for to := range 30 {
				k := [2]string{fmt.Sprintf("k%02d", from), fmt.Sprintf("k%02d", to)}
				b, a := was[k], now[k]
				c := Change{From: k[0], To: k[1], Before: b, After: a}
				switch {
				case b == 0 && a > 0:
					c.Kind = Formed
				case b > 0 && a == 0:
					c.Kind = Lost
				case b > 0 && a > b:
					c.Kind = Strengthened
				case a > 0 && a < b:
					c.Kind = Weakened
				default:
					continue
				}
				want = append(want, c)
			}
		}
		if got := compare(before, after); !slices.Equal(got, want) {
			t.Fatalf("compare:\n got %+v\nwant %+v", got, want)
		}
	}
}

// compare is the graph-level form of the rule mergeTies applies, the
// reference these tests check it by: the ties that changed from before
// to after, matched by the keys of their ends (node indices differ between windows): Formed
// (absent before), Strengthened (more referrals), Weakened (fewer, but
// some) and Lost (absent after), ordered by (From, To). Unchanged ties
// are left out: a meeting looks at what moved. A tie with no referrals
// counts as absent, and a nil graph as an empty one, so comparing with
// a window that had no referrals lists every tie of the other as formed
// or lost.
//
// Nationally each window has hundreds of thousands of ties, so there
// are no maps of string pairs: the keys of both graphs are ranked
// together once (rank order is key order), each tie becomes one integer,
// (rank of From, rank of To), and the two sorted lists are merged; the
// merge yields the changes already in (From, To) order.
func compare(before, after *Graph) []Change {
	if before == nil {
		before = &Graph{}
	}
	if after == nil {
		after = &Graph{}
	}
	rankB, rankA, keys := rankKeys(before.Nodes, after.Nodes)
	tb, ta := tieKeys(before, rankB), tieKeys(after, rankA)
	var out []Change
	referrals := func(t *rankedTie) int64 {
		if t == nil {
			return 0
		}
		return t.referrals
	}
	mergeTies(tb, ta, func(k uint64, kind ChangeKind, before, after *rankedTie) {
		b, a := referrals(before), referrals(after)
		out = append(out, Change{From: keys[k>>32], To: keys[uint32(k)], Kind: kind, Before: b, After: a})
	})
	return out
}

// rankKeys numbers the node keys of two graphs together in key order:
// rankX[i] is the rank of x[i].Key, keys[r] the key of rank r.
func rankKeys(x, y []Node) (rankX, rankY []int32, keys []string) {
	byKey := func(nodes []Node) []int32 {
		idx := make([]int32, len(nodes))
		for i := range idx {
			idx[i] = int32(i)
		}
		slices.SortFunc(idx, func(p, q int32) int { return cmp.Compare(nodes[p].Key, nodes[q].Key) })
		return idx
	}
	ix, iy := byKey(x), byKey(y)
	rankX, rankY = make([]int32, len(x)), make([]int32, len(y))
	i, j := 0, 0
	for i < len(ix) || j < len(iy) {
		r := int32(len(keys))
		switch {
		case j == len(iy) || (i < len(ix) && x[ix[i]].Key < y[iy[j]].Key):
			keys = append(keys, x[ix[i]].Key)
			rankX[ix[i]] = r
			i++
		case i == len(ix) || y[iy[j]].Key < x[ix[i]].Key:
			keys = append(keys, y[iy[j]].Key)
			rankY[iy[j]] = r
			j++
		default:
			keys = append(keys, x[ix[i]].Key)
			rankX[ix[i]], rankY[iy[j]] = r, r
			i++
			j++
		}
	}
	return rankX, rankY, keys
}

// tieKeys is g's ties with referrals, by ranked key, sorted.
func tieKeys(g *Graph, rank []int32) []rankedTie {
	out := make([]rankedTie, 0, len(g.Ties))
	for i, t := range g.Ties {
		if t.Referrals > 0 {
			out = append(out, rankedTie{uint64(rank[t.From])<<32 | uint64(rank[t.To]), t.Referrals, int32(i)})
		}
	}
	slices.SortFunc(out, func(p, q rankedTie) int { return cmp.Compare(p.key, q.key) })
	return out
}
