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
	outbox.Defaults(&c.BackoffBase, &c.BackoffCap, &c.Poll, &c.Timeout, &c.Concurrency, 10*time.Second, 4)
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
// Several servers may run workers: outbox.Scheduler gives each webhook
// its turns, under a session-level advisory lock keyed by the webhook.
type Worker struct {
	store  *store
	sealer *seal.Sealer
	cfg    Config
	client *http.Client
	log    *slog.Logger
	sched  *outbox.Scheduler
}

// NewWorker returns a worker; Run delivers until its context ends.
// hub wakes it when referrals change.
func NewWorker(pool *pgxpool.Pool, sealer *seal.Sealer, hub *outbox.Hub, cfg Config, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.New(slog.DiscardHandler) // never the process default: it ignores --log-format
	}
	cfg = cfg.withDefaults()
	w := &Worker{store: &store{pool: pool}, sealer: sealer, cfg: cfg, log: log, client: newWebhookClient(cfg)}
	w.sched = outbox.NewScheduler(pool, hub, turns{w}, outbox.SchedulerConfig{Name: "webhook delivery",
		LockClass: webhookDeliveryLockClass, Poll: cfg.Poll, Concurrency: cfg.Concurrency}, log)
	return w
}

// Refresh asks the worker to read the list of webhooks again now (one was
// created or deleted through this server).
func (w *Worker) Refresh() { w.sched.Refresh() }

// Run delivers until ctx ends, then waits for the deliveries under way to
// stop.
func (w *Worker) Run(ctx context.Context) { w.sched.Run(ctx) }

// turns is the worker as its scheduler sees it (outbox.Deliverer).
type turns struct{ w *Worker }

func (t turns) Targets(ctx context.Context) ([]outbox.Target, error) { return t.w.store.active(ctx) }

func (t turns) Deliver(ctx context.Context, conn *pgxpool.Conn, h outbox.Target) outbox.Turn {
	pending, wait, gone := t.w.deliver(ctx, conn, h.ID, h.Org)
	return outbox.Turn{Pending: pending, Wait: wait, Gone: gone}
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

// deliver takes one turn for a webhook on conn, which holds its lock: it sends the
// changes after its cursor until none is ready, a delivery fails or the
// webhook is deleted. Database trouble ends the turn quietly after a log
// line: the next turn starts from the stored cursor.
func (w *Worker) deliver(ctx context.Context, conn *pgxpool.Conn, id uuid.UUID, org string) (pending bool, wait time.Duration, gone bool) {
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
