package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/encoding/protojson"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/outbox"
	"github.com/sparc-network/sparc/internal/referrals"
	"github.com/sparc-network/sparc/internal/seal"
)

// Config tunes delivery; the zero value gives the defaults.
type Config struct {
	// BackoffBase is the wait after a first failure; it doubles with each
	// further failure up to BackoffCap, with jitter. Zero: 1 s and 10 min.
	BackoffBase, BackoffCap time.Duration
	// Timeout bounds one attempt: connecting, sending, the answer.
	// Zero: 10 s.
	Timeout time.Duration
	// Poll is how often the list of webhooks is read again and every
	// webhook looked at even without a notification (webhooks created
	// through another server, missed notifications). Zero: 5 s.
	Poll time.Duration
	// Concurrency is how many webhooks this server delivers to at once;
	// each holds a database connection while it does, so keep it well
	// below the pool size. Zero: 4.
	Concurrency int
	// Disabled: this server does not deliver (other replicas do).
	Disabled bool
	// AllowPrivate lets webhooks reach loopback, private, link-local and
	// other non-public addresses (development, tests). Off, they are
	// refused at registration when written as an address and at every
	// connection after resolution (see targets.go).
	AllowPrivate bool
}

func (c Config) withDefaults() Config {
	if c.BackoffBase <= 0 {
		c.BackoffBase = time.Second
	}
	if c.BackoffCap <= 0 {
		c.BackoffCap = 10 * time.Minute
	}
	c.BackoffCap = max(c.BackoffCap, c.BackoffBase)
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Poll <= 0 {
		c.Poll = 5 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	return c
}

// backoff is the wait after the n-th consecutive failure (outbox.Backoff).
func (c Config) backoff(n int) time.Duration { return outbox.Backoff(n, c.BackoffBase, c.BackoffCap) }

// Worker delivers the outbox to webhooks: for each webhook, every
// change its organisation may see (the stream WatchReferrals gives that
// organisation), in order, one POST per change, signed with the webhook's
// secret. A webhook's cursor advances in the database only after a 2xx, so
// delivery is at least once and survives restarts; a failure backs off
// exponentially and is recorded on the webhook.
//
// Several servers may run workers. Each delivery to a webhook happens
// under a session-level advisory lock keyed by the webhook, taken with
// pg_try_advisory_lock on the connection the delivery uses: a webhook
// busy elsewhere is skipped, and a lost connection (a crashed server)
// frees its lock. A row lock (SELECT … FOR UPDATE) would have to be held
// by a transaction open across the HTTP calls, up to the timeout per
// change; a transaction holding a row lock has a transaction id, and an
// open one holds back the horizon that WatchReferrals and every webhook
// read below, so one slow receiver would stall every watcher.
type Worker struct {
	pool   *pgxpool.Pool
	store  *store
	sealer *seal.Sealer
	hub    *outbox.Hub
	cfg    Config
	client *http.Client
	log    *slog.Logger
	kick   chan struct{}
}

// NewWorker returns a worker; Run delivers until its context ends.
// hub wakes it when referrals change.
func NewWorker(pool *pgxpool.Pool, sealer *seal.Sealer, hub *outbox.Hub, cfg Config, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.New(slog.DiscardHandler) // never the process default: it ignores --log-format
	}
	cfg = cfg.withDefaults()
	return &Worker{pool: pool, store: &store{pool: pool}, sealer: sealer, hub: hub, cfg: cfg, log: log, kick: make(chan struct{}, 1),
		client: newWebhookClient(cfg)}
}

// Refresh asks the worker to read the list of webhooks again now (one was
// created or deleted through this server).
func (w *Worker) Refresh() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// hookState is what the scheduler knows of one webhook.
type hookState struct {
	org       string
	notBefore time.Time // backing off until then
	seen      uint64    // wake-ups it has read past (see Run)
}

// delivered is the outcome of one turn of deliveries to a webhook.
type delivered struct {
	id      uuid.UUID
	gen     uint64        // the wake-up count when the turn started
	pending bool          // committed changes wait behind the horizon
	wait    time.Duration // back off this long
	gone    bool          // the webhook was deleted
}

// Run delivers until ctx ends, then waits for the deliveries under way to
// stop. Wake-ups (the hub) start a turn for every idle webhook; a webhook
// still busy when one arrives takes another turn when it finishes, so no
// change waits for the next wake-up. The poll interval is the fallback for
// missed notifications.
func (w *Worker) Run(ctx context.Context) {
	var (
		hooks     = map[uuid.UUID]*hookState{}
		running   = map[uuid.UUID]bool{}
		done      = make(chan delivered)
		slots     = make(chan struct{}, w.cfg.Concurrency)
		gen       = uint64(1) // counts wake-ups (notifications and timers); a new webhook has seen none
		refreshAt time.Time
		soon      time.Time // look again then: changes were pending
		retry     time.Duration
		timer     = time.NewTimer(time.Hour)
	)
	defer timer.Stop()
	for {
		wake := w.hub.Wait()
		now := time.Now()
		if !now.Before(refreshAt) {
			hooks = w.refresh(ctx, hooks)
			refreshAt = now.Add(w.cfg.Poll)
		}
		next := refreshAt
		if !soon.IsZero() && soon.Before(next) {
			next = soon
		}
		for id, h := range hooks {
			switch {
			case running[id] || h.seen >= gen:
			case h.notBefore.After(now):
				if h.notBefore.Before(next) {
					next = h.notBefore
				}
			default:
				running[id] = true
				go w.turn(ctx, id, h.org, gen, slots, done)
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
		case <-w.kick:
			refreshAt = time.Time{}
			gen++
		case <-timer.C:
			if !soon.IsZero() && !time.Now().Before(soon) {
				soon = time.Time{}
			}
			gen++
		case r := <-done:
			delete(running, r.id)
			h := hooks[r.id]
			if h == nil {
				break
			}
			if r.gone {
				delete(hooks, r.id)
				break
			}
			h.finished(r)
			if r.pending {
				// A change waits behind an older transaction that may
				// change no referral and so wake nobody when it ends:
				// look again soon, backing off as WatchReferrals does.
				retry = min(max(2*retry, 5*time.Millisecond), outbox.PollInterval)
				soon = time.Now().Add(retry)
			} else {
				retry = 0
			}
		}
	}
}

// refresh reads the live webhooks, keeping what hooks knew of each (the
// wake-ups it has seen, its backoff); on failure it keeps hooks.
func (w *Worker) refresh(ctx context.Context, hooks map[uuid.UUID]*hookState) map[uuid.UUID]*hookState {
	active, err := w.store.active(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("reading webhooks; trying again at the next poll", "err", err)
		}
		return hooks
	}
	now := time.Now()
	list := make(map[uuid.UUID]*hookState, len(active))
	for _, a := range active {
		h := &hookState{org: a.org, notBefore: now.Add(a.wait)}
		if old := hooks[a.id]; old != nil {
			h.seen = old.seen
			if old.notBefore.After(h.notBefore) {
				h.notBefore = old.notBefore
			}
		}
		list[a.id] = h
	}
	return list
}

// turn delivers to one webhook when a slot is free and reports on done.
func (w *Worker) turn(ctx context.Context, id uuid.UUID, org string, gen uint64, slots chan struct{}, done chan<- delivered) {
	r := delivered{id: id, gen: gen}
	select {
	case slots <- struct{}{}:
		r.pending, r.wait, r.gone = w.deliver(ctx, id, org)
		<-slots
	case <-ctx.Done():
	}
	done <- r
}

// finished records a turn: the webhook read everything committed before
// its turn began, so it goes again at the next wake-up (at once if one
// came during the turn), not before its backoff.
func (h *hookState) finished(r delivered) {
	h.seen = r.gen
	if r.wait > 0 {
		h.notBefore = time.Now().Add(r.wait)
	}
}

// target is a webhook as one turn of deliveries uses it.
type target struct {
	id       uuid.UUID
	org      string
	role     string // of its creator: the side(s) it receives (referrals' visibility rule)
	url      string
	secret   []byte
	cur      outbox.Cursor
	failures int
}

// errWebhookGone: the webhook was deleted while its turn went on.
var errWebhookGone = errors.New("webhook deleted")

// deliver takes one turn for a webhook: under its lock, it sends the
// changes after its cursor until none is ready, a delivery fails or the
// webhook is deleted. Database trouble ends the turn quietly after a log
// line: the next turn starts from the stored cursor.
func (w *Worker) deliver(ctx context.Context, id uuid.UUID, org string) (pending bool, wait time.Duration, gone bool) {
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("webhook delivery: no database connection", "webhook", id, "err", err)
		}
		return false, time.Second, false
	}
	if locked, err := tryLock(ctx, conn, id); err != nil || !locked {
		conn.Release()
		return false, 0, false // delivered elsewhere (or the database is away: the poll comes back)
	}
	defer func() {
		// The lock belongs to the session: a connection returned to the
		// pool still holding it would block this webhook for good, so one
		// that cannot unlock is closed (which unlocks).
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := unlock(uctx, conn, id); err != nil {
			_ = conn.Conn().Close(uctx)
		}
		conn.Release()
	}()
	t, wait, err := w.load(ctx, conn, id, org)
	switch {
	case errors.Is(err, errWebhookGone):
		return false, 0, true
	case err != nil:
		w.logErr(ctx, "webhook delivery: reading the webhook", id, err)
		return false, time.Second, false
	case wait > 0: // another server recorded a failure: respect its backoff
		return false, wait, false
	}
	for {
		changes, cursors, pending, err := w.read(ctx, conn, t)
		if errors.Is(err, errWebhookGone) {
			return false, 0, true
		}
		if err != nil {
			w.logErr(ctx, "webhook delivery: reading changes", id, err)
			return false, time.Second, false
		}
		if len(changes) == 0 {
			return pending, 0, false
		}
		for i, ch := range changes {
			if err := w.post(ctx, t, ch); err != nil {
				if ctx.Err() != nil {
					return false, 0, false // shutting down: not the receiver's failure
				}
				w.log.Debug("webhook delivery failed", "webhook", id, "err", errors.Unwrap(err))
				wait, err := w.fail(ctx, conn, t, err)
				if errors.Is(err, errWebhookGone) {
					return false, 0, true
				}
				if err != nil {
					w.logErr(ctx, "webhook delivery: recording a failure", id, err)
					return false, time.Second, false
				}
				return false, wait, false
			}
			if err := w.advance(ctx, conn, t, cursors[i]); err != nil {
				if errors.Is(err, errWebhookGone) {
					return false, 0, true
				}
				w.logErr(ctx, "webhook delivery: advancing the cursor", id, err)
				return false, time.Second, false
			}
		}
	}
}

func (w *Worker) logErr(ctx context.Context, msg string, id uuid.UUID, err error) {
	if ctx.Err() == nil {
		w.log.Error(msg, "webhook", id, "err", err)
	}
}

// load reads the webhook for a turn and how long it still backs off.
func (w *Worker) load(ctx context.Context, conn *pgxpool.Conn, id uuid.UUID, org string) (*target, time.Duration, error) {
	t := &target{id: id, org: org}
	sealed, wait, err := loadTarget(ctx, conn, t)
	if err != nil {
		return nil, 0, err
	}
	if t.secret, err = w.sealer.Open(sealed, secretAD(id)); err != nil {
		return nil, 0, fmt.Errorf("opening the signing secret (was the data key changed?): %w", err)
	}
	return t, wait, nil
}

// read returns the changes after t's cursor that t's organisation may see,
// as WatchReferrals reads them.
func (w *Worker) read(ctx context.Context, conn *pgxpool.Conn, t *target) ([]*sparcv1.ReferralChange, []outbox.Cursor, bool, error) {
	var changes []*sparcv1.ReferralChange
	var cursors []outbox.Cursor
	var pending, alive bool
	// As the webhook's organisation and role: it receives what its
	// creator would watch, no more.
	b := db.IdentityBatch(db.Identity{Org: t.org, Role: t.role})
	// A deleted webhook gets nothing read after its deletion: at most the
	// change already under way arrives (advance then finds it deleted).
	queueAlive(b, t.id, &alive)
	outbox.QueueRead(b, t.cur, func(read []outbox.Change, p bool) {
		// A change the rule refuses is stepped over: its cursor is passed
		// with the next delivered change (the query states the same rule,
		// so none is expected).
		for _, c := range read {
			if ch := referrals.ChangeFor(t.org, t.role, c); ch != nil {
				changes, cursors = append(changes, ch), append(cursors, c.Cursor)
			}
		}
		pending = p
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, false, fmt.Errorf("reading referral changes: %w", err)
	}
	if !alive {
		return nil, nil, false, errWebhookGone
	}
	return changes, cursors, pending, nil
}

// payloadJSON is how a change is encoded: as the HTTP watch stream
// encodes it (proto field names, every field present).
var payloadJSON = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

// sign returns the SPARC-Signature header value for a body sent at the
// given unix time: "v1=" and the hex HMAC-SHA256 of "<timestamp>.<body>"
// keyed with the webhook's secret. Receivers compute the same to verify.
func sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends one change; any answer but a 2xx is an error.
func (w *Worker) post(ctx context.Context, t *target, ch *sparcv1.ReferralChange) error {
	body, err := payloadJSON.Marshal(ch)
	if err != nil {
		return fmt.Errorf("encoding change: %w", err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return &deliveryError{msg: msgBadURL, cause: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "SPARC-Webhooks/1")
	req.Header.Set("SPARC-Webhook-Id", t.id.String())
	req.Header.Set("SPARC-Delivery-Id", ch.GetCursor())
	req.Header.Set("SPARC-Timestamp", ts)
	req.Header.Set("SPARC-Signature", sign(t.secret, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return &deliveryError{msg: describeFailure(err, w.cfg.Timeout), cause: err}
	}
	// Read a little of the body so the connection can be reused; it is
	// never kept or shown.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &deliveryError{msg: statusPhrase(resp.StatusCode), cause: fmt.Errorf("HTTP %q", resp.Status)}
	}
	return nil
}

// advance records an acknowledged change: the cursor moves past it (never
// back) and the failure count clears.
func (w *Worker) advance(ctx context.Context, conn *pgxpool.Conn, t *target, c outbox.Cursor) error {
	// errWebhookGone: deleted, or another server moved it on (its lock
	// outlived a connection this server thought lost): stop either way.
	if err := advance(ctx, conn, t, c); err != nil {
		return err
	}
	t.cur, t.failures = c, 0
	return nil
}

// fail records a failed delivery and returns the backoff before the next.
func (w *Worker) fail(ctx context.Context, conn *pgxpool.Conn, t *target, cause error) (time.Duration, error) {
	t.failures++
	wait := w.cfg.backoff(t.failures)
	msg := cause.Error()
	if r := []rune(msg); len(r) > 200 {
		msg = string(r[:200])
	}
	if err := recordFailure(ctx, conn, t, msg, wait); err != nil {
		return 0, err
	}
	return wait, nil
}
