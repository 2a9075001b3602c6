package demo

import "embed"

// AreaData holds the demo regions' real boundaries (LSOA and MSOA, 2011)
// and their deprivation and population (data/README.md has the sources and
// licences), for loading as coverage-map areas.
//
//go:embed data/*-lsoa-2011.geojson data/*-msoa-2011.geojson data/demo-lsoa-2011-deprivation-population.csv
var AreaData embed.FS
