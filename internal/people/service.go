package referrals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/etag"
	"github.com/sparc-network/sparc/internal/vocab"
)

var contactCode = map[sparcv1.ContactMethod]string{
	sparcv1.ContactMethod_CONTACT_METHOD_UNSPECIFIED: "unspecified",
	sparcv1.ContactMethod_CONTACT_METHOD_PHONE:       "phone",
	sparcv1.ContactMethod_CONTACT_METHOD_EMAIL:       "email",
	sparcv1.ContactMethod_CONTACT_METHOD_POST:        "post",
	sparcv1.ContactMethod_CONTACT_METHOD_IN_PERSON:   "in_person",
}

var scopeCode = map[sparcv1.ConsentScope]string{
	sparcv1.ConsentScope_CONSENT_SCOPE_BASIC:   "basic",
	sparcv1.ConsentScope_CONSENT_SCOPE_CONTACT: "contact",
	sparcv1.ConsentScope_CONSENT_SCOPE_NOTES:   "notes",
}

var (
	contactFromCode = vocab.FromCodes(contactCode)
	scopeFromCode   = vocab.FromCodes(scopeCode)
	ageBands        = map[string]bool{"0-15": true, "16-17": true, "18-24": true, "25-34": true, "35-44": true,
		"45-54": true, "55-64": true, "65-74": true, "75+": true}
	phoneRe = regexp.MustCompile(`^\+?[0-9 ()\-]{5,32}$`)
)

// ValidNHSNumber applies the NHS number modulus 11 check.
func ValidNHSNumber(s string) bool {
	if len(s) != 10 {
		return false
	}
	sum := 0
	for i := 0; i < 9; i++ {
		d := s[i] - '0'
		if d > 9 {
			return false
		}
		sum += int(d) * (10 - i)
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	return check != 10 && s[9] >= '0' && s[9] <= '9' && int(s[9]-'0') == check
}

func normaliseNHS(s string) string {
	return strings.NewReplacer(" ", "", "-", "").Replace(s)
}

// outward returns the part of a postcode analytics may use: the GB outward
// code ("B7 4AL" → "B7") or the NL digits ("3011 AB" → "3011").
func outward(postcode string) string {
	p := strings.ToUpper(strings.ReplaceAll(postcode, " ", ""))
	if len(p) >= 4 && p[0] >= '0' && p[0] <= '9' {
		return p[:4]
	}
	if len(p) >= 5 {
		return p[:len(p)-3]
	}
	return ""
}

// People is the store and service for people.
type People struct {
	sparcv1.UnimplementedPersonServiceServer
	pool   *pgxpool.Pool
	sealer *Sealer
}

// NewPeople returns the person service.
func NewPeople(pool *pgxpool.Pool, sealer *Sealer) *People {
	return &People{pool: pool, sealer: sealer}
}

const personColumns = `id, organisation_id, display_name, age_band, year_of_birth, postcode, contact_method,
	contact_sealed, nhs_number_sealed, what_matters, needs, consent_share, consent_scopes, consent_time,
	objection_time, created_at, updated_at, version`

// openContact unseals a person's contact details.
func (s *People) openContact(sealed []byte, id uuid.UUID) (*sparcv1.PersonContact, error) {
	plain, err := s.sealer.Open(sealed, id[:])
	if err != nil {
		return nil, fmt.Errorf("opening contact of person %s: %w", id, err)
	}
	return decodeContact(plain)
}

func (s *People) scan(r pgx.Row) (*sparcv1.Person, error) {
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
	p.Id, p.OrganisationId = id.String(), org.String()
	if yob != nil {
		p.YearOfBirth = *yob
	}
	p.ContactMethod = contactFromCode[method]
	if contact != nil {
		var err error
		if p.Contact, err = s.openContact(contact, id); err != nil {
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

func validatePerson(p *sparcv1.Person, v *apierr.InvalidArgument) {
	name := strings.TrimSpace(p.GetDisplayName())
	if name == "" || utf8.RuneCountInString(name) > 100 {
		v.Add("person.display_name", "is required, at most 100 characters (initials are enough)")
	}
	if b := p.GetAgeBand(); b != "" && !ageBands[b] {
		v.Add("person.age_band", "%q is not an age band (0-15, 16-17, 18-24, 25-34, 35-44, 45-54, 55-64, 65-74, 75+)", b)
	}
	if y := p.GetYearOfBirth(); y != 0 && (y < 1900 || y > int32(time.Now().Year())) {
		v.Add("person.year_of_birth", "must be between 1900 and this year")
	}
	if len(p.GetPostcode()) > 10 {
		v.Add("person.postcode", "is longer than 10 characters")
	}
	if _, ok := contactCode[p.GetContactMethod()]; !ok {
		v.Add("person.contact_method", "unknown contact method")
	}
	if c := p.GetContact(); c != nil {
		if c.GetPhone() != "" && !phoneRe.MatchString(c.GetPhone()) {
			v.Add("person.contact.phone", "is not a phone number")
		}
		if e := c.GetEmail(); e != "" {
			if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
				v.Add("person.contact.email", "is not a plain email address")
			}
		}
		if utf8.RuneCountInString(c.GetAddress()) > 500 {
			v.Add("person.contact.address", "is longer than 500 characters")
		}
	}
	if n := p.GetNhsNumber(); n != "" && !ValidNHSNumber(n) {
		v.Add("person.nhs_number", "is not a valid NHS number (10 digits passing the modulus 11 check)")
	}
	if utf8.RuneCountInString(p.GetWhatMatters()) > 2000 {
		v.Add("person.what_matters", "is longer than 2,000 characters")
	}
	for i, n := range p.GetNeeds() {
		if !vocab.IsCategory(n) {
			v.Add(fmt.Sprintf("person.needs[%d]", i), "unknown category %q", n)
		}
	}
	for i, sc := range p.GetConsent().GetScopes() {
		if _, ok := scopeCode[sc]; !ok {
			v.Add(fmt.Sprintf("person.consent.scopes[%d]", i), "unknown consent scope")
		}
	}
}

func (s *People) args(id uuid.UUID, p *sparcv1.Person) ([]any, error) {
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

func prepare(p *sparcv1.Person) {
	p.DisplayName = strings.TrimSpace(p.DisplayName)
	p.Postcode = strings.ToUpper(strings.TrimSpace(p.Postcode))
	p.NhsNumber = normaliseNHS(p.NhsNumber)
	if c := p.GetConsent(); c != nil && c.GetShareWithProvider() && c.GetConsentTime() == nil {
		c.ConsentTime = timestamppb.Now()
	}
}

// CreatePerson records a person for the caller's organisation.
func (s *People) CreatePerson(ctx context.Context, req *sparcv1.CreatePersonRequest) (*sparcv1.Person, error) {
	if req.GetPerson() == nil {
		return nil, apierr.Invalid("person", "is required")
	}
	p := proto.Clone(req.GetPerson()).(*sparcv1.Person)
	prepare(p)
	if p.Consent != nil {
		p.Consent.ObjectionTime = nil
	}
	var v apierr.InvalidArgument
	validatePerson(p, &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	id := uuid.New()
	args, err := s.args(id, p)
	if err != nil {
		return nil, err
	}
	p.Id = id.String()
	view, err := s.shared(p)
	if err != nil {
		return nil, err
	}
	var out *sparcv1.Person
	err = db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		var err error
		out, err = s.scan(tx.QueryRow(ctx, `INSERT INTO people (display_name, age_band, year_of_birth, postcode,
			postcode_outward, contact_method, contact_sealed, nhs_number_sealed, what_matters, needs,
			consent_share, consent_scopes, consent_time, objection_time, id, organisation_id, provider_view)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
			RETURNING `+personColumns, append(args, id, caller.Org, view)...))
		return err
	})
	return out, err
}

// GetPerson returns a person of the caller's organisation.
func (s *People) GetPerson(ctx context.Context, req *sparcv1.GetPersonRequest) (*sparcv1.Person, error) {
	id, err := uuid.Parse(strings.TrimPrefix(req.GetId(), "people/"))
	if err != nil {
		return nil, apierr.Invalid("id", "is not a person id (a UUID)")
	}
	var out *sparcv1.Person
	err = db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		var err error
		out, err = s.get(ctx, tx, id, false)
		return err
	})
	return out, err
}

func (s *People) get(ctx context.Context, tx pgx.Tx, id uuid.UUID, lock bool) (*sparcv1.Person, error) {
	q := `SELECT ` + personColumns + ` FROM people WHERE id = $1 AND purged_at IS NULL`
	if lock {
		q += ` FOR UPDATE`
	}
	p, err := s.scan(tx.QueryRow(ctx, q, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("person %s: %w", id, apierr.ErrNotFound)
	}
	return p, err
}

var personPaths = map[string]bool{"display_name": true, "age_band": true, "year_of_birth": true, "postcode": true,
	"contact_method": true, "contact": true, "nhs_number": true, "what_matters": true, "needs": true, "consent": true}

// UpdatePerson changes details or consent; consent changes (and an
// objection) are applied to the person's referrals in the same transaction.
func (s *People) UpdatePerson(ctx context.Context, req *sparcv1.UpdatePersonRequest) (*sparcv1.Person, error) {
	in := req.GetPerson()
	if in == nil {
		return nil, apierr.Invalid("person", "is required")
	}
	var v apierr.InvalidArgument
	id, err := uuid.Parse(strings.TrimPrefix(in.GetId(), "people/"))
	if err != nil {
		v.Add("person.id", "is not a person id (a UUID)")
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 && !req.GetObject() {
		v.Add("update_mask", "name the fields to change (or set object to withdraw consent)")
	}
	for i, p := range paths {
		if !personPaths[p] {
			v.Add(fmt.Sprintf("update_mask.paths[%d]", i), "%q is not an updatable field", p)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *sparcv1.Person
	err = db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		cur, err := s.get(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if in.GetEtag() != "" && in.GetEtag() != cur.GetEtag() {
			return fmt.Errorf("person %s: %w", id, apierr.ErrStaleEtag)
		}
		objectedBefore := cur.GetConsent().GetObjectionTime()
		src, dst := in.ProtoReflect(), cur.ProtoReflect()
		for _, p := range paths {
			fd := dst.Descriptor().Fields().ByName(protoreflect.Name(p))
			if src.Has(fd) {
				dst.Set(fd, src.Get(fd))
			} else {
				dst.Clear(fd)
			}
		}
		if cur.Consent == nil {
			cur.Consent = &sparcv1.Consent{}
		}
		// Objection is sticky until consent is given again explicitly.
		cur.Consent.ObjectionTime = objectedBefore
		if req.GetObject() {
			cur.Consent = &sparcv1.Consent{ObjectionTime: timestamppb.Now()}
		} else if contains(paths, "consent") && in.GetConsent().GetShareWithProvider() {
			cur.Consent.ObjectionTime = nil
			cur.Consent.ConsentTime = nil
		}
		prepare(cur)
		var v apierr.InvalidArgument
		validatePerson(cur, &v)
		if err := v.Err(); err != nil {
			return err
		}
		args, err := s.args(id, cur)
		if err != nil {
			return err
		}
		if out, err = s.scan(tx.QueryRow(ctx, `UPDATE people SET display_name = $1, age_band = $2, year_of_birth = $3,
			postcode = $4, postcode_outward = $5, contact_method = $6, contact_sealed = $7, nhs_number_sealed = $8,
			what_matters = $9, needs = $10, consent_share = $11, consent_scopes = $12, consent_time = $13,
			objection_time = $14, version = version + 1, updated_at = clock_timestamp()
			WHERE id = $15 RETURNING `+personColumns, append(args, id)...)); err != nil {
			return err
		}
		shared, err := s.shared(out)
		if err != nil {
			return err
		}
		// The person row is locked (FOR UPDATE above), and CreateReferral
		// copies provider_view under FOR SHARE: a referral created
		// concurrently either waits and copies the new view, or committed
		// before and is rewritten here.
		b := &pgx.Batch{}
		b.Queue(`UPDATE people SET provider_view = $2 WHERE id = $1`, id, shared)
		b.Queue(`UPDATE referrals SET shared_person = $2, version = version + 1, updated_at = clock_timestamp()
			WHERE person_id = $1 AND shared_person <> $2`, id, shared)
		return tx.SendBatch(ctx, b).Close()
	})
	return out, err
}

// sharedPerson is what a provider may see, stored on each referral.
type sharedPerson struct {
	DisplayName   string `json:"display_name,omitempty"`
	AgeBand       string `json:"age_band,omitempty"`
	ContactMethod string `json:"contact_method,omitempty"`
	ContactSealed []byte `json:"contact_sealed,omitempty"` // sealed with the referral-independent person id
	PersonID      string `json:"person_id,omitempty"`
	WhatMatters   string `json:"what_matters,omitempty"`
}

// shared builds the provider's view from consent: nothing without consent
// or after an objection; name and age band for "basic"; contact details for
// "contact"; notes for "notes". The NHS number is never shared.
func (s *People) shared(p *sparcv1.Person) ([]byte, error) {
	c := p.GetConsent()
	var sp sharedPerson
	if c.GetShareWithProvider() && c.GetObjectionTime() == nil {
		for _, sc := range c.GetScopes() {
			switch sc {
			case sparcv1.ConsentScope_CONSENT_SCOPE_BASIC:
				sp.DisplayName, sp.AgeBand = p.GetDisplayName(), p.GetAgeBand()
			case sparcv1.ConsentScope_CONSENT_SCOPE_CONTACT:
				if ct := p.GetContact(); ct != nil {
					id := uuid.MustParse(p.GetId())
					sealed, err := s.sealer.Seal(encodeContact(ct), id[:])
					if err != nil {
						return nil, err
					}
					sp.ContactSealed, sp.PersonID = sealed, p.GetId()
				}
				sp.ContactMethod = contactCode[p.GetContactMethod()]
			case sparcv1.ConsentScope_CONSENT_SCOPE_NOTES:
				sp.WhatMatters = p.GetWhatMatters()
			}
		}
	}
	return json.Marshal(sp)
}

func (s *People) openShared(b []byte) (*sparcv1.SharedPerson, bool, error) {
	var sp sharedPerson
	if len(b) == 0 {
		return nil, false, nil
	}
	if err := json.Unmarshal(b, &sp); err != nil {
		return nil, false, err
	}
	if sp.DisplayName == "" && sp.AgeBand == "" && sp.ContactSealed == nil && sp.WhatMatters == "" && sp.ContactMethod == "" {
		return nil, false, nil
	}
	out := &sparcv1.SharedPerson{DisplayName: sp.DisplayName, AgeBand: sp.AgeBand,
		ContactMethod: contactFromCode[sp.ContactMethod], WhatMatters: sp.WhatMatters}
	if sp.ContactSealed != nil {
		id, err := uuid.Parse(sp.PersonID)
		if err != nil {
			return nil, false, err
		}
		plain, err := s.sealer.Open(sp.ContactSealed, id[:])
		if err != nil {
			return nil, false, err
		}
		if out.Contact, err = decodeContact(plain); err != nil {
			return nil, false, err
		}
	}
	return out, true, nil
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// Contact details are sealed as the protobuf encoding of PersonContact
// (stable, and several times cheaper to read than JSON, which matters as
// every referral a link worker creates or a provider receives opens one).
// Details sealed by the first releases are JSON, recognised by its '{':
// a protobuf message of PersonContact never starts with that byte.
func encodeContact(c *sparcv1.PersonContact) []byte {
	b, _ := proto.Marshal(&sparcv1.PersonContact{Phone: c.GetPhone(), Email: c.GetEmail(), Address: c.GetAddress()})
	return b
}

func decodeContact(plain []byte) (*sparcv1.PersonContact, error) {
	var c sparcv1.PersonContact
	if len(plain) > 0 && plain[0] == '{' {
		var old struct{ Phone, Email, Address string }
		if err := json.Unmarshal(plain, &old); err != nil {
			return nil, fmt.Errorf("reading sealed contact: %w", err)
		}
		c.Phone, c.Email, c.Address = old.Phone, old.Email, old.Address
		return &c, nil
	}
	if err := proto.Unmarshal(plain, &c); err != nil {
		return nil, fmt.Errorf("reading sealed contact: %w", err)
	}
	return &c, nil
}
