// Package outbox carries referral changes to the readers that follow them
// (the WatchReferrals stream, webhook and email deliveries): the hub that
// wakes them, through PostgreSQL notifications across servers, the gapless
// read of the referral_outbox table after a cursor, and the Scheduler that
// gives each delivery target (a webhook, an organisation's email) its
// turns under a lock shared by every server. The changes are written
// by package referrals in the same transaction as the referral (a
// transactional outbox); what a reader may see of each one is referrals'
// visibility rule, applied by the caller of Read.
package outbox

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/db"
)

// Hub wakes watchers: those of this server directly when a change
// commits here, those of every server through PostgreSQL notifications on
// the sparc_referrals channel. Wake-ups are only hints: the outbox is the
// truth, so a missed one delays a change by at most the poll interval and
// never loses it.
//
// Changes are not notified inside their transactions: PostgreSQL holds a
// cluster-wide lock from a notifying transaction's pre-commit to its end,
// which makes concurrent writers commit one at a time. Instead one NOTIFY,
// sent after commit, covers every change made while the previous one was
// on its way.
type Hub struct {
	mu   sync.Mutex
	wake chan struct{}
	kick chan struct{} // a change committed here: tell the other servers
	log  *slog.Logger
}

// NewHub returns a hub; run Listen to connect it to the other servers.
func NewHub(log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler) // never the process default: it ignores --log-format
	}
	return &Hub{wake: make(chan struct{}), kick: make(chan struct{}, 1), log: log}
}

// Changed reports a committed change: it wakes this server's watchers at
// once and asks for a notification to the others.
func (h *Hub) Changed() {
	h.broadcast()
	select {
	case h.kick <- struct{}{}:
	default: // one is pending already and will cover this change
	}
}

// notify sends one NOTIFY per batch of Changed calls until ctx ends.
func (h *Hub) notify(ctx context.Context, pool *pgxpool.Pool) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
		}
		if _, err := pool.Exec(ctx, notifySQL); err != nil && ctx.Err() == nil {
			h.log.Warn("notifying other servers of referral changes; they poll meanwhile", "err", err)
		}
		// Under load a notification per change would be a transaction per
		// change; one per interval covers every change made meanwhile, at a
		// cost of at most this much delay on the other servers (watchers
		// here were woken at once).
		select {
		case <-ctx.Done():
			return
		case <-time.After(notifyInterval):
		}
	}
}

// notifyInterval spaces the notifications this server sends.
const notifyInterval = 5 * time.Millisecond

// Wait returns a channel closed at the next notification.
func (h *Hub) Wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.wake
}

func (h *Hub) broadcast() {
	h.mu.Lock()
	close(h.wake)
	h.wake = make(chan struct{})
	h.mu.Unlock()
}

// Listen holds one connection in LISTEN until ctx ends, reconnecting after
// failures, and sends this server's notifications.
func (h *Hub) Listen(ctx context.Context, pool *pgxpool.Pool) {
	go h.notify(ctx, pool)
	db.Listen(ctx, pool, "sparc_referrals", nil, h.broadcast, func(err error) {
		h.log.Warn("referral notifications interrupted; polling until reconnected", "err", err)
		h.broadcast()
	})
}

// PollInterval bounds the delay when a notification is missed: readers
// look again at least this often.
const PollInterval = time.Second
