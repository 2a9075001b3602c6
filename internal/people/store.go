package people

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/etag"
)

// The people table is read and written here only (CreateReferral's one
// statement also reads a person's provider view, under FOR SHARE, to copy
// it onto the referral in the same round trip). The NHS number is stored
// twice, neither time in clear: sealed (nhs_number_sealed, read back by
// GetPerson) and as its blind index (nhs_number_index, searched and unique
// per organisation, never read back).

const personColumns = `id, organisation_id, display_name, age_band, year_of_birth, postcode, contact_method,
	contact_sealed, nhs_number_sealed, what_matters, needs, consent_share, consent_scopes, consent_time,
	objection_time, created_at, updated_at, version`

// Parameters of insertPersonSQL and updatePersonSQL $1–$14 are args's.
const (
	// $19 (insert) and $17-$18 (update) are the home area (home.go):
	// the update sets it ($18, NULL when it cannot be derived now) only
	// when the postcode was changed ($17).
	// A person whose NHS number another person of the organisation has
	// (the blind index, $18) is not inserted: no row comes back, and
	// CreatePerson names the other (existingNHSSQL). The unique index
	// decides between concurrent creates.
	insertPersonSQL = `INSERT INTO people (display_name, age_band, year_of_birth, postcode,
			postcode_outward, contact_method, contact_sealed, nhs_number_sealed, what_matters, needs,
			consent_share, consent_scopes, consent_time, objection_time, id, organisation_id, provider_view,
			nhs_number_index, home_area)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
			ON CONFLICT (organisation_id, nhs_number_index) DO NOTHING
			RETURNING ` + personColumns

	getPersonSQL    = `SELECT ` + personColumns + ` FROM people WHERE id = $1 AND purged_at IS NULL`
	lockPersonSQL   = getPersonSQL + ` FOR UPDATE`
	updatePersonSQL = `UPDATE people SET display_name = $1, age_band = $2, year_of_birth = $3,
			postcode = $4, postcode_outward = $5, contact_method = $6, contact_sealed = $7, nhs_number_sealed = $8,
			what_matters = $9, needs = $10, consent_share = $11, consent_scopes = $12, consent_time = $13,
			objection_time = $14, nhs_number_index = $16, version = version + 1, updated_at = clock_timestamp(),
			home_area = CASE WHEN $17 THEN $18 ELSE home_area END
			WHERE id = $15 RETURNING ` + personColumns
	setProviderViewSQL = `UPDATE people SET provider_view = $2 WHERE id = $1`
	// People created before provider views were kept get theirs when
	// first referred.
	fillProviderViewSQL = `UPDATE people SET provider_view = $2 WHERE id = $1 AND provider_view IS NULL`

	// The person of organisation $1, other than $3, with blind index $2.
	existingNHSSQL = `SELECT id FROM people WHERE organisation_id = $1 AND nhs_number_index = $2 AND id <> $3
			ORDER BY created_at LIMIT 1`
)

// Lists and searches: summaries (summaryColumns) of organisation $1's
// people in display-name order, after person $2 (uuid.Nil on the first
// page: its position is then before every name), at most $3, and the
// search key from $4. The organisation is named in every query although
// row-level security already binds it: each wall holds on its own
// (TestPeopleStayInTheirOrganisation, TestRowLevelSecurityAloneKeepsPeopleApart).
// The keyset position is the row's, read here, so page tokens carry an id
// and never a name.
const (
	summaryColumns = `id, organisation_id, display_name, age_band, year_of_birth, postcode, contact_method,
	needs, consent_share, consent_scopes, consent_time, objection_time, created_at, updated_at, version`
	peopleOfSQL = `SELECT ` + summaryColumns + ` FROM people WHERE organisation_id = $1 AND purged_at IS NULL`
	// The row comparison and the order are people_by_name's columns, so a
	// page is one index range whatever its depth. Row-level security holds
	// back from the index every condition PostgreSQL cannot prove
	// leakproof (0051): so each compares a stored column with a leakproof
	// operator to parameters, and the page's position (coalesce, greatest:
	// not provably leakproof) is computed in a sub-select.
	peoplePageSQL = ` AND (name_key, id) > ((SELECT coalesce(max(name_key), '' COLLATE "C") FROM people WHERE id = $2), $2)
			ORDER BY name_key, id LIMIT $3`

	listPeopleSQL = peopleOfSQL + peoplePageSQL
	// $4: the blind index of the NHS number.
	searchPeopleByNHSSQL = peopleOfSQL + ` AND nhs_number_index = $4` + peoplePageSQL
	// $4 <= lower-cased name < $5: the prefix as a range of people_by_name
	// (a LIKE with a parameter cannot use the index in a generic plan).
	// The range's start and the page's position are one lower bound: the
	// page starts at the later of the two (the first page's position is
	// before every name). Two separate lower bounds on one column can make
	// the index scan start at the looser one and walk every name before
	// the prefix (measured: 100 ms for "Zara" among 100k).
	searchPeopleByNameSQL = peopleOfSQL + nameRangeSQL
	nameRangeSQL          = ` AND name_key < $5
			AND (name_key, id) > ((SELECT greatest(coalesce(max(name_key), '' COLLATE "C"), $4::text COLLATE "C")
				FROM people WHERE id = $2), $2)
			ORDER BY name_key, id LIMIT $3`
	// The same with a year of birth ($6, not NULL): people born that year
	// and people without a year whose age band fits it ($7) are two ranges
	// of people_by_year_name in name order, merged (0059); each branch
	// reads at most a page.
	searchPeopleByNameYearSQL = `SELECT ` + summaryColumns + ` FROM (
			(` + peopleByNameOfSQL + ` AND year_of_birth = $6::integer` + nameRangeSQL + `)
			UNION ALL
			(` + peopleByNameOfSQL + ` AND year_of_birth IS NULL AND age_band = ANY($7::text[])` + nameRangeSQL + `)
		) p ORDER BY name_key, id LIMIT $3`
	peopleByNameOfSQL = `SELECT ` + summaryColumns + `, name_key FROM people WHERE organisation_id = $1 AND purged_at IS NULL`
	// $4: the postcode without spaces (postcode_key, people_by_postcode).
	searchPeopleByPostcodeSQL = peopleOfSQL + ` AND postcode_key <> '' AND postcode_key = $4` + peoplePageSQL
)

// Backfill of the NHS number blind index (IndexNHSNumbers): owner
// functions, as it runs for every organisation before any caller (0051).
const (
	unindexedNHSSQL = `SELECT id, organisation_id, nhs_number_sealed FROM sparc_people_unindexed($1, $2)`
	setNHSIndexSQL  = `SELECT indexed, duplicates FROM sparc_people_set_nhs_index($1, $2)`
)

// Backfill of home areas (PlaceHomes): owner functions too (0063). They
// read only the postcode, which is not sealed, of people not yet placed.
const (
	unplacedSQL     = `SELECT id, postcode FROM sparc_people_unplaced($1, $2)`
	setHomeAreasSQL = `SELECT sparc_people_set_home_area($1, $2)`
)

// scanSummary reads a row of summaryColumns: what a list shows, nothing
// sealed and no notes.
func scanSummary(r pgx.Row) (*sparcv1.Person, uuid.UUID, error) {
	var p sparcv1.Person
	var id, org uuid.UUID
	var yob *int32
	var method string
	var share bool
	var scopes []string
	var consentAt, objectedAt *time.Time
	var created, updated time.Time
	var version int64
	if err := r.Scan(&id, &org, &p.DisplayName, &p.AgeBand, &yob, &p.Postcode, &method, &p.Needs, &share, &scopes,
		&consentAt, &objectedAt, &created, &updated, &version); err != nil {
		return nil, id, err
	}
	p.Name, p.Organisation = aip.Name(aip.People, id), aip.Name(aip.Organisations, org)
	if yob != nil {
		p.YearOfBirth = *yob
	}
	p.ContactMethod = contactFromCode[method]
	p.Consent = &sparcv1.Consent{ShareWithProvider: share}
	for _, sc := range scopes {
		p.Consent.Scopes = append(p.Consent.Scopes, scopeFromCode[sc])
	}
	if consentAt != nil {
		p.Consent.ConsentTime = timestamppb.New(*consentAt)
	}
	if objectedAt != nil {
		p.Consent.ObjectionTime = timestamppb.New(*objectedAt)
	}
	p.CreateTime, p.UpdateTime = timestamppb.New(created), timestamppb.New(updated)
	p.Etag = etag.Of(id, version, updated)
	return &p, id, nil
}

// summaryRow is a person of a list with its keyset position.
type summaryRow struct {
	id     uuid.UUID
	person *sparcv1.Person
}

// querySummaries queues a list or search query (q and its arguments) on
// b, its rows read into out.
func querySummaries(b *pgx.Batch, out *[]summaryRow, q string, args ...any) {
	b.Queue(q, args...).Query(func(rows pgx.Rows) error {
		*out = (*out)[:0]
		for rows.Next() {
			p, id, err := scanSummary(rows)
			if err != nil {
				return err
			}
			*out = append(*out, summaryRow{id: id, person: p})
		}
		return rows.Err()
	})
}

// existingNHS returns the person of org other than except whose NHS
// number has index idx, if any.
func existingNHS(ctx context.Context, tx pgx.Tx, org string, idx []byte, except uuid.UUID) (uuid.UUID, bool, error) {
	var id uuid.UUID
	err := tx.QueryRow(ctx, existingNHSSQL, org, idx, except).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return id, false, nil
	}
	return id, err == nil, err
}

func (s *Service) scan(r pgx.Row) (*sparcv1.Person, error) {
	var p sparcv1.Person
	var id, org uuid.UUID
	var yob *int32
	var method string
	var contact, nhs []byte
	var share bool
	var scopes []string
	var consentAt, objectedAt *time.Time
	var created, updated time.Time
	var version int64
	if err := r.Scan(&id, &org, &p.DisplayName, &p.AgeBand, &yob, &p.Postcode, &method, &contact, &nhs,
		&p.WhatMatters, &p.Needs, &share, &scopes, &consentAt, &objectedAt, &created, &updated, &version); err != nil {
		return nil, err
	}
	p.Name, p.Organisation = aip.Name(aip.People, id), aip.Name(aip.Organisations, org)
	if yob != nil {
		p.YearOfBirth = *yob
	}
	p.ContactMethod = contactFromCode[method]
	if contact != nil {
		var err error
		if p.Contact, err = s.OpenContact(contact, id); err != nil {
			return nil, err
		}
	}
	if nhs != nil {
		plain, err := s.sealer.Open(nhs, id[:])
		if err != nil {
			return nil, fmt.Errorf("opening NHS number of person %s: %w", id, err)
		}
		p.NhsNumber = string(plain)
	}
	p.Consent = &sparcv1.Consent{ShareWithProvider: share}
	for _, sc := range scopes {
		p.Consent.Scopes = append(p.Consent.Scopes, scopeFromCode[sc])
	}
	if consentAt != nil {
		p.Consent.ConsentTime = timestamppb.New(*consentAt)
	}
	if objectedAt != nil {
		p.Consent.ObjectionTime = timestamppb.New(*objectedAt)
	}
	p.CreateTime, p.UpdateTime = timestamppb.New(created), timestamppb.New(updated)
	p.Etag = etag.Of(id, version, updated)
	return &p, nil
}

// args are the stored columns of p ($1–$14 of insertPersonSQL and
// updatePersonSQL), sealing its contact details and NHS number.
func (s *Service) args(id uuid.UUID, p *sparcv1.Person) ([]any, error) {
	var contact, nhs []byte
	var err error
	if c := p.GetContact(); c != nil && (c.GetPhone() != "" || c.GetEmail() != "" || c.GetAddress() != "") {
		if contact, err = s.sealer.Seal(encodeContact(c), id[:]); err != nil {
			return nil, err
		}
	}
	if p.GetNhsNumber() != "" {
		if nhs, err = s.sealer.Seal([]byte(p.GetNhsNumber()), id[:]); err != nil {
			return nil, err
		}
	}
	var yob *int32
	if p.GetYearOfBirth() != 0 {
		y := p.GetYearOfBirth()
		yob = &y
	}
	scopes := []string{}
	for _, sc := range p.GetConsent().GetScopes() {
		scopes = append(scopes, scopeCode[sc])
	}
	var consentAt *time.Time
	if t := p.GetConsent().GetConsentTime(); t != nil {
		x := t.AsTime()
		consentAt = &x
	}
	var objected *time.Time
	if t := p.GetConsent().GetObjectionTime(); t != nil {
		x := t.AsTime()
		objected = &x
	}
	needs := p.GetNeeds()
	if needs == nil {
		needs = []string{}
	}
	return []any{p.GetDisplayName(), p.GetAgeBand(), yob, p.GetPostcode(), outward(p.GetPostcode()),
		contactCode[p.GetContactMethod()], contact, nhs, p.GetWhatMatters(), needs,
		p.GetConsent().GetShareWithProvider(), scopes, consentAt, objected}, nil
}

// insert stores a new person of org with its provider view.
func (s *Service) insert(ctx context.Context, tx pgx.Tx, id uuid.UUID, org string, p *sparcv1.Person, view []byte, home homeArea) (*sparcv1.Person, error) {
	args, err := s.args(id, p)
	if err != nil {
		return nil, err
	}
	return s.scan(tx.QueryRow(ctx, insertPersonSQL, append(args, id, org, view, s.nhsIndex(orgID(org), p.GetNhsNumber()), home.code)...))
}

// update stores p's details over person id's, and its home area when the
// postcode was changed.
func (s *Service) update(ctx context.Context, tx pgx.Tx, id, org uuid.UUID, p *sparcv1.Person, home homeArea) (*sparcv1.Person, error) {
	args, err := s.args(id, p)
	if err != nil {
		return nil, err
	}
	return s.scan(tx.QueryRow(ctx, updatePersonSQL, append(args, id, s.nhsIndex(org, p.GetNhsNumber()), home.set, home.code)...))
}

// nhsIndex is the blind index of a normalised NHS number held by org;
// nil for none. The organisation is part of what is blinded, so equal
// numbers in two organisations give unrelated indexes: a copy of the
// database does not show which organisations hold the same person.
func (s *Service) nhsIndex(org uuid.UUID, nhs string) []byte {
	if nhs == "" {
		return nil
	}
	return s.nhsBlind.Of(append(org[:], nhs...))
}

// orgID reads an organisation id as the caller carries it.
func orgID(s string) uuid.UUID {
	id, _ := uuid.Parse(s)
	return id
}

// Get reads a person of the caller's organisation (row-level security
// hides the others) in tx; a purged or unknown person is not found.
func (s *Service) Get(ctx context.Context, tx pgx.Tx, id uuid.UUID) (*sparcv1.Person, error) {
	return s.get(ctx, tx, id, false)
}

func (s *Service) get(ctx context.Context, tx pgx.Tx, id uuid.UUID, lock bool) (*sparcv1.Person, error) {
	q := getPersonSQL
	if lock {
		q = lockPersonSQL
	}
	p, err := s.scan(tx.QueryRow(ctx, q, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", aip.Name(aip.People, id), apierr.ErrNotFound)
	}
	return p, err
}
