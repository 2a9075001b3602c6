package outbox

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Target is one destination of deliveries from the outbox (a webhook, an
// organisation's email address) as its Deliverer lists it.
type Target struct {
	ID   uuid.UUID
	Org  string        // the organisation its deliveries act as
	Wait time.Duration // how long it still backs off, on the database's clock
}

// Turn is the outcome of one turn of deliveries to a target.
type Turn struct {
	Pending bool          // committed changes wait behind the horizon
	Wait    time.Duration // back off this long before the next turn
	Gone    bool          // the target no longer exists
}

// Deliverer is one kind of delivery (webhooks, email) as a Scheduler runs
// it: what is specific to the kind, the scheduling being the same.
type Deliverer interface {
	// Targets lists the live targets.
	Targets(ctx context.Context) ([]Target, error)
	// Deliver takes one turn for t on conn, whose session holds t's
	// delivery lock: the changes after t's cursor until none is ready or
	// one fails. Database trouble ends the turn with a wait; the next turn
	// starts from the stored cursor.
	Deliver(ctx context.Context, conn *pgxpool.Conn, t Target) Turn
}

// SchedulerConfig tunes a Scheduler.
type SchedulerConfig struct {
	// Name says what is delivered, in log lines ("webhook delivery").
	Name string
	// LockClass is the first key of the targets' advisory locks; the
	// second is LockKey of the target's id.
	LockClass int32
	// Poll is how often the targets are listed again and each looked at
	// without a wake-up (targets made through another server, missed
	// notifications).
	Poll time.Duration
	// Concurrency is how many targets are served at once, each on a
	// database connection: keep it well below the pool size.
	Concurrency int
}

// Scheduler decides when each target of a Deliverer takes a turn. Every
// wake-up (the hub: a change committed here or on another server) starts a
// turn for each idle target not backing off; a target busy when a wake-up
// comes goes again when its turn ends, so no change waits for the next
// wake-up; the poll catches missed notifications.
//
// Several servers may run schedulers over the same targets. Each turn
// happens under a session-level advisory lock keyed by the target, taken
// with pg_try_advisory_lock on the connection the turn uses: a target busy
// elsewhere is skipped, and a lost connection (a crashed server) frees its
// lock. A row lock (SELECT … FOR UPDATE) would have to be held by a
// transaction open across the deliveries (HTTP calls, SMTP conversations);
// an open transaction holds back the horizon that WatchReferrals and every
// delivery read below, so one slow receiver would stall every reader.
type Scheduler struct {
	pool *pgxpool.Pool
	hub  *Hub
	d    Deliverer
	cfg  SchedulerConfig
	log  *slog.Logger
	kick chan struct{}
}

// NewScheduler returns a scheduler for d; Run runs it.
func NewScheduler(pool *pgxpool.Pool, hub *Hub, d Deliverer, cfg SchedulerConfig, log *slog.Logger) *Scheduler {
	if log == nil {
		log = slog.New(slog.DiscardHandler) // never the process default: it ignores --log-format
	}
	cfg.Concurrency = max(cfg.Concurrency, 1)
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Second
	}
	return &Scheduler{pool: pool, hub: hub, d: d, cfg: cfg, log: log, kick: make(chan struct{}, 1)}
}

// Refresh asks for the targets to be listed again now (one was made or
// removed through this server).
func (s *Scheduler) Refresh() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// state is what the scheduler knows of one target.
type state struct {
	t         Target
	notBefore time.Time // backing off until then
	seen      uint64    // the wake-ups it has read past
}

// ended is a turn's outcome as Run learns it.
type ended struct {
	id  uuid.UUID
	gen uint64 // the wake-up count when the turn started
	Turn
}

// Run schedules turns until ctx ends, then waits for those under way.
func (s *Scheduler) Run(ctx context.Context) {
	var (
		targets   = map[uuid.UUID]*state{}
		running   = map[uuid.UUID]bool{}
		done      = make(chan ended)
		slots     = make(chan struct{}, s.cfg.Concurrency)
		gen       = uint64(1) // counts wake-ups (notifications and timers); a new target has seen none
		refreshAt time.Time
		soon      time.Time // look again then: changes were pending
		retry     time.Duration
		timer     = time.NewTimer(time.Hour)
	)
	defer timer.Stop()
	for {
		wake := s.hub.Wait()
		now := time.Now()
		if !now.Before(refreshAt) {
			targets = s.refresh(ctx, targets)
			refreshAt = now.Add(s.cfg.Poll)
		}
		next := refreshAt
		if !soon.IsZero() && soon.Before(next) {
			next = soon
		}
		for id, st := range targets {
			switch {
			case running[id] || st.seen >= gen:
			case st.notBefore.After(now):
				if st.notBefore.Before(next) {
					next = st.notBefore
				}
			default:
				running[id] = true
				go s.turn(ctx, st.t, gen, slots, done)
			}
		}
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			for len(running) > 0 {
				delete(running, (<-done).id)
			}
			return
		case <-wake:
			gen++
		case <-s.kick:
			refreshAt = time.Time{}
			gen++
		case <-timer.C:
			if !soon.IsZero() && !time.Now().Before(soon) {
				soon = time.Time{}
			}
			gen++
		case r := <-done:
			delete(running, r.id)
			st := targets[r.id]
			if st == nil {
				break
			}
			if r.Gone {
				delete(targets, r.id)
				break
			}
			// The target read everything committed before its turn began:
			// it goes again at the next wake-up (at once if one came during
			// the turn), not before its backoff.
			st.seen = r.gen
			if r.Wait > 0 {
				st.notBefore = time.Now().Add(r.Wait)
			}
			if r.Pending {
				// A change waits behind an older transaction that may
				// change no referral and so wake nobody when it ends:
				// look again soon, backing off as WatchReferrals does.
				retry = min(max(2*retry, 5*time.Millisecond), PollInterval)
				soon = time.Now().Add(retry)
			} else {
				retry = 0
			}
		}
	}
}

// refresh lists the targets, keeping what was known of each (the
// wake-ups it has seen, its backoff); on failure it keeps the old list.
func (s *Scheduler) refresh(ctx context.Context, old map[uuid.UUID]*state) map[uuid.UUID]*state {
	list, err := s.d.Targets(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn(s.cfg.Name+": listing targets; trying again at the next poll", "err", err)
		}
		return old
	}
	now := time.Now()
	out := make(map[uuid.UUID]*state, len(list))
	for _, t := range list {
		st := &state{t: t, notBefore: now.Add(t.Wait)}
		if o := old[t.ID]; o != nil {
			st.seen = o.seen
			if o.notBefore.After(st.notBefore) {
				st.notBefore = o.notBefore
			}
		}
		out[t.ID] = st
	}
	return out
}

// turn runs one turn for t when a slot is free and reports on done.
func (s *Scheduler) turn(ctx context.Context, t Target, gen uint64, slots chan struct{}, done chan<- ended) {
	r := ended{id: t.ID, gen: gen}
	select {
	case slots <- struct{}{}:
		r.Turn = s.locked(ctx, t)
		<-slots
	case <-ctx.Done():
	}
	done <- r
}

// locked runs the Deliverer's turn for t under t's lock.
func (s *Scheduler) locked(ctx context.Context, t Target) Turn {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn(s.cfg.Name+": no database connection", "target", t.ID, "err", err)
		}
		return Turn{Wait: time.Second}
	}
	key := LockKey(t.ID)
	var locked bool
	if err := conn.QueryRow(ctx, tryLockSQL, s.cfg.LockClass, key).Scan(&locked); err != nil || !locked {
		conn.Release()
		return Turn{} // served elsewhere (or the database is away: the poll comes back)
	}
	defer func() {
		// The lock belongs to the session: a connection returned to the
		// pool still holding it would block this target for good, so one
		// that cannot unlock is closed (which unlocks).
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, unlockSQL, s.cfg.LockClass, key); err != nil {
			_ = conn.Conn().Close(uctx)
		}
		conn.Release()
	}()
	return s.d.Deliver(ctx, conn, t)
}

// LockKey folds an id into the second key of an advisory lock. Two ids
// folding alike only make their holders take turns.
func LockKey(id uuid.UUID) int32 {
	var k uint32
	for i := 0; i < 16; i += 4 {
		k ^= uint32(id[i])<<24 | uint32(id[i+1])<<16 | uint32(id[i+2])<<8 | uint32(id[i+3])
	}
	return int32(k)
}

// ExecOne sends b on conn, whose statement q updates one target's row,
// and returns none when q changed no row (the target was removed, turned
// off or moved on by another server).
func ExecOne(ctx context.Context, conn *pgxpool.Conn, b *pgx.Batch, q *pgx.QueuedQuery, none error) error {
	var n int64
	q.Exec(func(tag pgconn.CommandTag) error {
		n = tag.RowsAffected()
		return nil
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if n == 0 {
		return none
	}
	return nil
}
