package outbox

import (
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Backlog is a consumer's delivery state over the outbox (webhooks, email
// notifications), summed over its endpoints: what the metrics report as
// delivery backlog and outbox lag.
type Backlog struct {
	Endpoints int       // endpoints read
	Failing   int       // of them, those whose last attempt failed
	Pending   int64     // changes after their cursors they may see, summed
	Oldest    time.Time // when the oldest of those was made; zero: none
}

// BacklogColumns are the SQL columns of one endpoint's backlog after its
// cursor (txid and seq name the consumer's cursor columns): the changes
// it may see, counted up to 10,000, and when the first of them was made.
// What it may see is row-level security under the transaction's
// organisation and VisibleChange for role, an SQL expression: the
// endpoint's own role column, or sparc_role() for the transaction's.
func BacklogColumns(txid, seq, role string) string {
	after := `(txid, seq) > (` + txid + `, ` + seq + `) AND ` + strings.ReplaceAll(VisibleChange, "sparc_role()", role)
	return `(SELECT count(*) FROM (SELECT 1 FROM referral_outbox WHERE ` + after + ` LIMIT 10000) p),
		(SELECT time FROM referral_outbox WHERE ` + after + ` ORDER BY txid, seq LIMIT 1)`
}

// QueueBacklog adds to b a read of one endpoint, summed into out: query
// returns no row (the endpoint is gone) or one, whether its last attempt
// failed followed by BacklogColumns.
func QueueBacklog(b *pgx.Batch, out *Backlog, query string, args ...any) {
	b.Queue(query, args...).QueryRow(func(row pgx.Row) error {
		var failing bool
		var pending int64
		var oldest *time.Time
		if err := row.Scan(&failing, &pending, &oldest); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return err
		}
		out.Endpoints++
		if failing {
			out.Failing++
		}
		out.Pending += pending
		if oldest != nil && (out.Oldest.IsZero() || oldest.Before(out.Oldest)) {
			out.Oldest = *oldest
		}
		return nil
	})
}
