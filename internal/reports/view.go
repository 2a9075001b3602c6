package reports

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"unicode"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// The view is the report as both formats show it: every figure already
// worded and formatted in the reader's language, the lists cut to their
// caps, the drawing laid out and the charts' values and scales chosen.
// The HTML template and the PDF writer only place it, so the two formats
// say the same thing.

// Caps on the lists, so that the report stays a few pages whatever the
// network's size; each cut list ends with "and N more".
const (
	maxGapRows      = 15
	maxNodeRows     = 15
	maxChangeRows   = 20
	maxForestGroups = 8 // per breakdown (categories, providers)
	maxDrawnLabels  = 20
	maxLabelRunes   = 22
	maxNameRunes    = 44
)

type view struct {
	T                                     *labels
	Title, AreaCode, Period, PrevPeriod   string
	Generated, WindowCode, PrevWindowCode string
	Suppressed                            bool

	Cov covView
	Net netView
	Out outView
	Chg chgView
}

// row is a table row of cells.
type row []string

type covView struct {
	HasAreas   bool
	Summary    [][2]string // label, value
	Deciles    []row       // decile, areas, residents, mean places, share without
	Comparison []row       // measure, most deprived, least deprived, ratio, difference
	Places     barChart
	Gaps       []gapRow
	GapsMore   string
}

type gapRow struct {
	Cells row
	Gap   bool // no asset within walking distance
}

// barChart is a bar per label; Has false draws no bar ("–").
type barChart struct {
	Bars []bar
	Max  float64
}

type bar struct {
	Label, Text string
	Value       float64
	Has         bool
}

type netView struct {
	HasNodes   bool
	Drawing    drawing
	Measures   []row // measure, this window, previous window
	Nodes      []row
	NodesMore  string
	Anonymous  bool
	LegendKind []legend
}

type legend struct {
	Label string
	Color rgb
}

type rgb struct{ R, G, B int }

// Hex is the colour as CSS and SVG write it.
func (c rgb) Hex() string {
	const digits = "0123456789abcdef"
	b := []byte{'#', 0, 0, 0, 0, 0, 0}
	for i, v := range []int{c.R, c.G, c.B} {
		b[1+2*i], b[2+2*i] = digits[v>>4&15], digits[v&15]
	}
	return string(b)
}

// drawing is the laid-out network in the unit square.
type drawing struct {
	Nodes []drawNode
	Edges []drawEdge
}

type drawNode struct {
	X, Y, R float64
	Color   rgb
	Label   string // shown beside the circle; empty for most nodes of a large network
	Title   string // the node's name or code, kind and referrals (SVG <title>)
}

type drawEdge struct {
	X1, Y1, X2, Y2, W float64
}

type outView struct {
	HasOverall bool
	Overall    []row // group, n, SWEMWBS change, share improved
	Ons4       []row // item, cases, change
	Forest     forest
	Groups     []row // every group of the forest, as a table
}

// forest is a forest plot: one row per group, a point and its interval
// on a shared axis from Min to Max; section rows head a breakdown.
type forest struct {
	Rows     []forestRow
	Min, Max float64
	Ticks    []tick
}

type forestRow struct {
	Label, N, Text       string
	Value, Low, High     float64
	Section, Suppressed  bool
	HasEstimate, Omitted bool // Omitted: the "and N more" line of a breakdown
}

type tick struct {
	At   float64
	Text string
}

type chgView struct {
	Rows []row // from, to, change, before, after
	More string
}

// Colours by kind, distinguishable in greyscale print by their lightness
// too.
var (
	colReferrer = rgb{31, 92, 153}
	colGroup    = rgb{46, 139, 87}
	colAsset    = rgb{214, 120, 30}
	colOther    = rgb{120, 120, 120}
)

func kindColour(k sparcv1.NetworkNodeKind) rgb {
	switch k {
	case sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_REFERRER:
		return colReferrer
	case sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_GROUP:
		return colGroup
	case sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_ASSET:
		return colAsset
	}
	return colOther
}

// clean is s without control and format characters and with runs of
// space made one, cut to max characters with "…".
func clean(s string, max int) string {
	s = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, s)), " ")
	if r := []rune(s); len(r) > max {
		return strings.TrimSpace(string(r[:max-1])) + "…"
	}
	return s
}

// nodeName is how the report names a node: its name when public, else
// its anonymous code.
func nodeName(n *sparcv1.NetworkNode, max int) string {
	if n == nil {
		return ""
	}
	if n.GetAnonymous() || n.GetDisplayName() == "" {
		return clean(n.GetId(), max)
	}
	return clean(n.GetDisplayName(), max)
}

// strength is a node's referrals in and out, as released (a suppressed
// count counts as none: its size is not shown).
func strength(n *sparcv1.NetworkNode) int64 {
	return n.GetStrengthIn().GetValue() + n.GetStrengthOut().GetValue()
}

func buildView(d *data, lang string) *view {
	f := newFmtr(lang)
	t := f.t
	v := &view{T: t, Title: t.Title, AreaCode: clean(d.area, 64), Generated: f.date(d.made)}
	start, end := d.window.Start, d.window.End
	if nw := d.network; nw.GetStartTime() != nil && nw.GetEndTime() != nil {
		start, end = nw.GetStartTime().AsTime(), nw.GetEndTime().AsTime() // as widened by the disclosure rule
	}
	v.Period, v.WindowCode = f.period(start, end), d.window.String()
	pw := d.window.Previous()
	ps, pe := pw.Start, pw.End
	if p := d.previous; p.GetStartTime() != nil && p.GetEndTime() != nil {
		ps, pe = p.GetStartTime().AsTime(), p.GetEndTime().AsTime()
	}
	v.PrevPeriod, v.PrevWindowCode = f.period(ps, pe), pw.String()
	v.Suppressed = d.network.GetSuppressed() || d.previous.GetSuppressed() || d.outcomes.GetSuppressed()
	v.Cov = coverageView(f, d.coverage)
	v.Net = networkView(f, d.network, d.previous)
	v.Out = outcomeView(f, d.outcomes)
	v.Chg = changeView(f, d.network)
	return v
}

func coverageView(f fmtr, c *sparcv1.ComputeCoverageResponse) covView {
	t := f.t
	var cv covView
	s := c.GetSummary()
	cv.HasAreas = len(c.GetAreas()) > 0 || s.GetAreas() > 0
	if !cv.HasAreas {
		return cv
	}
	cv.Summary = [][2]string{
		{t.ChildAreas, f.int(int64(s.GetAreas()))},
		{t.Population, f.int(s.GetPopulation())},
		{t.WithoutAsset, f.int(int64(s.GetAreasWithoutAssetWithinWalk()))},
		{t.WalkingDistance, f.dec(c.GetWalkingDistanceMeters(), 0) + " m"},
	}
	if ci := s.ConcentrationIndex; ci != nil {
		cv.Summary = append(cv.Summary, [2]string{t.ConcentrationIndex, f.signed(*ci, 3)})
	}
	byDecile := map[int32]*sparcv1.DecileSummary{}
	for _, dec := range s.GetDeciles() {
		byDecile[dec.GetDecile()] = dec
	}
	for i := int32(1); i <= 10; i++ {
		dec := byDecile[i]
		b := bar{Label: f.int(int64(i)), Text: "–"}
		if dec != nil {
			cv.Deciles = append(cv.Deciles, row{f.int(int64(i)), f.int(int64(dec.GetAreas())), f.int(dec.GetPopulation()),
				f.opt(dec.MeanWeeklyPlacesPer_1000, 1), f.pct(dec.GetShareWithoutAssetWithinWalk())})
			if m := dec.MeanWeeklyPlacesPer_1000; m != nil && !math.IsNaN(*m) && !math.IsInf(*m, 0) {
				b.Value, b.Has, b.Text = math.Max(0, *m), true, f.dec(*m, 1)
				cv.Places.Max = math.Max(cv.Places.Max, b.Value)
			}
		}
		cv.Places.Bars = append(cv.Places.Bars, b)
	}
	if len(cv.Deciles) == 0 {
		cv.Places.Bars = nil
	}
	for _, cmpRow := range []struct {
		label string
		q     *sparcv1.QuintileComparison
		pct   bool
	}{{t.MeanPlaces, s.GetPlacesPer_1000(), false}, {t.ShareWithout, s.GetShareWithoutAssetWithinWalk(), true}} {
		q := cmpRow.q
		if q == nil {
			continue
		}
		val := func(x *float64) string {
			if cmpRow.pct && x != nil {
				return f.pct(*x)
			}
			return f.opt(x, 1)
		}
		gap := "–"
		if q.Gap != nil {
			if cmpRow.pct {
				gap = f.signed(100**q.Gap, 1) + " " + t.Points // percentage points
			} else {
				gap = f.signed(*q.Gap, 1)
			}
		}
		cv.Comparison = append(cv.Comparison, row{cmpRow.label, val(q.MostDeprived), val(q.LeastDeprived), f.opt(q.Ratio, 2), gap})
	}

	// Gaps: no asset within walking distance first, then the most
	// deprived (unknown deprivation last), then the lowest coverage.
	as := slices.Clone(c.GetAreas())
	decileKey := func(a *sparcv1.AreaCoverage) int32 {
		if a.GetDeprivationDecile() == 0 {
			return 11
		}
		return a.GetDeprivationDecile()
	}
	slices.SortStableFunc(as, func(a, b *sparcv1.AreaCoverage) int {
		ga, gb := a.GetAssetsWithinWalk() == 0, b.GetAssetsWithinWalk() == 0
		if ga != gb {
			if ga {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(decileKey(a), decileKey(b)), cmp.Compare(a.GetCoverageScore(), b.GetCoverageScore()),
			cmp.Compare(a.GetCode(), b.GetCode()))
	})
	for i, a := range as {
		if i == maxGapRows {
			cv.GapsMore = f.andMore(len(as) - i)
			break
		}
		name := clean(a.GetDisplayName(), maxNameRunes)
		if name == "" {
			name = clean(a.GetCode(), maxNameRunes)
		} else {
			name += " (" + clean(a.GetCode(), 24) + ")"
		}
		decile := "–"
		if a.GetDeprivationDecile() > 0 {
			decile = f.int(int64(a.GetDeprivationDecile()))
		}
		cv.Gaps = append(cv.Gaps, gapRow{Gap: a.GetAssetsWithinWalk() == 0, Cells: row{name, decile,
			f.int(int64(a.GetAssetsInside())), f.int(int64(a.GetAssetsWithinWalk())), f.opt(a.WeeklyPlacesPer_1000, 1),
			f.dec(a.GetCoverageScore(), 0)}})
	}
	return cv
}

func networkView(f fmtr, nw, prev *sparcv1.ReferralNetwork) netView {
	t := f.t
	var nv netView
	nv.LegendKind = []legend{{t.Referrer, colReferrer}, {t.Group, colGroup}, {t.Asset, colAsset}}
	m, pm := nw.GetMeasures(), prev.GetMeasures()
	nv.Measures = []row{
		{t.Nodes, f.int(int64(m.GetNodes())), f.int(int64(pm.GetNodes()))},
		{t.Edges, f.int(int64(m.GetEdges())), f.int(int64(pm.GetEdges()))},
		{t.Referrals, f.count(m.GetReferrals()), f.count(pm.GetReferrals())},
		{t.Density, f.dec(m.GetDensity(), 3), f.dec(pm.GetDensity(), 3)},
		{t.Reciprocity, f.pct(m.GetReciprocity()), f.pct(pm.GetReciprocity())},
		{t.TopDecileShare, f.pct(m.GetTopDecileShare()), f.pct(pm.GetTopDecileShare())},
		{t.CrossQuintileShare, f.pct(m.GetCrossQuintileShare()), f.pct(pm.GetCrossQuintileShare())},
		{t.NewTies, f.int(int64(m.GetNewTies())), f.int(int64(pm.GetNewTies()))},
		{t.LostTies, f.int(int64(m.GetLostTies())), f.int(int64(pm.GetLostTies()))},
	}
	nodes := nw.GetNodes()
	nv.HasNodes = len(nodes) > 0
	if !nv.HasNodes {
		return nv
	}
	// The most active first (by referrals in and out, then id), for the
	// table and for which nodes the drawing names.
	ranked := slices.Clone(nodes)
	slices.SortStableFunc(ranked, func(a, b *sparcv1.NetworkNode) int {
		return cmp.Or(cmp.Compare(strength(b), strength(a)), cmp.Compare(a.GetId(), b.GetId()))
	})
	labelled := map[string]bool{}
	for i, n := range ranked {
		if i < maxDrawnLabels {
			labelled[n.GetId()] = true
		}
		if n.GetAnonymous() {
			nv.Anonymous = true
		}
		if i < maxNodeRows {
			quintile := "–"
			if q := n.GetDeprivationQuintile(); q > 0 {
				quintile = f.int(int64(q))
			}
			nv.Nodes = append(nv.Nodes, row{nodeName(n, maxNameRunes), f.kindLabel(n.GetKind()), quintile,
				f.int(int64(n.GetDegreeIn())), f.int(int64(n.GetDegreeOut())), f.count(n.GetStrengthIn()), f.count(n.GetStrengthOut()),
				f.dec(n.GetBetweenness(), 3)})
		}
	}
	if len(ranked) > maxNodeRows {
		nv.NodesMore = f.andMore(len(ranked) - maxNodeRows)
	}
	nv.Drawing = drawNetwork(f, nw, labelled)
	return nv
}

// drawNetwork lays out the network: circles by kind, their area by
// referrals in and out; lines by referrals.
func drawNetwork(f fmtr, nw *sparcv1.ReferralNetwork, labelled map[string]bool) drawing {
	nodes := nw.GetNodes()
	n := len(nodes)
	index := make(map[string]int, n)
	ids := make([]string, n)
	var maxS int64
	for i, nd := range nodes {
		index[nd.GetId()] = i
		ids[i] = nd.GetId()
		maxS = max(maxS, strength(nd))
	}
	// The largest circle shrinks as the network grows, so that the circles
	// can lie apart: at most a third of the ideal spacing.
	rMax := math.Min(0.035, 0.3*math.Sqrt(1/float64(n)))
	rMin := rMax / 3
	radius := make([]float64, n)
	for i, nd := range nodes {
		r := rMin
		if maxS > 0 {
			r += (rMax - rMin) * math.Sqrt(float64(strength(nd))/float64(maxS))
		}
		radius[i] = r
	}
	var es []layoutEdge
	var maxW int64
	for _, e := range nw.GetEdges() {
		a, okA := index[e.GetSource()]
		b, okB := index[e.GetTarget()]
		if okA && okB {
			es = append(es, layoutEdge{a, b})
			maxW = max(maxW, e.GetReferrals().GetValue())
		}
	}
	pos := layout(ids, es, radius)
	var dr drawing
	for _, e := range nw.GetEdges() {
		a, okA := index[e.GetSource()]
		b, okB := index[e.GetTarget()]
		if !okA || !okB || a == b {
			continue
		}
		w := 0.0
		if maxW > 0 {
			w = float64(e.GetReferrals().GetValue()) / float64(maxW)
		}
		dr.Edges = append(dr.Edges, drawEdge{X1: pos[a].X, Y1: pos[a].Y, X2: pos[b].X, Y2: pos[b].Y, W: w})
	}
	for i, nd := range nodes {
		dn := drawNode{X: pos[i].X, Y: pos[i].Y, R: radius[i], Color: kindColour(nd.GetKind()),
			Title: nodeName(nd, maxNameRunes) + " (" + f.kindLabel(nd.GetKind()) + "; " + f.t.Referrals + ": " +
				f.count(nd.GetStrengthIn()) + " / " + f.count(nd.GetStrengthOut()) + ")"}
		if labelled[nd.GetId()] {
			dn.Label = nodeName(nd, maxLabelRunes)
		}
		dr.Nodes = append(dr.Nodes, dn)
	}
	return dr
}

// estimate is "+2.4 (1.1 to 3.7)"; a suppressed estimate "fewer than 10".
func (f fmtr) estimate(e *sparcv1.Estimate, share bool) string {
	if e == nil {
		return "–"
	}
	if e.GetSuppressed() {
		return f.t.FewerThan10
	}
	to := map[string]string{"en": " to ", "nl": " tot "}[f.t.Lang]
	if share {
		return f.pct(e.GetValue()) + " (" + f.pct(e.GetCiLow()) + to + f.pct(e.GetCiHigh()) + ")"
	}
	return f.signed(e.GetValue(), 2) + " (" + f.signed(e.GetCiLow(), 2) + to + f.signed(e.GetCiHigh(), 2) + ")"
}

func outcomeView(f fmtr, o *sparcv1.OutcomeEvidence) outView {
	t := f.t
	var ov outView
	all := o.GetOverall()
	ov.HasOverall = all != nil && (all.GetN().GetValue() > 0 || all.GetN().GetSuppressed())
	if !ov.HasOverall {
		return ov
	}
	ov.Overall = []row{{t.Overall, f.count(all.GetN()), f.estimate(all.GetSwemwbsChange(), false), f.estimate(all.GetSwemwbsImprovedShare(), true)}}
	for i, item := range []string{t.LifeSatisfaction, t.Worthwhile, t.Happiness, t.Anxiety} {
		var e *sparcv1.Estimate
		if i < len(all.GetOns4Change()) {
			e = all.GetOns4Change()[i]
		}
		// Its own cases: ONS4 is not always recorded with SWEMWBS.
		n := "–"
		if e.GetN() != nil {
			n = f.count(e.GetN())
		}
		ov.Ons4 = append(ov.Ons4, row{item, n, f.estimate(e, false)})
	}

	fr := &ov.Forest
	add := func(g *sparcv1.OutcomeGroup, label string) {
		e := g.GetSwemwbsChange()
		r := forestRow{Label: label, N: f.count(g.GetN())}
		switch {
		case e == nil:
			r.Text = "–"
		case e.GetSuppressed() || g.GetN().GetSuppressed():
			r.Suppressed, r.Text = true, t.FewerThan10
		default:
			r.HasEstimate = true
			r.Value, r.Low, r.High = e.GetValue(), e.GetCiLow(), e.GetCiHigh()
			r.Text = f.estimate(e, false)
		}
		fr.Rows = append(fr.Rows, r)
		ov.Groups = append(ov.Groups, row{label, r.N, r.Text, f.estimate(g.GetSwemwbsImprovedShare(), true)})
	}
	groupLabel := func(g *sparcv1.OutcomeGroup) string {
		if g.GetLabel() != "" {
			return clean(g.GetLabel(), maxLabelRunes+8)
		}
		return clean(g.GetKey(), maxLabelRunes+8) // an anonymous provider's code
	}
	add(all, t.Overall)
	for _, part := range []struct {
		title  string
		groups []*sparcv1.OutcomeGroup
		label  func(*sparcv1.OutcomeGroup) string
	}{
		{t.ByQuintile, o.GetByQuintile(), func(g *sparcv1.OutcomeGroup) string {
			return t.Quintile + " " + clean(g.GetKey(), 4)
		}},
		{t.ByCategory, o.GetByCategory(), groupLabel},
		{t.ByProvider, o.GetByProvider(), groupLabel},
	} {
		if len(part.groups) == 0 {
			continue
		}
		fr.Rows = append(fr.Rows, forestRow{Label: part.title, Section: true})
		for i, g := range part.groups {
			if i == maxForestGroups {
				fr.Rows = append(fr.Rows, forestRow{Label: f.andMore(len(part.groups) - i), Omitted: true})
				break
			}
			add(g, part.label(g))
		}
	}
	// The axis: every interval and no change, rounded out to whole units.
	lo, hi := 0.0, 0.0
	for _, r := range fr.Rows {
		if r.HasEstimate {
			lo, hi = math.Min(lo, math.Min(r.Low, r.Value)), math.Max(hi, math.Max(r.High, r.Value))
		}
	}
	lo, hi = math.Floor(lo), math.Ceil(hi)
	if hi-lo < 2 {
		lo, hi = lo-1, hi+1
	}
	fr.Min, fr.Max = lo, hi
	step := niceStep((hi - lo) / 5)
	for x := math.Ceil(lo/step) * step; x <= hi+1e-9; x += step {
		fr.Ticks = append(fr.Ticks, tick{At: x, Text: f.signed(x, decimalsFor(step))})
	}
	return ov
}

// niceStep is the 1, 2 or 5 times a power of ten at or above x.
func niceStep(x float64) float64 {
	if x <= 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func decimalsFor(step float64) int {
	if step >= 1 {
		return 0
	}
	return int(math.Ceil(-math.Log10(step)))
}

func changeView(f fmtr, nw *sparcv1.ReferralNetwork) chgView {
	var cv chgView
	names := map[string]string{}
	for _, n := range nw.GetNodes() {
		names[n.GetId()] = nodeName(n, maxLabelRunes+8)
	}
	name := func(id string) string {
		if s, ok := names[id]; ok {
			return s
		}
		return clean(id, maxLabelRunes+8) // a lost tie's end may be gone from the window
	}
	ch := slices.Clone(nw.GetChanges())
	// Formed, strengthened, weakened, lost; the largest change first.
	slices.SortStableFunc(ch, func(a, b *sparcv1.TieChange) int {
		da := abs64(a.GetAfter().GetValue() - a.GetBefore().GetValue())
		db := abs64(b.GetAfter().GetValue() - b.GetBefore().GetValue())
		return cmp.Or(cmp.Compare(a.GetKind(), b.GetKind()), cmp.Compare(db, da),
			cmp.Compare(a.GetSource(), b.GetSource()), cmp.Compare(a.GetTarget(), b.GetTarget()))
	})
	for i, c := range ch {
		if i == maxChangeRows {
			cv.More = f.andMore(len(ch) - i)
			break
		}
		cv.Rows = append(cv.Rows, row{name(c.GetSource()), name(c.GetTarget()), f.changeLabel(c.GetKind()),
			f.count(c.GetBefore()), f.count(c.GetAfter())})
	}
	return cv
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
