package referrals

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
)

// Suppress applies the small-number rule to a count leaving the referring
// organisation: 1 to 7 are withheld, anything else is rounded to the
// nearest 5 (so differences between releases cannot reveal a small count).
func Suppress(n int64) *sparcv1.StatCount {
	switch {
	case n == 0:
		return &sparcv1.StatCount{}
	case n <= 7:
		return &sparcv1.StatCount{Suppressed: true}
	}
	return &sparcv1.StatCount{Value: int64(math.Round(float64(n)/5) * 5)}
}

func exact(n int64) *sparcv1.StatCount { return &sparcv1.StatCount{Value: n} }

// GetReferralStats returns aggregates for an organisation or an area. The
// figures are exact only for the referring organisation asking about
// itself; every other view is suppressed.
func (s *Service) GetReferralStats(ctx context.Context, req *sparcv1.GetReferralStatsRequest) (*sparcv1.ReferralStats, error) {
	var v apierr.InvalidArgument
	caller := auth.FromContext(ctx)
	var org *uuid.UUID
	if req.GetOrganisationId() != "" {
		id := parseUUID("organisation_id", req.GetOrganisationId(), "organisations/", &v)
		org = &id
	}
	var area *string
	if a := strings.TrimSpace(req.GetAreaCode()); a != "" {
		if len(a) > 32 {
			v.Add("area_code", "is longer than 32 characters")
		}
		area = &a
	}
	if org == nil && area == nil {
		id, _ := uuid.Parse(caller.Org)
		org = &id
	}
	from, to := time.Unix(0, 0), time.Now().Add(time.Minute)
	if t := req.GetStartTime(); t != nil {
		from = t.AsTime()
	}
	if t := req.GetEndTime(); t != nil {
		to = t.AsTime()
	}
	if !to.After(from) {
		v.Add("end_time", "must be after start_time")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	suppress := area != nil || org.String() != caller.Org || caller.Role == auth.RoleAreaAnalyst || caller.Role == auth.RoleGroupEditor
	count := exact
	if suppress {
		count = Suppress
	}
	out := &sparcv1.ReferralStats{ByStatus: map[string]*sparcv1.StatCount{}, Suppressed: suppress}
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		if area != nil {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM areas WHERE code = $1)`, *area).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return apierr.Invalid("area_code", "no area has code %q", *area)
			}
		}
		rows, err := tx.Query(ctx, `SELECT status, n, median_accept_days, median_attend_days, ons4_change, ons4_n,
			swemwbs_change, swemwbs_n FROM sparc_referral_stats($1, $2, $3, $4)`, org, area, from, to)
		if err != nil {
			return err
		}
		defer rows.Close()
		var total int64
		var acc, att *float64
		var ons4 []*float64
		var ons4N, swemN int64
		var swem *float64
		for rows.Next() {
			var st *string
			var n *int64
			if err := rows.Scan(&st, &n, &acc, &att, &ons4, &ons4N, &swem, &swemN); err != nil {
				return err
			}
			if st != nil && n != nil {
				out.ByStatus[*st] = count(*n)
				total += *n
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		out.Total = count(total)
		// Medians and means of a handful of people identify them: withheld
		// in suppressed views below 8 contributors.
		small := func(n int64) bool { return suppress && n > 0 && n <= 7 }
		if acc != nil && !small(total) {
			out.MedianDaysToAcceptance = *acc
		}
		if att != nil && !small(total) {
			out.MedianDaysToFirstAttendance = *att
		}
		for _, m := range ons4 {
			mc := &sparcv1.MeanChange{N: count(ons4N), Suppressed: small(ons4N)}
			if m != nil && !mc.Suppressed {
				mc.Mean = *m
			}
			out.Ons4Change = append(out.Ons4Change, mc)
		}
		out.SwemwbsChange = &sparcv1.MeanChange{N: count(swemN), Suppressed: small(swemN)}
		if swem != nil && !out.SwemwbsChange.Suppressed {
			out.SwemwbsChange.Mean = *swem
		}
		return nil
	})
	return out, err
}

// Purge erases person details and free text of referrals closed before
// cutoff, for every organisation, keeping statuses, dates and scores for
// anonymous aggregates. It returns how many referrals and people changed.
func Purge(ctx context.Context, pool interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, cutoff time.Time) (referrals, people int64, err error) {
	err = pool.QueryRow(ctx, `SELECT referrals, people FROM sparc_purge_closed($1)`, cutoff).Scan(&referrals, &people)
	return referrals, people, err
}
