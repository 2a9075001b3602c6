package coverage

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/outbox"
)

// Config says whether and how coverage results are stored.
type Config struct {
	// Maintain keeps the stored results current and answers reads from
	// them (sparcd); off, every read computes from scratch.
	Maintain bool
	// WalkMeters is the stored results' walking distance; 0:
	// DefaultWalkMeters. Changing it rebuilds them.
	WalkMeters float64
	// Poll is how often the asset changes are looked at; 0: 50 ms.
	Poll time.Duration
}

// Lock class and targets of the maintainer's two kinds of turns: applying
// asset changes to the current generation, and building a new one.
const lockClass = 0x636f7667 // "covg"

var (
	applyTarget   = uuid.MustParse("00000000-0000-0000-0000-00000000c0a1")
	rebuildTarget = uuid.MustParse("00000000-0000-0000-0000-00000000c0b1")
)

const (
	// changeBatch is how many asset changes one transaction applies.
	changeBatch = 500
	// nearestCandidates is how many assets the index proposes per area
	// and category whose nearest must be found again; the nearest by
	// this package's distance is among them (the orders differ only
	// between assets at the same distance to a micrometre).
	nearestCandidates = 4
	// rebuildCheck is how often the maintainer checks whether the
	// results must be rebuilt (walking distance, categories or areas
	// changed).
	rebuildCheck = 2 * time.Second
)

// Maintainer keeps the stored results current: one outbox.Scheduler with
// two targets, each turn under its own advisory lock shared by every
// sparcd, so replicas neither apply a change twice at once nor build
// twice. Apply turns read the asset changes after the current
// generation's cursor (below the horizon, in order) and recompute the
// areas within reach of each change's old and new position; rebuild
// turns build a new generation when the walking distance, the category
// list or the areas changed, beside the current one, then switch.
type Maintainer struct {
	store  *Store // over the primary
	cfg    Config
	log    *slog.Logger
	sched  *outbox.Scheduler
	status atomic.Pointer[Status]
	// trimmed is when applied changes were last trimmed (apply turns
	// only: one at a time).
	trimmed time.Time
	batches batchLog
	// chunk is how many areas a rebuild computes and writes at a
	// time (chunkSize; tests set fewer to see progress in steps), and
	// onProgress, when set (tests), is called after each is recorded.
	chunk      int
	onProgress func(done, total int32)
}

// Status is the state of the stored results as this server last saw it.
type Status struct {
	Generation int32   // current generation (0: none yet)
	WalkMeters float64 // its walking distance
	Applied    outbox.Cursor
	// Rebuilding: a new generation is being built (Done of Total areas).
	Rebuilding  bool
	Done, Total int32
}

// NewMaintainer returns a maintainer over the primary pool.
func NewMaintainer(pool *pgxpool.Pool, cfg Config, log *slog.Logger) *Maintainer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.WalkMeters <= 0 {
		cfg.WalkMeters = DefaultWalkMeters
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	m := &Maintainer{store: NewStore(pool, 0), cfg: cfg, log: log, chunk: chunkSize}
	m.status.Store(&Status{})
	// Its own hub: asset writes wake nobody; the poll finds them.
	m.sched = outbox.NewScheduler(pool, outbox.NewHub(log), m,
		outbox.SchedulerConfig{Name: "coverage maintenance", LockClass: lockClass, Poll: cfg.Poll, Concurrency: 2}, log)
	return m
}

// Run maintains the results until ctx ends.
func (m *Maintainer) Run(ctx context.Context) { m.sched.Run(ctx) }

// Status returns the state last seen.
func (m *Maintainer) Status() Status { return *m.status.Load() }

// Targets are the two kinds of turns.
func (m *Maintainer) Targets(context.Context) ([]outbox.Target, error) {
	return []outbox.Target{{ID: applyTarget}, {ID: rebuildTarget}}, nil
}

// Deliver takes one turn on conn, whose session holds the turn's lock.
func (m *Maintainer) Deliver(ctx context.Context, conn *pgxpool.Conn, t outbox.Target) outbox.Turn {
	var err error
	turn := outbox.Turn{}
	if t.ID == applyTarget {
		turn.Pending, err = m.applyTurn(ctx, conn)
	} else {
		turn.Wait = rebuildCheck
		err = m.rebuildTurn(ctx, conn)
	}
	if err != nil && ctx.Err() == nil {
		m.log.Warn("coverage maintenance: trying again", "err", err)
		turn.Wait = time.Second
	}
	return turn
}

// applyTurn applies the changes after the current generation's cursor
// until none is ready; pending: committed changes wait behind the horizon.
func (m *Maintainer) applyTurn(ctx context.Context, conn *pgxpool.Conn) (bool, error) {
	g, err := m.store.currentGeneration(ctx)
	if err != nil || g == nil {
		return false, err
	}
	applied := 0
	for {
		n, pending, err := m.applyBatch(ctx, conn, g)
		applied += n
		st := *m.status.Load()
		st.Generation, st.WalkMeters, st.Applied = g.ID, g.Walk, g.Cursor
		m.status.Store(&st)
		if err != nil || n < changeBatch {
			if err == nil && applied > 0 {
				err = m.trim(ctx)
			}
			return pending, err
		}
	}
}

// trimEvery spaces the trimming of applied changes.
const trimEvery = 10 * time.Second

// trim deletes the changes every generation has applied, at most once
// per trimEvery.
func (m *Maintainer) trim(ctx context.Context) error {
	if time.Since(m.trimmed) < trimEvery {
		return nil
	}
	m.trimmed = time.Now()
	var before *uint64
	if err := m.store.db.QueryRow(ctx, `SELECT min(cursor_txid)::text::bigint FROM coverage_generations`).Scan(&before); err != nil || before == nil {
		return err
	}
	_, err := m.store.assets.TrimChanges(ctx, outbox.Cursor{TxID: *before})
	return err
}

// applyBatch applies up to changeBatch changes after g's cursor to g, in
// one transaction with the cursor's move, and moves g.Cursor on.
func (m *Maintainer) applyBatch(ctx context.Context, conn *pgxpool.Conn, g *generation) (int, bool, error) {
	changes, pending, err := m.store.assets.Changes(ctx, conn, g.Cursor, changeBatch)
	if err != nil || len(changes) == 0 {
		return 0, pending, err
	}
	now := time.Now()
	ph := &phases{start: now, last: now}
	rows, err := m.recompute(ctx, g, changes, ph)
	if err != nil {
		return 0, false, err
	}
	to := changes[len(changes)-1].Cursor
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if len(rows) > 0 {
			if err := writeStored(ctx, tx, g.ID, rows); err != nil {
				return err
			}
		}
		return moveCursor(ctx, tx, g, to)
	})
	if err != nil {
		return 0, false, err
	}
	ph.lap("write")
	b := Batch{Changes: len(changes), Took: ph.total()}
	for i, name := range ph.names {
		b.Phases = append(b.Phases, Phase{Name: name, Took: ph.took[i]})
	}
	m.batches.add(b)
	if ph.total() > slowBatch {
		m.log.Warn("coverage: a slow batch of asset changes", "changes", len(changes), "rows", len(rows), "phases", ph.String())
	}
	g.Cursor = to
	return len(changes), pending, nil
}

// moveCursorSQL moves a generation's cursor from where this turn found it
// ($2, $3) to ($4, $5); no row: it was moved meanwhile (another server),
// and this transaction rolls back.
const moveCursorSQL = `UPDATE coverage_generations SET cursor_txid = $4::text::xid8, cursor_seq = $5
WHERE id = $1 AND cursor_txid = $2::text::xid8 AND cursor_seq = $3`

func moveCursor(ctx context.Context, tx pgx.Tx, g *generation, to outbox.Cursor) error {
	tag, err := tx.Exec(ctx, moveCursorSQL, g.ID, fmt.Sprint(g.Cursor.TxID), g.Cursor.Seq, fmt.Sprint(to.TxID), to.Seq)
	if err != nil {
		return fmt.Errorf("moving the coverage cursor: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("coverage generation %d was moved on meanwhile", g.ID)
	}
	return nil
}

// recompute returns the rows of g that changes affect, recomputed from
// the current state of the assets: the walking-distance groups of the
// areas within g's walking distance of an old or new position, and the
// nearest distances of the areas whose nearest asset changed or that a
// changed asset is now nearer to. Recomputing from the current state
// makes applying a change twice, or after later ones, harmless.
func (m *Maintainer) recompute(ctx context.Context, g *generation, changes []assets.Change, ph *phases) ([]*storedArea, error) {
	// Two pairs of independent steps run side by side, each on its own
	// connection: on an otherwise idle machine a batch takes the longer
	// of each pair rather than their sum.
	var walkCodes []string
	var pairs []slotPair
	var counted []assets.Counted
	err := ph.both("walk areas", func() (err error) {
		walkCodes, err = m.walkAffected(ctx, g, changes)
		return err
	}, "nearest pairs", func() (err error) {
		pairs, counted, err = m.nearestAffected(ctx, g, changes)
		return err
	})
	if err != nil {
		return nil, err
	}
	codes := slices.Clone(walkCodes)
	for _, p := range pairs {
		codes = append(codes, p.code)
	}
	slices.Sort(codes)
	codes = slices.Compact(codes)
	rows, err := readStored(ctx, m.store.db, g, codes, true)
	if err != nil {
		return nil, err
	}
	before := make(map[string]storedArea, len(rows))
	for code, r := range rows {
		before[code] = r.snapshot()
	}
	ph.lap("read rows")
	// regroup sets the rows' Groups, renearest their Nearest and
	// NearestAsset: different fields, so the two may run together.
	searched := 0
	err = ph.both("walking joins", func() error {
		return m.regroup(ctx, g, rows, walkCodes)
	}, "nearest searches", func() (err error) {
		searched, err = m.renearest(ctx, g, rows, mergePairs(pairs), counted)
		return err
	})
	if err != nil {
		return nil, err
	}
	// Only the rows whose figures changed are written: a move of 150 m
	// changes the walking counts of the few areas whose edge it crossed
	// and the nearest of those it is nearest to, not the ~6 areas per
	// position recomputed. Writing the rest cost most of a batch (1.7 s
	// per 500 changes under load, with the dead rows autovacuum then
	// cleans up) and competed with the asset writes for the CPU.
	out := make([]*storedArea, 0, len(rows))
	for _, code := range codes {
		if r := rows[code]; r != nil && !r.same(before[code]) {
			out = append(out, r)
		}
	}
	ph.text += fmt.Sprintf(" (areas_walk=%d nearest_pairs=%d searched=%d recomputed=%d changed=%d)",
		len(walkCodes), len(pairs), searched, len(rows), len(out))
	return out, nil
}

// snapshot is a copy of r's figures, to tell afterwards whether they
// changed.
func (r *storedArea) snapshot() storedArea {
	c := *r
	c.Groups, c.Nearest, c.NearestAsset = slices.Clone(r.Groups), slices.Clone(r.Nearest), slices.Clone(r.NearestAsset)
	return c
}

// same says whether r holds the figures of b: the same walking groups in
// any order, nearest distances and nearest assets.
func (r *storedArea) same(b storedArea) bool {
	if len(r.Groups) != len(b.Groups) || !slices.Equal(r.Nearest, b.Nearest) || !slices.Equal(r.NearestAsset, b.NearestAsset) {
		return false
	}
	byMask := func(x, y walkGroup) int { return cmp.Compare(x.Mask, y.Mask) }
	x, y := slices.Clone(r.Groups), slices.Clone(b.Groups)
	slices.SortFunc(x, byMask)
	slices.SortFunc(y, byMask)
	return slices.Equal(x, y)
}

// slowBatch is the time (recomputing and writing) past which a batch is
// logged with its phases.
const slowBatch = 500 * time.Millisecond

// phases times the steps of a recomputation, for the slow-batch log and
// the batch record.
type phases struct {
	start, last time.Time
	names       []string
	took        []time.Duration
	text        string
}

func (p *phases) lap(name string) {
	now := time.Now()
	p.names, p.took = append(p.names, name), append(p.took, now.Sub(p.last))
	p.text += fmt.Sprintf(" %s=%s", name, now.Sub(p.last).Round(time.Millisecond))
	p.last = now
}

// both runs a and b at once and records each one's time; the next lap
// starts when both are done.
func (p *phases) both(aName string, a func() error, bName string, b func() error) error {
	var wg sync.WaitGroup
	var aErr error
	var aTook time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		aErr = a()
		aTook = time.Since(start)
	}()
	start := time.Now()
	bErr := b()
	bTook := time.Since(start)
	wg.Wait()
	p.names, p.took = append(p.names, aName, bName), append(p.took, aTook, bTook)
	p.text += fmt.Sprintf(" %s=%s %s=%s (together)", aName, aTook.Round(time.Millisecond), bName, bTook.Round(time.Millisecond))
	p.last = time.Now()
	return cmp.Or(aErr, bErr)
}

func (p *phases) total() time.Duration { return p.last.Sub(p.start) }

func (p *phases) String() string { return p.text }

// Batch is one applied batch of asset changes: how many, how long from
// reading the changes to the commit, and the time of each phase.
type Batch struct {
	Changes int
	Took    time.Duration
	Phases  []Phase
}

// Phase is the time of one step of a batch.
type Phase struct {
	Name string
	Took time.Duration
}

// batchLog keeps the latest applied batches (for the benchmark's
// distribution) and totals (for the metrics).
type batchLog struct {
	mu      sync.Mutex
	recent  []Batch // ring of the latest keptBatches
	next    int
	count   uint64
	changes uint64
	seconds float64
	buckets []uint64 // per batchBuckets bound, cumulative at read time
}

// keptBatches is how many recent batches the log keeps.
const keptBatches = 8192

// batchBuckets are the bounds (seconds) of the apply-time histogram.
var batchBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10}

func (l *batchLog) add(b Batch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.recent) < keptBatches {
		l.recent = append(l.recent, b)
	} else {
		l.recent[l.next] = b
	}
	l.next = (l.next + 1) % keptBatches
	l.count++
	l.changes += uint64(b.Changes)
	l.seconds += b.Took.Seconds()
	if l.buckets == nil {
		l.buckets = make([]uint64, len(batchBuckets))
	}
	for i, le := range batchBuckets {
		if b.Took.Seconds() <= le {
			l.buckets[i]++
			break
		}
	}
}

// Batches returns the latest applied batches (up to 8,192), oldest first.
func (m *Maintainer) Batches() []Batch {
	l := &m.batches
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.recent) < keptBatches {
		return slices.Clone(l.recent)
	}
	return append(slices.Clone(l.recent[l.next:]), l.recent[:l.next]...)
}

// ResetBatches forgets the recorded batches (the benchmark's phases).
func (m *Maintainer) ResetBatches() {
	m.batches.mu.Lock()
	defer m.batches.mu.Unlock()
	m.batches.recent, m.batches.next = nil, 0
}

// walkAffected lists the areas within g's walking distance of any old or
// new position of the changes (areas imported since g was built are not
// in g and are skipped later).
func (m *Maintainer) walkAffected(ctx context.Context, g *generation, changes []assets.Change) ([]string, error) {
	type pts struct{ lat, lng []float64 }
	by := map[string]*pts{}
	for _, c := range changes {
		for _, p := range []*assets.Position{c.Old, c.New} {
			if p == nil {
				continue
			}
			if by[p.Country] == nil {
				by[p.Country] = &pts{}
			}
			by[p.Country].lat = append(by[p.Country].lat, p.Lat)
			by[p.Country].lng = append(by[p.Country].lng, p.Lng)
		}
	}
	var out []string
	for country, p := range by {
		codes, err := m.store.areas.CodesNear(ctx, country, p.lat, p.lng, g.Walk)
		if err != nil {
			return nil, err
		}
		out = append(out, codes...)
	}
	return out, nil
}

// slotPair is one area's nearest slot to find again.
type slotPair struct {
	code string
	slot int
	// lost: its nearest asset is a changed one, so it needs a search;
	// otherwise a changed asset may be nearer than the stored nearest,
	// which is still there: the nearer of the two is the answer.
	lost bool
}

// nearestAffected lists the (area, slot) pairs whose nearest asset is one
// of the changed assets, or farther than one of them now is.
func (m *Maintainer) nearestAffected(ctx context.Context, g *generation, changes []assets.Change) ([]slotPair, []assets.Counted, error) {
	ids := make([]uuid.UUID, 0, len(changes))
	var old positions
	for _, c := range changes {
		ids = append(ids, c.Asset)
		if c.Old != nil {
			old.add(c.Old.Lat, c.Old.Lng, c.Old.Country, "")
		}
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	ids = slices.Compact(ids)
	counted, err := m.store.assets.CountedByID(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	var now positions
	for _, c := range counted {
		now.add(c.Lat, c.Lng, c.Country, strings.Join(c.Categories, ",")) // category codes hold no commas
	}
	var pairs []slotPair
	err = pinnedPlan(ctx, m.store.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, nearestPairsSQL, nearestPairsArgs(g, ids, old, now)...)
		if err != nil {
			return fmt.Errorf("finding areas whose nearest asset changed: %w", err)
		}
		pairs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (slotPair, error) {
			var p slotPair
			err := r.Scan(&p.code, &p.slot, &p.lost)
			return p, err
		})
		return err
	})
	return pairs, counted, err
}

// nearestPairsArgs are nearestPairsSQL's arguments.
func nearestPairsArgs(g *generation, ids []uuid.UUID, old, now positions) []any {
	return []any{g.ID, ids, old.lat, old.lng, old.country, now.lat, now.lng, now.country, now.cats, g.Categories}
}

// positions are parallel arrays of positions for SQL.
type positions struct {
	lat, lng      []float64
	country, cats []string
}

func (p *positions) add(lat, lng float64, country, cats string) {
	p.lat, p.lng = append(p.lat, lat), append(p.lng, lng)
	p.country, p.cats = append(p.country, country), append(p.cats, cats)
}

// nearestPairsSQL finds, through the areas' reach boxes (an asset can be,
// or become, an area's nearest only inside its box):
//
//   - from the changed assets' old positions ($3 lat, $4 lng, $5
//     country), the slots whose nearest asset is one of them ($2): it was
//     inside the box when stored, and its next change records that place;
//   - from the positions of those now counted ($6 lat, $7 lng, $8
//     country, $9 comma-joined categories), the slots of their categories
//     whose nearest is farther (with a metre's margin for the two
//     distance formulas) than the asset now is.
//
// $10 are the generation's slot categories.
//
// The plan must not depend on estimates, because it ran at 0.1 s a batch
// in one run and 2.4-3.3 s in the next on the same data (docs/coverage.md):
// each position probes the reach index in a lateral subquery fenced by
// OFFSET 0 (so it runs once per position; quals are never pushed into it)
// whose only condition is the box test, so the only index it can use is
// coverage_results_reach_gist. The generation and country are tested
// outside the fence: inside, a stale estimate of "generation = $1" (a new
// generation's id is in no statistics until the next ANALYZE) led the
// planner to AND the reach bitmap with a bitmap of the whole generation
// from the primary key, for every position. pinnedPlan turns off the
// sequential and bitmap scans, so the one plan left is a nested loop of
// GiST index scans: cost in proportion to the boxes holding each point.
const nearestPairsSQL = `
SELECT r.code, i - 1, true
FROM unnest($3::float8[], $4::float8[], $5::text[]) o(lat, lng, country)
CROSS JOIN LATERAL (SELECT r.generation, r.code, r.country, r.nearest_asset FROM coverage_results r
	WHERE r.reach && ST_SetSRID(ST_MakePoint(o.lng, o.lat), 4326) OFFSET 0) r
CROSS JOIN LATERAL generate_subscripts(r.nearest_asset, 1) i
WHERE r.generation = $1 AND r.country = o.country AND r.nearest_asset[i] = ANY($2)
UNION
SELECT r.code, s.i - 1, false
FROM unnest($6::float8[], $7::float8[], $8::text[], $9::text[]) p(lat, lng, country, cats)
CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(p.lng, p.lat), 4326) AS pt) q
CROSS JOIN LATERAL (SELECT r.generation, r.code, r.country, r.nearest, r.ref FROM coverage_results r
	WHERE r.reach && q.pt OFFSET 0) r
CROSS JOIN LATERAL (SELECT array_position($10::text[], c) AS i FROM unnest(string_to_array(p.cats, ',') || ''::text) c) s
WHERE r.generation = $1 AND r.country = p.country
  AND s.i IS NOT NULL AND (r.nearest[s.i] < 0 OR r.nearest[s.i] >= ST_Distance(r.ref, q.pt::geography, false) - 1)`

// pinnedPlan runs fn in a transaction without JIT (the statements read a
// few thousand rows but per-row lateral searches are estimated at
// 10^5-10^6, past jit_above_cost, and compiling cost more than running)
// and without sequential or bitmap scans, so a statement written for
// index scans (nearestPairsSQL) gets them whatever the statistics say.
// The settings are transaction-local.
func pinnedPlan(ctx context.Context, b interface {
	Begin(context.Context) (pgx.Tx, error)
}, fn func(pgx.Tx) error) error {
	return db.WithoutJIT(ctx, b, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)`); err != nil {
			return err
		}
		return fn(tx)
	})
}

// regroup recomputes the walking-distance groups of the codes among rows.
func (m *Maintainer) regroup(ctx context.Context, g *generation, rows map[string]*storedArea, codes []string) error {
	byCountry := map[string][]string{}
	for _, code := range codes {
		if r := rows[code]; r != nil {
			r.Groups = nil
			byCountry[r.Country] = append(byCountry[r.Country], code)
		}
	}
	for country, list := range byCountry {
		if err := m.store.assets.WalkGroups(ctx, country, list, g.Walk, func(code string, w assets.WalkGroup) {
			rows[code].addGroup(g, w)
		}); err != nil {
			return err
		}
	}
	return nil
}

// addGroup adds one group of assets to r. Two category sets with the
// same mask in g (categories g has no slot for) are one group.
func (r *storedArea) addGroup(g *generation, w assets.WalkGroup) {
	m := g.mask(w.Categories)
	for i := range r.Groups {
		if r.Groups[i].Mask == m {
			r.Groups[i].add(w.WalkCounts)
			return
		}
	}
	r.Groups = append(r.Groups, walkGroup{Mask: m, Inside: w.Inside, Within: w.Within, Sessions: w.Sessions, Places: w.Places})
}

func (wg *walkGroup) add(c assets.WalkCounts) {
	wg.Inside += c.Inside
	wg.Within += c.Within
	wg.Sessions += c.Sessions
	wg.Places += c.Places
}

// mergePairs makes one pair of each (area, slot), lost when any was.
func mergePairs(pairs []slotPair) []slotPair {
	at := map[[2]any]int{}
	var out []slotPair
	for _, p := range pairs {
		k := [2]any{p.code, p.slot}
		if i, ok := at[k]; ok {
			out[i].lost = out[i].lost || p.lost
			continue
		}
		at[k] = len(out)
		out = append(out, p)
	}
	return out
}

// renearest finds the nearest asset of each pair's slot again. A pair
// whose nearest asset changed gets a search: the index proposes a few
// candidates, measured here with the grid search's own distance, so the
// figure is the from-scratch one. Any other pair keeps its stored nearest
// unless one of the changed assets now counted is nearer.
func (m *Maintainer) renearest(ctx context.Context, g *generation, rows map[string]*storedArea, pairs []slotPair,
	counted []assets.Counted) (int, error) {
	byCountry := map[string][]slotPair{}
	searched := 0
	for _, p := range pairs {
		r := rows[p.code]
		switch {
		case r == nil:
		case p.lost && !r.cameNearer(p.slot, g.Categories[p.slot], counted):
			byCountry[r.Country] = append(byCountry[r.Country], p)
			searched++
		default:
			r.nearerOf(p.slot, g.Categories[p.slot], counted)
		}
	}
	for country, list := range byCountry {
		probes := make([]assets.NearProbe, len(list))
		found := make([]candidateSet, len(list))
		for i, p := range list {
			r := rows[p.code]
			probes[i] = assets.NearProbe{Lat: r.RefLat, Lng: r.RefLng, Category: g.Categories[p.slot]}
		}
		if err := m.store.assets.Nearest(ctx, country, probes, nearestCandidates, func(i int, id uuid.UUID, lat, lng float64) {
			found[i].add(id, lat, lng, nil)
		}); err != nil {
			return 0, err
		}
		for i, p := range list {
			r := rows[p.code]
			r.Nearest[p.slot], r.NearestAsset[p.slot] = found[i].nearestTo(r.RefLat, r.RefLng)
		}
	}
	return searched, nil
}

// cameNearer says whether slot's stored nearest asset (a changed one)
// still counts for it and is now strictly nearer than stored. Every
// unchanged asset is at least the stored distance away, so the nearest
// is then among the changed assets (nearerOf), with no search: about
// half the moves of a nearest asset.
func (r *storedArea) cameNearer(slot int, category string, counted []assets.Counted) bool {
	id := r.NearestAsset[slot]
	for _, c := range counted {
		if c.ID != id {
			continue
		}
		if c.Country != r.Country || (category != "" && !slices.Contains(c.Categories, category)) {
			return false
		}
		var cs candidateSet
		cs.add(c.ID, c.Lat, c.Lng, nil)
		d, _ := cs.nearestTo(r.RefLat, r.RefLng)
		return d >= 0 && d < r.Nearest[slot]
	}
	return false
}

// nearerOf sets slot (category, "" = any) to the nearest of the counted
// assets of r's country carrying it, when nearer than the stored one.
func (r *storedArea) nearerOf(slot int, category string, counted []assets.Counted) {
	var cs candidateSet
	for _, c := range counted {
		if c.Country == r.Country && (category == "" || slices.Contains(c.Categories, category)) {
			cs.add(c.ID, c.Lat, c.Lng, nil)
		}
	}
	d, id := cs.nearestTo(r.RefLat, r.RefLng)
	if d >= 0 && (r.Nearest[slot] < 0 || d < r.Nearest[slot]) {
		r.Nearest[slot], r.NearestAsset[slot] = d, id
	}
}

// nearestTo is the distance to the nearest of the candidates and which
// it is (-1 and the zero id when there are none).
func (cs *candidateSet) nearestTo(lat, lng float64) (float64, uuid.UUID) {
	idx := make([]int32, len(cs.ids))
	for i := range idx {
		idx[i] = int32(i)
	}
	return cs.nearestIn(newPointIndex(cs.lat, cs.lng, cs.cosLat, idx), lat, lng)
}

// nearestIn is nearestTo over an index of cs.
func (cs *candidateSet) nearestIn(p *pointIndex, lat, lng float64) (float64, uuid.UUID) {
	d, i, ok := p.nearestPoint(lat, lng)
	if !ok {
		return -1, uuid.Nil
	}
	return d, cs.ids[i]
}

// ExplainNearestPairs runs EXPLAIN ANALYZE of the nearest-pairs statement
// as a batch moving the assets ids (each from and to where it is now)
// would run it on the current generation, and returns the plan: the
// benchmark prints it, so a plan that went bad shows.
func (m *Maintainer) ExplainNearestPairs(ctx context.Context, ids []uuid.UUID) (string, error) {
	g, err := m.store.currentGeneration(ctx)
	if err != nil || g == nil {
		return "", err
	}
	counted, err := m.store.assets.CountedByID(ctx, ids)
	if err != nil {
		return "", err
	}
	var old, now positions
	for _, c := range counted {
		old.add(c.Lat, c.Lng, c.Country, "")
		now.add(c.Lat, c.Lng, c.Country, strings.Join(c.Categories, ","))
	}
	var plan []string
	err = pinnedPlan(ctx, m.store.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON) `+nearestPairsSQL, nearestPairsArgs(g, ids, old, now)...)
		if err != nil {
			return err
		}
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return strings.Join(plan, "\n"), err
}
