// Package referrals is the closed loop of social prescribing: referrals
// from a link-worker service's people to community assets, the Gravity
// Project status model with a timeline of every change, outcomes
// (attendance, ONS4, SWEMWBS), the live inbox (WatchReferrals, reading
// package outbox), aggregate statistics with small-number suppression,
// demand for coverage maps, and retention. What a caller sees of a
// referral is decided by one rule (visibility.go), applied to every
// answer; row-level security on the tables states it again.
package referrals

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/orgs"
	"github.com/sparc-network/sparc/internal/outbox"
	"github.com/sparc-network/sparc/internal/pagetoken"
	"github.com/sparc-network/sparc/internal/people"
)

// Service implements ReferralServiceServer.
type Service struct {
	sparcv1.UnimplementedReferralServiceServer
	pool   *pgxpool.Pool
	store  *store
	people *people.Service
	tokens *pagetoken.Signer
	hub    *outbox.Hub
	// The owners' stores the readable summary reads (summary.go).
	assets *assets.Store
	orgs   *orgs.Store
	keys   *auth.KeyStore
}

// NewService returns the referral service. hub wakes watchers.
func NewService(pool *pgxpool.Pool, ppl *people.Service, tokens *pagetoken.Signer, hub *outbox.Hub) *Service {
	return &Service{pool: pool, store: &store{pool: pool}, people: ppl, tokens: tokens, hub: hub,
		assets: assets.NewStore(pool), orgs: orgs.NewStore(pool), keys: auth.NewKeyStore(pool)}
}

func ints(xs []int16) []int32 {
	out := make([]int32, len(xs))
	for i, x := range xs {
		out[i] = int32(x)
	}
	return out
}

// view renders a referral for the caller (see render).
func (s *Service) view(ctx context.Context, tx pgx.Tx, x *referralRow, caller *auth.Principal) (*sparcv1.Referral, error) {
	return s.render(ctx, tx, x, caller, nil, nil)
}

// render is the one way a referral leaves the service: it applies the
// visibility rule (disclose) for the caller and refuses a caller with no
// side as not found, whatever query found the row. person (the
// referrer's view of the person) and timeline are what the caller already
// read; nil ones are read here.
func (s *Service) render(ctx context.Context, tx pgx.Tx, x *referralRow, caller *auth.Principal, person *sparcv1.Person,
	timeline []*sparcv1.ReferralEvent) (*sparcv1.Referral, error) {
	var shared *sparcv1.SharedPerson
	consent := false
	if sideFor(caller.Org, caller.Role, x.parties()) == provider {
		var err error
		if shared, consent, err = s.people.OpenShared(x.shared); err != nil {
			return nil, err
		}
	}
	d := disclose(caller.Org, caller.Role, x.parties(), consent)
	if d.side == 0 {
		return nil, fmt.Errorf("%s: %w", aip.Name(aip.Referrals, x.id), apierr.ErrNotFound)
	}
	r := &sparcv1.Referral{
		Name: aip.Name(aip.Referrals, x.id), Person: aip.Name(aip.People, x.person),
		ReferringOrganisation: aip.Name(aip.Organisations, x.referrer), LinkWorker: x.linkWorker,
		Asset: aip.Name(aip.Assets, x.asset), Reasons: x.reasons, ProviderNote: x.note,
		Priority: priorityFromCode(x.priority), Status: statusFromCode[x.status], StatusReason: x.reason,
		CreateTime: timestamppb.New(x.created), UpdateTime: timestamppb.New(x.updated), Etag: x.etag(),
	}
	if x.provider != nil {
		r.ProviderOrganisation = aip.Name(aip.Organisations, *x.provider)
	}
	o := &sparcv1.Outcome{SessionsAttended: x.attended, WhatChanged: x.whatChanged}
	if x.firstAttended != nil {
		o.FirstAttendedTime = timestamppb.New(*x.firstAttended)
	}
	if x.bOns4 != nil || x.bSwem != nil {
		o.Baseline = &sparcv1.WellbeingMeasure{Ons4: ints(x.bOns4), Swemwbs: ints(x.bSwem)}
		if x.bAt != nil {
			o.Baseline.Time = timestamppb.New(*x.bAt)
		}
	}
	if x.fOns4 != nil || x.fSwem != nil {
		o.FollowUp = &sparcv1.WellbeingMeasure{Ons4: ints(x.fOns4), Swemwbs: ints(x.fSwem)}
		if x.fAt != nil {
			o.FollowUp.Time = timestamppb.New(*x.fAt)
		}
	}
	r.Outcome = o
	if d.side == referrer {
		p, err := person, error(nil)
		if p == nil {
			p, err = s.people.Get(ctx, tx, x.person)
		}
		if err == nil {
			r.PersonDetails = &sparcv1.SharedPerson{DisplayName: p.GetDisplayName(), AgeBand: p.GetAgeBand(),
				ContactMethod: p.GetContactMethod(), Contact: p.GetContact(), WhatMatters: p.GetWhatMatters()}
		} else if !errors.Is(err, apierr.ErrNotFound) { // purged people simply have no details
			return nil, err
		}
	} else {
		r.PersonDetails = shared
	}
	if timeline == nil {
		var err error
		if timeline, err = s.store.timeline(ctx, tx, x.id); err != nil {
			return nil, err
		}
	}
	for _, e := range timeline {
		// The provider's timeline starts when the referral is sent, as
		// its stream of changes does (row-level security keeps the
		// draft's entries from it too).
		if d.side == provider && !changeSent(statusCode[e.GetFromStatus()], statusCode[e.GetToStatus()]) {
			continue
		}
		// An override's reason is the referrer's own account: the
		// provider learns that the age check was overridden, not why.
		if (!d.freeText || (d.side == provider && e.GetReason() == overrideReason)) && e.GetNote() != "" {
			e = proto.Clone(e).(*sparcv1.ReferralEvent)
			e.Note = ""
		}
		r.Timeline = append(r.Timeline, e)
	}
	if !d.freeText {
		r.ProviderNote, o.WhatChanged = "", ""
	}
	if summaryWanted(ctx) {
		l, err := s.lookupsFor(ctx, tx, x, caller)
		if err != nil {
			return nil, err
		}
		r.Summary = l.summary(x, d, time.Now())
	}
	return r, nil
}

func priorityFromCode(c string) sparcv1.ReferralPriority {
	if c == "urgent" {
		return sparcv1.ReferralPriority_REFERRAL_PRIORITY_URGENT
	}
	return sparcv1.ReferralPriority_REFERRAL_PRIORITY_ROUTINE
}

// CreateReferral sends a person to an asset. It is idempotent by
// request_id: a retry with the same id and request returns the first
// referral; the same id with a different request is refused.
func (s *Service) CreateReferral(ctx context.Context, req *sparcv1.CreateReferralRequest) (*sparcv1.Referral, error) {
	caller := auth.FromContext(ctx)
	in, err := validateCreate(req, caller)
	if err != nil {
		return nil, err
	}
	// A lost connection may hide a commit; retrying is safe because the
	// request id finds the first result.
	ctx = db.Idempotent(ctx)
	for filled := false; ; filled = true {
		f, err := s.store.create(ctx, in)
		switch {
		case err != nil:
			return nil, err
		case f.referral != nil:
			s.hub.Changed()
			return s.created(ctx, f, caller)
		case f.replayed:
			return s.replay(ctx, in, caller)
		case !f.personFound:
			return nil, fmt.Errorf("%s: %w", aip.Name(aip.People, in.person), apierr.ErrNotFound)
		case f.assetStatus == nil:
			return nil, fmt.Errorf("%s: %w", aip.Name(aip.Assets, in.asset), apierr.ErrNotFound)
		case *f.assetStatus != "active" || !f.assetAccepting:
			asset := aip.Name(aip.Assets, in.asset)
			return nil, &apierr.PreconditionError{Type: "ASSET_NOT_ACCEPTING", Subject: asset,
				Description: fmt.Sprintf("%s is not accepting referrals (status %s, accepting_referrals %v)",
					asset, *f.assetStatus, f.assetAccepting)}
		case f.ageExcluded:
			return nil, ageRefusal(in, f)
		case !f.personViewed && !filled:
			// People recorded before provider views were kept get theirs,
			// and the statement runs once more.
			if err := s.people.FillProviderView(ctx, in.person); err != nil {
				return nil, err
			}
		default:
			// Everything allowed it, so a concurrent call with the same
			// request id wrote first (its row was not yet committed when
			// the statement looked).
			return s.replay(ctx, in, caller)
		}
	}
}

// ageRefusal is the error of a referral refused by the age rule: it names
// the rule, the person's ages and the asset's range, and the way round it.
func ageRefusal(in createInput, f *createFacts) error {
	asset := aip.Name(aip.Assets, in.asset)
	return &apierr.PreconditionError{Type: "AGE_NOT_ELIGIBLE", Subject: asset, Description: fmt.Sprintf(
		"%s takes ages %s and the person is aged %s: a person is refused when every age their age band "+
			"(or, without one, year of birth) allows lies outside the asset's age range; "+
			"give eligibility_override_reason to refer them anyway",
		asset, ageText(f.ageRange[0], f.ageRange[1]), ageText(f.ages[0], f.ages[1]))}
}

// ageText writes an inclusive age range: "18+", "16-17", "up to 15".
func ageText(lo, hi *int32) string {
	switch {
	case lo != nil && hi != nil:
		return fmt.Sprintf("%d-%d", *lo, *hi)
	case lo != nil:
		return fmt.Sprintf("%d+", *lo)
	case hi != nil:
		return fmt.Sprintf("up to %d", *hi)
	}
	return "any"
}

// created renders a referral createSQL just wrote: its timeline is its
// first entry, and the person is as the statement read them.
func (s *Service) created(ctx context.Context, f *createFacts, caller *auth.Principal) (*sparcv1.Referral, error) {
	if f.contactSealed != nil {
		var err error
		if f.person.Contact, err = s.people.OpenContact(f.contactSealed, f.referral.person); err != nil {
			return nil, err
		}
	}
	org := aip.NameOf(aip.Organisations, caller.Org)
	timeline := []*sparcv1.ReferralEvent{{Time: timestamppb.New(f.eventTime), Actor: caller.Name,
		ActorOrganisation: org, ToStatus: statusFromCode[f.referral.status]}}
	if f.overrideTime != nil {
		st := statusFromCode[f.referral.status]
		timeline = append(timeline, &sparcv1.ReferralEvent{Time: timestamppb.New(*f.overrideTime), Actor: caller.Name,
			ActorOrganisation: org, FromStatus: st, ToStatus: st, Reason: overrideReason, Note: f.overrideNote})
	}
	return s.render(withoutSummary(ctx), nil, f.referral, caller, f.person, timeline)
}

// replay answers a request id used before with the referral it created,
// if the request is the same.
func (s *Service) replay(ctx context.Context, in createInput, caller *auth.Principal) (*sparcv1.Referral, error) {
	return db.InTxResult(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) (*sparcv1.Referral, error) {
		existing, err := s.store.byRequestID(ctx, tx, caller.Org, in.reqID)
		if err != nil {
			return nil, err
		}
		if string(existing.requestHash) != string(in.hash) {
			return nil, apierr.Invalid("request_id", "was already used for a different referral; use a new request_id for a new referral")
		}
		return s.view(withoutSummary(ctx), tx, existing, caller) // as the create answered
	})
}

// GetReferral returns a referral as the caller's side may see it.
func (s *Service) GetReferral(ctx context.Context, req *sparcv1.GetReferralRequest) (*sparcv1.Referral, error) {
	var v apierr.InvalidArgument
	id := aip.ParseName(&v, "name", aip.Referrals, req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return db.InTxResult(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) (*sparcv1.Referral, error) {
		x, _, err := s.store.load(ctx, tx, id, false)
		if err != nil {
			return nil, err
		}
		return s.view(ctx, tx, x, auth.FromContext(ctx))
	})
}

type listCursor struct {
	Updated int64     `json:"u"`
	ID      uuid.UUID `json:"i"`
}

// ListReferrals lists the referrals the caller has a side on (the
// visibility rule, visibility.go), newest change first.
func (s *Service) ListReferrals(ctx context.Context, req *sparcv1.ListReferralsRequest) (*sparcv1.ListReferralsResponse, error) {
	var v apierr.InvalidArgument
	page := aip.StartPage[listCursor](&v, s.tokens, req, 20, 100)
	caller := auth.FromContext(ctx)
	// The rule's sides as SQL, chosen here for the caller's role so that
	// each is a plain index condition: the referring side, and the
	// providing side once sent (never a draft).
	referring, providing := refers(caller.Role), provides(caller.Role)
	switch req.GetSide() {
	case "":
	case "referring":
		providing = false
	case "providing":
		referring = false
	default:
		v.Add("side", "must be referring, providing or empty")
	}
	var statuses []string
	for i, st := range req.GetStatuses() {
		c, ok := statusCode[st]
		if !ok {
			v.Add(fmt.Sprintf("statuses[%d]", i), "unknown status")
		}
		statuses = append(statuses, c)
	}
	q := listQuery{org: caller.Org, referring: referring, providing: providing, statuses: statuses,
		limit: page.Size, after: page.After}
	if err := v.Err(); err != nil {
		return nil, err
	}
	resp := &sparcv1.ListReferralsResponse{}
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		resp.Referrals = nil
		list, err := s.store.list(ctx, tx, q)
		if err != nil {
			return err
		}
		list, resp.NextPageToken, err = aip.Next(page, list, func(x *referralRow) listCursor {
			return listCursor{Updated: x.updated.UnixMicro(), ID: x.id}
		})
		if err != nil {
			return err
		}
		// The page's names in one query per owner store, not one per row.
		l, err := s.lookup(ctx, tx, list, caller)
		if err != nil {
			return err
		}
		ctx := withLookups(ctx, l)
		for _, x := range list {
			r, err := s.view(ctx, tx, x, caller)
			if errors.Is(err, apierr.ErrNotFound) {
				continue // the rule refuses what the query let through: never shown
			}
			if err != nil {
				return err
			}
			resp.Referrals = append(resp.Referrals, r)
		}
		return nil
	})
	return resp, err
}

// TransitionReferral moves a referral along the status model.
func (s *Service) TransitionReferral(ctx context.Context, req *sparcv1.TransitionReferralRequest) (*sparcv1.Referral, error) {
	var v apierr.InvalidArgument
	id := aip.ParseName(&v, "name", aip.Referrals, req.GetName())
	to, ok := statusCode[req.GetToStatus()]
	if !ok {
		v.Add("to_status", "must be a referral status")
	}
	if to != "" && len(reasons[to]) > 0 && !validReason(to, req.GetReason()) {
		v.Add("reason", "moving to %s needs a reason, one of: %s", to, strings.Join(reasons[to], ", "))
	}
	if len(reasons[to]) == 0 && req.GetReason() != "" {
		v.Add("reason", "%s takes no reason", to)
	}
	aip.Text(&v, "note", req.GetNote(), false, 2000)
	aip.CheckEtag(&v, "etag", req.GetEtag())
	if err := v.Err(); err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	return s.change(ctx, id, req.GetEtag(), func(tx pgx.Tx, x *referralRow, sd side) error {
		if !canMove(x.status, to, sd) {
			return &apierr.PreconditionError{Type: "INVALID_TRANSITION", Subject: aip.Name(aip.Referrals, id),
				Description: fmt.Sprintf("the %s cannot move a referral from %s to %s; allowed now: %s",
					sideName(sd), x.status, to, statusNames(allowed(x.status, sd)))}
		}
		holds, reason := x.holdsPlace, req.GetReason()
		if to == "accepted" {
			taken, capacity, err := s.store.takePlace(ctx, tx, x.asset)
			switch {
			case err != nil:
				return err
			case taken:
				holds = true
			case x.status == "waitlisted":
				name := aip.Name(aip.Assets, x.asset)
				return &apierr.PreconditionError{Type: "NO_PLACE_LEFT", Subject: name,
					Description: fmt.Sprintf("all %d places of %s are taken; the referral keeps its turn on the waiting list", *capacity, name)}
			default:
				// Accepting a full asset puts the referral on its waiting
				// list; the next freed place is offered in order.
				to, reason = "waitlisted", "no_place_left"
			}
		}
		if err := s.store.transition(ctx, tx, x, caller, to, reason, req.GetNote(), holds); err != nil {
			return err
		}
		if terminal[to] && x.holdsPlace {
			// The place goes back, to the first on the waiting list if
			// any, in this transaction.
			if _, err := s.store.releasePlace(ctx, tx, x.id); err != nil {
				return err
			}
		}
		if x.status == "draft" && to == "requested" {
			return s.store.markOverrideSent(ctx, tx, x.id, caller)
		}
		return nil
	})
}

// change makes a change to referral id in a transaction: it loads the
// referral for the change (refusing a stale etag), lets apply write it,
// and answers with the referral as it now is, as the caller may see it;
// watchers hear of it once committed.
func (s *Service) change(ctx context.Context, id uuid.UUID, etag string, apply func(tx pgx.Tx, x *referralRow, sd side) error) (*sparcv1.Referral, error) {
	out, err := db.InTxResult(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) (*sparcv1.Referral, error) {
		x, sd, err := s.store.loadForChange(ctx, tx, id, etag)
		if err != nil {
			return nil, err
		}
		if err := apply(tx, x, sd); err != nil {
			return nil, err
		}
		if x, _, err = s.store.load(ctx, tx, id, false); err != nil {
			return nil, err
		}
		return s.view(ctx, tx, x, auth.FromContext(ctx))
	})
	if err == nil {
		s.hub.Changed()
	}
	return out, err
}

// RecordOutcome records attendance and wellbeing measures (either side).
func (s *Service) RecordOutcome(ctx context.Context, req *sparcv1.RecordOutcomeRequest) (*sparcv1.Referral, error) {
	var v apierr.InvalidArgument
	id := aip.ParseName(&v, "name", aip.Referrals, req.GetName())
	if req.SessionsAttended != nil && (req.GetSessionsAttended() < 0 || req.GetSessionsAttended() > 1000) {
		v.Add("sessions_attended", "must be 0 to 1000")
	}
	validMeasure(req.GetBaseline(), "baseline", &v)
	validMeasure(req.GetFollowUp(), "follow_up", &v)
	aip.Text(&v, "what_changed", req.GetWhatChanged(), false, 2000)
	aip.CheckEtag(&v, "etag", req.GetEtag())
	if req.SessionsAttended == nil && req.GetBaseline() == nil && req.GetFollowUp() == nil && req.GetWhatChanged() == "" {
		v.Add("sessions_attended", "give attendance, a measure or what changed")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	return s.change(ctx, id, req.GetEtag(), func(tx pgx.Tx, x *referralRow, _ side) error {
		if x.status == "draft" || x.status == "entered_in_error" {
			return &apierr.PreconditionError{Type: "NO_OUTCOME_YET", Subject: aip.Name(aip.Referrals, id),
				Description: fmt.Sprintf("a referral in status %s has no outcome to record", x.status)}
		}
		attended := x.attended
		if req.SessionsAttended != nil {
			attended = req.GetSessionsAttended()
		}
		return s.store.recordOutcome(ctx, tx, x, caller, attended, req.GetBaseline(), req.GetFollowUp(), req.GetWhatChanged())
	})
}
