package demo

import "embed"

// AreaData holds the demo regions' real boundaries (LSOA and MSOA, 2011)
// and their deprivation and population, the demo councils' boundaries
// with an LSOA -> council lookup and the MSOAs' population, and
// Rotterdam's CBS buurten (data/README.md has the sources and licences),
// for loading as coverage-map areas.
//
//go:embed data/*-lsoa-2011.geojson data/*-msoa-2011.geojson data/demo-lsoa-2011-deprivation-population.csv
//go:embed data/lad-2013-demo-regions.geojson.gz data/lsoa11-lad-lookup-demo-regions.csv.gz
//go:embed data/msoa11-population-2019-demo-regions.csv.gz data/rotterdam-buurten-cbs.geojson.gz
var AreaData embed.FS
