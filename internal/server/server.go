// Package server runs SPARC's gRPC server and its HTTP/JSON gateway: one
// place that registers every service, maps handler errors to gRPC status
// (via apierr), logs each request with its latency and status, serves
// health, readiness and the OpenAPI document, and shuts down gracefully.
// Its edge (edge.go) bounds what one client can hold and decides who the
// client is.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sparc-network/sparc/gen/openapi"
	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/httproute"
	"github.com/sparc-network/sparc/internal/jsonfast"
)

// Services are the API implementations to serve. Every domain adds its
// service here and registers it in register (gRPC) and gateway (HTTP).
type Services struct {
	Assets        sparcv1.AssetServiceServer
	Organisations sparcv1.OrganisationServiceServer
	APIKeys       sparcv1.ApiKeyServiceServer
	Audit         sparcv1.AuditServiceServer
	// DirectoryImport upserts assets read from other directories (ORUK).
	DirectoryImport sparcv1.DirectoryImportServiceServer
	// Areas and Coverage serve neighbourhood coverage maps.
	Areas    sparcv1.AreaServiceServer
	Coverage sparcv1.CoverageServiceServer
	// People and Referrals close the loop from link worker to group.
	People    sparcv1.PersonServiceServer
	Referrals sparcv1.ReferralServiceServer
	// Webhooks push referral changes to an organisation's endpoints.
	Webhooks sparcv1.WebhookServiceServer
	// Notifications: an organisation's email notification settings.
	Notifications sparcv1.NotificationServiceServer
	// Postcodes places British and Dutch postcodes (open data).
	Postcodes sparcv1.PostcodeServiceServer
	// Analytics: the referral network and outcome evidence, for admins
	// and area analysts (relational analytics, issue 19).
	Analytics sparcv1.AnalyticsServiceServer

	// Auth is the authorisation layer, run inside the error-mapping and
	// logging interceptors so its refusals are reported like any error.
	Auth Interceptor
}

// Interceptor is the one guard: every gRPC call (and so every gateway
// call) and every plain HTTP route passes it, under one access policy.
type Interceptor interface {
	Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error)
	Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error
	// GuardHTTP guards a plain HTTP route, which no gRPC interceptor
	// sees, as the interceptors guard a method: route (the pattern) is its
	// key in the policy. A refused call is written by refuse, with the
	// error saying why, and never reaches next.
	GuardHTTP(route string, next http.Handler, refuse func(http.ResponseWriter, *http.Request, error)) http.Handler
	// Flush writes what the layer still holds (summed audit events); called
	// at shutdown after the last call.
	Flush(ctx context.Context)
}

// register adds every service to the gRPC server.
func (svc Services) register(g *grpc.Server) {
	sparcv1.RegisterAssetServiceServer(g, svc.Assets)
	sparcv1.RegisterOrganisationServiceServer(g, svc.Organisations)
	sparcv1.RegisterApiKeyServiceServer(g, svc.APIKeys)
	sparcv1.RegisterAuditServiceServer(g, svc.Audit)
	sparcv1.RegisterDirectoryImportServiceServer(g, svc.DirectoryImport)
	sparcv1.RegisterAreaServiceServer(g, svc.Areas)
	sparcv1.RegisterCoverageServiceServer(g, svc.Coverage)
	sparcv1.RegisterPersonServiceServer(g, svc.People)
	sparcv1.RegisterReferralServiceServer(g, svc.Referrals)
	sparcv1.RegisterWebhookServiceServer(g, svc.Webhooks)
	sparcv1.RegisterNotificationServiceServer(g, svc.Notifications)
	sparcv1.RegisterPostcodeServiceServer(g, svc.Postcodes)
	sparcv1.RegisterAnalyticsServiceServer(g, svc.Analytics)
}

// gateway adds every service's HTTP/JSON routes.
func (svc Services) gateway(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
	for _, reg := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		sparcv1.RegisterAssetServiceHandler,
		sparcv1.RegisterOrganisationServiceHandler,
		sparcv1.RegisterApiKeyServiceHandler,
		sparcv1.RegisterAuditServiceHandler,
		sparcv1.RegisterDirectoryImportServiceHandler,
		sparcv1.RegisterAreaServiceHandler,
		sparcv1.RegisterCoverageServiceHandler,
		sparcv1.RegisterPersonServiceHandler,
		sparcv1.RegisterReferralServiceHandler,
		sparcv1.RegisterWebhookServiceHandler,
		sparcv1.RegisterNotificationServiceHandler,
		sparcv1.RegisterPostcodeServiceHandler,
		sparcv1.RegisterAnalyticsServiceHandler,
	} {
		if err := reg(ctx, mux, conn); err != nil {
			return err
		}
	}
	return nil
}

// Route is a plain HTTP route served beside the gateway. Domains declare
// theirs in internal/httproute, which knows no transport.
type Route = httproute.Route

// Config says where to listen.
type Config struct {
	GRPCAddr        string
	HTTPAddr        string
	ShutdownTimeout time.Duration // bound on finishing in-flight calls
	MaxRequestBytes int64
	Logger          *slog.Logger
	Routes          []Route
	TLS             TLSFiles // both ports; empty for plaintext
	// Edge: timeouts, header and connection limits, trusted proxies.
	Edge Edge
	// Health, when set, decides liveness: /healthz answers 503 while it
	// fails (e.g. the embedded database cannot be restarted), so that a
	// process manager restarts sparcd.
	Health func(context.Context) error
	// Hooks: metrics and traces (internal/telemetry); zero: none.
	Hooks Hooks
}

// Server is a running pair of gRPC and HTTP listeners.
type Server struct {
	cfg        Config
	log        *slog.Logger
	pool       *pgxpool.Pool
	grpc       *grpc.Server
	health     *health.Server
	http       *http.Server
	grpcLis    net.Listener
	httpLis    net.Listener
	loopback   *grpc.ClientConn
	gwLis      *gatewayListener
	auth       Interceptor
	refusedLog throttle
}

// New listens on both addresses (":0" picks a free port) and wires the
// services; call Serve to start answering, or Close to give the listeners
// back without serving.
func New(ctx context.Context, cfg Config, pool *pgxpool.Pool, svc Services) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler) // never the process default: it ignores --log-format
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 20 * time.Second
	}
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = 4 << 20
	}
	cfg.Edge = cfg.Edge.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, pool: pool, auth: svc.Auth}
	tr, err := newTransport(cfg.TLS, cfg.Logger)
	if err != nil {
		return nil, err
	}
	if svc.Auth == nil {
		return nil, errors.New("server: no authorisation layer configured (refusing to serve without one)")
	}
	s.gwLis = tr.gateway
	if s.grpcLis, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return nil, fmt.Errorf("listening for gRPC on %s: %w", cfg.GRPCAddr, err)
	}
	if s.httpLis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		s.grpcLis.Close()
		return nil, fmt.Errorf("listening for HTTP on %s: %w", cfg.HTTPAddr, err)
	}
	s.grpcLis, s.httpLis = s.limitConns(s.grpcLis), s.limitConns(s.httpLis)

	hk := cfg.Hooks
	s.grpc = grpc.NewServer(append(append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(slices.Concat(hk.Unary, []grpc.UnaryServerInterceptor{s.unaryInterceptor, checkUnary, svc.Auth.Unary}, hk.InnerUnary)...),
		grpc.ChainStreamInterceptor(slices.Concat(hk.Stream, []grpc.StreamServerInterceptor{s.streamInterceptor, checkStream, svc.Auth.Stream}, hk.InnerStream)...),
		grpc.ForceServerCodecV2(newInputCodec()),
		grpc.MaxRecvMsgSize(int(cfg.MaxRequestBytes)),
		tr.grpcCreds,
	}, s.grpcEdgeOptions()...), hk.ServerOptions...)...)
	svc.register(s.grpc)
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	if hk.Registered != nil {
		hk.Registered(s.grpc)
	}

	// The gateway calls the gRPC server over an in-process connection so
	// that HTTP requests pass through the same interceptors (errors,
	// logging, auth) without a network hop TLS would have to cover.
	//
	// It takes the server's answers whole. A national referral network
	// is tens of megabytes, past gRPC's default 4 MB for a received
	// message, which the gateway would report as RESOURCE_EXHAUSTED (HTTP
	// 429: "try again later", for a question that never fits). The
	// answers are the server's own, sized by what it builds, so the bound
	// here is only a backstop.
	s.loopback, err = grpc.NewClient(tr.target, append(append(slices.Clip(tr.dial),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(gatewayMaxAnswer))), hk.DialOptions...)...)
	if err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("dialling gRPC loopback: %w", err)
	}
	handler, err := s.httpHandler(ctx, svc)
	if err != nil {
		s.Close()
		return nil, err
	}
	// No server-wide ReadTimeout or WriteTimeout: edgeHTTP sets them per
	// request, so that streams can lift them.
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.Edge.ReadHeaderTimeout,
		IdleTimeout:       cfg.Edge.IdleTimeout,
		MaxHeaderBytes:    cfg.Edge.MaxHeaderBytes,
		TLSConfig:         tr.httpTLS,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn), // TLS handshake failures, with the other logs
	}
	return s, nil
}

// gatewayMaxAnswer is the largest answer the gateway takes from the
// gRPC server: eight times a national year's referral network (34 MB).
const gatewayMaxAnswer = 256 << 20

// httpHandler is the HTTP port: the gateway, the probes and the plain
// routes behind the edge (logging, who the caller is, time and size
// bounds, input checks). Every route but the probes passes the guard:
// gateway routes on the gRPC side, plain routes here.
func (s *Server) httpHandler(ctx context.Context, svc Services) (http.Handler, error) {
	cfg := s.cfg
	mux := http.NewServeMux()
	input := newInputGuard(mux, cfg.Routes)
	gw := runtime.NewServeMux(
		runtime.WithErrorHandler(s.httpError), runtime.WithRoutingErrorHandler(input.routingError),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithMetadata(gatewayMetadata),
		runtime.WithMiddlewares(s.streamDeadlines(streamRoutes(s.grpc))),
		// A unary answer is marshalled whole before it is written, so its
		// length is known: with Content-Length net/http writes it in one
		// go instead of chunked (a chunk header, the body, then the last
		// chunk in its own write). Nothing between the gateway and the
		// connection rewrites the body (no compression on this path).
		runtime.WithWriteContentLength(),
		// Searches, listings, assets, the vocabulary and postcodes are
		// written by jsonfast (the same bytes, without protojson's
		// reflection); the rest by JSONPb.
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
			Marshaler: jsonfast.NewMarshaler(&runtime.JSONPb{
				MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
				UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
			}),
		}),
	)
	if err := svc.gateway(ctx, gw, s.loopback); err != nil {
		return nil, fmt.Errorf("registering gateway: %w", err)
	}
	mux.Handle("/", gw)
	// Health probes are not guarded: they come from the orchestrator, and
	// a refused probe would restart a healthy server.
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.ready)
	plain := append([]Route{{Pattern: openAPIRoute, Handler: http.HandlerFunc(serveOpenAPI)}}, cfg.Routes...)
	for _, r := range plain {
		mux.Handle(r.Pattern, s.auth.GuardHTTP(r.Pattern, r.Handler, s.refuseHTTP))
	}
	return cfg.Hooks.WrapHTTP(s.logHTTP(s.edgeHTTP(limitBodies(input, cfg.MaxRequestBytes)))), nil
}

// openAPIRoute serves the API's OpenAPI document; its key in the policy.
const openAPIRoute = "GET /openapi.json"

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openapi.JSON)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	if s.cfg.Health != nil {
		if err := s.cfg.Health(r.Context()); err != nil {
			s.log.Error("liveness check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("unhealthy\n"))
			return
		}
	}
	_, _ = w.Write([]byte("ok\n"))
}

// GRPCAddr is the address the gRPC server listens on.
func (s *Server) GRPCAddr() string { return s.grpcLis.Addr().String() }

// HTTPAddr is the address the HTTP gateway listens on.
func (s *Server) HTTPAddr() string { return s.httpLis.Addr().String() }

// Serve answers requests until ctx is cancelled, then shuts down: it stops
// accepting, lets in-flight calls finish within ShutdownTimeout, and
// returns. Closing the pool is the caller's job, after Serve returns.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 3)
	go func() { errc <- s.grpc.Serve(s.grpcLis) }()
	go func() { errc <- s.grpc.Serve(s.gwLis) }()
	go func() {
		if err := s.serveHTTP(); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.shutdown()
	return serveErr
}

func (s *Server) shutdown() {
	s.log.Info("shutting down: finishing in-flight requests", "timeout", s.cfg.ShutdownTimeout)
	s.health.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	// HTTP first: its in-flight requests still need the gRPC server.
	if err := s.http.Shutdown(ctx); err != nil {
		s.log.Warn("HTTP shutdown incomplete", "err", err)
	}
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("gRPC calls still running at shutdown timeout; stopping them")
		s.grpc.Stop()
	}
	_ = s.loopback.Close()
	fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer fcancel()
	s.auth.Flush(fctx)
}

func (s *Server) closeListeners() {
	s.grpcLis.Close()
	s.httpLis.Close()
}

// Close gives back the listeners and the gateway's connection of a
// server that will not serve (Serve releases them itself at shutdown).
func (s *Server) Close() {
	s.closeListeners()
	_ = s.loopback.Close()
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain")
	if err := s.pool.Ping(ctx); err != nil {
		s.log.Warn("readiness: database unreachable", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database unreachable\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// finish maps a handler's error to the status sent to the caller and logs
// the call; unexpected errors are logged in full but answered generically.
func (s *Server) finish(ctx context.Context, method string, start time.Time, err error, panicked any) error {
	if panicked != nil {
		s.log.Error("panic in handler", "method", method, "panic", panicked, "stack", string(debug.Stack()))
		err = status.Error(codes.Internal, "internal error")
	}
	st, unexpected := apierr.ToStatus(err)
	st = apierr.EnsureReason(boundStatus(st))
	if s.cfg.Hooks.Refused != nil {
		s.cfg.Hooks.Refused(st)
	}
	attrs := []any{"method", method, "code", st.Code().String(), "latency", time.Since(start)}
	switch {
	case unexpected:
		s.log.ErrorContext(ctx, "rpc failed", append(attrs, "err", err)...)
	case s.log.Enabled(ctx, slog.LevelInfo):
		s.log.InfoContext(ctx, "rpc", attrs...)
	}
	if err == nil {
		return nil
	}
	return st.Err()
}

func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	ctx = s.grpcCaller(ctx)
	defer func() {
		p := recover()
		err = s.finish(ctx, info.FullMethod, start, err, p)
		if err != nil {
			resp = nil
		}
	}()
	return h(ctx, req)
}

func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	start := time.Now()
	ss = &callerStream{ServerStream: ss, ctx: s.grpcCaller(ss.Context())}
	defer func() {
		p := recover()
		err = s.finish(ss.Context(), info.FullMethod, start, err, p)
	}()
	return h(srv, ss)
}

type callerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (c *callerStream) Context() context.Context { return c.ctx }

// incomingHeader forwards the gateway's defaults (which include
// Authorization), but never a client's say on who it is: the request id
// and client address reach gRPC from gatewayMetadata, decided at the edge.
func incomingHeader(key string) (string, bool) {
	h, ok := runtime.DefaultHeaderMatcher(key)
	switch strings.ToLower(h) {
	case "x-request-id", gatewayClientKey, "x-forwarded-for":
		return "", false
	}
	return h, ok
}

// outgoingHeader drops x-request-id: edgeHTTP has already set the header
// to the same id.
func outgoingHeader(key string) (string, bool) {
	if key == "x-request-id" {
		return "", false
	}
	return runtime.MetadataHeaderPrefix + key, true
}

func (s *Server) logHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := httproute.NewRecorder(w)
		next.ServeHTTP(rec, r)
		if s.log.Enabled(r.Context(), slog.LevelInfo) {
			s.log.InfoContext(r.Context(), "http", "method", r.Method, "path", r.URL.Path,
				"status", rec.Status, "latency", time.Since(start))
		}
	})
}
