package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/pagetoken"
)

var roleCode = map[sparcv1.Role]string{
	sparcv1.Role_ROLE_ADMIN:         RoleAdmin,
	sparcv1.Role_ROLE_LINK_WORKER:   RoleLinkWorker,
	sparcv1.Role_ROLE_GROUP_EDITOR:  RoleGroupEditor,
	sparcv1.Role_ROLE_AREA_ANALYST:  RoleAreaAnalyst,
	sparcv1.Role_ROLE_NETWORK_ADMIN: RoleNetworkAdmin,
}

// RoleFromCode maps a stored role to the API enum.
func RoleFromCode(s string) sparcv1.Role {
	for k, v := range roleCode {
		if v == s {
			return k
		}
	}
	return sparcv1.Role_ROLE_UNSPECIFIED
}

// RoleCode maps the API enum to the stored role ("" when unknown).
func RoleCode(r sparcv1.Role) string { return roleCode[r] }

// KeyStore keeps API keys (hashes only).
type KeyStore struct{ pool *pgxpool.Pool }

// NewKeyStore returns a key store over pool.
func NewKeyStore(pool *pgxpool.Pool) *KeyStore { return &KeyStore{pool: pool} }

const keyColumns = `id, organisation_id, role, prefix, display_name, created_at, last_used_at, revoked_at`

func scanKey(r pgx.Row) (*sparcv1.ApiKey, error) {
	var k sparcv1.ApiKey
	var id, org uuid.UUID
	var role string
	var created time.Time
	var used, revoked *time.Time
	if err := r.Scan(&id, &org, &role, &k.Prefix, &k.DisplayName, &created, &used, &revoked); err != nil {
		return nil, err
	}
	k.Id, k.OrganisationId, k.Role = id.String(), org.String(), RoleFromCode(role)
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
func (s *KeyStore) Create(ctx context.Context, org uuid.UUID, role, name string) (*sparcv1.ApiKey, string, error) {
	key, prefix, hash, err := NewKey()
	if err != nil {
		return nil, "", err
	}
	var out *sparcv1.ApiKey
	err = db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM organisations WHERE id = $1)`, org).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("organisation %s: %w", org, apierr.ErrNotFound)
		}
		out, err = scanKey(tx.QueryRow(ctx, `INSERT INTO api_keys (id, organisation_id, role, prefix, secret_sha256, display_name)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+keyColumns, uuid.New(), org, role, prefix, hash, name))
		return err
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

// List returns up to limit+1 keys in creation order, of org (nil: every
// organisation the caller's identity may see). It runs in a transaction
// carrying the caller's identity, so row-level security applies.
func (s *KeyStore) List(ctx context.Context, org *uuid.UUID, revoked bool, after *keyCursor, limit int) ([]*sparcv1.ApiKey, error) {
	q := `SELECT ` + keyColumns + ` FROM api_keys WHERE ($1::uuid IS NULL OR organisation_id = $1) AND ($2 OR revoked_at IS NULL)`
	params := []any{org, revoked}
	if after != nil {
		q += ` AND (created_at, id) > ($3, $4)`
		params = append(params, time.UnixMicro(after.Created), after.ID)
	}
	var out []*sparcv1.ApiKey
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, q+` ORDER BY created_at, id LIMIT `+strconv.Itoa(limit+1), params...)
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
	var out *sparcv1.ApiKey
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		var err error
		out, err = scanKey(tx.QueryRow(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
			WHERE id = $1 AND ($2::uuid IS NULL OR (organisation_id = $2 AND role <> 'network_admin'))
			RETURNING `+keyColumns, id, org))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("API key %s: %w", id, apierr.ErrNotFound)
		}
		return err
	})
	return out, err
}

// KeyService implements ApiKeyServiceServer.
type KeyService struct {
	sparcv1.UnimplementedApiKeyServiceServer
	store  *KeyStore
	tokens *pagetoken.Signer
}

// NewKeyService returns the key service.
func NewKeyService(store *KeyStore, tokens *pagetoken.Signer) *KeyService {
	return &KeyService{store: store, tokens: tokens}
}

// CreateApiKey issues a key; the secret is returned this once.
func (s *KeyService) CreateApiKey(ctx context.Context, req *sparcv1.CreateApiKeyRequest) (*sparcv1.CreateApiKeyResponse, error) {
	var v apierr.InvalidArgument
	org, err := uuid.Parse(strings.TrimPrefix(req.GetOrganisationId(), "organisations/"))
	if err != nil {
		v.Add("organisation_id", "is not an organisation id (a UUID)")
	}
	role := roleCode[req.GetRole()]
	if role == "" {
		v.Add("role", "must be ROLE_ADMIN, ROLE_LINK_WORKER, ROLE_GROUP_EDITOR, ROLE_AREA_ANALYST or ROLE_NETWORK_ADMIN")
	}
	if utf8.RuneCountInString(req.GetDisplayName()) > 200 {
		v.Add("display_name", "is more than 200 characters")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	// An organisation's admin issues keys of its own organisation only:
	// another organisation looks like a missing one. Only the network
	// admin makes another network admin (else any admin could promote
	// itself to the whole network).
	p := FromContext(ctx)
	if !p.CanAdminister(org.String()) {
		return nil, fmt.Errorf("organisation %s: %w", org, apierr.ErrNotFound)
	}
	if role == RoleNetworkAdmin && !p.IsNetworkAdmin() {
		return nil, status.Error(codes.PermissionDenied, "only a network admin may issue ROLE_NETWORK_ADMIN keys")
	}
	k, secret, err := s.store.Create(ctx, org, role, req.GetDisplayName())
	if err != nil {
		return nil, err
	}
	return &sparcv1.CreateApiKeyResponse{ApiKey: k, Secret: secret}, nil
}

// ListApiKeys lists keys (never their secrets).
func (s *KeyService) ListApiKeys(ctx context.Context, req *sparcv1.ListApiKeysRequest) (*sparcv1.ListApiKeysResponse, error) {
	var v apierr.InvalidArgument
	var org *uuid.UUID
	if req.GetOrganisationId() != "" {
		id, err := uuid.Parse(strings.TrimPrefix(req.GetOrganisationId(), "organisations/"))
		if err != nil {
			v.Add("organisation_id", "is not an organisation id (a UUID)")
		}
		org = &id
	}
	limit := pagetoken.Size(req.GetPageSize(), 20, 100, &v)
	hash := pagetoken.QueryHash(req, func(r *sparcv1.ListApiKeysRequest) { r.PageToken, r.PageSize = "", 0 })
	var after *keyCursor
	if req.GetPageToken() != "" {
		after = &keyCursor{}
		if err := s.tokens.Decode(req.GetPageToken(), hash, after); err != nil {
			v.Add("page_token", "%v", err)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	// An organisation's admin lists its own organisation's keys; asking
	// for another's gives an empty list, as for an organisation without
	// keys. The network admin lists any or all.
	resp := &sparcv1.ListApiKeysResponse{}
	own, ok := administered(FromContext(ctx))
	if !ok || (own != nil && org != nil && *org != *own) {
		return resp, nil
	}
	if own != nil {
		org = own
	}
	list, err := s.store.List(ctx, org, req.GetIncludeRevoked(), after, limit)
	if err != nil {
		return nil, err
	}
	if len(list) > limit {
		list = list[:limit]
		last := list[limit-1]
		c := keyCursor{Created: last.GetCreateTime().AsTime().UnixMicro(), ID: uuid.MustParse(last.GetId())}
		if resp.NextPageToken, err = s.tokens.Encode(hash, c); err != nil {
			return nil, err
		}
	}
	resp.ApiKeys = list
	return resp, nil
}

// RevokeApiKey revokes a key.
func (s *KeyService) RevokeApiKey(ctx context.Context, req *sparcv1.RevokeApiKeyRequest) (*sparcv1.ApiKey, error) {
	id, err := uuid.Parse(strings.TrimPrefix(req.GetId(), "apiKeys/"))
	if err != nil {
		return nil, apierr.Invalid("id", "is not an API key id (a UUID)")
	}
	// An organisation's admin revokes its own organisation's keys only;
	// another's is NOT_FOUND, like a missing one.
	org, ok := administered(FromContext(ctx))
	if !ok {
		return nil, fmt.Errorf("API key %s: %w", id, apierr.ErrNotFound)
	}
	return s.store.Revoke(ctx, id, org)
}

// administered returns the one organisation p administers (nil for the
// network admin: all), and false when p administers none.
func administered(p *Principal) (*uuid.UUID, bool) {
	if p.IsNetworkAdmin() {
		return nil, true
	}
	if p == nil {
		return nil, false
	}
	own, err := uuid.Parse(p.Org)
	if err != nil || !p.CanAdminister(own.String()) {
		return nil, false
	}
	return &own, true
}
