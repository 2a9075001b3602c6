package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/areas/areaclient"
)

// AreaFiles are the demo regions' area files, parents first.
var AreaFiles = []struct {
	Path, Kind string
	Fields     areaclient.GeoJSONFields
}{
	{"data/birmingham-msoa-2011.geojson", "msoa", areaclient.GeoJSONFields{Code: "code", Name: "name"}},
	{"data/wirral-msoa-2011.geojson", "msoa", areaclient.GeoJSONFields{Code: "code", Name: "name"}},
	{"data/gwent-msoa-2011.geojson", "msoa", areaclient.GeoJSONFields{Code: "code", Name: "name"}},
	{"data/birmingham-lsoa-2011.geojson", "lsoa", areaclient.GeoJSONFields{Code: "code", Name: "name", Parent: "msoa_code"}},
	{"data/wirral-lsoa-2011.geojson", "lsoa", areaclient.GeoJSONFields{Code: "code", Name: "name", Parent: "msoa_code"}},
	{"data/gwent-lsoa-2011.geojson", "lsoa", areaclient.GeoJSONFields{Code: "code", Name: "name", Parent: "msoa_code"}},
}

// AreaAttributes is the demo deprivation and population file and its columns.
var AreaAttributes = struct {
	Path    string
	Columns areaclient.CSVColumns
}{
	Path: "data/demo-lsoa-2011-deprivation-population.csv",
	Columns: areaclient.CSVColumns{Code: "lsoa_code", Attributes: map[string]string{
		areas.PopulationAttribute: "population_2019",
		"imd_score":               "imd_score",
		"imd_decile":              "imd_decile",
		"uk_composite_imd_decile": "uk_composite_imd_decile",
	}},
}

// AreaMeasure is the demo LSOAs' deprivation measure: the composite UK
// decile, because the demo mixes English and Welsh LSOAs whose own indices
// (IMD, WIMD) are not comparable across the border.
var AreaMeasure = &sparcv1.SetDeprivationMeasureRequest{
	Kind: "lsoa", Attribute: "uk_composite_imd_decile", Scale: sparcv1.DeprivationScale_DEPRIVATION_SCALE_DECILE,
}

// ImportAreas imports the demo areas, their attributes and deprivation
// measure through the same path as the API, unless they are loaded
// already. It returns how many areas it imported.
func ImportAreas(ctx context.Context, svc *areas.Service) (int64, error) {
	// The measure is declared last: when it is there, so is the rest.
	if attr, err := svc.DeprivationAttribute(ctx, AreaMeasure.GetKind()); err != nil {
		return 0, err
	} else if attr == AreaMeasure.GetAttribute() {
		return 0, nil
	}
	var total int64
	for _, f := range AreaFiles {
		b, err := AreaData.ReadFile(f.Path)
		if err != nil {
			return 0, err
		}
		res, err := svc.Import(ctx, areas.AreaImport{Kind: f.Kind, Source: f.Path}, featureBatches(bytes.NewReader(b), f.Fields))
		if err != nil {
			return 0, fmt.Errorf("importing %s: %w", f.Path, err)
		}
		total += res.GetCreated() + res.GetUpdated()
	}
	b, err := AreaData.ReadFile(AreaAttributes.Path)
	if err != nil {
		return 0, err
	}
	var rows []*sparcv1.AttributeRow
	if err := areaclient.ReadAttributesCSV(bytes.NewReader(b), AreaAttributes.Columns, func(r *sparcv1.AttributeRow) error {
		rows = append(rows, r)
		return nil
	}); err != nil {
		return 0, fmt.Errorf("reading %s: %w", AreaAttributes.Path, err)
	}
	sent := false
	if _, err := svc.ImportAttributes(ctx, AreaAttributes.Path, false, func() ([]*sparcv1.AttributeRow, error) {
		if sent {
			return nil, io.EOF
		}
		sent = true
		return rows, nil
	}); err != nil {
		return 0, fmt.Errorf("importing %s: %w", AreaAttributes.Path, err)
	}
	if _, err := svc.SetDeprivationMeasure(ctx, AreaMeasure); err != nil {
		return 0, err
	}
	return total, nil
}

// featureBatches reads a GeoJSON file in memory into one batch (demo files
// are small) for Service.Import.
func featureBatches(r io.Reader, fields areaclient.GeoJSONFields) func() ([]*sparcv1.AreaFeature, error) {
	var all []*sparcv1.AreaFeature
	err := areaclient.ReadGeoJSON(r, fields, func(f *sparcv1.AreaFeature) error {
		all = append(all, f)
		return nil
	})
	done := false
	return func() ([]*sparcv1.AreaFeature, error) {
		if err != nil {
			return nil, err
		}
		if done {
			return nil, io.EOF
		}
		done = true
		return all, nil
	}
}
