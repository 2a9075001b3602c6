package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// deniedLog audits denied calls without letting a flood of them write a
// row each into the append-only log. The first denial of a kind (same
// principal, organisation, role, method, code and client address) in a
// window is written at once, so a refusal is visible straight away; the
// rest are counted in memory and written as one event with their count
// when the window ends (and at shutdown, and early when too many kinds are
// pending). A kind thus costs at most two rows per window, whatever the
// number of calls.
type deniedLog struct {
	audit  AuditLog
	log    *slog.Logger
	window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	pending map[deniedKind]*deniedCalls
	timer   *time.Timer
}

type deniedKind struct {
	principal, org, role, method, code, peer string
}

type deniedCalls struct {
	rec   AuditEvent // the latest call of the kind (its request id and resource)
	count int        // calls since the one written at once
}

// maxPendingKinds bounds memory under a flood from many addresses: beyond
// it the pending counts are written before the window ends.
const maxPendingKinds = 10_000

// DefaultDeniedWindow is how long denials of one kind are summed.
const DefaultDeniedWindow = time.Minute

func newDeniedLog(audit AuditLog, log *slog.Logger, window time.Duration) *deniedLog {
	return &deniedLog{audit: audit, log: log, window: window, now: time.Now, pending: map[deniedKind]*deniedCalls{}}
}

// add records one denied call: it writes it when it is the first of its
// kind in the window, else counts it.
func (d *deniedLog) add(ctx context.Context, rec *AuditEvent, code string) {
	k := deniedKind{rec.Principal, rec.Org, rec.Role, rec.Method, code, rec.Peer}
	d.mu.Lock()
	c, seen := d.pending[k]
	if seen {
		c.count++
		c.rec = *rec
		c.rec.Time = d.now()
		d.mu.Unlock()
		return
	}
	d.pending[k] = &deniedCalls{}
	if d.timer == nil {
		d.timer = time.AfterFunc(d.window, func() { d.flush(context.Background()) })
	}
	full := len(d.pending) >= maxPendingKinds
	d.mu.Unlock()
	if full {
		go d.flush(context.Background())
	}
	// The audit must land even if the caller has gone away.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	ev := *rec
	ev.Outcome, ev.Code = "denied", code
	if err := d.audit.Insert(wctx, ev); err != nil {
		d.log.Error("audit event lost", "method", rec.Method, "principal", rec.Principal, "err", err)
	}
}

// flush writes the counted calls and starts a new window.
func (d *deniedLog) flush(ctx context.Context) {
	d.mu.Lock()
	pending := d.pending
	d.pending = map[deniedKind]*deniedCalls{}
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.mu.Unlock()
	var events []AuditEvent
	for k, c := range pending {
		if c.count == 0 {
			continue
		}
		ev := c.rec
		ev.Outcome, ev.Code, ev.Count = "denied", k.code, c.count
		events = append(events, ev)
	}
	if len(events) == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.audit.Insert(wctx, events...); err != nil {
		n := 0
		for _, e := range events {
			n += e.Count
		}
		d.log.Error("audit events of denied calls lost", "events", len(events), "calls", n, "err", err)
	}
}
