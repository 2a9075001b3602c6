package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/postcodes"
)

func init() {
	register("postcodes get", "where a postcode is: point, LSOA, council (GB or NL, any spacing)", postcodesGet)
	register("postcodes import", "load a postcode file (Code-Point CSV, plain or gzip) directly into the database", postcodesImport)
	// It may start the embedded database, and the national file is 1.7M rows.
	commands["postcodes import"].timeout = 30 * time.Minute
}

func postcodesGet(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("postcodes get"), "postcodes get POSTCODE")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("give a postcode, e.g. sparc postcodes get 'B1 1BB'")
	}
	// "B1 1BB" may come as one argument or two.
	name := postcodes.Collection + "/" + strings.Join(pos, "")
	p, err := sparcv1.NewPostcodeServiceClient(c.conn).GetPostcode(ctx, &sparcv1.GetPostcodeRequest{Name: name})
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(p)
	}
	approx := ""
	if p.GetApproximate() {
		approx = " (approximate: centre of its " + strings.ToLower(strings.TrimPrefix(p.GetMatched().String(), "POSTCODE_MATCH_")) + ")"
	}
	fmt.Fprintf(c.out, "%s %s%s\n  point    %.6f, %.6f\n  lsoa     %s\n  council  %s\n  %s\n", p.GetPostcode(), p.GetCountry(), approx,
		p.GetLatitude(), p.GetLongitude(), orDash(p.GetLsoaCode()), orDash(p.GetCouncilCode()), p.GetAttribution())
	return nil
}

// postcodesImport works on the database directly, not through sparcd,
// as `sparc keys bootstrap` does: the national file is 1.7M rows, which
// COPY loads in seconds where an RPC stream would add a protocol and a
// policy entry for a task only the operator of the database does. With
// the embedded database sparcd must be stopped (the data directory is
// locked); with --database-url it may run.
func postcodesImport(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("postcodes import"), "postcodes import FILE [--country GB|NL] [--source NAME] [--database-url URL | --data-dir DIR]")
	var country, source, url, dataDir string
	fs.StringVar(&country, "country", "", "GB or NL; empty: each row's by its postcode")
	fs.StringVar(&source, "source", "", `source recorded on each row: "codepoint-open" (GB) or "geonames-pc4" (NL) carry their attribution; empty: by country`)
	fs.StringVar(&url, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL (env DATABASE_URL); empty uses the embedded database")
	fs.StringVar(&dataDir, "data-dir", envOr("SPARC_DATA_DIR", ".sparc"), "embedded database directory (env SPARC_DATA_DIR)")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give one file (Code-Point CSV: postcode,latitude,longitude[,lsoa11,lad_code,…], plain or gzip)")
	}
	country = strings.ToUpper(country)
	if country != "" && country != postcodes.GB && country != postcodes.NL {
		return usagef("--country: GB or NL, not %q", country)
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	counted := &countingReader{r: f}
	r, err := postcodes.NewReader(counted, country, source)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	// The owner writes reference data (the table's policies let only the
	// owner and the network admin write it).
	owner, _, stop, err := openOwner(ctx, url, dataDir, "stop it, or give --database-url")
	if err != nil {
		return err
	}
	defer stop()
	start := time.Now()
	progress := func(rows int64) {
		pct := 100 * float64(counted.n.Load()) / float64(max(st.Size(), 1))
		fmt.Fprintf(c.errOut, "\r%s %5.1f%%  %d rows  %s", bar(pct, 30), pct, rows, time.Since(start).Round(time.Second))
		if counted.n.Load() == st.Size() {
			// The last call comes after the whole file is staged.
			fmt.Fprint(c.errOut, "  read; writing the postcodes and their sector and district centres")
		}
	}
	n, err := postcodes.NewStore(owner).Import(ctx, r.Next, progress)
	fmt.Fprintln(c.errOut)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	fmt.Fprintf(c.out, "loaded %d postcodes from %s in %s\n", n, pos[0], time.Since(start).Round(time.Millisecond))
	if a := postcodes.Attribution(sourceOr(source, country)); a != "" {
		fmt.Fprintf(c.out, "attribution (keep it with the data): %s\n", a)
	}
	return nil
}

func sourceOr(source, country string) string {
	switch {
	case source != "":
		return source
	case country == postcodes.NL:
		return postcodes.SourceGeoNames
	}
	return postcodes.SourceCodePoint
}

// bar draws pct (0-100) as a bar width characters wide.
func bar(pct float64, width int) string {
	full := min(int(pct/100*float64(width)), width)
	return "[" + strings.Repeat("#", full) + strings.Repeat(".", width-full) + "]"
}

// countingReader counts the bytes read from the file, for the progress
// of a compressed file too.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
