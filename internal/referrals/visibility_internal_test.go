package referrals

import (
	"testing"

	"github.com/google/uuid"

	"github.com/sparc-network/sparc/internal/auth"
)

// The rule as a table: every role of the referring organisation, the
// provider and a third organisation, for a sent referral and a draft,
// with and without consent.
func TestDiscloseDecidesSideAndFreeTextFromOrganisationRoleSentAndConsent(t *testing.T) {
	ref, prov, third := uuid.New(), uuid.New(), uuid.New()
	roles := []string{auth.RoleAdmin, auth.RoleLinkWorker, auth.RoleGroupEditor, auth.RoleAreaAnalyst, ""}
	want := func(org uuid.UUID, role string, sent, consent bool) sight {
		switch {
		case org == ref && (role == auth.RoleAdmin || role == auth.RoleLinkWorker):
			return sight{side: referrer, freeText: true, summary: true, linkWorkerName: true}
		case org == prov && sent && (role == auth.RoleAdmin || role == auth.RoleGroupEditor):
			// The provider reads the summary but not the link worker's name.
			return sight{side: provider, freeText: consent, summary: true}
		}
		return sight{}
	}
	for _, org := range []uuid.UUID{ref, prov, third} {
		for _, role := range roles {
			for _, sent := range []bool{true, false} {
				for _, consent := range []bool{true, false} {
					got := disclose(org.String(), role, parties{referrer: ref, provider: &prov, sent: sent}, consent)
					if w := want(org, role, sent, consent); got != w {
						t.Errorf("org %v role %q sent %v consent %v: %+v, want %+v", org == ref, role, sent, consent, got, w)
					}
				}
			}
		}
	}
	// No organisation matches an empty one, and a referral without a
	// provider has no providing side.
	if d := disclose("", auth.RoleAdmin, parties{referrer: ref, sent: true}, true); d.side != 0 {
		t.Errorf("no organisation: %+v", d)
	}
	if d := disclose(prov.String(), auth.RoleAdmin, parties{referrer: ref, sent: true}, true); d.side != 0 {
		t.Errorf("no provider: %+v", d)
	}
}

// A change is the provider's from the referral's sending on.
func TestChangeSentStartsAtTheRequest(t *testing.T) {
	for _, c := range []struct {
		from, to string
		want     bool
	}{
		{"", "draft", false}, {"draft", "cancelled", false}, {"draft", "entered_in_error", false},
		{"draft", "requested", true}, {"", "requested", true}, {"requested", "accepted", true}, {"accepted", "accepted", true},
	} {
		if got := changeSent(c.from, c.to); got != c.want {
			t.Errorf("%s → %s: %v, want %v", c.from, c.to, got, c.want)
		}
	}
}
