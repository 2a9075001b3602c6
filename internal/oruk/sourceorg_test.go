package oruk_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/testenv"
)

// A feed's services name their source organisation. The import keeps
// them as the importing organisation's listings (an organisation admin
// may not create organisations), and reports the source organisations,
// with the website and email ORUK's formats accept, so the network admin
// can create those that should run their own listings.
func TestImportKeepsTheSourceOrganisationWithoutCreatingOne(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	countOrgs := func() int {
		var n int
		if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM organisations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := countOrgs()
	org := map[string]any{"id": "44444444-4444-4444-8444-444444444444", "name": "Saltley Community Trust",
		"description": "", "website": "https://example.org/saltley", "email": "hello@example.org"}
	a := service(goodID, "Saltley lunch club", 52.48)
	a["organization"] = org
	b := service(otherID, "Saltley walking group", 52.49)
	b["organization"], b["url"] = org, "https://example.org/walks"
	badOrg := map[string]any{"id": "55555555-5555-4555-8555-555555555555", "name": "Bad Links Ltd",
		"website": "https://exa_mple.org/", "email": "x@exa_mple.org"}
	c := service("66666666-6666-4666-8666-666666666666", "Bad links drop-in", 52.47)
	c["organization"] = badOrg
	rep := importDump(t, env, "orgs", feed(t, a, b, c))
	if rep.Created != 3 || rep.Rejected != 0 {
		t.Fatalf("report %+v", rep)
	}
	if len(rep.Organizations) != 2 || rep.Organizations[0].Name != "Bad Links Ltd" || rep.Organizations[0].Website != "" ||
		rep.Organizations[1].Name != "Saltley Community Trust" || rep.Organizations[1].Services != 2 ||
		rep.Organizations[1].Website != "https://example.org/saltley" || rep.Organizations[1].Email != "hello@example.org" {
		t.Errorf("organizations %+v", rep.Organizations)
	}
	if n := countOrgs(); n != before {
		t.Errorf("the import created %d organisations; only the network admin creates them", n-before)
	}
	all := allAssets(t, env)
	want := aip.NameOf(aip.Organisations, env.AdminOrg)
	for id, as := range all {
		if as.GetOwnerOrganisation() != want {
			t.Errorf("%s: owner %s, want the importing organisation %s", id, as.GetOwnerOrganisation(), want)
		}
	}
	// The listing's contact is its own: a SPARC export, whose organization
	// is the owner, must import back unchanged.
	if ct := all[goodID].GetContact(); ct.GetWebsite() != "" || ct.GetEmail() != "" {
		t.Errorf("lunch club contact %v, want only its own (none)", ct)
	}
	if ct := all[otherID].GetContact(); ct.GetWebsite() != "https://example.org/walks" {
		t.Errorf("walking group contact %v, want its own url", ct)
	}
	w := strings.Join(problems(rep, "warning"), "\n")
	if !strings.Contains(w, "organization.website \"https://exa_mple.org/\"") || !strings.Contains(w, "organization.email \"x@exa_mple.org\"") {
		t.Errorf("warnings %q, want the bad organisation website and email named", w)
	}
	code, _, body := get(t, env.HTTPBase, "/services?per_page=10")
	if code != 200 {
		t.Fatalf("HTTP %d", code)
	}
	validate(t, "service_list.json", body)
}
