package coverage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sparc-network/sparc/internal/outbox"
	"github.com/sparc-network/sparc/internal/vocab"
)

// Stored results (migration 0062): the standard coverage (every active
// asset, no session window, one walking distance) per area, kept current
// by the Maintainer, so a read is a lookup, not a computation. The tables
// are coverage's own: coverage_generations and coverage_results.

// generation is one complete set of stored results.
type generation struct {
	ID         int32
	Walk       float64
	Categories []string // nearest slots: "" (any asset), then each category
	AreasFP    string
	State      string
	Done       int32
	Total      int32
	Cursor     outbox.Cursor
}

// slotCategories are the nearest slots of a new generation: any asset,
// then the vocabulary's categories.
func slotCategories() []string {
	out := []string{""}
	for _, t := range vocab.Categories {
		out = append(out, t.Code)
	}
	return out
}

// slot is the position of category in g's nearest slots, or -1.
func (g *generation) slot(category string) int { return slices.Index(g.Categories, category) }

const generationColumns = `id, walk_meters, categories, areas_fingerprint, state, areas_done, areas_total,
	cursor_txid::text::bigint, cursor_seq`

// readGeneration reads the generation matching cond (nil: none).
func readGeneration(ctx context.Context, q pgx.Tx, cond string, args ...any) (*generation, error) {
	var g generation
	err := q.QueryRow(ctx, `SELECT `+generationColumns+` FROM coverage_generations WHERE `+cond, args...).Scan(
		&g.ID, &g.Walk, &g.Categories, &g.AreasFP, &g.State, &g.Done, &g.Total, &g.Cursor.TxID, &g.Cursor.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading coverage generation: %w", err)
	}
	return &g, nil
}

// currentGeneration is the generation reads use, nil before the first.
func (s *Store) currentGeneration(ctx context.Context) (*generation, error) {
	var g *generation
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) (err error) {
		g, err = readGeneration(ctx, tx, `state = 'current'`)
		return err
	})
	return g, err
}

// storedArea is one area's row of stored results.
type storedArea struct {
	Code, Country  string
	RefLat, RefLng float64
	// Walking-distance figures per category set of the assets counted.
	Groups []walkGroup
	// Per nearest slot: the distance (-1: none) and the asset.
	Nearest      []float64
	NearestAsset []uuid.UUID
}

// walkGroup is the walking-distance figures of the assets carrying one
// set of categories: Mask has bit k for the generation's slot k.
type walkGroup struct {
	Mask             uint32
	Inside, Within   int32
	Sessions, Places float64
}

// groupBytes is the size of one packed walkGroup.
const groupBytes = 4 + 4 + 4 + 8 + 8

// pack encodes what a read needs: the group count, the groups, then the
// nearest distances (little-endian).
func (r *storedArea) pack() []byte {
	b := make([]byte, 0, 4+len(r.Groups)*groupBytes+8*len(r.Nearest))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(r.Groups)))
	for _, g := range r.Groups {
		b = binary.LittleEndian.AppendUint32(b, g.Mask)
		b = binary.LittleEndian.AppendUint32(b, uint32(g.Inside))
		b = binary.LittleEndian.AppendUint32(b, uint32(g.Within))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(g.Sessions))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(g.Places))
	}
	for _, d := range r.Nearest {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(d))
	}
	return b
}

// unpack decodes pack's bytes into r (slots nearest distances).
func (r *storedArea) unpack(b []byte, slots int) error {
	if len(b) < 4 {
		return fmt.Errorf("stored coverage of %s is truncated", r.Code)
	}
	n := int(binary.LittleEndian.Uint32(b))
	if len(b) != 4+n*groupBytes+8*slots {
		return fmt.Errorf("stored coverage of %s has %d bytes, not %d", r.Code, len(b), 4+n*groupBytes+8*slots)
	}
	b = b[4:]
	r.Groups = make([]walkGroup, n)
	for i := range r.Groups {
		r.Groups[i] = walkGroup{Mask: binary.LittleEndian.Uint32(b), Inside: int32(binary.LittleEndian.Uint32(b[4:])),
			Within: int32(binary.LittleEndian.Uint32(b[8:])), Sessions: math.Float64frombits(binary.LittleEndian.Uint64(b[12:])),
			Places: math.Float64frombits(binary.LittleEndian.Uint64(b[20:]))}
		b = b[groupBytes:]
	}
	r.Nearest = make([]float64, slots)
	for k := range r.Nearest {
		r.Nearest[k] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*k:]))
	}
	return nil
}

var storedColumns = []string{"generation", "code", "country", "ref_lat", "ref_lng", "packed", "nearest", "nearest_asset", "reach_m"}

// readStoredSQL reads the rows of generation $1 for the codes $2; $3:
// with the nearest assets (the worker) or not (reads).
const readStoredSQL = `SELECT code, country, ref_lat, ref_lng, packed, CASE WHEN $3 THEN nearest_asset END
FROM coverage_results WHERE generation = $1 AND code = ANY($2)`

// readStored reads the rows of generation g for codes, by code, with
// the nearest assets when assets is set.
func readStored(ctx context.Context, q assetsQuerier, g *generation, codes []string, assets bool) (map[string]*storedArea, error) {
	rows, err := q.Query(ctx, readStoredSQL, g.ID, codes, assets)
	if err != nil {
		return nil, fmt.Errorf("reading stored coverage: %w", err)
	}
	defer rows.Close()
	out := make(map[string]*storedArea, len(codes))
	var packed []byte
	for rows.Next() {
		r := &storedArea{}
		if err := rows.Scan(&r.Code, &r.Country, &r.RefLat, &r.RefLng, &packed, &r.NearestAsset); err != nil {
			return nil, fmt.Errorf("reading stored coverage: %w", err)
		}
		if err := r.unpack(packed, len(g.Categories)); err != nil {
			return nil, err
		}
		out[r.Code] = r
	}
	return out, rows.Err()
}

// writeStored replaces the rows of generation gen for list in tx.
func writeStored(ctx context.Context, tx pgx.Tx, gen int32, list []*storedArea) error {
	codes := make([]string, len(list))
	for i, r := range list {
		codes[i] = r.Code
	}
	if _, err := tx.Exec(ctx, `DELETE FROM coverage_results WHERE generation = $1 AND code = ANY($2)`, gen, codes); err != nil {
		return fmt.Errorf("replacing stored coverage: %w", err)
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"coverage_results"}, storedColumns, pgx.CopyFromSlice(len(list), func(i int) ([]any, error) {
		r := list[i]
		return []any{gen, r.Code, r.Country, r.RefLat, r.RefLng, r.pack(), r.Nearest, r.NearestAsset, r.reach()}, nil
	}))
	if err != nil {
		return fmt.Errorf("writing stored coverage: %w", err)
	}
	return nil
}

// reach is the largest nearest distance of r, +Inf when a slot has none.
func (r *storedArea) reach() float64 {
	b := 0.0
	for _, d := range r.Nearest {
		if d < 0 {
			return math.Inf(1)
		}
		b = max(b, d)
	}
	return b
}

// assetsQuerier runs a query: a pool, a connection or a transaction.
type assetsQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// maxFreshnessWait bounds how long a read waits for the stored results
// to apply the asset changes committed before it; past it, the read
// computes from scratch.
const maxFreshnessWait = 2 * time.Second

// fromStored answers q from the current generation when it can: no
// session window, the generation's walking distance, categories it has
// slots for, every area of the set stored, and every asset change
// committed before the read applied (it waits for that, briefly). ok is
// false when it cannot; the caller computes from scratch.
func (s *Store) fromStored(ctx context.Context, q Query) (*Result, bool, error) {
	if q.WindowStart != "" || q.WindowEnd != "" {
		return nil, false, nil
	}
	g, err := s.caughtUp(ctx)
	if err != nil || g == nil || g.Walk != q.WalkMeters {
		return nil, false, err
	}
	cats := q.Categories
	if len(cats) == 0 {
		cats = []string{""}
	}
	slots := make([]int, len(cats))
	for i, c := range cats {
		if slots[i] = g.slot(c); slots[i] < 0 {
			return nil, false, nil
		}
	}
	var tm Timings
	start := time.Now()
	list, err := s.areaSet(ctx, q)
	if err != nil {
		return nil, false, err
	}
	tm.Areas = time.Since(start)
	start = time.Now()
	codes := make([]string, len(list))
	for i, a := range list {
		codes[i] = a.Code
	}
	rows, err := readStored(ctx, s.db, g, codes, false)
	if err != nil || len(rows) < len(list) {
		return nil, false, err // areas imported since: computed until the rebuild is done
	}
	want := g.queryMask(q.Categories)
	for _, a := range list {
		rows[a.Code].fill(a, slots, want)
	}
	tm.Statements = time.Since(start)
	res := finish(q, list, tm)
	res.Stored = true
	return res, true, nil
}

// caughtUp returns the current generation once it has applied every
// asset change committed before the call (nil when there is none, or it
// does not catch up within maxFreshnessWait).
func (s *Store) caughtUp(ctx context.Context) (*generation, error) {
	g, err := s.currentGeneration(ctx)
	if err != nil || g == nil {
		return nil, err
	}
	latest, err := s.assets.LatestChange(ctx)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(maxFreshnessWait)
	for after(latest, g.Cursor) {
		if time.Now().After(deadline) {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if g, err = s.currentGeneration(ctx); err != nil || g == nil {
			return nil, err
		}
	}
	return g, nil
}

// after reports whether cursor a is past b.
func after(a, b outbox.Cursor) bool {
	return a.TxID > b.TxID || (a.TxID == b.TxID && a.Seq > b.Seq)
}

// queryMask is the slot mask of the query's categories in g (none: every
// asset matches).
func (g *generation) queryMask(cats []string) uint32 {
	var m uint32
	for _, c := range cats {
		if i := g.slot(c); i > 0 && i < 32 {
			m |= 1 << i
		}
	}
	return m
}

// mask is the slot mask of a comma-joined category set.
func (g *generation) mask(cats string) uint32 {
	var m uint32
	for c := range strings.SplitSeq(cats, ",") {
		if i := g.slot(c); i > 0 && i < 32 {
			m |= 1 << i
		}
	}
	return m
}

// fill sets a's figures from the stored row: the groups carrying any of
// the query's categories (all when want is 0) summed, and the nearest
// distance of each query category's slot.
func (r *storedArea) fill(a *area, slots []int, want uint32) {
	for _, g := range r.Groups {
		if want == 0 || g.Mask&want != 0 {
			a.Inside += g.Inside
			a.Within += g.Within
			a.Sessions += g.Sessions
			a.Places += g.Places
		}
	}
	a.Nearest = make([]*float64, len(slots))
	for k, i := range slots {
		if d := r.Nearest[i]; d >= 0 {
			a.Nearest[k] = &d
		}
	}
}
