package orgs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/auth"
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
	ctx = auth.NetworkContext(ctx, "system:bootstrap")
	id, err := NewStore(pool).FindOrCreate(ctx, orgName)
	if err != nil {
		return "", "", fmt.Errorf("bootstrap: finding or creating organisation: %w", err)
	}
	_, key, err = auth.NewKeyStore(pool).Create(ctx, id, auth.RoleNetworkAdmin, "bootstrap network admin key")
	if err != nil {
		return "", "", fmt.Errorf("bootstrap: %w", err)
	}
	return key, id.String(), nil
}
