package assets_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/testenv"
)

// basicFields are the Asset fields the BASIC view sets (the AssetView
// comment in assets.proto), with, for a message, the only fields of it
// that are set; fullOnlyFields are those only FULL sets. Every field of
// Asset is in exactly one of them: a field added to Asset fails
// TestBasicViewSetsExactlyTheDocumentedFields until it is classified here
// (and in the proto comment, and in basicColumns).
var (
	basicFields = map[string][]string{
		"name": nil, "display_name": nil, "kind": nil, "categories": nil,
		"location": {"latitude", "longitude", "locality", "country"},
		"cost":     {"kind"}, "accessibility": nil, "accepting_referrals": nil, "places_left": nil,
		"status": nil, "delivery_mode": nil, "service_area": nil, "next_session_time": nil,
	}
	fullOnlyFields = []string{"description", "service_area_geojson", "sessions", "languages", "age_range",
		"contact", "capacity", "owner_organisation", "last_verified_time", "create_time", "update_time",
		"etag", "availability"}
)

// basicOf is what the BASIC view of full must be: full with every field
// and sub-field outside basicFields cleared.
func basicOf(t *testing.T, full *sparcv1.Asset) *sparcv1.Asset {
	t.Helper()
	a := proto.CloneOf(full)
	m := a.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		sub, basic := basicFields[string(fd.Name())]
		switch {
		case !basic && !slices.Contains(fullOnlyFields, string(fd.Name())):
			t.Fatalf("Asset.%s is in neither view's list: classify it (basicFields or fullOnlyFields)", fd.Name())
		case !basic:
			m.Clear(fd)
		case sub != nil && m.Has(fd):
			inner := m.Mutable(fd).Message()
			subs := inner.Descriptor().Fields()
			for j := range subs.Len() {
				if !slices.Contains(sub, string(subs.Get(j).Name())) {
					inner.Clear(subs.Get(j))
				}
			}
		}
	}
	return a
}

// BASIC carries exactly the fields the API documents for it, with the
// values FULL gives, and nothing else; FULL carries every field the asset
// has, next_session_time included.
func TestBasicViewSetsExactlyTheDocumentedFields(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	inPerson := validAsset() // every field set that an in-person asset can have
	inPerson.LastVerifiedTime = timestamppb.New(time.Now().Add(-time.Hour).Truncate(time.Second))
	inPerson.Availability = sparcv1.Availability_AVAILABILITY_DROP_IN
	inPerson.OwnerOrganisation = "organisations/" + env.AdminOrg
	inPerson.DeliveryMode = sparcv1.DeliveryMode_DELIVERY_MODE_IN_PERSON
	remote := validAsset()
	remote.DisplayName = "Phone befriending"
	remote.DeliveryMode = sparcv1.DeliveryMode_DELIVERY_MODE_TELEPHONE
	remote.Location = &sparcv1.Location{Country: "GB", Address: "PO Box 1", Locality: "Birmingham"}
	remote.ServiceAreaGeojson = ""
	remote.ServiceArea = &sparcv1.ServiceArea{Country: "GB"}
	remote.LastVerifiedTime = inPerson.LastVerifiedTime
	remote.Availability = sparcv1.Availability_AVAILABILITY_SESSIONS
	create(t, env.Assets, inPerson)
	create(t, env.Assets, remote)

	search := func(view sparcv1.AssetView) []*sparcv1.SearchResult {
		t.Helper()
		resp, err := env.Assets.SearchAssets(ctx, &sparcv1.SearchAssetsRequest{Latitude: proto.Float64(52.5047),
			Longitude: proto.Float64(-1.9248), RadiusMeters: proto.Float64(1000), View: view})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetResults()) != 2 {
			t.Fatalf("%v: %d results, want the asset and the remote service", view, len(resp.GetResults()))
		}
		return resp.GetResults()
	}
	full, basic := search(sparcv1.AssetView_ASSET_VIEW_FULL), search(sparcv1.AssetView_ASSET_VIEW_BASIC)
	for i, f := range full {
		fa, ba := f.GetAsset(), basic[i].GetAsset()
		// FULL sets every field the asset has (the remote service has no
		// point, no drawn area and no age range of its own to give).
		fields := fa.ProtoReflect().Descriptor().Fields()
		for j := range fields.Len() {
			fd := fields.Get(j)
			optional := fd.Name() == "service_area_geojson" || fd.Name() == "service_area"
			if !fa.ProtoReflect().Has(fd) && !optional {
				t.Errorf("%s FULL: %s unset", fa.GetDisplayName(), fd.Name())
			}
		}
		if want := basicOf(t, fa); !proto.Equal(ba, want) {
			t.Errorf("%s BASIC:\n got %v\nwant %v", fa.GetDisplayName(), ba, want)
		}
		if ba.GetNextSessionTime() == nil {
			t.Errorf("%s BASIC: no next_session_time (the Tuesday session)", fa.GetDisplayName())
		}
		if f.GetDistanceMeters() != basic[i].GetDistanceMeters() || f.GetRemote() != basic[i].GetRemote() {
			t.Errorf("%s: FULL at %v m (remote %v), BASIC at %v m (remote %v)", fa.GetDisplayName(),
				f.GetDistanceMeters(), f.GetRemote(), basic[i].GetDistanceMeters(), basic[i].GetRemote())
		}
	}
	if !full[1].GetRemote() || basic[1].GetAsset().GetServiceArea().GetCountry() != "GB" {
		t.Fatalf("the remote service should follow, with its area: %v", basic[1])
	}
	// The asset's own page says when it next meets, as its search result
	// does (the same weekly session, so the same instant).
	got, err := env.Assets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: full[0].GetAsset().GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if g, w := got.GetNextSessionTime(), full[0].GetAsset().GetNextSessionTime(); g == nil || !g.AsTime().Equal(w.AsTime()) {
		t.Errorf("GetAsset next_session_time %v, the search's %v", g, w)
	}
}

// The two views of a search are the same search: the same assets, in the
// same order, at the same distances, page by page, for every kind of
// place, text and the remote services.
func TestBasicAndFullSearchesFindTheSame(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	const lat, lng = 52.4862, -1.8904
	rng := rand.New(rand.NewPCG(16, 1))
	words := []string{"walking", "choir", "garden", "tea", "craft"}
	var batch []*sparcv1.Asset
	for i := range 150 {
		a := validAsset()
		a.DisplayName = fmt.Sprintf("%s group %d", words[i%len(words)], i)
		a.ServiceAreaGeojson = ""
		a.Location.Latitude, a.Location.Longitude = lat+(rng.Float64()-0.5)*0.04, lng+(rng.Float64()-0.5)*0.06
		if i%10 == 0 {
			a.Location.Latitude, a.Location.Longitude = lat, lng // ties at the centre
		}
		batch = append(batch, a)
	}
	if _, err := assets.NewStore(env.Pool).BulkInsert(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r := validAsset()
		r.DisplayName = fmt.Sprintf("walking line %d", i)
		r.DeliveryMode = sparcv1.DeliveryMode_DELIVERY_MODE_ONLINE
		r.Location = &sparcv1.Location{Country: "GB"}
		r.ServiceAreaGeojson = ""
		r.ServiceArea = &sparcv1.ServiceArea{Country: "GB"}
		create(t, env.Assets, r)
	}
	near := func(r *sparcv1.SearchAssetsRequest) *sparcv1.SearchAssetsRequest {
		r.Latitude, r.Longitude, r.RadiusMeters = proto.Float64(lat), proto.Float64(lng), proto.Float64(1500)
		return r
	}
	requests := map[string]*sparcv1.SearchAssetsRequest{
		"point":                 near(&sparcv1.SearchAssetsRequest{PageSize: 7}),
		"point, remote exclude": near(&sparcv1.SearchAssetsRequest{PageSize: 9, Remote: sparcv1.RemoteFilter_REMOTE_FILTER_EXCLUDE}),
		"point and text":        near(&sparcv1.SearchAssetsRequest{PageSize: 4, Query: "walking"}),
		"bbox":                  {PageSize: 11, Bbox: fmt.Sprintf("%f,%f,%f,%f", lng-0.02, lat-0.01, lng+0.02, lat+0.01)},
		"text":                  {PageSize: 6, Query: "garden"},
		"remote only":           near(&sparcv1.SearchAssetsRequest{PageSize: 2, Remote: sparcv1.RemoteFilter_REMOTE_FILTER_ONLY}),
		"everything":            {PageSize: 50},
	}
	for name, req := range requests {
		t.Run(name, func(t *testing.T) {
			pages := func(view sparcv1.AssetView) (out []string) {
				r := proto.CloneOf(req)
				r.View = view
				for range 100 {
					resp, err := env.Assets.SearchAssets(ctx, r)
					if err != nil {
						t.Fatal(err)
					}
					for _, h := range resp.GetResults() {
						out = append(out, fmt.Sprintf("%s at %v remote %v next %v", h.GetAsset().GetName(),
							h.GetDistanceMeters(), h.GetRemote(), h.GetAsset().GetNextSessionTime().AsTime()))
					}
					if r.PageToken = resp.GetNextPageToken(); r.PageToken == "" {
						return out
					}
				}
				t.Fatal("more than 100 pages")
				return nil
			}
			full, basic := pages(sparcv1.AssetView_ASSET_VIEW_UNSPECIFIED), pages(sparcv1.AssetView_ASSET_VIEW_BASIC)
			if len(full) < 3 {
				t.Fatalf("only %d results: the case tests nothing", len(full))
			}
			if !slices.Equal(full, basic) {
				t.Fatalf("FULL and BASIC differ:\nFULL  %v\nBASIC %v", full, basic)
			}
		})
	}
}

// ListAssets in the BASIC view pages through the same assets in the same
// order as FULL, each with only the BASIC fields.
func TestListAssetsBasicViewPages(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	for i := range 7 {
		a := validAsset()
		a.DisplayName = fmt.Sprintf("Listed %d", i)
		create(t, env.Assets, a)
	}
	list := func(view sparcv1.AssetView) (out []*sparcv1.Asset) {
		req := &sparcv1.ListAssetsRequest{PageSize: 3, View: view}
		for range 10 {
			resp, err := env.Assets.ListAssets(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, resp.GetAssets()...)
			if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
				return out
			}
		}
		t.Fatal("more than 10 pages")
		return nil
	}
	full, basic := list(sparcv1.AssetView_ASSET_VIEW_FULL), list(sparcv1.AssetView_ASSET_VIEW_BASIC)
	if len(full) != 7 || len(basic) != 7 {
		t.Fatalf("FULL listed %d, BASIC %d, want 7 each", len(full), len(basic))
	}
	for i := range full {
		if want := basicOf(t, full[i]); !proto.Equal(basic[i], want) {
			t.Fatalf("asset %d BASIC:\n got %v\nwant %v", i, basic[i], want)
		}
		if full[i].GetNextSessionTime() == nil {
			t.Fatalf("asset %d FULL: no next_session_time", i)
		}
	}
}

// An unknown view is refused with the field at fault, on both calls.
func TestUnknownViewIsInvalid(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	_, err := env.Assets.SearchAssets(ctx, &sparcv1.SearchAssetsRequest{View: 7})
	wantInvalid(t, err, "view")
	_, err = env.Assets.ListAssets(ctx, &sparcv1.ListAssetsRequest{View: -1})
	wantInvalid(t, err, "view")
}

// Over HTTP the view is given by name or number. The gateway writes every
// field (EmitUnpopulated): in BASIC those outside the view are empty.
func TestHTTPSearchView(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	create(t, env.Assets, validAsset())
	const where = "/v1/assets:search?latitude=52.5047&longitude=-1.9248&radius_meters=1000"
	search := func(view string) *sparcv1.Asset {
		t.Helper()
		resp, body := env.Do(t, http.MethodGet, where+view, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("view%s: %d %s", view, resp.StatusCode, body)
		}
		out := &sparcv1.SearchAssetsResponse{}
		if err := protojson.Unmarshal(body, out); err != nil || len(out.GetResults()) != 1 {
			t.Fatalf("view%s: %v, %s", view, err, body)
		}
		return out.GetResults()[0].GetAsset()
	}
	full := search("")
	if full.GetDescription() == "" || full.GetEtag() == "" || full.GetNextSessionTime() == nil {
		t.Fatalf("FULL over HTTP: %v", full)
	}
	for _, view := range []string{"&view=ASSET_VIEW_BASIC", "&view=1"} {
		if got, want := search(view), basicOf(t, full); !proto.Equal(got, want) {
			t.Errorf("view%s:\n got %v\nwant %v", view, got, want)
		}
	}
	if resp, body := env.Do(t, http.MethodGet, where+"&view=ASSET_VIEW_NONE", ""); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("an unknown view name: %d %s", resp.StatusCode, body)
	}
}

// A point search walks the GiST index in distance order (KNN) on the
// connections it runs on, with no planner-settings statement in front:
// the settings are the point search pool's sessions' own, which EXPLAIN
// (SETTINGS) reports. Without them PostGIS's estimate of a handful of rows
// in the circle can make the planner read and sort every asset in it (a
// bitmap scan).
func TestPointSearchPlanIsTheKNNIndexScan(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	const lat, lng = 52.4862, -1.8904
	rng := rand.New(rand.NewPCG(16, 2))
	var batch []*sparcv1.Asset
	for i := range 3000 {
		batch = append(batch, &sparcv1.Asset{Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: fmt.Sprintf("Dense %d", i),
			Status:   sparcv1.AssetStatus_ASSET_STATUS_ACTIVE,
			Location: &sparcv1.Location{Latitude: lat + (rng.Float64()-0.5)*0.02, Longitude: lng + (rng.Float64()-0.5)*0.03, Country: "GB"}})
	}
	if _, err := assets.NewStore(env.Pool).BulkInsert(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Pool.Exec(ctx, "ANALYZE assets"); err != nil {
		t.Fatal(err)
	}
	for _, basic := range []bool{false, true} {
		q := assets.SearchQuery{Near: &assets.Near{Lat: lat, Lng: lng, RadiusMeters: 2000}, Statuses: []string{"active"},
			Limit: 20, Basic: basic}
		plan, err := env.App.Assets.ExplainSearch(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Index Scan using assets_location_gist", "Order By: (location <->", "enable_bitmapscan = 'off'", "jit = 'off'"} {
			if !strings.Contains(plan, want) {
				t.Fatalf("basic %v: the plan lacks %q:\n%s", basic, want, plan)
			}
		}
		if strings.Contains(plan, "Bitmap") {
			t.Fatalf("basic %v: a bitmap scan:\n%s", basic, plan)
		}
	}
}
