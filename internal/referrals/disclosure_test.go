package referrals_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/disclosure"
	"github.com/sparc-network/sparc/internal/testenv"
)

// backdate moves every referral of the world, with its timeline, so that
// the first was made at at (the service only ever stamps the present).
func backdate(t *testing.T, w *world, at time.Time) {
	t.Helper()
	ctx := context.Background()
	var first time.Time
	if err := w.env.Pool.QueryRow(ctx, `SELECT min(created_at) FROM referrals`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	shift := first.Sub(at)
	if _, err := w.env.Pool.Exec(ctx, `UPDATE referrals SET created_at = created_at - $1::interval, updated_at = updated_at - $1,
		requested_at = requested_at - $1, accepted_at = accepted_at - $1, first_attended_at = first_attended_at - $1,
		baseline_at = baseline_at - $1, followup_at = followup_at - $1, closed_at = closed_at - $1`, shift); err != nil {
		t.Fatal(err)
	}
	if _, err := w.env.Pool.Exec(ctx, `UPDATE referral_events SET time = time - $1::interval`, shift); err != nil {
		t.Fatal(err)
	}
}

// Finding 3 of issue 12, first half: one referral of organisation A,
// made at an instant T, and a key of another organisation asking A's
// statistics over 2 ms windows around T. Before the fix the window
// holding T answered "accepted: suppressed" and the one shifted by 1 ms
// answered nothing: the exact time and status of one referral. Now every
// window is the whole month, and the answers are identical. The status is
// as it stood at the window's end, so accepting the referral later does
// not change March's answer either: polling cannot time a status change.
func TestStatsCannotBeDifferencedByShiftingTheWindow(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	r := w.refer(t, w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC), "one")
	at := time.Date(2025, 3, 15, 10, 0, 0, 0, time.UTC)
	backdate(t, w, at)
	ms := time.Millisecond
	ask := func(c sparcv1.ReferralServiceClient, from, to time.Time) (*sparcv1.ReferralStats, error) {
		return c.ComputeReferralStats(ctx, &sparcv1.ComputeReferralStatsRequest{Organisation: aip.NameOf(aip.Organisations, w.lwOrg),
			StartTime: timestamppb.New(from), EndTime: timestamppb.New(to)})
	}
	windows := [][2]time.Time{{at.Add(-ms), at.Add(ms)}, {at, at.Add(2 * ms)}, {at.Add(ms), at.Add(3 * ms)},
		{at.Add(-2 * ms), at}, {at.Add(-time.Hour), at.Add(-time.Hour + 2*ms)}}
	var first *sparcv1.ReferralStats
	for who, c := range map[string]sparcv1.ReferralServiceClient{"link worker of another organisation": w.outside,
		"analyst of another organisation": w.analyst, "the provider group": w.group} {
		for _, win := range windows {
			got, err := ask(c, win[0], win[1])
			if err != nil {
				t.Fatalf("%s, [%s, %s): %v", who, win[0].Format(time.RFC3339Nano), win[1].Format(time.RFC3339Nano), err)
			}
			if first == nil {
				first = got
				// The month is what is released: one referral, withheld.
				if !got.GetByStatus()["requested"].GetSuppressed() || !got.GetTotal().GetSuppressed() ||
					got.GetStartTime().AsTime() != time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC) ||
					got.GetEndTime().AsTime() != time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC) {
					t.Errorf("March 2025 as released: %v", got)
				}
				continue
			}
			if !proto.Equal(got, first) {
				t.Errorf("%s, [%s, %s): %v; the window of [%s, %s) gave %v", who, win[0].Format(time.RFC3339Nano),
					win[1].Format(time.RFC3339Nano), got, windows[0][0].Format(time.RFC3339Nano),
					windows[0][1].Format(time.RFC3339Nano), first)
			}
		}
	}
	if _, err := move(w.group, r.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, ""); err != nil {
		t.Fatal(err)
	}
	if got, err := ask(w.outside, at.Add(-ms), at.Add(ms)); err != nil || !proto.Equal(got, first) {
		t.Errorf("March after the referral was accepted today: %v, %v; want it unchanged: %v", got, err, first)
	}
	// The referrer itself still sees its own figures exactly, as asked.
	own, err := ask(w.lw, at.Add(-ms), at.Add(ms))
	if err != nil || own.GetSuppressed() || own.GetByStatus()["accepted"].GetValue() != 1 || own.GetTotal().GetValue() != 1 ||
		!own.GetStartTime().AsTime().Equal(at.Add(-ms)) {
		t.Errorf("own exact figures: %v, %v", own, err)
	}

	// The current month is never released to others: asking about today
	// is refused the same way before and after a referral today.
	now := time.Now()
	before, errBefore := ask(w.outside, now.Add(-ms), now.Add(ms))
	w.refer(t, w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC), "today")
	after, errAfter := ask(w.outside, now.Add(-ms), now.Add(ms))
	if status.Code(errBefore) != codes.InvalidArgument || before != nil || after != nil ||
		status.Convert(errBefore).Message() != status.Convert(errAfter).Message() {
		t.Errorf("today before and after a referral: %v, %v / %v, %v; want the same InvalidArgument", before, errBefore, after, errAfter)
	}
}

// Finding 3, total minus parts: 8 referrals still requested, 8 accepted,
// 1 cancelled. Parts released as 10, 10 and withheld; a total rounded on
// its own (17 → 15) would pin the withheld part to exactly 1, as 10 and 10
// are at least 8 each. The total is built from the released parts, so it
// says nothing they do not; and a window of several months is built from
// the released months, so it cannot be differenced against them either.
func TestStatsTotalsCannotBeDifferencedIntoAWithheldCell(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC)
	for i := range 17 {
		r := w.refer(t, p, fmt.Sprintf("parts-%d", i))
		switch {
		case i < 8:
			if _, err := move(w.group, r.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, ""); err != nil {
				t.Fatal(err)
			}
		case i == 8:
			if _, err := move(w.lw, r.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, "no_longer_needed"); err != nil {
				t.Fatal(err)
			}
		}
	}
	backdate(t, w, time.Date(2025, 5, 31, 23, 0, 0, 0, time.UTC))
	march := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	ask := func(from, to time.Time) *sparcv1.ReferralStats {
		t.Helper()
		s, err := w.analyst.ComputeReferralStats(ctx, &sparcv1.ComputeReferralStatsRequest{Organisation: aip.NameOf(aip.Organisations, w.lwOrg),
			StartTime: timestamppb.New(from), EndTime: timestamppb.New(to)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	may := ask(march.AddDate(0, 2, 0), march.AddDate(0, 3, 0))
	bs := may.GetByStatus()
	if bs["requested"].GetValue() != 10 || bs["accepted"].GetValue() != 10 || !bs["cancelled"].GetSuppressed() {
		t.Fatalf("May 2025: %v", may)
	}
	cell := func(c *sparcv1.StatCount) disclosure.Cell {
		return disclosure.Cell{Value: c.GetValue(), Withheld: c.GetSuppressed()}
	}
	want := disclosure.Sum(cell(bs["requested"]), cell(bs["accepted"]), cell(bs["cancelled"]))
	if got := cell(may.GetTotal()); got != want || got == disclosure.Count(17) {
		t.Errorf("May's total %+v; want %+v, made from the parts shown (not the exact 17 rounded: %+v)", got, want, disclosure.Count(17))
	}
	// March to May: two empty months and May; the same figures as May alone.
	spring := ask(march, march.AddDate(0, 3, 0))
	if !proto.Equal(spring.GetByStatus()["cancelled"], bs["cancelled"]) || !proto.Equal(spring.GetTotal(), may.GetTotal()) {
		t.Errorf("March to May %v; May alone %v", spring, may)
	}
}

// Finding 3, the anonymous half: coverage for a single day showed an
// area's referrals_per_1000 go from 0 to withheld the day a referral was
// made. Now a day window is the whole month, months still running are not
// released, and the coverage response says which window it used.
func TestCoverageCannotBeDifferencedByDayWindows(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	w.env.ImportAreas(t, "day_test", 1500, &sparcv1.AreaFeature{Code: "E01999999", DisplayName: "Saltley",
		GeometryGeojson: testenv.Box(-1.90, 52.46, -1.82, 52.50)})
	anon := sparcv1.NewCoverageServiceClient(w.env.Anonymous())
	day := func(d string) *sparcv1.ComputeCoverageResponse {
		t.Helper()
		resp, err := anon.ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{Kind: "day_test", WindowStart: d, WindowEnd: d})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	type seen struct{ rate, start, end string } // rate "" when absent
	look := func(r *sparcv1.ComputeCoverageResponse) seen {
		if len(r.GetAreas()) != 1 {
			t.Fatalf("areas: %v", r.GetAreas())
		}
		var rate string
		if p := r.GetAreas()[0].ReferralsPer_1000; p != nil {
			rate = fmt.Sprint(*p)
		}
		return seen{rate, r.GetReferralWindowStart(), r.GetReferralWindowEnd()}
	}

	w.refer(t, w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC), "on-the-day")
	backdate(t, w, time.Date(2025, 3, 15, 10, 0, 0, 0, time.UTC))
	for _, d := range []string{"2025-03-14", "2025-03-15", "2025-03-16", "2025-03-01", "2025-03-31"} {
		if got := look(day(d)); got.rate != "" || got.start != "2025-03-01" || got.end != "2025-03-31" {
			t.Errorf("day %s: %+v; want withheld over 2025-03-01..2025-03-31 like every day of March", d, got)
		}
	}
	if got := look(day("2025-04-01")); got.rate != "0" {
		t.Errorf("April 2025 (no referrals): %+v, want 0", got)
	}

	// Today, before and after a referral today: the same (no figures).
	today := time.Now().UTC().Format(time.DateOnly)
	before := look(day(today))
	w.refer(t, w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC), "today")
	if after := look(day(today)); after != before || after.rate != "" || after.start != "" {
		t.Errorf("today before %+v and after %+v a referral: want both without referral figures", before, after)
	}
}
