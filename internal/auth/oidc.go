package auth

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
)

// OIDCConfig connects SPARC to an identity provider (NHS login for staff,
// a municipality's IdP, ...): tokens it signs are accepted as bearer
// tokens, with the organisation and role taken from two claims.
type OIDCConfig struct {
	Issuer    string // must equal the tokens' "iss"
	Audience  string // must be in the tokens' "aud"
	JWKSURL   string // the provider's signing keys, or
	JWKSFile  string // the same as a file (for offline deployments)
	OrgClaim  string // claim holding the SPARC organisation id; default "sparc_org"
	RoleClaim string // claim holding the role; default "sparc_role"
}

// Enabled reports whether any OIDC setting was given.
func (c OIDCConfig) Enabled() bool {
	return c.Issuer != "" || c.Audience != "" || c.JWKSURL != "" || c.JWKSFile != ""
}

// OIDC verifies identity-provider tokens with go-oidc (signature, issuer,
// audience, expiry) and maps them to a Principal.
type OIDC struct {
	verifier *oidc.IDTokenVerifier
	cfg      OIDCConfig
}

// NewOIDC checks the configuration and loads the keys. Any gap is an
// error: a half-configured identity provider must not open the door.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("oidc: issuer is required")
	case cfg.Audience == "":
		return nil, errors.New("oidc: audience is required")
	case (cfg.JWKSURL == "") == (cfg.JWKSFile == ""):
		return nil, errors.New("oidc: give exactly one of a JWKS URL or a JWKS file")
	}
	if cfg.OrgClaim == "" {
		cfg.OrgClaim = "sparc_org"
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = "sparc_role"
	}
	var keys oidc.KeySet
	if cfg.JWKSURL != "" {
		keys = oidc.NewRemoteKeySet(ctx, cfg.JWKSURL)
	} else {
		b, err := os.ReadFile(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("oidc: reading JWKS file: %w", err)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(b, &set); err != nil {
			return nil, fmt.Errorf("oidc: parsing JWKS file: %w", err)
		}
		var pub []crypto.PublicKey
		for _, k := range set.Keys {
			if k.Use == "" || k.Use == "sig" {
				pub = append(pub, k.Public().Key)
			}
		}
		if len(pub) == 0 {
			return nil, errors.New("oidc: JWKS file has no signing keys")
		}
		keys = &oidc.StaticKeySet{PublicKeys: pub}
	}
	v := oidc.NewVerifier(cfg.Issuer, keys, &oidc.Config{
		ClientID:             cfg.Audience,
		SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256, oidc.PS256},
	})
	return &OIDC{verifier: v, cfg: cfg}, nil
}

// Verify implements TokenVerifier. The layer then checks that the
// organisation exists and is active.
func (o *OIDC) Verify(ctx context.Context, raw string) (*Principal, error) {
	tok, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, err
	}
	org, _ := claims[o.cfg.OrgClaim].(string)
	role, _ := claims[o.cfg.RoleClaim].(string)
	if _, err := uuid.Parse(org); err != nil {
		return nil, fmt.Errorf("claim %s is not an organisation id", o.cfg.OrgClaim)
	}
	switch role {
	case RoleAdmin, RoleLinkWorker, RoleGroupEditor, RoleAreaAnalyst:
	default:
		return nil, fmt.Errorf("claim %s is not a SPARC role", o.cfg.RoleClaim)
	}
	return &Principal{Name: "oidc:" + tok.Subject, Org: org, Role: role}, nil
}
