package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/server"
	"github.com/sparc-network/sparc/internal/webhooks"
)

// The access-control section (issue 4): what authentication, the policy
// check, rate limiting and the audit event cost, on the write path
// (UpdateAsset by a group editor) and on public search. The comparison is
// a second server built by the same root whose guard only sets the
// caller (no key lookup, no audit): the difference between
// the two is the cost of auth + audit. The raw SQL of the write without
// auth/audit is shown as the limit.
func init() {
	sections = append(sections, section{
		name:  "access",
		doc:   "auth + audit overhead: UpdateAsset with a key vs without; public search",
		needs: []string{"load"},
		run:   runAccess,
	})
}

// trusted is an authorisation layer for the benchmark only: every call
// acts as one principal, with nothing checked or recorded.
type trusted struct{ p *auth.Principal }

func (t trusted) Unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	return h(auth.WithPrincipal(ctx, t.p), req)
}

func (t trusted) Stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, ss)
}

func (trusted) GuardHTTP(_ string, next http.Handler, _ func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return next
}
func (trusted) Flush(context.Context) {}

const accessAssets = 2000

// trustedServer is the comparison server: the same wiring on the same
// database, its guard trusting every call as a group editor of org (a
// second sparcd that does not deliver webhooks, as a replica would run).
// Its own pool, as large as the server's: both lose the same connections
// to their listeners.
func trustedServer(ctx context.Context, b *bench, org uuid.UUID) (*server.Server, func(), error) {
	pool, err := db.OpenApp(ctx, b.url, int32(b.cfg.maxConns))
	if err != nil {
		return nil, nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sctx, stop := context.WithCancel(context.Background())
	a, err := app.New(sctx, pool, app.Config{Auth: benchAuth, Webhooks: webhooks.Config{Disabled: true},
		Server: benchServer(quiet), Guard: trusted{p: &auth.Principal{Name: "bench", Org: org.String(), Role: auth.RoleGroupEditor}}})
	if err != nil {
		stop()
		pool.Close()
		return nil, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx) }()
	return a.Server(), func() { stop(); <-done; pool.Close() }, nil
}

func runAccess(ctx context.Context, b *bench) error {
	org := uuid.NewSHA1(uuid.NameSpaceURL, []byte("sparcbench/access/org"))
	if _, err := b.raw.Exec(ctx, `INSERT INTO organisations (id, kind, name) VALUES ($1, 'community_group', 'Benchmark group')
		ON CONFLICT (id) DO NOTHING`, org); err != nil {
		return err
	}
	_, key, err := auth.NewKeyStore(b.raw).Create(ctx, org, auth.RoleGroupEditor, "sparcbench access")
	if err != nil {
		return err
	}
	// The group's own listings to edit: many, so writers rarely wait on
	// one row lock.
	ids := make([]string, accessAssets)
	if _, err := b.raw.Exec(ctx, `UPDATE assets SET owner_organisation = $1 WHERE id IN (
		SELECT id FROM assets WHERE owner_organisation IS DISTINCT FROM $1 ORDER BY id LIMIT $2)`, org, accessAssets); err != nil {
		return err
	}
	rows, err := b.raw.Query(ctx, `SELECT id::text FROM assets WHERE owner_organisation = $1 ORDER BY id LIMIT $2`, org, accessAssets)
	if err != nil {
		return err
	}
	n := 0
	for rows.Next() && n < len(ids) {
		if err := rows.Scan(&ids[n]); err != nil {
			rows.Close()
			return err
		}
		n++
	}
	rows.Close()
	ids = ids[:n]
	if len(ids) == 0 {
		return fmt.Errorf("no assets to update")
	}

	plain, stopPlain, err := trustedServer(ctx, b, org)
	if err != nil {
		return err
	}
	defer stopPlain()

	dialAssets := func(addr, key string) (sparcv1.AssetServiceClient, func(), error) {
		c, err := dial(addr, key)
		if err != nil {
			return nil, nil, err
		}
		return sparcv1.NewAssetServiceClient(c), func() { c.Close() }, nil
	}
	withAuth, closeA, err := dialAssets(b.srv.GRPCAddr(), key)
	if err != nil {
		return err
	}
	defer closeA()
	without, closeB, err := dialAssets(plain.GRPCAddr(), "")
	if err != nil {
		return err
	}
	defer closeB()
	anonymous, closeC, err := dialAssets(b.srv.GRPCAddr(), "")
	if err != nil {
		return err
	}
	defer closeC()

	update := func(c sparcv1.AssetServiceClient) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			_, err := c.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{
				Asset:      &sparcv1.Asset{Name: "assets/" + ids[i%len(ids)], Capacity: proto.Int32(int32(10 + i%50))},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"capacity"}}})
			return err
		}
	}
	// The same statements the store runs for that update, without the
	// key lookup and the audit insert.
	rawUpdate := func(ctx context.Context, i int) error {
		id := ids[i%len(ids)]
		ictx := db.WithIdentity(ctx, db.Identity{Org: org.String(), Role: auth.RoleGroupEditor})
		return db.InTx(ictx, b.app.Pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
			var version int64
			if err := tx.QueryRow(ctx, `SELECT version FROM assets WHERE id = $1 FOR UPDATE`, id).Scan(&version); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE assets SET capacity = $2, version = version + 1, updated_at = clock_timestamp() WHERE id = $1`, id, 10+i%50)
			return err
		})
	}
	pl, err := newPlaces()
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(b.cfg.seed, 400))
	points := make([][2]float64, b.cfg.queries)
	for i := range points {
		p := pl.draw(rng)
		points[i] = [2]float64{p.lat, p.lng}
	}
	search := func(c sparcv1.AssetServiceClient) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			p := points[i%len(points)]
			_, err := c.SearchAssets(ctx, &sparcv1.SearchAssetsRequest{Latitude: proto.Float64(p[0]), Longitude: proto.Float64(p[1]),
				RadiusMeters: proto.Float64(searchRadius), PageSize: searchSize})
			return err
		}
	}

	groups := []struct {
		workload string
		paths    []contender
	}{
		{"update asset", []contender{{"raw SQL (no auth, no audit)", rawUpdate}, {"gRPC without auth", update(without)},
			{"gRPC with key + audit", update(withAuth)}}},
		{"public search", []contender{{"gRPC without auth", search(without)}, {"gRPC anonymous", search(anonymous)}}},
	}
	w := b.table()
	fmt.Fprintln(w, "workload\tconc\tpath\tp50 ms\tp99 ms\tQPS\toverhead\tCPU/req Go ms\tPG ms\toverhead/CPU\t")
	for _, g := range groups {
		for _, conc := range b.cfg.concurrency {
			res, err := b.compare(ctx, g.workload, conc, 1000, g.paths)
			if err != nil {
				return err
			}
			base := ""
			var baseStats stats
			for _, c := range g.paths {
				s := res[c.name]
				over, overCPU := "", ""
				if c.name == "gRPC without auth" {
					base, baseStats = c.name, s
				} else if base != "" {
					over = fmt.Sprintf("%+.1f%%", 100*(baseStats.qps/s.qps-1))
					if s.perCPU() > 0 && baseStats.perCPU() > 0 {
						overCPU = fmt.Sprintf("%+.1f%%", 100*(baseStats.perCPU()/s.perCPU()-1))
					}
					goal := 25.0
					if g.workload == "public search" {
						goal = 5
					}
					b.check(target{what: fmt.Sprintf("auth+audit cost, %s, conc %d (QPS)", g.workload, conc),
						measured: 100 * (baseStats.qps/s.qps - 1), unit: "%", op: "<=", goal: goal, scale: "any size", atScale: true})
					if overCPU != "" {
						b.check(target{what: "  same, per CPU-second", measured: 100 * (baseStats.perCPU()/s.perCPU() - 1),
							unit: "%", op: "<=", goal: goal, scale: "any size", atScale: true})
					}
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%.2f\t%.2f\t%.0f\t%s\t%.3f\t%s\t%s\t\n", g.workload, conc, c.name,
					ms(s.p50), ms(s.p99), s.qps, over, ms(s.goCPU), s.pgMS(), overCPU)
			}
		}
	}
	w.Flush()
	b.printf("overhead = how much slower than the same server with a trusted caller (no key lookup, no audit);\n" +
		"the raw SQL row is the write's own statements sent directly, the limit.\n")
	return nil
}
