package telemetry

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// BenchmarkSpanCost is what tracing adds to one CreateReferral, part by
// part, in CPU per call of the whole process (the batch processor's
// goroutine, the OTLP gRPC exporter and a receiver on loopback that
// reads but does not decode, as a collector elsewhere would): the gRPC
// server span with its attributes, and the database batch span (the
// transaction's BEGIN, identity and insert in one round trip). It does
// without the server and database, whose CPU (about 0.9 ms per
// CreateReferral on the development machine) the bench measures, so
// that the parts' costs show without their noise.
func BenchmarkSpanCost(b *testing.B) {
	batch := &pgx.Batch{}
	batch.BeginTx(pgx.TxOptions{})
	batch.Queue("SELECT set_config('sparc.org', $1, true), set_config('sparc.role', $2, true)")
	batch.Queue(createReferralLike)
	for _, c := range []struct {
		name          string
		server, query bool
		text          bool
		ratio         float64
	}{
		{"server span", true, false, false, 1},
		{"server and database spans", true, true, false, 1},
		{"server and database spans with SQL text", true, true, true, 1},
		{"server and database spans, 10% sampled", true, true, false, 0.1},
		{"server and database spans, none sampled", true, true, false, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			tp := exportingProvider(b, sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.ratio)))
			tracer := tp.Tracer("bench")
			q := newQueryTracer(tracer, c.text)
			attrs := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithNewRoot(),
				trace.WithAttributes(semconv.RPCMethod("sparc.v1.ReferralService/CreateReferral"), semconv.RPCSystemNameGRPC,
					semconv.ServerAddress("127.0.0.1"), semconv.ServerPort(8443))}
			ids := make([]string, 64)
			for i := range ids {
				ids[i] = "0190f5d2-7c1e-7a3b-9e4f-" + strings.Repeat(string(rune('a'+i%26)), 12)
			}
			cpu0 := processCPU()
			b.ResetTimer()
			for i := range b.N {
				ctx, span := tracer.Start(context.Background(), "sparc.v1.ReferralService/CreateReferral", attrs...)
				if span.IsRecording() {
					span.SetAttributes(AttrRequestID.String(ids[i%len(ids)]), AttrOrganisation.String("0b0e7d5c-org"))
				}
				if c.query {
					qctx := q.TraceBatchStart(ctx, nil, pgx.TraceBatchStartData{Batch: batch})
					q.TraceBatchEnd(qctx, nil, pgx.TraceBatchEndData{})
				}
				if span.IsRecording() {
					span.SetAttributes(semconv.RPCResponseStatusCode("OK"))
				}
				span.End()
			}
			// Export what is still queued, so its CPU counts.
			if err := tp.ForceFlush(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// createReferralLike is a statement as long as CreateReferral's insert.
var createReferralLike = "WITH p AS (SELECT id FROM people WHERE id = $1), ins AS (INSERT INTO referrals (id, person_id, referring_org) " +
	strings.Repeat("SELECT p.id, $2, $3, $4, $5, $6, $7, $8 FROM p WHERE NOT EXISTS (SELECT 1 FROM referrals WHERE request_id = $9) ", 25) +
	"RETURNING id) SELECT id FROM ins"

// exportingProvider is a tracer provider batching spans to an OTLP gRPC
// exporter whose receiver listens on loopback in this process.
func exportingProvider(b *testing.B, sampler sdktrace.Sampler) *sdktrace.TracerProvider {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	g := grpc.NewServer(grpc.ForceServerCodec(&discardCodec{}))
	coltracepb.RegisterTraceServiceServer(g, discardReceiver{})
	go func() { _ = g.Serve(lis) }()
	b.Cleanup(g.Stop)
	exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(lis.Addr().String()),
		otlptracegrpc.WithDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())), otlptracegrpc.WithInsecure())
	if err != nil {
		b.Fatal(err)
	}
	// Blocking: a span the queue has no room for waits instead of being
	// dropped, so that every span's export is counted.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBlocking()), sdktrace.WithSampler(sampler))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

type discardReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
}

func (discardReceiver) Export(context.Context, *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// discardCodec reads requests without decoding them (a collector's
// decoding is its own cost, not sparcd's) and encodes the empty answers.
type discardCodec struct{ bytes atomic.Int64 }

func (c *discardCodec) Marshal(v any) ([]byte, error) { return proto.Marshal(v.(proto.Message)) }

func (c *discardCodec) Unmarshal(data []byte, _ any) error {
	c.bytes.Add(int64(len(data)))
	return nil
}

func (c *discardCodec) Name() string { return "proto" }

// processCPU is this process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
