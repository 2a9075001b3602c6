package areas

import (
	"strings"

	"github.com/sparc-network/sparc/internal/apierr"
)

// An area is named "areas/{code}" by its official code, not by a UUID as
// the other resources are (so aip.ParseName does not apply): ONS and CBS
// codes are unique across kinds, and an import refuses a code that
// already belongs to an area of another kind (findAreaProblems), so the
// code alone names one area.
const collection = "areas/"

// Name returns the resource name of the area with code.
func Name(code string) string { return collection + code }

// parseName reads the area name in field as "areas/{code}" and returns
// the code, or reports a violation and returns "". Only the name is
// accepted, not a bare code: one resource has one name.
func parseName(v *apierr.InvalidArgument, field, name string) string {
	if name == "" {
		v.Add(field, "is required (an area name such as areas/E01008881)")
		return ""
	}
	code, ok := strings.CutPrefix(name, collection)
	if !ok || checkCode(code) != nil {
		v.Add(field, "%q is not the name of an area (expected areas/ and an area code such as areas/E01008881)", apierr.Clip(name, 80))
		return ""
	}
	return code
}

// ParseParentCode reads a parent filter (of ListAreas and coverage
// requests): an area code, or the area's name (the code is what boundary
// files and Area.parent_code hold, the name what a client copies from
// Area.name).
func ParseParentCode(v *apierr.InvalidArgument, field, s string) string {
	code := strings.TrimPrefix(s, collection)
	if err := checkCode(code); err != nil {
		v.Add(field, "%v", err)
	}
	return code
}
