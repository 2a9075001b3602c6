package assets_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/testenv"
)

// BenchmarkSearchNear measures Store.Search for twenty nearest assets
// among 20,000 with sessions like the benchmark's, on one connection, and
// reports the CPU each search costs in Go and in its PostgreSQL backend.
func BenchmarkSearchNear(b *testing.B) {
	owner := testenv.NewPool(b)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	var batch []*sparcv1.Asset
	for i := range 20000 {
		a := &sparcv1.Asset{Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: fmt.Sprintf("Group %d", i),
			Status:   sparcv1.AssetStatus_ASSET_STATUS_ACTIVE,
			Location: &sparcv1.Location{Latitude: 52.4 + rng.Float64()*0.2, Longitude: -2 + rng.Float64()*0.3, Country: "GB"}}
		for range rng.IntN(4) {
			h := 8 + rng.IntN(12)
			s := &sparcv1.Session{Day: sparcv1.Weekday(1 + rng.IntN(7)), StartTime: fmt.Sprintf("%02d:%02d", h, 30*rng.IntN(2)),
				EndTime: fmt.Sprintf("%02d:00", h+1+rng.IntN(3)), Timezone: "Europe/London"}
			if rng.IntN(5) == 0 {
				s.ValidFrom, s.ValidUntil = "2026-01-01", "2027-06-30"
			}
			a.Sessions = append(a.Sessions, s)
		}
		batch = append(batch, a)
	}
	if _, err := assets.NewStore(owner).BulkInsert(ctx, batch); err != nil {
		b.Fatal(err)
	}
	if _, err := owner.Exec(ctx, "VACUUM ANALYZE assets"); err != nil {
		b.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(owner.Config().ConnString())
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns, cfg.MinConns = 1, 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	var pid int
	if err := pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		b.Fatal(err)
	}
	store := assets.NewStore(pool)
	qs := make([]assets.SearchQuery, 256)
	for i := range qs {
		qs[i] = assets.SearchQuery{Near: &assets.Near{Lat: 52.45 + rng.Float64()*0.1, Lng: -1.9 + rng.Float64()*0.1, RadiusMeters: 2000},
			Statuses: []string{"active"}, Limit: 20}
	}
	for i := range 200 { // warm up
		if _, err := store.Search(ctx, qs[i%len(qs)]); err != nil {
			b.Fatal(err)
		}
	}
	goCPU, pgCPU := selfCPU(), procCPU(b, pid)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		hits, err := store.Search(ctx, qs[i%len(qs)])
		if err != nil || len(hits) != 21 {
			b.Fatalf("%d hits, %v", len(hits), err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((selfCPU()-goCPU).Microseconds())/float64(b.N), "go-µs/op")
	b.ReportMetric(float64((procCPU(b, pid)-pgCPU).Microseconds())/float64(b.N), "pg-µs/op")
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the user and system CPU of process pid (clock ticks of 10 ms).
func procCPU(b *testing.B, pid int) time.Duration {
	s, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(s[strings.LastIndexByte(string(s), ')')+2:]))
	u, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(u+st) * 10 * time.Millisecond
}
