package assets_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/testenv"
)

// Sessions are written as JSON with encoding/json and read back as the
// fields PostgreSQL takes out of the jsonb: whatever a field holds
// (quotes, backslashes, braces, commas, non-ASCII), every read path gives
// back exactly what was written, in order.
func TestSessionsReadBackAsWritten(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	store := assets.NewStore(env.Pool)
	sessions := [][]*sparcv1.Session{
		nil,
		{{Day: sparcv1.Weekday_WEEKDAY_TUESDAY, StartTime: "10:00", EndTime: "11:30", Timezone: "Europe/London"}},
		{
			{Day: sparcv1.Weekday_WEEKDAY_MONDAY, StartTime: "16:00", EndTime: "17:00", Timezone: "Europe/Amsterdam",
				ValidFrom: "2026-01-01", ValidUntil: "2027-06-30"},
			{Day: sparcv1.Weekday_WEEKDAY_SUNDAY, StartTime: `"{a,b}"`, EndTime: `back\slash`, Timezone: "Zürich/東京 \u00e9",
				ValidUntil: "NULL"},
			{Day: sparcv1.Weekday_WEEKDAY_WEDNESDAY, StartTime: "", EndTime: ",", Timezone: "}"},
		},
	}
	var ids []uuid.UUID
	for i, ss := range sessions {
		id := uuid.New()
		ids = append(ids, id)
		a := &sparcv1.Asset{Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Sessions " + string(rune('A'+i)),
			Status: sparcv1.AssetStatus_ASSET_STATUS_ACTIVE, Sessions: ss,
			Location: &sparcv1.Location{Latitude: 52.48, Longitude: -1.89, Country: "GB"}}
		got, err := store.Create(ctx, id, a)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "Create", ss, got.GetSessions())
	}
	for i, id := range ids {
		got, err := store.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "Get", sessions[i], got.GetSessions())
	}
	many, err := store.GetMany(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range many {
		same(t, "GetMany", sessions[i], a.GetSessions())
	}
	hits, err := store.Search(ctx, assets.SearchQuery{Near: &assets.Near{Lat: 52.48, Lng: -1.89, RadiusMeters: 100},
		Statuses: []string{"active"}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != len(ids) {
		t.Fatalf("search found %d assets, want %d", len(hits), len(ids))
	}
	for _, h := range hits {
		for i, id := range ids {
			if assets.ID(h.Asset) == id {
				same(t, "Search", sessions[i], h.Asset.GetSessions())
			}
		}
	}
}

func same(t *testing.T, path string, want, got []*sparcv1.Session) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d sessions, want %d: %v", path, len(got), len(want), got)
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("%s: session %d = %v, want %v", path, i, got[i], want[i])
		}
	}
}
