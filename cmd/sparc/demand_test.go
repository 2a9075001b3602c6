package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// sparc coverage demand prints each area of the kind with its released
// figures and says how they were released; roles that may not read demand
// and unknown kinds are refused by the server (exit 1).
func TestCoverageDemandCommand(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	network := target{addr: env.Server.GRPCAddr(), key: env.Key(t, env.NewOrg(t, "Network operator", "other"), auth.RoleNetworkAdmin)}
	file := filepath.Join(t.TempDir(), "areas.geojson")
	if err := os.WriteFile(file, []byte(areaFile), 0o600); err != nil {
		t.Fatal(err)
	}
	mustSparc(t, network, "areas", "import", file, "--kind", "lsoa", "--parent-field", "msoa")
	org := env.NewOrg(t, "Public health", "other")
	analyst := target{addr: env.Server.GRPCAddr(), key: env.Key(t, org, auth.RoleAreaAnalyst)}
	out := mustSparc(t, analyst, "coverage", "demand", "--kind", "lsoa", "--from", "2025-01-01", "--until", "2025-03-31")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// The file's two areas are both imported as LSOAs; nobody referred
	// lives in them.
	if len(lines) != 5 || !strings.HasPrefix(strings.TrimSpace(lines[0]), "AREA") || !strings.Contains(lines[1], "areas/E01999001") ||
		!strings.Contains(lines[1], "Test Saltley 001A") || strings.Fields(lines[1])[5] != "0" ||
		!strings.Contains(lines[4], "2025-01-01 to 2025-03-31, released under the disclosure rule") {
		t.Errorf("coverage demand:\n%s", out)
	}
	lw := target{addr: env.Server.GRPCAddr(), key: env.Key(t, org, auth.RoleLinkWorker)}
	if r := sparc(t, lw, "coverage", "demand", "--kind", "lsoa"); r.code != exitFailure || !strings.Contains(r.stderr, "PERMISSION_DENIED") {
		t.Errorf("as a link worker: exit %d\n%s", r.code, r.stderr)
	}
	if r := sparc(t, analyst, "coverage", "demand", "--kind", "ward"); r.code != exitFailure || !strings.Contains(r.stderr, "kind") {
		t.Errorf("an unknown kind: exit %d\n%s", r.code, r.stderr)
	}
}
