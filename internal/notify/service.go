package notify

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/orgs"
)

// Service is the NotificationService: an organisation's admin reads and
// changes its email settings and sees how delivery goes.
type Service struct {
	sparcv1.UnimplementedNotificationServiceServer
	store      *settingsStore
	orgs       *orgs.Store
	configured bool
}

// NewService returns the service; configured says whether this server
// sends emails (shown to organisations).
func NewService(pool *pgxpool.Pool, configured bool) *Service {
	return &Service{store: &settingsStore{pool: pool}, orgs: orgs.NewStore(pool), configured: configured}
}

// ownOrg checks that the caller administers org: anyone else, another
// organisation's admin included, finds no such settings. Row-level
// security (0053) is the second wall.
func ownOrg(ctx context.Context, org uuid.UUID) error {
	p := auth.FromContext(ctx)
	if p == nil || p.Role != auth.RoleAdmin || p.Org != org.String() {
		return fmt.Errorf("%s: %w", settingsName(org), apierr.ErrNotFound)
	}
	return nil
}

// GetEmailNotificationSettings returns the caller's organisation's settings.
func (s *Service) GetEmailNotificationSettings(ctx context.Context, req *sparcv1.GetEmailNotificationSettingsRequest) (*sparcv1.EmailNotificationSettings, error) {
	var v apierr.InvalidArgument
	org := parseSettingsName(&v, "name", req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := ownOrg(ctx, org); err != nil {
		return nil, err
	}
	out, err := s.store.get(ctx, org)
	if err != nil {
		return nil, err
	}
	return s.complete(ctx, org, out)
}

// UpdateEmailNotificationSettings changes the masked settings.
func (s *Service) UpdateEmailNotificationSettings(ctx context.Context, req *sparcv1.UpdateEmailNotificationSettingsRequest) (*sparcv1.EmailNotificationSettings, error) {
	org, mask, err := validateUpdate(req)
	if err != nil {
		return nil, err
	}
	if err := ownOrg(ctx, org); err != nil {
		return nil, err
	}
	out, err := s.store.update(ctx, org, req.GetSettings().GetEtag(), func(cur *sparcv1.EmailNotificationSettings) {
		mask.Apply(cur, req.GetSettings())
	})
	if err != nil {
		return nil, err
	}
	return s.complete(ctx, org, out)
}

// complete adds what the settings row does not hold: the recipient (the
// organisation's contact email, read through its owner) and whether this
// server sends at all.
func (s *Service) complete(ctx context.Context, org uuid.UUID, out *sparcv1.EmailNotificationSettings) (*sparcv1.EmailNotificationSettings, error) {
	o, err := s.orgs.Get(ctx, org)
	if err != nil && !errors.Is(err, apierr.ErrNotFound) {
		return nil, err
	}
	out.Recipient = o.GetContactEmail()
	out.DeliveryConfigured = s.configured
	out.Name = aip.Name(aip.Organisations, org) + settingsSuffix
	return out, nil
}
