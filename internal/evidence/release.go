package evidence

import (
	"fmt"
	"slices"
	"strconv"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/disclosure"
	"github.com/sparc-network/sparc/internal/network"
	"github.com/sparc-network/sparc/internal/vocab"
)

// The measures an estimate is over: each has its own count of cases.
type measure int

const (
	swemwbs measure = iota
	ons4
)

func (s sums) count(m measure) int64 {
	if m == swemwbs {
		return s.SwemN
	}
	return s.Ons4N
}

// group is one group on its way out: its raw sums and which measures'
// estimates may be released.
type group struct {
	key, label string
	sums
	released [2]bool // by measure
}

// release turns the store's groups into the answer, under the disclosure
// rule (docs/analytics.md, "Outcomes as evidence"):
//
//   - n is released by disclosure.Count (1 to 7 withheld, the rest
//     rounded to 5); the overall n is the disclosure.Sum of the
//     providers' released counts when the providers cover every case
//     (they do unless a referral has no provider), so it tells nothing
//     the provider counts do not.
//   - An estimate is released only from minN or more cases of its
//     measure.
//   - A released group whose complement (overall minus the group) has 1
//     to minN-1 cases is suppressed too: otherwise the overall mean and
//     the group's mean give the complement's.
//   - In the partitions (providers; quintiles, with the people whose home
//     area has no quintile as a hidden part) the suppressed and hidden
//     cases together must be 0 or minN and more; if not, the smallest
//     released groups are suppressed until they are.
//
// Providers that are not public appear as anonymous codes under secret
// (network.AnonymousCode), as in the referral network.
func release(rows []groupRow, secret []byte) *sparcv1.OutcomeEvidence {
	var overall group
	overall.key = "all"
	var cats, provs []*group
	quints := make([]*group, 5)
	for i := range quints {
		quints[i] = &group{key: strconv.Itoa(i + 1), label: quintileLabel(i + 1)}
	}
	for _, r := range rows {
		switch r.Dim {
		case "all":
			overall.sums = r.sums
		case "category":
			label := r.Key
			if t, ok := categoryTerm(r.Key); ok {
				label = t.LabelEN
			}
			cats = append(cats, &group{key: r.Key, label: label, sums: r.sums})
		case "provider":
			g := &group{key: r.Key, label: r.Label, sums: r.sums}
			if !r.Public {
				g.key, g.label = network.AnonymousCode(secret, r.Key), ""
			}
			provs = append(provs, g)
		case "quintile":
			if q, err := strconv.Atoi(r.Key); err == nil && q >= 1 && q <= 5 {
				quints[q-1].sums = r.sums
			}
		}
	}
	slices.SortStableFunc(cats, func(a, b *group) int { return categoryOrder(a.key) - categoryOrder(b.key) })
	slices.SortFunc(provs, func(a, b *group) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})

	all := append(append(append([]*group{&overall}, cats...), provs...), quints...)
	for _, m := range []measure{swemwbs, ons4} {
		for _, g := range all {
			g.released[m] = g.count(m) >= minN
		}
		total := overall.count(m)
		for _, g := range all[1:] {
			if c := total - g.count(m); c > 0 && c < minN {
				g.released[m] = false
			}
		}
		complement(provs, total, overall.released[m], m)
		complement(quints, total, overall.released[m], m)
	}

	out := &sparcv1.OutcomeEvidence{}
	var provCells []disclosure.Cell
	var provN int64
	for _, g := range provs {
		o := g.proto(disclosure.Count(g.N), out)
		provCells = append(provCells, disclosure.Count(g.N))
		provN += g.N
		out.ByProvider = append(out.ByProvider, o)
	}
	n := disclosure.Count(overall.N)
	if provN == overall.N && len(provCells) > 0 {
		n = disclosure.Sum(provCells...)
	}
	out.Overall = overall.proto(n, out)
	for _, g := range cats {
		out.ByCategory = append(out.ByCategory, g.proto(disclosure.Count(g.N), out))
	}
	for _, g := range quints {
		out.ByQuintile = append(out.ByQuintile, g.proto(disclosure.Count(g.N), out))
	}
	return out
}

// complement suppresses the smallest released groups of a partition until
// what is not shown (suppressed groups, and the cases in no group) cannot
// be worked out as the difference from the overall figure: 0 cases, or
// minN and more. Nothing needs doing while the overall estimate itself
// is suppressed.
func complement(part []*group, total int64, overallReleased bool, m measure) {
	if !overallReleased {
		return
	}
	for {
		hidden := total
		var smallest *group
		for _, g := range part {
			if g.released[m] {
				hidden -= g.count(m)
				if smallest == nil || g.count(m) < smallest.count(m) {
					smallest = g
				}
			}
		}
		if hidden <= 0 || hidden >= minN || smallest == nil {
			return
		}
		smallest.released[m] = false
	}
}

// proto is the group as sent, its count released as n; it marks out as
// suppressed when anything of it is held back.
func (g *group) proto(n disclosure.Cell, out *sparcv1.OutcomeEvidence) *sparcv1.OutcomeGroup {
	o := &sparcv1.OutcomeGroup{Key: g.key, Label: g.label,
		N:                    n.StatCount(),
		SwemwbsChange:        &sparcv1.Estimate{Suppressed: true},
		SwemwbsImprovedShare: &sparcv1.Estimate{Suppressed: true}}
	if n.Withheld {
		out.Suppressed = true
	}
	// A released estimate's own count of cases is at least minN, so
	// disclosure.Count rounds it to 5 and never withholds it.
	if g.released[swemwbs] {
		m, lo, hi := meanCI(g.SwemN, g.SwemSum, g.SwemSq)
		o.SwemwbsChange = &sparcv1.Estimate{Value: m, CiLow: lo, CiHigh: hi, N: disclosure.Count(g.SwemN).StatCount()}
		p, lo, hi := wilson(g.Improved, g.SwemN)
		o.SwemwbsImprovedShare = &sparcv1.Estimate{Value: p, CiLow: lo, CiHigh: hi, N: disclosure.Count(g.SwemN).StatCount()}
	} else if g.SwemN > 0 {
		out.Suppressed = true
	}
	for i := range 4 {
		e := &sparcv1.Estimate{Suppressed: true}
		if g.released[ons4] {
			m, lo, hi := meanCI(g.Ons4N, g.Ons4Sum[i], g.Ons4SumSq[i])
			e = &sparcv1.Estimate{Value: m, CiLow: lo, CiHigh: hi, N: disclosure.Count(g.Ons4N).StatCount()}
		}
		o.Ons4Change = append(o.Ons4Change, e)
	}
	if !g.released[ons4] && g.Ons4N > 0 {
		out.Suppressed = true
	}
	return o
}

func quintileLabel(q int) string {
	switch q {
	case 1:
		return "Quintile 1 (most deprived)"
	case 5:
		return "Quintile 5 (least deprived)"
	}
	return fmt.Sprintf("Quintile %d", q)
}

func categoryTerm(code string) (vocab.Term, bool) {
	for _, t := range vocab.Categories {
		if t.Code == code {
			return t, true
		}
	}
	return vocab.Term{}, false
}

// categoryOrder is the vocabulary's order, codes outside it last.
func categoryOrder(code string) int {
	for i, t := range vocab.Categories {
		if t.Code == code {
			return i
		}
	}
	return len(vocab.Categories)
}
