package db_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// A managed database gives SPARC a schema owner that is not a superuser.
// Migrations must apply as that login, row-level security must still bind
// the application role, and the aggregate functions (which run as the
// owner) must still see every row.
func TestMigrationsAndAggregatesWorkForANonSuperuserOwner(t *testing.T) {
	c := testenv.Cluster(t)
	ctx := context.Background()
	name := fmt.Sprintf("owner_%d", time.Now().UnixNano())
	for _, sql := range []string{
		fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD 'pw' CREATEROLE`, name),
		fmt.Sprintf(`CREATE DATABASE %s OWNER %s`, name, name),
	} {
		if _, err := c.Psql(ctx, "postgres", sql); err != nil {
			t.Fatal(err)
		}
	}
	// Extensions need a superuser (or a trusted extension); a provider's
	// console does this step.
	if _, err := c.Psql(ctx, name, `CREATE EXTENSION postgis; CREATE EXTENSION unaccent`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = c.Psql(context.Background(), "postgres", fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name))
		_, _ = c.Psql(context.Background(), "postgres", fmt.Sprintf(`DROP ROLE IF EXISTS %s`, name))
	})
	u, err := url.Parse(c.URL(name))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(name, "pw")
	owner, err := db.Open(ctx, u.String(), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	var super bool
	if err := owner.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil || super {
		t.Fatalf("owner is superuser=%v (%v); the test needs an ordinary login", super, err)
	}
	if err := db.Migrate(ctx, owner); err != nil {
		t.Fatalf("migrating as a non-superuser owner: %v", err)
	}

	// Two organisations, an asset of B and a referral from A to it.
	_, err = owner.Exec(ctx, oneReferralSQL)
	if err != nil {
		t.Fatal(err)
	}
	app, err := db.OpenApp(ctx, u.String(), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	// The application role, with no organisation, sees no referral...
	var visible int
	if err := app.QueryRow(ctx, `SELECT count(*) FROM referrals`).Scan(&visible); err != nil || visible != 0 {
		t.Fatalf("application role without an organisation sees %d referrals (%v), want 0", visible, err)
	}
	// ...but the aggregate, running as the owner, counts it.
	var n int64
	if err := app.QueryRow(ctx, `SELECT COALESCE(sum(n), 0) FROM sparc_referral_stats(NULL, NULL, now() - interval '1 day', now() + interval '1 day')`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("stats as a non-superuser owner counted %d (%v), want 1", n, err)
	}
	// So do the referral network's parts (migration 0069), whose
	// shared reading of the referrals is inlined into them, for an
	// analyst (they refuse other callers: analytics_guard_test.go).
	for _, part := range []string{
		`sparc_referral_network(NULL, now() - interval '1 day', now() + interval '1 day', false)`,
		`sparc_referral_network(NULL, now() - interval '1 day', now() + interval '1 day', true)`,
		`sparc_referral_network_homes(NULL, now() - interval '1 day', now() + interval '1 day')`,
	} {
		b := db.IdentityBatch(db.Identity{Role: "area_analyst"})
		b.Queue(`SELECT COALESCE(sum(n), 0) FROM ` + part).QueryRow(func(r pgx.Row) error { return r.Scan(&n) })
		if err := app.SendBatch(ctx, b).Close(); err != nil || n != 1 {
			t.Fatalf("%s as a non-superuser owner counted %d (%v), want 1", part, n, err)
		}
	}
	// The shared reading itself, called by the application role, is
	// under row-level security like any query of the referrals.
	if err := app.QueryRow(ctx, `SELECT count(*) FROM sparc_network_referrals(NULL, now() - interval '1 day', now() + interval '1 day')`).Scan(&n); err == nil && n != 0 {
		t.Fatalf("sparc_network_referrals called by the application role saw %d referrals, want 0 (or no right to call it)", n)
	}
}

// oneReferralSQL makes two organisations, A (a link-worker service) and
// B (a community group), an asset of B and a referral from A to it,
// requested now.
const oneReferralSQL = `
		INSERT INTO organisations (id, kind, name) VALUES
		  ('00000000-0000-4000-8000-00000000000a', 'link_worker_service', 'A'),
		  ('00000000-0000-4000-8000-00000000000b', 'community_group', 'B');
		INSERT INTO assets (id, kind, name, location, country, status, owner_organisation)
		  VALUES ('00000000-0000-4000-8000-0000000000a1', 'association', 'Walk', 'SRID=4326;POINT(-1.9 52.48)', 'GB', 'active',
		          '00000000-0000-4000-8000-00000000000b');
		INSERT INTO people (id, organisation_id, display_name)
		  VALUES ('00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-00000000000a', 'A. K.');
		INSERT INTO referrals (id, person_id, referring_org, link_worker, asset_id, provider_org, status, request_id, request_hash, requested_at)
		  VALUES ('00000000-0000-4000-8000-0000000000c1', '00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-00000000000a',
		          'key:test', '00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-00000000000b', 'requested', 'r1', '\x00', now())`
