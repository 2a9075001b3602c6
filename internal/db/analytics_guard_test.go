package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The functions that read every organisation's referrals for analytics
// run as the owner, past row-level security, and return counts only. The
// access policy lets only admins and area analysts call the services in
// front of them; the functions check the same themselves (migrations
// 0069 and 0070), so a route that forgot the policy would still get no figures.
// Each is called by the application role with each role's identity, of
// the referring organisation and of the providing one, and with none.
func TestAnalyticsFunctionsAnswerOnlyAdminsAndAreaAnalysts(t *testing.T) {
	owner := testenv.NewPool(t)
	app := testenv.AppPool(t, owner)
	ctx := context.Background()
	if _, err := owner.Exec(ctx, oneReferralSQL); err != nil {
		t.Fatal(err)
	}
	const window = `NULL, now() - interval '1 day', now() + interval '1 day'`
	functions := map[string]string{
		"ties":              `SELECT count(*) FROM sparc_referral_network(` + window + `, false)`,
		"ties by asset":     `SELECT count(*) FROM sparc_referral_network(` + window + `, true)`,
		"homes":             `SELECT count(*) FROM sparc_referral_network_homes(` + window + `)`,
		"places":            `SELECT count(*) FROM sparc_referral_network_places(` + window + `)`,
		"places in an area": `SELECT count(*) FROM sparc_referral_network_places('E00000001', now() - interval '1 day', now() + interval '1 day')`,
		"outcome sums":      `SELECT count(*) FROM sparc_outcome_sums(` + window + `, '{}', 300)`,
	}
	// The rows each answers an analyst: one tie, one home row (quintile
	// unknown), the one asset's place, none in an unknown area, no
	// completed referral.
	want := map[string]int{"ties": 1, "ties by asset": 1, "homes": 1, "places": 1, "places in an area": 0, "outcome sums": 0}
	for _, c := range []struct {
		role    string
		answers bool
	}{
		{"admin", true}, {"area_analyst", true},
		{"link_worker", false}, {"group_editor", false}, {"network_admin", false}, {"", false},
	} {
		// Either side of the referral: A referred, B provides.
		for side, org := range map[string]string{"referrer A": "00000000-0000-4000-8000-00000000000a", "provider B": "00000000-0000-4000-8000-00000000000b"} {
			for name, sql := range functions {
				var n int
				b := db.IdentityBatch(db.Identity{Org: org, Role: c.role})
				b.Queue(sql).QueryRow(func(r pgx.Row) error { return r.Scan(&n) })
				err := app.SendBatch(ctx, b).Close()
				var pgErr *pgconn.PgError
				switch {
				case c.answers && (err != nil || n != want[name]):
					t.Errorf("%s as %q of %s: %d rows (%v), want %d", name, c.role, side, n, err, want[name])
				case !c.answers && (!errors.As(err, &pgErr) || pgErr.Code != "42501"):
					t.Errorf("%s as %q of %s: %d rows (%v), want insufficient_privilege", name, c.role, side, n, err)
				}
			}
		}
	}
}
