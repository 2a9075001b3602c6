package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ConfigRoute is the console's public configuration: how to sign in.
const ConfigRoute = "GET /app/config.json"

// Config is what sparcd tells the console. Nothing in it is secret: the
// console is a public client (authorization code with PKCE, no client
// secret), and the browser reads all of it.
type Config struct {
	// OIDC, when Issuer is set, offers OpenID Connect sign-in beside the
	// API key.
	OIDC OIDC
}

// OIDC is the identity provider the console signs people in with. The
// console sends the ID token it gets as the bearer token: its audience is
// the client id, which is why the client id is sparcd's OIDC audience
// (the one audience auth.OIDC accepts).
type OIDC struct {
	Issuer   string
	ClientID string
	Scopes   []string // default: openid profile
	// Client fetches the issuer's discovery document; nil: a 10 s timeout.
	Client *http.Client
}

// callbackParams are what an OpenID provider sends back to /app/ (RFC
// 6749 4.1.2, RFC 9207, OpenID Connect Session Management); the page
// reads them, the server ignores them.
var callbackParams = []string{"code", "state", "error", "error_description", "error_uri", "iss", "session_state"}

// retryGap is the least time between two discovery attempts after one
// failed: a provider that is down must not be asked on every page load.
const retryGap = 30 * time.Second

// provider is the discovered endpoints the browser uses.
type provider struct {
	Issuer                string   `json:"issuer"`
	ClientID              string   `json:"client_id"`
	Scopes                []string `json:"scopes"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
}

// discovery finds the provider's endpoints once (the issuer's
// /.well-known/openid-configuration), lazily: sparcd starts, and the
// console offers the key, while the provider is unreachable.
type discovery struct {
	cfg OIDC

	mu      sync.Mutex
	found   *provider
	lastTry time.Time
}

// get returns the endpoints, or nil when OIDC is off or not discovered
// (yet).
func (d *discovery) get(ctx context.Context) *provider {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.found != nil || time.Since(d.lastTry) < retryGap {
		return d.found
	}
	d.lastTry = time.Now()
	p, err := discover(ctx, d.cfg)
	if err == nil {
		d.found = p
	}
	return d.found
}

func discover(ctx context.Context, cfg OIDC) (*provider, error) {
	client := cfg.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.Issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discovery: HTTP %d", resp.StatusCode)
	}
	var doc struct {
		Issuer                string   `json:"issuer"`
		AuthorizationEndpoint string   `json:"authorization_endpoint"`
		TokenEndpoint         string   `json:"token_endpoint"`
		Methods               []string `json:"code_challenge_methods_supported"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return nil, err
	}
	// The document must be the issuer's own (OpenID Connect Discovery 4.3).
	if doc.Issuer != cfg.Issuer {
		return nil, fmt.Errorf("discovery names issuer %q, not %q", doc.Issuer, cfg.Issuer)
	}
	for _, u := range []string{doc.AuthorizationEndpoint, doc.TokenEndpoint} {
		if err := endpoint(u); err != nil {
			return nil, err
		}
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = []string{"openid", "profile"}
	}
	return &provider{Issuer: cfg.Issuer, ClientID: cfg.ClientID, Scopes: scopes,
		AuthorizationEndpoint: doc.AuthorizationEndpoint, TokenEndpoint: doc.TokenEndpoint}, nil
}

// endpoint checks a provider URL the browser will be sent to or will
// call: https (plain http on loopback only, for development and tests),
// and nothing that could end a Content-Security-Policy source expression
// (the token endpoint goes into connect-src).
func endpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || strings.ContainsAny(raw, " ;,'\"\t\r\n") {
		return fmt.Errorf("provider endpoint %q is not a plain absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			return nil
		}
	}
	return errors.New("provider endpoint " + raw + " is not https")
}

// csp is the policy for this deployment: connections to this origin and,
// when OIDC is on, to the provider's token endpoint (exactly that URL), to
// which the console posts the authorization code.
func (s *server) csp(ctx context.Context) string {
	if p := s.oidc.get(ctx); p != nil {
		return strings.Replace(CSP, "connect-src 'self'", "connect-src 'self' "+p.TokenEndpoint, 1)
	}
	return CSP
}

// config serves the console's configuration: the OIDC provider when one
// is configured and discovered; otherwise "oidc": null (keys only).
func (s *server) config(w http.ResponseWriter, r *http.Request) {
	s.headers(r.Context(), w.Header())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(struct {
		OIDC *provider `json:"oidc"`
	}{s.oidc.get(r.Context())})
}
