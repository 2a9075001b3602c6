package jsonfast_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/jsonfast"
)

// page is a search answer of 20 demo assets as the server returns them
// (names, etags, times, places left, distances), in the FULL or BASIC
// view.
func page(tb testing.TB, basic bool) *sparcv1.SearchAssetsResponse {
	tb.Helper()
	all, err := demo.Assets()
	if err != nil {
		tb.Fatal(err)
	}
	created := time.Date(2026, 11, 30, 9, 41, 7, 123456000, time.UTC)
	resp := &sparcv1.SearchAssetsResponse{NextPageToken: "eyJxIjoiWkVuSVNOR0QrUFFCdXBtMW8rY2Nsdz09IiwicCI6eyJkIjozMzIwLjgxMjY0OTEwMjA3ODUsIm4iOiJBbGxvdG1lbnQgYW5kIGdyb3dpbmcgcHJvamVjdCJ9fQ"}
	for i, a := range all[:20] {
		a = proto.CloneOf(a)
		a.Name = "assets/" + uuid.NewSHA1(uuid.NameSpaceURL, []byte(a.DisplayName)).String()
		a.OwnerOrganisation = "organisations/0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000003"
		a.Etag = fmt.Sprintf("%016x", i*7919+104729)
		a.CreateTime, a.UpdateTime = timestamppb.New(created), timestamppb.New(created.Add(time.Duration(i)*time.Hour))
		a.Status = sparcv1.AssetStatus_ASSET_STATUS_ACTIVE
		a.PlacesLeft = a.Capacity
		a.NextSessionTime = timestamppb.New(created.Add(time.Duration(i+1) * 26 * time.Hour))
		if basic {
			a = &sparcv1.Asset{Name: a.Name, DisplayName: a.DisplayName, Kind: a.Kind, Categories: a.Categories,
				Location: &sparcv1.Location{Latitude: a.Location.GetLatitude(), Longitude: a.Location.GetLongitude(),
					Locality: a.Location.GetLocality(), Country: a.Location.GetCountry()},
				Cost: &sparcv1.Cost{Kind: a.Cost.GetKind()}, Accessibility: a.Accessibility, AcceptingReferrals: a.AcceptingReferrals,
				PlacesLeft: a.PlacesLeft, Status: a.Status, DeliveryMode: a.DeliveryMode, ServiceArea: a.ServiceArea,
				NextSessionTime: a.NextSessionTime}
		}
		resp.Results = append(resp.Results, &sparcv1.SearchResult{Asset: a, DistanceMeters: 137.25*float64(i) + 0.123456789})
	}
	return resp
}

// BenchmarkEncodeSearchResponse compares the gateway's marshaler before
// (JSONPb, protojson) and after (jsonfast) on a 20-result search page.
func BenchmarkEncodeSearchResponse(b *testing.B) {
	jsonpb := &runtime.JSONPb{MarshalOptions: jsonfast.GatewayOptions}
	for _, view := range []string{"FULL", "BASIC"} {
		resp := page(b, view == "BASIC")
		for _, m := range []struct {
			name string
			m    runtime.Marshaler
		}{{"protojson", jsonpb}, {"jsonfast", jsonfast.NewMarshaler(jsonpb)}} {
			b.Run(view+"/"+m.name, func(b *testing.B) {
				out, err := m.m.Marshal(resp)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(out)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := m.m.Marshal(resp); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// The benchmark's pages are written alike by both.
func TestBenchmarkPagesAreWrittenAlike(t *testing.T) {
	for _, basic := range []bool{false, true} {
		resp := page(t, basic)
		want, err := jsonfast.GatewayOptions.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, want); err != nil {
			t.Fatal(err)
		}
		got, ok := jsonfast.Encode(resp)
		if !ok || !bytes.Equal(got, compact.Bytes()) {
			t.Fatalf("basic %v: the pages differ", basic)
		}
	}
}
