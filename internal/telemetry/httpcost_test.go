package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkHTTPSpanCost is what the HTTP port's span adds to one request,
// in CPU per request of the whole process (span, export, receiver), with
// a handler that does nothing but answer, as BenchmarkSpanCost does for
// the gRPC and database spans.
func BenchmarkHTTPSpanCost(b *testing.B) {
	answer := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Request-Id", "0190f5d2-7c1e-7a3b-9e4f-aaaaaaaaaaaa")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"assets":[]}`))
	})
	for _, c := range []struct {
		name  string
		ratio float64 // <0: no tracing
	}{{"off", -1}, {"every request", 1}, {"10% sampled", 0.1}, {"none sampled", 0}} {
		b.Run(c.name, func(b *testing.B) {
			h := http.Handler(answer)
			var tp *sdktrace.TracerProvider
			if c.ratio >= 0 {
				tp = exportingProvider(b, sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.ratio)))
				hk := NewTracing(tp).Hooks(func(context.Context) bool { return false })
				for _, m := range hk.HTTP {
					h = m(h)
				}
			}
			req := httptest.NewRequest(http.MethodGet, "http://sparc.test/v1/assets:search?postcode=B7+4BB&view=ASSET_VIEW_BASIC", nil)
			req.Header.Set("User-Agent", "sparc-bench/1")
			req.RemoteAddr = "192.0.2.10:40000"
			cpu0 := processCPU()
			b.ResetTimer()
			for range b.N {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
			if tp != nil {
				if err := tp.ForceFlush(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
