package referrals

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// demandByHomeAreaSQL: sparc_referrals_by_home_area_monthly (0064), an
// owner function returning counts only.
const demandByHomeAreaSQL = `SELECT home_area, rolls_up_to, month, unmet, n
	FROM sparc_referrals_by_home_area_monthly($1, $2, $3)`

// ReferralsByHomeArea counts referrals made in [from, to) (by org only,
// when not nil) per home area of their person (as it was when each was
// made) and calendar month (UTC), unmet (waitlisted, or rejected for
// no_capacity) apart from the rest, with statuses as they stood at to and
// drafts and entries in error left out. each receives one count at a
// time, with the codes the home area rolls up to (parents, council). It
// implements coverage.HomeDemand.
func (d *Demand) ReferralsByHomeArea(ctx context.Context, org *uuid.UUID, from, to time.Time,
	each func(home string, rollsUpTo []string, month time.Time, unmet bool, n int64)) error {
	rows, err := d.pool.Query(ctx, demandByHomeAreaSQL, org, from, to)
	if err != nil {
		return fmt.Errorf("counting referrals by home area: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var home string
		var up []string
		var month time.Time
		var unmet bool
		var n int64
		if err := rows.Scan(&home, &up, &month, &unmet, &n); err != nil {
			return err
		}
		each(home, up, month, unmet, n)
	}
	return rows.Err()
}
