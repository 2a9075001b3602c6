package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const (
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
	clientParent  = "00-" + clientTraceID + "-" + clientSpanID + "-01"
)

func recorded(t *testing.T) (*Tracing, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return NewTracing(tp), rec
}

func attrOf(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// The HTTP span: a new root linked to a client's own trace context, the
// path but never the query, what the client typed made safe to export,
// and failed only when the server failed.
func TestHTTPSpan(t *testing.T) {
	tr, rec := recorded(t)
	status := http.StatusOK
	h := tr.httpSpans(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !trace.SpanContextFromContext(r.Context()).IsValid() {
			t.Error("the handler's context carries no span")
		}
		w.Header().Set("X-Request-Id", "req-1")
		w.WriteHeader(status)
	}))
	for _, c := range []struct {
		code   int
		failed bool
	}{{http.StatusOK, false}, {http.StatusNotFound, false}, {http.StatusServiceUnavailable, true}} {
		status = c.code
		req := httptest.NewRequest("GET", "http://sparc.test:8080/v1/people:search?nhs_number=9434765919", nil)
		req.Header.Set("traceparent", clientParent)
		req.Header.Set("User-Agent", "bad \xff"+strings.Repeat("x", 1000))
		req.URL.Path = "/v1/\xfe" + strings.Repeat("p", 1000)
		h.ServeHTTP(httptest.NewRecorder(), req)
		ss := rec.Ended()
		s := ss[len(ss)-1]
		if s.Name() != "HTTP GET" || s.SpanKind() != trace.SpanKindServer {
			t.Fatalf("span %q kind %v, want HTTP GET, server", s.Name(), s.SpanKind())
		}
		if s.Parent().IsValid() || s.SpanContext().TraceID().String() == clientTraceID {
			t.Error("the HTTP span continues the client's trace")
		}
		if len(s.Links()) != 1 || s.Links()[0].SpanContext.TraceID().String() != clientTraceID {
			t.Errorf("links %v, want the client's context", s.Links())
		}
		if got := s.Status().Code == otelcodes.Error; got != c.failed {
			t.Errorf("status %d: span failed %v, want %v", c.code, got, c.failed)
		}
		if v, _ := attrOf(s, "http.response.status_code"); v.AsInt64() != int64(c.code) {
			t.Errorf("http.response.status_code %v, want %d", v, c.code)
		}
		if v, _ := attrOf(s, AttrRequestID); v.AsString() != "req-1" {
			t.Errorf("request id %q", v.AsString())
		}
		for _, kv := range s.Attributes() {
			text := kv.Value.String()
			if strings.Contains(text, "9434765919") {
				t.Errorf("%s carries the query string: %q", kv.Key, text)
			}
			if !utf8.ValidString(text) || len(text) > maxPathAttr+3 {
				t.Errorf("%s is not safe to export: %d bytes, valid UTF-8 %v", kv.Key, len(text), utf8.ValidString(text))
			}
		}
	}
}

// The gRPC span: the gateway's calls continue its trace, a network
// client's start a new one linked to theirs; failed only for the codes
// that are the server's fault.
func TestGRPCSpan(t *testing.T) {
	tr, rec := recorded(t)
	viaGateway := false
	g := &grpcSpans{t: tr, tracer: tr.tp.Tracer(tracerName), viaGateway: func(context.Context) bool { return viaGateway }}
	info := &grpc.UnaryServerInfo{FullMethod: "/sparc.v1.AssetService/GetAsset"}
	for _, c := range []struct {
		gateway bool
		err     error
		code    string
		failed  bool
	}{
		{false, nil, "OK", false},
		{true, nil, "OK", false},
		{false, status.Error(codes.NotFound, "no such asset"), "NOT_FOUND", false},
		{false, status.Error(codes.Internal, "boom"), "INTERNAL", true},
	} {
		viaGateway = c.gateway
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", clientParent))
		_, _ = g.unary(ctx, nil, info, func(ctx context.Context, _ any) (any, error) { return nil, c.err })
		ss := rec.Ended()
		s := ss[len(ss)-1]
		if s.Name() != "sparc.v1.AssetService/GetAsset" {
			t.Fatalf("span name %q", s.Name())
		}
		continued := s.SpanContext().TraceID().String() == clientTraceID && s.Parent().SpanID().String() == clientSpanID
		if continued != c.gateway {
			t.Errorf("gateway %v: continues the caller's trace %v", c.gateway, continued)
		}
		if !c.gateway && (len(s.Links()) != 1 || s.Links()[0].SpanContext.TraceID().String() != clientTraceID) {
			t.Errorf("a network client's call: links %v, want the client's context", s.Links())
		}
		if v, _ := attrOf(s, "rpc.response.status_code"); v.AsString() != c.code {
			t.Errorf("rpc.response.status_code %q, want %q", v.AsString(), c.code)
		}
		if got := s.Status().Code == otelcodes.Error; got != c.failed {
			t.Errorf("%s: failed %v, want %v", c.code, got, c.failed)
		}
		if strings.Contains(s.Status().Description, "boom") {
			t.Error("the span's status repeats the error message")
		}
	}
}
