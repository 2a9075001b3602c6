package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

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
	JWKSFile  string // the same as a file (for offline deployments); neither: discovered from the issuer
	OrgClaim  string // claim holding the SPARC organisation id; default "sparc_org"
	RoleClaim string // claim holding the role; default "sparc_role"
	// HTTPTimeout bounds each request to the provider (discovery, keys).
	// Zero: 10 s.
	HTTPTimeout time.Duration
	// RefreshGap is the least time between two fetches of the keys when
	// tokens name a key id not seen yet. Zero: 10 s.
	RefreshGap time.Duration
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

// signingAlgs are the token algorithms accepted: asymmetric only, so a
// published key can never be used as a shared secret.
var signingAlgs = []string{oidc.RS256, oidc.ES256, oidc.PS256}

// NewOIDC checks the configuration and loads the keys. Any gap is an
// error: a half-configured identity provider must not open the door.
// With neither a JWKS URL nor a file, the keys' URL is discovered from the
// issuer's /.well-known/openid-configuration (which must name the same
// issuer), once, now.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("oidc: issuer is required")
	case cfg.Audience == "":
		return nil, errors.New("oidc: audience is required")
	case cfg.JWKSURL != "" && cfg.JWKSFile != "":
		return nil, errors.New("oidc: give a JWKS URL or a JWKS file, not both")
	}
	if cfg.OrgClaim == "" {
		cfg.OrgClaim = "sparc_org"
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = "sparc_role"
	}
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = 10 * time.Second
	}
	if cfg.RefreshGap <= 0 {
		cfg.RefreshGap = 10 * time.Second
	}
	// Without a timeout, one request to a provider that never answers
	// would hold every later key refresh (and the calls waiting on it).
	client := &http.Client{Timeout: cfg.HTTPTimeout}
	var keys oidc.KeySet
	switch {
	case cfg.JWKSFile != "":
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
			if k.Use != "" && k.Use != "sig" {
				continue
			}
			p := k.Public().Key
			if !asymmetric(p) {
				// go-oidc refuses every token when one key is of another
				// kind: say so now rather than reject everyone later.
				return nil, fmt.Errorf("oidc: JWKS file key %q is not an RSA, EC or Ed25519 public key", k.KeyID)
			}
			pub = append(pub, p)
		}
		if len(pub) == 0 {
			return nil, errors.New("oidc: JWKS file has no signing keys")
		}
		keys = &oidc.StaticKeySet{PublicKeys: pub}
	case cfg.JWKSURL != "":
		keys = &remoteKeys{url: cfg.JWKSURL, client: client, gap: cfg.RefreshGap}
	default:
		p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.Issuer)
		if err != nil {
			return nil, fmt.Errorf("oidc: discovering %s: %w", cfg.Issuer, err)
		}
		var meta struct {
			JWKSURI string `json:"jwks_uri"`
		}
		if err := p.Claims(&meta); err != nil || meta.JWKSURI == "" {
			return nil, fmt.Errorf("oidc: %s publishes no jwks_uri", cfg.Issuer)
		}
		keys = &remoteKeys{url: meta.JWKSURI, client: client, gap: cfg.RefreshGap}
	}
	v := oidc.NewVerifier(cfg.Issuer, keys, &oidc.Config{
		ClientID:             cfg.Audience,
		SupportedSigningAlgs: signingAlgs,
	})
	return &OIDC{verifier: v, cfg: cfg}, nil
}

func asymmetric(k crypto.PublicKey) bool {
	switch k.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return true
	}
	return false
}

// remoteKeys is the provider's published key set, cached. It is fetched
// again when a token fails with the cached keys and names a key id not in
// them (or none): the provider has rotated its keys. Those fetches are at
// least gap apart, so tokens with made-up key ids, which anyone can send,
// cannot make SPARC hammer the provider (go-oidc's RemoteKeySet fetches
// for every such token); a token signed with a key just published waits
// at most gap.
type remoteKeys struct {
	url    string
	client *http.Client
	gap    time.Duration

	mu       sync.Mutex
	keys     []jose.JSONWebKey
	last     time.Time     // when the last fetch started
	inflight chan struct{} // closed when the fetch under way ends; nil when none
	err      error         // of the last fetch
}

// VerifySignature implements oidc.KeySet. The verifier has already
// checked the algorithm and that there is exactly one signature.
func (r *remoteKeys) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errors.New("malformed token")
	}
	kid := jws.Signatures[0].Header.KeyID
	verify := func(keys []jose.JSONWebKey) ([]byte, bool) {
		for i := range keys {
			if kid == "" || keys[i].KeyID == kid {
				if payload, err := jws.Verify(&keys[i]); err == nil {
					return payload, true
				}
			}
		}
		return nil, false
	}
	r.mu.Lock()
	keys := r.keys
	r.mu.Unlock()
	if payload, ok := verify(keys); ok {
		return payload, nil
	}
	if kid != "" && hasKeyID(keys, kid) {
		return nil, errors.New("signature does not verify") // a known key: no rotation explains it
	}
	keys, err = r.refresh(ctx)
	if err != nil {
		return nil, err
	}
	if payload, ok := verify(keys); ok {
		return payload, nil
	}
	return nil, fmt.Errorf("no key of the provider verifies the token (key id %q)", kid)
}

func hasKeyID(keys []jose.JSONWebKey, kid string) bool {
	for _, k := range keys {
		if k.KeyID == kid {
			return true
		}
	}
	return false
}

// refresh fetches the keys unless a fetch started less than gap ago,
// joining one under way, and returns the keys then cached.
func (r *remoteKeys) refresh(ctx context.Context) ([]jose.JSONWebKey, error) {
	r.mu.Lock()
	if r.inflight == nil && time.Since(r.last) >= r.gap {
		r.inflight, r.last = make(chan struct{}), time.Now()
		go r.fetch(r.inflight)
	}
	wait := r.inflight
	if wait == nil {
		keys, err := r.keys, r.err
		r.mu.Unlock()
		if len(keys) == 0 && err != nil {
			return nil, fmt.Errorf("fetching the provider's keys: %w", err)
		}
		return keys, nil
	}
	r.mu.Unlock()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-wait:
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil && len(r.keys) == 0 {
		return nil, fmt.Errorf("fetching the provider's keys: %w", r.err)
	}
	return r.keys, nil
}

// fetch reads the key set (bounded in time by the client and in size
// here), keeping the old keys when it fails. Keys of kinds this library
// cannot read, or for encryption, are skipped, not fatal.
func (r *remoteKeys) fetch(done chan struct{}) {
	keys, err := r.get()
	r.mu.Lock()
	if err == nil {
		r.keys = keys
	}
	r.err, r.inflight = err, nil
	r.mu.Unlock()
	close(done)
}

func (r *remoteKeys) get() ([]jose.JSONWebKey, error) {
	resp, err := r.client.Get(r.url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("decoding key set: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil || (k.Use != "" && k.Use != "sig") || !asymmetric(k.Public().Key) {
			continue
		}
		keys = append(keys, k.Public())
	}
	if len(keys) == 0 {
		return nil, errors.New("the key set has no signing keys")
	}
	return keys, nil
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
	// The subject names the caller in the audit log and owns its rate
	// limit: without one, every such token would be one anonymous caller.
	if tok.Subject == "" || len(tok.Subject) > 255 || !utf8.ValidString(tok.Subject) ||
		strings.ContainsFunc(tok.Subject, unicode.IsControl) {
		return nil, errors.New("token has no usable subject (sub)")
	}
	orgClaim, _ := claims[o.cfg.OrgClaim].(string)
	role, _ := claims[o.cfg.RoleClaim].(string)
	org, err := uuid.Parse(orgClaim)
	if err != nil {
		return nil, fmt.Errorf("claim %s is not an organisation id", o.cfg.OrgClaim)
	}
	switch role {
	case RoleAdmin, RoleLinkWorker, RoleGroupEditor, RoleAreaAnalyst:
	default:
		return nil, fmt.Errorf("claim %s is not a SPARC role", o.cfg.RoleClaim)
	}
	// The canonical spelling: the organisation id is compared as text
	// (ownership, audit) and PostgreSQL does not read every form uuid.Parse
	// does ("urn:uuid:…" was an internal error).
	return &Principal{Name: "oidc:" + tok.Subject, Org: org.String(), Role: role, DisplayName: nameClaim(claims)}, nil
}

// nameClaim is the token's standard "name" claim (OpenID Connect Core
// 5.1) as a display name: the named user people read in referrals and the
// audit trail. A missing or unusable one (not text, control characters)
// is no name rather than a refusal; a long one is cut to 200 characters,
// as a key's display name is capped.
func nameClaim(claims map[string]any) string {
	n, _ := claims["name"].(string)
	n = strings.TrimSpace(n)
	if !utf8.ValidString(n) || strings.ContainsFunc(n, unicode.IsControl) {
		return ""
	}
	if r := []rune(n); len(r) > 200 {
		n = string(r[:200])
	}
	return n
}
