package main

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/areas/areaclient"
	"github.com/sparc-network/sparc/internal/coverage"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/server"
	"github.com/sparc-network/sparc/internal/vocab"
)

// The coverage section (issue 6): national coverage (32,844 LSOAs x 10
// categories x 100k assets) through the service against the best single
// SQL statement for the same answer, and vector tile latency at zoom 10-14.
// It runs in its own database of the private cluster so its 100k assets,
// spread over England, are the only ones (the load section's assets sit in
// the demo regions). Areas come from the England LSOA file named by
// BENCH_ENGLAND_LSOA (GeoJSON, optionally .gz; it is not in the repository)
// or else from a synthetic tessellation with the same count.
func init() {
	sections = append(sections, section{
		name: "coverage",
		doc:  "national coverage (32,844 areas x 10 categories, 100k assets) vs one raw SQL statement; MVT tile latency z10-14",
		run:  runCoverage,
	})
}

const (
	coverageDB         = "sparcbench_coverage"
	coverageAreaCount  = 32_844
	coverageAssetCount = 100_000
	coverageKind       = "lsoa"
	tilesPerZoom       = 150
)

// coverageCategories are the ten categories the national run measures.
var coverageCategories = []string{"physical_activity", "arts_creativity", "nature_green_space", "social_connection",
	"learning_skills", "volunteering", "food", "money_debt_advice", "mental_wellbeing", "carers"}

type coverageBench struct {
	*bench
	pool     *pgxpool.Pool
	app      *app.App
	srv      *server.Server
	stop     context.CancelFunc
	done     chan error
	httpBase string
}

func runCoverage(ctx context.Context, b *bench) error {
	cb, err := newCoverageBench(ctx, b)
	if err != nil {
		return err
	}
	defer cb.close()
	if err := cb.load(ctx); err != nil {
		return err
	}
	if err := cb.national(ctx); err != nil {
		return err
	}
	return cb.tiles(ctx)
}

func newCoverageBench(ctx context.Context, b *bench) (*coverageBench, error) {
	url := os.Getenv("BENCH_COVERAGE_DATABASE_URL")
	if url == "" {
		if b.cluster == nil {
			return nil, fmt.Errorf("with DATABASE_URL, set BENCH_COVERAGE_DATABASE_URL to an empty database for the coverage section (it loads its own areas and assets)")
		}
		out, err := b.cluster.Psql(ctx, "postgres", "SELECT count(*) FROM pg_database WHERE datname = '"+coverageDB+"'")
		if err != nil {
			return nil, err
		}
		if !strings.Contains(out, "1") {
			if _, err := b.cluster.Psql(ctx, "postgres", "CREATE DATABASE "+coverageDB); err != nil {
				return nil, fmt.Errorf("creating the coverage database: %w", err)
			}
		}
		url = b.cluster.URL(coverageDB)
	}
	cb := &coverageBench{bench: b}
	var err error
	if cb.pool, err = db.Open(ctx, url, int32(b.cfg.maxConns)); err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, cb.pool); err != nil {
		cb.pool.Close()
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srvCtx, cancel := context.WithCancel(context.Background())
	cb.stop = cancel
	if cb.app, err = app.New(srvCtx, cb.pool, app.Config{Server: benchServer(log)}); err != nil {
		cancel()
		cb.pool.Close()
		return nil, err
	}
	cb.srv = cb.app.Server()
	cb.done = make(chan error, 1)
	go func() { cb.done <- cb.app.Serve(srvCtx) }()
	cb.httpBase = "http://" + cb.srv.HTTPAddr()
	return cb, nil
}

func (cb *coverageBench) close() {
	cb.stop()
	if err := <-cb.done; err != nil {
		fmt.Fprintln(os.Stderr, "sparcbench: coverage server:", err)
	}
	cb.pool.Close()
}

// load imports the areas (real or synthetic), gives them a population and
// a deprivation decile, and places the assets, unless a previous run
// (-data-dir) left exactly that.
func (cb *coverageBench) load(ctx context.Context) error {
	var nAreas, nAssets int
	if err := cb.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM areas WHERE kind = $1), (SELECT count(*) FROM assets)`,
		coverageKind).Scan(&nAreas, &nAssets); err != nil {
		return err
	}
	source := os.Getenv("BENCH_ENGLAND_LSOA")
	if nAreas == coverageAreaCount && nAssets == coverageAssetCount {
		cb.printf("reusing %d areas and %d assets of an earlier run\n", nAreas, nAssets)
		return nil
	}
	svc := areas.NewService(cb.app.Areas, cb.app.Tokens)
	if nAreas == coverageAreaCount {
		cb.printf("reusing %d areas of an earlier run\n", nAreas)
	} else if err := cb.importAreas(ctx, svc, source); err != nil {
		return err
	}
	return cb.placeAssets(ctx)
}

func (cb *coverageBench) importAreas(ctx context.Context, svc *areas.Service, source string) error {
	start := time.Now()
	var next func() ([]*sparcv1.AreaFeature, error)
	what := "synthetic tessellation (set BENCH_ENGLAND_LSOA to the England LSOA GeoJSON for real boundaries)"
	if source != "" {
		f, err := os.Open(source)
		if err != nil {
			return err
		}
		defer f.Close()
		var r io.Reader = f
		if strings.HasSuffix(source, ".gz") {
			if r, err = gzip.NewReader(f); err != nil {
				return err
			}
		}
		next = streamFeatures(ctx, r)
		what = source
	} else {
		next = syntheticAreas()
	}
	res, err := svc.Import(ctx, areas.AreaImport{Kind: coverageKind, Source: what}, next)
	if err != nil {
		return fmt.Errorf("importing areas: %w", err)
	}
	importTime := time.Since(start)
	if n := res.GetCreated() + res.GetUpdated(); n != coverageAreaCount {
		cb.printf("note: %d areas imported, not %d\n", n, coverageAreaCount)
	}
	cb.printf("areas: %s\n  imported %d in %.1f s (%.0f areas/s, streamed, one transaction), %d repaired with ST_MakeValid\n",
		what, res.GetCreated()+res.GetUpdated(), importTime.Seconds(), float64(res.GetCreated()+res.GetUpdated())/importTime.Seconds(), len(res.GetRepaired()))

	// Population and deprivation are synthetic (the national CSV is not in
	// the repository); their values do not change the work done.
	if _, err := cb.pool.Exec(ctx, `UPDATE areas SET population = 1000 + abs(hashtext(code)) % 1200,
		attributes = jsonb_build_object('imd_decile', 1 + abs(hashtext(code || '/d')) % 10) WHERE kind = $1`, coverageKind); err != nil {
		return err
	}
	if _, err := svc.SetDeprivationMeasure(ctx, &sparcv1.SetDeprivationMeasureRequest{Kind: coverageKind, Attribute: "imd_decile",
		Scale: sparcv1.DeprivationScale_DEPRIVATION_SCALE_DECILE}); err != nil {
		return err
	}
	return nil
}

func (cb *coverageBench) placeAssets(ctx context.Context) error {
	start := time.Now()
	if _, err := cb.pool.Exec(ctx, `DELETE FROM assets`); err != nil {
		return err
	}
	var codes []string
	for _, c := range vocab.Categories {
		codes = append(codes, c.Code)
	}
	// One asset in a pseudo-random area each (so density follows areas,
	// as listings follow neighbourhoods), at a random point inside it, with
	// 1-3 categories, 0-2 weekly sessions and 5-44 places; 5% paused.
	if _, err := cb.pool.Exec(ctx, `
		WITH a AS (SELECT row_number() OVER (ORDER BY code) - 1 AS rn, geom FROM areas WHERE kind = $1),
		n AS (SELECT count(*) AS n FROM a)
		INSERT INTO assets (id, kind, name, categories, location, country, status, sessions, capacity, contact_email)
		SELECT gen_random_uuid(), 'association', 'Coverage bench asset ' || i,
			(SELECT array_agg(c) FROM (SELECT c FROM unnest($3::text[]) WITH ORDINALITY u(c, k)
				ORDER BY hashint4(i * 31 + k::int) LIMIT 1 + abs(hashint4(i)) % 3) x),
			coalesce(ST_GeometryN(ST_GeneratePoints(a.geom, 1, i + 1), 1), ST_PointOnSurface(a.geom))::geography, 'GB',
			CASE WHEN abs(hashint4(i + 3)) % 20 = 0 THEN 'paused' ELSE 'active' END,
			CASE abs(hashint4(i + 7)) % 3
				WHEN 0 THEN '[]'
				WHEN 1 THEN '[{"day": 2, "start_time": "10:00", "end_time": "11:30", "timezone": "Europe/London"}]'
				ELSE '[{"day": 1, "start_time": "18:00", "end_time": "19:00", "timezone": "Europe/London"},
				       {"day": 4, "start_time": "18:00", "end_time": "19:00", "timezone": "Europe/London"}]' END::jsonb,
			5 + abs(hashint4(i + 13)) % 40, 'coverage' || i || '@bench.sparc.invalid'
		FROM generate_series(0, $2 - 1) AS i
		CROSS JOIN n
		JOIN a ON a.rn = abs(hashint4(i)::bigint) % n.n`, coverageKind, coverageAssetCount, codes); err != nil {
		return fmt.Errorf("placing assets: %w", err)
	}
	if _, err := cb.pool.Exec(ctx, `ANALYZE assets; ANALYZE areas`); err != nil {
		return err
	}
	cb.printf("assets: %d placed inside random areas in %.1f s\n", coverageAssetCount, time.Since(start).Seconds())
	return nil
}

// streamFeatures runs the streaming GeoJSON reader in a goroutine and
// hands its features over in batches, as the gRPC import receives them.
func streamFeatures(ctx context.Context, r io.Reader) func() ([]*sparcv1.AreaFeature, error) {
	type batch struct {
		fs  []*sparcv1.AreaFeature
		err error
	}
	ch := make(chan batch, 4)
	go func() {
		defer close(ch)
		var cur []*sparcv1.AreaFeature
		err := areaclient.ReadGeoJSON(r, areaclient.GeoJSONFields{Code: "code", Name: "name"}, func(f *sparcv1.AreaFeature) error {
			cur = append(cur, f)
			if len(cur) == 500 {
				select {
				case ch <- batch{fs: cur}:
				case <-ctx.Done():
					return ctx.Err()
				}
				cur = nil
			}
			return nil
		})
		if err == nil && len(cur) > 0 {
			ch <- batch{fs: cur}
		}
		if err != nil {
			ch <- batch{err: err}
		}
	}()
	return func() ([]*sparcv1.AreaFeature, error) {
		b, ok := <-ch
		if !ok {
			return nil, io.EOF
		}
		return b.fs, b.err
	}
}

// syntheticAreas tessellates a box over the English Midlands and north
// into 138 x 238 = 32,844 cells of about 1 km x 1.6 km (real LSOAs are
// smaller in towns, larger in the country), each with 40 vertices so the
// distance tests do a realistic amount of work.
func syntheticAreas() func() ([]*sparcv1.AreaFeature, error) {
	const rows, cols = 138, 238
	const lon0, lat0, dLon, dLat = -2.9, 51.4, 3.2 / cols, 2.0 / rows
	row := 0
	return func() ([]*sparcv1.AreaFeature, error) {
		if row >= rows {
			return nil, io.EOF
		}
		var out []*sparcv1.AreaFeature
		for c := 0; c < cols; c++ {
			x0, y0 := lon0+float64(c)*dLon, lat0+float64(row)*dLat
			var ring []string
			corners := [][2]float64{{x0, y0}, {x0 + dLon, y0}, {x0 + dLon, y0 + dLat}, {x0, y0 + dLat}}
			for k := 0; k < 4; k++ {
				a, b := corners[k], corners[(k+1)%4]
				for s := 0; s < 10; s++ {
					t := float64(s) / 10
					ring = append(ring, fmt.Sprintf("[%.6f,%.6f]", a[0]+(b[0]-a[0])*t, a[1]+(b[1]-a[1])*t))
				}
			}
			ring = append(ring, ring[0])
			n := row*cols + c
			out = append(out, &sparcv1.AreaFeature{FeatureNumber: int64(n + 1), Code: fmt.Sprintf("S%08d", n),
				DisplayName: fmt.Sprintf("Synthetic %d", n), GeometryGeojson: `{"type":"Polygon","coordinates":[[` + strings.Join(ring, ",") + `]]}`})
		}
		row++
		return out, nil
	}
}

// rawCoverageSQL is the best single statement for the service's answer:
// the walking-distance join as one aggregate, and the nearest asset of
// each category as a KNN subquery (<-> on the national-grid index the
// walking join uses, filtered by category). PostgreSQL runs it on one
// backend (plus any parallel workers it chooses for the join).
func rawCoverageSQL(cats []string) string {
	var nearest []string
	for _, c := range cats {
		nearest = append(nearest, `(SELECT ST_Distance(s.location, a.ref_point::geography, false) FROM assets s
			WHERE s.country = 'GB' AND s.categories @> '{`+c+`}' AND s.status = 'active'
			ORDER BY s.location_grid <-> a.ref_local LIMIT 1)`)
	}
	return `
WITH w AS (
	SELECT s.id, jsonb_array_length(s.sessions) AS sessions, coalesce(s.capacity, 0) AS capacity
	FROM assets s WHERE s.country = 'GB' AND s.status = 'active' AND s.categories && $2::text[]
), walk AS (
	SELECT a.code, count(*) FILTER (WHERE ST_Intersects(a.geom_local, s.location_grid)) AS inside,
		count(*) AS within, sum(w.sessions) AS sessions, sum(w.sessions::float8 * w.capacity) AS places
	FROM areas a
	JOIN assets s ON s.country = 'GB' AND ST_DWithin(a.geom_local, s.location_grid, 800)
	JOIN w ON w.id = s.id
	WHERE a.kind = $1
	GROUP BY a.code
)
SELECT a.code, coalesce(walk.inside, 0), coalesce(walk.within, 0), coalesce(walk.sessions, 0), coalesce(walk.places, 0),
	ARRAY[` + strings.Join(nearest, ",\n\t") + `]::float8[]
FROM areas a LEFT JOIN walk ON walk.code = a.code
WHERE a.kind = $1
ORDER BY a.code`
}

type rawCoverage struct {
	inside, within   int64
	sessions, places float64
	nearest          []*float64
}

// national times the service (three runs after a warm-up) against the raw
// statement, and checks both give the same answer.
func (cb *coverageBench) national(ctx context.Context) error {
	svc := coverage.NewService(cb.app.Coverage, nil)
	req := &sparcv1.ComputeCoverageRequest{Kind: coverageKind, Categories: coverageCategories}
	var svcTimes, rawTimes []time.Duration
	var phases []coverage.Timings
	var totals []time.Duration // per run, in run order
	var resp *sparcv1.ComputeCoverageResponse
	var raw map[string]rawCoverage
	for round := 0; round < 4; round++ { // round 0 warms the caches
		start := time.Now()
		q, err := coverage.ParseRequest(req)
		if err != nil {
			return err
		}
		res, err := svc.Compute(ctx, q)
		if err != nil {
			return fmt.Errorf("service: %w", err)
		}
		r := res.Proto()
		if round > 0 {
			svcTimes = append(svcTimes, time.Since(start))
			totals = append(totals, time.Since(start))
			phases = append(phases, res.Timings)
		}
		resp = r
		start = time.Now()
		rc, err := cb.rawCoverageOnce(ctx)
		if err != nil {
			return fmt.Errorf("raw SQL: %w", err)
		}
		if round > 0 {
			rawTimes = append(rawTimes, time.Since(start))
		}
		raw = rc
	}
	// Same answer: counts exactly; nearest distances to within 1%: the
	// statement orders by national-grid distance (KNN on the ellipsoid's
	// projection), the service by great-circle distance on the sphere both
	// report, so of two assets almost equally far they may name different
	// ones (the sphere and the ellipsoid differ by up to ~0.7% by direction).
	mismatches, nearTies := 0, 0
	for _, a := range resp.GetAreas() {
		r, ok := raw[a.GetCode()]
		same := ok && int64(a.GetAssetsInside()) == r.inside && int64(a.GetAssetsWithinWalk()) == r.within &&
			len(r.nearest) == len(a.GetNearest())
		for k, n := range a.GetNearest() {
			if !same || (n.DistanceMeters == nil) != (r.nearest[k] == nil) {
				same = false
				break
			}
			if n.DistanceMeters == nil {
				continue
			}
			switch diff := math.Abs(n.GetDistanceMeters() - *r.nearest[k]); {
			case diff > 0.01*n.GetDistanceMeters()+0.01:
				same = false
			case diff > 1e-6:
				nearTies++
			}
		}
		if !same {
			mismatches++
		}
	}
	slices.Sort(svcTimes)
	slices.Sort(rawTimes)
	med := func(d []time.Duration) time.Duration { return d[len(d)/2] }
	s := resp.GetSummary()
	cb.printf("\n%d areas x %d categories, %d assets, walking distance 800 m\n", len(resp.GetAreas()), len(coverageCategories), coverageAssetCount)
	w := cb.table()
	fmt.Fprintln(w, "path\tmin s\tmedian s\tmax s\t")
	fmt.Fprintf(w, "service (ComputeCoverage handler, statements on up to %d connections + Go)\t%.2f\t%.2f\t%.2f\t\n",
		max(2, min(8, runtime.NumCPU())), svcTimes[0].Seconds(), med(svcTimes).Seconds(), svcTimes[len(svcTimes)-1].Seconds())
	fmt.Fprintf(w, "best single raw SQL statement\t%.2f\t%.2f\t%.2f\t\n", rawTimes[0].Seconds(), med(rawTimes).Seconds(), rawTimes[len(rawTimes)-1].Seconds())
	w.Flush()
	for i, p := range phases {
		cb.printf("  service run %d: %.2f s = areas %.2f + SQL statements %.2f + nearest in Go %.2f + summary %.2f + response %.2f\n",
			i+1, totals[i].Seconds(), p.Areas.Seconds(), p.Statements.Seconds(), p.Nearest.Seconds(), p.Summary.Seconds(),
			(totals[i] - p.Areas - p.Statements - p.Nearest - p.Summary).Seconds())
	}
	ratio := med(svcTimes).Seconds() / med(rawTimes).Seconds()
	cb.printf("service / raw SQL (medians): %.2fx; areas whose answer differs: %d of %d (near-ties where the grid and the sphere pick different nearest assets: %d)\n",
		ratio, mismatches, len(resp.GetAreas()), nearTies)
	cb.printf("equity summary: %d areas without an asset within walk; places per 1,000 most/least deprived quintile %s / %s; concentration index %s\n",
		s.GetAreasWithoutAssetWithinWalk(), fptr(s.GetPlacesPer_1000().MostDeprived), fptr(s.GetPlacesPer_1000().LeastDeprived), fptr(s.ConcentrationIndex))
	if mismatches > 0 {
		return fmt.Errorf("the service and the raw statement disagree on %d areas", mismatches)
	}
	atScale := len(resp.GetAreas()) == coverageAreaCount
	cb.check(target{what: "national coverage, service", measured: med(svcTimes).Seconds(), unit: "s", op: "<=", goal: 5,
		scale: "32,844 areas", atScale: atScale})
	cb.check(target{what: "national coverage, service / raw SQL", measured: ratio, unit: "x", op: "<=", goal: 1.5,
		scale: "32,844 areas", atScale: atScale})
	return nil
}

func (cb *coverageBench) rawCoverageOnce(ctx context.Context) (map[string]rawCoverage, error) {
	rows, err := cb.pool.Query(ctx, rawCoverageSQL(coverageCategories), coverageKind, coverageCategories)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]rawCoverage{}
	for rows.Next() {
		var code string
		var r rawCoverage
		if err := rows.Scan(&code, &r.inside, &r.within, &r.sessions, &r.places, &r.nearest); err != nil {
			return nil, err
		}
		out[code] = r
	}
	return out, rows.Err()
}

func fptr(f *float64) string {
	if f == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f", *f)
}

// tiles requests coverage and asset tiles at zoom 10 to 14, one at a time,
// each at the reference point of a random area, and reports latency.
func (cb *coverageBench) tiles(ctx context.Context) error {
	rows, err := cb.pool.Query(ctx, `SELECT ST_Y(ref_point), ST_X(ref_point) FROM areas WHERE kind = $1 ORDER BY code`, coverageKind)
	if err != nil {
		return err
	}
	var pts [][2]float64
	for rows.Next() {
		var p [2]float64
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			rows.Close()
			return err
		}
		pts = append(pts, p)
	}
	rows.Close()
	query := "?kind=" + coverageKind
	for _, c := range coverageCategories {
		query += "&categories=" + c
	}
	client := &http.Client{Timeout: time.Minute}
	get := func(path string) (time.Duration, int, error) {
		start := time.Now()
		resp, err := client.Get(cb.httpBase + path)
		if err != nil {
			return 0, 0, err
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, 0, fmt.Errorf("%s: %s", path, resp.Status)
		}
		return time.Since(start), int(n), nil
	}
	// The first coverage tile computes (and caches) the national coverage.
	x, y := tileXY(pts[0][0], pts[0][1], 12)
	cold, _, err := get(fmt.Sprintf("/tiles/coverage/12/%d/%d.mvt%s", x, y, query))
	if err != nil {
		return err
	}
	cb.printf("\nMVT tiles, one request at a time over HTTP, %d random tiles per zoom and layer (tiles holding an area's reference point)\n", tilesPerZoom)
	cb.printf("first coverage tile (computes and caches the national coverage for this query): %.2f s\n", cold.Seconds())
	rng := rand.New(rand.NewPCG(cb.cfg.seed, 606))
	w := cb.table()
	fmt.Fprintln(w, "layer\tzoom\tp50 ms\tp99 ms\tmax ms\tmean KiB\t")
	var worst float64
	for _, layer := range []string{"coverage", "assets"} {
		for z := 10; z <= 14; z++ {
			var lat []time.Duration
			var bytes int
			for i := 0; i < tilesPerZoom; i++ {
				p := pts[rng.IntN(len(pts))]
				x, y := tileXY(p[0], p[1], z)
				path := fmt.Sprintf("/tiles/%s/%d/%d/%d.mvt", layer, z, x, y)
				if layer == "coverage" {
					path += query
				}
				d, n, err := get(path)
				if err != nil {
					return err
				}
				lat = append(lat, d)
				bytes += n
			}
			slices.Sort(lat)
			p99 := ms(quantile(lat, 0.99))
			worst = max(worst, p99)
			fmt.Fprintf(w, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.0f\t\n", layer, z, ms(quantile(lat, 0.5)), p99, ms(lat[len(lat)-1]), float64(bytes)/float64(len(lat))/1024)
		}
	}
	w.Flush()
	cb.check(target{what: "MVT tile p99, zoom 10-14 (worst layer and zoom)", measured: worst, unit: "ms", op: "<=", goal: 50,
		scale: "32,844 areas", atScale: len(pts) == coverageAreaCount})
	return nil
}

func tileXY(lat, lng float64, z int) (int, int) {
	n := math.Exp2(float64(z))
	s := math.Sin(lat * math.Pi / 180)
	return int((lng + 180) / 360 * n), int((0.5 - math.Log((1+s)/(1-s))/(4*math.Pi)) * n)
}
