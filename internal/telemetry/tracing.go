package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/caller"
	"github.com/sparc-network/sparc/internal/hooks"
)

// The attributes SPARC adds to spans: who is calling, never about whom.
// A request id and an organisation's id identify no person; names, NHS
// numbers and SQL arguments are never recorded.
const (
	AttrRequestID    = attribute.Key("sparc.request_id")
	AttrOrganisation = attribute.Key("sparc.organisation")
)

// DefaultSampleRatio is the share of requests traced when
// OTEL_TRACES_SAMPLER names no sampler (parentbased_traceidratio: the
// edge decides, every span beneath follows). Tracing every request costs
// up to about 5% of a search's CPU on the development machine
// (docs/operations.md, "Cost"), at the edge of the 5% objective; one in ten
// costs a fraction of that and still shows every path under load.
// OTEL_TRACES_SAMPLER=parentbased_always_on traces every request.
const DefaultSampleRatio = 0.1

// Tracing is the OpenTelemetry half: spans of the HTTP gateway, the gRPC
// server and its in-process client, and database queries. A nil
// *Tracing is off and adds nothing.
type Tracing struct {
	tp       trace.TracerProvider
	prop     propagation.TextMapPropagator
	shutdown func(context.Context) error
	sqlText  bool // database spans carry the statement text too
}

// Option changes what NewTracing records.
type Option func(*Tracing)

// SQLText has database spans carry their statement's text
// (db.query.text) as well as its summary: SPARC_TRACE_SQL=text. The text
// is constants with placeholders, never the arguments, but it makes each
// span several times bigger to build, send and store.
func SQLText() Option { return func(t *Tracing) { t.sqlText = true } }

// TracingFromEnv exports spans over OTLP as the standard variables say
// (OTEL_EXPORTER_OTLP_ENDPOINT or ..._TRACES_ENDPOINT, _PROTOCOL
// grpc or http/protobuf, _HEADERS, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER (default here:
// DefaultSampleRatio)...); nil (off) when no
// endpoint is set, OTEL_SDK_DISABLED is true or OTEL_TRACES_EXPORTER is
// none. SPARC_TRACE_SQL=text adds each statement's text to its span.
func TracingFromEnv(ctx context.Context) (*Tracing, error) {
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" ||
		strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") || os.Getenv("OTEL_TRACES_EXPORTER") == "none" {
		return nil, nil
	}
	protocol := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var exp sdktrace.SpanExporter
	var err error
	switch protocol {
	case "", "http/protobuf": // the specification's default
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: want grpc or http/protobuf", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName("sparcd")),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	// The provider reads OTEL_TRACES_SAMPLER and OTEL_BSP_* itself. When
	// no sampler is named, SPARC samples DefaultSampleRatio of requests
	// rather than the specification's every one: see DefaultSampleRatio.
	opts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp), sdktrace.WithResource(res)}
	if os.Getenv("OTEL_TRACES_SAMPLER") == "" {
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(DefaultSampleRatio))))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	var topts []Option
	if os.Getenv("SPARC_TRACE_SQL") == "text" {
		topts = append(topts, SQLText())
	}
	t := NewTracing(tp, topts...)
	t.shutdown = tp.Shutdown
	return t, nil
}

// NewTracing traces with tp (tests: an in-memory exporter).
func NewTracing(tp trace.TracerProvider, opts ...Option) *Tracing {
	t := &Tracing{tp: tp, prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})}
	for _, o := range opts {
		o(t)
	}
	return t
}

// Shutdown flushes the spans still held and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// Hooks are the transport's spans (edge.go) on the gRPC server and
// the HTTP port, the trace context across the gateway's in-process
// hop, and the caller's request id and organisation on each call's span.
// viaGateway tells the gateway's in-process calls (whose trace context
// is ours) from network clients' (whose is not).
func (t *Tracing) Hooks(viaGateway func(context.Context) bool) hooks.Hooks {
	if t == nil {
		return hooks.Hooks{}
	}
	spans := &grpcSpans{t: t, tracer: t.tp.Tracer(tracerName), viaGateway: viaGateway}
	return hooks.Hooks{
		Unary:  []grpc.UnaryServerInterceptor{spans.unary},
		Stream: []grpc.StreamServerInterceptor{spans.stream},
		// The gateway's in-process hop only carries the trace context: a
		// client span there would repeat the server span beneath it.
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(t.injectUnary), grpc.WithChainStreamInterceptor(t.injectStream)},
		InnerUnary:  []grpc.UnaryServerInterceptor{attributeUnary},
		InnerStream: []grpc.StreamServerInterceptor{attributeStream},
		HTTP:        []func(http.Handler) http.Handler{t.httpSpans},
	}
}

// QueryTracer is the pgx tracer for the application pool (nil when off).
func (t *Tracing) QueryTracer() pgx.QueryTracer {
	if t == nil {
		return nil
	}
	return newQueryTracer(t.tp.Tracer(tracerName), t.sqlText)
}

// callAttributes are the caller's request id (the edge decided it) and,
// once the authorisation layer admitted the call, its organisation.
func callAttributes(ctx context.Context) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 2)
	if c, ok := caller.From(ctx); ok && c.RequestID != "" {
		attrs = append(attrs, AttrRequestID.String(c.RequestID))
	}
	if p := auth.FromContext(ctx); p != nil && p.Org != "" {
		attrs = append(attrs, AttrOrganisation.String(p.Org))
	}
	span.SetAttributes(attrs...)
}

func attributeUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	callAttributes(ctx)
	return h(ctx, req)
}

func attributeStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	callAttributes(ss.Context())
	return h(srv, ss)
}

// inject puts ctx's trace context into the outgoing gRPC metadata.
func (t *Tracing) inject(ctx context.Context) context.Context {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	t.prop.Inject(ctx, metadataCarrier(md))
	return metadata.NewOutgoingContext(ctx, md)
}

func (t *Tracing) injectUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(t.inject(ctx), method, req, reply, cc, opts...)
}

func (t *Tracing) injectStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(t.inject(ctx), desc, cc, method, opts...)
}

// metadataCarrier is gRPC metadata as a propagation carrier.
type metadataCarrier metadata.MD

func (c metadataCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c metadataCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c metadataCarrier) Keys() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}
