package coverage_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/postcodes"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The demand world: two LSOAs of one MSOA and one council in Birmingham,
// a Rotterdam buurt, and the postcodes that lie in them.
const (
	lsoa1, lsoa2 = "E01900001", "E01900002"
	msoa         = "E02900001"
	council      = "E08900001"
	buurt        = "BU05990001"
	// In lsoa1, which the postcode data names.
	pcLSOA1 = "B1 1AA"
	// In lsoa2, which the data does not name: found by its point.
	pcLSOA2 = "B1 1AB"
	// Not in the data: placed only at its sector's centre, so no home area.
	pcApprox = "B1 1ZZ"
	// A Dutch PC4 whose centre lies in the buurt (letters are ignored).
	pcNL = "3011 AB"
)

// demandWorld is a server with those areas and postcodes, two referring
// organisations (A and B) and a provider whose one asset has one place.
type demandWorld struct {
	env               *testenv.Env
	orgA, orgB, orgC  string
	lwA, lwB          *grpc.ClientConn
	provider          sparcv1.ReferralServiceClient
	asset             string
	adminA, analystC  sparcv1.CoverageServiceClient
	linkWorkerA, netw sparcv1.CoverageServiceClient
}

func newDemandWorld(t *testing.T) *demandWorld {
	t.Helper()
	env := testenv.NewServer(t)
	ctx := context.Background()
	env.ImportAreas(t, "msoa", 2000, &sparcv1.AreaFeature{Code: msoa, DisplayName: "Test MSOA", GeometryGeojson: testenv.Box(-1.90, 52.47, -1.88, 52.48)})
	env.ImportAreas(t, "lsoa", 1000,
		&sparcv1.AreaFeature{Code: lsoa1, DisplayName: "Test LSOA 1", ParentCode: msoa, GeometryGeojson: testenv.Box(-1.90, 52.47, -1.89, 52.48)},
		&sparcv1.AreaFeature{Code: lsoa2, DisplayName: "Test LSOA 2", ParentCode: msoa, GeometryGeojson: testenv.Box(-1.89, 52.47, -1.88, 52.48)})
	env.ImportAreas(t, "local_authority", 2000, &sparcv1.AreaFeature{Code: council, DisplayName: "Test council", GeometryGeojson: testenv.Box(-1.91, 52.46, -1.87, 52.49)})
	env.ImportAreas(t, "buurt", 500, &sparcv1.AreaFeature{Code: buurt, DisplayName: "Test buurt", GeometryGeojson: testenv.Box(4.46, 51.91, 4.48, 51.93)})
	if _, err := env.Pool.Exec(ctx, `UPDATE areas SET council_code = CASE WHEN kind = 'buurt' THEN 'GM0599' ELSE $1 END
		WHERE kind IN ('lsoa', 'msoa', 'buurt')`, council); err != nil {
		t.Fatal(err)
	}
	importPostcodes(t, env, []postcodes.Row{
		{Lat: 52.475, Lng: -1.895, LSOA: lsoa1, Source: postcodes.SourceCodePoint, RawPostcode: pcLSOA1},
		{Lat: 52.475, Lng: -1.885, Source: postcodes.SourceCodePoint, RawPostcode: pcLSOA2},
		{Lat: 51.92, Lng: 4.47, Council: "GM0599", Source: postcodes.SourceGeoNames, RawPostcode: "3011"},
	})
	w := &demandWorld{env: env, orgA: env.NewOrg(t, "Link workers A", "link_worker_service"),
		orgB: env.NewOrg(t, "Link workers B", "link_worker_service"), orgC: env.NewOrg(t, "Public health", "other")}
	w.lwA = env.ConnWithKey(t, env.Key(t, w.orgA, auth.RoleLinkWorker))
	w.lwB = env.ConnWithKey(t, env.Key(t, w.orgB, auth.RoleLinkWorker))
	group := env.NewOrg(t, "Walking group", "community_group")
	w.provider = sparcv1.NewReferralServiceClient(env.ConnWithKey(t, env.Key(t, group, auth.RoleGroupEditor)))
	coverageAs := func(org, role string) sparcv1.CoverageServiceClient {
		return sparcv1.NewCoverageServiceClient(env.ConnWithKey(t, env.Key(t, org, role)))
	}
	w.adminA, w.analystC = coverageAs(w.orgA, auth.RoleAdmin), coverageAs(w.orgC, auth.RoleAreaAnalyst)
	w.linkWorkerA, w.netw = coverageAs(w.orgA, auth.RoleLinkWorker), sparcv1.NewCoverageServiceClient(env.Network(t))
	one := int32(1)
	a, err := env.AssetsOf(t, group).CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Walking group", AcceptingReferrals: true, Capacity: &one,
		OwnerOrganisation: "organisations/" + group, Location: &sparcv1.Location{Latitude: 52.48, Longitude: -1.86, Country: "GB"}}})
	if err != nil {
		t.Fatal(err)
	}
	w.asset = a.GetName()
	return w
}

// importPostcodes loads rows through the postcode import (the CLI's).
func importPostcodes(t *testing.T, env *testenv.Env, rows []postcodes.Row) {
	t.Helper()
	i := 0
	next := func() (postcodes.Row, error) {
		if i == len(rows) {
			return postcodes.Row{}, io.EOF
		}
		r := rows[i]
		c, err := postcodes.Parse("", r.RawPostcode)
		if err != nil {
			return r, err
		}
		r.Line, r.Code, i = int64(i+1), c, i+1
		return r, nil
	}
	if _, err := postcodes.NewStore(env.Pool).Import(context.Background(), next, nil); err != nil {
		t.Fatalf("importing postcodes: %v", err)
	}
}

// person records a person with postcode as lw's organisation.
func (w *demandWorld) person(t *testing.T, lw *grpc.ClientConn, postcode string) string {
	t.Helper()
	p, err := sparcv1.NewPersonServiceClient(lw).CreatePerson(context.Background(), &sparcv1.CreatePersonRequest{
		Person: &sparcv1.Person{DisplayName: "P. " + postcode, Postcode: postcode, Consent: &sparcv1.Consent{}}})
	if err != nil {
		t.Fatalf("creating a person at %q: %v", postcode, err)
	}
	return p.GetName()
}

// refer refers person n times as lw and returns the referrals' names.
func (w *demandWorld) refer(t *testing.T, lw *grpc.ClientConn, person string, n int) []string {
	t.Helper()
	var out []string
	for range n {
		r, err := sparcv1.NewReferralServiceClient(lw).CreateReferral(context.Background(), &sparcv1.CreateReferralRequest{
			RequestId: fmt.Sprintf("%s-%d", person, time.Now().UnixNano()), Person: person, Asset: w.asset, Reasons: []string{"social_connection"}})
		if err != nil {
			t.Fatalf("referring %s: %v", person, err)
		}
		out = append(out, r.GetName())
	}
	return out
}

// move makes the provider move a referral.
func (w *demandWorld) move(t *testing.T, name string, to sparcv1.ReferralStatus, reason string, want sparcv1.ReferralStatus) {
	t.Helper()
	r, err := w.provider.TransitionReferral(context.Background(), &sparcv1.TransitionReferralRequest{Name: name, ToStatus: to, Reason: reason})
	if err != nil || r.GetStatus() != want {
		t.Fatalf("moving %s to %v: %v, %v; want %v", name, to, r.GetStatus(), err, want)
	}
}

func (w *demandWorld) homeArea(t *testing.T, person string) *string {
	t.Helper()
	var home *string
	if err := w.env.Pool.QueryRow(context.Background(), `SELECT home_area FROM people WHERE 'people/' || id = $1`, person).Scan(&home); err != nil {
		t.Fatal(err)
	}
	return home
}

// figures is an area's answer in short: referrals, unmet, each "~" when
// withheld.
func figures(a *sparcv1.AreaDemand) string {
	f := func(c *sparcv1.StatCount) string {
		if c.GetSuppressed() {
			return "~"
		}
		return fmt.Sprint(c.GetValue())
	}
	return f(a.GetReferrals()) + "/" + f(a.GetUnmet())
}

func byCode(t *testing.T, res *sparcv1.ComputeDemandResponse, err error) map[string]*sparcv1.AreaDemand {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*sparcv1.AreaDemand{}
	for _, a := range res.GetAreas() {
		out[a.GetCode()] = a
	}
	return out
}

// Demand by where people live, end to end: home areas derived from
// postcodes (GB from the data's LSOA or by the point, NL by the PC4's
// buurt; none without a postcode or for one placed only approximately),
// counted by home area and rolled up to the MSOA and the council from
// released cells, exact only for an organisation's admin asking about its
// own referrals, released under the disclosure rule to everyone else.
func TestDemandWherePeopleLive(t *testing.T) {
	t.Parallel()
	w := newDemandWorld(t)
	ctx := context.Background()
	a1, b1 := w.person(t, w.lwA, pcLSOA1), w.person(t, w.lwB, "b1 1aa")
	a2, a3 := w.person(t, w.lwA, pcLSOA2), w.person(t, w.lwA, pcNL)
	noPostcode, approx := w.person(t, w.lwA, ""), w.person(t, w.lwA, pcApprox)
	for person, want := range map[string]string{a1: lsoa1, b1: lsoa1, a2: lsoa2, a3: buurt, noPostcode: "", approx: ""} {
		if got := w.homeArea(t, person); got == nil || *got != want {
			t.Errorf("%s: home area %v, want %q", person, got, want)
		}
	}
	// a1: 12 referrals, one accepted (the asset's one place), one then
	// waitlisted, two rejected for want of places, one as not eligible.
	r := w.refer(t, w.lwA, a1, 12)
	w.move(t, r[0], sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "", sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED)
	w.move(t, r[1], sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "", sparcv1.ReferralStatus_REFERRAL_STATUS_WAITLISTED)
	for _, x := range r[2:4] {
		w.move(t, x, sparcv1.ReferralStatus_REFERRAL_STATUS_REJECTED, "no_capacity", sparcv1.ReferralStatus_REFERRAL_STATUS_REJECTED)
	}
	w.move(t, r[4], sparcv1.ReferralStatus_REFERRAL_STATUS_REJECTED, "not_eligible", sparcv1.ReferralStatus_REFERRAL_STATUS_REJECTED)
	w.refer(t, w.lwB, b1, 1)
	w.refer(t, w.lwA, a2, 2)
	w.refer(t, w.lwA, a3, 8)
	w.refer(t, w.lwA, noPostcode, 1)
	w.refer(t, w.lwA, approx, 1)
	w.env.BackdateReferrals(t, time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC))
	march := &sparcv1.ComputeDemandRequest{WindowStart: "2025-03-14", WindowEnd: "2025-03-20"}
	ask := func(c sparcv1.CoverageServiceClient, kind, org string) (*sparcv1.ComputeDemandResponse, error) {
		req := proto.Clone(march).(*sparcv1.ComputeDemandRequest)
		req.Kind, req.Organisation = kind, org
		return c.ComputeDemand(ctx, req)
	}
	orgA, orgB := "organisations/"+w.orgA, "organisations/"+w.orgB
	areasOf := func(c sparcv1.CoverageServiceClient, kind, org string) map[string]*sparcv1.AreaDemand {
		t.Helper()
		res, err := ask(c, kind, org)
		return byCode(t, res, err)
	}

	// A's admin about A: exact, over the window as asked (none of
	// March 14-20: the referrals were all made on the 10th).
	res, err := ask(w.adminA, "lsoa", orgA)
	if err != nil || !res.GetExact() || res.GetWindowStart() != "2025-03-14" || res.GetWindowEnd() != "2025-03-20" {
		t.Fatalf("A's admin about A: %v, %v", res, err)
	}
	march.WindowStart = "2025-03-01"
	want := map[string]string{lsoa1: "12/3", lsoa2: "2/0"} // a1's waitlisted and two rejected for want of places
	for kind, w2 := range map[string]map[string]string{"lsoa": want, "msoa": {msoa: "14/3"}, "local_authority": {council: "14/3"}, "buurt": {buurt: "8/0"}} {
		got := areasOf(w.adminA, kind, orgA)
		for code, f := range w2 {
			if figures(got[code]) != f {
				t.Errorf("A's admin, exact, %s %s: %s, want %s", kind, code, figures(got[code]), f)
			}
		}
	}
	if res, _ := ask(w.adminA, "lsoa", orgA); res.GetWithoutHomeArea().GetValue() != 2 || !res.GetExact() {
		t.Errorf("A's referrals without a home area: %v, want exactly 2", res.GetWithoutHomeArea())
	}
	if got := areasOf(w.adminA, "lsoa", orgA)[lsoa1]; got.GetReferralsPer_1000() != 12 || got.GetUnmetPer_1000() != 3 {
		t.Errorf("lsoa1 rates: %v, %v; want 12 and 3 per 1,000", got.GetReferralsPer_1000(), got.GetUnmetPer_1000())
	}

	// Everyone else gets released figures. All organisations, as an
	// analyst of a third: lsoa1's cells are 10 (9 met of A and 1 of B,
	// shown as 10) and 3 unmet (withheld): 14 -> 15, unmet withheld;
	// lsoa2's one cell (2) withheld; the MSOA and the council are the sum
	// of the same three cells (10 + 4 + 4 = 18 -> 20), never counted anew.
	for who, c := range map[string]sparcv1.CoverageServiceClient{"C's analyst": w.analystC, "A's admin": w.adminA} {
		for kind, w2 := range map[string]map[string]string{"lsoa": {lsoa1: "15/~", lsoa2: "~/0"}, "msoa": {msoa: "20/~"},
			"local_authority": {council: "20/~"}, "buurt": {buurt: "10/0"}} {
			res, err := ask(c, kind, "")
			got := byCode(t, res, err)
			if res.GetExact() || res.GetWindowStart() != "2025-03-01" || res.GetWindowEnd() != "2025-03-31" || !res.GetWithoutHomeArea().GetSuppressed() {
				t.Errorf("%s, %s, all organisations: exact %v, window %s..%s, without home area %v", who, kind, res.GetExact(),
					res.GetWindowStart(), res.GetWindowEnd(), res.GetWithoutHomeArea())
			}
			for code, f := range w2 {
				if figures(got[code]) != f {
					t.Errorf("%s, all organisations, %s %s: %s, want %s", who, kind, code, figures(got[code]), f)
				}
			}
		}
	}
	if got := areasOf(w.analystC, "lsoa", "")[lsoa1]; got.GetReferralsPer_1000() != 15 || got.UnmetPer_1000 != nil {
		t.Errorf("released lsoa1 rates: %v, %v; want 15 and none (withheld)", got.ReferralsPer_1000, got.UnmetPer_1000)
	}
	// The CSV download carries the same figures, withheld cells empty.
	analystKey := w.env.Key(t, w.orgC, auth.RoleAreaAnalyst)
	resp, body := w.env.Do(t, "GET", "/v1/demand.csv?kind=msoa&window_start=2025-03-01&window_end=2025-03-31", "", "Authorization", "Bearer "+analystKey)
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || resp.StatusCode != http.StatusOK || len(rows) != 2 ||
		strings.Join(rows[0], ",") != "code,area,display_name,kind,parent_code,council_code,population,referrals,referrals_withheld,unmet,unmet_withheld,referrals_per_1000,unmet_per_1000,window_start,window_end,exact" ||
		strings.Join(rows[1], ",") != msoa+",areas/"+msoa+",Test MSOA,msoa,,"+council+",2000,20,false,,true,10,,2025-03-01,2025-03-31,false" {
		t.Errorf("demand CSV: %d %q, %v", resp.StatusCode, rows, err)
	}
	// The GeoJSON download: valid GeoJSON, the CSV's figures.
	for _, kind := range []string{"lsoa", "msoa"} {
		checkDemandGeoJSON(t, w.env, analystKey, "kind="+kind+"&window_start=2025-03-01&window_end=2025-03-31")
	}
	// B's one referral, asked by A's admin and C's analyst: withheld.
	for _, c := range []sparcv1.CoverageServiceClient{w.adminA, w.analystC} {
		if got := areasOf(c, "lsoa", orgB); figures(got[lsoa1]) != "~/0" || figures(got[lsoa2]) != "0/0" {
			t.Errorf("B's referrals from outside B: lsoa1 %s, lsoa2 %s; want ~/0 and 0/0", figures(got[lsoa1]), figures(got[lsoa2]))
		}
	}
	// A's analyst about A: released too (analysts never see exact figures).
	analystA := sparcv1.NewCoverageServiceClient(w.env.ConnWithKey(t, w.env.Key(t, w.orgA, auth.RoleAreaAnalyst)))
	if res, err := ask(analystA, "lsoa", orgA); err != nil || res.GetExact() || figures(byCode(t, res, err)[lsoa1]) != "15/~" {
		t.Errorf("A's analyst about A: %v, %v; want released (lsoa1: 9 met shown as 10, 3 unmet withheld: 15/~)", res, err)
	}
	// Roles that may not read it, whatever they ask.
	for who, c := range map[string]sparcv1.CoverageServiceClient{"A's link worker": w.linkWorkerA, "the network admin": w.netw} {
		if _, err := ask(c, "lsoa", orgA); status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s: %v, want PermissionDenied", who, err)
		}
	}

	// Moving home moves later referrals only: a2 moves into lsoa1 and is
	// referred once more; March stays as it was, and the open window
	// (exact, for A's admin) counts the new one in lsoa1.
	before, err := ask(w.analystC, "lsoa", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sparcv1.NewPersonServiceClient(w.lwA).UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{
		Person: &sparcv1.Person{Name: a2, Postcode: pcLSOA1}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"postcode"}}}); err != nil {
		t.Fatal(err)
	}
	if got := w.homeArea(t, a2); got == nil || *got != lsoa1 {
		t.Errorf("a2 after moving: home area %v, want %s", got, lsoa1)
	}
	w.refer(t, w.lwA, a2, 1)
	// And a March referral refused today for want of places is unmet
	// from today, not in March: statuses count as they stood at the
	// window's end.
	w.move(t, r[5], sparcv1.ReferralStatus_REFERRAL_STATUS_REJECTED, "no_capacity", sparcv1.ReferralStatus_REFERRAL_STATUS_REJECTED)
	if after, err := ask(w.analystC, "lsoa", ""); err != nil || !proto.Equal(before, after) {
		t.Errorf("March after a2 moved and a March referral was refused today: %v, %v; want it unchanged: %v", after, err, before)
	}
	if got := areasOf(w.adminA, "lsoa", orgA); figures(got[lsoa1]) != "12/3" {
		t.Errorf("A's exact March after a refusal today: lsoa1 %s, want 12/3", figures(got[lsoa1]))
	}
	openRes, err := w.adminA.ComputeDemand(ctx, &sparcv1.ComputeDemandRequest{Kind: "lsoa", Organisation: orgA})
	open := byCode(t, openRes, err)
	if figures(open[lsoa1]) != "13/4" || figures(open[lsoa2]) != "2/0" {
		t.Errorf("A's open window after a2 moved: lsoa1 %s, lsoa2 %s; want 13/4 and 2/0", figures(open[lsoa1]), figures(open[lsoa2]))
	}
	// Clearing the postcode clears the home area.
	if _, err := sparcv1.NewPersonServiceClient(w.lwA).UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{
		Person: &sparcv1.Person{Name: a3}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"postcode"}}}); err != nil {
		t.Fatal(err)
	}
	if got := w.homeArea(t, a3); got == nil || *got != "" {
		t.Errorf("a3 without a postcode: home area %v, want none", got)
	}
}

// People and referrals recorded before home areas were kept are placed at
// start-up (people.Service.PlaceHomes, which app.New runs before serving):
// the same home areas as if derived when they were made, copied to their
// referrals, and a second run finds nothing to do.
func TestHomeAreasOfEarlierPeopleAreFilledIn(t *testing.T) {
	t.Parallel()
	w := newDemandWorld(t)
	ctx := context.Background()
	people := map[string]string{w.person(t, w.lwA, pcLSOA1): lsoa1, w.person(t, w.lwA, pcNL): buurt,
		w.person(t, w.lwA, pcApprox): "", w.person(t, w.lwA, ""): ""}
	for p := range people {
		w.refer(t, w.lwA, p, 1)
	}
	ask := func() *sparcv1.ComputeDemandResponse {
		res, err := w.adminA.ComputeDemand(ctx, &sparcv1.ComputeDemandRequest{Kind: "lsoa", Organisation: "organisations/" + w.orgA})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	before := ask()
	if _, err := w.env.Pool.Exec(ctx, `UPDATE people SET home_area = NULL`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.env.Pool.Exec(ctx, `UPDATE referrals SET home_area = NULL`); err != nil {
		t.Fatal(err)
	}
	if res := ask(); res.GetWithoutHomeArea().GetValue() != 4 {
		t.Fatalf("before the backfill: %d referrals without a home area, want 4", res.GetWithoutHomeArea().GetValue())
	}
	// Three: clearing the column left the person without a postcode at
	// '' (a home area follows its postcode, 0063's trigger).
	n, err := w.env.App.People.PlaceHomes(ctx)
	if err != nil || n != 3 {
		t.Fatalf("placing: %d, %v; want 3 people", n, err)
	}
	for p, want := range people {
		if got := w.homeArea(t, p); got == nil || *got != want {
			t.Errorf("%s: home area %v, want %q", p, got, want)
		}
	}
	if after := ask(); !proto.Equal(before, after) || figures(byCode(t, after, nil)[lsoa1]) != "1/0" {
		t.Errorf("after the backfill: %v; want as before: %v", after, before)
	}
	if n, err := w.env.App.People.PlaceHomes(ctx); err != nil || n != 0 {
		t.Errorf("second run: %d, %v; want nothing to do", n, err)
	}
}

// Bad input is INVALID_ARGUMENT naming the field, over gRPC and HTTP
// (400), never an empty answer or a 500.
func TestDemandRefusesBadInput(t *testing.T) {
	t.Parallel()
	w := newDemandWorld(t)
	ctx := context.Background()
	now := time.Now().UTC()
	today := now.Format(time.DateOnly)
	for _, c := range []struct {
		req   *sparcv1.ComputeDemandRequest
		field string
	}{
		{&sparcv1.ComputeDemandRequest{}, "kind"},
		{&sparcv1.ComputeDemandRequest{Kind: "ward"}, "kind"},
		{&sparcv1.ComputeDemandRequest{Kind: "LSOA;"}, "kind"},
		{&sparcv1.ComputeDemandRequest{Kind: "lsoa", Council: "E08999999"}, "council"},
		{&sparcv1.ComputeDemandRequest{Kind: "lsoa", WindowStart: "2025-13-01"}, "window_start"},
		{&sparcv1.ComputeDemandRequest{Kind: "lsoa", WindowEnd: "last week"}, "window_end"},
		{&sparcv1.ComputeDemandRequest{Kind: "lsoa", WindowStart: "2025-03-02", WindowEnd: "2025-03-01"}, "window_end"},
		// Released figures hold only months that have ended.
		{&sparcv1.ComputeDemandRequest{Kind: "lsoa", WindowStart: today, WindowEnd: today}, "window_end"},
		{&sparcv1.ComputeDemandRequest{Kind: "lsoa", Organisation: "organisations/not-an-id"}, "organisation"},
	} {
		_, err := w.analystC.ComputeDemand(ctx, c.req)
		if status.Code(err) != codes.InvalidArgument || !slices.Contains(testenv.Fields(err), c.field) {
			t.Errorf("%v: %v (fields %v), want InvalidArgument on %s", c.req, err, testenv.Fields(err), c.field)
		}
	}
	// A council narrows the answer to its areas, of the kind asked.
	for _, c := range []struct{ kind, council, want string }{{"lsoa", council, lsoa1 + "," + lsoa2}, {"buurt", "GM0599", buurt},
		{"msoa", council, msoa}} {
		res, err := w.analystC.ComputeDemand(ctx, &sparcv1.ComputeDemandRequest{Kind: c.kind, Council: c.council, WindowEnd: "2025-03-31"})
		var codes []string
		for _, a := range res.GetAreas() {
			codes = append(codes, a.GetCode())
		}
		if err != nil || strings.Join(codes, ",") != c.want {
			t.Errorf("%s of council %s: %v, %v; want %s", c.kind, c.council, codes, err, c.want)
		}
	}
	// The organisation's own admin may ask about the current month, exactly.
	if res, err := w.adminA.ComputeDemand(ctx, &sparcv1.ComputeDemandRequest{Kind: "lsoa", WindowStart: today, WindowEnd: today,
		Organisation: "organisations/" + w.orgA}); err != nil || !res.GetExact() {
		t.Errorf("A's admin about A today: %v, %v", res, err)
	}
	for q, field := range map[string]string{"/v1/coverage:computeDemand?kind=ward": "kind",
		"/v1/coverage:computeDemand?kind=lsoa&window_start=2025-02-30": "window_start",
		"/v1/coverage:computeDemand?kind=lsoa&council=E08999999":       "council", "/v1/demand.csv?kind=ward": "kind",
		"/v1/demand.csv?kind=lsoa&window_end=2025-3-1": "window_end", "/v1/demand.csv?kind=lsoa&exact=true": "exact",
		"/v1/demand.geojson?kind=ward": "kind", "/v1/demand.geojson?kind=lsoa&council=E08999999": "council",
		"/v1/demand.geojson?kind=lsoa&simplify_meters=-1": "simplify_meters", "/v1/demand.geojson?kind=lsoa&exact=true": "exact"} {
		resp, body := w.env.Do(t, "GET", q, "")
		var st struct {
			Details []struct {
				FieldViolations []struct{ Field string } `json:"field_violations"`
			} `json:"details"`
		}
		_ = json.Unmarshal(body, &st)
		if resp.StatusCode != http.StatusBadRequest || len(st.Details) == 0 || len(st.Details[0].FieldViolations) != 1 ||
			st.Details[0].FieldViolations[0].Field != field {
			t.Errorf("GET %s: %d %s, want 400 with a field violation on %s", q, resp.StatusCode, body, field)
		}
	}
}

// checkDemandGeoJSON fetches /v1/demand.geojson?query and checks that it
// is an RFC 7946 FeatureCollection (polygonal geometries, WGS84
// coordinates of at most 6 decimals, closed rings) whose features carry,
// property by property, the cells of /v1/demand.csv?query, and the
// window and exactness as foreign members.
func checkDemandGeoJSON(t *testing.T, env *testenv.Env, key, query string) {
	t.Helper()
	resp, body := env.Do(t, "GET", "/v1/demand.csv?"+query, "", "Authorization", "Bearer "+key)
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || resp.StatusCode != http.StatusOK || len(rows) < 2 {
		t.Fatalf("demand CSV %s: %d %q %v", query, resp.StatusCode, body, err)
	}
	resp, body = env.Do(t, "GET", "/v1/demand.geojson?"+query, "", "Authorization", "Bearer "+key)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/geo+json" {
		t.Fatalf("demand GeoJSON %s: %d %s %s", query, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var fc struct {
		Type        string `json:"type"`
		WindowStart string `json:"window_start"`
		WindowEnd   string `json:"window_end"`
		Exact       *bool  `json:"exact"`
		Features    []struct {
			Type     string `json:"type"`
			ID       string `json:"id"`
			Geometry struct {
				Type        string          `json:"type"`
				Coordinates json.RawMessage `json:"coordinates"`
			} `json:"geometry"`
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"features"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&fc); err != nil {
		t.Fatalf("demand GeoJSON %s is not JSON: %v\n%s", query, err, body)
	}
	header := rows[0]
	if fc.Type != "FeatureCollection" || fc.Exact == nil || len(fc.Features) != len(rows)-1 ||
		fc.WindowStart != rows[1][slices.Index(header, "window_start")] || fc.WindowEnd != rows[1][slices.Index(header, "window_end")] ||
		strconv.FormatBool(*fc.Exact) != rows[1][slices.Index(header, "exact")] {
		t.Fatalf("demand GeoJSON %s: type %q, window %s..%s, exact %v, %d features for %d CSV rows", query, fc.Type,
			fc.WindowStart, fc.WindowEnd, fc.Exact, len(fc.Features), len(rows)-1)
	}
	csvByCode := map[string][]string{}
	for _, r := range rows[1:] {
		csvByCode[r[0]] = r
	}
	for _, f := range fc.Features {
		row := csvByCode[f.ID]
		if f.Type != "Feature" || row == nil {
			t.Fatalf("feature %q (%s) has no CSV row", f.ID, f.Type)
		}
		if f.Geometry.Type != "Polygon" && f.Geometry.Type != "MultiPolygon" {
			t.Errorf("%s: geometry %s, want a polygon", f.ID, f.Geometry.Type)
		}
		checkRings(t, f.ID, f.Geometry.Type, f.Geometry.Coordinates)
		for i, col := range header {
			if col == "window_start" || col == "window_end" || col == "exact" {
				continue // members of the collection
			}
			raw, ok := f.Properties[col]
			if !ok {
				t.Errorf("%s: no property %s", f.ID, col)
				continue
			}
			var v any
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				t.Fatal(err)
			}
			got := ""
			switch x := v.(type) {
			case nil:
			case string:
				got = x
			case bool:
				got = strconv.FormatBool(x)
			case json.Number:
				got = x.String()
			}
			if got != row[i] {
				t.Errorf("%s: property %s is %s, the CSV has %q", f.ID, col, raw, row[i])
			}
		}
	}
}

// checkRings checks a GeoJSON polygon's or multipolygon's rings: closed,
// at least four positions, WGS84, at most 6 decimals.
func checkRings(t *testing.T, id, typ string, coords json.RawMessage) {
	t.Helper()
	var polys [][][][]json.Number
	d := json.NewDecoder(bytes.NewReader(coords))
	d.UseNumber()
	if typ == "Polygon" {
		var p [][][]json.Number
		if err := d.Decode(&p); err != nil {
			t.Fatalf("%s: coordinates: %v", id, err)
		}
		polys = [][][][]json.Number{p}
	} else if err := d.Decode(&polys); err != nil {
		t.Fatalf("%s: coordinates: %v", id, err)
	}
	for _, p := range polys {
		for _, ring := range p {
			if len(ring) < 4 || !slices.Equal(ring[0], ring[len(ring)-1]) {
				t.Fatalf("%s: a ring of %d positions, open or too short", id, len(ring))
			}
			for _, pos := range ring {
				lng, _ := pos[0].Float64()
				lat, _ := pos[1].Float64()
				if len(pos) != 2 || lng < -180 || lng > 180 || lat < -90 || lat > 90 {
					t.Fatalf("%s: position %v is not WGS84 longitude, latitude", id, pos)
				}
				for _, c := range pos {
					if _, frac, ok := strings.Cut(c.String(), "."); ok && len(frac) > 6 {
						t.Fatalf("%s: coordinate %s has more than 6 decimals", id, c)
					}
				}
			}
		}
	}
}
