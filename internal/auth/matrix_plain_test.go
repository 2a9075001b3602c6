package auth_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// Plain HTTP routes in the authorisation matrix: they are served beside
// the gateway, pass no gRPC interceptor, and are guarded by the same
// policy table (their patterns are its keys) and the same admission as
// every method, so a bad key is refused on them as on any public method.
// They have no gRPC side: the rows have HTTP calls only.

// plainRow is a row of a plain route taking no id.
func plainRow(pattern, path string) matrixRow {
	return matrixRow{pattern, call{
		http: func(string) (string, string, any) {
			method, _, _ := strings.Cut(pattern, " ")
			return method, path, nil
		},
		setup: noTarget,
	}, publicList}
}

// plainByID is a row of a plain route reading one resource by id.
func plainByID(pattern, prefix string, setup func(t *testing.T, f *fixture, target string) string) matrixRow {
	return matrixRow{pattern, call{
		http:  func(id string) (string, string, any) { return "GET", prefix + id, nil },
		setup: setup,
	}, public}
}

// orukID reads an id from an Open Referral answer at path: the first
// item's of a page, or the first service_at_location's of a service.
func orukID(t *testing.T, f *fixture, path string) string {
	t.Helper()
	resp, err := http.Get(f.env.HTTPBase + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Contents []struct {
			ID string `json:"id"`
		} `json:"contents"`
		ServiceAtLocations []struct {
			ID string `json:"id"`
		} `json:"service_at_locations"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: HTTP %d, %v", path, resp.StatusCode, err)
	}
	switch {
	case len(body.Contents) > 0:
		return body.Contents[0].ID
	case len(body.ServiceAtLocations) > 0:
		return body.ServiceAtLocations[0].ID
	}
	t.Fatalf("GET %s: no id in the answer", path)
	return ""
}

// orukFirst is the first id of an Open Referral list (the vocabularies
// are shared: own and other are the same), or an id that does not exist.
func orukFirst(list string) func(t *testing.T, f *fixture, target string) string {
	return func(t *testing.T, f *fixture, target string) string {
		if target == "missing" {
			return uuid.NewString()
		}
		return orukID(t, f, "/openreferral/"+list+"?per_page=1")
	}
}

// serviceAtLocation is the service_at_location of an asset of the target.
func serviceAtLocation(t *testing.T, f *fixture, target string) string {
	if target == "missing" {
		return uuid.NewString()
	}
	return orukID(t, f, "/openreferral/services/"+f.asset(t, target))
}

// consoleAsset is the name of the console's script, as its page names it.
func consoleAsset(t *testing.T, f *fixture) string {
	t.Helper()
	resp, err := http.Get(f.env.HTTPBase + "/app/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`/app/assets/(app-[\w-]+\.js)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("GET /app/: HTTP %d, no script named (is the console built? make web)", resp.StatusCode)
	}
	return string(m[1])
}

// Open data in other forms: open to every caller with a valid key or none.
func plainRows() []matrixRow {
	const cov = "?kind=lsoa"
	// A report of an area that does not exist: NOT_FOUND, as GetArea.
	reportRow := row{ok, ok, nf}
	return []matrixRow{
		plainRow("GET /openapi.json", "/openapi.json"),
		plainRow("GET /openreferral/{$}", "/openreferral/"),
		plainRow("GET /openreferral", "/openreferral"),
		plainRow("GET /openreferral/openapi.json", "/openreferral/openapi.json"),
		plainRow("GET /openreferral/services", "/openreferral/services"),
		plainByID("GET /openreferral/services/{id}", "/openreferral/services/", assetTarget),
		plainRow("GET /openreferral/service_at_locations", "/openreferral/service_at_locations"),
		plainByID("GET /openreferral/service_at_locations/{id}", "/openreferral/service_at_locations/", serviceAtLocation),
		plainRow("GET /openreferral/organizations", "/openreferral/organizations"),
		plainByID("GET /openreferral/organizations/{id}", "/openreferral/organizations/", orgTarget),
		plainRow("GET /openreferral/taxonomies", "/openreferral/taxonomies"),
		plainByID("GET /openreferral/taxonomies/{id}", "/openreferral/taxonomies/", orukFirst("taxonomies")),
		plainRow("GET /openreferral/taxonomy_terms", "/openreferral/taxonomy_terms"),
		plainByID("GET /openreferral/taxonomy_terms/{id}", "/openreferral/taxonomy_terms/", orukFirst("taxonomy_terms")),
		plainRow("OPTIONS /openreferral/", "/openreferral/services"), // a browser's preflight (204)
		plainRow("GET /v1/coverage.geojson", "/v1/coverage.geojson"+cov),
		plainRow("GET /v1/coverage.csv", "/v1/coverage.csv"+cov),
		// Demand by where people live: as ComputeDemand (admins and area
		// analysts, any organisation's figures, released unless their own).
		{"GET /v1/demand.csv", call{
			http: func(org string) (string, string, any) {
				return "GET", "/v1/demand.csv?kind=lsoa&organisation=organisations/" + org, nil
			},
			setup: func(t *testing.T, f *fixture, target string) string { f.areaCode(t, "own"); return f.org(target) },
		}, table(allOK, allPD, allPD, allOK, allPD, allUnauth)},
		{"GET /v1/demand.geojson", call{
			http: func(org string) (string, string, any) {
				return "GET", "/v1/demand.geojson?kind=lsoa&organisation=organisations/" + org, nil
			},
			setup: func(t *testing.T, f *fixture, target string) string { f.areaCode(t, "own"); return f.org(target) },
		}, table(allOK, allPD, allPD, allOK, allPD, allUnauth)},
		// The referral network's exports: as GetReferralNetwork.
		{"GET /v1/referralNetwork.graphml", call{
			http:  func(string) (string, string, any) { return "GET", "/v1/referralNetwork.graphml", nil },
			setup: noTarget,
		}, table(allOK, allPD, allPD, allOK, allPD, allUnauth)},
		{"GET /v1/referralNetwork.csv", call{
			http:  func(string) (string, string, any) { return "GET", "/v1/referralNetwork.csv?table=edges", nil },
			setup: noTarget,
		}, table(allOK, allPD, allPD, allOK, allPD, allUnauth)},
		// The neighbourhood report (internal/reports): as
		// GetReferralNetwork, of an area that exists or one that does not.
		{"GET /v1/reports/neighbourhood", call{
			http: func(code string) (string, string, any) {
				return "GET", "/v1/reports/neighbourhood?format=html&area=" + code, nil
			},
			setup: func(t *testing.T, f *fixture, target string) string { return f.areaCode(t, target) },
		}, table(reportRow, allPD, allPD, reportRow, allPD, allUnauth)},
		plainRow("GET /tiles/assets/{z}/{x}/{y}", "/tiles/assets/0/0/0.mvt"),
		plainRow("GET /tiles/coverage/{z}/{x}/{y}", "/tiles/coverage/0/0/0.mvt"+cov),
		plainRow("GET /map", "/map"),
		plainRow("GET /map/{file}", "/map/map.js"),
		// The web console: / is a 404 to an API client (a browser is
		// redirected, in internal/console's tests); its files are public.
		{"GET /{$}", plainRow("GET /{$}", "/").call, table(allNF, allNF, allNF, allNF, allNF, allNF)},
		plainRow("GET /app/{$}", "/app/"),
		plainRow("GET /app/config.json", "/app/config.json"),
		{"GET /app/assets/{file}", call{
			http:  func(file string) (string, string, any) { return "GET", "/app/assets/" + file, nil },
			setup: func(t *testing.T, f *fixture, _ string) string { return consoleAsset(t, f) },
		}, publicList},
		// The printable referral: the referring side's link workers and
		// admin; the fixture's referral is to the organisation's own
		// asset, so its group editor is the provider, refused as not found.
		{"GET /v1/referrals/{id}/print", call{
			http:  func(id string) (string, string, any) { return "GET", "/v1/" + id + "/print", nil },
			setup: func(t *testing.T, f *fixture, target string) string { return f.referral(t, target) },
		}, table(writeOwned, writeOwned, allNF, allPD, allPD, allUnauth)},
	}
}
