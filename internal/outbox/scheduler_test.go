package outbox_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/outbox"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// deliverer is a Deliverer that records its turns: how many each target
// had, and whether two turns of one target ever overlapped.
type deliverer struct {
	targets []outbox.Target
	outcome map[uuid.UUID]outbox.Turn

	mu      sync.Mutex
	turns   map[uuid.UUID]int
	busy    map[uuid.UUID]bool
	overlap bool
}

func (d *deliverer) Targets(context.Context) ([]outbox.Target, error) { return d.targets, nil }

func (d *deliverer) Deliver(ctx context.Context, conn *pgxpool.Conn, t outbox.Target) outbox.Turn {
	d.mu.Lock()
	d.overlap = d.overlap || d.busy[t.ID]
	d.busy[t.ID] = true
	d.mu.Unlock()
	// A turn's work holds its connection a while (a delivery), so that
	// another server's turn for the same target would overlap it.
	_, _ = conn.Exec(ctx, `SELECT pg_sleep(0.002)`)
	d.mu.Lock()
	d.busy[t.ID] = false
	d.turns[t.ID]++
	d.mu.Unlock()
	return d.outcome[t.ID]
}

func (d *deliverer) count(id uuid.UUID) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.turns[id]
}

// TestSchedulerAcrossServers: two servers' schedulers over the same
// targets; every wake-up gives each target a turn on one of them, never
// two turns of a target at once (the advisory lock); a target that asked
// to back off or is gone gets no further turn, while the others go on.
func TestSchedulerAcrossServers(t *testing.T) {
	pool := testenv.AppPool(t, testenv.NewPool(t))
	busy, quiet, backoff, gone := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	d := &deliverer{turns: map[uuid.UUID]int{}, busy: map[uuid.UUID]bool{},
		outcome: map[uuid.UUID]outbox.Turn{backoff: {Wait: time.Hour}, gone: {Gone: true}}}
	for _, id := range []uuid.UUID{busy, quiet, backoff, gone} {
		d.targets = append(d.targets, outbox.Target{ID: id, Org: uuid.NewString()})
	}
	hub := outbox.NewHub(nil) // both servers woken alike, as notifications would
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		s := outbox.NewScheduler(pool, hub, d, outbox.SchedulerConfig{Name: "test", LockClass: 0x54455354,
			Poll: time.Hour, Concurrency: 4}, nil)
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(ctx) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })

	testenv.Until(t, 30*time.Second, "a first turn each", func() bool {
		return d.count(busy) > 0 && d.count(quiet) > 0 && d.count(backoff) > 0 && d.count(gone) > 0
	})
	for want := d.count(busy) + 1; want <= 20; want++ {
		hub.Changed()
		testenv.Until(t, 30*time.Second, "a turn after the wake-up", func() bool { return d.count(busy) >= want })
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.overlap {
		t.Error("two turns of one target overlapped")
	}
	// The two servers may each have taken the first turn (one after the
	// other), never more.
	if d.turns[backoff] > 2 || d.turns[gone] > 2 {
		t.Errorf("turns after backing off: %d, after gone: %d; want at most the first on each server", d.turns[backoff], d.turns[gone])
	}
	if d.turns[quiet] < 10 {
		t.Errorf("the other target had %d turns over 20 wake-ups", d.turns[quiet])
	}
}
