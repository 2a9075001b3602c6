package referrals_test

import (
	"context"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

func TestSearchCanAskForAssetsWithAPlaceFreeNow(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1)
	search := func() int {
		lat, lng, r := 52.48, -1.86, 1000.0
		resp, err := w.env.Assets.SearchAssets(context.Background(), &sparcv1.SearchAssetsRequest{
			Latitude: &lat, Longitude: &lng, RadiusMeters: &r, HasPlaces: true})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.GetResults())
	}
	if n := search(); n != 1 {
		t.Fatalf("before any acceptance: %d results with places, want 1", n)
	}
	ref := w.refer(t, w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC), "places-1")
	if _, err := move(w.group, ref.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, ""); err != nil {
		t.Fatal(err)
	}
	if n := search(); n != 0 {
		t.Fatalf("with its only place taken: %d results, want 0", n)
	}
	if _, err := move(w.lw, ref.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, "person_declined"); err != nil {
		t.Fatal(err)
	}
	if n := search(); n != 1 {
		t.Fatalf("after the referrer cancelled: %d results, want 1 (the place is free again)", n)
	}
}
