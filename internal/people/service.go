// Package people holds the people a link-worker service refers: their
// details (contact and NHS number sealed at rest), consent and objection,
// and the provider view each referral copies from consent. Row-level
// security keeps a person to the organisation that recorded them.
package people

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
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
	copyView CopyView
}

// NewService returns the person service. copyView, when not nil, keeps
// the copies of provider views in step with consent.
func NewService(pool *pgxpool.Pool, sealer *seal.Sealer, copyView CopyView) *Service {
	return &Service{pool: pool, sealer: sealer, copyView: copyView}
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
	var out *sparcv1.Person
	err = db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		var err error
		out, err = s.insert(ctx, tx, id, caller.Org, p, view)
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
	var out *sparcv1.Person
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		cur, err := s.get(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if in.GetEtag() != "" && in.GetEtag() != cur.GetEtag() {
			return fmt.Errorf("%s: %w", aip.Name(aip.People, id), apierr.ErrStaleEtag)
		}
		objectedBefore := cur.GetConsent().GetObjectionTime()
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
		if out, err = s.update(ctx, tx, id, cur); err != nil {
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
