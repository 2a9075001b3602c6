package server_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/testenv"
)

// BenchmarkGatewayHop measures HTTP calls, which cross the gateway's hop
// to the gRPC server: vocabulary (no database, so mostly the hop) and a
// search of the demo directory returning 20 assets.
func BenchmarkGatewayHop(b *testing.B) {
	env := testenv.NewServer(b)
	if _, err := demo.Load(context.Background(), env.AppPool, env.App.Assets); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, path string }{
		{"vocabulary", "/v1/vocabulary"},
		{"search", "/v1/assets:search?latitude=52.4862&longitude=-1.8904&radius_meters=5000&page_size=20"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
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
}
