// Package orgs manages the organisations that share a SPARC instance: GP
// practices, link-worker services, community groups, councils. Their kind,
// name, status and area codes are public; contact details and the area
// polygon are shown only to authenticated callers.
package orgs

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/etag"
	"github.com/sparc-network/sparc/internal/geo"
	"github.com/sparc-network/sparc/internal/pagetoken"
	"github.com/sparc-network/sparc/internal/vocab"
)

var kindCode = map[sparcv1.OrganisationKind]string{
	sparcv1.OrganisationKind_ORGANISATION_KIND_GP_PRACTICE:            "gp_practice",
	sparcv1.OrganisationKind_ORGANISATION_KIND_PRIMARY_CARE_NETWORK:   "primary_care_network",
	sparcv1.OrganisationKind_ORGANISATION_KIND_LINK_WORKER_SERVICE:    "link_worker_service",
	sparcv1.OrganisationKind_ORGANISATION_KIND_COMMUNITY_GROUP:        "community_group",
	sparcv1.OrganisationKind_ORGANISATION_KIND_VOLUNTARY_ORGANISATION: "voluntary_organisation",
	sparcv1.OrganisationKind_ORGANISATION_KIND_LOCAL_AUTHORITY:        "local_authority",
	sparcv1.OrganisationKind_ORGANISATION_KIND_PUBLIC_HEALTH:          "public_health",
	sparcv1.OrganisationKind_ORGANISATION_KIND_HOUSING:                "housing",
	sparcv1.OrganisationKind_ORGANISATION_KIND_HEALTH_BOARD:           "health_board",
	sparcv1.OrganisationKind_ORGANISATION_KIND_OTHER:                  "other",
}

var statusCode = map[sparcv1.OrganisationStatus]string{
	sparcv1.OrganisationStatus_ORGANISATION_STATUS_ACTIVE:    "active",
	sparcv1.OrganisationStatus_ORGANISATION_STATUS_SUSPENDED: "suspended",
	sparcv1.OrganisationStatus_ORGANISATION_STATUS_CLOSED:    "closed",
}

var (
	kindFromCode   = vocab.FromCodes(kindCode)
	statusFromCode = vocab.FromCodes(statusCode)
)

// Store is the SQL side of organisations.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a store over pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

const columns = `id, kind, name, contact_email, contact_phone, website, area_codes,
	COALESCE(ST_AsGeoJSON(area, 7), ''), status, created_at, updated_at, version`

func scan(r pgx.Row) (*sparcv1.Organisation, error) {
	var o sparcv1.Organisation
	var id uuid.UUID
	var kind, status string
	var created, updated time.Time
	var version int64
	if err := r.Scan(&id, &kind, &o.Name, &o.ContactEmail, &o.ContactPhone, &o.Website, &o.AreaCodes,
		&o.AreaGeojson, &status, &created, &updated, &version); err != nil {
		return nil, err
	}
	o.Id = id.String()
	o.Kind = kindFromCode[kind]
	o.Status = statusFromCode[status]
	o.CreateTime, o.UpdateTime = timestamppb.New(created), timestamppb.New(updated)
	o.Etag = etag.Of(id, version, updated)
	return &o, nil
}

func args(o *sparcv1.Organisation) []any {
	var area *string
	if o.GetAreaGeojson() != "" {
		a := o.GetAreaGeojson()
		area = &a
	}
	codes := o.GetAreaCodes()
	if codes == nil {
		codes = []string{}
	}
	return []any{kindCode[o.GetKind()], o.GetName(), o.GetContactEmail(), o.GetContactPhone(), o.GetWebsite(),
		codes, area, statusCode[o.GetStatus()]}
}

// Create inserts an organisation with id.
func (s *Store) Create(ctx context.Context, id uuid.UUID, o *sparcv1.Organisation) (*sparcv1.Organisation, error) {
	var out *sparcv1.Organisation
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		var err error
		out, err = scan(tx.QueryRow(ctx, `INSERT INTO organisations
			(kind, name, contact_email, contact_phone, website, area_codes, area, status, id)
			VALUES ($1, $2, $3, $4, $5, $6, ST_Multi(ST_GeomFromGeoJSON($7))::geography, $8, $9)
			ON CONFLICT (id) DO NOTHING
			RETURNING `+columns, append(args(o), id)...))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("organisation %s: %w", id, apierr.ErrAlreadyExists)
		}
		return err
	})
	return out, err
}

// Get returns one organisation.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (*sparcv1.Organisation, error) {
	o, err := scan(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM organisations WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("organisation %s: %w", id, apierr.ErrNotFound)
	}
	return o, err
}

type cursor struct {
	Name string    `json:"n"`
	ID   uuid.UUID `json:"i"`
}

// List returns up to limit+1 organisations after c in (name, id) order.
func (s *Store) List(ctx context.Context, kinds []string, after *cursor, limit int) ([]*sparcv1.Organisation, error) {
	q := `SELECT ` + columns + ` FROM organisations WHERE ($1::text[] IS NULL OR kind = ANY($1))`
	params := []any{kinds}
	if after != nil {
		q += ` AND (name COLLATE "C", id) > ($2::text COLLATE "C", $3::uuid)`
		params = append(params, after.Name, after.ID)
	}
	q += ` ORDER BY name COLLATE "C", id LIMIT ` + strconv.Itoa(limit+1)
	rows, err := s.pool.Query(ctx, q, params...)
	if err != nil {
		return nil, fmt.Errorf("listing organisations: %w", err)
	}
	defer rows.Close()
	var out []*sparcv1.Organisation
	for rows.Next() {
		o, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("reading organisation: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// Update locks, checks the etag, applies mutate and writes.
func (s *Store) Update(ctx context.Context, id uuid.UUID, etag string, mutate func(*sparcv1.Organisation) error) (*sparcv1.Organisation, error) {
	var out *sparcv1.Organisation
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		cur, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM organisations WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("organisation %s: %w", id, apierr.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if etag != "" && etag != cur.GetEtag() {
			return fmt.Errorf("organisation %s: %w", id, apierr.ErrStaleEtag)
		}
		if err := mutate(cur); err != nil {
			return err
		}
		out, err = scan(tx.QueryRow(ctx, `UPDATE organisations SET kind = $1, name = $2, contact_email = $3,
			contact_phone = $4, website = $5, area_codes = $6, area = ST_Multi(ST_GeomFromGeoJSON($7))::geography,
			status = $8, version = version + 1, updated_at = clock_timestamp()
			WHERE id = $9 RETURNING `+columns, append(args(cur), id)...))
		return err
	})
	return out, err
}

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

func validate(o *sparcv1.Organisation, v *apierr.InvalidArgument) {
	name := strings.TrimSpace(o.GetName())
	if name == "" || utf8.RuneCountInString(name) > 200 {
		v.Add("organisation.name", "is required, at most 200 characters")
	}
	if _, ok := kindCode[o.GetKind()]; !ok {
		v.Add("organisation.kind", "must be one of the organisation kinds (e.g. ORGANISATION_KIND_COMMUNITY_GROUP)")
	}
	if _, ok := statusCode[o.GetStatus()]; !ok {
		v.Add("organisation.status", "must be ACTIVE, SUSPENDED or CLOSED")
	}
	if e := o.GetContactEmail(); e != "" {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			v.Add("organisation.contact_email", "%q is not a plain email address", e)
		}
	}
	if len(o.GetContactPhone()) > 32 {
		v.Add("organisation.contact_phone", "is longer than 32 characters")
	}
	if w := o.GetWebsite(); w != "" {
		if u, err := url.Parse(w); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.Add("organisation.website", "%q is not an http(s) URL", w)
		}
	}
	if len(o.GetAreaCodes()) > 1000 {
		v.Add("organisation.area_codes", "has more than 1000 codes")
	}
	for i, c := range o.GetAreaCodes() {
		if c == "" || len(c) > 32 {
			v.Add(fmt.Sprintf("organisation.area_codes[%d]", i), "must be 1 to 32 characters")
		}
	}
	if g := o.GetAreaGeojson(); g != "" {
		if _, err := geo.ParsePolygon(g, 10000); err != nil {
			v.Add("organisation.area_geojson", "%v", err)
		}
	}
}

func parseID(field, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(strings.TrimPrefix(s, "organisations/"))
	if err != nil {
		return uuid.Nil, apierr.Invalid(field, "is not an organisation id (a UUID)")
	}
	return id, nil
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
	o := proto.Clone(req.GetOrganisation()).(*sparcv1.Organisation)
	o.Id, o.Etag, o.CreateTime, o.UpdateTime = "", "", nil, nil
	o.Name = strings.TrimSpace(o.Name)
	if o.Status == sparcv1.OrganisationStatus_ORGANISATION_STATUS_UNSPECIFIED {
		o.Status = sparcv1.OrganisationStatus_ORGANISATION_STATUS_ACTIVE
	}
	var v apierr.InvalidArgument
	validate(o, &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.store.Create(ctx, uuid.New(), o)
}

// GetOrganisation returns one organisation (public fields for anonymous callers).
func (s *Service) GetOrganisation(ctx context.Context, req *sparcv1.GetOrganisationRequest) (*sparcv1.Organisation, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	o, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return publicView(ctx, o), nil
}

// ListOrganisations lists organisations by name.
func (s *Service) ListOrganisations(ctx context.Context, req *sparcv1.ListOrganisationsRequest) (*sparcv1.ListOrganisationsResponse, error) {
	var v apierr.InvalidArgument
	limit := pagetoken.Size(req.GetPageSize(), 20, 100, &v)
	var kinds []string
	for i, k := range req.GetKinds() {
		c, ok := kindCode[k]
		if !ok {
			v.Add(fmt.Sprintf("kinds[%d]", i), "unknown organisation kind %d", k)
		}
		kinds = append(kinds, c)
	}
	hash := pagetoken.QueryHash(req, func(r *sparcv1.ListOrganisationsRequest) { r.PageToken, r.PageSize = "", 0 })
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
	list, err := s.store.List(ctx, kinds, after, limit)
	if err != nil {
		return nil, err
	}
	resp := &sparcv1.ListOrganisationsResponse{}
	if len(list) > limit {
		list = list[:limit]
		last := list[limit-1]
		if resp.NextPageToken, err = s.tokens.Encode(hash, cursor{Name: last.GetName(), ID: uuid.MustParse(last.GetId())}); err != nil {
			return nil, err
		}
	}
	for _, o := range list {
		resp.Organisations = append(resp.Organisations, publicView(ctx, o))
	}
	return resp, nil
}

var updatable = map[string]bool{"kind": true, "name": true, "contact_email": true, "contact_phone": true,
	"website": true, "area_codes": true, "area_geojson": true, "status": true}

// UpdateOrganisation changes the masked fields: an organisation's admin
// its own organisation (not its status), the network admin any.
func (s *Service) UpdateOrganisation(ctx context.Context, req *sparcv1.UpdateOrganisationRequest) (*sparcv1.Organisation, error) {
	in := req.GetOrganisation()
	if in == nil {
		return nil, apierr.Invalid("organisation", "is required")
	}
	id, err := parseID("organisation.id", in.GetId())
	if err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		paths = []string{"kind", "name", "contact_email", "contact_phone", "website", "area_codes", "area_geojson", "status"}
	}
	var v apierr.InvalidArgument
	for i, p := range paths {
		if !updatable[p] {
			v.Add(fmt.Sprintf("update_mask.paths[%d]", i), "%q is not an updatable field", p)
		}
	}
	if e := in.GetEtag(); e != "" && len(e) != 16 {
		v.Add("organisation.etag", "%q is not an etag returned by this API", e)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	// An organisation's admin changes its own organisation only; another
	// looks like a missing one. Row-level security (0041) is the second wall.
	p := auth.FromContext(ctx)
	if !p.CanAdminister(id.String()) {
		return nil, fmt.Errorf("organisation %s: %w", id, apierr.ErrNotFound)
	}
	return s.store.Update(ctx, id, in.GetEtag(), func(cur *sparcv1.Organisation) error {
		// Suspending (or re-activating) an organisation is the network's
		// decision: its own admin could otherwise lift a suspension.
		was := cur.GetStatus()
		src, dst := in.ProtoReflect(), cur.ProtoReflect()
		for _, p := range paths {
			fd := dst.Descriptor().Fields().ByName(protoreflect.Name(p))
			if src.Has(fd) {
				dst.Set(fd, src.Get(fd))
			} else {
				dst.Clear(fd)
			}
		}
		cur.Name = strings.TrimSpace(cur.Name)
		var v apierr.InvalidArgument
		validate(cur, &v)
		if err := v.Err(); err != nil {
			return err
		}
		if cur.GetStatus() != was && !p.IsNetworkAdmin() {
			return status.Error(codes.PermissionDenied, "only the network admin changes an organisation's status")
		}
		return nil
	})
}
