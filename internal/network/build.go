package network

import (
	"cmp"
	"slices"
	"time"

	"github.com/sparc-network/sparc/internal/disclosure"
)

// history is the rows of one read (every window a request needs lies in
// it) with what the network shows of their organisations and assets.
type history struct {
	// rows in order of month, so a window's are one run of them.
	rows   []Row
	orgs   map[string]OrgInfo
	assets map[string]AssetInfo
	// byAsset: nodes are the referring organisations and the assets
	// (granularity ASSETS) rather than organisations only.
	byAsset bool
}

// counts are one tie's raw counts in one calendar month: the disclosure
// rule's cell (docs/security.md, "Disclosure control").
type counts struct {
	referrals, accepted, declined, attended, completed int64
	reasons                                            map[string]int64
}

// built is the Graph of one window with each tie's counts per month, from
// which its figures are released.
type built struct {
	g *Graph
	// months[i] are Ties[i]'s counts by month.
	months []map[time.Time]*counts
	// released[i] is Ties[i] released (release(months[i])), once.
	released []releasedTie
	index    map[string]int // node key -> position in g.Nodes
}

// target is the node a row's referrals go to.
func (h *history) target(r *Row) string {
	if h.byAsset {
		return r.Asset
	}
	return r.Target
}

// graph builds the network of the referrals made in [from, to): nodes in
// order of kind then key, ties in order of (From, To). Referrals of an
// organisation to its own assets are left out at organisation
// granularity (a tie is between two nodes, never a loop).
func (h *history) graph(from, to time.Time) *built {
	type pair struct{ from, to string }
	ties := map[pair]map[time.Time]*counts{}
	kinds := map[string]NodeKind{}
	// For quintiles: referrals by home quintile per referrer; quintile of
	// each asset referred to per group.
	homeQ := map[string]*[6]int64{}
	groupAssets := map[string]map[string]int{}
	assetQ := map[string]int{}
	lo, _ := slices.BinarySearchFunc(h.rows, from, func(r Row, t time.Time) int { return r.Month.Compare(t) })
	hi, _ := slices.BinarySearchFunc(h.rows, to, func(r Row, t time.Time) int { return r.Month.Compare(t) })
	for i := lo; i < hi; i++ {
		r := &h.rows[i]
		t := h.target(r)
		if t == r.Referrer {
			continue
		}
		p := pair{r.Referrer, t}
		m := ties[p]
		if m == nil {
			m = map[time.Time]*counts{}
			ties[p] = m
		}
		c := m[r.Month]
		if c == nil {
			c = &counts{}
			m[r.Month] = c
		}
		c.referrals += r.N
		c.accepted += r.Accepted
		c.attended += r.Attended
		c.completed += r.Completed
		if r.Declined {
			c.declined += r.N
			if c.reasons == nil {
				c.reasons = map[string]int64{}
			}
			c.reasons[r.Reason] += r.N
		}
		// A target is a group (or an asset) even if it also refers.
		if h.byAsset {
			kinds[t] = Asset
		} else {
			kinds[t] = Group
		}
		if _, ok := kinds[r.Referrer]; !ok {
			kinds[r.Referrer] = Referrer
		}
		if kinds[r.Referrer] == Referrer {
			q := homeQ[r.Referrer]
			if q == nil {
				q = &[6]int64{}
				homeQ[r.Referrer] = q
			}
			q[r.HomeQuintile] += r.N
		}
		assetQ[r.Asset] = r.AssetQuintile
		if ga := groupAssets[r.Target]; ga == nil {
			groupAssets[r.Target] = map[string]int{r.Asset: r.AssetQuintile}
		} else {
			ga[r.Asset] = r.AssetQuintile
		}
	}
	b := &built{g: &Graph{}, index: map[string]int{}}
	for k, kind := range kinds {
		n := Node{Key: k, Kind: kind}
		switch kind {
		case Asset:
			a := h.assets[k]
			n.Name, n.Org, n.Public, n.Quintile = a.Name, a.Org, true, assetQ[k]
		case Group:
			o := h.orgs[k]
			n.Name, n.Public = o.Name, o.Public
			var q [6]int64
			for _, aq := range groupAssets[k] {
				q[aq]++
			}
			n.Quintile = mode(q)
		default:
			o := h.orgs[k]
			n.Name, n.Public = o.Name, o.Public
			if q := homeQ[k]; q != nil {
				n.Quintile = mode(*q)
			}
		}
		b.g.Nodes = append(b.g.Nodes, n)
	}
	slices.SortFunc(b.g.Nodes, func(x, y Node) int { return cmp.Or(cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Key, y.Key)) })
	for i, n := range b.g.Nodes {
		b.index[n.Key] = i
	}
	for p, m := range ties {
		t := Tie{From: b.index[p.from], To: b.index[p.to]}
		for _, c := range m {
			t.Referrals += c.referrals
			t.Accepted += c.accepted
			t.Declined += c.declined
			t.Attended += c.attended
			t.Completed += c.completed
			for why, n := range c.reasons {
				if t.DeclinedReasons == nil {
					t.DeclinedReasons = map[string]int64{}
				}
				t.DeclinedReasons[why] += n
			}
		}
		b.g.Ties = append(b.g.Ties, t)
		b.months = append(b.months, m)
	}
	order := make([]int, len(b.g.Ties))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		x, y := b.g.Ties[i], b.g.Ties[j]
		return cmp.Or(cmp.Compare(x.From, y.From), cmp.Compare(x.To, y.To))
	})
	ties2, months2 := make([]Tie, len(order)), make([]map[time.Time]*counts, len(order))
	for i, j := range order {
		ties2[i], months2[i] = b.g.Ties[j], b.months[j]
	}
	b.g.Ties, b.months = ties2, months2
	b.released = make([]releasedTie, len(months2))
	for i, m := range months2 {
		b.released[i] = release(m)
	}
	return b
}

// mode is the quintile (1..5) with the most weight, the most deprived of
// equals; 0 when no weight has a known quintile.
func mode(q [6]int64) int {
	best := 0
	for i := 1; i <= 5; i++ {
		if q[i] > 0 && (best == 0 || q[i] > q[best]) {
			best = i
		}
	}
	return best
}

// releasedTie is a tie's figures as they leave: each month's count
// released on its own (disclosure.Count) and the window's figure their
// disclosure.Sum, so a window and the months or quarters inside it are
// built from the same cells and cannot be differenced into a withheld one.
type releasedTie struct {
	referrals, accepted, declined, attended, completed disclosure.Cell
	reasons                                            map[string]disclosure.Cell
	// cells are the referral cells of every month (for node and network
	// sums).
	cells []disclosure.Cell
}

func release(m map[time.Time]*counts) releasedTie {
	var ref, acc, dec, att, com []disclosure.Cell
	why := map[string][]disclosure.Cell{}
	for _, c := range m {
		ref = append(ref, disclosure.Count(c.referrals))
		acc = append(acc, disclosure.Count(c.accepted))
		dec = append(dec, disclosure.Count(c.declined))
		att = append(att, disclosure.Count(c.attended))
		com = append(com, disclosure.Count(c.completed))
		for r, n := range c.reasons {
			why[r] = append(why[r], disclosure.Count(n))
		}
	}
	out := releasedTie{referrals: disclosure.Sum(ref...), accepted: disclosure.Sum(acc...), declined: disclosure.Sum(dec...),
		attended: disclosure.Sum(att...), completed: disclosure.Sum(com...), cells: ref}
	if len(why) > 0 {
		out.reasons = make(map[string]disclosure.Cell, len(why))
		for r, cs := range why {
			out.reasons[r] = disclosure.Sum(cs...)
		}
	}
	return out
}

// tieReleased finds the released figures of the tie between two node
// keys (all zero when there is none).
func (b *built) tieReleased(from, to string) releasedTie {
	i, ok1 := b.index[from]
	j, ok2 := b.index[to]
	if !ok1 || !ok2 {
		return releasedTie{}
	}
	k, found := slices.BinarySearchFunc(b.g.Ties, [2]int{i, j}, func(t Tie, p [2]int) int {
		return cmp.Or(cmp.Compare(t.From, p[0]), cmp.Compare(t.To, p[1]))
	})
	if !found {
		return releasedTie{}
	}
	return b.released[k]
}
