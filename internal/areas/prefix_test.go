package areas_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/areas/areaclient"
	"github.com/sparc-network/sparc/internal/demo"
)

// namesIn reads the names of a boundary file, the test's own oracle.
func namesIn(t *testing.T, b []byte) []string {
	t.Helper()
	var fc struct {
		Features []struct{ Properties struct{ Name string } }
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fc.Features {
		out = append(out, f.Properties.Name)
	}
	return out
}

// hasWordStarting: a word of name (split at spaces, - / ' ( ) ,) starts
// with prefix, case ignored (the test's names have no accents).
func hasWordStarting(name, prefix string) bool {
	words := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return strings.ContainsRune(" -/'(),", r) })
	return slices.ContainsFunc(words, func(w string) bool { return strings.HasPrefix(w, strings.ToLower(prefix)) })
}

// listAllByName pages through a name listing.
func listAllByName(t *testing.T, c sparcv1.AreaServiceClient, req *sparcv1.ListAreasRequest) []*sparcv1.Area {
	t.Helper()
	var out []*sparcv1.Area
	for pages := 0; ; pages++ {
		resp, err := c.ListAreas(context.Background(), req)
		if err != nil {
			t.Fatalf("ListAreas(%v): %v", req, err)
		}
		out = append(out, resp.GetAreas()...)
		if resp.GetNextPageToken() == "" {
			return out
		}
		if pages > 50 {
			t.Fatal("paging does not end")
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

func TestListingAreasByTheStartOfAWordOfTheirName(t *testing.T) {
	t.Parallel()
	env, c := newAreaServer(t)
	ctx := context.Background()
	buurten, err := demo.ReadAreaData("data/rotterdam-buurten-cbs.geojson.gz")
	if err != nil {
		t.Fatal(err)
	}
	files := []struct {
		b      []byte
		kind   string
		fields areaclient.GeoJSONFields
	}{
		{demoFile(t, "wirral-msoa-2011.geojson"), "msoa", msoaFields},
		{demoFile(t, "wirral-lsoa-2011.geojson"), "lsoa", lsoaFields},
		{buurten, "buurt", msoaFields},
	}
	var all []string
	for _, f := range files {
		mustImport(t, c, f.b, f.kind, f.kind, f.fields)
		all = append(all, namesIn(t, f.b)...)
	}

	// Every area with a word starting so, each once, shortest names first
	// (the MSOAs "Wirral 001" before the LSOAs "Wirral 001A"), paged.
	for _, prefix := range []string{"wirr", "WIRRAL 00", "noord", "Nöord", "grav", "kop van"} {
		var want []string
		for _, n := range all {
			if hasWordStarting(n, strings.ReplaceAll(prefix, "ö", "o")) || strings.HasPrefix(strings.ToLower(n), strings.ToLower(prefix)) {
				want = append(want, n)
			}
		}
		got := listAllByName(t, c, &sparcv1.ListAreasRequest{DisplayNamePrefix: prefix, PageSize: 7})
		var names []string
		for i, a := range got {
			names = append(names, a.GetDisplayName())
			if i > 0 {
				prev := got[i-1].GetDisplayName()
				pl, l := utf8.RuneCountInString(prev), utf8.RuneCountInString(a.GetDisplayName())
				if pl > l || (pl == l && prev >= a.GetDisplayName()) {
					t.Errorf("%q: %q listed before %q", prefix, prev, a.GetDisplayName())
				}
			}
		}
		slices.Sort(names)
		slices.Sort(want)
		if len(want) == 0 || !slices.Equal(names, want) {
			t.Errorf("areas with a word starting %q: got %d %v, want %d %v", prefix, len(names), names, len(want), want)
		}
	}
	first, err := c.ListAreas(ctx, &sparcv1.ListAreasRequest{DisplayNamePrefix: "wirral 0", PageSize: 1})
	if err != nil || len(first.GetAreas()) != 1 || first.GetAreas()[0].GetDisplayName() != "Wirral 001" || first.GetAreas()[0].GetKind() != "msoa" {
		t.Errorf("first area named \"wirral 0…\": %v, %v; want the MSOA Wirral 001", first, err)
	}

	// With the other filters; wildcards are letters.
	for _, q := range []struct {
		req  *sparcv1.ListAreasRequest
		want int
	}{
		{&sparcv1.ListAreasRequest{DisplayNamePrefix: "wirr", Kind: "buurt"}, 0},
		{&sparcv1.ListAreasRequest{DisplayNamePrefix: "wirral", ParentCode: "E02001501"}, len(listAllByName(t, c, &sparcv1.ListAreasRequest{ParentCode: "E02001501"}))},
		{&sparcv1.ListAreasRequest{DisplayNamePrefix: "w_rral"}, 0},
		{&sparcv1.ListAreasRequest{DisplayNamePrefix: "%irral"}, 0},
		{&sparcv1.ListAreasRequest{DisplayNamePrefix: "stads", Bbox: "4.47,51.91,4.50,51.93"}, 1},
		{&sparcv1.ListAreasRequest{DisplayNamePrefix: "stads", Bbox: "-3.2,53.3,-2.9,53.45"}, 0},
	} {
		if got := listAllByName(t, c, q.req); len(got) != q.want {
			t.Errorf("ListAreas(%v): %d areas, want %d", q.req, len(got), q.want)
		}
	}

	// Bad input is refused on its field; a token belongs to its query.
	for _, bad := range []string{"w", " w ", strings.Repeat("w", 101)} {
		_, err := c.ListAreas(ctx, &sparcv1.ListAreasRequest{DisplayNamePrefix: bad})
		if status.Code(err) != codes.InvalidArgument || fieldViolations(err)["display_name_prefix"] == "" {
			t.Errorf("display_name_prefix %q: %v, want INVALID_ARGUMENT on it", bad, err)
		}
	}
	page, err := c.ListAreas(ctx, &sparcv1.ListAreasRequest{DisplayNamePrefix: "wirr", PageSize: 2})
	if err != nil || page.GetNextPageToken() == "" {
		t.Fatalf("a first page: %v %v", page, err)
	}
	_, err = c.ListAreas(ctx, &sparcv1.ListAreasRequest{PageSize: 2, PageToken: page.GetNextPageToken()})
	if status.Code(err) != codes.InvalidArgument || fieldViolations(err)["page_token"] == "" {
		t.Errorf("a name listing's token on a code listing: %v, want INVALID_ARGUMENT on page_token", err)
	}

	// Over HTTP, as the console asks.
	for path, want := range map[string]int{"/v1/areas?display_name_prefix=Feij&page_size=5": http.StatusOK, "/v1/areas?display_name_prefix=F": http.StatusBadRequest} {
		resp, err := http.Get(env.HTTPBase + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == http.StatusOK && !strings.Contains(string(body), `Feijenoord`)) ||
			(want != http.StatusOK && !strings.Contains(string(body), "display_name_prefix")) {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
		}
	}
}
