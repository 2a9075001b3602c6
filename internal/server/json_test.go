package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The gateway writes searches, listings, assets, the vocabulary and
// postcodes with jsonfast: the bodies must be what protojson, with the
// gateway's options, makes of the same answers over gRPC (apart from
// protojson's random spaces).
func TestGatewayJSONIsProtojsonOfTheGRPCAnswer(t *testing.T) {
	env := testenv.NewServer(t)
	ctx := context.Background()
	if _, err := demo.Load(ctx, env.AppPool, env.App.Assets); err != nil {
		t.Fatal(err)
	}
	capacity, minAge := int32(12), int32(16)
	awkward, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind:        sparcv1.AssetKind_ASSET_KIND_ASSOCIATION,
		DisplayName: `Kids' "club" <Tuesdays> & more 👋🏽`,
		Description: "First line\u2028second \\ line\u2029 — café, 日本語, tab\there",
		Categories:  []string{"physical_activity", "social_connection"},
		Location: &sparcv1.Location{Latitude: 52.4862, Longitude: -1.8904, Address: "1 <Main> & \"High\" St",
			Postcode: "B1 1AA", Locality: "Birmingham", Country: "GB"},
		Sessions: []*sparcv1.Session{{Day: sparcv1.Weekday_WEEKDAY_TUESDAY, StartTime: "10:00", EndTime: "11:00",
			Timezone: "Europe/London", ValidFrom: "2026-01-06"}},
		Cost:               &sparcv1.Cost{Kind: sparcv1.CostKind_COST_KIND_LOW_COST, Note: "£2 <per> session & tea"},
		Accessibility:      []string{"step_free_access"},
		Languages:          []string{"en", "pa"},
		AgeRange:           &sparcv1.AgeRange{MinAge: &minAge},
		Contact:            &sparcv1.Contact{Name: "Sam", Website: "https://example.org/?a=1&b=2"},
		Capacity:           &capacity,
		AcceptingReferrals: true,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Pool.Exec(ctx, `INSERT INTO postcodes (country, postcode, sector, district, location, source)
		VALUES ('GB', 'B1 1BB', 'B1 1', 'B1', 'POINT(-1.903188 52.480579)', 'codepoint-open')`); err != nil {
		t.Fatal(err)
	}
	postcodes := sparcv1.NewPostcodeServiceClient(env.Conn)
	near := &sparcv1.SearchAssetsRequest{Latitude: proto.Float64(52.4862), Longitude: proto.Float64(-1.8904),
		RadiusMeters: proto.Float64(5000), PageSize: 20}
	basic := proto.CloneOf(near)
	basic.View = sparcv1.AssetView_ASSET_VIEW_BASIC
	for _, c := range []struct {
		name, path string
		grpc       func() (proto.Message, error)
	}{
		{"a page of search results", "/v1/assets:search?latitude=52.4862&longitude=-1.8904&radius_meters=5000&page_size=20",
			func() (proto.Message, error) { return env.Assets.SearchAssets(ctx, near) }},
		{"a BASIC page of search results", "/v1/assets:search?latitude=52.4862&longitude=-1.8904&radius_meters=5000&page_size=20&view=ASSET_VIEW_BASIC",
			func() (proto.Message, error) { return env.Assets.SearchAssets(ctx, basic) }},
		{"a search that finds nothing", "/v1/assets:search?latitude=0.5&longitude=0.5&radius_meters=10",
			func() (proto.Message, error) {
				return env.Assets.SearchAssets(ctx, &sparcv1.SearchAssetsRequest{Latitude: proto.Float64(0.5),
					Longitude: proto.Float64(0.5), RadiusMeters: proto.Float64(10)})
			}},
		{"a page of the listing", "/v1/assets?page_size=50",
			func() (proto.Message, error) {
				return env.Assets.ListAssets(ctx, &sparcv1.ListAssetsRequest{PageSize: 50})
			}},
		{"the awkward asset", "/v1/" + awkward.Name,
			func() (proto.Message, error) {
				return env.Assets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: awkward.Name})
			}},
		{"the vocabulary", "/v1/vocabulary",
			func() (proto.Message, error) {
				return env.Assets.ListVocabulary(ctx, &sparcv1.ListVocabularyRequest{})
			}},
		{"a postcode", "/v1/postcodes/B11BB",
			func() (proto.Message, error) {
				return postcodes.GetPostcode(ctx, &sparcv1.GetPostcodeRequest{Name: "postcodes/B11BB"})
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := env.Do(t, http.MethodGet, c.path, "")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			// Sent with its length, not chunked: one write (issue 16).
			if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 {
				t.Errorf("Content-Length %d, Transfer-Encoding %v, for a body of %d bytes", resp.ContentLength, resp.TransferEncoding, len(body))
			}
			m, err := c.grpc()
			if err != nil {
				t.Fatal(err)
			}
			want, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, want); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, compact.Bytes()) {
				t.Fatalf("HTTP body is not protojson's, %s", firstDifference(body, compact.Bytes()))
			}
			if c.name == "the awkward asset" && !bytes.Contains(body, []byte(`"Kids' \"club\" <Tuesdays> & more 👋🏽"`)) {
				t.Fatalf("the name is escaped otherwise: %s", body)
			}
		})
	}
}

// Invalid UTF-8 cannot reach a response: the database (UTF8) refuses it
// in a stored string, and gRPC refuses to send it (a proto3 string), so
// the gateway never marshals it; jsonfast leaves such a value to protojson
// regardless (internal/jsonfast's tests).
func TestInvalidUTF8CannotBeStoredInAnAsset(t *testing.T) {
	env := testenv.NewServer(t)
	ctx := context.Background()
	a, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Walking group",
		Location: &sparcv1.Location{Latitude: 52.4862, Longitude: -1.8904, Country: "GB"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.Pool.Exec(ctx, `UPDATE assets SET name = convert_from('\x57616c6bff'::bytea, 'UTF8')`)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "22021" { // character_not_in_repertoire
		t.Fatalf("storing invalid UTF-8: %v, want SQLSTATE 22021", err)
	}
	resp, body := env.Do(t, http.MethodGet, "/v1/"+a.Name, "")
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"display_name":"Walking group"`)) {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
}

func firstDifference(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-80)
	return fmt.Sprintf("at byte %d:\n got: …%s\nwant: …%s", i, got[from:min(len(got), i+80)], want[from:min(len(want), i+80)])
}
