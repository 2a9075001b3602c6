package audit

import (
	"context"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/pagetoken"
)

// Service implements AuditServiceServer.
type Service struct {
	sparcv1.UnimplementedAuditServiceServer
	store  *Store
	tokens *pagetoken.Signer
}

// NewService returns the audit service.
func NewService(store *Store, tokens *pagetoken.Signer) *Service {
	return &Service{store: store, tokens: tokens}
}

// ListAuditEvents lists events newest first with filters.
func (s *Service) ListAuditEvents(ctx context.Context, req *sparcv1.ListAuditEventsRequest) (*sparcv1.ListAuditEventsResponse, error) {
	var v apierr.InvalidArgument
	f := filterOf(req, &v)
	page := aip.StartPage[cursor](&v, s.tokens, req, 50, 500)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if page.After != nil {
		f.before = page.After.ID
	}
	// An organisation's admin reads its own organisation's events only;
	// row-level security (0041) is the second wall.
	if caller := auth.FromContext(ctx); !caller.IsNetworkAdmin() {
		if caller == nil || caller.Role != auth.RoleAdmin {
			return &sparcv1.ListAuditEventsResponse{}, nil
		}
		f.org = caller.Org
	}
	events, err := s.store.list(ctx, f, page.Size)
	if err != nil {
		return nil, err
	}
	resp := &sparcv1.ListAuditEventsResponse{}
	resp.Events, resp.NextPageToken, err = aip.Next(page, events, positionOf)
	return resp, err
}
