package auth_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// Direct-SQL tests of the tenancy policies (migration 0041): the
// application role, with an identity set as internal/db sets it, reaches
// only its own organisation's keys, audit events and organisation row
// unless it is the network admin. Each test then weakens each policy to
// USING (true) / WITH CHECK (true) as the owner and shows its check fails,
// so a policy loosened by a later migration cannot pass unnoticed.

// ident is an identity a transaction acts with.
type ident struct{ name, org, role string }

// failures collects what a check found wrong, so that the same check can
// be required to pass (policies intact) and to fail (one weakened).
type failures []string

func (f *failures) add(format string, args ...any) { *f = append(*f, fmt.Sprintf(format, args...)) }

// inAppTxErr is inAppTx for checks: it returns instead of failing the test.
func inAppTxErr(pool *pgxpool.Pool, org, role string, fn func(pgx.Tx) error) error {
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `SELECT set_config('sparc.org', $1, true), set_config('sparc.role', $2, true)`, org, role); err != nil {
		return err
	}
	return fn(tx)
}

// count runs a count(*) query as id.
func count(pool *pgxpool.Pool, id ident, q string, args ...any) (int, error) {
	var n int
	err := inAppTxErr(pool, id.org, id.role, func(tx pgx.Tx) error { return tx.QueryRow(context.Background(), q, args...).Scan(&n) })
	return n, err
}

// exec runs a statement as id and returns the rows it affected.
func exec(pool *pgxpool.Pool, id ident, q string, args ...any) (int64, error) {
	var n int64
	err := inAppTxErr(pool, id.org, id.role, func(tx pgx.Tx) error {
		tag, err := tx.Exec(context.Background(), q, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// requireCaughtWhenWeakened passes check with the policies intact, then
// makes each policy permissive in turn (as the owner, restoring it after)
// and requires check to report something each time.
func requireCaughtWhenWeakened(t *testing.T, owner *pgxpool.Pool, table string, policies []string, check func() failures) {
	t.Helper()
	if f := check(); len(f) > 0 {
		t.Fatalf("with the policies of %s intact:\n%s", table, strings.Join(f, "\n"))
	}
	for _, policy := range policies {
		t.Run("weakened "+policy, func(t *testing.T) {
			ctx := context.Background()
			var cmd string
			var qual, withCheck *string
			if err := owner.QueryRow(ctx, `SELECT cmd, qual, with_check FROM pg_policies WHERE tablename = $1 AND policyname = $2`,
				table, policy).Scan(&cmd, &qual, &withCheck); err != nil {
				t.Fatalf("reading policy %s: %v", policy, err)
			}
			alter := func(using, check *string) {
				t.Helper()
				q := "ALTER POLICY " + policy + " ON " + table
				if using != nil {
					q += " USING (" + *using + ")"
				}
				if check != nil {
					q += " WITH CHECK (" + *check + ")"
				}
				if _, err := owner.Exec(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			yes := "true"
			weakUsing, weakCheck := &yes, &yes
			if qual == nil {
				weakUsing = nil
			}
			if withCheck == nil {
				weakCheck = nil
			}
			alter(weakUsing, weakCheck)
			defer alter(qual, withCheck)
			if f := check(); len(f) == 0 {
				t.Errorf("policy %s weakened to true (%s), yet the check found nothing wrong", policy, cmd)
			}
		})
	}
}

func TestRowLevelSecurityOnAPIKeys(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	orgA, orgB := env.NewOrg(t, "A", "community_group"), env.NewOrg(t, "B", "community_group")
	keyA := env.Key(t, orgA, auth.RoleLinkWorker)
	env.Key(t, orgB, auth.RoleLinkWorker)
	var keyAID string
	if err := env.Pool.QueryRow(ctx, `SELECT id::text FROM api_keys WHERE prefix = $1`, keyA[:14]).Scan(&keyAID); err != nil {
		t.Fatal(err)
	}
	var total int
	if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM api_keys`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	adminA := ident{"A's admin", orgA, auth.RoleAdmin}
	adminB := ident{"B's admin", orgB, auth.RoleAdmin}
	network := ident{"the network admin", orgB, auth.RoleNetworkAdmin}
	others := []ident{{"no identity", "", ""}, {"A's link worker", orgA, auth.RoleLinkWorker}, {"A's group editor", orgA, auth.RoleGroupEditor}, adminB}
	insert := `INSERT INTO api_keys (id, organisation_id, role, prefix, secret_sha256) VALUES (gen_random_uuid(), $1, $2, 'sparc_' || substr(md5(random()::text), 1, 8), '\x00')`

	check := func() failures {
		var f failures
		// Reading: A's keys (one) to A's admin, every key to the network.
		for _, c := range []struct {
			id   ident
			want int
		}{{adminA, 1}, {network, total}, {others[0], 0}, {others[1], 0}, {others[2], 0}, {adminB, 1}} {
			if n, err := count(env.AppPool, c.id, `SELECT count(*) FROM api_keys`); err != nil || n != c.want {
				f.add("%s sees %d keys (%v), want %d", c.id.name, n, err, c.want)
			}
		}
		// Revoking A's key: A's admin and the network, nobody else.
		for _, id := range append(others, adminA, network) {
			want := int64(0)
			if id == adminA || id == network {
				want = 1
			}
			if n, err := exec(env.AppPool, id, `UPDATE api_keys SET revoked_at = now() WHERE id = $1`, keyAID); n != want {
				f.add("%s revoking A's key changed %d rows (%v), want %d", id.name, n, err, want)
			}
		}
		// Issuing a key of A: A's admin (never a network admin) and the network.
		for _, c := range []struct {
			id   ident
			role string
			ok   bool
		}{{adminA, "link_worker", true}, {adminA, "network_admin", false}, {network, "network_admin", true}, {network, "admin", true},
			{adminB, "admin", false}, {others[0], "admin", false}, {others[1], "link_worker", false}} {
			_, err := exec(env.AppPool, c.id, insert, orgA, c.role)
			if (err == nil) != c.ok {
				f.add("%s issuing a %s key of A: err %v, want allowed=%v", c.id.name, c.role, err, c.ok)
			}
		}
		// A's admin may not move its key to B or make it a network admin.
		for _, set := range []string{"organisation_id = '" + orgB + "'", "role = 'network_admin'"} {
			if _, err := exec(env.AppPool, adminA, `UPDATE api_keys SET `+set+` WHERE id = $1`, keyAID); err == nil {
				f.add("A's admin could set %s on its key", set)
			}
		}
		return f
	}
	requireCaughtWhenWeakened(t, env.Pool, "api_keys", []string{"api_keys_read", "api_keys_insert", "api_keys_update"}, check)

	// Authentication reads keys before any identity exists (through
	// sparc_key_lookup) and records their use (sparc_key_used).
	if _, err := sparcv1.NewAssetServiceClient(env.ConnWithKey(t, keyA)).ListVocabulary(ctx, &sparcv1.ListVocabularyRequest{}); err != nil {
		t.Fatalf("a valid key was refused under row-level security: %v", err)
	}
	var used bool
	if err := env.Pool.QueryRow(ctx, `SELECT last_used_at IS NOT NULL FROM api_keys WHERE id = $1`, keyAID).Scan(&used); err != nil || !used {
		t.Errorf("key use not recorded: %v, %v", used, err)
	}
}

func TestRowLevelSecurityOnAuditEvents(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	orgA, orgB := env.NewOrg(t, "A", "community_group"), env.NewOrg(t, "B", "community_group")
	// Events of A, of B and of nobody (an anonymous denial), written as
	// the application writes them: with no identity at all.
	for _, org := range []any{orgA, orgB, orgB, nil} {
		if _, err := env.AppPool.Exec(context.Background(), `INSERT INTO audit_events (principal, organisation_id, method, outcome, code)
			VALUES ('p', $1, '/rls.Test/Event', 'denied', 'NotFound')`, org); err != nil {
			t.Fatalf("the application could not write an audit event without an identity: %v", err)
		}
	}
	q := `SELECT count(*) FROM audit_events WHERE method = '/rls.Test/Event'`
	check := func() failures {
		var f failures
		for _, c := range []struct {
			id   ident
			want int
		}{
			{ident{"A's admin", orgA, auth.RoleAdmin}, 1},
			{ident{"B's admin", orgB, auth.RoleAdmin}, 2},
			{ident{"the network admin", orgA, auth.RoleNetworkAdmin}, 4},
			{ident{"A's link worker", orgA, auth.RoleLinkWorker}, 0},
			{ident{"A's group editor", orgA, auth.RoleGroupEditor}, 0},
			{ident{"no identity", "", ""}, 0},
		} {
			if n, err := count(env.AppPool, c.id, q); err != nil || n != c.want {
				f.add("%s sees %d events (%v), want %d", c.id.name, n, err, c.want)
			}
		}
		return f
	}
	requireCaughtWhenWeakened(t, env.Pool, "audit_events", []string{"audit_events_read"}, check)
}

func TestRowLevelSecurityOnOrganisations(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	orgA, orgB := env.NewOrg(t, "A", "community_group"), env.NewOrg(t, "B", "community_group")
	adminA := ident{"A's admin", orgA, auth.RoleAdmin}
	network := ident{"the network admin", orgB, auth.RoleNetworkAdmin}
	check := func() failures {
		var f failures
		for _, c := range []struct {
			id   ident
			want int64
		}{{adminA, 1}, {network, 1}, {ident{"B's admin", orgB, auth.RoleAdmin}, 0}, {ident{"A's group editor", orgA, auth.RoleGroupEditor}, 0},
			{ident{"A's link worker", orgA, auth.RoleLinkWorker}, 0}, {ident{"no identity", "", ""}, 0}} {
			if n, err := exec(env.AppPool, c.id, `UPDATE organisations SET website = 'https://example.org/x' WHERE id = $1`, orgA); n != c.want {
				f.add("%s changing A changed %d rows (%v), want %d", c.id.name, n, err, c.want)
			}
		}
		for _, c := range []struct {
			id ident
			ok bool
		}{{network, true}, {adminA, false}, {ident{"no identity", "", ""}, false}} {
			_, err := exec(env.AppPool, c.id, `INSERT INTO organisations (id, kind, name) VALUES (gen_random_uuid(), 'other', 'New')`)
			if (err == nil) != c.ok {
				f.add("%s creating an organisation: %v, want allowed=%v", c.id.name, err, c.ok)
			}
		}
		if _, err := exec(env.AppPool, adminA, `UPDATE organisations SET id = $2 WHERE id = $1`, orgA, orgB); err == nil {
			f.add("A's admin could turn its row into B's")
		}
		return f
	}
	requireCaughtWhenWeakened(t, env.Pool, "organisations", []string{"organisations_update", "organisations_insert"}, check)

	// The status is the network's: A's admin cannot lift (or set) a
	// suspension even on its own row.
	if _, err := exec(env.AppPool, adminA, `UPDATE organisations SET status = 'suspended' WHERE id = $1`, orgA); err == nil || !strings.Contains(err.Error(), "42501") {
		t.Errorf("A's admin changing its status: %v, want insufficient_privilege", err)
	}
	if n, err := exec(env.AppPool, network, `UPDATE organisations SET status = 'suspended' WHERE id = $1`, orgA); err != nil || n != 1 {
		t.Errorf("network admin suspending A: %d rows, %v", n, err)
	}
}
