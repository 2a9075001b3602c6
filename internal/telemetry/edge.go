package telemetry

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// The spans of the two ports are made here rather than by the
// contributed otelhttp and otelgrpc instrumentations. Both do their
// per-request work whether or not the request is sampled: otelhttp builds
// the request's attributes and a metric attribute set (for a meter that,
// here, records nothing: Prometheus counts requests) and wraps the
// response writer; otelgrpc parses the method, builds attribute lists and
// looks its context up on every stats event. BenchmarkHTTPSpanCost and
// BenchmarkGRPCSpanCost measure the difference: at sparcd's default of
// one request in ten sampled, that unsampled work was most of what
// tracing cost a search (docs/operations.md, "Cost"). Here a request that
// is not sampled costs the sampler's decision and a context value; a
// sampled one gets the same span names and semantic-convention
// attributes as the instrumentations gave.

// tracerName is the instrumentation scope of SPARC's own spans.
const tracerName = "github.com/sparc-network/sparc/internal/telemetry"

// Bounds on what a client sends that lands on a span: a span is kept
// small whatever the request says, and an export batch never fails on
// invalid UTF-8 (protobuf refuses it).
const (
	maxPathAttr      = 512
	maxUserAgentAttr = 256
)

// clean is s made safe for a span attribute: at most max bytes, valid
// UTF-8 (a rune cut by the limit becomes U+FFFD).
func clean(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// httpSpanNames are the HTTP spans' names by method ("HTTP GET"), made
// once; any other method is "HTTP" (a client chooses the method, and a
// span name is not the place for what it typed).
var httpSpanNames = map[string]string{}

func init() {
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		httpSpanNames[m] = "HTTP " + m
	}
}

var httpStart = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithNewRoot()}

// link is the client's own trace context from carrier, if it sent one:
// the API is public, so a client's context starts no trace of ours and
// decides no sampling (it would let anyone have every call traced); the
// span links to it instead.
func (t *Tracing) link(ctx context.Context, carrier propagation.TextMapCarrier) (trace.Link, bool) {
	if carrier.Get("traceparent") == "" {
		return trace.Link{}, false
	}
	sc := trace.SpanContextFromContext(t.prop.Extract(ctx, carrier))
	return trace.Link{SpanContext: sc}, sc.IsValid()
}

// httpSpans is the HTTP port's span: one per request, a new root, named
// "HTTP <method>", with the request id the edge answered with.
func (t *Tracing) httpSpans(next http.Handler) http.Handler {
	tracer := t.tp.Tracer(tracerName)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		opts := httpStart
		if l, ok := t.link(r.Context(), propagation.HeaderCarrier(r.Header)); ok {
			opts = append(opts[:len(opts):len(opts)], trace.WithLinks(l))
		}
		name, ok := httpSpanNames[r.Method]
		if !ok {
			name = "HTTP"
		}
		ctx, span := tracer.Start(r.Context(), name, opts...)
		if !span.IsRecording() {
			// Not sampled: the context still carries the decision, so
			// the gRPC span beneath follows it.
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		defer span.End()
		span.SetAttributes(httpRequestAttributes(r)...)
		rw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(rw, r.WithContext(ctx))
		code := rw.status
		if code == 0 {
			code = http.StatusOK
		}
		attrs := []attribute.KeyValue{semconv.HTTPResponseStatusCode(code)}
		if id := w.Header().Get("X-Request-Id"); id != "" {
			attrs = append(attrs, AttrRequestID.String(clean(id, 128)))
		}
		span.SetAttributes(attrs...)
		if code >= 500 {
			// A server span fails on 5xx only; 4xx is the client's.
			span.SetStatus(otelcodes.Error, "")
		}
	})
}

// httpRequestAttributes are what a sampled HTTP span says of its request:
// never the query string (a search by NHS number puts one there) nor a
// header but the user agent.
func httpRequestAttributes(r *http.Request) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 8)
	method := semconv.HTTPRequestMethodKey.String(r.Method)
	if _, ok := httpSpanNames[r.Method]; !ok {
		method = semconv.HTTPRequestMethodKey.String("_OTHER")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	attrs = append(attrs, method, semconv.URLScheme(scheme), semconv.URLPath(clean(r.URL.Path, maxPathAttr)),
		semconv.NetworkProtocolVersion(strconv.Itoa(r.ProtoMajor)+"."+strconv.Itoa(r.ProtoMinor)))
	if host, port, err := net.SplitHostPort(r.Host); err == nil {
		attrs = append(attrs, semconv.ServerAddress(clean(host, 255)))
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, semconv.ServerPort(p))
		}
	} else if r.Host != "" {
		attrs = append(attrs, semconv.ServerAddress(clean(r.Host, 255)))
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		attrs = append(attrs, semconv.NetworkPeerAddress(host))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(clean(ua, maxUserAgentAttr)))
	}
	return attrs
}

// statusWriter remembers the status a handler answered with. It passes
// Flush on (the gateway streams server-streaming calls) and unwraps for
// http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// grpcSpans is the gRPC server's span, as the outermost interceptor:
// named by the full method ("sparc.v1.AssetService/SearchAssets"). The
// gateway's in-process calls continue the HTTP span's trace
// (viaGateway); a network client's call is a new root linked to the
// client's context. An interceptor rather than a stats handler: with any
// stats handler installed, grpc builds an event for every header and
// message of every call (about 20 allocations), sampled or not.
type grpcSpans struct {
	t          *Tracing
	tracer     trace.Tracer
	viaGateway func(context.Context) bool
}

var grpcStart = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
var grpcStartRoot = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithNewRoot()}

// start begins method's span in ctx.
func (g *grpcSpans) start(ctx context.Context, method string) (context.Context, trace.Span) {
	opts := grpcStartRoot
	if g.viaGateway(ctx) {
		ctx = g.t.prop.Extract(ctx, incomingCarrier{ctx})
		opts = grpcStart
	} else if l, ok := g.t.link(ctx, incomingCarrier{ctx}); ok {
		opts = append(opts[:len(opts):len(opts)], trace.WithLinks(l))
	}
	name := strings.TrimPrefix(method, "/")
	ctx, span := g.tracer.Start(ctx, name, opts...)
	if span.IsRecording() {
		span.SetAttributes(grpcCallAttributes(ctx, name)...)
	}
	return ctx, span
}

// grpcCallAttributes are the system, method and the two ends' addresses.
func grpcCallAttributes(ctx context.Context, method string) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, semconv.RPCSystemNameGRPC, semconv.RPCMethod(method))
	if p, ok := peer.FromContext(ctx); ok {
		if p.LocalAddr != nil {
			if host, port, err := net.SplitHostPort(p.LocalAddr.String()); err == nil {
				attrs = append(attrs, semconv.ServerAddress(host))
				if n, err := strconv.Atoi(port); err == nil {
					attrs = append(attrs, semconv.ServerPort(n))
				}
			}
		}
		if p.Addr != nil {
			if host, _, err := net.SplitHostPort(p.Addr.String()); err == nil {
				attrs = append(attrs, semconv.NetworkPeerAddress(host))
			}
		}
	}
	return attrs
}

// endCall ends a recording span with the call's outcome.
func endCall(span trace.Span, err error) {
	if !span.IsRecording() {
		return
	}
	code := codes.OK
	if err != nil {
		code = status.Code(err)
		if serverFault(code) {
			// The status message is the server's own text; the code is
			// all that is recorded.
			span.SetStatus(otelcodes.Error, code.String())
		}
	}
	span.SetAttributes(semconv.RPCResponseStatusCode(grpcCodeNames[code]))
	span.End()
}

func (g *grpcSpans) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, span := g.start(ctx, info.FullMethod)
	resp, err := h(ctx, req)
	endCall(span, err)
	return resp, err
}

func (g *grpcSpans) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, span := g.start(ss.Context(), info.FullMethod)
	err := h(srv, &tracedStream{ServerStream: ss, ctx: ctx})
	endCall(span, err)
	return err
}

// tracedStream is a stream whose context carries its span.
type tracedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *tracedStream) Context() context.Context { return s.ctx }

// incomingCarrier reads a call's incoming metadata for the propagators
// one key at a time (metadata.FromIncomingContext would copy all of it
// for every call, sampled or not).
type incomingCarrier struct{ ctx context.Context }

func (c incomingCarrier) Get(key string) string {
	if v := metadata.ValueFromIncomingContext(c.ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (incomingCarrier) Set(string, string) {}

// Keys is not used by the propagators' Extract.
func (incomingCarrier) Keys() []string { return nil }

// serverFault tells the codes that mark a server span failed (the
// semantic conventions': the rest are the client's doing).
func serverFault(c codes.Code) bool {
	switch c {
	case codes.Unknown, codes.DeadlineExceeded, codes.Unimplemented, codes.Internal, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}

// grpcCodeNames are the codes as the conventions spell them.
var grpcCodeNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN", codes.InvalidArgument: "INVALID_ARGUMENT",
	codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE",
	codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE",
	codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}
