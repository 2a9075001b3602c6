package telemetry

import (
	"context"
	"net"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// BenchmarkGRPCSpanCost is what the gRPC server's span adds to one call
// of a method that does nothing (the health check), client and server in
// this process over loopback, in CPU per call of the whole process (span,
// export, receiver): the counterpart of BenchmarkHTTPSpanCost.
func BenchmarkGRPCSpanCost(b *testing.B) {
	for _, c := range []struct {
		name  string
		ratio float64 // <0: no tracing
	}{{"off", -1}, {"every request", 1}, {"10% sampled", 0.1}, {"none sampled", 0}} {
		b.Run(c.name, func(b *testing.B) {
			var opts []grpc.ServerOption
			var tp *sdktrace.TracerProvider
			if c.ratio >= 0 {
				tp = exportingProvider(b, sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.ratio)))
				t := NewTracing(tp)
				spans := &grpcSpans{t: t, tracer: tp.Tracer(tracerName), viaGateway: func(context.Context) bool { return false }}
				opts = append(opts, grpc.ChainUnaryInterceptor(spans.unary))
			}
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			g := grpc.NewServer(opts...)
			healthpb.RegisterHealthServer(g, health.NewServer())
			go func() { _ = g.Serve(lis) }()
			defer g.Stop()
			conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			client := healthpb.NewHealthClient(conn)
			ctx := b.Context()
			if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
				b.Fatal(err)
			}
			cpu0 := processCPU()
			b.ResetTimer()
			for range b.N {
				if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
					b.Fatal(err)
				}
			}
			if tp != nil {
				if err := tp.ForceFlush(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
