package referrals_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/testenv"
)

// readable is a referral between two organisations with named keys and
// an asset with an address and a weekly session.
type readable struct {
	env                 *testenv.Env
	lwOrg, groupOrg     string
	lwKey, groupKey     string
	lw, group, outsider sparcv1.ReferralServiceClient
	asset               *sparcv1.Asset
	people              sparcv1.PersonServiceClient
	lwPrincipal         string
}

// namedKey issues a key with a display name, as CreateApiKey does.
func namedKey(t *testing.T, env *testenv.Env, org, role, name string) (string, string) {
	t.Helper()
	k, key, err := auth.NewKeyStore(env.Pool).Create(context.Background(), uuid.MustParse(org), role, name)
	if err != nil {
		t.Fatal(err)
	}
	return key, "key:" + k.GetPrefix()
}

func newReadable(t *testing.T, env *testenv.Env, assetName string) *readable {
	t.Helper()
	ctx := context.Background()
	w := &readable{env: env, lwOrg: env.NewOrg(t, "Ladywood PCN link workers", "link_worker_service"),
		groupOrg: env.NewOrg(t, "Saltley Walkers CIC", "community_group")}
	other := env.NewOrg(t, "Another link worker service", "link_worker_service")
	w.lwKey, w.lwPrincipal = namedKey(t, env, w.lwOrg, auth.RoleLinkWorker, "Amira Khan")
	w.groupKey, _ = namedKey(t, env, w.groupOrg, auth.RoleGroupEditor, "Group inbox")
	lwConn := env.ConnWithKey(t, w.lwKey)
	w.lw, w.people = sparcv1.NewReferralServiceClient(lwConn), sparcv1.NewPersonServiceClient(lwConn)
	w.group = sparcv1.NewReferralServiceClient(env.ConnWithKey(t, w.groupKey))
	w.outsider = sparcv1.NewReferralServiceClient(env.ConnWithKey(t, env.Key(t, other, auth.RoleLinkWorker)))
	var err error
	if w.asset, err = env.AssetsOf(t, w.groupOrg).CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: newAssetOf(w.groupOrg, assetName)}); err != nil {
		t.Fatal(err)
	}
	return w
}

// newAssetOf is an asset of org with an address and a weekly session.
func newAssetOf(org, name string) *sparcv1.Asset {
	return &sparcv1.Asset{Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: name,
		Location: &sparcv1.Location{Latitude: 52.48, Longitude: -1.86, Country: "GB", Address: "Saltley Park gates, Alum Rock Road",
			Postcode: "B8 1AA", Locality: "Birmingham"},
		Sessions: []*sparcv1.Session{{Day: sparcv1.Weekday_WEEKDAY_TUESDAY, StartTime: "10:30", EndTime: "12:00", Timezone: "Europe/London"}},
		Cost:     &sparcv1.Cost{Kind: sparcv1.CostKind_COST_KIND_FREE}, Accessibility: []string{"step_free_access"},
		Contact:            &sparcv1.Contact{Name: "Pat", Phone: "0121 496 0001"},
		AcceptingReferrals: true, OwnerOrganisation: "organisations/" + org}
}

func (w *readable) refer(t *testing.T) *sparcv1.Referral {
	t.Helper()
	ctx := context.Background()
	p, err := w.people.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: "A. Khan",
		Consent: &sparcv1.Consent{ShareWithProvider: true, Scopes: []sparcv1.ConsentScope{sparcv1.ConsentScope_CONSENT_SCOPE_BASIC}}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := w.lw.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: uuid.NewString(), Person: p.GetName(),
		Asset: w.asset.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Each side reads the asset, where and when it next meets and both
// organisations by name; only the referring side reads the link worker's
// name; another organisation reads nothing at all.
func TestReferralSummaryPerSide(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	w := newReadable(t, env, "Saltley Park walk")
	ctx := context.Background()
	created := w.refer(t)
	common := func(t *testing.T, s *sparcv1.ReferralSummary) {
		t.Helper()
		if s.GetAssetDisplayName() != "Saltley Park walk" || s.GetAddress() != "Saltley Park gates, Alum Rock Road" ||
			s.GetPostcode() != "B8 1AA" || s.GetLocality() != "Birmingham" ||
			s.GetReferringOrganisationDisplayName() != "Ladywood PCN link workers" ||
			s.GetProviderOrganisationDisplayName() != "Saltley Walkers CIC" {
			t.Fatalf("summary = %v", s)
		}
		n := s.GetNextSession()
		start := n.GetStartTime().AsTime()
		london, _ := time.LoadLocation("Europe/London")
		if n.GetTimeZone() != "Europe/London" || !strings.HasSuffix(n.GetLocalStart(), "T10:30:00") ||
			!strings.HasSuffix(n.GetLocalEnd(), "T12:00:00") || start.In(london).Weekday() != time.Tuesday ||
			!start.After(time.Now()) || start.After(time.Now().Add(7*24*time.Hour)) ||
			start.In(london).Format("2006-01-02T15:04:05") != n.GetLocalStart() {
			t.Fatalf("next session = %v", n)
		}
	}
	// CreateReferral answers without the summary (it would triple the
	// cost of a create); Get and List carry it.
	if s := created.GetSummary(); s != nil {
		t.Fatalf("created: summary = %v, want none (read it with Get)", s)
	}
	for _, tc := range []struct {
		name   string
		c      sparcv1.ReferralServiceClient
		worker string
	}{{"referrer", w.lw, "Amira Khan"}, {"provider", w.group, ""}} {
		got, err := tc.c.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: created.GetName()})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		common(t, got.GetSummary())
		if got.GetSummary().GetLinkWorkerDisplayName() != tc.worker {
			t.Fatalf("%s reads link worker %q, want %q", tc.name, got.GetSummary().GetLinkWorkerDisplayName(), tc.worker)
		}
		list, err := tc.c.ListReferrals(ctx, &sparcv1.ListReferralsRequest{})
		if err != nil || len(list.GetReferrals()) != 1 {
			t.Fatalf("%s: list %v, %v", tc.name, list, err)
		}
		common(t, list.GetReferrals()[0].GetSummary())
		if list.GetReferrals()[0].GetSummary().GetLinkWorkerDisplayName() != tc.worker {
			t.Fatalf("%s lists link worker %q, want %q", tc.name, list.GetReferrals()[0].GetSummary().GetLinkWorkerDisplayName(), tc.worker)
		}
	}
	if _, err := w.outsider.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: created.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("another organisation: %v, want NotFound", err)
	}
	if list, err := w.outsider.ListReferrals(ctx, &sparcv1.ListReferralsRequest{}); err != nil || len(list.GetReferrals()) != 0 {
		t.Fatalf("another organisation lists %v, %v", list, err)
	}
}

// The database's own wall: the key-name function gives a transaction
// only its own organisation's keys, so the provider's identity asking for
// the referrer's link worker reads nothing, whatever Go asks.
func TestKeyDisplayNamesStayInTheirOrganisation(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	w := newReadable(t, env, "Walk")
	keys := auth.NewKeyStore(env.AppPool)
	read := func(org, role string) map[string]string {
		var got map[string]string
		ctx := db.WithIdentity(context.Background(), db.Identity{Org: org, Role: role})
		if err := db.InTx(ctx, env.AppPool, pgx.ReadCommitted, func(tx pgx.Tx) error {
			var err error
			got, err = keys.DisplayNames(ctx, tx, []string{w.lwPrincipal, "oidc:someone"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := read(w.lwOrg, auth.RoleLinkWorker); got[w.lwPrincipal] != "Amira Khan" || len(got) != 1 {
		t.Fatalf("own organisation reads %v", got)
	}
	if got := read(w.groupOrg, auth.RoleGroupEditor); len(got) != 0 {
		t.Fatalf("another organisation reads %v", got)
	}
}

// counter counts the statements a pool sends, by text.
type counter struct {
	mu  sync.Mutex
	sql []string
}

func (c *counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	c.sql = append(c.sql, d.SQL)
	c.mu.Unlock()
	return ctx
}
func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *counter) reset() { c.mu.Lock(); c.sql = nil; c.mu.Unlock() }

// count is how many statements contained each of subs, and in all.
func (c *counter) count(subs ...string) (map[string]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, s := range c.sql {
		for _, sub := range subs {
			if strings.Contains(s, sub) {
				out[sub]++
			}
		}
	}
	return out, len(c.sql)
}

// A page of 50 referrals reads the assets, the organisations' names and
// the link workers' names once each, not once per referral: counted by a
// tracer on the server's own pool, through the real server.
func TestListReferralsReadsSummariesOncePerPage(t *testing.T) {
	t.Parallel()
	owner := testenv.NewPool(t)
	cfg, err := pgxpool.ParseConfig(owner.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SET ROLE "+db.AppRole)
		return err
	}
	tr := &counter{}
	cfg.ConnConfig.Tracer = tr
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, pool, app.Config{Auth: auth.Config{RatePerSecond: 10000, Burst: 10000},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	testenv.Serve(t, ctx, cancel, a)
	env := &testenv.Env{App: a, Pool: owner, AppPool: pool, Server: a.Server(), HTTPBase: "http://" + a.Server().HTTPAddr(),
		HTTP: &http.Client{Timeout: 30 * time.Second}}
	w := newReadable(t, env, "Walk one")
	// Two assets of the provider, so the page names several.
	a2, err := env.AssetsOf(t, w.groupOrg).CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: newAssetOf(w.groupOrg, "Walk two")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if i%2 == 1 {
			w.asset, a2 = a2, w.asset
		}
		w.refer(t)
	}
	stores := []string{"FROM assets a WHERE a.id = ANY", "FROM organisations WHERE id = ANY", "sparc_key_names"}
	for _, side := range []struct {
		name string
		c    sparcv1.ReferralServiceClient
		want int // key-name reads: only the referrer's page asks
	}{{"referrer", w.lw, 1}, {"provider", w.group, 0}} {
		tr.reset()
		list, err := side.c.ListReferrals(context.Background(), &sparcv1.ListReferralsRequest{PageSize: 50})
		if err != nil || len(list.GetReferrals()) != 50 {
			t.Fatalf("%s: %d referrals, %v", side.name, len(list.GetReferrals()), err)
		}
		for _, r := range list.GetReferrals() {
			if r.GetSummary().GetAssetDisplayName() == "" || r.GetSummary().GetProviderOrganisationDisplayName() == "" {
				t.Fatalf("%s: %s has no summary", side.name, r.GetName())
			}
		}
		n, total := tr.count(stores...)
		if n[stores[0]] != 1 || n[stores[1]] != 1 || n[stores[2]] != side.want {
			t.Fatalf("%s: a page of 50 read the owners' stores %v times, want once each", side.name, n)
		}
		t.Logf("%s: a page of 50 referrals: %d statements in all (%v)", side.name, total, n)
	}
}
