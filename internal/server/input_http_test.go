package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// errorBody is a google.rpc.Status as JSON, or an Open Referral error.
type errorBody struct {
	Code      int    `json:"code"`
	Message   string `json:"message"`
	Parameter string `json:"parameter"`
	Details   []struct {
		FieldViolations []struct {
			Field, Description string
		} `json:"field_violations"`
	} `json:"details"`
}

func (b errorBody) fields() []string {
	var out []string
	for _, d := range b.Details {
		for _, v := range d.FieldViolations {
			out = append(out, v.Field)
		}
	}
	if b.Parameter != "" {
		out = append(out, b.Parameter)
	}
	return out
}

type httpResult struct {
	status int
	header http.Header
	body   errorBody
	raw    []byte
}

func do(t *testing.T, c *http.Client, method, url, key, body string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	res := httpResult{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &res.body)
	return res
}

// wantAnswer fails the test unless res has status and, when field is
// set, a first field violation naming field.
func wantAnswer(t *testing.T, res httpResult, status int, field string) {
	t.Helper()
	if res.status != status {
		t.Fatalf("HTTP %d %s, want %d", res.status, res.raw, status)
	}
	if f := res.body.fields(); field != "" && (len(f) == 0 || f[0] != field) {
		t.Fatalf("fields %v, want %q first (%s)", f, field, res.raw)
	}
}

// NUL and invalid UTF-8 in a path, a query or a body are 400 naming the
// field, anonymous or not, on gateway and plain routes: they gave 500s
// (a database error, or a message gRPC refused to marshal) (issue 12,
// finding 6).
func TestBadTextIsRefusedAtTheEdge(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	lw := env.Key(t, env.AdminOrg, auth.RoleLinkWorker)
	base := env.HTTPBase
	cases := []struct {
		name, method, path, key, body string
		field                         string
	}{
		{"search query not UTF-8", "GET", "/v1/assets:search?query=%ff%fe&latitude=52&longitude=-1.9&radius_meters=100", "", "", "query"},
		{"list category not UTF-8", "GET", "/v1/assets?categories=%ff", "", "", "categories"},
		{"asset id not UTF-8", "GET", "/v1/assets/%ff%fe", "", "", "name"},
		{"page token not UTF-8 with NUL", "GET", "/v1/assets?page_token=%ff%00", "", "", "page_token"},
		{"page token with NUL", "GET", "/v1/assets?page_token=abc%00", "", "", "page_token"},
		{"parameter name not UTF-8", "GET", "/v1/assets?%ff=1", "", "", "query"},
		{"malformed query", "GET", "/v1/assets?page_size=%zz", "", "", "query"},
		{"NUL in a path", "GET", "/v1/organisations/a%00b", "", "", "name"},
		{"person name with NUL", "POST", "/v1/people", lw, `{"display_name":"Sam\u0000"}`, "person.display_name"},
		{"referral note with NUL", "POST", "/v1/referrals", lw, `{"request_id":"r1","provider_note":"x\u0000"}`, "provider_note"},
		{"outcome text with NUL", "POST", "/v1/referrals/00000000-0000-0000-0000-000000000001:recordOutcome", lw, `{"what_changed":"\u0000"}`, "what_changed"},
		{"webhook url with NUL", "POST", "/v1/webhooks", env.AdminKey, `{"url":"https://example.org/\u0000"}`, "webhook.url"},
		{"organisation name with NUL", "POST", "/v1/organisations", env.AdminKey, `{"display_name":"Org\u0000"}`, "organisation.display_name"},
		{"API key name with NUL", "POST", "/v1/apiKeys", env.AdminKey, `{"display_name":"k\u0000"}`, "display_name"},
		{"audit filter with NUL", "GET", "/v1/auditEvents?principal=a%00", env.AdminKey, "", "principal"},
		{"coverage CSV kind with NUL", "GET", "/v1/coverage.csv?kind=lsoa%00", "", "", "kind"},
		{"network GraphML window with NUL", "GET", "/v1/referralNetwork.graphml?window=2026%00", env.AdminKey, "", "window"},
		{"network CSV area not UTF-8", "GET", "/v1/referralNetwork.csv?table=nodes&area=%ff%fe", env.AdminKey, "", "area"},
		{"network window not UTF-8", "GET", "/v1/referralNetwork?window=%ff", env.AdminKey, "", "window"},
		{"ORUK postcode with NUL", "GET", "/openreferral/services?postcode=B1%001AA", "", "", "postcode"},
		{"tile path not UTF-8", "GET", "/tiles/assets/1/0/%ff.mvt", "", "", "path"},
		{"a list item in a nested body field", "POST", "/v1/assets", env.AdminKey, `{"name":"x","categories":["food","\u0000"]}`, "asset.categories[1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// env.HTTP sends the admin key unless told otherwise: without
			// a key these are anonymous.
			client := env.HTTP
			if tc.key == "" {
				client = http.DefaultClient
			}
			wantAnswer(t, do(t, client, tc.method, base+tc.path, tc.key, tc.body), http.StatusBadRequest, tc.field)
		})
	}
}

// gRPC callers get the same: NUL anywhere in a request (nested, in a
// list) is INVALID_ARGUMENT naming the field; a string that is not UTF-8
// (which the Go client cannot even send) is INVALID_ARGUMENT, not the
// INTERNAL gRPC gives for a message it cannot decode.
func TestBadTextIsRefusedOverGRPC(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	// A regression would let the watch run: bound every call.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lw := env.ConnWithKey(t, env.Key(t, env.AdminOrg, auth.RoleLinkWorker))
	check := func(t *testing.T, err error, field string) {
		t.Helper()
		st := status.Convert(err)
		if st.Code() != codes.InvalidArgument {
			t.Fatalf("got %v %q, want INVALID_ARGUMENT", st.Code(), st.Message())
		}
		fields := testenv.Fields(err)
		if len(fields) == 0 || fields[0] != field {
			t.Fatalf("fields %v, want %q first", fields, field)
		}
	}
	t.Run("NUL in a person", func(t *testing.T) {
		_, err := sparcv1.NewPersonServiceClient(lw).CreatePerson(ctx, &sparcv1.CreatePersonRequest{
			Person: &sparcv1.Person{DisplayName: "Sam", Postcode: "B1\x00"}})
		check(t, err, "person.postcode")
	})
	t.Run("NUL in a list item of a nested message, anonymously", func(t *testing.T) {
		_, err := sparcv1.NewAssetServiceClient(env.Anonymous()).CreateAsset(ctx, &sparcv1.CreateAssetRequest{
			Asset: &sparcv1.Asset{DisplayName: "x", Sessions: []*sparcv1.Session{{}, {Timezone: "Europe/London\x00"}}}})
		check(t, err, "asset.sessions[1].timezone")
	})
	t.Run("list over the cap", func(t *testing.T) {
		_, err := sparcv1.NewReferralServiceClient(lw).CreateReferral(ctx, &sparcv1.CreateReferralRequest{
			RequestId: "r", Reasons: make([]string, 200_000)})
		check(t, err, "reasons")
	})
	t.Run("string not UTF-8", func(t *testing.T) {
		fd := (&sparcv1.SearchAssetsRequest{}).ProtoReflect().Descriptor().Fields().ByName("query")
		raw := protowire.AppendTag(nil, fd.Number(), protowire.BytesType)
		raw = protowire.AppendBytes(raw, []byte("walk\xff\xfe"))
		err := env.Anonymous().Invoke(ctx, "/sparc.v1.AssetService/SearchAssets", raw,
			&sparcv1.SearchAssetsResponse{}, grpc.ForceCodecV2(rawCodec{}))
		check(t, err, "query")
	})
	t.Run("string not UTF-8 in a stream", func(t *testing.T) {
		fd := (&sparcv1.WatchReferralsRequest{}).ProtoReflect().Descriptor().Fields().ByName("cursor")
		raw := protowire.AppendTag(nil, fd.Number(), protowire.BytesType)
		raw = protowire.AppendBytes(raw, []byte{0xff})
		stream, err := lw.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/sparc.v1.ReferralService/WatchReferrals",
			grpc.ForceCodecV2(rawCodec{}))
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.SendMsg(raw); err != nil {
			t.Fatal(err)
		}
		_ = stream.CloseSend()
		check(t, stream.RecvMsg(&sparcv1.ReferralChange{}), "cursor")
	})
}

// rawCodec sends bytes as they are, to play a client that is not Go's.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := v.([]byte); ok {
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	b, err := proto.Marshal(v.(proto.Message))
	return mem.BufferSlice{mem.SliceBuffer(b)}, err
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return proto.Unmarshal(data.Materialize(), v.(proto.Message))
}

func (rawCodec) Name() string { return "proto" }

// One huge bad request cannot hurt anyone else: POST /v1/assets with
// 100,000 invalid categories (about 1 MB) produced a 4.2 MB error that
// broke the gateway's shared gRPC connection, and anonymous searchers got
// 503s. Now its error is small and the searches running beside it all
// succeed (issue 12, finding 6).
func TestHugeBadRequestDoesNotHurtOthers(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	cats := make([]string, 100_000)
	for i := range cats {
		cats[i] = fmt.Sprintf("not-a-category-%d", i)
	}
	body, _ := json.Marshal(map[string]any{"name": "x", "categories": cats})

	var searches, failed atomic.Int64
	load := testenv.NewLoad(t)
	load.Go(4, func() bool {
		resp, err := http.Get(env.HTTPBase + "/v1/assets:search?latitude=52.48&longitude=-1.89&radius_meters=1000")
		if err != nil {
			failed.Add(1)
			return true
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		searches.Add(1)
		if resp.StatusCode != http.StatusOK {
			failed.Add(1)
		}
		return true
	})
	for range 5 {
		res := do(t, env.HTTP, "POST", env.HTTPBase+"/v1/assets", env.AdminKey, string(body))
		if res.status != http.StatusBadRequest {
			t.Errorf("huge bad request: HTTP %d, want 400", res.status)
		}
		if len(res.raw) > 16<<10 {
			t.Errorf("error for a %d-byte request is %d bytes", len(body), len(res.raw))
		}
		t.Logf("a %d-byte request of 100,000 bad categories: HTTP %d, %d-byte error", len(body), res.status, len(res.raw))
	}
	// Also a list just under the walker's cap, so that every item reaches
	// validation: the error is still bounded.
	res := do(t, env.HTTP, "POST", env.HTTPBase+"/v1/assets", env.AdminKey,
		fmt.Sprintf(`{"name":"x","categories":%s}`, mustJSON(cats[:1000])))
	if res.status != http.StatusBadRequest || len(res.raw) > 16<<10 || len(res.body.fields()) > 20 {
		t.Errorf("1,000 bad categories: HTTP %d, %d bytes, %d violations; want 400, at most 16 KiB and 20", res.status, len(res.raw), len(res.body.fields()))
	}
	testenv.Until(t, time.Minute, "20 searches beside the bad requests", func() bool { return searches.Load() >= 20 })
	load.Stop()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d searches beside the bad requests failed", failed.Load(), searches.Load())
	}
	t.Logf("%d searches beside the bad requests, none failed; 1,000 bad categories: %d-byte error", searches.Load(), len(res.raw))
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Every route refuses query parameters it does not take: ?lat=&lng= on a
// search returned the whole directory, unfiltered (issue 12, finding 6).
func TestUnknownQueryParametersAreRefused(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	cases := []struct {
		name, method, path string
		status             int
		field              string
	}{
		{"search with lat and lng", "GET", "/v1/assets:search?lat=52.48&lng=-1.89", 400, "lat"},
		{"list with a typo", "GET", "/v1/assets?page-size=5", 400, "page-size"},
		{"path field from the query", "GET", "/v1/assets/00000000-0000-0000-0000-000000000001?name=x", 400, "name"},
		{"body field from the query", "POST", "/v1/assets?asset.name=x", 400, "asset.name"},
		{"whole-body route", "POST", "/v1/referrals?priority=urgent", 400, "priority"},
		{"singular field twice", "GET", "/v1/assets?page_size=1&page_size=2", 400, "page_size"},
		{"coverage download", "GET", "/v1/coverage.csv?kind=lsoa&colour=red", 400, "colour"},
		{"network download", "GET", "/v1/referralNetwork.csv?table=nodes&person=x", 400, "person"},
		{"asset tile", "GET", "/tiles/assets/1/0/0.mvt?kind=lsoa", 400, "kind"},
		{"health", "GET", "/healthz?verbose=1", 400, "verbose"},
		{"ORUK, in its own error form", "GET", "/openreferral/services?lat=52", 400, "lat"},
		{"JSON names are the field's too", "GET", "/v1/assets?pageSize=1", 200, ""},
		{"map view parameters", "GET", "/map?lat=52.4&lng=-1.9&z=12&kind=lsoa", 200, ""},
		{"repeated list parameter", "GET", "/v1/assets?categories=food&categories=housing", 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantAnswer(t, do(t, env.HTTP, tc.method, env.HTTPBase+tc.path, env.AdminKey, "{}"), tc.status, tc.field)
		})
	}
}

// A method a path does not serve is 405 with Allow (it was 501 from the
// gateway and 404 for plain routes).
func TestWrongMethodIs405WithAllow(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	cases := []struct {
		method, path, allow string
	}{
		{"PUT", "/v1/assets", "GET, POST"},
		{"DELETE", "/v1/assets:search", "GET"},
		{"POST", "/v1/assets/00000000-0000-0000-0000-000000000001", "GET, PATCH, DELETE"},
		{"DELETE", "/v1/referrals/00000000-0000-0000-0000-000000000001:transition", "GET, POST"},
		{"POST", "/v1/coverage.csv", "GET, HEAD"},
		{"DELETE", "/healthz", "GET, HEAD"},
		{"POST", "/openreferral/services", "GET, HEAD, OPTIONS"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			res := do(t, env.HTTP, tc.method, env.HTTPBase+tc.path, env.AdminKey, "")
			if res.status != http.StatusMethodNotAllowed || res.header.Get("Allow") != tc.allow {
				t.Fatalf("HTTP %d Allow %q (%s), want 405 Allow %q", res.status, res.header.Get("Allow"), res.raw, tc.allow)
			}
		})
	}
	if res := do(t, env.HTTP, "GET", env.HTTPBase+"/v1/nothing-here", env.AdminKey, ""); res.status != http.StatusNotFound {
		t.Fatalf("unknown path: HTTP %d, want 404", res.status)
	}
}

// Messages describe the value expected, never Go's parser text
// ("strconv.ParseFloat: parsing "1e309": value out of range").
func TestNoGoInternalsInMessages(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	cases := []struct{ path, field, want string }{
		{"/v1/assets:search?latitude=1e309&longitude=0&radius_meters=10", "latitude", "must be a finite number"},
		{"/v1/assets:search?page_size=many", "page_size", "must be a whole number"},
		{"/v1/assets:search?free_only=perhaps", "free_only", "must be true or false"},
		{"/v1/assets:search?open_at=tuesday", "open_at", "RFC 3339"},
		{"/v1/assets:search?kinds=CHOIR", "kinds", "must be one of"},
		{"/v1/coverage.csv?kind=lsoa&walking_distance_meters=far", "walking_distance_meters", "must be a finite number"},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			res := do(t, http.DefaultClient, "GET", env.HTTPBase+tc.path, "", "")
			wantAnswer(t, res, http.StatusBadRequest, tc.field)
			msg := string(res.raw)
			for _, internal := range []string{"strconv", "grpc:", "proto:", "parsing"} {
				if strings.Contains(msg, internal) {
					t.Errorf("answer quotes Go internals (%q): %s", internal, msg)
				}
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("%s does not say %q", msg, tc.want)
			}
		})
	}
}
