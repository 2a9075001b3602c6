package telemetry

import (
	"context"
	"net"
	"testing"
	"time"
)

// sampledOf starts n root spans with the tracer TracingFromEnv builds
// from the environment and counts those that record.
func sampledOf(t *testing.T, n int) int {
	t.Helper()
	// An endpoint that listens (so the exporter has somewhere to go) and
	// never answers: nothing here needs the spans to arrive.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+lis.Addr().String())
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	tr, err := TracingFromEnv(t.Context())
	if err != nil || tr == nil {
		t.Fatalf("TracingFromEnv: %v, %v", tr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = tr.Shutdown(ctx)
	})
	tracer := tr.tp.Tracer("test")
	sampled := 0
	for range n {
		_, span := tracer.Start(context.Background(), "request")
		if span.IsRecording() {
			sampled++
		}
		span.End()
	}
	return sampled
}

// Without OTEL_TRACES_SAMPLER a tenth of requests are traced; the
// standard variable still chooses.
func TestDefaultSampling(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		t.Setenv("OTEL_TRACES_SAMPLER", "")
		// 10% of 4000: a binomial's standard deviation is 19, so 300 to
		// 500 fails only by a broken sampler.
		if got := sampledOf(t, 4000); got < 300 || got > 500 {
			t.Errorf("%d of 4000 root spans sampled by default, want about %v", got, DefaultSampleRatio*4000)
		}
	})
	t.Run("every request", func(t *testing.T) {
		t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
		if got := sampledOf(t, 200); got != 200 {
			t.Errorf("%d of 200 root spans sampled with parentbased_always_on", got)
		}
	})
}
