package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"text/tabwriter"

	"google.golang.org/grpc"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

func init() {
	register("coverage", "coverage of areas by assets, with the equity summary: sparc coverage --kind lsoa [--category C ...]", coverageCompute)
}

// maxCoverageResponse lets a national area set (tens of thousands of
// rows) through the client's default 4 MiB receive limit.
const maxCoverageResponse = 512 << 20

func coverageCompute(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("coverage"), "coverage (--kind K [--bbox B] | --parent CODE) [--council CODE] [--category C ...] [--walk METRES] [--from DATE] [--until DATE] [--summary-only]")
	req := &sparcv1.ComputeCoverageRequest{}
	var cats stringList
	var walk float64
	fs.StringVar(&req.Kind, "kind", "", "all areas of this kind (e.g. lsoa)")
	fs.StringVar(&req.Bbox, "bbox", "", "with --kind: only areas meeting this WGS84 box minLon,minLat,maxLon,maxLat")
	fs.StringVar(&req.ParentCode, "parent", "", "the child areas of this area (its code or name)")
	fs.StringVar(&req.Council, "council", "", "with --kind or --parent: only the areas of this council (e.g. E08000025)")
	fs.Var(&cats, "category", "category code to measure (repeatable or comma-separated); none means every asset")
	fs.Float64Var(&walk, "walk", 800, "walking distance in metres from each area's boundary")
	fs.StringVar(&req.WindowStart, "from", "", "only sessions running on or after this date (YYYY-MM-DD)")
	fs.StringVar(&req.WindowEnd, "until", "", "only sessions running on or before this date (YYYY-MM-DD)")
	fs.BoolVar(&req.SummaryOnly, "summary-only", false, "print the equity summary only")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	req.Categories = cats
	if walkSet(fs) {
		req.WalkingDistanceMeters = &walk
	}
	resp, err := sparcv1.NewCoverageServiceClient(c.conn).ComputeCoverage(ctx, req, grpc.MaxCallRecvMsgSize(maxCoverageResponse))
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(resp)
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', tabwriter.AlignRight)
	if len(resp.GetAreas()) > 0 {
		fmt.Fprintln(tw, "AREA\tDISPLAY NAME\tDECILE\tINSIDE\tWITHIN WALK\tPLACES/1000\tSCORE\tNEAREST (m)\t")
		for _, a := range resp.GetAreas() {
			nearest := ""
			for _, n := range a.GetNearest() {
				if nearest != "" {
					nearest += " "
				}
				if n.DistanceMeters != nil {
					nearest += strconv.FormatFloat(n.GetDistanceMeters(), 'f', 0, 64)
				} else {
					nearest += "-"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%.0f\t%s\t\n", a.GetArea(), truncate(a.GetDisplayName(), 30), decileText(a.GetDeprivationDecile()),
				a.GetAssetsInside(), a.GetAssetsWithinWalk(), optFloat(a.WeeklyPlacesPer_1000), a.GetCoverageScore(), nearest)
		}
		fmt.Fprintln(tw)
	}
	s := resp.GetSummary()
	fmt.Fprintf(tw, "%d areas, %d residents; %d areas have no asset within %.0f m\t\n", s.GetAreas(), s.GetPopulation(),
		s.GetAreasWithoutAssetWithinWalk(), resp.GetWalkingDistanceMeters())
	if s.GetDeprivationAttribute() != "" {
		fmt.Fprintf(tw, "\nDECILE (by %s)\tAREAS\tPOPULATION\tPLACES/1000\tSHARE WITHOUT\t\n", s.GetDeprivationAttribute())
		for _, d := range s.GetDeciles() {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%.2f\t\n", d.GetDecile(), d.GetAreas(), d.GetPopulation(), optFloat(d.MeanWeeklyPlacesPer_1000), d.GetShareWithoutAssetWithinWalk())
		}
		p, w := s.GetPlacesPer_1000(), s.GetShareWithoutAssetWithinWalk()
		fmt.Fprintf(tw, "\nmost vs least deprived quintile\tMOST\tLEAST\tRATIO\tGAP\t\n")
		fmt.Fprintf(tw, "places per 1,000\t%s\t%s\t%s\t%s\t\n", optFloat(p.MostDeprived), optFloat(p.LeastDeprived), optFloat(p.Ratio), optFloat(p.Gap))
		fmt.Fprintf(tw, "share without asset within walk\t%s\t%s\t%s\t%s\t\n", optFloat(w.MostDeprived), optFloat(w.LeastDeprived), optFloat(w.Ratio), optFloat(w.Gap))
		fmt.Fprintf(tw, "concentration index\t%s\t\t\t\t\n", optFloat(s.ConcentrationIndex))
	}
	return tw.Flush()
}

func walkSet(fs *flag.FlagSet) bool { return flagsSet(fs)["walk"] }

func optFloat(f *float64) string {
	if f == nil {
		return "-"
	}
	return strconv.FormatFloat(*f, 'f', 2, 64)
}

func decileText(n int32) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(int(n))
}
