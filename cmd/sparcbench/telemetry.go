package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/telemetry"
)

// telemetryPool is each variant's pool: seven servers share the private
// cluster's 200 connections with the other sections'.
const telemetryPool = 16

// telemetryConc is the concurrency of both rows here.
const telemetryConc = 16

// exportLag is how long a traced server may hold spans before exporting
// them (the batch processor's 5 s schedule, and a margin): a row's CPU
// is read that long after its last request, so the last batch counts.
const exportLag = 6 * time.Second

// benchDataKey seals personal details for every server of the run, so
// that people made through one are readable by the others (telemetry's
// server processes get it from their spec).
var benchDataKey = func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}()

// variant is one server with telemetry set one way, in a process of its
// own (a child of this one: see serveVariant).
type variant struct {
	Name    string
	Metrics bool
	Tracing bool
	Ratio   string // OTEL_TRACES_SAMPLER_ARG of parentbased_traceidratio; empty: every request
	URL     string
	DataKey []byte

	cmd            *exec.Cmd
	stdin          io.Closer
	httpBase, grpc string
	// calls counts the requests sent to it, warm-ups included: its
	// process's CPU is divided by them.
	calls atomic.Int64
}

// runTelemetry measures what metrics and tracing cost on the search and
// CreateReferral rows: seven servers over the same database, each in a
// process of its own, telemetry off (twice: the second shows the noise),
// metrics on, tracing on (every request sampled, and 10%, exported over
// OTLP gRPC to a receiver in this process) and both, taking turns within
// each round like the paths of the other sections. A server's cost is its
// own process's CPU per request (read from /proc), so nothing another
// server does (its garbage collection, its span exports after its turn,
// the load generator) is counted against it, and every span it exports
// is, however late.
func runTelemetry(ctx context.Context, b *bench) error {
	received, stopCollector, err := otlpReceiver()
	if err != nil {
		return err
	}
	defer stopCollector()
	// "off again" is a second server without telemetry: how far it lands
	// from "off" is the noise of the comparison.
	variants := []*variant{{Name: "off"}, {Name: "off again"}, {Name: "metrics", Metrics: true}, {Name: "tracing", Tracing: true},
		{Name: "metrics+tracing", Metrics: true, Tracing: true}, {Name: "tracing 10%", Tracing: true, Ratio: "0.1"},
		// sparcd's defaults when both are on: the configuration the
		// issue's 5% is about in practice.
		{Name: "metrics+tracing 10%", Metrics: true, Tracing: true, Ratio: "0.1"}}
	defer func() {
		for _, v := range variants {
			v.stop()
		}
	}()
	for _, v := range variants {
		v.URL, v.DataKey = b.url, benchDataKey
		if err := v.start(ctx); err != nil {
			return fmt.Errorf("%s: %w", v.Name, err)
		}
	}

	rb, err := newReferralBench(ctx, b)
	if err != nil {
		return err
	}
	defer rb.stop()
	pl, err := newPlaces()
	if err != nil {
		return err
	}
	svc := assets.NewService(b.app.Assets, b.app.Tokens)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	search := make([]contender, len(variants))
	create := make([]contender, len(variants))
	child := map[string]func() time.Duration{}
	for i, v := range variants {
		cases, err := searchCases(svc, pl, workloads[0], b.cfg.queries, b.cfg.seed+100, v.httpBase)
		if err != nil {
			return err
		}
		search[i] = contender{v.Name, func(ctx context.Context, i int) error {
			v.calls.Add(1)
			_, err := b.fetch(ctx, cases[i%len(cases)].url)
			return err
		}}
		conn, err := dial(v.grpc, rb.lwKey)
		if err != nil {
			return err
		}
		defer conn.Close()
		vrb := *rb
		vrb.lw = sparcv1.NewReferralServiceClient(conn)
		op := vrb.create("tel-" + v.Name + "-" + run + "-")
		create[i] = contender{v.Name, func(ctx context.Context, i int) error {
			v.calls.Add(1)
			return op(ctx, i)
		}}
		child[v.Name] = v.cpu
	}
	b.printf("%d servers over one database, each in a process of its own (pools of %d): telemetry off (twice: \"off again\"\n"+
		"shows the noise), metrics on, tracing on (every request sampled, or 10%% by OTEL_TRACES_SAMPLER=parentbased_traceidratio;\n"+
		"spans batched and exported over OTLP gRPC to a receiver in this process that decodes nothing), and both;\n"+
		"concurrency %d; %d rounds taking turns. Metrics are not scraped.\n", len(variants), telemetryPool, telemetryConc, b.cfg.rounds)
	w := b.table()
	fmt.Fprintln(w, "row\ttelemetry\tp50 ms\tp99 ms\tQPS\tserver CPU/req ms\tPG ms\tcost over off's server+PG\tper round vs off\tQPS vs off, per round\tother cores\t")
	for _, row := range []struct {
		name string
		cs   []contender
		step int
	}{{"search HTTP (" + workloads[0].name + ")", search, b.cfg.queries / b.cfg.rounds}, {"CreateReferral gRPC", create, 10_000_000}} {
		before := map[string]time.Duration{}
		for _, v := range variants {
			v.calls.Store(0)
			before[v.Name] = v.cpu()
		}
		res, err := b.compareChildren(ctx, "telemetry "+row.name, telemetryConc, row.step, row.cs, child)
		if err != nil {
			return err
		}
		// Every span of the row exported, on its own server's account.
		time.Sleep(exportLag)
		perCall := map[string]float64{} // server CPU seconds per request over the whole row
		for _, v := range variants {
			if n := v.calls.Load(); n > 0 {
				perCall[v.Name] = (v.cpu() - before[v.Name]).Seconds() / float64(n)
			}
		}
		off := res["off"]
		// The baseline is the mean of the two servers without telemetry:
		// each process has its own small bias (where it runs, its heap),
		// which the two controls halve; "off again" is still shown
		// against "off" alone, as the noise.
		base := (perCall["off"] + perCall["off again"]) / 2
		offAll := base + (off.pgCPU.Seconds()+res["off again"].pgCPU.Seconds())/2
		for _, v := range variants {
			s := res[v.Name]
			cost, rounds, qps := "", "", ""
			if v.Name != "off" && offAll > 0 {
				over := 100 * (perCall[v.Name] - base) / offAll
				if v.Name == "off again" {
					over = 100 * (perCall[v.Name] - perCall["off"]) / offAll
				}
				cost = fmt.Sprintf("%+.1f%%", over)
				rounds = pairedSpread(s, off, func(a, b stretch) float64 {
					return 100 * (a.child.Seconds()/float64(len(a.lat)) - b.child.Seconds()/float64(len(b.lat))) / offAll
				})
				qps = pairedSpread(s, off, func(a, b stretch) float64 {
					return 100 * (float64(len(a.lat))/a.elapsed.Seconds()/(float64(len(b.lat))/b.elapsed.Seconds()) - 1)
				})
				if v.Name != "off again" { // the noise, not a cost
					b.check(target{what: fmt.Sprintf("%s: %s server CPU/req over the controls' server+PG", row.name, v.Name), measured: over, unit: "%", op: "<=", goal: 5, atScale: true})
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%.2f\t%.2f\t%.0f\t%.3f\t%.3f\t%s\t%s\t%s\t%.2f\t\n", row.name, v.Name, ms(s.p50), ms(s.p99), s.qps,
				1000*perCall[v.Name], ms(s.pgCPU), cost, rounds, qps, s.otherCores)
		}
	}
	w.Flush()
	b.printf("server CPU/req = the server process's CPU (user + system, /proc) over every request sent to it in the row,\n"+
		"warm-ups included, read %s after the row so its last spans are exported; PG ms = the database's CPU per\n"+
		"request (the same work with telemetry on or off); cost over off's server+PG = the extra server CPU per request\n"+
		"over the mean of the two servers without telemetry, as a share of their whole cost per request (server and\n"+
		"database); for \"off again\", its difference from \"off\" (the noise); per round vs off = the same from each\n"+
		"round's turn alone (spans exported after the turn are missed), against off's turn in the same round, median\n"+
		"[min, max].\n"+
		"OTLP received: %.1f MB of spans\n", exportLag, float64(received.Load())/1e6)
	return nil
}

// start runs v's server in a child process (this program with
// telemetryChildEnv set to v as JSON) and waits for its addresses.
func (v *variant) start(ctx context.Context) error {
	spec, err := json.Marshal(v)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), telemetryChildEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	v.cmd, v.stdin = cmd, stdin
	var addrs struct{ HTTP, GRPC string }
	if err := json.NewDecoder(stdout).Decode(&addrs); err != nil {
		return fmt.Errorf("reading the server's addresses: %w", err)
	}
	v.httpBase, v.grpc = "http://"+addrs.HTTP, addrs.GRPC
	return nil
}

// stop ends v's server process: it stops when its stdin closes.
func (v *variant) stop() {
	if v.cmd == nil {
		return
	}
	_ = v.stdin.Close()
	done := make(chan struct{})
	go func() { _ = v.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = v.cmd.Process.Kill()
		<-done
	}
	v.cmd = nil
}

// cpu is the CPU time v's server process has used so far.
func (v *variant) cpu() time.Duration {
	if v.cmd == nil || v.cmd.Process == nil {
		return 0
	}
	d, _ := treeCPU(v.cmd.Process.Pid)
	return d
}

// telemetryChildEnv holds, in a child process, the variant it serves.
const telemetryChildEnv = "SPARCBENCH_TELEMETRY_VARIANT"

// serveVariant is a child process's whole work: build the server as
// sparcd would with --metrics-addr and the OTEL_EXPORTER_OTLP_* variables
// set (its own pool, traced when tracing), print its addresses as one
// JSON line, serve until stdin closes.
func serveVariant(spec string) error {
	var v variant
	if err := json.Unmarshal([]byte(spec), &v); err != nil {
		return err
	}
	ctx := context.Background()
	var tracing *telemetry.Tracing
	if v.Tracing {
		// Every request unless a ratio is given (sparcd's default
		// without OTEL_TRACES_SAMPLER is telemetry.DefaultSampleRatio).
		os.Setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
		if v.Ratio != "" {
			os.Setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
			os.Setenv("OTEL_TRACES_SAMPLER_ARG", v.Ratio)
		}
		var err error
		if tracing, err = telemetry.TracingFromEnv(ctx); err != nil || tracing == nil {
			return fmt.Errorf("tracing from the environment: %v", err)
		}
	}
	pool, err := db.OpenAppTraced(ctx, v.URL, telemetryPool, tracing.QueryTracer())
	if err != nil {
		return err
	}
	defer pool.Close()
	cfg := app.Config{Auth: benchAuth, Server: benchServer(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
		Tracing: tracing, DataKey: v.DataKey}
	if v.Metrics {
		cfg.MetricsAddr = "127.0.0.1:0"
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a, err := app.New(sctx, pool, cfg)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx) }()
	if err := json.NewEncoder(os.Stdout).Encode(struct{ HTTP, GRPC string }{a.Server().HTTPAddr(), a.Server().GRPCAddr()}); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
	cancel()
	err = <-done
	_ = tracing.Shutdown(context.Background())
	return err
}

// pairedSpread compares s with base round by round (the same round ran
// them back to back, under the same load from elsewhere): d of each
// round's pair, in percent, median [min, max] over the rounds.
func pairedSpread(s, base stats, d func(a, b stretch) float64) string {
	var ds []float64
	for i := range min(len(s.runs), len(base.runs)) {
		if len(s.runs[i].lat) > 0 && len(base.runs[i].lat) > 0 {
			ds = append(ds, d(s.runs[i], base.runs[i]))
		}
	}
	if len(ds) == 0 {
		return "-"
	}
	slices.Sort(ds)
	med := ds[len(ds)/2]
	if len(ds)%2 == 0 {
		med = (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
	}
	return fmt.Sprintf("%+.1f%% [%+.1f, %+.1f]", med, ds[0], ds[len(ds)-1])
}

// otlpReceiver is a local collector: an OTLP gRPC trace receiver on a
// loopback port. It counts the bytes it gets without decoding them (a
// collector runs elsewhere; its decoding is not sparcd's cost). It points
// the standard variables at itself for TracingFromEnv.
func otlpReceiver() (*atomic.Int64, func(), error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	c := &countingCodec{}
	g := grpc.NewServer(grpc.ForceServerCodec(c))
	coltracepb.RegisterTraceServiceServer(g, &receiver{})
	go func() { _ = g.Serve(lis) }()
	os.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+lis.Addr().String())
	os.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	return &c.bytes, g.Stop, nil
}

type receiver struct {
	coltracepb.UnimplementedTraceServiceServer
}

func (receiver) Export(context.Context, *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// countingCodec counts what it receives and decodes nothing; it encodes
// the (empty) answers as protobuf.
type countingCodec struct{ bytes atomic.Int64 }

func (c *countingCodec) Marshal(v any) ([]byte, error) { return proto.Marshal(v.(proto.Message)) }

func (c *countingCodec) Unmarshal(data []byte, _ any) error {
	c.bytes.Add(int64(len(data)))
	return nil
}

func (c *countingCodec) Name() string { return "proto" }
