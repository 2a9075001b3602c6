package demo

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/assets"
)

// RemoteAssets are the demo's remote services (issue 14, point 6): no
// point, found by the area they serve. Their areas need no loaded
// boundaries (a drawn area, whole countries), so they load with the rest
// of the directory, before the demo areas. Phone numbers are from
// Ofcom's drama ranges.
func RemoteAssets() []*sparcv1.Asset {
	remote := func(key, name, description string, mode sparcv1.DeliveryMode, country string, cats []string) *sparcv1.Asset {
		return &sparcv1.Asset{
			Name: aip.Name(aip.Assets, uuid.NewSHA1(namespace, []byte("Remote/"+key))),
			Kind: association, DisplayName: name + " (demo)", DeliveryMode: mode,
			Description: "DEMO LISTING, not a real service. " + description,
			Categories:  cats, Location: &sparcv1.Location{Country: country},
			Cost:               &sparcv1.Cost{Kind: sparcv1.CostKind_COST_KIND_FREE},
			AcceptingReferrals: true,
			Status:             sparcv1.AssetStatus_ASSET_STATUS_ACTIVE, OwnerOrganisation: aip.NameOf(aip.Organisations, Owner),
		}
	}
	line := remote("wirral-befriending-line", "Wirral befriending line",
		"A weekly friendly phone call from the same volunteer, for anyone on the Wirral who feels alone.",
		sparcv1.DeliveryMode_DELIVERY_MODE_TELEPHONE, "GB", []string{"social_connection"})
	line.Contact = &sparcv1.Contact{Name: "Demo contact", Phone: "0151 496 0700"}
	// The Wirral peninsula, drawn roughly (the demo has no council boundaries).
	line.ServiceAreaGeojson = `{"type":"Polygon","coordinates":[[[-3.23,53.3],[-2.93,53.3],[-2.93,53.45],[-3.23,53.45],[-3.23,53.3]]]}`
	yoga := remote("online-chair-yoga", "Online chair yoga",
		"Gentle seated exercise by video call, for anyone in Great Britain; the link is sent after a short phone chat.",
		sparcv1.DeliveryMode_DELIVERY_MODE_ONLINE, "GB", []string{"physical_activity"})
	yoga.Contact = &sparcv1.Contact{Name: "Demo contact", Phone: "0808 157 0123", Website: "https://example.org/demo/chair-yoga"}
	yoga.ServiceArea = &sparcv1.ServiceArea{Country: "GB"}
	luister := remote("luisterlijn", "Luisterlijn",
		"Dag en nacht een luisterend oor aan de telefoon, in heel Nederland.",
		sparcv1.DeliveryMode_DELIVERY_MODE_TELEPHONE, "NL", []string{"social_connection"})
	luister.Contact = &sparcv1.Contact{Name: "Demo contact", Phone: "+31 10 000 0000"}
	luister.ServiceArea = &sparcv1.ServiceArea{Country: "NL"}
	return []*sparcv1.Asset{line, yoga, luister}
}

// loadRemote creates the demo's remote services that are missing (bulk
// insert takes no service areas) and returns how many it created.
func loadRemote(ctx context.Context, store *assets.Store) (int64, error) {
	var n int64
	for _, a := range RemoteAssets() {
		if _, err := store.Create(ctx, assets.ID(a), a); err != nil && !errors.Is(err, apierr.ErrAlreadyExists) {
			return n, fmt.Errorf("creating demo service %q: %w", a.GetDisplayName(), err)
		} else if err == nil {
			n++
		}
	}
	return n, nil
}
