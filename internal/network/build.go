package network

import (
	"bytes"
	"cmp"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/sparc-network/sparc/internal/disclosure"
)

// history is one read (every window a request needs lies in it) in the
// form the windows are cut from: every organisation and asset numbered
// once, in key order, so the builder works on small integers and flat
// slices, never on maps of strings (a national year has 0.7M rows).
type history struct {
	// keys are the node keys (uuid text), ascending; ids numbers them.
	keys []string
	ids  map[string]int32
	// ties in order of (referrer, target, month): a tie's rows are one
	// run, its months in order.
	ties  []tieRow
	homes []homeRow
	// reasons are the declined reasons; tieRow.reason indexes them.
	reasons []string
	// quintile of each key: an asset's, or an organisation's (the most
	// common among the assets it runs, the most deprived of equals).
	quintile []int8
	// asset[k]: key k is an asset (a history by asset), else an
	// organisation.
	asset  []bool
	orgs   map[string]OrgInfo
	assets map[string]AssetInfo
	// byAsset: nodes are the referring organisations and the assets
	// (granularity ASSETS) rather than organisations only.
	byAsset bool
}

// tieRow is a TieRow with its ends numbered: target is the asset when
// the history is by asset. month counts calendar months (monthOf).
type tieRow struct {
	referrer, target int32
	month            int32
	reason           int32 // -1: not declined
	n, accepted      int64
	attended         int64
	completed        int64
}

type homeRow struct {
	referrer, month int32
	quintile        int32
	n               int64
}

// monthOf numbers t's calendar month (UTC): year*12 + month - 1.
func monthOf(t time.Time) int32 {
	t = t.UTC()
	return int32(t.Year())*12 + int32(t.Month()) - 1
}

// newHistory numbers rd's organisations and assets and orders its rows.
func newHistory(rd *Read, byAsset bool) *history {
	h := &history{byAsset: byAsset}
	target := func(r *TieRow) ID {
		if byAsset {
			return r.Asset
		}
		return r.Target
	}
	seen := map[ID]int32{}
	var all []ID
	add := func(id ID) {
		if _, ok := seen[id]; !ok {
			seen[id] = 0
			all = append(all, id)
		}
	}
	for i := range rd.Ties {
		add(rd.Ties[i].Referrer)
		add(target(&rd.Ties[i]))
	}
	// uuid text sorts as the bytes do (fixed-width lower-case hex), so
	// the numbering is key order.
	slices.SortFunc(all, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
	h.keys = make([]string, len(all))
	h.ids = make(map[string]int32, len(all))
	for i, id := range all {
		seen[id] = int32(i)
		h.keys[i] = uuid.UUID(id).String()
		h.ids[h.keys[i]] = int32(i)
	}
	reasons := map[string]int32{}
	h.ties = make([]tieRow, len(rd.Ties))
	for i := range rd.Ties {
		r := &rd.Ties[i]
		t := tieRow{referrer: seen[r.Referrer], target: seen[target(r)], month: monthOf(r.Month), reason: -1,
			n: r.N, accepted: r.Accepted, attended: r.Attended, completed: r.Completed}
		if r.Declined {
			k, ok := reasons[r.Reason]
			if !ok {
				k = int32(len(h.reasons))
				reasons[r.Reason] = k
				h.reasons = append(h.reasons, r.Reason)
			}
			t.reason = k
		}
		h.ties[i] = t
	}
	h.ties = sortTies(h.ties)
	for _, r := range rd.Homes {
		if k, ok := seen[r.Referrer]; ok {
			h.homes = append(h.homes, homeRow{referrer: k, month: monthOf(r.Month), quintile: int32(quintile(r.Quintile)), n: r.N})
		}
	}
	h.asset = make([]bool, len(all))
	if byAsset {
		for i := range h.ties {
			h.asset[h.ties[i].target] = true
		}
	}
	// Quintiles: an asset's own; an organisation's, the mode of its
	// assets'.
	h.quintile = make([]int8, len(all))
	byOrg := map[int32]*[6]int64{}
	for _, p := range rd.Places {
		q := quintile(p.Quintile)
		if k, ok := seen[p.Asset]; ok && byAsset {
			h.quintile[k] = int8(q)
		}
		if k, ok := seen[p.Org]; ok && p.Org != (ID{}) {
			c := byOrg[k]
			if c == nil {
				c = &[6]int64{}
				byOrg[k] = c
			}
			c[q]++
		}
	}
	for k, c := range byOrg {
		h.quintile[k] = int8(mode(*c))
	}
	return h
}

// sortTies orders rows by (referrer, target, month). A national year
// has 0.7M rows of 48 bytes: sorting 16-byte (key, position) pairs and
// placing each row once is three times faster than sorting the rows.
func sortTies(rows []tieRow) []tieRow {
	if len(rows) == 0 {
		return rows
	}
	first, last, most := rows[0].month, rows[0].month, int32(0)
	for _, r := range rows {
		first, last, most = min(first, r.month), max(last, r.month), max(most, r.referrer, r.target)
	}
	if most >= 1<<24 || last-first >= 1<<16 {
		slices.SortFunc(rows, func(x, y tieRow) int {
			return cmp.Or(cmp.Compare(x.referrer, y.referrer), cmp.Compare(x.target, y.target), cmp.Compare(x.month, y.month))
		})
		return rows
	}
	type sortKey struct {
		k uint64
		i int32
	}
	order := make([]sortKey, len(rows))
	for i, r := range rows {
		// 24 bits each for the ends (16M organisations and assets), 16
		// for the month (5,000 years).
		order[i] = sortKey{uint64(r.referrer)<<40 | uint64(r.target)<<16 | uint64(r.month-first), int32(i)}
	}
	slices.SortFunc(order, func(x, y sortKey) int { return cmp.Compare(x.k, y.k) })
	out := make([]tieRow, len(rows))
	for j, o := range order {
		out[j] = rows[o.i]
	}
	return out
}

// counts are one tie's raw counts in one calendar month: the disclosure
// rule's cell (docs/security.md, "Disclosure control").
type counts struct {
	month                                              int32
	referrals, accepted, declined, attended, completed int64
	// reasons: declined referrals by reason (an index into
	// history.reasons); few per cell.
	reasons []reasonCount
}

type reasonCount struct {
	reason int32
	n      int64
}

// built is the Graph of one window with each tie's counts per month, from
// which its figures are released.
type built struct {
	h *history
	g *Graph
	// released[i] is Ties[i] released from its month cells, once.
	released []releasedTie
	// node[k] is key k's position in g.Nodes (-1: not in this window),
	// key[i] the key of g.Nodes[i].
	node, key []int32
}

// keyed is b's ties with referrals by (key of From, key of To), sorted,
// for mergeTies: two windows of one history number keys alike, so their
// ties match without a string.
func (b *built) keyed() []rankedTie {
	out := make([]rankedTie, 0, len(b.g.Ties))
	for i, t := range b.g.Ties {
		if t.Referrals > 0 {
			out = append(out, rankedTie{key: uint64(b.key[t.From])<<32 | uint64(b.key[t.To]), referrals: t.Referrals, tie: int32(i)})
		}
	}
	slices.SortFunc(out, func(p, q rankedTie) int { return cmp.Compare(p.key, q.key) })
	return out
}

// has says whether key is a node of b.
func (b *built) has(key string) bool {
	_, ok := b.index(key)
	return ok
}

// index is key's position in b.g.Nodes.
func (b *built) index(key string) (int, bool) {
	k, ok := b.h.ids[key]
	if !ok || b.node[k] < 0 {
		return 0, false
	}
	return int(b.node[k]), true
}

// graph builds the network of the referrals made in [from, to) (whole
// months): nodes in order of kind then key, ties in order of (From, To).
// Referrals of an organisation to its own assets are left out at
// organisation granularity (a tie is between two nodes, never a loop).
func (h *history) graph(from, to time.Time) *built {
	lo, hi := monthOf(from), monthOf(to)
	kind := make([]NodeKind, len(h.keys))
	type pending struct {
		referrer, target int32
		cells            []counts
	}
	var ties []pending
	for i := range h.ties {
		r := &h.ties[i]
		if r.month < lo || r.month >= hi || r.referrer == r.target {
			continue
		}
		if n := len(ties); n == 0 || ties[n-1].referrer != r.referrer || ties[n-1].target != r.target {
			ties = append(ties, pending{referrer: r.referrer, target: r.target})
		}
		t := &ties[len(ties)-1]
		if n := len(t.cells); n == 0 || t.cells[n-1].month != r.month {
			t.cells = append(t.cells, counts{month: r.month})
		}
		c := &t.cells[len(t.cells)-1]
		c.referrals += r.n
		c.accepted += r.accepted
		c.attended += r.attended
		c.completed += r.completed
		if r.reason >= 0 {
			c.declined += r.n
			if j := slices.IndexFunc(c.reasons, func(x reasonCount) bool { return x.reason == r.reason }); j >= 0 {
				c.reasons[j].n += r.n
			} else {
				c.reasons = append(c.reasons, reasonCount{r.reason, r.n})
			}
		}
		// A target is a group (or an asset) even if it also refers.
		if h.byAsset {
			kind[r.target] = Asset
		} else {
			kind[r.target] = Group
		}
		if kind[r.referrer] == 0 {
			kind[r.referrer] = Referrer
		}
	}
	// Where the people a referrer refers live, in this window.
	homes := map[int32]*[6]int64{}
	for _, r := range h.homes {
		if r.month < lo || r.month >= hi || kind[r.referrer] != Referrer {
			continue
		}
		q := homes[r.referrer]
		if q == nil {
			q = &[6]int64{}
			homes[r.referrer] = q
		}
		q[r.quintile] += r.n
	}
	b := &built{h: h, g: &Graph{}, node: make([]int32, len(h.keys))}
	for k := range b.node {
		b.node[k] = -1
	}
	// Nodes in order of kind, then key (key order is number order).
	for _, want := range []NodeKind{Referrer, Group, Asset} {
		for k, kd := range kind {
			if kd != want {
				continue
			}
			key := h.keys[k]
			n := Node{Key: key, Kind: kd}
			switch kd {
			case Asset:
				a := h.assets[key]
				n.Name, n.Org, n.Public, n.Quintile = a.Name, a.Org, true, int(h.quintile[k])
			case Group:
				o := h.orgs[key]
				n.Name, n.Public, n.Quintile = o.Name, o.Public, int(h.quintile[k])
			default:
				o := h.orgs[key]
				n.Name, n.Public = o.Name, o.Public
				if q := homes[int32(k)]; q != nil {
					n.Quintile = mode(*q)
				}
			}
			b.node[k] = int32(len(b.g.Nodes))
			b.key = append(b.key, int32(k))
			b.g.Nodes = append(b.g.Nodes, n)
		}
	}
	order := make([]int, len(ties))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		x, y := &ties[i], &ties[j]
		return cmp.Or(cmp.Compare(b.node[x.referrer], b.node[y.referrer]), cmp.Compare(b.node[x.target], b.node[y.target]))
	})
	b.g.Ties = make([]Tie, len(ties))
	b.released = make([]releasedTie, len(ties))
	for i, j := range order {
		p := &ties[j]
		t := Tie{From: int(b.node[p.referrer]), To: int(b.node[p.target])}
		for _, c := range p.cells {
			t.Referrals += c.referrals
			t.Accepted += c.accepted
			t.Declined += c.declined
			t.Attended += c.attended
			t.Completed += c.completed
		}
		b.g.Ties[i] = t
		b.released[i] = h.release(p.cells)
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

func (h *history) release(cells []counts) releasedTie {
	// One allocation for the five lists of month cells.
	n := len(cells)
	all := make([]disclosure.Cell, 5*n)
	ref, acc, dec, att, com := all[:n:n], all[n:2*n:2*n], all[2*n:3*n:3*n], all[3*n:4*n:4*n], all[4*n:]
	var why map[string][]disclosure.Cell
	for i, c := range cells {
		ref[i] = disclosure.Count(c.referrals)
		acc[i] = disclosure.Count(c.accepted)
		dec[i] = disclosure.Count(c.declined)
		att[i] = disclosure.Count(c.attended)
		com[i] = disclosure.Count(c.completed)
		for _, r := range c.reasons {
			if why == nil {
				why = map[string][]disclosure.Cell{}
			}
			why[h.reasons[r.reason]] = append(why[h.reasons[r.reason]], disclosure.Count(r.n))
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

// quintile is a deprivation quintile as the database sends it, held to
// 0 (none) .. 5: an out-of-range value must not index past the counts.
func quintile(q int) int { return min(max(q, 0), 5) }
