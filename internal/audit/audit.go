// Package audit reads the append-only audit trail that the authorisation
// layer writes (see internal/auth and db.InsertAudit). An organisation's
// admin reads the events of its own organisation's principals; the network
// admin reads the whole network's, anonymous calls included. Reading it is
// itself audited.
package audit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/pagetoken"
)

// Service implements AuditServiceServer.
type Service struct {
	sparcv1.UnimplementedAuditServiceServer
	pool   *pgxpool.Pool
	tokens *pagetoken.Signer
}

// NewService returns the audit service.
func NewService(pool *pgxpool.Pool, tokens *pagetoken.Signer) *Service {
	return &Service{pool: pool, tokens: tokens}
}

type cursor struct {
	ID int64 `json:"i"`
}

// ListAuditEvents lists events newest first with filters.
func (s *Service) ListAuditEvents(ctx context.Context, req *sparcv1.ListAuditEventsRequest) (*sparcv1.ListAuditEventsResponse, error) {
	var v apierr.InvalidArgument
	limit := pagetoken.Size(req.GetPageSize(), 50, 500, &v)
	var start, end *time.Time
	if t := req.GetStartTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			v.Add("start_time", "%v", err)
		}
		x := t.AsTime()
		start = &x
	}
	if t := req.GetEndTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			v.Add("end_time", "%v", err)
		}
		x := t.AsTime()
		end = &x
	}
	if start != nil && end != nil && end.Before(*start) {
		v.Add("end_time", "is before start_time")
	}
	switch req.GetOutcome() {
	case "", "ok", "denied", "error":
	default:
		v.Add("outcome", "must be ok, denied or error")
	}
	hash := pagetoken.QueryHash(req, func(r *sparcv1.ListAuditEventsRequest) { r.PageToken, r.PageSize = "", 0 })
	var after *cursor
	if req.GetPageToken() != "" {
		after = &cursor{}
		if err := s.tokens.Decode(req.GetPageToken(), hash, after); err != nil {
			v.Add("page_token", "%v", err)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	where := []string{"true"}
	var p []any
	add := func(cond string, val any) {
		p = append(p, val)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(p))))
	}
	if start != nil {
		add("time >= ?", *start)
	}
	if end != nil {
		add("time < ?", *end)
	}
	if req.GetPrincipal() != "" {
		add("principal = ?", req.GetPrincipal())
	}
	if req.GetResource() != "" {
		add("resource = ?", req.GetResource())
	}
	if req.GetOutcome() != "" {
		add("outcome = ?", req.GetOutcome())
	}
	if after != nil {
		add("id < ?", after.ID)
	}
	// An organisation's admin reads its own organisation's events only;
	// row-level security (0041) is the second wall.
	if caller := auth.FromContext(ctx); !caller.IsNetworkAdmin() {
		if caller == nil || caller.Role != auth.RoleAdmin {
			return &sparcv1.ListAuditEventsResponse{}, nil
		}
		add("organisation_id = ?::uuid", caller.Org)
	}
	resp := &sparcv1.ListAuditEventsResponse{}
	// In a transaction for the caller's identity (row-level security). Not
	// the audit record's: this call's own event is written after it, by
	// the interceptor, so a page never lists the read that fetched it.
	err := db.InTx(db.WithAudit(ctx, nil), s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		resp.Events = nil
		rows, err := tx.Query(ctx, `SELECT id, time, principal, COALESCE(organisation_id::text, ''), role, method,
		resource, outcome, code, request_id, peer, count FROM audit_events WHERE `+strings.Join(where, " AND ")+
			` ORDER BY id DESC LIMIT `+strconv.Itoa(limit+1), p...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e sparcv1.AuditEvent
			var t time.Time
			var role string
			if err := rows.Scan(&e.Id, &t, &e.Principal, &e.OrganisationId, &role, &e.Method, &e.Resource,
				&e.Outcome, &e.Code, &e.RequestId, &e.Peer, &e.Count); err != nil {
				return err
			}
			e.Time, e.Role = timestamppb.New(t), auth.RoleFromCode(role)
			resp.Events = append(resp.Events, &e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("listing audit events: %w", err)
	}
	if len(resp.Events) > limit {
		resp.Events = resp.Events[:limit]
		if resp.NextPageToken, err = s.tokens.Encode(hash, cursor{ID: resp.Events[limit-1].GetId()}); err != nil {
			return nil, err
		}
	}
	return resp, nil
}
