package auth_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// Servers cache verified keys; a change made anywhere else (another
// replica, psql) must still stop the key, by notification, without waiting
// for the cache to expire.
func TestKeyChangesMadeElsewhereStopACachedKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change string // $1 key prefix, $2 organisation
	}{
		{"key revoked outside this server", `UPDATE api_keys SET revoked_at = now() WHERE prefix = $1 AND $2::uuid IS NOT NULL`},
		{"organisation suspended outside this server", `UPDATE organisations SET status = 'suspended' WHERE id = $2 AND $1::text IS NOT NULL`},
		{"key's role changed outside this server", `UPDATE api_keys SET role = 'area_analyst' WHERE prefix = $1 AND $2::uuid IS NOT NULL`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.NewServer(t)
			org := env.NewOrg(t, "Cache test service", "link_worker_service")
			key := env.Key(t, org, auth.RoleLinkWorker)
			people := sparcv1.NewPersonServiceClient(env.ConnWithKey(t, key))
			ctx := context.Background()
			create := func() error {
				_, err := people.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: "C. T."}})
				return err
			}
			for range 3 { // the first call looks the key up, the others use the cache
				if err := create(); err != nil {
					t.Fatalf("before the change: %v", err)
				}
			}
			prefix, _, err := auth.ParseKey(key)
			if err != nil {
				t.Fatal(err)
			}
			if tag, err := env.Pool.Exec(ctx, tc.change, prefix, org); err != nil || tag.RowsAffected() != 1 {
				t.Fatalf("change: %v (%d rows)", err, tag.RowsAffected())
			}
			// Notifications arrive within milliseconds; the bound only
			// keeps a broken build from hanging.
			deadline := time.Now().Add(10 * time.Second)
			for {
				err := create()
				if c := status.Code(err); c == codes.Unauthenticated || c == codes.PermissionDenied {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("the key still works after the change: %v", err)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}
