package assets

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/etag"
)

// Store is the SQL side of the asset directory.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a store over pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// selectColumns is the column list scanAsset reads, in order. Geometry is
// returned as numbers and GeoJSON so Go never parses WKB.
const selectColumns = `a.id, a.kind, a.name, a.description, a.categories,
	ST_Y(a.location::geometry), ST_X(a.location::geometry), a.address, a.postcode, a.locality, a.country,
	COALESCE(ST_AsGeoJSON(a.service_area, 7), ''), a.sessions, a.cost_kind, a.cost_note,
	a.accessibility, a.languages, a.min_age, a.max_age,
	a.contact_name, a.contact_email, a.contact_phone, a.contact_website,
	a.capacity, a.accepting_referrals, a.status, COALESCE(a.owner_organisation::text, ''),
	a.last_verified_at, a.created_at, a.updated_at, a.version`

// sessionJSON is the stored shape of a session (see the sessions column).
type sessionJSON struct {
	Day        int32  `json:"day"`
	StartTime  string `json:"start_time"`
	EndTime    string `json:"end_time"`
	Timezone   string `json:"timezone"`
	ValidFrom  string `json:"valid_from,omitempty"`
	ValidUntil string `json:"valid_until,omitempty"`
}

// row holds scan targets for one asset.
type row struct {
	id                       uuid.UUID
	kind, status, cost       string
	lat, lng                 float64
	sessions                 []byte
	minAge, maxAge, capacity *int32
	lastVerified             *time.Time
	created, updated         time.Time
	version                  int64
	a                        sparcv1.Asset
	loc                      sparcv1.Location
	costMsg                  sparcv1.Cost
	contact                  sparcv1.Contact
}

// targets returns the scan targets of the asset columns followed by extra
// (a search's distance and rank), in one allocation.
func (r *row) targets(extra ...any) []any {
	t := make([]any, 0, 31+len(extra))
	t = append(t, &r.id, &r.kind, &r.a.Name, &r.a.Description, &r.a.Categories,
		&r.lat, &r.lng, &r.loc.Address, &r.loc.Postcode, &r.loc.Locality, &r.loc.Country,
		&r.a.ServiceAreaGeojson, &r.sessions, &r.cost, &r.costMsg.Note,
		&r.a.Accessibility, &r.a.Languages, &r.minAge, &r.maxAge,
		&r.contact.Name, &r.contact.Email, &r.contact.Phone, &r.contact.Website,
		&r.capacity, &r.a.AcceptingReferrals, &r.status, &r.a.OwnerOrganisation,
		&r.lastVerified, &r.created, &r.updated, &r.version)
	return append(t, extra...)
}

func (r *row) asset() (*sparcv1.Asset, error) {
	a := &r.a
	a.Id = r.id.String()
	a.Kind = kindFromCode[r.kind]
	a.Status = statusFromCode[r.status]
	r.loc.Latitude, r.loc.Longitude = r.lat, r.lng
	a.Location = &r.loc
	r.costMsg.Kind = costFromCode[r.cost]
	a.Cost = &r.costMsg
	a.Contact = &r.contact
	if r.minAge != nil || r.maxAge != nil {
		a.AgeRange = &sparcv1.AgeRange{MinAge: r.minAge, MaxAge: r.maxAge}
	}
	a.Capacity = r.capacity
	if r.lastVerified != nil {
		a.LastVerifiedTime = timestamppb.New(*r.lastVerified)
	}
	a.CreateTime = timestamppb.New(r.created)
	a.UpdateTime = timestamppb.New(r.updated)
	a.Etag = etag.Of(r.id, r.version, r.updated)
	ss, ok := scanSessions(r.sessions)
	if !ok {
		var js []sessionJSON
		if err := json.Unmarshal(r.sessions, &js); err != nil {
			return nil, fmt.Errorf("decoding sessions of asset %s: %w", a.Id, err)
		}
		ss = make([]*sparcv1.Session, len(js))
		for i, s := range js {
			ss[i] = &sparcv1.Session{Day: sparcv1.Weekday(s.Day), StartTime: s.StartTime, EndTime: s.EndTime,
				Timezone: s.Timezone, ValidFrom: s.ValidFrom, ValidUntil: s.ValidUntil}
		}
	}
	a.Sessions = ss
	return a, nil
}

// scanSessions reads the sessions column directly when it has the shape
// writeArgs stores: an array of flat objects whose values are plain ASCII
// strings (no escapes) and small integers. encoding/json's reflection took a fifth of a
// search's CPU; this takes a fraction of that. ok is false for anything
// else (escapes, unknown keys, other layouts), which encoding/json reads.
func scanSessions(b []byte) (out []*sparcv1.Session, ok bool) {
	i := 0
	ws := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
			i++
		}
	}
	str := func() (string, bool) {
		if i >= len(b) || b[i] != '"' {
			return "", false
		}
		j := i + 1
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' || b[j] < 0x20 || b[j] >= 0x80 {
				return "", false
			}
			j++
		}
		if j >= len(b) {
			return "", false
		}
		s := string(b[i+1 : j])
		i = j + 1
		return s, true
	}
	ws()
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	i++
	ws()
	if i < len(b) && b[i] == ']' {
		i++
		ws()
		return nil, i == len(b)
	}
	for {
		ws()
		if i >= len(b) || b[i] != '{' {
			return nil, false
		}
		i++
		s := &sparcv1.Session{}
		for {
			ws()
			key, ok := str()
			if !ok {
				return nil, false
			}
			ws()
			if i >= len(b) || b[i] != ':' {
				return nil, false
			}
			i++
			ws()
			if key == "day" {
				n, j := 0, i
				for j < len(b) && b[j] >= '0' && b[j] <= '9' && j-i < 3 {
					n = n*10 + int(b[j]-'0')
					j++
				}
				if j == i || (b[i] == '0' && j > i+1) {
					return nil, false
				}
				i = j
				s.Day = sparcv1.Weekday(n)
			} else {
				v, ok := str()
				if !ok {
					return nil, false
				}
				switch key {
				case "start_time":
					s.StartTime = v
				case "end_time":
					s.EndTime = v
				case "timezone":
					s.Timezone = v
				case "valid_from":
					s.ValidFrom = v
				case "valid_until":
					s.ValidUntil = v
				default:
					return nil, false
				}
			}
			ws()
			if i < len(b) && b[i] == ',' {
				i++
				continue
			}
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			return nil, false
		}
		out = append(out, s)
		ws()
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == ']' {
			i++
			ws()
			return out, i == len(b)
		}
		return nil, false
	}
}

// writeArgs returns the column values of a for insert and update.
func writeArgs(a *sparcv1.Asset) ([]any, error) {
	ss := make([]sessionJSON, 0, len(a.GetSessions()))
	for _, s := range a.GetSessions() {
		ss = append(ss, sessionJSON{Day: int32(s.GetDay()), StartTime: s.GetStartTime(), EndTime: s.GetEndTime(),
			Timezone: s.GetTimezone(), ValidFrom: s.GetValidFrom(), ValidUntil: s.GetValidUntil()})
	}
	sessions, err := json.Marshal(ss)
	if err != nil {
		return nil, err
	}
	var serviceArea *string
	if a.GetServiceAreaGeojson() != "" {
		sa := a.GetServiceAreaGeojson()
		serviceArea = &sa
	}
	var lastVerified *time.Time
	if a.GetLastVerifiedTime() != nil {
		t := a.GetLastVerifiedTime().AsTime()
		lastVerified = &t
	}
	var minAge, maxAge *int32
	if ar := a.GetAgeRange(); ar != nil {
		minAge, maxAge = ar.MinAge, ar.MaxAge
	}
	var owner any // NULL when unowned
	if a.GetOwnerOrganisation() != "" {
		id, err := uuid.Parse(a.GetOwnerOrganisation())
		if err != nil {
			return nil, fmt.Errorf("owner organisation: %w", err)
		}
		owner = id
	}
	l, c := a.GetLocation(), a.GetContact()
	return []any{
		kindCode[a.GetKind()], a.GetName(), a.GetDescription(), nonNil(a.GetCategories()),
		l.GetLongitude(), l.GetLatitude(), l.GetAddress(), l.GetPostcode(), l.GetLocality(), l.GetCountry(),
		serviceArea, sessions, costCode[a.GetCost().GetKind()], a.GetCost().GetNote(),
		nonNil(a.GetAccessibility()), nonNil(a.GetLanguages()), minAge, maxAge,
		c.GetName(), c.GetEmail(), c.GetPhone(), c.GetWebsite(),
		a.Capacity, a.GetAcceptingReferrals(), statusCode[a.GetStatus()], owner, lastVerified,
	}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Parameters $1..$27 in writeArgs order; $28 is the id.
const insertSQL = `
INSERT INTO assets (kind, name, description, categories,
	location, address, postcode, locality, country,
	service_area, sessions, cost_kind, cost_note,
	accessibility, languages, min_age, max_age,
	contact_name, contact_email, contact_phone, contact_website,
	capacity, accepting_referrals, status, owner_organisation, last_verified_at, id)
VALUES ($1, $2, $3, $4,
	ST_SetSRID(ST_MakePoint($5, $6), 4326)::geography, $7, $8, $9, $10,
	ST_Multi(ST_GeomFromGeoJSON($11))::geography, $12, $13, $14,
	$15, $16, $17, $18,
	$19, $20, $21, $22,
	$23, $24, $25, $26, $27, $28)`

const updateSQL = `
UPDATE assets SET kind = $1, name = $2, description = $3, categories = $4,
	location = ST_SetSRID(ST_MakePoint($5, $6), 4326)::geography,
	address = $7, postcode = $8, locality = $9, country = $10,
	service_area = ST_Multi(ST_GeomFromGeoJSON($11))::geography, sessions = $12,
	cost_kind = $13, cost_note = $14, accessibility = $15, languages = $16,
	min_age = $17, max_age = $18, contact_name = $19, contact_email = $20,
	contact_phone = $21, contact_website = $22, capacity = $23,
	accepting_referrals = $24, status = $25, owner_organisation = $26,
	last_verified_at = $27,
	version = version + 1, updated_at = clock_timestamp()
WHERE id = $28`

// Create inserts a and returns it as stored.
func (s *Store) Create(ctx context.Context, id uuid.UUID, a *sparcv1.Asset) (*sparcv1.Asset, error) {
	args, err := writeArgs(a)
	if err != nil {
		return nil, err
	}
	args = append(args, id)
	var out *sparcv1.Asset
	err = db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertSQL, args...); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23505" {
				return fmt.Errorf("asset %s: %w", id, apierr.ErrAlreadyExists)
			}
			if errors.As(err, &pgErr) && pgErr.Code == "23503" {
				return apierr.Invalid("asset.owner_organisation", "organisation %s does not exist", a.GetOwnerOrganisation())
			}
			return fmt.Errorf("inserting asset: %w", err)
		}
		out, err = getTx(ctx, tx, id, false)
		return err
	})
	return out, err
}

// Get returns one asset.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (*sparcv1.Asset, error) {
	return getTx(ctx, s.pool, id, false)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func getTx(ctx context.Context, q querier, id uuid.UUID, forUpdate bool) (*sparcv1.Asset, error) {
	sql := `SELECT ` + selectColumns + ` FROM assets a WHERE a.id = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	var r row
	if err := q.QueryRow(ctx, sql, id).Scan(r.targets()...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("asset %s: %w", id, apierr.ErrNotFound)
		}
		return nil, fmt.Errorf("reading asset %s: %w", id, err)
	}
	return r.asset()
}

// Update locks the asset, lets allow veto the change by owner, checks
// wantEtag (when not empty), lets mutate change it, and writes the result,
// all in one transaction: concurrent updates serialise on the row lock and
// none is lost.
func (s *Store) Update(ctx context.Context, id uuid.UUID, wantEtag string, allow func(owner string) error, mutate func(*sparcv1.Asset) error) (*sparcv1.Asset, error) {
	var out *sparcv1.Asset
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		cur, err := getTx(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := allow(cur.GetOwnerOrganisation()); err != nil {
			return err
		}
		if wantEtag != "" && wantEtag != cur.GetEtag() {
			return fmt.Errorf("asset %s: %w", id, apierr.ErrStaleEtag)
		}
		if err := mutate(cur); err != nil {
			return err
		}
		args, err := writeArgs(cur)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, updateSQL, append(args, id)...); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23503" {
				return apierr.Invalid("asset.owner_organisation", "organisation %s does not exist", cur.GetOwnerOrganisation())
			}
			return fmt.Errorf("updating asset %s: %w", id, err)
		}
		out, err = getTx(ctx, tx, id, false)
		return err
	})
	return out, err
}

// Delete removes an asset, only if wantEtag matches when given and allow
// accepts its owner organisation.
func (s *Store) Delete(ctx context.Context, id uuid.UUID, wantEtag string, allow func(owner string) error) error {
	return db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		var version int64
		var updated time.Time
		var owner string
		err := tx.QueryRow(ctx, `SELECT version, updated_at, COALESCE(owner_organisation::text, '') FROM assets WHERE id = $1 FOR UPDATE`, id).Scan(&version, &updated, &owner)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("asset %s: %w", id, apierr.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("locking asset %s: %w", id, err)
		}
		if err := allow(owner); err != nil {
			return err
		}
		if wantEtag != "" && wantEtag != etag.Of(id, version, updated) {
			return fmt.Errorf("asset %s: %w", id, apierr.ErrStaleEtag)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM assets WHERE id = $1`, id); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23503" {
				return &apierr.PreconditionError{Type: "ASSET_HAS_REFERRALS", Subject: "assets/" + id.String(),
					Description: fmt.Sprintf("asset %s has referrals and cannot be deleted; set its status to closed instead", id)}
			}
			return fmt.Errorf("deleting asset %s: %w", id, err)
		}
		return nil
	})
}

// BulkInsert loads many new assets with COPY in one transaction: all or
// none. Assets must already be validated; ids are assigned when empty.
func (s *Store) BulkInsert(ctx context.Context, assets []*sparcv1.Asset) (int64, error) {
	cols := []string{"id", "kind", "name", "description", "categories", "location", "address", "postcode",
		"locality", "country", "sessions", "cost_kind", "cost_note", "accessibility", "languages",
		"min_age", "max_age", "contact_name", "contact_email", "contact_phone", "contact_website",
		"capacity", "accepting_referrals", "status", "owner_organisation", "last_verified_at"}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i >= len(assets) {
			return nil, nil
		}
		a := assets[i]
		i++
		if a.GetServiceAreaGeojson() != "" {
			return nil, errors.New("bulk insert does not take service areas")
		}
		id := uuid.New()
		if a.GetId() != "" {
			var err error
			if id, err = uuid.Parse(a.GetId()); err != nil {
				return nil, err
			}
		}
		w, err := writeArgs(a)
		if err != nil {
			return nil, err
		}
		loc := pointEWKB(a.GetLocation().GetLongitude(), a.GetLocation().GetLatitude())
		return []any{id, w[0], w[1], w[2], w[3], loc, w[6], w[7], w[8], w[9], w[11], w[12], w[13], w[14], w[15],
			w[16], w[17], w[18], w[19], w[20], w[21], w[22], w[23], w[24], w[25], w[26]}, nil
	})
	var n int64
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		i = 0
		// COPY cannot write a table under row-level security, so an
		// application-role caller copies into a private staging table and
		// moves the rows with INSERT ... SELECT, which the policies check.
		var rls bool
		if err := tx.QueryRow(ctx, `SELECT row_security_active('assets')`).Scan(&rls); err != nil {
			return err
		}
		if !rls {
			var err error
			n, err = tx.CopyFrom(ctx, pgx.Identifier{"assets"}, cols, src)
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE assets_load (LIKE assets INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"assets_load"}, cols, src); err != nil {
			return err
		}
		quoted := make([]string, len(cols))
		for i, c := range cols {
			quoted[i] = pgx.Identifier{c}.Sanitize()
		}
		list := strings.Join(quoted, ", ")
		tag, err := tx.Exec(ctx, `INSERT INTO assets (`+list+`) SELECT `+list+` FROM assets_load`)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("bulk inserting assets: %w", err)
	}
	return n, nil
}

// pointEWKB encodes a WGS84 point as little-endian EWKB, the binary form
// PostGIS accepts for a geography column in binary COPY.
func pointEWKB(lng, lat float64) []byte {
	b := make([]byte, 25)
	b[0] = 1                                         // little endian
	binary.LittleEndian.PutUint32(b[1:], 0x20000001) // Point with SRID flag
	binary.LittleEndian.PutUint32(b[5:], 4326)
	binary.LittleEndian.PutUint64(b[9:], math.Float64bits(lng))
	binary.LittleEndian.PutUint64(b[17:], math.Float64bits(lat))
	return b
}
