package coverage_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/coverage"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The stored results (issue 18) against the from-scratch computation.

// storedQueries are the coverage requests each check compares: no
// category, one, several (a union), and another kind.
var storedQueries = []*sparcv1.ComputeCoverageRequest{
	{Kind: "lsoa"},
	{Kind: "lsoa", Categories: []string{"food"}},
	{Kind: "lsoa", Categories: []string{"physical_activity", "social_connection", "arts_creativity"}},
	{Kind: "msoa", Categories: []string{"social_connection", "food"}},
}

// waitApplied waits until the current generation has applied every asset
// change committed so far (and exists): the condition the incremental
// worker's progress is observed by.
func waitApplied(t *testing.T, env *demoEnv, walk float64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var ok bool
		err := env.Pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM coverage_generations g
			WHERE g.state = 'current' AND g.walk_meters = $1 AND g.areas_total = (SELECT count(*) FROM areas)
			  AND (g.cursor_txid, g.cursor_seq) >= coalesce((SELECT (txid, seq) FROM asset_changes ORDER BY txid DESC, seq DESC LIMIT 1),
			                                                (g.cursor_txid, g.cursor_seq)))`, walk).Scan(&ok)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the stored coverage did not catch up with the asset changes within 60 s")
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not waiting for luck
	}
}

// compareStored checks that every query answered from the stored results
// equals the from-scratch computation, and that it was answered from them.
func compareStored(t *testing.T, stored, scratch *coverage.Store, step string, walk float64) {
	t.Helper()
	ctx := context.Background()
	for _, req := range storedQueries {
		req = proto.Clone(req).(*sparcv1.ComputeCoverageRequest)
		req.WalkingDistanceMeters = &walk
		q, err := coverage.ParseRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := stored.Compute(ctx, q)
		if err != nil {
			t.Fatalf("%s: stored: %v", step, err)
		}
		if !got.Stored {
			t.Fatalf("%s: %v was not answered from the stored results", step, req)
		}
		want, err := scratch.ComputeFromScratch(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		g, w := got.Proto(), want.Proto()
		if proto.Equal(g, w) {
			continue
		}
		for i := range w.GetAreas() {
			if i >= len(g.GetAreas()) || !proto.Equal(g.GetAreas()[i], w.GetAreas()[i]) {
				t.Fatalf("%s: %v: area %d differs:\nstored  %v\nscratch %v", step, req, i, g.GetAreas()[i], w.GetAreas()[i])
			}
		}
		t.Fatalf("%s: %v: summaries differ:\nstored  %v\nscratch %v", step, req, g.GetSummary(), w.GetSummary())
	}
}

// testWriter sends log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// writer makes random asset writes near the demo areas.
type writer struct {
	t     *testing.T
	api   sparcv1.AssetServiceClient
	rng   *rand.Rand
	refs  [][2]float64 // lat, lng of LSOA reference points
	mine  []*sparcv1.Asset
	names []string
}

var writerCategories = []string{"food", "physical_activity", "social_connection", "arts_creativity"}

func newWriter(t *testing.T, env *demoEnv, seed uint64) *writer {
	res, err := env.Coverage.ComputeCoverage(context.Background(), &sparcv1.ComputeCoverageRequest{Kind: "lsoa"})
	if err != nil {
		t.Fatal(err)
	}
	w := &writer{t: t, api: env.Assets, rng: rand.New(rand.NewPCG(seed, 18))}
	for _, a := range res.GetAreas() {
		w.refs = append(w.refs, [2]float64{a.GetReferenceLatitude(), a.GetReferenceLongitude()})
	}
	return w
}

// place is a random position: near an area's reference point, mostly
// within a few hundred metres, sometimes a few kilometres off.
func (w *writer) place() *sparcv1.Location {
	r := w.refs[w.rng.IntN(len(w.refs))]
	spread := 0.004
	if w.rng.IntN(5) == 0 {
		spread = 0.04
	}
	return &sparcv1.Location{Latitude: r[0] + (w.rng.Float64()-0.5)*spread, Longitude: r[1] + (w.rng.Float64()-0.5)*spread,
		Country: "GB", Address: "Somewhere", Locality: "Test"}
}

func (w *writer) categories() []string {
	n := 1 + w.rng.IntN(2)
	out := []string{}
	for _, i := range w.rng.Perm(len(writerCategories))[:n] {
		out = append(out, writerCategories[i])
	}
	return out
}

func (w *writer) sessions() ([]*sparcv1.Session, *int32) {
	var out []*sparcv1.Session
	for i := range w.rng.IntN(3) {
		out = append(out, &sparcv1.Session{Day: sparcv1.Weekday(1 + i), StartTime: "10:00", EndTime: "11:00", Timezone: "Europe/London"})
	}
	if w.rng.IntN(3) == 0 {
		return out, nil
	}
	c := int32(1 + w.rng.IntN(30))
	return out, &c
}

// step makes one random write and says what it was.
func (w *writer) step() string {
	ctx := context.Background()
	op := w.rng.IntN(10)
	if len(w.mine) == 0 {
		op = 0
	}
	if op <= 3 { // create
		a := &sparcv1.Asset{Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: fmt.Sprintf("Random %d", len(w.names)),
			Categories: w.categories(), Location: w.place(), Status: sparcv1.AssetStatus_ASSET_STATUS_ACTIVE}
		a.Sessions, a.Capacity = w.sessions()
		out, err := w.api.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: a})
		if err != nil {
			w.t.Fatalf("create: %v", err)
		}
		w.mine = append(w.mine, out)
		w.names = append(w.names, out.GetName())
		return "create " + out.GetName()
	}
	i := w.rng.IntN(len(w.mine))
	a := proto.Clone(w.mine[i]).(*sparcv1.Asset)
	var what string
	switch op {
	case 4, 5:
		a.Location, what = w.place(), "move"
	case 6:
		a.Categories, what = w.categories(), "recategorise"
	case 7:
		a.Status, what = []sparcv1.AssetStatus{sparcv1.AssetStatus_ASSET_STATUS_PAUSED, sparcv1.AssetStatus_ASSET_STATUS_CLOSED,
			sparcv1.AssetStatus_ASSET_STATUS_ACTIVE}[w.rng.IntN(3)], "status"
	case 8:
		a.Sessions, a.Capacity = w.sessions()
		what = "sessions"
	default:
		if _, err := w.api.DeleteAsset(ctx, &sparcv1.DeleteAssetRequest{Name: a.GetName(), Etag: a.GetEtag()}); err != nil {
			w.t.Fatalf("delete: %v", err)
		}
		w.mine = append(w.mine[:i], w.mine[i+1:]...)
		return "delete " + a.GetName()
	}
	out, err := w.api.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{Asset: a})
	if err != nil {
		w.t.Fatalf("%s: %v", what, err)
	}
	w.mine[i] = out
	return what + " " + out.GetName()
}

// TestStoredCoverageFollowsRandomWrites is the property: after every
// random asset write (create, move, category change, pause, closure,
// reopening, sessions and capacity, delete), once the worker has applied
// it, the stored results answer exactly what the from-scratch computation
// does, for single categories, unions and other kinds.
func TestStoredCoverageFollowsRandomWrites(t *testing.T) {
	env := newDemoEnv(t, testenv.Options{Coverage: coverage.Config{Maintain: true, Poll: 20 * time.Millisecond}})
	// The demo areas were imported after the server started: the worker
	// notices and builds (the import rebuild).
	waitApplied(t, env, coverage.DefaultWalkMeters)
	stored, scratch := env.App.Coverage, env.App.Coverage
	compareStored(t, stored, scratch, "after the build", coverage.DefaultWalkMeters)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	w := newWriter(t, env, seed)
	for i := range 40 {
		what := w.step()
		waitApplied(t, env, coverage.DefaultWalkMeters)
		compareStored(t, stored, scratch, fmt.Sprintf("step %d (%s)", i, what), coverage.DefaultWalkMeters)
	}
	// What the stored results do not hold is computed.
	q, _ := coverage.ParseRequest(&sparcv1.ComputeCoverageRequest{Kind: "lsoa", WindowStart: "2026-01-01"})
	if res, err := stored.Compute(context.Background(), q); err != nil || res.Stored {
		t.Fatalf("a session window was answered from the stored results (%v)", err)
	}
}

// TestStoredCoverageRebuildsOnWalkChange: a maintainer configured with
// another walking distance builds a new generation in the background
// while writes go on, reports its progress, and switches to it once
// complete; reads use the previous results until then and the new ones
// after, both equal to the from-scratch answer.
func TestStoredCoverageRebuildsOnWalkChange(t *testing.T) {
	env := newDemoEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := coverage.NewMaintainer(env.AppPool, coverage.Config{WalkMeters: 800}, nil)
	if _, err := first.RebuildNow(ctx); err != nil {
		t.Fatal(err)
	}
	stored := coverage.NewStore(env.AppPool, 0).WithStoredResults()
	compareStored(t, stored, stored, "first build", 800)

	w := newWriter(t, env, 7)
	second := coverage.NewMaintainer(env.AppPool, coverage.Config{WalkMeters: 500, Poll: 20 * time.Millisecond},
		slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); second.Run(ctx) }()
	defer wg.Wait()
	defer cancel()
	// Writes during the rebuild; the previous results serve reads
	// (applied by nobody meanwhile: a read waits for them, then computes).
	for range 10 {
		w.step()
	}
	waitApplied(t, env, 500)
	// The maintainer publishes its status just after the switch commits,
	// so the database can show the new generation a moment before it.
	rebuilt := func(st coverage.Status) bool {
		return st.Generation != 0 && st.WalkMeters == 500 && st.Done == st.Total && st.Total != 0
	}
	deadline := time.Now().Add(10 * time.Second)
	for !rebuilt(second.Status()) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := second.Status(); !rebuilt(st) {
		t.Fatalf("status after the rebuild: %+v", st)
	}
	compareStored(t, stored, stored, "after the rebuild", 500)
	for i := range 10 {
		what := w.step()
		waitApplied(t, env, 500)
		compareStored(t, stored, stored, fmt.Sprintf("after the rebuild, step %d (%s)", i, what), 500)
	}
	q, _ := coverage.ParseRequest(&sparcv1.ComputeCoverageRequest{Kind: "lsoa", WalkingDistanceMeters: new(800.0)}) // no longer stored
	if res, err := stored.Compute(ctx, q); err != nil || res.Stored {
		t.Fatalf("800 m answered from the 500 m results (%v)", err)
	}
}
