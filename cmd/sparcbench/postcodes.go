package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/postcodes"
)

// The postcode section (issue 14): a search from a postcode against the
// same search from the postcode's point, in the same run (the goal: at
// most 10% slower). A postcode search is the point search plus one
// primary-key lookup (an existing postcode) or that and one aggregate
// over the sector (a postcode newer than the data), so the difference is
// the lookup. It also times loading the demo postcodes with COPY.
func init() {
	sections = append(sections, section{
		name:  "postcode",
		doc:   "search from a postcode vs from its point (gRPC, HTTP); demo postcode load (COPY)",
		needs: []string{"load"},
		run:   runPostcode,
	})
}

// postcodeWorkloads: postcodes in the data, and new ones (not in the
// 2014 data: placed at their sector's centre).
var postcodeWorkloads = []struct {
	name string
	sql  string
}{
	// Random demo postcodes (seeded), half of them written as people
	// type them: lower case without the space.
	{"postcode in the data", `SELECT postcode FROM postcodes WHERE country = 'GB' ORDER BY md5(postcode || $2) LIMIT $1`},
	// Each sector's "ZZ" postcode where the data lacks it.
	{"new postcode (sector centre)", `SELECT s || 'ZZ' FROM (SELECT DISTINCT sector AS s FROM postcodes WHERE country = 'GB') x
		WHERE NOT EXISTS (SELECT 1 FROM postcodes q WHERE q.country = 'GB' AND q.postcode = x.s || 'ZZ')
		ORDER BY md5(s || $2) LIMIT $1`},
}

func runPostcode(ctx context.Context, b *bench) error {
	start := time.Now()
	n, err := demo.LoadPostcodes(ctx, b.app.Pool)
	if err != nil {
		return err
	}
	if n > 0 {
		el := time.Since(start)
		b.printf("demo postcodes loaded (COPY into staging, then one upsert): %d rows in %v, %.0f rows/s\n",
			n, el.Round(time.Millisecond), float64(n)/el.Seconds())
	} else {
		b.printf("demo postcodes already loaded\n")
	}
	locator := postcodes.NewLocator(postcodes.NewStore(b.app.Pool))
	paths := []path{
		{"point gRPC", func(ctx context.Context, c *searchCase) ([]string, error) { return b.grpcSearch(ctx, c) }},
		{"postcode gRPC", func(ctx context.Context, c *searchCase) ([]string, error) { return b.grpcSearch(ctx, c.alt) }},
		{"point HTTP", func(ctx context.Context, c *searchCase) ([]string, error) { return b.httpSearch(ctx, c) }},
		{"postcode HTTP", func(ctx context.Context, c *searchCase) ([]string, error) { return b.httpSearch(ctx, c.alt) }},
	}
	b.printf("%d random demo postcodes per workload (cycled); page_size %d, radius %.0f m\n", b.cfg.queries, searchSize, searchRadius)
	w := b.table()
	fmt.Fprintln(w, "workload\tconc\tpath\tp50 ms\tp99 ms\tQPS\tCPU/req Go ms\tPG ms\treq/CPU-s\tpostcode/point p50\tCPU/req\t")
	var notes []string
	for wi, wl := range postcodeWorkloads {
		var codes []string
		rows, err := b.raw.Query(ctx, wl.sql, b.cfg.queries, strconv.FormatUint(b.cfg.seed+uint64(wi), 10))
		if err != nil {
			return err
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				rows.Close()
				return err
			}
			if len(codes)%2 == 0 {
				c = strings.ToLower(strings.ReplaceAll(c, " ", ""))
			}
			codes = append(codes, c)
		}
		rows.Close()
		if len(codes) == 0 {
			return fmt.Errorf("%s: no postcodes to search from", wl.name)
		}
		cases := make([]searchCase, len(codes))
		for i, c := range codes {
			lat, lng, _, err := locator.Locate(ctx, "postcode", "", c)
			if err != nil {
				return fmt.Errorf("%s: %w", c, err)
			}
			cases[i] = pointAndPostcode(b.httpBase, lat, lng, c)
		}
		hits, cs, err := b.race(ctx, wl.name, paths, cases)
		if err != nil {
			return err
		}
		notes = append(notes, fmt.Sprintf("%s: %.1f results per query on average (checked: postcode and point return the same ids in the same order)", wl.name, hits))
		for _, conc := range b.cfg.concurrency {
			res, err := b.compare(ctx, wl.name, conc, max(len(cases)/b.cfg.rounds, 1), cs)
			if err != nil {
				return err
			}
			for _, p := range paths {
				s := res[p.name]
				ratio := "\t"
				if pc, ok := strings.CutPrefix(p.name, "postcode "); ok {
					pt := res["point "+pc]
					ratio = fmt.Sprintf("%.2f\t%s", float64(s.p50)/float64(pt.p50), cpuRatio(s, pt))
					if wi == 0 {
						b.check(target{what: fmt.Sprintf("postcode/point search p50, %s, conc %d", pc, conc),
							measured: 100 * float64(s.p50) / float64(pt.p50), unit: "%", op: "<=", goal: 110, scale: "any", atScale: true})
					}
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%.2f\t%.2f\t%.0f\t%.3f\t%s\t%.0f\t%s\t\n", wl.name, conc, p.name,
					ms(s.p50), ms(s.p99), s.qps, ms(s.goCPU), s.pgMS(), s.perCPU(), ratio)
			}
		}
	}
	w.Flush()
	for _, n := range notes {
		b.printf("%s\n", n)
	}
	b.printf("postcode/point: the postcode path's p50 and CPU per request over the point path's, same run, same points.\n")
	return nil
}

// cpuRatio is a's CPU per request over b's (Go + PG), or "-" unknown.
func cpuRatio(a, b stats) string {
	if a.perCPU() == 0 || b.perCPU() == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", b.perCPU()/a.perCPU())
}

// pointAndPostcode is the point search at lat, lng and, as its alt, the
// same search from postcode code.
func pointAndPostcode(base string, lat, lng float64, code string) searchCase {
	v := url.Values{}
	v.Set("latitude", strconv.FormatFloat(lat, 'f', -1, 64))
	v.Set("longitude", strconv.FormatFloat(lng, 'f', -1, 64))
	v.Set("radius_meters", strconv.FormatFloat(searchRadius, 'f', -1, 64))
	v.Set("page_size", strconv.Itoa(searchSize))
	pv := url.Values{}
	pv.Set("postcode", code)
	pv.Set("radius_meters", strconv.FormatFloat(searchRadius, 'f', -1, 64))
	pv.Set("page_size", strconv.Itoa(searchSize))
	return searchCase{
		req: &sparcv1.SearchAssetsRequest{Latitude: proto.Float64(lat), Longitude: proto.Float64(lng),
			RadiusMeters: proto.Float64(searchRadius), PageSize: searchSize},
		url: base + "/v1/assets:search?" + v.Encode(),
		alt: &searchCase{req: &sparcv1.SearchAssetsRequest{Postcode: code, RadiusMeters: proto.Float64(searchRadius), PageSize: searchSize},
			url: base + "/v1/assets:search?" + pv.Encode()},
	}
}
