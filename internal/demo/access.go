package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/orgs"
)

// Org is a demo organisation.
type Org struct {
	ID, Name, Kind string
}

// Orgs are the demo organisations. The community groups organisation owns
// the demo directory; the network organisation holds the network admin.
var Orgs = []Org{
	{networkOrg, "Demo network operator (demo)", "other"},
	{"0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000002", "Ladywood link worker service (demo)", "link_worker_service"},
	{Owner, "Community groups of the demo directory (demo)", "community_group"},
	{"0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000004", "Birmingham public health team (demo)", "public_health"},
}

// Key is a demo key: a role in an organisation.
type Key struct{ Org, Role string }

// DemoKeys are the demo keys, one per role, so a new user can try each view
// of SPARC at once: the network admin, the community groups' admin and
// editor, a link worker, an analyst.
var DemoKeys = []Key{
	{networkOrg, auth.RoleNetworkAdmin},
	{Owner, auth.RoleAdmin},
	{Owner, auth.RoleGroupEditor},
	{Orgs[1].ID, auth.RoleLinkWorker},
	{Orgs[3].ID, auth.RoleAreaAnalyst},
}

const networkOrg = "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000001"

// Owner is the organisation that owns every demo asset.
const Owner = "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000003"

// AdminContext acts as the demo network admin, for loading what the
// network shares (organisations, areas) and issuing demo keys: row-level
// security checks the identity.
func AdminContext(ctx context.Context) context.Context {
	return auth.WithPrincipal(ctx, &auth.Principal{Name: "system:demo", Org: networkOrg, Role: auth.RoleNetworkAdmin})
}

// OwnerContext acts as the admin of the organisation owning the demo
// directory, for loading its assets: an admin writes only its own
// organisation's assets.
func OwnerContext(ctx context.Context) context.Context {
	return auth.WithPrincipal(ctx, &auth.Principal{Name: "system:demo", Org: Owner, Role: auth.RoleAdmin})
}

// LoadOrgs creates the demo organisations when missing, through the
// organisations' store like any other organisation.
func LoadOrgs(ctx context.Context, pool *pgxpool.Pool) error {
	return loadOrgs(ctx, pool, Orgs)
}

// loadOrgs creates the organisations of list that are missing.
func loadOrgs(ctx context.Context, pool *pgxpool.Pool, list []Org) error {
	ctx = AdminContext(ctx)
	store := orgs.NewStore(pool)
	for _, o := range list {
		kind := sparcv1.OrganisationKind(sparcv1.OrganisationKind_value["ORGANISATION_KIND_"+strings.ToUpper(o.Kind)])
		_, err := store.Create(ctx, uuid.MustParse(o.ID), &sparcv1.Organisation{Kind: kind, DisplayName: o.Name,
			Website: "https://example.org/demo", Status: sparcv1.OrganisationStatus_ORGANISATION_STATUS_ACTIVE})
		if err != nil && !errors.Is(err, apierr.ErrAlreadyExists) {
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
	ctx = AdminContext(ctx)
	store := auth.NewKeyStore(pool)
	var out [][2]string
	var lines []string
	for _, k := range DemoKeys {
		key := saved[k.Role]
		if key == "" || !keyValid(ctx, pool, key) {
			var err error
			if _, key, err = store.Create(ctx, uuid.MustParse(k.Org), k.Role, "demo key ("+k.Role+")"); err != nil {
				return nil, err
			}
		}
		out = append(out, [2]string{k.Role, key})
		lines = append(lines, k.Role+"="+key)
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
	err = db.InTx(ctx, pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT secret_sha256 = $2 AND revoked_at IS NULL FROM api_keys WHERE prefix = $1`, prefix, hash).Scan(&ok)
	})
	return err == nil && ok
}
