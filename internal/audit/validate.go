package audit

import (
	"regexp"
	"strconv"
	"strings"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
)

// filterOf checks the request's filters and returns them; problems are
// added to v.
func filterOf(req *sparcv1.ListAuditEventsRequest, v *apierr.InvalidArgument) filter {
	f := filter{principal: req.GetPrincipal(), resource: req.GetResource(), outcome: req.GetOutcome(), method: req.GetMethod()}
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
	if f.method != "" && (len(f.method) > 300 || !methodFilter.MatchString(f.method)) {
		v.Add("method", "must be a full method name (/sparc.v1.ApiKeyService/RevokeApiKey) or a service ending in / (/sparc.v1.ApiKeyService/)")
	}
	switch f.outcome {
	case "", "ok", "denied", "error":
	default:
		v.Add("outcome", "must be ok, denied or error")
	}
	return f
}

// methodFilter is a gRPC method's full name, or its service's with the
// method left off: what the trail stores in its method column is always
// the full name, so anything else could match nothing (or, with LIKE's
// wildcards, too much).
var methodFilter = regexp.MustCompile(`^/[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/([A-Za-z_][A-Za-z0-9_]*)?$`)

// Events are numbered by the table's identity column, not by UUIDs, so
// their names ("auditEvents/42") are made and read here rather than by
// aip.ParseName.

// cursor is an event's place in the trail: its number.
type cursor struct {
	ID int64 `json:"i"`
}

func eventName(id int64) string {
	return string(aip.AuditEvents) + "/" + strconv.FormatInt(id, 10)
}

// eventID reads the number in an event's name; ok is false for anything
// but "auditEvents/" and a positive decimal number.
func eventID(name string) (id int64, ok bool) {
	n, found := strings.CutPrefix(name, string(aip.AuditEvents)+"/")
	if !found || n == "" || n[0] == '0' || n[0] == '+' {
		return 0, false
	}
	id, err := strconv.ParseInt(n, 10, 64)
	return id, err == nil && id > 0
}

// positionOf is a listed event's cursor. Its name is the one the store
// made, so it always reads.
func positionOf(e *sparcv1.AuditEvent) cursor {
	id, _ := eventID(e.GetName())
	return cursor{ID: id}
}
