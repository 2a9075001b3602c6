package people_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// violated lists the fields an InvalidArgument error names.
func violated(err error) []string {
	var fields []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

func linkWorker(t *testing.T) (sparcv1.PersonServiceClient, string) {
	t.Helper()
	env := testenv.NewServer(t)
	org := env.NewOrg(t, "Ladywood link workers", "link_worker_service")
	return sparcv1.NewPersonServiceClient(env.ConnWithKey(t, env.Key(t, org, auth.RoleLinkWorker))), org
}

func khan() *sparcv1.Person {
	return &sparcv1.Person{DisplayName: "A. Khan", AgeBand: "65-74", Postcode: "B8 1AA",
		Contact: &sparcv1.PersonContact{Phone: "0121 496 0000"}, WhatMatters: "Getting out", Needs: []string{"social_connection"},
		Consent: &sparcv1.Consent{ShareWithProvider: true, Scopes: []sparcv1.ConsentScope{sparcv1.ConsentScope_CONSENT_SCOPE_BASIC}}}
}

// The server names a person and owns its output-only fields: what a
// client sends in them is ignored (AIP-203).
func TestCreatePersonNamesThePersonAndIgnoresOutputOnlyFields(t *testing.T) {
	t.Parallel()
	people, org := linkWorker(t)
	ctx := context.Background()
	in := khan()
	chosen := "people/" + uuid.NewString()
	in.Name, in.Organisation, in.Etag = chosen, "organisations/"+uuid.NewString(), "0123456789abcdef"
	in.CreateTime, in.Consent.ObjectionTime = timestamppb.New(timestamppb.Now().AsTime().AddDate(-1, 0, 0)), timestamppb.Now()
	p, err := people.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: in})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.GetName(), "people/") || p.GetName() == chosen || p.GetOrganisation() != "organisations/"+org ||
		p.GetEtag() == in.GetEtag() || p.GetCreateTime().AsTime().Before(in.GetCreateTime().AsTime().AddDate(0, 11, 0)) ||
		p.GetConsent().GetObjectionTime() != nil {
		t.Fatalf("created %v from output-only input", p)
	}
	got, err := people.GetPerson(ctx, &sparcv1.GetPersonRequest{Name: p.GetName()})
	if err != nil || got.GetName() != p.GetName() || got.GetEtag() != p.GetEtag() {
		t.Fatalf("get by name: %v, %v", got, err)
	}
}

func TestPersonNamesAreReadStrictly(t *testing.T) {
	t.Parallel()
	people, _ := linkWorker(t)
	ctx := context.Background()
	p, err := people.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: khan()})
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimPrefix(p.GetName(), "people/")
	for _, bad := range []string{"", id, "referrals/" + id, "people/" + strings.ToUpper(id), "people/" + id + "/x", "people/nobody"} {
		_, err := people.GetPerson(ctx, &sparcv1.GetPersonRequest{Name: bad})
		if status.Code(err) != codes.InvalidArgument || !slices.Equal(violated(err), []string{"name"}) {
			t.Errorf("get %q: %v (fields %v), want InvalidArgument on name", bad, err, violated(err))
		}
		_, err = people.UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: bad, WhatMatters: "x"}})
		if status.Code(err) != codes.InvalidArgument || !slices.Equal(violated(err), []string{"person.name"}) {
			t.Errorf("update %q: %v (fields %v), want InvalidArgument on person.name", bad, err, violated(err))
		}
	}
	missing := "people/" + uuid.NewString()
	if _, err := people.GetPerson(ctx, &sparcv1.GetPersonRequest{Name: missing}); status.Code(err) != codes.NotFound ||
		status.Convert(err).Message() != missing+": not found" {
		t.Errorf("a missing person: %v, want NotFound naming %s", err, missing)
	}
	_, err = people.UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: p.GetName(), WhatMatters: "x", Etag: "not-an-etag"}})
	if !slices.Equal(violated(err), []string{"person.etag"}) {
		t.Errorf("a malformed etag: %v, want a violation on person.etag", err)
	}
	_, err = people.UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: p.GetName(), WhatMatters: "x", Etag: "0123456789abcdef"}})
	if status.Code(err) != codes.Aborted {
		t.Errorf("a stale etag: %v, want Aborted", err)
	}
}

// UpdatePerson's mask follows AIP-134: the paths given (sub-fields too),
// "*" for a full replacement, or without a mask the fields the request
// sets.
func TestUpdatePersonMasks(t *testing.T) {
	t.Parallel()
	people, _ := linkWorker(t)
	ctx := context.Background()
	update := func(t *testing.T, p *sparcv1.Person, paths ...string) *sparcv1.Person {
		t.Helper()
		req := &sparcv1.UpdatePersonRequest{Person: p}
		if paths != nil {
			req.UpdateMask = &fieldmaskpb.FieldMask{Paths: paths}
		}
		out, err := people.UpdatePerson(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Run("no mask: the fields the request sets", func(t *testing.T) {
		t.Parallel()
		p, err := people.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: khan()})
		if err != nil {
			t.Fatal(err)
		}
		got := update(t, &sparcv1.Person{Name: p.GetName(), WhatMatters: "Gardening", Postcode: "b7 4al"})
		if got.GetWhatMatters() != "Gardening" || got.GetPostcode() != "B7 4AL" || got.GetAgeBand() != "65-74" ||
			got.GetContact().GetPhone() != "0121 496 0000" || !got.GetConsent().GetShareWithProvider() {
			t.Fatalf("after an update without a mask: %v", got)
		}
	})
	t.Run("a document read back: output-only fields skipped", func(t *testing.T) {
		t.Parallel()
		p, err := people.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: khan()})
		if err != nil {
			t.Fatal(err)
		}
		p.DisplayName = "A. K."
		got := update(t, p)
		if got.GetDisplayName() != "A. K." || got.GetWhatMatters() != "Getting out" {
			t.Fatalf("PATCHing back what was read: %v", got)
		}
		if got := update(t, &sparcv1.Person{Name: p.GetName(), AgeBand: "75+", Organisation: "organisations/x"}, "age_band", "organisation", "update_time"); got.GetAgeBand() != "75+" {
			t.Fatalf("a mask naming output-only fields: %v", got)
		}
	})
	t.Run("a sub-field path changes that field only", func(t *testing.T) {
		t.Parallel()
		p, err := people.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: khan()})
		if err != nil {
			t.Fatal(err)
		}
		got := update(t, &sparcv1.Person{Name: p.GetName(), Contact: &sparcv1.PersonContact{Email: "a.k@example.org"}}, "contact.email")
		if got.GetContact().GetEmail() != "a.k@example.org" || got.GetContact().GetPhone() != "0121 496 0000" {
			t.Fatalf("contact after contact.email: %v", got.GetContact())
		}
	})
	t.Run("star: a full replacement", func(t *testing.T) {
		t.Parallel()
		p, err := people.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: khan()})
		if err != nil {
			t.Fatal(err)
		}
		got := update(t, &sparcv1.Person{Name: p.GetName(), DisplayName: "B. B."}, "*")
		if got.GetDisplayName() != "B. B." || got.GetAgeBand() != "" || got.GetPostcode() != "" || got.GetContact() != nil ||
			got.GetWhatMatters() != "" || len(got.GetNeeds()) != 0 || got.GetConsent().GetShareWithProvider() {
			t.Fatalf("after *: %v", got)
		}
	})
	t.Run("bad masks", func(t *testing.T) {
		t.Parallel()
		p, err := people.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: khan()})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name  string
			req   *sparcv1.UpdatePersonRequest
			field string
		}{
			{"an unknown path", &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: p.GetName()},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"what_matters", "nhs"}}}, "update_mask.paths[1]"},
			{"star with another path", &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: p.GetName()},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"*", "what_matters"}}}, "update_mask.paths"},
			{"nothing to change", &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: p.GetName()}}, "update_mask"},
			{"no person", &sparcv1.UpdatePersonRequest{}, "person"},
		} {
			_, err := people.UpdatePerson(ctx, tc.req)
			if status.Code(err) != codes.InvalidArgument || !slices.Contains(violated(err), tc.field) {
				t.Errorf("%s: %v (fields %v), want InvalidArgument on %s", tc.name, err, violated(err), tc.field)
			}
		}
	})
}

// Withdrawing consent (object) is sticky: only consent given again
// explicitly (share_with_provider set by the update, as the consent or
// that one field) lifts it.
func TestObjectionLastsUntilConsentIsGivenAgain(t *testing.T) {
	t.Parallel()
	people, _ := linkWorker(t)
	ctx := context.Background()
	p, err := people.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: khan()})
	if err != nil {
		t.Fatal(err)
	}
	objected, err := people.UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: p.GetName()}, Object: true})
	if err != nil || objected.GetConsent().GetObjectionTime() == nil || objected.GetConsent().GetShareWithProvider() {
		t.Fatalf("object: %v, %v", objected.GetConsent(), err)
	}
	for _, tc := range []struct {
		name  string
		req   *sparcv1.UpdatePersonRequest
		lifts bool
	}{
		{"another field", &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: p.GetName(), WhatMatters: "Gardening"}}, false},
		{"consent scopes only", &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: p.GetName(),
			Consent: &sparcv1.Consent{ShareWithProvider: true, Scopes: []sparcv1.ConsentScope{sparcv1.ConsentScope_CONSENT_SCOPE_NOTES}}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"consent.scopes"}}}, false},
		{"the objection time cleared by the client", &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: p.GetName(),
			Consent: &sparcv1.Consent{}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"consent.objection_time"}}}, false},
		{"share_with_provider given again", &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: p.GetName(),
			Consent: &sparcv1.Consent{ShareWithProvider: true}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"consent.share_with_provider"}}}, true},
	} {
		got, err := people.UpdatePerson(ctx, tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if lifted := got.GetConsent().GetObjectionTime() == nil; lifted != tc.lifts {
			t.Errorf("%s: objection lifted = %v, want %v (%v)", tc.name, lifted, tc.lifts, got.GetConsent())
		}
	}
}
