package referrals_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// CreateReferral is one statement that writes the referral or says why
// not (the caller then builds a missing provider view and runs it again,
// or answers the first result); whichever way it answers, the caller gets what a read returns, the
// provider sees what consent allows, and the call is audited once.
func TestCreateReferralAnswersWhatAReadReturns(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(t *testing.T, w *world, p *sparcv1.Person) // before the first call
		calls int                                             // same request id, same payload
	}{
		{"a person as created now", func(*testing.T, *world, *sparcv1.Person) {}, 1},
		{"a person recorded before provider views were kept", func(t *testing.T, w *world, p *sparcv1.Person) {
			if _, err := w.env.Pool.Exec(context.Background(), `UPDATE people SET provider_view = NULL WHERE id = $1`, idOf(p.GetName())); err != nil {
				t.Fatal(err)
			}
		}, 1},
		{"a retried request", func(*testing.T, *world, *sparcv1.Person) {}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, 0)
			ctx := context.Background()
			p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC, sparcv1.ConsentScope_CONSENT_SCOPE_CONTACT)
			tc.setup(t, w, p)
			rid := fmt.Sprintf("create-%d", nextID())
			var first *sparcv1.Referral
			for i := range tc.calls {
				r := w.refer(t, p, rid)
				if first == nil {
					first = r
				} else if !proto.Equal(r, first) {
					t.Fatalf("call %d answered\n%v\nthe first answered\n%v", i+1, r, first)
				}
			}
			read, err := w.lw.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: first.GetName()})
			if err != nil {
				t.Fatal(err)
			}
			// A read carries the summary too; the create's answer leaves it
			// out (it is the write path: see withoutSummary).
			if read.GetSummary() == nil {
				t.Fatalf("a read has no summary: %v", read)
			}
			read.Summary = nil
			if !proto.Equal(read, first) {
				t.Fatalf("create answered\n%v\na read returns\n%v", first, read)
			}
			if first.GetPersonDetails().GetContact().GetPhone() != "0121 496 0000" || len(first.GetTimeline()) != 1 {
				t.Errorf("the link worker's view lacks the person or the timeline: %v", first)
			}
			seen, err := w.group.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: first.GetName()})
			if err != nil {
				t.Fatal(err)
			}
			if seen.GetPersonDetails().GetDisplayName() != "A. Khan" || seen.GetPersonDetails().GetContact().GetPhone() != "0121 496 0000" ||
				seen.GetPersonDetails().GetWhatMatters() != "" {
				t.Errorf("provider sees %v, want name and phone (consented) and no notes", seen.GetPersonDetails())
			}
			var audited, views int
			if err := w.env.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events
				WHERE method = '/sparc.v1.ReferralService/CreateReferral' AND organisation_id = $1 AND outcome = 'ok'`,
				w.lwOrg).Scan(&audited); err != nil {
				t.Fatal(err)
			}
			if audited != tc.calls {
				t.Errorf("%d audit events for %d calls", audited, tc.calls)
			}
			if err := w.env.Pool.QueryRow(ctx, `SELECT count(*) FROM people WHERE id = $1 AND provider_view IS NOT NULL`,
				idOf(p.GetName())).Scan(&views); err != nil || views != 1 {
				t.Errorf("the person has no provider view after a referral (%v)", err)
			}
		})
	}
}

// An objection that lands while referrals are being created leaves no
// referral, earlier or later, from which the provider can read the person.
func TestObjectionDuringConcurrentCreatesReachesEveryReferral(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC, sparcv1.ConsentScope_CONSENT_SCOPE_CONTACT,
		sparcv1.ConsentScope_CONSENT_SCOPE_NOTES)
	const n = 40
	ids := make(chan string, n)
	errs := make(chan error, n+1)
	start := make(chan struct{})
	for i := range n {
		go func() {
			<-start
			r, err := w.lw.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: fmt.Sprintf("race-%d-%d", nextID(), i),
				Person: p.GetName(), Asset: assetName(w.asset), ProviderNote: "Mentions the person by name"})
			if err != nil {
				errs <- err
				return
			}
			ids <- r.GetName()
		}()
	}
	go func() {
		<-start
		_, err := w.lwPeople.UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: p.GetName()}, Object: true})
		errs <- err
	}()
	close(start)
	for range n + 1 {
		select {
		case <-ids:
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	list, err := w.group.ListReferrals(ctx, &sparcv1.ListReferralsRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetReferrals()) != n {
		t.Fatalf("the group lists %d referrals, want %d", len(list.GetReferrals()), n)
	}
	for _, r := range list.GetReferrals() {
		if r.GetPersonDetails() != nil || r.GetProviderNote() != "" {
			t.Errorf("after the objection the provider still sees %v / note %q on %s", r.GetPersonDetails(), r.GetProviderNote(), r.GetName())
		}
	}
}

// When the statement writes nothing it says why, and the caller answers
// precisely: a replayed request gets its first referral (even once the
// person was purged), anything else its own error, and nothing is written.
func TestCreateReferralSaysWhyItWroteNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC)
	first := w.refer(t, p, "first")
	closed, err := w.env.AssetsOf(t, w.groupOrg).CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Closed group", AcceptingReferrals: false,
		Location: &sparcv1.Location{Latitude: 52.48, Longitude: -1.86, Country: "GB"}, OwnerOrganisation: "organisations/" + w.groupOrg}})
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := w.env.Pool.QueryRow(ctx, `SELECT count(*) FROM referrals WHERE referring_org = $1`, w.lwOrg).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	req := func(rid, person, asset string) *sparcv1.CreateReferralRequest {
		return &sparcv1.CreateReferralRequest{RequestId: rid, Person: person, Asset: asset,
			Reasons: []string{"social_connection"}, ProviderNote: "Prefers morning walks"}
	}
	for _, tc := range []struct {
		name string
		req  *sparcv1.CreateReferralRequest
		code codes.Code
		says string
	}{
		{"an unknown person", req("nobody", "people/4d0d2b6c-5a5e-4c43-9a0e-2f3c7a1b9e11", assetName(w.asset)), codes.NotFound,
			"people/4d0d2b6c-5a5e-4c43-9a0e-2f3c7a1b9e11: not found"},
		{"an unknown asset", req("nowhere", p.GetName(), "assets/4d0d2b6c-5a5e-4c43-9a0e-2f3c7a1b9e12"), codes.NotFound,
			"assets/4d0d2b6c-5a5e-4c43-9a0e-2f3c7a1b9e12: not found"},
		{"an asset not accepting referrals", req("closed", p.GetName(), assetName(closed)), codes.FailedPrecondition, "not accepting"},
		{"a request id used for another referral", req("first", p.GetName(), assetName(closed)), codes.InvalidArgument, "request_id"},
	} {
		_, err := w.lw.CreateReferral(ctx, tc.req)
		if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want %v about %q", tc.name, err, tc.code, tc.says)
		}
	}
	if n := count(); n != before {
		t.Errorf("%d referrals written by refused calls", n-before)
	}
	if _, err := w.env.Pool.Exec(ctx, `UPDATE people SET purged_at = now() WHERE id = $1`, idOf(p.GetName())); err != nil {
		t.Fatal(err)
	}
	again, err := w.lw.CreateReferral(ctx, req("first", p.GetName(), assetName(w.asset)))
	if err != nil || again.GetName() != first.GetName() {
		t.Fatalf("replay after the person was purged: %v, %v; want referral %s", again.GetName(), err, first.GetName())
	}
	if _, err := w.lw.CreateReferral(ctx, req("after-purge", p.GetName(), assetName(w.asset))); status.Code(err) != codes.NotFound {
		t.Errorf("a new referral of a purged person: %v, want NotFound", err)
	}
}
