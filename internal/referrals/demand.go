package referrals

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Demand counts referrals per area for coverage maps (it implements
// coverage.ReferralDemand). A referral counts in the area holding its
// asset: people's home areas are not kept (least data), so the map shows
// where demand lands against the places on offer there.
type Demand struct{ pool *pgxpool.Pool }

// NewDemand returns the demand counter.
func NewDemand(pool *pgxpool.Pool) *Demand { return &Demand{pool: pool} }

// ReferralsByArea counts referrals (not drafts or entries in error) made
// in the window, dates as "YYYY-MM-DD" inclusive, "" for open ends.
func (d *Demand) ReferralsByArea(ctx context.Context, codes []string, windowStart, windowEnd string) (map[string]int64, error) {
	from, to := time.Unix(0, 0).UTC(), time.Now().Add(time.Hour)
	var err error
	if windowStart != "" {
		if from, err = time.Parse(time.DateOnly, windowStart); err != nil {
			return nil, fmt.Errorf("window start: %w", err)
		}
	}
	if windowEnd != "" {
		if to, err = time.Parse(time.DateOnly, windowEnd); err != nil {
			return nil, fmt.Errorf("window end: %w", err)
		}
		to = to.AddDate(0, 0, 1)
	}
	rows, err := d.pool.Query(ctx, `SELECT code, n FROM sparc_referrals_by_area($1, $2, $3)`, codes, from, to)
	if err != nil {
		return nil, fmt.Errorf("counting referrals by area: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int64)
	for rows.Next() {
		var code string
		var n int64
		if err := rows.Scan(&code, &n); err != nil {
			return nil, err
		}
		out[code] = n
	}
	return out, rows.Err()
}
