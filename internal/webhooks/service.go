// Package webhooks delivers an organisation's referral changes to its
// HTTPS endpoints: the WebhookService that registers them (with a signing
// secret sealed at rest), the worker that posts each change once, in
// order, signed, retrying with backoff from a cursor stored after every
// acknowledgement, and the checks that keep deliveries to public
// addresses. What a webhook receives is what its creator would watch
// (package outbox, read under referrals' visibility rule).
package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
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
	pool   *pgxpool.Pool
	sealer *seal.Sealer
	tokens *pagetoken.Signer
	worker *Worker // told of new and deleted webhooks; may be nil
}

// NewService returns the webhook service. worker, when not nil,
// learns of new and deleted webhooks at once instead of at its next poll.
func NewService(pool *pgxpool.Pool, sealer *seal.Sealer, tokens *pagetoken.Signer, worker *Worker) *Service {
	return &Service{pool: pool, sealer: sealer, tokens: tokens, worker: worker}
}

// secretAD binds a sealed signing secret to its webhook, so that sealed
// values cannot be swapped between webhooks (or with people's details).
func secretAD(id uuid.UUID) []byte { return append([]byte("webhook:"), id[:]...) }

// Advisory lock classes (the first key of the two-key form, "SWO1" and
// "SWD1"): one organisation's webhook creations, one webhook's delivery.
const (
	webhookOrgLockClass      = 0x53574f31
	webhookDeliveryLockClass = 0x53574431
)

// lockKey folds an id into the second key of an advisory lock. Two ids
// folding alike only make their holders take turns.
func lockKey(id uuid.UUID) int32 {
	var k uint32
	for i := 0; i < 16; i += 4 {
		k ^= uint32(id[i])<<24 | uint32(id[i+1])<<16 | uint32(id[i+2])<<8 | uint32(id[i+3])
	}
	return int32(k)
}

func scanWebhook(r pgx.Row) (*sparcv1.Webhook, time.Time, error) {
	var h sparcv1.Webhook
	var id, org uuid.UUID
	var created time.Time
	var success, failure, next *time.Time
	err := r.Scan(&id, &org, &h.Url, &h.Description, &created, &success, &failure, &h.LastError,
		&h.ConsecutiveFailures, &next, &h.Pending)
	if err != nil {
		return nil, time.Time{}, err
	}
	h.Id, h.OrganisationId, h.CreateTime = id.String(), org.String(), timestamppb.New(created)
	for _, t := range []struct {
		at  *time.Time
		out **timestamppb.Timestamp
	}{{success, &h.LastSuccessTime}, {failure, &h.LastFailureTime}, {next, &h.NextAttemptTime}} {
		if t.at != nil {
			*t.out = timestamppb.New(*t.at)
		}
	}
	return &h, created, nil
}

// CreateWebhook registers an endpoint for the caller's organisation's
// referral changes from now on, and returns its signing secret once.
func (s *Service) CreateWebhook(ctx context.Context, req *sparcv1.CreateWebhookRequest) (*sparcv1.CreateWebhookResponse, error) {
	var v apierr.InvalidArgument
	// The worker's setting decides both here and when it connects.
	validWebhookURL("webhook.url", req.GetWebhook().GetUrl(), s.worker != nil && s.worker.cfg.AllowPrivate, &v)
	if utf8.RuneCountInString(req.GetWebhook().GetDescription()) > 200 {
		v.Add("webhook.description", "is longer than 200 characters")
	}
	if err := v.Err(); err != nil {
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
	var out *sparcv1.Webhook
	err = db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		// Two concurrent creations must not both see room for one more.
		if _, err := tx.Exec(ctx, lockOrgSQL, int32(webhookOrgLockClass), lockKey(org)); err != nil {
			return fmt.Errorf("locking organisation's webhooks: %w", err)
		}
		var n int
		if err := tx.QueryRow(ctx, countSQL, org).Scan(&n); err != nil {
			return fmt.Errorf("counting webhooks: %w", err)
		}
		if n >= MaxWebhooks {
			return &apierr.PreconditionError{Type: "WEBHOOK_LIMIT", Subject: "organisations/" + org.String(),
				Description: fmt.Sprintf("organisation %s has %d webhooks, the most allowed is %d; delete one first", org, n, MaxWebhooks)}
		}
		// The cursor starts at the horizon of finished transactions, as
		// WatchReferrals' "now": every change committed from here on is
		// delivered.
		out, _, err = scanWebhook(tx.QueryRow(ctx, insertSQL, id, org, req.GetWebhook().GetUrl(), req.GetWebhook().GetDescription(), sealed))
		if err != nil {
			return fmt.Errorf("inserting webhook: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.worker != nil {
		s.worker.Refresh()
	}
	return &sparcv1.CreateWebhookResponse{Webhook: out, Secret: secret}, nil
}

// GetWebhook returns one of the caller's organisation's webhooks.
func (s *Service) GetWebhook(ctx context.Context, req *sparcv1.GetWebhookRequest) (*sparcv1.Webhook, error) {
	var v apierr.InvalidArgument
	id := parseWebhookID(req.GetId(), &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *sparcv1.Webhook
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		// Row-level security hides other organisations' webhooks: they
		// are as missing as ids that never existed.
		var err error
		out, _, err = scanWebhook(tx.QueryRow(ctx, getSQL, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("webhook %s: %w", id, apierr.ErrNotFound)
		}
		return err
	})
	return out, err
}

type webhookCursor struct {
	Created int64     `json:"c"`
	ID      uuid.UUID `json:"i"`
}

// ListWebhooks lists the caller's organisation's webhooks, oldest first.
func (s *Service) ListWebhooks(ctx context.Context, req *sparcv1.ListWebhooksRequest) (*sparcv1.ListWebhooksResponse, error) {
	var v apierr.InvalidArgument
	limit := pagetoken.Size(req.GetPageSize(), 20, 100, &v)
	hash := pagetoken.QueryHash(req, func(r *sparcv1.ListWebhooksRequest) { r.PageToken, r.PageSize = "", 0 })
	q := listSQL
	args := []any{auth.FromContext(ctx).Org}
	if req.GetPageToken() != "" {
		var c webhookCursor
		if err := s.tokens.Decode(req.GetPageToken(), hash, &c); err != nil {
			v.Add("page_token", "%v", err)
		}
		q += listAfterSQL
		args = append(args, time.UnixMicro(c.Created), c.ID)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	resp := &sparcv1.ListWebhooksResponse{}
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		resp.Webhooks, resp.NextPageToken = nil, ""
		rows, err := tx.Query(ctx, q+listOrderSQL+strconv.Itoa(limit+1), args...)
		if err != nil {
			return fmt.Errorf("listing webhooks: %w", err)
		}
		defer rows.Close()
		var last time.Time
		for rows.Next() {
			if len(resp.Webhooks) == limit {
				prev := resp.Webhooks[limit-1]
				resp.NextPageToken, err = s.tokens.Encode(hash, webhookCursor{Created: last.UnixMicro(), ID: uuid.MustParse(prev.GetId())})
				return err
			}
			h, created, err := scanWebhook(rows)
			if err != nil {
				return err
			}
			resp.Webhooks, last = append(resp.Webhooks, h), created
		}
		return rows.Err()
	})
	return resp, err
}

// DeleteWebhook stops a webhook's deliveries. The row stays, without its
// secret, as the record of where the organisation's changes went.
func (s *Service) DeleteWebhook(ctx context.Context, req *sparcv1.DeleteWebhookRequest) (*sparcv1.DeleteWebhookResponse, error) {
	var v apierr.InvalidArgument
	id := parseWebhookID(req.GetId(), &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, deleteSQL, id)
		if err != nil {
			return fmt.Errorf("deleting webhook: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("webhook %s: %w", id, apierr.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.worker != nil {
		s.worker.Refresh()
	}
	return &sparcv1.DeleteWebhookResponse{}, nil
}
