package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

const oidcAudience = "sparc-api"

// issuer is an OpenID Connect provider inside the test: discovery, a key
// set with an RSA and an EC key, and tokens signed here.
type issuer struct {
	srv         *httptest.Server
	rsaKey      *rsa.PrivateKey
	ecKey       *ecdsa.PrivateKey
	jwksFetches atomic.Int64
	mu          sync.Mutex
	extra       []jose.JSONWebKey // published after a rotation
	hang        chan struct{}     // when set, /jwks answers only once it is closed
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	is := &issuer{}
	var err error
	if is.rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if is.ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/jwks",
			"authorization_endpoint": is.srv.URL + "/authorize", "token_endpoint": is.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
			"response_types_supported":              []string{"code"}, "subject_types_supported": []string{"public"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		is.jwksFetches.Add(1)
		is.mu.Lock()
		hang := is.hang
		is.mu.Unlock()
		if hang != nil {
			select {
			case <-hang:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(is.jwks())
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// jwks is the issuer's published key set (public halves only).
func (is *issuer) jwks() jose.JSONWebKeySet {
	is.mu.Lock()
	defer is.mu.Unlock()
	return jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey{
		{Key: &is.rsaKey.PublicKey, KeyID: "rsa-1", Algorithm: "RS256", Use: "sig"},
		{Key: &is.ecKey.PublicKey, KeyID: "ec-1", Algorithm: "ES256", Use: "sig"},
	}, is.extra...)}
}

func quiet() *slog.Logger {
	if os.Getenv("SPARC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// claims are a valid token's claims for org and role; cases change them.
func (is *issuer) claims(org, role string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": is.srv.URL, "aud": oidcAudience, "sub": "staff-" + uuid.NewString()[:8],
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "sparc_org": org, "sparc_role": role}
}

// sign returns a compact JWS of claims signed with key under kid.
func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unsigned is a token with "alg": "none".
func unsigned(claims map[string]any) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT", "kid": "rsa-1"})
	p, _ := json.Marshal(claims)
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "."
}

func with(c map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for key, val := range c {
		out[key] = val
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

// oidcCall makes the same call over gRPC and HTTP with a token: list the
// organisation's webhooks (admins, link workers and group editors only).
func oidcCall(t *testing.T, env *testenv.Env, token string) (grpcCode codes.Code, httpStatus int) {
	t.Helper()
	_, err := sparcv1.NewWebhookServiceClient(env.ConnWithKey(t, token)).ListWebhooks(context.Background(), &sparcv1.ListWebhooksRequest{})
	req, _ := http.NewRequest(http.MethodGet, env.HTTPBase+"/v1/webhooks", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, herr := http.DefaultClient.Do(req)
	if herr != nil {
		t.Fatal(herr)
	}
	resp.Body.Close()
	return status.Code(err), resp.StatusCode
}

// The token path of the authorisation layer, for each way of giving the
// issuer's keys: a token of the issuer, for SPARC's audience, unexpired,
// naming an active organisation and a SPARC role is a caller of that
// organisation with that role; every other token is UNAUTHENTICATED (HTTP
// 401), like a bad API key.
func TestOIDCTokens(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	file := filepath.Join(t.TempDir(), "jwks.json")
	b, err := json.Marshal(is.jwks())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]auth.OIDCConfig{
		"discovery": {Issuer: is.srv.URL, Audience: oidcAudience},
		"jwks url":  {Issuer: is.srv.URL, Audience: oidcAudience, JWKSURL: is.srv.URL + "/jwks"},
		"jwks file": {Issuer: is.srv.URL, Audience: oidcAudience, JWKSFile: file},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v, err := auth.NewOIDC(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			testOIDCTokens(t, is, v)
		})
	}
}

func testOIDCTokens(t *testing.T, is *issuer, v auth.TokenVerifier) {
	env := testenv.NewServer(t, testenv.Options{Auth: auth.Config{RatePerSecond: 10000, Burst: 10000, OIDC: v, Logger: quiet()}})
	ctx := context.Background()
	org := env.NewOrg(t, "Ladywood link workers", "link_worker_service")
	suspended := env.NewOrg(t, "Suspended service", "link_worker_service")
	if _, err := env.Pool.Exec(ctx, `UPDATE organisations SET status = 'suspended' WHERE id = $1`, suspended); err != nil {
		t.Fatal(err)
	}
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := is.claims(org, auth.RoleLinkWorker)

	// Valid tokens, RSA and EC: a link worker of org, over both transports.
	for _, tok := range []string{sign(t, jose.RS256, is.rsaKey, "rsa-1", good), sign(t, jose.ES256, is.ecKey, "ec-1", good)} {
		if g, h := oidcCall(t, env, tok); g != codes.OK || h != http.StatusOK {
			t.Fatalf("valid token: gRPC %v, HTTP %d", g, h)
		}
	}
	// The organisation and role are the token's: what it creates belongs
	// to org, the audit names the subject, and the role is enforced.
	tok := sign(t, jose.RS256, is.rsaKey, "rsa-1", good)
	hook, err := sparcv1.NewWebhookServiceClient(env.ConnWithKey(t, tok)).CreateWebhook(ctx, &sparcv1.CreateWebhookRequest{
		Webhook: &sparcv1.Webhook{Url: "https://example.org/oidc"}})
	if err != nil || hook.GetWebhook().GetOrganisation() != "organisations/"+org {
		t.Fatalf("create as the token's caller: %v, %v", hook, err)
	}
	var n int
	if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE principal = $1 AND organisation_id = $2
		AND role = 'link_worker' AND method = '/sparc.v1.WebhookService/CreateWebhook' AND outcome = 'ok'`,
		"oidc:"+good["sub"].(string), org).Scan(&n); err != nil || n != 1 {
		t.Errorf("audit rows for the token's subject: %d, %v", n, err)
	}
	// Other spellings of the organisation's id name the same organisation.
	for _, spelling := range []string{strings.ToUpper(org), "{" + org + "}", strings.ReplaceAll(org, "-", ""), "urn:uuid:" + org} {
		c := sparcv1.NewWebhookServiceClient(env.ConnWithKey(t, sign(t, jose.RS256, is.rsaKey, "rsa-1", with(good, "sparc_org", spelling))))
		list, err := c.ListWebhooks(ctx, &sparcv1.ListWebhooksRequest{})
		if err != nil || len(list.GetWebhooks()) != 1 || list.GetWebhooks()[0].GetName() != hook.GetWebhook().GetName() {
			t.Errorf("organisation spelt %q: %v, %v; want the organisation's one webhook", spelling, list, err)
		}
	}
	// A token's name claim is the principal's display name, kept in the
	// audit trail beside the subject.
	named := with(good, "name", "Jo Bloggs")
	if _, err := sparcv1.NewWebhookServiceClient(env.ConnWithKey(t, sign(t, jose.RS256, is.rsaKey, "rsa-1", named))).CreateWebhook(ctx,
		&sparcv1.CreateWebhookRequest{Webhook: &sparcv1.Webhook{Url: "https://example.org/oidc-named"}}); err != nil {
		t.Fatal(err)
	}
	if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE principal = $1 AND principal_display_name = 'Jo Bloggs'
		AND method = '/sparc.v1.WebhookService/CreateWebhook'`, "oidc:"+good["sub"].(string)).Scan(&n); err != nil || n != 1 {
		t.Errorf("audit rows naming the token's display name: %d, %v", n, err)
	}
	analyst := sign(t, jose.ES256, is.ecKey, "ec-1", is.claims(org, auth.RoleAreaAnalyst))
	if g, h := oidcCall(t, env, analyst); g != codes.PermissionDenied || h != http.StatusForbidden {
		t.Errorf("area analyst token listing webhooks: gRPC %v, HTTP %d; want PermissionDenied", g, h)
	}

	rejected := map[string]string{
		"expired":                  sign(t, jose.RS256, is.rsaKey, "rsa-1", with(good, "exp", time.Now().Add(-time.Minute).Unix())),
		"no expiry":                sign(t, jose.RS256, is.rsaKey, "rsa-1", with(good, "exp", nil)),
		"not yet valid":            sign(t, jose.RS256, is.rsaKey, "rsa-1", with(good, "nbf", time.Now().Add(time.Hour).Unix())),
		"other issuer":             sign(t, jose.RS256, is.rsaKey, "rsa-1", with(good, "iss", "https://idp.example.org")),
		"other audience":           sign(t, jose.RS256, is.rsaKey, "rsa-1", with(good, "aud", "another-api")),
		"no audience":              sign(t, jose.RS256, is.rsaKey, "rsa-1", with(good, "aud", nil)),
		"unknown key id":           sign(t, jose.RS256, otherKey, "rotated-away", good),
		"known key id, other key":  sign(t, jose.RS256, otherKey, "rsa-1", good),
		"no key id, other key":     sign(t, jose.RS256, otherKey, "", good),
		"alg none":                 unsigned(good),
		"HS256 keyed with the JWK": sign(t, jose.HS256, x509.MarshalPKCS1PublicKey(&is.rsaKey.PublicKey), "rsa-1", good),
		"tampered payload":         tamper(sign(t, jose.RS256, is.rsaKey, "rsa-1", good), with(good, "sparc_role", auth.RoleAdmin)),
		"bad role claim":           sign(t, jose.RS256, is.rsaKey, "rsa-1", with(good, "sparc_role", "superuser")),
		"role in other case":       sign(t, jose.RS256, is.rsaKey, "rsa-1", with(good, "sparc_role", "Admin")),
		"role as a list":           sign(t, jose.RS256, is.rsaKey, "rsa-1", with(good, "sparc_role", []string{auth.RoleAdmin})),
		"no role claim":            sign(t, jose.RS256, is.rsaKey, "rsa-1", with(good, "sparc_role", nil)),
		"no organisation claim":    sign(t, jose.RS256, is.rsaKey, "rsa-1", with(good, "sparc_org", nil)),
		"organisation not an id":   sign(t, jose.RS256, is.rsaKey, "rsa-1", with(good, "sparc_org", "Ladywood link workers")),
		"unknown organisation":     sign(t, jose.RS256, is.rsaKey, "rsa-1", with(good, "sparc_org", uuid.NewString())),
		"suspended organisation":   sign(t, jose.RS256, is.rsaKey, "rsa-1", with(good, "sparc_org", suspended)),
		"no subject":               sign(t, jose.RS256, is.rsaKey, "rsa-1", with(good, "sub", nil)),
		"not a JWT":                "eyJhbGciOiJSUzI1NiJ9.not-base64!.x",
	}
	for name, tok := range rejected {
		if g, h := oidcCall(t, env, tok); g != codes.Unauthenticated || h != http.StatusUnauthorized {
			t.Errorf("%s: gRPC %v, HTTP %d; want Unauthenticated, 401", name, g, h)
		}
	}

	// An organisation suspended after its token was issued: the next
	// call is refused (no token is remembered past its organisation).
	if _, err := env.Pool.Exec(ctx, `UPDATE organisations SET status = 'suspended' WHERE id = $1`, org); err != nil {
		t.Fatal(err)
	}
	if g, h := oidcCall(t, env, tok); g != codes.Unauthenticated || h != http.StatusUnauthorized {
		t.Errorf("token of a newly suspended organisation: gRPC %v, HTTP %d", g, h)
	}
}

// tamper swaps a signed token's payload for claims, keeping its header
// and signature.
func tamper(token string, claims map[string]any) string {
	parts := strings.Split(token, ".")
	p, _ := json.Marshal(claims)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + parts[2]
}

// Anyone can send a token naming a key id the provider never published;
// each must not cost a request to the provider. Fetches for unknown key
// ids are at least RefreshGap apart, and a key the provider publishes
// later (rotation) is still picked up.
func TestOIDCKeyFetchesAreBoundedAndFollowRotation(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	org := uuid.NewString()
	v, err := auth.NewOIDC(context.Background(), auth.OIDCConfig{Issuer: is.srv.URL, Audience: oidcAudience,
		JWKSURL: is.srv.URL + "/jwks", RefreshGap: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, jose.RS256, is.rsaKey, "rsa-1", is.claims(org, auth.RoleLinkWorker))); err != nil {
		t.Fatal(err)
	}
	before := is.jwksFetches.Load()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// One after another: concurrent ones would share a fetch anyway.
	for i := 0; i < 50; i++ {
		if _, err := v.Verify(ctx, sign(t, jose.RS256, other, fmt.Sprintf("made-up-%d", i), is.claims(org, auth.RoleAdmin))); err == nil {
			t.Fatal("a token signed with an unpublished key was accepted")
		}
	}
	if n := is.jwksFetches.Load() - before; n != 0 {
		t.Errorf("50 tokens with made-up key ids cost %d key fetches within the refresh gap, want 0", n)
	}

	// Rotation: with a short gap, a newly published key is accepted once
	// the gap has passed (the condition waited on is its acceptance).
	v, err = auth.NewOIDC(ctx, auth.OIDCConfig{Issuer: is.srv.URL, Audience: oidcAudience,
		JWKSURL: is.srv.URL + "/jwks", RefreshGap: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, sign(t, jose.RS256, is.rsaKey, "rsa-1", is.claims(org, auth.RoleLinkWorker))); err != nil {
		t.Fatal(err)
	}
	is.mu.Lock()
	is.extra = append(is.extra, jose.JSONWebKey{Key: &other.PublicKey, KeyID: "rsa-2", Algorithm: "RS256", Use: "sig"})
	is.mu.Unlock()
	rotated := sign(t, jose.RS256, other, "rsa-2", is.claims(org, auth.RoleLinkWorker))
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := v.Verify(ctx, rotated)
		if err == nil {
			if p.Org != org || p.Role != auth.RoleLinkWorker {
				t.Errorf("rotated key's token: %+v", p)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a newly published key was never accepted: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A provider that stops answering must not hold token checks: each
// request to it is bounded (go-oidc's default client has no timeout, and
// it waits on its own context, not the caller's).
func TestOIDCProviderThatNeverAnswersDoesNotHangCalls(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	is.mu.Lock()
	is.hang = hang
	is.mu.Unlock()
	v, err := auth.NewOIDC(context.Background(), auth.OIDCConfig{Issuer: is.srv.URL, Audience: oidcAudience,
		JWKSURL: is.srv.URL + "/jwks", HTTPTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := v.Verify(context.Background(), sign(t, jose.RS256, is.rsaKey, "rsa-1", is.claims(uuid.NewString(), auth.RoleAdmin)))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("verified without the provider's keys")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("token check still waiting for a provider that never answers")
	}
}

// Configurations that would open the door, or silently shut it, fail at
// start.
func TestOIDCConfigurationErrors(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	dir := t.TempDir()
	withSecret := filepath.Join(dir, "with-secret.json")
	set := is.jwks()
	set.Keys = append(set.Keys, jose.JSONWebKey{Key: []byte("a shared secret, not a public key"), KeyID: "hmac", Algorithm: "HS256", Use: "sig"})
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(withSecret, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]auth.OIDCConfig{
		"no issuer":                 {Audience: oidcAudience, JWKSURL: is.srv.URL + "/jwks"},
		"no audience":               {Issuer: is.srv.URL, JWKSURL: is.srv.URL + "/jwks"},
		"url and file":              {Issuer: is.srv.URL, Audience: oidcAudience, JWKSURL: is.srv.URL + "/jwks", JWKSFile: withSecret},
		"missing file":              {Issuer: is.srv.URL, Audience: oidcAudience, JWKSFile: filepath.Join(dir, "none.json")},
		"symmetric key in file":     {Issuer: is.srv.URL, Audience: oidcAudience, JWKSFile: withSecret},
		"discovery of another":      {Issuer: is.srv.URL + "/tenant", Audience: oidcAudience},
		"discovered issuer differs": {Issuer: is.srv.URL + "/", Audience: oidcAudience},
	} {
		if _, err := auth.NewOIDC(context.Background(), cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	var mismatch *oidc.IssuerMismatchError
	if _, err := auth.NewOIDC(context.Background(), auth.OIDCConfig{Issuer: is.srv.URL + "/", Audience: oidcAudience}); !errors.As(err, &mismatch) {
		t.Errorf("discovery naming another issuer: %v, want an issuer mismatch", err)
	}
}
