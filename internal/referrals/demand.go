package referrals

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Demand counts referrals per area for coverage maps (it implements
// coverage.ReferralDemand and coverage.HomeDemand). ReferralsByArea counts
// a referral in the area holding its asset: where demand lands, against
// the places on offer there. ReferralsByHomeArea (home_demand.go) counts
// it where its person lives.
type Demand struct{ pool *pgxpool.Pool }

// NewDemand returns the demand counter.
func NewDemand(pool *pgxpool.Pool) *Demand { return &Demand{pool: pool} }

// ReferralsByArea counts referrals made in [from, to) per area and
// calendar month (UTC), not counting drafts and entries in error as they
// stood at to (so a window of months that have ended keeps its answer).
func (d *Demand) ReferralsByArea(ctx context.Context, codes []string, from, to time.Time) (map[string][]int64, error) {
	rows, err := d.pool.Query(ctx, demandByAreaSQL, codes, from, to)
	if err != nil {
		return nil, fmt.Errorf("counting referrals by area: %w", err)
	}
	defer rows.Close()
	out := make(map[string][]int64)
	for rows.Next() {
		var code string
		var n int64
		if err := rows.Scan(&code, &n); err != nil {
			return nil, err
		}
		out[code] = append(out[code], n)
	}
	return out, rows.Err()
}
