package assets_test

import (
	"context"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestCreatedAssetCanBeReadBack(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	created, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, Name: "Handsworth walking group",
		Location: &sparcv1.Location{Latitude: 52.5, Longitude: -1.9, Country: "GB"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := env.Assets.GetAsset(ctx, &sparcv1.GetAssetRequest{Id: created.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetName() != "Handsworth walking group" || got.GetEtag() != created.GetEtag() {
		t.Fatalf("got %v", got)
	}
}
