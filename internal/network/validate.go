package network

import (
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/disclosure"
	"github.com/sparc-network/sparc/internal/window"
)

// query is a validated GetReferralNetworkRequest.
type query struct {
	// w is the window answered: the one asked (default the last quarter
	// that has ended) widened to whole months that have ended.
	w       window.Window
	area    string // "" everywhere
	byAsset bool
	// period: 0 no history, else window.Month or window.Quarter.
	period window.Unit
}

// parseRequest validates req at now. Analytics callers are never inside
// the organisations whose referrals they read, so the window is always
// widened by the disclosure rule (disclosure.Months): whole calendar
// months, none still running.
func parseRequest(req *sparcv1.GetReferralNetworkRequest, now time.Time) (query, error) {
	var v apierr.InvalidArgument
	var q query
	if s := req.GetWindow(); s == "" {
		q.w = window.LastEnded(now, window.Quarter)
	} else if w, err := window.Parse(s); err != nil {
		v.Add("window", "%s", err.Error())
	} else {
		q.w = w
	}
	if a := req.GetArea(); a != "" {
		q.area = areas.ParseParentCode(&v, "area", a)
	}
	switch req.GetGranularity() {
	case sparcv1.NetworkGranularity_NETWORK_GRANULARITY_UNSPECIFIED, sparcv1.NetworkGranularity_NETWORK_GRANULARITY_ORGANISATIONS:
	case sparcv1.NetworkGranularity_NETWORK_GRANULARITY_ASSETS:
		q.byAsset = true
	default:
		v.Add("granularity", "%d is not a granularity: want NETWORK_GRANULARITY_ORGANISATIONS or NETWORK_GRANULARITY_ASSETS", req.GetGranularity())
	}
	switch req.GetPeriod() {
	case sparcv1.NetworkPeriod_NETWORK_PERIOD_UNSPECIFIED:
	case sparcv1.NetworkPeriod_NETWORK_PERIOD_MONTH:
		q.period = window.Month
	case sparcv1.NetworkPeriod_NETWORK_PERIOD_QUARTER:
		q.period = window.Quarter
	default:
		v.Add("period", "%d is not a period: want NETWORK_PERIOD_MONTH or NETWORK_PERIOD_QUARTER", req.GetPeriod())
	}
	if err := v.Err(); err != nil {
		return q, err
	}
	start, end, ok := disclosure.Months(q.w.Start, q.w.End, now)
	if !ok {
		return q, apierr.Invalid("window", "the referral network covers whole calendar months (UTC) that have ended; "+
			"%s holds none (the current month can be asked from %s)", q.w,
			time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly))
	}
	if !start.Equal(q.w.Start) || !end.Equal(q.w.End) {
		q.w = window.Window{Start: start, End: end, Unit: window.Dates}
		// Widened to whole months, it may be a named window again.
		for _, u := range []window.Unit{window.Month, window.Quarter, window.Year} {
			if o := window.Of(start, u); o.Start.Equal(start) && o.End.Equal(end) {
				q.w = o
			}
		}
	}
	return q, nil
}

// before is the window of the same length just before w, in whole
// months when w is whole months: window.Previous keeps a year, quarter or
// month, but counts days for dates, which would cut a month (the
// disclosure rule's cell) in two.
func before(w window.Window) window.Window {
	if w.Unit != window.Dates || !monthStart(w.Start) || !monthStart(w.End) {
		return w.Previous()
	}
	months := (w.End.Year()-w.Start.Year())*12 + int(w.End.Month()-w.Start.Month())
	return window.Window{Start: w.Start.AddDate(0, -months, 0), End: w.Start, Unit: window.Dates}
}

func monthStart(t time.Time) bool {
	return t.Day() == 1 && t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
}
