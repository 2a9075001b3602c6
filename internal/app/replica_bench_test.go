package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// BenchmarkSearchReadReplica compares point searches (nearest 20 within
// 2 km over 20,000 assets, gRPC with an admin key, 8 concurrent clients)
// served with the primary alone and with reads on a streaming replica, in
// one run over one database. It reports searches per second and CPU per
// search: this process (servers and clients) plus the PostgreSQL backends
// of the pool that served the searches. On a 2-core machine primary and
// replica share the cores, so the replica cannot add capacity here: what
// it shows is what routing to a replica costs per search.
//
//	go test -run '^$' -bench SearchReadReplica -benchtime 20000x ./internal/app/
func BenchmarkSearchReadReplica(b *testing.B) {
	rep := testenv.StartReplica(b)
	env := testenv.NewServer(b, testenv.Options{Replica: rep})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	var batch []*sparcv1.Asset
	for i := range 20000 {
		batch = append(batch, &sparcv1.Asset{Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: fmt.Sprintf("Group %d", i),
			Categories: []string{"physical_activity"}, Location: &sparcv1.Location{Latitude: 52.40 + rng.Float64()*0.2,
				Longitude: -2.0 + rng.Float64()*0.3, Country: "GB"}})
	}
	// As the owner: fixtures, not a call under test.
	if _, err := assets.NewStore(env.Pool).BulkInsert(ctx, batch); err != nil {
		b.Fatal(err)
	}
	if _, err := env.Pool.Exec(ctx, "VACUUM ANALYZE assets"); err != nil {
		b.Fatal(err)
	}
	_ = rep.ReadPool(b, env.Pool) // waits for the replica to replay the load

	// One node: a second app over the same primary pool, no read pool.
	actx, cancel := context.WithCancel(ctx)
	single, err := app.New(actx, env.AppPool, app.Config{Auth: auth.Config{RatePerSecond: 1e6, Burst: 1e6}})
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	testenv.Serve(b, actx, cancel, single)
	primaryEnv := &testenv.Env{Pool: env.Pool, Server: single.Server()}

	for _, c := range []struct {
		name   string
		assets sparcv1.AssetServiceClient
		pool   *pgxpool.Pool // whose backends serve the searches
	}{
		{"primary only", sparcv1.NewAssetServiceClient(primaryEnv.ConnWithKey(b, env.AdminKey)), env.AppPool},
		{"reads on replica", env.Assets, env.ReadPool},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range 200 { // warm the pool's connections and caches
				search(b, c.assets, rng)
			}
			cpu0, be0 := selfCPU(), backendCPU(b, c.pool)
			start := time.Now()
			var n atomic.Int64
			b.SetParallelism(4) // 8 clients on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(uint64(n.Add(1)), 3))
				for pb.Next() {
					search(b, c.assets, r)
				}
			})
			b.StopTimer()
			wall := time.Since(start)
			cpu := selfCPU() - cpu0 + backendCPU(b, c.pool) - be0
			b.ReportMetric(float64(b.N)/wall.Seconds(), "searches/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/search")
		})
	}
}

func search(b *testing.B, c sparcv1.AssetServiceClient, r *rand.Rand) {
	_, err := c.SearchAssets(context.Background(), &sparcv1.SearchAssetsRequest{Latitude: proto.Float64(52.40 + r.Float64()*0.2),
		Longitude: proto.Float64(-2.0 + r.Float64()*0.3), RadiusMeters: proto.Float64(2000), PageSize: 20})
	if err != nil {
		b.Fatal(err)
	}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU sums the CPU time of the PostgreSQL backends serving pool's
// connections (their pids from pg_stat_activity, times from /proc).
func backendCPU(b *testing.B, pool *pgxpool.Pool) time.Duration {
	rows, err := pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE application_name = current_setting('application_name')`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var total time.Duration
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue // ended since
		}
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		ut, _ := strconv.Atoi(f[11]) // utime, stime: fields 14 and 15 of stat
		st, _ := strconv.Atoi(f[12])
		total += time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
	}
	return total
}
