package areas

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/geojson"

	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
)

// Limits, reported with their numbers when exceeded.
const (
	maxCodeLen        = 64
	maxNameLen        = 200
	maxAreaVertices   = 250000
	maxAttributes     = 64
	maxViolations     = 50
	maxPopulation     = 1e9
	defaultPageSize   = 100
	maxPageSize       = 1000
	maxGeometryPage   = 100
	maxSimplifyMeters = 5000
	minPrefixLen      = 2 // of a name search: one letter would match most areas
	maxPrefixLen      = 100
)

var (
	kindRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	attrRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	codeRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]*$`)
)

// PopulationAttribute is the attribute name that sets an area's population.
const PopulationAttribute = "population"

// KnownKinds are the kinds documented for users; others are accepted.
var KnownKinds = []string{"lsoa", "msoa", "ward", "local_authority", "buurt", "wijk", "gemeente"}

// CheckKind reports a kind that is not lower_snake_case of 1 to 40
// characters; coverage requests check their kind with it too.
func CheckKind(v *apierr.InvalidArgument, field, kind string) {
	if !kindRe.MatchString(kind) {
		v.Add(field, "%q is not an area kind: lower_snake_case, 1 to 40 characters (known kinds: %s)", kind, strings.Join(KnownKinds, ", "))
	}
}

func checkCode(code string) error {
	switch {
	case code == "":
		return errors.New("is missing (the code field is absent or empty)")
	case len(code) > maxCodeLen:
		return fmt.Errorf("is %d characters, more than the maximum of %d", len(code), maxCodeLen)
	case !codeRe.MatchString(code):
		return fmt.Errorf("%q is not an area code (letters, digits, '_', '.', '-')", code)
	}
	return nil
}

// violations collects per-feature or per-row problems of a whole file and
// keeps the first maxViolations, counting the rest.
type violations struct {
	v       apierr.InvalidArgument
	dropped int
}

func (vs *violations) add(field, format string, args ...any) {
	if len(vs.v.Violations) >= maxViolations {
		vs.dropped++
		return
	}
	vs.v.Add(field, format, args...)
}

// ok reports whether no problem was found so far.
func (vs *violations) ok() bool { return len(vs.v.Violations) == 0 }

// err returns the problems found, with the count of those not listed, or
// nil when there are none.
func (vs *violations) err() error {
	if vs.ok() {
		return nil
	}
	out := &apierr.InvalidArgument{Violations: slices.Clone(vs.v.Violations)}
	if vs.dropped > 0 {
		out.Add("file", "%d more problems not listed (the first %d are)", vs.dropped, maxViolations)
	}
	return out
}

// text checks a text field with aip.Text, within the file's limit of
// listed problems.
func (vs *violations) text(field, s string, required bool, max int) bool {
	var one apierr.InvalidArgument
	aip.Text(&one, field, s, required, max)
	for _, x := range one.Violations {
		vs.add(x.Field, "%s", x.Description)
	}
	return one.Err() == nil
}

// code checks the code of item n (a feature or a line) and that no
// earlier item of the file has it, remembering it in seen.
func (vs *violations) code(field, code string, seen map[string]int64, n int64, item string) bool {
	if err := checkCode(code); err != nil {
		vs.add(field, "%v", err)
		return false
	}
	if first, dup := seen[code]; dup {
		vs.add(field, "duplicate code %s (also %s %d)", code, item, first)
		return false
	}
	seen[code] = n
	return true
}

// checkGeometry decodes a GeoJSON Polygon or MultiPolygon and checks what
// PostGIS cannot repair: the type, closed rings of at least four positions
// and WGS84 coordinates in range. Self-intersections and wrong winding are
// left for ST_MakeValid at import, which reports them.
func checkGeometry(doc string) error {
	if doc == "" {
		return errors.New("has no geometry")
	}
	var g geom.T
	if err := geojson.Unmarshal([]byte(doc), &g); err != nil {
		return fmt.Errorf("is not a GeoJSON geometry: %v", err)
	}
	var polys []*geom.Polygon
	switch t := g.(type) {
	case *geom.Polygon:
		polys = []*geom.Polygon{t}
	case *geom.MultiPolygon:
		for i := 0; i < t.NumPolygons(); i++ {
			polys = append(polys, t.Polygon(i))
		}
	default:
		return fmt.Errorf("is a %s, not a Polygon or MultiPolygon", strings.TrimPrefix(fmt.Sprintf("%T", g), "*geom."))
	}
	if len(polys) == 0 {
		return errors.New("is an empty MultiPolygon")
	}
	vertices := 0
	for pi, p := range polys {
		where := ""
		if len(polys) > 1 {
			where = fmt.Sprintf("polygon %d ", pi)
		}
		if p.NumLinearRings() == 0 {
			return fmt.Errorf("%shas no rings", where)
		}
		for r := 0; r < p.NumLinearRings(); r++ {
			ring := p.LinearRing(r)
			n := ring.NumCoords()
			vertices += n
			if n < 4 {
				return fmt.Errorf("%sring %d has %d positions; a closed ring needs at least 4", where, r, n)
			}
			first, last := ring.Coord(0), ring.Coord(n-1)
			if first.X() != last.X() || first.Y() != last.Y() {
				return fmt.Errorf("%sring %d is not closed (first and last positions differ)", where, r)
			}
			for i := 0; i < n; i++ {
				c := ring.Coord(i)
				if lon, lat := c.X(), c.Y(); math.IsNaN(lon) || math.IsNaN(lat) || lon < -180 || lon > 180 || lat < -90 || lat > 90 {
					return fmt.Errorf("%sring %d position %d (%v, %v) is not WGS84 longitude/latitude", where, r, i, lon, lat)
				}
			}
		}
	}
	if vertices > maxAreaVertices {
		return fmt.Errorf("has %d positions, more than the maximum of %d", vertices, maxAreaVertices)
	}
	return nil
}
