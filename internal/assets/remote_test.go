package assets_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/testenv"
)

// remoteAreas loads the two test councils of testenv.RemoteTestAreas.
func remoteAreas(t *testing.T, env *testenv.Env) { env.LoadAreas(t, "lad", testenv.RemoteTestAreas) }

// remoteAsset is a telephone befriending line covering the given council
// codes.
func remoteAsset(name string, codes ...string) *sparcv1.Asset {
	a := validAsset()
	a.DisplayName = name
	a.DeliveryMode = sparcv1.DeliveryMode_DELIVERY_MODE_TELEPHONE
	a.Location = &sparcv1.Location{Country: "GB", Address: "PO Box 1"}
	a.ServiceAreaGeojson = ""
	a.ServiceArea = &sparcv1.ServiceArea{AreaCodes: codes}
	return a
}

// A remote service is written and read back over both transports with no
// point and its service area as given (codes, a country, a drawn area);
// what cannot be a remote service or an in-person asset is refused with
// the field at fault, and nothing is written.
func TestRemoteServicesAreCreatedReadAndValidated(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	remoteAreas(t, env)
	ctx := context.Background()
	for _, tr := range transports(t, env) {
		t.Run(tr.name, func(t *testing.T) {
			byCodes := remoteAsset("Befriending line "+tr.name, "E08999901", "E08999902")
			country := remoteAsset("Online choir " + tr.name)
			country.DeliveryMode = sparcv1.DeliveryMode_DELIVERY_MODE_ONLINE
			country.ServiceArea = &sparcv1.ServiceArea{Country: "GB"}
			drawn := remoteAsset("Home visits " + tr.name)
			drawn.DeliveryMode = sparcv1.DeliveryMode_DELIVERY_MODE_HOME_VISIT
			drawn.ServiceArea = nil
			drawn.ServiceAreaGeojson = `{"type":"MultiPolygon","coordinates":[[[[-1.95,52.49],[-1.9,52.49],[-1.9,52.52],[-1.95,52.52],[-1.95,52.49]]]]}`
			for _, a := range []*sparcv1.Asset{byCodes, country, drawn} {
				made := create(t, tr.api, a)
				got, err := tr.api.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: made.GetName()})
				if err != nil {
					t.Fatal(err)
				}
				want := proto.Clone(a).(*sparcv1.Asset)
				want.Name, want.OwnerOrganisation = got.GetName(), got.GetOwnerOrganisation()
				want.PlacesLeft = want.Capacity
				if d := diff(want, got, "etag", "create_time", "update_time"); d != "" {
					t.Fatalf("%s read back (-want +got):\n%s", a.GetDisplayName(), d)
				}
			}

			before := countAssets(t, env)
			bad := []struct {
				name  string
				asset func() *sparcv1.Asset
				field string
			}{
				{"unknown area code", func() *sparcv1.Asset { return remoteAsset("Bad codes", "E08999901", "E99999999") },
					"asset.service_area.area_codes[1]"},
				{"area code of another country", func() *sparcv1.Asset {
					a := remoteAsset("Dutch codes", "E08999901")
					a.Location.Country = "NL"
					return a
				}, "asset.service_area.area_codes[0]"},
				{"self-intersecting polygon", func() *sparcv1.Asset {
					a := remoteAsset("Bow tie")
					a.ServiceArea = nil
					a.ServiceAreaGeojson = `{"type":"Polygon","coordinates":[[[-1.95,52.49],[-1.9,52.52],[-1.9,52.49],[-1.95,52.52],[-1.95,52.49]]]}`
					return a
				}, "asset.service_area_geojson"},
				{"remote without an area", func() *sparcv1.Asset {
					a := remoteAsset("Nowhere")
					a.ServiceArea = nil
					return a
				}, "asset.service_area"},
				{"two areas", func() *sparcv1.Asset {
					a := remoteAsset("Twice", "E08999901")
					a.ServiceArea.Country = "GB"
					return a
				}, "asset.service_area"},
				{"country not the asset's", func() *sparcv1.Asset {
					a := remoteAsset("Elsewhere")
					a.ServiceArea = &sparcv1.ServiceArea{Country: "NL"}
					return a
				}, "asset.service_area.country"},
				{"remote with a point", func() *sparcv1.Asset {
					a := remoteAsset("Pinned", "E08999901")
					a.Location.Latitude, a.Location.Longitude = 52.5, -1.9
					return a
				}, "asset.location.latitude"},
				{"in person without a point", func() *sparcv1.Asset {
					a := validAsset()
					a.Location = &sparcv1.Location{Country: "GB", Address: "Somewhere"}
					return a
				}, "asset.location.latitude"},
				{"in person with named areas", func() *sparcv1.Asset {
					a := validAsset()
					a.ServiceArea = &sparcv1.ServiceArea{AreaCodes: []string{"E08999901"}}
					return a
				}, "asset.service_area"},
				{"too many codes", func() *sparcv1.Asset {
					codes := make([]string, 501)
					for i := range codes {
						codes[i] = "E0" + string(rune('A'+i%26)) + string(rune('A'+i/26))
					}
					return remoteAsset("Huge", codes...)
				}, "asset.service_area.area_codes"},
			}
			for _, b := range bad {
				_, err := tr.api.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: b.asset()})
				if err == nil {
					t.Fatalf("%s: accepted", b.name)
				}
				wantInvalid(t, err, b.field)
			}
			if after := countAssets(t, env); after != before {
				t.Fatalf("refused creates wrote %d assets", after-before)
			}
		})
	}
}

// An update can turn an in-person asset into a remote service and back;
// an update naming an unknown area leaves the asset as it was.
func TestRemoteServiceUpdates(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	remoteAreas(t, env)
	ctx := context.Background()
	inPerson := create(t, env.Assets, validAsset())
	mask := &fieldmaskpb.FieldMask{Paths: []string{"delivery_mode", "location", "service_area", "service_area_geojson"}}
	r := remoteAsset("", "E08999901")
	r.Name = inPerson.GetName()
	got, err := env.Assets.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{Asset: r, UpdateMask: mask})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetDeliveryMode() != sparcv1.DeliveryMode_DELIVERY_MODE_TELEPHONE || got.GetLocation().GetLatitude() != 0 ||
		!slices.Equal(got.GetServiceArea().GetAreaCodes(), []string{"E08999901"}) {
		t.Fatalf("made remote: %v", got)
	}
	r.ServiceArea.AreaCodes = []string{"E00000000"}
	_, err = env.Assets.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{Asset: r, UpdateMask: mask})
	wantInvalid(t, err, "asset.service_area.area_codes[0]")
	back, err := env.Assets.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{Asset: &sparcv1.Asset{Name: inPerson.GetName(),
		Location: inPerson.GetLocation()}, UpdateMask: mask})
	if err != nil {
		t.Fatal(err)
	}
	if back.GetDeliveryMode() != sparcv1.DeliveryMode_DELIVERY_MODE_UNSPECIFIED || back.GetServiceArea() != nil ||
		back.GetLocation().GetLatitude() != inPerson.GetLocation().GetLatitude() {
		t.Fatalf("back in person: %v", back)
	}
}

// Search lists the in-person assets by distance, then the remote services
// whose area covers the point (by name), marked remote; remote=only and
// remote=exclude keep one group; a service whose area is elsewhere, and
// paused ones, are absent; pages of any size give the same list; coverage
// never counts a remote service.
func TestSearchListsRemoteServicesAfterInPersonResults(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	remoteAreas(t, env)
	ctx := context.Background()
	var near []string
	for i, lat := range []float64{52.5047, 52.5060, 52.5080} {
		a := validAsset()
		a.DisplayName = []string{"Walk A", "Walk B", "Walk C"}[i]
		a.Location.Latitude = lat
		near = append(near, create(t, env.Assets, a).GetName())
	}
	line := create(t, env.Assets, remoteAsset("Befriending line", "E08999901")).GetName()
	choir := remoteAsset("Online choir")
	choir.DeliveryMode = sparcv1.DeliveryMode_DELIVERY_MODE_ONLINE
	choir.ServiceArea = &sparcv1.ServiceArea{Country: "GB"}
	choirName := create(t, env.Assets, choir).GetName()
	create(t, env.Assets, remoteAsset("South line", "E08999902")) // does not cover the point
	paused := remoteAsset("Paused line", "E08999901")
	paused.Status = sparcv1.AssetStatus_ASSET_STATUS_PAUSED
	create(t, env.Assets, paused)

	point := func(remote sparcv1.RemoteFilter, size int32, token string) *sparcv1.SearchAssetsRequest {
		return &sparcv1.SearchAssetsRequest{Latitude: proto.Float64(52.5047), Longitude: proto.Float64(-1.9248),
			RadiusMeters: proto.Float64(2000), Remote: remote, PageSize: size, PageToken: token}
	}
	all := append(append([]string{}, near...), line, choirName)
	for _, tr := range transports(t, env) {
		t.Run(tr.name, func(t *testing.T) {
			for _, c := range []struct {
				remote sparcv1.RemoteFilter
				want   []string
			}{
				{sparcv1.RemoteFilter_REMOTE_FILTER_UNSPECIFIED, all},
				{sparcv1.RemoteFilter_REMOTE_FILTER_INCLUDE, all},
				{sparcv1.RemoteFilter_REMOTE_FILTER_ONLY, []string{line, choirName}},
				{sparcv1.RemoteFilter_REMOTE_FILTER_EXCLUDE, near},
			} {
				for _, size := range []int32{1, 2, 3, 20} {
					var got []string
					token := ""
					for pages := 0; ; pages++ {
						res, err := tr.api.SearchAssets(ctx, point(c.remote, size, token))
						if err != nil {
							t.Fatal(err)
						}
						for _, r := range res.GetResults() {
							isRemote := assets.IsRemote(r.GetAsset())
							if r.GetRemote() != isRemote || (isRemote && r.GetDistanceMeters() != 0) {
								t.Fatalf("%s: remote %v, distance %v", r.GetAsset().GetDisplayName(), r.GetRemote(), r.GetDistanceMeters())
							}
							got = append(got, r.GetAsset().GetName())
						}
						if token = res.GetNextPageToken(); token == "" || pages > 10 {
							break
						}
					}
					if !slices.Equal(got, c.want) {
						t.Fatalf("remote %v, pages of %d: got %v, want %v", c.remote, size, got, c.want)
					}
				}
			}
		})
	}
	// Over HTTP a person types the filter's short form, in any case;
	// the full enum name still works and an unknown word is a 400.
	httpNames := func(query string) (int, []string) {
		resp, err := env.HTTP.Get(env.HTTPBase + "/v1/assets:search?latitude=52.5047&longitude=-1.9248&radius_meters=2000&" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Results []struct {
				Asset struct{ Name string }
			}
		}
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, nil
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range out.Results {
			names = append(names, r.Asset.Name)
		}
		return resp.StatusCode, names
	}
	for q, want := range map[string][]string{
		"remote=only": {line, choirName}, "remote=Only": {line, choirName}, "remote=REMOTE_FILTER_ONLY": {line, choirName},
		"remote=exclude": near, "remote=include": all,
	} {
		if code, got := httpNames(q); code != http.StatusOK || !slices.Equal(got, want) {
			t.Errorf("%s: HTTP %d, %v; want %v", q, code, got, want)
		}
	}
	if code, _ := httpNames("remote=sometimes"); code != http.StatusBadRequest {
		t.Errorf("remote=sometimes: HTTP %d, want 400", code)
	}
	// Without a place, a text search finds any remote service it matches
	// (not the paused one), after the in-person results.
	res, err := env.Assets.SearchAssets(ctx, &sparcv1.SearchAssetsRequest{Query: "befriending"})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.GetResults(); len(r) != 1 || !r[0].GetRemote() || r[0].GetAsset().GetName() != line {
		t.Fatalf("text search for the befriending line: %v", r)
	}
	counted := 0
	if err := assets.NewStore(env.Pool).EachCounted(ctx, "GB", assets.CoverageFilter{}, func(uuid.UUID, float64, float64, []string) { counted++ }); err != nil {
		t.Fatal(err)
	}
	if counted != len(near) {
		t.Fatalf("coverage counted %d assets, want the %d in person", counted, len(near))
	}
}
