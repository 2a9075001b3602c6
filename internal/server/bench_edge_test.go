package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// The cost the edge adds to a search: the walk of its request and the
// HTTP checks.
func BenchmarkCheckSearchRequest(b *testing.B) {
	lat, lng, radius := 52.48, -1.89, 2000.0
	req := &sparcv1.SearchAssetsRequest{Latitude: &lat, Longitude: &lng, RadiusMeters: &radius,
		Categories: []string{"physical_activity", "nature_green_space"}, Query: "walking group", PageToken: "abcdefghijklmnopqrstuvwxyz0123456789"}
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckMessage(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEdgeSearch(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(http.ResponseWriter, *http.Request) {})
	e := newInputGuard(mux, nil)
	r := httptest.NewRequest("GET", "/v1/assets:search?latitude=52.4862&longitude=-1.8904&radius_meters=2000&categories=physical_activity&categories=nature_green_space&free_only=true", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		e.ServeHTTP(w, r)
	}
}

// The gateway's query parser on a search's query string (issue 16: its
// share of an HTTP search).
func BenchmarkSearchQuery(b *testing.B) {
	values, err := url.ParseQuery("latitude=52.4862&longitude=-1.8904&radius_meters=5000&page_size=20&view=ASSET_VIEW_BASIC")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := (strictQuery{}).Parse(&sparcv1.SearchAssetsRequest{}, values, utilities.NewDoubleArray(nil)); err != nil {
			b.Fatal(err)
		}
	}
}
