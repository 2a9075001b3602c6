package reports

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// twoClusters is two cliques of five joined by one tie (node 4 to node
// 5), with ids that sort in another order than their indices.
func twoClusters() (ids []string, edges []layoutEdge, radius []float64) {
	for i := range 10 {
		ids = append(ids, fmt.Sprintf("org-%02d", (i*7)%10))
		radius = append(radius, 0.02+0.002*float64(i))
	}
	for _, base := range []int{0, 5} {
		for a := base; a < base+5; a++ {
			for b := a + 1; b < base+5; b++ {
				edges = append(edges, layoutEdge{a, b})
			}
		}
	}
	edges = append(edges, layoutEdge{4, 5})
	return
}

// checkInsideAndApart fails unless every circle lies in the unit square
// and no two overlap.
func checkInsideAndApart(t *testing.T, pos []point, radius []float64) {
	t.Helper()
	for i, p := range pos {
		r := radius[i]
		if p.X-r < -1e-9 || p.Y-r < -1e-9 || p.X+r > 1+1e-9 || p.Y+r > 1+1e-9 || math.IsNaN(p.X) || math.IsNaN(p.Y) {
			t.Fatalf("node %d at (%.4f, %.4f) radius %.4f leaves the canvas", i, p.X, p.Y, r)
		}
	}
	for i := range pos {
		for j := i + 1; j < len(pos); j++ {
			if d := math.Hypot(pos[i].X-pos[j].X, pos[i].Y-pos[j].Y); d < radius[i]+radius[j] {
				t.Fatalf("nodes %d and %d overlap: %.4f apart, radii %.4f and %.4f", i, j, d, radius[i], radius[j])
			}
		}
	}
}

// The same network gives the same drawing, to the last bit, whatever
// order its nodes and ties come in.
func TestLayoutIsDeterministic(t *testing.T) {
	ids, edges, radius := twoClusters()
	first := layout(ids, edges, radius)
	if again := layout(ids, edges, radius); !slices.Equal(first, again) {
		t.Fatalf("two layouts of one network differ:\n%v\n%v", first, again)
	}
	// The nodes reversed, the ties reversed: each node lands where it did.
	n := len(ids)
	rids, rradius := slices.Clone(ids), slices.Clone(radius)
	slices.Reverse(rids)
	slices.Reverse(rradius)
	var redges []layoutEdge
	for i := len(edges) - 1; i >= 0; i-- {
		redges = append(redges, layoutEdge{n - 1 - edges[i].B, n - 1 - edges[i].A})
	}
	reordered := layout(rids, redges, rradius)
	for i := range ids {
		if first[i] != reordered[n-1-i] {
			t.Errorf("node %s at %v, and at %v when the input is reversed", ids[i], first[i], reordered[n-1-i])
		}
	}
}

// Ties pull together: the nodes of each clique lie closer to one another
// than to the other clique's, and every circle is inside the canvas and
// clear of the others.
func TestLayoutKeepsTiesCloseAndNodesApart(t *testing.T) {
	ids, edges, radius := twoClusters()
	pos := layout(ids, edges, radius)
	checkInsideAndApart(t, pos, radius)
	dist := func(a, b int) float64 { return math.Hypot(pos[a].X-pos[b].X, pos[a].Y-pos[b].Y) }
	var within, across float64
	var nw, na int
	for a := range 10 {
		for b := a + 1; b < 10; b++ {
			if a/5 == b/5 {
				within += dist(a, b)
				nw++
			} else {
				across += dist(a, b)
				na++
			}
		}
	}
	if within/float64(nw) >= 0.6*across/float64(na) {
		t.Errorf("mean distance within a clique %.3f, across %.3f: ties do not pull together", within/float64(nw), across/float64(na))
	}
	// Degenerate networks.
	if p := layout([]string{"a"}, nil, []float64{0.03}); p[0] != (point{0.5, 0.5}) {
		t.Errorf("one node at %v, want the centre", p[0])
	}
	if p := layout(nil, nil, nil); len(p) != 0 {
		t.Errorf("no nodes laid out as %v", p)
	}
	lonely := layout([]string{"a", "b", "c"}, []layoutEdge{{0, 0}, {0, 9}, {-1, 2}}, []float64{0.03, 0.03, 0.03})
	checkInsideAndApart(t, lonely, []float64{0.03, 0.03, 0.03})
}

// bigNetwork is n organisations (a tenth referrers, one in three of them
// anonymous) and ties from each referrer to a dozen groups, with strengths
// that vary over two orders of magnitude.
func bigNetwork(n int) *sparcv1.ReferralNetwork {
	nw := &sparcv1.ReferralNetwork{Window: fixtureWindow, StartTime: ts("2026-07-01"), EndTime: ts("2026-10-01"), Area: fixtureArea,
		Measures: &sparcv1.NetworkMeasures{Nodes: int32(n), Referrals: count(int64(50 * n))}}
	refs := n / 10
	for i := range n {
		nd := &sparcv1.NetworkNode{Id: fmt.Sprintf("org-%04d", i), DisplayName: fmt.Sprintf("Community Group Number %d With A Long Name", i),
			Kind: sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_GROUP, StrengthIn: count(int64(1 + (i*37)%100)), StrengthOut: count(0)}
		if i < refs {
			nd.Kind, nd.StrengthIn, nd.StrengthOut = sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_REFERRER, count(0), count(int64(10+(i*53)%300))
			if i%3 == 0 {
				nd.Id, nd.DisplayName, nd.Anonymous = fmt.Sprintf("anon-%08d", i), "", true
			}
		}
		nw.Nodes = append(nw.Nodes, nd)
	}
	for r := range refs {
		for k := range 12 {
			g := refs + (r*31+k*17)%(n-refs)
			nw.Edges = append(nw.Edges, &sparcv1.NetworkEdge{Source: nw.Nodes[r].GetId(), Target: nw.Nodes[g].GetId(), Referrals: count(int64(1 + (r+k)%40))})
			if k < 4 {
				nw.Changes = append(nw.Changes, &sparcv1.TieChange{Source: nw.Nodes[r].GetId(), Target: nw.Nodes[g].GetId(),
					Kind: sparcv1.TieChangeKind(1 + k%4), Before: count(int64(k)), After: count(int64(1 + (r+k)%40))})
			}
		}
	}
	return nw
}

// A network of 500 organisations still draws inside the canvas with no
// circle on another, and the report stays a handful of pages with its
// lists cut ("and N more"), in reasonable time.
func TestLargeNetworkStaysWithinThePage(t *testing.T) {
	nw := bigNetwork(500)
	f := newFmtr("en")
	start := time.Now()
	dr := drawNetwork(f, nw, map[string]bool{})
	if took := time.Since(start); took > 10*time.Second { // about 0.15 s of CPU; -race and a shared machine slow it many times
		t.Errorf("laying out 500 nodes took %v", took)
	}
	if len(dr.Nodes) != 500 || len(dr.Edges) != len(nw.Edges) {
		t.Fatalf("drew %d nodes and %d ties, want 500 and %d", len(dr.Nodes), len(dr.Edges), len(nw.Edges))
	}
	pos, radius := make([]point, len(dr.Nodes)), make([]float64, len(dr.Nodes))
	for i, n := range dr.Nodes {
		pos[i], radius[i] = point{n.X, n.Y}, n.R
	}
	checkInsideAndApart(t, pos, radius)

	src := fixture()
	src.networks[fixtureWindow] = nw
	srv := serve(t, src)
	start = time.Now()
	res, pdf := get(t, srv, reportPath("area="+fixtureArea+"&window="+fixtureWindow+"&format=pdf"))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, pdf)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the 500-node report took %v", took)
	}
	if pages := pageCount(t, pdf); pages > 8 {
		t.Errorf("the 500-node report is %d pages; the lists should be capped", pages)
	}
	for i, ink := range rasterise(t, pdf) {
		if ink < 0.005 {
			t.Errorf("page %d is blank", i+1)
		}
	}
	mustContain(t, pdfText(t, pdf), "and 485 more", "Referral network")

	_, page := get(t, srv, reportPath("area="+fixtureArea+"&window="+fixtureWindow+"&format=html"))
	mustContain(t, page, "and 485 more")
	if n := strings.Count(page, "<circle "); n != 500 {
		t.Errorf("%d circles on the page, want 500", n)
	}
	if n := strings.Count(page, "<tr><td>"); n != maxChangeRows {
		t.Errorf("%d change rows, want the cap of %d", n, maxChangeRows)
	}
}

// The page drawn twice from the same figures is the same page, drawing
// and all.
func TestSameFiguresSamePage(t *testing.T) {
	defer func(f func() time.Time) { now = f }(now)
	now = func() time.Time { return time.Date(2026, 11, 15, 9, 0, 0, 0, time.UTC) } // one date on both
	srv := serve(t, fixture())
	q := reportPath("area=" + fixtureArea + "&window=" + fixtureWindow + "&format=html")
	_, first := get(t, srv, q)
	_, second := get(t, srv, q)
	if first != second {
		t.Error("two pages of the same figures differ")
	}
	if !strings.Contains(first, "<circle cx=") {
		t.Fatal("no drawing")
	}
}
