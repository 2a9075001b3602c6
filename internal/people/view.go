package people

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/db"
)

// ContactMethod is the API's contact method for its stored code.
func ContactMethod(code string) sparcv1.ContactMethod { return contactFromCode[code] }

// OpenContact unseals a person's contact details.
func (s *Service) OpenContact(sealed []byte, id uuid.UUID) (*sparcv1.PersonContact, error) {
	plain, err := s.sealer.Open(sealed, id[:])
	if err != nil {
		return nil, fmt.Errorf("opening contact of person %s: %w", id, err)
	}
	return decodeContact(plain)
}

// FillProviderView builds the provider view of a person who has none yet
// (people recorded before views were kept), so that referring them can
// copy it. It is housekeeping, not the caller's change: it writes no
// audit event of its own.
func (s *Service) FillProviderView(ctx context.Context, id uuid.UUID) error {
	ctx = db.WithoutRider(ctx)
	return db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		p, err := s.get(ctx, tx, id, false)
		if err != nil {
			return err
		}
		view, err := s.shared(id, p)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, fillProviderViewSQL, id, view)
		return err
	})
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

// shared builds the provider's view of person id from consent: nothing
// without consent or after an objection; name and age band for "basic";
// contact details for "contact"; notes for "notes". The NHS number is
// never shared.
func (s *Service) shared(id uuid.UUID, p *sparcv1.Person) ([]byte, error) {
	c := p.GetConsent()
	var sp sharedPerson
	if c.GetShareWithProvider() && c.GetObjectionTime() == nil {
		for _, sc := range c.GetScopes() {
			switch sc {
			case sparcv1.ConsentScope_CONSENT_SCOPE_BASIC:
				sp.DisplayName, sp.AgeBand = p.GetDisplayName(), p.GetAgeBand()
			case sparcv1.ConsentScope_CONSENT_SCOPE_CONTACT:
				if ct := p.GetContact(); ct != nil {
					sealed, err := s.sealer.Seal(encodeContact(ct), id[:])
					if err != nil {
						return nil, err
					}
					sp.ContactSealed, sp.PersonID = sealed, id.String()
				}
				sp.ContactMethod = contactCode[p.GetContactMethod()]
			case sparcv1.ConsentScope_CONSENT_SCOPE_NOTES:
				sp.WhatMatters = p.GetWhatMatters()
			}
		}
	}
	return json.Marshal(sp)
}

// OpenShared reads a provider view stored on a referral; consent reports
// whether it shares anything personal (the visibility rule's freeText).
func (s *Service) OpenShared(b []byte) (*sparcv1.SharedPerson, bool, error) {
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
