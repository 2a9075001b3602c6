package main

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparc-network/sparc/internal/testenv"
)

const postcodeCSV = `postcode,latitude,longitude,lsoa11,lad_code,country_code,positional_quality
B1 1AY,52.475924,-1.905392,E01033625,E08000025,E92000001,10
B1 1BB,52.480579,-1.903188,E01033620,E08000025,E92000001,10
CH41 5LH,53.390502,-3.008528,E01007291,E08000015,E92000001,10
`

// The national file loads through the CLI's direct database path (gzip
// or plain), and the server then answers for its postcodes.
func TestPostcodesImportLoadsACodePointFile(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	url := env.Pool.Config().ConnString()
	dir := t.TempDir()
	gz := filepath.Join(dir, "codepoint.csv.gz")
	f, err := os.Create(gz)
	if err != nil {
		t.Fatal(err)
	}
	w := gzip.NewWriter(f)
	w.Write([]byte(postcodeCSV))
	w.Close()
	f.Close()
	none := target{addr: "127.0.0.1:1"} // the import calls no server
	r := sparc(t, none, "postcodes", "import", gz, "--database-url", url)
	if r.code != 0 || !strings.Contains(r.stdout, "loaded 3 postcodes") || !strings.Contains(r.stdout, "Ordnance Survey") ||
		!strings.Contains(r.stderr, "100.0%") {
		t.Fatalf("import: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	out := mustSparc(t, target{addr: env.Server.GRPCAddr()}, "postcodes", "get", "b1", "1bb")
	if !strings.Contains(out, "B1 1BB GB") || !strings.Contains(out, "E01033620") || !strings.Contains(out, "E08000025") {
		t.Errorf("postcodes get b1 1bb:\n%s", out)
	}
	out = mustSparc(t, target{addr: env.Server.GRPCAddr()}, "postcodes", "get", "B1 1ZZ")
	if !strings.Contains(out, "approximate: centre of its sector") {
		t.Errorf("postcodes get B1 1ZZ:\n%s", out)
	}

	// A plain file with a bad row: refused whole, the line named.
	plain := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(plain, []byte(postcodeCSV+"B2 4QA,52.48,-1.89,,,,\nXX9 9XX9,52.48,-1.89,,,,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = sparc(t, none, "postcodes", "import", plain, "--database-url", url)
	if r.code == 0 || !strings.Contains(r.stderr, "line 6") {
		t.Errorf("bad file: exit %d\n%s", r.code, r.stderr)
	}
	if r := sparc(t, target{addr: env.Server.GRPCAddr()}, "postcodes", "get", "B2 4QA"); r.code == 0 {
		t.Errorf("B2 4QA of the refused file was loaded:\n%s", r.stdout)
	}
	if r := sparc(t, none, "postcodes", "import", plain, "--country", "FR", "--database-url", url); r.code != exitUsage {
		t.Errorf("--country FR: exit %d", r.code)
	}
}
