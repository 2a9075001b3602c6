package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/areas/areaclient"
)

func init() {
	register("areas import", "import area boundaries: sparc areas import FILE.geojson --kind lsoa --code-field C --name-field N", areasImport)
	register("areas attributes", "import area attributes: sparc areas attributes import FILE.csv --code-column C --column NAME=COLUMN ...", areasAttributes)
	register("areas get", "show one area: sparc areas get areas/CODE|CODE [--geometry]", areasGet)
	register("areas list", "list areas by kind, parent or bounding box", areasList)
	register("areas deprivation", "declare a kind's deprivation measure: --kind lsoa --attribute imd_decile --scale decile", areasDeprivation)
}

// openInput opens a file to stream, or standard input for "-".
func openInput(c *cli, name string) (io.ReadCloser, error) {
	if name == "-" {
		if c.in == nil {
			return nil, fmt.Errorf("no standard input")
		}
		return io.NopCloser(c.in), nil
	}
	return os.Open(name)
}

func areasImport(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("areas import"), "areas import FILE.geojson --kind KIND --code-field FIELD --name-field FIELD [--parent-field FIELD]")
	var kind string
	var f areaclient.GeoJSONFields
	fs.StringVar(&kind, "kind", "", "kind of every area in the file: "+strings.Join(areas.KnownKinds, ", ")+", or your own")
	fs.StringVar(&f.Code, "code-field", "code", "feature property holding the area code (e.g. LSOA21CD, BU_CODE)")
	fs.StringVar(&f.Name, "name-field", "name", "feature property holding the area name (e.g. LSOA21NM, BU_NAAM)")
	fs.StringVar(&f.Parent, "parent-field", "", "feature property holding the parent area code (e.g. msoa_code)")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || kind == "" {
		return usagef("give one GeoJSON file and --kind")
	}
	in, err := openInput(c, pos[0])
	if err != nil {
		return err
	}
	defer in.Close()
	res, err := areaclient.ImportGeoJSON(ctx, sparcv1.NewAreaServiceClient(c.conn), in, pos[0], kind, f)
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(res)
	}
	fmt.Fprintf(c.out, "%s: %d areas created, %d updated, %d repaired\n", pos[0], res.GetCreated(), res.GetUpdated(), len(res.GetRepaired()))
	for _, r := range res.GetRepaired() {
		fmt.Fprintf(c.out, "  repaired feature %d (%s): %s\n", r.GetFeatureNumber(), r.GetCode(), r.GetReason())
	}
	return nil
}

// columnMap is a repeatable NAME=COLUMN flag (NAME alone means the same
// column name).
type columnMap map[string]string

func (m columnMap) String() string { return fmt.Sprint(map[string]string(m)) }
func (m columnMap) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		name, col, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			col = name
		}
		if name == "" || col == "" {
			return fmt.Errorf("want NAME=COLUMN, got %q", part)
		}
		m[name] = col
	}
	return nil
}

func areasAttributes(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("areas attributes"), "areas attributes import FILE.csv --code-column COLUMN --column NAME=COLUMN ... [--skip-unknown]")
	cols := areaclient.CSVColumns{Attributes: map[string]string{}}
	var skip bool
	fs.StringVar(&cols.Code, "code-column", "code", "CSV column holding the area code")
	fs.Var(columnMap(cols.Attributes), "column", "attribute NAME=COLUMN to import (repeatable); the name population sets the area's population")
	fs.StringVar(&cols.Council, "council-column", "", "CSV column holding each area's council code (e.g. lad_code of an LSOA -> local authority lookup)")
	fs.BoolVar(&skip, "skip-unknown", false, "skip rows whose code matches no area (e.g. a national file over regional areas) instead of failing")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "import" {
		return usagef("usage: sparc areas attributes import FILE.csv --code-column COLUMN --column NAME=COLUMN ...")
	}
	if len(cols.Attributes) == 0 && cols.Council == "" {
		return usagef("give at least one --column NAME=COLUMN or --council-column COLUMN")
	}
	in, err := openInput(c, pos[1])
	if err != nil {
		return err
	}
	defer in.Close()
	res, err := areaclient.ImportCSV(ctx, sparcv1.NewAreaServiceClient(c.conn), in, pos[1], cols, skip)
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(res)
	}
	fmt.Fprintf(c.out, "%s: %d areas updated", pos[1], res.GetUpdated())
	if res.GetSkippedUnknown() > 0 {
		fmt.Fprintf(c.out, ", %d rows with unknown codes skipped", res.GetSkippedUnknown())
	}
	fmt.Fprintln(c.out)
	return nil
}

func areasGet(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("areas get"), "areas get areas/CODE|CODE [--geometry] [--simplify METRES]")
	var withGeom bool
	var simplify float64
	fs.BoolVar(&withGeom, "geometry", false, "include the boundary as GeoJSON")
	fs.Float64Var(&simplify, "simplify", 0, "simplify the boundary to this tolerance in metres")
	name, err := c.parseName(fs, args, "areas")
	if err != nil {
		return err
	}
	a, err := sparcv1.NewAreaServiceClient(c.conn).GetArea(ctx, &sparcv1.GetAreaRequest{Name: name, IncludeGeometry: withGeom, SimplifyMeters: simplify})
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(a)
	}
	return printAreas(c, []*sparcv1.Area{a})
}

func areasList(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("areas list"), "areas list [--kind K] [--parent CODE] [--bbox minLon,minLat,maxLon,maxLat] [--limit N]")
	req := &sparcv1.ListAreasRequest{}
	var limit int
	fs.StringVar(&req.Kind, "kind", "", "only this kind")
	fs.StringVar(&req.ParentCode, "parent", "", "only children of this area (its code or name)")
	fs.StringVar(&req.Bbox, "bbox", "", "only areas meeting this WGS84 box")
	fs.IntVar(&limit, "limit", 100, "maximum areas to show (follows pages)")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	client := sparcv1.NewAreaServiceClient(c.conn)
	var all []*sparcv1.Area
	for len(all) < limit {
		req.PageSize = int32(min(1000, limit-len(all)))
		resp, err := client.ListAreas(ctx, req)
		if err != nil {
			return err
		}
		all = append(all, resp.GetAreas()...)
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	if c.output == "json" {
		return c.printJSON(&sparcv1.ListAreasResponse{Areas: all})
	}
	return printAreas(c, all)
}

func printAreas(c *cli, list []*sparcv1.Area) error {
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tDISPLAY NAME\tPARENT\tPOPULATION\tATTRIBUTES")
	for _, a := range list {
		names := make([]string, 0, len(a.GetAttributes()))
		for n := range a.GetAttributes() {
			names = append(names, n)
		}
		sort.Strings(names)
		var attrs []string
		for _, n := range names {
			attrs = append(attrs, fmt.Sprintf("%s=%g", n, a.GetAttributes()[n]))
		}
		pop := ""
		if a.Population != nil {
			pop = fmt.Sprint(a.GetPopulation())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.GetName(), a.GetKind(), a.GetDisplayName(), a.GetParentCode(), pop, strings.Join(attrs, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, a := range list {
		if a.GetGeometryGeojson() != "" {
			fmt.Fprintln(c.out, a.GetGeometryGeojson())
		}
	}
	return nil
}

func areasDeprivation(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("areas deprivation"), "areas deprivation --kind KIND --attribute NAME --scale decile|rank|score")
	req := &sparcv1.SetDeprivationMeasureRequest{}
	var scale string
	fs.StringVar(&req.Kind, "kind", "", "kind of area, e.g. lsoa")
	fs.StringVar(&req.Attribute, "attribute", "", "attribute measuring deprivation, e.g. imd_decile")
	fs.StringVar(&scale, "scale", "decile", "decile (1 = most deprived), rank (1 = most deprived) or score (higher = more deprived)")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	v, err := parseEnum("scale", scale, sparcv1.DeprivationScale_value, sparcv1.DeprivationScale_name, "DEPRIVATION_SCALE_")
	if err != nil {
		return err
	}
	req.Scale = sparcv1.DeprivationScale(v)
	m, err := sparcv1.NewAreaServiceClient(c.conn).SetDeprivationMeasure(ctx, req)
	if err != nil {
		return err
	}
	return c.printResult(m, "%s: deprivation measured by %s (%s)\n", m.GetKind(), m.GetAttribute(), shortEnum(m.GetScale().String(), "DEPRIVATION_SCALE_"))
}
