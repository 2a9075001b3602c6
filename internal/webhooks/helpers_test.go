package webhooks_test

import (
	"context"
	"strings"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/testenv"
)

// change is what a delivery is compared by with the outbox (as the
// referrals' watch tests compare streams).
type change = testenv.Change

func changeOf(c *sparcv1.ReferralChange) change {
	return change{Referral: c.GetReferral(), Kind: c.GetType(), To: c.GetToStatus().String()}
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
	testenv.SameChanges(t, got, want, changeOf)
}

// idOf is the id in a webhook's name, as the database and the
// SPARC-Webhook-Id header hold it.
func idOf(h *sparcv1.Webhook) string { return strings.TrimPrefix(h.GetName(), "webhooks/") }
