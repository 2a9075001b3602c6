package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
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
	freshnessRate     = 200 // asset writes per second
	freshnessDuration = 30 * time.Second
	writeCostRounds   = 3
	writeCostWrites   = 100 // per round and mode
)

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

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); m.Run(runCtx) }()
	defer func() { stop(); wg.Wait() }()

	ids, err := cb.assetIDs(ctx, 5000)
	if err != nil {
		return err
	}
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
	if _, _, err := cb.compareReads(ctx, stored, scratch, q); err != nil {
		return fmt.Errorf("after the writes: %w", err)
	}
	ratio, err := cb.writeCost(ctx, ids)
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
	ctx, cancel := context.WithTimeout(ctx, freshnessDuration)
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

// writeCost times sequential asset writes with the change recorded and
// applied (the maintainer running) against writes with the recording
// triggers off, alternating rounds in the same run.
func (cb *coverageBench) writeCost(ctx context.Context, ids []uuid.UUID) (float64, error) {
	rng := rand.New(rand.NewPCG(5, 5))
	var with, without time.Duration
	for round := range 2 * writeCostRounds {
		on := round%2 == 1
		mode := "DISABLE"
		if on {
			mode = "ENABLE"
		}
		if _, err := cb.pool.Exec(ctx, `ALTER TABLE assets `+mode+` TRIGGER USER`); err != nil {
			return 0, err
		}
		start := time.Now()
		for i := range writeCostWrites {
			if err := cb.move(ctx, rng, ids[(round*writeCostWrites+i)%len(ids)]); err != nil {
				return 0, err
			}
		}
		if on {
			with += time.Since(start)
		} else {
			without += time.Since(start)
		}
	}
	if _, err := cb.pool.Exec(ctx, `ALTER TABLE assets ENABLE TRIGGER USER`); err != nil {
		return 0, err
	}
	n := float64(writeCostRounds * writeCostWrites)
	ratio := with.Seconds() / without.Seconds()
	cb.printf("asset write (store update, sequential, %d per mode in %d alternating rounds): with maintenance %.2f ms, without %.2f ms: %.2fx\n",
		writeCostRounds*writeCostWrites, 2*writeCostRounds, with.Seconds()*1000/n, without.Seconds()*1000/n, ratio)
	return ratio, nil
}
