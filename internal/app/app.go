// Package app wires SPARC's domain stores and services together over one
// database pool. sparcd and the test harness both build the server from
// here, so tests exercise exactly what production runs.
package app

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/pagetoken"
	"github.com/sparc-network/sparc/internal/server"
)

// App holds the stores and services of one SPARC instance.
type App struct {
	Pool   *pgxpool.Pool
	Tokens *pagetoken.Signer
	Assets *assets.Store
}

// New builds the app over a migrated database.
func New(ctx context.Context, pool *pgxpool.Pool) (*App, error) {
	tokens, err := pagetoken.LoadSigner(ctx, pool)
	if err != nil {
		return nil, err
	}
	return &App{Pool: pool, Tokens: tokens, Assets: assets.NewStore(pool)}, nil
}

// Services returns the API implementations to serve.
func (a *App) Services() server.Services {
	return server.Services{
		Assets: assets.NewService(a.Assets, a.Tokens),
	}
}

// Routes returns the plain-HTTP handlers served beside the gateway.
func (a *App) Routes() []server.Route {
	return nil
}
