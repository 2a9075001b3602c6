package assets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/assets/nearby"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/outbox"
)

// The in-memory search index (issue 16, docs/architecture.md, "The search
// index"): every located asset's point and the fields that search filters
// and the BASIC view need, in a nearby.Index, loaded at start and kept
// current from the asset_index_changes feed (migration 0065). A point
// search whose filters the index can answer walks the neighbours in
// memory; BASIC hits are built from the index alone, FULL hits are read by
// id (one primary-key query); text, box and polygon searches, and pages of
// remote services only, go to PostGIS as before.
//
// Consistency: one goroutine (Run) applies the feed in order below the
// snapshot horizon, as the coverage worker reads asset_changes, and
// publishes an immutable snapshot with the feed position it reflects.
// A search carrying a consistency token (the feed position after a write,
// ConsistencyToken) waits up to IndexConfig.Wait for the index to reach
// it, else goes to PostGIS: a writer's next search sees its write.

// IndexConfig tunes the search index.
type IndexConfig struct {
	// Enabled turns the index on (sparcd: --search-index, on by
	// default); off, every search goes to PostGIS.
	Enabled bool
	// Poll is how often the feed is read when no notification came
	// (LISTEN asset_index wakes the reader at once); 0: 25 ms.
	Poll time.Duration
	// Wait is how long a search waits for the index to reach its
	// consistency token before going to PostGIS; 0: 100 ms.
	Wait time.Duration
	// Retention: feed rows younger than this are never trimmed, so a
	// replica that is briefly behind finds every row it needs; one that
	// falls further behind sees the trim watermark pass its cursor and
	// loads afresh. 0: 5 minutes.
	Retention time.Duration
	// Strict makes every search read the feed's head on the primary and
	// wait for the index to reach it (one small query per search): reads
	// are then as fresh as PostGIS's. For tests that write to the
	// database directly and search at once; sparcd relies on tokens.
	Strict bool
	// ReloadBacklog: when more feed rows than this wait (a bulk load,
	// an import), the index loads afresh instead of re-reading them by
	// id in batches, which is several times slower per asset. 0: a
	// quarter of the index, at least 100,000.
	ReloadBacklog int64
	Logger        *slog.Logger
}

// Index is the search index of a Store; see the comment above.
type Index struct {
	store *Store
	cfg   IndexConfig

	state atomic.Pointer[indexState] // nil until loaded
	// published is closed and replaced on every publication: waiters for
	// a position select on it.
	mu        sync.Mutex
	published chan struct{}
	wake      chan struct{}

	// Writer-side (Run's goroutine only).
	ix      *nearby.Index[*indexed]
	cursor  outbox.Cursor
	trimmed time.Time
	words   interner
	loadSeq int64 // the feed's head seq when the last load began

	reloads, applied, fallbacks, answered atomic.Int64
	lagNanos                              atomic.Int64 // newest applied change: commit to publication
	loadNanos                             atomic.Int64 // the last load, from its first read to publication
}

// indexState is one published snapshot and the feed position it holds
// every change up to.
type indexState struct {
	snap    *nearby.Snapshot[*indexed]
	applied outbox.Cursor
}

// indexed is what the index holds of one located asset: the fields of
// the search filters and of the BASIC view. Immutable once published: a
// change replaces it.
type indexed struct {
	id                               uuid.UUID
	lat, lng                         float64
	kind, status, cost, availability string
	delivery                         string // "" when not said
	categories, accessibility, langs []string
	minAge, maxAge, capacity         *int32
	taken                            int32
	accepting                        bool
	displayName, locality, country   string
	areaCodes                        []string
	areaCountry                      string
	sessions                         []*sparcv1.Session
}

// interner keeps one copy of each of the few strings that most assets
// repeat (codes, localities, session times and zones): the rows read
// bring a copy each, a third of an entry's memory before interning.
type interner map[string]string

func (in interner) s(v string) string {
	if w, ok := in[v]; ok {
		return w
	}
	in[v] = v
	return v
}

func (in interner) all(vs []string) []string {
	if len(vs) == 0 {
		return nil
	}
	for i, v := range vs {
		vs[i] = in.s(v)
	}
	return vs
}

func (in interner) intern(e *indexed) {
	e.kind, e.status, e.cost, e.availability, e.delivery = in.s(e.kind), in.s(e.status), in.s(e.cost), in.s(e.availability), in.s(e.delivery)
	e.locality, e.country, e.areaCountry = in.s(e.locality), in.s(e.country), in.s(e.areaCountry)
	e.categories, e.accessibility, e.langs, e.areaCodes = in.all(e.categories), in.all(e.accessibility), in.all(e.langs), in.all(e.areaCodes)
	for _, ss := range e.sessions {
		ss.StartTime, ss.EndTime, ss.Timezone = in.s(ss.StartTime), in.s(ss.EndTime), in.s(ss.Timezone)
		ss.ValidFrom, ss.ValidUntil = in.s(ss.ValidFrom), in.s(ss.ValidUntil)
	}
}

// NewIndex returns the search index of s (not loaded: Run loads it).
func NewIndex(s *Store, cfg IndexConfig) *Index {
	if cfg.Poll <= 0 {
		cfg.Poll = 25 * time.Millisecond
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 100 * time.Millisecond
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Index{store: s, cfg: cfg, published: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// WithIndex returns a copy of s whose point searches the index answers
// when it can (nil: none).
func (s *Store) WithIndex(ix *Index) *Store {
	c := *s
	c.index = ix
	return &c
}

// Index is s's search index (nil: none).
func (s *Store) Index() *Index { return s.index }

// Loaded reports whether the index has been loaded.
func (ix *Index) Loaded() bool { return ix.state.Load() != nil }

// Applied is the feed position the published snapshot reflects.
func (ix *Index) Applied() outbox.Cursor {
	if st := ix.state.Load(); st != nil {
		return st.applied
	}
	return outbox.Cursor{}
}

// Len is the number of assets in the published snapshot.
func (ix *Index) Len() int {
	if st := ix.state.Load(); st != nil {
		return st.snap.Len()
	}
	return 0
}

// Run loads the index and keeps it current until ctx ends: woken by
// NOTIFY asset_index, else every Poll. Errors are logged and retried a
// second later; a gap in the feed (trimmed before this reader applied
// it) loads afresh.
func (ix *Index) Run(ctx context.Context) {
	go db.Listen(ctx, ix.store.pool, "asset_index", ix.Wake, ix.Wake, nil)
	t := time.NewTimer(0)
	defer t.Stop()
	for ctx.Err() == nil {
		wait := ix.cfg.Poll
		if err := ix.Step(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			ix.cfg.Logger.Warn("search index: trying again", "err", err)
			wait = time.Second
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-ix.wake:
		case <-t.C:
		}
	}
}

// Wake asks Run to read the feed now.
func (ix *Index) Wake() {
	select {
	case ix.wake <- struct{}{}:
	default:
	}
}

// Step loads the index when it is not loaded, else applies the feed
// until nothing more is ready, and trims the feed now and then. Run
// calls it; tests call it to drive an index by hand (one goroutine).
func (ix *Index) Step(ctx context.Context) error {
	if ix.ix == nil {
		return ix.load(ctx)
	}
	for first := true; ; first = false {
		n, more, err := ix.apply(ctx)
		if errors.Is(err, errFeedGap) {
			ix.reloads.Add(1)
			ix.cfg.Logger.Warn("search index: the feed was trimmed past this reader; loading afresh")
			return ix.load(ctx)
		}
		if err != nil || !more || n == 0 {
			if err == nil && time.Since(ix.trimmed) > time.Minute {
				ix.trimmed = time.Now()
				err = ix.store.TrimIndexChanges(ctx, ix.cfg.Retention)
			}
			return err
		}
		if first { // a full batch: is much more waiting?
			if big, err := ix.bigBacklog(ctx); err != nil || big {
				return err
			}
		}
	}
}

// TrimIndexFeed trims the index feed every minute (keeping what is
// younger than keep) until ctx ends: what a server without the index
// runs, since the triggers record the feed whether or not an index reads
// it (a server with the index trims in its Step).
func (s *Store) TrimIndexFeed(ctx context.Context, keep time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.TrimIndexChanges(ctx, keep); err != nil && ctx.Err() == nil && log != nil {
				log.Warn("trimming the search index feed", "err", err)
			}
		}
	}
}

// bigBacklog loads afresh, and says so, when more than ReloadBacklog feed
// rows wait after the cursor (seq counts rows: the head's less the
// cursor's is the backlog, rolled-back and trimmed rows included).
func (ix *Index) bigBacklog(ctx context.Context) (bool, error) {
	limit := ix.cfg.ReloadBacklog
	if limit <= 0 {
		limit = max(100000, int64(ix.ix.Len()/4))
	}
	head, err := ix.store.IndexHead(ctx)
	behind := head.Seq - max(ix.cursor.Seq, ix.loadSeq)
	if err != nil || behind <= limit {
		return false, err
	}
	ix.reloads.Add(1)
	ix.cfg.Logger.Info("search index: loading afresh rather than applying a backlog", "rows", behind)
	return true, ix.load(ctx)
}

// load reads every located asset into a new index from after the feed's
// horizon (every change of a transaction before it is in what the read
// sees; the later ones follow from the feed) and publishes it.
func (ix *Index) load(ctx context.Context) error {
	start := time.Now()
	// The head's seq first: what the load holds, for bigBacklog.
	head, err := ix.store.IndexHead(ctx)
	if err != nil {
		return err
	}
	h, err := ix.store.Horizon(ctx)
	if err != nil {
		return fmt.Errorf("search index: reading the horizon: %w", err)
	}
	parts, err := ix.store.indexAll(ctx)
	if err != nil {
		return err
	}
	fresh := nearby.New[*indexed]()
	ix.words = interner{}
	for _, part := range parts {
		for _, e := range part {
			ix.words.intern(e)
			fresh.Set(e.id, e.lat, e.lng, e)
		}
	}
	ix.ix, ix.cursor, ix.loadSeq = fresh, h, head.Seq
	ix.publish()
	ix.loadNanos.Store(int64(time.Since(start)))
	ix.cfg.Logger.Info("search index loaded", "assets", fresh.Len(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// changeBatchIndex is how many feed rows one apply reads.
const changeBatchIndex = 2000

var errFeedGap = errors.New("the asset index feed was trimmed past the cursor")

// apply applies up to one batch of ready feed rows; more: a full batch
// (read again at once).
func (ix *Index) apply(ctx context.Context) (int, bool, error) {
	rows, newest, err := ix.store.indexChanges(ctx, ix.cursor, changeBatchIndex)
	if err != nil || len(rows) == 0 {
		return 0, false, err
	}
	ids := make([]uuid.UUID, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.asset)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(string(a[:]), string(b[:])) })
	ids = slices.Compact(ids)
	found := make(map[uuid.UUID]bool, len(ids))
	err = ix.store.indexRows(ctx, ids, func(e *indexed) {
		found[e.id] = true
		ix.words.intern(e)
		ix.ix.Set(e.id, e.lat, e.lng, e)
	})
	if err != nil {
		return 0, false, err
	}
	for _, id := range ids {
		if !found[id] {
			ix.ix.Delete(id) // deleted, or no longer located
		}
	}
	ix.cursor = rows[len(rows)-1].cursor
	ix.applied.Add(int64(len(rows)))
	ix.publish()
	ix.lagNanos.Store(int64(time.Since(newest)))
	return len(rows), len(rows) == changeBatchIndex, nil
}

// publish makes the writer's index the one searches read, and wakes
// whoever waits for a position.
func (ix *Index) publish() {
	ix.state.Store(&indexState{snap: ix.ix.Snapshot(), applied: ix.cursor})
	ix.mu.Lock()
	close(ix.published)
	ix.published = make(chan struct{})
	ix.mu.Unlock()
}

// reached waits up to d for the published snapshot to hold every change
// up to pos, and returns it (nil: not loaded, or not in time).
func (ix *Index) reached(ctx context.Context, pos outbox.Cursor, d time.Duration) *indexState {
	var deadline <-chan time.Time
	for {
		ix.mu.Lock()
		ch := ix.published
		ix.mu.Unlock()
		st := ix.state.Load()
		if st != nil && !cursorBefore(st.applied, pos) {
			return st
		}
		if deadline == nil {
			t := time.NewTimer(d)
			defer t.Stop()
			deadline = t.C
			ix.Wake()
		}
		select {
		case <-ch:
		case <-deadline:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// cursorBefore reports whether a is before b.
func cursorBefore(a, b outbox.Cursor) bool {
	return a.TxID < b.TxID || (a.TxID == b.TxID && a.Seq < b.Seq)
}

// Consistency tokens: the feed position after a write, handed to the
// writer (response header sparc-consistency, see docs/api.md) and back
// with its searches. Opaque to clients; a bad token is ignored (the
// search is then as fresh as the index happens to be), never an error:
// it only asks for freshness, and grants nothing.

type consistencyKey struct{}

// WithConsistency returns ctx carrying the consistency token tok.
func WithConsistency(ctx context.Context, tok string) context.Context {
	c, ok := parseConsistency(tok)
	if !ok {
		return ctx
	}
	return context.WithValue(ctx, consistencyKey{}, c)
}

func consistencyOf(ctx context.Context) (outbox.Cursor, bool) {
	c, ok := ctx.Value(consistencyKey{}).(outbox.Cursor)
	return c, ok
}

func formatConsistency(c outbox.Cursor) string {
	return "c1." + strconv.FormatUint(c.TxID, 10) + "." + strconv.FormatInt(c.Seq, 10)
}

func parseConsistency(tok string) (outbox.Cursor, bool) {
	rest, ok := strings.CutPrefix(tok, "c1.")
	if !ok {
		return outbox.Cursor{}, false
	}
	tx, seq, ok := strings.Cut(rest, ".")
	if !ok {
		return outbox.Cursor{}, false
	}
	t, err1 := strconv.ParseUint(tx, 10, 64)
	s, err2 := strconv.ParseInt(seq, 10, 64)
	if err1 != nil || err2 != nil {
		return outbox.Cursor{}, false
	}
	return outbox.Cursor{TxID: t, Seq: s}, true
}

// ConsistencyToken returns the token of every asset write committed
// before the call (the feed's head, read on the primary), and on the
// index of this server waits (up to IndexConfig.Wait) until the index
// reflects it, so that this replica's next search sees the write even
// without the token.
func (s *Store) ConsistencyToken(ctx context.Context) (string, error) {
	head, err := s.IndexHead(ctx)
	if err != nil {
		return "", err
	}
	if s.index != nil {
		s.index.reached(ctx, head, s.index.cfg.Wait)
	}
	return formatConsistency(head), nil
}

// searchIndex answers q from the index when it can: a point search
// without text (Near set, no box or polygon) on the in-person assets,
// with the index loaded and as fresh as q's consistency token asks.
// ok false: the caller runs the SQL search. The remote services that
// follow the in-person hits on the page where these run out come from
// PostGIS as in Search.
func (s *Store) searchIndex(ctx context.Context, q SearchQuery) ([]Hit, bool, error) {
	ix := s.index
	if ix == nil || q.Near == nil || q.BBox != nil || q.WithinGeoJSON != "" || q.Text != nil || !q.inPerson() {
		return nil, false, nil
	}
	st := ix.state.Load()
	pos, wait := consistencyOf(ctx)
	if ix.cfg.Strict {
		head, err := s.IndexHead(ctx)
		if err != nil {
			return nil, false, err
		}
		if !wait || cursorBefore(pos, head) {
			pos = head
		}
		wait = true
	}
	if wait {
		st = ix.reached(ctx, pos, ix.cfg.Wait)
	}
	if st == nil {
		ix.fallbacks.Add(1)
		return nil, false, nil
	}
	var after *nearby.After
	if q.After != nil {
		after = &nearby.After{Distance: q.After.Distance, ID: q.After.ID}
	}
	var now time.Time
	if q.OpenAt != nil {
		now = *q.OpenAt
	}
	accept := func(e *indexed) bool { return e.matches(&q, now) }
	near := st.snap.Nearest(q.Near.Lat, q.Near.Lng, q.Near.RadiusMeters, q.Limit+1, after, accept)
	hits := make([]Hit, len(near), q.Limit+1)
	if q.Basic {
		for i, n := range near {
			hits[i] = Hit{Asset: n.Value.basic(time.Now()), Distance: n.Distance}
		}
	} else {
		full, ok, err := s.byIDs(ctx, near)
		if err != nil || !ok {
			ix.fallbacks.Add(1)
			return nil, false, err
		}
		for i, n := range near {
			hits[i] = Hit{Asset: full[i], Distance: n.Distance}
		}
	}
	ix.answered.Add(1)
	if !q.remote() || len(hits) > q.Limit {
		return hits, true, nil
	}
	r := q
	r.Limit = q.Limit - len(hits)
	sql, p := RemoteSearchSQL(r)
	more, err := search(ctx, s.read, sql, p, r.Limit+1, q.Basic, true, time.Now())
	return append(hits, more...), true, err
}

// byIDs reads the full assets of the index's hits, in their order; ok
// false when one is gone or has moved since the index read it (the
// index is behind the database: PostGIS answers instead).
func (s *Store) byIDs(ctx context.Context, near []nearby.Hit[*indexed]) ([]*sparcv1.Asset, bool, error) {
	if len(near) == 0 {
		return nil, true, nil
	}
	ids := make([]uuid.UUID, len(near))
	for i, n := range near {
		ids[i] = n.ID
	}
	rows, err := s.read.Query(ctx, "SELECT "+selectColumns+" FROM assets a WHERE a.id = ANY($1)", ids)
	if err != nil {
		return nil, false, fmt.Errorf("reading search hits: %w", err)
	}
	list, err := collect(rows)
	if err != nil {
		return nil, false, err
	}
	now := time.Now()
	for _, a := range list {
		a.NextSessionTime = nextSessionOf(availabilityCode[a.GetAvailability()], a.GetSessions(), now)
	}
	by := make(map[string]*sparcv1.Asset, len(list))
	for _, a := range list {
		by[a.GetName()] = a
	}
	out := make([]*sparcv1.Asset, len(near))
	for i, n := range near {
		a := by[aip.Name(aip.Assets, n.ID)]
		if a == nil || a.GetLocation().GetLatitude() != n.Value.lat || a.GetLocation().GetLongitude() != n.Value.lng {
			return nil, false, nil
		}
		out[i] = a
	}
	return out, true, nil
}

// matches applies q's filters other than the place, as filterSQL does.
func (e *indexed) matches(q *SearchQuery, openAt time.Time) bool {
	if !slices.Contains(q.Statuses, e.status) {
		return false
	}
	if len(q.Categories) > 0 && !slices.ContainsFunc(q.Categories, func(c string) bool { return slices.Contains(e.categories, c) }) {
		return false
	}
	if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, e.kind) {
		return false
	}
	if q.FreeOnly && e.cost != "free" {
		return false
	}
	for _, a := range q.Accessibility {
		if !slices.Contains(e.accessibility, a) {
			return false
		}
	}
	if q.Language != "" && !slices.Contains(e.langs, q.Language) {
		return false
	}
	if q.Age != nil && ((e.minAge != nil && *e.minAge > *q.Age) || (e.maxAge != nil && *e.maxAge < *q.Age)) {
		return false
	}
	if q.AcceptingReferrals != nil && e.accepting != *q.AcceptingReferrals {
		return false
	}
	if q.OpenAt != nil && !e.openAt(openAt) {
		return false
	}
	if q.HasPlaces && e.capacity != nil && *e.capacity <= e.taken {
		return false
	}
	return true
}

// openAt is openAtSQL in Go: always available at any time; by
// appointment without sessions at any time; else when a session runs at
// t in its own time zone, within its validity dates.
func (e *indexed) openAt(t time.Time) bool {
	switch {
	case e.availability == "always_available":
		return true
	case e.availability == "by_appointment" && len(e.sessions) == 0:
		return true
	}
	for _, s := range e.sessions {
		loc, ok := zone(s.GetTimezone())
		if !ok {
			continue
		}
		local := t.In(loc)
		dow := int(local.Weekday())
		if dow == 0 {
			dow = 7 // ISO: Monday 1 … Sunday 7
		}
		if int(s.GetDay()) != dow {
			continue
		}
		clock := time.Duration(local.Hour())*time.Hour + time.Duration(local.Minute())*time.Minute +
			time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
		start, ok1 := clockTime(s.GetStartTime())
		end, ok2 := clockTime(s.GetEndTime())
		if !ok1 || !ok2 || clock < start || clock >= end {
			continue
		}
		day := local.Format(time.DateOnly)
		if (s.GetValidFrom() != "" && day < s.GetValidFrom()) || (s.GetValidUntil() != "" && day > s.GetValidUntil()) {
			continue
		}
		return true
	}
	return false
}

// basic is the asset in the BASIC view (sparcv1.AssetView): a new message
// per hit; its slices are the index's, clipped so an append copies.
func (e *indexed) basic(now time.Time) *sparcv1.Asset {
	a := &sparcv1.Asset{
		Name: aip.Name(aip.Assets, e.id), DisplayName: e.displayName,
		Kind: kindFromCode[e.kind], Categories: slices.Clip(e.categories),
		Location: &sparcv1.Location{Latitude: e.lat, Longitude: e.lng, Locality: e.locality, Country: e.country},
		Cost:     &sparcv1.Cost{Kind: costFromCode[e.cost]}, Accessibility: slices.Clip(e.accessibility),
		AcceptingReferrals: e.accepting, Status: statusFromCode[e.status],
	}
	if e.capacity != nil {
		left := max(*e.capacity-e.taken, 0)
		a.PlacesLeft = &left
	}
	if e.delivery != "" {
		a.DeliveryMode = deliveryFromCode[e.delivery]
	}
	if len(e.areaCodes) > 0 || e.areaCountry != "" {
		a.ServiceArea = &sparcv1.ServiceArea{AreaCodes: slices.Clip(e.areaCodes), Country: e.areaCountry}
	}
	a.NextSessionTime = nextSessionOf(e.availability, e.sessions, now)
	return a
}

// IndexStats are the index's counters since it started.
type IndexStats struct {
	Assets              int
	Applied, Reloads    int64
	Answered, Fallbacks int64         // point searches it answered; it could have but was not fresh enough
	LastLoad            time.Duration // the last (re)load, reading the assets to answering from them
}

// Stats returns the counters.
func (ix *Index) Stats() IndexStats {
	return IndexStats{Assets: ix.Len(), Applied: ix.applied.Load(), Reloads: ix.reloads.Load(),
		Answered: ix.answered.Load(), Fallbacks: ix.fallbacks.Load(), LastLoad: time.Duration(ix.loadNanos.Load())}
}

// Collector reports the index to Prometheus: its size, how far its
// applied position lags the feed, reloads and which path searches took.
func (ix *Index) Collector() prometheus.Collector { return indexCollector{ix} }

var (
	indexAssetsDesc   = prometheus.NewDesc("sparc_search_index_assets", "Assets in the in-memory search index.", nil, nil)
	indexLoadedDesc   = prometheus.NewDesc("sparc_search_index_loaded", "1 when the search index is loaded and answers searches.", nil, nil)
	indexLagDesc      = prometheus.NewDesc("sparc_search_index_apply_lag_seconds", "From the newest applied asset change's recording to its publication in the index.", nil, nil)
	indexAppliedDesc  = prometheus.NewDesc("sparc_search_index_changes_applied_total", "Asset changes the search index applied.", nil, nil)
	indexReloadsDesc  = prometheus.NewDesc("sparc_search_index_reloads_total", "Fresh loads after a gap in the change feed.", nil, nil)
	indexAnsweredDesc = prometheus.NewDesc("sparc_search_index_searches_total", "Point searches by who walked the neighbours: index or postgis (the index could have, but was not loaded or not fresh enough).", []string{"path"}, nil)
)

type indexCollector struct{ ix *Index }

func (c indexCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{indexAssetsDesc, indexLoadedDesc, indexLagDesc, indexAppliedDesc, indexReloadsDesc, indexAnsweredDesc} {
		ch <- d
	}
}

func (c indexCollector) Collect(ch chan<- prometheus.Metric) {
	ix := c.ix
	loaded := 0.0
	if ix.Loaded() {
		loaded = 1
	}
	ch <- prometheus.MustNewConstMetric(indexAssetsDesc, prometheus.GaugeValue, float64(ix.Len()))
	ch <- prometheus.MustNewConstMetric(indexLoadedDesc, prometheus.GaugeValue, loaded)
	ch <- prometheus.MustNewConstMetric(indexLagDesc, prometheus.GaugeValue, math.Max(0, time.Duration(ix.lagNanos.Load()).Seconds()))
	ch <- prometheus.MustNewConstMetric(indexAppliedDesc, prometheus.CounterValue, float64(ix.applied.Load()))
	ch <- prometheus.MustNewConstMetric(indexReloadsDesc, prometheus.CounterValue, float64(ix.reloads.Load()))
	ch <- prometheus.MustNewConstMetric(indexAnsweredDesc, prometheus.CounterValue, float64(ix.answered.Load()), "index")
	ch <- prometheus.MustNewConstMetric(indexAnsweredDesc, prometheus.CounterValue, float64(ix.fallbacks.Load()), "postgis")
}
