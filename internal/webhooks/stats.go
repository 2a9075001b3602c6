package webhooks

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/outbox"
)

// backlogSQL reads one webhook's delivery state ($1) as its organisation's
// admin, who sees both sides (row-level security), of which the outbox's
// rule for the webhook's own role keeps what its creator would watch.
var backlogSQL = `SELECT w.consecutive_failures > 0, ` + outbox.BacklogColumns("w.cursor_txid", "w.cursor_seq", "w.role") + `
	FROM webhooks w WHERE w.id = $1 AND w.deleted_at IS NULL`

// maxBacklogEndpoints bounds the webhooks one Backlog reads.
const maxBacklogEndpoints = 2000

// Backlog reads every live webhook's delivery state (metrics) in one
// round trip, each as its own organisation: row-level security and the
// outbox's rule for its role decide what is pending for it, as for its
// deliveries.
func (w *Worker) Backlog(ctx context.Context) (outbox.Backlog, error) {
	var out outbox.Backlog
	hooks, err := w.store.active(ctx)
	if err != nil || len(hooks) == 0 {
		return out, err
	}
	b := &pgx.Batch{}
	for _, h := range hooks[:min(len(hooks), maxBacklogEndpoints)] {
		// Each identity holds until the next: the batch is one implicit
		// transaction and the identity is transaction-local.
		b.QueuedQueries = append(b.QueuedQueries, db.IdentityBatch(db.Identity{Org: h.Org, Role: "admin"}).QueuedQueries...)
		outbox.QueueBacklog(b, &out, backlogSQL, h.ID)
	}
	if err := w.store.pool.SendBatch(ctx, b).Close(); err != nil {
		return outbox.Backlog{}, fmt.Errorf("reading webhook backlog: %w", err)
	}
	return out, nil
}
