package orgs_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestCreateOrganisationRejectsBadInputNamingTheField(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	c := sparcv1.NewOrganisationServiceClient(env.Network(t))
	good := func() *sparcv1.Organisation {
		return &sparcv1.Organisation{DisplayName: "Saltley Men's Shed", Kind: sparcv1.OrganisationKind_ORGANISATION_KIND_COMMUNITY_GROUP}
	}
	cases := []struct {
		name  string
		edit  func(*sparcv1.Organisation)
		field string
	}{
		{"empty display name", func(o *sparcv1.Organisation) { o.DisplayName = "  " }, "organisation.display_name"},
		{"long display name", func(o *sparcv1.Organisation) { o.DisplayName = strings.Repeat("é", 201) }, "organisation.display_name"},
		{"long phone", func(o *sparcv1.Organisation) { o.ContactPhone = strings.Repeat("0", 33) }, "organisation.contact_phone"},
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
			if status.Code(err) != codes.InvalidArgument || fmt.Sprint(testenv.Fields(err)) != fmt.Sprint([]string{tc.field}) {
				t.Fatalf("got %v with fields %v, want InvalidArgument on %s", err, testenv.Fields(err), tc.field)
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
		Organisation: &sparcv1.Organisation{DisplayName: "Wirral Council", Kind: sparcv1.OrganisationKind_ORGANISATION_KIND_LOCAL_AUTHORITY,
			ContactEmail: "socialprescribing@example.gov.uk", ContactPhone: "0151 606 2000", AreaCodes: []string{"E08000015"}}})
	if err != nil {
		t.Fatal(err)
	}
	anon, err := sparcv1.NewOrganisationServiceClient(env.Anonymous()).GetOrganisation(context.Background(), &sparcv1.GetOrganisationRequest{Name: o.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if anon.GetContactEmail() != "" || anon.GetContactPhone() != "" || anon.GetDisplayName() != "Wirral Council" || anon.GetName() != o.GetName() || len(anon.GetAreaCodes()) != 1 {
		t.Fatalf("anonymous view: %v", anon)
	}
	keyed, err := sparcv1.NewOrganisationServiceClient(env.Conn).GetOrganisation(context.Background(), &sparcv1.GetOrganisationRequest{Name: o.GetName()})
	if err != nil || keyed.GetContactEmail() == "" {
		t.Fatalf("keyed view: %v %v", keyed, err)
	}
}

func TestUpdateOrganisationWithStaleEtagIsAborted(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	c := sparcv1.NewOrganisationServiceClient(env.Network(t))
	o, err := c.CreateOrganisation(context.Background(), &sparcv1.CreateOrganisationRequest{Organisation: &sparcv1.Organisation{
		DisplayName: "Gwent food club", Kind: sparcv1.OrganisationKind_ORGANISATION_KIND_VOLUNTARY_ORGANISATION}})
	if err != nil {
		t.Fatal(err)
	}
	upd := func(etag, name string) error {
		_, err := c.UpdateOrganisation(context.Background(), &sparcv1.UpdateOrganisationRequest{
			Organisation: &sparcv1.Organisation{Name: o.GetName(), DisplayName: name, Etag: etag},
			UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
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
	// "name" identifies the organisation: a mask naming it (a client
	// still meaning the display name) is refused, like an unknown path.
	for _, path := range []string{"id", "name"} {
		_, err = c.UpdateOrganisation(context.Background(), &sparcv1.UpdateOrganisationRequest{
			Organisation: &sparcv1.Organisation{Name: o.GetName()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"website", path}}})
		if status.Code(err) != codes.InvalidArgument || fmt.Sprint(testenv.Fields(err)) != "[update_mask.paths[1]]" {
			t.Fatalf("mask path %q: %v with fields %v, want a violation on update_mask.paths[1]", path, err, testenv.Fields(err))
		}
	}
	if err := upd("0123", "x"); status.Code(err) != codes.InvalidArgument || fmt.Sprint(testenv.Fields(err)) != "[organisation.etag]" {
		t.Fatalf("malformed etag: %v with fields %v", err, testenv.Fields(err))
	}
}

// Organisations are addressed by "organisations/{uuid}" and nothing else;
// a well-formed name of no organisation is NOT_FOUND, naming it.
func TestOrganisationNamesAreStrict(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	c := sparcv1.NewOrganisationServiceClient(env.Network(t))
	chosen := "organisations/" + uuid.NewString() // output only: ignored (AIP-203)
	o, err := c.CreateOrganisation(context.Background(), &sparcv1.CreateOrganisationRequest{Organisation: &sparcv1.Organisation{
		Name: chosen, DisplayName: "Named by the server", Kind: sparcv1.OrganisationKind_ORGANISATION_KIND_OTHER}})
	if err != nil {
		t.Fatal(err)
	}
	id, ok := strings.CutPrefix(o.GetName(), "organisations/")
	if _, err := uuid.Parse(id); !ok || err != nil || o.GetName() == chosen {
		t.Fatalf("created organisation named %q, want organisations/{uuid} assigned by the server", o.GetName())
	}
	for _, bad := range []string{"", id, "apiKeys/" + id, "organisations/" + strings.ToUpper(id), "organisations/" + id + "/x"} {
		_, err := c.GetOrganisation(context.Background(), &sparcv1.GetOrganisationRequest{Name: bad})
		if status.Code(err) != codes.InvalidArgument || fmt.Sprint(testenv.Fields(err)) != "[name]" {
			t.Errorf("get %q: %v with fields %v, want a violation on name", bad, err, testenv.Fields(err))
		}
		_, err = c.UpdateOrganisation(context.Background(), &sparcv1.UpdateOrganisationRequest{
			Organisation: &sparcv1.Organisation{Name: bad, Website: "https://example.org"}})
		if status.Code(err) != codes.InvalidArgument || fmt.Sprint(testenv.Fields(err)) != "[organisation.name]" {
			t.Errorf("update %q: %v with fields %v, want a violation on organisation.name", bad, err, testenv.Fields(err))
		}
	}
	missing := "organisations/" + uuid.NewString()
	_, err = c.GetOrganisation(context.Background(), &sparcv1.GetOrganisationRequest{Name: missing})
	if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != missing+": not found" {
		t.Errorf("missing organisation: %v, want NotFound %q", err, missing+": not found")
	}
	_, err = c.UpdateOrganisation(context.Background(), &sparcv1.UpdateOrganisationRequest{})
	if status.Code(err) != codes.InvalidArgument || fmt.Sprint(testenv.Fields(err)) != "[organisation]" {
		t.Errorf("update without an organisation: %v with fields %v", err, testenv.Fields(err))
	}
}

// AIP-134: without a mask only the fields the request sets change; "*"
// replaces every writable field, clearing the ones left unset.
func TestUpdateOrganisationMasks(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	c := sparcv1.NewOrganisationServiceClient(env.Network(t))
	o, err := c.CreateOrganisation(context.Background(), &sparcv1.CreateOrganisationRequest{Organisation: &sparcv1.Organisation{
		DisplayName: "Leeds Older People's Forum", Kind: sparcv1.OrganisationKind_ORGANISATION_KIND_VOLUNTARY_ORGANISATION,
		ContactEmail: "hello@example.org", Website: "https://example.org", AreaCodes: []string{"E08000035"}}})
	if err != nil {
		t.Fatal(err)
	}
	implied, err := c.UpdateOrganisation(context.Background(), &sparcv1.UpdateOrganisationRequest{
		Organisation: &sparcv1.Organisation{Name: o.GetName(), Website: "https://example.org/forum"}})
	if err != nil {
		t.Fatal(err)
	}
	if implied.GetWebsite() != "https://example.org/forum" || implied.GetContactEmail() != "hello@example.org" ||
		implied.GetDisplayName() != o.GetDisplayName() || len(implied.GetAreaCodes()) != 1 ||
		implied.GetStatus() != sparcv1.OrganisationStatus_ORGANISATION_STATUS_ACTIVE {
		t.Fatalf("no mask changed more than the website: %v", implied)
	}
	full, err := c.UpdateOrganisation(context.Background(), &sparcv1.UpdateOrganisationRequest{
		Organisation: &sparcv1.Organisation{Name: o.GetName(), DisplayName: "LOPF", Kind: sparcv1.OrganisationKind_ORGANISATION_KIND_OTHER,
			Status: sparcv1.OrganisationStatus_ORGANISATION_STATUS_ACTIVE},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"*"}}})
	if err != nil {
		t.Fatal(err)
	}
	if full.GetDisplayName() != "LOPF" || full.GetKind() != sparcv1.OrganisationKind_ORGANISATION_KIND_OTHER ||
		full.GetWebsite() != "" || full.GetContactEmail() != "" || len(full.GetAreaCodes()) != 0 || full.GetName() != o.GetName() {
		t.Fatalf("* did not replace the whole organisation: %v", full)
	}
	// "*" with an unset status is a full replacement too: it clears the
	// status, which an organisation must have.
	_, err = c.UpdateOrganisation(context.Background(), &sparcv1.UpdateOrganisationRequest{
		Organisation: &sparcv1.Organisation{Name: o.GetName(), DisplayName: "LOPF", Kind: sparcv1.OrganisationKind_ORGANISATION_KIND_OTHER},
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"*"}}})
	if status.Code(err) != codes.InvalidArgument || fmt.Sprint(testenv.Fields(err)) != "[organisation.status]" {
		t.Fatalf("* without a status: %v with fields %v", err, testenv.Fields(err))
	}
}

func TestListOrganisationsPagesByNameWithoutGapsOrRepeats(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	c := sparcv1.NewOrganisationServiceClient(env.Network(t))
	want := map[string]bool{}
	for i := 0; i < 23; i++ {
		o, err := c.CreateOrganisation(context.Background(), &sparcv1.CreateOrganisationRequest{Organisation: &sparcv1.Organisation{
			DisplayName: fmt.Sprintf("Group %02d", 22-i), Kind: sparcv1.OrganisationKind_ORGANISATION_KIND_COMMUNITY_GROUP}})
		if err != nil {
			t.Fatal(err)
		}
		want[o.GetName()] = true
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
			if seen[o.GetName()] || !want[o.GetName()] || o.GetDisplayName() < last {
				t.Fatalf("page %d: %s repeated, unknown or out of order", pages, o.GetDisplayName())
			}
			seen[o.GetName()], last = true, o.GetDisplayName()
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("listed %d of %d organisations", len(seen), len(want))
	}
}
