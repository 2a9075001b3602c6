package demo

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"strings"

	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/areas/areaclient"
)

// CouncilKind is the area kind of the councils' boundaries.
const CouncilKind = "local_authority"

// Councils are the seven demo councils (data/README.md): Birmingham,
// Wirral and the five Gwent authorities.
var Councils = []string{"E08000015", "E08000025", "W06000018", "W06000019", "W06000020", "W06000021", "W06000022"}

// Files of the councils' part of the demo (data/README.md): the councils'
// boundaries, the LSOA -> council lookup of the demo regions' LSOAs, and
// the MSOAs' population (the sum of their LSOAs').
const (
	CouncilFile   = "data/lad-2013-demo-regions.geojson.gz"
	LookupFile    = "data/lsoa11-lad-lookup-demo-regions.csv.gz"
	MSOAPopFile   = "data/msoa11-population-2019-demo-regions.csv.gz"
	lookupCode    = "lsoa11"
	lookupCouncil = "lad_code"
)

// importCouncils imports the demo councils' boundaries, the LSOAs'
// councils (the MSOAs' follow from their LSOAs) and the MSOAs' population.
func importCouncils(ctx context.Context, svc *areas.Service) (int64, error) {
	// The lookup is imported after the boundaries: when an area belongs to
	// the first council, the boundaries are there too.
	if ok, err := svc.CouncilExists(ctx, Councils[0]); err != nil || ok {
		return 0, err
	}
	n, err := importFeatures(ctx, svc, CouncilFile, CouncilKind, areaclient.GeoJSONFields{Code: "code", Name: "name"})
	if err != nil {
		return 0, err
	}
	if err := importAttributes(ctx, svc, MSOAPopFile, areaclient.CSVColumns{Code: "msoa11",
		Attributes: map[string]string{areas.PopulationAttribute: "population_2019"}}); err != nil {
		return 0, err
	}
	if err := importAttributes(ctx, svc, LookupFile, areaclient.CSVColumns{Code: lookupCode, Council: lookupCouncil}); err != nil {
		return 0, err
	}
	return n, nil
}

// ReadAreaData reads an embedded area data file, gunzipped when it ends in .gz.
func ReadAreaData(path string) ([]byte, error) {
	b, err := AreaData.ReadFile(path)
	if err != nil || !strings.HasSuffix(path, ".gz") {
		return b, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
