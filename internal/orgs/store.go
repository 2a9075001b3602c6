package orgs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/etag"
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

// Store is the SQL side of organisations: the only code that touches the
// organisations table.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a store over pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

const columns = `id, kind, name, contact_email, contact_phone, website, area_codes,
	COALESCE(ST_AsGeoJSON(area, 7), ''), status, network_named, created_at, updated_at, version`

const (
	// insertSQL takes args' nine values and the id ($10).
	insertSQL = `INSERT INTO organisations
		(kind, name, contact_email, contact_phone, website, area_codes, area, status, network_named, id)
		VALUES ($1, $2, $3, $4, $5, $6, ST_Multi(ST_GeomFromGeoJSON($7))::geography, $8, $9, $10)
		ON CONFLICT (id) DO NOTHING
		RETURNING ` + columns

	getSQL = `SELECT ` + columns + ` FROM organisations WHERE id = $1`

	// activeSQL: whether organisation $1 may act (its keys and tokens).
	activeSQL = `SELECT status = 'active' FROM organisations WHERE id = $1`

	// findOrCreateSQL: the oldest organisation named $1, else a new one
	// of kind "other" with id $2.
	findOrCreateSQL = `
		WITH existing AS (SELECT id FROM organisations WHERE name = $1 ORDER BY created_at LIMIT 1),
		ins AS (INSERT INTO organisations (id, kind, name) SELECT $2, 'other', $1
		        WHERE NOT EXISTS (SELECT 1 FROM existing) RETURNING id)
		SELECT id FROM existing UNION ALL SELECT id FROM ins`
	lockSQL = getSQL + ` FOR UPDATE`

	// listSQL: $1 kinds (NULL: all), $2/$3 after this (name, id) in
	// byte order (NULL: from the start), $4 how many.
	listSQL = `SELECT ` + columns + ` FROM organisations
		WHERE ($1::text[] IS NULL OR kind = ANY($1))
			AND ($2::text IS NULL OR (name COLLATE "C", id) > ($2::text COLLATE "C", $3::uuid))
		ORDER BY name COLLATE "C", id LIMIT $4`

	// updateSQL takes args' nine values and the id ($10).
	updateSQL = `UPDATE organisations SET kind = $1, name = $2, contact_email = $3,
		contact_phone = $4, website = $5, area_codes = $6, area = ST_Multi(ST_GeomFromGeoJSON($7))::geography,
		status = $8, network_named = $9, version = version + 1, updated_at = clock_timestamp()
		WHERE id = $10 RETURNING ` + columns
)

func scan(r pgx.Row) (*sparcv1.Organisation, error) {
	var o sparcv1.Organisation
	var id uuid.UUID
	var kind, status string
	var created, updated time.Time
	var version int64
	if err := r.Scan(&id, &kind, &o.DisplayName, &o.ContactEmail, &o.ContactPhone, &o.Website, &o.AreaCodes,
		&o.AreaGeojson, &status, &o.NamedInAnalytics, &created, &updated, &version); err != nil {
		return nil, err
	}
	o.Name = aip.Name(aip.Organisations, id)
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
	return []any{kindCode[o.GetKind()], o.GetDisplayName(), o.GetContactEmail(), o.GetContactPhone(), o.GetWebsite(),
		codes, area, statusCode[o.GetStatus()], o.GetNamedInAnalytics()}
}

// Create inserts an organisation with id.
func (s *Store) Create(ctx context.Context, id uuid.UUID, o *sparcv1.Organisation) (*sparcv1.Organisation, error) {
	return db.InTxResult(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) (*sparcv1.Organisation, error) {
		out, err := scan(tx.QueryRow(ctx, insertSQL, append(args(o), id)...))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("%s: %w", aip.Name(aip.Organisations, id), apierr.ErrAlreadyExists)
		}
		return out, err
	})
}

// Get returns one organisation.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (*sparcv1.Organisation, error) {
	o, err := scan(s.pool.QueryRow(ctx, getSQL, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", aip.Name(aip.Organisations, id), apierr.ErrNotFound)
	}
	return o, err
}

// Active reports whether organisation id exists and is active: the
// access layer asks it of every token's organisation (auth.OrgDirectory).
// An id that is not a UUID names no organisation.
func (s *Store) Active(ctx context.Context, id string) (bool, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return false, nil
	}
	var active bool
	err = s.pool.QueryRow(ctx, activeSQL, uid).Scan(&active)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return active, err
}

// FindOrCreate returns the id of the organisation named name, creating
// it (kind "other") when there is none, for bootstrapping a deployment.
func (s *Store) FindOrCreate(ctx context.Context, name string) (uuid.UUID, error) {
	var id uuid.UUID
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, findOrCreateSQL, name, uuid.New()).Scan(&id)
	})
	return id, err
}

// cursor is an organisation's place in the list: (display name, id).
type cursor struct {
	Name string    `json:"n"`
	ID   uuid.UUID `json:"i"`
}

// positionOf is o's cursor. Its name is the one scan made, so the id part
// is a UUID.
func positionOf(o *sparcv1.Organisation) cursor {
	return cursor{Name: o.GetDisplayName(), ID: uuid.MustParse(strings.TrimPrefix(o.GetName(), string(aip.Organisations)+"/"))}
}

// List returns up to limit+1 organisations after c in (display name, id)
// order.
func (s *Store) List(ctx context.Context, kinds []string, after *cursor, limit int) ([]*sparcv1.Organisation, error) {
	var afterName *string
	var afterID *uuid.UUID
	if after != nil {
		afterName, afterID = &after.Name, &after.ID
	}
	rows, err := s.pool.Query(ctx, listSQL, kinds, afterName, afterID, limit+1)
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
		cur, err := scan(tx.QueryRow(ctx, lockSQL, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%s: %w", aip.Name(aip.Organisations, id), apierr.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if etag != "" && etag != cur.GetEtag() {
			return fmt.Errorf("%s: %w", aip.Name(aip.Organisations, id), apierr.ErrStaleEtag)
		}
		if err := mutate(cur); err != nil {
			return err
		}
		out, err = scan(tx.QueryRow(ctx, updateSQL, append(args(cur), id)...))
		return err
	})
	return out, err
}
