package audit

import (
	"context"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
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

type cursor struct {
	ID int64 `json:"i"`
}

// ListAuditEvents lists events newest first with filters.
func (s *Service) ListAuditEvents(ctx context.Context, req *sparcv1.ListAuditEventsRequest) (*sparcv1.ListAuditEventsResponse, error) {
	var v apierr.InvalidArgument
	limit := pagetoken.Size(req.GetPageSize(), 50, 500, &v)
	f := filterOf(req, &v)
	hash := pagetoken.QueryHash(req, func(r *sparcv1.ListAuditEventsRequest) { r.PageToken, r.PageSize = "", 0 })
	if req.GetPageToken() != "" {
		var after cursor
		if err := s.tokens.Decode(req.GetPageToken(), hash, &after); err != nil {
			v.Add("page_token", "%v", err)
		}
		f.before = after.ID
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	// An organisation's admin reads its own organisation's events only;
	// row-level security (0041) is the second wall.
	if caller := auth.FromContext(ctx); !caller.IsNetworkAdmin() {
		if caller == nil || caller.Role != auth.RoleAdmin {
			return &sparcv1.ListAuditEventsResponse{}, nil
		}
		f.org = caller.Org
	}
	events, err := s.store.list(ctx, f, limit+1)
	if err != nil {
		return nil, err
	}
	resp := &sparcv1.ListAuditEventsResponse{Events: events}
	if len(events) > limit {
		resp.Events = events[:limit]
		if resp.NextPageToken, err = s.tokens.Encode(hash, cursor{ID: resp.Events[limit-1].GetId()}); err != nil {
			return nil, err
		}
	}
	return resp, nil
}
