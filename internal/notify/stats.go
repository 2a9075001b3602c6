package notify

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sparc-network/sparc/internal/outbox"
)

// backlogSQL reads organisation $1's email delivery state, as its admin.
var backlogSQL = `SELECT n.consecutive_failures > 0, ` + outbox.BacklogColumns("n.cursor_txid", "n.cursor_seq", "sparc_role()") + `
	FROM email_notifications n WHERE n.organisation_id = $1 AND n.enabled`

// maxBacklogOrgs bounds the organisations one Backlog reads.
const maxBacklogOrgs = 2000

// Backlog reads the email delivery state of every organisation with email
// on (metrics) in one round trip, each as that organisation's admin, as
// the worker reads its changes. Meaningful only while a worker runs: with
// email off in sparcd nothing moves the cursors.
func (w *Worker) Backlog(ctx context.Context) (outbox.Backlog, error) {
	var out outbox.Backlog
	orgs, err := active(ctx, w.pool)
	if err != nil || len(orgs) == 0 {
		return out, err
	}
	b := &pgx.Batch{}
	for _, o := range orgs[:min(len(orgs), maxBacklogOrgs)] {
		// Each identity holds until the next: the batch is one implicit
		// transaction and the identity is transaction-local.
		b.QueuedQueries = append(b.QueuedQueries, asOrg(o.Org).QueuedQueries...)
		outbox.QueueBacklog(b, &out, backlogSQL, o.Org)
	}
	if err := w.pool.SendBatch(ctx, b).Close(); err != nil {
		return outbox.Backlog{}, fmt.Errorf("reading email backlog: %w", err)
	}
	return out, nil
}
