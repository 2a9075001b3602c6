// Package evidence is outcomes as evidence (issue 19, docs/analytics.md
// "Outcomes as evidence"): for the completed referrals of a window with a
// baseline and a follow-up, the mean change in SWEMWBS (metric scores)
// and in each ONS4 item with 95% t intervals, and the share whose
// SWEMWBS improved by the minimal important difference with a Wilson
// interval: overall, by the asset's category, by provider and by the
// deprivation quintile of the person's home area.
//
// The figures cover every organisation's referrals, so they are for
// admins and area analysts (the access policy, and again the database
// function) and leave only under the disclosure rule: whole months that
// have ended, counts released by internal/disclosure, no estimate from
// fewer than ten cases, and providers that are not public as the same
// anonymous codes as in the referral network. The database returns sums
// per group (store.go); the statistics (stats.go) and the release
// (release.go) are computed in Go.
package evidence

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
)

// Service answers GetOutcomeEvidence; the analytics service forwards to it.
type Service struct {
	pool *pgxpool.Pool
	// secret keys the anonymous codes of providers that are not public:
	// the referral network's secret, so a provider has one code in both.
	secret []byte
	now    func() time.Time
}

// New returns the service over the application pool.
func New(pool *pgxpool.Pool, secret []byte) *Service {
	return &Service{pool: pool, secret: secret, now: time.Now}
}

// GetOutcomeEvidence returns the outcome evidence of req's window and area.
func (s *Service) GetOutcomeEvidence(ctx context.Context, req *sparcv1.GetOutcomeEvidenceRequest) (*sparcv1.OutcomeEvidence, error) {
	if p := auth.FromContext(ctx); p == nil || (p.Role != auth.RoleAdmin && p.Role != auth.RoleAreaAnalyst && p.Role != auth.RoleNetworkAdmin) {
		return nil, status.Error(codes.PermissionDenied, "outcome evidence is for admins and area analysts")
	}
	q, err := parse(req, s.now())
	if err != nil {
		return nil, err
	}
	rows, err := db.InTxResult(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) ([]groupRow, error) {
		if q.area != nil {
			ok, err := areaKnown(ctx, tx, *q.area)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, apierr.Invalid("area", "no area or council has code %q", *q.area)
			}
		}
		return outcomeSums(ctx, tx, q.area, q.win.Start, q.win.End)
	})
	if err != nil {
		return nil, err
	}
	out := release(rows, s.secret)
	out.Window = q.win.String()
	out.StartTime, out.EndTime = timestamppb.New(q.win.Start), timestamppb.New(q.win.End)
	if q.area != nil {
		out.Area = *q.area
	}
	return out, nil
}
