package main

// The network section (issue 19): the referral network of a year, for
// one council (200 organisations, 2,000 assets, 100k referrals) or the
// whole country (150 councils, ≈1.3M referrals), through GetReferralNetwork
// against the raw SQL aggregation the network store runs (ties: referring
// organisation × provider over the window, counted by status). Targets:
// council-year ≤ 1 s, national year ≤ 10 s.
//
// The synthetic history is generated in the database, set-based
// (generate_series and INSERT … SELECT: one statement per table, people
// and referrals in eight seeded ranges on -load-workers connections),
// not through 1.3M RPCs: organisations, LSOAs with deprivation deciles, assets, people with
// home areas and referrals with a realistic status mix, timestamps in the
// order the state machine gives them, coded reasons and ONS4/SWEMWBS
// measures on completed referrals. It runs in a database of its own per
// scale (like coverage), so a kept cluster (-data-dir) reuses it.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
)

func init() {
	sections = append(sections, section{
		name: "network",
		doc:  "referral network of a year (-network-scale council: 200 orgs, 2,000 assets, 100k referrals; national: 150 councils, 1.3M): raw SQL vs GetReferralNetwork",
		run:  runNetwork,
	})
}

// networkScale is the size of a synthetic referral history.
type networkScale struct {
	name              string
	councils          int
	referrers, groups int // organisations per council
	assets, lsoas     int // per council
	referrals         int // per council
	goal              float64
	goalText, dbName  string
}

var networkScales = map[string]networkScale{
	"council": {name: "council", councils: 1, referrers: 40, groups: 160, assets: 2000, lsoas: 200, referrals: 100_000,
		goal: 1, goalText: "council-year (200 organisations, 2,000 assets, 100k referrals)", dbName: "sparcbench_network_council"},
	"national": {name: "national", councils: 150, referrers: 20, groups: 80, assets: 600, lsoas: 200, referrals: 8_667,
		goal: 10, goalText: "national year (150 councils, 15,000 organisations, 90,000 assets, 1.3M referrals)", dbName: "sparcbench_network_national"},
}

// networkYear is the calendar year of the history: the last one that has
// ended, so every caller (outside an organisation: whole months that
// have ended) sees all of it.
func networkYear() int { return time.Now().UTC().Year() - 1 }

type networkBench struct {
	*bench
	scale networkScale
	pool  *pgxpool.Pool // the schema owner's: generation and the raw SQL
	app   *app.App
	stop  context.CancelFunc
	done  chan error
	conn  *grpc.ClientConn
}

func runNetwork(ctx context.Context, b *bench) error {
	nb, err := newNetworkBench(ctx, b)
	if err != nil {
		return err
	}
	defer nb.close()
	if err := nb.generate(ctx); err != nil {
		return err
	}
	if err := nb.describe(ctx); err != nil {
		return err
	}
	return nb.measure(ctx)
}

func newNetworkBench(ctx context.Context, b *bench) (*networkBench, error) {
	scale := networkScales[b.cfg.networkScale]
	url := os.Getenv("BENCH_NETWORK_DATABASE_URL")
	if url == "" {
		if b.cluster == nil {
			return nil, fmt.Errorf("with DATABASE_URL, set BENCH_NETWORK_DATABASE_URL to an empty database for the network section (it generates its own history)")
		}
		out, err := b.cluster.Psql(ctx, "postgres", "SELECT count(*) FROM pg_database WHERE datname = '"+scale.dbName+"'")
		if err != nil {
			return nil, err
		}
		if !strings.Contains(out, "1") {
			if _, err := b.cluster.Psql(ctx, "postgres", "CREATE DATABASE "+scale.dbName); err != nil {
				return nil, fmt.Errorf("creating the network database: %w", err)
			}
		}
		url = b.cluster.URL(scale.dbName)
	}
	nb := &networkBench{bench: b, scale: scale}
	var err error
	if nb.pool, err = db.Open(ctx, url, 4); err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, nb.pool); err != nil {
		nb.pool.Close()
		return nil, err
	}
	appPool, err := db.OpenApp(ctx, url, int32(b.cfg.maxConns))
	if err != nil {
		nb.pool.Close()
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srvCtx, cancel := context.WithCancel(context.Background())
	nb.stop = cancel
	if nb.app, err = app.New(srvCtx, appPool, app.Config{Auth: benchAuth, Server: benchServer(log), DataKey: benchDataKey}); err != nil {
		cancel()
		appPool.Close()
		nb.pool.Close()
		return nil, err
	}
	srv := nb.app.Server()
	nb.done = make(chan error, 1)
	go func() { nb.done <- nb.app.Serve(srvCtx) }()
	// An area analyst of a public-health team asks: analytics are for
	// admins and area analysts (internal/auth/policy.go).
	var org uuid.UUID
	if err := nb.pool.QueryRow(ctx, `INSERT INTO organisations (id, kind, name) VALUES (gen_random_uuid(), 'public_health', $1)
		RETURNING id`, "sparcbench network analysts "+time.Now().UTC().Format(time.RFC3339Nano)).Scan(&org); err != nil {
		nb.close()
		return nil, err
	}
	_, key, err := auth.NewKeyStore(nb.pool).Create(ctx, org, auth.RoleAreaAnalyst, "sparcbench network")
	if err != nil {
		nb.close()
		return nil, err
	}
	if nb.conn, err = dial(srv.GRPCAddr(), key); err != nil {
		nb.close()
		return nil, err
	}
	return nb, nil
}

func (nb *networkBench) close() {
	if nb.conn != nil {
		nb.conn.Close()
	}
	nb.stop()
	if err := <-nb.done; err != nil {
		fmt.Fprintln(os.Stderr, "sparcbench: network server:", err)
	}
	nb.app.Pool.Close()
	nb.pool.Close()
}

// The generation statements (their parameters: councils, then per
// council referrers, groups, assets, LSOAs, referrals, and the year's
// first instant, as each uses them). Ids are md5 of a label and the index, so every
// run of a scale makes the same rows. Organisation g of council c is
// c·(R+G)+k: k < R a referrer (a quarter link-worker services, the rest
// GP practices), else a group. Geography: LSOA l is a 0.02° square on a
// grid over England and Wales, its council l / L, its deprivation decile
// pseudo-random.
const (
	netOrgsSQL = `INSERT INTO organisations (id, kind, name)
		SELECT md5('net-org:' || g)::uuid,
			CASE WHEN g % ($2::int + $3::int) < $2::int / 4 THEN 'link_worker_service' WHEN g % ($2::int + $3::int) < $2::int THEN 'gp_practice' ELSE 'community_group' END,
			'sparcbench network organisation ' || g
		FROM generate_series(0, $1::int * ($2::int + $3::int) - 1) g`
	netAreaKindSQL = `INSERT INTO area_kinds (kind, deprivation_attribute, deprivation_scale) VALUES ('lsoa', 'imd_decile', 'decile')
		ON CONFLICT (kind) DO NOTHING`
	// $1::int councils, $2::int LSOAs per council: within a council, the lower an
	// LSOA's index the more deprived (decile 1 + 10·i/L).
	netAreasSQL = `INSERT INTO areas (code, kind, name, parent_code, council_code, population, attributes, country, srid,
			geom, geom_local, geom_web, geom_web_low, ref_point, ref_local)
		SELECT code, 'lsoa', 'Synthetic LSOA ' || l, council, council, 1500, jsonb_build_object('imd_decile', 1 + ((l % $2::int) * 10) / $2::int),
			'GB', 27700, g, ST_Transform(g, 27700), ST_Transform(g, 3857), ST_Transform(g, 3857), p, ST_Transform(p, 27700)
		FROM (SELECT l, 'N' || lpad(l::text, 8, '0') AS code, 'NC' || lpad((l / $2::int)::text, 7, '0') AS council,
				ST_Multi(ST_MakeEnvelope(-4.5 + (l % 200) * 0.02, 50.6 + (l / 200) * 0.02,
					-4.5 + (l % 200) * 0.02 + 0.02, 50.6 + (l / 200) * 0.02 + 0.02, 4326)) AS g,
				ST_SetSRID(ST_MakePoint(-4.5 + (l % 200) * 0.02 + 0.01, 50.6 + (l / 200) * 0.02 + 0.01), 4326) AS p
			FROM generate_series(0, $1::int * $2::int - 1) l) s`
	netAssetsSQL = `INSERT INTO assets (id, kind, name, categories, location, locality, country, status, accepting_referrals,
			owner_organisation, capacity)
		SELECT md5('net-asset:' || a)::uuid, 'association', 'sparcbench network asset ' || a,
			ARRAY[(ARRAY['physical_activity','arts_creativity','nature_green_space','social_connection','learning_skills',
				'volunteering','food','money_debt_advice','mental_wellbeing','carers'])[1 + a % 10]],
			ST_SetSRID(ST_MakePoint(-4.5 + (l % 200) * 0.02 + 0.002 + (a % 17) * 0.001, 50.6 + (l / 200) * 0.02 + 0.002 + (a % 13) * 0.001), 4326)::geography,
			'Council ' || c, 'GB', 'active', true,
			md5('net-org:' || (c * ($2::int + $3::int) + $2::int + ((a % $4::int) * $3::int) / $4::int))::uuid, NULLIF((a % 3) * 15, 0)
		FROM (SELECT a, a / $4::int AS c, (a / $4::int) * $5::int + (a * 37) % $5::int AS l FROM generate_series(0, $1::int * $4::int - 1) a) s`
	// People: four for every five referrals; person p is held by the
	// referrer (or, one in ten, the group) the referrals made for them
	// come from, and lives in an LSOA of its council, more often a
	// deprived one (the index drawn as L·u^1.6). Postcodes are in the
	// ZZ99 pseudo-area (no real place). $1::int councils, $2::int referrers and
	// $3::int groups per council, $4::int LSOAs and $5::int referrals per council, $6::int
	// the year's start.
	netPeopleSQL = `INSERT INTO people (id, organisation_id, display_name, age_band, postcode, postcode_outward, home_area, created_at, updated_at)
		SELECT md5('net-person:' || p)::uuid, md5('net-org:' || (c * ($2::int + $3::int) + CASE WHEN p % 10 = 0 THEN $2::int + (p / 10) % $3::int ELSE p % $2::int END))::uuid,
			'Synthetic person ' || p, (ARRAY['18-24','25-34','35-44','45-54','55-64','65-74','75-84','85+'])[1 + (p * 7) % 8],
			'ZZ99 ' || (p % 10) || 'ZZ', 'ZZ99', 'N' || lpad((c * $4::int + floor(power(random(), 1.6) * $4::int)::int)::text, 8, '0'),
			$6::timestamptz, $6::timestamptz
		FROM (SELECT p, p / ($5::int * 4 / 5) AS c FROM generate_series($7::int, $8::int - 1) p WHERE p < $1::int * ($5::int * 4 / 5)) s`
	// Referrals: referral j (council j / N) is for person (j·4)/5 of that
	// council, from the person's organisation, to an asset of the
	// council: half to the council's well-known assets (a few groups
	// run most of them: the fourth power of a uniform draw), half to
	// those near the referrer's own neighbourhood (its offset in the
	// council's assets, skewed again), which gives the concentration and
	// the sparse ties real networks show; a group refers to other groups'
	// assets. Group k of a council runs its k-th block of assets. The status mix: 12% declined with a coded reason, 5%
	// cancelled, 10% not attended, 6% still open after acceptance, 7% in
	// progress, 3% awaiting an answer, the rest completed with baseline and
	// follow-up (one in eight without the follow-up). The database's
	// trigger copies each person's home area, as for every referral.
	netReferralsSQL = `INSERT INTO referrals (id, person_id, referring_org, link_worker, asset_id, provider_org, reasons, status,
			status_reason, request_id, request_hash, sessions_attended, requested_at, accepted_at, first_attended_at, closed_at,
			baseline_ons4, baseline_swemwbs, baseline_at, followup_ons4, followup_swemwbs, followup_at,
			created_at, updated_at)
		SELECT md5('net-referral:' || j)::uuid, md5('net-person:' || p)::uuid, md5('net-org:' || o)::uuid, 'sparcbench link worker',
			md5('net-asset:' || a)::uuid, md5('net-org:' || (c * ($2::int + $3::int) + $2::int + ((a % $4::int) * $3::int) / $4::int))::uuid,
			'{social_connection}', st, CASE st WHEN 'rejected' THEN (ARRAY['no_capacity','not_eligible','not_suitable','unable_to_contact'])[1 + j % 4]
				WHEN 'cancelled' THEN 'person_declined' WHEN 'failed' THEN 'did_not_attend' ELSE '' END,
			'net-' || j, sha256(convert_to('net-' || j, 'UTF8')),
			CASE WHEN st IN ('completed', 'in_progress') THEN 1 + j % 10 ELSE 0 END,
			t, CASE WHEN st IN ('accepted', 'in_progress', 'completed', 'failed') THEN t + interval '4 days' END,
			CASE WHEN st IN ('in_progress', 'completed') THEN t + interval '15 days' END,
			CASE WHEN st IN ('rejected', 'cancelled') THEN t + interval '3 days' WHEN st = 'failed' THEN t + interval '30 days'
				WHEN st = 'completed' THEN t + interval '75 days' END,
			CASE WHEN st = 'completed' THEN ARRAY[(3 + u * 5)::int, (4 + u * 4)::int, (3 + v * 5)::int, (6 - v * 4)::int]::smallint[] END,
			CASE WHEN st = 'completed' THEN ARRAY[(2 + u * 2)::int, (2 + v * 2)::int, (2 + u)::int, (2 + v)::int, (2 + u * 2)::int, 3, 2]::smallint[] END,
			CASE WHEN st = 'completed' THEN t + interval '15 days' END,
			CASE WHEN st = 'completed' AND j % 8 <> 0 THEN ARRAY[(4 + u * 5)::int, (5 + u * 4)::int, (4 + v * 5)::int, (5 - v * 4)::int]::smallint[] END,
			CASE WHEN st = 'completed' AND j % 8 <> 0 THEN ARRAY[(2 + u * 3)::int, (3 + v * 2)::int, (2 + u * 2)::int, (3 + v)::int, (2 + u * 3)::int, 3, 3]::smallint[] END,
			CASE WHEN st = 'completed' AND j % 8 <> 0 THEN t + interval '74 days' END,
			t, t
		FROM (SELECT j, c, p, o, u, v, t, g,
				CASE WHEN o % ($2::int + $3::int) >= $2::int
					THEN c * $4::int + ((o % ($2::int + $3::int) - $2::int + $3::int + g) % $3::int) * $4::int / $3::int + j % ($4::int / $3::int)
					ELSE c * $4::int + a0 END AS a,
				CASE WHEN x < 0.12 THEN 'rejected' WHEN x < 0.17 THEN 'cancelled' WHEN x < 0.27 THEN 'failed'
					WHEN x < 0.33 THEN 'accepted' WHEN x < 0.40 THEN 'in_progress' WHEN x < 0.43 THEN 'requested' ELSE 'completed' END AS st
			FROM (SELECT j, c, p, o, random() AS x, random() AS u, random() AS v,
					$6::timestamptz + (j % $5::int) * (interval '365 days' / $5::int) AS t,
					CASE WHEN random() < 0.4 THEN floor(power(random(), 5) * $4::int)::int
						ELSE ((o % ($2::int + $3::int)) * 53 + floor(power(random(), 2) * $4::int / 8)::int) % $4::int END AS a0,
					(1 + floor(power(random(), 2) * 4)::int) * (CASE WHEN random() < 0.5 THEN 1 ELSE -1 END) AS g
				FROM (SELECT j, c, p, c * ($2::int + $3::int) + CASE WHEN p % 10 = 0 THEN $2::int + (p / 10) % $3::int ELSE p % $2::int END AS o
					FROM (SELECT j, j / $5::int AS c, (j / $5::int) * ($5::int * 4 / 5) + ((j % $5::int) * 4 / 5) AS p
						FROM generate_series($7::int, $8::int - 1) j WHERE j < $1::int * $5::int) s0) s1) s2) s3`
)

func wantRefsInt(s networkScale) int { return s.councils * s.referrals }

// netChunks is how many parts people and referrals are generated in, each
// its own transaction with its own seed (a fixed number, so the rows are
// the same whatever -load-workers runs them).
const netChunks = 8

// chunked runs a generation statement over [0, n) in netChunks ranges,
// -load-workers at once, and returns the rows written. The statement's
// $7 and $8 are the range; people's $4 is the LSOAs, referrals' the
// assets per council.
func (nb *networkBench) chunked(ctx context.Context, sql string, n int, args []any, referrals bool) (int64, error) {
	if referrals {
		args = slices.Clone(args)
		args[3] = nb.scale.assets
	}
	type result struct {
		n   int64
		err error
	}
	next := make(chan int, netChunks)
	for i := range netChunks {
		next <- i
	}
	close(next)
	results := make(chan result, netChunks)
	for range min(nb.cfg.loadWorkers, netChunks) {
		go func() {
			for i := range next {
				lo, hi := n*i/netChunks, n*(i+1)/netChunks
				var written int64
				err := pgx.BeginFunc(ctx, nb.pool, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, `SELECT setseed($1)`, 0.1+float64(i)/100); err != nil {
						return err
					}
					tag, err := tx.Exec(ctx, sql, append(slices.Clone(args), lo, hi)...)
					written = tag.RowsAffected()
					return err
				})
				results <- result{written, err}
			}
		}()
	}
	var total int64
	var first error
	for range netChunks {
		r := <-results
		total += r.n
		if r.err != nil && first == nil {
			first = r.err
		}
	}
	return total, first
}

// networkCounts says what a database holds of the synthetic history.
func (nb *networkBench) counts(ctx context.Context) (orgs, assets, referrals int64, err error) {
	err = nb.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM organisations WHERE name LIKE 'sparcbench network organisation %'),
		(SELECT count(*) FROM assets), (SELECT count(*) FROM referrals)`).Scan(&orgs, &assets, &referrals)
	return
}

// generate makes the history unless the database holds exactly it.
func (nb *networkBench) generate(ctx context.Context) error {
	s := nb.scale
	wantOrgs, wantAssets, wantRefs := int64(s.councils*(s.referrers+s.groups)), int64(s.councils*s.assets), int64(s.councils*s.referrals)
	orgs, assets, refs, err := nb.counts(ctx)
	if err != nil {
		return err
	}
	if orgs == wantOrgs && assets == wantAssets && refs == wantRefs {
		nb.printf("reusing the %s history already generated: %d organisations, %d assets, %d referrals\n", s.name, orgs, assets, refs)
		return nil
	}
	if orgs != 0 || assets != 0 || refs != 0 {
		return fmt.Errorf("the network database holds %d organisations, %d assets, %d referrals, not the %s history: drop it (or use a new -data-dir)",
			orgs, assets, refs, s.name)
	}
	start := time.Date(networkYear(), 1, 1, 0, 0, 0, 0, time.UTC)
	w := nb.table()
	fmt.Fprintln(w, "step\trows\ts\trows/s\t")
	total := time.Now()
	row := func(name string, n int64, d time.Duration) {
		fmt.Fprintf(w, "%s\t%d\t%.2f\t%.0f\t\n", name, n, d.Seconds(), float64(n)/d.Seconds())
	}
	err = pgx.BeginFunc(ctx, nb.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, netAreaKindSQL); err != nil {
			return err
		}
		for _, st := range []struct {
			name, sql string
			args      []any
		}{
			{"organisations", netOrgsSQL, []any{s.councils, s.referrers, s.groups}},
			{"LSOAs", netAreasSQL, []any{s.councils, s.lsoas}},
			{"assets", netAssetsSQL, []any{s.councils, s.referrers, s.groups, s.assets, s.lsoas}},
		} {
			t0 := time.Now()
			tag, err := tx.Exec(ctx, st.sql, st.args...)
			if err != nil {
				return fmt.Errorf("generating %s: %w", st.name, err)
			}
			row(st.name, tag.RowsAffected(), time.Since(t0))
		}
		return nil
	})
	if err != nil {
		return err
	}
	people := s.councils * (s.referrals * 4 / 5)
	for _, st := range []struct {
		name, sql string
		n         int
	}{{"people", netPeopleSQL, people}, {"referrals", netReferralsSQL, wantRefsInt(s)}} {
		t0 := time.Now()
		n, err := nb.chunked(ctx, st.sql, st.n, []any{s.councils, s.referrers, s.groups, s.lsoas, s.referrals, start}, st.name == "referrals")
		if err != nil {
			return fmt.Errorf("generating %s: %w", st.name, err)
		}
		row(st.name, n, time.Since(t0))
	}
	t0 := time.Now()
	if _, err := nb.pool.Exec(ctx, `ANALYZE organisations, areas, assets, people, referrals`); err != nil {
		return err
	}
	fmt.Fprintf(w, "ANALYZE\t\t%.2f\t\t\n", time.Since(t0).Seconds())
	fmt.Fprintf(w, "total\t\t%.2f\t\t\n", time.Since(total).Seconds())
	w.Flush()
	return nil
}

// networkMixSQL describes the history: its status mix, how many
// referrals have a home area, how many ties there are and how many pairs
// of organisations refer both ways, and the share of referrals going to
// the top 10% of providers.
const networkMixSQL = `WITH t AS (SELECT referring_org a, provider_org b, count(*) n FROM referrals GROUP BY 1, 2),
	p AS (SELECT b, sum(n) n FROM t GROUP BY b), top AS (SELECT n FROM p ORDER BY n DESC LIMIT GREATEST(1, (SELECT count(*) FROM p) / 10))
	SELECT (SELECT string_agg(status || ' ' || round(100.0 * n / sum_n, 1) || '%', ', ' ORDER BY n DESC)
			FROM (SELECT status, count(*) n, sum(count(*)) OVER () sum_n FROM referrals GROUP BY status) s),
		(SELECT round(100.0 * count(*) FILTER (WHERE home_area <> '') / count(*), 1) FROM referrals),
		(SELECT count(*) FROM t),
		(SELECT count(*) FROM t x JOIN t y ON x.a = y.b AND x.b = y.a AND x.a < x.b),
		(SELECT round(100.0 * (SELECT sum(n) FROM top) / (SELECT sum(n) FROM p), 1))`

func (nb *networkBench) describe(ctx context.Context) error {
	var mix string
	var homed, top float64
	var ties, reciprocal int
	if err := nb.pool.QueryRow(ctx, networkMixSQL).Scan(&mix, &homed, &ties, &reciprocal, &top); err != nil {
		return fmt.Errorf("describing the history: %w", err)
	}
	nb.printf("history: %s; %.1f%% with a home area; %d ties, %d pairs referring both ways; top 10%% of providers receive %.1f%%\n",
		mix, homed, ties, reciprocal, top)
	return nil
}

// networkRawSQL is the aggregation the network store runs: the ties of
// the window (referring organisation × provider) with their counts by
// status, plus those accepted and attended at any point.
const networkRawSQL = `SELECT referring_org, provider_org, status, count(*),
		count(*) FILTER (WHERE accepted_at IS NOT NULL), count(*) FILTER (WHERE first_attended_at IS NOT NULL)
	FROM referrals
	WHERE created_at >= $1 AND created_at < $2 AND status <> 'entered_in_error' AND provider_org IS NOT NULL
	GROUP BY referring_org, provider_org, status`

// measure times the raw SQL and GetReferralNetwork over the year, each a
// few times after one warm-up call, and prints the figures by the target.
func (nb *networkBench) measure(ctx context.Context) error {
	year := networkYear()
	from, to := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(year+1, 1, 1, 0, 0, 0, 0, time.UTC)
	// Three calls each, national too: a national call takes seconds
	// now (migration 0069), and one call is too noisy to hold to a target.
	const runs = 3
	nb.printf("the year %d; %d timed calls each after one warm-up; target %s ≤ %.0f s\n", year, runs, nb.scale.goalText, nb.scale.goal)
	w := nb.table()
	fmt.Fprintln(w, "path\tties\treferrals\tmin s\tmedian s\ttarget\tresult\t")

	var ties, counted int
	raw, err := timed(ctx, runs, func(ctx context.Context) error {
		rows, err := nb.pool.Query(ctx, networkRawSQL, from, to)
		if err != nil {
			return err
		}
		defer rows.Close()
		seen := map[[2]uuid.UUID]bool{}
		counted = 0
		for rows.Next() {
			var a, b uuid.UUID
			var st string
			var n, acc, att int
			if err := rows.Scan(&a, &b, &st, &n, &acc, &att); err != nil {
				return err
			}
			seen[[2]uuid.UUID{a, b}] = true
			counted += n
		}
		ties = len(seen)
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("raw SQL: %w", err)
	}
	fmt.Fprintf(w, "raw SQL (GROUP BY referring_org, provider_org, status)\t%d\t%d\t%.3f\t%.3f\t(reference)\t\t\n",
		ties, counted, raw[0].Seconds(), raw[len(raw)/2].Seconds())

	// The network store's own statements, when this build has them
	// (migration 0069's three parts, run at once as the store runs
	// them): the database's share of the RPC.
	var haveFn bool
	if err := nb.pool.QueryRow(ctx, `SELECT to_regprocedure('sparc_referral_network_places(text, timestamptz, timestamptz)') IS NOT NULL`).Scan(&haveFn); err != nil {
		return err
	}
	if haveFn {
		parts := []string{
			`SELECT * FROM sparc_referral_network(NULL, $1, $2, false)`,
			`SELECT * FROM sparc_referral_network_homes(NULL, $1, $2)`,
			`SELECT * FROM sparc_referral_network_places(NULL, $1, $2)`,
		}
		got := make([]int, len(parts))
		fn, err := timed(ctx, runs, func(ctx context.Context) error {
			errs := make([]error, len(parts))
			var wg sync.WaitGroup
			for i, sql := range parts {
				wg.Go(func() {
					// As the store sends them: after an analyst's
					// identity, which the functions check (0069).
					analyst := db.WithIdentity(ctx, db.Identity{Role: auth.RoleAreaAnalyst})
					errs[i] = db.Read(analyst, nb.pool, func(b *pgx.Batch) {
						b.Queue(sql, from, to).Query(func(rows pgx.Rows) error {
							got[i] = 0
							for rows.Next() {
								got[i]++
							}
							return rows.Err()
						})
					})
				})
			}
			wg.Wait()
			return errors.Join(errs...)
		})
		if err != nil {
			return fmt.Errorf("the network store's statements: %w", err)
		}
		fmt.Fprintf(w, "raw SQL, the store's three statements at once (ties by month and status; homes; places)\t%d + %d + %d rows\t\t%.3f\t%.3f\t(reference)\t\t\n",
			got[0], got[1], got[2], fn[0].Seconds(), fn[len(fn)/2].Seconds())
	} else {
		fmt.Fprintf(w, "raw SQL, the store's statements\t-\t-\t-\t-\t(reference)\tabsent in this build\t\n")
	}

	// The network of the year (the target), then the same with its four
	// quarters side by side (the change between windows; indicative).
	client := sparcv1.NewAnalyticsServiceClient(nb.conn)
	calls := []struct {
		label  string
		req    *sparcv1.GetReferralNetworkRequest
		target bool
	}{
		{fmt.Sprintf("gRPC GetReferralNetwork (window %d, organisations)", year), &sparcv1.GetReferralNetworkRequest{Window: fmt.Sprint(year),
			Granularity: sparcv1.NetworkGranularity_NETWORK_GRANULARITY_ORGANISATIONS}, true},
		{fmt.Sprintf("gRPC GetReferralNetwork (window %d, organisations, by quarter)", year), &sparcv1.GetReferralNetworkRequest{Window: fmt.Sprint(year),
			Granularity: sparcv1.NetworkGranularity_NETWORK_GRANULARITY_ORGANISATIONS, Period: sparcv1.NetworkPeriod_NETWORK_PERIOD_QUARTER}, false},
	}
	for _, c := range calls {
		var edges, nodes, windows int
		rpc, err := timed(ctx, runs, func(ctx context.Context) error {
			res, err := client.GetReferralNetwork(ctx, c.req)
			edges, nodes, windows = len(res.GetEdges()), len(res.GetNodes()), len(res.GetHistory())
			return err
		})
		goal := "(indicative)"
		if c.target {
			goal = fmt.Sprintf("≤ %.0f s", nb.scale.goal)
		}
		if err != nil {
			// The service may not be in this build yet: say so and go on.
			st, _ := status.FromError(err)
			fmt.Fprintf(w, "%s\t-\t-\t-\t-\t%s\tERROR %s: %s\t\n", c.label, goal, st.Code(), st.Message())
			w.Flush()
			nb.printf("GetReferralNetwork failed (%v); the raw SQL row stands alone until the service answers.\n", err)
			return nil
		}
		median := rpc[len(rpc)/2].Seconds()
		result := ""
		if c.target {
			result = passMiss(median <= nb.scale.goal)
			nb.check(target{what: fmt.Sprintf("GetReferralNetwork %s (gRPC), median", nb.scale.name), measured: median, unit: "s", op: "<=",
				goal: nb.scale.goal, scale: nb.scale.goalText, atScale: true})
		}
		fmt.Fprintf(w, "%s\t%d edges, %d nodes, %d windows\t\t%.3f\t%.3f\t%s\t%s\t\n", c.label, edges, nodes, windows,
			rpc[0].Seconds(), median, goal, result)
		if c.target {
			defer nb.printf("gRPC/raw SQL (medians, the year): %.1f×\n", median/raw[len(raw)/2].Seconds())
		}
	}
	w.Flush()
	return nil
}

// timed runs fn once to warm up, then n times, and returns the sorted
// durations; the first error stops it.
func timed(ctx context.Context, n int, fn func(context.Context) error) ([]time.Duration, error) {
	if err := fn(ctx); err != nil {
		return nil, err
	}
	var out []time.Duration
	for range n {
		t0 := time.Now()
		if err := fn(ctx); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t0))
	}
	slices.Sort(out)
	return out, nil
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}
