package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// areaFile is a boundary file of one MSOA and its one LSOA (the same
// square in Birmingham).
const areaFile = `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"code":"E02999001","name":"Test Saltley","msoa":""},"geometry":{"type":"Polygon","coordinates":[[[-1.86,52.47],[-1.84,52.47],[-1.84,52.49],[-1.86,52.49],[-1.86,52.47]]]}},
{"type":"Feature","properties":{"code":"E01999001","name":"Test Saltley 001A","msoa":"E02999001"},"geometry":{"type":"Polygon","coordinates":[[[-1.86,52.47],[-1.84,52.47],[-1.84,52.49],[-1.86,52.49],[-1.86,52.47]]]}}]}`

func TestAreaAndCoverageCommandsShowResourceNames(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	admin := target{addr: env.Server.GRPCAddr(), key: env.Key(t, env.NewOrg(t, "Network operator", "other"), auth.RoleNetworkAdmin)}
	file := filepath.Join(t.TempDir(), "areas.geojson")
	if err := os.WriteFile(file, []byte(areaFile), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustSparc(t, admin, "areas", "import", file, "--kind", "lsoa", "--parent-field", "msoa")
	if !strings.Contains(out, "2 areas created") {
		t.Fatalf("import: %s", out)
	}

	// A bare code or the name: the same area, shown by its name.
	for _, arg := range []string{"E01999001", "areas/E01999001"} {
		var a struct {
			Name        string
			DisplayName string `json:"display_name"`
			Code        string
			ParentCode  string `json:"parent_code"`
		}
		if err := json.Unmarshal([]byte(mustSparc(t, admin, "-o", "json", "areas", "get", arg)), &a); err != nil {
			t.Fatal(err)
		}
		if a.Name != "areas/E01999001" || a.DisplayName != "Test Saltley 001A" || a.Code != "E01999001" || a.ParentCode != "E02999001" {
			t.Errorf("areas get %s: %+v", arg, a)
		}
	}
	table := mustSparc(t, admin, "areas", "list", "--parent", "areas/E02999001")
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") ||
		!strings.HasPrefix(lines[1], "areas/E01999001") || !strings.Contains(lines[1], "Test Saltley 001A") {
		t.Errorf("areas list --parent:\n%s", table)
	}
	if r := sparc(t, admin, "areas", "get", "areas/E01 999"); r.code != exitFailure || !strings.Contains(r.stderr, "name: ") {
		t.Errorf("areas get of a bad name: exit %d\n%s", r.code, r.stderr)
	}

	cov := mustSparc(t, admin, "coverage", "--parent", "E02999001")
	if !strings.Contains(cov, "areas/E01999001") || !strings.Contains(cov, "Test Saltley 001A") || !strings.Contains(cov, "1 areas") {
		t.Errorf("coverage --parent:\n%s", cov)
	}
}
