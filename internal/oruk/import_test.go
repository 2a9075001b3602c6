package oruk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/oruk/orukclient"
	"github.com/sparc-network/sparc/internal/testenv"
)

// importer runs imports through the server's DirectoryImportService as
// the test admin, as `sparc import oruk` does.
func importer(env *testenv.Env) orukclient.UpsertFunc {
	c := sparcv1.NewDirectoryImportServiceClient(env.Conn)
	return func(ctx context.Context, req *sparcv1.UpsertSourcedAssetsRequest) (*sparcv1.UpsertSourcedAssetsResponse, error) {
		return c.UpsertSourcedAssets(ctx, req)
	}
}

func importDump(t *testing.T, env *testenv.Env, source string, dump []byte) *orukclient.Report {
	t.Helper()
	recs, err := orukclient.ParseDump(dump)
	if err != nil {
		t.Fatalf("parsing %s: %v", source, err)
	}
	rep, err := orukclient.Import(context.Background(), recs, nil, orukclient.MapOptions{Source: source}, false, importer(env))
	if err != nil {
		t.Fatalf("importing %s: %v", source, err)
	}
	return rep
}

func export(t *testing.T, env *testenv.Env) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := orukclient.Export(context.Background(), &buf, env.Assets, sparcv1.NewOrganisationServiceClient(env.Conn)); err != nil {
		t.Fatalf("exporting: %v", err)
	}
	return buf.Bytes()
}

// allAssets returns every asset by id.
func allAssets(t *testing.T, env *testenv.Env) map[string]*sparcv1.Asset {
	t.Helper()
	out := map[string]*sparcv1.Asset{}
	req := &sparcv1.ListAssetsRequest{PageSize: 100}
	for {
		resp, err := env.Assets.ListAssets(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range resp.GetAssets() {
			out[assets.ID(a).String()] = a
		}
		if resp.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// fixCoordinates changes only what makes the official examples
// unimportable in SPARC: latitude 100 / longitude 101 and country "US"
// become a real place in Birmingham, GB.
func fixCoordinates(b []byte) []byte {
	s := string(b)
	s = strings.ReplaceAll(s, `"latitude": 100`, `"latitude": 52.4796`)
	s = strings.ReplaceAll(s, `"longitude": 101`, `"longitude": -1.9026`)
	s = strings.ReplaceAll(s, `"country": "US"`, `"country": "GB"`)
	return []byte(s)
}

func problems(rep *orukclient.Report, severity string) []string {
	var out []string
	for _, p := range rep.Problems {
		if p.Severity == severity {
			out = append(out, p.Record+": "+p.Message)
		}
	}
	return out
}

func TestTheSchemaCheckCatchesANonConformingService(t *testing.T) {
	inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"id": "123", "name": "No status", "url": "not a uri"}`))
	if err := orukSchema(t, "service.json").Validate(inst); err == nil {
		t.Fatal("a service with a non-UUID id, no status and a bad url validated")
	}
}

// Import the official examples (coordinates fixed), export, re-import the
// export: nothing changes, nothing is duplicated, and the second export
// is byte for byte the first.
func TestOfficialExamplesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, file := range []string{
		"oruk-3.0/examples/service_full.json",
		"hsds-3.0/examples/service_full.json",
		"oruk-3.0/examples/organization_full.json",
		"hsds-3.0/examples/organization_full.json",
	} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			env := testenv.NewServer(t)
			rep := importDump(t, env, "file:"+file, fixCoordinates(readTestdata(t, file)))
			if rep.Created != 1 || rep.Rejected != 0 {
				t.Fatalf("first import: %+v\nerrors: %v", rep, problems(rep, "error"))
			}
			if len(problems(rep, "warning")) == 0 {
				t.Error("the example's monthly days, unknown taxonomy and bad service area should be reported as warnings")
			}
			before := allAssets(t, env)
			a := before["ac148810-d857-441c-9679-408f346de14b"]
			if a == nil {
				t.Fatalf("the example's service id should be the asset id; have %v", before)
			}
			if a.GetDisplayName() != "Community Counselling" || a.GetLocation().GetLatitude() != 52.4796 ||
				a.GetAgeRange().GetMinAge() != 12 || len(a.GetSessions()) != 2 || a.GetCost().GetKind() != sparcv1.CostKind_COST_KIND_PAID {
				t.Errorf("mapped asset: %v", a)
			}

			dump1 := export(t, env)
			validate(t, "service_list.json", dump1)
			rep2 := importDump(t, env, "file:dump.json", dump1)
			if rep2.Unchanged != len(before) || rep2.Created+rep2.Updated+rep2.Rejected != 0 {
				t.Fatalf("re-importing the export changed something: %+v\n%v", rep2, rep2.Problems)
			}
			after := allAssets(t, env)
			if len(after) != len(before) {
				t.Fatalf("%d assets after re-import, %d before", len(after), len(before))
			}
			for id, b := range before {
				if !proto.Equal(b, after[id]) {
					t.Errorf("asset %s changed:\nbefore %v\nafter  %v", id, b, after[id])
				}
			}
			if dump2 := export(t, env); !bytes.Equal(dump1, dump2) {
				t.Errorf("second export differs from the first:\n%s\n%s", dump1, dump2)
			}
			// The original feed again: idempotent too.
			if rep3 := importDump(t, env, "file:"+file, fixCoordinates(readTestdata(t, file))); rep3.Unchanged != 1 || rep3.Created+rep3.Updated != 0 {
				t.Errorf("re-importing the example: %+v", rep3)
			}
		})
	}
}

// The demo directory survives export and import into a fresh SPARC.
func TestDemoDirectoryRoundTripsThroughADump(t *testing.T) {
	t.Parallel()
	src := demoServer(t)
	dump := export(t, src)
	validate(t, "service_list.json", dump)
	want := allAssets(t, src)

	dst := testenv.NewServer(t)
	rep := importDump(t, dst, "file:demo.json", dump)
	if rep.Created != len(want) || rep.Rejected != 0 || len(rep.Problems) != 0 {
		t.Fatalf("import into a fresh SPARC: %+v\n%v", rep, rep.Problems)
	}
	got := allAssets(t, dst)
	for id, w := range want {
		g := got[id]
		if g == nil {
			t.Errorf("asset %s missing", id)
			continue
		}
		// Ownership and server-kept times are not part of the feed.
		for _, a := range []*sparcv1.Asset{w, g} {
			a.OwnerOrganisation, a.CreateTime, a.UpdateTime, a.Etag = "", nil, nil, ""
		}
		if !proto.Equal(w, g) {
			t.Errorf("asset %s:\nsource %v\nimport %v", id, w, g)
		}
	}
}

func TestReimportUpdatesOnlyChangedRecords(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	feed := fixCoordinates(readTestdata(t, "oruk-3.0/examples/service_full.json"))
	importDump(t, env, "file:feed.json", feed)
	changed := bytes.Replace(feed, []byte(`"name": "Community Counselling"`), []byte(`"name": "Community Counselling Service"`), 1)
	rep := importDump(t, env, "file:feed.json", changed)
	if rep.Updated != 1 || rep.Created != 0 {
		t.Fatalf("import of a changed record: %+v", rep)
	}
	all := allAssets(t, env)
	if len(all) != 1 || all["ac148810-d857-441c-9679-408f346de14b"].GetDisplayName() != "Community Counselling Service" {
		t.Errorf("after update: %v", all)
	}
}

// service builds a minimal valid ORUK service for the feeds below.
func service(id, name string, lat float64) map[string]any {
	return map[string]any{
		"id": id, "name": name, "status": "active",
		"service_at_locations": []any{map[string]any{
			"id": id[:35] + "f",
			"location": map[string]any{"id": id[:35] + "e", "location_type": "physical", "latitude": lat, "longitude": -1.9,
				"addresses": []any{map[string]any{"id": id[:35] + "d", "address_1": "1 High St", "city": "Birmingham",
					"state_province": "", "postal_code": "B1 1AA", "country": "GB", "address_type": "physical"}}},
		}},
	}
}

func feed(t *testing.T, items ...any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"contents": items})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	goodID  = "11111111-1111-4111-8111-111111111111"
	otherID = "22222222-2222-4222-8222-222222222222"
)

func TestBadFeedsAreReportedAndNothingOfABadRecordIsWritten(t *testing.T) {
	t.Parallel()
	noStatus := service(otherID, "No status", 52.4)
	delete(noStatus, "status")
	noName := service(otherID, "", 52.4)
	stringLat := service(otherID, "Latitude as text", 52.4)
	stringLat["service_at_locations"].([]any)[0].(map[string]any)["location"].(map[string]any)["latitude"] = "52.4"
	badEmail := service(otherID, "Bad age", 52.4)
	badEmail["minimum_age"] = 12.5
	twoLocations := service(otherID, "Two places", 52.4)
	bad := service("33333333-3333-4333-8333-333333333333", "x", 100)["service_at_locations"].([]any)[0]
	twoLocations["service_at_locations"] = append(twoLocations["service_at_locations"].([]any), bad)

	cases := []struct {
		name      string
		dump      []byte
		wantAsset int      // assets written
		wantError []string // each must appear in the report's errors
	}{
		{"missing status", feed(t, service(goodID, "Good", 52.4), noStatus), 1, []string{"status: required field is missing"}},
		{"missing name", feed(t, service(goodID, "Good", 52.4), noName), 1, []string{"name: required field is missing"}},
		{"latitude 100 (the official example as published)", readTestdata(t, "oruk-3.0/examples/service_full.json"), 0,
			[]string{"latitude: 100 is not a latitude", `country "US" is outside`}},
		{"latitude 100 in HSDS", readTestdata(t, "hsds-3.0/examples/service_full.json"), 0, []string{"latitude: 100 is not a latitude"}},
		{"duplicate ids", feed(t, service(goodID, "First", 52.4), service(goodID, "Second", 52.5), service(otherID, "Other", 52.6)), 1,
			[]string{"duplicate id: service " + goodID + " appears 2 times"}},
		{"wrong type", feed(t, service(goodID, "Good", 52.4), stringLat), 1, []string{"field service_at_locations.location.latitude: string"}},
		{"fractional age", feed(t, service(goodID, "Good", 52.4), badEmail), 1, []string{"minimum_age: 12.5 is not a whole number"}},
		{"one bad location of two", feed(t, twoLocations), 1, []string{"service_at_locations[1].location.latitude: 100"}},
		{"not a service", []byte(`{"contents": [42, "x"]}`), 0, []string{"record 1: not a readable service", "record 2: not a readable service"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.NewServer(t)
			rep := importDump(t, env, "file:bad.json", c.dump)
			errs := strings.Join(problems(rep, "error"), "\n")
			for _, w := range c.wantError {
				if !strings.Contains(errs, w) {
					t.Errorf("report errors do not mention %q:\n%s", w, errs)
				}
			}
			got := allAssets(t, env)
			if len(got) != c.wantAsset || rep.Created != c.wantAsset {
				t.Errorf("%d assets written (report: %d created), want %d", len(got), rep.Created, c.wantAsset)
			}
			for _, a := range got {
				if a.GetDisplayName() != "Good" && a.GetDisplayName() != "Other" && a.GetDisplayName() != "Two places" {
					t.Errorf("a bad record was written: %v", a)
				}
			}
		})
	}
	t.Run("invalid JSON", func(t *testing.T) {
		for _, b := range []string{`{"contents": [`, `not json`, ``, `{"contents": [{"id": "x",}]}`} {
			if _, err := orukclient.ParseDump([]byte(b)); err == nil || !strings.Contains(err.Error(), "feed") {
				t.Errorf("%q: err %v, want a clear feed error", b, err)
			}
		}
	})
}

// feedServer serves an ORUK API over the services given, paged, and
// lets a test stall chosen requests.
type feedServer struct {
	services map[string]map[string]any
	order    []string
	stall    func(r *http.Request) bool
	requests atomic.Int64
}

func (f *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if f.stall != nil && f.stall(r) {
		<-r.Context().Done() // never answers; the client must give up
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if id, ok := strings.CutPrefix(r.URL.Path, "/openreferral/services/"); ok {
		s, found := f.services[id]
		if !found {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(s)
		return
	}
	var page, per int
	fmt.Sscan(r.URL.Query().Get("page"), &page)
	fmt.Sscan(r.URL.Query().Get("per_page"), &per)
	var contents []any
	for i := (page - 1) * per; i < min(page*per, len(f.order)); i++ {
		s := f.services[f.order[i]]
		contents = append(contents, map[string]any{"id": s["id"], "name": s["name"], "status": s["status"]}) // list level
	}
	pages := (len(f.order) + per - 1) / per
	_ = json.NewEncoder(w).Encode(map[string]any{"total_items": len(f.order), "total_pages": pages, "page_number": page,
		"size": len(contents), "first_page": page == 1, "last_page": page >= pages, "empty": len(contents) == 0, "contents": contents})
}

func newFeed(n int) *feedServer {
	f := &feedServer{services: map[string]map[string]any{}}
	for i := range n {
		id := fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
		f.services[id] = service(id, fmt.Sprintf("Service %d", i), 52.4+float64(i)/1000)
		f.order = append(f.order, id)
	}
	sort.Strings(f.order)
	return f
}

func TestRemoteFeedIsReadPageByPageWithDetails(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	f := newFeed(23)
	srv := httptest.NewServer(f)
	defer srv.Close()
	recs, fetchErrs, err := (&orukclient.Fetcher{PerPage: 5, Concurrency: 3, RequestTimeout: 5 * time.Second}).Fetch(context.Background(), srv.URL+"/openreferral")
	if err != nil || len(fetchErrs) != 0 || len(recs) != 23 {
		t.Fatalf("fetch: %d records, %v, %v", len(recs), fetchErrs, err)
	}
	if got := f.requests.Load(); got != 5+23 {
		t.Errorf("%d requests, want 5 list pages + 23 details", got)
	}
	rep, err := orukclient.Import(context.Background(), recs, fetchErrs, orukclient.MapOptions{Source: srv.URL}, false, importer(env))
	if err != nil || rep.Created != 23 || rep.Rejected != 0 {
		t.Fatalf("import: %+v, %v", rep, err)
	}
}

func TestAFeedThatStallsIsReportedAndNothingHalfImported(t *testing.T) {
	t.Parallel()
	t.Run("a detail request stalls", func(t *testing.T) {
		t.Parallel()
		env := testenv.NewServer(t)
		f := newFeed(6)
		stalled := f.order[2]
		f.stall = func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, stalled) }
		srv := httptest.NewServer(f)
		defer srv.Close()
		start := time.Now()
		recs, fetchErrs, err := (&orukclient.Fetcher{RequestTimeout: 300 * time.Millisecond}).Fetch(context.Background(), srv.URL+"/openreferral")
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("fetch took %s; the timeout is 300ms", took)
		}
		rep, err := orukclient.Import(context.Background(), recs, fetchErrs, orukclient.MapOptions{Source: srv.URL}, false, importer(env))
		if err != nil {
			t.Fatal(err)
		}
		errs := strings.Join(problems(rep, "error"), "\n")
		if rep.Created != 5 || rep.Rejected != 1 || !strings.Contains(errs, stalled) || !strings.Contains(errs, "no answer within 300ms") {
			t.Errorf("report %+v\n%s", rep, errs)
		}
		if _, ok := allAssets(t, env)[stalled]; ok {
			t.Error("the stalled service was imported")
		}
	})
	t.Run("a list page stalls", func(t *testing.T) {
		t.Parallel()
		env := testenv.NewServer(t)
		f := newFeed(12)
		f.stall = func(r *http.Request) bool { return r.URL.Query().Get("page") == "2" }
		srv := httptest.NewServer(f)
		defer srv.Close()
		_, _, err := (&orukclient.Fetcher{PerPage: 5, RequestTimeout: 300 * time.Millisecond}).Fetch(context.Background(), srv.URL+"/openreferral")
		if err == nil || !strings.Contains(err.Error(), "page 2") || !strings.Contains(err.Error(), "no answer within") {
			t.Fatalf("err %v, want page 2 timed out", err)
		}
		if n := len(allAssets(t, env)); n != 0 {
			t.Errorf("%d assets written from a feed that could not be read", n)
		}
	})
}

// SPARC reads another SPARC's ORUK API: the same services arrive.
func TestOneSPARCImportsAnothersORUKAPI(t *testing.T) {
	t.Parallel()
	src := demoServer(t)
	dst := testenv.NewServer(t)
	recs, fetchErrs, err := (&orukclient.Fetcher{PerPage: 100}).Fetch(context.Background(), src.HTTPBase+"/openreferral")
	if err != nil || len(fetchErrs) != 0 {
		t.Fatal(err, fetchErrs)
	}
	want := allAssets(t, src)
	rep, err := orukclient.Import(context.Background(), recs, nil, orukclient.MapOptions{Source: src.HTTPBase}, false, importer(dst))
	if err != nil || rep.Created != len(want) || rep.Rejected != 0 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	if got := allAssets(t, dst); len(got) != len(want) {
		t.Errorf("%d assets, want %d", len(got), len(want))
	}
}

func TestUpsertRPCRefusesBadEnvelopes(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	c := sparcv1.NewDirectoryImportServiceClient(env.Conn)
	good := "assets/" + goodID
	rec := func(sourceID, asset string) *sparcv1.SourcedAsset {
		return &sparcv1.SourcedAsset{SourceId: sourceID, AssetName: asset}
	}
	for name, tc := range map[string]struct {
		req   *sparcv1.UpsertSourcedAssetsRequest
		field string
	}{
		"no source":          {&sparcv1.UpsertSourcedAssetsRequest{Records: []*sparcv1.SourcedAsset{rec("a", good)}}, "source"},
		"blank source":       {&sparcv1.UpsertSourcedAssetsRequest{Source: " \t", Records: []*sparcv1.SourcedAsset{rec("a", good)}}, "source"},
		"long source":        {&sparcv1.UpsertSourcedAssetsRequest{Source: strings.Repeat("é", 501)}, "source"},
		"not a name":         {&sparcv1.UpsertSourcedAssetsRequest{Source: "s", Records: []*sparcv1.SourcedAsset{rec("a", "x")}}, "records[0].asset_name"},
		"bare UUID":          {&sparcv1.UpsertSourcedAssetsRequest{Source: "s", Records: []*sparcv1.SourcedAsset{rec("a", goodID)}}, "records[0].asset_name"},
		"another collection": {&sparcv1.UpsertSourcedAssetsRequest{Source: "s", Records: []*sparcv1.SourcedAsset{rec("a", "people/"+goodID)}}, "records[0].asset_name"},
		"upper-case UUID":    {&sparcv1.UpsertSourcedAssetsRequest{Source: "s", Records: []*sparcv1.SourcedAsset{rec("a", strings.ToUpper(good))}}, "records[0].asset_name"},
		"no asset name":      {&sparcv1.UpsertSourcedAssetsRequest{Source: "s", Records: []*sparcv1.SourcedAsset{rec("a", "")}}, "records[0].asset_name"},
		"no source id":       {&sparcv1.UpsertSourcedAssetsRequest{Source: "s", Records: []*sparcv1.SourcedAsset{rec("", good)}}, "records[0].source_id"},
		"same name twice":    {&sparcv1.UpsertSourcedAssetsRequest{Source: "s", Records: []*sparcv1.SourcedAsset{rec("a", good), rec("b", good)}}, "records[1].asset_name"},
		"too many":           {&sparcv1.UpsertSourcedAssetsRequest{Source: "s", Records: make([]*sparcv1.SourcedAsset, 1001)}, "records"},
	} {
		_, err := c.UpsertSourcedAssets(context.Background(), tc.req)
		if status.Code(err) != codes.InvalidArgument || !slices.Contains(violations(err), tc.field) {
			t.Errorf("%s: %v, want INVALID_ARGUMENT with a violation on %s", name, err, tc.field)
		}
	}
}

// Every result names its record's asset by resource name, rejected ones
// too, so a client can match results to assets without parsing.
func TestUpsertResultsNameTheirAssets(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	c := sparcv1.NewDirectoryImportServiceClient(env.Conn)
	resp, err := c.UpsertSourcedAssets(context.Background(), &sparcv1.UpsertSourcedAssetsRequest{Source: "s",
		Records: []*sparcv1.SourcedAsset{{SourceId: "a", AssetName: "assets/" + goodID}}})
	if err != nil {
		t.Fatal(err)
	}
	r := resp.GetResults()
	if len(r) != 1 || r[0].GetAsset() != "assets/"+goodID || r[0].GetSourceId() != "a" ||
		r[0].GetOutcome() != sparcv1.UpsertOutcome_UPSERT_OUTCOME_REJECTED || len(r[0].GetViolations()) == 0 {
		t.Fatalf("results %v, want one rejected (no asset) naming assets/%s", r, goodID)
	}
}

// violations returns the BadRequest field paths of err.
func violations(err error) []string {
	st, _ := status.FromError(err)
	var out []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	return out
}

// Service areas take the statement path (geometry compared in the
// database); it must be as idempotent as the set-based one.
func TestServiceAreasImportOnceAndUpdateWhenChanged(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	withArea := func(extent string) []byte {
		s := service(goodID, "Covers an area", 52.48)
		s["service_areas"] = []any{map[string]any{"id": otherID, "extent_type": "geojson", "extent": extent}}
		return feed(t, s)
	}
	square := `{"type":"Polygon","coordinates":[[[-1.95,52.45],[-1.85,52.45],[-1.85,52.52],[-1.95,52.52],[-1.95,52.45]]]}`
	bigger := `{"type":"Polygon","coordinates":[[[-2.0,52.4],[-1.8,52.4],[-1.8,52.55],[-2.0,52.55],[-2.0,52.4]]]}`
	for i, step := range []struct {
		extent                      string
		created, updated, unchanged int
	}{{square, 1, 0, 0}, {square, 0, 0, 1}, {bigger, 0, 1, 0}, {bigger, 0, 0, 1}} {
		rep := importDump(t, env, "file:area.json", withArea(step.extent))
		if rep.Created != step.created || rep.Updated != step.updated || rep.Unchanged != step.unchanged {
			t.Fatalf("import %d: %+v %v", i+1, rep, rep.Problems)
		}
	}
	a := allAssets(t, env)[goodID]
	if !strings.Contains(a.GetServiceAreaGeojson(), "-2") {
		t.Errorf("service area not updated: %s", a.GetServiceAreaGeojson())
	}
	// The export carries the area, and importing it changes nothing.
	if rep := importDump(t, env, "file:dump.json", export(t, env)); rep.Unchanged != 1 {
		t.Errorf("re-importing the export: %+v %v", rep, rep.Problems)
	}
}
