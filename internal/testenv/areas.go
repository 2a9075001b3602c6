package testenv

import (
	"context"
	"fmt"
	"io"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/areas"
)

// RemoteTestAreas are two test councils: "E08999901" over Handsworth,
// Birmingham (52.49..52.52 N, 1.96..1.88 W) and "E08999902" over Selly
// Oak (52.42..52.45 N), for services that name the areas they cover.
var RemoteTestAreas = []*sparcv1.AreaFeature{
	{FeatureNumber: 1, Code: "E08999901", DisplayName: "North test council", GeometryGeojson: Box(-1.96, 52.49, -1.88, 52.52)},
	{FeatureNumber: 2, Code: "E08999902", DisplayName: "South test council", GeometryGeojson: Box(-1.96, 52.42, -1.88, 52.45)},
}

// LoadAreas stores features as areas of kind, as the area import does.
func (e *Env) LoadAreas(t testing.TB, kind string, features []*sparcv1.AreaFeature) {
	t.Helper()
	sent := false
	if _, err := areas.NewStore(e.Pool).ImportAreas(context.Background(), kind, func() ([]*sparcv1.AreaFeature, error) {
		if sent {
			return nil, io.EOF
		}
		sent = true
		return features, nil
	}); err != nil {
		t.Fatalf("loading areas: %v", err)
	}
}

// ImportAreas stores areas of kind as LoadAreas does, numbering the
// features in order, each with population residents when it is not 0.
func (e *Env) ImportAreas(t testing.TB, kind string, population int, features ...*sparcv1.AreaFeature) {
	t.Helper()
	for i, f := range features {
		f.FeatureNumber = int64(i + 1)
	}
	e.LoadAreas(t, kind, features)
	if population == 0 {
		return
	}
	if _, err := e.Pool.Exec(context.Background(), `UPDATE areas SET population = $1 WHERE kind = $2`, population, kind); err != nil {
		t.Fatal(err)
	}
}

// Box is a GeoJSON polygon: the box between two corners, in WGS84.
func Box(minLon, minLat, maxLon, maxLat float64) string {
	return fmt.Sprintf(`{"type":"Polygon","coordinates":[[[%g,%g],[%g,%g],[%g,%g],[%g,%g],[%g,%g]]]}`,
		minLon, minLat, maxLon, minLat, maxLon, maxLat, minLon, maxLat, minLon, minLat)
}
