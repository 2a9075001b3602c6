package auth

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
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
		return nil, fmt.Errorf("%s: %w", aip.Name(aip.Organisations, org), apierr.ErrNotFound)
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
	if id := aip.ParseOptionalName(&v, "organisation", aip.Organisations, req.GetOrganisation()); id != uuid.Nil {
		org = &id
	}
	page := aip.StartPage[keyCursor](&v, s.tokens, req, 20, 100)
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
	list, err := s.store.List(ctx, org, req.GetIncludeRevoked(), page.After, page.Size)
	if err != nil {
		return nil, err
	}
	resp.ApiKeys, resp.NextPageToken, err = aip.Next(page, list, positionOfKey)
	return resp, err
}

// RevokeApiKey revokes a key.
func (s *KeyService) RevokeApiKey(ctx context.Context, req *sparcv1.RevokeApiKeyRequest) (*sparcv1.ApiKey, error) {
	var v apierr.InvalidArgument
	id := aip.ParseName(&v, "name", aip.APIKeys, req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	// An organisation's admin revokes its own organisation's keys only;
	// another's is NOT_FOUND, like a missing one.
	org, ok := administered(FromContext(ctx))
	if !ok {
		return nil, fmt.Errorf("%s: %w", aip.Name(aip.APIKeys, id), apierr.ErrNotFound)
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
