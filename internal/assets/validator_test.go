package assets_test

import (
	"context"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/geo"
	"github.com/sparc-network/sparc/internal/pagetoken"
	"github.com/sparc-network/sparc/internal/testenv"
)

func validatorService(t testing.TB) *assets.Service {
	s, err := pagetoken.NewSigner([]byte("fuzzing key, at least 16 bytes"))
	if err != nil {
		t.Fatal(err)
	}
	// SearchQuery never touches the store.
	return assets.NewService(nil, s)
}

// searchSeeds covers every field of a search request with ordinary,
// boundary and hostile values.
func searchSeeds() []*sparcv1.SearchAssetsRequest {
	f := func(v float64) *float64 { return &v }
	i := func(v int32) *int32 { return &v }
	b := func(v bool) *bool { return &v }
	star := polygonJSON(square(-1.9, 52.5, 0.05))
	return []*sparcv1.SearchAssetsRequest{
		{},
		{Latitude: f(52.4862), Longitude: f(-1.8904), RadiusMeters: f(3000)},
		{Latitude: f(90), Longitude: f(180), RadiusMeters: f(100000)},
		{Latitude: f(-90), Longitude: f(-180), RadiusMeters: f(1e-9)},
		{Latitude: f(1e-7), Longitude: f(math.Copysign(0, -1)), RadiusMeters: f(5e-324)},
		{Latitude: f(math.NaN()), Longitude: f(0), RadiusMeters: f(1)},
		{Latitude: f(0), Longitude: f(math.Inf(1)), RadiusMeters: f(1)},
		{Latitude: f(0), Longitude: f(0), RadiusMeters: f(100000.0001)},
		{Latitude: f(52)},
		{Bbox: "-2,52,-1,53"},
		{Bbox: "-180,-90,180,90", Query: "walk"},
		{Bbox: "0x1p-2,1e1,0x1p-1,2e1"},
		{Bbox: " -2 , 52 , -1 , 53 "},
		{Bbox: "1,2,3"},
		{Bbox: "-1,53,-2,52"},
		{WithinGeojson: star, FreeOnly: true},
		{WithinGeojson: `{"type":"Feature","geometry":` + star + `}`},
		{WithinGeojson: `{"type":"Polygon","crs":{"type":"name","properties":{"name":"EPSG:27700"}},"coordinates":[[[-2,52],[-1,52],[-1,53],[-2,52]]]}`},
		{WithinGeojson: `{"type":"Polygon","coordinates":[[[-2,52,10],[-1,52,10],[-1,53,10],[-2,52,10]]]}`},
		{WithinGeojson: `{"type":"Polygon"}`},
		{WithinGeojson: polygonJSON([][2]float64{{-1.95, 52.45}, {-1.85, 52.55}, {-1.85, 52.45}, {-1.95, 52.55}, {-1.95, 52.45}})},
		{Categories: []string{"food", "faith"}, Kinds: []sparcv1.AssetKind{1, 6}, Accessibility: []string{"hearing_loop", "parking"}},
		{Categories: []string{"food", "food"}},
		{Kinds: []sparcv1.AssetKind{0}},
		{Kinds: []sparcv1.AssetKind{-3}},
		{Language: "nl", Age: i(0), AcceptingReferrals: b(false)},
		{Language: "pl", Age: i(120), AcceptingReferrals: b(true)},
		{Language: "EN'; DROP TABLE assets; --"},
		{Age: i(-1)},
		{OpenAt: timestamppb.New(time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC))},
		{OpenAt: &timestamppb.Timestamp{Seconds: -62135596800}},
		{OpenAt: &timestamppb.Timestamp{Seconds: 253402300799, Nanos: 999999999}},
		{OpenAt: &timestamppb.Timestamp{Seconds: 1, Nanos: -1}},
		{Query: "walk tues"},
		{Query: "café ' & | ! ( ) : * <-> \\"},
		{Query: "ʰ ǅ ß İstanbul ﬁsh 한국 عربي 𝔄𝔅 Ⅻ ٣٤"},
		{Query: "the and of"},
		{Query: "!!! ???"},
		{Query: strings.Repeat("a", 201)},
		{Statuses: []sparcv1.AssetStatus{1, 2, 3}, HasPlaces: true},
		{Statuses: []sparcv1.AssetStatus{0}},
		{PageSize: 1}, {PageSize: 100}, {PageSize: 101}, {PageSize: -1}, {PageSize: math.MaxInt32},
		{PageToken: "not a token"},
		{Latitude: f(52.5), Longitude: f(-1.9), RadiusMeters: f(2000), Bbox: "-2,52,-1,53"},
	}
}

var placeholder = regexp.MustCompile(`\$([0-9]+)`)

// checkAccepted asserts the invariants of a query SearchQuery accepted,
// and that its SQL numbers exactly the arguments it passes.
func checkAccepted(t testing.TB, req *sparcv1.SearchAssetsRequest, q assets.SearchQuery) {
	t.Helper()
	if q.Limit < 1 || q.Limit > 100 {
		t.Fatalf("accepted %v with limit %d", req, q.Limit)
	}
	places := 0
	if q.Near != nil {
		places++
		if !geo.ValidLatLng(q.Near.Lat, q.Near.Lng) || !(q.Near.RadiusMeters > 0 && q.Near.RadiusMeters <= 100000) {
			t.Fatalf("accepted %v with point %+v", req, *q.Near)
		}
	}
	if q.BBox != nil {
		places++
	}
	if q.WithinGeoJSON != "" {
		places++
	}
	if places > 1 {
		t.Fatalf("accepted %v with %d places", req, places)
	}
	if q.Age != nil && (*q.Age < 0 || *q.Age > 120) {
		t.Fatalf("accepted age %d", *q.Age)
	}
	if len(q.Statuses) == 0 {
		t.Fatalf("accepted %v without statuses", req)
	}
	sql, args := assets.SearchSQL(q)
	max := 0
	for _, m := range placeholder.FindAllStringSubmatch(sql, -1) {
		n, _ := strconv.Atoi(m[1])
		if n > max {
			max = n
		}
	}
	if max != len(args) {
		t.Fatalf("SQL uses $%d but passes %d arguments", max, len(args))
	}
}

// FuzzSearchQuery: the search validator never panics on any request, and
// what it accepts is a well-formed query. Run with
// go test -fuzz FuzzSearchQuery ./internal/assets/
func FuzzSearchQuery(f *testing.F) {
	svc := validatorService(f)
	for _, r := range searchSeeds() {
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		var req sparcv1.SearchAssetsRequest
		if err := proto.Unmarshal(wire, &req); err != nil {
			return // gRPC would refuse it before the handler
		}
		q, err := svc.SearchQuery(&req)
		if err != nil {
			if len(violations(err)) == 0 {
				t.Fatalf("rejection without field violations: %v", err)
			}
			return
		}
		checkAccepted(t, &req, q)
	})
}

// randomSearch builds a request from random parts, most of them valid.
func randomSearch(r *rand.Rand) *sparcv1.SearchAssetsRequest {
	pick := func(n int) bool { return r.IntN(n) == 0 }
	f := func(v float64) *float64 { return &v }
	req := &sparcv1.SearchAssetsRequest{}
	switch r.IntN(4) {
	case 0:
		req.Latitude, req.Longitude = f(50+r.Float64()*5), f(-4+r.Float64()*9)
		req.RadiusMeters = f([]float64{1e-6, 1, 500, 2000, 100000}[r.IntN(5)])
	case 1:
		lo, la := -4+r.Float64()*8, 50+r.Float64()*4
		req.Bbox = strconv.FormatFloat(lo, 'g', -1, 64) + "," + strconv.FormatFloat(la, 'g', -1, 64) + "," +
			strconv.FormatFloat(lo+r.Float64(), 'e', -1, 64) + "," + strconv.FormatFloat(la+r.Float64(), 'f', -1, 64)
	case 2:
		req.WithinGeojson = polygonJSON(square(-4+r.Float64()*8, 50+r.Float64()*4, r.Float64()))
	}
	if pick(2) {
		req.Categories = []string{vocabCategories[r.IntN(len(vocabCategories))]}
	}
	if pick(3) {
		req.Kinds = []sparcv1.AssetKind{sparcv1.AssetKind(1 + r.IntN(6))}
	}
	req.FreeOnly = pick(4)
	if pick(3) {
		req.Accessibility = []string{vocabAccessibility[r.IntN(len(vocabAccessibility))]}
	}
	if pick(4) {
		req.Language = []string{"en", "nl", "pl", "pa"}[r.IntN(4)]
	}
	if pick(4) {
		a := int32(r.IntN(121))
		req.Age = &a
	}
	if pick(4) {
		v := pick(2)
		req.AcceptingReferrals = &v
	}
	if pick(3) {
		req.OpenAt = timestamppb.New(time.Unix(r.Int64N(1<<40)-1<<39, 0))
	}
	if pick(3) {
		words := []string{"walk", "café", "tues", "ʰ", "İstanbul", "ﬁsh", "한국", "the", "O'Brien", "x:*", "a&b", "٣٤"}
		req.Query = words[r.IntN(len(words))] + " " + words[r.IntN(len(words))]
	}
	if pick(4) {
		req.Statuses = []sparcv1.AssetStatus{sparcv1.AssetStatus(1 + r.IntN(3))}
	}
	req.HasPlaces = pick(4)
	req.PageSize = int32(r.IntN(120))
	return req
}

// Everything the validator accepts must run: for the seeds and a few
// hundred random requests, the SQL of each accepted request executes
// against a directory holding assets with sessions in several zones.
func TestAcceptedSearchRequestsRunWithoutDatabaseError(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	zones := []string{"Europe/London", "Europe/Amsterdam", "UTC", "America/St_Johns", "Asia/Kathmandu", "Pacific/Kiritimati"}
	for i, z := range zones {
		a := validAsset()
		a.Sessions = []*sparcv1.Session{{Day: sparcv1.Weekday(1 + i%7), StartTime: "00:00", EndTime: "23:59", Timezone: z,
			ValidFrom: "1900-01-01", ValidUntil: "2999-12-31"}}
		if _, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: a}); err != nil {
			t.Fatal(err)
		}
	}
	svc := validatorService(t)
	reqs := searchSeeds()
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 300; i++ {
		reqs = append(reqs, randomSearch(r))
	}
	accepted := 0
	for _, req := range reqs {
		q, err := svc.SearchQuery(req)
		if err != nil {
			continue
		}
		accepted++
		checkAccepted(t, req, q)
		if _, err := env.App.Assets.Search(ctx, q); err != nil {
			t.Errorf("accepted request %v fails in the database: %v", req, err)
		}
	}
	if accepted < len(reqs)/2 {
		t.Fatalf("only %d of %d requests accepted; the sample does not exercise the SQL", accepted, len(reqs))
	}
}

// hostileAsset mutates a valid asset with values from the edges of what
// each field may hold.
func hostileAsset(r *rand.Rand) *sparcv1.Asset {
	a := validAsset()
	pickS := func(vals ...string) string { return vals[r.IntN(len(vals))] }
	texts := []string{"", " ", "ʰ ǅ ß İ ﬁ 한 ا 𝔄 Ⅻ ٣", "'; DROP TABLE assets; --", "\\x00", "\u202e", strings.Repeat("é", 200),
		"a\tb\nc", "\xef\xbb\xbf", "%s %d {{.}}", "\u0000"}
	switch r.IntN(12) {
	case 0:
		a.DisplayName = pickS(texts...)
	case 1:
		a.Description = pickS(texts...) + strings.Repeat("x", r.IntN(5100))
	case 2:
		a.Location.Address, a.Location.Postcode, a.Location.Locality = pickS(texts...), pickS(texts...), pickS(texts...)
	case 3:
		a.Contact = &sparcv1.Contact{Name: pickS(texts...), Email: pickS("a@b", "a@b.c", "\"quoted\"@example.org", "a@[127.0.0.1]", "x@y.z\x00", "@", "é@é.é"),
			Phone: pickS("+44 (0) 121-000", "+", "00000", "((((((((", "1 2 3 4 5"), Website: pickS("http://x", "https://é.example/ü?q=\u0000", "http://[::1]:80/", "https://a b", "http:///x")}
	case 4:
		a.Languages = []string{pickS("en", "zzz", "e", "EN", "en-GB", "")}
	case 5:
		a.Capacity = ptr(int32(r.IntN(3) - 1 + []int{0, 100000, 2147483646}[r.IntN(3)]))
	case 6:
		lo, hi := int32(r.IntN(130)-5), int32(r.IntN(130)-5)
		a.AgeRange = &sparcv1.AgeRange{MinAge: &lo, MaxAge: &hi}
	case 7:
		a.Sessions = []*sparcv1.Session{{Day: sparcv1.Weekday(r.IntN(9)), StartTime: pickS("00:00", "23:59", "7:00", "12:60", "10:00"),
			EndTime: pickS("23:59", "00:01", "10:30", "24:00"), Timezone: pickS("Europe/London", "europe/london", "UTC", "Etc/GMT+12", "../etc/passwd", "EST", "Asia/Kolkata", "posixrules"),
			ValidFrom: pickS("", "1900-01-01", "2999-12-31", "0001-01-01", "2026-02-29", "2024-02-29"), ValidUntil: pickS("", "2999-12-31", "9999-12-31", "1899-12-31")}}
	case 8:
		a.LastVerifiedTime = &timestamppb.Timestamp{Seconds: []int64{-62135596800, 0, 253402300799, -62135596801}[r.IntN(4)]}
	case 9:
		a.Location.Latitude, a.Location.Longitude = []float64{-90, 90, 0, math.Copysign(0, -1), 1e-300}[r.IntN(5)], []float64{-180, 180, 0, 5e-324}[r.IntN(4)]
	case 10:
		a.ServiceAreaGeojson = pickS(`{"type":"Polygon","coordinates":[[[-180,-90],[180,-90],[180,90],[-180,90],[-180,-90]]]}`,
			`{"type":"Polygon","coordinates":[[[0,0],[1e-9,0],[1e-9,1e-9],[0,0]]]}`,
			`{"type":"Polygon","coordinates":[[[179.9,0],[-179.9,0],[-179.9,1],[179.9,1],[179.9,0]]]}`,
			`{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[0,0],[1,0],[1,1],[0,0]]]]}`,
			`{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]],[[5,5],[6,5],[6,6],[5,5]]]}`,
			`{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0,1,2],[1,0,1,2],[1,1,1,2],[0,0,1,2]]]}}`)
	case 11:
		a.Categories = append(a.Categories, pickS(vocabCategories...))
		a.Accessibility = append(a.Accessibility, pickS(vocabAccessibility...))
	}
	return a
}

// Whatever the create validator accepts, the database stores: a create is
// either OK or INVALID_ARGUMENT, never a database error; what is stored
// reads back and can be updated again unchanged.
func TestCreateValidatorAcceptsOnlyWhatTheDatabaseStores(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(11, 4))
	accepted := 0
	for i := 0; i < 250; i++ {
		a := hostileAsset(r)
		created, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: a})
		switch status.Code(err) {
		case codes.InvalidArgument:
			continue
		case codes.OK:
		default:
			t.Errorf("create with service area %q, sessions %v: %v", a.GetServiceAreaGeojson(), a.GetSessions(), err)
			continue
		}
		accepted++
		// Writing it back as read (a full replace) must pass validation too.
		if _, err := env.Assets.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{Asset: created, UpdateMask: withMask("*")}); err != nil {
			t.Errorf("stored asset %v cannot be written back: %v", created, err)
		}
	}
	if accepted < 50 {
		t.Fatalf("only %d of 250 accepted; the sample is too hostile to test storage", accepted)
	}
	// And every stored session survives an open_at search.
	if _, err := env.Assets.SearchAssets(ctx, &sparcv1.SearchAssetsRequest{Bbox: "-180,-90,180,90", PageSize: 100,
		OpenAt: timestamppb.Now(), Statuses: []sparcv1.AssetStatus{1, 2, 3}}); err != nil {
		t.Fatalf("open_at search over the stored assets: %v", err)
	}
}
