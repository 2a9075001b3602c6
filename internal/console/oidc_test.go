package console_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/console"
	"github.com/sparc-network/sparc/internal/testenv"
)

// An OpenID Connect provider started inside the test: discovery, keys,
// /authorize (which signs the test user straight in and redirects back
// with a code, or, held, only records the request) and /token, which
// redeems a code once and only with the verifier whose S256 hash was the
// code_challenge, answering with an RS256-signed ID token.
type provider struct {
	t        *testing.T
	srv      *httptest.Server
	key      *rsa.PrivateKey
	clientID string
	claims   map[string]any // the test user's

	mu        sync.Mutex
	hold      bool                // /authorize records, does not redirect
	badNonce  bool                // /token answers with another nonce
	codes     map[string]grant    // unredeemed codes
	authorize []url.Values        // every /authorize request
	tokens    []tokenAttempt      // every /token request
	origins   map[string]struct{} // Origin headers of /token requests
}

type grant struct{ challenge, nonce, redirect string }

type tokenAttempt struct {
	ok     bool
	reason string
}

func newProvider(t *testing.T, clientID string, claims map[string]any) *provider {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &provider{t: t, key: key, clientID: clientID, claims: claims, codes: map[string]grant{}, origins: map[string]struct{}{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorizeHandler)
	mux.HandleFunc("/token", p.token)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *provider) discovery(w http.ResponseWriter, _ *http.Request) {
	u := p.srv.URL
	writeJSON(w, 200, map[string]any{"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
		"jwks_uri": u + "/jwks", "response_types_supported": []string{"code"}, "code_challenge_methods_supported": []string{"S256"},
		"id_token_signing_alg_values_supported": []string{"RS256"}, "subject_types_supported": []string{"public"}})
}

func (p *provider) jwks(w http.ResponseWriter, _ *http.Request) {
	b64 := base64.RawURLEncoding.EncodeToString
	writeJSON(w, 200, map[string]any{"keys": []map[string]string{{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "k1",
		"n": b64(p.key.N.Bytes()), "e": b64(big.NewInt(int64(p.key.E)).Bytes())}}})
}

// issue makes a code for a grant.
func (p *provider) issue(g grant) string {
	code := base64.RawURLEncoding.EncodeToString(randBytes(p.t, 18))
	p.mu.Lock()
	p.codes[code] = g
	p.mu.Unlock()
	return code
}

func (p *provider) authorizeHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	p.authorize = append(p.authorize, q)
	hold := p.hold
	p.mu.Unlock()
	// A public client must use PKCE with S256 (RFC 7636, OAuth 2.1).
	if q.Get("response_type") != "code" || q.Get("client_id") != p.clientID || q.Get("code_challenge_method") != "S256" ||
		len(q.Get("code_challenge")) != 43 || q.Get("state") == "" || q.Get("nonce") == "" || !strings.Contains(q.Get("scope"), "openid") {
		http.Error(w, "invalid authorization request", http.StatusBadRequest)
		return
	}
	if hold {
		_, _ = io.WriteString(w, "held")
		return
	}
	code := p.issue(grant{challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), redirect: q.Get("redirect_uri")})
	back, _ := url.Parse(q.Get("redirect_uri"))
	back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	http.Redirect(w, r, back.String(), http.StatusSeeOther)
}

func (p *provider) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*") // the console calls from its own origin
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Accept")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	refuse := func(reason string) {
		p.mu.Lock()
		p.tokens = append(p.tokens, tokenAttempt{reason: reason})
		p.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": reason})
	}
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		refuse("not a form post")
		return
	}
	p.mu.Lock()
	p.origins[r.Header.Get("Origin")] = struct{}{}
	code := r.PostForm.Get("code")
	g, ok := p.codes[code]
	delete(p.codes, code) // one use, refused or not
	badNonce := p.badNonce
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case r.PostForm.Get("grant_type") != "authorization_code":
		refuse("grant_type")
	case !ok:
		refuse("unknown or used code")
	case r.PostForm.Get("client_id") != p.clientID:
		refuse("client_id")
	case r.PostForm.Get("redirect_uri") != g.redirect:
		refuse("redirect_uri")
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		refuse("code_verifier does not match the code_challenge")
	default:
		nonce := g.nonce
		if badNonce {
			nonce = "not-the-nonce-sent"
		}
		now := time.Now()
		claims := map[string]any{"iss": p.srv.URL, "aud": p.clientID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "nonce": nonce}
		for k, v := range p.claims {
			claims[k] = v
		}
		id := p.sign(claims)
		p.mu.Lock()
		p.tokens = append(p.tokens, tokenAttempt{ok: true})
		p.mu.Unlock()
		writeJSON(w, 200, map[string]any{"access_token": id, "id_token": id, "token_type": "Bearer", "expires_in": 3600})
	}
}

// sign makes an RS256 JWS over claims.
func (p *provider) sign(claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	head := enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "k1"})
	body := head + "." + enc(claims)
	sum := sha256.Sum256([]byte(body))
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, sum[:])
	if err != nil {
		p.t.Fatal(err)
	}
	return body + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func (p *provider) attempts() []tokenAttempt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]tokenAttempt(nil), p.tokens...)
}

func (p *provider) lastAuthorize() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.authorize) == 0 {
		return nil
	}
	return p.authorize[len(p.authorize)-1]
}

func (p *provider) set(hold, badNonce bool) {
	p.mu.Lock()
	p.hold, p.badNonce = hold, badNonce
	p.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func randBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

const consoleClient = "sparc-console"

// oidcServer is a sparcd trusting the provider (its tokens as bearer
// tokens, audience the console's client id), telling the console to sign
// in with it; the test user is a link worker of a new organisation.
func oidcServer(t *testing.T) (*testenv.Env, *provider) {
	claims := map[string]any{"sub": "olivia", "name": "Olivia Okafor", "sparc_role": auth.RoleLinkWorker}
	p := newProvider(t, consoleClient, claims)
	v, err := auth.NewOIDC(context.Background(), auth.OIDCConfig{Issuer: p.srv.URL, Audience: consoleClient})
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.NewServer(t, testenv.Options{Auth: auth.Config{RatePerSecond: 10000, Burst: 10000, OIDC: v},
		Console: app.ConsoleConfig{OIDC: console.OIDC{Issuer: p.srv.URL, ClientID: consoleClient}}})
	claims["sparc_org"] = env.NewOrg(t, "OIDC link workers", "link_worker_service")
	return env, p
}

// The provider itself refuses what it must: a code redeemed without the
// verifier of its challenge, with another verifier, or twice. (Were it
// not to, the browser tests below could not show that the console's PKCE
// is what signs people in.)
func TestOIDCTestProviderChecksPKCE(t *testing.T) {
	p := newProvider(t, consoleClient, map[string]any{"sub": "x"})
	verifier := base64.RawURLEncoding.EncodeToString(randBytes(t, 32))
	redeem := func(code, verifier string) int {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {consoleClient}, "redirect_uri": {"http://app/"}}
		if verifier != "" {
			form.Set("code_verifier", verifier)
		}
		resp, err := http.PostForm(p.srv.URL+"/token", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	g := grant{challenge: s256(verifier), nonce: "n", redirect: "http://app/"}
	if code := redeem(p.issue(g), ""); code != http.StatusBadRequest {
		t.Errorf("a code redeemed without a verifier: HTTP %d, want 400", code)
	}
	if code := redeem(p.issue(g), base64.RawURLEncoding.EncodeToString(randBytes(t, 32))); code != http.StatusBadRequest {
		t.Errorf("a code redeemed with another verifier: HTTP %d, want 400", code)
	}
	c := p.issue(g)
	if code := redeem(c, verifier); code != http.StatusOK {
		t.Errorf("a code redeemed with its verifier: HTTP %d, want 200", code)
	}
	if code := redeem(c, verifier); code != http.StatusBadRequest {
		t.Errorf("a code redeemed twice: HTTP %d, want 400", code)
	}
}

func TestOIDCSignInWithPKCEInChromium(t *testing.T) {
	env, p := oidcServer(t)
	base := env.HTTPBase

	// sparcd tells the console, and lets it post to the token endpoint.
	resp, err := http.Get(base + "/app/config.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var raw map[string]map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("config.json: %v: %s", err, body)
	}
	if raw["oidc"]["issuer"] != p.srv.URL || raw["oidc"]["client_id"] != consoleClient || raw["oidc"]["token_endpoint"] != p.srv.URL+"/token" ||
		raw["oidc"]["authorization_endpoint"] != p.srv.URL+"/authorize" {
		t.Errorf("config.json: %s", body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' "+p.srv.URL+"/token;") {
		t.Errorf("CSP does not allow the token endpoint: %s", csp)
	}

	b := newBrowser(t)
	b.do(chromedp.Navigate(base+"/app/#/signin"), chromedp.WaitVisible(css("#oidc-signin")))
	b.checkAxe("sign-in (OIDC)")
	b.screenshot("console-signin-oidc.png")

	// The whole flow: to the provider and back, signed in.
	b.do(chromedp.Click(css("#oidc-signin")))
	testenv.Until(t, 30*time.Second, "signed in through the provider", func() bool {
		// Two navigations (to the provider, back to the console) run
		// under this poll.
		return evalDuringNavigation[bool](b, `!!document.getElementById('signout')`)
	})
	got := p.attempts()
	if len(got) != 1 || !got[0].ok {
		t.Fatalf("token requests %+v, want one, redeemed", got)
	}
	q := p.lastAuthorize()
	if q.Get("redirect_uri") != base+"/app/" || q.Get("code_challenge_method") != "S256" {
		t.Errorf("authorization request %v", q)
	}
	if loc := eval[string](b, `location.search`); loc != "" {
		t.Errorf("the code stays in the address: %q", loc)
	}
	if !eval[bool](b, `sessionStorage.getItem('sparc.oidc.token') !== null && localStorage.getItem('sparc.oidc.token') === null && sessionStorage.getItem('sparc.oidc.pending') === null`) {
		t.Error("the token is not in sessionStorage only, or the PKCE verifier outlived the sign-in")
	}
	// The token is the bearer: the API answers the console as the user.
	b.do(chromedp.Click(css("#myref-link")), chromedp.WaitVisible(css("#myref-empty")))
	if live := b.text("#myref-empty") + "|" + b.text("#myref-live") + "|" + fmt.Sprint(eval[bool](b, `document.querySelector('main [role=alert]').hidden`)); live != "No referrals yet.|Live: changes appear here as they happen.|true" {
		t.Errorf("my referrals with the OIDC token: %q", live)
	}
	// GET /v1/caller with the token: the name claim, the organisation, a link worker's screens.
	if got := b.text("#who"); got != "Signed in as Olivia Okafor, OIDC link workers" {
		t.Errorf("the header with the OIDC token says %q", got)
	}
	if nav := eval[[]string](b, `[...document.querySelectorAll('header nav a')].map((a) => a.id)`); !slices.Equal(nav, []string{"nav-search", "myref-link"}) {
		t.Errorf("a link worker's header links (OIDC): %v", nav)
	}
	var who string
	testenv.Until(t, 20*time.Second, "the audit log names the OIDC user", func() bool {
		_ = env.Pool.QueryRow(context.Background(), `SELECT coalesce(max(principal), '') FROM audit_events WHERE principal = 'oidc:olivia'`).Scan(&who)
		return who != ""
	})
	b.noCSPViolations("OIDC sign-in")
	b.do(chromedp.Click(css("#signout")), chromedp.WaitVisible(css("#signin-link")))
	if eval[bool](b, `sessionStorage.getItem('sparc.oidc.token') !== null`) {
		t.Error("the token is still in the tab after signing out")
	}

	// failed runs one sign-in that stops at the provider (held), then
	// comes back at the console with code and state as given; the user
	// must not be signed in, and the console says why in its alert.
	failed := func(name string, code func(q url.Values) (string, string), badNonce bool, wantMsg string, wantTokenRequests int) []tokenAttempt {
		t.Helper()
		p.set(true, badNonce)
		defer p.set(false, false)
		before := len(p.attempts())
		b.do(chromedp.Navigate(base+"/app/#/signin"), chromedp.WaitVisible(css("#oidc-signin")), chromedp.Click(css("#oidc-signin")))
		testenv.Until(t, 20*time.Second, "the held authorization request", func() bool {
			// The click starts a navigation to the provider: ask until
			// the provider's page is the one answering.
			return evalDuringNavigation[string](b, `document.body ? document.body.innerText : ''`) == "held"
		})
		c, state := code(p.lastAuthorize())
		b.do(chromedp.Navigate(base+"/app/?"+url.Values{"code": {c}, "state": {state}}.Encode()), chromedp.WaitVisible(css("#auth-error")))
		if msg := b.text("#auth-error"); msg != wantMsg {
			t.Errorf("%s: the console says %q, want %q", name, msg, wantMsg)
		}
		if eval[bool](b, `!!document.getElementById('signout') || sessionStorage.getItem('sparc.oidc.token') !== null`) {
			t.Errorf("%s: signed in", name)
		}
		made := p.attempts()[before:]
		if len(made) != wantTokenRequests {
			t.Errorf("%s: %d token requests, want %d", name, len(made), wantTokenRequests)
		}
		return made
	}
	// The provider's code for exactly this authorization request.
	theCode := func(q url.Values) string {
		return p.issue(grant{challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), redirect: q.Get("redirect_uri")})
	}
	// State: a valid code for this very request (a console that did not
	// check the state would redeem it, and be signed in) with another
	// state; nothing is redeemed.
	failed("another state", func(q url.Values) (string, string) { return theCode(q), "forged-state" }, false,
		"The sign-in could not be checked: it did not start in this tab, or it was used already. Please sign in again.", 0)
	b.checkAxe("sign-in (OIDC error)")
	// PKCE: the right state, but a code issued for another challenge (an
	// attacker's code injected into this tab): the console's verifier does
	// not match it and the provider refuses.
	made := failed("a code for another verifier", func(q url.Values) (string, string) {
		return p.issue(grant{challenge: s256("someone else's verifier, 43 characters long"), nonce: q.Get("nonce"), redirect: q.Get("redirect_uri")}), q.Get("state")
	}, false, "The sign-in could not be completed: the answer from your organisation's sign-in service was not valid. Please sign in again.", 1)
	if len(made) != 1 || made[0].reason != "code_verifier does not match the code_challenge" {
		t.Errorf("the injected code: token requests %+v, want one refused for its verifier", made)
	}
	// Nonce: the token answered carries another nonce (a replayed token).
	failed("another nonce", func(q url.Values) (string, string) { return theCode(q), q.Get("state") }, true,
		"The sign-in could not be completed: the answer from your organisation's sign-in service was not valid. Please sign in again.", 1)
	// The same, in Dutch.
	eval[bool](b, `localStorage.setItem('sparc.lang', 'nl'); true`)
	failed("another state, in Dutch", func(q url.Values) (string, string) { return theCode(q), "forged" }, false,
		"De aanmelding kon niet worden gecontroleerd: ze is niet in dit tabblad begonnen of is al gebruikt. Log opnieuw in.", 0)
	b.noCSPViolations("OIDC errors")
}

// Without a provider, or with one whose discovery document names another
// issuer (a provider sparcd must not send people to), the console offers
// the key only and its policy connects to nothing but its own origin.
func TestConsoleConfigWithoutAUsableProvider(t *testing.T) {
	wrong := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]string{"issuer": "https://elsewhere.example", "authorization_endpoint": "https://elsewhere.example/a",
			"token_endpoint": "https://elsewhere.example/t"})
	}))
	t.Cleanup(wrong.Close)
	for name, opts := range map[string]testenv.Options{
		"no issuer":        {},
		"another issuer's": {Console: app.ConsoleConfig{OIDC: console.OIDC{Issuer: wrong.URL, ClientID: consoleClient}}},
	} {
		t.Run(name, func(t *testing.T) {
			env := testenv.NewServer(t, opts)
			for _, path := range []string{"/app/config.json", "/app/"} {
				resp, err := http.Get(env.HTTPBase + path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if path == "/app/config.json" && strings.TrimSpace(string(body)) != `{"oidc":null}` {
					t.Errorf("config.json: HTTP %d %s", resp.StatusCode, body)
				}
				if csp := resp.Header.Get("Content-Security-Policy"); csp != console.CSP {
					t.Errorf("%s: CSP %s", path, csp)
				}
			}
		})
	}
}
