package referrals

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/disclosure"
)

// Suppress applies the small-number rule to a count leaving the referring
// organisation (disclosure.Count): 1 to 7 are withheld, anything else is
// rounded to the nearest 5.
func Suppress(n int64) *sparcv1.StatCount { return disclosure.Count(n).StatCount() }

func exact(n int64) *sparcv1.StatCount { return &sparcv1.StatCount{Value: n} }

// ComputeReferralStats returns aggregates for an organisation or an
// area. The figures are exact only for the referring organisation's link
// workers and admins asking about itself; every other view goes through
// the disclosure rule (see released).
func (s *Service) ComputeReferralStats(ctx context.Context, req *sparcv1.ComputeReferralStatsRequest) (*sparcv1.ReferralStats, error) {
	var v apierr.InvalidArgument
	caller := auth.FromContext(ctx)
	var org *uuid.UUID
	if req.GetOrganisation() != "" {
		id := aip.ParseName(&v, "organisation", aip.Organisations, req.GetOrganisation())
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
	now := time.Now()
	from, to := time.Unix(0, 0).UTC(), now.Add(time.Minute)
	if t := req.GetStartTime(); t != nil {
		from = t.AsTime()
	}
	if t := req.GetEndTime(); t != nil {
		to = t.AsTime()
	}
	if !to.After(from) {
		v.Add("end_time", "must be after start_time")
	}
	suppress := area != nil || org.String() != caller.Org || caller.Role == auth.RoleAreaAnalyst || caller.Role == auth.RoleGroupEditor
	if suppress && v.Err() == nil {
		// The window is widened to whole months that have ended; refused
		// when none is left. The refusal depends on the clock and the
		// request only, never on the data.
		var ok bool
		if from, to, ok = disclosure.Months(from, to, now); !ok {
			v.Add("end_time", "figures about referrals outside your organisation cover whole calendar months (UTC) that "+
				"have ended; the window holds none (the current month can be asked from %s)",
				time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339))
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	out, err := db.InTxResult(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) (*sparcv1.ReferralStats, error) {
		if area != nil {
			exists, err := s.store.areaExists(ctx, tx, *area)
			if err != nil {
				return nil, err
			}
			if !exists {
				return nil, apierr.Invalid("area_code", "no area has code %q", *area)
			}
		}
		if suppress {
			return released(ctx, tx, org, area, from, to)
		}
		return exactStats(ctx, tx, org, from, to)
	})
	if err != nil {
		return nil, err
	}
	out.StartTime, out.EndTime = timestamppb.New(from), timestamppb.New(to)
	return out, nil
}

// exactStats are the referring organisation's own figures over the
// window as asked, current statuses.
func exactStats(ctx context.Context, tx pgx.Tx, org *uuid.UUID, from, to time.Time) (*sparcv1.ReferralStats, error) {
	out := &sparcv1.ReferralStats{ByStatus: map[string]*sparcv1.StatCount{}}
	rows, err := tx.Query(ctx, exactStatsSQL, org, from, to)
	if err != nil {
		return nil, err
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
			return nil, err
		}
		if st != nil && n != nil {
			out.ByStatus[*st] = exact(*n)
			total += *n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out.Total = exact(total)
	if acc != nil {
		out.MedianDaysToAcceptance = *acc
	}
	if att != nil {
		out.MedianDaysToFirstAttendance = *att
	}
	for _, m := range ons4 {
		mc := &sparcv1.MeanChange{N: exact(ons4N)}
		if m != nil {
			mc.Mean = *m
		}
		out.Ons4Change = append(out.Ons4Change, mc)
	}
	out.SwemwbsChange = &sparcv1.MeanChange{N: exact(swemN)}
	if swem != nil {
		out.SwemwbsChange.Mean = *swem
	}
	return out, nil
}

// monthFigures are one month's released cells.
type monthFigures struct {
	byStatus     map[string]disclosure.Cell
	total        disclosure.Cell
	acc, att     *float64 // medians
	accN, attN   disclosure.Cell
	ons4         []*float64
	ons4N, swemN disclosure.Cell
	swem         *float64
}

// released are the figures for anyone but the referring organisation
// (disclosure package): per month of creation, each status count is a
// released cell; the month's total, each status over the window and the
// window's total are sums of released cells. A median or mean of a month
// is used only when 8 or more contribute (a median of a handful of people
// is one of them); over several months the used ones are averaged,
// weighted by their released contributor counts. So every figure
// is computed from released monthly figures, and nothing subtracts to a
// withheld one.
func released(ctx context.Context, tx pgx.Tx, org *uuid.UUID, area *string, from, to time.Time) (*sparcv1.ReferralStats, error) {
	rows, err := tx.Query(ctx, monthlyStatsSQL, org, area, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var months []*monthFigures
	byMonth := map[time.Time]*monthFigures{}
	for rows.Next() {
		var month time.Time
		var st string
		var n, accN, attN, ons4N, swemN int64
		var acc, att, swem *float64
		var ons4 []*float64
		if err := rows.Scan(&month, &st, &n, &acc, &accN, &att, &attN, &ons4, &ons4N, &swem, &swemN); err != nil {
			return nil, err
		}
		m := byMonth[month]
		if m == nil {
			m = &monthFigures{byStatus: map[string]disclosure.Cell{}, acc: acc, att: att, ons4: ons4, swem: swem,
				accN: disclosure.Count(accN), attN: disclosure.Count(attN),
				ons4N: disclosure.Count(ons4N), swemN: disclosure.Count(swemN)}
			byMonth[month] = m
			months = append(months, m)
		}
		m.byStatus[st] = disclosure.Count(n)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := &sparcv1.ReferralStats{ByStatus: map[string]*sparcv1.StatCount{}, Suppressed: true}
	perStatus := map[string][]disclosure.Cell{}
	var totals, ons4Ns, swemNs []disclosure.Cell
	var acc, att, swem weighted
	ons4 := make([]weighted, 4)
	for _, m := range months {
		cells := make([]disclosure.Cell, 0, len(m.byStatus))
		for st, c := range m.byStatus {
			perStatus[st] = append(perStatus[st], c)
			cells = append(cells, c)
		}
		m.total = disclosure.Sum(cells...)
		totals = append(totals, m.total)
		ons4Ns = append(ons4Ns, m.ons4N)
		swemNs = append(swemNs, m.swemN)
		acc.add(m.acc, m.accN)
		att.add(m.att, m.attN)
		for i := range min(len(m.ons4), 4) {
			ons4[i].add(m.ons4[i], m.ons4N)
		}
		swem.add(m.swem, m.swemN)
	}
	for st, cells := range perStatus {
		out.ByStatus[st] = disclosure.Sum(cells...).StatCount()
	}
	out.Total = disclosure.Sum(totals...).StatCount()
	out.MedianDaysToAcceptance, out.MedianDaysToFirstAttendance = acc.mean(), att.mean()
	if len(months) > 0 {
		n := disclosure.Sum(ons4Ns...).StatCount()
		for i := range ons4 {
			out.Ons4Change = append(out.Ons4Change, ons4[i].change(n))
		}
	}
	out.SwemwbsChange = swem.change(disclosure.Sum(swemNs...).StatCount())
	return out, nil
}

// weighted averages monthly medians or means, each weighted by its
// month's released count, over the months where it may be shown (the
// count is released, i.e. 8 or more contributed).
type weighted struct{ sum, weight float64 }

func (w *weighted) add(v *float64, n disclosure.Cell) {
	if v == nil || n.Withheld || n.Value == 0 {
		return
	}
	w.sum += *v * float64(n.Value)
	w.weight += float64(n.Value)
}

func (w weighted) mean() float64 {
	if w.weight == 0 {
		return 0
	}
	return w.sum / w.weight
}

func (w weighted) change(n *sparcv1.StatCount) *sparcv1.MeanChange {
	return &sparcv1.MeanChange{N: n, Mean: w.mean(), Suppressed: w.weight == 0 && (n.GetSuppressed() || n.GetValue() > 0)}
}

// Purge erases person details and free text of referrals closed before
// cutoff, for every organisation, keeping statuses, dates and scores for
// anonymous aggregates. It returns how many referrals and people changed.
func Purge(ctx context.Context, pool interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, cutoff time.Time) (referrals, people int64, err error) {
	err = pool.QueryRow(ctx, purgeClosedSQL, cutoff).Scan(&referrals, &people)
	return referrals, people, err
}
