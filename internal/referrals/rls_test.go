package referrals_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
)

// rlsTables are the referral-side tables with a row-level security
// policy, each with the policy that guards it.
var rlsTables = []struct{ table, policy string }{
	{"people", "people_own"},
	{"referrals", "referrals_sides"},
	{"referral_events", "referral_events_sides"},
	{"referral_outbox", "referral_outbox_sides"},
	{"webhooks", "webhooks_own"},
}

// rlsProblems runs, in tx as the application role, a bare SELECT count(*)
// on every table for each identity (no WHERE: only row-level security
// filters) and an unguarded UPDATE of every referral, and returns every
// difference from want (identity → table → rows).
func rlsProblems(ctx context.Context, tx pgx.Tx, want map[[2]string]map[string]int) ([]string, error) {
	var user string
	if err := tx.QueryRow(ctx, `SELECT current_user`).Scan(&user); err != nil || user != "sparc_app" {
		return nil, fmt.Errorf("running as %q (%v), want sparc_app", user, err)
	}
	var problems []string
	for id, tables := range want {
		if _, err := tx.Exec(ctx, `SELECT set_config('sparc.org', $1, true), set_config('sparc.role', $2, true)`, id[0], id[1]); err != nil {
			return nil, err
		}
		for _, tb := range rlsTables {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+tb.table).Scan(&n); err != nil {
				return nil, err
			}
			if n != tables[tb.table] {
				problems = append(problems, fmt.Sprintf("%s: %s sees %d rows, want %d", tb.table, id, n, tables[tb.table]))
			}
		}
		// Writes are bound like reads: an UPDATE without a WHERE reaches
		// only the rows of a side.
		sp, err := tx.Begin(ctx) // a savepoint: a refused write leaves the check going
		if err != nil {
			return nil, err
		}
		tag, err := sp.Exec(ctx, `UPDATE referrals SET provider_note = provider_note`)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("referrals: %s updates: %v", id, err))
		case int(tag.RowsAffected()) != tables["referrals"]:
			problems = append(problems, fmt.Sprintf("referrals: %s updates %d rows, want %d", id, tag.RowsAffected(), tables["referrals"]))
		}
		if err := sp.Rollback(ctx); err != nil {
			return nil, err
		}
	}
	return problems, nil
}

// Row-level security is the second wall of the visibility rule: connected
// as the application role with an identity set as db sets it, a bare query
// sees only the rows of the identity's side. Each table's check is shown
// to catch its policy weakened to USING (true).
func TestRowLevelSecurityBindsTheSideOnEveryReferralTable(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	other := w.env.NewOrg(t, "Third organisation", "link_worker_service")
	// R (w.lwOrg) refers one person to G's (w.groupOrg) asset twice: sent
	// and accepted (2 timeline entries, 2 outbox rows), and a draft never
	// sent (1 and 1); R's link worker registers a webhook.
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC)
	sent := w.refer(t, p, "rls-sent")
	if _, err := move(w.group, sent.GetId(), sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.lw.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: "rls-draft", PersonId: p.GetId(),
		AssetId: w.asset.GetName(), Draft: true}); err != nil {
		t.Fatal(err)
	}
	hooks := sparcv1.NewWebhookServiceClient(w.env.ConnWithKey(t, w.env.Key(t, w.lwOrg, auth.RoleLinkWorker)))
	if _, err := hooks.CreateWebhook(ctx, &sparcv1.CreateWebhookRequest{Webhook: &sparcv1.Webhook{Url: "https://example.org/h"}}); err != nil {
		t.Fatal(err)
	}
	referrer := map[string]int{"people": 1, "referrals": 2, "referral_events": 3, "referral_outbox": 3, "webhooks": 1}
	providerSide := map[string]int{"referrals": 1, "referral_events": 2, "referral_outbox": 2}
	want := map[[2]string]map[string]int{
		{w.lwOrg, auth.RoleLinkWorker}:     referrer,
		{w.lwOrg, auth.RoleAdmin}:          referrer,
		{w.lwOrg, auth.RoleGroupEditor}:    {"webhooks": 1}, // its organisation's webhooks, no side
		{w.lwOrg, auth.RoleAreaAnalyst}:    {"webhooks": 1},
		{w.groupOrg, auth.RoleGroupEditor}: providerSide,
		{w.groupOrg, auth.RoleAdmin}:       providerSide,
		{w.groupOrg, auth.RoleLinkWorker}:  {},
		{other, auth.RoleAdmin}:            {},
		{other, auth.RoleLinkWorker}:       {},
		{"", ""}:                           {},
	}

	tx, err := w.env.AppPool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	problems, err := rlsProblems(ctx, tx, want)
	_ = tx.Rollback(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}

	// The check catches each policy weakened to USING (true): the owner
	// weakens it in a transaction, becomes the application role inside
	// it, runs the same check and rolls back, so nothing else ever sees
	// the weakened policy.
	for _, tb := range rlsTables {
		t.Run(tb.policy+" weakened", func(t *testing.T) {
			tx, err := w.env.Pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx) //nolint:errcheck
			if _, err := tx.Exec(ctx, `ALTER POLICY `+tb.policy+` ON `+tb.table+` USING (true)`); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, `SET LOCAL ROLE sparc_app`); err != nil {
				t.Fatal(err)
			}
			problems, err := rlsProblems(ctx, tx, want)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, tb.table+":") }) {
				t.Errorf("with %s weakened to USING (true) the check finds nothing wrong in %s (found: %v)", tb.policy, tb.table, problems)
			}
		})
	}
}
