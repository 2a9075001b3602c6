package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/pgcluster"
	"github.com/sparc-network/sparc/internal/server"
)

// benchAuth keeps the real authorisation layer, rate limiter included,
// with a limit no benchmark reaches: the per-key limit protects a shared
// server, and would otherwise cap every keyed measurement at 20/s.
var benchAuth = auth.Config{RatePerSecond: 1e9, Burst: 1e9}

// benchServer is the configuration of the benchmark's servers: free
// loopback ports, logs at log's level.
func benchServer(log *slog.Logger) app.ServerConfig {
	return app.ServerConfig{Logger: log, ShutdownTimeout: 5 * time.Second}
}

// bench is the environment every section shares: the database, the app
// and its servers as sparcd runs them, and clients for each path.
type bench struct {
	cfg    config
	out    io.Writer
	dbNote string

	cluster *pgcluster.Cluster
	tmpDir  string
	url     string

	app      *app.App      // the server's app, over the server's pool
	raw      *pgxpool.Pool // the schema owner's pool: migrations, loading, set-up
	search   *pgxpool.Pool // raw SQL searches, as the application role like the server
	points   *pgxpool.Pool // raw SQL point searches: search with the store's point search settings
	srv      *server.Server
	stopSrv  context.CancelFunc
	srvDone  chan error
	conn     *grpc.ClientConn
	grpc     sparcv1.AssetServiceClient
	http     *http.Client
	httpBase string

	heapBefore uint64 // live heap before the server started (see indexReport)

	cpu     *cpuSampler
	targets []target
}

// target is one goal from an issue, checked against a measured figure.
type target struct {
	what     string
	measured float64
	unit     string
	op       string // ">=" or "<="
	goal     float64
	scale    string // the size the goal is stated for, e.g. "1M assets"
	atScale  bool   // measured at that size
}

func newBench(ctx context.Context, cfg config, out io.Writer) (_ *bench, err error) {
	b := &bench{cfg: cfg, out: out, cpu: &cpuSampler{}}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	b.url = cfg.databaseURL
	if b.url == "" {
		dir := cfg.dataDir
		if dir == "" {
			if b.tmpDir, err = pgcluster.MkdirTemp("sparcbench-"); err != nil {
				return nil, err
			}
			dir = filepath.Join(b.tmpDir, "db")
		}
		fmt.Fprintf(out, "starting a private PostgreSQL cluster in %s ...\n", dir)
		b.cluster, err = pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Database: "sparcbench", Fast: true})
		if err != nil {
			return nil, fmt.Errorf("starting private cluster: %w", err)
		}
		b.url = b.cluster.URL("sparcbench")
		b.cpu.pgPID, _ = b.cluster.PID() // 0: PostgreSQL's CPU is not measured
		b.dbNote = "db: private cluster (fsync=off, synchronous_commit=off, full_page_writes=off)"
	} else {
		b.dbNote = "db: DATABASE_URL"
	}

	// As sparcd: migrations as the login of the URL (the schema owner),
	// requests as the unprivileged application role under row-level
	// security. Loading uses the owner's pool (BulkInsert is an import).
	if b.raw, err = db.Open(ctx, b.url, int32(max(8, cfg.loadWorkers+2))); err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, b.raw); err != nil {
		return nil, err
	}
	pool, err := db.OpenApp(ctx, b.url, int32(cfg.maxConns))
	if err != nil {
		return nil, err
	}
	// Warn level: per-request logs would measure the logger, not SPARC.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srvCtx, cancel := context.WithCancel(context.Background())
	b.stopSrv = cancel
	if b.app, err = app.New(srvCtx, pool, app.Config{Auth: benchAuth, Server: benchServer(log), DataKey: benchDataKey,
		SearchIndex: assets.IndexConfig{Enabled: cfg.searchIndex}}); err != nil {
		pool.Close()
		return nil, err
	}
	if b.search, err = db.OpenApp(ctx, b.url, int32(cfg.maxConns)); err != nil {
		return nil, err
	}
	if b.points, err = assets.PointSearchPool(b.search); err != nil {
		return nil, err
	}
	// As sparcd: the key cache's listener, referral wake-ups, webhooks.
	b.srv = b.app.Server()
	b.srvDone = make(chan error, 1)
	b.heapBefore = liveHeap()
	go func() { b.srvDone <- b.app.Serve(srvCtx) }()

	if b.conn, err = dial(b.srv.GRPCAddr(), ""); err != nil {
		return nil, fmt.Errorf("dialling gRPC: %w", err)
	}
	b.grpc = sparcv1.NewAssetServiceClient(b.conn)
	b.httpBase = "http://" + b.srv.HTTPAddr()
	b.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute,
	}}
	return b, nil
}

// dial connects to the gRPC server at addr, sending key with every call
// ("" for anonymous calls).
func dial(addr, key string) (*grpc.ClientConn, error) {
	// A national referral network is tens of megabytes (the default
	// limit is 4 MB): the benchmark measures the answer, not the limit.
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1 << 30))}
	if key != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerKey(key)))
	}
	return grpc.NewClient(addr, opts...)
}

func (b *bench) close() {
	if b.conn != nil {
		b.conn.Close()
	}
	if b.http != nil {
		b.http.CloseIdleConnections()
	}
	if b.stopSrv != nil {
		b.stopSrv()
		if b.srvDone != nil {
			if err := <-b.srvDone; err != nil {
				fmt.Fprintln(os.Stderr, "sparcbench: server:", err)
			}
		}
	}
	if b.points != nil {
		b.points.Close()
	}
	if b.search != nil {
		b.search.Close()
	}
	if b.raw != nil {
		b.raw.Close()
	}
	if b.app != nil {
		b.app.Pool.Close()
	}
	if b.cluster != nil {
		if err := b.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "sparcbench: stopping cluster:", err)
		}
	}
	if b.tmpDir != "" {
		_ = os.RemoveAll(b.tmpDir)
	}
}

func (b *bench) printf(format string, args ...any) {
	fmt.Fprintf(b.out, format, args...)
}

func (b *bench) table() *tabwriter.Writer {
	return tabwriter.NewWriter(b.out, 0, 0, 2, ' ', tabwriter.AlignRight)
}

// check records a measured figure against its target.
func (b *bench) check(t target) { b.targets = append(b.targets, t) }

func (b *bench) printTargets() {
	if len(b.targets) == 0 {
		return
	}
	b.printf("\n== targets\n")
	w := tabwriter.NewWriter(b.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "target\tmeasured\tgoal\tresult\t")
	for _, t := range b.targets {
		ok := t.measured >= t.goal
		if t.op == "<=" {
			ok = t.measured <= t.goal
		}
		res := "PASS"
		if !ok {
			res = "MISS"
		}
		if !t.atScale {
			res += " (goal is for " + t.scale + "; indicative here)"
		}
		fmt.Fprintf(w, "%s\t%s %s\t%s %s %s\t%s\t\n", t.what, num(t.measured), t.unit, t.op, num(t.goal), t.unit, res)
	}
	w.Flush()
}

// num prints a figure with sensible precision.
func num(f float64) string {
	switch {
	case f >= 1000:
		return fmt.Sprintf("%.0f", f)
	case f >= 10:
		return fmt.Sprintf("%.1f", f)
	case f >= 1:
		return fmt.Sprintf("%.2f", f)
	}
	return fmt.Sprintf("%.3f", f)
}
