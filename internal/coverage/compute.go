package coverage

import (
	"context"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/vocab"
)

// chunkSize splits a large area set so its statements spread over the
// store's connections: the walking join of one chunk and the nearest
// queries of another can run at the same time.
const chunkSize = 4000

// Result is a computed coverage.
type Result struct {
	Query   Query
	Areas   []*area // in code order
	Summary Summary
	Timings Timings
	// The window referral figures cover, [from, to) in whole months; zero
	// when there are none.
	ReferralsFrom, ReferralsTo time.Time
	// Stored: answered from the stored results, not computed.
	Stored bool
}

// Timings say where a computation spent its time (for benchmarks and
// slow-request logs).
type Timings struct {
	Areas      time.Duration // reading the area set
	Statements time.Duration // walking-distance joins and asset reads, concurrently
	Nearest    time.Duration // the grid searches in Go
	Summary    time.Duration // deciles and the equity summary
}

// Compute runs the coverage plan for q:
//
//  1. read the area set (one indexed query);
//  2. per country and chunk of areas, one walking-distance join in
//     PostGIS (counts, sessions, places: polygon work stays in the
//     database), and per country one read of the assets that count;
//     these statements run concurrently on up to s.parallel connections;
//  3. in Go: the nearest asset of each category from each area's
//     reference point (a grid over the assets read, see pointIndex), rates
//     per 1,000, coverage score, deprivation deciles and the equity summary.
//
// One KNN query per category in SQL (even with a partial index per
// category) took about 1.1 s per category for 32,844 areas; the grid does
// all categories in a fraction of that.
//
// With stored results (WithStoredResults), a query they answer (no
// session window, their walking distance) is read from them instead
// (fromStored); the answer is the same.
func (s *Store) Compute(ctx context.Context, q Query) (*Result, error) {
	if s.stored {
		// No distance asked: the one the stored results serve (set through
		// UpdateCoverageSettings; the previous one until a rebuild is done).
		if q.WalkDefault {
			g, err := s.currentGeneration(ctx)
			if err != nil {
				return nil, err
			}
			if g != nil {
				q.WalkMeters = g.Walk
			}
		}
		if res, ok, err := s.fromStored(ctx, q); err != nil || ok {
			return res, err
		}
	}
	return s.ComputeFromScratch(ctx, q)
}

// ComputeFromScratch is Compute without stored results.
func (s *Store) ComputeFromScratch(ctx context.Context, q Query) (*Result, error) {
	var tm Timings
	start := time.Now()
	list, err := s.areaSet(ctx, q)
	if err != nil {
		return nil, err
	}
	c := newComputation(q, list)
	tasks := s.statements(c)
	tm.Areas = time.Since(start)
	start = time.Now()
	if err := s.runAll(ctx, len(tasks), func(ctx context.Context, i int) error { return tasks[i](ctx) }); err != nil {
		return nil, err
	}
	tm.Statements = time.Since(start)
	start = time.Now()
	if err := s.nearest(ctx, c); err != nil {
		return nil, err
	}
	tm.Nearest = time.Since(start)
	return finish(q, list, tm), nil
}

// finish ranks and summarises the computed areas.
func finish(q Query, list []*area, tm Timings) *Result {
	start := time.Now()
	assignDeciles(list)
	rankWithinCouncils(list, q.WalkMeters)
	sum := Summarise(list)
	tm.Summary = time.Since(start)
	return &Result{Query: q, Areas: list, Summary: sum, Timings: tm}
}

// areaSet reads and checks the area set of q.
func (s *Store) areaSet(ctx context.Context, q Query) ([]*area, error) {
	list, err := s.loadAreas(ctx, q)
	if err != nil {
		return nil, err
	}
	return list, checkAreaSet(q, len(list))
}

// checkAreaSet refuses an area set of more than maxAreas (n is the
// number read, at most one more) and categories outside the vocabulary.
func checkAreaSet(q Query, n int) error {
	if n > maxAreas {
		field := "kind"
		if q.Parent != "" {
			field = "parent_code"
		}
		return apierr.Invalid(field, "selects more than %d areas; narrow it with bbox", maxAreas)
	}
	for _, c := range q.Categories {
		if !vocab.IsCategory(c) {
			return apierr.Invalid("categories", "%q is not a category code", c)
		}
	}
	return nil
}

// computation is the state of one Compute: the area set by code and by
// country, the categories measured ("" = any asset) and, once read, the
// assets that count in each country.
type computation struct {
	q          Query
	cats       []string
	byCode     map[string]*area
	byCountry  map[string][]*area
	candidates map[string]*candidateSet
}

func newComputation(q Query, list []*area) *computation {
	c := &computation{q: q, cats: q.Categories, byCode: make(map[string]*area, len(list)),
		byCountry: map[string][]*area{}, candidates: map[string]*candidateSet{}}
	if len(c.cats) == 0 {
		c.cats = []string{""}
	}
	for _, a := range list {
		a.Nearest = make([]*float64, len(c.cats))
		c.byCode[a.Code] = a
		c.byCountry[a.Country] = append(c.byCountry[a.Country], a)
	}
	return c
}

// statements plans the SQL of c: per country with areas, one read of the
// assets that count and one walking-distance join per chunk of areas.
// Each statement writes only its own part of c, so they can run at once.
func (s *Store) statements(c *computation) []func(ctx context.Context) error {
	var tasks []func(ctx context.Context) error
	for _, country := range areas.Countries {
		inCountry := c.byCountry[country.Code]
		if len(inCountry) == 0 {
			continue
		}
		cs := &candidateSet{}
		c.candidates[country.Code] = cs
		tasks = append(tasks, func(ctx context.Context) error { return s.readCandidates(ctx, country, c.q, cs) })
		for start := 0; start < len(inCountry); start += chunkSize {
			chunk := inCountry[start:min(start+chunkSize, len(inCountry))]
			codes := make([]string, len(chunk))
			for i, a := range chunk {
				codes[i] = a.Code
			}
			tasks = append(tasks, func(ctx context.Context) error { return s.walk(ctx, country, codes, c.q, c.byCode) })
		}
	}
	return tasks
}

// nearest finds each area's nearest candidate per category: one job per
// country and category, spread over the workers; each builds its grid
// and fills its own category's slot of every area.
func (s *Store) nearest(ctx context.Context, c *computation) error {
	type job struct {
		country string
		k       int
	}
	var jobs []job
	for country := range c.candidates {
		for k := range c.cats {
			jobs = append(jobs, job{country, k})
		}
	}
	return s.runAll(ctx, len(jobs), func(_ context.Context, i int) error {
		j := jobs[i]
		idx := c.candidates[j.country].index(c.cats[j.k])
		for _, a := range c.byCountry[j.country] {
			if d, ok := idx.nearest(a.RefLat, a.RefLng); ok {
				a.Nearest[j.k] = &d
			}
		}
		return nil
	})
}

// runAll runs fn(0..n-1) on up to s.parallel goroutines and returns the
// first error, cancelling the rest.
func (s *Store) runAll(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		next     = make(chan int)
	)
	for range min(s.parallel, max(1, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// walk runs the walking-distance join for some areas of one country and
// stores the figures in them (each area is in one chunk only).
func (s *Store) walk(ctx context.Context, c areas.Country, codes []string, q Query, byCode map[string]*area) error {
	return s.assets.WalkCoverage(ctx, c.Code, codes, q.WalkMeters, assetFilter(q), func(code string, w assets.WalkCounts) {
		a := byCode[code]
		a.Inside, a.Within, a.Sessions, a.Places = w.Inside, w.Within, w.Sessions, w.Places
	})
}

// candidateSet holds the assets of one country that count for a query.
type candidateSet struct {
	ids              []uuid.UUID
	lat, lng, cosLat []float64
	categories       [][]string
}

// add appends one candidate.
func (cs *candidateSet) add(id uuid.UUID, lat, lng float64, cats []string) {
	cs.ids = append(cs.ids, id)
	cs.lat = append(cs.lat, lat)
	cs.lng = append(cs.lng, lng)
	cs.cosLat = append(cs.cosLat, math.Cos(lat*(math.Pi/180)))
	cs.categories = append(cs.categories, cats)
}

func (s *Store) readCandidates(ctx context.Context, c areas.Country, q Query, cs *candidateSet) error {
	return s.assets.EachCounted(ctx, c.Code, assetFilter(q), cs.add)
}

// index builds the grid over the candidates of one category ("" = all).
func (cs *candidateSet) index(category string) *pointIndex {
	var idx []int32
	for i, cats := range cs.categories {
		if category == "" || slices.Contains(cats, category) {
			idx = append(idx, int32(i))
		}
	}
	return newPointIndex(cs.lat, cs.lng, cs.cosLat, idx)
}

// Rate is a figure per 1,000 residents, absent without a population.
func rate(v float64, population int64) *float64 {
	if population <= 0 {
		return nil
	}
	r := v * 1000 / float64(population)
	return &r
}

// score is the share (0 to 100) of the categories whose nearest asset is
// within walking distance of the reference point.
func score(a *area, walk float64) float64 {
	if len(a.Nearest) == 0 {
		return 0
	}
	n := 0
	for _, d := range a.Nearest {
		if d != nil && *d <= walk {
			n++
		}
	}
	return 100 * float64(n) / float64(len(a.Nearest))
}

// assignDeciles sets each area's deprivation decile (1 = most deprived)
// from its kind's measure: a decile attribute is used as it is; ranks and
// scores are cut into ten equal-count groups over the areas of that kind
// in this computation.
func assignDeciles(list []*area) {
	byKind := map[string][]*area{}
	for _, a := range list {
		if a.Deprivation == nil {
			continue
		}
		switch a.Scale {
		case "decile":
			if d := *a.Deprivation; d >= 1 && d <= 10 && d == float64(int32(d)) {
				a.Decile = int32(d)
			}
		case "rank", "score":
			byKind[a.Kind] = append(byKind[a.Kind], a)
		}
	}
	for _, group := range byKind {
		sort.SliceStable(group, func(i, j int) bool {
			return deprivationOrder(group[i]) < deprivationOrder(group[j])
		})
		for i, a := range group {
			a.Decile = int32(i*10/len(group)) + 1
		}
	}
}

// deprivationOrder sorts areas from most to least deprived.
func deprivationOrder(a *area) float64 {
	switch a.Scale {
	case "score":
		return -*a.Deprivation
	case "decile":
		return float64(a.Decile)
	}
	return *a.Deprivation
}
