package app

import (
	"context"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/network"
)

// OutcomeEvidence answers GetOutcomeEvidence (internal/evidence's
// Service implements it).
type OutcomeEvidence interface {
	GetOutcomeEvidence(context.Context, *sparcv1.GetOutcomeEvidenceRequest) (*sparcv1.OutcomeEvidence, error)
}

// analytics is the one AnalyticsService the server registers, made of
// the domains that answer its methods: the referral network
// (internal/network) and outcome evidence (internal/evidence), each a
// package of its own. Without evidence, GetOutcomeEvidence is
// UNIMPLEMENTED.
type analytics struct {
	*network.Service
	evidence OutcomeEvidence // nil: not served
}

func (a analytics) GetOutcomeEvidence(ctx context.Context, req *sparcv1.GetOutcomeEvidenceRequest) (*sparcv1.OutcomeEvidence, error) {
	if a.evidence == nil {
		return a.Service.UnimplementedAnalyticsServiceServer.GetOutcomeEvidence(ctx, req)
	}
	return a.evidence.GetOutcomeEvidence(ctx, req)
}
