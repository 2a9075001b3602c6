// Package people holds the people a link-worker service refers: their
// details (contact and NHS number sealed at rest), consent and objection,
// and the provider view each referral copies from consent. Row-level
// security keeps a person to the organisation that recorded them; lists
// and searches (search.go) stay inside it, and find an NHS number through
// its keyed blind index, never by opening sealed values.
package people

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/pagetoken"
	"github.com/sparc-network/sparc/internal/seal"
)

// CopyView queues, on b, the rewrite of every copy of person's provider
// view held outside the people table (the referrals'), so that a consent
// change reaches them in the person's own transaction and round trip.
type CopyView func(b *pgx.Batch, person uuid.UUID, view []byte)

// Service implements PersonServiceServer.
type Service struct {
	sparcv1.UnimplementedPersonServiceServer
	pool     *pgxpool.Pool
	sealer   *seal.Sealer
	nhsBlind *seal.BlindIndex
	tokens   *pagetoken.Signer
	copyView CopyView
	homes    HomeAreaFinder // nil: home areas are left for the start-up backfill
}

// NewService returns the person service. copyView, when not nil, keeps
// the copies of provider views in step with consent.
func NewService(pool *pgxpool.Pool, sealer *seal.Sealer, tokens *pagetoken.Signer, copyView CopyView) (*Service, error) {
	blind, err := sealer.BlindIndex("nhs_number")
	if err != nil {
		return nil, err
	}
	return &Service{pool: pool, sealer: sealer, nhsBlind: blind, tokens: tokens, copyView: copyView}, nil
}

// alreadyExists is the error for a second person with one NHS number in
// an organisation: it names the first, whom the caller may read.
func alreadyExists(existing uuid.UUID) error {
	return fmt.Errorf("%s: %w (a person of this organisation has this NHS number)", aip.Name(aip.People, existing), apierr.ErrAlreadyExists)
}

// CreatePerson records a person for the caller's organisation.
func (s *Service) CreatePerson(ctx context.Context, req *sparcv1.CreatePersonRequest) (*sparcv1.Person, error) {
	if req.GetPerson() == nil {
		return nil, apierr.Invalid("person", "is required")
	}
	p := proto.Clone(req.GetPerson()).(*sparcv1.Person)
	// Output-only fields in the input are ignored (AIP-203): the server
	// names the person, and only UpdatePerson's object records an
	// objection.
	p.Name, p.Organisation, p.CreateTime, p.UpdateTime, p.Etag = "", "", nil, nil, ""
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
	view, err := s.shared(id, p)
	if err != nil {
		return nil, err
	}
	home, err := s.homeOf(ctx, p.GetPostcode())
	if err != nil {
		return nil, err
	}
	var out *sparcv1.Person
	err = db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		var err error
		out, err = s.insert(ctx, tx, id, caller.Org, p, view, home)
		if errors.Is(err, pgx.ErrNoRows) {
			// The insert met the unique NHS number index (and waited for a
			// concurrent create to commit): this statement's fresh
			// snapshot sees the person who has the number.
			other, found, err := existingNHS(ctx, tx, caller.Org, s.nhsIndex(orgID(caller.Org), p.GetNhsNumber()), id)
			if err != nil {
				return err
			}
			if !found {
				return errors.New("person insert returned no row and no person has the NHS number")
			}
			return alreadyExists(other)
		}
		return err
	})
	return out, err
}

// GetPerson returns a person of the caller's organisation.
func (s *Service) GetPerson(ctx context.Context, req *sparcv1.GetPersonRequest) (*sparcv1.Person, error) {
	var v apierr.InvalidArgument
	id := aip.ParseName(&v, "name", aip.People, req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *sparcv1.Person
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		var err error
		out, err = s.get(ctx, tx, id, false)
		return err
	})
	return out, err
}

// UpdatePerson changes details or consent; consent changes (and an
// objection) are applied to the person's referrals in the same transaction.
func (s *Service) UpdatePerson(ctx context.Context, req *sparcv1.UpdatePersonRequest) (*sparcv1.Person, error) {
	in := req.GetPerson()
	if in == nil {
		return nil, apierr.Invalid("person", "is required")
	}
	var v apierr.InvalidArgument
	id := aip.ParseName(&v, "person.name", aip.People, in.GetName())
	aip.CheckEtag(&v, "person.etag", in.GetEtag())
	mask := personFields.Parse(&v, "update_mask", req.GetUpdateMask(), in)
	if mask.Empty() && !req.GetObject() {
		v.Add("update_mask", "nothing to change: set the fields to change (or name them in the mask), or set object to withdraw consent")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	// Derived before the transaction, which holds the person's row: the
	// lookup uses connections of its own.
	var home homeArea
	if mask.Has("postcode") {
		var err error
		if home, err = s.homeOf(ctx, in.GetPostcode()); err != nil {
			return nil, err
		}
	}
	var out *sparcv1.Person
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		cur, err := s.get(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if in.GetEtag() != "" && in.GetEtag() != cur.GetEtag() {
			return fmt.Errorf("%s: %w", aip.Name(aip.People, id), apierr.ErrStaleEtag)
		}
		objectedBefore, oldNHS := cur.GetConsent().GetObjectionTime(), cur.GetNhsNumber()
		mask.Apply(cur, in)
		if cur.Consent == nil {
			cur.Consent = &sparcv1.Consent{}
		}
		// Objection is sticky until consent is given again explicitly:
		// share_with_provider set by this update, as the whole consent or
		// that one field.
		cur.Consent.ObjectionTime = objectedBefore
		givesConsent := slices.Contains(mask.Paths(), "consent") || slices.Contains(mask.Paths(), "consent.share_with_provider")
		if req.GetObject() {
			cur.Consent = &sparcv1.Consent{ObjectionTime: timestamppb.Now()}
		} else if givesConsent && in.GetConsent().GetShareWithProvider() {
			cur.Consent.ObjectionTime = nil
			cur.Consent.ConsentTime = nil
		}
		prepare(cur)
		var v apierr.InvalidArgument
		validatePerson(cur, &v)
		if err := v.Err(); err != nil {
			return err
		}
		if out, err = s.save(ctx, tx, id, caller.Org, cur, cur.GetNhsNumber() != oldNHS, home); err != nil {
			return err
		}
		shared, err := s.shared(id, out)
		if err != nil {
			return err
		}
		// The person row is locked (FOR UPDATE above), and CreateReferral
		// copies provider_view under FOR SHARE: a referral created
		// concurrently either waits and copies the new view, or committed
		// before and is rewritten here.
		b := &pgx.Batch{}
		b.Queue(setProviderViewSQL, id, shared)
		if s.copyView != nil {
			s.copyView(b, id, shared)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return out, err
}

// save writes cur over person id. A new NHS number may be another
// person's: the update then runs in a savepoint, so that the unique index's
// refusal (which waits for a concurrent writer of the number to commit)
// leaves the transaction able to name that person.
func (s *Service) save(ctx context.Context, tx pgx.Tx, id uuid.UUID, org string, cur *sparcv1.Person, newNHS bool, home homeArea) (*sparcv1.Person, error) {
	if !newNHS || cur.GetNhsNumber() == "" {
		return s.update(ctx, tx, id, orgID(org), cur, home)
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return nil, err
	}
	out, err := s.update(ctx, sp, id, orgID(org), cur, home)
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.ConstraintName == "people_nhs_number_index" {
		if err := sp.Rollback(ctx); err != nil {
			return nil, err
		}
		other, found, err := existingNHS(ctx, tx, org, s.nhsIndex(orgID(org), cur.GetNhsNumber()), id)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, errors.New("the NHS number index refused an update and no person has the number")
		}
		return nil, alreadyExists(other)
	}
	if err != nil {
		return nil, err
	}
	return out, sp.Commit(ctx)
}
