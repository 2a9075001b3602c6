package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	"google.golang.org/grpc"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

func init() {
	register("coverage demand", "referral demand by where people live, per 1,000 residents: sparc coverage demand --kind lsoa", coverageDemand)
}

func coverageDemand(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("coverage demand"), "coverage demand --kind K [--council CODE] [--from DATE] [--until DATE] [--org NAME]")
	req := &sparcv1.ComputeDemandRequest{}
	var org string
	fs.StringVar(&req.Kind, "kind", "", "all areas of this kind (lsoa, msoa, local_authority, buurt, ...)")
	fs.StringVar(&req.Council, "council", "", "only the areas of this council (e.g. E08000025)")
	fs.StringVar(&req.WindowStart, "from", "", "referrals made on or after this date (YYYY-MM-DD)")
	fs.StringVar(&req.WindowEnd, "until", "", "referrals made on or before this date (YYYY-MM-DD)")
	fs.StringVar(&org, "org", "", "only this organisation's referrals, organisations/ID or the bare ID (exact for its own admin)")
	if err := c.parseFlagsOnly(fs, args); err != nil {
		return err
	}
	req.Organisation = nameOf("organisations", org)
	resp, err := sparcv1.NewCoverageServiceClient(c.conn).ComputeDemand(ctx, req, grpc.MaxCallRecvMsgSize(maxCoverageResponse))
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(resp)
	}
	count := func(n *sparcv1.StatCount) string {
		if n.GetSuppressed() {
			return "<8"
		}
		return strconv.FormatInt(n.GetValue(), 10)
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "AREA\tDISPLAY NAME\tPOPULATION\tREFERRALS\tPER 1000\tUNMET\tUNMET/1000\t")
	for _, a := range resp.GetAreas() {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n", a.GetArea(), truncate(a.GetDisplayName(), 30), a.GetPopulation(),
			count(a.GetReferrals()), optFloat(a.ReferralsPer_1000), count(a.GetUnmet()), optFloat(a.UnmetPer_1000))
	}
	how := "released under the disclosure rule (<8 withheld, others rounded to 5)"
	if resp.GetExact() {
		how = "exact"
	}
	fmt.Fprintf(tw, "\n%s to %s, %s; %s referrals without a home area\t\n", resp.GetWindowStart(), resp.GetWindowEnd(), how,
		count(resp.GetWithoutHomeArea()))
	return tw.Flush()
}
