// Package auth is SPARC's one authorisation layer. A gRPC interceptor (which
// also guards the HTTP gateway, as the gateway calls gRPC) authenticates
// the caller from an API key or an identity-provider token, applies the
// per-method Policy, rate-limits each key (and, per client address,
// anonymous calls and calls with bad credentials), caps each key's open
// streams, audits every call that touches non-public data and every denial
// (denials summed per minute), and hands the caller's organisation and
// role to the database transaction for row-level security (the second
// wall). Services ask Principal.CanWriteOwnedBy for row-level decisions.
//
// Audit events go to an AuditLog (internal/audit's store, the only writer
// of the trail). An audited call's event rides with the first transaction
// its handler commits (a db.Rider, in the round trip that begins it), so a
// change and its event commit together; when none commits (a read, a
// failure) the layer writes the outcome afterwards, once.
//
// API keys live in KeyStore (keystore.go), the only code touching
// api_keys; KeyService (keyservice.go) is their gRPC API.
//
// The client address and request id come from internal/caller, decided by
// the server at the edge; the layer never reads them from request metadata.
package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/caller"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/httproute"
)

// Principal is an authenticated caller.
type Principal struct {
	Name  string // "key:<prefix>" or "oidc:<subject>"
	KeyID string // API key id, empty for tokens
	Org   string // organisation UUID
	Role  string
	// DisplayName is the named user or purpose inside the organisation
	// ("Amira Khan, Ladywood PCN"): the key's display name, or a token's
	// name claim. People read it; Name stays the stable identifier.
	DisplayName string
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
	// Anonymous limits calls without credentials, FailedAuth calls whose
	// credentials are not valid, per client address (an IPv6 client's
	// /64). Zero: not limited (sparcd always sets both).
	Anonymous, FailedAuth Limit
	// MaxStreams caps the server streams (WatchReferrals) one key, or one
	// anonymous client address, holds open at once. Zero:
	// DefaultMaxStreams; negative: no cap.
	MaxStreams int
	// DeniedWindow is how long denied calls of one kind are summed into
	// one audit event. Zero: DefaultDeniedWindow (a minute).
	DeniedWindow time.Duration
	// Audit stores the audit trail (internal/audit's Store). Required.
	Audit AuditLog
	OIDC  TokenVerifier
	// Orgs answers whether a token's organisation may act
	// (internal/orgs's Store, the owner of the organisations table).
	// Required with OIDC: a key's organisation is checked when the key is
	// looked up, a token's only here.
	Orgs   OrgDirectory
	Logger *slog.Logger
}

// OrgDirectory is what the access layer asks of organisations.
type OrgDirectory interface {
	// Active reports whether organisation id exists and is active.
	Active(ctx context.Context, id string) (bool, error)
}

// Layer is the authorisation layer.
type Layer struct {
	pool    *pgxpool.Pool
	keys    *KeyStore
	audit   AuditLog
	cfg     Config
	limiter *limiter // per key
	anon    *limiter // per client address, calls without credentials
	failed  *limiter // per client address, calls with bad credentials
	streams *streamCounter
	denied  *deniedLog
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
	if !cfg.Anonymous.valid() || !cfg.FailedAuth.valid() {
		return nil, errors.New("auth: anonymous and failed-authentication limits need a positive rate and burst (or neither)")
	}
	if cfg.Audit == nil {
		return nil, errors.New("auth: no audit log to write to")
	}
	if cfg.OIDC != nil && cfg.Orgs == nil {
		return nil, errors.New("auth: OIDC needs the organisation directory to check a token's organisation")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler) // never the process default: it ignores --log-format
	}
	if cfg.MaxStreams == 0 {
		cfg.MaxStreams = DefaultMaxStreams
	}
	if cfg.DeniedWindow <= 0 {
		cfg.DeniedWindow = DefaultDeniedWindow
	}
	return &Layer{pool: pool, keys: NewKeyStore(pool), audit: cfg.Audit, cfg: cfg, limiter: newLimiter(cfg.RatePerSecond, cfg.Burst, time.Now),
		anon: limiterFor(cfg.Anonymous, time.Now), failed: limiterFor(cfg.FailedAuth, time.Now),
		streams: newStreamCounter(cfg.MaxStreams), denied: newDeniedLog(cfg.Audit, cfg.Logger, cfg.DeniedWindow),
		policy: maps.Clone(Policy), log: cfg.Logger, cache: newKeyCache()}, nil
}

// Flush writes the denied calls still being summed. The server calls it
// at shutdown, after the last call.
func (l *Layer) Flush(ctx context.Context) { l.denied.flush(ctx) }

var (
	errNoCredentials = apierr.Error(codes.Unauthenticated, "CREDENTIALS_MISSING", "this call needs an API key: send 'authorization: Bearer <key>'")
	errBadCredential = apierr.Error(codes.Unauthenticated, "CREDENTIALS_INVALID", "API key or token is not valid (malformed, unknown, revoked, or its organisation is suspended)")
)

// Unary is the gRPC unary interceptor.
func (l *Layer) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, call, err := l.admit(ctx, info.FullMethod, req)
	if err != nil {
		return nil, err
	}
	resp, err := h(ctx, req)
	l.finish(ctx, call, err)
	if err == nil && l.policy[info.FullMethod].Credentials {
		// Before the caller hears of the change, so its next call here
		// cannot use what it revoked; other servers hear by notification.
		l.cache.drop()
	}
	return resp, err
}

// Stream is the gRPC stream interceptor. Server streams (watches) also
// take one of the caller's stream slots for as long as they stay open.
func (l *Layer) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, call, err := l.admit(ss.Context(), info.FullMethod, nil)
	if err != nil {
		return err
	}
	if info.IsServerStream {
		slot := streamSlot(ctx)
		if !l.streams.acquire(slot) {
			err := apierr.Error(codes.ResourceExhausted, "TOO_MANY_STREAMS", fmt.Sprintf("this caller already has %d streams open, the most allowed; close one first", l.cfg.MaxStreams))
			var rec *AuditEvent
			if call != nil {
				rec = &call.ev
			} else {
				rec = l.record(ctx, info.FullMethod, nil)
				if p := FromContext(ctx); p != nil {
					rec.Principal, rec.Org, rec.Role, rec.DisplayName = p.Name, p.Org, p.Role, p.DisplayName
				}
			}
			l.deny(ctx, rec, err)
			return err
		}
		defer l.streams.release(slot)
		// Headers at once: the client (and the gateway, which waits for
		// them) learns that the stream is open before its first message.
		_ = ss.SendHeader(nil)
	}
	err = h(srv, &wrappedStream{ServerStream: ss, ctx: ctx})
	l.finish(ctx, call, err)
	return err
}

// streamSlot names whose stream slots a call uses: its key (or token
// subject), or its client address when anonymous.
func streamSlot(ctx context.Context) string {
	if p := FromContext(ctx); p != nil {
		return p.Name
	}
	return "addr:" + caller.LimitKey(callerOf(ctx).Addr)
}

type wrappedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (w *wrappedStream) Context() context.Context { return w.ctx }

// admit authenticates and authorises one call. It returns the context the
// handler runs with and the call's pending audit event (nil when not
// audited).
// Every call spends a token: a key's own bucket, or, without a valid key,
// its client address's bucket for anonymous calls or for bad credentials,
// so neither anonymous floods nor key guessing reach the database at will.
func (l *Layer) admit(ctx context.Context, method string, req any) (context.Context, *auditCall, error) {
	c := callerOf(ctx)
	ctx = caller.With(ctx, c)
	addrKey := caller.LimitKey(c.Addr)
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-request-id", c.RequestID))
	rule, known := l.policy[method]
	rec := l.record(ctx, method, req)
	if !known {
		err := apierr.Error(codes.PermissionDenied, "METHOD_NOT_IN_POLICY", fmt.Sprintf("method %s is not covered by the access policy", method))
		l.deny(ctx, rec, err)
		return nil, nil, err
	}
	// An address that has used up its bad-credential budget gets no
	// database lookups of keys this server has not verified already.
	p, err := l.authenticate(ctx, rec, func() bool { return l.failed.wait(addrKey) == 0 })
	if err != nil {
		switch {
		case errors.Is(err, errLookupRefused):
			err = tooMany(l.failed.wait(addrKey), "too many calls with API keys or tokens that are not valid from this address")
		case errors.Is(err, errBadCredential):
			if wait, ok := l.failed.take(addrKey); !ok {
				err = tooMany(wait, "too many calls with API keys or tokens that are not valid from this address")
			}
		}
		l.deny(ctx, rec, err)
		return nil, nil, err
	}
	if p == nil {
		if wait, ok := l.anon.take(addrKey); !ok {
			err := tooMany(wait, "too many calls without an API key from this address")
			l.deny(ctx, rec, err)
			return nil, nil, err
		}
		if !rule.Public {
			l.deny(ctx, rec, errNoCredentials)
			return nil, nil, errNoCredentials
		}
		return ctx, nil, nil
	}
	rec.Principal, rec.Org, rec.Role, rec.DisplayName = p.Name, p.Org, p.Role, p.DisplayName
	// Refused calls spend the key's tokens too: a key probing methods it
	// may not call is held to the same rate as any other.
	if wait, ok := l.limiter.take(p.Name); !ok {
		err := tooMany(wait, fmt.Sprintf("rate limit of %.0f requests/s (burst %d) exceeded for this key", l.cfg.RatePerSecond, l.cfg.Burst))
		l.deny(ctx, rec, err)
		return nil, nil, err
	}
	if !rule.allows(p.Role) {
		var err error
		switch id := resourceName(req); {
		case rule.Resource != "" && strings.Contains(id, "/"):
			// A resource name names itself, as the services' own
			// not-found errors do.
			err = fmt.Errorf("%s: %w", id, apierr.ErrNotFound)
		case rule.Resource != "" && id != "":
			err = fmt.Errorf("%s %s: %w", rule.Resource, id, apierr.ErrNotFound)
		default:
			err = apierr.Error(codes.PermissionDenied, "ROLE_NOT_PERMITTED", fmt.Sprintf("the %s role may not call %s", p.Role, method[strings.LastIndex(method, "/")+1:]))
		}
		l.deny(ctx, rec, err)
		return nil, nil, err
	}
	ctx = WithPrincipal(ctx, p)
	if !rule.Audit {
		return ctx, nil, nil
	}
	ctx, call := l.pending(ctx, rec)
	return ctx, call, nil
}

// tooMany is RESOURCE_EXHAUSTED with the wait (RetryInfo, which the
// gateway turns into Retry-After).
func tooMany(wait time.Duration, what string) error {
	st := status.New(codes.ResourceExhausted, fmt.Sprintf("%s; retry after %s", what, wait.Round(time.Millisecond)))
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); err == nil {
		st = d
	}
	return apierr.WithReason(st, "RATE_LIMITED", nil).Err()
}

// GuardHTTP guards a plain HTTP route (Open Referral, coverage downloads,
// tiles), which reaches no gRPC interceptor, with the same admit as every
// method: route (its pattern) is its key in the policy, and a route
// missing there is refused; the Authorization header is the call's
// credentials; the caller's key, or its client address, spends the same
// budgets; refusals, and every call of an audited route, are audited with
// the edge's request id (ctx carries its caller.Info). A refused call
// is handed to refuse and never reaches next.
func (l *Layer) GuardHTTP(route string, next http.Handler, refuse func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		md := metadata.MD{}
		if v := r.Header.Values("Authorization"); len(v) > 0 {
			md["authorization"] = v
		}
		ctx, rec, err := l.admit(metadata.NewIncomingContext(r.Context(), md), route, r)
		if err != nil {
			refuse(w, r, err)
			return
		}
		if rec == nil {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		sw := httproute.NewRecorder(w)
		next.ServeHTTP(sw, r.WithContext(ctx))
		l.finish(ctx, rec, httpError(sw.Status))
	})
}

// httpCodes are the gRPC codes the gateway answers with each HTTP status.
var httpCodes = map[int]codes.Code{
	http.StatusBadRequest: codes.InvalidArgument, http.StatusUnauthorized: codes.Unauthenticated,
	http.StatusForbidden: codes.PermissionDenied, http.StatusNotFound: codes.NotFound,
	http.StatusConflict: codes.Aborted, http.StatusPreconditionFailed: codes.FailedPrecondition,
	http.StatusTooManyRequests: codes.ResourceExhausted, http.StatusServiceUnavailable: codes.Unavailable,
	http.StatusGatewayTimeout: codes.DeadlineExceeded,
}

// httpError is the outcome of a plain route's answer as the audit records
// a method's: nil for success, else a status of the gRPC code the gateway
// answers with that HTTP status (Unknown for the others).
func httpError(code int) error {
	if code < 400 {
		return nil
	}
	c, ok := httpCodes[code]
	if !ok {
		c = codes.Unknown
	}
	return status.Error(c, http.StatusText(code))
}

func codeOf(err error) codes.Code {
	st, _ := apierr.ToStatus(err)
	return st.Code()
}

// errLookupRefused: the key is not in the cache and the caller's address
// may not make the server look keys up for now.
var errLookupRefused = errors.New("key lookup refused: too many bad credentials from this address")

// authenticate returns the caller, nil for anonymous, or an error for bad
// credentials (which are never silently treated as anonymous). When
// mayLookup says no, only keys verified before (cached) are accepted.
func (l *Layer) authenticate(ctx context.Context, rec *AuditEvent, mayLookup func() bool) (*Principal, error) {
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
		return l.authenticateKey(ctx, cred, rec, mayLookup)
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
	active, err := l.cfg.Orgs.Active(ctx, p.Org)
	if err != nil {
		return nil, fmt.Errorf("checking token organisation: %w", err)
	}
	if !active {
		l.log.Info("token rejected: organisation unknown or not active", "org", p.Org)
		return nil, errBadCredential
	}
	return p, nil
}

func (l *Layer) authenticateKey(ctx context.Context, key string, rec *AuditEvent, mayLookup func() bool) (*Principal, error) {
	prefix, hash, err := ParseKey(key)
	if err != nil {
		return nil, errBadCredential
	}
	rec.Principal = "key:" + prefix
	k, ok, gen := l.cache.get(prefix)
	if !ok && !mayLookup() {
		return nil, errLookupRefused
	}
	if !ok {
		if k, err = l.keys.lookup(ctx, prefix); err != nil {
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
	// than the lookup itself.
	if now := time.Now(); now.Sub(k.lastUsed) > time.Minute {
		if err := l.keys.used(ctx, k.p.KeyID); err != nil {
			l.log.Warn("recording key use", "err", err)
		} else {
			l.cache.touched(prefix, now)
		}
	}
	p := k.p
	return &p, nil
}

func addrString(c caller.Info) string {
	if !c.Addr.IsValid() {
		return ""
	}
	return c.Addr.String()
}

// callerOf returns the edge's decision about the caller (client address
// through trusted proxies, request id). Without one (the layer serving
// outside internal/server) it is the connection's own address and a fresh
// id: X-Forwarded-For and X-Request-Id metadata are never believed here.
func callerOf(ctx context.Context) caller.Info {
	if c, ok := caller.From(ctx); ok && c.Addr.IsValid() && c.RequestID != "" {
		return c
	}
	var c caller.Info
	if p, ok := peer.FromContext(ctx); ok {
		c.Addr = caller.AddrOf(p.Addr)
	}
	c.RequestID = caller.NewRequestID()
	return c
}

// resourceFor names what a call addresses, e.g. "assets/<id>", or the
// collection ("assets") for calls without an id; for a plain route, the
// path it was called on.
func resourceFor(method string, req any) string {
	if r, ok := req.(*http.Request); ok { // a plain route: its path
		return strings.TrimPrefix(r.URL.Path, "/")
	}
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

// NetworkContext returns ctx acting as the network admin named name, for
// trusted tasks without a request (bootstrap, demo loading) that create
// organisations, issue keys or load shared geographies.
func NetworkContext(ctx context.Context, name string) context.Context {
	return WithPrincipal(ctx, &Principal{Name: name, Role: RoleNetworkAdmin})
}
