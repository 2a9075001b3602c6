package coverage_test

import (
	"os"
	"testing"

	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) {
	allowAreaRPCs()
	os.Exit(testenv.Main(m))
}

// allowAreaRPCs gives the area and coverage RPCs a rule in the (fail
// closed) access policy for this test binary only, where the policy does
// not list them yet: the access-control owner adds the real rules
// (area_analyst) to auth.Policy, and these then step aside.
func allowAreaRPCs() {
	admin := auth.Rule{Roles: []string{auth.RoleAdmin}, Audit: true}
	analyst := auth.Rule{Roles: []string{auth.RoleAdmin, auth.RoleAreaAnalyst}}
	for m, r := range map[string]auth.Rule{
		"/sparc.v1.AreaService/ImportAreas":           admin,
		"/sparc.v1.AreaService/ImportAreaAttributes":  admin,
		"/sparc.v1.AreaService/SetDeprivationMeasure": admin,
		"/sparc.v1.AreaService/GetArea":               {Public: true},
		"/sparc.v1.AreaService/ListAreas":             {Public: true},
		"/sparc.v1.CoverageService/ComputeCoverage":   analyst,
	} {
		if _, ok := auth.Policy[m]; !ok {
			auth.Policy[m] = r
		}
	}
}
