package auth

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/sparc-network/sparc/internal/db"
)

// AuditEvent is one entry of the audit trail: who called what, on which
// resource, from where, and how it ended.
type AuditEvent struct {
	Principal, Org, Role, Method, Resource, RequestID, Peer string
	DisplayName                                             string    // the principal's display name, when it has one
	Outcome, Code                                           string    // ok, denied or error; the gRPC code name
	Count                                                   int       // zero: one call; more for summed denials
	Time                                                    time.Time // zero: when written; else the last summed call's
}

// AuditLog is where the layer writes the trail: internal/audit's Store,
// the only code that writes audit_events (app wiring hands it over; audit
// cannot be imported here, as its service asks this package who calls).
type AuditLog interface {
	// Statement returns the parameterised insert of ev, which db.InTx runs
	// in the round trip that begins a call's transaction (a db.Rider).
	Statement(ev AuditEvent) db.Statement
	// Insert stores events on their own, in one round trip.
	Insert(ctx context.Context, events ...AuditEvent) error
}

// auditCall is an audited call in flight: its event, written as "ok" by
// the first transaction the handler commits (rider), or by finish
// afterwards with the call's outcome when no transaction did.
type auditCall struct {
	ev    AuditEvent
	rider *db.Rider
}

type auditKey struct{}

// pending returns ctx for an audited call whose event is rec: its
// transactions write the event with their change.
func (l *Layer) pending(ctx context.Context, rec *AuditEvent) (context.Context, *auditCall) {
	ok := *rec
	ok.Outcome, ok.Code = "ok", codes.OK.String()
	call := &auditCall{ev: *rec, rider: db.NewRider(l.audit.Statement(ok))}
	ctx = db.WithRider(ctx, call.rider)
	return context.WithValue(ctx, auditKey{}, call), call
}

// AuditFrom returns the audit event of the call ctx belongs to, and
// whether it is still to be written. A statement that writes the event
// itself together with its change (referrals' single-statement create)
// reads it here, and reports through db.Pipeline that it did.
func AuditFrom(ctx context.Context) (AuditEvent, bool) {
	call, _ := ctx.Value(auditKey{}).(*auditCall)
	if call == nil {
		return AuditEvent{}, false
	}
	return call.ev, !call.rider.Written()
}

// record starts the audit event of a call.
func (l *Layer) record(ctx context.Context, method string, req any) *AuditEvent {
	c := callerOf(ctx)
	return &AuditEvent{Principal: "anonymous", Method: method, RequestID: c.RequestID, Peer: addrString(c),
		Resource: resourceFor(method, req)}
}

// finish records the outcome of an audited call that no transaction
// recorded (reads, failures).
func (l *Layer) finish(ctx context.Context, call *auditCall, err error) {
	if call == nil || call.rider.Written() {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
		if c := codeOf(err); c == codes.NotFound || c == codes.PermissionDenied {
			l.deny(ctx, &call.ev, err)
			return
		}
	}
	ev := call.ev
	ev.Outcome, ev.Code = outcome, codeOf(err).String()
	// The audit must land even if the caller has gone away.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := l.audit.Insert(wctx, ev); err != nil {
		l.log.Error("audit event lost", "method", ev.Method, "principal", ev.Principal, "err", err)
	}
}

// deny audits a refused call, summed with others of its kind (see
// deniedLog): refusals cost no more than a row or two per minute each.
func (l *Layer) deny(ctx context.Context, rec *AuditEvent, err error) {
	l.denied.add(ctx, rec, codeOf(err).String())
}
