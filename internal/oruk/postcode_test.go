package oruk_test

import (
	"context"
	"strings"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/postcodes"
	"github.com/sparc-network/sparc/internal/testenv"
)

// With postcode data loaded, postcode= is placed from it (no asset needs
// to have that postcode); a postcode it cannot place still falls back to
// the directory's own addresses.
func TestPostcodeProximityUsesThePostcodeDataFirst(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	r, err := postcodes.NewReader(strings.NewReader("postcode,latitude,longitude\nB1 1BB,52.480579,-1.903188\n"), "GB", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postcodes.NewStore(env.Pool).Import(ctx, r.Next, nil); err != nil {
		t.Fatal(err)
	}
	for i, loc := range []*sparcv1.Location{
		{Latitude: 52.4810, Longitude: -1.9030, Country: "GB"},                      // near B1 1BB, no postcode
		{Latitude: 60.1540, Longitude: -1.1490, Country: "GB", Postcode: "ZE1 0AA"}, // Lerwick: no ZE data loaded
	} {
		if _, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
			Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: []string{"Near B1 1BB", "Lerwick"}[i], Location: loc}}); err != nil {
			t.Fatal(err)
		}
	}
	var p page
	b := getJSON(t, env.HTTPBase, "/services?postcode=b11bb&proximity=1000", &p)
	validate(t, "service_list.json", b)
	if p.TotalItems != 1 || !strings.Contains(string(b), "Near B1 1BB") {
		t.Errorf("within 1 km of B1 1BB: %s", b)
	}
	getJSON(t, env.HTTPBase, "/services?postcode=ZE1+0AA&proximity=1000", &p)
	if p.TotalItems != 1 {
		t.Errorf("ZE1 0AA from the directory's addresses: %d services, want 1", p.TotalItems)
	}
	code, _, body := get(t, env.HTTPBase, "/services?postcode=B99+1AA&proximity=1000")
	if code != 400 || !strings.Contains(string(body), "B99") {
		t.Errorf("B99 1AA: %d %s", code, body)
	}
}
