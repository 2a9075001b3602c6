package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/testenv"
)

// searchNames returns the display names a text search finds.
func searchNames(t *testing.T, env *testenv.Env, q string) []string {
	t.Helper()
	res, err := env.Assets.SearchAssets(context.Background(), &sparcv1.SearchAssetsRequest{Query: q, PageSize: 50})
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	var names []string
	for _, h := range res.GetResults() {
		names = append(names, h.GetAsset().GetDisplayName())
	}
	return names
}

// orukServices returns the names the Open Referral listing finds for text.
func orukServices(t *testing.T, env *testenv.Env, text string) []string {
	t.Helper()
	resp, body := env.Do(t, http.MethodGet, "/openreferral/services?search="+url.QueryEscape(text), "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ORUK services: %d %s", resp.StatusCode, body)
	}
	var page struct {
		Contents []struct{ Name string } `json:"contents"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range page.Contents {
		names = append(names, s.Name)
	}
	return names
}

func createAsset(t *testing.T, env *testenv.Env, name string) *sparcv1.Asset {
	t.Helper()
	a, err := env.Assets.CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: name,
		Location: &sparcv1.Location{Latitude: 52.48, Longitude: -1.86, Country: "GB"}}})
	if err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
	return a
}

// With a streaming replica as the read pool, search and the Open Referral
// listing are served by the replica: while its replay is paused they see
// the directory as it stood (stale but consistent), while writes still
// succeed on the primary and a Get after a Create reads its own write. On
// resuming, the replica catches up; WaitReplayed bounds a wait for a
// write's position. The read pool refuses writes and row-level security
// binds it as on the primary.
func TestReadReplicaRouting(t *testing.T) {
	rep := testenv.StartReplica(t)
	env := testenv.NewServer(t, testenv.Options{Replica: rep})
	ctx := context.Background()
	dbName := strings.TrimPrefix(env.Pool.Config().ConnConfig.Database, "/")

	createAsset(t, env, "Replica choir")
	testenv.Until(t, 10*time.Second, "the replica to show the first asset", func() bool {
		return len(searchNames(t, env, "replica choir")) == 1
	})
	// The read pool's sessions on the replica are sparcd's, not a test's.
	if n := strings.TrimSpace(rep.Psql(t, dbName, `SELECT count(*) FROM pg_stat_activity WHERE application_name = '`+db.ReadApplicationName+`'`)); n == "0" {
		t.Fatalf("no %s session on the replica", db.ReadApplicationName)
	}

	rep.Psql(t, dbName, "SELECT pg_wal_replay_pause()")
	resumed := false
	defer func() {
		if !resumed {
			rep.Psql(t, dbName, "SELECT pg_wal_replay_resume()")
		}
	}()
	testenv.Until(t, 10*time.Second, "replay to pause", func() bool {
		return strings.TrimSpace(rep.Psql(t, dbName, "SELECT pg_get_wal_replay_pause_state()")) == "paused"
	})
	second := createAsset(t, env, "Replica orchestra") // the write succeeds on the primary
	got, err := env.Assets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: second.GetName()})
	if err != nil || got.GetDisplayName() != "Replica orchestra" {
		t.Fatalf("get after create (read your write): %v, %v", got, err)
	}
	// An organisation's list of its own assets reads the primary.
	own, err := env.Assets.ListAssets(ctx, &sparcv1.ListAssetsRequest{OwnerOrganisation: second.GetOwnerOrganisation(), PageSize: 50})
	if err != nil || !slices.ContainsFunc(own.GetAssets(), func(a *sparcv1.Asset) bool { return a.GetName() == second.GetName() }) {
		t.Fatalf("listing the owner's assets right after its create: %v (err %v)", own.GetAssets(), err)
	}
	if names := searchNames(t, env, "replica orchestra"); len(names) != 0 {
		t.Fatalf("search was not served by the paused replica: found %v", names)
	}
	if names := orukServices(t, env, "replica orchestra"); len(names) != 0 {
		t.Fatalf("ORUK listing was not served by the paused replica: found %v", names)
	}
	if names := searchNames(t, env, "replica choir"); len(names) != 1 {
		t.Fatalf("the paused replica lost what it had: %v", names)
	}
	lsn, err := db.WALPosition(ctx, env.AppPool)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.WaitReplayed(ctx, env.ReadPool, lsn, 200*time.Millisecond); !errors.Is(err, db.ErrReplicaBehind) {
		t.Fatalf("waiting on a paused replica: %v, want ErrReplicaBehind", err)
	}
	if err := db.WaitReplayed(ctx, env.AppPool, lsn, 200*time.Millisecond); err != nil {
		t.Fatalf("waiting on the primary itself: %v", err)
	}

	rep.Psql(t, dbName, "SELECT pg_wal_replay_resume()")
	resumed = true
	if err := db.WaitReplayed(ctx, env.ReadPool, lsn, 10*time.Second); err != nil {
		t.Fatalf("waiting for the resumed replica: %v", err)
	}
	if names := searchNames(t, env, "replica orchestra"); len(names) != 1 {
		t.Fatalf("search after the replica replayed the write: %v", names)
	}
	if names := orukServices(t, env, "replica orchestra"); len(names) != 1 {
		t.Fatalf("ORUK after the replica replayed the write: %v", names)
	}

	// The read pool never writes, even were it pointed at a primary.
	err = db.InTx(ctx, env.ReadPool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE assets SET name = 'x'")
		return err
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "25006" {
		t.Fatalf("write through the read pool: %v, want read_only_sql_transaction", err)
	}
}

// Row-level security binds the read pool on the replica as it binds the
// primary's: an organisation's link worker sees its own people only,
// another organisation's never, and a call without identity none.
func TestReadReplicaVisibility(t *testing.T) {
	rep := testenv.StartReplica(t)
	env := testenv.NewServer(t, testenv.Options{Replica: rep})
	ctx := context.Background()
	a, b := env.NewReferrals(t), env.NewReferrals(t)
	lsn, err := db.WALPosition(ctx, env.AppPool)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.WaitReplayed(ctx, env.ReadPool, lsn, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	people := func(id db.Identity) (orgs []string) {
		t.Helper()
		err := db.Read(db.WithIdentity(ctx, id), env.ReadPool, func(bt *pgx.Batch) {
			bt.Queue("SELECT organisation_id::text FROM people ORDER BY 1").Query(func(rows pgx.Rows) error {
				orgs, err = pgx.CollectRows(rows, pgx.RowTo[string])
				return err
			})
		})
		if err != nil {
			t.Fatalf("reading people on the replica: %v", err)
		}
		return orgs
	}
	for _, c := range []struct {
		name string
		id   db.Identity
		want []string
	}{
		{"first organisation", db.Identity{Org: a.Referrer, Role: auth.RoleLinkWorker}, []string{a.Referrer}},
		{"second organisation", db.Identity{Org: b.Referrer, Role: auth.RoleLinkWorker}, []string{b.Referrer}},
		{"provider of neither", db.Identity{Org: a.Provider, Role: auth.RoleLinkWorker}, nil},
		{"no identity", db.Identity{}, nil},
	} {
		got := people(c.id)
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s sees people of %v on the replica, want %v", c.name, got, c.want)
		}
	}
}
