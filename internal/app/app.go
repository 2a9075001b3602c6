// Package app wires SPARC's domain stores and services together over one
// database pool. sparcd and the test harness both build the server from
// here, so tests exercise exactly what production runs.
package app

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/audit"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/orgs"
	"github.com/sparc-network/sparc/internal/pagetoken"
	"github.com/sparc-network/sparc/internal/server"
)

// App holds the stores and services of one SPARC instance.
type App struct {
	Pool          *pgxpool.Pool
	Tokens        *pagetoken.Signer
	Assets        *assets.Store
	Organisations *orgs.Store
	Keys          *auth.KeyStore
	Auth          *auth.Layer
}

// DefaultAuth is the authorisation configuration when none is given:
// 20 requests/s per key with bursts of 40.
var DefaultAuth = auth.Config{RatePerSecond: 20, Burst: 40}

// New builds the app over a migrated database. pool should be an
// application pool (db.OpenApp) so row-level security applies. An optional
// auth configuration replaces DefaultAuth.
func New(ctx context.Context, pool *pgxpool.Pool, authCfg ...auth.Config) (*App, error) {
	tokens, err := pagetoken.LoadSigner(ctx, pool)
	if err != nil {
		return nil, err
	}
	cfg := DefaultAuth
	if len(authCfg) > 0 {
		cfg = authCfg[0]
	}
	layer, err := auth.New(pool, cfg)
	if err != nil {
		return nil, err
	}
	return &App{Pool: pool, Tokens: tokens, Assets: assets.NewStore(pool), Organisations: orgs.NewStore(pool),
		Keys: auth.NewKeyStore(pool), Auth: layer}, nil
}

// Services returns the API implementations to serve.
func (a *App) Services() server.Services {
	return server.Services{
		Assets:        assets.NewService(a.Assets, a.Tokens),
		Organisations: orgs.NewService(a.Organisations, a.Tokens),
		APIKeys:       auth.NewKeyService(a.Keys, a.Tokens),
		Audit:         audit.NewService(a.Pool, a.Tokens),
		Auth:          a.Auth,
	}
}

// Routes returns the plain-HTTP handlers served beside the gateway.
func (a *App) Routes() []server.Route {
	return nil
}
