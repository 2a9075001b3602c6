// Package testenv gives tests a real PostgreSQL + PostGIS and real SPARC
// servers. One private cluster is started per test binary (from the system
// binaries, no Docker); migrations run once into a template database, and
// every test gets its own database cloned from it, so tests run in
// parallel without seeing each other's rows. Packages using it call Main
// from TestMain so the cluster is stopped when the tests end.
//
// Access control (issue 4) is on: every write needs an API key, and an
// asset's owner_organisation must be an existing organisation id. The
// clients of NewServer act as an admin of env.AdminOrg (env.Conn,
// env.Assets, env.HTTP send env.AdminKey), who acts only inside that
// organisation: use env.AssetsOf for another organisation's assets,
// env.Network for network tasks (organisations, keys of any organisation,
// areas), env.Key for keys of other roles, env.ConnWithKey("") or plain
// http.Get for anonymous calls.
package testenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/coverage"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/httproute"
	"github.com/sparc-network/sparc/internal/pgcluster"
	"github.com/sparc-network/sparc/internal/telemetry"
)

const templateDB = "sparc_template"

var (
	once       sync.Once
	cluster    *pgcluster.Cluster
	clusterDir string
	startErr   error
	createMu   sync.Mutex
	dbCounter  atomic.Int64
)

// Main runs the package's tests and stops the cluster afterwards.
func Main(m *testing.M) int {
	code := m.Run()
	StopReplica()
	if cluster != nil {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: stopping cluster:", err)
		}
		_ = os.RemoveAll(clusterDir)
	}
	return code
}

func start() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	clusterDir, startErr = pgcluster.MkdirTemp("sparc-test-")
	if startErr != nil {
		return
	}
	cluster, startErr = pgcluster.Start(ctx, pgcluster.Options{
		Dir: filepath.Join(clusterDir, "db"), Database: templateDB, Fast: true,
	})
	if startErr != nil {
		return
	}
	pool, err := db.Open(ctx, cluster.URL(templateDB), 2)
	if err != nil {
		startErr = err
		return
	}
	defer pool.Close()
	startErr = db.Migrate(ctx, pool)
}

// Cluster returns the shared cluster, starting it on first use.
func Cluster(t testing.TB) *pgcluster.Cluster {
	t.Helper()
	once.Do(start)
	if startErr != nil {
		t.Fatalf("starting test database: %v", startErr)
	}
	return cluster
}

// NewDatabase creates a fresh migrated database for this test and returns
// its URL; it is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	c := Cluster(t)
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), dbCounter.Add(1))
	ctx := context.Background()
	createMu.Lock()
	_, err := c.Psql(ctx, "postgres", fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, templateDB))
	createMu.Unlock()
	if err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = c.Psql(context.Background(), "postgres", fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return c.URL(name)
}

// NewPool returns a pool on a fresh database for this test, logged in as
// the schema owner (a superuser here, so row-level security does not bind
// it): for setting up fixtures and checking results directly.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), NewDatabase(t), 16)
	if err != nil {
		t.Fatalf("opening test database: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// AppPool opens a pool on the same database as owner acting as the
// application role, as sparcd serves requests (row-level security binds).
func AppPool(t testing.TB, owner *pgxpool.Pool) *pgxpool.Pool {
	t.Helper()
	pool, err := db.OpenApp(context.Background(), owner.Config().ConnString(), 16)
	if err != nil {
		t.Fatalf("opening application pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Env is a running SPARC server on a fresh database.
type Env struct {
	App       *app.App
	Pool      *pgxpool.Pool // owner pool: fixtures and direct checks
	AppPool   *pgxpool.Pool // the pool the server runs on (application role)
	ReadPool  *pgxpool.Pool // Options.Replica's read pool; nil without
	Server    Addrs
	Conn      *grpc.ClientConn // sends AdminKey on every call
	HTTPBase  string           // e.g. http://127.0.0.1:41234
	HTTP      *http.Client     // sends AdminKey unless the request sets Authorization
	Assets    sparcv1.AssetServiceClient
	AdminOrg  string // organisation of AdminKey
	AdminKey  string // an admin API key
	anonymous *grpc.ClientConn

	t       testing.TB // the test that owns the server (and the network connection)
	mu      sync.Mutex
	network *grpc.ClientConn
}

// Addrs says where a server listens.
type Addrs interface {
	GRPCAddr() string
	HTTPAddr() string
}

// Options change the server a test gets.
type Options struct {
	Auth      auth.Config   // zero: a rate limit high enough not to matter
	Retention time.Duration // zero: no purge
	TLS       app.TLSFiles  // zero: plaintext; with TLS, dial with your own credentials
	// WebhooksAllowPrivate lets webhooks reach loopback receivers
	// (httptest servers); sparcd refuses them by default.
	WebhooksAllowPrivate bool
	Edge                 app.Edge // zero: sparcd's defaults
	// Routes are served beside the domains' plain routes, behind the same
	// guard (a test's own, e.g. one the policy does not list).
	Routes []httproute.Route
	// Tracing and MetricsAddr turn telemetry on (internal/telemetry), as
	// sparcd's OTEL_* variables and --metrics-addr do: the app pool then
	// carries the query tracer.
	Tracing     *telemetry.Tracing
	MetricsAddr string
	Metrics     []telemetry.Collector
	Console     app.ConsoleConfig // the web console's sign-in (OIDC); zero: keys only
	// Replica: the app reads search, listings, ORUK and coverage from this
	// streaming replica (StartReplica), as sparcd --database-read-url.
	Replica *Replica
	// Coverage: stored coverage results kept current, as sparcd keeps
	// them; zero: computed for every read.
	Coverage coverage.Config
	// SearchIndex: the in-memory search index, as sparcd runs it. Zero:
	// off, unless SPARC_TEST_SEARCH_INDEX=strict, which turns it on in
	// strict mode (every search as fresh as PostGIS) for every server of
	// the run: the search tests then exercise the index path.
	SearchIndex assets.IndexConfig
}

// NewServer starts gRPC and HTTP servers on free loopback ports over a
// fresh database; they stop when the test ends. Its clients act as an
// admin of a test organisation; use Key and ConnWithKey for other roles.
func NewServer(t testing.TB, opts ...Options) *Env {
	t.Helper()
	owner := NewPool(t)
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	pool, err := db.OpenAppTraced(context.Background(), owner.Config().ConnString(), 16, o.Tracing.QueryTracer())
	if err != nil {
		t.Fatalf("opening application pool: %v", err)
	}
	t.Cleanup(pool.Close)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("SPARC_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	cfg := app.Config{Auth: auth.Config{RatePerSecond: 10000, Burst: 10000},
		Server: app.ServerConfig{Logger: logger, ShutdownTimeout: 5 * time.Second}}
	if len(opts) > 0 {
		if opts[0].Auth.RatePerSecond > 0 {
			cfg.Auth = opts[0].Auth
		}
		cfg.Retention = opts[0].Retention
		cfg.Webhooks.AllowPrivate = opts[0].WebhooksAllowPrivate
		cfg.Server.TLS, cfg.Server.Edge, cfg.Server.Routes = opts[0].TLS, opts[0].Edge, opts[0].Routes
	}
	cfg.Tracing, cfg.MetricsAddr, cfg.Metrics, cfg.Console = o.Tracing, o.MetricsAddr, o.Metrics, o.Console
	cfg.Coverage = o.Coverage
	cfg.SearchIndex = o.SearchIndex
	if os.Getenv("SPARC_TEST_SEARCH_INDEX") == "strict" && !cfg.SearchIndex.Enabled {
		cfg.SearchIndex = assets.IndexConfig{Enabled: true, Strict: true}
	}
	if o.Replica != nil {
		cfg.ReadPool = o.Replica.ReadPool(t, owner)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, pool, cfg)
	if err != nil {
		cancel()
		t.Fatalf("starting server: %v", err)
	}
	Serve(t, ctx, cancel, a)
	srv := a.Server()
	env := &Env{App: a, Pool: owner, AppPool: pool, ReadPool: cfg.ReadPool, Server: srv, HTTPBase: "http://" + srv.HTTPAddr(), t: t}
	env.AdminOrg = env.NewOrg(t, "Test admin organisation", "other")
	env.AdminKey = env.Key(t, env.AdminOrg, auth.RoleAdmin)
	env.Conn = env.ConnWithKey(t, env.AdminKey)
	env.anonymous = env.ConnWithKey(t, "")
	env.Assets = sparcv1.NewAssetServiceClient(env.Conn)
	env.HTTP = &http.Client{Transport: keyTransport{key: env.AdminKey}, Timeout: 30 * time.Second}
	return env
}

// Serve answers calls with a, built with ctx, until the test ends; then
// cancel ends ctx and the test fails unless the app shut down cleanly.
func Serve(t testing.TB, ctx context.Context, cancel context.CancelFunc, a *app.App) {
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
}

// NewOrg creates an organisation directly in the database and returns its id.
func (e *Env) NewOrg(t testing.TB, name, kind string) string {
	t.Helper()
	var id string
	if err := e.Pool.QueryRow(context.Background(), `INSERT INTO organisations (id, kind, name)
		VALUES (gen_random_uuid(), $1, $2) RETURNING id::text`, kind, name).Scan(&id); err != nil {
		t.Fatalf("creating organisation: %v", err)
	}
	return id
}

// Key issues an API key for org with role and returns the whole key.
func (e *Env) Key(t testing.TB, org, role string) string {
	t.Helper()
	orgID, err := uuid.Parse(org)
	if err != nil {
		t.Fatalf("organisation id %q: %v", org, err)
	}
	_, key, err := auth.NewKeyStore(e.Pool).Create(context.Background(), orgID, role, "test key")
	if err != nil {
		t.Fatalf("creating key: %v", err)
	}
	return key
}

// Network returns a connection acting as the network admin (a key of its
// own organisation, made on first use): it creates organisations, issues
// keys of any organisation, reads the whole audit and loads areas, but
// changes no organisation's assets (AssetsOf does).
func (e *Env) Network(t testing.TB) *grpc.ClientConn {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.network == nil {
		// Kept for the server's whole test, even when a subtest asks first.
		e.network = e.ConnWithKey(e.t, e.Key(t, e.NewOrg(t, "Test network operator", "other"), auth.RoleNetworkAdmin))
	}
	return e.network
}

// AssetsOf returns an asset client acting as an admin of org: an
// organisation's admin changes its own organisation's assets only.
func (e *Env) AssetsOf(t testing.TB, org string) sparcv1.AssetServiceClient {
	t.Helper()
	return sparcv1.NewAssetServiceClient(e.ConnWithKey(t, e.Key(t, org, auth.RoleAdmin)))
}

// ConnWithKey dials the gRPC server sending key as a bearer token on every
// call ("" for anonymous calls).
func (e *Env) ConnWithKey(t testing.TB, key string) *grpc.ClientConn {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if key != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(key)))
	}
	conn, err := grpc.NewClient(e.Server.GRPCAddr(), opts...)
	if err != nil {
		t.Fatalf("dialling server: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Anonymous is a connection that sends no key.
func (e *Env) Anonymous() *grpc.ClientConn { return e.anonymous }

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return false }

type keyTransport struct{ key string }

func (k keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" && k.key != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+k.key)
	}
	return http.DefaultTransport.RoundTrip(r)
}
