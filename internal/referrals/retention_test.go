package referrals_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/referrals"
)

const year = 365 * 24 * time.Hour

// retentionWorld has three people: one whose only referral closed long
// ago, one with an open referral, and one with a referral closed long ago
// and another still open.
type retentionWorld struct {
	*world
	oldClosed, open, mixedClosed, mixedOpen *sparcv1.Referral
	gone, kept, mixed                       *sparcv1.Person
}

func newRetentionWorld(t *testing.T) *retentionWorld {
	t.Helper()
	w := &retentionWorld{world: newWorld(t, 0)}
	ctx := context.Background()
	all := []sparcv1.ConsentScope{sparcv1.ConsentScope_CONSENT_SCOPE_BASIC, sparcv1.ConsentScope_CONSENT_SCOPE_CONTACT, sparcv1.ConsentScope_CONSENT_SCOPE_NOTES}
	w.gone, w.kept, w.mixed = w.person(t, all...), w.person(t, all...), w.person(t, all...)
	complete := func(r *sparcv1.Referral) *sparcv1.Referral {
		t.Helper()
		if _, err := move(w.group, r.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := w.group.RecordOutcome(ctx, &sparcv1.RecordOutcomeRequest{Name: r.GetName(), SessionsAttended: proto.Int32(4),
			Baseline: &sparcv1.WellbeingMeasure{Swemwbs: []int32{2, 2, 2, 2, 2, 2, 2}},
			FollowUp: &sparcv1.WellbeingMeasure{Swemwbs: []int32{3, 3, 3, 3, 3, 3, 3}}, WhatChanged: "Made friends"}); err != nil {
			t.Fatal(err)
		}
		done, err := w.group.TransitionReferral(ctx, &sparcv1.TransitionReferralRequest{Name: r.GetName(),
			ToStatus: sparcv1.ReferralStatus_REFERRAL_STATUS_COMPLETED, Note: "Lovely to meet A. Khan"})
		if err != nil {
			t.Fatal(err)
		}
		return done
	}
	w.oldClosed = complete(w.refer(t, w.gone, "old"))
	w.open = w.refer(t, w.kept, "open")
	w.mixedClosed = complete(w.refer(t, w.mixed, "mixed-old"))
	w.mixedOpen = w.refer(t, w.mixed, "mixed-open")
	// Closed two years ago.
	if _, err := w.env.Pool.Exec(ctx, `UPDATE referrals SET closed_at = now() - interval '730 days' WHERE id = ANY($1::uuid[])`,
		[]string{idOf(w.oldClosed.GetName()), idOf(w.mixedClosed.GetName())}); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *retentionWorld) check(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	type referralText struct {
		note, changed, shared string
		eventNotes            int
		purged                bool
	}
	read := func(id string) referralText {
		t.Helper()
		var x referralText
		if err := w.env.Pool.QueryRow(ctx, `SELECT provider_note, what_changed, shared_person::text, purged_at IS NOT NULL,
			(SELECT count(*) FROM referral_events e WHERE e.referral_id = r.id AND e.note <> '')
			FROM referrals r WHERE id = $1`, idOf(id)).Scan(&x.note, &x.changed, &x.shared, &x.purged, &x.eventNotes); err != nil {
			t.Fatal(err)
		}
		return x
	}
	for _, id := range []string{w.oldClosed.GetName(), w.mixedClosed.GetName()} {
		if x := read(id); !x.purged || x.note != "" || x.changed != "" || x.shared != "{}" || x.eventNotes != 0 {
			t.Errorf("closed long ago, referral %s keeps %+v", id, x)
		}
	}
	for _, id := range []string{w.open.GetName(), w.mixedOpen.GetName()} {
		if x := read(id); x.purged || x.note == "" || x.shared == "{}" {
			t.Errorf("open referral %s was purged: %+v", id, x)
		}
	}
	personPurged := func(p *sparcv1.Person) bool {
		t.Helper()
		var purged bool
		var name, postcode, notes string
		var contact, nhsSealed []byte
		if err := w.env.Pool.QueryRow(ctx, `SELECT purged_at IS NOT NULL, display_name, postcode, what_matters, contact_sealed, nhs_number_sealed
			FROM people WHERE id = $1`, idOf(p.GetName())).Scan(&purged, &name, &postcode, &notes, &contact, &nhsSealed); err != nil {
			t.Fatal(err)
		}
		empty := name == "" && postcode == "" && notes == "" && contact == nil && nhsSealed == nil
		if purged != empty {
			t.Errorf("person %s: purged %v but details left: %q %q %q %v %v", p.GetName(), purged, name, postcode, notes, contact != nil, nhsSealed != nil)
		}
		return purged
	}
	if !personPurged(w.gone) {
		t.Error("the person whose referrals all closed long ago keeps their details")
	}
	if personPurged(w.kept) || personPurged(w.mixed) {
		t.Error("a person with an open referral lost their details")
	}
	// The link worker can still read the purged referral, without details.
	r, err := w.lw.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: w.oldClosed.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetPersonDetails() != nil || r.GetStatus() != sparcv1.ReferralStatus_REFERRAL_STATUS_COMPLETED || r.GetOutcome().GetSessionsAttended() != 4 {
		t.Errorf("purged referral reads %v", r)
	}
	// Anonymous aggregates still count everything.
	stats, err := w.lw.ComputeReferralStats(ctx, &sparcv1.ComputeReferralStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.GetTotal().GetValue() != 4 || stats.GetByStatus()["completed"].GetValue() != 2 || stats.GetSwemwbsChange().GetMean() != 7 {
		t.Errorf("stats after purge: %v", stats)
	}
}

func TestPurgeErasesDetailsOfReferralsClosedBeforeTheCutoff(t *testing.T) {
	t.Parallel()
	w := newRetentionWorld(t)
	ctx := context.Background()
	// Runs as the application role, as sparcd does.
	r, p, err := referrals.Purge(ctx, w.env.AppPool, time.Now().Add(-year))
	if err != nil {
		t.Fatal(err)
	}
	if r != 2 || p != 1 {
		t.Fatalf("purged %d referrals and %d people, want 2 and 1", r, p)
	}
	w.check(t)
	if r, p, err := referrals.Purge(ctx, w.env.AppPool, time.Now().Add(-year)); err != nil || r != 0 || p != 0 {
		t.Fatalf("second purge: %d, %d, %v; want nothing left to do", r, p, err)
	}
	// A recent cutoff keeps referrals closed just now.
	var recent int
	if err := w.env.Pool.QueryRow(ctx, `SELECT count(*) FROM referrals WHERE closed_at > now() - interval '1 day'`).Scan(&recent); err != nil || recent != 0 {
		t.Fatalf("%d referrals closed recently (%v)", recent, err)
	}
}

func TestSparcdPurgesOnItsRetentionSchedule(t *testing.T) {
	t.Parallel()
	w := newRetentionWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A second app over the same database, as sparcd --retention 8760h
	// starts: its first purge runs at once.
	a, err := app.New(ctx, w.env.AppPool, app.Config{Auth: auth.Config{RatePerSecond: 100, Burst: 100}, Retention: year,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	a.Run(ctx)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := w.env.Pool.QueryRow(ctx, `SELECT count(*) FROM referrals WHERE purged_at IS NOT NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d referrals purged after 20 s, want 2", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.check(t)
}
