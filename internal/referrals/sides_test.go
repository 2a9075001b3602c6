package referrals_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
)

// The provider organisation's admin acts as the provider: it accepts, it
// cannot make the referrer's move to entered_in_error, it does not read
// the note of a person who did not consent; the provider's link worker
// and the referrer's group editor have no side at all.
func TestProviderOrganisationActsOnlyAsTheProvider(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	conn := func(org, role string) sparcv1.ReferralServiceClient {
		return sparcv1.NewReferralServiceClient(w.env.ConnWithKey(t, w.env.Key(t, org, role)))
	}
	providerAdmin, providerLW := conn(w.groupOrg, auth.RoleAdmin), conn(w.groupOrg, auth.RoleLinkWorker)
	referrerGE := conn(w.lwOrg, auth.RoleGroupEditor)
	r := w.refer(t, w.person(t), "no-consent") // no consent; note "Prefers morning walks"

	seen, err := providerAdmin.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if seen.GetProviderNote() != "" || seen.GetPersonDetails() != nil {
		t.Errorf("the provider's admin reads note %q and person %v without consent", seen.GetProviderNote(), seen.GetPersonDetails())
	}
	_, err = move(providerAdmin, r.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_ENTERED_IN_ERROR, "")
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("the provider's admin marks the referral entered in error: %v, want FailedPrecondition", err)
	}
	if _, err := move(providerAdmin, r.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, ""); err != nil {
		t.Fatalf("the provider's admin accepts: %v", err)
	}
	for name, c := range map[string]sparcv1.ReferralServiceClient{"the provider's link worker": providerLW,
		"the referrer's group editor": referrerGE} {
		if _, err := c.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.GetName()}); status.Code(err) != codes.NotFound {
			t.Errorf("%s gets the referral: %v, want NotFound", name, err)
		}
		if _, err := move(c, r.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, "other"); status.Code(err) != codes.NotFound {
			t.Errorf("%s cancels the referral: %v, want NotFound", name, err)
		}
		if _, err := c.RecordOutcome(ctx, &sparcv1.RecordOutcomeRequest{Name: r.GetName(), SessionsAttended: proto.Int32(1)}); status.Code(err) != codes.NotFound {
			t.Errorf("%s records an outcome: %v, want NotFound", name, err)
		}
		list, err := c.ListReferrals(ctx, &sparcv1.ListReferralsRequest{PageSize: 100})
		if err != nil || len(list.GetReferrals()) != 0 {
			t.Errorf("%s lists %v (%v), want nothing", name, list.GetReferrals(), err)
		}
	}
	// The finding as it was found: the provider's link worker over HTTP.
	resp, body := w.env.Do(t, http.MethodGet, "/v1/referrals?page_size=100", "",
		"Authorization", "Bearer "+w.env.Key(t, w.groupOrg, auth.RoleLinkWorker))
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), r.GetName()) {
		t.Errorf("GET /v1/referrals as the provider's link worker: %d %s", resp.StatusCode, body)
	}
	// The move the provider's admin was refused is the referrer's to make.
	if _, err := move(w.lw, r.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_ENTERED_IN_ERROR, ""); err != nil {
		t.Fatalf("the referrer marks it entered in error: %v", err)
	}
}
