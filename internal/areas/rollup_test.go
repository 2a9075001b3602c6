package areas_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/areas/areaclient"
	"github.com/sparc-network/sparc/internal/demo"
)

// gunzipDemo reads a gzipped demo data file.
func gunzipDemo(t *testing.T, path string) []byte {
	t.Helper()
	b, err := demo.ReadAreaData(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func population(t *testing.T, c sparcv1.AreaServiceClient, code string) (int64, *sparcv1.Area) {
	t.Helper()
	a, err := c.GetArea(context.Background(), &sparcv1.GetAreaRequest{Name: "areas/" + code})
	if err != nil {
		t.Fatal(err)
	}
	return a.GetPopulation(), a
}

func setPopulation(t *testing.T, c sparcv1.AreaServiceClient, code string, n int64) {
	t.Helper()
	_, err := areaclient.ImportCSV(context.Background(), c, strings.NewReader("code,pop\n"+code+","+strconv.FormatInt(n, 10)+"\n"), "pop.csv",
		areaclient.CSVColumns{Code: "code", Attributes: map[string]string{"population": "pop"}}, false)
	if err != nil {
		t.Fatal(err)
	}
}

// A parent without a population of its own (MSOAs in the LSOA file) gets
// the sum of its children's, kept current while it is derived; one a file
// gives is kept. Councils come from the lookup, the MSOAs' from their
// LSOAs. The sums equal the MSOA population file the demo ships.
func TestParentPopulationIsTheSumOfItsChildrenAndCouncilsComeFromTheLookup(t *testing.T) {
	t.Parallel()
	_, c := newAreaServer(t)
	ctx := context.Background()
	mustImport(t, c, demoFile(t, "wirral-msoa-2011.geojson"), "wirral-msoa", "msoa", msoaFields)
	mustImport(t, c, demoFile(t, "wirral-lsoa-2011.geojson"), "wirral-lsoa", "lsoa", lsoaFields)
	if _, err := areaclient.ImportCSV(ctx, c, bytes.NewReader(demoFile(t, "demo-lsoa-2011-deprivation-population.csv")), "demo.csv",
		areaclient.CSVColumns{Code: "lsoa_code", Attributes: map[string]string{"population": "population_2019"}}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := areaclient.ImportCSV(ctx, c, bytes.NewReader(gunzipDemo(t, demo.LookupFile)), "lookup.csv",
		areaclient.CSVColumns{Code: "lsoa11", Council: "lad_code"}, true); err != nil {
		t.Fatal(err)
	}

	// The sums, computed here from the files: LSOA -> MSOA from the
	// boundaries, population from the CSV.
	var fc struct {
		Features []struct {
			Properties struct {
				Code     string
				MSOACode string `json:"msoa_code"`
			}
		}
	}
	if err := json.Unmarshal(demoFile(t, "wirral-lsoa-2011.geojson"), &fc); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(demoFile(t, "demo-lsoa-2011-deprivation-population.csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	pop := map[string]int64{}
	for _, r := range recs[1:] {
		pop[r[0]], _ = strconv.ParseInt(r[2], 10, 64)
	}
	want := map[string]int64{}
	for _, f := range fc.Features {
		want[f.Properties.MSOACode] += pop[f.Properties.Code]
	}
	msoaFile, err := csv.NewReader(bytes.NewReader(gunzipDemo(t, demo.MSOAPopFile))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	inFile := 0
	for _, r := range msoaFile[1:] {
		if n, _ := strconv.ParseInt(r[5], 10, 64); r[2] == "E08000015" {
			inFile++
			if want[r[0]] != n {
				t.Errorf("%s: the MSOA file says %d, its LSOAs sum to %d", r[0], n, want[r[0]])
			}
		}
	}
	if len(want) != 42 || inFile != 42 {
		t.Fatalf("%d Wirral MSOAs from the LSOAs, %d in the MSOA file; want 42", len(want), inFile)
	}
	var total int64
	for code, n := range want {
		got, a := population(t, c, code)
		total += got
		if got != n || a.GetCouncilCode() != "E08000015" {
			t.Errorf("%s: population %d council %q, want %d (sum of its LSOAs) and E08000015 (its LSOAs')", code, got, a.GetCouncilCode(), n)
		}
	}
	if total != 324011 { // ONS mid-2019 Wirral
		t.Errorf("Wirral MSOAs sum to %d, want 324,011", total)
	}
	if _, a := population(t, c, "E01007291"); a.GetCouncilCode() != "E08000015" {
		t.Errorf("LSOA E01007291 council %q, want E08000015 from the lookup", a.GetCouncilCode())
	}

	// A child's new population moves its derived parent; reimporting the
	// boundaries keeps it.
	const child, parent = "E01007291", "E02001487"
	n, a := population(t, c, child)
	if a.GetParentCode() != parent {
		t.Fatalf("%s has parent %s, the test expects %s", child, a.GetParentCode(), parent)
	}
	setPopulation(t, c, child, n+100)
	mustImport(t, c, demoFile(t, "wirral-msoa-2011.geojson"), "wirral-msoa", "msoa", msoaFields)
	if got, _ := population(t, c, parent); got != want[parent]+100 {
		t.Errorf("after a child grew by 100: %s population %d, want %d", parent, got, want[parent]+100)
	}
	// A population a file gives the parent is kept as given.
	setPopulation(t, c, parent, 5)
	setPopulation(t, c, child, n)
	if got, _ := population(t, c, parent); got != 5 {
		t.Errorf("given population 5, then a child changed: %s population %d, want 5 kept", parent, got)
	}

	// A council code that is not a code fails the file with its line.
	_, err = areaclient.ImportCSV(ctx, c, strings.NewReader("code,lad\nE01007291,E08000015\nE01007292,not a code!\n"), "bad.csv",
		areaclient.CSVColumns{Code: "code", Council: "lad"}, false)
	checkError(t, err, []string{"lines[3].council_code"})
}
