package webhooks_test

import (
	"context"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// change is what a delivery is compared by (as the referrals' watch tests
// compare streams).
type change struct{ referral, kind, to string }

func changeOf(c *sparcv1.ReferralChange) change {
	return change{c.GetReferral(), c.GetType(), c.GetToStatus().String()}
}

// bearerKey sends an API key with every call.
type bearerKey string

func (k bearerKey) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(k)}, nil
}
func (bearerKey) RequireTransportSecurity() bool { return false }

// sameChanges checks that got holds want, in order, each once.
func sameChanges(t *testing.T, got []*sparcv1.ReferralChange, want []change) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range got {
		if seen[c.GetCursor()] {
			t.Errorf("change %s delivered twice", c.GetCursor())
		}
		seen[c.GetCursor()] = true
	}
	if len(got) != len(want) {
		t.Fatalf("received %d changes, the outbox holds %d", len(got), len(want))
	}
	for i := range want {
		if g := changeOf(got[i]); g != want[i] {
			t.Fatalf("change %d is %v, want %v (outbox order)", i, g, want[i])
		}
	}
}
