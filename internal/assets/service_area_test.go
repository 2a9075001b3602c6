package assets_test

import (
	"context"
	"strings"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/testenv"
)

// GeoJSON that ParsePolygon accepts but PostGIS would refuse or mangle as
// it is (a Feature, a foreign "crs", heights) is stored and searched in
// its plain 2D form, over both transports.
func TestServiceAreaAndSearchPolygonAcceptEveryFormTheValidatorAccepts(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	coords := `[[[-1.95,52.49],[-1.90,52.49],[-1.90,52.52],[-1.95,52.52],[-1.95,52.49]]]`
	coordsZ := `[[[-1.95,52.49,120],[-1.90,52.49,120],[-1.90,52.52,120],[-1.95,52.52,120],[-1.95,52.49,120]]]`
	forms := []struct{ name, doc string }{
		{"feature", `{"type":"Feature","properties":{"name":"Handsworth"},"geometry":{"type":"Polygon","coordinates":` + coords + `}}`},
		{"crs member", `{"type":"Polygon","crs":{"type":"name","properties":{"name":"EPSG:27700"}},"coordinates":` + coords + `}`},
		{"heights", `{"type":"Polygon","coordinates":` + coordsZ + `}`},
		{"multipolygon with heights", `{"type":"MultiPolygon","coordinates":[` + coordsZ + `]}`},
	}
	for _, tr := range transports(t, env) {
		for _, f := range forms {
			t.Run(tr.name+"/"+f.name, func(t *testing.T) {
				a := validAsset()
				a.DisplayName = "Area " + tr.name + " " + f.name
				a.ServiceAreaGeojson = f.doc
				got, err := tr.api.CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: a})
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				if sa := got.GetServiceAreaGeojson(); !strings.HasPrefix(sa, `{"type":"MultiPolygon","coordinates":[[[[-1.95,52.49],`) {
					t.Fatalf("stored service area %s", sa)
				}
				res, err := tr.api.SearchAssets(context.Background(), &sparcv1.SearchAssetsRequest{WithinGeojson: f.doc, Query: "Area " + tr.name})
				if err != nil {
					t.Fatalf("search within: %v", err)
				}
				if len(res.GetResults()) == 0 {
					t.Fatal("search within the same area found nothing")
				}
			})
		}
	}
}

// A service area is validated as it will be stored (PostGIS keeps 7
// decimals): an area that only becomes invalid once rounded is refused at
// once, never left to break every later update of the asset.
func TestServiceAreaIsValidatedAsStored(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	// (-1.8, 52.50000001) rounds onto (-1.8, 52.5): the ring then touches itself.
	thin := `{"type":"Polygon","coordinates":[[[-1.9,52.5],[-1.8,52.5],[-1.8,52.50000001],[-1.8,52.6],[-1.9,52.6],[-1.9,52.5]]]}`
	a := validAsset()
	a.ServiceAreaGeojson = thin
	created, err := env.Assets.CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: a})
	if err != nil {
		wantInvalid(t, err, "asset.service_area_geojson")
		return
	}
	// Accepted: then an unrelated update must still work.
	_, err = env.Assets.UpdateAsset(context.Background(), &sparcv1.UpdateAssetRequest{
		Asset: &sparcv1.Asset{Name: created.GetName(), DisplayName: "Renamed"}, UpdateMask: withMask("display_name")})
	if err != nil {
		t.Fatalf("renaming an asset whose service area was accepted: %v", err)
	}
}
