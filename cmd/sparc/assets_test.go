package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/geo"
	"github.com/sparc-network/sparc/internal/testenv"
)

func decode[M proto.Message](t *testing.T, out string, m M) M {
	t.Helper()
	if err := protojson.Unmarshal([]byte(out), m); err != nil {
		t.Fatalf("output is not a %T: %v\n%s", m, err, out)
	}
	return m
}

// A whole life of one listing, as a link worker or group would drive it
// from the shell: each step feeds the next (ids, etags).
func TestAssetLifecycleFromTheCommandLine(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	to := asAdmin(env)
	ctx := context.Background()

	const lat, lng = 52.4862, -1.8904
	const searchLat = lat + 0.0054 // about 600 m north
	var id, etag, firstEtag string

	anonymous := target{addr: to.addr}
	steps := []struct {
		name     string
		as       target
		args     func() []string
		wantCode int
		check    func(t *testing.T, r result)
	}{
		{
			name:     "create without a key is refused with a hint",
			as:       anonymous,
			args:     func() []string { return []string{"assets", "create", "--name", "x", "--kind", "association"} },
			wantCode: exitFailure,
			check: func(t *testing.T, r result) {
				if !strings.HasPrefix(r.stderr, "sparc: UNAUTHENTICATED: ") || !strings.Contains(r.stderr, "\n  give an API key with --key or SPARC_API_KEY\n") {
					t.Fatalf("stderr %q", r.stderr)
				}
			},
		},
		{
			name: "create from flags fills every field",
			args: func() []string {
				return []string{"-o", "json", "assets", "create", "--display-name", "Handsworth walking group", "--kind", "association",
					"--category", "physical_activity,social_connection", "--lat", "52.4862", "--lng", "-1.8904",
					"--country", "gb", "--postcode", "b21 9ah", "--locality", "Birmingham", "--cost", "free",
					"--accessibility", "step_free_access", "--language", "en", "--language", "pl",
					"--accepting-referrals", "--capacity", "12", "--session", "tue 10:00-11:30",
					"--session", "Thursday 14:00-15:00 Europe/London", "--min-age", "18", "--owner", env.AdminOrg}
			},
			check: func(t *testing.T, r result) {
				a := decode(t, r.stdout, &sparcv1.Asset{})
				id, etag, firstEtag = a.GetName(), a.GetEtag(), a.GetEtag()
				want := &sparcv1.Asset{
					Name: id, Etag: etag, Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Handsworth walking group",
					Categories: []string{"physical_activity", "social_connection"},
					Location: &sparcv1.Location{Latitude: lat, Longitude: lng, Country: "GB", Postcode: "B21 9AH",
						Locality: "Birmingham"},
					Sessions: []*sparcv1.Session{
						{Day: sparcv1.Weekday_WEEKDAY_TUESDAY, StartTime: "10:00", EndTime: "11:30", Timezone: "Europe/London"},
						{Day: sparcv1.Weekday_WEEKDAY_THURSDAY, StartTime: "14:00", EndTime: "15:00", Timezone: "Europe/London"},
					},
					Cost:          &sparcv1.Cost{Kind: sparcv1.CostKind_COST_KIND_FREE},
					Accessibility: []string{"step_free_access"}, Languages: []string{"en", "pl"},
					AgeRange: &sparcv1.AgeRange{MinAge: proto.Int32(18)}, Capacity: proto.Int32(12),
					PlacesLeft:         proto.Int32(12), // no referral holds a place
					AcceptingReferrals: true, Status: sparcv1.AssetStatus_ASSET_STATUS_ACTIVE,
					OwnerOrganisation: "organisations/" + env.AdminOrg, // --owner took the bare id
				}
				got := proto.Clone(a).(*sparcv1.Asset)
				// The server's clock, and its reading of the sessions
				// at that time (next_session_time: the assets tests).
				got.CreateTime, got.UpdateTime, got.NextSessionTime = nil, nil, nil
				if got.GetContact() != nil && proto.Equal(got.GetContact(), &sparcv1.Contact{}) {
					got.Contact = nil
				}
				if !proto.Equal(got, want) {
					t.Fatalf("created\n%v\nwant\n%v", got, want)
				}
			},
		},
		{
			name: "get prints the listing as field lines",
			args: func() []string { return []string{"assets", "get", id} },
			check: func(t *testing.T, r result) {
				for _, want := range [][2]string{
					{"name", id}, {"display name", "Handsworth walking group"}, {"kind", "association"},
					{"session", "Tue 10:00-11:30 Europe/London"}, {"session", "Thu 14:00-15:00 Europe/London"},
					{"cost", "free"}, {"capacity", "12"}, {"ages", "18 and over"}, {"etag", etag},
					{"address", "B21 9AH, Birmingham, GB"}, {"referrals", "accepting"},
				} {
					if !hasFieldLine(r.stdout, want[0], want[1]) {
						t.Errorf("no line %q = %q in\n%s", want[0], want[1], r.stdout)
					}
				}
			},
		},
		{
			name: "update with the current etag changes only the flags given",
			args: func() []string {
				return []string{"-o", "json", "assets", "update", id, "--etag", etag, "--name", "Handsworth Tuesday walkers", "--capacity", "15"}
			},
			check: func(t *testing.T, r result) {
				a := decode(t, r.stdout, &sparcv1.Asset{})
				if a.GetDisplayName() != "Handsworth Tuesday walkers" || a.GetCapacity() != 15 {
					t.Fatalf("update not applied: %v", a)
				}
				if a.GetEtag() == etag {
					t.Fatalf("etag did not change")
				}
				if len(a.GetSessions()) != 2 || a.GetLocation().GetPostcode() != "B21 9AH" || !slices.Equal(a.GetLanguages(), []string{"en", "pl"}) {
					t.Fatalf("fields not in the mask changed: %v", a)
				}
				etag = a.GetEtag()
			},
		},
		{
			name: "update with a stale etag is refused and changes nothing",
			args: func() []string {
				return []string{"assets", "update", id, "--if-match", firstEtag, "--name", "Lost update"}
			},
			wantCode: exitFailure,
			check: func(t *testing.T, r result) {
				if !strings.HasPrefix(r.stderr, "sparc: ABORTED: ") {
					t.Fatalf("stderr %q", r.stderr)
				}
				a, err := env.Assets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: id})
				if err != nil {
					t.Fatal(err)
				}
				if a.GetDisplayName() != "Handsworth Tuesday walkers" || a.GetEtag() != etag {
					t.Fatalf("stale update changed the asset: %v", a)
				}
			},
		},
		{
			name: "search near a point shows it with its distance",
			args: func() []string {
				return []string{"assets", "search", "--lat", ftoa(searchLat), "--lng", ftoa(lng), "--radius", "1km"}
			},
			check: func(t *testing.T, r result) {
				rows := tableRows(t, r.stdout)
				if len(rows) != 1 || rows[0]["NAME"] != id || rows[0]["DISPLAY NAME"] != "Handsworth Tuesday walkers" ||
					rows[0]["KIND"] != "association" || rows[0]["LOCALITY"] != "Birmingham" || rows[0]["STATUS"] != "active" {
					t.Fatalf("rows %v", rows)
				}
				got := parseShownDistance(t, rows[0]["DISTANCE"])
				want := geo.SphereDistance(searchLat, lng, lat, lng)
				if math.Abs(got-want) > want*0.005+1 {
					t.Fatalf("distance shown %q, great-circle distance is %.1f m", rows[0]["DISTANCE"], want)
				}
			},
		},
		{
			name: "search outside the radius finds nothing",
			args: func() []string {
				return []string{"assets", "search", "--lat", ftoa(searchLat), "--lng", ftoa(lng), "--radius", "500"}
			},
			check: func(t *testing.T, r result) {
				if strings.TrimSpace(r.stdout) != "no assets found" {
					t.Fatalf("stdout %q", r.stdout)
				}
			},
		},
		{
			name: "delete with a stale etag is refused",
			// The bare id the console shows works as well as the name.
			args: func() []string {
				return []string{"assets", "delete", strings.TrimPrefix(id, "assets/"), "--etag", firstEtag}
			},
			wantCode: exitFailure,
			check: func(t *testing.T, r result) {
				if !strings.HasPrefix(r.stderr, "sparc: ABORTED: ") {
					t.Fatalf("stderr %q", r.stderr)
				}
			},
		},
		{
			name: "delete with the current etag",
			args: func() []string { return []string{"assets", "delete", "--etag", etag, id} },
			check: func(t *testing.T, r result) {
				if r.stdout != "deleted "+id+"\n" {
					t.Fatalf("stdout %q", r.stdout)
				}
			},
		},
		{
			name:     "get after delete is NOT_FOUND",
			args:     func() []string { return []string{"assets", "get", id} },
			wantCode: exitFailure,
			check: func(t *testing.T, r result) {
				if !strings.HasPrefix(r.stderr, "sparc: NOT_FOUND: ") || r.stdout != "" {
					t.Fatalf("stdout %q stderr %q", r.stdout, r.stderr)
				}
			},
		},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			as := s.as
			if as == (target{}) {
				as = to
			}
			r := sparc(t, as, s.args()...)
			if r.code != s.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, s.wantCode, r.stdout, r.stderr)
			}
			s.check(t, r)
		})
		if !ok {
			t.FailNow() // later steps need this one's result
		}
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// hasFieldLine reports whether a detail view has the line "key   value".
func hasFieldLine(out, key, value string) bool {
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, "  ")
		if ok && k == key && strings.TrimSpace(v) == value {
			return true
		}
	}
	return false
}

// parseShownDistance reads "612 m" or "1.25 km" back into metres.
func parseShownDistance(t *testing.T, s string) float64 {
	t.Helper()
	num, unit, _ := strings.Cut(s, " ")
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		t.Fatalf("distance %q: %v", s, err)
	}
	switch unit {
	case "m":
		return f
	case "km":
		return f * 1000
	}
	t.Fatalf("distance %q has no unit", s)
	return 0
}

// Command lines that are wrong on their face fail with exit code 2 and say
// why, without opening a connection to the server.
func TestBadCommandLinesFailBeforeCallingTheServer(t *testing.T) {
	t.Parallel()
	addr, connections := countingListener(t)
	to := target{addr: addr}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notJSON := write("asset.json", `{"name": "x", "colour": "red"}`)
	twoFeatures := write("two.geojson", `{"type":"FeatureCollection","features":[{"type":"Feature"},{"type":"Feature"}]}`)
	const id = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	valid := []string{"--name", "x", "--lat", "52", "--lng", "-1.9", "--country", "GB"}

	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown kind", append([]string{"assets", "create", "--kind", "club"}, valid...), `--kind: "club" is not one of: individual, association, institution, physical_space, local_economy, culture`},
		{"latitude not a number", []string{"assets", "create", "--lat", "north"}, `invalid value "north" for flag -lat`},
		{"unknown flag", []string{"assets", "list", "--colour", "red"}, "flag provided but not defined: -colour"},
		{"unknown cost", append([]string{"assets", "create", "--kind", "association", "--cost", "cheap"}, valid...), `--cost: "cheap" is not one of: free, low_cost, paid`},
		{"session on no weekday", append([]string{"assets", "create", "--kind", "association", "--session", "funday 10:00-11:00"}, valid...), `"funday" is not a day of the week`},
		{"session without an end", append([]string{"assets", "create", "--kind", "association", "--session", "tue 10:00"}, valid...), "times must be START-END"},
		{"session without a zone or country", []string{"assets", "create", "--name", "x", "--session", "tue 10:00-11:00"}, "no time zone"},
		{"capacity beyond int32", append([]string{"assets", "create", "--capacity", "3000000000"}, valid...), "--capacity: 3000000000 is out of range"},
		{"create with nothing", []string{"assets", "create"}, "give the asset as flags"},
		{"create with a stray argument", []string{"assets", "create", "walking"}, `unexpected argument "walking"`},
		{"file that is not an asset", []string{"assets", "create", "--file", notJSON}, "not an Asset in JSON"},
		{"file that is missing", []string{"assets", "create", "--file", filepath.Join(dir, "nope.json")}, "--file: open"},
		{"get without id", []string{"assets", "get"}, "missing the ID"},
		{"get with two ids", []string{"assets", "get", id, id}, "expected one ID, got 2 arguments"},
		{"update with nothing to change", []string{"assets", "update", id, "--etag", "0123456789abcdef"}, "nothing to update"},
		{"update clearing a field it also sets", []string{"assets", "update", id, "--clear", "display_name", "--display-name", "x"}, "--clear display_name: the same field is also given a value"},
		{"delete without id", []string{"assets", "delete", "--etag", "0123456789abcdef"}, "missing the ID"},
		{"list with a bad time", []string{"assets", "list", "--modified-since", "yesterday"}, `--modified-since: "yesterday" is not an RFC 3339 time`},
		{"list with an unknown kind", []string{"assets", "list", "--kind", "association,club"}, `--kind: "club" is not one of`},
		{"list with an unknown status", []string{"assets", "list", "--status", "open"}, `--status: "open" is not one of: active, paused, closed`},
		{"list with an unknown view", []string{"assets", "list", "--view", "summary"}, `--view: "summary" is not one of: basic, full`},
		{"search with an unknown view", []string{"assets", "search", "--lat", "52", "--lng", "-1", "--view", "none"}, `--view: "none" is not one of: basic, full`},
		{"list with a negative page size", []string{"assets", "list", "--page-size", "-1"}, "--page-size must not be negative"},
		{"search with latitude only", []string{"assets", "search", "--lat", "52"}, "--lat and --lng go together"},
		{"search radius without a point", []string{"assets", "search", "--radius", "2km"}, "--radius needs --lat and --lng"},
		{"search radius not a distance", []string{"assets", "search", "--lat", "52", "--lng", "-1", "--radius", "far"}, `--radius: "far" is not a distance`},
		{"search open at a vague time", []string{"assets", "search", "--open-at", "soon"}, `--open-at: "soon" is not an RFC 3339 time`},
		{"search within a missing file", []string{"assets", "search", "--within", filepath.Join(dir, "nope.geojson")}, "--within: open"},
		{"search within two features", []string{"assets", "search", "--within", twoFeatures}, "must hold exactly one polygon feature, it has 2"},
		{"search words twice", []string{"assets", "search", "walking", "--query", "choir"}, "either as arguments or as --query"},
		{"output format unknown", []string{"-o", "yaml", "assets", "list"}, "-o must be table or json"},
		{"output format unknown after the command", []string{"assets", "list", "-o", "yaml"}, `-o must be table or json, not "yaml"`},
		{"unknown command", []string{"assets", "frobnicate"}, "usage: sparc"},
		{"help shows the synopsis", []string{"assets", "get", "-h"}, "usage: sparc assets get NAME"},
		{"seed with no workers", []string{"seed-demo", "--concurrency", "0"}, "--concurrency must be between 1 and 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sparc(t, to, tt.args...)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d", r.code, exitUsage)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr does not say %q:\n%s", tt.want, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
	if n := connections.Load(); n != 0 {
		t.Fatalf("%d connections reached the server", n)
	}
}

// What the server refuses comes back as exit code 1 with every field
// violation on its own line, exactly the violations the API reports for
// the same request.
func TestServerRejectionsListEveryFieldViolation(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	to := asAdmin(env)
	ctx := context.Background()
	lat, lng, radius := 52.0, -1.9, 500000.0
	const missing = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	tests := []struct {
		name       string
		args       []string
		call       func() error // the same request made directly
		wantFields []string
	}{
		{
			name: "create with bad location and no name",
			args: []string{"assets", "create", "--name", " ", "--kind", "association", "--lat", "95", "--lng", "200", "--country", "FR"},
			call: func() error {
				_, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
					DisplayName: " ", Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION,
					Location: &sparcv1.Location{Latitude: 95, Longitude: 200, Country: "FR"},
				}})
				return err
			},
			wantFields: []string{"asset.display_name", "asset.location.latitude", "asset.location.longitude", "asset.location.country"},
		},
		{
			name: "create with a session ending before it starts",
			args: []string{"assets", "create", "--name", "x", "--kind", "culture", "--lat", "52", "--lng", "-1.9", "--country", "GB",
				"--session", "mon 11:00-10:00 Mars/Olympus", "--category", "knitting"},
			call: func() error {
				_, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
					DisplayName: "x", Kind: sparcv1.AssetKind_ASSET_KIND_CULTURE, Categories: []string{"knitting"},
					Location: &sparcv1.Location{Latitude: 52, Longitude: -1.9, Country: "GB"},
					Sessions: []*sparcv1.Session{{Day: sparcv1.Weekday_WEEKDAY_MONDAY, StartTime: "11:00", EndTime: "10:00", Timezone: "Mars/Olympus"}},
				}})
				return err
			},
			wantFields: []string{"asset.sessions[0].end_time", "asset.sessions[0].timezone", "asset.categories[0]"},
		},
		{
			name: "search radius too large",
			args: []string{"assets", "search", "--lat", "52", "--lng", "-1.9", "--radius", "500km"},
			call: func() error {
				_, err := env.Assets.SearchAssets(ctx, &sparcv1.SearchAssetsRequest{Latitude: &lat, Longitude: &lng, RadiusMeters: &radius})
				return err
			},
			wantFields: []string{"radius_meters"},
		},
		{
			name: "get with an id that is not a uuid",
			args: []string{"assets", "get", "walking-group"},
			call: func() error {
				_, err := env.Assets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: "assets/walking-group"})
				return err
			},
			wantFields: []string{"name"},
		},
		{
			name: "update with a malformed etag and an unknown mask path",
			args: []string{"assets", "update", missing, "--etag", "W/\"1\"", "--clear", "colour"},
			call: func() error {
				_, err := env.Assets.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{
					Asset: &sparcv1.Asset{Name: "assets/" + missing, Etag: "W/\"1\""}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"colour"}},
				})
				return err
			},
			wantFields: []string{"asset.etag", "update_mask.paths[0]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := sparc(t, to, tt.args...)
			if r.code != exitFailure {
				t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, exitFailure, r.stderr)
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if !strings.HasPrefix(lines[0], "sparc: INVALID_ARGUMENT: ") {
				t.Fatalf("first line %q", lines[0])
			}
			shown := map[string]string{}
			for _, l := range lines[1:] {
				field, desc, ok := strings.Cut(strings.TrimPrefix(l, "  "), ": ")
				if !ok || !strings.HasPrefix(l, "  ") {
					t.Fatalf("line %q is not \"  field: description\"", l)
				}
				shown[field] = desc
			}
			for _, f := range tt.wantFields {
				if _, ok := shown[f]; !ok {
					t.Errorf("no line for %s in\n%s", f, r.stderr)
				}
			}
			// The API's own answer to the same request is the oracle for
			// the descriptions.
			api := violations(t, tt.call())
			for _, v := range api {
				if shown[v.GetField()] != v.GetDescription() {
					t.Errorf("API says %s: %s; CLI shows %q", v.GetField(), v.GetDescription(), shown[v.GetField()])
				}
			}
			if len(shown) != len(api) {
				t.Errorf("CLI shows %d violations, API returns %d", len(shown), len(api))
			}
		})
	}
}

func violations(t *testing.T, err error) []*errdetails.BadRequest_FieldViolation {
	t.Helper()
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			return br.GetFieldViolations()
		}
	}
	t.Fatalf("no BadRequest in %v", err)
	return nil
}

// list follows page tokens: one page with a hint to stderr, a given token,
// or every page with --all, and filters by kind.
func TestListPagesAndFilters(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	to := asAdmin(env)
	ctx := context.Background()
	var all, institutions []string
	for i := range 7 {
		kind := sparcv1.AssetKind_ASSET_KIND_ASSOCIATION
		if i%2 == 1 {
			kind = sparcv1.AssetKind_ASSET_KIND_INSTITUTION
		}
		a, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
			DisplayName: "Group " + strconv.Itoa(i), Kind: kind, Description: "Meets on Tuesdays.",
			Location: &sparcv1.Location{Latitude: 51.9 + float64(i)/100, Longitude: 4.45, Country: "NL", Locality: "Rotterdam"},
			Sessions: []*sparcv1.Session{{Day: sparcv1.Weekday_WEEKDAY_TUESDAY, StartTime: "10:00", EndTime: "11:00", Timezone: "Europe/Amsterdam"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, a.GetName())
		if kind == sparcv1.AssetKind_ASSET_KIND_INSTITUTION {
			institutions = append(institutions, a.GetName())
		}
	}
	ids := func(out string) ([]string, string) {
		resp := decode(t, out, &sparcv1.ListAssetsResponse{})
		var ids []string
		for _, a := range resp.GetAssets() {
			ids = append(ids, a.GetName())
		}
		return ids, resp.GetNextPageToken()
	}

	t.Run("one page in a table hints at the next", func(t *testing.T) {
		r := sparc(t, to, "assets", "list", "--page-size", "3")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		rows := tableRows(t, r.stdout)
		if len(rows) != 3 || rows[0]["NAME"] != all[0] || rows[0]["LOCALITY"] != "Rotterdam" || rows[0]["CATEGORIES"] != "-" {
			t.Fatalf("rows %v", rows)
		}
		if !strings.HasPrefix(r.stderr, "more results: repeat with --page-token ") {
			t.Fatalf("stderr %q", r.stderr)
		}
	})
	t.Run("page token continues where the page ended", func(t *testing.T) {
		first, token := ids(mustSparc(t, to, "-o", "json", "assets", "list", "--page-size", "3"))
		second, _ := ids(mustSparc(t, to, "-o", "json", "assets", "list", "--page-size", "3", "--page-token", token))
		if !slices.Equal(append(first, second...), all[:6]) {
			t.Fatalf("pages %v then %v, want %v", first, second, all[:6])
		}
	})
	t.Run("all follows every page", func(t *testing.T) {
		got, next := ids(mustSparc(t, to, "assets", "list", "--all", "--page-size", "3", "-o", "json"))
		if !slices.Equal(got, all) || next != "" {
			t.Fatalf("got %v (next %q), want %v", got, next, all)
		}
	})
	t.Run("kind filter", func(t *testing.T) {
		got, _ := ids(mustSparc(t, to, "-o", "json", "assets", "list", "--kind", "institution", "--all"))
		if !slices.Equal(got, institutions) {
			t.Fatalf("got %v, want %v", got, institutions)
		}
	})
	// --view basic asks for the BASIC view: the description and sessions
	// stay behind, the next session comes (the same as in full, the
	// default).
	t.Run("view basic leaves out what a list does not show", func(t *testing.T) {
		for _, args := range [][]string{
			{"-o", "json", "assets", "list", "--all"},
			{"-o", "json", "assets", "search", "--lat", "51.93", "--lng", "4.45", "--radius", "10km", "--all"},
		} {
			assetsOf := func(out string) []*sparcv1.Asset {
				if args[3] == "list" {
					return decode(t, out, &sparcv1.ListAssetsResponse{}).GetAssets()
				}
				var as []*sparcv1.Asset
				for _, r := range decode(t, out, &sparcv1.SearchAssetsResponse{}).GetResults() {
					as = append(as, r.GetAsset())
				}
				return as
			}
			full := assetsOf(mustSparc(t, to, args...))
			basic := assetsOf(mustSparc(t, to, append(slices.Clone(args), "--view", "basic")...))
			if len(full) != len(all) || len(basic) != len(all) {
				t.Fatalf("%s: %d assets in full, %d in basic, want %d", args[3], len(full), len(basic), len(all))
			}
			for i, f := range full {
				b := basic[i]
				if f.GetDescription() == "" || len(f.GetSessions()) != 1 || f.GetNextSessionTime() == nil {
					t.Errorf("%s (full) %s: description %q, %d sessions, next %v", args[3], f.GetName(), f.GetDescription(), len(f.GetSessions()), f.GetNextSessionTime())
				}
				if b.GetName() != f.GetName() || b.GetDisplayName() != f.GetDisplayName() || b.GetDescription() != "" || len(b.GetSessions()) != 0 ||
					!proto.Equal(b.GetNextSessionTime(), f.GetNextSessionTime()) {
					t.Errorf("%s --view basic %s: %q, description %q, %d sessions, next %v (full: next %v)", args[3], b.GetName(),
						b.GetDisplayName(), b.GetDescription(), len(b.GetSessions()), b.GetNextSessionTime(), f.GetNextSessionTime())
				}
			}
		}
	})
	t.Run("modified since the future lists nothing", func(t *testing.T) {
		r := sparc(t, to, "assets", "list", "--modified-since", "2999-01-01")
		if r.code != 0 || strings.TrimSpace(r.stdout) != "no assets found" {
			t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
	})
}

// A listing kept as a JSON file round-trips: create from the file (with its
// id), edit the JSON from "get -o json" and update from it (its etag makes
// the update safe), and clear a field.
func TestAssetsFromJSONFiles(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	to := asAdmin(env)
	dir := t.TempDir()
	const fileID = "0b6e2f4a-5c1d-4e8f-9a7b-3c2d1e0f9a8b"
	const stdinID = "1c7f3a5b-6d2e-4f90-8b8c-4d3e2f1a0b9c"
	// JSON names (camelCase) as a person would write them by hand.
	file := filepath.Join(dir, "asset.json")
	if err := os.WriteFile(file, []byte(`{
		"name": "assets/`+fileID+`",
		"kind": "ASSET_KIND_PHYSICAL_SPACE",
		"displayName": "Moestuin Delfshaven",
		"categories": ["nature_green_space", "food"],
		"location": {"latitude": 51.9105, "longitude": 4.443, "country": "NL", "locality": "Rotterdam"},
		"sessions": [{"day": "WEEKDAY_SATURDAY", "startTime": "10:00", "endTime": "13:00", "timezone": "Europe/Amsterdam"}],
		"capacity": 15
	}`), 0o600); err != nil {
		t.Fatal(err)
	}

	created := decode(t, mustSparc(t, to, "-o", "json", "assets", "create", "--file", file, "--name", "Moestuin Delfshaven (flag)"), &sparcv1.Asset{})
	if created.GetName() != "assets/"+fileID || created.GetDisplayName() != "Moestuin Delfshaven (flag)" || created.GetCapacity() != 15 ||
		created.GetSessions()[0].GetDay() != sparcv1.Weekday_WEEKDAY_SATURDAY {
		t.Fatalf("created from file: %v", created)
	}

	b, _ := os.ReadFile(file)
	fromStdin := decode(t, sparcOK(t, sparcWithInput(t, strings.NewReader(string(b)), to, "-o", "json", "assets", "create", "--file", "-", "--id", stdinID)), &sparcv1.Asset{})
	if fromStdin.GetName() != "assets/"+stdinID || fromStdin.GetDisplayName() != "Moestuin Delfshaven" {
		t.Fatalf("created from stdin: %v", fromStdin)
	}

	// Edit the JSON that get printed, then update from it twice: the
	// second time its etag is stale.
	current := mustSparc(t, to, "-o", "json", "assets", "get", fileID)
	var doc map[string]any
	if err := json.Unmarshal([]byte(current), &doc); err != nil {
		t.Fatal(err)
	}
	doc["display_name"] = "Moestuin Delfshaven-West"
	edited, _ := json.Marshal(doc)
	editedFile := filepath.Join(dir, "edited.json")
	if err := os.WriteFile(editedFile, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	updated := decode(t, mustSparc(t, to, "-o", "json", "assets", "update", fileID, "--file", editedFile), &sparcv1.Asset{})
	if updated.GetDisplayName() != "Moestuin Delfshaven-West" || updated.GetEtag() == created.GetEtag() {
		t.Fatalf("updated from file: %v", updated)
	}
	if r := sparc(t, to, "assets", "update", fileID, "--file", editedFile); r.code != exitFailure || !strings.HasPrefix(r.stderr, "sparc: ABORTED: ") {
		t.Fatalf("second update from a stale file: exit %d stderr %q", r.code, r.stderr)
	}

	// A service area drawn in a map tool comes as a Feature; the CLI sends
	// its geometry.
	area := filepath.Join(dir, "area.geojson")
	if err := os.WriteFile(area, []byte(`{"type":"Feature","properties":{"name":"Delfshaven"},"geometry":
		{"type":"Polygon","coordinates":[[[4.43,51.90],[4.46,51.90],[4.46,51.92],[4.43,51.92],[4.43,51.90]]]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	withArea := decode(t, mustSparc(t, to, "-o", "json", "assets", "update", fileID, "--service-area", area), &sparcv1.Asset{})
	var geometry struct{ Type string }
	if err := json.Unmarshal([]byte(withArea.GetServiceAreaGeojson()), &geometry); err != nil || geometry.Type != "MultiPolygon" && geometry.Type != "Polygon" {
		t.Fatalf("service area %q (%v)", withArea.GetServiceAreaGeojson(), err)
	}
	if shown := mustSparc(t, to, "assets", "get", fileID); !strings.Contains(shown, "service area") {
		t.Fatalf("get does not mention the service area:\n%s", shown)
	}

	cleared := decode(t, mustSparc(t, to, "-o", "json", "assets", "update", fileID, "--clear", "capacity", "--clear", "location.locality"), &sparcv1.Asset{})
	if cleared.Capacity != nil || cleared.GetLocation().GetLocality() != "" || cleared.GetLocation().GetCountry() != "NL" || cleared.GetDisplayName() != "Moestuin Delfshaven-West" {
		t.Fatalf("after --clear: %v", cleared)
	}
}

func sparcOK(t *testing.T, r result) string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	return r.stdout
}
