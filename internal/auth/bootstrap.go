package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/db"
)

// Bootstrap issues the first network admin key, for an organisation named
// orgName (created, of kind "other", when no organisation has that name).
// It is how a new deployment gets in: there is never a default password.
// The network admin then creates organisations and issues each its first
// admin key. It runs against the database directly (sparcd
// --bootstrap-admin, or sparc keys bootstrap), so only someone who can
// reach the database can call it; it acts as the network admin for
// row-level security, which binds the application role it may run as.
func Bootstrap(ctx context.Context, pool *pgxpool.Pool, orgName string) (key string, orgID string, err error) {
	orgName = strings.TrimSpace(orgName)
	if orgName == "" || len(orgName) > 200 {
		return "", "", errors.New("bootstrap: organisation name must be 1 to 200 characters")
	}
	ctx = NetworkContext(ctx, "system:bootstrap")
	var id uuid.UUID
	err = db.InTx(ctx, pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
		WITH existing AS (SELECT id FROM organisations WHERE name = $1 ORDER BY created_at LIMIT 1),
		ins AS (INSERT INTO organisations (id, kind, name) SELECT $2, 'other', $1
		        WHERE NOT EXISTS (SELECT 1 FROM existing) RETURNING id)
		SELECT id FROM existing UNION ALL SELECT id FROM ins`, orgName, uuid.New()).Scan(&id)
	})
	if err != nil {
		return "", "", fmt.Errorf("bootstrap: finding or creating organisation: %w", err)
	}
	_, key, err = NewKeyStore(pool).Create(ctx, id, RoleNetworkAdmin, "bootstrap network admin key")
	if err != nil {
		return "", "", fmt.Errorf("bootstrap: %w", err)
	}
	return key, id.String(), nil
}

// NetworkContext returns ctx acting as the network admin named name, for
// trusted tasks without a request (bootstrap, demo loading) that create
// organisations, issue keys or load shared geographies.
func NetworkContext(ctx context.Context, name string) context.Context {
	return WithPrincipal(ctx, &Principal{Name: name, Role: RoleNetworkAdmin})
}
