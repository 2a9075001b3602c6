package referrals_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

const overrideReason = "age_eligibility_overridden"

// ageAsset adds an asset of the world's group taking ages min to max (nil:
// open end).
func (w *world) ageAsset(t *testing.T, min, max *int32) *sparcv1.Asset {
	t.Helper()
	a, err := w.env.AssetsOf(t, w.groupOrg).CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Saltley youth and adult choir",
		Location:           &sparcv1.Location{Latitude: 52.48, Longitude: -1.86, Country: "GB"},
		AgeRange:           &sparcv1.AgeRange{MinAge: min, MaxAge: max},
		AcceptingReferrals: true, OwnerOrganisation: "organisations/" + w.groupOrg}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// aged records a person with an age band or a year of birth, who consented
// to share everything (so the provider sees free text, and only the
// override rule can hide the override's reason from it).
func (w *world) aged(t *testing.T, band string, yearOfBirth int32) *sparcv1.Person {
	t.Helper()
	p, err := w.lwPeople.CreatePerson(context.Background(), &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{
		DisplayName: "J. Doe", AgeBand: band, YearOfBirth: yearOfBirth,
		Consent: &sparcv1.Consent{ShareWithProvider: true, Scopes: []sparcv1.ConsentScope{sparcv1.ConsentScope_CONSENT_SCOPE_BASIC,
			sparcv1.ConsentScope_CONSENT_SCOPE_CONTACT, sparcv1.ConsentScope_CONSENT_SCOPE_NOTES}}}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func preconditionType(err error) string {
	for _, d := range status.Convert(err).Details() {
		if pf, ok := d.(*errdetails.PreconditionFailure); ok && len(pf.GetViolations()) > 0 {
			return pf.GetViolations()[0].GetType()
		}
	}
	return ""
}

func overrideEvents(r *sparcv1.Referral) []*sparcv1.ReferralEvent {
	var out []*sparcv1.ReferralEvent
	for _, e := range r.GetTimeline() {
		if e.GetReason() == overrideReason {
			out = append(out, e)
		}
	}
	return out
}

func TestAgeRuleRefusesOnlyWhenEveryPossibleAgeIsOutsideTheRange(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	adults := w.ageAsset(t, proto.Int32(18), nil)
	under26 := w.ageAsset(t, nil, proto.Int32(25))
	year := int32(time.Now().Year())
	cases := []struct {
		asset   *sparcv1.Asset
		band    string
		born    int32
		refused bool
	}{
		{adults, "16-17", 0, true},
		{adults, "0-15", 0, true},
		{adults, "18-24", 0, false},
		{adults, "75+", 0, false},
		{adults, "", 0, false},             // unknown: never refused
		{adults, "", year - 15, true},      // 14 or 15
		{adults, "", year - 18, false},     // 17 or 18: may be 18
		{adults, "16-17", year - 40, true}, // the band decides when given
		{under26, "75+", 0, true},
		{under26, "25-34", 0, false},
		{under26, "0-15", 0, false},
	}
	for i, c := range cases {
		p := w.aged(t, c.band, c.born)
		r, err := w.lw.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: fmt.Sprintf("age-%d", i),
			Person: p.GetName(), Asset: c.asset.GetName()})
		name := fmt.Sprintf("band %q born %d to %v", c.band, c.born, c.asset.GetAgeRange())
		switch {
		case c.refused && (status.Code(err) != codes.FailedPrecondition || preconditionType(err) != "AGE_NOT_ELIGIBLE"):
			t.Errorf("%s: %v, want FAILED_PRECONDITION AGE_NOT_ELIGIBLE", name, err)
		case !c.refused && err != nil:
			t.Errorf("%s: %v, want it created", name, err)
		case !c.refused && len(overrideEvents(r)) != 0:
			t.Errorf("%s: an override was recorded without one: %v", name, r.GetTimeline())
		}
	}
	// The refusal names the rule and both ranges.
	_, err := w.lw.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: "age-msg",
		Person: w.aged(t, "16-17", 0).GetName(), Asset: adults.GetName()})
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "takes ages 18+") || !strings.Contains(msg, "aged 16-17") ||
		!strings.Contains(msg, "eligibility_override_reason") {
		t.Errorf("refusal message %q does not name the rule and both ranges", msg)
	}
}

func TestAgeOverrideIsKeptInTheTimelineAndItsReasonStaysWithTheReferrer(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	adults := w.ageAsset(t, proto.Int32(18), nil)
	p := w.aged(t, "16-17", 0)
	req := &sparcv1.CreateReferralRequest{RequestId: "override-1", Person: p.GetName(), Asset: adults.GetName(),
		ProviderNote: "Shy at first"}
	if _, err := w.lw.CreateReferral(ctx, req); preconditionType(err) != "AGE_NOT_ELIGIBLE" {
		t.Fatalf("without an override: %v", err)
	}
	// Nothing was written: the same request id is free for the retry with
	// an override.
	if rs, err := w.lw.ListReferrals(ctx, &sparcv1.ListReferralsRequest{}); err != nil || len(rs.GetReferrals()) != 0 {
		t.Fatalf("a refused referral left %v (%v)", rs.GetReferrals(), err)
	}
	bad := proto.Clone(req).(*sparcv1.CreateReferralRequest)
	bad.EligibilityOverrideReason = strings.Repeat("x", 501)
	if _, err := w.lw.CreateReferral(ctx, bad); status.Code(err) != codes.InvalidArgument ||
		strings.Join(testenv.Fields(err), ",") != "eligibility_override_reason" {
		t.Fatalf("a 501-character override: %v (%v)", err, testenv.Fields(err))
	}
	const why = "Her mother attends with her; the choir agreed by phone"
	req.EligibilityOverrideReason = why
	r, err := w.lw.CreateReferral(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if ov := overrideEvents(r); len(ov) != 1 || ov[0].GetNote() != why || len(r.GetTimeline()) != 2 {
		t.Fatalf("created with the timeline %v, want the creation then the override with its reason", r.GetTimeline())
	}
	// The referrer reads it back; the provider sees that an override
	// happened (although it sees free text), not why; nobody else sees
	// anything.
	mine, err := w.lw.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if ov := overrideEvents(mine); len(ov) != 1 || ov[0].GetNote() != why {
		t.Errorf("referrer's timeline %v", mine.GetTimeline())
	}
	theirs, err := w.group.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if theirs.GetProviderNote() != "Shy at first" {
		t.Fatalf("the provider should see free text here (full consent): %q", theirs.GetProviderNote())
	}
	if ov := overrideEvents(theirs); len(ov) != 1 || ov[0].GetNote() != "" {
		t.Errorf("provider's timeline %v: want the override without its reason", theirs.GetTimeline())
	}
	if strings.Contains(theirs.String(), "mother") {
		t.Error("the override's reason reached the provider")
	}
	list, err := w.group.ListReferrals(ctx, &sparcv1.ListReferralsRequest{})
	if err != nil || len(list.GetReferrals()) != 1 || strings.Contains(list.GetReferrals()[0].String(), "mother") {
		t.Errorf("provider's list: %v (%v)", list.GetReferrals(), err)
	}
	if _, err := w.outside.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.GetName()}); status.Code(err) != codes.NotFound {
		t.Errorf("another organisation: %v", err)
	}
	// A retry of the request returns the same referral.
	again, err := w.lw.CreateReferral(ctx, req)
	if err != nil || again.GetName() != r.GetName() {
		t.Errorf("retry: %v, %v", again.GetName(), err)
	}

	// A draft with an override: the provider learns of it when it is sent.
	draft, err := w.lw.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: "override-draft", Person: p.GetName(),
		Asset: adults.GetName(), Draft: true, EligibilityOverrideReason: why})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := move(w.lw, draft.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_REQUESTED, ""); err != nil {
		t.Fatal(err)
	}
	sent, err := w.group.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: draft.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if ov := overrideEvents(sent); len(ov) != 1 || ov[0].GetNote() != "" ||
		ov[0].GetToStatus() != sparcv1.ReferralStatus_REFERRAL_STATUS_REQUESTED {
		t.Errorf("provider's timeline of a sent draft %v: want one override entry without its reason", sent.GetTimeline())
	}
}

func TestPlacesLeftInAssetReadsAndSearch(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2)
	ctx := context.Background()
	assets := w.env.AssetsOf(t, w.groupOrg)
	uncounted := w.ageAsset(t, nil, nil) // no capacity
	left := func() (get, search map[string]*int32) {
		get, search = map[string]*int32{}, map[string]*int32{}
		for _, a := range []*sparcv1.Asset{w.asset, uncounted} {
			got, err := assets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: a.GetName()})
			if err != nil {
				t.Fatal(err)
			}
			get[a.GetName()] = got.PlacesLeft
		}
		lat, lng, r := 52.48, -1.86, 1000.0
		resp, err := w.env.Assets.SearchAssets(ctx, &sparcv1.SearchAssetsRequest{Latitude: &lat, Longitude: &lng, RadiusMeters: &r})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range resp.GetResults() {
			search[h.GetAsset().GetName()] = h.GetAsset().PlacesLeft
		}
		return get, search
	}
	check := func(when string, want int32) {
		t.Helper()
		get, search := left()
		for what, m := range map[string]map[string]*int32{"get": get, "search": search} {
			if m[w.asset.GetName()] == nil || *m[w.asset.GetName()] != want {
				t.Errorf("%s, %s: places_left %v, want %d", when, what, m[w.asset.GetName()], want)
			}
			if v, ok := m[uncounted.GetName()]; !ok || v != nil {
				t.Errorf("%s, %s: an asset without capacity has places_left %v (listed %v), want none", when, what, v, ok)
			}
		}
	}
	check("before any acceptance", 2)
	r := w.refer(t, w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC), "left-1")
	if _, err := move(w.group, r.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, ""); err != nil {
		t.Fatal(err)
	}
	check("one accepted", 1)
	if _, err := move(w.lw, r.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, "person_declined"); err != nil {
		t.Fatal(err)
	}
	check("after the referrer cancelled", 2)
}

// fill makes the world's asset (capacity n) full with n accepted referrals
// and returns them.
func (w *world) fill(t *testing.T, n int, tag string) []*sparcv1.Referral {
	t.Helper()
	var out []*sparcv1.Referral
	for i := 0; i < n; i++ {
		r := w.refer(t, w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC), fmt.Sprintf("%s-holder-%d", tag, i))
		r, err := move(w.group, r.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "")
		if err != nil || r.GetStatus() != sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED {
			t.Fatalf("filling the asset: %v %v", r.GetStatus(), err)
		}
		out = append(out, r)
	}
	return out
}

// waitlist refers n people and accepts them on the full asset: each goes on
// the waiting list, in this order.
func (w *world) waitlist(t *testing.T, c sparcv1.ReferralServiceClient, people sparcv1.PersonServiceClient, n int, tag string) []*sparcv1.Referral {
	t.Helper()
	var out []*sparcv1.Referral
	for i := 0; i < n; i++ {
		p, err := people.CreatePerson(context.Background(), &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: "W. " + tag,
			Consent: &sparcv1.Consent{ShareWithProvider: true, Scopes: []sparcv1.ConsentScope{sparcv1.ConsentScope_CONSENT_SCOPE_BASIC}}}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.CreateReferral(context.Background(), &sparcv1.CreateReferralRequest{RequestId: fmt.Sprintf("%s-wait-%d", tag, i),
			Person: p.GetName(), Asset: w.asset.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		r, err = move(w.group, r.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "")
		if err != nil || r.GetStatus() != sparcv1.ReferralStatus_REFERRAL_STATUS_WAITLISTED || r.GetStatusReason() != "no_place_left" {
			t.Fatalf("accepting on a full asset: %v (%q) %v, want WAITLISTED", r.GetStatus(), r.GetStatusReason(), err)
		}
		out = append(out, r)
	}
	return out
}

func (w *world) statusOf(t *testing.T, c sparcv1.ReferralServiceClient, r *sparcv1.Referral) *sparcv1.Referral {
	t.Helper()
	got, err := c.GetReferral(context.Background(), &sparcv1.GetReferralRequest{Name: r.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (w *world) placesLeft(t *testing.T) int32 {
	t.Helper()
	a, err := w.env.AssetsOf(t, w.groupOrg).GetAsset(context.Background(), &sparcv1.GetAssetRequest{Name: w.asset.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	return a.GetPlacesLeft()
}

func TestWaitingListOffersFreedPlacesInOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1)
	const (
		waiting  = sparcv1.ReferralStatus_REFERRAL_STATUS_WAITLISTED
		accepted = sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED
	)
	holder := w.fill(t, 1, "order")[0]
	q := w.waitlist(t, w.lw, w.lwPeople, 3, "order")
	if n := w.placesLeft(t); n != 0 {
		t.Fatalf("full asset shows %d places left", n)
	}
	// A waitlisted referral cannot be accepted by hand while full.
	if _, err := move(w.group, q[2].GetName(), accepted, ""); preconditionType(err) != "NO_PLACE_LEFT" {
		t.Fatalf("accepting a waitlisted referral on a full asset: %v", err)
	}
	want := func(when string, st ...sparcv1.ReferralStatus) {
		t.Helper()
		for i, r := range q {
			if got := w.statusOf(t, w.lw, r).GetStatus(); got != st[i] {
				t.Errorf("%s: waiting referral %d is %v, want %v", when, i, got, st[i])
			}
		}
	}
	want("all waiting", waiting, waiting, waiting)

	// The holder leaves: the first in line gets the place.
	if _, err := move(w.lw, holder.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, "person_declined"); err != nil {
		t.Fatal(err)
	}
	want("after the first place freed", accepted, waiting, waiting)
	first := w.statusOf(t, w.group, q[0])
	last := first.GetTimeline()[len(first.GetTimeline())-1]
	if first.GetStatusReason() != "place_freed" || last.GetFromStatus() != waiting || last.GetToStatus() != accepted ||
		last.GetReason() != "place_freed" || last.GetActor() != "sparc:waiting_list" {
		t.Errorf("offered referral: %q, last event %v", first.GetStatusReason(), last)
	}
	if n := w.placesLeft(t); n != 0 {
		t.Errorf("the freed place was offered but %d places are left", n)
	}
	// The second in line withdraws: that frees nothing, and the third keeps
	// waiting behind nobody.
	if _, err := move(w.lw, q[1].GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, "no_longer_needed"); err != nil {
		t.Fatal(err)
	}
	want("after the second withdrew", accepted, sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, waiting)
	// The first completes: the third gets the place.
	if _, err := move(w.group, q[0].GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_COMPLETED, ""); err != nil {
		t.Fatal(err)
	}
	want("after the first completed", sparcv1.ReferralStatus_REFERRAL_STATUS_COMPLETED, sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, accepted)
	// The last place holder leaves with nobody waiting: the place is free.
	if _, err := move(w.group, q[2].GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_FAILED, "did_not_attend"); err != nil {
		t.Fatal(err)
	}
	if n := w.placesLeft(t); n != 1 {
		t.Errorf("with nobody waiting %d places are left, want 1", n)
	}
	// Watchers see every move through the outbox: the group's stream holds
	// the waiting list's changes like any other.
	got, err := receive(context.Background(), w.group, "", len(outbox(t, w.env, w.groupOrg)))
	if err != nil {
		t.Fatal(err)
	}
	sameChanges(t, got, outbox(t, w.env, w.groupOrg))
	var offers int
	for _, c := range got {
		if c.GetFromStatus() == waiting && c.GetToStatus() == accepted && c.GetType() == "status_changed" {
			offers++
		}
	}
	if offers != 2 {
		t.Errorf("the group's stream has %d waiting list offers, want 2", offers)
	}
}

func TestTwoPlacesFreedAtOnceGoToTwoDifferentReferrals(t *testing.T) {
	t.Parallel()
	for round := 0; round < 4; round++ {
		w := newWorld(t, 2)
		tag := fmt.Sprintf("conc%d", round)
		holders := w.fill(t, 2, tag)
		q := w.waitlist(t, w.lw, w.lwPeople, 3, tag)
		var wg sync.WaitGroup
		errs := make([]error, len(holders))
		start := make(chan struct{})
		for i, h := range holders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				// One leaves from each side, at once.
				c, to, reason := w.lw, sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, "person_declined"
				if i == 1 {
					c, to, reason = w.group, sparcv1.ReferralStatus_REFERRAL_STATUS_COMPLETED, ""
				}
				_, errs[i] = move(c, h.GetName(), to, reason)
			}()
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var st []sparcv1.ReferralStatus
		for _, r := range q {
			st = append(st, w.statusOf(t, w.group, r).GetStatus())
		}
		a, wl := sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, sparcv1.ReferralStatus_REFERRAL_STATUS_WAITLISTED
		if st[0] != a || st[1] != a || st[2] != wl {
			t.Fatalf("round %d: waiting referrals are %v, want the first two accepted and the third waiting", round, st)
		}
		var holding, taken int
		if err := w.env.Pool.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM referrals WHERE asset_id = $1 AND holds_place),
			(SELECT taken FROM asset_places WHERE asset_id = $1)`, idOf(w.asset.GetName())).Scan(&holding, &taken); err != nil {
			t.Fatal(err)
		}
		if holding != 2 || taken != 2 || w.placesLeft(t) != 0 {
			t.Fatalf("round %d: %d referrals hold places, %d counted, %d left; want 2, 2, 0", round, holding, taken, w.placesLeft(t))
		}
	}
}

func TestWaitingListChangesAreSeenByTheirReferralsSidesOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1)
	ctx := context.Background()
	// Another link-worker service waits for the place a referral of the
	// world's link worker holds.
	otherOrg := w.env.NewOrg(t, "Washwood Heath link workers", "link_worker_service")
	otherKey := w.env.Key(t, otherOrg, auth.RoleLinkWorker)
	otherConn := w.env.ConnWithKey(t, otherKey)
	other := sparcv1.NewReferralServiceClient(otherConn)
	holder := w.fill(t, 1, "sides")[0]
	theirs := w.waitlist(t, other, sparcv1.NewPersonServiceClient(otherConn), 1, "sides")[0]
	// Neither referrer sees the other's referral.
	if _, err := w.lw.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: theirs.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("the holder's referrer reads the waiting referral: %v", err)
	}
	if _, err := other.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: holder.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("the waiting referral's referrer reads the holder: %v", err)
	}
	cancelled, err := move(w.lw, holder.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, "person_declined")
	if err != nil {
		t.Fatal(err)
	}
	freer := cancelled.GetTimeline()[len(cancelled.GetTimeline())-1].GetActor()
	// The waiting referral moved up although its referrer's organisation
	// is not the one that freed the place; both its sides see the move,
	// and neither learns who freed the place.
	for side, c := range map[string]sparcv1.ReferralServiceClient{"referrer": other, "provider": w.group} {
		r := w.statusOf(t, c, theirs)
		last := r.GetTimeline()[len(r.GetTimeline())-1]
		if r.GetStatus() != sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED || last.GetReason() != "place_freed" {
			t.Errorf("%s sees %v, last event %v", side, r.GetStatus(), last)
		}
		if strings.Contains(r.String(), freer) {
			t.Errorf("%s's view names %s, who freed the place", side, freer)
		}
	}
	if _, err := w.lw.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: theirs.GetName()}); status.Code(err) != codes.NotFound {
		t.Errorf("after the offer, the freeing referrer reads the waiting referral: %v", err)
	}
	// The outbox row of the offer goes to the offered referral's two
	// organisations, and the freeing service's stream does not carry it.
	for _, c := range outbox(t, w.env, w.lwOrg) {
		if c.referral == theirs.GetName() {
			t.Errorf("the freeing service's changes include the waiting referral: %v", c)
		}
	}
	got, err := receive(ctx, other, "", len(outbox(t, w.env, otherOrg)))
	if err != nil {
		t.Fatal(err)
	}
	sameChanges(t, got, outbox(t, w.env, otherOrg))
	if l := got[len(got)-1]; l.GetReferral() != theirs.GetName() || l.GetToStatus() != sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED {
		t.Errorf("the waiting referral's referrer last received %v", l)
	}
}

func TestWaitlistedMovesForEverySide(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1)
	w.fill(t, 1, "moves")
	clients := map[string]sparcv1.ReferralServiceClient{R: w.lw, P: w.group, "other organisation": w.outside}
	allowedMoves := map[string][]string{"cancelled": {R, P}, "rejected": {P}, "entered_in_error": {R}}
	for _, to := range append(allStatuses, "waitlisted") {
		for side, c := range clients {
			allowed := false
			for _, s := range allowedMoves[to] {
				allowed = allowed || s == side
			}
			r := w.waitlist(t, w.lw, w.lwPeople, 1, fmt.Sprintf("moves-%s-%s", to, strings.ReplaceAll(side, " ", "")))[0]
			st := statusByName[to]
			if to == "waitlisted" {
				st = sparcv1.ReferralStatus_REFERRAL_STATUS_WAITLISTED
			}
			got, err := move(c, r.GetName(), st, reasonFor(to))
			name := fmt.Sprintf("waitlisted → %s by %s", to, side)
			switch {
			case allowed && (err != nil || got.GetStatus() != st):
				t.Errorf("%s: %v %v, want it allowed", name, got.GetStatus(), err)
			case side == "other organisation" && status.Code(err) != codes.NotFound:
				t.Errorf("%s: %v, want NotFound", name, err)
			case !allowed && side != "other organisation" && to == "accepted" && side == P:
				if preconditionType(err) != "NO_PLACE_LEFT" {
					t.Errorf("%s on a full asset: %v, want NO_PLACE_LEFT", name, err)
				}
			case !allowed && side != "other organisation" && !(to == "accepted" && side == P) && status.Code(err) != codes.FailedPrecondition:
				t.Errorf("%s: %v, want FailedPrecondition", name, err)
			}
		}
	}
}
