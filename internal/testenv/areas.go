package testenv

import (
	"context"
	"fmt"
	"io"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/areas"
)

// ImportAreas stores areas of kind as an area import does (numbering the
// features in order), each with population residents when it is not 0.
func (e *Env) ImportAreas(t testing.TB, kind string, population int, features ...*sparcv1.AreaFeature) {
	t.Helper()
	ctx := context.Background()
	for i, f := range features {
		f.FeatureNumber = int64(i + 1)
	}
	sent := false
	if _, err := areas.NewStore(e.Pool).ImportAreas(ctx, kind, func() ([]*sparcv1.AreaFeature, error) {
		if sent {
			return nil, io.EOF
		}
		sent = true
		return features, nil
	}); err != nil {
		t.Fatal(err)
	}
	if population == 0 {
		return
	}
	if _, err := e.Pool.Exec(ctx, `UPDATE areas SET population = $1 WHERE kind = $2`, population, kind); err != nil {
		t.Fatal(err)
	}
}

// Box is a GeoJSON polygon: the box between two corners, in WGS84.
func Box(minLon, minLat, maxLon, maxLat float64) string {
	return fmt.Sprintf(`{"type":"Polygon","coordinates":[[[%g,%g],[%g,%g],[%g,%g],[%g,%g],[%g,%g]]]}`,
		minLon, minLat, maxLon, minLat, maxLon, maxLat, minLon, maxLat, minLon, minLat)
}
