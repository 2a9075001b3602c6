package evidence_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/evidence"
	"github.com/sparc-network/sparc/internal/network"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The fixture's geography: council C1 holds MSOA M1 (LSOAs L1, L2) and
// MSOA M2 (L3, and L5, which has no deprivation figure); L4 is in
// council C2. IMD deciles: L1 1 and L2 2 (quintile 1), L3 5 (quintile 3),
// L4 10 (quintile 5).
var fixtureAreas = []struct {
	code, parent, council string
	decile                int // 0: none
}{
	{"M1", "", "C1", 0}, {"M2", "", "C1", 0},
	{"L1", "M1", "C1", 1}, {"L2", "M1", "C1", 2}, {"L3", "M2", "C1", 5}, {"L5", "M2", "C1", 0},
	{"L4", "", "C2", 10},
}

// referral is one referral of the fixture: SWEMWBS as raw totals, ONS4
// items, and what keeps it out when it should be.
type referral struct {
	provider, area string
	swem           [2]int    // baseline, follow-up raw totals; 0: not recorded
	ons4           [2][4]int // baseline, follow-up
	noONS4         bool
	status         string    // "" completed
	closed         time.Time // zero: mid-2025
	followup       time.Time // zero: when closed
	noFollowup     bool
}

var mid2025 = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// p1 is the walking group's ten referrals (public: it lists an active
// asset in physical_activity and social_connection), the first five of
// people in L1, the rest in L3. SWEMWBS metric changes: 19.25-15.32 =
// 3.93, 16.88-15.32 = 1.56, 21.54-18.59 = 2.95, 22.35-18.59 = 3.76, 0,
// 16.36-17.43 = -1.07, 16.88-12.40 = 4.48, 25.03-22.35 = 2.68,
// 28.13-25.03 = 3.10, 23.21-19.98 = 3.23.
func p1() []referral {
	swem := [][2]int{{14, 21}, {14, 17}, {20, 24}, {20, 25}, {21, 21}, {18, 16}, {10, 17}, {25, 28}, {28, 31}, {22, 26}}
	dl := []int{2, 1, 0, 3, 1, 2, -1, 2, 1, 0}
	dw := []int{0, 1, 2, 1, 0, 1, 2, 1, 0, 1}
	dh := []int{1, 2, 3, 0, 1, 2, 3, 0, 1, 2}
	da := []int{-2, -1, 0, -3, -1, -2, 1, -2, -1, 0}
	var out []referral
	for i := range swem {
		area := "L1"
		if i >= 5 {
			area = "L3"
		}
		base := [4]int{4, 5, 4, 6}
		out = append(out, referral{provider: "P1", area: area, swem: swem[i],
			ons4: [2][4]int{base, {4 + dl[i], 5 + dw[i], 4 + dh[i], 6 + da[i]}}})
	}
	return out
}

// p2 is the arts collective's twelve (not public: its only asset is
// closed): eight of people in L2, four in L5 (no quintile).
func p2() []referral {
	var out []referral
	for i := range 12 {
		area := "L2"
		if i >= 8 {
			area = "L5"
		}
		b := 12 + i%5
		out = append(out, referral{provider: "P2", area: area, swem: [2]int{b, b + (i*7)%6 - 1},
			ons4: [2][4]int{{3, 4, 3, 7}, {3 + i%3, 4 + i%4, 3 + i%2, 7 - i%5}}})
	}
	return out
}

// p3 (opted in to be named, asset paused) has three in L3; p4 (public,
// food) nine in L5.
func p3p4() []referral {
	var out []referral
	for i := range 3 {
		out = append(out, referral{provider: "P3", area: "L3", swem: [2]int{15 + i, 20 + i}, ons4: [2][4]int{{5, 5, 5, 5}, {6, 6, 6, 4}}})
	}
	for i := range 9 {
		out = append(out, referral{provider: "P4", area: "L5", swem: [2]int{16, 17 + i%3}, noONS4: i == 0,
			ons4: [2][4]int{{5, 5, 5, 5}, {6, 5, 7, 5}}})
	}
	return out
}

// excluded never count: not completed, no follow-up, closed outside
// 2025, followed up after the window, entered in error.
func excluded() []referral {
	x := referral{provider: "P1", area: "L1", swem: [2]int{7, 35}, ons4: [2][4]int{{0, 0, 0, 10}, {10, 10, 10, 0}}}
	var out []referral
	for _, f := range []func(r *referral){
		func(r *referral) { r.status = "in_progress" },
		func(r *referral) { r.noFollowup = true },
		func(r *referral) { r.closed = time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) },
		func(r *referral) { r.closed = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
		func(r *referral) { r.followup = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) },
		func(r *referral) { r.status = "entered_in_error" },
	} {
		r := x
		f(&r)
		out = append(out, r)
	}
	return out
}

// outside is a person of council C2 (L4, quintile 5) helped by the
// walking group: counted only when no area is asked.
func outside() referral {
	return referral{provider: "P1", area: "L4", swem: [2]int{10, 20}, ons4: [2][4]int{{1, 1, 1, 9}, {5, 5, 5, 5}}}
}

type fixture struct {
	owner *pgxpool.Pool
	svc   *evidence.Service
	orgs  map[string]string // P1..P4, R -> id
	all   []referral
}

var secret = []byte("test secret for anonymous codes")

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	owner := testenv.NewPool(t)
	f := &fixture{owner: owner, orgs: map[string]string{}}

	var features []*sparcv1.AreaFeature
	for i, a := range fixtureAreas {
		x := -1.9 + 0.01*float64(i)
		features = append(features, &sparcv1.AreaFeature{FeatureNumber: int64(i + 1), Code: a.code, DisplayName: "Area " + a.code,
			ParentCode: a.parent, GeometryGeojson: testenv.Box(x, 52.4, x+0.005, 52.405)})
	}
	sent := false
	if _, err := areas.NewStore(owner).ImportAreas(ctx, "lsoa", func() ([]*sparcv1.AreaFeature, error) {
		if sent {
			return nil, io.EOF
		}
		sent = true
		return features, nil
	}); err != nil {
		t.Fatalf("importing areas: %v", err)
	}
	exec(t, owner, `INSERT INTO area_kinds (kind, deprivation_attribute, deprivation_scale) VALUES ('lsoa', 'imd_decile', 'decile')
		ON CONFLICT (kind) DO UPDATE SET deprivation_attribute = 'imd_decile', deprivation_scale = 'decile'`)
	for _, a := range fixtureAreas {
		exec(t, owner, `UPDATE areas SET council_code = $2 WHERE code = $1`, a.code, a.council)
		if a.decile > 0 {
			exec(t, owner, `UPDATE areas SET attributes = jsonb_build_object('imd_decile', $2::int) WHERE code = $1`, a.code, a.decile)
		}
	}

	type org struct {
		key, name, kind, assetStatus string
		categories                   []string
		named                        bool
	}
	for _, o := range []org{
		{"R", "Link workers", "link_worker_service", "", nil, false},
		{"P1", "Walking group", "community_group", "active", []string{"physical_activity", "social_connection"}, false},
		{"P2", "Arts collective", "community_group", "closed", []string{"arts_creativity"}, false},
		{"P3", "Print studio", "community_group", "paused", []string{"arts_creativity"}, true},
		{"P4", "Community kitchen", "community_group", "active", []string{"food"}, false},
	} {
		id := uuid.NewString()
		f.orgs[o.key] = id
		exec(t, owner, `INSERT INTO organisations (id, kind, name, network_named) VALUES ($1, $2, $3, $4)`, id, o.kind, o.name, o.named)
		if o.assetStatus != "" {
			exec(t, owner, `INSERT INTO assets (id, kind, name, categories, location, country, status, owner_organisation)
				VALUES ($1, 'association', $2, $3, 'POINT(-1.89 52.40)', 'GB', $4, $5)`, id, o.name, o.categories, o.assetStatus, id)
		}
	}

	f.all = append(append(append(append(p1(), p2()...), p3p4()...), excluded()...), outside())
	for i, r := range f.all {
		f.insert(t, i, r)
	}
	f.svc = evidence.New(testenv.AppPool(t, owner), secret)
	f.svc.SetNow(func() time.Time { return time.Date(2026, 3, 15, 9, 0, 0, 0, time.UTC) })
	return f
}

func exec(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// items spreads a raw SWEMWBS total over seven items of 1 to 5.
func items(total int) []int16 {
	out := []int16{1, 1, 1, 1, 1, 1, 1}
	for i, left := 0, total-7; left > 0; i++ {
		add := min(left, 4)
		out[i] += int16(add)
		left -= add
	}
	return out
}

func (f *fixture) insert(t testing.TB, i int, r referral) {
	t.Helper()
	person, ref := uuid.NewString(), uuid.NewString()
	exec(t, f.owner, `INSERT INTO people (id, organisation_id, display_name, postcode, home_area) VALUES ($1, $2, 'P', 'B1 1AA', $3)`,
		person, f.orgs["R"], r.area)
	status := r.status
	if status == "" {
		status = "completed"
	}
	closed := r.closed
	if closed.IsZero() {
		closed = mid2025.Add(time.Duration(i) * time.Hour)
	}
	follow := r.followup
	if follow.IsZero() {
		follow = closed
	}
	var bs, fs []int16
	if r.swem[0] != 0 {
		bs, fs = items(r.swem[0]), items(r.swem[1])
	}
	var bo, fo []int16
	if !r.noONS4 {
		for k := range 4 {
			bo, fo = append(bo, int16(r.ons4[0][k])), append(fo, int16(r.ons4[1][k]))
		}
	}
	var followAt *time.Time
	if r.noFollowup {
		fs, fo = nil, nil
	} else {
		followAt = &follow
	}
	exec(t, f.owner, `INSERT INTO referrals (id, person_id, referring_org, link_worker, asset_id, provider_org, status,
		request_id, request_hash, baseline_swemwbs, baseline_ons4, baseline_at, followup_swemwbs, followup_ons4, followup_at,
		requested_at, closed_at, created_at)
		VALUES ($1::uuid, $2, $3, 'lw', $4, $4, $5, $1::text, '\x00', $6, $7, $8, $9, $10, $11, $8, $12, $8)`,
		ref, person, f.orgs["R"], f.orgs[r.provider], status, bs, bo, closed.Add(-60*24*time.Hour), fs, fo, followAt, closed)
}

// expected is the hand computation over the fixture's referrals that
// belong in a group: mean change and a t interval whose quantile is
// t(0.975, n-1), the share improved by 3 or more with a Wilson interval.
type stats struct {
	n    int
	swem []float64
	ons4 [4][]float64
}

var metric = map[int]float64{7: 7.00, 8: 9.51, 9: 11.25, 10: 12.40, 11: 13.33, 12: 14.08, 13: 14.75, 14: 15.32, 15: 15.84,
	16: 16.36, 17: 16.88, 18: 17.43, 19: 17.98, 20: 18.59, 21: 19.25, 22: 19.98, 23: 20.73, 24: 21.54, 25: 22.35,
	26: 23.21, 27: 24.11, 28: 25.03, 29: 26.02, 30: 27.03, 31: 28.13, 32: 29.31, 33: 30.70, 34: 32.55, 35: 35.00}

func collect(rs []referral) stats {
	var s stats
	for _, r := range rs {
		s.n++
		// Two decimals, as the table: 12.40 - 9.51 is 2.89, not 2.8900000000000006.
		s.swem = append(s.swem, math.Round((metric[r.swem[1]]-metric[r.swem[0]])*100)/100)
		if !r.noONS4 {
			for k := range 4 {
				s.ons4[k] = append(s.ons4[k], float64(r.ons4[1][k]-r.ons4[0][k]))
			}
		}
	}
	return s
}

// tQ are the Student t quantiles t(0.975, df) the fixture's groups need
// (R: qt(0.975, df)).
var tQ = map[int]float64{9: 2.262157162798205, 11: 2.200985160082949, 12: 2.178812829663418, 21: 2.079613844727662,
	24: 2.063898561628021, 34: 2.032244509317718, 8: 2.306004135204166, 14: 2.144786687916926, 17: 2.109815577833181,
	19: 2.093024054408263, 25: 2.059538552753294, 30: 2.042272456301238, 35: 2.030107928250342, 29: 2.045229642132703, 33: 2.034515297449338, 28: 2.048407141795244, 32: 2.036933343460101}

func meanT(t *testing.T, xs []float64) (m, lo, hi float64) {
	t.Helper()
	n := len(xs)
	for _, x := range xs {
		m += x
	}
	m /= float64(n)
	var ss float64
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	q, ok := tQ[n-1]
	if !ok {
		t.Fatalf("the test has no t quantile for %d degrees of freedom", n-1)
	}
	h := q * math.Sqrt(ss/float64(n-1)) / math.Sqrt(float64(n))
	return m, m - h, m + h
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6 }

func checkEstimate(t *testing.T, what string, e *sparcv1.Estimate, n int, m, lo, hi float64) {
	t.Helper()
	if e.GetSuppressed() || !near(e.GetValue(), m) || !near(e.GetCiLow(), lo) || !near(e.GetCiHigh(), hi) {
		t.Errorf("%s = %.6f [%.6f, %.6f] suppressed %v, want %.6f [%.6f, %.6f]", what, e.GetValue(), e.GetCiLow(), e.GetCiHigh(),
			e.GetSuppressed(), m, lo, hi)
	}
	// Its cases, rounded to 5 as every released count (10..12 -> 10,
	// 13..17 -> 15, ...).
	if want := int64((n + 2) / 5 * 5); e.GetN().GetValue() != want || e.GetN().GetSuppressed() {
		t.Errorf("%s over %v cases, want %d (%d rounded)", what, e.GetN(), want, n)
	}
}

func checkSuppressed(t *testing.T, what string, g *sparcv1.OutcomeGroup) {
	t.Helper()
	all := append([]*sparcv1.Estimate{g.GetSwemwbsChange(), g.GetSwemwbsImprovedShare()}, g.GetOns4Change()...)
	for _, e := range all {
		if !e.GetSuppressed() || e.GetValue() != 0 || e.GetCiLow() != 0 || e.GetCiHigh() != 0 || e.GetN() != nil {
			t.Errorf("%s: estimate %v released, want suppressed and zero", what, e)
		}
	}
}

// checkGroup compares a released group with the hand computation.
func checkGroup(t *testing.T, what string, g *sparcv1.OutcomeGroup, s stats) {
	t.Helper()
	m, lo, hi := meanT(t, s.swem)
	checkEstimate(t, what+" SWEMWBS change", g.GetSwemwbsChange(), len(s.swem), m, lo, hi)
	k := 0
	for _, x := range s.swem {
		if x >= 3 {
			k++
		}
	}
	p, wlo, whi := wilsonByHand(k, len(s.swem))
	checkEstimate(t, what+" SWEMWBS improved", g.GetSwemwbsImprovedShare(), len(s.swem), p, wlo, whi)
	for i := range 4 {
		m, lo, hi := meanT(t, s.ons4[i])
		checkEstimate(t, fmt.Sprintf("%s ONS4[%d] change", what, i), g.GetOns4Change()[i], len(s.ons4[i]), m, lo, hi)
	}
}

// wilsonByHand: centre (p + z²/2n)/(1 + z²/n), half z/(1 + z²/n)·√(p(1-p)/n + z²/4n²), z = 1.959964.
func wilsonByHand(k, n int) (p, lo, hi float64) {
	const z = 1.959963984540054
	fn := float64(n)
	p = float64(k) / fn
	d := 1 + z*z/fn
	c := (p + z*z/(2*fn)) / d
	h := z / d * math.Sqrt(p*(1-p)/fn+z*z/(4*fn*fn))
	return p, c - h, c + h
}

func analyst(t testing.TB, f *fixture) context.Context {
	t.Helper()
	return auth.WithPrincipal(context.Background(), &auth.Principal{Name: "key:test", Org: f.orgs["R"], Role: auth.RoleAreaAnalyst})
}

func where(rs []referral, keep func(referral) bool) []referral {
	var out []referral
	for _, r := range rs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

func byKey(gs []*sparcv1.OutcomeGroup) map[string]*sparcv1.OutcomeGroup {
	m := map[string]*sparcv1.OutcomeGroup{}
	for _, g := range gs {
		m[g.GetKey()] = g
	}
	return m
}

func TestOutcomeEvidenceOfACouncil(t *testing.T) {
	f := newFixture(t)
	got, err := f.svc.GetOutcomeEvidence(analyst(t, f), &sparcv1.GetOutcomeEvidenceRequest{Window: "2025", Area: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetWindow() != "2025" || got.GetArea() != "C1" || !got.GetStartTime().AsTime().Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) ||
		!got.GetEndTime().AsTime().Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("window %q %v..%v area %q, want 2025 in C1", got.GetWindow(), got.GetStartTime().AsTime(), got.GetEndTime().AsTime(), got.GetArea())
	}
	counted := append(append(p1(), p2()...), p3p4()...) // 34: no excluded one, not L4's

	// Overall: 34 referrals; released as the Sum of the providers' released counts
	// (P1 10 -> 10, P2 12 -> 10, P3 3 -> withheld, counted 4, P4 9 -> 10): 34 -> 35.
	o := got.GetOverall()
	if o.GetKey() != "all" || o.GetN().GetValue() != 35 || o.GetN().GetSuppressed() {
		t.Errorf("overall %q n %v, want all, 35", o.GetKey(), o.GetN())
	}
	checkGroup(t, "overall", o, collect(counted))

	// The walking group by hand: SWEMWBS changes sum to 24.62, mean 2.462, s = 1.780910,
	// t(0.975, 9) = 2.262157: 2.462 ± 1.273986 = [1.188014, 3.735986]. Improved by 3 or
	// more: 3.93, 3.76, 4.48, 3.10, 3.23 (not 2.95) = 5 of 10: Wilson [0.236593, 0.763407].
	// ONS4 life satisfaction changes 2,1,0,3,1,2,-1,2,1,0: mean 1.1, s = 1.197219,
	// [0.243561, 1.956439]; anxiety -2,-1,0,-3,-1,-2,1,-2,-1,0: -1.1 [-1.956439, -0.243561].
	prov := byKey(got.GetByProvider())
	walk := prov[f.orgs["P1"]]
	if walk == nil || walk.GetLabel() != "Walking group" || walk.GetN().GetValue() != 10 {
		t.Fatalf("the walking group is %v, want it named with n 10 (providers %v)", walk, got.GetByProvider())
	}
	checkEstimate(t, "walking group SWEMWBS", walk.GetSwemwbsChange(), 10, 2.462, 1.1880138185675084, 3.7359861814324926)
	checkEstimate(t, "walking group improved", walk.GetSwemwbsImprovedShare(), 10, 0.5, 0.236593090512564, 0.7634069094874361)
	checkEstimate(t, "walking group life satisfaction", walk.GetOns4Change()[0], 10, 1.1, 0.2435611205782271, 1.956438879421773)
	checkEstimate(t, "walking group worthwhile", walk.GetOns4Change()[1], 10, 0.9, 0.3721633286804189, 1.4278366713195811)
	checkEstimate(t, "walking group happiness", walk.GetOns4Change()[2], 10, 1.5, 0.7273262309314648, 2.2726737690685352)
	checkEstimate(t, "walking group anxiety", walk.GetOns4Change()[3], 10, -1.1, -1.956438879421773, -0.2435611205782271)

	// The arts collective is not public: an anonymous code, no label.
	code := network.AnonymousCode(secret, f.orgs["P2"])
	arts := prov[code]
	if arts == nil || arts.GetLabel() != "" || arts.GetN().GetValue() != 10 {
		t.Fatalf("the arts collective is %v, want %s unlabelled with n 10 (providers %v)", arts, code, got.GetByProvider())
	}
	if prov[f.orgs["P2"]] != nil {
		t.Error("the arts collective appears by its id")
	}
	checkGroup(t, "arts collective", arts, collect(p2()))

	// The print studio opted in: named, but three cases: count withheld, estimates suppressed.
	print := prov[f.orgs["P3"]]
	if print == nil || print.GetLabel() != "Print studio" || !print.GetN().GetSuppressed() || print.GetN().GetValue() != 0 {
		t.Errorf("the print studio is %v, want named with a withheld count", print)
	}
	checkSuppressed(t, "print studio", print)
	// The kitchen lists an active asset: named; nine cases: suppressed.
	kitchen := prov[f.orgs["P4"]]
	if kitchen == nil || kitchen.GetLabel() != "Community kitchen" {
		t.Errorf("the kitchen is %v, want named", kitchen)
	}
	checkSuppressed(t, "kitchen", kitchen)
	if !got.GetSuppressed() {
		t.Error("suppression applied but not reported")
	}

	// Categories: the walking group's asset is in two, the arts in one (P2 and P3: 15).
	cats := byKey(got.GetByCategory())
	for _, c := range []string{"physical_activity", "social_connection"} {
		if cats[c] == nil {
			t.Fatalf("no category %s in %v", c, got.GetByCategory())
		}
		checkGroup(t, c, cats[c], collect(p1()))
	}
	if cats["physical_activity"].GetLabel() != "Physical activity" {
		t.Errorf("label %q", cats["physical_activity"].GetLabel())
	}
	checkGroup(t, "arts_creativity", cats["arts_creativity"], collect(where(counted, func(r referral) bool { return r.provider == "P2" || r.provider == "P3" })))
	if cats["arts_creativity"].GetN().GetValue() != 15 {
		t.Errorf("arts n %v, want 15", cats["arts_creativity"].GetN())
	}
	checkSuppressed(t, "food", cats["food"])
	if len(got.GetByCategory()) != 4 || got.GetByCategory()[0].GetKey() != "physical_activity" {
		t.Errorf("categories %v, want 4 in the vocabulary's order", got.GetByCategory())
	}

	// Quintiles: 1 = L1 and L2 (13), 3 = L3 (8: suppressed), 2, 4 and 5 none (L4 is outside C1).
	qs := got.GetByQuintile()
	if len(qs) != 5 || qs[0].GetKey() != "1" || qs[0].GetLabel() != "Quintile 1 (most deprived)" || qs[4].GetLabel() != "Quintile 5 (least deprived)" {
		t.Fatalf("quintiles %v", qs)
	}
	checkGroup(t, "quintile 1", qs[0], collect(where(counted, func(r referral) bool { return r.area == "L1" || r.area == "L2" })))
	if qs[0].GetN().GetValue() != 15 {
		t.Errorf("quintile 1 n %v, want 13 released as 15", qs[0].GetN())
	}
	checkSuppressed(t, "quintile 3", qs[2])
	if qs[4].GetN().GetValue() != 0 || qs[4].GetN().GetSuppressed() {
		t.Errorf("quintile 5 n %v, want 0 (L4 is outside C1)", qs[4].GetN())
	}
}

// Without an area, the person in C2 counts (quintile 5); with an MSOA,
// only its LSOAs' people do.
func TestOutcomeEvidenceArea(t *testing.T) {
	f := newFixture(t)
	ctx := analyst(t, f)
	everywhere, err := f.svc.GetOutcomeEvidence(ctx, &sparcv1.GetOutcomeEvidenceRequest{Window: "2025"})
	if err != nil {
		t.Fatal(err)
	}
	counted := append(append(append(p1(), p2()...), p3p4()...), outside())
	checkGroup(t, "overall", everywhere.GetOverall(), collect(counted))
	if q5 := everywhere.GetByQuintile()[4]; !q5.GetN().GetSuppressed() {
		t.Errorf("quintile 5 n %v, want the one person in L4 withheld", q5.GetN())
	}

	m1, err := f.svc.GetOutcomeEvidence(ctx, &sparcv1.GetOutcomeEvidenceRequest{Window: "2025", Area: "M1"})
	if err != nil {
		t.Fatal(err)
	}
	checkGroup(t, "M1", m1.GetOverall(), collect(where(counted, func(r referral) bool { return r.area == "L1" || r.area == "L2" })))
	l3, err := f.svc.GetOutcomeEvidence(ctx, &sparcv1.GetOutcomeEvidenceRequest{Window: "2025", Area: "L3"})
	if err != nil {
		t.Fatal(err)
	}
	// 8 people: 5 of the walking group's and 3 of the print studio's, both
	// counts withheld, so their Sum is withheld too.
	if n := l3.GetOverall().GetN(); n.GetValue() != 0 || !n.GetSuppressed() {
		t.Errorf("L3 n %v, want withheld", n)
	}
	checkSuppressed(t, "L3 overall", l3.GetOverall())
}

// The default window is the twelve whole months before the current month.
func TestOutcomeEvidenceDefaultWindow(t *testing.T) {
	f := newFixture(t)
	got, err := f.svc.GetOutcomeEvidence(analyst(t, f), &sparcv1.GetOutcomeEvidenceRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetWindow() != "2025-03-01/2026-03-01" {
		t.Errorf("default window %q, want 2025-03-01/2026-03-01", got.GetWindow())
	}
	// The referral closed on 1 January 2026 counts now, and so does the one followed up
	// on 5 January: the walking group has 10 + 1 (L4) + 2 = 13 (released 15), the others
	// 12 (10), 3 (withheld, 4) and 9 (10): the Sum 39 is released as 40.
	if n := got.GetOverall().GetN(); n.GetValue() != 40 || n.GetSuppressed() {
		t.Errorf("overall n %v, want 40", n)
	}
	// A window of dates is widened to whole months, and the current month cut off.
	got, err = f.svc.GetOutcomeEvidence(analyst(t, f), &sparcv1.GetOutcomeEvidenceRequest{Window: "2025-12-10/2026-03-20"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetWindow() != "2025-12-01/2026-03-01" {
		t.Errorf("widened window %q, want 2025-12-01/2026-03-01", got.GetWindow())
	}
}

func TestOutcomeEvidenceRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := analyst(t, f)
	for _, c := range []struct {
		req   *sparcv1.GetOutcomeEvidenceRequest
		field string
	}{
		{&sparcv1.GetOutcomeEvidenceRequest{Window: "2025-13"}, "window"},
		{&sparcv1.GetOutcomeEvidenceRequest{Window: "2025\x00"}, "window"},
		{&sparcv1.GetOutcomeEvidenceRequest{Window: "2026-03"}, "window"}, // the current month: none ended
		{&sparcv1.GetOutcomeEvidenceRequest{Window: "2025", Area: "C1\x00"}, "area"},
		{&sparcv1.GetOutcomeEvidenceRequest{Window: "2025", Area: "C\xff1"}, "area"},
		{&sparcv1.GetOutcomeEvidenceRequest{Window: "2025", Area: "E99999999"}, "area"},
	} {
		_, err := f.svc.GetOutcomeEvidence(ctx, c.req)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%q %q: %v, want InvalidArgument", c.req.GetWindow(), c.req.GetArea(), err)
			continue
		}
		if fs := testenv.Fields(err); len(fs) != 1 || fs[0] != c.field {
			t.Errorf("%q %q: fields %v, want %s", c.req.GetWindow(), c.req.GetArea(), fs, c.field)
		}
	}
	for _, role := range []string{auth.RoleLinkWorker, auth.RoleGroupEditor} {
		ctx := auth.WithPrincipal(context.Background(), &auth.Principal{Org: f.orgs["R"], Role: role})
		if _, err := f.svc.GetOutcomeEvidence(ctx, &sparcv1.GetOutcomeEvidenceRequest{Window: "2025"}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s: %v, want PermissionDenied", role, err)
		}
	}
}

// The database function is the second wall: a link worker's transaction
// calling it directly is refused.
func TestOutcomeSumsRefusesOtherRoles(t *testing.T) {
	f := newFixture(t)
	app := testenv.AppPool(t, f.owner)
	ctx := context.Background()
	tx, err := app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT set_config('sparc.org', $1, true), set_config('sparc.role', 'link_worker', true)`, f.orgs["R"]); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, `SELECT * FROM sparc_outcome_sums(NULL, '2025-01-01', '2026-01-01', '{}', 3)`)
	if err == nil {
		t.Fatal("a link worker read every organisation's outcome sums")
	}
}

// With a rank instead of deciles, the five ranked LSOAs fall into five
// equal-count groups, one each: L1 (rank 100, most deprived) quintile 1
// ... L5 (rank 500) quintile 5.
func TestOutcomeEvidenceQuintilesFromRanks(t *testing.T) {
	f := newFixture(t)
	exec(t, f.owner, `UPDATE area_kinds SET deprivation_attribute = 'imd_rank', deprivation_scale = 'rank' WHERE kind = 'lsoa'`)
	for code, rank := range map[string]int{"L1": 100, "L2": 200, "L3": 300, "L4": 400, "L5": 500} {
		exec(t, f.owner, `UPDATE areas SET attributes = jsonb_build_object('imd_rank', $2::int) WHERE code = $1`, code, rank)
	}
	got, err := f.svc.GetOutcomeEvidence(analyst(t, f), &sparcv1.GetOutcomeEvidenceRequest{Window: "2025"})
	if err != nil {
		t.Fatal(err)
	}
	// L1 5, L2 8, L3 8, L4 1, L5 13 cases: withheld, 10, 10, withheld, 15.
	want := []struct {
		value    int64
		withheld bool
	}{{0, true}, {10, false}, {10, false}, {0, true}, {15, false}}
	for i, g := range got.GetByQuintile() {
		if g.GetN().GetValue() != want[i].value || g.GetN().GetSuppressed() != want[i].withheld {
			t.Errorf("quintile %s n %v, want %+v", g.GetKey(), g.GetN(), want[i])
		}
	}
}
