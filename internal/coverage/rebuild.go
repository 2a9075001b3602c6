package coverage

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/outbox"
)

// rebuildTurn builds a new generation when the current one does not
// match the configuration and the data: none yet, another walking
// distance or category list, or areas (boundaries, populations,
// measures) changed since it was built.
func (m *Maintainer) rebuildTurn(ctx context.Context, conn *pgxpool.Conn) error {
	g, err := m.store.currentGeneration(ctx)
	if err != nil {
		return err
	}
	fp, err := m.store.areas.Fingerprint(ctx)
	if err != nil {
		return err
	}
	walk, err := m.desiredWalk(ctx)
	if err != nil {
		return err
	}
	cats := slotCategories()
	if g != nil && g.Walk == walk && slices.Equal(g.Categories, cats) && g.AreasFP == fp {
		return nil
	}
	reason := "no stored results yet"
	switch {
	case g == nil:
	case g.Walk != walk:
		reason = fmt.Sprintf("walking distance changed from %g m", g.Walk)
	case !slices.Equal(g.Categories, cats):
		reason = "the vocabulary's categories changed"
	default:
		reason = "areas changed"
	}
	m.log.Info("coverage: rebuilding the stored results in the background; reads use the previous ones until done",
		"reason", reason, "walk_meters", walk)
	_, err = m.Rebuild(ctx, conn, fp, walk)
	return err
}

// Rebuild builds a generation for walk from scratch on conn (which holds
// the rebuild lock) and its helpers, applies the asset changes made
// meanwhile, and makes it current in one transaction. fp is the areas'
// fingerprint read before anything else, so an import committed during
// the build is noticed at the next check. It returns the build's time.
func (m *Maintainer) Rebuild(ctx context.Context, conn *pgxpool.Conn, fp string, walk float64) (time.Duration, error) {
	start := time.Now()
	var g *generation
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// A build left by a server that stopped mid-way is abandoned.
		if _, err := tx.Exec(ctx, `DELETE FROM coverage_generations WHERE state = 'building'`); err != nil {
			return err
		}
		g = &generation{Walk: walk, Categories: slotCategories(), AreasFP: fp, State: "building"}
		return tx.QueryRow(ctx, `INSERT INTO coverage_generations (walk_meters, categories, areas_fingerprint, cursor_txid)
			VALUES ($1, $2, $3, pg_current_xact_id()) RETURNING id`, g.Walk, g.Categories, fp).Scan(&g.ID)
	})
	if err != nil {
		return 0, fmt.Errorf("starting a coverage generation: %w", err)
	}
	// Asset writes record changes only while a generation exists: wait
	// for every transaction that may have written before this one was
	// visible. Changes after the horizon then are all recorded, and may
	// or may not be in what the build reads; it applies them all
	// afterwards (applying twice is harmless).
	if g.Cursor, err = m.waitForOlderWrites(ctx, conn); err != nil {
		return 0, err
	}
	if _, err := conn.Exec(ctx, `UPDATE coverage_generations SET cursor_txid = $2::text::xid8 WHERE id = $1`,
		g.ID, fmt.Sprint(g.Cursor.TxID)); err != nil {
		return 0, err
	}
	if err := m.build(ctx, g); err != nil {
		return 0, err
	}
	for {
		n, _, err := m.applyBatch(ctx, conn, g)
		if err != nil {
			return 0, err
		}
		if n < changeBatch {
			break
		}
	}
	if err := switchTo(ctx, conn, g.ID); err != nil {
		return 0, err
	}
	took := time.Since(start)
	m.status.Store(&Status{Generation: g.ID, WalkMeters: g.Walk, Applied: g.Cursor, Done: g.Total, Total: g.Total})
	m.log.Info("coverage: stored results rebuilt and serving", "generation", g.ID, "areas", g.Total, "took", took)
	return took, nil
}

// RebuildNow rebuilds the stored results at once (waiting for the
// rebuild lock if another server holds it) and returns the build's time.
func (m *Maintainer) RebuildNow(ctx context.Context) (time.Duration, error) {
	conn, err := m.store.db.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	key := outbox.LockKey(rebuildTarget)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, int32(lockClass), key); err != nil {
		return 0, err
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, int32(lockClass), key); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx)) // closing unlocks
		}
	}()
	fp, err := m.store.areas.Fingerprint(ctx)
	if err != nil {
		return 0, err
	}
	walk, err := m.desiredWalk(ctx)
	if err != nil {
		return 0, err
	}
	return m.Rebuild(ctx, conn, fp, walk)
}

// waitForOlderWrites waits until every transaction that took its id
// before now has ended, and returns the horizon then.
func (m *Maintainer) waitForOlderWrites(ctx context.Context, conn *pgxpool.Conn) (outbox.Cursor, error) {
	var mark uint64
	if err := conn.QueryRow(ctx, `SELECT pg_current_xact_id()::text::bigint`).Scan(&mark); err != nil {
		return outbox.Cursor{}, err
	}
	for {
		h, err := m.store.assets.Horizon(ctx)
		if err != nil || h.TxID > mark {
			return h, err
		}
		select {
		case <-ctx.Done():
			return outbox.Cursor{}, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// switchTo makes generation id current and drops the previous ones, in
// one transaction: reads see the old results or the new, never a mix.
func switchTo(ctx context.Context, conn *pgxpool.Conn, id int32) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE coverage_generations SET state = 'retired' WHERE state = 'current'`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE coverage_generations SET state = 'current', built_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM coverage_generations WHERE state = 'retired'`)
		return err
	})
}

// build computes and stores every area's results into g (all kinds),
// per country and chunk of areas as Compute does, reporting progress in
// g's row, the log and Status.
func (m *Maintainer) build(ctx context.Context, g *generation) error {
	list, err := m.store.areas.CoverageAreas(ctx, areas.AreaSet{}, math.MaxInt32)
	if err != nil {
		return err
	}
	g.Total = int32(len(list))
	if _, err := m.store.db.Exec(ctx, `UPDATE coverage_generations SET areas_total = $2 WHERE id = $1`, g.ID, g.Total); err != nil {
		return err
	}
	m.progress(g, 0)
	byCountry := map[string][]*areas.CoverageArea{}
	for _, a := range list {
		byCountry[a.Country] = append(byCountry[a.Country], a)
	}
	var done atomic.Int32
	for _, country := range areas.Countries {
		inCountry := byCountry[country.Code]
		if len(inCountry) == 0 {
			continue
		}
		idx, cs, err := m.slotIndexes(ctx, country.Code, g.Categories)
		if err != nil {
			return err
		}
		size := m.chunk
		chunks := (len(inCountry) + size - 1) / size
		err = m.store.runAll(ctx, chunks, func(ctx context.Context, i int) error {
			chunk := inCountry[i*size : min((i+1)*size, len(inCountry))]
			if err := m.buildChunk(ctx, g, chunk, idx, cs); err != nil {
				return err
			}
			m.progress(g, done.Add(int32(len(chunk))))
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// slotIndexes reads the assets of country that count and indexes them
// per slot, as Compute's nearest search does.
func (m *Maintainer) slotIndexes(ctx context.Context, country string, cats []string) ([]*pointIndex, *candidateSet, error) {
	cs := &candidateSet{}
	if err := m.store.assets.EachCounted(ctx, country, assetFilter(Query{}), cs.add); err != nil {
		return nil, nil, err
	}
	idx := make([]*pointIndex, len(cats))
	for k, c := range cats {
		idx[k] = cs.index(c)
	}
	return idx, cs, nil
}

// buildChunk computes and writes the rows of some areas of one country.
func (m *Maintainer) buildChunk(ctx context.Context, g *generation, chunk []*areas.CoverageArea, idx []*pointIndex,
	cs *candidateSet) error {
	rows := make(map[string]*storedArea, len(chunk))
	list := make([]*storedArea, len(chunk))
	codes := make([]string, len(chunk))
	for i, a := range chunk {
		r := &storedArea{Code: a.Code, Country: a.Country, RefLat: a.RefLat, RefLng: a.RefLng,
			Nearest: make([]float64, len(idx)), NearestAsset: make([]uuid.UUID, len(idx))}
		for k, p := range idx {
			r.Nearest[k], r.NearestAsset[k] = cs.nearestIn(p, a.RefLat, a.RefLng)
		}
		rows[a.Code], list[i], codes[i] = r, r, a.Code
	}
	if err := m.store.assets.WalkGroups(ctx, chunk[0].Country, codes, g.Walk, func(code string, w assets.WalkGroup) {
		rows[code].addGroup(g, w)
	}); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, m.store.db, func(tx pgx.Tx) error { return writeStored(ctx, tx, g.ID, list) })
}

// progress records how many areas of g are built.
func (m *Maintainer) progress(g *generation, done int32) {
	st := *m.status.Load()
	st.Rebuilding, st.Done, st.Total = true, done, g.Total
	m.status.Store(&st)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := m.store.db.Exec(ctx, `UPDATE coverage_generations SET areas_done = $2 WHERE id = $1`, g.ID, done); err != nil {
		m.log.Warn("coverage: recording rebuild progress", "err", err)
	}
	m.log.Info("coverage: rebuilding", "generation", g.ID, "areas_done", done, "areas_total", g.Total)
	if m.onProgress != nil {
		m.onProgress(done, g.Total)
	}
}
