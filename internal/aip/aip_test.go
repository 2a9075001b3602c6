package aip_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/pagetoken"
)

func violations(v *apierr.InvalidArgument) map[string]string {
	out := map[string]string{}
	for _, x := range v.Violations {
		out[x.Field] = x.Description
	}
	return out
}

func TestParseNameAcceptsOnlyTheCanonicalNameOfItsCollection(t *testing.T) {
	id := uuid.New()
	var v apierr.InvalidArgument
	if got := aip.ParseName(&v, "name", aip.Assets, aip.Name(aip.Assets, id)); got != id || v.Err() != nil {
		t.Fatalf("round trip: got %v, %v", got, v.Err())
	}
	for _, bad := range []string{
		"", id.String(), "referrals/" + id.String(), "assets/" + strings.ToUpper(id.String()),
		"assets/" + id.String() + "/x", "assets/" + strings.ReplaceAll(id.String(), "-", ""), "assets/", "assets//" + id.String(),
	} {
		var v apierr.InvalidArgument
		if got := aip.ParseName(&v, "asset.name", aip.Assets, bad); got != uuid.Nil || violations(&v)["asset.name"] == "" {
			t.Errorf("%q: got %v with violations %v, want a violation on asset.name", bad, got, v.Violations)
		}
	}
	var o apierr.InvalidArgument
	if got := aip.ParseOptionalName(&o, "filter", aip.People, ""); got != uuid.Nil || o.Err() != nil {
		t.Errorf("an empty optional reference is no violation: %v", o.Err())
	}
	if aip.NameOf(aip.People, "") != "" || aip.NameOf(aip.People, "x") != "people/x" {
		t.Error("NameOf keeps an unset reference unset and prefixes a set one")
	}
}

func TestCheckEtagRefusesWhatThisAPINeverIssues(t *testing.T) {
	for etag, ok := range map[string]bool{"": true, "0123456789abcdef": true, "0123456789ABCDEF": false, "0123": false, "0123456789abcdeg": false, strings.Repeat("a", 10000): false} {
		var v apierr.InvalidArgument
		aip.CheckEtag(&v, "etag", etag)
		if (v.Err() == nil) != ok {
			t.Errorf("%.20q: accepted=%v, want %v", etag, v.Err() == nil, ok)
		}
		if d := violations(&v)["etag"]; len(d) > 200 {
			t.Errorf("the message echoes a hostile etag whole: %d bytes", len(d))
		}
	}
}

func TestTextCountsCharactersNotBytes(t *testing.T) {
	var v apierr.InvalidArgument
	aip.Text(&v, "a", strings.Repeat("é", 10), true, 10) // 20 bytes, 10 characters
	aip.Text(&v, "b", strings.Repeat("é", 11), false, 10)
	aip.Text(&v, "c", "  \t", true, 10)
	aip.Text(&v, "d", "", false, 10)
	got := violations(&v)
	if _, bad := got["a"]; bad || got["b"] == "" || got["c"] != "is required" || len(got) != 2 {
		t.Errorf("violations %v, want b too long and c required", got)
	}
}

var assetFields = aip.NewFields(&sparcv1.Asset{}, []string{"description", "categories", "location"}, "etag", "create_time")

func TestMaskFollowsAIP134(t *testing.T) {
	src := &sparcv1.Asset{Description: "new", Location: &sparcv1.Location{Postcode: "LS1 1AA"}}
	cases := []struct {
		name  string
		paths []string
		want  []string
		bad   string
	}{
		{"no mask: the fields the request sets", nil, []string{"description", "location"}, ""},
		{"star: every writable field", []string{"*"}, []string{"description", "categories", "location"}, ""},
		{"named paths, output-only skipped, repeats once", []string{"location.postcode", "etag", "create_time", "location.postcode"}, []string{"location.postcode"}, ""},
		// Not named to NewFields: the proto marks them OUTPUT_ONLY.
		{"output-only by the proto's field behaviour skipped", []string{"description", "places_left", "next_session_time"}, []string{"description"}, ""},
		{"unknown path", []string{"description", "owner"}, nil, "update_mask.paths[1]"},
		{"star with others", []string{"*", "description"}, nil, "update_mask.paths"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v apierr.InvalidArgument
			m := assetFields.Parse(&v, "update_mask", &fieldmaskpb.FieldMask{Paths: c.paths}, src)
			if c.bad != "" {
				if violations(&v)[c.bad] == "" {
					t.Fatalf("violations %v, want one on %s", v.Violations, c.bad)
				}
				return
			}
			if v.Err() != nil || !slices.Equal(m.Paths(), c.want) {
				t.Fatalf("paths %v (err %v), want %v", m.Paths(), v.Err(), c.want)
			}
		})
	}
}

func TestMaskApplyClearsMaskedFieldsTheRequestLeavesUnset(t *testing.T) {
	cur := &sparcv1.Asset{Description: "old", Categories: []string{"walking"},
		Location: &sparcv1.Location{Postcode: "LS1 1AA", Locality: "Leeds"}, CreateTime: timestamppb.Now()}
	src := &sparcv1.Asset{Location: &sparcv1.Location{Postcode: "LS2 2BB"}}
	var v apierr.InvalidArgument
	m := assetFields.Parse(&v, "update_mask", &fieldmaskpb.FieldMask{Paths: []string{"description", "location.postcode", "location.locality"}}, src)
	m.Apply(cur, src)
	want := &sparcv1.Asset{Categories: []string{"walking"}, Location: &sparcv1.Location{Postcode: "LS2 2BB"}, CreateTime: cur.CreateTime}
	if !proto.Equal(cur, want) {
		t.Fatalf("after apply %v, want %v", cur, want)
	}
	src.Location.Postcode = "changed later"
	if cur.Location.Postcode != "LS2 2BB" {
		t.Error("apply shares a message with the request")
	}
	if !m.Has("location") || !m.Has("location.postcode") || m.Has("categories") || m.Empty() {
		t.Errorf("Has/Empty disagree with paths %v", m.Paths())
	}
}

func TestNewFieldsPanicsOnAFieldTheResourceLacks(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a misspelt field")
		}
	}()
	aip.NewFields(&sparcv1.Asset{}, []string{"descripton"})
}

func TestPagesWalkTheRowsOnceAndTokensStayWithTheirQuery(t *testing.T) {
	signer, err := pagetoken.NewSigner([]byte("0123456789abcdef0123"))
	if err != nil {
		t.Fatal(err)
	}
	rows := []int{1, 2, 3, 4, 5, 6, 7}
	fetch := func(p *aip.Page[int]) []int { // a store: rows after the cursor, Size+1 of them
		var out []int
		for _, r := range rows {
			if (p.After == nil || r > *p.After) && len(out) < p.Size+1 {
				out = append(out, r)
			}
		}
		return out
	}
	req := &sparcv1.ListOrganisationsRequest{PageSize: 3}
	var seen []int
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		var v apierr.InvalidArgument
		p := aip.StartPage[int](&v, signer, req, 20, 100)
		if v.Err() != nil {
			t.Fatal(v.Err())
		}
		page, next, err := aip.Next(p, fetch(p), func(r int) int { return r })
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, page...)
		if next == "" {
			break
		}
		req.PageToken = next
	}
	if !slices.Equal(seen, rows) {
		t.Fatalf("pages gave %v, want %v", seen, rows)
	}

	first := aip.StartPage[int](new(apierr.InvalidArgument), signer, &sparcv1.ListOrganisationsRequest{PageSize: 2}, 20, 100)
	_, token, _ := aip.Next(first, []int{1, 2, 3}, func(r int) int { return r })
	for name, other := range map[string]aip.PageRequest{
		"another filter":       &sparcv1.ListOrganisationsRequest{PageToken: token, Kinds: []sparcv1.OrganisationKind{1}},
		"another request type": &sparcv1.ListApiKeysRequest{PageToken: token},
		"tampered":             &sparcv1.ListOrganisationsRequest{PageToken: token[:len(token)-2] + "AA"},
	} {
		var v apierr.InvalidArgument
		aip.StartPage[int](&v, signer, other, 20, 100)
		if violations(&v)["page_token"] == "" {
			t.Errorf("%s: token accepted", name)
		}
	}
	var v apierr.InvalidArgument
	same := aip.StartPage[int](&v, signer, &sparcv1.ListOrganisationsRequest{PageToken: token, PageSize: 50}, 20, 100)
	if v.Err() != nil || same.After == nil || *same.After != 2 || same.Size != 50 {
		t.Errorf("a new page size with the same query: after %v size %d err %v", same.After, same.Size, v.Err())
	}
	var neg apierr.InvalidArgument
	if p := aip.StartPage[int](&neg, signer, &sparcv1.ListOrganisationsRequest{PageSize: 1000}, 20, 100); p.Size != 100 || neg.Err() != nil {
		t.Errorf("an oversized page is coerced to the maximum: %d %v", p.Size, neg.Err())
	}
}
