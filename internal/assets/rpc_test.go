package assets_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/testenv"
	"github.com/sparc-network/sparc/internal/vocab"
)

func ptr[T any](v T) *T { return &v }

// square is a closed counter-clockwise ring around (lng, lat).
func square(lng, lat, half float64) [][2]float64 {
	return [][2]float64{{lng - half, lat - half}, {lng + half, lat - half}, {lng + half, lat + half}, {lng - half, lat + half}, {lng - half, lat - half}}
}

func polygonJSON(rings ...[][2]float64) string {
	return string(mustJSON(map[string]any{"type": "Polygon", "coordinates": rings}))
}

// manyVertices is a valid ring (a circle) with n positions.
func manyVertices(n int) string {
	ring := make([][2]float64, n)
	for i := 0; i < n-1; i++ {
		a := 2 * math.Pi * float64(i) / float64(n-1)
		ring[i] = [2]float64{-1.9 + 0.05*math.Cos(a), 52.5 + 0.05*math.Sin(a)}
	}
	ring[n-1] = ring[0]
	return polygonJSON(ring)
}

var (
	bowTie   = polygonJSON([][2]float64{{-1.95, 52.45}, {-1.85, 52.55}, {-1.85, 52.45}, {-1.95, 52.55}, {-1.95, 52.45}})
	unclosed = `{"type":"Polygon","coordinates":[[[-1.95,52.45],[-1.85,52.45],[-1.85,52.55],[-1.95,52.55]]]}`
	tooMany  = manyVertices(2001)
)

func TestCreateAssetRejectsBadInputAndWritesNothing(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	long := strings.Repeat("x", 201)
	cases := []struct {
		name     string
		change   func(a *sparcv1.Asset)
		assetID  string
		fields   []string
		grpcOnly bool // the request has no HTTP/JSON form
	}{
		{"empty display name", func(a *sparcv1.Asset) { a.DisplayName = "" }, "", []string{"asset.display_name"}, false},
		{"blank display name", func(a *sparcv1.Asset) { a.DisplayName = " \t " }, "", []string{"asset.display_name"}, false},
		{"oversized display name", func(a *sparcv1.Asset) { a.DisplayName = long }, "", []string{"asset.display_name"}, false},
		{"display name with NUL", func(a *sparcv1.Asset) { a.DisplayName = "walk\x00ing" }, "", []string{"asset.display_name"}, false},
		{"description with NUL", func(a *sparcv1.Asset) { a.Description = "tea\x00" }, "", []string{"asset.description"}, false},
		{"oversized description", func(a *sparcv1.Asset) { a.Description = strings.Repeat("é", 5001) }, "", []string{"asset.description"}, false},
		{"kind unspecified", func(a *sparcv1.Asset) { a.Kind = 0 }, "", []string{"asset.kind"}, false},
		{"unknown kind", func(a *sparcv1.Asset) { a.Kind = 99 }, "", []string{"asset.kind"}, false},
		{"unknown category", func(a *sparcv1.Asset) { a.Categories = []string{"food", "knitting"} }, "", []string{"asset.categories[1]"}, false},
		{"duplicate category", func(a *sparcv1.Asset) { a.Categories = []string{"food", "food"} }, "", []string{"asset.categories[1]"}, false},
		{"unknown accessibility", func(a *sparcv1.Asset) { a.Accessibility = []string{"lift"} }, "", []string{"asset.accessibility[0]"}, false},
		{"no location", func(a *sparcv1.Asset) { a.Location = nil }, "", []string{"asset.location"}, false},
		{"latitude above 90", func(a *sparcv1.Asset) { a.Location.Latitude = 90.0001 }, "", []string{"asset.location.latitude"}, false},
		{"latitude below -90", func(a *sparcv1.Asset) { a.Location.Latitude = -91 }, "", []string{"asset.location.latitude"}, false},
		{"latitude NaN", func(a *sparcv1.Asset) { a.Location.Latitude = math.NaN() }, "", []string{"asset.location.latitude"}, false},
		{"latitude infinite", func(a *sparcv1.Asset) { a.Location.Latitude = math.Inf(1) }, "", []string{"asset.location.latitude"}, false},
		{"longitude above 180", func(a *sparcv1.Asset) { a.Location.Longitude = 180.5 }, "", []string{"asset.location.longitude"}, false},
		{"longitude NaN", func(a *sparcv1.Asset) { a.Location.Longitude = math.NaN() }, "", []string{"asset.location.longitude"}, false},
		{"unsupported country", func(a *sparcv1.Asset) { a.Location.Country = "FR" }, "", []string{"asset.location.country"}, false},
		{"self-intersecting service area", func(a *sparcv1.Asset) { a.ServiceAreaGeojson = bowTie }, "", []string{"asset.service_area_geojson"}, false},
		{"unclosed service area", func(a *sparcv1.Asset) { a.ServiceAreaGeojson = unclosed }, "", []string{"asset.service_area_geojson"}, false},
		{"service area with too many vertices", func(a *sparcv1.Asset) { a.ServiceAreaGeojson = tooMany }, "", []string{"asset.service_area_geojson"}, false},
		{"service area with a pole-to-pole edge", func(a *sparcv1.Asset) {
			a.ServiceAreaGeojson = polygonJSON([][2]float64{{-180, -90}, {180, -90}, {180, 90}, {-180, 90}, {-180, -90}})
		}, "", []string{"asset.service_area_geojson"}, false},
		{"service area not JSON", func(a *sparcv1.Asset) { a.ServiceAreaGeojson = "POLYGON((0 0,1 0,1 1,0 0))" }, "", []string{"asset.service_area_geojson"}, false},
		{"service area is a point", func(a *sparcv1.Asset) { a.ServiceAreaGeojson = `{"type":"Point","coordinates":[-1.9,52.5]}` }, "", []string{"asset.service_area_geojson"}, false},
		{"zero-area service area (collinear)", func(a *sparcv1.Asset) {
			a.ServiceAreaGeojson = polygonJSON([][2]float64{{-1.9, 52.4}, {-1.8, 52.5}, {-1.7, 52.6}, {-1.9, 52.4}})
		}, "", []string{"asset.service_area_geojson"}, false},
		{"degenerate service area (repeated position)", func(a *sparcv1.Asset) {
			a.ServiceAreaGeojson = polygonJSON([][2]float64{{-1.9, 52.4}, {-1.9, 52.4}, {-1.9, 52.4}, {-1.9, 52.4}})
		}, "", []string{"asset.service_area_geojson"}, false},
		{"session ends before it starts", func(a *sparcv1.Asset) { a.Sessions[0].EndTime = "09:30" }, "", []string{"asset.sessions[0].end_time"}, false},
		{"session ends when it starts", func(a *sparcv1.Asset) { a.Sessions[0].EndTime = "10:00" }, "", []string{"asset.sessions[0].end_time"}, false},
		{"session start not a time", func(a *sparcv1.Asset) { a.Sessions[0].StartTime = "24:00" }, "", []string{"asset.sessions[0].start_time"}, false},
		{"bad timezone", func(a *sparcv1.Asset) { a.Sessions[0].Timezone = "Mars/Olympus_Mons" }, "", []string{"asset.sessions[0].timezone"}, false},
		{"Local is not a timezone", func(a *sparcv1.Asset) { a.Sessions[0].Timezone = "Local" }, "", []string{"asset.sessions[0].timezone"}, false},
		{"missing timezone", func(a *sparcv1.Asset) { a.Sessions[0].Timezone = "" }, "", []string{"asset.sessions[0].timezone"}, false},
		{"session without day", func(a *sparcv1.Asset) { a.Sessions[0].Day = 0 }, "", []string{"asset.sessions[0].day"}, false},
		{"valid_until before valid_from", func(a *sparcv1.Asset) { a.Sessions[0].ValidUntil = "2025-12-31" }, "", []string{"asset.sessions[0].valid_until"}, false},
		{"valid_from not a date", func(a *sparcv1.Asset) { a.Sessions[0].ValidFrom = "2026-13-01" }, "", []string{"asset.sessions[0].valid_from"}, false},
		{"valid_from in year zero", func(a *sparcv1.Asset) { a.Sessions[0].ValidFrom = "0000-01-01" }, "", []string{"asset.sessions[0].valid_from"}, false},
		{"unknown cost kind", func(a *sparcv1.Asset) { a.Cost.Kind = 42 }, "", []string{"asset.cost.kind"}, false},
		{"upper-case language", func(a *sparcv1.Asset) { a.Languages = []string{"en", "NL"} }, "", []string{"asset.languages[1]"}, false},
		{"min age above max age", func(a *sparcv1.Asset) { a.AgeRange.MinAge = ptr(int32(100)) }, "", []string{"asset.age_range"}, false},
		{"negative min age", func(a *sparcv1.Asset) { a.AgeRange.MinAge = ptr(int32(-1)) }, "", []string{"asset.age_range.min_age"}, false},
		{"bad email", func(a *sparcv1.Asset) { a.Contact.Email = "Sam <walks@example.org>" }, "", []string{"asset.contact.email"}, false},
		{"bad phone", func(a *sparcv1.Asset) { a.Contact.Phone = "call us" }, "", []string{"asset.contact.phone"}, false},
		{"bad website", func(a *sparcv1.Asset) { a.Contact.Website = "ftp://example.org" }, "", []string{"asset.contact.website"}, false},
		{"negative capacity", func(a *sparcv1.Asset) { a.Capacity = ptr(int32(-1)) }, "", []string{"asset.capacity"}, false},
		{"unknown status", func(a *sparcv1.Asset) { a.Status = 7 }, "", []string{"asset.status"}, false},
		{"verified in the future", func(a *sparcv1.Asset) { a.LastVerifiedTime = timestamppb.New(time.Now().Add(72 * time.Hour)) }, "", []string{"asset.last_verified_time"}, false},
		{"owner not an organisation name", func(a *sparcv1.Asset) { a.OwnerOrganisation = "org\x00" }, "", []string{"asset.owner_organisation"}, false},
		{"owner as a bare id", func(a *sparcv1.Asset) { a.OwnerOrganisation = env.AdminOrg }, "", []string{"asset.owner_organisation"}, false},
		{"owner of another collection", func(a *sparcv1.Asset) { a.OwnerOrganisation = "people/" + env.AdminOrg }, "", []string{"asset.owner_organisation"}, false},
		{"address with NUL", func(a *sparcv1.Asset) { a.Location.Address = "1\x00 Road" }, "", []string{"asset.location.address"}, false},
		{"asset id not a UUID", nil, "walking-group", []string{"asset_id"}, false},
		{"asset id given as a name", nil, "assets/3f2504e0-4f89-41d3-9a0c-0305e82c3301", []string{"asset_id"}, false},
		{"asset id in upper case", nil, "3F2504E0-4F89-41D3-9A0C-0305E82C3301", []string{"asset_id"}, false},
		{"several problems at once", func(a *sparcv1.Asset) { a.DisplayName = ""; a.Location.Latitude = 95; a.Categories = []string{"x"} }, "",
			[]string{"asset.display_name", "asset.location.latitude", "asset.categories[0]"}, false},
		{"missing asset", nil, "", []string{"asset"}, true}, // no HTTP form: the body is the asset
	}
	for _, tr := range transports(t, env) {
		for _, tc := range cases {
			if tc.grpcOnly && tr.name != "grpc" {
				continue
			}
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				req := &sparcv1.CreateAssetRequest{AssetId: tc.assetID}
				if tc.change != nil || tc.assetID != "" {
					req.Asset = validAsset()
				}
				if tc.change != nil {
					tc.change(req.Asset)
				}
				before := countAssets(t, env)
				_, err := tr.api.CreateAsset(context.Background(), req)
				wantInvalid(t, err, tc.fields...)
				if after := countAssets(t, env); after != before {
					t.Fatalf("a rejected create changed the row count from %d to %d", before, after)
				}
			})
		}
	}
}

func TestCreateAssetStoresEveryFieldAndGetReturnsIt(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	org := env.AdminOrg
	for _, tr := range transports(t, env) {
		t.Run(tr.name, func(t *testing.T) {
			in := validAsset()
			in.LastVerifiedTime = timestamppb.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
			created := create(t, tr.api, in)
			if created.GetName() == "" || created.GetEtag() == "" || created.GetCreateTime() == nil || created.GetUpdateTime() == nil {
				t.Fatalf("output-only fields missing: %v", created)
			}
			// The server canonicalises: postcode upper case, service area as a
			// MultiPolygon; everything else comes back as sent.
			want := proto.Clone(in).(*sparcv1.Asset)
			want.Location.Postcode = "B20 2RY"
			want.OwnerOrganisation = "organisations/" + org // defaults to the caller's
			want.PlacesLeft = want.Capacity                 // no referral holds a place
			if d := diff(want, created, "name", "etag", "create_time", "update_time", "service_area_geojson"); d != "" {
				t.Fatalf("created asset differs from request (-want +got):\n%s", d)
			}
			if !strings.Contains(created.GetServiceAreaGeojson(), "MultiPolygon") {
				t.Fatalf("service area = %q, want a MultiPolygon", created.GetServiceAreaGeojson())
			}
			if _, err := uuid.Parse(strings.TrimPrefix(created.GetName(), "assets/")); err != nil || !strings.HasPrefix(created.GetName(), "assets/") {
				t.Fatalf("name = %q, want assets/{uuid}", created.GetName())
			}
			got, err := tr.api.GetAsset(context.Background(), &sparcv1.GetAssetRequest{Name: created.GetName()})
			if err != nil {
				t.Fatalf("get %s: %v", created.GetName(), err)
			}
			if d := diff(created, got); d != "" {
				t.Fatalf("get %s differs from create (-create +get):\n%s", created.GetName(), d)
			}
		})
	}
}

func TestCreateAssetWithATakenIDIsAlreadyExists(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	for i, tr := range transports(t, env) {
		t.Run(tr.name, func(t *testing.T) {
			id := []string{"3f2504e0-4f89-41d3-9a0c-0305e82c3301", "9a1c0c9e-4a53-4f55-9a44-1f3d7c1c2b10"}[i]
			a, err := tr.api.CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: validAsset(), AssetId: id})
			if err != nil {
				t.Fatal(err)
			}
			if a.GetName() != "assets/"+id {
				t.Fatalf("name = %s, want assets/%s", a.GetName(), id)
			}
			before := countAssets(t, env)
			_, err = tr.api.CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: validAsset(), AssetId: id})
			wantCode(t, err, codes.AlreadyExists)
			if countAssets(t, env) != before {
				t.Fatal("second create with the same id wrote a row")
			}
		})
	}
}

func TestGetAssetErrors(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	cases := []struct {
		name, id string
		code     codes.Code
		field    string
		grpcOnly bool
	}{
		{"empty name", "", codes.InvalidArgument, "name", true},
		{"not a UUID", "assets/handsworth", codes.InvalidArgument, "name", false},
		{"UUID without dashes", "assets/3f2504e04f8941d39a0c0305e82c3301", codes.InvalidArgument, "name", false},
		{"UUID in upper case", "assets/3F2504E0-4F89-41D3-9A0C-0305E82C3301", codes.InvalidArgument, "name", false},
		// The HTTP path always holds the collection: these have no HTTP form.
		{"bare UUID", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", codes.InvalidArgument, "name", true},
		{"name of another collection", "referrals/3f2504e0-4f89-41d3-9a0c-0305e82c3301", codes.InvalidArgument, "name", true},
		{"missing asset", "assets/3f2504e0-4f89-41d3-9a0c-0305e82c3301", codes.NotFound, "", false},
	}
	for _, tr := range transports(t, env) {
		for _, tc := range cases {
			if tc.grpcOnly && tr.name != "grpc" {
				continue
			}
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				_, err := tr.api.GetAsset(context.Background(), &sparcv1.GetAssetRequest{Name: tc.id})
				if tc.field != "" {
					wantInvalid(t, err, tc.field)
				} else {
					wantCode(t, err, tc.code)
				}
			})
		}
	}
}

func TestUpdateAssetRejectsBadInputAndLeavesAssetUnchanged(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	for _, tr := range transports(t, env) {
		orig := create(t, tr.api, validAsset())
		// A real etag of an earlier version: update once, keep the old one.
		stale := orig.GetEtag()
		cur, err := tr.api.UpdateAsset(context.Background(), &sparcv1.UpdateAssetRequest{
			Asset:      &sparcv1.Asset{Name: orig.GetName(), DisplayName: "Handsworth Park walkers", Etag: orig.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		mask := func(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }
		cases := []struct {
			name     string
			asset    *sparcv1.Asset
			mask     *fieldmaskpb.FieldMask
			code     codes.Code
			fields   []string
			grpcOnly bool
		}{
			{"stale etag", &sparcv1.Asset{Name: cur.GetName(), DisplayName: "x", Etag: stale}, mask("display_name"), codes.Aborted, nil, false},
			{"malformed etag", &sparcv1.Asset{Name: cur.GetName(), DisplayName: "x", Etag: "W/\"1\""}, mask("display_name"), codes.InvalidArgument, []string{"asset.etag"}, false},
			{"unknown field in mask", &sparcv1.Asset{Name: cur.GetName(), DisplayName: "x"}, mask("display_name", "colour"), codes.InvalidArgument, []string{"update_mask.paths[1]"}, false},
			{"unknown sub-field in mask", &sparcv1.Asset{Name: cur.GetName()}, mask("location.altitude"), codes.InvalidArgument, []string{"update_mask.paths[0]"}, false},
			{"empty display name", &sparcv1.Asset{Name: cur.GetName(), DisplayName: ""}, mask("display_name"), codes.InvalidArgument, []string{"asset.display_name"}, false},
			{"oversized display name", &sparcv1.Asset{Name: cur.GetName(), DisplayName: strings.Repeat("n", 201)}, mask("display_name"), codes.InvalidArgument, []string{"asset.display_name"}, false},
			{"latitude out of range", &sparcv1.Asset{Name: cur.GetName(), Location: &sparcv1.Location{Latitude: 100, Longitude: -1.9, Country: "GB"}}, mask("location"), codes.InvalidArgument, []string{"asset.location.latitude"}, false},
			{"latitude sub-field NaN", &sparcv1.Asset{Name: cur.GetName(), Location: &sparcv1.Location{Latitude: math.NaN()}}, mask("location.latitude"), codes.InvalidArgument, []string{"asset.location.latitude"}, false},
			{"clearing location", &sparcv1.Asset{Name: cur.GetName()}, mask("location"), codes.InvalidArgument, []string{"asset.location"}, false},
			{"unknown category", &sparcv1.Asset{Name: cur.GetName(), Categories: []string{"gardening"}}, mask("categories"), codes.InvalidArgument, []string{"asset.categories[0]"}, false},
			{"unknown kind", &sparcv1.Asset{Name: cur.GetName(), Kind: 12}, mask("kind"), codes.InvalidArgument, []string{"asset.kind"}, false},
			{"self-intersecting service area", &sparcv1.Asset{Name: cur.GetName(), ServiceAreaGeojson: bowTie}, mask("service_area_geojson"), codes.InvalidArgument, []string{"asset.service_area_geojson"}, false},
			{"service area with too many vertices", &sparcv1.Asset{Name: cur.GetName(), ServiceAreaGeojson: tooMany}, mask("service_area_geojson"), codes.InvalidArgument, []string{"asset.service_area_geojson"}, false},
			{"session ends before it starts", &sparcv1.Asset{Name: cur.GetName(), Sessions: []*sparcv1.Session{{Day: 1, StartTime: "18:00", EndTime: "17:00", Timezone: "Europe/London"}}}, mask("sessions"), codes.InvalidArgument, []string{"asset.sessions[0].end_time"}, false},
			{"bad timezone", &sparcv1.Asset{Name: cur.GetName(), Sessions: []*sparcv1.Session{{Day: 1, StartTime: "17:00", EndTime: "18:00", Timezone: "Europe/Londres"}}}, mask("sessions"), codes.InvalidArgument, []string{"asset.sessions[0].timezone"}, false},
			{"age range inverted through a sub-field", &sparcv1.Asset{Name: cur.GetName(), AgeRange: &sparcv1.AgeRange{MaxAge: ptr(int32(10))}}, mask("age_range.max_age"), codes.InvalidArgument, []string{"asset.age_range"}, false},
			{"bad name", &sparcv1.Asset{Name: "assets/nope", DisplayName: "x"}, mask("display_name"), codes.InvalidArgument, []string{"asset.name"}, false},
			{"bare id as name", &sparcv1.Asset{Name: strings.TrimPrefix(cur.GetName(), "assets/"), DisplayName: "x"}, mask("display_name"), codes.InvalidArgument, []string{"asset.name"}, true},
			{"star with another path", &sparcv1.Asset{Name: cur.GetName(), DisplayName: "x"}, mask("*", "display_name"), codes.InvalidArgument, []string{"update_mask.paths"}, false},
			{"star clears what the request leaves out", &sparcv1.Asset{Name: cur.GetName(), DisplayName: "x"}, mask("*"), codes.InvalidArgument, []string{"asset.kind", "asset.location", "asset.status", "asset.owner_organisation"}, false},
			{"owner as a bare id", &sparcv1.Asset{Name: cur.GetName(), OwnerOrganisation: env.AdminOrg}, mask("owner_organisation"), codes.InvalidArgument, []string{"asset.owner_organisation"}, false},
			{"missing asset", &sparcv1.Asset{Name: "assets/3f2504e0-4f89-41d3-9a0c-0305e82c3301", DisplayName: "x"}, mask("display_name"), codes.NotFound, nil, false},
			{"no asset", nil, mask("display_name"), codes.InvalidArgument, []string{"asset"}, true},
		}
		for _, tc := range cases {
			if tc.grpcOnly && tr.name != "grpc" {
				continue
			}
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				_, err := tr.api.UpdateAsset(context.Background(), &sparcv1.UpdateAssetRequest{Asset: tc.asset, UpdateMask: tc.mask})
				if len(tc.fields) > 0 {
					wantInvalid(t, err, tc.fields...)
				} else {
					wantCode(t, err, tc.code)
				}
				got, err := tr.api.GetAsset(context.Background(), &sparcv1.GetAssetRequest{Name: cur.GetName()})
				if err != nil {
					t.Fatal(err)
				}
				if d := diff(cur, got); d != "" {
					t.Fatalf("failed update changed the asset (-before +after):\n%s", d)
				}
			})
		}
	}
}

func TestUpdateAssetAppliesOnlyTheMaskedFields(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	cases := []struct {
		name   string
		mask   []string
		patch  *sparcv1.Asset
		expect func(want *sparcv1.Asset) // applies the expected change to the old asset
	}{
		{"display name only", []string{"display_name"},
			&sparcv1.Asset{DisplayName: "  New name  ", Description: "ignored"},
			func(w *sparcv1.Asset) { w.DisplayName = "New name" }},
		{"sub-field of cost", []string{"cost.note"},
			&sparcv1.Asset{Cost: &sparcv1.Cost{Kind: sparcv1.CostKind_COST_KIND_PAID, Note: "£3"}},
			func(w *sparcv1.Asset) { w.Cost.Note = "£3" }},
		{"clearing capacity", []string{"capacity"},
			&sparcv1.Asset{},
			func(w *sparcv1.Asset) { w.Capacity = nil }},
		{"categories and sessions", []string{"categories", "sessions"},
			&sparcv1.Asset{Categories: []string{"food"}, Sessions: []*sparcv1.Session{{Day: 5, StartTime: "12:00", EndTime: "13:30", Timezone: "Europe/London"}}},
			func(w *sparcv1.Asset) {
				w.Categories = []string{"food"}
				w.Sessions = []*sparcv1.Session{{Day: 5, StartTime: "12:00", EndTime: "13:30", Timezone: "Europe/London"}}
			}},
		{"output-only fields in the mask are ignored", []string{"display_name", "name", "etag", "create_time", "update_time"},
			&sparcv1.Asset{DisplayName: "Renamed"},
			func(w *sparcv1.Asset) { w.DisplayName = "Renamed" }},
		// AIP-134: without a mask the update changes the fields the request
		// sets; everything else stays.
		{"no mask: the fields the request sets", nil,
			&sparcv1.Asset{Description: "Only the description", Capacity: ptr(int32(3))},
			func(w *sparcv1.Asset) { w.Description, w.Capacity = "Only the description", ptr(int32(3)) }},
		// "*" replaces every writable field: what the request leaves unset
		// (description, categories, sessions, contact...) is cleared.
		{"star replaces the whole asset", []string{"*"}, replacement(env.AdminOrg),
			func(w *sparcv1.Asset) {
				r := replacement(env.AdminOrg)
				r.Name, r.Etag, r.CreateTime, r.UpdateTime = w.Name, w.Etag, w.CreateTime, w.UpdateTime
				r.Cost, r.Contact = &sparcv1.Cost{}, &sparcv1.Contact{} // the store always returns both
				proto.Reset(w)
				proto.Merge(w, r)
			}},
	}
	for _, tr := range transports(t, env) {
		for _, tc := range cases {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				old := create(t, tr.api, validAsset())
				patch := proto.Clone(tc.patch).(*sparcv1.Asset)
				patch.Name, patch.Etag = old.GetName(), old.GetEtag()
				got, err := tr.api.UpdateAsset(context.Background(), &sparcv1.UpdateAssetRequest{Asset: patch, UpdateMask: &fieldmaskpb.FieldMask{Paths: tc.mask}})
				if err != nil {
					t.Fatal(err)
				}
				want := proto.Clone(old).(*sparcv1.Asset)
				tc.expect(want)
				want.PlacesLeft = want.Capacity // no referral holds a place
				if d := diff(want, got, "etag", "update_time"); d != "" {
					t.Fatalf("updated asset (-want +got):\n%s", d)
				}
				if got.GetEtag() == old.GetEtag() || !got.GetUpdateTime().AsTime().After(old.GetUpdateTime().AsTime()) {
					t.Fatalf("etag/update_time did not move: %s→%s, %v→%v", old.GetEtag(), got.GetEtag(), old.GetUpdateTime().AsTime(), got.GetUpdateTime().AsTime())
				}
				// The old etag is now stale.
				_, err = tr.api.UpdateAsset(context.Background(), &sparcv1.UpdateAssetRequest{Asset: patch, UpdateMask: &fieldmaskpb.FieldMask{Paths: tc.mask}})
				wantCode(t, err, codes.Aborted)
			})
		}
	}
}

// replacement is a minimal valid asset owned by org, for full replaces.
func replacement(org string) *sparcv1.Asset {
	return &sparcv1.Asset{Kind: sparcv1.AssetKind_ASSET_KIND_CULTURE, DisplayName: "Replaced",
		Location: &sparcv1.Location{Latitude: 52.48, Longitude: -1.9, Country: "GB"},
		Status:   sparcv1.AssetStatus_ASSET_STATUS_PAUSED, OwnerOrganisation: "organisations/" + org}
}

// A client that reads an asset over HTTP, edits it and PATCHes the whole
// document back (etag, id and timestamps included, no update_mask) must
// succeed: the gateway derives the mask from the body.
func TestHTTPPatchWithoutMaskSendsBackWholeDocument(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	api := &httpClient{t: t, base: env.HTTPBase, key: env.AdminKey}
	old := create(t, api, validAsset())
	edited := proto.Clone(old).(*sparcv1.Asset)
	edited.DisplayName = "Edited over HTTP"
	got, err := api.UpdateAsset(context.Background(), &sparcv1.UpdateAssetRequest{Asset: edited})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetDisplayName() != "Edited over HTTP" || got.GetDescription() != old.GetDescription() {
		t.Fatalf("got %v", got)
	}
	// Sent again with the now stale etag: 409.
	_, err = api.UpdateAsset(context.Background(), &sparcv1.UpdateAssetRequest{Asset: edited})
	wantCode(t, err, codes.Aborted)

	// A partial document changes only what it names, down to sub-fields:
	// {"location":{"locality":"Lozells"}} keeps the coordinates.
	partial, err := api.UpdateAsset(context.Background(), &sparcv1.UpdateAssetRequest{
		Asset: &sparcv1.Asset{Name: old.GetName(), Location: &sparcv1.Location{Locality: "Lozells"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := proto.Clone(got).(*sparcv1.Asset)
	want.Location.Locality = "Lozells"
	if d := diff(want, partial, "etag", "update_time"); d != "" {
		t.Fatalf("partial PATCH changed more than the locality:\n%s", d)
	}
}

func TestDeleteAsset(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	for _, tr := range transports(t, env) {
		t.Run(tr.name, func(t *testing.T) {
			ctx := context.Background()
			a := create(t, tr.api, validAsset())
			b, err := tr.api.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{Asset: &sparcv1.Asset{Name: a.GetName(), DisplayName: "v2"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
			if err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				name, id, etag string
				code           codes.Code
				field          string
			}{
				{"bad name", "assets/42", "", codes.InvalidArgument, "name"},
				{"malformed etag", a.GetName(), "not-an-etag", codes.InvalidArgument, "etag"},
				{"stale etag", a.GetName(), a.GetEtag(), codes.Aborted, ""},
				{"missing asset", "assets/3f2504e0-4f89-41d3-9a0c-0305e82c3301", "", codes.NotFound, ""},
			}
			for _, tc := range cases {
				before := countAssets(t, env)
				_, err := tr.api.DeleteAsset(ctx, &sparcv1.DeleteAssetRequest{Name: tc.id, Etag: tc.etag})
				if tc.field != "" {
					wantInvalid(t, err, tc.field)
				} else {
					wantCode(t, err, tc.code)
				}
				if countAssets(t, env) != before {
					t.Fatalf("%s: failed delete removed a row", tc.name)
				}
			}
			if _, err := tr.api.DeleteAsset(ctx, &sparcv1.DeleteAssetRequest{Name: b.GetName(), Etag: b.GetEtag()}); err != nil {
				t.Fatal(err)
			}
			_, err = tr.api.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: b.GetName()})
			wantCode(t, err, codes.NotFound)
			_, err = tr.api.DeleteAsset(ctx, &sparcv1.DeleteAssetRequest{Name: b.GetName()})
			wantCode(t, err, codes.NotFound)
		})
	}
}

func TestListVocabularyReturnsTheShippedVocabulary(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	var want []*sparcv1.Term
	for _, l := range []struct {
		terms []vocab.Term
		v     sparcv1.Vocabulary
	}{{vocab.Categories, sparcv1.Vocabulary_VOCABULARY_CATEGORIES}, {vocab.Accessibility, sparcv1.Vocabulary_VOCABULARY_ACCESSIBILITY}} {
		for _, w := range l.terms {
			if w.LabelEN == "" || w.LabelNL == "" {
				t.Fatalf("%s lacks a label", w.Code)
			}
			want = append(want, &sparcv1.Term{Code: w.Code, LabelEn: w.LabelEN, LabelNl: w.LabelNL, Vocabulary: l.v})
		}
	}
	if len(vocab.Categories) != 16 {
		t.Fatalf("%d categories; the issue lists 16", len(vocab.Categories))
	}
	same := func(t *testing.T, got []*sparcv1.Term) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%d terms, want %d", len(got), len(want))
		}
		for i := range want {
			if !proto.Equal(got[i], want[i]) {
				t.Fatalf("term %d = %v, want %v", i, got[i], want[i])
			}
		}
	}
	for _, tr := range transports(t, env) {
		t.Run(tr.name, func(t *testing.T) {
			// One default page holds the whole vocabulary.
			got, err := tr.api.ListVocabulary(context.Background(), &sparcv1.ListVocabularyRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if got.GetNextPageToken() != "" {
				t.Fatalf("the default page ends with a next page token")
			}
			same(t, got.GetTerms())

			// Small pages walk the same terms once each, across the
			// boundary between the two vocabularies.
			var paged []*sparcv1.Term
			req := &sparcv1.ListVocabularyRequest{PageSize: 5}
			for pages := 1; ; pages++ {
				if pages > len(want) {
					t.Fatal("paging does not end")
				}
				resp, err := tr.api.ListVocabulary(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				if len(resp.GetTerms()) > 5 {
					t.Fatalf("page of %d terms, asked for 5", len(resp.GetTerms()))
				}
				paged = append(paged, resp.GetTerms()...)
				if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
					break
				}
			}
			same(t, paged)

			first, err := tr.api.ListVocabulary(context.Background(), &sparcv1.ListVocabularyRequest{PageSize: 5})
			if err != nil {
				t.Fatal(err)
			}
			_, err = tr.api.ListVocabulary(context.Background(), &sparcv1.ListVocabularyRequest{PageToken: tamper(first.GetNextPageToken())})
			wantInvalid(t, err, "page_token")
			_, err = tr.api.ListVocabulary(context.Background(), &sparcv1.ListVocabularyRequest{PageSize: -1})
			wantInvalid(t, err, "page_size")
		})
	}
}
