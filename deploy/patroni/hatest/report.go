package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sparc-network/sparc/internal/db"
)

// report is the run's figures.
type report struct {
	replicas                      int
	oldLeader, newLeader, killed  string
	before, after                 string
	killAt                        time.Time
	elected, healed               time.Duration
	healedOK, caughtUp            bool
	writeGap, searchGap           time.Duration
	writeGapStart, searchGapStart time.Time
	writes                        []*write
	writeTally, searchTally       *tally
	probe                         *probe

	acked, lost, missing, duplicated, retried int
	streams                                   []streamResult
	hookDeliveries, hookMissing               int
	hookRepeats, hookRepeatsDocumented        int
	hookDisordered                            int
	outbox                                    int
	listeners                                 map[string]int
	logs                                      []string
}

type streamResult struct {
	resumes, missing, doubled, disordered int
	errs                                  map[string]int
}

// check reads the database (as its superuser, through the read-write
// port: the new primary) and compares it with what clients were told.
func (r *report) check(ctx context.Context, cfg config, f *fixture, streams []*stream, hooks *hookSink) error {
	conn, err := pgx.Connect(ctx, cfg.dbURL)
	if err != nil {
		return fmt.Errorf("connecting to the database to check: %w", err)
	}
	defer conn.Close(ctx)
	var org string
	if err := conn.QueryRow(ctx, `SELECT referring_org::text FROM referrals WHERE id = $1`, refID(f.probe)).Scan(&org); err != nil {
		return fmt.Errorf("finding the referring organisation: %w", err)
	}
	var ids, rids, all []string
	for _, w := range r.writes {
		all = append(all, w.requestID)
		if w.attempts > 1 {
			r.retried++
		}
		if w.name != "" {
			r.acked++
			ids, rids = append(ids, refID(w.name)), append(rids, w.requestID)
		}
	}
	// Acknowledged: the referral the client was given, under its request id.
	var found int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM referrals r JOIN unnest($1::uuid[], $2::text[]) AS a(id, rid)
		ON r.id = a.id AND r.request_id = a.rid AND r.referring_org = $3`, ids, rids, org).Scan(&found); err != nil {
		return err
	}
	r.lost = r.acked - found
	// Every request id made: exactly one referral each.
	rows, err := conn.Query(ctx, `SELECT count(*) FROM referrals WHERE referring_org = $1 AND request_id = ANY($2) GROUP BY request_id`, org, all)
	if err != nil {
		return err
	}
	counts, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	r.missing = len(all) - len(counts)
	for _, n := range counts {
		if n > 1 {
			r.duplicated++
		}
	}
	want, err := outbox(ctx, conn, org)
	if err != nil {
		return err
	}
	r.outbox = len(want)
	for _, s := range streams {
		s.mu.Lock()
		res := streamResult{resumes: s.resumes, errs: s.errs}
		s.mu.Unlock()
		res.missing, res.doubled, res.disordered = compare(s.changes(), want)
		r.streams = append(r.streams, res)
	}
	hooks.mu.Lock()
	r.hookDeliveries = len(hooks.seq)
	hooks.mu.Unlock()
	r.hookMissing, _, r.hookDisordered = compare(hooks.changes(), want)
	r.hookRepeats, r.hookRepeatsDocumented = hooks.repeats()
	r.listeners, err = listeners(ctx, conn)
	return err
}

// outbox returns the changes org's watch streams and webhooks deliver, in
// their order.
func outbox(ctx context.Context, conn *pgx.Conn, org string) ([]change, error) {
	rows, err := conn.Query(ctx, `SELECT 'referrals/' || referral_id::text, type, 'REFERRAL_STATUS_' || upper(to_status::text)
		FROM referral_outbox WHERE referring_org = $1 OR provider_org = $1 ORDER BY txid, seq`, org)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (change, error) {
		var c change
		return c, row.Scan(&c.referral, &c.kind, &c.to)
	})
}

// listeners counts the LISTEN sessions by channel: each replica's
// referral, credential and postcode listeners must be back on the new
// primary.
func listeners(ctx context.Context, conn *pgx.Conn) (map[string]int, error) {
	return db.Pairs[string, int](ctx, conn, `SELECT query, count(*)::int FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN %' GROUP BY query`)
}

// print writes the report and returns how many targets were missed.
func (r *report) print(w io.Writer, cfg config) (missed int) {
	rel := func(t time.Time) string { return fmt.Sprintf("%+.1fs", t.Sub(r.killAt).Seconds()) }
	target := func(ok bool, format string, args ...any) {
		mark := "ok  "
		if !ok {
			mark = "MISS"
			missed++
		}
		fmt.Fprintf(w, "  [%s] "+format+"\n", append([]any{mark}, args...)...)
	}
	fmt.Fprintf(w, "\n== HA test: %d sparcd replicas, Patroni primary %s killed (%s) ==\n", r.replicas, r.oldLeader, r.killed)
	fmt.Fprintf(w, "cluster before:%s\ncluster after: %s\n", r.before, r.after)
	fmt.Fprintf(w, "new primary %s elected %.1fs after the kill; every surviving node running again %.1fs after it (%v)\n",
		r.newLeader, r.elected.Seconds(), r.healed.Seconds(), r.healedOK)
	fmt.Fprintf(w, "writes: %d CreateReferral request ids, %d acknowledged, %d needed a retry, %d failed attempts\n",
		len(r.writes), r.acked, r.retried, r.writeTally.failed)
	fmt.Fprintf(w, "searches: %d ok, %d failed; longest gap %.1fs from %s\n", len(r.searchTally.ok), r.searchTally.failed,
		r.searchGap.Seconds(), rel(r.searchGapStart))
	fmt.Fprintf(w, "readiness (/readyz not 200): %s\n", r.probe.summary())
	for _, s := range r.probe.spans {
		fmt.Fprintf(w, "  %s\n", s)
	}
	fmt.Fprintln(w, "errors seen by clients (code: message, count, first seen):")
	printErrs(w, "  create", r.writeTally, rel)
	printErrs(w, "  search", r.searchTally, rel)
	fmt.Fprintf(w, "LISTEN sessions on the new primary: %v\n", r.listeners)
	fmt.Fprintln(w, "sparcd warnings and errors (count, first and last, relative to the kill):")
	for _, l := range r.logs {
		fmt.Fprintf(w, "  %s\n", l)
	}
	fmt.Fprintln(w, "\ntargets:")
	target(r.writeGap <= cfg.maxWriteGap, "seconds without a successful write: %.1f (from %s; target <= %.0f)",
		r.writeGap.Seconds(), rel(r.writeGapStart), cfg.maxWriteGap.Seconds())
	target(r.lost == 0, "acknowledged referrals lost: %d of %d", r.lost, r.acked)
	target(r.missing == 0 && r.duplicated == 0, "request ids missing: %d, duplicated: %d (of %d)", r.missing, r.duplicated, len(r.writes))
	target(r.caughtUp, "every watch stream and the webhook received the fence referral made after the failover")
	for i, s := range r.streams {
		target(s.missing == 0 && s.doubled == 0 && s.disordered == 0,
			"watch stream on replica %d: %d resumes from its cursor, %d of %d outbox changes missing, %d doubled, %d out of order; stream errors %v",
			i+1, s.resumes, s.missing, r.outbox, s.doubled, s.disordered, s.errs)
	}
	target(r.hookMissing == 0 && r.hookDisordered == 0 && r.hookRepeats == r.hookRepeatsDocumented,
		"webhook: %d deliveries of %d outbox changes, %d missing, %d out of order, %d repeats (%d of them the documented at-least-once repeat of the change acknowledged just before)",
		r.hookDeliveries, r.outbox, r.hookMissing, r.hookDisordered, r.hookRepeats, r.hookRepeatsDocumented)
	odd := r.writeTally.unretryable() + r.searchTally.unretryable()
	for _, st := range r.streams {
		for k, n := range st.errs {
			if !retryable(k) {
				odd += n
			}
		}
	}
	target(odd == 0, "client errors other than UNAVAILABLE or DEADLINE_EXCEEDED (what the retry policy retries): %d", odd)
	listening := len(r.listeners) >= 2
	for _, n := range r.listeners {
		listening = listening && n >= r.replicas
	}
	target(listening, "every replica's LISTEN connections re-established on the new primary: %v", r.listeners)
	return missed
}

func printErrs(w io.Writer, what string, t *tally, rel func(time.Time) string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]string, 0, len(t.errs))
	for k := range t.errs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return t.first[keys[i]].Before(t.first[keys[j]]) })
	for _, k := range keys {
		fmt.Fprintf(w, "%s %s ×%d (%s)\n", what, strings.TrimSpace(k), t.errs[k], rel(t.first[k]))
	}
}

// retryable says whether an error key ("Code: message") is one a client
// retries through a failover.
func retryable(key string) bool {
	return strings.HasPrefix(key, "Unavailable:") || strings.HasPrefix(key, "DeadlineExceeded:")
}

// unretryable counts the failures a client would not retry.
func (t *tally) unretryable() (n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, c := range t.errs {
		if !retryable(k) {
			n += c
		}
	}
	return n
}
