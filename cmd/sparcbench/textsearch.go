package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"

	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
)

// What people type into the search box, in two sets: words the search of
// before finds too (the cost of the new matching on the same answers), and
// words only the new search finds: Dutch compound parts ("koor", "tuin"),
// word starts past the stem ("gardeni"), category labels
// ("bewegen", "sport": every asset of the category matches).
var (
	typedBoth = []string{"walking", "choir", "repair cafe", "moestuin", "community lunch", "yoga", "buurtkoor", "job club"}
	typedNew  = []string{"koor", "tuin", "gardeni", "bewegen", "zorg", "taal", "sport"}
)

// textWorkloads: text alone (ordered by rank, every match read) and text
// as a filter of a point search (KNN, the page read).
var textWorkloads = []struct {
	name  string
	near  bool
	words []string
}{
	{"text only, words both find", false, typedBoth}, {"text only, words only now finds", false, typedNew},
	{"near + text, words both find", true, typedBoth}, {"near + text, words only now finds", true, typedNew},
}

func init() {
	sections = append(sections, section{
		name:  "textsearch",
		doc:   "text search with compound and partial matching vs the text search of before (raw SQL), and over gRPC",
		needs: []string{"load"},
		run: func(ctx context.Context, b *bench) error {
			pl, err := newPlaces()
			if err != nil {
				return err
			}
			return b.runTextSearch(ctx, assets.NewService(b.app.Assets, b.app.Tokens), pl)
		},
	})
}

// runTextSearch compares the text search with compound and partial
// matching (assets.SearchSQL) with the text search of before
// (assets.BaselineSearchSQL: stemmed full-text prefixes only), both as raw
// SQL from the same pool on the same requests; the target is at
// most 1.5 times the latency of before. gRPC runs the new search through
// the service.
func (b *bench) runTextSearch(ctx context.Context, svc *assets.Service, pl *places) error {
	w := b.table()
	fmt.Fprintln(w, "workload\tconc\tpath\tp50 ms\tp99 ms\tQPS\tCPU/req Go ms\tPG ms\tresults/query\t")
	for wi, wl := range textWorkloads {
		rng := rand.New(rand.NewPCG(b.cfg.seed+uint64(wi)+300, 3))
		cases := make([]searchCase, b.cfg.queries)
		for i := range cases {
			req := &sparcv1.SearchAssetsRequest{Query: wl.words[i%len(wl.words)], PageSize: searchSize}
			v := url.Values{"query": {req.Query}, "page_size": {strconv.Itoa(searchSize)}}
			if wl.near {
				p := pl.draw(rng)
				req.Latitude, req.Longitude, req.RadiusMeters = proto.Float64(p.lat), proto.Float64(p.lng), proto.Float64(searchRadius)
			}
			q, err := svc.SearchQuery(req)
			if err != nil {
				return fmt.Errorf("benchmark text request rejected: %w", err)
			}
			cases[i] = searchCase{req: req, query: q, url: b.httpBase + "/v1/assets:search?" + v.Encode()}
		}
		raw := func(stmt func(assets.SearchQuery) (string, []any)) func(ctx context.Context, c *searchCase) (int, error) {
			return func(ctx context.Context, c *searchCase) (int, error) {
				sql, p := stmt(c.query)
				rows, err := b.searchPool(c.query).Query(ctx, sql, p...)
				if err != nil {
					return 0, err
				}
				n := 0
				for rows.Next() {
					n++
				}
				rows.Close()
				return min(n, searchSize), rows.Err()
			}
		}
		paths := []struct {
			name string
			do   func(ctx context.Context, c *searchCase) (int, error)
		}{
			{"before (raw SQL)", raw(assets.BaselineSearchSQL)},
			{"now (raw SQL)", raw(assets.SearchSQL)},
			{"now (gRPC)", func(ctx context.Context, c *searchCase) (int, error) {
				resp, err := b.grpc.SearchAssets(ctx, c.req)
				return len(resp.GetResults()), err
			}},
		}
		hits := map[string]float64{}
		for _, p := range paths {
			n := min(len(cases), len(wl.words)*4)
			for i := range n {
				k, err := p.do(ctx, &cases[i])
				if err != nil {
					return fmt.Errorf("%s, %s: %w", wl.name, p.name, err)
				}
				hits[p.name] += float64(k) / float64(n)
			}
		}
		cs := make([]contender, len(paths))
		for i, p := range paths {
			cs[i] = overCases(p.name, cases, p.do)
		}
		for _, conc := range b.cfg.concurrency {
			res, err := b.compare(ctx, wl.name, conc, len(cases)/b.cfg.rounds, cs)
			if err != nil {
				return err
			}
			for _, p := range paths {
				s := res[p.name]
				fmt.Fprintf(w, "%s\t%d\t%s\t%.2f\t%.2f\t%.0f\t%.3f\t%s\t%.1f\t\n", wl.name, conc, p.name,
					ms(s.p50), ms(s.p99), s.qps, ms(s.goCPU), s.pgMS(), hits[p.name])
			}
			// Only where both find the same is a ratio of latencies a cost:
			// for the other words "before" finds nothing.
			if wl.words[0] != typedBoth[0] {
				continue
			}
			before, now := res["before (raw SQL)"], res["now (raw SQL)"]
			b.check(target{what: fmt.Sprintf("text search now/before p50 latency, conc %d, %s", conc, wl.name),
				measured: float64(now.p50) / float64(before.p50), unit: "x", op: "<=", goal: 1.5, scale: "any size", atScale: true})
			if before.pgCPU > 0 && now.pgCPU > 0 {
				b.check(target{what: "  same, PostgreSQL CPU per request", measured: float64(now.pgCPU) / float64(before.pgCPU),
					unit: "x", op: "<=", goal: 1.5, scale: "any size", atScale: true})
			}
		}
	}
	w.Flush()
	b.printf("Words both find: %q; words only now finds: %q.\n\"before\" is the text search of before compound and partial matching\n"+
		"(stemmed full-text prefixes only), \"now\" the search as served. results/query: mean over a sample.\n", typedBoth, typedNew)
	return nil
}
