package assets_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/testenv"
)

// Point searches take the nearest rows by distance alone from the index and
// order the page by (distance, id) afterwards; assets at one spot (a shared
// venue) tie on distance, and no page size may lose or repeat one of them.
func TestPointSearchPagesThroughAssetsAtTheSameSpot(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	const lat, lng = 52.4862, -1.8904
	var batch []*sparcv1.Asset
	add := func(name string, lat, lng float64) {
		batch = append(batch, &sparcv1.Asset{Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: name,
			Status:   sparcv1.AssetStatus_ASSET_STATUS_ACTIVE,
			Location: &sparcv1.Location{Latitude: lat, Longitude: lng, Country: "GB"}})
	}
	for i := range 9 {
		add(fmt.Sprintf("Venue group %d", i), lat, lng)
	}
	for i := range 3 {
		add(fmt.Sprintf("Nearby %d", i), lat+0.001*float64(i+1), lng)
	}
	add("Out of range", lat+0.1, lng) // about 11 km north
	if _, err := assets.NewStore(env.Pool).BulkInsert(ctx, batch); err != nil {
		t.Fatal(err)
	}

	for _, size := range []int32{1, 2, 4, 8, 9, 10, 20} {
		t.Run(fmt.Sprintf("page size %d", size), func(t *testing.T) {
			req := &sparcv1.SearchAssetsRequest{Latitude: proto.Float64(lat), Longitude: proto.Float64(lng),
				RadiusMeters: proto.Float64(2000), PageSize: size}
			var got []*sparcv1.SearchResult
			for page := 0; page < 20; page++ {
				resp, err := env.Assets.SearchAssets(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, resp.GetResults()...)
				if resp.GetNextPageToken() == "" {
					break
				}
				req.PageToken = resp.GetNextPageToken()
			}
			if len(got) != 12 {
				t.Fatalf("got %d results over all pages, want the 12 within 2 km", len(got))
			}
			seen := map[string]bool{}
			for i, r := range got {
				id := r.GetAsset().GetName()
				if seen[id] {
					t.Fatalf("asset %s returned twice", id)
				}
				seen[id] = true
				if i == 0 {
					continue
				}
				prev := got[i-1]
				if r.GetDistanceMeters() < prev.GetDistanceMeters() ||
					r.GetDistanceMeters() == prev.GetDistanceMeters() && id < prev.GetAsset().GetName() {
					t.Fatalf("result %d (%s at %.3f m) comes after %s at %.3f m", i, id, r.GetDistanceMeters(),
						prev.GetAsset().GetName(), prev.GetDistanceMeters())
				}
			}
			for _, r := range got[:9] {
				if r.GetDistanceMeters() != 0 {
					t.Fatalf("the 9 assets at the search point should come first at 0 m, got %v", got[:9])
				}
			}
		})
	}
}
