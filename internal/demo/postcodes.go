package demo

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/postcodes"
)

// postcodeData holds the demo areas' British postcodes (OS Code-Point
// Open 2014) and every Dutch PC4 (GeoNames); data/postcodes/NOTICE.md has
// the sources, licences and the attribution that goes with them.
//
//go:embed data/postcodes/*.csv.gz data/postcodes/NOTICE.md
var postcodeData embed.FS

// PostcodeFiles are the embedded postcode files, by country.
var PostcodeFiles = []struct{ Path, Country, Source string }{
	{"data/postcodes/gb-demo-areas-codepoint-2014.csv.gz", postcodes.GB, postcodes.SourceCodePoint},
	{"data/postcodes/nl-pc4-geonames.csv.gz", postcodes.NL, postcodes.SourceGeoNames},
}

// LoadPostcodes loads each embedded postcode file whose country has no
// postcodes yet (so a national file imported with `sparc postcodes
// import` is never overwritten by the demo subset), as the network admin,
// through the same reader and store as the CLI. It returns how many
// postcodes it loaded.
func LoadPostcodes(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	ctx = AdminContext(ctx)
	store := postcodes.NewStore(pool)
	var total int64
	for _, f := range PostcodeFiles {
		if n, err := store.Count(ctx, f.Country); err != nil {
			return total, err
		} else if n > 0 {
			continue
		}
		file, err := postcodeData.Open(f.Path)
		if err != nil {
			return total, err
		}
		r, err := postcodes.NewReader(file, f.Country, f.Source)
		if err != nil {
			file.Close()
			return total, fmt.Errorf("%s: %w", f.Path, err)
		}
		n, err := store.Import(ctx, r.Next, nil)
		file.Close()
		if err != nil {
			return total, fmt.Errorf("%s: %w", f.Path, err)
		}
		total += n
	}
	return total, nil
}
