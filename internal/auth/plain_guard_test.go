package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"

	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/httproute"
	"github.com/sparc-network/sparc/internal/testenv"
)

// Issue 13: plain HTTP routes (Open Referral, coverage downloads, tiles)
// bypassed the guard; only the anonymous rate limit reached them. Now they
// pass the same admission as every method, under the same policy table.

// plainCall sends GET path with key ("" for none) and returns the status,
// the request id the edge gave the call and the body.
func plainCall(t *testing.T, base, path, key string) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Request-Id"), body
}

// auditOf waits for the audit event of the call with request id and
// returns its principal, outcome, code and resource. Refusals are written
// before the answer; an allowed call's event right after its handler.
func auditOf(t *testing.T, owner *pgxpool.Pool, requestID string) (principal, outcome, code, resource string) {
	t.Helper()
	testenv.Until(t, 10*time.Second, "audit event of request "+requestID, func() bool {
		err := owner.QueryRow(context.Background(), `SELECT principal, outcome, code, resource FROM audit_events
			WHERE request_id = $1`, requestID).Scan(&principal, &outcome, &code, &resource)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatalf("audit event of request %s: %v", requestID, err)
		}
		return err == nil
	})
	return principal, outcome, code, resource
}

// A plain route missing from the policy is refused to everyone, as an
// unlisted method is (fail closed), before any key is looked at; the
// refusals are audited (summed, as every refusal: the first at once, with
// the request id the caller was given).
func TestPlainRouteOutsideThePolicyIsRefused(t *testing.T) {
	t.Parallel()
	var served atomic.Int32
	env := testenv.NewServer(t, testenv.Options{
		Auth: auth.Config{RatePerSecond: 10000, Burst: 10000, DeniedWindow: 200 * time.Millisecond},
		Routes: []httproute.Route{{Pattern: "GET /unlisted",
			Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served.Add(1) })}}})
	network := env.Key(t, env.NewOrg(t, "Network operator", "other"), auth.RoleNetworkAdmin)
	var first string
	for _, c := range []struct{ who, key string }{{"anonymous", ""}, {"an admin", env.AdminKey}, {"the network admin", network}} {
		status, id, body := plainCall(t, env.HTTPBase, "/unlisted", c.key)
		var st struct {
			Code    codes.Code `json:"code"`
			Message string     `json:"message"`
		}
		if status != http.StatusForbidden || json.Unmarshal(body, &st) != nil || st.Code != codes.PermissionDenied ||
			!strings.Contains(st.Message, "not covered by the access policy") {
			t.Errorf("%s: HTTP %d %s, want 403 PERMISSION_DENIED: not covered by the access policy", c.who, status, body)
		}
		if first == "" {
			first = id
		}
	}
	if n := served.Load(); n != 0 {
		t.Errorf("the unlisted route's handler ran %d times", n)
	}
	principal, outcome, code, resource := auditOf(t, env.Pool, first)
	if principal != "anonymous" || outcome != "denied" || code != "PermissionDenied" || resource != "unlisted" {
		t.Errorf("first refusal audited as %s %s %s %s, want anonymous denied PermissionDenied unlisted", principal, outcome, code, resource)
	}
	deniedAudited(t, env.Pool, "GET /unlisted", 3)
}

// deniedAudited waits until the audit log counts want refused calls of
// method (refusals are summed over a window, written when it closes),
// and fails at once if it counts more.
func deniedAudited(t *testing.T, owner *pgxpool.Pool, method string, want int) {
	t.Helper()
	testenv.Until(t, 20*time.Second, "the refused calls of "+method+" audited", func() bool {
		var n int
		if err := owner.QueryRow(context.Background(), `SELECT COALESCE(sum(count), 0) FROM audit_events
			WHERE method = $1 AND outcome = 'denied'`, method).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > want {
			t.Fatalf("%d refused calls of %s audited, want %d", n, method, want)
		}
		return n == want
	})
}

// An audited plain route (no shipped route is one yet) is guarded and
// audited as an audited method: the caller must have a key of a role the
// rule allows, the handler acts as that caller, and every call, allowed
// or not, leaves an event with the request id, its path and its outcome.
func TestAuditedPlainRouteIsGuardedAndAudited(t *testing.T) {
	t.Parallel()
	owner := testenv.NewPool(t)
	pool := testenv.AppPool(t, owner)
	const route = "GET /private/{id}"
	var mu sync.Mutex
	var seen []string // organisation and role each call ran as
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.FromContext(r.Context())
		mu.Lock()
		if p == nil {
			seen = append(seen, "nobody")
		} else {
			seen = append(seen, p.Org+" "+p.Role)
		}
		mu.Unlock()
		if r.PathValue("id") == "missing" {
			http.NotFound(w, r)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, pool, app.Config{Auth: auth.Config{RatePerSecond: 10000, Burst: 10000},
		Server: app.ServerConfig{Routes: []httproute.Route{{Pattern: route, Handler: handler}}}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	a.Auth.SetRule(route, auth.Rule{Roles: []string{auth.RoleAdmin}, Audit: true})
	testenv.Serve(t, ctx, cancel, a)
	base := "http://" + a.Server().HTTPAddr()
	org := uuid.New()
	if _, err := owner.Exec(context.Background(), `INSERT INTO organisations (id, kind, name) VALUES ($1, 'community_group', 'Private route test')`, org); err != nil {
		t.Fatal(err)
	}
	key := func(role string) string {
		_, k, err := auth.NewKeyStore(owner).Create(context.Background(), org, role, "test key")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	admin, linkWorker := key(auth.RoleAdmin), key(auth.RoleLinkWorker)

	for _, c := range []struct {
		who, key, path string
		status         int
		outcome, code  string
	}{
		{"anonymous", "", "/private/1", http.StatusUnauthorized, "denied", "Unauthenticated"},
		{"a role the rule does not allow", linkWorker, "/private/1", http.StatusForbidden, "denied", "PermissionDenied"},
		{"an admin", admin, "/private/1", http.StatusOK, "ok", "OK"},
		{"an admin, for what is not there", admin, "/private/missing", http.StatusNotFound, "denied", "NotFound"},
	} {
		status, id, body := plainCall(t, base, c.path, c.key)
		if status != c.status {
			t.Errorf("%s: HTTP %d %s, want %d", c.who, status, body, c.status)
			continue
		}
		principal, outcome, code, resource := auditOf(t, owner, id)
		want := "anonymous"
		if c.key != "" {
			want = "key:" + c.key[:14]
		}
		if principal != want || outcome != c.outcome || code != c.code || resource != strings.TrimPrefix(c.path, "/") {
			t.Errorf("%s: audited as %s %s %s %s, want %s %s %s %s", c.who, principal, outcome, code, resource,
				want, c.outcome, c.code, strings.TrimPrefix(c.path, "/"))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{org.String() + " admin", org.String() + " admin"}; strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Errorf("the handler ran as %q, want %q (the admin's two calls only)", seen, want)
	}
}
