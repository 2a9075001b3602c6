// Package notify emails organisations about their referrals: the provider
// organisation's contact address when a referral arrives, the referring
// organisation's when the provider accepts or declines it or the person
// starts attending. Emails are delivered from the referral outbox, as
// webhooks are (internal/webhooks): per organisation a cursor that moves
// only once the SMTP server accepted the email, so each change is emailed
// once per recipient, in order, retried with backoff, surviving restarts,
// with failures recorded on the organisation's settings. Bodies carry the
// event, the asset's public display name and a link to the referral,
// nothing about the person.
//
// API keys carry no email address, so the referring link worker is
// reached through the referring organisation's contact address (least
// data: no per-person addresses are collected for this).
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/orgs"
	"github.com/sparc-network/sparc/internal/outbox"
)

// Config turns email on and tunes delivery; the zero value is off.
type Config struct {
	// SMTP is the mail server (--smtp-url); nil: no emails are sent.
	SMTP *SMTP
	// From is the sender address (--mail-from).
	From string
	// PublicURL is the base of the links in emails (--public-url), e.g.
	// https://sparc.example.org; empty: the referral's API name.
	PublicURL string
	// BackoffBase is the wait after a first failure; it doubles with each
	// further failure up to BackoffCap, with jitter. Zero: 1 s and 10 min.
	BackoffBase, BackoffCap time.Duration
	// Timeout bounds connecting and each email. Zero: 30 s.
	Timeout time.Duration
	// Poll is how often the organisations are listed again and each looked
	// at without a notification. Zero: 5 s.
	Poll time.Duration
	// Concurrency is how many organisations are served at once, each on a
	// database connection. Zero: 2.
	Concurrency int
}

// Enabled reports whether the configuration sends emails.
func (c Config) Enabled() bool { return c.SMTP != nil }

func (c Config) withDefaults() Config {
	if c.BackoffBase <= 0 {
		c.BackoffBase = time.Second
	}
	if c.BackoffCap <= 0 {
		c.BackoffCap = 10 * time.Minute
	}
	c.BackoffCap = max(c.BackoffCap, c.BackoffBase)
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Poll <= 0 {
		c.Poll = 5 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 2
	}
	return c
}

// backoff is the wait after the n-th consecutive failure (outbox.Backoff).
func (c Config) backoff(n int) time.Duration { return outbox.Backoff(n, c.BackoffBase, c.BackoffCap) }

// Worker sends the emails. Several servers may run one: an organisation
// is served under a session-level advisory lock on the connection its turn
// uses (as webhooks are, and for the same reason: no transaction stays
// open across the SMTP conversation to hold back the outbox horizon).
type Worker struct {
	pool *pgxpool.Pool
	orgs *orgs.Store
	hub  *outbox.Hub
	cfg  Config
	from *mail.Address
	log  *slog.Logger
}

// NewWorker checks cfg and returns a worker; Run delivers until its
// context ends. hub wakes it when referrals change.
func NewWorker(pool *pgxpool.Pool, hub *outbox.Hub, cfg Config, log *slog.Logger) (*Worker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.SMTP == nil {
		return nil, errors.New("no SMTP server")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail from %q: %w", cfg.From, err)
	}
	return &Worker{pool: pool, orgs: orgs.NewStore(pool), hub: hub, cfg: cfg.withDefaults(), from: from, log: log}, nil
}

// orgState is what the scheduler knows of one organisation.
type orgState struct {
	notBefore time.Time
	seen      uint64
}

type turnResult struct {
	org     string
	gen     uint64
	pending bool
	wait    time.Duration
}

// Run delivers until ctx ends, then waits for the turns under way. It
// schedules as the webhook worker does: every wake-up starts a turn for
// each idle organisation not backing off; one busy when a wake-up comes
// goes again when it finishes; the poll catches missed notifications.
func (w *Worker) Run(ctx context.Context) {
	var (
		list      = map[string]*orgState{}
		running   = map[string]bool{}
		done      = make(chan turnResult)
		slots     = make(chan struct{}, w.cfg.Concurrency)
		gen       = uint64(1)
		refreshAt time.Time
		soon      time.Time
		retry     time.Duration
		timer     = time.NewTimer(time.Hour)
	)
	defer timer.Stop()
	for {
		wake := w.hub.Wait()
		now := time.Now()
		if !now.Before(refreshAt) {
			list = w.refresh(ctx, list)
			refreshAt = now.Add(w.cfg.Poll)
		}
		next := refreshAt
		if !soon.IsZero() && soon.Before(next) {
			next = soon
		}
		for org, s := range list {
			switch {
			case running[org] || s.seen >= gen:
			case s.notBefore.After(now):
				if s.notBefore.Before(next) {
					next = s.notBefore
				}
			default:
				running[org] = true
				go w.turn(ctx, org, gen, slots, done)
			}
		}
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			for len(running) > 0 {
				delete(running, (<-done).org)
			}
			return
		case <-wake:
			gen++
		case <-timer.C:
			if !soon.IsZero() && !time.Now().Before(soon) {
				soon = time.Time{}
			}
			gen++
		case r := <-done:
			delete(running, r.org)
			s := list[r.org]
			if s == nil {
				break
			}
			s.seen = r.gen
			if r.wait > 0 {
				s.notBefore = time.Now().Add(r.wait)
			}
			if r.pending {
				retry = min(max(2*retry, 5*time.Millisecond), outbox.PollInterval)
				soon = time.Now().Add(retry)
			} else {
				retry = 0
			}
		}
	}
}

func (w *Worker) refresh(ctx context.Context, old map[string]*orgState) map[string]*orgState {
	orgs, err := active(ctx, w.pool)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("email notifications: listing organisations; trying again at the next poll", "err", err)
		}
		return old
	}
	now := time.Now()
	list := make(map[string]*orgState, len(orgs))
	for _, a := range orgs {
		s := &orgState{notBefore: now.Add(a.wait)}
		if o := old[a.org]; o != nil {
			s.seen = o.seen
			if o.notBefore.After(s.notBefore) {
				s.notBefore = o.notBefore
			}
		}
		list[a.org] = s
	}
	return list
}

func (w *Worker) turn(ctx context.Context, org string, gen uint64, slots chan struct{}, done chan<- turnResult) {
	r := turnResult{org: org, gen: gen}
	select {
	case slots <- struct{}{}:
		r.pending, r.wait = w.deliver(ctx, org)
		<-slots
	case <-ctx.Done():
	}
	done <- r
}

// deliver takes one turn for an organisation: under its lock, it emails
// the changes after its cursor until none is ready or one fails.
func (w *Worker) deliver(ctx context.Context, org string) (pending bool, wait time.Duration) {
	id, err := uuid.Parse(org)
	if err != nil {
		return false, time.Minute
	}
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		return false, time.Second
	}
	if locked, err := tryLock(ctx, conn, id); err != nil || !locked {
		conn.Release()
		return false, 0
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := unlock(uctx, conn, id); err != nil {
			_ = conn.Conn().Close(uctx)
		}
		conn.Release()
	}()
	r := &recipient{org: org}
	switch wait, err := load(ctx, conn, r); {
	case errors.Is(err, errOff):
		return false, 0
	case err != nil:
		w.logErr(ctx, "email notifications: reading settings", org, err)
		return false, time.Second
	case wait > 0:
		return false, wait
	}
	var sess *session
	defer func() {
		if sess != nil {
			sess.close()
		}
	}()
	for {
		changes, pending, err := readChanges(ctx, conn, r)
		if errors.Is(err, errOff) {
			return false, 0
		}
		if err != nil {
			w.logErr(ctx, "email notifications: reading changes", org, err)
			return false, time.Second
		}
		if len(changes) == 0 {
			return pending, 0
		}
		type email struct {
			c outbox.Change
			e event
		}
		var emails []email
		var ids []uuid.UUID
		for _, c := range changes {
			if e, ok := eventFor(org, c); ok {
				emails = append(emails, email{c, e})
				ids = append(ids, c.Referral)
			}
		}
		var names map[uuid.UUID]string
		var to string
		if len(emails) > 0 {
			if names, err = subjects(ctx, conn, r, ids); err != nil {
				w.logErr(ctx, "email notifications", org, err)
				return false, time.Second
			}
			if to, err = w.recipientAddress(ctx, id); err != nil {
				return w.failed(ctx, conn, r, err)
			}
		}
		for _, m := range emails {
			asset, ok := names[m.c.Referral]
			if !ok {
				continue // the referral is no longer visible (entered in error, purged): nothing to tell
			}
			subject, body, err := render(r.lang, m.e, content{Asset: asset, Link: link(w.cfg.PublicURL, m.c.Referral)})
			if err != nil {
				w.logErr(ctx, "email notifications: rendering", org, err)
				return false, time.Minute
			}
			msg, err := compose(w.from, to, org, m.c.Cursor, subject, body, time.Now())
			if err != nil {
				w.logErr(ctx, "email notifications: composing", org, err)
				return false, time.Minute
			}
			if sess == nil {
				if sess, err = w.cfg.SMTP.dial(ctx, w.cfg.Timeout); err != nil {
					sess = nil
					if ctx.Err() != nil {
						return false, 0
					}
					return w.failed(ctx, conn, r, fmt.Errorf("connecting to the mail server: %s", describe(err)))
				}
			}
			if err := sess.send(w.from.Address, to, msg, w.cfg.Timeout); err != nil {
				sess.client.Close()
				sess = nil
				if ctx.Err() != nil {
					return false, 0
				}
				return w.failed(ctx, conn, r, errors.New(describe(err)))
			}
			// Accepted by the server: move past it (and the changes before
			// it that email nobody) before the next.
			if err := w.advance(ctx, conn, r, m.c.Cursor, 1); err != nil {
				return false, w.afterDBError(ctx, org, err)
			}
		}
		if last := changes[len(changes)-1].Cursor; r.cur != last {
			if err := w.advance(ctx, conn, r, last, 0); err != nil {
				return false, w.afterDBError(ctx, org, err)
			}
		}
	}
}

// recipientAddress is the organisation's contact address, checked.
func (w *Worker) recipientAddress(ctx context.Context, org uuid.UUID) (string, error) {
	o, err := w.orgs.Get(ctx, org)
	if err != nil {
		return "", fmt.Errorf("reading the organisation: %w", err)
	}
	if o.GetContactEmail() == "" {
		return "", errors.New("the organisation has no contact email")
	}
	a, err := mail.ParseAddress(o.GetContactEmail())
	if err != nil {
		return "", errors.New("the organisation's contact email is not a valid address")
	}
	return a.Address, nil
}

func (w *Worker) advance(ctx context.Context, conn *pgxpool.Conn, r *recipient, c outbox.Cursor, sent int) error {
	if err := advance(ctx, conn, r, c, sent); err != nil {
		return err
	}
	r.cur, r.failures = c, 0
	return nil
}

func (w *Worker) afterDBError(ctx context.Context, org string, err error) time.Duration {
	if errors.Is(err, errOff) {
		return 0
	}
	w.logErr(ctx, "email notifications: advancing the cursor", org, err)
	return time.Second
}

// failed records a failure on the organisation and returns its backoff.
func (w *Worker) failed(ctx context.Context, conn *pgxpool.Conn, r *recipient, cause error) (bool, time.Duration) {
	r.failures++
	wait := w.cfg.backoff(r.failures)
	w.log.Debug("email notification failed", "organisation", r.org, "err", cause)
	if err := recordFailure(ctx, conn, r, describe(cause), wait); err != nil && !errors.Is(err, errOff) {
		w.logErr(ctx, "email notifications: recording a failure", r.org, err)
		return false, time.Second
	}
	return false, wait
}

func (w *Worker) logErr(ctx context.Context, msg, org string, err error) {
	if ctx.Err() == nil {
		w.log.Error(msg, "organisation", org, "err", err)
	}
}
