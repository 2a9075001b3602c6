package referrals_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

const (
	phone       = "0121 496 0000"
	whatMatters = "Getting out of the house"
)

// nhsNumber is the i-th of distinct valid NHS numbers (modulus 11), the
// first "9434765919": an organisation holds one person per number.
func nhsNumber(i int) string {
	if i == 0 {
		return "9434765919"
	}
	for k := i * 11; ; k++ {
		base := fmt.Sprintf("%09d", 600_000_000+k)
		sum := 0
		for j := range 9 {
			sum += int(base[j]-'0') * (10 - j)
		}
		if check := (11 - sum%11) % 11; check < 10 {
			return base + fmt.Sprint(check)
		}
	}
}

// providerSees is what the group may see of the person for one consent.
type providerSees struct {
	name, contact, notes bool
}

func TestProviderSeesOnlyWhatConsentCovers(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	basic, contact, notes := sparcv1.ConsentScope_CONSENT_SCOPE_BASIC, sparcv1.ConsentScope_CONSENT_SCOPE_CONTACT, sparcv1.ConsentScope_CONSENT_SCOPE_NOTES
	cases := []struct {
		name   string
		share  bool
		scopes []sparcv1.ConsentScope
		want   providerSees
	}{
		{"no consent", false, nil, providerSees{}},
		{"scopes without agreeing to share", false, []sparcv1.ConsentScope{basic, contact, notes}, providerSees{}},
		{"share with no scope", true, nil, providerSees{}},
		{"basic", true, []sparcv1.ConsentScope{basic}, providerSees{name: true}},
		{"contact", true, []sparcv1.ConsentScope{contact}, providerSees{contact: true}},
		{"notes", true, []sparcv1.ConsentScope{notes}, providerSees{notes: true}},
		{"basic and contact", true, []sparcv1.ConsentScope{basic, contact}, providerSees{name: true, contact: true}},
		{"basic and notes", true, []sparcv1.ConsentScope{basic, notes}, providerSees{name: true, notes: true}},
		{"everything", true, []sparcv1.ConsentScope{basic, contact, notes}, providerSees{name: true, contact: true, notes: true}},
	}
	for i, tc := range cases {
		nhs := nhsNumber(i) // one person per NHS number in an organisation
		p, err := w.lwPeople.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{
			DisplayName: "A. Khan", AgeBand: "65-74", Postcode: "B8 1AA", ContactMethod: sparcv1.ContactMethod_CONTACT_METHOD_PHONE,
			Contact: &sparcv1.PersonContact{Phone: phone}, NhsNumber: nhs, WhatMatters: whatMatters,
			Consent: &sparcv1.Consent{ShareWithProvider: tc.share, Scopes: tc.scopes}}})
		if err != nil {
			t.Fatal(err)
		}
		r := w.refer(t, p, "vis-"+tc.name)
		got, err := w.group.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		list, err := w.group.ListReferrals(ctx, &sparcv1.ListReferralsRequest{Side: "providing"})
		if err != nil {
			t.Fatal(err)
		}
		var listed *sparcv1.Referral
		for _, x := range list.GetReferrals() {
			if x.GetName() == r.GetName() {
				listed = x
			}
		}
		// Every way the provider reads it: gRPC get and list, HTTP JSON.
		resp, err := w.env.HTTP.Get(w.env.HTTPBase + "/v1/" + r.GetName())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		views := map[string]string{"get": protojson.Format(got), "list": protojson.Format(listed)}
		// env.HTTP acts as an admin of another organisation: not a party.
		if resp.StatusCode != 404 {
			t.Errorf("%s: an unrelated admin reads the referral over HTTP: %d %s", tc.name, resp.StatusCode, body)
		}
		for how, v := range views {
			check := func(what string, shown bool, text string) {
				if strings.Contains(v, text) != shown {
					t.Errorf("%s (%s): %s shown = %v, want %v:\n%s", tc.name, how, what, !shown, shown, v)
				}
			}
			check("display name", tc.want.name, "A. Khan")
			check("age band", tc.want.name, "65-74")
			check("phone", tc.want.contact, phone)
			check("what matters", tc.want.notes, whatMatters)
			check("NHS number", false, nhs)
			check("postcode", false, "B8 1AA")
			// Without any personal consent the free-text note goes too:
			// it may name the person.
			check("provider note", tc.want != providerSees{}, "Prefers morning walks")
		}
		// The link worker always sees the person's details.
		mine, err := w.lw.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if mine.GetPersonDetails().GetContact().GetPhone() != phone || mine.GetPersonDetails().GetWhatMatters() != whatMatters {
			t.Errorf("%s: the referrer sees %v", tc.name, mine.GetPersonDetails())
		}
	}
}

func TestConsentChangesReachExistingReferralsAtOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC, sparcv1.ConsentScope_CONSENT_SCOPE_CONTACT, sparcv1.ConsentScope_CONSENT_SCOPE_NOTES)
	r := w.refer(t, p, "consent-change")
	view := func() *sparcv1.Referral {
		t.Helper()
		got, err := w.group.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	update := func(req *sparcv1.UpdatePersonRequest) {
		t.Helper()
		if _, err := w.lwPeople.UpdatePerson(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	// Narrowing consent to "basic" takes contact and notes away.
	update(&sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: p.GetName(), Consent: &sparcv1.Consent{ShareWithProvider: true,
		Scopes: []sparcv1.ConsentScope{sparcv1.ConsentScope_CONSENT_SCOPE_BASIC}}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"consent"}}})
	if v := view(); v.GetPersonDetails().GetDisplayName() != "A. Khan" || v.GetPersonDetails().GetContact() != nil || v.GetPersonDetails().GetWhatMatters() != "" {
		t.Fatalf("after narrowing consent to basic: %v", v.GetPersonDetails())
	}
	// An objection takes everything personal away, from get and list.
	update(&sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: p.GetName()}, Object: true})
	if v := view(); v.GetPersonDetails() != nil || v.GetProviderNote() != "" {
		t.Fatalf("after objection: %v, note %q", v.GetPersonDetails(), v.GetProviderNote())
	}
	list, err := w.group.ListReferrals(ctx, &sparcv1.ListReferralsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetReferrals()) != 1 || list.GetReferrals()[0].GetPersonDetails() != nil || list.GetReferrals()[0].GetProviderNote() != "" {
		t.Fatalf("after objection the list shows %v", list.GetReferrals())
	}
	// A changed detail does not undo the objection.
	update(&sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: p.GetName(), WhatMatters: "Gardening"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"what_matters"}}})
	if v := view(); v.GetPersonDetails() != nil {
		t.Fatalf("an edit after the objection re-shared %v", v.GetPersonDetails())
	}
	// Consent given again explicitly shares again.
	update(&sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: p.GetName(), Consent: &sparcv1.Consent{ShareWithProvider: true,
		Scopes: []sparcv1.ConsentScope{sparcv1.ConsentScope_CONSENT_SCOPE_NOTES}}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"consent"}}})
	if v := view(); v.GetPersonDetails().GetWhatMatters() != "Gardening" || v.GetPersonDetails().GetDisplayName() != "" {
		t.Fatalf("after consent to notes again: %v", v.GetPersonDetails())
	}
}

func TestDraftsStayWithTheReferrerUntilSent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC)
	d, err := w.lw.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: "draft", Person: p.GetName(), Asset: assetName(w.asset), Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	list, err := w.group.ListReferrals(ctx, &sparcv1.ListReferralsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, gerr := w.group.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: d.GetName()}); gerr == nil || len(list.GetReferrals()) != 0 {
		t.Fatalf("the provider sees a draft: get %v, list %v", gerr, list.GetReferrals())
	}
	if _, err := move(w.lw, d.GetName(), sparcv1.ReferralStatus_REFERRAL_STATUS_REQUESTED, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.group.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: d.GetName()}); err != nil {
		t.Fatalf("once sent: %v", err)
	}
}

func TestEveryReadOfAReferralIsAudited(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	r := w.refer(t, w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC), "audit")
	count := func(method, resource, outcome string) int {
		t.Helper()
		var n int
		if err := w.env.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE method = $1 AND resource = $2 AND outcome = $3`,
			"/sparc.v1.ReferralService/"+method, resource, outcome).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	res := r.GetName()
	for i := range 3 {
		for _, c := range []sparcv1.ReferralServiceClient{w.lw, w.group} {
			if _, err := c.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.GetName()}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.group.ListReferrals(ctx, &sparcv1.ListReferralsRequest{}); err != nil {
			t.Fatal(err)
		}
		if got := count("GetReferral", res, "ok"); got != 2*(i+1) {
			t.Fatalf("%d audited reads after %d", got, 2*(i+1))
		}
		if got := count("ListReferrals", "referrals", "ok"); got != i+1 {
			t.Fatalf("%d audited lists after %d", got, i+1)
		}
	}
	// A refused read is audited as denied.
	_, _ = w.outside.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.GetName()})
	_, _ = w.analyst.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.GetName()})
	if got := count("GetReferral", res, "denied"); got != 2 {
		t.Fatalf("%d denied reads audited, want 2", got)
	}
}
