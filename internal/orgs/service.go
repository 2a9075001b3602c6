// Package orgs manages the organisations that share a SPARC instance: GP
// practices, link-worker services, community groups, councils. Their kind,
// display name, status and area codes are public; contact details and the area
// polygon are shown only to authenticated callers.
package orgs

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/pagetoken"
)

// Service implements OrganisationServiceServer.
type Service struct {
	sparcv1.UnimplementedOrganisationServiceServer
	store  *Store
	tokens *pagetoken.Signer
}

// NewService returns the organisation service.
func NewService(store *Store, tokens *pagetoken.Signer) *Service {
	return &Service{store: store, tokens: tokens}
}

// publicView strips what anonymous callers may not see.
func publicView(ctx context.Context, o *sparcv1.Organisation) *sparcv1.Organisation {
	if auth.FromContext(ctx) != nil {
		return o
	}
	o.ContactEmail, o.ContactPhone, o.AreaGeojson = "", "", ""
	return o
}

// CreateOrganisation creates an organisation (network admin; the policy
// admits no one else).
func (s *Service) CreateOrganisation(ctx context.Context, req *sparcv1.CreateOrganisationRequest) (*sparcv1.Organisation, error) {
	if req.GetOrganisation() == nil {
		return nil, apierr.Invalid("organisation", "is required")
	}
	// The server names the organisation and owns its times (AIP-203: an
	// output-only field in input is ignored).
	o := proto.Clone(req.GetOrganisation()).(*sparcv1.Organisation)
	o.Name, o.Etag, o.CreateTime, o.UpdateTime = "", "", nil, nil
	o.DisplayName = strings.TrimSpace(o.DisplayName)
	if o.Status == sparcv1.OrganisationStatus_ORGANISATION_STATUS_UNSPECIFIED {
		o.Status = sparcv1.OrganisationStatus_ORGANISATION_STATUS_ACTIVE
	}
	if err := check(o); err != nil {
		return nil, err
	}
	return s.store.Create(ctx, uuid.New(), o)
}

// GetOrganisation returns one organisation (public fields for anonymous callers).
func (s *Service) GetOrganisation(ctx context.Context, req *sparcv1.GetOrganisationRequest) (*sparcv1.Organisation, error) {
	var v apierr.InvalidArgument
	id := aip.ParseName(&v, "name", aip.Organisations, req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	o, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return publicView(ctx, o), nil
}

// ListOrganisations lists organisations by display name.
func (s *Service) ListOrganisations(ctx context.Context, req *sparcv1.ListOrganisationsRequest) (*sparcv1.ListOrganisationsResponse, error) {
	var v apierr.InvalidArgument
	var kinds []string
	for i, k := range req.GetKinds() {
		c, ok := kindCode[k]
		if !ok {
			v.Add(fmt.Sprintf("kinds[%d]", i), "unknown organisation kind %d", k)
		}
		kinds = append(kinds, c)
	}
	page := aip.StartPage[cursor](&v, s.tokens, req, 20, 100)
	if err := v.Err(); err != nil {
		return nil, err
	}
	list, err := s.store.List(ctx, kinds, page.After, page.Size)
	if err != nil {
		return nil, err
	}
	resp := &sparcv1.ListOrganisationsResponse{}
	if list, resp.NextPageToken, err = aip.Next(page, list, positionOf); err != nil {
		return nil, err
	}
	for _, o := range list {
		resp.Organisations = append(resp.Organisations, publicView(ctx, o))
	}
	return resp, nil
}

// UpdateOrganisation changes the masked fields: an organisation's admin
// its own organisation (not its status), the network admin any.
func (s *Service) UpdateOrganisation(ctx context.Context, req *sparcv1.UpdateOrganisationRequest) (*sparcv1.Organisation, error) {
	id, mask, err := validateUpdate(req)
	if err != nil {
		return nil, err
	}
	in := req.GetOrganisation()
	// An organisation's admin changes its own organisation only; another
	// looks like a missing one. Row-level security (0041) is the second wall.
	p := auth.FromContext(ctx)
	if !p.CanAdminister(id.String()) {
		return nil, fmt.Errorf("%s: %w", aip.Name(aip.Organisations, id), apierr.ErrNotFound)
	}
	return s.store.Update(ctx, id, in.GetEtag(), func(cur *sparcv1.Organisation) error {
		// Suspending (or re-activating) an organisation is the network's
		// decision: its own admin could otherwise lift a suspension.
		was := cur.GetStatus()
		if err := applyMask(cur, in, mask); err != nil {
			return err
		}
		if cur.GetStatus() != was && !p.IsNetworkAdmin() {
			return status.Error(codes.PermissionDenied, "only the network admin changes an organisation's status")
		}
		return nil
	})
}

// GetCaller says who is calling: the principal the credentials stand for,
// its organisation (read here, for its name and kind) and its role. The
// policy admits only authenticated callers; the principal is the access
// layer's, never the request's.
func (s *Service) GetCaller(ctx context.Context, _ *sparcv1.GetCallerRequest) (*sparcv1.Caller, error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return nil, status.Error(codes.Unauthenticated, "GetCaller needs an API key or a token")
	}
	c := &sparcv1.Caller{Principal: p.Name, DisplayName: p.DisplayName, Role: auth.RoleFromCode(p.Role),
		Organisation: aip.NameOf(aip.Organisations, p.Org)}
	if p.KeyID != "" {
		c.ApiKey = aip.NameOf(aip.APIKeys, p.KeyID)
	}
	id, err := uuid.Parse(p.Org)
	if err != nil {
		return c, nil
	}
	o, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("reading the caller's organisation: %w", err)
	}
	c.OrganisationDisplayName, c.OrganisationKind = o.GetDisplayName(), o.GetKind()
	return c, nil
}
