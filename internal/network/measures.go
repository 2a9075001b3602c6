package network

import (
	"encoding/binary"
	"runtime"
	"slices"
	"sync"
)

// Measure computes g's measures (see Measures and NodeMeasures for the
// definitions). A nil or empty graph gives zero measures, and every ratio
// whose denominator is zero is 0, never NaN, so the figures can go
// straight into a response or an export.
//
// Betweenness is Brandes' algorithm on the directed, unweighted graph,
// the same sums as gonum's network.Betweenness (the tests check the two
// agree, and both against an enumeration of all shortest paths), but on
// flat arrays, with twin sinks merged and searches run only from the
// sources that can contribute (see betweenness): gonum's map-based
// version takes about 15 times as long for a council-year at asset
// granularity.
//
// The cost is one breadth-first search per contributing source over all
// it reaches. For a council-year that is 5 ms (organisations) to 0.2 s
// (assets) of CPU, and for 150 councils whose networks are separate 0.5
// to 1.6 s; but if referrals across council borders connect the country,
// every search reaches all of it and the exact figure takes minutes
// (measures_bench_test.go). Callers should measure one council or area
// at a time.
func Measure(g *Graph) Measures {
	if g == nil {
		g = &Graph{}
	}
	n := len(g.Nodes)
	ms := Measures{Nodes: n, Edges: len(g.Ties), PerNode: make([]NodeMeasures, n)}
	if n == 0 {
		return ms
	}
	per := ms.PerNode
	crossKnown, cross := 0, 0
	for _, t := range g.Ties {
		per[t.From].DegreeOut++
		per[t.To].DegreeIn++
		per[t.From].StrengthOut += t.Referrals
		per[t.To].StrengthIn += t.Referrals
		ms.Referrals += t.Referrals
		if qf, qt := g.Nodes[t.From].Quintile, g.Nodes[t.To].Quintile; qf > 0 && qt > 0 {
			crossKnown++
			if qf != qt {
				cross++
			}
		}
	}
	if n > 1 {
		ms.Density = float64(ms.Edges) / (float64(n) * float64(n-1))
	}
	ms.CrossQuintileShare = ratio(cross, crossKnown)
	ms.TopDecileShare = topDecileShare(g, per)

	adj := newAdjacency(n, g.Ties)
	reciprocated := 0
	for v := range n {
		for _, w := range adj.out(int32(v)) {
			if adj.has(w, int32(v)) {
				reciprocated++
			}
		}
	}
	ms.Reciprocity = ratio(reciprocated, ms.Edges)

	if n >= 3 {
		norm := 1 / (float64(n-1) * float64(n-2))
		for v, b := range adj.betweenness() {
			per[v].Betweenness = b * norm
		}
	}
	return ms
}

func ratio(num, den int) float64 {
	if den == 0 {
		return 0
	}
	return float64(num) / float64(den)
}

// topDecileShare is the share of the referrals received by Group nodes
// (Asset nodes when there are any: the graph is at asset granularity)
// that the top ceil(10%) of them, at least one, receive. The denominator
// is what those nodes receive, not every referral, so referrals back to
// referrers do not dilute how concentrated the flow to groups is.
func topDecileShare(g *Graph, per []NodeMeasures) float64 {
	kind := Group
	for _, nd := range g.Nodes {
		if nd.Kind == Asset {
			kind = Asset
			break
		}
	}
	var received []int64
	var total int64
	for i, nd := range g.Nodes {
		if nd.Kind == kind {
			received = append(received, per[i].StrengthIn)
			total += per[i].StrengthIn
		}
	}
	if total == 0 {
		return 0
	}
	slices.Sort(received)
	k := (len(received) + 9) / 10 // ceil(10%); at least one, since total > 0
	var top int64
	for _, r := range received[len(received)-k:] {
		top += r
	}
	return float64(top) / float64(total)
}

// adjacency is the ties' out-lists in compressed form: node v's
// successors are to[start[v]:start[v+1]], ascending.
type adjacency struct {
	start []int32
	to    []int32
}

// newAdjacency sorts the ties by (From, To) with two counting passes
// (by To, then stably by From), O(n + ties), no maps: a national graph
// has millions of ties.
func newAdjacency(n int, ties []Tie) adjacency {
	byTo := make([]int32, len(ties)) // tie indices ordered by To
	count := make([]int32, n+1)
	for _, t := range ties {
		count[t.To+1]++
	}
	for v := range n {
		count[v+1] += count[v]
	}
	for i, t := range ties {
		byTo[count[t.To]] = int32(i)
		count[t.To]++
	}
	a := adjacency{start: make([]int32, n+1), to: make([]int32, len(ties))}
	for _, t := range ties {
		a.start[t.From+1]++
	}
	for v := range n {
		a.start[v+1] += a.start[v]
	}
	next := slices.Clone(a.start[:n])
	for _, i := range byTo {
		t := ties[i]
		a.to[next[t.From]] = int32(t.To)
		next[t.From]++
	}
	return a
}

func (a adjacency) out(v int32) []int32 { return a.to[a.start[v]:a.start[v+1]] }

func (a adjacency) has(v, w int32) bool {
	_, ok := slices.BinarySearch(a.out(v), w)
	return ok
}

// betweenness is the unnormalised betweenness of every node: for each
// node v, the sum over ordered pairs s ≠ v ≠ t of the share of shortest
// s→t paths through v (Brandes 2001, accumulating over successors so no
// predecessor lists are kept). Two reductions keep it exact and make it
// fast on referral networks, where most nodes are groups or assets that
// receive referrals and make none:
//
//   - Twin sinks are merged. Nodes with no successors and the same
//     predecessors are at the same distance from every source with the
//     same number of shortest paths, and only ever end a path; one node
//     standing for c of them adds c·σ(v)/σ(w) where each would add
//     σ(v)/σ(w). At asset granularity this removes most nodes and ties.
//   - Only sources that can contribute run a search. A shortest path
//     with an intermediate node leaves its source s for a successor w
//     that itself has a successor other than s; if no successor of s has
//     one, the search from s reaches nothing beyond distance 1 and adds
//     0 to every node.
//
// The tests check the result against gonum's network.Betweenness and an
// enumeration of all shortest paths. The sources are split into a fixed
// number of chunks whose sums are added in chunk order, so the result
// does not depend on how many cores ran them.
func (a adjacency) betweenness() []float64 {
	n := len(a.start) - 1
	core, weight, orig := mergeTwinSinks(a)
	var sources []int32
	for s := range int32(len(orig)) {
		for _, w := range core.out(s) {
			if d := core.start[w+1] - core.start[w]; d > 1 || (d == 1 && core.to[core.start[w]] != s) {
				sources = append(sources, s)
				break
			}
		}
	}
	const chunks = 8
	sums := make([][]float64, chunks)
	if len(sources) < 64 {
		sums = [][]float64{make([]float64, len(orig))}
		newBrandes(len(orig)).run(core, weight, sources, sums[0])
	} else {
		work := make(chan int, chunks)
		for c := range chunks {
			work <- c
		}
		close(work)
		var wg sync.WaitGroup
		for range min(chunks, runtime.GOMAXPROCS(0)) {
			wg.Go(func() {
				b := newBrandes(len(orig))
				for c := range work {
					lo, hi := c*len(sources)/chunks, (c+1)*len(sources)/chunks
					sums[c] = make([]float64, len(orig))
					b.run(core, weight, sources[lo:hi], sums[c])
				}
			})
		}
		wg.Wait()
	}
	cb := make([]float64, n)
	for i, v := range orig {
		if v < 0 {
			continue // merged sinks: never intermediate
		}
		for _, s := range sums {
			cb[v] += s[i]
		}
	}
	return cb
}

// mergeTwinSinks is a's graph with the sinks that have the same
// predecessors merged into one node of that weight (every other node
// weighs 1) and sinks without predecessors dropped. orig maps the
// reduced graph's nodes to a's (-1 for a merged sink).
func mergeTwinSinks(a adjacency) (core adjacency, weight []float64, orig []int32) {
	n := int32(len(a.start) - 1)
	sink := func(v int32) bool { return a.start[v+1] == a.start[v] }
	// Predecessors of each sink, ascending (filled in order of u).
	inStart := make([]int32, n+1)
	for _, w := range a.to {
		if sink(w) {
			inStart[w+1]++
		}
	}
	for v := range n {
		inStart[v+1] += inStart[v]
	}
	in := make([]int32, inStart[n])
	next := slices.Clone(inStart[:n])
	for u := range n {
		for _, w := range a.out(u) {
			if sink(w) {
				in[next[w]] = u
				next[w]++
			}
		}
	}
	id := make([]int32, n)
	for v := range n {
		if !sink(v) {
			id[v] = int32(len(orig))
			orig = append(orig, v)
			weight = append(weight, 1)
		}
	}
	class := make(map[string]int32)
	var key []byte
	for w := range n {
		if !sink(w) || inStart[w] == inStart[w+1] {
			continue
		}
		key = key[:0]
		for _, u := range in[inStart[w]:inStart[w+1]] {
			key = binary.LittleEndian.AppendUint32(key, uint32(u))
		}
		c, ok := class[string(key)]
		if !ok {
			c = int32(len(orig))
			class[string(key)] = c
			orig = append(orig, -1)
			weight = append(weight, 0)
		}
		weight[c]++
		id[w] = c
	}
	// Out-lists in the reduced numbering; a node's ties to twins become
	// one tie to their class.
	core = adjacency{start: make([]int32, len(orig)+1), to: make([]int32, 0, len(a.to))}
	last := make([]int32, len(orig)) // last node with a tie to each class, +1
	for i, u := range orig {
		if u >= 0 {
			for _, w := range a.out(u) {
				c := id[w]
				if sink(w) {
					if last[c] == int32(i)+1 {
						continue
					}
					last[c] = int32(i) + 1
				}
				core.to = append(core.to, c)
			}
		}
		core.start[i+1] = int32(len(core.to))
	}
	return core, weight, orig
}

// brandes is one worker's search state, sized once for the graph and
// reset after each source only where the search went. A node's state is
// kept together: each tie followed touches one cache line, not three.
type brandes struct {
	node  []searchNode
	order []int32 // reached nodes in BFS order (non-decreasing distance)
}

type searchNode struct {
	dist  int32   // from the source; -1: not reached
	sigma float64 // shortest paths from the source
	// coef is (weight + dependency) / sigma, what each predecessor on a
	// shortest path multiplies by its own sigma, once the node is done.
	coef float64
}

func newBrandes(n int) *brandes {
	b := &brandes{node: make([]searchNode, n), order: make([]int32, 0, n)}
	for i := range b.node {
		b.node[i].dist = -1
	}
	return b
}

// run adds to cb the dependencies of every node on each of sources;
// weight is how many nodes each stands for.
func (b *brandes) run(a adjacency, weight []float64, sources []int32, cb []float64) {
	node := b.node
	for _, s := range sources {
		order := append(b.order[:0], s)
		node[s].dist, node[s].sigma = 0, 1
		for head := 0; head < len(order); head++ {
			v := order[head]
			dv, sv := node[v].dist+1, node[v].sigma
			for _, w := range a.out(v) {
				nw := &node[w]
				if nw.dist < 0 {
					nw.dist = dv
					order = append(order, w)
				}
				if nw.dist == dv {
					nw.sigma += sv
				}
			}
		}
		// Back from the farthest: v's dependency is sigma[v] times the sum
		// over its successors w on a shortest path of
		// (weight[w] + dependency[w]) / sigma[w], where the weight is 1 but
		// for merged sinks.
		for i := len(order) - 1; i > 0; i-- {
			v := order[i]
			nv := &node[v]
			dv := nv.dist + 1
			var d float64
			for _, w := range a.out(v) {
				if nw := &node[w]; nw.dist == dv {
					d += nw.coef
				}
			}
			d *= nv.sigma
			cb[v] += d
			nv.coef = (weight[v] + d) / nv.sigma
		}
		for _, v := range order {
			node[v] = searchNode{dist: -1}
		}
		b.order = order
	}
}
