package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/testenv"
)

// seed-demo is idempotent: the second run finds every demo asset already
// there, the directory holds each one once, and they all belong to the
// admin's own organisation (the demo organisation sparcd --demo made, for
// its admin's key): an admin writes no other organisation's assets.
func TestSeedDemoTwiceLoadsTheDirectoryOnce(t *testing.T) {
	t.Parallel()
	want, err := demo.Assets()
	if err != nil {
		t.Fatal(err)
	}
	n := float64(len(want))
	tests := []struct {
		name      string
		setup     func(t *testing.T, env *testenv.Env) target // the admin who seeds
		wantOwner func(env *testenv.Env) string
	}{
		{
			name: "server with the demo organisations, the demo admin",
			setup: func(t *testing.T, env *testenv.Env) target {
				loadDemoOrgs(t, env)
				return target{addr: env.Server.GRPCAddr(), key: env.Key(t, demo.Owner, auth.RoleAdmin)}
			},
			wantOwner: func(*testenv.Env) string { return "organisations/" + demo.Owner },
		},
		{
			name:      "bare server, an organisation's admin",
			setup:     func(_ *testing.T, env *testenv.Env) target { return asAdmin(env) },
			wantOwner: func(env *testenv.Env) string { return "organisations/" + env.AdminOrg },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.NewServer(t)
			to := tt.setup(t, env)

			first := decode(t, mustSparc(t, to, "-o", "json", "seed-demo"), &structpb.Struct{}).AsMap()
			if first["demo_assets"] != n || first["created"] != n || first["already_present"] != 0.0 {
				t.Fatalf("first run: %v, want %v created", first, n)
			}
			owner, _ := first["owner_organisation"].(string)
			if w := tt.wantOwner(env); owner != w {
				t.Fatalf("owner %q, want %q", owner, w)
			}
			second := sparc(t, to, "seed-demo", "--concurrency", "3")
			if wantLine := "demo directory: " + strconv.Itoa(len(want)) + " assets, 0 created, " + strconv.Itoa(len(want)) + " already present\n"; second.code != 0 || second.stdout != wantLine {
				t.Fatalf("second run printed %q (exit %d, stderr %q), want %q", second.stdout, second.code, second.stderr, wantLine)
			}
			if strings.Contains(second.stderr, "created organisation") {
				t.Fatalf("second run made another organisation: %s", second.stderr)
			}

			listed := decode(t, mustSparc(t, to, "-o", "json", "assets", "list", "--all"), &sparcv1.ListAssetsResponse{})
			var got, wantIDs []string
			for _, a := range listed.GetAssets() {
				got = append(got, a.GetName())
				if a.GetOwnerOrganisation() != owner {
					t.Fatalf("asset %s owned by %q, want %q", a.GetName(), a.GetOwnerOrganisation(), owner)
				}
			}
			for _, a := range want {
				wantIDs = append(wantIDs, a.GetName())
			}
			slices.Sort(got)
			slices.Sort(wantIDs)
			if !slices.Equal(got, wantIDs) {
				t.Fatalf("directory holds %d assets, want the %d demo ids once each", len(got), len(wantIDs))
			}
		})
	}
}

// A group editor seeds the demo for its own organisation with --owner, and
// cannot without it (the demo organisation is not its own).
func TestSeedDemoAsGroupEditorNeedsItsOwnOrganisation(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	loadDemoOrgs(t, env)
	group := env.NewOrg(t, "Handsworth groups", "community_group")
	editor := target{addr: env.Server.GRPCAddr(), key: env.Key(t, group, auth.RoleGroupEditor)}

	r := sparc(t, editor, "seed-demo")
	if r.code != exitFailure || !strings.HasPrefix(r.stderr, "sparc: NOT_FOUND: after 0 created and 0 already present: demo asset ") {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	out := decode(t, mustSparc(t, editor, "-o", "json", "seed-demo", "--owner", group), &structpb.Struct{}).AsMap()
	want, err := demo.Assets()
	if err != nil {
		t.Fatal(err)
	}
	if out["created"] != float64(len(want)) || out["owner_organisation"] != "organisations/"+group {
		t.Fatalf("got %v", out)
	}

	// The demo organisation owns none of them, so its admin's run tries
	// every create and counts each ALREADY_EXISTS as present.
	demoAdmin := target{addr: env.Server.GRPCAddr(), key: env.Key(t, demo.Owner, auth.RoleAdmin)}
	again := decode(t, mustSparc(t, demoAdmin, "-o", "json", "seed-demo"), &structpb.Struct{}).AsMap()
	if again["created"] != 0.0 || again["already_present"] != float64(len(want)) || again["owner_organisation"] != "organisations/"+demo.Owner {
		t.Fatalf("admin run after the editor's: %v", again)
	}
}

// Against a server whose per-key rate limit is far below what eight
// workers ask for, seed-demo waits as told (RetryInfo) and loads it all.
func TestSeedDemoKeepsToTheServersRateLimit(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t, testenv.Options{Auth: auth.Config{RatePerSecond: 300, Burst: 4}})
	want, err := demo.Assets()
	if err != nil {
		t.Fatal(err)
	}
	out := decode(t, mustSparc(t, asAdmin(env), "-o", "json", "seed-demo"), &structpb.Struct{}).AsMap()
	if out["created"] != float64(len(want)) {
		t.Fatalf("got %v, want %d created", out, len(want))
	}
	var limited int
	if err := env.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM audit_events WHERE code IN ('ResourceExhausted', 'RESOURCE_EXHAUSTED')`).Scan(&limited); err != nil {
		t.Fatal(err)
	}
	if limited == 0 {
		t.Fatalf("the server never limited the seed, so the test proves nothing")
	}
}

func loadDemoOrgs(t *testing.T, env *testenv.Env) {
	t.Helper()
	if err := demo.LoadOrgs(context.Background(), env.Pool); err != nil {
		t.Fatal(err)
	}
}

// Each search flag reaches the server as the request field it names: the
// CLI's results equal the API's answer to the hand-built request, over the
// demo directory.
func TestSearchFlagsAskTheSameQueryAsTheAPI(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	to := asAdmin(env)
	mustSparc(t, to, "seed-demo")
	ctx := context.Background()

	dir := t.TempDir()
	// Central Birmingham, as a map tool exports it: a FeatureCollection
	// with one polygon feature.
	polygon := `{"type":"Polygon","coordinates":[[[-1.95,52.44],[-1.82,52.44],[-1.82,52.53],[-1.95,52.53],[-1.95,52.44]]]}`
	within := filepath.Join(dir, "centre.geojson")
	if err := os.WriteFile(within, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":`+polygon+`}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	f := func(v float64) *float64 { return &v }
	i := func(v int32) *int32 { return &v }
	b := func(v bool) *bool { return &v }
	// A Tuesday 10:30 in London (UTC in November).
	tuesdayMorning := timestamppb.New(time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC))

	tests := []struct {
		name string
		args []string
		req  *sparcv1.SearchAssetsRequest
	}{
		{
			name: "point, radius in km and a category",
			args: []string{"--lat", "52.4862", "--lng", "-1.8904", "--radius", "8km", "--category", "physical_activity"},
			req:  &sparcv1.SearchAssetsRequest{Latitude: f(52.4862), Longitude: f(-1.8904), RadiusMeters: f(8000), Categories: []string{"physical_activity"}},
		},
		{
			name: "point with the default radius",
			args: []string{"--lat", "53.39", "--lng", "-3.03"},
			req:  &sparcv1.SearchAssetsRequest{Latitude: f(53.39), Longitude: f(-3.03), RadiusMeters: f(2000)},
		},
		{
			name: "box, free only",
			args: []string{"--bbox", "-1.95,52.44,-1.82,52.53", "--free"},
			req:  &sparcv1.SearchAssetsRequest{Bbox: "-1.95,52.44,-1.82,52.53", FreeOnly: true},
		},
		{
			name: "polygon file and kinds",
			args: []string{"--within", within, "--kind", "association", "--kind", "institution"},
			req: &sparcv1.SearchAssetsRequest{WithinGeojson: polygon, Kinds: []sparcv1.AssetKind{
				sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, sparcv1.AssetKind_ASSET_KIND_INSTITUTION}},
		},
		{
			name: "words as arguments",
			args: []string{"walking", "group"},
			req:  &sparcv1.SearchAssetsRequest{Query: "walking group"},
		},
		{
			name: "accessibility, language and age",
			args: []string{"--accessibility", "step_free_access,wheelchair_accessible", "--language", "ur", "--age", "70"},
			req:  &sparcv1.SearchAssetsRequest{Accessibility: []string{"step_free_access", "wheelchair_accessible"}, Language: "ur", Age: i(70)},
		},
		{
			name: "not accepting referrals, in a box",
			args: []string{"--accepting-referrals=false", "--bbox", "4.3,51.8,4.6,52.0"},
			req:  &sparcv1.SearchAssetsRequest{AcceptingReferrals: b(false), Bbox: "4.3,51.8,4.6,52.0"},
		},
		{
			name: "open at a time, near a point",
			args: []string{"--open-at", "2026-11-24T10:30:00Z", "--lat", "52.4862", "--lng", "-1.8904", "--radius", "20000"},
			req:  &sparcv1.SearchAssetsRequest{OpenAt: tuesdayMorning, Latitude: f(52.4862), Longitude: f(-1.8904), RadiusMeters: f(20000)},
		},
		{
			name: "status paused finds none of the active demo",
			args: []string{"--status", "paused", "--query", "walking"},
			req:  &sparcv1.SearchAssetsRequest{Statuses: []sparcv1.AssetStatus{sparcv1.AssetStatus_ASSET_STATUS_PAUSED}, Query: "walking"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var want []string
			req := tt.req
			req.PageSize = 100
			for {
				resp, err := env.Assets.SearchAssets(ctx, req)
				if err != nil {
					t.Fatalf("API: %v", err)
				}
				for _, r := range resp.GetResults() {
					want = append(want, r.GetAsset().GetName())
				}
				if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
					break
				}
			}
			// The paused case is the one expected to be empty; every other
			// query must find something or it proves nothing.
			if len(want) == 0 && !strings.HasPrefix(tt.name, "status paused") {
				t.Fatalf("the API finds nothing for %v; choose a query the demo data answers", tt.req)
			}
			args := append([]string{"-o", "json", "assets", "search", "--all"}, tt.args...)
			resp := decode(t, mustSparc(t, to, args...), &sparcv1.SearchAssetsResponse{})
			var got []string
			for _, r := range resp.GetResults() {
				got = append(got, r.GetAsset().GetName())
			}
			if !slices.Equal(got, want) {
				t.Fatalf("CLI found %d assets, API %d\nCLI: %v\nAPI: %v", len(got), len(want), got, want)
			}
		})
	}
}
