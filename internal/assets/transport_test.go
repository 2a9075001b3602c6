package assets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/testenv"
	"github.com/sparc-network/sparc/internal/vocab"
)

// transport is one way to reach the AssetService: the gRPC client, or the
// HTTP/JSON gateway behind the same interface so every table runs over both.
type transport struct {
	name string
	api  sparcv1.AssetServiceClient
}

// transports returns both ways in, each acting as the test's admin.
func transports(t *testing.T, env *testenv.Env) []transport {
	return []transport{
		{"grpc", env.Assets},
		{"http", &httpClient{t: t, base: env.HTTPBase, key: env.AdminKey}},
	}
}

// httpStatusFor is what the gateway must answer for each gRPC code; written
// out here rather than taken from the gateway so the mapping is checked.
var httpStatusFor = map[codes.Code]int{
	codes.InvalidArgument:    http.StatusBadRequest,
	codes.NotFound:           http.StatusNotFound,
	codes.Aborted:            http.StatusConflict,
	codes.AlreadyExists:      http.StatusConflict,
	codes.FailedPrecondition: http.StatusBadRequest,
	codes.Internal:           http.StatusInternalServerError,
	codes.Unauthenticated:    http.StatusUnauthorized,
	codes.PermissionDenied:   http.StatusForbidden,
	codes.ResourceExhausted:  http.StatusTooManyRequests,
}

// httpClient implements sparcv1.AssetServiceClient over the gateway's
// documented routes. Errors come back as gRPC status errors rebuilt from the
// JSON body, after checking the HTTP status code matches the gRPC code.
type httpClient struct {
	t    testing.TB
	base string
	key  string // API key sent as a bearer token; empty for anonymous
}

var _ sparcv1.AssetServiceClient = (*httpClient)(nil)

var (
	jsonOut = protojson.MarshalOptions{UseProtoNames: true}
	jsonIn  = protojson.UnmarshalOptions{}
)

func (c *httpClient) do(ctx context.Context, method, path string, query url.Values, body proto.Message, out proto.Message) error {
	var rd io.Reader
	if body != nil {
		b, err := jsonOut.Marshal(body)
		if err != nil {
			return fmt.Errorf("encoding body: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusOK {
		if err := jsonIn.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("decoding %s %s response %s: %w", method, path, raw, err)
		}
		return nil
	}
	var sp spb.Status
	if err := jsonIn.Unmarshal(raw, &sp); err != nil {
		c.t.Errorf("%s %s: HTTP %d with a body that is not a google.rpc.Status: %s", method, path, resp.StatusCode, raw)
		return status.Errorf(codes.Unknown, "HTTP %d", resp.StatusCode)
	}
	st := status.FromProto(&sp)
	if len(violations(st.Err())) > 0 && (!bytes.Contains(raw, []byte(`"field_violations"`)) ||
		!bytes.Contains(raw, []byte(`"type.googleapis.com/google.rpc.BadRequest"`))) {
		c.t.Errorf("%s %s: error body does not carry a google.rpc.BadRequest with proto field names: %s", method, path, raw)
	}
	if want, ok := httpStatusFor[st.Code()]; !ok || want != resp.StatusCode {
		c.t.Errorf("%s %s: HTTP %d for gRPC code %v, want %d", method, path, resp.StatusCode, st.Code(), want)
	}
	return st.Err()
}

// queryOf flattens a request message into gateway query parameters:
// proto field names, repeated fields as repeated keys.
func queryOf(m proto.Message) url.Values {
	b, err := jsonOut.Marshal(m)
	if err != nil {
		panic(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		panic(err)
	}
	q := url.Values{}
	for k, v := range fields {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				q.Add(k, fmt.Sprint(e))
			}
		case float64:
			q.Set(k, string(mustJSON(v)))
		default:
			q.Set(k, fmt.Sprint(v))
		}
	}
	return q
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (c *httpClient) CreateAsset(ctx context.Context, in *sparcv1.CreateAssetRequest, _ ...grpc.CallOption) (*sparcv1.Asset, error) {
	q := url.Values{}
	if in.GetAssetId() != "" {
		q.Set("asset_id", in.GetAssetId())
	}
	body := in.GetAsset()
	if body == nil {
		body = &sparcv1.Asset{}
	}
	out := &sparcv1.Asset{}
	if err := c.do(ctx, http.MethodPost, "/v1/assets", q, body, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *httpClient) GetAsset(ctx context.Context, in *sparcv1.GetAssetRequest, _ ...grpc.CallOption) (*sparcv1.Asset, error) {
	out := &sparcv1.Asset{}
	if err := c.do(ctx, http.MethodGet, assetPath(in.GetName()), nil, nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateAsset sends the mask as the update_mask query parameter; without a
// mask the gateway derives one from the fields present in the JSON body.
func (c *httpClient) UpdateAsset(ctx context.Context, in *sparcv1.UpdateAssetRequest, _ ...grpc.CallOption) (*sparcv1.Asset, error) {
	q := url.Values{}
	if paths := in.GetUpdateMask().GetPaths(); len(paths) > 0 {
		q.Set("update_mask", strings.Join(paths, ","))
	}
	body := proto.Clone(in.GetAsset()).(*sparcv1.Asset)
	name := body.GetName()
	body.Name = "" // the gateway takes asset.name from the URL
	out := &sparcv1.Asset{}
	if err := c.do(ctx, http.MethodPatch, assetPath(name), q, body, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *httpClient) DeleteAsset(ctx context.Context, in *sparcv1.DeleteAssetRequest, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	q := url.Values{}
	if in.GetEtag() != "" {
		q.Set("etag", in.GetEtag())
	}
	out := &emptypb.Empty{}
	if err := c.do(ctx, http.MethodDelete, assetPath(in.GetName()), q, nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// assetPath is the URL of the asset named name: /v1/assets/{uuid}. A
// malformed name keeps its text after "assets/" in the path segment, for
// the server to refuse.
func assetPath(name string) string {
	return "/v1/assets/" + url.PathEscape(strings.TrimPrefix(name, "assets/"))
}

func (c *httpClient) ListAssets(ctx context.Context, in *sparcv1.ListAssetsRequest, _ ...grpc.CallOption) (*sparcv1.ListAssetsResponse, error) {
	out := &sparcv1.ListAssetsResponse{}
	if err := c.do(ctx, http.MethodGet, "/v1/assets", queryOf(in), nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *httpClient) SearchAssets(ctx context.Context, in *sparcv1.SearchAssetsRequest, _ ...grpc.CallOption) (*sparcv1.SearchAssetsResponse, error) {
	out := &sparcv1.SearchAssetsResponse{}
	if err := c.do(ctx, http.MethodGet, "/v1/assets:search", queryOf(in), nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *httpClient) ListVocabulary(ctx context.Context, in *sparcv1.ListVocabularyRequest, _ ...grpc.CallOption) (*sparcv1.ListVocabularyResponse, error) {
	out := &sparcv1.ListVocabularyResponse{}
	if err := c.do(ctx, http.MethodGet, "/v1/vocabulary", queryOf(in), nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// violations returns the BadRequest field paths of err, sorted.
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
	sort.Strings(out)
	return out
}

// wantInvalid checks err is INVALID_ARGUMENT whose violations include
// every field in fields.
func wantInvalid(t testing.TB, err error, fields ...string) {
	t.Helper()
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("got %v, want INVALID_ARGUMENT on %v", err, fields)
	}
	got := violations(err)
	for _, f := range fields {
		found := false
		for _, g := range got {
			if g == f {
				found = true
			}
		}
		if !found {
			t.Fatalf("violations %v do not name %q (error: %v)", got, f, err)
		}
	}
}

func wantCode(t testing.TB, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("got %v, want %v", err, code)
	}
}

// countAssets is the number of rows in the test's database.
func countAssets(t testing.TB, env *testenv.Env) int {
	t.Helper()
	var n int
	if err := env.Pool.QueryRow(context.Background(), "SELECT count(*) FROM assets").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// validAsset is a complete, valid asset; tests change one thing about it.
func validAsset() *sparcv1.Asset {
	minAge, maxAge, capacity := int32(18), int32(99), int32(12)
	return &sparcv1.Asset{
		Kind:        sparcv1.AssetKind_ASSET_KIND_ASSOCIATION,
		DisplayName: "Handsworth Park walking group",
		Description: "A gentle hour round the park, then tea in the café.",
		Categories:  []string{"physical_activity", "social_connection"},
		Location: &sparcv1.Location{Latitude: 52.5047, Longitude: -1.9248, Address: "Hamstead Road",
			Postcode: "b20 2ry", Locality: "Handsworth", Country: "GB"},
		ServiceAreaGeojson: `{"type":"Polygon","coordinates":[[[-1.95,52.49],[-1.90,52.49],[-1.90,52.52],[-1.95,52.52],[-1.95,52.49]]]}`,
		Sessions: []*sparcv1.Session{{Day: sparcv1.Weekday_WEEKDAY_TUESDAY, StartTime: "10:00", EndTime: "11:00",
			Timezone: "Europe/London", ValidFrom: "2026-01-06"}},
		Cost:               &sparcv1.Cost{Kind: sparcv1.CostKind_COST_KIND_FREE, Note: "Free, tea 50p"},
		Accessibility:      []string{"step_free_access", "accessible_toilet"},
		Languages:          []string{"en", "pa"},
		AgeRange:           &sparcv1.AgeRange{MinAge: &minAge, MaxAge: &maxAge},
		Contact:            &sparcv1.Contact{Name: "Sam", Email: "walks@example.org", Phone: "+44 121 000 0000", Website: "https://example.org/walks"},
		Capacity:           &capacity,
		AcceptingReferrals: true,
		Status:             sparcv1.AssetStatus_ASSET_STATUS_ACTIVE,
	}
}

func create(t testing.TB, api sparcv1.AssetServiceClient, a *sparcv1.Asset) *sparcv1.Asset {
	t.Helper()
	out, err := api.CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: a})
	if err != nil {
		t.Fatalf("creating asset: %v", err)
	}
	return out
}

// diff describes how two assets differ, ignoring the named top-level
// fields; empty when they are equal.
//
// next_session_time is always ignored: the server derives it from the
// sessions at the time of reading, so an asset as written has none and
// one read later may have moved on (nextsession_test.go covers it).
func diff(want, got *sparcv1.Asset, ignore ...string) string {
	ignore = append(ignore, "next_session_time")
	w, g := proto.Clone(want).(*sparcv1.Asset), proto.Clone(got).(*sparcv1.Asset)
	for _, m := range []*sparcv1.Asset{w, g} {
		r := m.ProtoReflect()
		for _, f := range ignore {
			r.Clear(r.Descriptor().Fields().ByName(protoreflect.Name(f)))
		}
	}
	if proto.Equal(w, g) {
		return ""
	}
	return "want: " + prototext.Format(w) + "\ngot:  " + prototext.Format(g)
}

var (
	vocabCategories    = termCodes(vocab.Categories)
	vocabAccessibility = termCodes(vocab.Accessibility)
)

func termCodes(ts []vocab.Term) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Code
	}
	return out
}

func withMask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }
