package oruk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/oruk"
	"github.com/sparc-network/sparc/internal/testenv"
)

// page is the ORUK list envelope with its items left undecoded; the
// schema checks below hold its wire form to the published ORUK schemas.
type page = oruk.Page[json.RawMessage]

type idOnly struct {
	ID string `json:"id"`
}

func ids(t *testing.T, p page) []string {
	t.Helper()
	out := make([]string, len(p.Contents))
	for i, c := range p.Contents {
		var x idOnly
		if err := json.Unmarshal(c, &x); err != nil {
			t.Fatal(err)
		}
		out[i] = x.ID
	}
	return out
}

func TestEveryEndpointValidatesAgainstTheORUKSchemas(t *testing.T) {
	t.Parallel()
	env := demoServer(t)
	base := env.HTTPBase

	// Ids to fetch, read from the lists themselves.
	var services, sals, orgs, taxs, terms page
	getJSON(t, base, "/services?per_page=1", &services)
	getJSON(t, base, "/service_at_locations?per_page=1", &sals)
	getJSON(t, base, "/organizations?per_page=1", &orgs)
	getJSON(t, base, "/taxonomies", &taxs)
	getJSON(t, base, "/taxonomy_terms?per_page=1", &terms)
	for name, p := range map[string]page{"services": services, "service_at_locations": sals, "organizations": orgs, "taxonomies": taxs, "taxonomy_terms": terms} {
		if len(p.Contents) == 0 {
			t.Fatalf("%s: empty on demo data", name)
		}
	}
	svc, sal, org, tax, term := ids(t, services)[0], ids(t, sals)[0], ids(t, orgs)[0], ids(t, taxs)[0], ids(t, terms)[0]
	last := (services.TotalItems + 49) / 50

	cases := []struct{ path, schema string }{
		{"/", "api_details.json"},
		{"/services?per_page=50", "service_list.json"},
		{fmt.Sprintf("/services?per_page=50&page=%d", last), "service_list.json"},
		{fmt.Sprintf("/services?per_page=50&page=%d", last+1), "service_list.json"}, // empty page past the end
		{"/services?full=true&per_page=10", "service_list.json"},
		{"/services?minimal=true&per_page=500", "service_list.json"},
		{"/services?latitude=52.48&longitude=-1.89&proximity=3000&per_page=20", "service_list.json"},
		{"/services?search=walking&per_page=20", "service_list.json"},
		{"/services?taxonomy_term_id=" + term, "service_list.json"},
		{"/services?taxonomy_id=" + tax + "&modified_after=2020-01-01", "service_list.json"},
		{"/services?organization_id=" + org, "service_list.json"},
		{"/services/" + svc, "service.json"},
		{"/service_at_locations?per_page=50", "service_at_location_list.json"},
		{"/service_at_locations?full=true&per_page=5", "service_at_location_list.json"},
		{"/service_at_locations?latitude=51.92&longitude=4.48&proximity=5000", "service_at_location_list.json"},
		{"/service_at_locations/" + sal, "service_at_location.json"},
		{"/organizations", "organization_list.json"},
		{"/organizations?full_service=true&per_page=1", "organization_list.json"},
		{"/organizations/" + org, "organization.json"},
		{"/organizations/" + org + "?full_service=true", "organization.json"},
		{"/taxonomies", "taxonomy_list.json"},
		{"/taxonomies/" + tax, "taxonomy.json"},
		{"/taxonomy_terms?per_page=100", "taxonomy_term_list.json"},
		{"/taxonomy_terms?taxonomy_id=" + tax + "&top_only=true", "taxonomy_term_list.json"},
		{"/taxonomy_terms/" + term, "taxonomy_term.json"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			code, h, b := get(t, base, c.path)
			if code != http.StatusOK {
				t.Fatalf("HTTP %d: %s", code, b)
			}
			if h.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("CORS header %q, want *", h.Get("Access-Control-Allow-Origin"))
			}
			validate(t, c.schema, b)
			// Every nested full service is a valid service too.
			if c.schema == "service_list.json" {
				var p page
				_ = json.Unmarshal(b, &p)
				for _, item := range p.Contents {
					validate(t, "service.json", item)
				}
			}
		})
	}
}

func TestAnEmptyDirectoryGivesValidEmptyPages(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	for path, schema := range map[string]string{
		"/services": "service_list.json", "/service_at_locations": "service_at_location_list.json",
		"/organizations": "organization_list.json",
	} {
		var p page
		b := getJSON(t, env.HTTPBase, path, &p)
		validate(t, schema, b)
		if !p.Empty || p.TotalItems != 0 || len(p.Contents) != 0 || !p.FirstPage || !p.LastPage {
			t.Errorf("%s: %s, want an empty first and last page", path, b)
		}
	}
}

// A validator pages through /services from first to last; every asset must
// appear exactly once, and the envelope must agree with the database.
func TestPagingVisitsEveryServiceOnce(t *testing.T) {
	t.Parallel()
	env := demoServer(t)
	var want int
	if err := env.Pool.QueryRow(context.Background(), `SELECT count(*) FROM assets`).Scan(&want); err != nil {
		t.Fatal(err)
	}
	const per = 37
	seen := map[string]int{}
	for n := 1; ; n++ {
		var p page
		getJSON(t, env.HTTPBase, fmt.Sprintf("/services?per_page=%d&page=%d", per, n), &p)
		if p.TotalItems != want || p.TotalPages != (want+per-1)/per || p.PageNumber != n || p.Size != len(p.Contents) {
			t.Fatalf("page %d envelope: total %d pages %d number %d size %d (%d contents), want total %d",
				n, p.TotalItems, p.TotalPages, p.PageNumber, p.Size, len(p.Contents), want)
		}
		if p.FirstPage != (n == 1) || p.LastPage != (n == p.TotalPages) || p.Empty {
			t.Fatalf("page %d: first %v last %v empty %v", n, p.FirstPage, p.LastPage, p.Empty)
		}
		for _, id := range ids(t, p) {
			seen[id]++
		}
		if p.LastPage {
			if n > 1 && len(p.Contents) != want-(n-1)*per {
				t.Errorf("last page holds %d, want %d", len(p.Contents), want-(n-1)*per)
			}
			break
		}
		if len(p.Contents) != per {
			t.Fatalf("page %d holds %d, want %d", n, len(p.Contents), per)
		}
	}
	if len(seen) != want {
		t.Errorf("saw %d distinct services, want %d", len(seen), want)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("service %s seen %d times", id, c)
		}
	}
}

// The ORUK filters must select what the native API selects for the same
// question: proximity (same order), category terms and text.
// inPersonOnly: ORUK's proximity lists the services at locations within
// the distance; remote services have none (the native search lists them
// after, by their service area).
const inPersonOnly = sparcv1.RemoteFilter_REMOTE_FILTER_EXCLUDE

func TestFiltersAgreeWithTheNativeAPI(t *testing.T) {
	t.Parallel()
	env := demoServer(t)
	ctx := context.Background()
	all := []sparcv1.AssetStatus{sparcv1.AssetStatus_ASSET_STATUS_ACTIVE, sparcv1.AssetStatus_ASSET_STATUS_PAUSED, sparcv1.AssetStatus_ASSET_STATUS_CLOSED}

	t.Run("proximity", func(t *testing.T) {
		for _, pt := range [][3]float64{{52.48, -1.89, 3000}, {51.92, 4.48, 1500}, {53.39, -3.02, 50000}} {
			native, err := env.Assets.SearchAssets(ctx, &sparcv1.SearchAssetsRequest{
				Latitude: proto.Float64(pt[0]), Longitude: proto.Float64(pt[1]), RadiusMeters: proto.Float64(pt[2]),
				PageSize: 20, Statuses: all, Remote: inPersonOnly})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, r := range native.GetResults() {
				want = append(want, assets.ID(r.GetAsset()).String())
			}
			var p page
			getJSON(t, env.HTTPBase, fmt.Sprintf("/services?latitude=%g&longitude=%g&proximity=%g&per_page=20", pt[0], pt[1], pt[2]), &p)
			if got := ids(t, p); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("near %v: ORUK %v, native %v", pt, got, want)
			}
			if len(want) == 0 {
				t.Errorf("near %v: no results; pick a point inside the demo data", pt)
			}
			// total_items counts what the native search finds in all.
			n := 0
			req := &sparcv1.SearchAssetsRequest{Latitude: proto.Float64(pt[0]), Longitude: proto.Float64(pt[1]),
				RadiusMeters: proto.Float64(pt[2]), PageSize: 100, Statuses: all, Remote: inPersonOnly}
			for {
				resp, err := env.Assets.SearchAssets(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				n += len(resp.GetResults())
				if resp.GetNextPageToken() == "" {
					break
				}
				req.PageToken = resp.GetNextPageToken()
			}
			if p.TotalItems != n {
				t.Errorf("near %v: total_items %d, native search finds %d", pt, p.TotalItems, n)
			}
		}
	})
	t.Run("taxonomy term", func(t *testing.T) {
		var terms page
		getJSON(t, env.HTTPBase, "/taxonomy_terms?search=food", &terms)
		var term struct{ ID, Term string }
		if len(terms.Contents) == 0 {
			t.Fatal("no food term")
		}
		_ = json.Unmarshal(terms.Contents[0], &term)
		n := 0
		req := &sparcv1.ListAssetsRequest{Categories: []string{term.Term}, PageSize: 100}
		for {
			resp, err := env.Assets.ListAssets(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			n += len(resp.GetAssets())
			if resp.GetNextPageToken() == "" {
				break
			}
			req.PageToken = resp.GetNextPageToken()
		}
		var p page
		getJSON(t, env.HTTPBase, "/services?taxonomy_term_id="+term.ID, &p)
		if p.TotalItems != n || n == 0 {
			t.Errorf("term %s: ORUK %d services, native %d", term.Term, p.TotalItems, n)
		}
	})
	t.Run("text", func(t *testing.T) {
		native, err := env.Assets.SearchAssets(ctx, &sparcv1.SearchAssetsRequest{Query: "choir", PageSize: 100, Statuses: all})
		if err != nil {
			t.Fatal(err)
		}
		var p page
		getJSON(t, env.HTTPBase, "/services?search=choir&per_page=100", &p)
		if p.TotalItems != len(native.GetResults()) || p.TotalItems == 0 {
			t.Errorf("search choir: ORUK %d, native %d", p.TotalItems, len(native.GetResults()))
		}
	})
}

func TestBadRequestsGive400NamingTheParameter(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	cases := []struct{ path, param string }{
		{"/services?per-page=10", "per-page"},
		{"/services?per_page=0", "per_page"},
		{"/services?per_page=501", "per_page"},
		{"/services?per_page=ten", "per_page"},
		{"/services?page=0", "page"},
		{"/services?page=1&page=2", "page"},
		{"/services?latitude=52.5", "latitude"},
		{"/services?latitude=100&longitude=1", "latitude"},
		{"/services?latitude=52&longitude=200", "longitude"},
		{"/services?latitude=52&longitude=1&proximity=-5", "proximity"},
		{"/services?latitude=52&longitude=1&proximity=200000", "proximity"},
		{"/services?proximity=1000", "proximity"},
		{"/services?postcode=B1+1AA&proximity=1000", "postcode"},
		{"/services?modified_after=yesterday", "modified_after"},
		{"/services?taxonomy_term_id=food", "taxonomy_term_id"},
		{"/services?organization_id=council", "organization_id"},
		{"/services?format=xml", "format"},
		{"/services?full=maybe", "full"},
		{"/services?minimal=true&full=true", "minimal"},
		{"/services?search=%21%21%21", "search"},
		{"/services/not-a-uuid", "id"},
		{"/service_at_locations?minimal=true", "minimal"},
		{"/organizations?taxonomy_id=x", "taxonomy_id"},
		{"/taxonomy_terms?parent_id=x", "parent_id"},
		{"/taxonomies?page=-1", "page"},
		{"/?x=1", "x"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			code, h, b := get(t, env.HTTPBase, c.path)
			if code != http.StatusBadRequest {
				t.Fatalf("HTTP %d, want 400: %s", code, b)
			}
			var e struct {
				Code      int
				Message   string
				Parameter string
			}
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("error body is not JSON: %s", b)
			}
			if e.Parameter != c.param || !contains(e.Message, c.param) {
				t.Errorf("parameter %q, message %q; want it to name %q", e.Parameter, e.Message, c.param)
			}
			if h.Get("Access-Control-Allow-Origin") != "*" {
				t.Error("error responses need the CORS header too")
			}
		})
	}
}

func TestUnknownIDsGive404(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	const id = "5d8f1d3c-0b8e-4a53-9f62-1f4f1d2b9a11"
	for _, p := range []string{"/services/", "/service_at_locations/", "/organizations/", "/taxonomies/", "/taxonomy_terms/"} {
		code, _, b := get(t, env.HTTPBase, p+id)
		if code != http.StatusNotFound {
			t.Errorf("%s: HTTP %d, want 404: %s", p, code, b)
		}
	}
}

func TestPreflightAllowsAnyOrigin(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	req, _ := http.NewRequest(http.MethodOptions, env.HTTPBase+"/openreferral/services", nil)
	req.Header.Set("Origin", "https://validator.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!contains(resp.Header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

// Ids are stable: the same asset gives the same ids on every request, and
// a service_at_location id leads back to its service.
func TestIDsAreStableAndResolve(t *testing.T) {
	t.Parallel()
	env := demoServer(t)
	var p page
	getJSON(t, env.HTTPBase, "/service_at_locations?per_page=5", &p)
	for _, raw := range p.Contents {
		var sal oruk.ServiceAtLocation
		_ = json.Unmarshal(raw, &sal)
		var again oruk.ServiceAtLocation
		getJSON(t, env.HTTPBase, "/service_at_locations/"+url.PathEscape(sal.ID), &again)
		if again.ID != sal.ID || again.Service == nil || again.Service.ID != sal.ServiceID || again.LocationID != sal.LocationID {
			t.Errorf("service_at_location %s: got %+v", sal.ID, again)
		}
		var svc oruk.Service
		getJSON(t, env.HTTPBase, "/services/"+sal.ServiceID, &svc)
		if len(svc.ServiceAtLocations) != 1 || svc.ServiceAtLocations[0].ID != sal.ID || svc.ServiceAtLocations[0].Location.ID != sal.LocationID {
			t.Errorf("service %s does not hold service_at_location %s", svc.ID, sal.ID)
		}
	}
}

// A postcode is placed where the directory's own assets with that
// postcode are.
func TestPostcodeProximityUsesTheDirectorysAddresses(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	for i, pt := range [][2]float64{{52.4800, -1.9000}, {52.4810, -1.9010}, {52.6000, -1.7000}} {
		_, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
			Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: fmt.Sprintf("Group %d", i),
			Location:          &sparcv1.Location{Latitude: pt[0], Longitude: pt[1], Postcode: []string{"B1 1AA", "B1 1AA", "B20 2BB"}[i], Country: "GB"},
			OwnerOrganisation: "organisations/" + env.AdminOrg,
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	var p page
	b := getJSON(t, env.HTTPBase, "/services?postcode=b1%201aa&proximity=1000", &p)
	validate(t, "service_list.json", b)
	if p.TotalItems != 2 {
		t.Errorf("within 1 km of B1 1AA: %d services, want the 2 groups there: %s", p.TotalItems, b)
	}
	getJSON(t, env.HTTPBase, "/service_at_locations?postcode=B20+2BB&proximity=50000", &p)
	if p.TotalItems != 3 {
		t.Errorf("within 50 km of B20 2BB: %d, want 3", p.TotalItems)
	}
}
