package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
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
	basic *searchCase // the same search in the BASIC view (search section)
}

// path is one way of running a search case.
type path struct {
	name string
	do   func(ctx context.Context, c *searchCase) (ids []string, err error)
}

// searchVs names, for a search path, the path its QPS is compared with in
// the table's ratio column.
var searchVs = map[string]string{
	"FULL SQL": minimalPath, "BASIC SQL": "FULL SQL",
	"gRPC FULL": "FULL SQL", "gRPC BASIC": "BASIC SQL",
	"HTTP FULL": "gRPC FULL", "HTTP BASIC": "gRPC BASIC",
}

// minimalPath is the database's own limit for the search: every other
// path's QPS is shown as a share of it.
const minimalPath = "minimal SQL"

// searchPaths are the ways the search section runs each query point, in
// the table's order; every one must return the same ids in the same
// order. A new way of searching (another server, an index) is one line.
func (b *bench) searchPaths() []path {
	basic := func(do func(context.Context, *searchCase) ([]string, error)) func(context.Context, *searchCase) ([]string, error) {
		return func(ctx context.Context, c *searchCase) ([]string, error) { return do(ctx, c.basic) }
	}
	return []path{
		{minimalPath, b.minimalSearch},
		{"FULL SQL", b.rawSearch},
		{"BASIC SQL", basic(b.rawSearch)},
		{"gRPC FULL", b.grpcSearch},
		{"gRPC BASIC", basic(b.grpcSearch)},
		{"HTTP FULL", b.httpSearch},
		{"HTTP BASIC", basic(b.httpSearch)},
	}
}

func runSearch(ctx context.Context, b *bench) error {
	pl, err := newPlaces()
	if err != nil {
		return err
	}
	svc := assets.NewService(b.app.Assets, b.app.Tokens)
	paths := b.searchPaths()
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
	if err := b.indexReport(ctx, total); err != nil {
		return err
	}
	w := b.table()
	fmt.Fprintln(w, "workload\tconc\tpath\tp50 ms\tp99 ms\tQPS\tof minimal\tratio\t\tCPU/req Go ms\tPG ms\treq/CPU-s\tratio\tother cores\t")
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
				if vs, ok := res[searchVs[p.name]]; ok {
					ratio = fmt.Sprintf("/%s\t%.2f", searchVs[p.name], s.qps/vs.qps)
					if c := vs.perCPU(); c > 0 {
						capRatio = fmt.Sprintf("%.2f", s.perCPU()/c)
					}
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%.2f\t%.2f\t%.0f\t%.0f%%\t%s\t%.3f\t%s\t%.0f\t%s\t%.2f\t\n", wl.name, conc, p.name,
					ms(s.p50), ms(s.p99), s.qps, 100*s.qps/res[minimalPath].qps, ratio, ms(s.goCPU), s.pgMS(), s.perCPU(), capRatio, s.otherCores)
			}
			b.searchTargets(wl, conc, res)
		}
	}
	w.Flush()
	for _, n := range notes {
		b.printf("%s\n", n)
	}

	b.printf("of minimal = QPS as a share of the minimal SQL's (id and distance only), the database's own limit for this query.\n" +
		"ratio = QPS against the path named (FULL SQL/minimal: the store's columns; gRPC/SQL: the service over its SQL; HTTP/gRPC: the gateway).\n")
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
		b.check(target{what: "gRPC FULL p99, conc 1, " + wl.name, measured: ms(res["gRPC FULL"].p99), unit: "ms", op: "<=", goal: 10,
			scale: "1M assets", atScale: at1M})
		b.check(target{what: "gRPC BASIC p99, conc 1, " + wl.name, measured: ms(res["gRPC BASIC"].p99), unit: "ms", op: "<=", goal: 1,
			scale: "1M assets", atScale: at1M})
	}
	if conc == 16 {
		b.check(target{what: "gRPC FULL/FULL SQL QPS, conc 16, " + wl.name, measured: 100 * res["gRPC FULL"].qps / res["FULL SQL"].qps,
			unit: "%", op: ">=", goal: 70, scale: "1M assets", atScale: at1M})
		if c := res["FULL SQL"].perCPU(); c > 0 {
			b.check(target{what: "  same, per CPU-second (req/CPU-s)", measured: 100 * res["gRPC FULL"].perCPU() / c,
				unit: "%", op: ">=", goal: 70, scale: "1M assets", atScale: at1M})
		}
		b.check(target{what: "gRPC BASIC/minimal SQL QPS, conc 16, " + wl.name, measured: 100 * res["gRPC BASIC"].qps / res[minimalPath].qps,
			unit: "%", op: ">=", goal: 100, scale: "1M assets", atScale: at1M})
		b.check(target{what: "HTTP BASIC/gRPC BASIC QPS, conc 16, " + wl.name, measured: 100 * res["HTTP BASIC"].qps / res["gRPC BASIC"].qps,
			unit: "%", op: ">=", goal: 80, scale: "1M assets", atScale: at1M})
	}
	b.check(target{what: "HTTP FULL/gRPC FULL QPS, conc " + strconv.Itoa(conc) + ", " + wl.name, measured: 100 * res["HTTP FULL"].qps / res["gRPC FULL"].qps,
		unit: "%", op: ">=", goal: 50, scale: "1M assets", atScale: at1M})
	if c := res["gRPC FULL"].perCPU(); c > 0 {
		b.check(target{what: "  same, per CPU-second (req/CPU-s)", measured: 100 * res["HTTP FULL"].perCPU() / c,
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
		breq := proto.CloneOf(req)
		breq.View = sparcv1.AssetView_ASSET_VIEW_BASIC
		bq, err := svc.SearchQuery(breq)
		if err != nil {
			return nil, fmt.Errorf("benchmark request rejected: %w", err)
		}
		v.Set("view", "ASSET_VIEW_BASIC")
		out[i].basic = &searchCase{req: breq, query: bq, url: httpBase + "/v1/assets:search?" + v.Encode()}
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
// number of results. A path may add to each id fingerprints of what it
// read, each "|kind:value" ("sessions", "next"): paths giving the same
// kind must agree on it too (the sessions the store's columns hold, as
// SQL and gRPC FULL read them; the next session as both views compute it).
func (b *bench) agree(ctx context.Context, paths []path, cases []searchCase) (float64, error) {
	ctx = context.WithValue(ctx, decodeKey{}, true)
	n := min(len(cases), 100)
	total := 0
	for i := range n {
		var want []string
		type print struct {
			path   string
			values []string
		}
		first := map[string]print{} // fingerprint kind → the first path giving it
		for j, p := range paths {
			got, err := p.do(ctx, &cases[i])
			if err != nil {
				return 0, fmt.Errorf("%s: %w", p.name, err)
			}
			ids := make([]string, len(got))
			prints := map[string][]string{}
			for k, x := range got {
				parts := strings.Split(x, "|")
				ids[k] = parts[0]
				for _, f := range parts[1:] {
					kind, v, _ := strings.Cut(f, ":")
					prints[kind] = append(prints[kind], strconv.Itoa(k)+" "+v)
				}
			}
			if j == 0 {
				want = ids
				total += len(ids)
			} else if !slices.Equal(ids, want) {
				return 0, fmt.Errorf("%s and %s disagree on %s: %v vs %v", paths[0].name, p.name, cases[i].url, want, ids)
			}
			for kind, values := range prints {
				if f, ok := first[kind]; !ok {
					first[kind] = print{p.name, values}
				} else if !slices.Equal(values, f.values) {
					return 0, fmt.Errorf("%s and %s disagree on %s of %s: %v vs %v", f.path, p.name, kind, cases[i].url, f.values, values)
				}
			}
		}
	}
	return float64(total) / float64(n), nil
}

// minimalSearch is the least SQL that gives the ids of the page: id and
// distance, the radius, the status filter (the search returns active
// assets) and the workload's category, KNN order and the store's limit
// (page size and one), on the point search pool as the store's searches
// run.
func (b *bench) minimalSearch(ctx context.Context, c *searchCase) ([]string, error) {
	n := c.query.Near
	sql, p := minimalSQL, []any{pointEWKT(n.Lat, n.Lng), n.RadiusMeters, c.query.Limit + 1}
	if len(c.query.Categories) > 0 {
		sql, p = minimalCategorySQL, append(p, c.query.Categories)
	}
	rows, err := b.points.Query(ctx, sql, p...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	var id uuid.UUID
	var dist float64
	for rows.Next() {
		if err := rows.Scan(&id, &dist); err != nil {
			return nil, err
		}
		ids = append(ids, id.String())
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return ids[:min(len(ids), searchSize)], nil
}

const (
	minimalSQL = `SELECT id, location <-> $1::geography FROM assets
	WHERE ST_DWithin(location, $1::geography, $2, false) AND status = 'active'
	ORDER BY location <-> $1::geography LIMIT $3`
	minimalCategorySQL = `SELECT id, location <-> $1::geography FROM assets
	WHERE ST_DWithin(location, $1::geography, $2, false) AND status = 'active' AND categories && $4::text[]
	ORDER BY location <-> $1::geography LIMIT $3`
)

func pointEWKT(lat, lng float64) string {
	return "SRID=4326;POINT(" + strconv.FormatFloat(lng, 'g', -1, 64) + " " + strconv.FormatFloat(lat, 'g', -1, 64) + ")"
}

// searchPool is the pool the store runs q's statement on: the point
// search pool for a point search, else the plain one.
func (b *bench) searchPool(q assets.SearchQuery) *pgxpool.Pool {
	if q.Near != nil {
		return b.points
	}
	return b.search
}

// rawSearch sends the store's statement (assets.SearchSQL of the case's
// query, FULL or BASIC) directly, on the pool the store would use, and
// scans every column into the Go types the store reads; the extra row that
// tells the service whether there is a next page is read too, and dropped.
func (b *bench) rawSearch(ctx context.Context, c *searchCase) ([]string, error) {
	sql, p := assets.SearchSQL(c.query)
	rows, err := b.searchPool(c.query).Query(ctx, sql, p...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	var r rawRow
	targets := r.targets()
	if c.query.Basic {
		targets = r.basicTargets()
	}
	check := ctx.Value(decodeKey{}) != nil
	for rows.Next() {
		if err := rows.Scan(targets...); err != nil {
			return nil, err
		}
		if !check {
			ids = append(ids, r.id.String())
			continue
		}
		ids = append(ids, r.id.String()+"|sessions:"+rawSessions(r.sessions))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return ids[:min(len(ids), searchSize)], nil
}

// rawSessions fingerprints the store's session values: six per session
// (day, start, end, zone, valid from, until).
func rawSessions(v []string) string {
	fp := ""
	for i := 0; i+6 <= len(v); i += 6 {
		fp += strings.Join(v[i:i+6], " ") + ";"
	}
	return fp
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

// basicTargets mirror the columns of the BASIC view's statement.
func (r *rawRow) basicTargets() []any {
	return []any{&r.id, &r.kind, &r.name, &r.categories, &r.lat, &r.lng, &r.locality, &r.country,
		&r.sessions, &r.cost, &r.accessibility, &r.accepting, &r.status, &r.availability,
		&r.placesLeft, &r.delivery, &r.areaCodes, &r.areaCountry, &r.distance, &r.rank}
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
		if !check {
			continue
		}
		// Both views compute the next session; BASIC has no sessions.
		ids[i] += "|next:" + r.GetAsset().GetNextSessionTime().String()
		if c.query.Basic {
			continue
		}
		ids[i] += "|sessions:"
		for _, s := range r.GetAsset().GetSessions() {
			ids[i] += fmt.Sprintf("%d %s %s %s %s %s;", s.GetDay(), s.GetStartTime(), s.GetEndTime(), s.GetTimezone(), s.GetValidFrom(), s.GetValidUntil())
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

// indexReport waits for the server's search index to load (when it is
// on) and prints what the issue asks of it: load time and memory per
// million assets. The memory is the growth of the live heap since the
// server started, after a collection: mostly the index, plus whatever
// else the server keeps (pools, caches), so an upper bound.
func (b *bench) indexReport(ctx context.Context, total int64) error {
	ix := b.app.SearchIndex()
	if ix == nil {
		b.printf("search index: off (-search-index=false): every search goes to PostGIS\n")
		return nil
	}
	deadline := time.Now().Add(5 * time.Minute)
	for !ix.Loaded() || int64(ix.Stats().Assets) < total*9/10 {
		if time.Now().After(deadline) {
			return fmt.Errorf("the search index did not load within 5 minutes (%d of %d assets)", ix.Stats().Assets, total)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	st := ix.Stats()
	heap := int64(liveHeap()) - int64(b.heapBefore)
	perM := float64(heap) / float64(max(st.Assets, 1)) * 1e6 / (1 << 20)
	b.printf("search index: %d located assets loaded in %.2f s; live heap +%.0f MB since the server started (%.0f MB per million assets, an upper bound)\n",
		st.Assets, st.LastLoad.Seconds(), float64(heap)/(1<<20), perM)
	b.targets = append(b.targets, target{what: "search index load, per million assets", measured: st.LastLoad.Seconds() * 1e6 / float64(max(st.Assets, 1)), unit: "s", op: "<=", goal: 10, scale: "1M assets", atScale: total >= 1_000_000})
	return nil
}

// liveHeap is the live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
