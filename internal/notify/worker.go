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
	// Now is the clock deciding when a daily digest is due; nil: time.Now.
	// Tests set it.
	Now func() time.Time
	// Concurrency is how many organisations are served at once, each on a
	// database connection (and, while it reads the contact address, a
	// second one briefly: keep it below half the pool). Zero: 2.
	Concurrency int
}

// Enabled reports whether the configuration sends emails.
func (c Config) Enabled() bool { return c.SMTP != nil }

func (c Config) withDefaults() Config {
	outbox.Defaults(&c.BackoffBase, &c.BackoffCap, &c.Poll, &c.Timeout, &c.Concurrency, 30*time.Second, 2)
	return c
}

// backoff is the wait after the n-th consecutive failure (outbox.Backoff).
func (c Config) backoff(n int) time.Duration { return outbox.Backoff(n, c.BackoffBase, c.BackoffCap) }

// Worker sends the emails. Several servers may run one: outbox.Scheduler
// gives each organisation its turns under a session-level advisory lock on
// the connection the turn uses (as webhooks are, and for the same reason:
// no transaction stays open across the SMTP conversation to hold back the
// outbox horizon).
type Worker struct {
	pool  *pgxpool.Pool
	orgs  *orgs.Store
	cfg   Config
	from  *mail.Address
	log   *slog.Logger
	sched *outbox.Scheduler
	smtp  *sessions
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
	w := &Worker{pool: pool, orgs: orgs.NewStore(pool), cfg: cfg.withDefaults(), from: from, log: log}
	w.smtp = &sessions{smtp: w.cfg.SMTP, timeout: w.cfg.Timeout, max: w.cfg.Concurrency}
	w.sched = outbox.NewScheduler(pool, hub, turns{w}, outbox.SchedulerConfig{Name: "email notifications",
		LockClass: emailLockClass, Poll: w.cfg.Poll, Concurrency: w.cfg.Concurrency}, log)
	return w, nil
}

// Run delivers until ctx ends, then waits for the turns under way.
func (w *Worker) Run(ctx context.Context) {
	w.sched.Run(ctx)
	w.smtp.closeAll()
}

// turns is the worker as its scheduler sees it (outbox.Deliverer).
type turns struct{ w *Worker }

func (t turns) Targets(ctx context.Context) ([]outbox.Target, error) { return active(ctx, t.w.pool) }

func (t turns) Deliver(ctx context.Context, conn *pgxpool.Conn, o outbox.Target) outbox.Turn {
	pending, wait := t.w.deliver(ctx, conn, o.ID)
	return outbox.Turn{Pending: pending, Wait: wait}
}

// deliver takes one turn for an organisation on conn, which holds its
// lock: it emails the changes after its cursor until none is ready or one
// fails. The emails of a turn share one SMTP connection (kept for later
// turns: sessions), and the cursor
// moves behind them (advancer) instead of between them, so one
// organisation's emails go at the SMTP server's pace, not at the pace of
// an SMTP conversation plus a database round trip each.
func (w *Worker) deliver(ctx context.Context, conn *pgxpool.Conn, id uuid.UUID) (pending bool, wait time.Duration) {
	org := id.String()
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
	var sess *session // taken from w.smtp when the turn first sends
	defer func() {
		if sess != nil {
			w.smtp.put(sess)
		}
	}()
	var to string // read once a turn has something to send
	if r.digest.on {
		now := time.Now
		if w.cfg.Now != nil {
			now = w.cfg.Now
		}
		if stop, wait := w.sendDigest(ctx, conn, r, &sess, &to, now()); stop {
			return false, wait
		}
	}
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
		if r.digest.on {
			if err := w.count(ctx, conn, r, changes); err != nil {
				return false, w.afterDBError(ctx, org, err)
			}
			continue
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
		if len(emails) > 0 {
			if names, err = subjects(ctx, conn, r, ids); err != nil {
				w.logErr(ctx, "email notifications", org, err)
				return false, time.Second
			}
			if to == "" {
				if to, err = w.recipientAddress(ctx, id); err != nil {
					return w.failed(ctx, conn, r, err)
				}
			}
		}
		// From here until adv.finish the advancer owns conn.
		adv := startAdvancer(ctx, conn, r)
		for _, m := range emails {
			if adv.stopped() {
				break
			}
			asset, ok := names[m.c.Referral]
			if !ok {
				continue // the referral is no longer visible (entered in error, purged): nothing to tell
			}
			subject, body, err := render(r.lang, m.e, content{Asset: asset, Link: link(w.cfg.PublicURL, m.c.Referral)})
			if err != nil {
				adv.finish()
				w.logErr(ctx, "email notifications: rendering", org, err)
				return false, time.Minute
			}
			msg, err := compose(w.from, to, org, m.c.Cursor, subject, body, time.Now())
			if err != nil {
				adv.finish()
				w.logErr(ctx, "email notifications: composing", org, err)
				return false, time.Minute
			}
			if err := w.send(ctx, &sess, to, msg); err != nil {
				return w.sendFailed(ctx, conn, r, adv, err)
			}
			// Accepted by the server: move past it (and the changes before
			// it that email nobody).
			adv.moved(m.c.Cursor, 1)
		}
		adv.moved(changes[len(changes)-1].Cursor, 0)
		if err := adv.finish(); err != nil {
			return false, w.afterDBError(ctx, org, err)
		}
	}
}

// count moves r past changes in digest mode: its events are counted for
// the next digest instead of emailed.
func (w *Worker) count(ctx context.Context, conn *pgxpool.Conn, r *recipient, changes []outbox.Change) error {
	var t tally
	for _, c := range changes {
		if e, ok := eventFor(r.org, c); ok {
			t.add(e)
		}
	}
	last := changes[len(changes)-1].Cursor
	if err := advance(ctx, conn, r, last, 0, t); err != nil {
		return err
	}
	r.cur, r.failures = last, 0
	return nil
}

// sendDigest sends r's daily digest when, at now in its time zone, its
// hour has come and the day has none yet: the events counted since the
// previous one, or nothing when there were none (the day is recorded
// either way). The day's row, written once the SMTP server accepted the
// email, keeps it to one a day across servers (the turn holds the
// organisation's lock); a crash between the two resends it with the same
// Message-ID. stop: the turn ends (a failure, recorded, with its wait).
func (w *Worker) sendDigest(ctx context.Context, conn *pgxpool.Conn, r *recipient, sess **session, to *string, now time.Time) (stop bool, wait time.Duration) {
	loc, err := zone(r.digest.zone)
	if err != nil {
		loc = time.UTC // validated when set; a zone the running binary no longer knows
	}
	local := now.In(loc)
	day := local.Format(time.DateOnly)
	if local.Hour() < r.digest.hour || r.digest.lastDay >= day {
		return false, 0
	}
	t := r.digest.counted
	emailed := t != tally{}
	if emailed {
		if *to == "" {
			if *to, err = w.recipientAddress(ctx, uuid.MustParse(r.org)); err != nil {
				_, wait := w.failed(ctx, conn, r, err)
				return true, wait
			}
		}
		subject, body, err := render(r.lang, eventDigest, content{Day: day, Counts: t, Link: listLink(w.cfg.PublicURL)})
		if err != nil {
			w.logErr(ctx, "email notifications: rendering the digest", r.org, err)
			return true, time.Minute
		}
		msg, err := composeID(w.from, *to, "digest."+day+"."+r.org, subject, body, now)
		if err != nil {
			w.logErr(ctx, "email notifications: composing the digest", r.org, err)
			return true, time.Minute
		}
		if err := w.send(ctx, sess, *to, msg); err != nil {
			if ctx.Err() != nil {
				return true, 0
			}
			_, wait := w.failed(ctx, conn, r, err)
			return true, wait
		}
	}
	switch err := recordDigest(ctx, conn, r, day, t, emailed); {
	case errors.Is(err, errOff):
		// Email turned off, or the day's digest recorded meanwhile (by a
		// server whose lock this one's turn outlived): nothing to undo.
		return true, 0
	case err != nil:
		w.logErr(ctx, "email notifications: recording the digest", r.org, err)
		return true, time.Second
	}
	r.digest.lastDay, r.digest.counted, r.failures = day, tally{}, 0
	return false, 0
}

// send hands msg to the SMTP server on *sess, connecting first when
// needed; a failed session is dropped.
func (w *Worker) send(ctx context.Context, sess **session, to string, msg []byte) error {
	if *sess == nil {
		s, err := w.smtp.get(ctx)
		if err != nil {
			return fmt.Errorf("connecting to the mail server: %s", describe(err))
		}
		*sess = s
	}
	if err := (*sess).send(w.from.Address, to, msg, w.cfg.Timeout); err != nil {
		(*sess).client.Close()
		*sess = nil
		return errors.New(describe(err))
	}
	return nil
}

// sendFailed ends a turn whose email the server did not accept: the
// cursor first reaches the last email accepted (none is sent twice), then
// the failure is recorded.
func (w *Worker) sendFailed(ctx context.Context, conn *pgxpool.Conn, r *recipient, adv *advancer, cause error) (bool, time.Duration) {
	if err := adv.finish(); err != nil {
		return false, w.afterDBError(ctx, r.org, err)
	}
	if ctx.Err() != nil {
		return false, 0 // shutting down: not the mail server's failure
	}
	return w.failed(ctx, conn, r, cause)
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
