package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/vocab"
)

const (
	searchRadius = 2000.0
	searchSize   = 20
)

// workload is one kind of search request.
type workload struct {
	name     string
	category bool // filter on one random category
}

var workloads = []workload{
	{name: "near, no filter"},
	{name: "near + category", category: true},
}

// searchCase is one query point in the three forms the paths send.
type searchCase struct {
	req   *sparcv1.SearchAssetsRequest
	query assets.SearchQuery
	url   string
	alt   *searchCase // the same search in another form (postcode section)
}

// path is one way of running a search case.
type path struct {
	name string
	do   func(ctx context.Context, c *searchCase) (ids []string, err error)
}

func runSearch(ctx context.Context, b *bench) error {
	pl, err := newPlaces()
	if err != nil {
		return err
	}
	svc := assets.NewService(b.app.Assets, b.app.Tokens)
	paths := []path{
		{"raw SQL", b.rawSearch},
		{"gRPC", b.grpcSearch},
		{"HTTP", b.httpSearch},
	}
	var total int64
	if err := b.raw.QueryRow(ctx, `SELECT count(*) FROM assets`).Scan(&total); err != nil {
		return err
	}
	b.printf("%d assets; %d random points in the demo regions (cycled); page_size %d, radius %.0f m;\n",
		total, b.cfg.queries, searchSize, searchRadius)
	if b.cfg.requests > 0 {
		b.printf("per cell and path: %v warm-up, then %d requests, in %d rounds taking turns with the other paths\n",
			b.cfg.warmup, b.cfg.requests, b.cfg.rounds)
	} else {
		b.printf("per cell and path: %v warm-up, then %v measured, in %d rounds taking turns with the other paths\n",
			b.cfg.warmup, b.cfg.duration, b.cfg.rounds)
	}
	w := b.table()
	fmt.Fprintln(w, "workload\tconc\tpath\tp50 ms\tp99 ms\tQPS\tratio\t\tCPU/req Go ms\tPG ms\treq/CPU-s\tratio\tother cores\t")
	var notes []string
	for wi, wl := range workloads {
		cases, err := searchCases(svc, pl, wl, b.cfg.queries, b.cfg.seed+uint64(wi)+100, b.httpBase)
		if err != nil {
			return err
		}
		hits, cs, err := b.race(ctx, wl.name, paths, cases)
		if err != nil {
			return err
		}
		notes = append(notes, fmt.Sprintf("%s: %.1f results per query on average (checked: all paths return the same ids in the same order)", wl.name, hits))
		for _, conc := range b.cfg.concurrency {
			res, err := b.compare(ctx, wl.name, conc, len(cases)/b.cfg.rounds, cs)
			if err != nil {
				return err
			}
			for _, p := range paths {
				s := res[p.name]
				ratio, capRatio := "\t", ""
				switch p.name {
				case "gRPC":
					ratio = fmt.Sprintf("gRPC/raw\t%.2f", s.qps/res["raw SQL"].qps)
					capRatio = fmt.Sprintf("%.2f", s.perCPU()/res["raw SQL"].perCPU())
				case "HTTP":
					ratio = fmt.Sprintf("HTTP/gRPC\t%.2f", s.qps/res["gRPC"].qps)
					capRatio = fmt.Sprintf("%.2f", s.perCPU()/res["gRPC"].perCPU())
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%.2f\t%.2f\t%.0f\t%s\t%.3f\t%s\t%.0f\t%s\t%.2f\t\n", wl.name, conc, p.name,
					ms(s.p50), ms(s.p99), s.qps, ratio, ms(s.goCPU), s.pgMS(), s.perCPU(), capRatio, s.otherCores)
			}
			b.searchTargets(wl, conc, res)
		}
	}
	w.Flush()
	for _, n := range notes {
		b.printf("%s\n", n)
	}

	b.printf("CPU/req: Go = this process (servers and load generator), PG = the benchmark's PostgreSQL, per request.\n" +
		"req/CPU-s = requests per second of that CPU (Go + PG): the QPS the path would reach on cores of its own,\n" +
		"and its ratio, the same comparison as the QPS ratio without the bias of sharing the machine.\n" +
		"other cores = busy CPU meanwhile not charged to either (other processes on the machine, and kernel\n" +
		"network work such as loopback TCP that no process is charged for).\n")
	return nil
}

func (b *bench) searchTargets(wl workload, conc int, res map[string]stats) {
	at1M := b.cfg.assets >= 1_000_000
	if conc == 1 {
		b.check(target{what: "gRPC p99, conc 1, " + wl.name, measured: ms(res["gRPC"].p99), unit: "ms", op: "<=", goal: 10,
			scale: "1M assets", atScale: at1M})
	}
	if conc == 16 {
		b.check(target{what: "gRPC/raw QPS, conc 16, " + wl.name, measured: 100 * res["gRPC"].qps / res["raw SQL"].qps,
			unit: "%", op: ">=", goal: 70, scale: "1M assets", atScale: at1M})
		if c := res["raw SQL"].perCPU(); c > 0 {
			b.check(target{what: "  same, per CPU-second (req/CPU-s)", measured: 100 * res["gRPC"].perCPU() / c,
				unit: "%", op: ">=", goal: 70, scale: "1M assets", atScale: at1M})
		}
	}
	b.check(target{what: "HTTP/gRPC QPS, conc " + strconv.Itoa(conc) + ", " + wl.name, measured: 100 * res["HTTP"].qps / res["gRPC"].qps,
		unit: "%", op: ">=", goal: 50, scale: "1M assets", atScale: at1M})
	if c := res["gRPC"].perCPU(); c > 0 {
		b.check(target{what: "  same, per CPU-second (req/CPU-s)", measured: 100 * res["HTTP"].perCPU() / c,
			unit: "%", op: ">=", goal: 50, scale: "1M assets", atScale: at1M})
	}
}

// searchCases draws n query points and prepares each path's request. The
// raw SQL path sends what the service's store sends for the same request.
func searchCases(svc *assets.Service, pl *places, wl workload, n int, seed uint64, httpBase string) ([]searchCase, error) {
	rng := rand.New(rand.NewPCG(seed, 2))
	out := make([]searchCase, n)
	for i := range out {
		p := pl.draw(rng)
		req := &sparcv1.SearchAssetsRequest{Latitude: proto.Float64(p.lat), Longitude: proto.Float64(p.lng),
			RadiusMeters: proto.Float64(searchRadius), PageSize: searchSize}
		v := url.Values{}
		v.Set("latitude", strconv.FormatFloat(p.lat, 'f', -1, 64))
		v.Set("longitude", strconv.FormatFloat(p.lng, 'f', -1, 64))
		v.Set("radius_meters", strconv.FormatFloat(searchRadius, 'f', -1, 64))
		v.Set("page_size", strconv.Itoa(searchSize))
		if wl.category {
			c := vocab.Categories[rng.IntN(len(vocab.Categories))].Code
			req.Categories = []string{c}
			v.Set("categories", c)
		}
		q, err := svc.SearchQuery(req)
		if err != nil {
			return nil, fmt.Errorf("benchmark request rejected: %w", err)
		}
		out[i] = searchCase{req: req, query: q, url: httpBase + "/v1/assets:search?" + v.Encode()}
	}
	return out, nil
}

// race checks that the paths agree on the cases (see agree) and returns
// the mean number of results with the paths as contenders over the cases.
func (b *bench) race(ctx context.Context, workload string, paths []path, cases []searchCase) (float64, []contender, error) {
	hits, err := b.agree(ctx, paths, cases)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", workload, err)
	}
	cs := make([]contender, len(paths))
	for i, p := range paths {
		cs[i] = overCases(p.name, cases, p.do)
	}
	return hits, cs, nil
}

// agree checks on a sample that every path returns the same assets in the
// same order, so the paths compare like with like; it returns the mean
// number of results.
func (b *bench) agree(ctx context.Context, paths []path, cases []searchCase) (float64, error) {
	ctx = context.WithValue(ctx, decodeKey{}, true)
	n := min(len(cases), 100)
	total := 0
	for i := range n {
		var want []string
		for j, p := range paths {
			ids, err := p.do(ctx, &cases[i])
			if err != nil {
				return 0, fmt.Errorf("%s: %w", p.name, err)
			}
			if j == 0 {
				want = ids
				total += len(ids)
				continue
			}
			// Paths that report sessions (raw SQL from the store's columns,
			// gRPC decoded by the store) must agree on them too.
			full := len(ids) > 0 && strings.Contains(ids[0], "|")
			cmp := func(x string) string {
				if full {
					return x
				}
				id, _, _ := strings.Cut(x, "|")
				return id
			}
			if len(ids) != len(want) || !slices.EqualFunc(ids, want, func(a, b string) bool { return cmp(a) == cmp(b) }) {
				return 0, fmt.Errorf("%s and %s disagree on %s: %v vs %v", paths[0].name, p.name, cases[i].url, want, ids)
			}
		}
	}
	return float64(total) / float64(n), nil
}

// rawSearch sends the store's batch (assets.SearchBatch: the planner
// settings of a point search, then assets.SearchSQL) directly and scans
// every column into the Go types the store reads; the extra row that tells
// the service whether there is a next page is read too, and dropped.
func (b *bench) rawSearch(ctx context.Context, c *searchCase) ([]string, error) {
	br := b.search.SendBatch(ctx, assets.SearchBatch(c.query))
	defer br.Close()
	if c.query.Near != nil {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	var r rawRow
	targets := r.targets()
	check := ctx.Value(decodeKey{}) != nil
	for rows.Next() {
		if err := rows.Scan(targets...); err != nil {
			return nil, err
		}
		if !check {
			ids = append(ids, r.id.String())
			continue
		}
		// Six values per session: day, start, end, zone, valid from, until.
		fp := r.id.String() + "|"
		for i := 0; i+6 <= len(r.sessions); i += 6 {
			fp += strings.Join(r.sessions[i:i+6], " ") + ";"
		}
		ids = append(ids, fp)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return ids[:min(len(ids), searchSize)], nil
}

// rawRow mirrors the columns of the store's search statement.
type rawRow struct {
	id                                   uuid.UUID
	kind, name, desc                     string
	categories                           []string
	lat, lng                             float64
	address, postcode, locality, country string
	serviceArea                          string
	sessions                             pgtype.FlatArray[string] // the store's session values
	cost, costNote                       string
	accessibility, languages             []string
	minAge, maxAge                       *int32
	contactName, email, phone, website   string
	capacity                             *int32
	accepting                            bool
	status, owner                        string
	lastVerified                         *time.Time
	created, updated                     time.Time
	version                              int64
	availability                         *string
	placesLeft                           *int32
	delivery                             *string
	areaCodes                            []string
	areaCountry                          string
	distance                             float64
	rank                                 float32
}

func (r *rawRow) targets() []any {
	return []any{&r.id, &r.kind, &r.name, &r.desc, &r.categories, &r.lat, &r.lng,
		&r.address, &r.postcode, &r.locality, &r.country, &r.serviceArea, &r.sessions, &r.cost, &r.costNote,
		&r.accessibility, &r.languages, &r.minAge, &r.maxAge, &r.contactName, &r.email, &r.phone, &r.website,
		&r.capacity, &r.accepting, &r.status, &r.owner, &r.lastVerified, &r.created, &r.updated, &r.version,
		&r.availability, &r.placesLeft, &r.delivery, &r.areaCodes, &r.areaCountry, &r.distance, &r.rank}
}

func (b *bench) grpcSearch(ctx context.Context, c *searchCase) ([]string, error) {
	resp, err := b.grpc.SearchAssets(ctx, c.req)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(resp.GetResults()))
	check := ctx.Value(decodeKey{}) != nil
	for i, r := range resp.GetResults() {
		ids[i] = assets.ID(r.GetAsset()).String()
		if check {
			ids[i] += "|"
			for _, s := range r.GetAsset().GetSessions() {
				ids[i] += fmt.Sprintf("%d %s %s %s %s %s;", s.GetDay(), s.GetStartTime(), s.GetEndTime(), s.GetTimezone(), s.GetValidFrom(), s.GetValidUntil())
			}
		}
	}
	return ids, nil
}

// httpSearch sends GET /v1/assets:search and reads the whole body; ids are
// decoded only when the caller looks at them (the agreement check).
func (b *bench) httpSearch(ctx context.Context, c *searchCase) ([]string, error) {
	body, err := b.fetch(ctx, c.url)
	if err != nil {
		return nil, err
	}
	if ctx.Value(decodeKey{}) == nil {
		return nil, nil
	}
	var out struct {
		Results []struct {
			Asset struct {
				Name string `json:"name"`
			} `json:"asset"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("decoding search response: %w", err)
	}
	ids := make([]string, len(out.Results))
	for i, r := range out.Results {
		ids[i] = strings.TrimPrefix(r.Asset.Name, "assets/")
	}
	return ids, nil
}

type decodeKey struct{}
