// Package testenv gives tests a real PostgreSQL + PostGIS and real SPARC
// servers. One private cluster is started per test binary (from the system
// binaries, no Docker); migrations run once into a template database, and
// every test gets its own database cloned from it, so tests run in
// parallel without seeing each other's rows. Packages using it call Main
// from TestMain so the cluster is stopped when the tests end.
package testenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/pgcluster"
	"github.com/sparc-network/sparc/internal/server"
)

const templateDB = "sparc_template"

var (
	once       sync.Once
	cluster    *pgcluster.Cluster
	clusterDir string
	startErr   error
	createMu   sync.Mutex
	dbCounter  atomic.Int64
)

// Main runs the package's tests and stops the cluster afterwards.
func Main(m *testing.M) int {
	code := m.Run()
	if cluster != nil {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: stopping cluster:", err)
		}
		_ = os.RemoveAll(clusterDir)
	}
	return code
}

func start() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	clusterDir, startErr = os.MkdirTemp("", "sparc-test-")
	if startErr != nil {
		return
	}
	cluster, startErr = pgcluster.Start(ctx, pgcluster.Options{
		Dir: filepath.Join(clusterDir, "db"), Database: templateDB, Fast: true,
	})
	if startErr != nil {
		return
	}
	pool, err := db.Open(ctx, cluster.URL(templateDB), 2)
	if err != nil {
		startErr = err
		return
	}
	defer pool.Close()
	startErr = db.Migrate(ctx, pool)
}

// Cluster returns the shared cluster, starting it on first use.
func Cluster(t testing.TB) *pgcluster.Cluster {
	t.Helper()
	once.Do(start)
	if startErr != nil {
		t.Fatalf("starting test database: %v", startErr)
	}
	return cluster
}

// NewDatabase creates a fresh migrated database for this test and returns
// its URL; it is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	c := Cluster(t)
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), dbCounter.Add(1))
	ctx := context.Background()
	createMu.Lock()
	_, err := c.Psql(ctx, "postgres", fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, templateDB))
	createMu.Unlock()
	if err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = c.Psql(context.Background(), "postgres", fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return c.URL(name)
}

// NewPool returns a pool on a fresh database for this test.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), NewDatabase(t), 16)
	if err != nil {
		t.Fatalf("opening test database: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Env is a running SPARC server on a fresh database.
type Env struct {
	App      *app.App
	Pool     *pgxpool.Pool
	Server   *server.Server
	Conn     *grpc.ClientConn
	HTTPBase string // e.g. http://127.0.0.1:41234
	Assets   sparcv1.AssetServiceClient
}

// NewServer starts gRPC and HTTP servers on free loopback ports over a
// fresh database; they stop when the test ends.
func NewServer(t testing.TB) *Env {
	t.Helper()
	pool := NewPool(t)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, pool)
	if err != nil {
		cancel()
		t.Fatalf("building app: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("SPARC_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	srv, err := server.New(ctx, server.Config{
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Logger: logger,
		ShutdownTimeout: 5 * time.Second, Routes: a.Routes(),
	}, pool, a.Services())
	if err != nil {
		cancel()
		t.Fatalf("starting server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		cancel()
		t.Fatalf("dialling server: %v", err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return &Env{App: a, Pool: pool, Server: srv, Conn: conn, HTTPBase: "http://" + srv.HTTPAddr(),
		Assets: sparcv1.NewAssetServiceClient(conn)}
}
