// Package restarttest proves that CreateReferral stays exactly-once while
// PostgreSQL crashes and restarts. It kills the postmaster of the test
// cluster, which every test of a package binary shares, so it lives in a
// package of its own where no other test can be disturbed by the crash.
package restarttest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) {
	// The server logs every audit event it cannot write while the database
	// is down; that is expected here.
	if os.Getenv("SPARC_TEST_LOG") == "" {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	os.Exit(testenv.Main(m))
}

const (
	creates = 1000
	workers = 32
	// The postmaster is killed once this many referrals were confirmed.
	killAfter = 300
)

func TestConcurrentCreatesAreExactlyOnceAcrossADatabaseCrash(t *testing.T) {
	env := testenv.NewServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	lwOrg := env.NewOrg(t, "Crash-test link workers", "link_worker_service")
	groupOrg := env.NewOrg(t, "Crash-test group", "community_group")
	conn := env.ConnWithKey(t, env.Key(t, lwOrg, auth.RoleLinkWorker))
	people, referrals := sparcv1.NewPersonServiceClient(conn), sparcv1.NewReferralServiceClient(conn)
	asset, err := env.AssetsOf(t, groupOrg).CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Crash-test choir", AcceptingReferrals: true,
		Location:          &sparcv1.Location{Latitude: 52.48, Longitude: -1.86, Country: "GB"},
		OwnerOrganisation: "organisations/" + groupOrg}})
	if err != nil {
		t.Fatal(err)
	}
	person, err := people.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: "C. R.",
		Consent: &sparcv1.Consent{ShareWithProvider: true, Scopes: []sparcv1.ConsentScope{sparcv1.ConsentScope_CONSENT_SCOPE_BASIC}}}})
	if err != nil {
		t.Fatal(err)
	}

	// The test cluster runs with synchronous_commit off for speed, which
	// loses the last acknowledged commits in a crash; this test is about
	// what the service does with a durable database, as sparcd runs it.
	cluster := testenv.Cluster(t)
	dbName := env.Pool.Config().ConnConfig.Database
	if _, err := cluster.Psql(ctx, "postgres", "ALTER DATABASE "+dbName+" SET synchronous_commit = on"); err != nil {
		t.Fatal(err)
	}
	env.AppPool.Reset()
	env.Pool.Reset()
	var sc string
	if err := env.AppPool.QueryRow(ctx, "SHOW synchronous_commit").Scan(&sc); err != nil || sc != "on" {
		t.Fatalf("synchronous_commit = %q (%v), want on", sc, err)
	}
	var confirmed, retries, atKill atomic.Int64
	crashed := make(chan error, 1)
	go func() {
		for confirmed.Load() < killAfter && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		atKill.Store(confirmed.Load())
		if err := cluster.Kill(); err != nil {
			crashed <- err
			return
		}
		time.Sleep(500 * time.Millisecond) // clients see the outage
		crashed <- cluster.Restart(ctx)
	}()

	got := make([]string, creates) // referral id per request
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= creates {
					return
				}
				req := &sparcv1.CreateReferralRequest{RequestId: fmt.Sprintf("crash-%04d", i), Person: person.GetName(),
					Asset: asset.GetName(), Reasons: []string{"social_connection"}, ProviderNote: fmt.Sprintf("note %d", i)}
				for attempt := 0; ; attempt++ {
					callCtx, done := context.WithTimeout(ctx, 20*time.Second)
					r, err := referrals.CreateReferral(callCtx, req)
					done()
					if err == nil {
						got[i] = r.GetName()
						confirmed.Add(1)
						break
					}
					// A refusal of the request itself is a bug; anything
					// else is the outage, and the client retries the same
					// request id.
					if c := status.Code(err); c == codes.InvalidArgument || c == codes.NotFound || c == codes.FailedPrecondition || ctx.Err() != nil {
						errs <- fmt.Errorf("request %d, attempt %d: %w", i, attempt, err)
						return
					}
					retries.Add(1)
					time.Sleep(time.Duration(min(attempt+1, 10)) * 100 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := <-crashed; err != nil {
		t.Fatalf("crashing and restarting PostgreSQL: %v", err)
	}
	if t.Failed() {
		return
	}
	// The crash came with creates still to make (32 in flight): the server
	// rides out a short restart by retrying idempotent writes itself, so
	// clients may or may not have seen a failure and retried.
	if n := atKill.Load(); n >= creates {
		t.Fatalf("the crash came after all %d creates were confirmed", n)
	}
	t.Logf("killed after %d of %d creates; %d confirmed, after %d client retries", atKill.Load(), creates, confirmed.Load(), retries.Load())

	var total, distinct, badTimelines, badOutbox int64
	query(t, env.Pool, func() error {
		return env.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT request_id) FROM referrals WHERE referring_org = $1`, lwOrg).
			Scan(&total, &distinct)
	})
	if total != creates || distinct != creates {
		t.Fatalf("%d referrals with %d distinct request ids, want exactly %d", total, distinct, creates)
	}
	// Every timeline is complete: exactly one creation event (from no
	// status to requested) and one outbox row, and nothing else.
	query(t, env.Pool, func() error {
		return env.Pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE (SELECT count(*) FROM referral_events e WHERE e.referral_id = r.id) <> 1
			                    OR NOT EXISTS (SELECT 1 FROM referral_events e WHERE e.referral_id = r.id
			                                   AND e.from_status = '' AND e.to_status = 'requested')),
			count(*) FILTER (WHERE (SELECT count(*) FROM referral_outbox o WHERE o.referral_id = r.id AND o.type = 'created') <> 1
			                    OR (SELECT count(*) FROM referral_outbox o WHERE o.referral_id = r.id) <> 1)
			FROM referrals r WHERE r.referring_org = $1`, lwOrg).Scan(&badTimelines, &badOutbox)
	})
	if badTimelines != 0 || badOutbox != 0 {
		t.Fatalf("%d referrals with an incomplete timeline, %d with a wrong outbox", badTimelines, badOutbox)
	}
	// Each client got the referral its request id made, not another.
	ids := map[string]string{}
	query(t, env.Pool, func() error {
		rows, err := env.Pool.Query(ctx, `SELECT request_id, 'referrals/' || id::text FROM referrals WHERE referring_org = $1`, lwOrg)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var rid, id string
			if err := rows.Scan(&rid, &id); err != nil {
				return err
			}
			ids[rid] = id
		}
		return rows.Err()
	})
	for i, id := range got {
		if want := ids[fmt.Sprintf("crash-%04d", i)]; id != want {
			t.Errorf("request %d was answered with referral %s, the database holds %s", i, id, want)
		}
	}
}

// query runs fn until it succeeds: the owner pool's connections died with
// the postmaster and are replaced on first use.
func query(t *testing.T, _ *pgxpool.Pool, fn func() error) {
	t.Helper()
	var err error
	for range 20 {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatal(err)
}
