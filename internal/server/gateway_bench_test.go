package server_test

import (
	"context"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/testenv"
)

// BenchmarkGatewayHop measures HTTP calls, which cross the gateway's hop
// to the gRPC server: vocabulary (no database, so mostly the hop) and a
// search of the demo directory returning 20 assets, FULL and BASIC; and
// the same BASIC search over gRPC on the same server, so that the
// difference is what the HTTP side costs (issue 16).
func BenchmarkGatewayHop(b *testing.B) {
	env := testenv.NewServer(b)
	if _, err := demo.Load(context.Background(), env.AppPool, env.App.Assets); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, path string }{
		{"vocabulary", "/v1/vocabulary"},
		{"search", "/v1/assets:search?latitude=52.4862&longitude=-1.8904&radius_meters=5000&page_size=20"},
		{"search-basic", "/v1/assets:search?latitude=52.4862&longitude=-1.8904&radius_meters=5000&page_size=20&view=ASSET_VIEW_BASIC"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			b.ReportAllocs()
			defer reportCPU(b)()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := c.Get(env.HTTPBase + bc.path)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
	b.Run("grpc-search-basic", func(b *testing.B) {
		assets := sparcv1.NewAssetServiceClient(env.Anonymous())
		lat, lng, radius := 52.4862, -1.8904, 5000.0
		req := &sparcv1.SearchAssetsRequest{Latitude: &lat, Longitude: &lng, RadiusMeters: &radius,
			PageSize: 20, View: sparcv1.AssetView_ASSET_VIEW_BASIC}
		b.ReportAllocs()
		defer reportCPU(b)()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := assets.SearchAssets(context.Background(), req)
				if err != nil {
					b.Error(err)
					return
				}
				if len(resp.GetResults()) != 20 {
					b.Errorf("%d assets", len(resp.GetResults()))
					return
				}
			}
		})
	})
}

// reportCPU reports the process's CPU time (user and system, every
// goroutine: client, gateway, gRPC server) per operation, which on a
// shared machine says more than wall time per operation. The database's
// CPU, in its own processes, is not counted.
func reportCPU(b *testing.B) func() {
	start := processCPU(b)
	return func() { b.ReportMetric(float64(processCPU(b)-start)/float64(b.N), "cpu-ns/op") }
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
