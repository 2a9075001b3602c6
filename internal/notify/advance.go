package notify

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/outbox"
)

// advancer stores an organisation's cursor behind the emails of a turn:
// while it writes one position, the next emails go to the SMTP server,
// and the positions reached meanwhile are written together in the next
// update. An organisation's emails thus cost an SMTP conversation each,
// not a conversation plus a database round trip; under a burst one update
// covers several emails, and with one email at a time it is the update
// per email it always was.
//
// What this changes: a server crashing after the SMTP server accepted
// emails and before their update committed resends them (with the same
// Message-ID) from the stored cursor; those are the emails accepted
// during one update's round trip, where it was one email. An SMTP failure
// or a shutdown loses nothing and doubles nothing: finish writes every
// position reached before the turn ends.
type advancer struct {
	ctx  context.Context
	conn *pgxpool.Conn
	r    *recipient

	mu     sync.Mutex
	wake   *sync.Cond
	want   outbox.Cursor // the newest position reached, not yet stored
	sent   int           // emails accepted up to want, not yet counted
	have   bool          // want is newer than what is stored
	closed bool          // finish was called: store what is left, then stop
	err    error         // an update failed (errOff: turned off or moved on elsewhere)
	done   chan struct{}
}

// startAdvancer starts storing r's positions on conn; conn is the
// advancer's until finish returns.
func startAdvancer(ctx context.Context, conn *pgxpool.Conn, r *recipient) *advancer {
	a := &advancer{ctx: ctx, conn: conn, r: r, want: r.cur, done: make(chan struct{})}
	a.wake = sync.NewCond(&a.mu)
	go a.run()
	return a
}

func (a *advancer) run() {
	defer close(a.done)
	for {
		a.mu.Lock()
		for !a.have && !a.closed {
			a.wake.Wait()
		}
		if !a.have {
			a.mu.Unlock()
			return
		}
		c, sent := a.want, a.sent
		a.have, a.sent = false, 0
		a.mu.Unlock()
		if err := advance(a.ctx, a.conn, a.r, c, sent, tally{}); err != nil {
			a.mu.Lock()
			a.err = err
			a.mu.Unlock()
			return
		}
		// Read by the turn only after finish (done orders it).
		a.r.cur, a.r.failures = c, 0
	}
}

// moved records that the turn got past c, having had sent more emails
// accepted on the way.
func (a *advancer) moved(c outbox.Cursor, sent int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil || c == a.want {
		return
	}
	a.want, a.have = c, true
	a.sent += sent
	a.wake.Signal()
}

// stopped reports whether an update failed: the turn sends no more.
func (a *advancer) stopped() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err != nil
}

// finish stores the last position reached and returns the first error.
func (a *advancer) finish() error {
	a.mu.Lock()
	a.closed = true
	a.wake.Signal()
	a.mu.Unlock()
	<-a.done
	return a.err
}
