// Package app is SPARC's one composition root: over one database pool it
// builds the domain stores and services, the authorisation layer, the
// plain HTTP routes the domains hand over, and the servers, each once.
// sparcd, the test harness (internal/testenv) and the benchmark all build
// SPARC here, so tests and benchmarks exercise exactly what production
// runs. It is the only package under internal/ that knows the transport
// (internal/server): domains hand their routes over as httproute.Route.
package app

import (
	"context"
	"crypto/rand"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"

	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/audit"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/console"
	"github.com/sparc-network/sparc/internal/coverage"
	"github.com/sparc-network/sparc/internal/evidence"
	"github.com/sparc-network/sparc/internal/hooks"
	"github.com/sparc-network/sparc/internal/httproute"
	"github.com/sparc-network/sparc/internal/network"
	"github.com/sparc-network/sparc/internal/notify"
	"github.com/sparc-network/sparc/internal/orgs"
	"github.com/sparc-network/sparc/internal/oruk"
	"github.com/sparc-network/sparc/internal/outbox"
	"github.com/sparc-network/sparc/internal/pagetoken"
	"github.com/sparc-network/sparc/internal/people"
	"github.com/sparc-network/sparc/internal/postcodes"
	"github.com/sparc-network/sparc/internal/referrals"
	"github.com/sparc-network/sparc/internal/reports"
	"github.com/sparc-network/sparc/internal/seal"
	"github.com/sparc-network/sparc/internal/server"
	"github.com/sparc-network/sparc/internal/telemetry"
	"github.com/sparc-network/sparc/internal/webhooks"
)

// App holds the stores and services of one SPARC instance.
type App struct {
	Pool          *pgxpool.Pool
	Tokens        *pagetoken.Signer
	Assets        *assets.Store
	Organisations *orgs.Store
	Keys          *auth.KeyStore
	Audit         *audit.Store
	Auth          *auth.Layer
	Areas         *areas.Store
	Coverage      *coverage.Store
	People        *people.Service
	Referrals     *referrals.Service
	Webhooks      *webhooks.Service
	Postcodes     *postcodes.Store
	// Network answers the referral network (GetReferralNetwork and its
	// exports); AnonymousKey is the key of anonymous codes
	// (network.AnonymousCode), for every analytics output.
	Network      *network.Service
	AnonymousKey []byte
	hub          *outbox.Hub
	webhooks     *webhooks.Worker
	notify       *notify.Worker // nil: email notifications off
	cfg          Config

	srv      *server.Server
	metrics  *telemetry.Listener // nil: no --metrics-addr
	routes   []httproute.Route
	coverage *coverage.Maintainer // nil: coverage computed per read
	index    *assets.Index        // nil: every search goes to PostGIS
	runOnce  sync.Once
	unserved func() bool // stops giving the listeners back when New's context ends
}

// Settings of the servers, as the transport defines them: callers of the
// root name them here and import no transport.
type (
	ServerConfig = server.Config
	Edge         = server.Edge
	TLSFiles     = server.TLSFiles
	// ConsoleConfig is the web console's (internal/console).
	ConsoleConfig = console.Config
)

// Config tunes an app; the zero value serves tests and benchmarks.
type Config struct {
	// Auth: rate limits and identity provider. Zero: DefaultAuth.
	Auth auth.Config
	// DataKey seals personal details at rest (32 bytes). Empty: a random
	// key for this process only (tests, benchmarks); sparcd always sets one.
	DataKey []byte
	// Retention: person details and free text of referrals closed longer
	// ago are purged. Zero: never.
	Retention time.Duration
	// Webhooks: delivery backoff, timeout and whether this server delivers.
	Webhooks webhooks.Config
	// Notify: the SMTP server and sender of email notifications; zero: off.
	Notify notify.Config
	// Coverage: whether coverage results are stored and kept current
	// (sparcd) or computed for every read (zero: tests, benchmarks).
	Coverage coverage.Config
	// SearchIndex: the in-memory search index (docs/architecture.md, "The
	// search index"); zero: off, every search goes to PostGIS.
	SearchIndex assets.IndexConfig
	Logger      *slog.Logger
	// Server: addresses, TLS, edge limits, liveness, shutdown timeout.
	// Empty addresses: free loopback ports; nil Logger: Logger. Its Routes
	// are served beside the domains' (a test's own).
	Server ServerConfig
	// Guard replaces the authorisation layer as the one guard of every
	// route. nil (sparcd, the tests): the layer. Only the benchmark sets
	// one, a guard that trusts every call, to measure what the layer costs.
	Guard server.Interceptor
	// MetricsAddr serves Prometheus /metrics on a listener of its own
	// (":0": a free port); empty: no metrics. Metrics are extra sources
	// (sparcd: the embedded database's supervisor).
	MetricsAddr string
	Metrics     []telemetry.Collector
	// Console tells the web console how people sign in (OIDC); zero: keys.
	Console ConsoleConfig
	// Tracing exports spans (telemetry.TracingFromEnv); nil: off. The
	// pool should carry its QueryTracer (db.OpenAppTraced).
	Tracing *telemetry.Tracing
	// ReadPool, a read replica's pool (db.OpenRead), serves search,
	// listings, Open Referral, coverage and tiles; nil: the primary pool
	// serves everything. Writes and reads after a caller's own write stay
	// on the primary (docs/operations.md, Read replicas).
	ReadPool *pgxpool.Pool
}

// DefaultAuth is the authorisation configuration when none is given:
// 20 requests/s per key with bursts of 40.
var DefaultAuth = auth.Config{RatePerSecond: 20, Burst: 40}

// New builds the app over a migrated database. pool should be an
// application pool (db.OpenApp) so row-level security applies.
func New(ctx context.Context, pool *pgxpool.Pool, cfgs ...Config) (*App, error) {
	tokens, err := pagetoken.LoadSigner(ctx, pool)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if len(cfgs) > 0 {
		cfg = cfgs[0]
	}
	if err := cfg.fillDefaults(); err != nil {
		return nil, err
	}
	trail := audit.NewStore(pool)
	cfg.Auth.Audit = trail
	cfg.Auth.Orgs = orgs.NewStore(pool)
	layer, err := auth.New(pool, cfg.Auth)
	if err != nil {
		return nil, err
	}
	sealer, err := seal.New(cfg.DataKey)
	if err != nil {
		return nil, err
	}
	places := postcodes.NewStore(pool)
	persons, err := people.NewService(pool, sealer, tokens, referrals.CopySharedPerson)
	if err != nil {
		return nil, err
	}
	persons.WithHomeAreas(postcodes.NewHomeAreas(places, areas.NewStore(pool)))
	if err := catchUpPeople(ctx, persons, cfg.Logger); err != nil {
		return nil, err
	}
	hub := outbox.NewHub(cfg.Logger)
	worker := webhooks.NewWorker(pool, sealer, hub, cfg.Webhooks, cfg.Logger)
	read := pool
	if cfg.ReadPool != nil {
		read = cfg.ReadPool
	}
	a := &App{Pool: pool, Tokens: tokens, Assets: assets.NewStore(pool).ReadingFrom(read), Organisations: orgs.NewStore(pool),
		Keys: auth.NewKeyStore(pool), Audit: trail, Auth: layer,
		Areas: areas.NewStore(pool), Coverage: coverage.NewStore(read, 0), // coverage only reads
		People: persons, Referrals: referrals.NewService(pool, persons, tokens, hub),
		Webhooks: webhooks.NewService(pool, sealer, tokens, worker), hub: hub, webhooks: worker, cfg: cfg}
	if cfg.Coverage.Maintain {
		a.Coverage = a.Coverage.WithStoredResults()
		a.coverage = coverage.NewMaintainer(pool, cfg.Coverage, cfg.Logger)
	}
	if cfg.SearchIndex.Enabled {
		ic := cfg.SearchIndex
		if ic.Logger == nil {
			ic.Logger = cfg.Logger
		}
		a.index = assets.NewIndex(a.Assets, ic)
		a.Assets = a.Assets.WithIndex(a.index)
	}
	if cfg.Notify.Enabled() {
		if a.notify, err = notify.NewWorker(pool, hub, cfg.Notify, cfg.Logger); err != nil {
			return nil, err
		}
	}
	a.Postcodes = places
	if a.AnonymousKey, err = network.LoadSecret(ctx, pool); err != nil {
		return nil, err
	}
	a.Network = network.NewService(network.NewStore(read), a.AnonymousKey)
	if err := a.listen(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// fillDefaults completes a Config the tests and the benchmark leave
// mostly empty.
func (cfg *Config) fillDefaults() error {
	if cfg.Auth.RatePerSecond == 0 && cfg.Auth.Burst == 0 {
		oidc := cfg.Auth.OIDC
		cfg.Auth = DefaultAuth
		cfg.Auth.OIDC = oidc
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler) // never the process default: it ignores --log-format
	}
	if cfg.Auth.Logger == nil {
		cfg.Auth.Logger = cfg.Logger
	}
	if len(cfg.DataKey) == 0 {
		cfg.DataKey = make([]byte, 32)
		if _, err := rand.Read(cfg.DataKey); err != nil {
			return err
		}
	}
	return nil
}

// catchUpPeople runs, before serving, what people recorded by an earlier
// version lack: NHS numbers sealed before their blind index existed get
// one (a no-op probe once done), so search and the
// one-number-per-organisation rule see everyone from the first call; and
// people recorded before home areas were kept get theirs.
func catchUpPeople(ctx context.Context, persons *people.Service, log *slog.Logger) error {
	if n, dups, err := persons.IndexNHSNumbers(ctx); err != nil {
		return err
	} else if len(dups) > 0 {
		log.Warn("people sharing an NHS number with another of their organisation stay out of NHS number search until updated",
			"indexed", n, "people", dups)
	} else if n > 0 {
		log.Info("indexed NHS numbers", "people", n)
	}
	if n, err := persons.PlaceHomes(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("placed people's home areas", "people", n)
	}
	return nil
}

// listen builds the servers: every service and every plain route behind
// one guard. They listen from now on; a server that is never served gives
// its listeners back when New's context ends.
func (a *App) listen(ctx context.Context) error {
	sc := a.cfg.Server
	if sc.GRPCAddr == "" {
		sc.GRPCAddr = "127.0.0.1:0"
	}
	if sc.HTTPAddr == "" {
		sc.HTTPAddr = "127.0.0.1:0"
	}
	if sc.Logger == nil {
		sc.Logger = a.cfg.Logger
	}
	// One coverage service, behind both the gRPC method and the downloads.
	demand := referrals.NewDemand(a.Pool)
	cov := coverage.NewService(a.Coverage, demand).WithHomeDemand(demand).WithSettings(a.Pool, a.coverage != nil, a.cfg.Coverage.WalkMeters)
	a.routes = append(oruk.NewAPI(a.Pool, a.Assets, a.cfg.Logger).WithPostcodes(postcodes.NewLocator(a.Postcodes)).Routes(), coverage.NewHTTP(cov, a.Pool, a.cfg.Logger).Routes()...)
	a.routes = append(a.routes, a.Referrals.Routes(a.cfg.Logger)...) // the printable referral
	// One analytics service, behind the gRPC methods, the network's
	// downloads and the neighbourhood report (with cov). Evidence codes
	// providers with the network's key, so an organisation has one
	// anonymous code in every output.
	an := analytics{Service: a.Network, evidence: evidence.New(a.Pool, a.AnonymousKey)}
	a.routes = append(a.routes, network.NewHTTP(a.Network, a.cfg.Logger).Routes()...)                 // GraphML and CSV
	a.routes = append(a.routes, reports.NewHTTP(reports.Join(an, an, cov), a.cfg.Logger).Routes()...) // the neighbourhood report
	a.routes = append(a.routes, console.Routes(a.cfg.Console)...)                                     // the web console at /app/
	sc.Routes = append(slices.Clip(sc.Routes), a.routes...)
	svc := a.services(cov, an)
	if a.cfg.Guard != nil {
		svc.Auth = a.cfg.Guard
	}
	sc.Hooks = sc.Hooks.Merge(a.cfg.Tracing.Hooks(server.ViaGateway))
	// Consistency tokens of the search index (read-your-writes), after
	// the authorisation layer: only calls it let through get one. Without
	// the index nothing lags, and writes skip the token's query.
	if a.index != nil {
		sc.Hooks = sc.Hooks.Merge(hooks.Hooks{InnerUnary: []grpc.UnaryServerInterceptor{assets.ConsistencyInterceptor(a.Assets)}})
	}
	if a.cfg.MetricsAddr != "" {
		m := a.newMetrics()
		sc.Hooks = sc.Hooks.Merge(m.Hooks())
		var err error
		if a.metrics, err = m.Listen(a.cfg.MetricsAddr); err != nil {
			return err
		}
	}
	srv, err := server.New(ctx, sc, a.Pool, svc)
	if err != nil {
		a.closeMetrics()
		return err
	}
	a.srv = srv
	a.unserved = context.AfterFunc(ctx, func() { srv.Close(); a.closeMetrics() })
	return nil
}

// newMetrics is the registry over this app's sources: the pool, the
// database, the delivery backlogs (each read by its owner) and the
// caller's.
func (a *App) newMetrics() *telemetry.Metrics {
	m := telemetry.NewMetrics(a.cfg.Logger)
	m.Register(telemetry.Pool(a.Pool), telemetry.Database(a.Pool),
		telemetry.Deliveries("webhook", a.webhooks.Backlog, a.cfg.Logger))
	if a.notify != nil {
		m.Register(telemetry.Deliveries("email", a.notify.Backlog, a.cfg.Logger))
	}
	if a.coverage != nil {
		m.Register(a.coverage) // rebuild progress, apply batches
	}
	if a.index != nil {
		m.Register(a.index.Collector())
	}
	m.Register(a.cfg.Metrics...)
	return m
}

func (a *App) closeMetrics() {
	if a.metrics != nil {
		a.metrics.Close()
	}
}

// MetricsAddr is where /metrics is served; empty when off.
func (a *App) MetricsAddr() string {
	if a.metrics == nil {
		return ""
	}
	return a.metrics.Addr()
}

// Serve does the app's background work (Run) and answers calls until ctx
// ends, then shuts the servers down: in-flight calls finish within the
// shutdown timeout. Closing the pool is the caller's job, afterwards.
func (a *App) Serve(ctx context.Context) error {
	if !a.unserved() {
		return nil // New's context has ended: the listeners are gone
	}
	a.Run(ctx)
	if a.metrics != nil {
		go func() {
			if err := a.metrics.Serve(ctx); err != nil {
				a.cfg.Logger.Error("metrics listener stopped", "err", err)
			}
		}()
	}
	return a.srv.Serve(ctx)
}

// Server is the app's running servers: their addresses.
func (a *App) Server() *server.Server { return a.srv }

// SearchIndex is the in-memory search index, nil when it is off.
func (a *App) SearchIndex() *assets.Index { return a.index }

// Routes are the plain HTTP routes the domains hand over, as served.
func (a *App) Routes() []httproute.Route { return a.routes }

// Run does the app's background work until ctx ends, once however often
// it is called: the referral notification listener, webhook delivery,
// email notifications and the retention purge (hourly). Serve runs it; an app that serves no
// calls (a second instance purging) runs it alone.
func (a *App) Run(ctx context.Context) {
	a.runOnce.Do(func() { a.run(ctx) })
}

func (a *App) run(ctx context.Context) {
	go a.hub.Listen(ctx, a.Pool)
	go a.Auth.Listen(ctx, a.Pool)
	go a.Postcodes.Listen(ctx, a.cfg.Logger)
	if !a.cfg.Webhooks.Disabled {
		go a.webhooks.Run(ctx)
	}
	if a.notify != nil {
		go a.notify.Run(ctx)
	}
	if a.coverage != nil {
		go a.coverage.Run(ctx)
	}
	if a.index != nil {
		go a.index.Run(ctx)
	} else {
		go a.Assets.TrimIndexFeed(ctx, 5*time.Minute, a.cfg.Logger) // other servers' indexes may read it
	}
	if a.cfg.Retention <= 0 {
		return
	}
	purge := func() {
		r, p, err := referrals.Purge(ctx, a.Pool, time.Now().Add(-a.cfg.Retention))
		switch {
		case err != nil && ctx.Err() == nil:
			a.cfg.Logger.Error("retention purge failed", "err", err)
		case r > 0 || p > 0:
			a.cfg.Logger.Info("retention purge", "referrals", r, "people", p)
		}
	}
	go func() {
		purge()
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				purge()
			}
		}
	}()
}

// services are the API implementations to serve, guarded by the layer.
func (a *App) services(cov *coverage.Service, an analytics) server.Services {
	return server.Services{
		Assets:          assets.NewService(a.Assets, a.Tokens).WithPostcodes(postcodes.NewLocator(a.Postcodes)),
		Organisations:   orgs.NewService(a.Organisations, a.Tokens),
		APIKeys:         auth.NewKeyService(a.Keys, a.Tokens),
		Audit:           audit.NewService(a.Audit, a.Tokens),
		DirectoryImport: oruk.NewImportService(a.Assets),
		Areas:           areas.NewService(a.Areas, a.Tokens),
		Coverage:        cov,
		People:          a.People,
		Referrals:       a.Referrals,
		Webhooks:        a.Webhooks,
		Notifications:   notify.NewService(a.Pool, a.notify != nil),
		Postcodes:       postcodes.NewService(a.Postcodes),
		Analytics:       an,
		Auth:            a.Auth,
	}
}
