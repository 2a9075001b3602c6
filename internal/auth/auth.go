// Package auth is SPARC's one authorisation layer. A gRPC interceptor (which
// also guards the HTTP gateway, as the gateway calls gRPC) authenticates
// the caller from an API key or an identity-provider token, applies the
// per-method Policy, rate-limits each key, audits every call that touches
// non-public data and every denial, and hands the caller's organisation
// and role to the database transaction for row-level security (the second
// wall). Services ask Principal.CanWriteOwnedBy for row-level decisions.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/db"
)

// Principal is an authenticated caller.
type Principal struct {
	Name  string // "key:<prefix>" or "oidc:<subject>"
	KeyID string // API key id, empty for tokens
	Org   string // organisation UUID
	Role  string
}

// CanWriteOwnedBy reports whether p may change a resource (an asset)
// owned by org: its own organisation's editors and admin, nobody else.
// The network admin runs the network, not anyone's directory entries.
func (p *Principal) CanWriteOwnedBy(org string) bool {
	if p == nil {
		return false
	}
	return (p.Role == RoleAdmin || p.Role == RoleGroupEditor) && org != "" && org == p.Org
}

// CanAdminister reports whether p may administer organisation org: issue
// and revoke its keys, list them, change its details, read its audit
// events. An organisation's admin administers its own organisation only;
// the network admin administers every one.
func (p *Principal) CanAdminister(org string) bool {
	if p == nil {
		return false
	}
	return p.IsNetworkAdmin() || (p.Role == RoleAdmin && org != "" && org == p.Org)
}

// IsNetworkAdmin reports whether p acts for the whole network.
func (p *Principal) IsNetworkAdmin() bool { return p != nil && p.Role == RoleNetworkAdmin }

type principalKey struct{}

// FromContext returns the authenticated caller, or nil for anonymous calls.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// WithPrincipal returns ctx acting as p, with the matching database
// identity. Used by the interceptor and by trusted startup tasks (demo
// loading, bootstrap) that run without a request.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	ctx = context.WithValue(ctx, principalKey{}, p)
	return db.WithIdentity(ctx, db.Identity{Org: p.Org, Role: p.Role})
}

// TokenVerifier checks an identity-provider bearer token (OIDC).
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*Principal, error)
}

// Config tunes the layer.
type Config struct {
	RatePerSecond float64 // sustained requests per second per key
	Burst         int     // bucket size
	OIDC          TokenVerifier
	Logger        *slog.Logger
}

// Layer is the authorisation layer.
type Layer struct {
	pool    *pgxpool.Pool
	cfg     Config
	limiter *limiter
	policy  map[string]Rule
	log     *slog.Logger
	cache   *keyCache
}

// New returns the layer. It fails closed: a bad configuration is an error
// at start, never a server that lets everyone in.
func New(pool *pgxpool.Pool, cfg Config) (*Layer, error) {
	if cfg.RatePerSecond <= 0 || cfg.Burst <= 0 {
		return nil, errors.New("auth: rate limit and burst must be positive")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler) // never the process default: it ignores --log-format
	}
	return &Layer{pool: pool, cfg: cfg, limiter: newLimiter(cfg.RatePerSecond, cfg.Burst, time.Now),
		policy: Policy, log: cfg.Logger, cache: newKeyCache()}, nil
}

var (
	errNoCredentials = status.Error(codes.Unauthenticated, "this call needs an API key: send 'authorization: Bearer <key>'")
	errBadCredential = status.Error(codes.Unauthenticated, "API key or token is not valid (malformed, unknown, revoked, or its organisation is suspended)")
)

// Unary is the gRPC unary interceptor.
func (l *Layer) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, rec, err := l.admit(ctx, info.FullMethod, req)
	if err != nil {
		return nil, err
	}
	resp, err := h(ctx, req)
	l.finish(ctx, rec, err)
	if err == nil && l.policy[info.FullMethod].Credentials {
		// Before the caller hears of the change, so its next call here
		// cannot use what it revoked; other servers hear by notification.
		l.cache.drop()
	}
	return resp, err
}

// Stream is the gRPC stream interceptor.
func (l *Layer) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, rec, err := l.admit(ss.Context(), info.FullMethod, nil)
	if err != nil {
		return err
	}
	err = h(srv, &wrappedStream{ServerStream: ss, ctx: ctx})
	l.finish(ctx, rec, err)
	return err
}

type wrappedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (w *wrappedStream) Context() context.Context { return w.ctx }

// admit authenticates and authorises one call. It returns the context the
// handler runs with and the pending audit record (nil when not audited).
func (l *Layer) admit(ctx context.Context, method string, req any) (context.Context, *db.AuditRecord, error) {
	requestID := requestIDFrom(ctx)
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-request-id", requestID))
	rule, known := l.policy[method]
	rec := &db.AuditRecord{Principal: "anonymous", Method: method, RequestID: requestID, Peer: peerFrom(ctx),
		Resource: resourceFor(method, req)}
	if !known {
		err := status.Errorf(codes.PermissionDenied, "method %s is not covered by the access policy", method)
		l.deny(ctx, rec, err)
		return nil, nil, err
	}
	p, err := l.authenticate(ctx, rec)
	if err != nil {
		l.deny(ctx, rec, err)
		return nil, nil, err
	}
	if p == nil {
		if !rule.Public {
			l.deny(ctx, rec, errNoCredentials)
			return nil, nil, errNoCredentials
		}
		return ctx, nil, nil
	}
	rec.Principal, rec.Org, rec.Role = p.Name, p.Org, p.Role
	if !rule.allows(p.Role) {
		var err error
		if id := resourceName(req); rule.Resource != "" && id != "" {
			err = fmt.Errorf("%s %s: %w", rule.Resource, id, apierr.ErrNotFound)
		} else {
			err = status.Errorf(codes.PermissionDenied, "the %s role may not call %s", p.Role, method[strings.LastIndex(method, "/")+1:])
		}
		l.deny(ctx, rec, err)
		return nil, nil, err
	}
	if wait, ok := l.limiter.take(p.Name); !ok {
		st := status.New(codes.ResourceExhausted, fmt.Sprintf("rate limit of %.0f requests/s (burst %d) exceeded for this key; retry after %s",
			l.cfg.RatePerSecond, l.cfg.Burst, wait.Round(time.Millisecond)))
		if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); err == nil {
			st = d
		}
		l.deny(ctx, rec, st.Err())
		return nil, nil, st.Err()
	}
	ctx = WithPrincipal(ctx, p)
	if !rule.Audit {
		return ctx, nil, nil
	}
	return db.WithAudit(ctx, rec), rec, nil
}

// finish records the outcome of an audited call that no transaction
// recorded (reads, failures).
func (l *Layer) finish(ctx context.Context, rec *db.AuditRecord, err error) {
	if rec == nil || rec.Written {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
		if c := codeOf(err); c == codes.NotFound || c == codes.PermissionDenied {
			outcome = "denied"
		}
	}
	l.write(ctx, rec, outcome, codeOf(err).String())
}

func (l *Layer) deny(ctx context.Context, rec *db.AuditRecord, err error) {
	l.write(ctx, rec, "denied", codeOf(err).String())
}

func (l *Layer) write(ctx context.Context, rec *db.AuditRecord, outcome, code string) {
	// The audit must land even if the caller has gone away.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := db.InsertAudit(wctx, l.pool, rec, outcome, code); err != nil {
		l.log.Error("audit event lost", "method", rec.Method, "principal", rec.Principal, "err", err)
		return
	}
	rec.Written = true
}

func codeOf(err error) codes.Code {
	st, _ := apierr.ToStatus(err)
	return st.Code()
}

// authenticate returns the caller, nil for anonymous, or an error for bad
// credentials (which are never silently treated as anonymous).
func (l *Layer) authenticate(ctx context.Context, rec *db.AuditRecord) (*Principal, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return nil, nil
	}
	if len(vals) > 1 {
		return nil, errBadCredential
	}
	scheme, cred, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || cred == "" {
		return nil, errBadCredential
	}
	cred = strings.TrimSpace(cred)
	if strings.HasPrefix(cred, keyScheme) {
		return l.authenticateKey(ctx, cred, rec)
	}
	if l.cfg.OIDC == nil {
		return nil, errBadCredential
	}
	p, err := l.cfg.OIDC.Verify(ctx, cred)
	if err != nil {
		l.log.Info("token rejected", "err", err)
		return nil, errBadCredential
	}
	rec.Principal = p.Name
	var active bool
	err = l.pool.QueryRow(ctx, `SELECT status = 'active' FROM organisations WHERE id = $1`, p.Org).Scan(&active)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !active) {
		l.log.Info("token rejected: organisation unknown or not active", "org", p.Org)
		return nil, errBadCredential
	}
	if err != nil {
		return nil, fmt.Errorf("checking token organisation: %w", err)
	}
	return p, nil
}

func (l *Layer) authenticateKey(ctx context.Context, key string, rec *db.AuditRecord) (*Principal, error) {
	prefix, hash, err := ParseKey(key)
	if err != nil {
		return nil, errBadCredential
	}
	rec.Principal = "key:" + prefix
	k, ok, gen := l.cache.get(prefix)
	if !ok {
		if k, err = l.lookupKey(ctx, prefix); err != nil {
			return nil, err
		}
		l.cache.put(prefix, k, gen)
	}
	// A prefix names one secret for good, so a mismatch is a wrong key
	// whether or not the entry was cached.
	if subtle.ConstantTimeCompare(k.hash, hash) != 1 {
		return nil, errBadCredential
	}
	// Record use at most once a minute: a write per request would cost more
	// than the lookup itself. Through sparc_key_used, as no identity is set
	// yet for row-level security.
	if now := time.Now(); now.Sub(k.lastUsed) > time.Minute {
		if _, err := l.pool.Exec(ctx, `SELECT sparc_key_used($1)`, k.p.KeyID); err != nil {
			l.log.Warn("recording key use", "err", err)
		} else {
			l.cache.touched(prefix, now)
		}
	}
	p := k.p
	return &p, nil
}

// lookupKey reads a key that is usable now: known, not revoked, of an
// active organisation. No identity is set yet, so row-level security on
// api_keys would hide every key: sparc_key_lookup (migration 0041) reads
// the one row by prefix as the owner.
func (l *Layer) lookupKey(ctx context.Context, prefix string) (cachedKey, error) {
	var (
		k                 cachedKey
		orgStatus         string
		revoked, lastUsed *time.Time
	)
	err := l.pool.QueryRow(ctx, `
		SELECT id::text, organisation_id::text, role, secret_sha256, revoked_at, last_used_at, org_status
		FROM sparc_key_lookup($1)`, prefix).Scan(&k.p.KeyID, &k.p.Org, &k.p.Role, &k.hash, &revoked, &lastUsed, &orgStatus)
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

func requestIDFrom(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-request-id"); len(v) == 1 && len(v[0]) > 0 && len(v[0]) <= 64 {
		return v[0]
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// peerFrom prefers the client address the HTTP gateway forwards.
func peerFrom(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-forwarded-for"); len(v) > 0 && v[0] != "" {
		return strings.TrimSpace(strings.Split(v[0], ",")[0])
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

// resourceFor names what a call addresses, e.g. "assets/<id>", or the
// collection ("assets") for calls without an id.
func resourceFor(method string, req any) string {
	svc := method
	if i := strings.LastIndex(method, "/"); i > 0 {
		svc = method[:i]
	}
	svc = svc[strings.LastIndex(svc, ".")+1:]
	svc = strings.TrimSuffix(svc, "Service")
	if svc == "" {
		return ""
	}
	coll := strings.ToLower(svc[:1]) + svc[1:] + "s"
	if id := resourceName(req); id != "" {
		return coll + "/" + strings.TrimPrefix(id, coll+"/")
	}
	return coll
}
