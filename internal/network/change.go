package network

import (
	"cmp"
	"slices"
)

// Compare lists the ties that changed from before to after, matched by
// the keys of their ends (node indices differ between windows): Formed
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
func Compare(before, after *Graph) []Change {
	if before == nil {
		before = &Graph{}
	}
	if after == nil {
		after = &Graph{}
	}
	rankB, rankA, keys := rankKeys(before.Nodes, after.Nodes)
	tb, ta := tieKeys(before, rankB), tieKeys(after, rankA)
	// Two passes over the merge, counting then filling, so a national
	// comparison allocates its result once.
	n := mergeTies(tb, ta, func(uint64, ChangeKind, int64, int64) {})
	out := make([]Change, 0, n)
	mergeTies(tb, ta, func(k uint64, kind ChangeKind, b, a int64) {
		out = append(out, Change{From: keys[k>>32], To: keys[uint32(k)], Kind: kind, Before: b, After: a})
	})
	return out
}

// mergeTies walks two sorted tie lists together and reports each change;
// it returns how many there were.
func mergeTies(tb, ta []rankedTie, change func(k uint64, kind ChangeKind, before, after int64)) int {
	n := 0
	report := func(k uint64, kind ChangeKind, b, a int64) {
		change(k, kind, b, a)
		n++
	}
	i, j := 0, 0
	for i < len(tb) || j < len(ta) {
		switch {
		case j == len(ta) || (i < len(tb) && tb[i].key < ta[j].key):
			report(tb[i].key, Lost, tb[i].referrals, 0)
			i++
		case i == len(tb) || ta[j].key < tb[i].key:
			report(ta[j].key, Formed, 0, ta[j].referrals)
			j++
		default:
			b, a := tb[i].referrals, ta[j].referrals
			if a > b {
				report(ta[j].key, Strengthened, b, a)
			} else if a < b {
				report(ta[j].key, Weakened, b, a)
			}
			i++
			j++
		}
	}
	return n
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

type rankedTie struct {
	key       uint64 // rank of From << 32 | rank of To
	referrals int64
	tie       int32 // position in its graph's Ties
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
