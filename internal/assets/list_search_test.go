package assets_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/testenv"
)

// tamper changes one character in the middle of a token.
func tamper(tok string) string {
	i := len(tok) / 2
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

func TestSearchAssetsRejectsBadInput(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	for i := 0; i < 3; i++ {
		a := validAsset()
		a.Location.Latitude += float64(i) * 0.001
		create(t, env.Assets, a)
	}
	f := func(v float64) *float64 { return &v }
	i32 := func(v int32) *int32 { return &v }
	near := func() *sparcv1.SearchAssetsRequest {
		return &sparcv1.SearchAssetsRequest{Latitude: f(52.5047), Longitude: f(-1.9248), RadiusMeters: f(5000)}
	}
	first, err := env.Assets.SearchAssets(context.Background(), &sparcv1.SearchAssetsRequest{
		Latitude: f(52.5047), Longitude: f(-1.9248), RadiusMeters: f(5000), PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	token := first.GetNextPageToken()
	if token == "" {
		t.Fatal("no next page token for 3 results at page size 1")
	}
	with := func(change func(r *sparcv1.SearchAssetsRequest)) *sparcv1.SearchAssetsRequest {
		r := near()
		change(r)
		return r
	}
	cases := []struct {
		name     string
		req      *sparcv1.SearchAssetsRequest
		fields   []string
		grpcOnly bool
	}{
		{"latitude above 90", with(func(r *sparcv1.SearchAssetsRequest) { r.Latitude = f(90.5) }), []string{"latitude"}, false},
		{"latitude below -90", with(func(r *sparcv1.SearchAssetsRequest) { r.Latitude = f(-100) }), []string{"latitude"}, false},
		{"latitude NaN", with(func(r *sparcv1.SearchAssetsRequest) { r.Latitude = f(math.NaN()) }), []string{"latitude"}, false},
		{"longitude above 180", with(func(r *sparcv1.SearchAssetsRequest) { r.Longitude = f(181) }), []string{"longitude"}, false},
		{"longitude NaN", with(func(r *sparcv1.SearchAssetsRequest) { r.Longitude = f(math.NaN()) }), []string{"longitude"}, false},
		{"longitude infinite", with(func(r *sparcv1.SearchAssetsRequest) { r.Longitude = f(math.Inf(-1)) }), []string{"longitude"}, false},
		{"radius zero", with(func(r *sparcv1.SearchAssetsRequest) { r.RadiusMeters = f(0) }), []string{"radius_meters"}, false},
		{"radius negative", with(func(r *sparcv1.SearchAssetsRequest) { r.RadiusMeters = f(-10) }), []string{"radius_meters"}, false},
		{"radius above 100 km", with(func(r *sparcv1.SearchAssetsRequest) { r.RadiusMeters = f(100000.5) }), []string{"radius_meters"}, false},
		{"radius NaN", with(func(r *sparcv1.SearchAssetsRequest) { r.RadiusMeters = f(math.NaN()) }), []string{"radius_meters"}, false},
		{"point without radius", &sparcv1.SearchAssetsRequest{Latitude: f(52.5), Longitude: f(-1.9)}, []string{"radius_meters"}, false},
		{"latitude alone", &sparcv1.SearchAssetsRequest{Latitude: f(52.5)}, []string{"longitude", "radius_meters"}, false},
		{"bbox with three numbers", &sparcv1.SearchAssetsRequest{Bbox: "-2,52,-1"}, []string{"bbox"}, false},
		{"bbox with a word", &sparcv1.SearchAssetsRequest{Bbox: "-2,52,east,53"}, []string{"bbox"}, false},
		{"bbox inverted", &sparcv1.SearchAssetsRequest{Bbox: "-1,53,-2,52"}, []string{"bbox"}, false},
		{"bbox out of range", &sparcv1.SearchAssetsRequest{Bbox: "-2,52,-1,95"}, []string{"bbox"}, false},
		{"bbox NaN", &sparcv1.SearchAssetsRequest{Bbox: "NaN,52,-1,53"}, []string{"bbox"}, false},
		{"point and bbox", with(func(r *sparcv1.SearchAssetsRequest) { r.Bbox = "-2,52,-1,53" }), []string{"bbox"}, false},
		{"self-intersecting polygon", &sparcv1.SearchAssetsRequest{WithinGeojson: bowTie}, []string{"within_geojson"}, false},
		{"unclosed polygon", &sparcv1.SearchAssetsRequest{WithinGeojson: unclosed}, []string{"within_geojson"}, false},
		{"polygon with too many vertices", &sparcv1.SearchAssetsRequest{WithinGeojson: tooMany}, []string{"within_geojson"}, false},
		{"polygon without coordinates", &sparcv1.SearchAssetsRequest{WithinGeojson: `{"type":"Polygon"}`}, []string{"within_geojson"}, false},
		{"polygon not JSON", &sparcv1.SearchAssetsRequest{WithinGeojson: "{"}, []string{"within_geojson"}, false},
		{"unknown category", with(func(r *sparcv1.SearchAssetsRequest) { r.Categories = []string{"food", "bingo"} }), []string{"categories[1]"}, false},
		{"unknown kind", with(func(r *sparcv1.SearchAssetsRequest) { r.Kinds = []sparcv1.AssetKind{9} }), []string{"kinds[0]"}, false},
		{"unspecified kind", with(func(r *sparcv1.SearchAssetsRequest) { r.Kinds = []sparcv1.AssetKind{1, 0} }), []string{"kinds[1]"}, false},
		{"unknown accessibility", with(func(r *sparcv1.SearchAssetsRequest) { r.Accessibility = []string{"ramp"} }), []string{"accessibility[0]"}, false},
		{"language not a code", with(func(r *sparcv1.SearchAssetsRequest) { r.Language = "English" }), []string{"language"}, false},
		{"age above 120", with(func(r *sparcv1.SearchAssetsRequest) { r.Age = i32(121) }), []string{"age"}, false},
		{"negative age", with(func(r *sparcv1.SearchAssetsRequest) { r.Age = i32(-1) }), []string{"age"}, false},
		{"query without words", with(func(r *sparcv1.SearchAssetsRequest) { r.Query = "&|!()" }), []string{"query"}, false},
		{"oversized query", with(func(r *sparcv1.SearchAssetsRequest) { r.Query = strings.Repeat("walk ", 41) }), []string{"query"}, false},
		{"unknown status", with(func(r *sparcv1.SearchAssetsRequest) { r.Statuses = []sparcv1.AssetStatus{5} }), []string{"statuses[0]"}, false},
		{"negative page size", with(func(r *sparcv1.SearchAssetsRequest) { r.PageSize = -1 }), []string{"page_size"}, false},
		{"malformed page token", with(func(r *sparcv1.SearchAssetsRequest) { r.PageToken = "!!not-a-token!!" }), []string{"page_token"}, false},
		{"tampered page token", with(func(r *sparcv1.SearchAssetsRequest) { r.PageToken = tamper(token) }), []string{"page_token"}, false},
		{"truncated page token", with(func(r *sparcv1.SearchAssetsRequest) { r.PageToken = token[:len(token)-2] }), []string{"page_token"}, false},
		{"token reused with another radius", with(func(r *sparcv1.SearchAssetsRequest) { r.RadiusMeters = f(6000); r.PageToken = token }), []string{"page_token"}, false},
		{"token reused with a filter added", with(func(r *sparcv1.SearchAssetsRequest) { r.FreeOnly = true; r.PageToken = token }), []string{"page_token"}, false},
		{"invalid open_at", with(func(r *sparcv1.SearchAssetsRequest) { r.OpenAt = &timestamppb.Timestamp{Seconds: 1, Nanos: -5} }), []string{"open_at"}, true},
	}
	for _, tr := range transports(t, env) {
		for _, tc := range cases {
			if tc.grpcOnly && tr.name != "grpc" {
				continue
			}
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				_, err := tr.api.SearchAssets(context.Background(), tc.req)
				if tr.name == "http" && unknownEnum(tc.req) {
					// No query string names the value: the gateway refuses
					// to parse it, with a 400 but no field violations.
					wantCode(t, err, codes.InvalidArgument)
					return
				}
				wantInvalid(t, err, tc.fields...)
			})
		}
	}
	// The same token with only the page size changed is accepted.
	for _, tr := range transports(t, env) {
		r := near()
		r.PageToken, r.PageSize = token, 2
		got, err := tr.api.SearchAssets(context.Background(), r)
		if err != nil {
			t.Fatalf("%s: token with another page size: %v", tr.name, err)
		}
		if len(got.GetResults()) != 2 {
			t.Fatalf("%s: second page has %d results, want 2", tr.name, len(got.GetResults()))
		}
	}
}

// Over HTTP the search is a GET with query parameters; this checks the
// documented example works as written and orders by distance.
func TestHTTPSearchByQueryString(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	far, near := validAsset(), validAsset()
	far.DisplayName, far.Location.Latitude, far.Location.Longitude = "Far", 52.4900, -1.8904
	near.DisplayName, near.Location.Latitude, near.Location.Longitude = "Near", 52.4865, -1.8904
	create(t, env.Assets, far)
	create(t, env.Assets, near)
	api := &httpClient{t: t, base: env.HTTPBase} // anonymous: searching is open data
	out := &sparcv1.SearchAssetsResponse{}
	if err := api.do(context.Background(), "GET", "/v1/assets:search?latitude=52.4862&longitude=-1.8904&radius_meters=3000", nil, nil, out); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range out.GetResults() {
		names = append(names, r.GetAsset().GetDisplayName())
	}
	if !slices.Equal(names, []string{"Near", "Far"}) {
		t.Fatalf("results %v, want [Near Far]", names)
	}
	if d := out.GetResults()[0].GetDistanceMeters(); math.Abs(d-33.36) > 1 {
		t.Fatalf("distance %v, want about 33 m", d)
	}
}

func TestListAssetsRejectsBadInput(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	for i := 0; i < 3; i++ {
		create(t, env.Assets, validAsset())
	}
	first, err := env.Assets.ListAssets(context.Background(), &sparcv1.ListAssetsRequest{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	token := first.GetNextPageToken()
	if token == "" {
		t.Fatal("no next page token")
	}
	cases := []struct {
		name     string
		req      *sparcv1.ListAssetsRequest
		fields   []string
		grpcOnly bool
	}{
		{"unknown category", &sparcv1.ListAssetsRequest{Categories: []string{"chess"}}, []string{"categories[0]"}, false},
		{"unknown kind", &sparcv1.ListAssetsRequest{Kinds: []sparcv1.AssetKind{2, 77}}, []string{"kinds[1]"}, false},
		{"unknown status", &sparcv1.ListAssetsRequest{Statuses: []sparcv1.AssetStatus{0}}, []string{"statuses[0]"}, false},
		{"owner not a name", &sparcv1.ListAssetsRequest{OwnerOrganisation: "handsworth"}, []string{"owner_organisation"}, false},
		{"owner as a bare id", &sparcv1.ListAssetsRequest{OwnerOrganisation: "3f2504e0-4f89-41d3-9a0c-0305e82c3301"}, []string{"owner_organisation"}, false},
		{"negative page size", &sparcv1.ListAssetsRequest{PageSize: -4}, []string{"page_size"}, false},
		{"malformed page token", &sparcv1.ListAssetsRequest{PageToken: "%%%"}, []string{"page_token"}, false},
		{"tampered page token", &sparcv1.ListAssetsRequest{PageToken: tamper(token)}, []string{"page_token"}, false},
		{"token reused with a filter", &sparcv1.ListAssetsRequest{PageToken: token, Categories: []string{"food"}}, []string{"page_token"}, false},
		{"search token on list", &sparcv1.ListAssetsRequest{PageToken: searchToken(t, env)}, []string{"page_token"}, false},
		{"invalid modified_since", &sparcv1.ListAssetsRequest{ModifiedSince: &timestamppb.Timestamp{Seconds: -1e12}}, []string{"modified_since"}, true},
	}
	for _, tr := range transports(t, env) {
		for _, tc := range cases {
			if tc.grpcOnly && tr.name != "grpc" {
				continue
			}
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				_, err := tr.api.ListAssets(context.Background(), tc.req)
				if tr.name == "http" && unknownEnum(tc.req) {
					wantCode(t, err, codes.InvalidArgument)
					return
				}
				wantInvalid(t, err, tc.fields...)
			})
		}
	}
}

func searchToken(t *testing.T, env *testenv.Env) string {
	r, err := env.Assets.SearchAssets(context.Background(), &sparcv1.SearchAssetsRequest{PageSize: 1})
	if err != nil || r.GetNextPageToken() == "" {
		t.Fatalf("search for a token: %v %v", r, err)
	}
	return r.GetNextPageToken()
}

// ListAssets against an oracle: every filter combination, walked page by
// page, returns exactly the matching assets in (update_time, id) order.
func TestListAssetsFiltersAndPagesAgainstOracle(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	orgBID := env.NewOrg(t, "Second organisation", "community_group")
	orgB := "organisations/" + orgBID
	// Each organisation's admin writes its own assets.
	adminB := env.AssetsOf(t, orgBID)
	as := func(a *sparcv1.Asset) sparcv1.AssetServiceClient {
		if a.GetOwnerOrganisation() == orgB {
			return adminB
		}
		return env.Assets
	}
	var all []*sparcv1.Asset
	kinds := []sparcv1.AssetKind{1, 2, 4}
	statuses := []sparcv1.AssetStatus{1, 2, 3}
	var midpoint time.Time
	for i := 0; i < 24; i++ {
		a := validAsset()
		a.DisplayName = "Asset " + string(rune('A'+i))
		a.Kind = kinds[i%3]
		a.Status = statuses[(i/3)%3]
		a.Categories = [][]string{{"food"}, {"faith", "carers"}, {"food", "housing"}, nil}[i%4]
		if i%2 == 1 {
			a.OwnerOrganisation = orgB
		}
		if i == 12 {
			midpoint = time.Now()
		}
		all = append(all, create(t, as(a), a))
	}
	// Touch a few so update order differs from creation order.
	for _, i := range []int{0, 5, 7} {
		u, err := as(all[i]).UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{Asset: &sparcv1.Asset{Name: all[i].GetName(), Description: "touched"},
			UpdateMask: withMask("description")})
		if err != nil {
			t.Fatal(err)
		}
		all[i] = u
	}
	slices.SortFunc(all, func(a, b *sparcv1.Asset) int {
		if c := a.GetUpdateTime().AsTime().Compare(b.GetUpdateTime().AsTime()); c != 0 {
			return c
		}
		return strings.Compare(a.GetName(), b.GetName())
	})
	reqs := []*sparcv1.ListAssetsRequest{
		{},
		{Categories: []string{"food"}},
		{Categories: []string{"carers", "housing"}},
		{Kinds: []sparcv1.AssetKind{1, 4}},
		{Statuses: []sparcv1.AssetStatus{2}},
		{OwnerOrganisation: orgB},
		{ModifiedSince: timestamppb.New(midpoint)},
		{Categories: []string{"food"}, Kinds: []sparcv1.AssetKind{2}, Statuses: []sparcv1.AssetStatus{1, 3}, OwnerOrganisation: "organisations/" + env.AdminOrg},
	}
	for _, tr := range transports(t, env) {
		for _, base := range reqs {
			var want []string
			for _, a := range all {
				if listMatches(a, base) {
					want = append(want, a.GetName())
				}
			}
			for _, size := range []int32{1, 4, 0} {
				req := proto.Clone(base).(*sparcv1.ListAssetsRequest)
				req.PageSize = size
				var got []string
				for page := 0; ; page++ {
					resp, err := tr.api.ListAssets(ctx, req)
					if err != nil {
						t.Fatalf("%s %v page %d: %v", tr.name, req, page, err)
					}
					if size > 0 && len(resp.GetAssets()) > int(size) {
						t.Fatalf("page of %d for page size %d", len(resp.GetAssets()), size)
					}
					for _, a := range resp.GetAssets() {
						got = append(got, a.GetName())
					}
					if resp.GetNextPageToken() == "" {
						break
					}
					req.PageToken = resp.GetNextPageToken()
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s %v (page size %d):\n got %v\nwant %v", tr.name, base, size, got, want)
				}
			}
		}
	}
}

func listMatches(a *sparcv1.Asset, r *sparcv1.ListAssetsRequest) bool {
	if len(r.GetCategories()) > 0 && !slices.ContainsFunc(a.GetCategories(), func(c string) bool { return slices.Contains(r.GetCategories(), c) }) {
		return false
	}
	if len(r.GetKinds()) > 0 && !slices.Contains(r.GetKinds(), a.GetKind()) {
		return false
	}
	if len(r.GetStatuses()) > 0 && !slices.Contains(r.GetStatuses(), a.GetStatus()) {
		return false
	}
	if r.GetOwnerOrganisation() != "" && a.GetOwnerOrganisation() != r.GetOwnerOrganisation() {
		return false
	}
	if r.GetModifiedSince() != nil && a.GetUpdateTime().AsTime().Before(r.GetModifiedSince().AsTime()) {
		return false
	}
	return true
}

// unknownEnum reports whether a top-level enum field of m holds a number
// the enum does not define.
func unknownEnum(m proto.Message) bool {
	found := false
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.EnumKind {
			return true
		}
		check := func(n protoreflect.EnumNumber) {
			if fd.Enum().Values().ByNumber(n) == nil {
				found = true
			}
		}
		if fd.IsList() {
			for i := 0; i < v.List().Len(); i++ {
				check(v.List().Get(i).Enum())
			}
		} else {
			check(v.Enum())
		}
		return true
	})
	return found
}

// Text search in English and Dutch: word prefixes, stemmed forms and
// accents, over both transports.
func TestTextSearchMatchesPrefixesStemsAndAccentsInEnglishAndDutch(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	names := map[string]string{
		"walk":    "Walking group, Tuesday mornings",
		"wandel":  "Wandelgroep Kralingen: samen wandelen",
		"cafe":    "Café Bonjour repair café",
		"central": "Cafe Central",
		"garden":  "Community gardening club",
	}
	ids := map[string]string{}
	for k, name := range names {
		a := validAsset()
		a.DisplayName, a.Description = name, ""
		ids[create(t, env.Assets, a).GetName()] = k
	}
	cases := []struct {
		query string
		want  []string
	}{
		{"walk", []string{"walk"}},
		{"Walking", []string{"walk"}},
		{"tues", []string{"walk"}},
		{"walk tues", []string{"walk"}},
		{"walk kralingen", nil},
		{"wandel", []string{"wandel"}},
		{"wandelen", []string{"wandel"}},
		{"KRAL", []string{"wandel"}},
		{"cafe", []string{"cafe", "central"}},
		{"café", []string{"cafe", "central"}},
		{"bonj", []string{"cafe"}},
		{"gardens", []string{"garden"}},
		{"commun", []string{"garden"}},
		{"xyzzy", nil},
	}
	for _, tr := range transports(t, env) {
		for _, tc := range cases {
			t.Run(tr.name+"/"+tc.query, func(t *testing.T) {
				resp, err := tr.api.SearchAssets(context.Background(), &sparcv1.SearchAssetsRequest{Query: tc.query, PageSize: 100})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, r := range resp.GetResults() {
					got = append(got, ids[r.GetAsset().GetName()])
				}
				slices.Sort(got)
				if !slices.Equal(got, tc.want) {
					t.Fatalf("query %q found %v, want %v", tc.query, got, tc.want)
				}
			})
		}
	}
}
