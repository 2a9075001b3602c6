package reports

import (
	"context"
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
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
	// Coverage of the area's child areas (its MSOAs, LSOAs, wijken or
	// buurten), with referral rates over the window.
	last := q.window.End.AddDate(0, 0, -1)
	d.coverage, err = src.ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{
		ParentCode:  q.area,
		WindowStart: q.window.Start.Format(time.DateOnly),
		WindowEnd:   last.Format(time.DateOnly),
	})
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
