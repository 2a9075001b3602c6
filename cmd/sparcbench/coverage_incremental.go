package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/coverage"
	"github.com/sparc-network/sparc/internal/vocab"
)

// The stored coverage section (issue 18), over the coverage section's
// database (same areas and 100k assets): full rebuild time beside the
// from-scratch computation, the national read from the stored results
// against from scratch in the same run (and that they agree), freshness
// under 200 asset writes/s, and the cost of an asset write with the
// change recorded and applied against one without.
func init() {
	sections = append(sections, section{
		name: "coverage-incremental",
		doc:  "stored coverage: rebuild, national read vs from scratch, freshness under 200 writes/s, write cost",
		run:  runCoverageIncremental,
	})
}

const (
	freshnessRate = 200 // asset writes per second
	// writeCostRounds alternating rounds per mode, of writeCostWrites
	// each: many short rounds, so a burst of other work on the machine
	// lands on both modes, and medians per write, so one stall (an
	// autovacuum, another process) does not decide the ratio.
	writeCostRounds = 10
	writeCostWrites = 50
)

// freshnessDuration is how long the writers run: 30 s, or
// BENCH_COVERAGE_FRESHNESS (a Go duration) for a shorter run on a
// shared machine.
func freshnessDuration() (time.Duration, error) {
	v := os.Getenv("BENCH_COVERAGE_FRESHNESS")
	if v == "" {
		return 30 * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 5*time.Second {
		return 0, fmt.Errorf("BENCH_COVERAGE_FRESHNESS=%q: want a duration of at least 5s", v)
	}
	return d, nil
}

func runCoverageIncremental(ctx context.Context, b *bench) error {
	cb, err := newCoverageBench(ctx, b)
	if err != nil {
		return err
	}
	defer cb.close()
	if err := cb.load(ctx); err != nil {
		return err
	}
	// A clean start: no generation, no recorded changes, triggers on.
	if _, err := cb.pool.Exec(ctx, `DELETE FROM coverage_generations; TRUNCATE asset_changes; ALTER TABLE assets ENABLE TRIGGER USER`); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(b.out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m := coverage.NewMaintainer(cb.pool, coverage.Config{Maintain: true, WalkMeters: coverage.DefaultWalkMeters}, log)
	q, err := coverage.ParseRequest(&sparcv1.ComputeCoverageRequest{Kind: coverageKind, Categories: coverageCategories})
	if err != nil {
		return err
	}
	scratch := cb.app.Coverage
	stored := cb.app.Coverage.WithStoredResults()

	start := time.Now()
	fresh, err := scratch.ComputeFromScratch(ctx, q)
	if err != nil {
		return err
	}
	scratchOnce := time.Since(start)
	rebuild, err := m.RebuildNow(ctx)
	if err != nil {
		return fmt.Errorf("rebuilding: %w", err)
	}
	cb.printf("\nstored coverage, %d areas x %d categories, %d assets\n", len(fresh.Areas), len(coverageCategories), coverageAssetCount)
	cb.printf("full rebuild (every area of every kind, %d nearest slots): %.2f s; one from-scratch national computation: %.2f s\n",
		len(vocab.Categories)+1, rebuild.Seconds(), scratchOnce.Seconds())

	readMed, scratchMed, err := cb.compareReads(ctx, stored, scratch, q)
	if err != nil {
		return err
	}
	atScale := len(fresh.Areas) == coverageAreaCount
	cb.check(target{what: "national coverage read (stored)", measured: readMed.Seconds(), unit: "s", op: "<=", goal: 1,
		scale: "32,844 areas", atScale: atScale})
	cb.check(target{what: "stored read / from scratch", measured: readMed.Seconds() / scratchMed.Seconds(), unit: "x", op: "<=", goal: 0.5,
		scale: "32,844 areas", atScale: atScale})

	run := &maintainerRun{m: m}
	run.start(ctx)
	defer run.stop()

	ids, err := cb.assetIDs(ctx, 5000)
	if err != nil {
		return err
	}
	if err := cb.explainPairs(ctx, m, ids, "before the writes"); err != nil {
		return err
	}
	m.ResetBatches()
	p99, err := cb.freshness(ctx, ids)
	if err != nil {
		return err
	}
	cb.check(target{what: "freshness p99 under 200 writes/s", measured: p99.Seconds(), unit: "s", op: "<=", goal: 2,
		scale: "32,844 areas", atScale: atScale})
	// After the load, once caught up: still exactly the from-scratch answer.
	if err := cb.caughtUp(ctx); err != nil {
		return err
	}
	cb.batchTimes(m.Batches())
	if err := cb.explainPairs(ctx, m, ids, "after the writes"); err != nil {
		return err
	}
	if _, _, err := cb.compareReads(ctx, stored, scratch, q); err != nil {
		return fmt.Errorf("after the writes: %w", err)
	}
	ratio, err := cb.writeCost(ctx, ids, run)
	if err != nil {
		return err
	}
	cb.check(target{what: "asset write with / without maintenance", measured: ratio, unit: "x", op: "<=", goal: 1.5,
		scale: "32,844 areas", atScale: atScale})
	return nil
}

// compareReads times the national read from the stored results and from
// scratch (median of 3 after a warm-up each) and checks they agree.
func (cb *coverageBench) compareReads(ctx context.Context, stored, scratch *coverage.Store, q coverage.Query) (time.Duration, time.Duration, error) {
	var reads, scratches []time.Duration
	var got, want *coverage.Result
	for round := range 4 {
		start := time.Now()
		r, err := stored.Compute(ctx, q)
		if err != nil {
			return 0, 0, err
		}
		if !r.Stored {
			return 0, 0, fmt.Errorf("the national read was not answered from the stored results")
		}
		took := time.Since(start)
		start = time.Now()
		w, err := scratch.ComputeFromScratch(ctx, q)
		if err != nil {
			return 0, 0, err
		}
		if round > 0 {
			reads, scratches = append(reads, took), append(scratches, time.Since(start))
		}
		got, want = r, w
	}
	differ := 0
	gp, wp := got.Proto(), want.Proto()
	for i, a := range wp.GetAreas() {
		if !proto.Equal(a, gp.GetAreas()[i]) {
			differ++
		}
	}
	slices.Sort(reads)
	slices.Sort(scratches)
	cb.printf("national read, stored: median %.3f s (min %.3f, areas %.3f + stored rows %.3f + summary %.3f); from scratch: median %.2f s; ratio %.2fx; areas that differ: %d of %d\n",
		reads[1].Seconds(), reads[0].Seconds(), got.Timings.Areas.Seconds(), got.Timings.Statements.Seconds(), got.Timings.Summary.Seconds(),
		scratches[1].Seconds(), reads[1].Seconds()/scratches[1].Seconds(), differ, len(wp.GetAreas()))
	if differ > 0 || !proto.Equal(gp.GetSummary(), wp.GetSummary()) {
		return 0, 0, fmt.Errorf("the stored results differ from the from-scratch computation on %d areas", differ)
	}
	return reads[1], scratches[1], nil
}

func (cb *coverageBench) assetIDs(ctx context.Context, n int) ([]uuid.UUID, error) {
	rows, err := cb.pool.Query(ctx, `SELECT id FROM assets ORDER BY id LIMIT $1`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// move writes an asset through the store's update path (the API's
// transaction), moving it up to ~150 m; every fifth write also toggles a
// category, so the nearest distances move too.
func (cb *coverageBench) move(ctx context.Context, rng *rand.Rand, id uuid.UUID) error {
	_, err := cb.app.Assets.Update(ctx, id, "", func(string) error { return nil }, func(a *sparcv1.Asset) error {
		a.Location.Latitude += (rng.Float64() - 0.5) * 0.002
		a.Location.Longitude += (rng.Float64() - 0.5) * 0.003
		if rng.IntN(5) == 0 {
			c := coverageCategories[rng.IntN(len(coverageCategories))]
			if i := slices.Index(a.Categories, c); i >= 0 && len(a.Categories) > 1 {
				a.Categories = slices.Delete(a.Categories, i, i+1)
			} else if i < 0 {
				a.Categories = append(a.Categories, c)
			}
		}
		return nil
	})
	return err
}

// freshness writes at freshnessRate for freshnessDuration on 8 writers
// and, every 100 ms, times how long after a probe write commits the
// stored results have applied it (the current generation's cursor passes
// the newest change seen right after the commit: an upper bound).
func (cb *coverageBench) freshness(ctx context.Context, ids []uuid.UUID) (time.Duration, error) {
	d, err := freshnessDuration()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	jobs := make(chan uuid.UUID, 64)
	var writes, failures atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for id := range jobs {
				if err := cb.move(context.WithoutCancel(ctx), rng, id); err != nil {
					failures.Add(1)
				}
				writes.Add(1)
			}
		}()
	}
	go func() {
		defer close(jobs)
		tick := time.NewTicker(time.Second / freshnessRate)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				select {
				case jobs <- ids[i%len(ids)]:
				default: // writers behind: the rate achieved says so
				}
			}
		}
	}()
	var lags []time.Duration
	rng := rand.New(rand.NewPCG(99, 2))
	started := time.Now()
	for ctx.Err() == nil {
		lag, err := cb.probe(ctx, rng, ids)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return 0, err
		}
		lags = append(lags, lag)
		time.Sleep(100 * time.Millisecond) // spacing the probes, not waiting for a result
	}
	wg.Wait()
	elapsed := time.Since(started)
	if len(lags) == 0 {
		return 0, fmt.Errorf("no freshness probe completed")
	}
	slices.Sort(lags)
	pct := func(p float64) time.Duration { return lags[min(len(lags)-1, int(p*float64(len(lags))))] }
	cb.printf("freshness under %.0f asset writes/s achieved (%d writes, %d failed, 8 writers, %.0f s): probes %d, p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
		float64(writes.Load())/elapsed.Seconds(), writes.Load(), failures.Load(), elapsed.Seconds(), len(lags),
		ms(pct(0.5)), ms(pct(0.99)), ms(lags[len(lags)-1]))
	return pct(0.99), nil
}

// probe writes one asset and waits until the stored results applied it.
func (cb *coverageBench) probe(ctx context.Context, rng *rand.Rand, ids []uuid.UUID) (time.Duration, error) {
	if err := cb.move(ctx, rng, ids[rng.IntN(len(ids))]); err != nil {
		return 0, err
	}
	return cb.applied(ctx, time.Now())
}

// caughtUp waits until the stored results applied every change so far.
func (cb *coverageBench) caughtUp(ctx context.Context) error {
	start := time.Now()
	lag, err := cb.applied(ctx, start)
	cb.printf("caught up with the writes %.1f s after they stopped\n", lag.Seconds())
	return err
}

// applied waits until the current generation's cursor passes the newest
// change there is now, and returns the time since committed.
func (cb *coverageBench) applied(ctx context.Context, committed time.Time) (time.Duration, error) {
	var tx, seq int64
	if err := cb.pool.QueryRow(ctx, `SELECT txid::text::bigint, seq FROM asset_changes ORDER BY txid DESC, seq DESC LIMIT 1`).Scan(&tx, &seq); err != nil {
		return 0, err
	}
	for {
		var done bool
		if err := cb.pool.QueryRow(context.WithoutCancel(ctx), `SELECT EXISTS (SELECT 1 FROM coverage_generations WHERE state = 'current'
			AND (cursor_txid, cursor_seq) >= ($1::text::xid8, $2))`, fmt.Sprint(tx), seq).Scan(&done); err != nil {
			return 0, err
		}
		if done {
			return time.Since(committed), nil
		}
		if time.Since(committed) > 5*time.Minute {
			return 0, fmt.Errorf("a write was not applied within 5 minutes")
		}
		time.Sleep(2 * time.Millisecond) // polling the applied position
	}
}

// maintainerRun starts and stops the maintainer's loop.
type maintainerRun struct {
	m      *coverage.Maintainer
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (r *maintainerRun) start(ctx context.Context) {
	if r.cancel != nil {
		return
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.m.Run(ctx) }()
}

func (r *maintainerRun) stop() {
	if r.cancel != nil {
		r.cancel()
		r.wg.Wait()
		r.cancel = nil
	}
}

// writeCost times sequential asset writes in three modes, in rotating
// rounds: "without" (coverage's triggers off, the maintainer stopped),
// "triggers only" (the change recorded, the maintainer stopped: the cost
// on the write path itself) and "with maintenance" (recorded and applied
// as it comes: the target's figure, which adds the maintainer's
// competition for the CPU and the database). Only coverage's triggers are
// switched (found by their function): other triggers on assets (search's
// feed) are part of every mode. Before each round the maintainer catches
// up, untimed, so no round inherits another's backlog (a "without" round
// overlapping the applying of the previous "with" round made the ratio
// anything from 0.94x to 1.73x); the first write after a switch is not
// timed (ALTER TABLE invalidates the cached plans of the write path).
func (cb *coverageBench) writeCost(ctx context.Context, ids []uuid.UUID, run *maintainerRun) (float64, error) {
	var trigNames []string
	rows, err := cb.pool.Query(ctx, `SELECT tgname FROM pg_trigger
		WHERE tgrelid = 'assets'::regclass AND tgfoid = 'sparc_asset_changed'::regproc ORDER BY tgname`)
	if err != nil {
		return 0, err
	}
	if trigNames, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return 0, err
	}
	if len(trigNames) == 0 {
		return 0, fmt.Errorf("no coverage triggers on assets")
	}
	toggle := func(mode string) error {
		var parts []string
		for _, t := range trigNames {
			parts = append(parts, mode+" TRIGGER "+t)
		}
		_, err := cb.pool.Exec(ctx, `ALTER TABLE assets `+strings.Join(parts, ", "))
		return err
	}
	rng := rand.New(rand.NewPCG(5, 5))
	const without, triggers, with = 0, 1, 2
	names := []string{"without", "triggers only", "with maintenance"}
	took := make([][]time.Duration, 3)
	next := 0
	for round := range 3 * writeCostRounds {
		mode := round % 3
		run.start(ctx) // catch up with the previous round's changes
		if err := cb.waitApplied(ctx); err != nil {
			return 0, err
		}
		if mode != with {
			run.stop()
		}
		state := "DISABLE"
		if mode != without {
			state = "ENABLE"
		}
		if err := toggle(state); err != nil {
			return 0, err
		}
		for i := range writeCostWrites + 1 {
			start := time.Now()
			if err := cb.move(ctx, rng, ids[next%len(ids)]); err != nil {
				return 0, err
			}
			next++
			if i > 0 { // the first after the switch replans
				took[mode] = append(took[mode], time.Since(start))
			}
		}
	}
	if err := toggle("ENABLE"); err != nil {
		return 0, err
	}
	run.start(ctx)
	if err := cb.waitApplied(ctx); err != nil {
		return 0, err
	}
	base := median(took[without])
	cb.printf("asset write (store update, sequential, %d per mode in %d rotating rounds; coverage triggers %s):\n",
		len(took[with]), 3*writeCostRounds, strings.Join(trigNames, ", "))
	for mode, ds := range took {
		m := median(ds)
		cb.printf("  %-17s median %.2f ms (p90 %.2f, mean %.2f): %.2fx the median without\n",
			names[mode], ms(m), ms(sortedQuantile(ds, 0.9)), ms(mean(ds)), m.Seconds()/base.Seconds())
	}
	return median(took[with]).Seconds() / base.Seconds(), nil
}

// waitApplied waits until the stored results applied every change so far.
func (cb *coverageBench) waitApplied(ctx context.Context) error {
	_, err := cb.applied(ctx, time.Now())
	return err
}

// sortedQuantile is the q-quantile of ds (sorted in place; 0 if empty).
func sortedQuantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return quantile(ds, q)
}

func median(ds []time.Duration) time.Duration { return sortedQuantile(ds, 0.5) }

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t / time.Duration(len(ds))
}

// batchTimes prints the distribution of the maintainer's batches during
// the freshness run: per-batch apply time (reading the changes to the
// commit), changes per batch, and where the time went per 500 changes.
func (cb *coverageBench) batchTimes(bs []coverage.Batch) {
	if len(bs) == 0 {
		cb.printf("apply batches: none recorded\n")
		return
	}
	var took, sizes []time.Duration
	phase := map[string]time.Duration{}
	var names []string
	changes := 0
	for _, b := range bs {
		took = append(took, b.Took)
		sizes = append(sizes, time.Duration(b.Changes))
		changes += b.Changes
		for _, p := range b.Phases {
			if _, ok := phase[p.Name]; !ok {
				names = append(names, p.Name)
			}
			phase[p.Name] += p.Took
		}
	}
	cb.printf("apply batches during the writes: %d, %d changes; per batch p50 %.0f ms, p99 %.0f ms, max %.0f ms; changes per batch p50 %d, max %d\n",
		len(bs), changes, ms(sortedQuantile(took, 0.5)), ms(sortedQuantile(took, 0.99)), ms(took[len(took)-1]),
		int(sortedQuantile(sizes, 0.5)), int(sizes[len(sizes)-1]))
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.3f s", n, phase[n].Seconds()*500/float64(changes)))
	}
	cb.printf("  per 500 changes: %s\n", strings.Join(parts, ", "))
}

// explainPairs prints the nearest-pairs statement's plan and time for a
// batch of 500 assets, so a plan that went bad shows in the output.
func (cb *coverageBench) explainPairs(ctx context.Context, m *coverage.Maintainer, ids []uuid.UUID, when string) error {
	plan, err := m.ExplainNearestPairs(ctx, ids[:min(500, len(ids))])
	if err != nil {
		return fmt.Errorf("explaining the nearest-pairs statement: %w", err)
	}
	cb.printf("nearest-pairs statement for 500 changed assets, %s (EXPLAIN ANALYZE):\n", when)
	for line := range strings.SplitSeq(plan, "\n") {
		if len(line) > 140 { // the arguments are printed inline: 500 ids
			line = line[:140] + "..."
		}
		cb.printf("  | %s\n", line)
	}
	return nil
}
