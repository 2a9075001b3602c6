// Package referrals is the closed loop of social prescribing: people held
// by a link-worker service, referrals from them to community assets, the
// Gravity Project status model with a timeline of every change, outcomes
// (attendance, ONS4, SWEMWBS), a transactional outbox behind the live
// inbox (WatchReferrals), aggregate statistics with small-number
// suppression, and retention. Every row is guarded twice: by the service
// (need-to-know views) and by row-level security on the tables.
package referrals

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/etag"
	"github.com/sparc-network/sparc/internal/pagetoken"
	"github.com/sparc-network/sparc/internal/vocab"
)

// Service implements ReferralServiceServer.
type Service struct {
	sparcv1.UnimplementedReferralServiceServer
	pool   *pgxpool.Pool
	people *People
	tokens *pagetoken.Signer
	hub    *Hub
}

// NewService returns the referral service. hub wakes watchers.
func NewService(pool *pgxpool.Pool, people *People, tokens *pagetoken.Signer, hub *Hub) *Service {
	return &Service{pool: pool, people: people, tokens: tokens, hub: hub}
}

var priorityCode = map[sparcv1.ReferralPriority]string{
	sparcv1.ReferralPriority_REFERRAL_PRIORITY_UNSPECIFIED: "routine",
	sparcv1.ReferralPriority_REFERRAL_PRIORITY_ROUTINE:     "routine",
	sparcv1.ReferralPriority_REFERRAL_PRIORITY_URGENT:      "urgent",
}

const referralColumns = `r.id, r.person_id, r.referring_org, r.link_worker, r.asset_id, r.provider_org, r.reasons,
	r.provider_note, r.priority, r.status, r.status_reason, r.shared_person, r.sessions_attended, r.first_attended_at,
	r.baseline_ons4, r.baseline_swemwbs, r.baseline_at, r.followup_ons4, r.followup_swemwbs, r.followup_at,
	r.what_changed, r.created_at, r.updated_at, r.version, r.holds_place, r.request_hash, r.requested_at IS NOT NULL`

type referralRow struct {
	id, person, referrer, asset uuid.UUID
	provider                    *uuid.UUID
	linkWorker                  string
	reasons                     []string
	note, priority, status      string
	reason                      string
	shared                      []byte
	attended                    int32
	firstAttended               *time.Time
	bOns4, bSwem, fOns4, fSwem  []int16
	bAt, fAt                    *time.Time
	whatChanged                 string
	created, updated            time.Time
	version                     int64
	holdsPlace                  bool
	requestHash                 []byte
	sent                        bool // ever requested: a draft never sent is the referrer's alone
}

func scanReferral(r pgx.Row) (*referralRow, error) {
	var x referralRow
	err := r.Scan(&x.id, &x.person, &x.referrer, &x.linkWorker, &x.asset, &x.provider, &x.reasons, &x.note,
		&x.priority, &x.status, &x.reason, &x.shared, &x.attended, &x.firstAttended, &x.bOns4, &x.bSwem, &x.bAt,
		&x.fOns4, &x.fSwem, &x.fAt, &x.whatChanged, &x.created, &x.updated, &x.version, &x.holdsPlace, &x.requestHash, &x.sent)
	return &x, err
}

func (x *referralRow) etag() string { return etag.Of(x.id, x.version, x.updated) }

// parties is what the visibility rule needs of the referral.
func (x *referralRow) parties() parties {
	return parties{referrer: x.referrer, provider: x.provider, sent: x.sent}
}

// sideOf says how the caller relates to the referral (the visibility
// rule, visibility.go).
func (x *referralRow) sideOf(p *auth.Principal) side { return sideFor(p.Org, p.Role, x.parties()) }

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
		if shared, consent, err = s.people.openShared(x.shared); err != nil {
			return nil, err
		}
	}
	d := disclose(caller.Org, caller.Role, x.parties(), consent)
	if d.side == 0 {
		return nil, fmt.Errorf("referral %s: %w", x.id, apierr.ErrNotFound)
	}
	r := &sparcv1.Referral{
		Id: x.id.String(), PersonId: x.person.String(), ReferringOrganisationId: x.referrer.String(),
		LinkWorker: x.linkWorker, AssetId: x.asset.String(), Reasons: x.reasons, ProviderNote: x.note,
		Priority: priorityFromCode(x.priority), Status: statusFromCode[x.status], StatusReason: x.reason,
		CreateTime: timestamppb.New(x.created), UpdateTime: timestamppb.New(x.updated), Etag: x.etag(),
	}
	if x.provider != nil {
		r.ProviderOrganisationId = x.provider.String()
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
			p, err = s.people.get(ctx, tx, x.person, false)
		}
		if err == nil {
			r.Person = &sparcv1.SharedPerson{DisplayName: p.GetDisplayName(), AgeBand: p.GetAgeBand(),
				ContactMethod: p.GetContactMethod(), Contact: p.GetContact(), WhatMatters: p.GetWhatMatters()}
		} else if !errors.Is(err, apierr.ErrNotFound) { // purged people simply have no details
			return nil, err
		}
	} else {
		r.Person = shared
	}
	if timeline == nil {
		rows, err := tx.Query(ctx, timelineSQL, x.id)
		if err != nil {
			return nil, fmt.Errorf("reading timeline: %w", err)
		}
		if timeline, err = scanTimeline(rows); err != nil {
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
		if !d.freeText && e.GetNote() != "" {
			e = proto.Clone(e).(*sparcv1.ReferralEvent)
			e.Note = ""
		}
		r.Timeline = append(r.Timeline, e)
	}
	if !d.freeText {
		r.ProviderNote, o.WhatChanged = "", ""
	}
	return r, nil
}

const timelineSQL = `SELECT time, actor, COALESCE(actor_org::text, ''), from_status, to_status, reason, note
	FROM referral_events WHERE referral_id = $1 ORDER BY id`

func scanTimeline(rows pgx.Rows) ([]*sparcv1.ReferralEvent, error) {
	defer rows.Close()
	var out []*sparcv1.ReferralEvent
	for rows.Next() {
		var e sparcv1.ReferralEvent
		var t time.Time
		var from, to string
		if err := rows.Scan(&t, &e.Actor, &e.ActorOrganisationId, &from, &to, &e.Reason, &e.Note); err != nil {
			return nil, err
		}
		e.Time, e.FromStatus, e.ToStatus = timestamppb.New(t), statusFromCode[from], statusFromCode[to]
		out = append(out, &e)
	}
	return out, rows.Err()
}

func priorityFromCode(c string) sparcv1.ReferralPriority {
	if c == "urgent" {
		return sparcv1.ReferralPriority_REFERRAL_PRIORITY_URGENT
	}
	return sparcv1.ReferralPriority_REFERRAL_PRIORITY_ROUTINE
}

func parseUUID(field, s, prefix string, v *apierr.InvalidArgument) uuid.UUID {
	id, err := uuid.Parse(strings.TrimPrefix(s, prefix))
	if err != nil {
		v.Add(field, "is not an id (a UUID)")
	}
	return id
}

// CreateReferral sends a person to an asset. It is idempotent by
// request_id: a retry with the same id and request returns the first
// referral; the same id with a different request is refused.
func (s *Service) CreateReferral(ctx context.Context, req *sparcv1.CreateReferralRequest) (*sparcv1.Referral, error) {
	var v apierr.InvalidArgument
	if rid := req.GetRequestId(); rid == "" || len(rid) > 100 {
		v.Add("request_id", "is required (1 to 100 characters, e.g. a UUID); it makes retries safe")
	}
	personID := parseUUID("person_id", req.GetPersonId(), "people/", &v)
	assetID := parseUUID("asset_id", req.GetAssetId(), "assets/", &v)
	for i, r := range req.GetReasons() {
		if !vocab.IsCategory(r) {
			v.Add(fmt.Sprintf("reasons[%d]", i), "unknown category %q", r)
		}
	}
	if utf8.RuneCountInString(req.GetProviderNote()) > 2000 {
		v.Add("provider_note", "is longer than 2,000 characters")
	}
	if _, ok := priorityCode[req.GetPriority()]; !ok {
		v.Add("priority", "unknown priority")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	fingerprint := proto.Clone(req).(*sparcv1.CreateReferralRequest)
	fingerprint.RequestId = ""
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(fingerprint)
	hash := sha256.Sum256(b)
	status := "requested"
	if req.GetDraft() {
		status = "draft"
	}
	reasons := req.GetReasons()
	if reasons == nil {
		reasons = []string{}
	}

	// A lost connection may hide a commit; retrying is safe because the
	// request id finds the first result.
	ctx = db.Idempotent(ctx)
	out, err := s.createFast(ctx, req, caller, personID, assetID, status, reasons, hash[:])
	if err == nil && out == nil {
		out, err = s.createSlow(ctx, req, caller, personID, assetID, status, reasons, hash[:])
	}
	if err == nil {
		s.hub.Changed()
	}
	return out, err
}

// CreateSQL is CreateReferral's common case as one statement: the new
// referral, its first timeline entry, its outbox row and the call's audit
// event, written only if the person exists with a provider view and the
// asset accepts referrals, and the request id is new. It returns one row
// when it wrote them, none otherwise (and then the caller finds out why).
// The person is locked FOR SHARE so that a concurrent consent change
// either waits for this referral (and rewrites its copy of the view) or
// goes first (and this copies the new view).
//
// Parameters: $1 id, $2 person, $3 referring organisation, $4 link worker,
// $5 asset, $6 reasons, $7 provider note, $8 priority, $9 status, $10
// request id, $11 request hash; the audit event's principal, organisation,
// role, method, resource, request id and peer ($12–$18) and whether to
// write it ($19). Exported for the benchmark, which runs it as the limit.
const CreateSQL = `WITH p AS (
		SELECT id, provider_view, display_name, age_band, contact_method, contact_sealed, what_matters FROM people
		WHERE id = $2 AND purged_at IS NULL AND provider_view IS NOT NULL FOR SHARE),
	a AS (SELECT owner_organisation FROM assets
		WHERE id = $5 AND status = 'active' AND accepting_referrals AND owner_organisation IS NOT NULL),
	ins AS (INSERT INTO referrals (id, person_id, referring_org, link_worker, asset_id, provider_org, reasons,
			provider_note, priority, status, shared_person, request_id, request_hash, requested_at)
		SELECT $1, p.id, $3, $4, $5, a.owner_organisation, $6, $7, $8, $9, p.provider_view, $10, $11,
			CASE WHEN $9 = 'requested' THEN clock_timestamp() END
		FROM p, a
		ON CONFLICT (referring_org, request_id) DO NOTHING
		RETURNING provider_org, created_at, updated_at, version),
	ev AS (INSERT INTO referral_events (referral_id, referring_org, provider_org, actor, actor_org, to_status)
		SELECT $1, $3, ins.provider_org, $4, $3, $9 FROM ins RETURNING time),
	ob AS (INSERT INTO referral_outbox (referral_id, referring_org, provider_org, type, to_status)
		SELECT $1, $3, ins.provider_org, 'created', $9 FROM ins),
	au AS (INSERT INTO audit_events (principal, organisation_id, role, method, resource, outcome, code, request_id, peer)
		SELECT $12, NULLIF($13, '')::uuid, $14, $15, $16, 'ok', 'OK', $17, $18 FROM ins WHERE $19)
	SELECT ins.provider_org, ins.created_at, ins.updated_at, ins.version, ev.time,
		p.display_name, p.age_band, p.contact_method, p.contact_sealed, p.what_matters
	FROM ins, ev, p`

// createFast runs CreateSQL in one round trip. It returns nil (and no
// error) when the statement wrote nothing: a replayed request id, a
// missing person or asset, or a person without a provider view yet.
func (s *Service) createFast(ctx context.Context, req *sparcv1.CreateReferralRequest, caller *auth.Principal,
	personID, assetID uuid.UUID, status string, reasons []string, hash []byte) (*sparcv1.Referral, error) {
	rec, audit := auth.AuditFrom(ctx)
	id := uuid.New()
	var (
		x        *referralRow
		person   *sparcv1.Person
		evTime   time.Time
		provider uuid.UUID
	)
	err := db.Pipeline(ctx, s.pool, func(b *pgx.Batch) func() bool {
		x, person = nil, nil
		b.Queue(CreateSQL, pgUUID(id), pgUUID(personID), caller.Org, caller.Name, pgUUID(assetID), reasons,
			req.GetProviderNote(), priorityCode[req.GetPriority()], status, req.GetRequestId(), hash,
			rec.Principal, rec.Org, rec.Role, rec.Method, rec.Resource, rec.RequestID, rec.Peer, audit,
		).QueryRow(func(row pgx.Row) error {
			r := &referralRow{id: id, person: personID, linkWorker: caller.Name, asset: assetID, reasons: reasons,
				note: req.GetProviderNote(), priority: priorityCode[req.GetPriority()], status: status,
				requestHash: hash, sent: status == "requested"}
			// What the referrer's view shows of the person, no more (the
			// NHS number stays sealed).
			var method string
			var contact []byte
			p := &sparcv1.Person{Id: personID.String()}
			err := row.Scan(&provider, &r.created, &r.updated, &r.version, &evTime,
				&p.DisplayName, &p.AgeBand, &method, &contact, &p.WhatMatters)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				return nil
			case err != nil:
				return fmt.Errorf("inserting referral: %w", err)
			}
			p.ContactMethod = contactFromCode[method]
			if contact != nil {
				if p.Contact, err = s.people.openContact(contact, personID); err != nil {
					return err
				}
			}
			r.referrer, r.provider = uuid.MustParse(caller.Org), &provider
			x, person = r, p
			return nil
		})
		return func() bool { return x != nil } // the audit event was written with the referral
	})
	if err != nil || x == nil {
		return nil, err
	}
	timeline := []*sparcv1.ReferralEvent{{Time: timestamppb.New(evTime), Actor: caller.Name,
		ActorOrganisationId: caller.Org, ToStatus: statusFromCode[status]}}
	return s.render(ctx, nil, x, caller, person, timeline)
}

// createSlow is CreateReferral in full: it answers a replayed request id
// with the first result, names what is missing or not accepting, builds a
// provider view the person lacks, and settles a race between two calls
// with the same request id.
func (s *Service) createSlow(ctx context.Context, req *sparcv1.CreateReferralRequest, caller *auth.Principal,
	personID, assetID uuid.UUID, status string, reasons []string, hash []byte) (*sparcv1.Referral, error) {
	var out *sparcv1.Referral
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		var (
			existing, created *referralRow
			person            *sparcv1.Person
			provider          *uuid.UUID
			assetStatus       string
			accepting, found  bool
			timeline          []*sparcv1.ReferralEvent
		)
		b := &pgx.Batch{}
		b.Queue(`SELECT `+referralColumns+` FROM referrals r WHERE r.referring_org = $1 AND r.request_id = $2`,
			caller.Org, req.GetRequestId()).QueryRow(func(row pgx.Row) error {
			x, err := scanReferral(row)
			if err == nil {
				existing = x
			}
			return ignoreNoRows(err)
		})
		b.Queue(`SELECT `+personColumns+` FROM people WHERE id = $1 AND purged_at IS NULL FOR SHARE`, pgUUID(personID)).QueryRow(func(row pgx.Row) error {
			p, err := s.people.scan(row)
			if err == nil {
				person = p
			}
			return ignoreNoRows(err)
		})
		b.Queue(`SELECT owner_organisation, status, accepting_referrals FROM assets WHERE id = $1`, pgUUID(assetID)).QueryRow(func(row pgx.Row) error {
			err := row.Scan(&provider, &assetStatus, &accepting)
			found = err == nil
			return ignoreNoRows(err)
		})
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("reading referral inputs: %w", err)
		}
		if existing == nil {
			switch {
			case person == nil:
				return fmt.Errorf("person %s: %w", personID, apierr.ErrNotFound)
			case !found:
				return fmt.Errorf("asset %s: %w", assetID, apierr.ErrNotFound)
			case assetStatus != "active" || !accepting || provider == nil:
				return &apierr.PreconditionError{Type: "ASSET_NOT_ACCEPTING", Subject: "assets/" + assetID.String(),
					Description: fmt.Sprintf("asset %s is not accepting referrals (status %s, accepting_referrals %v)", assetID, assetStatus, accepting)}
			}
			shared, err := s.people.shared(person)
			if err != nil {
				return err
			}
			id := uuid.New()
			b := &pgx.Batch{}
			// The event, outbox row and timeline only exist when this
			// insert won: they read the referral by its new id.
			b.Queue(`INSERT INTO referrals AS r (id, person_id, referring_org, link_worker, asset_id, provider_org,
				reasons, provider_note, priority, status, shared_person, request_id, request_hash, requested_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, CASE WHEN $10 = 'requested' THEN clock_timestamp() END)
				ON CONFLICT (referring_org, request_id) DO NOTHING RETURNING `+referralColumns,
				pgUUID(id), pgUUID(personID), caller.Org, caller.Name, pgUUID(assetID), pgUUID(*provider), reasons, req.GetProviderNote(),
				priorityCode[req.GetPriority()], status, shared, req.GetRequestId(), hash[:]).QueryRow(func(row pgx.Row) error {
				x, err := scanReferral(row)
				if err == nil {
					created = x
				}
				return ignoreNoRows(err)
			})
			// People created before provider views were kept get theirs.
			b.Queue(`UPDATE people SET provider_view = $2 WHERE id = $1 AND provider_view IS NULL`, pgUUID(personID), shared)
			// A new referral's timeline is this one entry.
			queueEvent(b, id, caller, "", status, "", "", "created", func(t time.Time) {
				timeline = []*sparcv1.ReferralEvent{{Time: timestamppb.New(t), Actor: caller.Name, ActorOrganisationId: caller.Org,
					ToStatus: statusFromCode[status]}}
			})
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return fmt.Errorf("inserting referral: %w", err)
			}
			existing = created
			if created == nil { // a concurrent call with the same request id won
				if existing, err = scanReferral(tx.QueryRow(ctx, `SELECT `+referralColumns+` FROM referrals r
					WHERE r.referring_org = $1 AND r.request_id = $2`, caller.Org, req.GetRequestId())); err != nil {
					return err
				}
			}
		}
		if string(existing.requestHash) != string(hash[:]) {
			return apierr.Invalid("request_id", "was already used for a different referral; use a new request_id for a new referral")
		}
		if person != nil && person.GetId() != existing.person.String() {
			person = nil
		}
		var err error
		out, err = s.render(ctx, tx, existing, caller, person, timeline)
		return err
	})
	return out, err
}

// pgUUID passes an id as its 16 bytes: uuid.UUID is a driver.Valuer,
// which pgx encodes by formatting text and planning the encoding again on
// every call (a tenth of CreateReferral's CPU in the benchmark profile).
func pgUUID(u uuid.UUID) [16]byte { return u }

func ignoreNoRows(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	return err
}

// eventSQL records one change: the timeline entry and the outbox row
// (only if the referral exists in this transaction). It returns the time
// of the entry, in one statement. Watchers are woken after commit
// (Hub.Changed).
const eventSQL = `WITH r AS (SELECT referring_org, provider_org FROM referrals WHERE id = $1),
	ev AS (INSERT INTO referral_events (referral_id, referring_org, provider_org, actor, actor_org, from_status, to_status, reason, note)
	       SELECT $1, r.referring_org, r.provider_org, $2, $3, $4, $5, $6, $7 FROM r RETURNING time),
	ob AS (INSERT INTO referral_outbox (referral_id, referring_org, provider_org, type, from_status, to_status)
	       SELECT $1, r.referring_org, r.provider_org, $8, $4, $5 FROM r)
	SELECT ev.time FROM ev`

// queueEvent adds one change (eventSQL) to a batch; done receives the
// time of its timeline entry.
func queueEvent(b *pgx.Batch, id uuid.UUID, p *auth.Principal, from, to, reason, note, kind string, done func(time.Time)) {
	b.Queue(eventSQL, pgUUID(id), p.Name, p.Org, from, to, reason, note, kind).QueryRow(func(row pgx.Row) error {
		var t time.Time
		switch err := row.Scan(&t); {
		case errors.Is(err, pgx.ErrNoRows):
			return nil // no such referral in this transaction: a create that lost to a concurrent one
		case err != nil:
			return fmt.Errorf("recording referral change: %w", err)
		}
		if done != nil {
			done(t)
		}
		return nil
	})
}

// appendEvent records one change (see queueEvent) in one round trip.
func appendEvent(ctx context.Context, tx pgx.Tx, id uuid.UUID, p *auth.Principal, from, to, reason, note, kind string) error {
	b := &pgx.Batch{}
	queueEvent(b, id, p, from, to, reason, note, kind, nil)
	return tx.SendBatch(ctx, b).Close()
}

// load reads a referral for the caller, locking it for a change. Rows the
// caller's organisation is not party to are invisible (row-level security)
// and come back as not found.
func (s *Service) load(ctx context.Context, tx pgx.Tx, id uuid.UUID, lock bool) (*referralRow, side, error) {
	q := `SELECT ` + referralColumns + ` FROM referrals r WHERE r.id = $1`
	if lock {
		q += ` FOR UPDATE`
	}
	x, err := scanReferral(tx.QueryRow(ctx, q, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, fmt.Errorf("referral %s: %w", id, apierr.ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	sd := x.sideOf(auth.FromContext(ctx))
	if sd == 0 {
		return nil, 0, fmt.Errorf("referral %s: %w", id, apierr.ErrNotFound)
	}
	return x, sd, nil
}

// loadForChange is load with the row locked for a change, which must be
// to the version the caller saw when it sends an etag.
func (s *Service) loadForChange(ctx context.Context, tx pgx.Tx, id uuid.UUID, etag string) (*referralRow, side, error) {
	x, sd, err := s.load(ctx, tx, id, true)
	if err == nil && etag != "" && etag != x.etag() {
		return nil, 0, fmt.Errorf("referral %s: %w", id, apierr.ErrStaleEtag)
	}
	return x, sd, err
}

// GetReferral returns a referral as the caller's side may see it.
func (s *Service) GetReferral(ctx context.Context, req *sparcv1.GetReferralRequest) (*sparcv1.Referral, error) {
	var v apierr.InvalidArgument
	id := parseUUID("id", req.GetId(), "referrals/", &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *sparcv1.Referral
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		x, _, err := s.load(ctx, tx, id, false)
		if err != nil {
			return err
		}
		out, err = s.view(ctx, tx, x, auth.FromContext(ctx))
		return err
	})
	return out, err
}

type listCursor struct {
	Updated int64     `json:"u"`
	ID      uuid.UUID `json:"i"`
}

// ListReferrals lists the referrals the caller has a side on (the
// visibility rule, visibility.go), newest change first.
func (s *Service) ListReferrals(ctx context.Context, req *sparcv1.ListReferralsRequest) (*sparcv1.ListReferralsResponse, error) {
	var v apierr.InvalidArgument
	limit := pagetoken.Size(req.GetPageSize(), 20, 100, &v)
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
	var sides []string
	if referring {
		sides = append(sides, "r.referring_org = $1")
	}
	if providing {
		sides = append(sides, "(r.provider_org = $1 AND r.requested_at IS NOT NULL)")
	}
	if len(sides) == 0 {
		// No side: nothing (still an audited call; $1 keeps its type).
		sides = append(sides, "(false AND r.referring_org = $1)")
	}
	where := []string{"(" + strings.Join(sides, " OR ") + ")"}
	args := []any{caller.Org}
	var statuses []string
	for i, st := range req.GetStatuses() {
		c, ok := statusCode[st]
		if !ok {
			v.Add(fmt.Sprintf("statuses[%d]", i), "unknown status")
		}
		statuses = append(statuses, c)
	}
	if len(statuses) > 0 {
		args = append(args, statuses)
		where = append(where, "r.status = ANY($"+strconv.Itoa(len(args))+")")
	}
	hash := pagetoken.QueryHash(req, func(r *sparcv1.ListReferralsRequest) { r.PageToken, r.PageSize = "", 0 })
	if req.GetPageToken() != "" {
		var c listCursor
		if err := s.tokens.Decode(req.GetPageToken(), hash, &c); err != nil {
			v.Add("page_token", "%v", err)
		}
		args = append(args, time.UnixMicro(c.Updated), c.ID)
		where = append(where, fmt.Sprintf("(r.updated_at, r.id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	resp := &sparcv1.ListReferralsResponse{}
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		resp.Referrals = nil
		rows, err := tx.Query(ctx, `SELECT `+referralColumns+` FROM referrals r WHERE `+strings.Join(where, " AND ")+
			` ORDER BY r.updated_at DESC, r.id DESC LIMIT `+strconv.Itoa(limit+1), args...)
		if err != nil {
			return fmt.Errorf("listing referrals: %w", err)
		}
		var list []*referralRow
		for rows.Next() {
			x, err := scanReferral(rows)
			if err != nil {
				rows.Close()
				return err
			}
			list = append(list, x)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(list) > limit {
			list = list[:limit]
			last := list[limit-1]
			if resp.NextPageToken, err = s.tokens.Encode(hash, listCursor{Updated: last.updated.UnixMicro(), ID: last.id}); err != nil {
				return err
			}
		}
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
	id := parseUUID("id", req.GetId(), "referrals/", &v)
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
	if utf8.RuneCountInString(req.GetNote()) > 2000 {
		v.Add("note", "is longer than 2,000 characters")
	}
	if e := req.GetEtag(); e != "" && len(e) != 16 {
		v.Add("etag", "%q is not an etag returned by this API", e)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	var out *sparcv1.Referral
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		x, sd, err := s.loadForChange(ctx, tx, id, req.GetEtag())
		if err != nil {
			return err
		}
		if !canMove(x.status, to, sd) {
			return &apierr.PreconditionError{Type: "INVALID_TRANSITION", Subject: "referrals/" + id.String(),
				Description: fmt.Sprintf("the %s cannot move a referral from %s to %s; allowed now: %s",
					sideName(sd), x.status, to, statusNames(allowed(x.status, sd)))}
		}
		holds := x.holdsPlace
		switch {
		case to == "accepted":
			if err := takePlace(ctx, tx, x.asset); err != nil {
				return err
			}
			holds = true
		case terminal[to] && x.holdsPlace:
			if _, err := tx.Exec(ctx, `UPDATE asset_places SET taken = taken - 1 WHERE asset_id = $1 AND taken > 0`, x.asset); err != nil {
				return err
			}
			holds = false
		}
		if _, err := tx.Exec(ctx, `UPDATE referrals SET status = $2, status_reason = $3, holds_place = $4,
			requested_at = CASE WHEN $2 = 'requested' AND requested_at IS NULL THEN clock_timestamp() ELSE requested_at END,
			accepted_at = CASE WHEN $2 = 'accepted' AND accepted_at IS NULL THEN clock_timestamp() ELSE accepted_at END,
			closed_at = CASE WHEN $5 THEN clock_timestamp() ELSE NULL END,
			version = version + 1, updated_at = clock_timestamp() WHERE id = $1`,
			id, to, req.GetReason(), holds, terminal[to]); err != nil {
			return fmt.Errorf("updating referral: %w", err)
		}
		if err := appendEvent(ctx, tx, id, caller, x.status, to, req.GetReason(), req.GetNote(), "status_changed"); err != nil {
			return err
		}
		x, _, err = s.load(ctx, tx, id, false)
		if err != nil {
			return err
		}
		out, err = s.view(ctx, tx, x, auth.FromContext(ctx))
		return err
	})
	if err == nil {
		s.hub.Changed()
	}
	return out, err
}

// takePlace takes one place on an asset that counts places; an asset
// without a capacity has no limit.
func takePlace(ctx context.Context, tx pgx.Tx, asset uuid.UUID) error {
	var capacity *int32
	if err := tx.QueryRow(ctx, `SELECT capacity FROM assets WHERE id = $1`, asset).Scan(&capacity); err != nil {
		return fmt.Errorf("reading capacity: %w", err)
	}
	if capacity == nil {
		return nil
	}
	tag, err := tx.Exec(ctx, `INSERT INTO asset_places AS p (asset_id, taken) SELECT $1, 1 WHERE $2 > 0
		ON CONFLICT (asset_id) DO UPDATE SET taken = p.taken + 1 WHERE p.taken < $2`, asset, *capacity)
	if err != nil {
		return fmt.Errorf("taking a place: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return &apierr.PreconditionError{Type: "NO_PLACE_LEFT", Subject: "assets/" + asset.String(),
			Description: fmt.Sprintf("all %d places of asset %s are taken; keep the referral requested as a waiting list", *capacity, asset)}
	}
	return nil
}

func validMeasure(m *sparcv1.WellbeingMeasure, field string, v *apierr.InvalidArgument) {
	if m == nil {
		return
	}
	if n := len(m.GetOns4()); n != 0 && n != 4 {
		v.Add(field+".ons4", "needs the four ONS4 items, got %d", n)
	}
	for i, x := range m.GetOns4() {
		if x < 0 || x > 10 {
			v.Add(fmt.Sprintf("%s.ons4[%d]", field, i), "must be 0 to 10")
		}
	}
	if n := len(m.GetSwemwbs()); n != 0 && n != 7 {
		v.Add(field+".swemwbs", "needs the seven SWEMWBS items, got %d", n)
	}
	for i, x := range m.GetSwemwbs() {
		if x < 1 || x > 5 {
			v.Add(fmt.Sprintf("%s.swemwbs[%d]", field, i), "must be 1 to 5")
		}
	}
	if len(m.GetOns4()) == 0 && len(m.GetSwemwbs()) == 0 {
		v.Add(field, "has no measures")
	}
}

func smallints(xs []int32) []int16 {
	if len(xs) == 0 {
		return nil
	}
	out := make([]int16, len(xs))
	for i, x := range xs {
		out[i] = int16(x)
	}
	return out
}

// RecordOutcome records attendance and wellbeing measures (either side).
func (s *Service) RecordOutcome(ctx context.Context, req *sparcv1.RecordOutcomeRequest) (*sparcv1.Referral, error) {
	var v apierr.InvalidArgument
	id := parseUUID("id", req.GetId(), "referrals/", &v)
	if req.SessionsAttended != nil && (req.GetSessionsAttended() < 0 || req.GetSessionsAttended() > 1000) {
		v.Add("sessions_attended", "must be 0 to 1000")
	}
	validMeasure(req.GetBaseline(), "baseline", &v)
	validMeasure(req.GetFollowUp(), "follow_up", &v)
	if utf8.RuneCountInString(req.GetWhatChanged()) > 2000 {
		v.Add("what_changed", "is longer than 2,000 characters")
	}
	if req.SessionsAttended == nil && req.GetBaseline() == nil && req.GetFollowUp() == nil && req.GetWhatChanged() == "" {
		v.Add("sessions_attended", "give attendance, a measure or what changed")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	var out *sparcv1.Referral
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		x, _, err := s.loadForChange(ctx, tx, id, req.GetEtag())
		if err != nil {
			return err
		}
		if x.status == "draft" || x.status == "entered_in_error" {
			return &apierr.PreconditionError{Type: "NO_OUTCOME_YET", Subject: "referrals/" + id.String(),
				Description: fmt.Sprintf("a referral in status %s has no outcome to record", x.status)}
		}
		attended := x.attended
		if req.SessionsAttended != nil {
			attended = req.GetSessionsAttended()
		}
		b, f := req.GetBaseline(), req.GetFollowUp()
		_, err = tx.Exec(ctx, `UPDATE referrals SET sessions_attended = $2,
			first_attended_at = CASE WHEN $2 > 0 AND first_attended_at IS NULL THEN clock_timestamp() ELSE first_attended_at END,
			baseline_ons4 = COALESCE($3, baseline_ons4), baseline_swemwbs = COALESCE($4, baseline_swemwbs),
			baseline_at = CASE WHEN $5 THEN clock_timestamp() ELSE baseline_at END,
			followup_ons4 = COALESCE($6, followup_ons4), followup_swemwbs = COALESCE($7, followup_swemwbs),
			followup_at = CASE WHEN $8 THEN clock_timestamp() ELSE followup_at END,
			what_changed = CASE WHEN $9 <> '' THEN $9 ELSE what_changed END,
			version = version + 1, updated_at = clock_timestamp() WHERE id = $1`,
			id, attended, smallints(b.GetOns4()), smallints(b.GetSwemwbs()), b != nil,
			smallints(f.GetOns4()), smallints(f.GetSwemwbs()), f != nil, req.GetWhatChanged())
		if err != nil {
			return fmt.Errorf("recording outcome: %w", err)
		}
		if err := appendEvent(ctx, tx, id, caller, x.status, x.status, "", "", "outcome_recorded"); err != nil {
			return err
		}
		if x, _, err = s.load(ctx, tx, id, false); err != nil {
			return err
		}
		out, err = s.view(ctx, tx, x, auth.FromContext(ctx))
		return err
	})
	if err == nil {
		s.hub.Changed()
	}
	return out, err
}
