package orgs_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func fields(err error) []string {
	var out []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	return out
}

func TestCreateOrganisationRejectsBadInputNamingTheField(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	c := sparcv1.NewOrganisationServiceClient(env.Network(t))
	good := func() *sparcv1.Organisation {
		return &sparcv1.Organisation{Name: "Saltley Men's Shed", Kind: sparcv1.OrganisationKind_ORGANISATION_KIND_COMMUNITY_GROUP}
	}
	cases := []struct {
		name  string
		edit  func(*sparcv1.Organisation)
		field string
	}{
		{"empty name", func(o *sparcv1.Organisation) { o.Name = "  " }, "organisation.name"},
		{"unknown kind", func(o *sparcv1.Organisation) { o.Kind = 99 }, "organisation.kind"},
		{"bad email", func(o *sparcv1.Organisation) { o.ContactEmail = "not an email" }, "organisation.contact_email"},
		{"bad website", func(o *sparcv1.Organisation) { o.Website = "ftp://example.org" }, "organisation.website"},
		{"empty area code", func(o *sparcv1.Organisation) { o.AreaCodes = []string{""} }, "organisation.area_codes[0]"},
		{"self-intersecting area", func(o *sparcv1.Organisation) {
			o.AreaGeojson = `{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}`
		}, "organisation.area_geojson"},
	}
	before := count(t, env)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := good()
			tc.edit(o)
			_, err := c.CreateOrganisation(context.Background(), &sparcv1.CreateOrganisationRequest{Organisation: o})
			if status.Code(err) != codes.InvalidArgument || fmt.Sprint(fields(err)) != fmt.Sprint([]string{tc.field}) {
				t.Fatalf("got %v with fields %v, want InvalidArgument on %s", err, fields(err), tc.field)
			}
		})
	}
	if after := count(t, env); after != before {
		t.Fatalf("failed creates wrote %d organisations", after-before)
	}
}

func count(t *testing.T, env *testenv.Env) int {
	var n int
	if err := env.Pool.QueryRow(context.Background(), `SELECT count(*) FROM organisations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAnonymousCallersSeeOnlyPublicFields(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	o, err := sparcv1.NewOrganisationServiceClient(env.Network(t)).CreateOrganisation(context.Background(), &sparcv1.CreateOrganisationRequest{
		Organisation: &sparcv1.Organisation{Name: "Wirral Council", Kind: sparcv1.OrganisationKind_ORGANISATION_KIND_LOCAL_AUTHORITY,
			ContactEmail: "socialprescribing@example.gov.uk", ContactPhone: "0151 606 2000", AreaCodes: []string{"E08000015"}}})
	if err != nil {
		t.Fatal(err)
	}
	anon, err := sparcv1.NewOrganisationServiceClient(env.Anonymous()).GetOrganisation(context.Background(), &sparcv1.GetOrganisationRequest{Id: o.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if anon.GetContactEmail() != "" || anon.GetContactPhone() != "" || anon.GetName() != "Wirral Council" || len(anon.GetAreaCodes()) != 1 {
		t.Fatalf("anonymous view: %v", anon)
	}
	keyed, err := sparcv1.NewOrganisationServiceClient(env.Conn).GetOrganisation(context.Background(), &sparcv1.GetOrganisationRequest{Id: o.GetId()})
	if err != nil || keyed.GetContactEmail() == "" {
		t.Fatalf("keyed view: %v %v", keyed, err)
	}
}

func TestUpdateOrganisationWithStaleEtagIsAborted(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	c := sparcv1.NewOrganisationServiceClient(env.Network(t))
	o, err := c.CreateOrganisation(context.Background(), &sparcv1.CreateOrganisationRequest{Organisation: &sparcv1.Organisation{
		Name: "Gwent food club", Kind: sparcv1.OrganisationKind_ORGANISATION_KIND_VOLUNTARY_ORGANISATION}})
	if err != nil {
		t.Fatal(err)
	}
	upd := func(etag, name string) error {
		_, err := c.UpdateOrganisation(context.Background(), &sparcv1.UpdateOrganisationRequest{
			Organisation: &sparcv1.Organisation{Id: o.GetId(), Name: name, Etag: etag},
			UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"name"}}})
		return err
	}
	if err := upd(o.GetEtag(), "Gwent Food Club"); err != nil {
		t.Fatal(err)
	}
	if err := upd(o.GetEtag(), "Overwritten"); status.Code(err) != codes.Aborted {
		t.Fatalf("stale etag: %v, want Aborted", err)
	}
	if err := upd("", "x"); err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateOrganisation(context.Background(), &sparcv1.UpdateOrganisationRequest{
		Organisation: &sparcv1.Organisation{Id: o.GetId()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"id"}}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("unknown mask path: %v", err)
	}
}

func TestListOrganisationsPagesByNameWithoutGapsOrRepeats(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	c := sparcv1.NewOrganisationServiceClient(env.Network(t))
	want := map[string]bool{}
	for i := 0; i < 23; i++ {
		o, err := c.CreateOrganisation(context.Background(), &sparcv1.CreateOrganisationRequest{Organisation: &sparcv1.Organisation{
			Name: fmt.Sprintf("Group %02d", 22-i), Kind: sparcv1.OrganisationKind_ORGANISATION_KIND_COMMUNITY_GROUP}})
		if err != nil {
			t.Fatal(err)
		}
		want[o.GetId()] = true
	}
	seen := map[string]bool{}
	last := ""
	token := ""
	for pages := 0; ; pages++ {
		resp, err := c.ListOrganisations(context.Background(), &sparcv1.ListOrganisationsRequest{PageSize: 5, PageToken: token,
			Kinds: []sparcv1.OrganisationKind{sparcv1.OrganisationKind_ORGANISATION_KIND_COMMUNITY_GROUP}})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range resp.GetOrganisations() {
			if seen[o.GetId()] || o.GetName() < last {
				t.Fatalf("page %d: %s repeated or out of order", pages, o.GetName())
			}
			seen[o.GetId()], last = true, o.GetName()
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("listed %d of %d organisations", len(seen), len(want))
	}
}
