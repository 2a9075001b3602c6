package network_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/network"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The known network. Two LSOAs: L1 (IMD decile 2: quintile 1) and L2
// (decile 9: quintile 5), side by side in one MSOA. Organisations:
//
//	LW1 "Link workers North" (link-worker service, not opted in: anonymous)
//	LW2 "Practice South"     (GP practice, opted in: named)
//	G1  "Walking group"      (assets A1 in L1 and A2 in L2; also refers)
//	G2  "Choir"              (asset B1 in L2)
//
// 2026-Q3 (the window):
//
//	LW1 -> G1 (A1), July, people of L1: 12 referrals: 5 completed, 3 in
//	  progress (all 8 attended), 2 accepted, 2 rejected no_capacity
//	LW2 -> G2 (B1), July, people of L1: 3 requested
//	LW2 -> G1 (A2), August, people of L2: 20: 9 rejected not_eligible, 6
//	  rejected not_suitable, 5 requested
//	G1  -> G2 (B1), September, people of L1: 8 requested
//	LW1 -> G2 (B1), July: one draft and one entered in error (not counted)
//
// 2026-Q2 (the window before): LW1 -> G1 20 requested (May); LW1 -> G2 10
// requested (June).
type world struct {
	env                *testenv.Env
	lw1, lw2, g1, g2   string
	a1, a2, b1         string
	l1, l2, msoa       string
	analyst, admin     sparcv1.AnalyticsServiceClient
	analystKey         string
	linkWorker, editor sparcv1.AnalyticsServiceClient
}

const (
	l1, l2, msoaCode = "E01900101", "E01900102", "E02900101"
)

func newWorld(t *testing.T) *world {
	t.Helper()
	env := testenv.NewServer(t)
	ctx := context.Background()
	w := &world{env: env, l1: l1, l2: l2, msoa: msoaCode}
	env.ImportAreas(t, "msoa", 2000, &sparcv1.AreaFeature{Code: msoaCode, DisplayName: "Test MSOA", GeometryGeojson: testenv.Box(-1.90, 52.47, -1.88, 52.48)})
	env.ImportAreas(t, "lsoa", 1000,
		&sparcv1.AreaFeature{Code: l1, DisplayName: "L1", ParentCode: msoaCode, GeometryGeojson: testenv.Box(-1.90, 52.47, -1.89, 52.48)},
		&sparcv1.AreaFeature{Code: l2, DisplayName: "L2", ParentCode: msoaCode, GeometryGeojson: testenv.Box(-1.89, 52.47, -1.88, 52.48)})
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := env.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO area_kinds (kind, deprivation_attribute, deprivation_scale) VALUES ('lsoa', 'imd_decile', 'decile')
		ON CONFLICT (kind) DO UPDATE SET deprivation_attribute = 'imd_decile', deprivation_scale = 'decile'`)
	exec(`UPDATE areas SET attributes = jsonb_build_object('imd_decile', CASE code WHEN $1 THEN 2 ELSE 9 END) WHERE kind = 'lsoa'`, l1)

	w.lw1 = env.NewOrg(t, "Link workers North", "link_worker_service")
	w.lw2 = env.NewOrg(t, "Practice South", "gp_practice")
	w.g1 = env.NewOrg(t, "Walking group", "community_group")
	w.g2 = env.NewOrg(t, "Choir", "community_group")
	// The practice opts in through the API, as its admin would.
	if _, err := sparcv1.NewOrganisationServiceClient(env.ConnWithKey(t, env.Key(t, w.lw2, auth.RoleAdmin))).UpdateOrganisation(ctx,
		&sparcv1.UpdateOrganisationRequest{Organisation: &sparcv1.Organisation{Name: "organisations/" + w.lw2, NamedInAnalytics: true},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"named_in_analytics"}}}); err != nil {
		t.Fatalf("opting in: %v", err)
	}
	asset := func(org, name string, lng float64) string {
		t.Helper()
		a, err := env.AssetsOf(t, org).CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
			Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: name, AcceptingReferrals: true, OwnerOrganisation: "organisations/" + org,
			Location: &sparcv1.Location{Latitude: 52.475, Longitude: lng, Country: "GB"}}})
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(a.GetName(), "assets/")
	}
	w.a1, w.a2, w.b1 = asset(w.g1, "Walk in the park", -1.895), asset(w.g1, "Canal walk", -1.885), asset(w.g2, "Choir practice", -1.884)

	month := func(m time.Month, day int) time.Time { return time.Date(2026, m, day, 10, 0, 0, 0, time.UTC) }
	// refer inserts n referrals of people living in home (with a
	// postcode: a home area never outlives its postcode), as the
	// database holds them after their timelines ran (counts are all that
	// matter to the network; the referral service's own tests cover how
	// they get there).
	refer := func(n int, from, to, assetID, home string, at time.Time, status, reason string, accepted, attended bool) {
		t.Helper()
		for range n {
			person := uuid.NewString()
			exec(`INSERT INTO people (id, organisation_id, display_name, postcode, home_area) VALUES ($1, $2, 'P', 'B1 1AA', $3)`, person, from, home)
			var acc, att *time.Time
			if accepted {
				a := at.Add(24 * time.Hour)
				acc = &a
			}
			if attended {
				a := at.Add(72 * time.Hour)
				att = &a
			}
			id, sessions := uuid.New(), 0
			if attended {
				sessions = 1
			}
			exec(`INSERT INTO referrals (id, person_id, referring_org, link_worker, asset_id, provider_org, status, status_reason,
				request_id, request_hash, accepted_at, first_attended_at, sessions_attended, requested_at, created_at, updated_at)
				VALUES ($1, $2, $3, 'lw', $4, $5, $6, $7, $12, '\x00', $8, $9, $10, $11, $11, $11)`,
				id, person, from, assetID, to, status, reason, acc, att, sessions, at, id.String())
		}
	}
	// 2026-Q3.
	refer(5, w.lw1, w.g1, w.a1, l1, month(7, 3), "completed", "", true, true)
	refer(3, w.lw1, w.g1, w.a1, l1, month(7, 4), "in_progress", "", true, true)
	refer(2, w.lw1, w.g1, w.a1, l1, month(7, 5), "accepted", "", true, false)
	refer(2, w.lw1, w.g1, w.a1, l1, month(7, 6), "rejected", "no_capacity", false, false)
	refer(3, w.lw2, w.g2, w.b1, l1, month(7, 7), "requested", "", false, false)
	refer(9, w.lw2, w.g1, w.a2, l2, month(8, 3), "rejected", "not_eligible", false, false)
	refer(6, w.lw2, w.g1, w.a2, l2, month(8, 4), "rejected", "not_suitable", false, false)
	refer(5, w.lw2, w.g1, w.a2, l2, month(8, 5), "requested", "", false, false)
	refer(8, w.g1, w.g2, w.b1, l1, month(9, 3), "requested", "", false, false)
	refer(1, w.lw1, w.g2, w.b1, l1, month(7, 8), "draft", "", false, false)
	refer(1, w.lw1, w.g2, w.b1, l1, month(7, 9), "entered_in_error", "", false, false)
	// 2026-Q2.
	refer(20, w.lw1, w.g1, w.a1, l1, month(5, 3), "requested", "", false, false)
	refer(10, w.lw1, w.g2, w.b1, l1, month(6, 3), "requested", "", false, false)

	other := env.NewOrg(t, "Public health", "other")
	w.analystKey = env.Key(t, other, auth.RoleAreaAnalyst)
	w.analyst = sparcv1.NewAnalyticsServiceClient(env.ConnWithKey(t, w.analystKey))
	w.admin = sparcv1.NewAnalyticsServiceClient(env.ConnWithKey(t, env.Key(t, w.lw1, auth.RoleAdmin)))
	w.linkWorker = sparcv1.NewAnalyticsServiceClient(env.ConnWithKey(t, env.Key(t, w.lw1, auth.RoleLinkWorker)))
	w.editor = sparcv1.NewAnalyticsServiceClient(env.ConnWithKey(t, env.Key(t, w.g1, auth.RoleGroupEditor)))
	return w
}

// anon is an organisation's anonymous code under the server's key.
func (w *world) anon(org string) string { return network.AnonymousCode(w.env.App.AnonymousKey, org) }

func (w *world) network(t *testing.T, req *sparcv1.GetReferralNetworkRequest) *sparcv1.ReferralNetwork {
	t.Helper()
	res, err := w.analyst.GetReferralNetwork(context.Background(), req)
	if err != nil {
		t.Fatalf("GetReferralNetwork(%v): %v", req, err)
	}
	return res
}

// stat is a released count as text: "withheld" or its value.
func stat(c *sparcv1.StatCount) string {
	if c.GetSuppressed() {
		return "withheld"
	}
	return fmt.Sprint(c.GetValue())
}

func TestReferralNetworkOfAKnownHistory(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	res := w.network(t, &sparcv1.GetReferralNetworkRequest{Window: "2026-Q3"})
	if res.GetWindow() != "2026-Q3" || !res.GetStartTime().AsTime().Equal(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)) ||
		!res.GetEndTime().AsTime().Equal(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("window = %s [%v, %v)", res.GetWindow(), res.GetStartTime().AsTime(), res.GetEndTime().AsTime())
	}
	lw1 := w.anon(w.lw1)
	type node struct {
		name      string
		kind      sparcv1.NetworkNodeKind
		anonymous bool
		quintile  int32
		in, out   int32
		sIn, sOut string
	}
	ref, grp := sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_REFERRER, sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_GROUP
	// Strengths are Sums of the ties' released month cells: G1 in = 10
	// (12) + 20 (20); G2 in = withheld (3, counts 4) + 10 (8) = 14 -> 15;
	// LW2 out = withheld + 20 = 24 -> 25.
	want := map[string]node{
		lw1:   {"", ref, true, 1, 0, 1, "0", "10"},
		w.lw2: {"Practice South", ref, false, 5, 0, 2, "0", "25"},
		w.g1:  {"Walking group", grp, false, 1, 2, 1, "30", "10"},
		w.g2:  {"Choir", grp, false, 5, 2, 0, "15", "0"},
	}
	if len(res.GetNodes()) != len(want) {
		t.Fatalf("nodes = %v, want 4", res.GetNodes())
	}
	for _, n := range res.GetNodes() {
		x, ok := want[n.GetId()]
		if !ok {
			t.Errorf("unexpected node %s (%s)", n.GetId(), n.GetDisplayName())
			continue
		}
		got := node{n.GetDisplayName(), n.GetKind(), n.GetAnonymous(), n.GetDeprivationQuintile(), n.GetDegreeIn(), n.GetDegreeOut(),
			stat(n.GetStrengthIn()), stat(n.GetStrengthOut())}
		if got != x {
			t.Errorf("node %s = %+v, want %+v", n.GetId(), got, x)
		}
	}
	// G1 is the only node between others: LW1 -> G1 -> G2 (LW2 reaches
	// G2 directly): 1 / ((4-1)(4-2)).
	for _, n := range res.GetNodes() {
		want := 0.0
		if n.GetId() == w.g1 {
			want = 1.0 / 6
		}
		if d := n.GetBetweenness() - want; d > 1e-9 || d < -1e-9 {
			t.Errorf("betweenness of %s = %v, want %v", n.GetId(), n.GetBetweenness(), want)
		}
	}

	type edge struct{ referrals, accepted, declined, attended, completed, reasons string }
	// 12 -> 10; accepted 10; declined 2 withheld; attended 8 -> 10;
	// completed 5 withheld. 3 -> withheld. 20 -> 20, declined 15, by
	// reason 9 -> 10 and 6 withheld. 8 -> 10.
	wantEdges := map[[2]string]edge{
		{lw1, w.g1}:   {"10", "10", "withheld", "10", "withheld", "no_capacity=withheld"},
		{w.lw2, w.g2}: {"withheld", "0", "0", "0", "0", ""},
		{w.lw2, w.g1}: {"20", "0", "15", "0", "0", "not_eligible=10 not_suitable=withheld"},
		{w.g1, w.g2}:  {"10", "0", "0", "0", "0", ""},
	}
	if len(res.GetEdges()) != len(wantEdges) {
		t.Fatalf("edges = %v, want 4", res.GetEdges())
	}
	for _, e := range res.GetEdges() {
		var reasons []string
		for _, r := range []string{"no_capacity", "not_eligible", "not_suitable"} {
			if c, ok := e.GetDeclinedReasons()[r]; ok {
				reasons = append(reasons, r+"="+stat(c))
			}
		}
		got := edge{stat(e.GetReferrals()), stat(e.GetAccepted()), stat(e.GetDeclined()), stat(e.GetAttended()), stat(e.GetCompleted()),
			strings.Join(reasons, " ")}
		if x, ok := wantEdges[[2]string{e.GetSource(), e.GetTarget()}]; !ok || got != x {
			t.Errorf("edge %s -> %s = %+v, want %+v (known: %v)", e.GetSource(), e.GetTarget(), got, x, ok)
		}
	}

	// Against 2026-Q2: LW1 -> G1 weakened 20 -> 10 (12 raw), LW1 -> G2
	// lost, the other three formed.
	m := res.GetMeasures()
	if m.GetNodes() != 4 || m.GetEdges() != 4 || m.GetNewTies() != 3 || m.GetLostTies() != 1 || stat(m.GetReferrals()) != "45" ||
		!res.GetSuppressed() {
		t.Errorf("measures = %v (suppressed %v); want 4 nodes, 4 edges, 3 new, 1 lost, 45 referrals (10+4+20+10), suppressed", m, res.GetSuppressed())
	}
	// Two of the four ties cross quintiles (LW2 q5 -> G1 q1, G1 q1 -> G2
	// q5); none is reciprocated; density 4 / (4*3).
	if m.GetCrossQuintileShare() != 0.5 || m.GetReciprocity() != 0 || m.GetDensity() != 4.0/12 {
		t.Errorf("measures = %v; want cross-quintile 0.5, reciprocity 0, density 1/3", m)
	}
	type change struct {
		kind          sparcv1.TieChangeKind
		before, after string
	}
	wantChanges := map[[2]string]change{
		{lw1, w.g1}:   {sparcv1.TieChangeKind_TIE_CHANGE_KIND_WEAKENED, "20", "10"},
		{lw1, w.g2}:   {sparcv1.TieChangeKind_TIE_CHANGE_KIND_LOST, "10", "0"},
		{w.lw2, w.g2}: {sparcv1.TieChangeKind_TIE_CHANGE_KIND_FORMED, "0", "withheld"},
		{w.lw2, w.g1}: {sparcv1.TieChangeKind_TIE_CHANGE_KIND_FORMED, "0", "20"},
		{w.g1, w.g2}:  {sparcv1.TieChangeKind_TIE_CHANGE_KIND_FORMED, "0", "10"},
	}
	if len(res.GetChanges()) != len(wantChanges) {
		t.Errorf("changes = %v, want %d", res.GetChanges(), len(wantChanges))
	}
	for _, c := range res.GetChanges() {
		got := change{c.GetKind(), stat(c.GetBefore()), stat(c.GetAfter())}
		if x := wantChanges[[2]string{c.GetSource(), c.GetTarget()}]; got != x {
			t.Errorf("change %s -> %s = %+v, want %+v", c.GetSource(), c.GetTarget(), got, x)
		}
	}
}

func TestReferralNetworkHistoryByMonth(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	res := w.network(t, &sparcv1.GetReferralNetworkRequest{Window: "2026-Q3", Period: sparcv1.NetworkPeriod_NETWORK_PERIOD_MONTH})
	// July against June (LW1 -> G2 10, lost): LW1 -> G1 and LW2 -> G2
	// formed. August against July: both lost, LW2 -> G1 formed.
	// September: LW2 -> G1 lost, G1 -> G2 formed.
	want := []struct {
		window          string
		edges, new, old int32
	}{{"2026-07", 2, 2, 1}, {"2026-08", 1, 1, 2}, {"2026-09", 1, 1, 1}}
	if len(res.GetHistory()) != len(want) {
		t.Fatalf("history = %v", res.GetHistory())
	}
	for i, h := range res.GetHistory() {
		m := h.GetMeasures()
		if h.GetWindow() != want[i].window || m.GetEdges() != want[i].edges || m.GetNewTies() != want[i].new || m.GetLostTies() != want[i].old {
			t.Errorf("history[%d] = %s: %d edges, %d new, %d lost; want %+v", i, h.GetWindow(), m.GetEdges(), m.GetNewTies(), m.GetLostTies(), want[i])
		}
	}
}

func TestReferralNetworkOfAnArea(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// L2: its people's referrals (LW2 -> G1 at A2) and referrals to its
	// assets (A2, B1): not LW1 -> G1 (people of L1 to A1 in L1).
	res := w.network(t, &sparcv1.GetReferralNetworkRequest{Window: "2026-Q3", Area: l2})
	got := map[string]string{}
	for _, e := range res.GetEdges() {
		got[e.GetSource()+">"+e.GetTarget()] = stat(e.GetReferrals())
	}
	want := map[string]string{w.lw2 + ">" + w.g1: "20", w.lw2 + ">" + w.g2: "withheld", w.g1 + ">" + w.g2: "10"}
	if fmt.Sprint(got) != fmt.Sprint(want) || res.GetArea() != l2 {
		t.Errorf("area %s: edges %v, want %v", res.GetArea(), got, want)
	}
	// The MSOA holds both LSOAs: the whole network.
	if res := w.network(t, &sparcv1.GetReferralNetworkRequest{Window: "2026-Q3", Area: msoaCode}); len(res.GetEdges()) != 4 {
		t.Errorf("MSOA: %d edges, want 4", len(res.GetEdges()))
	}
	// At asset granularity, G1's two assets are apart.
	res = w.network(t, &sparcv1.GetReferralNetworkRequest{Window: "2026-Q3", Area: l2, Granularity: sparcv1.NetworkGranularity_NETWORK_GRANULARITY_ASSETS})
	got = map[string]string{}
	for _, e := range res.GetEdges() {
		got[e.GetSource()+">"+e.GetTarget()] = stat(e.GetReferrals())
	}
	want = map[string]string{w.lw2 + ">" + w.a2: "20", w.lw2 + ">" + w.b1: "withheld", w.g1 + ">" + w.b1: "10"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("assets in %s: edges %v, want %v", l2, got, want)
	}
	for _, n := range res.GetNodes() {
		if n.GetKind() == sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_ASSET && (n.GetOrganisation() == "" || n.GetDeprivationQuintile() != 5) {
			t.Errorf("asset node %v: want its organisation and quintile 5 (L2)", n)
		}
	}
}

func TestReferralNetworkAnonymousCodes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	q3 := w.network(t, &sparcv1.GetReferralNetworkRequest{Window: "2026-Q3"})
	q2 := w.network(t, &sparcv1.GetReferralNetworkRequest{Window: "2026-Q2"})
	again := w.network(t, &sparcv1.GetReferralNetworkRequest{Window: "2026-Q3"})
	code := w.anon(w.lw1)
	if !strings.HasPrefix(code, "anon-") || len(code) != len("anon-")+8 {
		t.Fatalf("code %q", code)
	}
	for _, res := range []*sparcv1.ReferralNetwork{q3, q2, again} {
		found := false
		for _, n := range res.GetNodes() {
			if n.GetId() == w.lw1 || strings.Contains(n.GetDisplayName(), "North") {
				t.Errorf("%s: LW1 named: %v", res.GetWindow(), n)
			}
			if n.GetId() == code {
				found = true
				if !n.GetAnonymous() || n.GetDisplayName() != "" {
					t.Errorf("%s: %v is not anonymous", res.GetWindow(), n)
				}
			}
			if n.GetId() == w.lw2 && n.GetDisplayName() != "Practice South" {
				t.Errorf("%s: the opted-in practice is %v", res.GetWindow(), n)
			}
		}
		if !found {
			t.Errorf("%s: LW1's code %s is not a node", res.GetWindow(), code)
		}
	}
	// Stored key: the same as the one the server's own pool loads.
	key, err := network.LoadSecret(context.Background(), w.env.Pool)
	if err != nil || network.AnonymousCode(key, w.lw1) != code {
		t.Errorf("LoadSecret: %v; code %s, want %s", err, network.AnonymousCode(key, w.lw1), code)
	}
}

func TestReferralNetworkAccess(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	req := &sparcv1.GetReferralNetworkRequest{Window: "2026-Q3"}
	for name, c := range map[string]sparcv1.AnalyticsServiceClient{"link worker": w.linkWorker, "group editor": w.editor,
		"no key": sparcv1.NewAnalyticsServiceClient(w.env.Anonymous())} {
		_, err := c.GetReferralNetwork(ctx, req)
		if code := status.Code(err); code != codes.PermissionDenied && code != codes.Unauthenticated {
			t.Errorf("%s: %v, want PermissionDenied (or Unauthenticated without a key)", name, err)
		}
	}
	if _, err := w.linkWorker.GetReferralNetwork(ctx, req); status.Code(err) != codes.PermissionDenied {
		t.Errorf("link worker: %v", err)
	}
	if _, err := w.editor.GetReferralNetwork(ctx, req); status.Code(err) != codes.PermissionDenied {
		t.Errorf("group editor: %v", err)
	}
	for name, c := range map[string]sparcv1.AnalyticsServiceClient{"area analyst": w.analyst, "admin": w.admin} {
		if res, err := c.GetReferralNetwork(ctx, req); err != nil || len(res.GetEdges()) != 4 {
			t.Errorf("%s: %v, %d edges", name, err, len(res.GetEdges()))
		}
	}
	// The exports: the same rule.
	for _, path := range []string{"/v1/referralNetwork.graphml?window=2026-Q3", "/v1/referralNetwork.csv?table=edges&window=2026-Q3"} {
		lwKey := w.env.Key(t, w.lw1, auth.RoleLinkWorker)
		if resp, body := w.env.Do(t, "GET", path, "", "Authorization", "Bearer "+lwKey); resp.StatusCode != 403 {
			t.Errorf("%s as a link worker: HTTP %d %s", path, resp.StatusCode, body)
		}
		if resp, body := w.env.Do(t, "GET", path, "", "Authorization", "Bearer "+w.analystKey); resp.StatusCode != 200 {
			t.Errorf("%s as an analyst: HTTP %d %s", path, resp.StatusCode, body)
		}
	}
}

func TestReferralNetworkRefusesBadQuestions(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	for _, c := range []struct {
		req   *sparcv1.GetReferralNetworkRequest
		code  codes.Code
		field string
	}{
		{&sparcv1.GetReferralNetworkRequest{Window: "2026-13"}, codes.InvalidArgument, "window"},
		{&sparcv1.GetReferralNetworkRequest{Window: "2999"}, codes.InvalidArgument, "window"},
		{&sparcv1.GetReferralNetworkRequest{Area: "not a code!"}, codes.InvalidArgument, "area"},
		{&sparcv1.GetReferralNetworkRequest{Area: "E01999999"}, codes.NotFound, ""},
		{&sparcv1.GetReferralNetworkRequest{Granularity: 7}, codes.InvalidArgument, "granularity"},
		{&sparcv1.GetReferralNetworkRequest{Period: 9}, codes.InvalidArgument, "period"},
	} {
		_, err := w.analyst.GetReferralNetwork(ctx, c.req)
		if status.Code(err) != c.code || (c.field != "" && strings.Join(testenv.Fields(err), ",") != c.field) {
			t.Errorf("%v: %v, want %v on %q", c.req, err, c.code, c.field)
		}
	}
	// Hostile input on the exports and the gateway: 400 with a field
	// violation, never a 500.
	for _, path := range []string{
		"/v1/referralNetwork.csv?table=nodes&window=2026%00", "/v1/referralNetwork.csv?table=nodes&area=%FF%FE",
		"/v1/referralNetwork.graphml?window=%FF", "/v1/referralNetwork.graphml?area=E01%00",
		"/v1/referralNetwork?window=%00", "/v1/referralNetwork?area=%FF",
		"/v1/referralNetwork.csv?table=people", "/v1/referralNetwork.graphml?person=x",
	} {
		resp, body := w.env.Do(t, "GET", path, "", "Authorization", "Bearer "+w.analystKey)
		if resp.StatusCode != 400 || !bytes.Contains(body, []byte("field")) {
			t.Errorf("%s: HTTP %d %s, want 400 with a field violation", path, resp.StatusCode, body)
		}
	}
}

func TestReferralNetworkExports(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	get := func(path string) []byte {
		t.Helper()
		resp, body := w.env.Do(t, "GET", path, "", "Authorization", "Bearer "+w.analystKey)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: HTTP %d %s", path, resp.StatusCode, body)
		}
		return body
	}
	graphml := get("/v1/referralNetwork.graphml?window=2026-Q3")
	dir := t.TempDir()
	file := filepath.Join(dir, "network.graphml")
	if err := os.WriteFile(file, graphml, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("xmllint", "--noout", "--schema", "testdata/graphml/graphml.xsd", file).CombinedOutput(); err != nil {
		t.Errorf("xmllint: %v\n%s\n%s", err, out, graphml)
	}
	// NetworkX reads it with typed attributes: 4 nodes, 4 edges, the
	// opted-in practice by name, the weight of LW2 -> G1 an int.
	script := fmt.Sprintf(`import networkx, sys
g = networkx.read_graphml(sys.argv[1])
print(g.number_of_nodes(), g.number_of_edges(), g.is_directed(), g.nodes[%q]["label"], repr(g.edges[%q, %q]["weight"]), g.nodes[%q]["anonymous"])`,
		w.lw2, w.lw2, w.g1, w.anon(w.lw1))
	out, err := exec.Command(python, "-c", script, file).CombinedOutput()
	if got := strings.TrimSpace(string(out)); err != nil || got != "4 4 True Practice South 20 True" {
		t.Errorf("networkx: %v: %q", err, got)
	}
	// igraph (the R package's C core, through python-igraph) too.
	script = fmt.Sprintf(`import igraph, sys
g = igraph.Graph.Read_GraphML(sys.argv[1])
v = g.vs.find(id=%q)
print(g.vcount(), g.ecount(), g.is_directed(), v["label"], v.outdegree())`, w.lw2)
	out, err = exec.Command(python, "-c", script, file).CombinedOutput()
	if got := strings.TrimSpace(string(out)); err != nil || got != "4 4 True Practice South 2" {
		t.Errorf("igraph: %v: %q", err, got)
	}
	if bytes.Contains(graphml, []byte("Link workers North")) {
		t.Errorf("GraphML names the anonymous link-worker service")
	}

	nodes := readCSV(t, get("/v1/referralNetwork.csv?table=nodes&window=2026-Q3"))
	edges := readCSV(t, get("/v1/referralNetwork.csv?table=edges&window=2026-Q3&granularity=NETWORK_GRANULARITY_ORGANISATIONS"))
	if len(nodes) != 5 || nodes[0][0] != "id" || len(edges) != 5 || edges[0][0] != "source" {
		t.Fatalf("CSV: %d node rows, %d edge rows (with headers): %v %v", len(nodes), len(edges), nodes, edges)
	}
	col := func(rows [][]string, name string) int {
		for i, h := range rows[0] {
			if h == name {
				return i
			}
		}
		t.Fatalf("no column %s in %v", name, rows[0])
		return -1
	}
	ref, wh := col(edges, "referrals"), col(edges, "referrals_withheld")
	found := false
	for _, r := range edges[1:] {
		if r[0] == w.lw2 && r[1] == w.g2 {
			found = true
			if r[ref] != "" || r[wh] != "true" {
				t.Errorf("withheld tie written as %q/%q", r[ref], r[wh])
			}
		}
	}
	if !found {
		t.Errorf("no LW2 -> G2 row in %v", edges)
	}
	// The same answer as the RPC.
	res := w.network(t, &sparcv1.GetReferralNetworkRequest{Window: "2026-Q3"})
	js, _ := json.Marshal(res.GetNodes()[0].GetId())
	if !bytes.Contains(graphml, js[1:len(js)-1]) {
		t.Errorf("GraphML lacks node %s", js)
	}
}

// python is the system's Python, where make poppler installs NetworkX and
// python-igraph (Debian's python3-networkx, python3-igraph).
const python = "/usr/bin/python3"

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, b)
	}
	return rows
}

// asAnalyst is a context acting as an area analyst, for the service
// called directly (its store's functions answer analysts and admins only).
func asAnalyst() context.Context {
	return auth.WithPrincipal(context.Background(), &auth.Principal{Name: "key:test", Role: auth.RoleAreaAnalyst})
}

// Behind the access policy, the database refuses too: the service called
// without it (as a route that forgot the policy would) for a link worker,
// a group editor, the network admin or nobody gets no network, and the
// caller is told PERMISSION_DENIED.
func TestReferralNetworkWithoutThePolicyIsRefusedByTheDatabase(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	svc := network.NewService(network.NewStore(env.AppPool), env.App.AnonymousKey)
	req := &sparcv1.GetReferralNetworkRequest{Window: "2026-Q3"}
	for _, role := range []string{auth.RoleLinkWorker, auth.RoleGroupEditor, auth.RoleNetworkAdmin, ""} {
		ctx := auth.WithPrincipal(context.Background(), &auth.Principal{Name: "key:test", Org: env.NewOrg(t, "Org of "+role, "link_worker_service"), Role: role})
		res, err := svc.GetReferralNetwork(ctx, req)
		if st, _ := apierr.ToStatus(err); res != nil || st.Code() != codes.PermissionDenied {
			t.Errorf("role %q: %v (%v), want PERMISSION_DENIED and no network", role, res, err)
		}
	}
	if _, err := svc.GetReferralNetwork(asAnalyst(), req); err != nil {
		t.Errorf("an analyst: %v", err)
	}
}

func TestReferralNetworkWindows(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	now := time.Date(2026, 12, 2, 23, 0, 0, 0, time.UTC)
	svc := network.NewService(network.NewStore(env.AppPool), env.App.AnonymousKey).WithClock(func() time.Time { return now })
	for _, c := range []struct{ asked, answered string }{
		{"", "2026-Q3"},                      // the last quarter that has ended
		{"2026-Q4", "2026-10-01/2026-12-01"}, // December is still running
		{"2026-11-15/2026-11-20", "2026-11"}, // whole months
		{"2026-02-10/2026-04-01", "2026-02-01/2026-04-01"},
		{"2025", "2025"},
	} {
		res, err := svc.GetReferralNetwork(asAnalyst(), &sparcv1.GetReferralNetworkRequest{Window: c.asked})
		if err != nil || res.GetWindow() != c.answered {
			t.Errorf("window %q answered %q (%v), want %q", c.asked, res.GetWindow(), err, c.answered)
		}
	}
	_, err := svc.GetReferralNetwork(asAnalyst(), &sparcv1.GetReferralNetworkRequest{Window: "2026-12"})
	if status.Code(err) != codes.InvalidArgument || strings.Join(testenv.Fields(err), ",") != "window" {
		t.Errorf("the running month: %v, want INVALID_ARGUMENT on window", err)
	}
}

// A national network answer is tens of megabytes, past gRPC's default
// 4 MB message. The HTTP gateway reaches the service through a gRPC
// client of its own; left at that default it would refuse the answer as
// RESOURCE_EXHAUSTED, which HTTP callers read as 429, "try again later",
// for a question that can never fit. 300 referrers each referring once
// to each of 150 groups make 45,000 ties, all formed since the quarter
// before: an answer of over 4 MB.
func TestReferralNetworkLargerThanOneGRPCMessageOverHTTP(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	exec := func(sql string) {
		t.Helper()
		if _, err := env.Pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO organisations (id, kind, name)
		SELECT gen_random_uuid(), CASE WHEN g <= 300 THEN 'link_worker_service' ELSE 'community_group' END, 'Large ' || g
		FROM generate_series(1, 450) g`)
	exec(`INSERT INTO assets (id, kind, name, location, country, status, owner_organisation)
		SELECT gen_random_uuid(), 'association', 'Asset of ' || o.name, ST_SetSRID(ST_MakePoint(-1.9, 52.47), 4326)::geography, 'GB', 'active', o.id
		FROM organisations o WHERE o.kind = 'community_group' AND o.name LIKE 'Large %'`)
	exec(`INSERT INTO people (id, organisation_id, display_name, postcode)
		SELECT gen_random_uuid(), o.id, 'P', 'B1 1AA' FROM organisations o WHERE o.kind = 'link_worker_service' AND o.name LIKE 'Large %'`)
	exec(`INSERT INTO referrals (id, person_id, referring_org, link_worker, asset_id, provider_org, status, status_reason,
			request_id, request_hash, requested_at, created_at, updated_at)
		SELECT gen_random_uuid(), p.id, p.organisation_id, 'lw', a.id, a.owner_organisation, 'requested', '',
		       gen_random_uuid()::text, '\x00', timestamptz '2026-07-03 10:00Z', timestamptz '2026-07-03 10:00Z', timestamptz '2026-07-03 10:00Z'
		FROM people p CROSS JOIN assets a
		WHERE a.name LIKE 'Asset of Large %'`)
	key := env.Key(t, env.NewOrg(t, "Public health", "other"), auth.RoleAreaAnalyst)

	resp, body := env.Do(t, "GET", "/v1/referralNetwork?window=2026-Q3", "", "Authorization", "Bearer "+key)
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d %.300s", resp.StatusCode, body)
	}
	var res sparcv1.ReferralNetwork
	if err := protojson.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	if got := len(res.GetEdges()); got != 300*150 {
		t.Errorf("%d edges, want %d", got, 300*150)
	}
	if size := proto.Size(&res); size <= 4<<20 {
		t.Errorf("the answer is %d bytes: the test needs one over gRPC's default 4 MB", size)
	}
}

// Network reads take their turn: a national read holds three connections
// and hundreds of megabytes of the database's memory for seconds, so the
// service runs a bounded number at once and the rest wait, within their
// deadline, without reaching the database. Here the bound is one, and
// the first read is held on a lock of the referrals.
func TestReferralNetworkReadsWaitTheirTurn(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := asAnalyst()
	svc := network.NewService(network.NewStore(env.AppPool), env.App.AnonymousKey).WithConcurrentReads(1)
	req := &sparcv1.GetReferralNetworkRequest{Window: "2026-Q3"}
	// Statements of this database waiting for a lock on the referrals.
	waiting := func() int {
		t.Helper()
		var n int
		if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks
			WHERE NOT granted AND relation = 'referrals'::regclass
			  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	tx, err := env.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // released below; this is for a failed test
	if _, err := tx.Exec(ctx, `LOCK TABLE referrals IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { _, err := svc.GetReferralNetwork(ctx, req); first <- err }()
	for end := time.Now().Add(10 * time.Second); waiting() == 0 && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // every statement of the first read in line
	held := waiting()
	if held == 0 {
		t.Fatal("the first read never reached the lock")
	}

	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	second := make(chan error, 1)
	go func() { _, err := svc.GetReferralNetwork(short, req); second <- err }()
	time.Sleep(700 * time.Millisecond)
	if n := waiting(); n != held {
		t.Errorf("with the second read waiting, %d statements wait on the referrals; want the first read's %d alone", n, held)
	}
	if err := <-second; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the second read ended with %v, want its deadline", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Errorf("the first read, once the lock went: %v", err)
	}
	// Its turn given back: the next read runs.
	if _, err := svc.GetReferralNetwork(ctx, req); err != nil {
		t.Errorf("a read after both: %v", err)
	}
}
