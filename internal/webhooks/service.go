// Package webhooks delivers an organisation's referral changes to its
// HTTPS endpoints: the WebhookService that registers them (with a signing
// secret sealed at rest), the worker that posts each change once, in
// order, signed, retrying with backoff from a cursor stored after every
// acknowledgement, and the checks that keep deliveries to public
// addresses. What a webhook receives is what its creator would watch
// (package outbox, read under referrals' visibility rule).
//
// store.go holds the package's SQL, service.go the gRPC handlers,
// validate.go the checks of their input, worker.go and targets.go the
// deliveries.
package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/emptypb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/pagetoken"
	"github.com/sparc-network/sparc/internal/seal"
)

// MaxWebhooks is how many webhooks an organisation may have at once. Each
// one is a stream of deliveries this server keeps going; ten covers a
// production endpoint, a staging one and a few integrations.
const MaxWebhooks = 10

// Service implements WebhookServiceServer: an organisation's
// endpoints for its referral changes. Delivery is Worker's.
type Service struct {
	sparcv1.UnimplementedWebhookServiceServer
	store  *store
	sealer *seal.Sealer
	tokens *pagetoken.Signer
	worker *Worker // told of new and deleted webhooks; may be nil
}

// NewService returns the webhook service. worker, when not nil,
// learns of new and deleted webhooks at once instead of at its next poll.
func NewService(pool *pgxpool.Pool, sealer *seal.Sealer, tokens *pagetoken.Signer, worker *Worker) *Service {
	return &Service{store: &store{pool: pool}, sealer: sealer, tokens: tokens, worker: worker}
}

// secretAD binds a sealed signing secret to its webhook, so that sealed
// values cannot be swapped between webhooks (or with people's details).
func secretAD(id uuid.UUID) []byte { return append([]byte("webhook:"), id[:]...) }

// refresh tells the worker the list of webhooks changed.
func (s *Service) refresh() {
	if s.worker != nil {
		s.worker.Refresh()
	}
}

// CreateWebhook registers an endpoint for the caller's organisation's
// referral changes from now on, and returns its signing secret once.
func (s *Service) CreateWebhook(ctx context.Context, req *sparcv1.CreateWebhookRequest) (*sparcv1.CreateWebhookResponse, error) {
	// The worker's setting decides both here and when it connects.
	if err := validCreate(req, s.worker != nil && s.worker.cfg.AllowPrivate); err != nil {
		return nil, err
	}
	org, err := uuid.Parse(auth.FromContext(ctx).Org)
	if err != nil {
		return nil, fmt.Errorf("caller's organisation: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	secret := "whsec_" + hex.EncodeToString(raw)
	id := uuid.New()
	sealed, err := s.sealer.Seal([]byte(secret), secretAD(id))
	if err != nil {
		return nil, fmt.Errorf("sealing webhook secret: %w", err)
	}
	// Only url and description are read: the rest of the webhook is
	// output only (AIP-203).
	out, err := s.store.create(ctx, id, org, req.GetWebhook().GetUrl(), req.GetWebhook().GetDescription(), sealed)
	if err != nil {
		return nil, err
	}
	s.refresh()
	return &sparcv1.CreateWebhookResponse{Webhook: out, Secret: secret}, nil
}

// GetWebhook returns one of the caller's organisation's webhooks.
func (s *Service) GetWebhook(ctx context.Context, req *sparcv1.GetWebhookRequest) (*sparcv1.Webhook, error) {
	var v apierr.InvalidArgument
	id := aip.ParseName(&v, "name", aip.Webhooks, req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.store.get(ctx, id)
}

// ListWebhooks lists the caller's organisation's webhooks, oldest first.
func (s *Service) ListWebhooks(ctx context.Context, req *sparcv1.ListWebhooksRequest) (*sparcv1.ListWebhooksResponse, error) {
	var v apierr.InvalidArgument
	p := aip.StartPage[listCursor](&v, s.tokens, req, 20, 100)
	if err := v.Err(); err != nil {
		return nil, err
	}
	rows, err := s.store.list(ctx, auth.FromContext(ctx).Org, p.After, p.Size+1)
	if err != nil {
		return nil, err
	}
	resp := &sparcv1.ListWebhooksResponse{}
	resp.Webhooks, resp.NextPageToken, err = aip.Next(p, rows, positionOf)
	return resp, err
}

// positionOf is a listed webhook's keyset position, from its creation
// time and the id in its name (both as the store made them).
func positionOf(h *sparcv1.Webhook) listCursor {
	var v apierr.InvalidArgument
	return listCursor{Created: h.GetCreateTime().AsTime().UnixMicro(), ID: aip.ParseName(&v, "name", aip.Webhooks, h.GetName())}
}

// DeleteWebhook stops a webhook's deliveries. The row stays, without its
// secret, as the record of where the organisation's changes went.
func (s *Service) DeleteWebhook(ctx context.Context, req *sparcv1.DeleteWebhookRequest) (*emptypb.Empty, error) {
	var v apierr.InvalidArgument
	id := aip.ParseName(&v, "name", aip.Webhooks, req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.store.delete(ctx, id); err != nil {
		return nil, err
	}
	s.refresh()
	return &emptypb.Empty{}, nil
}
