package assets_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/testenv"
)

// 50 clients each read the asset, change it and write it back with the
// etag they read, retrying on ABORTED: every change must survive. Half go
// through gRPC and half through the HTTP gateway.
func TestConcurrentEtagUpdatesLoseNothing(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	start := validAsset()
	start.Capacity = ptr(int32(0))
	start.Description = ""
	a := create(t, env.Assets, start)
	tr := transports(t, env)

	const writers = 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	conflicts := make(chan int, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			api := tr[w%2].api
			aborted := 0
			for attempt := 0; ; attempt++ {
				if attempt > 500 {
					errs <- fmt.Errorf("writer %d: no success after %d attempts", w, attempt)
					return
				}
				cur, err := api.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: a.GetName()})
				if err != nil {
					errs <- fmt.Errorf("writer %d: get: %w", w, err)
					return
				}
				_, err = api.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{
					Asset: &sparcv1.Asset{Name: a.GetName(), Etag: cur.GetEtag(),
						Capacity:    ptr(cur.GetCapacity() + 1),
						Description: cur.GetDescription() + fmt.Sprintf("[%d]", w)},
					UpdateMask: withMask("capacity", "description"),
				})
				if status.Code(err) == codes.Aborted {
					aborted++
					// Back off a little, as a well-behaved client does.
					time.Sleep(time.Duration(rand.IntN(1000*min(aborted, 20))) * time.Microsecond)
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d: update: %w", w, err)
					return
				}
				conflicts <- aborted
				return
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(conflicts)
	for err := range errs {
		t.Error(err)
	}
	total := 0
	for c := range conflicts {
		total += c
	}
	got, err := env.Assets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: a.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetCapacity() != writers {
		t.Errorf("capacity %d after %d increments", got.GetCapacity(), writers)
	}
	for w := 0; w < writers; w++ {
		if n := strings.Count(got.GetDescription(), fmt.Sprintf("[%d]", w)); n != 1 {
			t.Errorf("writer %d's mark appears %d times in %q", w, n, got.GetDescription())
		}
	}
	if total == 0 {
		t.Errorf("no update was ever refused as stale: the writers did not overlap, so the test proves nothing")
	}
	t.Logf("%d stale-etag refusals along the way", total)
}

// Updates without an etag but with disjoint masks serialise on the row:
// none overwrites another's field with an old value.
func TestConcurrentMaskedUpdatesWithoutEtagKeepEveryField(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	a := create(t, env.Assets, validAsset())
	fields := []struct {
		mask  string
		patch func(i int) *sparcv1.Asset
		check func(got *sparcv1.Asset, i int) bool
	}{
		{"display_name", func(i int) *sparcv1.Asset { return &sparcv1.Asset{DisplayName: fmt.Sprintf("name %d", i)} },
			func(g *sparcv1.Asset, i int) bool { return g.GetDisplayName() == fmt.Sprintf("name %d", i) }},
		{"description", func(i int) *sparcv1.Asset { return &sparcv1.Asset{Description: fmt.Sprintf("desc %d", i)} },
			func(g *sparcv1.Asset, i int) bool { return g.GetDescription() == fmt.Sprintf("desc %d", i) }},
		{"capacity", func(i int) *sparcv1.Asset { return &sparcv1.Asset{Capacity: ptr(int32(i))} },
			func(g *sparcv1.Asset, i int) bool { return g.GetCapacity() == int32(i) }},
		{"cost.note", func(i int) *sparcv1.Asset {
			return &sparcv1.Asset{Cost: &sparcv1.Cost{Note: fmt.Sprintf("note %d", i)}}
		},
			func(g *sparcv1.Asset, i int) bool { return g.GetCost().GetNote() == fmt.Sprintf("note %d", i) }},
		{"location.locality", func(i int) *sparcv1.Asset {
			return &sparcv1.Asset{Location: &sparcv1.Location{Locality: fmt.Sprintf("place %d", i)}}
		}, func(g *sparcv1.Asset, i int) bool { return g.GetLocation().GetLocality() == fmt.Sprintf("place %d", i) }},
	}
	const rounds = 10
	var wg sync.WaitGroup
	for _, f := range fields {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= rounds; i++ {
				p := f.patch(i)
				p.Name = a.GetName()
				if _, err := env.Assets.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{Asset: p, UpdateMask: withMask(f.mask)}); err != nil {
					t.Errorf("%s round %d: %v", f.mask, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := env.Assets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: a.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fields {
		if !f.check(got, rounds) {
			t.Errorf("%s lost its last update: %v", f.mask, got)
		}
	}
	if got.GetLocation().GetLatitude() != a.GetLocation().GetLatitude() || got.GetCost().GetKind() != a.GetCost().GetKind() {
		t.Errorf("a sub-field update disturbed its siblings: %v", got)
	}
}

// Creates and deletes of the same ids race; afterwards every id is either
// fully there (Get finds it, List lists it, one row) or fully gone, and the
// outcome of each id agrees with the calls that succeeded.
func TestCreateDeleteRacesLeaveAConsistentState(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	tr := transports(t, env)
	const ids, workers = 12, 8
	idList := make([]string, ids)
	for i := range idList {
		idList[i] = uuid.NewString()
	}
	// Each worker walks the ids creating or deleting; calls may fail only
	// with ALREADY_EXISTS (create) or NOT_FOUND (delete).
	type event struct {
		id      string
		created bool // a successful create (else a successful delete)
	}
	events := make(chan event, ids*workers*10)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			api := tr[w%2].api
			for round := 0; round < 6; round++ {
				for k := 0; k < ids; k++ {
					id := idList[(k+w)%ids]
					if (round+w)%2 == 0 {
						a := validAsset()
						a.DisplayName = fmt.Sprintf("race %s", id[:8])
						_, err := api.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: a, AssetId: id})
						switch status.Code(err) {
						case codes.OK:
							events <- event{id, true}
						case codes.AlreadyExists:
						default:
							t.Errorf("create %s: %v", id, err)
						}
					} else {
						_, err := api.DeleteAsset(ctx, &sparcv1.DeleteAssetRequest{Name: "assets/" + id})
						switch status.Code(err) {
						case codes.OK:
							events <- event{id, false}
						case codes.NotFound:
						default:
							t.Errorf("delete %s: %v", id, err)
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	close(events)
	// Per id, successful creates and deletes alternate starting with a
	// create (events arrive out of order, so only the totals are checked):
	// creates minus deletes is 0 or 1 and says whether the asset exists.
	net := map[string]int{}
	for e := range events {
		if e.created {
			net[e.id]++
		} else {
			net[e.id]--
		}
	}
	listed := map[string]bool{}
	req := &sparcv1.ListAssetsRequest{PageSize: 5}
	for {
		resp, err := env.Assets.ListAssets(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range resp.GetAssets() {
			id := assets.ID(a).String()
			if listed[id] {
				t.Fatalf("%s listed twice", a.GetName())
			}
			listed[id] = true
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	for _, id := range idList {
		_, err := env.Assets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: "assets/" + id})
		var rows int
		if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM assets WHERE id = $1`, id).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		exists := status.Code(err) == codes.OK
		if status.Code(err) != codes.OK && status.Code(err) != codes.NotFound {
			t.Fatalf("get %s: %v", id, err)
		}
		if exists != listed[id] || exists != (rows == 1) || exists != (net[id] == 1) {
			t.Errorf("id %s: get says %v, list says %v, %d rows, successful creates minus deletes %d", id, exists, listed[id], rows, net[id])
		}
	}
	if n := countAssets(t, env); n != len(listed) {
		t.Errorf("%d rows but %d listed", n, len(listed))
	}
	if len(net) < ids {
		t.Errorf("only %d of %d ids were ever created: the race did not happen", len(net), ids)
	}
}

// Many clients create the same id at once: exactly one wins.
func TestConcurrentCreatesWithOneIDHaveOneWinner(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	tr := transports(t, env)
	id := uuid.NewString()
	var wg sync.WaitGroup
	results := make(chan codes.Code, 20)
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := tr[w%2].api.CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: validAsset(), AssetId: id})
			results <- status.Code(err)
		}()
	}
	wg.Wait()
	close(results)
	var got []codes.Code
	for c := range results {
		got = append(got, c)
	}
	slices.Sort(got)
	if n := slices.Index(got, codes.AlreadyExists); got[0] != codes.OK || (len(got) > 1 && got[1] == codes.OK) || n != 1 || got[len(got)-1] != codes.AlreadyExists {
		t.Fatalf("outcomes %v, want one OK and the rest ALREADY_EXISTS", got)
	}
	if countAssets(t, env) != 1 {
		t.Fatalf("%d rows, want 1", countAssets(t, env))
	}
}

// Deleting with the same (current) etag from many clients: one succeeds,
// the rest find nothing to delete.
func TestConcurrentDeletesWithOneEtagHaveOneWinner(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	tr := transports(t, env)
	a := create(t, env.Assets, validAsset())
	var wg sync.WaitGroup
	results := make(chan codes.Code, 20)
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := tr[w%2].api.DeleteAsset(context.Background(), &sparcv1.DeleteAssetRequest{Name: a.GetName(), Etag: a.GetEtag()})
			results <- status.Code(err)
		}()
	}
	wg.Wait()
	close(results)
	ok := 0
	for c := range results {
		switch c {
		case codes.OK:
			ok++
		case codes.NotFound:
		default:
			t.Errorf("unexpected outcome %v", c)
		}
	}
	if ok != 1 || countAssets(t, env) != 0 {
		t.Fatalf("%d deletes succeeded, %d rows left; want 1 and 0", ok, countAssets(t, env))
	}
}
