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
func Compare(before, after *Graph) []Change {
	type pair struct{ from, to string }
	counts := func(g *Graph) map[pair]int64 {
		if g == nil {
			return nil
		}
		m := make(map[pair]int64, len(g.Ties))
		for _, t := range g.Ties {
			if t.Referrals > 0 {
				m[pair{g.Nodes[t.From].Key, g.Nodes[t.To].Key}] = t.Referrals
			}
		}
		return m
	}
	was, now := counts(before), counts(after)
	var out []Change
	for p, a := range now {
		b := was[p]
		var kind ChangeKind
		switch {
		case b == 0:
			kind = Formed
		case a > b:
			kind = Strengthened
		case a < b:
			kind = Weakened
		default:
			continue
		}
		out = append(out, Change{From: p.from, To: p.to, Kind: kind, Before: b, After: a})
	}
	for p, b := range was {
		if _, ok := now[p]; !ok {
			out = append(out, Change{From: p.from, To: p.to, Kind: Lost, Before: b})
		}
	}
	slices.SortFunc(out, func(x, y Change) int {
		return cmp.Or(cmp.Compare(x.From, y.From), cmp.Compare(x.To, y.To))
	})
	return out
}
