package referrals

import (
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// subjectsSQL reads the display name of the asset of each referral in $1
// that the batch's identity may see (row-level security decides): what an
// email about a change may name (internal/notify). Asset names are public.
const subjectsSQL = `SELECT r.id, a.name FROM referrals r JOIN assets a ON a.id = r.asset_id WHERE r.id = ANY($1)`

// QueueSubjects adds to b the read of the asset display names of the
// referrals ids, keyed by referral; referrals the batch's identity may not
// see are absent. It is how package notify names what a change is about
// without reading the referrals table itself.
func QueueSubjects(b *pgx.Batch, ids []uuid.UUID, done func(map[uuid.UUID]string)) {
	b.Queue(subjectsSQL, ids).Query(func(rows pgx.Rows) error {
		defer rows.Close()
		out := make(map[uuid.UUID]string, len(ids))
		for rows.Next() {
			var id uuid.UUID
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				return err
			}
			out[id] = name
		}
		if err := rows.Err(); err != nil {
			return err
		}
		done(out)
		return nil
	})
}
