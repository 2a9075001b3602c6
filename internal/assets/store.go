package assets

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/etag"
)

// Store is the SQL side of the asset directory. It takes and returns
// assets in the API's form: name "assets/{uuid}" and owner_organisation
// "organisations/{uuid}"; the table keeps the UUIDs.
type Store struct {
	pool *pgxpool.Pool
	// read serves the reads that may lag pool by a replica's replay delay
	// (search, listings, Open Referral, coverage, tiles); pool unless
	// ReadingFrom. Get and every write, and reads inside them, use pool.
	read *pgxpool.Pool
	// knn is read's pool for point searches (see PointSearchPool).
	knn *pointPool
	// index answers the point searches it can (index.go); nil: none.
	index *Index
}

// NewStore returns a store over pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool, read: pool, knn: &pointPool{}} }

// ReadingFrom returns a copy of s whose search, listing and coverage reads
// go to read (a read replica's pool, db.OpenRead); nil keeps the primary.
func (s *Store) ReadingFrom(read *pgxpool.Pool) *Store {
	c := *s
	if read != nil {
		c.read = read
		c.knn = &pointPool{} // the point searches' pool follows read
	}
	return &c
}

// selectColumns is the column list scanAsset reads, in order. Geometry is
// returned as numbers and GeoJSON so Go never parses WKB.
const selectColumns = `a.id, a.kind, a.name, a.description, a.categories,
	COALESCE(ST_Y(a.location::geometry), 0), COALESCE(ST_X(a.location::geometry), 0), a.address, a.postcode, a.locality, a.country,
	COALESCE(ST_AsGeoJSON(a.service_area, 7), ''), ` + sessionsColumn + `, a.cost_kind, a.cost_note,
	a.accessibility, a.languages, a.min_age, a.max_age,
	a.contact_name, a.contact_email, a.contact_phone, a.contact_website,
	a.capacity, a.accepting_referrals, a.status, COALESCE(a.owner_organisation::text, ''),
	a.last_verified_at, a.created_at, a.updated_at, a.version, a.availability, ` + placesLeftColumn + `,
	a.delivery, a.area_codes, a.area_country`

// placesLeftColumn is Asset.places_left: the capacity less the places
// referrals hold (asset_places, written by package referrals), NULL when
// the asset does not count places. One primary-key lookup per row read,
// only for assets with a capacity; searches compute it for the page's
// rows only (see SearchSQL).
const placesLeftColumn = `CASE WHEN a.capacity IS NOT NULL THEN greatest(a.capacity -
	COALESCE((SELECT pl.taken FROM asset_places pl WHERE pl.asset_id = a.id), 0), 0) END`

// sessionsColumn reads the sessions column as one text array of
// sessionFields values per session. jsonb is stored parsed, so
// PostgreSQL takes the fields out without reading JSON text, and pgx
// decodes the array from the binary protocol: Go parses no JSON on the
// read path. Measured per row (two sessions): encoding/json took 9-11 µs
// in Go, this 3-4 µs in Go (as the hand-written parser it replaced) plus
// 1.5 µs in PostgreSQL; for a page of twenty that is about 2.5% of a
// search's CPU against 9% for encoding/json.
const sessionsColumn = `ARRAY(SELECT ARRAY[coalesce(s->>'day', ''), coalesce(s->>'start_time', ''),
	coalesce(s->>'end_time', ''), coalesce(s->>'timezone', ''), coalesce(s->>'valid_from', ''),
	coalesce(s->>'valid_until', '')] FROM jsonb_array_elements(a.sessions) s)`

// sessionFields is the number of values sessionsColumn gives per session.
const sessionFields = 6

// sessionJSON is the stored shape of a session (see the sessions column).
type sessionJSON struct {
	Day        int32  `json:"day"`
	StartTime  string `json:"start_time"`
	EndTime    string `json:"end_time"`
	Timezone   string `json:"timezone"`
	ValidFrom  string `json:"valid_from,omitempty"`
	ValidUntil string `json:"valid_until,omitempty"`
}

// basicColumns is the column list of the BASIC view (sparcv1.AssetView),
// in the order basicRow reads it: what a list of results shows, and the
// availability and sessions next_session_time is computed from. It leaves
// out the wide columns (description, the service area's GeoJSON, contacts,
// address) and those only an asset's page shows. Measured at 100k assets
// (PostgreSQL CPU per point search of 21 rows, under load): id and
// distance alone about 0.22 ms, these columns 0.37 ms, selectColumns
// 0.42 ms; reading the sessions or not was within the noise, so BASIC
// reads them as FULL does rather than asking PostgreSQL for the next start.
const basicColumns = `a.id, a.kind, a.name, a.categories,
	COALESCE(ST_Y(a.location::geometry), 0), COALESCE(ST_X(a.location::geometry), 0), a.locality, a.country,
	` + sessionsColumn + `, a.cost_kind, a.accessibility, a.accepting_referrals, a.status, a.availability,
	` + placesLeftColumn + `, a.delivery, a.area_codes, a.area_country`

// viewColumns returns the column list of a view: basicColumns or
// selectColumns.
func viewColumns(basic bool) string {
	if basic {
		return basicColumns
	}
	return selectColumns
}

// viewRow reads one asset in a view: its scan targets followed by extra
// (a search's distance and rank), and the asset with next_session_time
// from now.
type viewRow interface {
	targets(extra ...any) []any
	view(now time.Time) (*sparcv1.Asset, error)
}

// newViewRow returns the row of the view: basicRow or row.
func newViewRow(basic bool) viewRow {
	if basic {
		return &basicRow{}
	}
	return &row{}
}

// basicRow holds scan targets for one asset in the BASIC view
// (basicColumns).
type basicRow struct {
	id                 uuid.UUID
	kind, status, cost string
	lat, lng           float64
	sessions           pgtype.FlatArray[string] // see sessionsColumn
	availability       *string
	placesLeft         *int32
	delivery           *string
	areaCountry        string
	areaCodes          []string
	a                  sparcv1.Asset
	loc                sparcv1.Location
	costMsg            sparcv1.Cost
}

func (r *basicRow) targets(extra ...any) []any {
	t := make([]any, 0, 18+len(extra))
	t = append(t, &r.id, &r.kind, &r.a.DisplayName, &r.a.Categories,
		&r.lat, &r.lng, &r.loc.Locality, &r.loc.Country,
		&r.sessions, &r.cost, &r.a.Accessibility, &r.a.AcceptingReferrals, &r.status, &r.availability,
		&r.placesLeft, &r.delivery, &r.areaCodes, &r.areaCountry)
	return append(t, extra...)
}

// view returns the BASIC asset: the fields the AssetView comment lists,
// set as the full asset sets them, and nothing else.
func (r *basicRow) view(now time.Time) (*sparcv1.Asset, error) {
	a := &r.a
	a.Name = aip.Name(aip.Assets, r.id)
	a.Kind = kindFromCode[r.kind]
	a.Status = statusFromCode[r.status]
	r.loc.Latitude, r.loc.Longitude = r.lat, r.lng
	a.Location = &r.loc
	r.costMsg.Kind = costFromCode[r.cost]
	a.Cost = &r.costMsg
	a.PlacesLeft = r.placesLeft
	if r.delivery != nil {
		a.DeliveryMode = deliveryFromCode[*r.delivery]
	}
	if len(r.areaCodes) > 0 || r.areaCountry != "" {
		a.ServiceArea = &sparcv1.ServiceArea{AreaCodes: r.areaCodes, Country: r.areaCountry}
	}
	next, err := nextSessionTime(r.availability, r.sessions, now)
	if err != nil {
		return nil, fmt.Errorf("sessions of %s: %w", a.Name, err)
	}
	a.NextSessionTime = next
	return a, nil
}

// view returns the full asset with next_session_time from now.
func (r *row) view(now time.Time) (*sparcv1.Asset, error) {
	a, err := r.asset()
	if err != nil {
		return nil, err
	}
	a.NextSessionTime, err = nextSessionTime(r.availability, r.sessions, now)
	return a, err
}

// nextSessionTime is Asset.next_session_time from the values of
// sessionsColumn and the availability column (see nextSessionStart).
func nextSessionTime(availability *string, f []string, now time.Time) (*timestamppb.Timestamp, error) {
	if len(f)%sessionFields != 0 {
		return nil, fmt.Errorf("%d session values, not a multiple of %d", len(f), sessionFields)
	}
	if len(f) == 0 {
		return nil, nil
	}
	ss := make([]session, len(f)/sessionFields)
	for i := range ss {
		v := f[i*sessionFields : (i+1)*sessionFields]
		day, err := strconv.Atoi(v[0])
		if err != nil {
			return nil, fmt.Errorf("session %d: day %q: %w", i, v[0], err)
		}
		ss[i] = session{day: day, start: v[1], zone: v[3], from: v[4], until: v[5]}
	}
	var avail string
	if availability != nil {
		avail = *availability
	}
	if t, ok := nextSessionStart(avail, ss, now); ok {
		return timestamppb.New(t), nil
	}
	return nil, nil
}

// row holds scan targets for one asset.
type row struct {
	id                       uuid.UUID
	kind, status, cost       string
	lat, lng                 float64
	sessions                 pgtype.FlatArray[string] // see sessionsColumn
	minAge, maxAge, capacity *int32
	placesLeft               *int32
	lastVerified             *time.Time
	created, updated         time.Time
	version                  int64
	availability             *string // NULL: not said
	delivery                 *string // NULL: not said (in person)
	areaCountry              string
	areaCodes                []string
	a                        sparcv1.Asset
	loc                      sparcv1.Location
	costMsg                  sparcv1.Cost
	contact                  sparcv1.Contact
}

// targets returns the scan targets of the asset columns followed by extra
// (a search's distance and rank), in one allocation.
func (r *row) targets(extra ...any) []any {
	t := make([]any, 0, 36+len(extra))
	t = append(t, &r.id, &r.kind, &r.a.DisplayName, &r.a.Description, &r.a.Categories,
		&r.lat, &r.lng, &r.loc.Address, &r.loc.Postcode, &r.loc.Locality, &r.loc.Country,
		&r.a.ServiceAreaGeojson, &r.sessions, &r.cost, &r.costMsg.Note,
		&r.a.Accessibility, &r.a.Languages, &r.minAge, &r.maxAge,
		&r.contact.Name, &r.contact.Email, &r.contact.Phone, &r.contact.Website,
		&r.capacity, &r.a.AcceptingReferrals, &r.status, &r.a.OwnerOrganisation,
		&r.lastVerified, &r.created, &r.updated, &r.version, &r.availability, &r.placesLeft,
		&r.delivery, &r.areaCodes, &r.areaCountry)
	return append(t, extra...)
}

func (r *row) asset() (*sparcv1.Asset, error) {
	a := &r.a
	// The table keeps UUIDs; the API names resources (AIP-122).
	a.Name = aip.Name(aip.Assets, r.id)
	a.OwnerOrganisation = aip.NameOf(aip.Organisations, a.OwnerOrganisation)
	a.Kind = kindFromCode[r.kind]
	a.Status = statusFromCode[r.status]
	if r.availability != nil {
		a.Availability = availabilityFromCode[*r.availability]
	}
	r.loc.Latitude, r.loc.Longitude = r.lat, r.lng
	if r.delivery != nil {
		a.DeliveryMode = deliveryFromCode[*r.delivery]
	}
	if len(r.areaCodes) > 0 || r.areaCountry != "" {
		a.ServiceArea = &sparcv1.ServiceArea{AreaCodes: r.areaCodes, Country: r.areaCountry}
	}
	a.Location = &r.loc
	r.costMsg.Kind = costFromCode[r.cost]
	a.Cost = &r.costMsg
	a.Contact = &r.contact
	if r.minAge != nil || r.maxAge != nil {
		a.AgeRange = &sparcv1.AgeRange{MinAge: r.minAge, MaxAge: r.maxAge}
	}
	a.Capacity = r.capacity
	a.PlacesLeft = r.placesLeft
	if r.lastVerified != nil {
		a.LastVerifiedTime = timestamppb.New(*r.lastVerified)
	}
	a.CreateTime = timestamppb.New(r.created)
	a.UpdateTime = timestamppb.New(r.updated)
	a.Etag = etag.Of(r.id, r.version, r.updated)
	ss, err := decodeSessions(r.sessions)
	if err != nil {
		return nil, fmt.Errorf("decoding sessions of %s: %w", a.Name, err)
	}
	a.Sessions = ss
	return a, nil
}

// decodeSessions reads the values of sessionsColumn.
func decodeSessions(f []string) ([]*sparcv1.Session, error) {
	if len(f)%sessionFields != 0 {
		return nil, fmt.Errorf("%d session values, not a multiple of %d", len(f), sessionFields)
	}
	if len(f) == 0 {
		return nil, nil
	}
	ss := make([]*sparcv1.Session, len(f)/sessionFields)
	for i := range ss {
		v := f[i*sessionFields : (i+1)*sessionFields]
		day, err := strconv.Atoi(v[0])
		if err != nil {
			return nil, fmt.Errorf("session %d: day %q: %w", i, v[0], err)
		}
		ss[i] = &sparcv1.Session{Day: sparcv1.Weekday(day), StartTime: v[1], EndTime: v[2],
			Timezone: v[3], ValidFrom: v[4], ValidUntil: v[5]}
	}
	return ss, nil
}

// record is an asset as its row stores it: one field per writable column
// of assets, named after the column. Statements take their parameters
// from it (params) and COPY its columns by name (values).
type record struct {
	ID                                                      uuid.UUID
	Kind, Name, Description                                 string
	Categories                                              []string
	Lng, Lat                                                float64 // location
	Address, Postcode, Locality, Country                    string
	ServiceArea                                             *string // GeoJSON; NULL when none
	Sessions                                                []byte  // jsonb, see sessionJSON
	CostKind, CostNote                                      string
	Accessibility, Languages                                []string
	MinAge, MaxAge                                          *int32
	ContactName, ContactEmail, ContactPhone, ContactWebsite string
	Capacity                                                *int32
	AcceptingReferrals                                      bool
	Status                                                  string
	Owner                                                   *uuid.UUID // owner_organisation; NULL when unowned
	LastVerified                                            *time.Time
	Source, SourceID                                        string  // provenance of imported assets
	Availability                                            *string // NULL when not said
	Delivery                                                *string // NULL when not said (in person); remote: no location
	AreaCodes                                               []string
	AreaCountry                                             string
}

// recordOf returns the stored form of a under id. a is in the API's form
// (owner_organisation is an organisation's name).
func recordOf(id uuid.UUID, a *sparcv1.Asset) (*record, error) {
	ss := make([]sessionJSON, 0, len(a.GetSessions()))
	for _, s := range a.GetSessions() {
		ss = append(ss, sessionJSON{Day: int32(s.GetDay()), StartTime: s.GetStartTime(), EndTime: s.GetEndTime(),
			Timezone: s.GetTimezone(), ValidFrom: s.GetValidFrom(), ValidUntil: s.GetValidUntil()})
	}
	sessions, err := json.Marshal(ss)
	if err != nil {
		return nil, err
	}
	l, c := a.GetLocation(), a.GetContact()
	r := &record{
		ID: id, Kind: kindCode[a.GetKind()], Name: a.GetDisplayName(), Description: a.GetDescription(),
		Categories: nonNil(a.GetCategories()), Lng: l.GetLongitude(), Lat: l.GetLatitude(),
		Address: l.GetAddress(), Postcode: l.GetPostcode(), Locality: l.GetLocality(), Country: l.GetCountry(),
		Sessions: sessions, CostKind: costCode[a.GetCost().GetKind()], CostNote: a.GetCost().GetNote(),
		Accessibility: nonNil(a.GetAccessibility()), Languages: nonNil(a.GetLanguages()),
		ContactName: c.GetName(), ContactEmail: c.GetEmail(), ContactPhone: c.GetPhone(), ContactWebsite: c.GetWebsite(),
		Capacity: a.Capacity, AcceptingReferrals: a.GetAcceptingReferrals(), Status: statusCode[a.GetStatus()],
		AreaCodes: nonNil(a.GetServiceArea().GetAreaCodes()), AreaCountry: a.GetServiceArea().GetCountry(),
	}
	if c := deliveryCode[a.GetDeliveryMode()]; c != "" {
		r.Delivery = &c
	}
	if c := availabilityCode[a.GetAvailability()]; c != "" {
		r.Availability = &c
	}
	if sa := a.GetServiceAreaGeojson(); sa != "" {
		r.ServiceArea = &sa
	}
	if ar := a.GetAgeRange(); ar != nil {
		r.MinAge, r.MaxAge = ar.MinAge, ar.MaxAge
	}
	if a.GetOwnerOrganisation() != "" {
		var v apierr.InvalidArgument
		owner := aip.ParseName(&v, "owner_organisation", aip.Organisations, a.GetOwnerOrganisation())
		if err := v.Err(); err != nil {
			return nil, err
		}
		r.Owner = &owner
	}
	if a.GetLastVerifiedTime() != nil {
		t := a.GetLastVerifiedTime().AsTime()
		r.LastVerified = &t
	}
	return r, nil
}

// params returns the parameters of insertSQL and updateSQL ($1..$32).
func (r *record) params() []any {
	return []any{
		r.Kind, r.Name, r.Description, r.Categories,
		r.Lng, r.Lat, r.Address, r.Postcode, r.Locality, r.Country,
		r.ServiceArea, r.Sessions, r.CostKind, r.CostNote,
		r.Accessibility, r.Languages, r.MinAge, r.MaxAge,
		r.ContactName, r.ContactEmail, r.ContactPhone, r.ContactWebsite,
		r.Capacity, r.AcceptingReferrals, r.Status, r.Owner, r.LastVerified, r.ID,
		r.Availability, r.Delivery, r.AreaCodes, r.AreaCountry,
	}
}

// locationSQL and reachSQL are the location and reach (migration 0057) of
// a record's parameters: a point for an in-person asset; for a remote one
// no point, and the area it covers resolved now, so that a search asks
// one indexed question of reach: the whole country's box ($32; GB and NL
// boxes do not overlap, so a point in either finds that country's
// services), the union of the named areas' boundaries ($31), or the drawn
// area ($11).
const (
	locationSQL = `CASE WHEN coalesce($30, 'in_person') = 'in_person' THEN ST_SetSRID(ST_MakePoint($5, $6), 4326)::geography END`
	reachSQL    = `CASE WHEN coalesce($30, 'in_person') = 'in_person' THEN NULL
		WHEN $32 = 'GB' THEN ST_Multi(ST_MakeEnvelope(-8.75, 49.8, 1.85, 60.95, 4326))
		WHEN $32 = 'NL' THEN ST_Multi(ST_MakeEnvelope(3.2, 50.7, 7.3, 53.7, 4326))
		WHEN cardinality($31::text[]) > 0 THEN (SELECT ST_Multi(ST_Union(ar.geom)) FROM areas ar WHERE ar.code = ANY($31::text[]))
		ELSE ST_Multi(ST_GeomFromGeoJSON($11)) END`
)

// copyColumns are the columns COPY writes for a new asset (COPY takes no
// service area: it would need the GeoJSON parsed in Go).
var copyColumns = []string{"id", "kind", "name", "description", "categories", "location", "address", "postcode",
	"locality", "country", "sessions", "cost_kind", "cost_note", "accessibility", "languages",
	"min_age", "max_age", "contact_name", "contact_email", "contact_phone", "contact_website",
	"capacity", "accepting_referrals", "status", "owner_organisation", "last_verified_at", "availability"}

// columnValue gives a record's value of each column COPY can write, in the
// form binary COPY takes (the location as EWKB).
var columnValue = map[string]func(r *record) any{
	"id":                  func(r *record) any { return r.ID },
	"kind":                func(r *record) any { return r.Kind },
	"name":                func(r *record) any { return r.Name },
	"description":         func(r *record) any { return r.Description },
	"categories":          func(r *record) any { return r.Categories },
	"location":            func(r *record) any { return pointEWKB(r.Lng, r.Lat) },
	"address":             func(r *record) any { return r.Address },
	"postcode":            func(r *record) any { return r.Postcode },
	"locality":            func(r *record) any { return r.Locality },
	"country":             func(r *record) any { return r.Country },
	"sessions":            func(r *record) any { return r.Sessions },
	"cost_kind":           func(r *record) any { return r.CostKind },
	"cost_note":           func(r *record) any { return r.CostNote },
	"accessibility":       func(r *record) any { return r.Accessibility },
	"languages":           func(r *record) any { return r.Languages },
	"min_age":             func(r *record) any { return r.MinAge },
	"max_age":             func(r *record) any { return r.MaxAge },
	"contact_name":        func(r *record) any { return r.ContactName },
	"contact_email":       func(r *record) any { return r.ContactEmail },
	"contact_phone":       func(r *record) any { return r.ContactPhone },
	"contact_website":     func(r *record) any { return r.ContactWebsite },
	"capacity":            func(r *record) any { return r.Capacity },
	"accepting_referrals": func(r *record) any { return r.AcceptingReferrals },
	"status":              func(r *record) any { return r.Status },
	"owner_organisation":  func(r *record) any { return r.Owner },
	"last_verified_at":    func(r *record) any { return r.LastVerified },
	"source":              func(r *record) any { return r.Source },
	"source_id":           func(r *record) any { return r.SourceID },
	"availability":        func(r *record) any { return r.Availability },
}

// values returns the record's values of cols, for COPY.
func (r *record) values(cols []string) []any {
	out := make([]any, len(cols))
	for i, c := range cols {
		out[i] = columnValue[c](r)
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Parameters: record.params.
const insertSQL = `
INSERT INTO assets (kind, name, description, categories,
	location, address, postcode, locality, country,
	service_area, sessions, cost_kind, cost_note,
	accessibility, languages, min_age, max_age,
	contact_name, contact_email, contact_phone, contact_website,
	capacity, accepting_referrals, status, owner_organisation, last_verified_at, id,
	availability, delivery, area_codes, area_country, reach)
VALUES ($1, $2, $3, $4,
	` + locationSQL + `, $7, $8, $9, $10,
	ST_Multi(ST_GeomFromGeoJSON($11))::geography, $12, $13, $14,
	$15, $16, $17, $18,
	$19, $20, $21, $22,
	$23, $24, $25, $26, $27, $28,
	$29, $30, $31, $32, ` + reachSQL + `)`

const updateSQL = `
UPDATE assets SET kind = $1, name = $2, description = $3, categories = $4,
	location = ` + locationSQL + `,
	address = $7, postcode = $8, locality = $9, country = $10,
	service_area = ST_Multi(ST_GeomFromGeoJSON($11))::geography, sessions = $12,
	cost_kind = $13, cost_note = $14, accessibility = $15, languages = $16,
	min_age = $17, max_age = $18, contact_name = $19, contact_email = $20,
	contact_phone = $21, contact_website = $22, capacity = $23,
	accepting_referrals = $24, status = $25, owner_organisation = $26,
	last_verified_at = $27, availability = $29,
	delivery = $30, area_codes = $31, area_country = $32, reach = ` + reachSQL + `,
	version = version + 1, updated_at = clock_timestamp()
WHERE id = $28`

// unknownAreasSQL returns the codes of $1, with their positions (from 0),
// that name no area of country $2: a remote service's area codes must
// resolve to boundaries when it is written.
const unknownAreasSQL = `SELECT u.i - 1, u.c FROM unnest($1::text[]) WITH ORDINALITY u(c, i)
	WHERE NOT EXISTS (SELECT 1 FROM areas ar WHERE ar.code = u.c AND ar.country = $2) ORDER BY u.i`

type rowsQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// checkAreaCodes reports each of a's service area codes that is not an
// area of its country as a field violation under prefix ("asset").
func checkAreaCodes(ctx context.Context, q rowsQuerier, a *sparcv1.Asset, prefix string) error {
	codes := a.GetServiceArea().GetAreaCodes()
	if len(codes) == 0 {
		return nil
	}
	rows, err := q.Query(ctx, unknownAreasSQL, codes, a.GetLocation().GetCountry())
	if err != nil {
		return fmt.Errorf("checking area codes: %w", err)
	}
	var v apierr.InvalidArgument
	var i int
	var code string
	if _, err := pgx.ForEachRow(rows, []any{&i, &code}, func() error {
		v.Add(prefix+".service_area.area_codes["+itoa(i)+"]", "%q is not the code of an area of %s (see GET /v1/areas)",
			apierr.Clip(code, 40), a.GetLocation().GetCountry())
		return nil
	}); err != nil {
		return fmt.Errorf("checking area codes: %w", err)
	}
	return v.Err()
}

// Create inserts a and returns it as stored.
func (s *Store) Create(ctx context.Context, id uuid.UUID, a *sparcv1.Asset) (*sparcv1.Asset, error) {
	rec, err := recordOf(id, a)
	if err != nil {
		return nil, err
	}
	var out *sparcv1.Asset
	err = db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		if err := checkAreaCodes(ctx, tx, a, "asset"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, insertSQL, rec.params()...); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23505" {
				return fmt.Errorf("%s: %w", aip.Name(aip.Assets, id), apierr.ErrAlreadyExists)
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

// Statements of one asset by id ($1).
const (
	getSQL       = `SELECT ` + selectColumns + ` FROM assets a WHERE a.id = $1`
	getLockedSQL = getSQL + ` FOR UPDATE`
	// lockSQL locks the row and reads what a delete checks.
	lockSQL   = `SELECT version, updated_at, COALESCE(owner_organisation::text, '') FROM assets WHERE id = $1 FOR UPDATE`
	deleteSQL = `DELETE FROM assets WHERE id = $1`
)

func getTx(ctx context.Context, q querier, id uuid.UUID, forUpdate bool) (*sparcv1.Asset, error) {
	sql := getSQL
	if forUpdate {
		sql = getLockedSQL
	}
	var r row
	if err := q.QueryRow(ctx, sql, id).Scan(r.targets()...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, notFound(id)
		}
		return nil, fmt.Errorf("reading asset %s: %w", id, err)
	}
	// The asset's page, and the answer to a create or update, say when
	// it next meets, as a search result does.
	return r.view(time.Now())
}

// Update locks the asset, lets allow veto the change by owner (the
// organisation's id, "" when unowned), checks
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
		if err := allow(OwnerID(cur)); err != nil {
			return err
		}
		if wantEtag != "" && wantEtag != cur.GetEtag() {
			return fmt.Errorf("%s: %w", aip.Name(aip.Assets, id), apierr.ErrStaleEtag)
		}
		if err := mutate(cur); err != nil {
			return err
		}
		rec, err := recordOf(id, cur)
		if err != nil {
			return err
		}
		if err := checkAreaCodes(ctx, tx, cur, "asset"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, updateSQL, rec.params()...); err != nil {
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
		err := tx.QueryRow(ctx, lockSQL, id).Scan(&version, &updated, &owner)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(id)
		}
		if err != nil {
			return fmt.Errorf("locking asset %s: %w", id, err)
		}
		if err := allow(owner); err != nil {
			return err
		}
		if wantEtag != "" && wantEtag != etag.Of(id, version, updated) {
			return fmt.Errorf("%s: %w", aip.Name(aip.Assets, id), apierr.ErrStaleEtag)
		}
		if _, err := tx.Exec(ctx, deleteSQL, id); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23503" {
				return &apierr.PreconditionError{Type: "ASSET_HAS_REFERRALS", Subject: aip.Name(aip.Assets, id),
					Description: fmt.Sprintf("%s has referrals and cannot be deleted; set its status to closed instead", aip.Name(aip.Assets, id))}
			}
			return fmt.Errorf("deleting asset %s: %w", id, err)
		}
		return nil
	})
}

// Statements of BulkInsert. COPY cannot write a table under row-level
// security, so an application-role caller copies into a private staging
// table and moves the rows with INSERT ... SELECT, which the policies
// check.
const rlsActiveSQL = `SELECT row_security_active('assets')`
const loadTableSQL = `CREATE TEMP TABLE assets_load (LIKE assets INCLUDING DEFAULTS) ON COMMIT DROP`

var loadInsertSQL = func() string {
	quoted := make([]string, len(copyColumns))
	for i, c := range copyColumns {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	list := strings.Join(quoted, ", ")
	return `INSERT INTO assets (` + list + `) SELECT ` + list + ` FROM assets_load`
}()

// BulkInsert loads many new assets with COPY in one transaction: all or
// none. Assets must already be validated; an asset without a name gets a
// new id.
func (s *Store) BulkInsert(ctx context.Context, assets []*sparcv1.Asset) (int64, error) {
	cols := copyColumns
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i >= len(assets) {
			return nil, nil
		}
		a := assets[i]
		i++
		if a.GetServiceAreaGeojson() != "" || IsRemote(a) {
			return nil, errors.New("bulk insert does not take service areas or remote services")
		}
		id := uuid.New()
		if a.GetName() != "" {
			var v apierr.InvalidArgument
			if id = aip.ParseName(&v, "name", aip.Assets, a.GetName()); v.Err() != nil {
				return nil, v.Err()
			}
		}
		rec, err := recordOf(id, a)
		if err != nil {
			return nil, err
		}
		return rec.values(cols), nil
	})
	var n int64
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		i = 0
		var rls bool
		if err := tx.QueryRow(ctx, rlsActiveSQL).Scan(&rls); err != nil {
			return err
		}
		if !rls {
			var err error
			n, err = tx.CopyFrom(ctx, pgx.Identifier{"assets"}, cols, src)
			return err
		}
		if _, err := tx.Exec(ctx, loadTableSQL); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"assets_load"}, cols, src); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, loadInsertSQL)
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
