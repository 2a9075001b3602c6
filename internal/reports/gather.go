package reports

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/window"
)

// data is what the report shows, as the services answered it.
type data struct {
	area     string
	window   window.Window
	coverage *sparcv1.ComputeCoverageResponse
	network  *sparcv1.ReferralNetwork // the window, with its changes since the one before
	previous *sparcv1.ReferralNetwork // the window before, for its measures
	outcomes *sparcv1.OutcomeEvidence
	made     time.Time
}

// gather asks the sources for the report's figures. Any error ends the
// report with that error's status: a report that left out a section the
// caller may not see would look complete when it is not.
func gather(ctx context.Context, src Sources, q request) (*data, error) {
	d := &data{area: q.area, window: q.window, made: now().UTC()}
	var err error
	d.coverage, err = coverage(ctx, src, q)
	if err != nil {
		return nil, err
	}
	d.network, err = src.GetReferralNetwork(ctx, &sparcv1.GetReferralNetworkRequest{
		Window: q.window.String(), Area: q.area, Granularity: sparcv1.NetworkGranularity_NETWORK_GRANULARITY_ORGANISATIONS,
	})
	if err != nil {
		return nil, err
	}
	d.previous, err = src.GetReferralNetwork(ctx, &sparcv1.GetReferralNetworkRequest{
		Window: q.window.Previous().String(), Area: q.area, Granularity: sparcv1.NetworkGranularity_NETWORK_GRANULARITY_ORGANISATIONS,
	})
	if err != nil {
		return nil, err
	}
	d.outcomes, err = src.GetOutcomeEvidence(ctx, &sparcv1.GetOutcomeEvidenceRequest{Window: q.window.String(), Area: q.area})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// councilKinds are the kinds of area tried, in order, for a council's
// neighbourhoods when the area has no child areas of its own: councils
// are usually loaded as a lookup (an area's council_code), not as parents.
// The areas that carry a deprivation measure come first: the IMD (and
// WIMD) is published for LSOAs and the Dutch status score for buurten,
// not for MSOAs or wijken, and a report that places neighbourhoods
// against deprivation needs it (the gaps table is capped, so a council's
// many LSOAs stay readable).
var councilKinds = []string{"lsoa", "buurt", "msoa", "wijk"}

// coverage is the coverage of the area's neighbourhoods over the window:
// its child areas (an MSOA's LSOAs, a wijk's buurten), or, for a council,
// its areas of the first of councilKinds it has. An area with neither (a
// buurt) has an empty answer, which the report says.
func coverage(ctx context.Context, src Sources, q request) (*sparcv1.ComputeCoverageResponse, error) {
	req := &sparcv1.ComputeCoverageRequest{
		ParentCode:  q.area,
		WindowStart: q.window.Start.Format(time.DateOnly),
		WindowEnd:   q.window.End.AddDate(0, 0, -1).Format(time.DateOnly), // inclusive
	}
	c, err := src.ComputeCoverage(ctx, req)
	if err != nil || len(c.GetAreas()) > 0 {
		return c, err
	}
	for _, kind := range councilKinds {
		req := &sparcv1.ComputeCoverageRequest{Kind: kind, Council: q.area, WindowStart: req.GetWindowStart(), WindowEnd: req.GetWindowEnd()}
		cc, err := src.ComputeCoverage(ctx, req)
		if err != nil {
			// Refused: no areas of the kind are loaded, or the area is no
			// council. Anything else (access, an outage) ends the report.
			if st, _ := apierr.ToStatus(err); st.Code() == codes.InvalidArgument {
				continue
			}
			return nil, err
		}
		if len(cc.GetAreas()) > 0 {
			return cc, nil
		}
	}
	return c, nil
}
