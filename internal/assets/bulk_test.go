package assets_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/testenv"
)

// BulkInsert and the import's staging copy pick their values by column
// name: every field written with a distinct value reads back in its own
// field, on both COPY paths and through the single-row insert.
func TestEveryColumnLandsInItsField(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	org := env.NewOrg(t, "Column owners", "community_group")
	store := assets.NewStore(env.Pool)
	full := func() *sparcv1.Asset {
		return &sparcv1.Asset{
			Kind: sparcv1.AssetKind_ASSET_KIND_CULTURE, DisplayName: "Every column", Description: "described",
			Categories: []string{"arts_creativity"},
			Location: &sparcv1.Location{Latitude: 52.4801, Longitude: -1.9025, Address: "1 Street", Postcode: "B1 1AA",
				Locality: "Birmingham", Country: "GB"},
			Sessions: []*sparcv1.Session{{Day: sparcv1.Weekday_WEEKDAY_THURSDAY, StartTime: "09:00", EndTime: "10:00",
				Timezone: "Europe/London", ValidFrom: "2026-01-01", ValidUntil: "2026-12-31"}},
			Cost:          &sparcv1.Cost{Kind: sparcv1.CostKind_COST_KIND_LOW_COST, Note: "£2"},
			Accessibility: []string{"step_free_access"}, Languages: []string{"en", "pl"},
			AgeRange: &sparcv1.AgeRange{MinAge: proto.Int32(16), MaxAge: proto.Int32(99)},
			Contact:  &sparcv1.Contact{Name: "Pat", Email: "pat@example.org", Phone: "+44 121 000 0000", Website: "https://example.org"},
			Capacity: proto.Int32(12), AcceptingReferrals: true, Status: sparcv1.AssetStatus_ASSET_STATUS_PAUSED,
			OwnerOrganisation: "organisations/" + org,
			LastVerifiedTime:  timestamppb.New(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)),
			Availability:      sparcv1.Availability_AVAILABILITY_BY_APPOINTMENT,
		}
	}
	check := func(path string, id uuid.UUID) {
		t.Helper()
		got, err := store.Get(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		// Output only: the server's, not a stored column (next_session_time
		// is derived from the sessions when read).
		got.Name, got.Etag, got.CreateTime, got.UpdateTime, got.NextSessionTime = "", "", nil, nil, nil
		want := full()
		want.PlacesLeft = want.Capacity // no referral holds a place
		if !proto.Equal(got, want) {
			t.Fatalf("%s stored\n%v\nwant\n%v", path, got, want)
		}
	}

	bulk := full()
	id := uuid.New()
	bulk.Name = "assets/" + id.String()
	if _, err := store.BulkInsert(ctx, []*sparcv1.Asset{bulk}); err != nil {
		t.Fatal(err)
	}
	check("BulkInsert", id)

	id = uuid.New()
	if _, err := store.Create(ctx, id, full()); err != nil {
		t.Fatal(err)
	}
	check("Create", id)

	id = uuid.New()
	res, err := store.UpsertSourced(ctx, []assets.SourcedAsset{{ID: id, Source: "test", SourceID: "1", Asset: full()}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("UpsertSourced: %v, %+v", err, res)
	}
	check("UpsertSourced", id)
}
