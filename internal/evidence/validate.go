package evidence

import (
	"regexp"
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/disclosure"
	"github.com/sparc-network/sparc/internal/window"
)

// An area code as the area import accepts it (internal/areas).
var codeRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$`)

// query is a checked request.
type query struct {
	win  window.Window // after the disclosure rule's widening
	area *string
}

// parse checks req and settles its window at now: the one asked, or by
// default the twelve whole months before now's month, widened to whole
// months that have ended (disclosure.Months: analytics callers are
// outside the organisations whose referrals they read). A window with no
// whole month that has ended is refused; the refusal depends on the
// clock and the request, never on the data.
func parse(req *sparcv1.GetOutcomeEvidenceRequest, now time.Time) (query, error) {
	var v apierr.InvalidArgument
	var q query
	w := lastTwelveMonths(now)
	if s := req.GetWindow(); s != "" {
		var err error
		if w, err = window.Parse(s); err != nil {
			v.Add("window", "%s", apierr.Clip(err.Error(), 200))
		}
	}
	if a := req.GetArea(); a != "" {
		if !codeRe.MatchString(a) {
			v.Add("area", "%q is not an area code (letters, digits, '_', '.', '-'; at most 64)", apierr.Clip(a, 80))
		} else {
			q.area = &a
		}
	}
	if v.Total() == 0 {
		start, end, ok := disclosure.Months(w.Start, w.End, now)
		if !ok {
			v.Add("window", "outcome evidence covers whole calendar months (UTC) that have ended; %s holds none "+
				"(the current month can be asked from %s)", w, time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339))
		} else if !start.Equal(w.Start) || !end.Equal(w.End) {
			w = window.Window{Start: start, End: end, Unit: window.Dates}
		}
	}
	q.win = w
	return q, v.Err()
}

// lastTwelveMonths is the default window: the twelve whole calendar months
// before now's month (a year that has ended, by whole months, so the
// evidence is as fresh as the disclosure rule allows rather than up to
// eleven months older, as the last calendar year would be).
func lastTwelveMonths(now time.Time) window.Window {
	now = now.UTC()
	end := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	return window.Window{Start: end.AddDate(-1, 0, 0), End: end, Unit: window.Dates}
}
