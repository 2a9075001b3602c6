package testenv

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// Change is a referral change as the tests of WatchReferrals and of
// webhooks compare what was received with the outbox: the referral's name,
// the kind of change ("created", ...) and the status it moved to, as
// ReferralStatus.String names it.
type Change struct{ Referral, Kind, To string }

// Outbox is the oracle of those tests: the changes in referral_outbox
// after the position (txid, seq) that org is party to (as the referring
// or the providing side), in outbox order, the order every watcher and
// webhook must receive them in. Position "0", 0 gives them all. pool must
// see every row (the owner's pool).
func Outbox(t testing.TB, pool *pgxpool.Pool, org, txid string, seq int64) []Change {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT 'referrals/' || referral_id::text, type, to_status FROM referral_outbox
		WHERE (txid, seq) > ($1::text::xid8, $2) AND (referring_org = $3 OR provider_org = $3) ORDER BY txid, seq`, txid, seq, org)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Change, error) {
		var c Change
		err := r.Scan(&c.Referral, &c.Kind, &c.To)
		c.To = "REFERRAL_STATUS_" + strings.ToUpper(c.To)
		return c, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// SameChanges checks that got holds want, in order, each once (by
// cursor). of gives what a received change is compared by; it is the
// caller's, so that this helper reads no field of a change but its cursor.
func SameChanges[C comparable](t testing.TB, got []*sparcv1.ReferralChange, want []C, of func(*sparcv1.ReferralChange) C) {
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
		if g := of(got[i]); g != want[i] {
			t.Fatalf("change %d is %v, want %v (outbox order)", i, g, want[i])
		}
	}
}
