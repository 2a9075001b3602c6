package audit

import (
	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
)

// filterOf checks the request's filters and returns them; problems are
// added to v.
func filterOf(req *sparcv1.ListAuditEventsRequest, v *apierr.InvalidArgument) filter {
	f := filter{principal: req.GetPrincipal(), resource: req.GetResource(), outcome: req.GetOutcome()}
	if t := req.GetStartTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			v.Add("start_time", "%v", err)
		}
		x := t.AsTime()
		f.start = &x
	}
	if t := req.GetEndTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			v.Add("end_time", "%v", err)
		}
		x := t.AsTime()
		f.end = &x
	}
	if f.start != nil && f.end != nil && f.end.Before(*f.start) {
		v.Add("end_time", "is before start_time")
	}
	switch f.outcome {
	case "", "ok", "denied", "error":
	default:
		v.Add("outcome", "must be ok, denied or error")
	}
	return f
}
