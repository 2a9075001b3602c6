package referrals_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// world is a link-worker service, a community group owning an asset, and
// clients acting for each.
type world struct {
	env                *testenv.Env
	lwOrg, groupOrg    string
	lwPeople           sparcv1.PersonServiceClient
	lw, group, outside sparcv1.ReferralServiceClient
	analyst            sparcv1.ReferralServiceClient
	asset              *sparcv1.Asset
}

func newWorld(t *testing.T, capacity int32) *world {
	t.Helper()
	env := testenv.NewServer(t)
	w := &world{env: env, lwOrg: env.NewOrg(t, "Ladywood link workers", "link_worker_service"),
		groupOrg: env.NewOrg(t, "Saltley walking group", "community_group")}
	otherOrg := env.NewOrg(t, "Another link worker service", "link_worker_service")
	lwConn := env.ConnWithKey(t, env.Key(t, w.lwOrg, auth.RoleLinkWorker))
	w.lwPeople = sparcv1.NewPersonServiceClient(lwConn)
	w.lw = sparcv1.NewReferralServiceClient(lwConn)
	w.group = sparcv1.NewReferralServiceClient(env.ConnWithKey(t, env.Key(t, w.groupOrg, auth.RoleGroupEditor)))
	w.outside = sparcv1.NewReferralServiceClient(env.ConnWithKey(t, env.Key(t, otherOrg, auth.RoleLinkWorker)))
	w.analyst = sparcv1.NewReferralServiceClient(env.ConnWithKey(t, env.Key(t, otherOrg, auth.RoleAreaAnalyst)))
	a := &sparcv1.Asset{Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Saltley walking group",
		Location:           &sparcv1.Location{Latitude: 52.48, Longitude: -1.86, Country: "GB"},
		AcceptingReferrals: true, OwnerOrganisation: "organisations/" + w.groupOrg}
	if capacity > 0 {
		a.Capacity = proto.Int32(capacity)
	}
	var err error
	if w.asset, err = env.AssetsOf(t, w.groupOrg).CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: a}); err != nil {
		t.Fatal(err)
	}
	return w
}

// nextNHS is a new NHS number for the world's next person (the first
// "943 476 5919", spaced as people type it): one person per number in an
// organisation.
func (w *world) nextNHS() string {
	n, _ := worldPeople.LoadOrStore(w, new(atomic.Int32))
	if i := int(n.(*atomic.Int32).Add(1)) - 1; i > 0 {
		return nhsNumber(i)
	}
	return "943 476 5919"
}

var worldPeople sync.Map // *world → *atomic.Int32

func (w *world) person(t *testing.T, scopes ...sparcv1.ConsentScope) *sparcv1.Person {
	t.Helper()
	p, err := w.lwPeople.CreatePerson(context.Background(), &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{
		DisplayName: "A. Khan", AgeBand: "65-74", Postcode: "B8 1AA", ContactMethod: sparcv1.ContactMethod_CONTACT_METHOD_PHONE,
		Contact: &sparcv1.PersonContact{Phone: "0121 496 0000"}, NhsNumber: w.nextNHS(), WhatMatters: "Getting out of the house",
		Needs:   []string{"social_connection"},
		Consent: &sparcv1.Consent{ShareWithProvider: len(scopes) > 0, Scopes: scopes},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *world) refer(t *testing.T, p *sparcv1.Person, requestID string) *sparcv1.Referral {
	t.Helper()
	r, err := w.lw.CreateReferral(context.Background(), &sparcv1.CreateReferralRequest{RequestId: requestID,
		Person: p.GetName(), Asset: assetName(w.asset), Reasons: []string{"social_connection"},
		ProviderNote: "Prefers morning walks"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var ids atomic.Int64

// nextID numbers request ids within the test binary.
func nextID() int64 { return ids.Add(1) }

func move(c sparcv1.ReferralServiceClient, name string, to sparcv1.ReferralStatus, reason string) (*sparcv1.Referral, error) {
	return c.TransitionReferral(context.Background(), &sparcv1.TransitionReferralRequest{Name: name, ToStatus: to, Reason: reason})
}

// assetName is the resource name of an asset made by AssetService.
func assetName(a *sparcv1.Asset) string { return a.GetName() }

// idOf is the id in a resource name, as the tables hold it.
func idOf(name string) string { return name[strings.LastIndex(name, "/")+1:] }

func TestReferralClosesTheLoopFromRequestToOutcome(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1)
	ctx := context.Background()
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC, sparcv1.ConsentScope_CONSENT_SCOPE_CONTACT)
	if p.GetNhsNumber() != "9434765919" || p.GetContact().GetPhone() != "0121 496 0000" {
		t.Fatalf("link worker reads back %q %v", p.GetNhsNumber(), p.GetContact())
	}
	r := w.refer(t, p, "req-1")
	if r.GetStatus() != sparcv1.ReferralStatus_REFERRAL_STATUS_REQUESTED || r.GetProviderOrganisation() != aip.NameOf(aip.Organisations, w.groupOrg) {
		t.Fatalf("created %v for provider %s", r.GetStatus(), r.GetProviderOrganisation())
	}

	// The group sees the name, age band and phone (consented), not the notes.
	seen, err := w.group.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if seen.GetPersonDetails().GetDisplayName() != "A. Khan" || seen.GetPersonDetails().GetContact().GetPhone() != "0121 496 0000" ||
		seen.GetPersonDetails().GetWhatMatters() != "" || seen.GetProviderNote() != "Prefers morning walks" {
		t.Fatalf("provider view: %v", seen)
	}
	// Nobody else sees it at all.
	if _, err := w.outside.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("another organisation: %v, want NotFound", err)
	}

	if _, err := move(w.group, r.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, ""); err != nil {
		t.Fatal(err)
	}
	// The only place is taken: a second accept puts the referral on the
	// waiting list.
	r2 := w.refer(t, w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC), "req-2")
	if got, err := move(w.group, r2.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, ""); err != nil ||
		got.GetStatus() != sparcv1.ReferralStatus_REFERRAL_STATUS_WAITLISTED {
		t.Fatalf("accept with no place left: %v %v, want WAITLISTED", got.GetStatus(), err)
	}
	if _, err := move(w.group, r.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_IN_PROGRESS, ""); err != nil {
		t.Fatal(err)
	}
	_, err = w.lw.RecordOutcome(ctx, &sparcv1.RecordOutcomeRequest{Name: r.GetName(),
		Baseline: &sparcv1.WellbeingMeasure{Ons4: []int32{4, 5, 4, 7}, Swemwbs: []int32{2, 2, 3, 2, 2, 3, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.group.RecordOutcome(ctx, &sparcv1.RecordOutcomeRequest{Name: r.GetName(), SessionsAttended: proto.Int32(6),
		FollowUp: &sparcv1.WellbeingMeasure{Ons4: []int32{7, 7, 6, 4}, Swemwbs: []int32{3, 4, 3, 3, 4, 3, 3}}, WhatChanged: "Walks twice a week"})
	if err != nil {
		t.Fatal(err)
	}
	done, err := move(w.group, r.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_COMPLETED, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(done.GetTimeline()); got != 6 { // created, accepted, in progress, 2 outcomes, completed
		t.Errorf("timeline has %d events, want 6: %v", got, done.GetTimeline())
	}
	if done.GetOutcome().GetSessionsAttended() != 6 || done.GetOutcome().GetFirstAttendedTime() == nil {
		t.Errorf("outcome %v", done.GetOutcome())
	}
	// Completing freed the place: the waiting referral was offered it.
	if got, err := w.group.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r2.GetName()}); err != nil ||
		got.GetStatus() != sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED {
		t.Fatalf("the waiting referral after a place was freed: %v %v, want ACCEPTED", got.GetStatus(), err)
	}

	// The referring organisation gets exact figures about itself.
	stats, err := w.lw.ComputeReferralStats(ctx, &sparcv1.ComputeReferralStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.GetSuppressed() || stats.GetTotal().GetValue() != 2 || stats.GetByStatus()["completed"].GetValue() != 1 {
		t.Errorf("own stats: %v", stats)
	}
	if got := stats.GetSwemwbsChange().GetMean(); got != 7 { // 23 - 16
		t.Errorf("SWEMWBS change %v, want 7", got)
	}
	if got := stats.GetOns4Change()[0].GetMean(); got != 3 {
		t.Errorf("ONS4 life satisfaction change %v, want 3", got)
	}
	// Anyone else gets them suppressed: 2 referrals is a small number.
	backdate(t, w, statsMonth) // others see months that have ended
	other, err := w.analyst.ComputeReferralStats(ctx, &sparcv1.ComputeReferralStatsRequest{Organisation: aip.NameOf(aip.Organisations, w.lwOrg)})
	if err != nil {
		t.Fatal(err)
	}
	if !other.GetSuppressed() || !other.GetTotal().GetSuppressed() || other.GetTotal().GetValue() != 0 || other.GetSwemwbsChange().GetMean() != 0 {
		t.Errorf("analyst stats not suppressed: %v", other)
	}
}

func TestObjectionHidesEverythingPersonalFromTheProvider(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC, sparcv1.ConsentScope_CONSENT_SCOPE_CONTACT, sparcv1.ConsentScope_CONSENT_SCOPE_NOTES)
	r := w.refer(t, p, "req-obj")
	before, err := w.group.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if before.GetPersonDetails().GetWhatMatters() == "" || before.GetPersonDetails().GetContact() == nil {
		t.Fatalf("with full consent the provider should see notes and contact: %v", before.GetPersonDetails())
	}
	if _, err := w.lwPeople.UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: p.GetName()}, Object: true}); err != nil {
		t.Fatal(err)
	}
	after, err := w.group.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if after.GetPersonDetails() != nil || after.GetProviderNote() != "" {
		t.Fatalf("after objection the provider still sees %v / note %q", after.GetPersonDetails(), after.GetProviderNote())
	}
	// The provider's view never carries the NHS number in any form.
	if s := after.String() + before.String(); contains(s, "9434765919") || contains(s, "943 476 5919") {
		t.Fatal("NHS number reached the provider")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
