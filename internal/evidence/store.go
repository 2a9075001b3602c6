package evidence

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
)

// Statements. sparc_outcome_sums (0068) runs as the owner and returns sums
// per group only; an area is known when it is an imported area's code or
// a council some area belongs to.
const (
	outcomeSumsSQL = `SELECT dim, key, label, public, n, swem_n, swem_sum, swem_sumsq, swem_improved,
		ons4_n, ons4_sum, ons4_sumsq
		FROM sparc_outcome_sums($1, $2, $3, $4, $5)`
	areaKnownSQL = `SELECT EXISTS (SELECT 1 FROM areas WHERE code = $1)
		OR EXISTS (SELECT 1 FROM areas WHERE council_code = $1)`
)

// sums are one group's raw (unreleased) figures: n referrals with a
// baseline and a follow-up of either measure; per measure how many had
// both, and the sum and sum of squares of their changes (follow-up minus
// baseline; SWEMWBS on the metric scale); how many improved in SWEMWBS
// by the minimal important difference.
type sums struct {
	N                  int64
	SwemN, Improved    int64
	SwemSum, SwemSq    float64
	Ons4N              int64
	Ons4Sum, Ons4SumSq [4]float64
}

// groupRow is one group as the store reads it.
type groupRow struct {
	Dim, Key, Label string // dim: all, category, provider, quintile
	Public          bool   // a provider that may be named
	sums
}

// areaKnown reports whether code names an area or a council.
func areaKnown(ctx context.Context, tx pgx.Tx, code string) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, areaKnownSQL, code).Scan(&ok)
	return ok, err
}

// outcomeSums reads the groups' sums for the referrals completed in
// [from, to) of people living in area (nil: anywhere). The database works
// in hundredths of a SWEMWBS metric point (the table's precision), so
// its sums are exact integers; they are scaled back here.
func outcomeSums(ctx context.Context, tx pgx.Tx, area *string, from, to time.Time) ([]groupRow, error) {
	rows, err := tx.Query(ctx, outcomeSumsSQL, area, from, to, metricHundredths(), int32(math.Round(swemwbsMID*100)))
	if err != nil {
		return nil, fmt.Errorf("reading outcome sums: %w", err)
	}
	defer rows.Close()
	var out []groupRow
	for rows.Next() {
		var g groupRow
		var swemSum, swemSq int64
		var sum, sq []int64
		if err := rows.Scan(&g.Dim, &g.Key, &g.Label, &g.Public, &g.N, &g.SwemN, &swemSum, &swemSq, &g.Improved,
			&g.Ons4N, &sum, &sq); err != nil {
			return nil, fmt.Errorf("reading outcome sums: %w", err)
		}
		g.SwemSum, g.SwemSq = float64(swemSum)/100, float64(swemSq)/10000
		for i := range min(len(sum), len(sq), 4) {
			g.Ons4Sum[i], g.Ons4SumSq[i] = float64(sum[i]), float64(sq[i])
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// metricHundredths is the SWEMWBS conversion table in hundredths.
func metricHundredths() []int32 {
	out := make([]int32, len(swemwbsMetric))
	for i, m := range swemwbsMetric {
		out[i] = int32(math.Round(m * 100))
	}
	return out
}
