package coverage_test

import (
	"context"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/testenv"
)

// demoEnv is a server with the demo directory and the demo areas (real
// LSOA and MSOA boundaries of Birmingham, Wirral and Gwent with their
// deprivation and population), loaded as sparcd --demo loads them.
type demoEnv struct {
	*testenv.Env
	Areas    sparcv1.AreaServiceClient
	Coverage sparcv1.CoverageServiceClient
}

func newDemoEnv(t *testing.T, opts ...testenv.Options) *demoEnv {
	t.Helper()
	env := testenv.NewServer(t, opts...)
	ctx := demo.AdminContext(context.Background())
	if _, err := demo.Load(ctx, env.AppPool, env.App.Assets); err != nil {
		t.Fatalf("loading demo assets: %v", err)
	}
	if n, err := demo.ImportAreas(ctx, areas.NewService(env.App.Areas, env.App.Tokens)); err != nil || n == 0 {
		t.Fatalf("loading demo areas: %d, %v", n, err)
	}
	return &demoEnv{Env: env, Areas: sparcv1.NewAreaServiceClient(env.Conn), Coverage: sparcv1.NewCoverageServiceClient(env.Conn)}
}
