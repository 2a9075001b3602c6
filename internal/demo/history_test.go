package demo_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/testenv"
)

// moves is the referral state machine (internal/referrals/status.go) as
// the documentation states it: every status change the history records
// must be one of these; an entry from a status to itself is an outcome
// recorded.
var moves = map[string][]string{
	"":            {"requested"},
	"requested":   {"accepted", "rejected", "cancelled"},
	"accepted":    {"in_progress", "on_hold", "cancelled", "completed", "failed"},
	"in_progress": {"on_hold", "cancelled", "completed", "failed"},
	"on_hold":     {"in_progress", "cancelled", "completed", "failed"},
}

// coded are the reasons a closing status requires.
var coded = map[string][]string{
	"rejected":  {"no_capacity", "not_eligible", "not_suitable", "unable_to_contact", "other"},
	"cancelled": {"person_declined", "person_unreachable", "duplicate", "no_longer_needed", "referrer_withdrew", "other"},
	"failed":    {"did_not_attend", "activity_closed", "person_moved", "needs_not_met", "other"},
}

// sparcd --demo loads a year of referral history after the directory,
// areas and postcodes, through the application role: it spans the twelve
// months before the load, every quarter has referrals, every timeline is
// a valid walk of the state machine ending at the referral's status,
// completed referrals carry baseline and follow-up measures that improve
// on average but not for everyone, people live in the demo areas (so
// referrals have home areas) across deprivation, some pairs of
// organisations refer both ways, ties form and fade between quarters, the
// service itself works on the loaded referrals, and loading again adds
// nothing.
func TestDemoHistoryIsAPlausibleYearOfReferrals(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	if _, err := demo.Load(ctx, env.AppPool, env.App.Assets); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.ImportAreas(demo.AdminContext(ctx), areas.NewService(env.App.Areas, env.App.Tokens)); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.LoadPostcodes(ctx, env.AppPool); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 15, 4, 5, 0, time.UTC)
	began := time.Now()
	n, err := demo.LoadHistory(ctx, env.AppPool, env.App.Assets, now)
	if err != nil {
		t.Fatalf("loading the history: %v", err)
	}
	t.Logf("history: %d referrals in %v", n, time.Since(began).Round(time.Millisecond))
	if n < 500 || n > 2500 {
		t.Errorf("%d referrals: want a few hundred to a couple of thousand", n)
	}
	start := now.AddDate(-1, 0, 0)

	// Span and quarters (owner pool: every row).
	var count int
	var first, last time.Time
	if err := env.Pool.QueryRow(ctx, `SELECT count(*), min(created_at), max(created_at) FROM referrals`).Scan(&count, &first, &last); err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Errorf("%d referrals in the database, loader said %d", count, n)
	}
	if first.Before(start) || first.After(start.AddDate(0, 1, 0)) || !last.Before(now) || last.Before(now.AddDate(0, -1, 0)) {
		t.Errorf("referrals from %v to %v: want the first month to the last of %v – %v", first, last, start, now)
	}
	perQuarter := make([]int, 4)
	perMonth := make([]int, 12)
	rows, err := env.Pool.Query(ctx, `SELECT created_at FROM referrals`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var at time.Time
		if err := rows.Scan(&at); err != nil {
			t.Fatal(err)
		}
		for m := 11; m >= 0; m-- {
			if !at.Before(start.AddDate(0, m, 0)) {
				perMonth[m]++
				perQuarter[m/3]++
				break
			}
		}
	}
	rows.Close()
	for q, c := range perQuarter {
		if c == 0 {
			t.Errorf("quarter %d has no referrals (%v)", q+1, perQuarter)
		}
	}
	for m, c := range perMonth {
		if c == 0 {
			t.Errorf("month %d has no referrals (%v)", m+1, perMonth)
		}
	}

	// Timelines: valid walks, reasons coded, closing consistent.
	type ref struct {
		status, reason string
		closed         bool
		steps          [][3]string
		times          []time.Time
	}
	refs := map[uuid.UUID]*ref{}
	rows, err = env.Pool.Query(ctx, `SELECT r.id, r.status, r.status_reason, r.closed_at IS NOT NULL, e.from_status, e.to_status, e.reason, e.time
		FROM referrals r JOIN referral_events e ON e.referral_id = r.id ORDER BY r.id, e.id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id uuid.UUID
		var x ref
		var from, to, reason string
		var at time.Time
		if err := rows.Scan(&id, &x.status, &x.reason, &x.closed, &from, &to, &reason, &at); err != nil {
			t.Fatal(err)
		}
		if refs[id] == nil {
			refs[id] = &x
		}
		refs[id].steps = append(refs[id].steps, [3]string{from, to, reason})
		refs[id].times = append(refs[id].times, at)
	}
	rows.Close()
	if len(refs) != n {
		t.Errorf("%d referrals have timelines, want all %d", len(refs), n)
	}
	statuses := map[string]int{}
	for id, r := range refs {
		statuses[r.status]++
		at := ""
		for i, s := range r.steps {
			if s[0] != at {
				t.Fatalf("referral %s: entry %d moves from %q, but it was %q (%v)", id, i, s[0], at, r.steps)
			}
			if s[0] != s[1] && !slices.Contains(moves[s[0]], s[1]) {
				t.Fatalf("referral %s: %s → %s is no move of the state machine", id, s[0], s[1])
			}
			if s[0] != s[1] && coded[s[1]] != nil && !slices.Contains(coded[s[1]], s[2]) {
				t.Fatalf("referral %s: %s without a coded reason (%q)", id, s[1], s[2])
			}
			if i > 0 && r.times[i].Before(r.times[i-1]) || !r.times[i].Before(now) {
				t.Fatalf("referral %s: entry %d at %v out of order or after the load", id, i, r.times[i])
			}
			at = s[1]
		}
		closing := coded[r.status] != nil || r.status == "completed"
		if at != r.status || r.closed != closing {
			t.Fatalf("referral %s: status %s (closed %v) after a timeline ending at %s", id, r.status, r.closed, at)
		}
	}
	t.Logf("status mix: %v", statuses)
	for _, s := range []string{"requested", "accepted", "in_progress", "rejected", "cancelled", "completed", "failed"} {
		if statuses[s] == 0 {
			t.Errorf("no %s referral in the history (%v)", s, statuses)
		}
	}
	if statuses["completed"] < n/4 {
		t.Errorf("%d of %d completed: want a realistic share", statuses["completed"], n)
	}

	// Outcomes: both measures on completed referrals, better on average,
	// not for everyone.
	var both, worse int
	var meanSwem, meanLife float64
	if err := env.Pool.QueryRow(ctx, `SELECT count(*),
			count(*) FILTER (WHERE f <= b),
			avg(f - b), avg(followup_ons4[1] - baseline_ons4[1])
		FROM (SELECT *, (SELECT sum(x) FROM unnest(baseline_swemwbs) x) AS b, (SELECT sum(x) FROM unnest(followup_swemwbs) x) AS f
			FROM referrals WHERE status = 'completed' AND baseline_ons4 IS NOT NULL AND followup_ons4 IS NOT NULL
				AND cardinality(baseline_ons4) = 4 AND cardinality(followup_ons4) = 4
				AND cardinality(baseline_swemwbs) = 7 AND cardinality(followup_swemwbs) = 7) c`).
		Scan(&both, &worse, &meanSwem, &meanLife); err != nil {
		t.Fatal(err)
	}
	t.Logf("completed with both measures: %d; mean SWEMWBS change %.2f, life satisfaction %.2f; %d no better", both, meanSwem, meanLife, worse)
	if both < 50 || meanSwem <= 0.5 || meanLife <= 0 || worse == 0 || worse > both/2 {
		t.Errorf("outcomes: %d with both measures, mean SWEMWBS change %.2f, life satisfaction %.2f, %d no better: want plausible gains with noise",
			both, meanSwem, meanLife, worse)
	}
	var badScores int
	if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM referrals, unnest(baseline_ons4 || followup_ons4) v WHERE v NOT BETWEEN 0 AND 10`).Scan(&badScores); err != nil || badScores != 0 {
		t.Errorf("ONS4 items out of 0-10: %d, %v", badScores, err)
	}
	if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM referrals, unnest(baseline_swemwbs || followup_swemwbs) v WHERE v NOT BETWEEN 1 AND 5`).Scan(&badScores); err != nil || badScores != 0 {
		t.Errorf("SWEMWBS items out of 1-5: %d, %v", badScores, err)
	}

	// Home areas: set from people's demo postcodes, across deprivation.
	var placed, quintiles int
	if err := env.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE r.home_area <> ''),
			count(DISTINCT ((a.attributes->>'uk_composite_imd_decile')::int + 1) / 2)
		FROM referrals r LEFT JOIN areas a ON a.code = r.home_area`).Scan(&placed, &quintiles); err != nil {
		t.Fatal(err)
	}
	if placed < n*9/10 || quintiles < 5 {
		t.Errorf("%d of %d referrals have a home area, in %d deprivation quintiles: want nearly all, in all five", placed, n, quintiles)
	}

	// Reciprocity, and ties that form and fade between the first and
	// last quarters.
	var reciprocal, formed, faded int
	if err := env.Pool.QueryRow(ctx, `WITH t AS (SELECT DISTINCT referring_org a, provider_org b FROM referrals)
		SELECT count(*) FROM t x JOIN t y ON x.a = y.b AND x.b = y.a AND x.a < x.b`).Scan(&reciprocal); err != nil {
		t.Fatal(err)
	}
	if err := env.Pool.QueryRow(ctx, `WITH q AS (SELECT DISTINCT referring_org a, provider_org b,
			created_at < $1 AS early, created_at >= $2 AS late FROM referrals),
		first AS (SELECT a, b FROM q WHERE early), final AS (SELECT a, b FROM q WHERE late)
		SELECT (SELECT count(*) FROM (SELECT * FROM final EXCEPT SELECT * FROM first) f),
		       (SELECT count(*) FROM (SELECT * FROM first EXCEPT SELECT * FROM final) f)`,
		start.AddDate(0, 3, 0), start.AddDate(0, 9, 0)).Scan(&formed, &faded); err != nil {
		t.Fatal(err)
	}
	t.Logf("reciprocal pairs %d; ties formed %d, faded %d (first quarter → last)", reciprocal, formed, faded)
	if reciprocal == 0 || formed == 0 || faded == 0 {
		t.Errorf("reciprocal pairs %d, ties formed %d, faded %d: want some of each", reciprocal, formed, faded)
	}

	// The service works on the history: the directory's group editor
	// completes an open referral sent to it.
	var open uuid.UUID
	if err := env.Pool.QueryRow(ctx, `SELECT id FROM referrals WHERE provider_org = $1 AND status = 'in_progress' ORDER BY id LIMIT 1`,
		demo.Owner).Scan(&open); err != nil {
		t.Fatalf("no open referral to the demo directory: %v", err)
	}
	group := sparcv1.NewReferralServiceClient(env.ConnWithKey(t, env.Key(t, demo.Owner, auth.RoleGroupEditor)))
	done, err := group.TransitionReferral(ctx, &sparcv1.TransitionReferralRequest{Name: "referrals/" + open.String(),
		ToStatus: sparcv1.ReferralStatus_REFERRAL_STATUS_COMPLETED})
	if err != nil || done.GetStatus() != sparcv1.ReferralStatus_REFERRAL_STATUS_COMPLETED {
		t.Errorf("completing a history referral through the service: %v, %v", done.GetStatus(), err)
	}

	// Loading again, even a day later, adds nothing.
	if again, err := demo.LoadHistory(ctx, env.AppPool, env.App.Assets, now.AddDate(0, 0, 1)); err != nil || again != 0 {
		t.Errorf("loading the history again: %d, %v", again, err)
	}
}
