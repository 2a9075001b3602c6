package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/db"
)

// KeyStore keeps API keys (hashes only): the only code that touches
// api_keys, for the key service and for the layer's authentication.
type KeyStore struct{ pool *pgxpool.Pool }

// NewKeyStore returns a key store over pool.
func NewKeyStore(pool *pgxpool.Pool) *KeyStore { return &KeyStore{pool: pool} }

const keyColumns = `id, organisation_id, role, prefix, display_name, created_at, last_used_at, revoked_at`

const (
	insertKeySQL = `INSERT INTO api_keys (id, organisation_id, role, prefix, secret_sha256, display_name)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING ` + keyColumns

	// listKeysSQL: $1 one organisation's keys (NULL: all the identity
	// sees), $2 revoked ones too, $3/$4 after this (created_at, id), $5
	// how many.
	listKeysSQL = `SELECT ` + keyColumns + ` FROM api_keys
		WHERE ($1::uuid IS NULL OR organisation_id = $1) AND ($2 OR revoked_at IS NULL)
			AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4::uuid))
		ORDER BY created_at, id LIMIT $5`

	// revokeKeySQL: $2, when set, confines it to one organisation's keys
	// other than network admins'.
	revokeKeySQL = `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
		WHERE id = $1 AND ($2::uuid IS NULL OR (organisation_id = $2 AND role <> 'network_admin'))
		RETURNING ` + keyColumns

	// No identity is set while authenticating, so row-level security on
	// api_keys would hide every key: these SECURITY DEFINER functions
	// (migration 0041) read the one row by prefix and stamp its use.
	lookupKeySQL = `SELECT id::text, organisation_id::text, role, secret_sha256, revoked_at, last_used_at, org_status,
		display_name FROM sparc_key_lookup($1)`
	// keyNamesSQL: the display names of the caller's own organisation's
	// keys among the prefixes $1, by principal name ("key:<prefix>")
	// (SECURITY DEFINER, migration 0056: a
	// link worker may not list keys, but reads a colleague's name on a
	// referral).
	keyNamesSQL = `SELECT 'key:' || prefix, display_name FROM sparc_key_names($1)`
	keyUsedSQL  = `SELECT sparc_key_used($1)`
)

func scanKey(r pgx.Row) (*sparcv1.ApiKey, error) {
	var k sparcv1.ApiKey
	var id, org uuid.UUID
	var role string
	var created time.Time
	var used, revoked *time.Time
	if err := r.Scan(&id, &org, &role, &k.Prefix, &k.DisplayName, &created, &used, &revoked); err != nil {
		return nil, err
	}
	k.Name, k.Organisation, k.Role = aip.Name(aip.APIKeys, id), aip.Name(aip.Organisations, org), RoleFromCode(role)
	k.CreateTime = timestamppb.New(created)
	if used != nil {
		k.LastUsedTime = timestamppb.New(*used)
	}
	if revoked != nil {
		k.RevokeTime = timestamppb.New(*revoked)
	}
	return &k, nil
}

// Create issues a key for org with role and returns it with the whole key.
// A missing organisation is NOT_FOUND (the foreign key says so, without
// this store reading organisations).
func (s *KeyStore) Create(ctx context.Context, org uuid.UUID, role, name string) (*sparcv1.ApiKey, string, error) {
	key, prefix, hash, err := NewKey()
	if err != nil {
		return nil, "", err
	}
	out, err := db.InTxResult(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) (*sparcv1.ApiKey, error) {
		out, err := scanKey(tx.QueryRow(ctx, insertKeySQL, uuid.New(), org, role, prefix, hash, name))
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation
			return nil, fmt.Errorf("%s: %w", aip.Name(aip.Organisations, org), apierr.ErrNotFound)
		}
		return out, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("creating API key: %w", err)
	}
	return out, key, nil
}

type keyCursor struct {
	Created int64     `json:"c"`
	ID      uuid.UUID `json:"i"`
}

// positionOfKey is a listed key's place in creation order. The name is
// the one scanKey made, so its id part is a UUID.
func positionOfKey(k *sparcv1.ApiKey) keyCursor {
	return keyCursor{Created: k.GetCreateTime().AsTime().UnixMicro(),
		ID: uuid.MustParse(strings.TrimPrefix(k.GetName(), string(aip.APIKeys)+"/"))}
}

// List returns up to limit+1 keys in creation order, of org (nil: every
// organisation the caller's identity may see). It runs in a transaction
// carrying the caller's identity, so row-level security applies.
func (s *KeyStore) List(ctx context.Context, org *uuid.UUID, revoked bool, after *keyCursor, limit int) ([]*sparcv1.ApiKey, error) {
	var afterTime *time.Time
	var afterID *uuid.UUID
	if after != nil {
		t := time.UnixMicro(after.Created)
		afterTime, afterID = &t, &after.ID
	}
	var out []*sparcv1.ApiKey
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, listKeysSQL, org, revoked, afterTime, afterID, limit+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			k, err := scanKey(rows)
			if err != nil {
				return err
			}
			out = append(out, k)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("listing API keys: %w", err)
	}
	return out, nil
}

// Revoke marks a key revoked (idempotent). With org set (an
// organisation's admin), only a key of that organisation and never a
// network admin's: another is NOT_FOUND, like a missing one.
func (s *KeyStore) Revoke(ctx context.Context, id uuid.UUID, org *uuid.UUID) (*sparcv1.ApiKey, error) {
	return db.InTxResult(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) (*sparcv1.ApiKey, error) {
		out, err := scanKey(tx.QueryRow(ctx, revokeKeySQL, id, org))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("%s: %w", aip.Name(aip.APIKeys, id), apierr.ErrNotFound)
		}
		return out, err
	})
}

// lookup reads a key that is usable now: known, not revoked, of an active
// organisation; any other is errBadCredential.
func (s *KeyStore) lookup(ctx context.Context, prefix string) (cachedKey, error) {
	var (
		k                 cachedKey
		orgStatus         string
		revoked, lastUsed *time.Time
	)
	err := s.pool.QueryRow(ctx, lookupKeySQL, prefix).Scan(&k.p.KeyID, &k.p.Org, &k.p.Role, &k.hash, &revoked, &lastUsed, &orgStatus, &k.p.DisplayName)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, errBadCredential
	}
	if err != nil {
		return k, fmt.Errorf("looking up API key: %w", err)
	}
	if revoked != nil || orgStatus != "active" {
		return k, errBadCredential
	}
	k.p.Name = "key:" + prefix
	if lastUsed != nil {
		k.lastUsed = *lastUsed
	}
	return k, nil
}

// used stamps the key's last use.
func (s *KeyStore) used(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, keyUsedSQL, id)
	return err
}

// DisplayNames returns the display names of principals ("key:<prefix>")
// of the caller's own organisation among names, keyed by principal name,
// in one query on tx (the caller's identity). Names of other
// organisations' keys, and of token subjects (whose names are not
// stored), are absent.
func (s *KeyStore) DisplayNames(ctx context.Context, tx pgx.Tx, names []string) (map[string]string, error) {
	var prefixes []string
	for _, n := range names {
		if p, ok := strings.CutPrefix(n, "key:"); ok {
			prefixes = append(prefixes, p)
		}
	}
	if len(prefixes) == 0 {
		return map[string]string{}, nil
	}
	out, err := db.Pairs[string, string](ctx, tx, keyNamesSQL, prefixes)
	if err != nil {
		return nil, fmt.Errorf("reading key display names: %w", err)
	}
	return out, nil
}
