package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"

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
// measures through the same path as the API: the LSOAs and MSOAs of the
// demo regions, then their councils, then Rotterdam's buurten. Each part
// is skipped when it is loaded already (a database loaded by an older
// demo gets the parts it lacks). It returns how many areas it imported.
func ImportAreas(ctx context.Context, svc *areas.Service) (int64, error) {
	return ImportAreasLogged(ctx, svc, slog.New(slog.DiscardHandler))
}

// ImportAreasLogged is ImportAreas reporting to log what the real files
// lacked (features skipped, figures missing, rings repaired).
func ImportAreasLogged(ctx context.Context, svc *areas.Service, log *slog.Logger) (int64, error) {
	buurten := func(ctx context.Context, svc *areas.Service) (int64, error) { return importBuurten(ctx, svc, log) }
	var total int64
	for _, part := range []func(context.Context, *areas.Service) (int64, error){importRegions, importCouncils, buurten} {
		n, err := part(ctx, svc)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// importRegions imports the LSOAs and MSOAs of the demo regions with their
// deprivation and population.
func importRegions(ctx context.Context, svc *areas.Service) (int64, error) {
	// The measure is declared last: when it is there, so is the rest.
	if attr, err := svc.DeprivationAttribute(ctx, AreaMeasure.GetKind()); err != nil {
		return 0, err
	} else if attr == AreaMeasure.GetAttribute() {
		return 0, nil
	}
	var total int64
	for _, f := range AreaFiles {
		n, err := importFeatures(ctx, svc, f.Path, f.Kind, f.Fields)
		if err != nil {
			return 0, err
		}
		total += n
	}
	if err := importAttributes(ctx, svc, AreaAttributes.Path, AreaAttributes.Columns); err != nil {
		return 0, err
	}
	if _, err := svc.SetDeprivationMeasure(ctx, AreaMeasure); err != nil {
		return 0, err
	}
	return total, nil
}

// importFeatures imports one embedded GeoJSON file (gzipped when its name
// ends in .gz) as areas of kind.
func importFeatures(ctx context.Context, svc *areas.Service, path, kind string, fields areaclient.GeoJSONFields) (int64, error) {
	b, err := ReadAreaData(path)
	if err != nil {
		return 0, err
	}
	res, err := svc.Import(ctx, areas.AreaImport{Kind: kind, Source: path}, featureBatches(bytes.NewReader(b), fields))
	if err != nil {
		return 0, fmt.Errorf("importing %s: %w", path, err)
	}
	return res.GetCreated() + res.GetUpdated(), nil
}

// importAttributes imports one embedded CSV file of area attributes.
func importAttributes(ctx context.Context, svc *areas.Service, path string, cols areaclient.CSVColumns) error {
	b, err := ReadAreaData(path)
	if err != nil {
		return err
	}
	var rows []*sparcv1.AttributeRow
	if err := areaclient.ReadAttributesCSV(bytes.NewReader(b), cols, func(r *sparcv1.AttributeRow) error {
		rows = append(rows, r)
		return nil
	}); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if _, err := svc.ImportAttributes(ctx, path, false, once(rows)); err != nil {
		return fmt.Errorf("importing %s: %w", path, err)
	}
	return nil
}

// once yields items as one batch, then io.EOF.
func once[T any](items []T) func() ([]T, error) {
	done := false
	return func() ([]T, error) {
		if done {
			return nil, io.EOF
		}
		done = true
		return items, nil
	}
}

// featureBatches reads a GeoJSON file in memory into one batch (demo files
// are small) for Service.Import.
func featureBatches(r io.Reader, fields areaclient.GeoJSONFields) func() ([]*sparcv1.AreaFeature, error) {
	var all []*sparcv1.AreaFeature
	err := areaclient.ReadGeoJSON(r, fields, func(f *sparcv1.AreaFeature) error {
		all = append(all, f)
		return nil
	})
	if err != nil {
		return func() ([]*sparcv1.AreaFeature, error) { return nil, err }
	}
	return once(all)
}
