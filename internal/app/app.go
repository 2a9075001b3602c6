// Package app wires SPARC's domain stores and services together over one
// database pool. sparcd and the test harness both build the server from
// here, so tests exercise exactly what production runs.
package app

import (
	"context"
	"crypto/rand"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/audit"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/coverage"
	"github.com/sparc-network/sparc/internal/orgs"
	"github.com/sparc-network/sparc/internal/oruk"
	"github.com/sparc-network/sparc/internal/outbox"
	"github.com/sparc-network/sparc/internal/pagetoken"
	"github.com/sparc-network/sparc/internal/people"
	"github.com/sparc-network/sparc/internal/referrals"
	"github.com/sparc-network/sparc/internal/seal"
	"github.com/sparc-network/sparc/internal/server"
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
	hub           *outbox.Hub
	webhooks      *webhooks.Worker
	cfg           Config
}

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
	Logger   *slog.Logger
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
	trail := audit.NewStore(pool)
	cfg.Auth.Audit = trail
	layer, err := auth.New(pool, cfg.Auth)
	if err != nil {
		return nil, err
	}
	if len(cfg.DataKey) == 0 {
		cfg.DataKey = make([]byte, 32)
		if _, err := rand.Read(cfg.DataKey); err != nil {
			return nil, err
		}
	}
	sealer, err := seal.New(cfg.DataKey)
	if err != nil {
		return nil, err
	}
	persons := people.NewService(pool, sealer, referrals.CopySharedPerson)
	hub := outbox.NewHub(cfg.Logger)
	worker := webhooks.NewWorker(pool, sealer, hub, cfg.Webhooks, cfg.Logger)
	return &App{Pool: pool, Tokens: tokens, Assets: assets.NewStore(pool), Organisations: orgs.NewStore(pool),
		Keys: auth.NewKeyStore(pool), Audit: trail, Auth: layer,
		Areas: areas.NewStore(pool), Coverage: coverage.NewStore(pool, 0),
		People: persons, Referrals: referrals.NewService(pool, persons, tokens, hub),
		Webhooks: webhooks.NewService(pool, sealer, tokens, worker), hub: hub, webhooks: worker, cfg: cfg}, nil
}

// Run does the app's background work until ctx ends: the referral
// notification listener, webhook delivery and the retention purge (hourly).
func (a *App) Run(ctx context.Context) {
	go a.hub.Listen(ctx, a.Pool)
	go a.Auth.Listen(ctx, a.Pool)
	if !a.cfg.Webhooks.Disabled {
		go a.webhooks.Run(ctx)
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

// Services returns the API implementations to serve.
func (a *App) Services() server.Services {
	return server.Services{
		Assets:          assets.NewService(a.Assets, a.Tokens),
		Organisations:   orgs.NewService(a.Organisations, a.Tokens),
		APIKeys:         auth.NewKeyService(a.Keys, a.Tokens),
		Audit:           audit.NewService(a.Audit, a.Tokens),
		DirectoryImport: oruk.NewImportService(a.Assets),
		Areas:           areas.NewService(a.Areas, a.Tokens),
		Coverage:        coverage.NewService(a.Coverage, referrals.NewDemand(a.Pool)),
		People:          a.People,
		Referrals:       a.Referrals,
		Webhooks:        a.Webhooks,
		Auth:            a.Auth,
	}
}

// Routes returns the plain-HTTP handlers served beside the gateway.
func (a *App) Routes() []server.Route {
	var routes []server.Route
	routes = append(routes, oruk.NewAPI(a.Pool, a.Assets, a.cfg.Logger).Routes()...)
	routes = append(routes, coverage.NewHTTP(coverage.NewService(a.Coverage, referrals.NewDemand(a.Pool)), a.Pool, a.cfg.Logger).Routes()...)
	return routes
}
