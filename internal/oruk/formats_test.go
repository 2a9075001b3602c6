package oruk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/testenv"
)

// Values that Go's URL and mail parsers accept but ORUK's "uri" and
// "email" formats do not: stored, they made /openreferral/services fail
// the official schema.
var (
	badWebsites = []string{"https://example.org/a b", "https://exa_mple.org/", "https://example.org/<x>", "https://example.org/é"}
	badEmails   = []string{"user@exa_mple.org", "user@localhost", "first..last@example.org"}
)

// testAsset is a valid asset of env's admin organisation.
func testAsset(env *testenv.Env, name string) *sparcv1.Asset {
	return &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: name,
		Description:       "What " + name + " does, in a sentence.",
		Location:          &sparcv1.Location{Latitude: 52.48, Longitude: -1.9, Country: "GB"},
		OwnerOrganisation: "organisations/" + env.AdminOrg,
	}
}

// The native API refuses what ORUK would refuse, naming the field.
func TestNativeAPIRefusesWebsitesAndEmailsORUKCannotPublish(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	try := func(field, value string, set func(*sparcv1.Contact)) {
		a := testAsset(env, "Bad "+field)
		a.Contact = &sparcv1.Contact{}
		set(a.Contact)
		_, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: a})
		if status.Code(err) != codes.InvalidArgument || !slices.Contains(violations(err), "asset.contact."+field) {
			t.Errorf("create with %s %q: %v (violations %v), want INVALID_ARGUMENT on asset.contact.%s", field, value, err, violations(err), field)
		}
	}
	for _, w := range badWebsites {
		try("website", w, func(c *sparcv1.Contact) { c.Website = w })
	}
	for _, e := range badEmails {
		try("email", e, func(c *sparcv1.Contact) { c.Email = e })
	}
	// An update is refused the same way, and the asset is unchanged.
	a := testAsset(env, "Good contact")
	a.Contact = &sparcv1.Contact{Website: "https://example.org/a%20b", Email: "walks@example.org"}
	created, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: a})
	if err != nil {
		t.Fatalf("a valid website and email: %v", err)
	}
	_, err = env.Assets.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{Asset: &sparcv1.Asset{Name: created.GetName(),
		Contact: &sparcv1.Contact{Website: badWebsites[0]}}})
	if status.Code(err) != codes.InvalidArgument || !slices.Contains(violations(err), "asset.contact.website") {
		t.Errorf("update with a bad website: %v", err)
	}
	got, err := env.Assets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: created.GetName()})
	if err != nil || got.GetContact().GetWebsite() != "https://example.org/a%20b" {
		t.Errorf("after a refused update: %v, %v", got.GetContact(), err)
	}
}

// The import RPC refuses such a record alone, with field violations; a
// feed read by the CLI leaves the value out with a warning and imports
// the service, which then validates.
func TestImportRefusesWebsitesAndEmailsORUKCannotPublish(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	c := sparcv1.NewDirectoryImportServiceClient(env.Conn)
	var recs []*sparcv1.SourcedAsset
	var want []string
	add := func(field string, set func(*sparcv1.Contact)) {
		a := testAsset(env, fmt.Sprintf("Record %d", len(recs)))
		a.Contact = &sparcv1.Contact{}
		set(a.Contact)
		id := fmt.Sprintf("33333333-3333-4333-8333-%012d", len(recs))
		recs = append(recs, &sparcv1.SourcedAsset{SourceId: id, AssetName: "assets/" + id, Asset: a})
		want = append(want, field)
	}
	for _, w := range badWebsites {
		add("asset.contact.website", func(c *sparcv1.Contact) { c.Website = w })
	}
	for _, e := range badEmails {
		add("asset.contact.email", func(c *sparcv1.Contact) { c.Email = e })
	}
	add("", func(c *sparcv1.Contact) { c.Website, c.Email = "https://example.org/ok", "ok@example.org" })
	resp, err := c.UpsertSourcedAssets(ctx, &sparcv1.UpsertSourcedAssetsRequest{Source: "formats", Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.GetResults() {
		if want[i] == "" {
			if r.GetOutcome() != sparcv1.UpsertOutcome_UPSERT_OUTCOME_CREATED {
				t.Errorf("record %d (valid): %v", i, r)
			}
			continue
		}
		var fields []string
		for _, v := range r.GetViolations() {
			fields = append(fields, v.GetField())
		}
		if r.GetOutcome() != sparcv1.UpsertOutcome_UPSERT_OUTCOME_REJECTED || !slices.Contains(fields, want[i]) {
			t.Errorf("record %d: %v, want rejected with a violation on %s", i, r, want[i])
		}
	}
	if n := len(allAssets(t, env)); n != 1 {
		t.Errorf("%d assets written, want only the valid record", n)
	}

	// From a feed: the service lands without the bad values, with warnings.
	s := service(goodID, "Feed service", 52.48)
	s["url"], s["email"] = badWebsites[0], badEmails[0]
	rep := importDump(t, env, "feed", feed(t, s))
	if rep.Created != 1 || rep.Rejected != 0 {
		t.Fatalf("feed import: %+v", rep)
	}
	w := strings.Join(problems(rep, "warning"), "\n")
	if !strings.Contains(w, "url \"https://example.org/a b\"") || !strings.Contains(w, "email \"user@exa_mple.org\"") {
		t.Errorf("warnings %q, want the url and email named", w)
	}
	code, _, b := get(t, env.HTTPBase, "/services/"+goodID)
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, b)
	}
	validate(t, "service.json", b)
	code, _, b = get(t, env.HTTPBase, "/services?per_page=50")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, b)
	}
	validate(t, "service_list.json", b)
}

// Paused and closed assets are published with ORUK's status values
// ("temporarily closed", "defunct"), and the documents validate against
// the official schemas, list, full and minimal forms alike; minimal
// items carry the real description.
func TestPausedAndClosedAssetsExportWithORUKStatuses(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	want := map[string]string{}
	for _, st := range []sparcv1.AssetStatus{sparcv1.AssetStatus_ASSET_STATUS_ACTIVE,
		sparcv1.AssetStatus_ASSET_STATUS_PAUSED, sparcv1.AssetStatus_ASSET_STATUS_CLOSED} {
		a := testAsset(env, "Group "+st.String())
		a.Status = st
		a.Contact = &sparcv1.Contact{Website: "https://example.org/g?x=1", Email: "g@example.org"}
		created, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: a})
		if err != nil {
			t.Fatal(err)
		}
		want[assets.ID(created).String()] = map[sparcv1.AssetStatus]string{
			sparcv1.AssetStatus_ASSET_STATUS_ACTIVE: "active",
			sparcv1.AssetStatus_ASSET_STATUS_PAUSED: "temporarily closed",
			sparcv1.AssetStatus_ASSET_STATUS_CLOSED: "defunct",
		}[st]
	}
	type item struct{ ID, Status, Description, Name string }
	for _, path := range []string{"/services", "/services?full=true", "/services?minimal=true"} {
		var p page
		b := getJSON(t, env.HTTPBase, path, &p)
		validate(t, "service_list.json", b)
		if len(p.Contents) != 3 {
			t.Fatalf("%s: %d services, want 3", path, len(p.Contents))
		}
		for _, raw := range p.Contents {
			validate(t, "service.json", raw)
			var it item
			_ = json.Unmarshal(raw, &it)
			if it.Status != want[it.ID] {
				t.Errorf("%s: service %s status %q, want %q", path, it.ID, it.Status, want[it.ID])
			}
			if it.Description != "What "+it.Name+" does, in a sentence." {
				t.Errorf("%s: service %s description %q, want the asset's", path, it.ID, it.Description)
			}
		}
	}
	for id, st := range want {
		var s struct{ Status string }
		b := getJSON(t, env.HTTPBase, "/services/"+id, &s)
		validate(t, "service.json", b)
		if s.Status != st {
			t.Errorf("/services/%s: status %q, want %q", id, s.Status, st)
		}
	}
}

// A website or email stored before SPARC checked their formats (written
// here straight into the table) is left out of the ORUK documents, which
// still validate.
func TestStoredMalformedContactsAreLeftOutOfORUK(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	created, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: testAsset(env, "Old listing")})
	if err != nil {
		t.Fatal(err)
	}
	id := assets.ID(created).String()
	if _, err := env.Pool.Exec(ctx, `UPDATE assets SET contact_website = $1, contact_email = $2 WHERE id = $3`,
		badWebsites[0], badEmails[0], id); err != nil {
		t.Fatal(err)
	}
	var s struct{ URL, Email string }
	b := getJSON(t, env.HTTPBase, "/services/"+id, &s)
	validate(t, "service.json", b)
	if s.URL != "" || s.Email != "" {
		t.Errorf("url %q, email %q: want both left out", s.URL, s.Email)
	}
	code, _, b := get(t, env.HTTPBase, "/services?full=true")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d", code)
	}
	validate(t, "service_list.json", b)
}
