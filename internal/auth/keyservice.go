package auth

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/pagetoken"
)

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
	org, role, err := validateCreateKey(req)
	if err != nil {
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
		id, ok := parseOrgID(req.GetOrganisationId(), &v)
		if ok {
			org = &id
		}
	}
	limit := pagetoken.Size(req.GetPageSize(), 20, 100, &v)
	hash := pagetoken.QueryHash(req, func(r *sparcv1.ListApiKeysRequest) { r.PageToken, r.PageSize = "", 0 })
	after := pagetoken.After[keyCursor](s.tokens, req.GetPageToken(), hash, &v)
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
