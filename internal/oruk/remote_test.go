package oruk_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/testenv"
)

// remoteDirectory is a server with the test councils and one in-person
// asset and three remote services: a telephone line naming councils, an
// online group for the whole country and home visits in a drawn area.
func remoteDirectory(t *testing.T) (*testenv.Env, map[string]*sparcv1.Asset) {
	t.Helper()
	env := testenv.NewServer(t)
	env.LoadAreas(t, "lad", testenv.RemoteTestAreas)
	remote := func(name string, mode sparcv1.DeliveryMode) *sparcv1.Asset {
		a := testAsset(env, name)
		a.DeliveryMode = mode
		a.Location = &sparcv1.Location{Country: "GB", Address: "PO Box 7", Locality: "Birmingham", Postcode: "B1 1AA"}
		a.Contact = &sparcv1.Contact{Phone: "0121 496 0000", Website: "https://example.org/line"}
		return a
	}
	line := remote("Befriending line", sparcv1.DeliveryMode_DELIVERY_MODE_TELEPHONE)
	line.ServiceArea = &sparcv1.ServiceArea{AreaCodes: []string{"E08999901", "E08999902"}}
	online := remote("Online choir", sparcv1.DeliveryMode_DELIVERY_MODE_ONLINE)
	online.ServiceArea = &sparcv1.ServiceArea{Country: "GB"}
	visits := remote("Home visits", sparcv1.DeliveryMode_DELIVERY_MODE_HOME_VISIT)
	visits.ServiceAreaGeojson = `{"type":"MultiPolygon","coordinates":[[[[-1.95,52.49],[-1.9,52.49],[-1.9,52.52],[-1.95,52.52],[-1.95,52.49]]]]}`
	out := map[string]*sparcv1.Asset{}
	for _, a := range []*sparcv1.Asset{testAsset(env, "Walking group"), line, online, visits} {
		made, err := env.Assets.CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: a})
		if err != nil {
			t.Fatalf("creating %s: %v", a.GetDisplayName(), err)
		}
		out[assets.ID(made).String()] = made
	}
	return env, out
}

// Remote services are published with their service areas and a virtual
// location without coordinates, valid against the official schemas, and a
// dump of them imports into another SPARC as the same assets; importing
// it again changes nothing.
func TestRemoteServicesRoundTripThroughORUK(t *testing.T) {
	t.Parallel()
	src, made := remoteDirectory(t)
	type area struct {
		Extent     string
		ExtentType string `json:"extent_type"`
	}
	type svc struct {
		ID                 string
		ServiceAreas       []area `json:"service_areas"`
		ServiceAtLocations []struct {
			Location struct {
				LocationType string   `json:"location_type"`
				Latitude     *float64 `json:"latitude"`
			}
		} `json:"service_at_locations"`
	}
	for id, a := range made {
		var s svc
		b := getJSON(t, src.HTTPBase, "/services/"+id, &s)
		validate(t, "service.json", b)
		loc := s.ServiceAtLocations[0].Location
		if assets.IsRemote(a) != (loc.LocationType == "virtual" && loc.Latitude == nil) {
			t.Errorf("%s: location %+v", a.GetDisplayName(), loc)
		}
		var extents []string
		for _, sa := range s.ServiceAreas {
			extents = append(extents, sa.ExtentType+":"+sa.Extent)
		}
		want := map[string]string{"Befriending line": "text:E08999901 text:E08999902", "Online choir": "text:GB",
			"Home visits": "geojson:" + a.GetServiceAreaGeojson()}[a.GetDisplayName()]
		if got := strings.Join(extents, " "); got != want {
			t.Errorf("%s: service areas %q, want %q", a.GetDisplayName(), got, want)
		}
	}
	var p page
	validate(t, "service_list.json", getJSON(t, src.HTTPBase, "/services?full=true", &p))

	dump := export(t, src)
	validate(t, "service_list.json", dump)
	dst := testenv.NewServer(t)
	dst.LoadAreas(t, "lad", testenv.RemoteTestAreas)
	rep := importDump(t, dst, "file:remote.json", dump)
	if rep.Created != len(made) || rep.Rejected != 0 || len(rep.Problems) != 0 {
		t.Fatalf("import: %+v %v", rep, rep.Problems)
	}
	got := allAssets(t, dst)
	for id, w := range allAssets(t, src) {
		g := got[id]
		for _, a := range []*sparcv1.Asset{w, g} {
			a.OwnerOrganisation, a.CreateTime, a.UpdateTime, a.Etag = "", nil, nil, ""
		}
		if !proto.Equal(w, g) {
			t.Errorf("asset %s:\nsource %v\nimport %v", id, w, g)
		}
	}
	if rep := importDump(t, dst, "file:remote.json", dump); rep.Unchanged != len(made) {
		t.Errorf("re-import: %+v %v", rep, rep.Problems)
	}
}

// A feed's service with no physical location (today's online and
// telephone services) is imported as a remote service instead of being
// rejected: by telephone when it has only a phone, over the whole country
// when it names no area, with its postal address; one naming an unknown
// area is refused with the code.
func TestORUKServicesWithoutALocationImportAsRemote(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	env.LoadAreas(t, "lad", testenv.RemoteTestAreas)
	phoneOnly := map[string]any{"id": goodID, "name": "Silver line", "status": "active",
		"phones": []any{map[string]any{"id": otherID, "number": "0800 000 0000"}},
		"service_at_locations": []any{map[string]any{"id": "44444444-4444-4444-8444-444444444444",
			"location": map[string]any{"id": "55555555-5555-4555-8555-555555555555", "location_type": "postal",
				"addresses": []any{map[string]any{"id": "66666666-6666-4666-8666-666666666666", "address_1": "PO Box 9",
					"city": "Leeds", "state_province": "", "postal_code": "LS1 1AA", "country": "GB", "address_type": "postal"}}}}}}
	unknownArea := map[string]any{"id": "77777777-7777-4777-8777-777777777777", "name": "Nowhere line", "status": "active",
		"service_areas": []any{map[string]any{"id": "88888888-8888-4888-8888-888888888888", "extent_type": "text", "extent": "E99999999"}}}
	rep := importDump(t, env, "file:remote.json", feed(t, phoneOnly, unknownArea))
	if rep.Created != 1 || rep.Rejected != 1 || !strings.Contains(strings.Join(problems(rep, "error"), "\n"), "E99999999") {
		t.Fatalf("import: %+v %v", rep, rep.Problems)
	}
	a := allAssets(t, env)[goodID]
	if a.GetDeliveryMode() != sparcv1.DeliveryMode_DELIVERY_MODE_TELEPHONE || a.GetServiceArea().GetCountry() != "GB" ||
		a.GetLocation().GetLatitude() != 0 || a.GetLocation().GetAddress() != "PO Box 9" {
		b, _ := json.Marshal(a)
		t.Fatalf("imported as %s", b)
	}
	// It is found from any point in Britain, after in-person results.
	res, err := env.Assets.SearchAssets(context.Background(), &sparcv1.SearchAssetsRequest{Latitude: proto.Float64(53.8),
		Longitude: proto.Float64(-1.55), RadiusMeters: proto.Float64(1000)})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.GetResults(); len(r) != 1 || !r[0].GetRemote() {
		t.Fatalf("search from Leeds: %v", r)
	}
}
