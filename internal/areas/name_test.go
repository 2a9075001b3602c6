package areas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/areas/areaclient"
	"github.com/sparc-network/sparc/internal/testenv"
)

// fieldViolations returns the BadRequest violations of err by field.
func fieldViolations(err error) map[string]string {
	out := map[string]string{}
	for _, v := range testenv.FieldViolations(err) {
		out[v.GetField()] = v.GetDescription()
	}
	return out
}

func TestAreasAreNamedByTheirCodeAndGetAreaTakesTheName(t *testing.T) {
	t.Parallel()
	env, c := newAreaServer(t)
	ctx := context.Background()
	mustImport(t, c, demoFile(t, "wirral-msoa-2011.geojson"), "wirral-msoa", "msoa", msoaFields)
	a, err := c.GetArea(ctx, &sparcv1.GetAreaRequest{Name: "areas/E02001501"})
	if err != nil {
		t.Fatal(err)
	}
	if a.GetName() != "areas/E02001501" || a.GetCode() != "E02001501" || !strings.HasPrefix(a.GetDisplayName(), "Wirral ") {
		t.Errorf("GetArea: name %q code %q display name %q", a.GetName(), a.GetCode(), a.GetDisplayName())
	}

	// The URL is the one it always was: /v1/ and the name.
	resp, err := http.Get(env.HTTPBase + "/v1/areas/E02001501")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); resp.StatusCode != http.StatusOK || err != nil ||
		doc["name"] != "areas/E02001501" || doc["display_name"] != a.GetDisplayName() || doc["code"] != "E02001501" {
		t.Errorf("GET /v1/areas/E02001501: %d %s", resp.StatusCode, body)
	}

	for _, bad := range []string{"", "E02001501", "assets/E02001501", "areas/", "areas/E02001501/x", "areas/E02 001501",
		"areas//E02001501", "areas/" + strings.Repeat("E", 65)} {
		_, err := c.GetArea(ctx, &sparcv1.GetAreaRequest{Name: bad})
		if status.Code(err) != codes.InvalidArgument || fieldViolations(err)["name"] == "" {
			t.Errorf("GetArea(%q) = %v, want INVALID_ARGUMENT on name", bad, err)
		}
	}
}

func TestListingAreasFiltersByParentCodeOrNameAndBoundsGeometryPages(t *testing.T) {
	t.Parallel()
	_, c := newAreaServer(t)
	ctx := context.Background()
	mustImport(t, c, demoFile(t, "wirral-lsoa-2011.geojson"), "wirral", "lsoa", lsoaFields)
	byCode, err := c.ListAreas(ctx, &sparcv1.ListAreasRequest{ParentCode: "E02001501"})
	if err != nil {
		t.Fatal(err)
	}
	byName, err := c.ListAreas(ctx, &sparcv1.ListAreasRequest{ParentCode: "areas/E02001501"})
	if err != nil {
		t.Fatal(err)
	}
	if len(byCode.GetAreas()) == 0 || len(byName.GetAreas()) != len(byCode.GetAreas()) {
		t.Errorf("children by code %d, by name %d", len(byCode.GetAreas()), len(byName.GetAreas()))
	}

	// Boundaries are large: a page with geometry holds at most 100 areas,
	// whatever the page size asked, and the token goes on from there.
	req := &sparcv1.ListAreasRequest{Kind: "lsoa", IncludeGeometry: true, SimplifyMeters: 50, PageSize: 500}
	first, err := c.ListAreas(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.GetAreas()) != 100 || first.GetNextPageToken() == "" {
		t.Fatalf("first page with geometry: %d areas, next %q; want 100 and a token", len(first.GetAreas()), first.GetNextPageToken())
	}
	req.PageToken = first.GetNextPageToken()
	second, err := c.ListAreas(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.GetAreas()) != 100 || second.GetAreas()[0].GetCode() <= first.GetAreas()[99].GetCode() {
		t.Errorf("second page: %d areas, starting at %s", len(second.GetAreas()), second.GetAreas()[0].GetCode())
	}

	// A token belongs to its query.
	_, err = c.ListAreas(ctx, &sparcv1.ListAreasRequest{Kind: "msoa", PageToken: first.GetNextPageToken()})
	if status.Code(err) != codes.InvalidArgument || fieldViolations(err)["page_token"] == "" {
		t.Errorf("a token of another query: %v, want INVALID_ARGUMENT on page_token", err)
	}
}

func TestImportReportsBadDisplayNamesAndCountsProblemsOnce(t *testing.T) {
	t.Parallel()
	_, c := newAreaServer(t)
	square := `{"type":"Polygon","coordinates":[[[-1.9,52.4],[-1.8,52.4],[-1.8,52.5],[-1.9,52.5],[-1.9,52.4]]]}`
	var features []string
	for i := 1; i <= 62; i++ {
		code, name := fmt.Sprintf("E0199%04d", i), "Area"
		switch i {
		case 1:
			name = " "
		case 2:
			name = strings.Repeat("é", 201) // 402 bytes but 201 characters: too long
		case 3:
			name = strings.Repeat("é", 200) // the maximum, in characters
		default:
			code = "" // 59 more problems: more than the 50 listed
		}
		features = append(features, fmt.Sprintf(`{"type":"Feature","properties":{"code":%q,"name":%q},"geometry":%s}`, code, name, square))
	}
	file := `{"type":"FeatureCollection","features":[` + strings.Join(features, ",") + `]}`
	_, err := areaclient.ImportGeoJSON(context.Background(), c, bytes.NewReader([]byte(file)), "names.geojson", "lsoa", msoaFields)
	got := fieldViolations(err)
	if !strings.Contains(got["features[1].display_name"], "is required") ||
		!strings.Contains(got["features[2].display_name"], "201 characters") || got["features[3].display_name"] != "" {
		t.Errorf("violations %v, want features 1 and 2's display_name and not 3's", got)
	}
	// 61 problems: the first 50 are kept and one more says how many
	// were left out, once.
	st, _ := status.FromError(err)
	total := ""
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			total = info.GetMetadata()["total"]
		}
	}
	if total != "51" {
		t.Errorf("total %q, want 51 (50 problems and one line counting the other 11): %v", total, err)
	}
}
