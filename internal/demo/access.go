package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/auth"
)

// Org is a demo organisation and the role of the demo key issued to it.
type Org struct {
	ID, Name, Kind, Role string
}

// Orgs are the demo organisations: one per role, so a new user can try each
// view of SPARC at once. The community groups organisation owns the demo
// directory.
var Orgs = []Org{
	{"0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000001", "Demo network admin (demo)", "other", auth.RoleAdmin},
	{"0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000002", "Ladywood link worker service (demo)", "link_worker_service", auth.RoleLinkWorker},
	{Owner, "Community groups of the demo directory (demo)", "community_group", auth.RoleGroupEditor},
	{"0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000004", "Birmingham public health team (demo)", "public_health", auth.RoleAreaAnalyst},
}

// Owner is the organisation that owns every demo asset.
const Owner = "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000003"

// AdminContext acts as the demo admin, for loading demo data through the
// stores (row-level security checks the identity).
func AdminContext(ctx context.Context) context.Context {
	return auth.WithPrincipal(ctx, &auth.Principal{Name: "system:demo", Org: Orgs[0].ID, Role: auth.RoleAdmin})
}

// LoadOrgs creates the demo organisations when missing.
func LoadOrgs(ctx context.Context, pool *pgxpool.Pool) error {
	for _, o := range Orgs {
		if _, err := pool.Exec(ctx, `INSERT INTO organisations (id, kind, name, website)
			VALUES ($1, $2, $3, 'https://example.org/demo') ON CONFLICT (id) DO NOTHING`, uuid.MustParse(o.ID), o.Kind, o.Name); err != nil {
			return fmt.Errorf("creating demo organisation %q: %w", o.Name, err)
		}
	}
	return nil
}

// Keys returns one working demo key per role, as "role=key" lines. Keys are
// kept in keyFile (mode 0600, inside the private data directory) so they
// survive restarts; keys no longer valid (revoked) are replaced. With no
// keyFile the keys are new on every call.
func Keys(ctx context.Context, pool *pgxpool.Pool, keyFile string) ([][2]string, error) {
	saved := map[string]string{}
	if keyFile != "" {
		if f, err := os.Open(keyFile); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if role, key, ok := strings.Cut(sc.Text(), "="); ok {
					saved[role] = key
				}
			}
			f.Close()
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	store := auth.NewKeyStore(pool)
	var out [][2]string
	var lines []string
	for _, o := range Orgs {
		key := saved[o.Role]
		if key == "" || !keyValid(ctx, pool, key) {
			var err error
			if _, key, err = store.Create(ctx, uuid.MustParse(o.ID), o.Role, "demo key ("+o.Role+")"); err != nil {
				return nil, err
			}
		}
		out = append(out, [2]string{o.Role, key})
		lines = append(lines, o.Role+"="+key)
	}
	if keyFile != "" {
		if err := os.WriteFile(keyFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("saving demo keys: %w", err)
		}
	}
	return out, nil
}

func keyValid(ctx context.Context, pool *pgxpool.Pool, key string) bool {
	prefix, hash, err := auth.ParseKey(key)
	if err != nil {
		return false
	}
	var ok bool
	err = pool.QueryRow(ctx, `SELECT secret_sha256 = $2 AND revoked_at IS NULL FROM api_keys WHERE prefix = $1`, prefix, hash).Scan(&ok)
	return err == nil && ok
}
