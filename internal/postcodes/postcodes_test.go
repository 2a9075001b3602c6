package postcodes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/postcodes"
	"github.com/sparc-network/sparc/internal/testenv"
)

// fixture is a few real rows of each file SPARC ships: five postcodes of
// district B1 (three of sector B1 1), one of CH41, two Dutch PC4s.
const fixtureGB = `postcode,latitude,longitude,lsoa11,lad_code,country_code,positional_quality
B1 1AY,52.475924,-1.905392,E01033625,E08000025,E92000001,10
B1 1BA,52.475425,-1.900211,E01033615,E08000025,E92000001,10
B1 1BB,52.480579,-1.903188,E01033620,E08000025,E92000001,10
B1 2AA,52.479923,-1.914910,E01033627,E08000025,E92000001,10
B1 2AB,52.495953,-1.894214,E01008910,E08000025,E92000001,10
CH41 5LH,53.390502,-3.008528,E01007291,E08000015,E92000001,10
`

const fixtureNL = `postcode,latitude,longitude,place,municipality,municipality_code
3011,51.9191,4.4867,Rotterdam,Rotterdam Municipality,0599
3012,51.9183,4.4760,Rotterdam,Rotterdam Municipality,0599
`

func load(t *testing.T, env *testenv.Env, file, country string) int64 {
	t.Helper()
	r, err := postcodes.NewReader(strings.NewReader(file), country, "")
	if err != nil {
		t.Fatal(err)
	}
	n, err := postcodes.NewStore(env.Pool).Import(context.Background(), r.Next, nil)
	if err != nil {
		t.Fatalf("loading fixture: %v", err)
	}
	return n
}

func newEnv(t *testing.T) *testenv.Env {
	env := testenv.NewServer(t)
	if n := load(t, env, fixtureGB, "") + load(t, env, fixtureNL, "NL"); n != 8 {
		t.Fatalf("loaded %d postcodes, want 8", n)
	}
	return env
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// violation returns the field the InvalidArgument err names.
func violation(t *testing.T, err error) string {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("error %v, want InvalidArgument", err)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return br.GetFieldViolations()[0].GetField()
		}
	}
	t.Fatalf("error %v has no field violation", err)
	return ""
}

func TestGetPostcodeExactSectorDistrictAndUnknown(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx := context.Background()
	client := sparcv1.NewPostcodeServiceClient(env.Anonymous()) // open data: no key
	get := func(name string) (*sparcv1.Postcode, error) {
		return client.GetPostcode(ctx, &sparcv1.GetPostcodeRequest{Name: name})
	}

	p, err := get("postcodes/b1 1bb")
	if err != nil {
		t.Fatal(err)
	}
	if p.GetName() != "postcodes/B11BB" || p.GetPostcode() != "B1 1BB" || p.GetCountry() != "GB" ||
		!near(p.GetLatitude(), 52.480579) || !near(p.GetLongitude(), -1.903188) || p.GetLsoaCode() != "E01033620" ||
		p.GetCouncilCode() != "E08000025" || p.GetApproximate() || p.GetMatched() != sparcv1.PostcodeMatch_POSTCODE_MATCH_POSTCODE ||
		!strings.Contains(p.GetAttribution(), "Ordnance Survey") {
		t.Errorf("B1 1BB: %v", p)
	}

	// A new postcode of sector B1 1: the mean of B1 1AY, 1BA, 1BB.
	p, err = get("postcodes/B11ZZ")
	if err != nil {
		t.Fatal(err)
	}
	if !p.GetApproximate() || p.GetMatched() != sparcv1.PostcodeMatch_POSTCODE_MATCH_SECTOR || p.GetName() != "postcodes/B11ZZ" ||
		!near(p.GetLatitude(), (52.475924+52.475425+52.480579)/3) || !near(p.GetLongitude(), (-1.905392-1.900211-1.903188)/3) ||
		p.GetLsoaCode() != "" || p.GetCouncilCode() != "E08000025" {
		t.Errorf("B1 1ZZ: %v", p)
	}

	// Sector B1 9 is not in the data: district B1's mean of all five.
	p, err = get("postcodes/B19ZZ")
	if err != nil {
		t.Fatal(err)
	}
	if !p.GetApproximate() || p.GetMatched() != sparcv1.PostcodeMatch_POSTCODE_MATCH_DISTRICT ||
		!near(p.GetLatitude(), (52.475924+52.475425+52.480579+52.479923+52.495953)/5) {
		t.Errorf("B1 9ZZ: %v", p)
	}

	// Dutch: any spacing, with or without the letters, is the PC4.
	for _, name := range []string{"postcodes/3011AB", "postcodes/3011 ab", "postcodes/3011"} {
		p, err = get(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.GetName() != "postcodes/3011" || p.GetCountry() != "NL" || p.GetCouncilCode() != "GM0599" || p.GetApproximate() ||
			!strings.Contains(p.GetAttribution(), "GeoNames") {
			t.Errorf("%s: %v", name, p)
		}
	}
	p, err = get("postcodes/3019")
	if err != nil || p.GetMatched() != sparcv1.PostcodeMatch_POSTCODE_MATCH_SECTOR || !near(p.GetLatitude(), (51.9191+51.9183)/2) {
		t.Errorf("3019: %v, %v", p, err)
	}

	// Unknown districts and what is not a postcode: 400 on name.
	for _, name := range []string{"postcodes/B991AA", "postcodes/ZE11AA", "postcodes/9999", "postcodes/B1", "postcodes/hello",
		"B11BB", "postcodes/B1\x001BB", "postcodes/" + strings.Repeat("A", 5000)} {
		_, err := get(name)
		if f := violation(t, err); f != "name" {
			t.Errorf("%q: violation on %q, want name", name, f)
		}
	}
}

func TestGetPostcodeOverHTTP(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	get := func(path string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(env.HTTPBase + path) // no key: open data
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %s", path, b)
		}
		return resp.StatusCode, m
	}
	code, m := get("/v1/postcodes/b1%201bb")
	if code != 200 || m["name"] != "postcodes/B11BB" || m["lsoa_code"] != "E01033620" || m["council_code"] != "E08000025" {
		t.Errorf("GET b1 1bb: %d %v", code, m)
	}
	code, m = get("/v1/postcodes/CH415LH")
	if code != 200 || m["postcode"] != "CH41 5LH" || m["approximate"] == true {
		t.Errorf("GET CH415LH: %d %v", code, m)
	}
	code, m = get("/v1/postcodes/B991AA")
	b, _ := json.Marshal(m)
	if code != 400 || !strings.Contains(string(b), `"field":"name"`) || !strings.Contains(string(b), "B99") {
		t.Errorf("GET B991AA: %d %s", code, b)
	}
}

func TestImportLoadsAWholeFileOrNothing(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	store := postcodes.NewStore(env.Pool)
	bad := fixtureGB + "B1 1C,52.4,-1.9,,,,\nB1 3AA,north,-1.9,,,,\n"
	r, err := postcodes.NewReader(strings.NewReader(bad), "", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Import(ctx, r.Next, nil)
	if err == nil || !strings.Contains(err.Error(), "line 8") || !strings.Contains(err.Error(), "line 9") {
		t.Fatalf("import of a file with bad rows: %v, want lines 8 and 9 reported", err)
	}
	if n, _ := store.Count(ctx, "GB"); n != 0 {
		t.Errorf("%d postcodes written from a bad file, want none", n)
	}
	// A second import of the same postcodes replaces them; listed twice, the last line wins.
	load(t, env, fixtureGB, "")
	load(t, env, fixtureGB+"B1 1BB,52.5,-1.9,,E08000025,E92000001,60\n", "")
	p, err := store.Lookup(ctx, postcodes.Code{Country: "GB", Key: "B1 1BB", Sector: "B1 1", District: "B1"})
	if err != nil || !near(p.Lat, 52.5) || p.LSOA != "" {
		t.Errorf("B1 1BB after re-import: %+v %v", p, err)
	}
	if n, _ := store.Count(ctx, "GB"); n != 6 {
		t.Errorf("%d postcodes after importing twice, want 6", n)
	}
}

// Postcodes are reference data: through the application role only the
// network admin writes them (the demo loader); an organisation's admin
// cannot, whatever the code calling the store does.
func TestOnlyTheNetworkAdminWritesPostcodesThroughTheAppRole(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	store := postcodes.NewStore(env.AppPool)
	imp := func(role string) error {
		ctx := auth.WithPrincipal(context.Background(), &auth.Principal{Name: "test", Org: env.AdminOrg, Role: role})
		r, err := postcodes.NewReader(strings.NewReader(fixtureNL), "NL", "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = store.Import(ctx, r.Next, nil)
		return err
	}
	for _, role := range []string{auth.RoleAdmin, auth.RoleGroupEditor, auth.RoleLinkWorker, auth.RoleAreaAnalyst} {
		if err := imp(role); err == nil || !strings.Contains(err.Error(), "row-level security") {
			t.Errorf("%s wrote postcodes: %v", role, err)
		}
	}
	if err := imp(auth.RoleNetworkAdmin); err != nil {
		t.Errorf("network admin: %v", err)
	}
	if _, err := env.AppPool.Exec(context.Background(), "DELETE FROM postcodes"); err == nil {
		t.Error("the application role deleted postcodes")
	}
}

func TestSearchFromAPostcodeIsTheSearchFromItsPoint(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx := context.Background()
	for i, pt := range [][2]float64{{52.4810, -1.9030}, {52.4790, -1.9100}, {52.4850, -1.8950}, {52.4700, -1.9000}, {52.4900, -1.9200}, {52.6000, -1.7000}} {
		if _, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
			Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Group " + string(rune('A'+i)),
			Location: &sparcv1.Location{Latitude: pt[0], Longitude: pt[1], Country: "GB"}}}); err != nil {
			t.Fatal(err)
		}
	}
	lat, lng, radius := 52.480579, -1.903188, 3000.0
	all := func(req *sparcv1.SearchAssetsRequest) []string {
		t.Helper()
		var out []string
		req.PageSize = 2
		for {
			resp, err := env.Assets.SearchAssets(ctx, req)
			if err != nil {
				t.Fatalf("search %v: %v", req, err)
			}
			for _, r := range resp.GetResults() {
				out = append(out, fmt.Sprintf("%s %.6f", r.GetAsset().GetName(), r.GetDistanceMeters()))
			}
			if resp.GetNextPageToken() == "" {
				return out
			}
			req.PageToken = resp.GetNextPageToken()
		}
	}
	byPoint := all(&sparcv1.SearchAssetsRequest{Latitude: &lat, Longitude: &lng, RadiusMeters: &radius})
	byPostcode := all(&sparcv1.SearchAssetsRequest{Postcode: " b11bb", RadiusMeters: &radius})
	if len(byPoint) != 5 || strings.Join(byPoint, "\n") != strings.Join(byPostcode, "\n") {
		t.Errorf("by point:\n%s\nby postcode:\n%s", strings.Join(byPoint, "\n"), strings.Join(byPostcode, "\n"))
	}

	// Over HTTP, any spacing.
	resp, err := http.Get(env.HTTPBase + "/v1/assets:search?postcode=B1%201BB&radius_meters=3000&page_size=100")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Results []struct {
			Asset struct{ Name string }
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(body.Results) != 5 || body.Results[0].Asset.Name != strings.Fields(byPoint[0])[0] {
		t.Errorf("HTTP search by postcode: %d %+v %v", resp.StatusCode, body, err)
	}

	// Bad postcode searches: 400 on the field at fault.
	for _, c := range []struct {
		req   *sparcv1.SearchAssetsRequest
		field string
	}{
		{&sparcv1.SearchAssetsRequest{Postcode: "B99 1AA", RadiusMeters: &radius}, "postcode"},
		{&sparcv1.SearchAssetsRequest{Postcode: "not a postcode", RadiusMeters: &radius}, "postcode"},
		{&sparcv1.SearchAssetsRequest{Postcode: "B1 1BB", Latitude: &lat, Longitude: &lng, RadiusMeters: &radius}, "postcode"},
		{&sparcv1.SearchAssetsRequest{Postcode: "B1 1BB"}, "radius_meters"},
		{&sparcv1.SearchAssetsRequest{Postcode: "B1 1BB", RadiusMeters: &radius, Bbox: "-2,52,-1,53"}, "bbox"},
	} {
		_, err := env.Assets.SearchAssets(ctx, c.req)
		if f := violation(t, err); f != c.field {
			t.Errorf("search %v: violation on %q, want %q", c.req, f, c.field)
		}
	}
}

func TestAssetIsPlacedAtItsPostcodeWhenGivenNoPoint(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx := context.Background()
	create := func(loc *sparcv1.Location) (*sparcv1.Asset, error) {
		return env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
			Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Placed by postcode", Location: loc}})
	}
	a, err := create(&sparcv1.Location{Postcode: "b1  1bb", Country: "GB", Address: "1 Example Street"})
	if err != nil {
		t.Fatal(err)
	}
	if l := a.GetLocation(); l.GetPostcode() != "B1 1BB" || !near(l.GetLatitude(), 52.480579) || !near(l.GetLongitude(), -1.903188) {
		t.Errorf("placed at %v", l)
	}
	// A new postcode: its sector's centre.
	a, err = create(&sparcv1.Location{Postcode: "B1 1ZZ", Country: "GB"})
	if err != nil || !near(a.GetLocation().GetLatitude(), (52.475924+52.475425+52.480579)/3) {
		t.Errorf("B1 1ZZ placed at %v (%v)", a.GetLocation(), err)
	}
	// A given point is kept; the postcode is still normalised and checked.
	a, err = create(&sparcv1.Location{Latitude: 52.49, Longitude: -1.89, Postcode: "b99 1aa", Country: "GB"})
	if err != nil || a.GetLocation().GetLatitude() != 52.49 || a.GetLocation().GetPostcode() != "B99 1AA" {
		t.Errorf("with a point: %v (%v)", a.GetLocation(), err)
	}
	// Dutch: the postcode keeps its letters, the point is the PC4's.
	nl, err := create(&sparcv1.Location{Postcode: "3011ab", Country: "NL"})
	if err != nil || nl.GetLocation().GetPostcode() != "3011 AB" || !near(nl.GetLocation().GetLatitude(), 51.9191) {
		t.Errorf("NL: %v (%v)", nl.GetLocation(), err)
	}
	for _, loc := range []*sparcv1.Location{
		{Postcode: "B1 1BB", Country: "NL"},                                    // not a Dutch postcode
		{Postcode: "3011 AB", Country: "GB"},                                   // not a British one
		{Postcode: "B99 1AA", Country: "GB"},                                   // no point, unknown district
		{Latitude: 52.49, Longitude: -1.89, Postcode: "B1 1B!", Country: "GB"}, // malformed even with a point
	} {
		_, err := create(loc)
		if f := violation(t, err); f != "asset.location.postcode" {
			t.Errorf("%v: violation on %q", loc, f)
		}
	}
	// Update: a location without a point is placed at its new postcode.
	up, err := env.Assets.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{
		Asset:      &sparcv1.Asset{Name: nl.GetName(), Location: &sparcv1.Location{Postcode: "3012", Country: "NL"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"location"}}})
	if err != nil || !near(up.GetLocation().GetLatitude(), 51.9183) || up.GetLocation().GetPostcode() != "3012" {
		t.Errorf("update to 3012: %v (%v)", up.GetLocation(), err)
	}
	_, err = env.Assets.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{
		Asset:      &sparcv1.Asset{Name: nl.GetName(), Location: &sparcv1.Location{Postcode: "9999", Country: "NL"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"location"}}})
	if f := violation(t, err); f != "asset.location.postcode" {
		t.Errorf("update to 9999: violation on %q", f)
	}
	if got, err := env.Assets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: nl.GetName()}); err != nil || got.GetLocation().GetPostcode() != "3012" {
		t.Errorf("after a refused update: %v (%v)", got.GetLocation(), err)
	}
	// Sending the same location again without its point places it again.
	up, err = env.Assets.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{
		Asset:      &sparcv1.Asset{Name: nl.GetName(), Location: &sparcv1.Location{Postcode: "3012", Country: "NL"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"location"}}})
	if err != nil || !near(up.GetLocation().GetLatitude(), 51.9183) {
		t.Errorf("same postcode, no point: %v (%v)", up.GetLocation(), err)
	}

	// An asset stored before postcodes were validated (an import) keeps
	// its postcode through updates of other fields; changing it checks it.
	legacy, err := create(&sparcv1.Location{Latitude: 52.49, Longitude: -1.89, Country: "GB"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Pool.Exec(ctx, `UPDATE assets SET postcode = 'B1' WHERE id = $1`, strings.TrimPrefix(legacy.GetName(), "assets/")); err != nil {
		t.Fatal(err)
	}
	rename := func(mask string, a *sparcv1.Asset) error {
		a.Name = legacy.GetName()
		_, err := env.Assets.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{Asset: a, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{mask}}})
		return err
	}
	if err := rename("display_name", &sparcv1.Asset{DisplayName: "Renamed"}); err != nil {
		t.Errorf("renaming an asset with a legacy postcode: %v", err)
	}
	if f := violation(t, rename("location.postcode", &sparcv1.Asset{Location: &sparcv1.Location{Postcode: "B2"}})); f != "asset.location.postcode" {
		t.Errorf("changing to a bad postcode: violation on %q", f)
	}
}
