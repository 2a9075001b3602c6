package referrals

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/etag"
	"github.com/sparc-network/sparc/internal/outbox"
	"github.com/sparc-network/sparc/internal/people"
)

// The referrals, referral_events and referral_outbox tables and the
// places taken on assets (asset_places) are written here only. Creating a
// referral reads the person's provider view and the asset's owner in the
// same statement (one round trip for the common case).

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

// Statements of the status model and outcomes ($1 is the referral).
const (
	loadReferralSQL  = `SELECT ` + referralColumns + ` FROM referrals r WHERE r.id = $1`
	lockReferralSQL  = loadReferralSQL + ` FOR UPDATE`
	byRequestIDSQL   = `SELECT ` + referralColumns + ` FROM referrals r WHERE r.referring_org = $1 AND r.request_id = $2`
	assetCapacitySQL = `SELECT capacity FROM assets WHERE id = $1`
	takePlaceSQL     = `INSERT INTO asset_places AS p (asset_id, taken) SELECT $1, 1 WHERE $2 > 0
		ON CONFLICT (asset_id) DO UPDATE SET taken = p.taken + 1 WHERE p.taken < $2`
	// releasePlaceSQL gives back the place of a referral just closed and
	// offers it to the asset's waiting list (migration 0052).
	releasePlaceSQL = `SELECT sparc_release_place($1)`
	// overrideSentSQL shows the provider, when a draft is sent, that its
	// creation overrode the age check (the entry of the draft's creation is
	// the referrer's alone): the same reason, without the text.
	overrideSentSQL = `INSERT INTO referral_events (referral_id, referring_org, provider_org, actor, actor_org, from_status, to_status, reason)
		SELECT r.id, r.referring_org, r.provider_org, $2, $3, 'requested', 'requested', '` + overrideReason + `' FROM referrals r
		WHERE r.id = $1 AND EXISTS (SELECT 1 FROM referral_events e WHERE e.referral_id = r.id AND e.reason = '` + overrideReason + `')`
	transitionSQL = `UPDATE referrals SET status = $2, status_reason = $3, holds_place = $4,
			waitlisted_at = CASE WHEN $2 = 'waitlisted' THEN clock_timestamp() END,
			requested_at = CASE WHEN $2 = 'requested' AND requested_at IS NULL THEN clock_timestamp() ELSE requested_at END,
			accepted_at = CASE WHEN $2 = 'accepted' AND accepted_at IS NULL THEN clock_timestamp() ELSE accepted_at END,
			closed_at = CASE WHEN $5 THEN clock_timestamp() ELSE NULL END,
			version = version + 1, updated_at = clock_timestamp() WHERE id = $1`
	recordOutcomeSQL = `UPDATE referrals SET sessions_attended = $2,
			first_attended_at = CASE WHEN $2 > 0 AND first_attended_at IS NULL THEN clock_timestamp() ELSE first_attended_at END,
			baseline_ons4 = COALESCE($3, baseline_ons4), baseline_swemwbs = COALESCE($4, baseline_swemwbs),
			baseline_at = CASE WHEN $5 THEN clock_timestamp() ELSE baseline_at END,
			followup_ons4 = COALESCE($6, followup_ons4), followup_swemwbs = COALESCE($7, followup_swemwbs),
			followup_at = CASE WHEN $8 THEN clock_timestamp() ELSE followup_at END,
			what_changed = CASE WHEN $9 <> '' THEN $9 ELSE what_changed END,
			version = version + 1, updated_at = clock_timestamp() WHERE id = $1`
	// copySharedPersonSQL rewrites a person's provider view on their
	// referrals ($1 person, $2 view).
	copySharedPersonSQL = `UPDATE referrals SET shared_person = $2, version = version + 1, updated_at = clock_timestamp()
			WHERE person_id = $1 AND shared_person <> $2`
)

// Statistics, demand and retention run the database's functions.
const (
	areaExistsSQL = `SELECT EXISTS (SELECT 1 FROM areas WHERE code = $1)`
	exactStatsSQL = `SELECT status, n, median_accept_days, median_attend_days, ons4_change, ons4_n,
		swemwbs_change, swemwbs_n FROM sparc_referral_stats($1, NULL, $2, $3)`
	monthlyStatsSQL = `SELECT month, status, n, median_accept_days, accept_n, median_attend_days, attend_n,
		ons4_change, ons4_n, swemwbs_change, swemwbs_n FROM sparc_referral_stats_monthly($1, $2, $3, $4)`
	demandByAreaSQL = `SELECT code, n FROM sparc_referrals_by_area_monthly($1, $2, $3)`
	purgeClosedSQL  = `SELECT referrals, people FROM sparc_purge_closed($1)`
)

// store is the referrals' access to the database.
type store struct{ pool *pgxpool.Pool }

const timelineSQL = `SELECT time, actor, COALESCE(actor_org::text, ''), from_status, to_status, reason, note
	FROM referral_events WHERE referral_id = $1 ORDER BY id`

func scanTimeline(rows pgx.Rows) ([]*sparcv1.ReferralEvent, error) {
	defer rows.Close()
	var out []*sparcv1.ReferralEvent
	for rows.Next() {
		var e sparcv1.ReferralEvent
		var t time.Time
		var from, to, org string
		if err := rows.Scan(&t, &e.Actor, &org, &from, &to, &e.Reason, &e.Note); err != nil {
			return nil, err
		}
		e.ActorOrganisation = aip.NameOf(aip.Organisations, org)
		e.Time, e.FromStatus, e.ToStatus = timestamppb.New(t), statusFromCode[from], statusFromCode[to]
		out = append(out, &e)
	}
	return out, rows.Err()
}

// pgUUID passes an id as its 16 bytes: uuid.UUID is a driver.Valuer,
// which pgx encodes by formatting text and planning the encoding again on
// every call (a tenth of CreateReferral's CPU when profiled under load).
func pgUUID(u uuid.UUID) [16]byte { return u }

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
func (s *store) load(ctx context.Context, tx pgx.Tx, id uuid.UUID, lock bool) (*referralRow, side, error) {
	q := loadReferralSQL
	if lock {
		q = lockReferralSQL
	}
	x, err := scanReferral(tx.QueryRow(ctx, q, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, fmt.Errorf("%s: %w", aip.Name(aip.Referrals, id), apierr.ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	sd := x.sideOf(auth.FromContext(ctx))
	if sd == 0 {
		return nil, 0, fmt.Errorf("%s: %w", aip.Name(aip.Referrals, id), apierr.ErrNotFound)
	}
	return x, sd, nil
}

// loadForChange is load with the row locked for a change, which must be
// to the version the caller saw when it sends an etag.
func (s *store) loadForChange(ctx context.Context, tx pgx.Tx, id uuid.UUID, etag string) (*referralRow, side, error) {
	x, sd, err := s.load(ctx, tx, id, true)
	if err == nil && etag != "" && etag != x.etag() {
		return nil, 0, fmt.Errorf("%s: %w", aip.Name(aip.Referrals, id), apierr.ErrStaleEtag)
	}
	return x, sd, err
}

// takePlace takes one place on an asset that counts places, and reports
// whether there was one; an asset without a capacity has no limit. The
// asset_places row stays locked to the end of the transaction even when
// no place was free (ON CONFLICT DO UPDATE locks the row it skips), so a
// referral put on the waiting list is there before a concurrent release
// of a place looks for the next one (sparc_release_place).
func (s *store) takePlace(ctx context.Context, tx pgx.Tx, asset uuid.UUID) (bool, *int32, error) {
	var capacity *int32
	if err := tx.QueryRow(ctx, assetCapacitySQL, asset).Scan(&capacity); err != nil {
		return false, nil, fmt.Errorf("reading capacity: %w", err)
	}
	if capacity == nil {
		return true, nil, nil
	}
	tag, err := tx.Exec(ctx, takePlaceSQL, asset, *capacity)
	if err != nil {
		return false, nil, fmt.Errorf("taking a place: %w", err)
	}
	return tag.RowsAffected() > 0, capacity, nil
}

// releasePlace gives back the place the closed referral id held and
// offers it to the first referral waiting for the asset; it returns that
// referral, if any (uuid.Nil otherwise).
func (s *store) releasePlace(ctx context.Context, tx pgx.Tx, id uuid.UUID) (uuid.UUID, error) {
	var offered *uuid.UUID
	if err := tx.QueryRow(ctx, releasePlaceSQL, pgUUID(id)).Scan(&offered); err != nil {
		return uuid.Nil, fmt.Errorf("releasing a place: %w", err)
	}
	if offered == nil {
		return uuid.Nil, nil
	}
	return *offered, nil
}

// markOverrideSent records, as a referral leaves draft, that its creation
// overrode the age check (overrideSentSQL); nothing when it did not.
func (s *store) markOverrideSent(ctx context.Context, tx pgx.Tx, id uuid.UUID, caller *auth.Principal) error {
	if _, err := tx.Exec(ctx, overrideSentSQL, pgUUID(id), caller.Name, caller.Org); err != nil {
		return fmt.Errorf("recording the override for the provider: %w", err)
	}
	return nil
}

// createSQL is CreateReferral as one statement: the new referral, its
// first timeline entry, its outbox row and the call's audit event, written
// only if the person exists with a provider view, the asset accepts
// referrals, the person is of an age the asset takes (or the link worker
// overrides that) and the request id is new. It always returns one row:
// what it wrote, or (its first columns null) why it wrote nothing, for the
// caller to react to (see createFacts). The reasons are read only when
// nothing was written, so the common case costs no more than the insert.
// The person is locked FOR SHARE so that a concurrent consent change
// either waits for this referral (and rewrites its copy of the view) or
// goes first (and this copies the new view).
//
// Age eligibility (migration 0052): the person's possible ages
// (sparc_age_span of their age band, else year of birth) must overlap the
// asset's age range; unknown ages and an asset without a range always
// pass. An override ($21, non-empty) lets a refused person through and is
// then kept as a second timeline entry (reason overrideReason, the text as
// its note; the provider sees the entry without the text, see render),
// written by the same INSERT as the first: another table written in the
// statement would cost its executor set-up on every call, rows or not.
//
// Parameters: $1 id, $2 person, $3 referring organisation, $4 link worker,
// $5 asset, $6 reasons, $7 provider note, $8 priority, $9 status, $10
// request id, $11 request hash; the audit event's principal, organisation,
// role, method, resource, request id and peer ($12–$18), whether to
// write it ($19), the principal's display name ($20) and the eligibility
// override reason ($21, empty for none).
const createSQL = `WITH p AS (
		SELECT id, provider_view, display_name, age_band, contact_method, contact_sealed, what_matters,
			sparc_age_span(age_band, year_of_birth) AS ages FROM people
		WHERE id = $2 AND purged_at IS NULL FOR SHARE),
	a AS (SELECT owner_organisation, min_age, max_age, int4range(min_age, max_age, '[]') AS ages FROM assets
		WHERE id = $5 AND status = 'active' AND accepting_referrals AND owner_organisation IS NOT NULL),
	e AS (SELECT p.ages IS NOT NULL AND NOT (p.ages && a.ages) AS excluded FROM p, a),
	ins AS (INSERT INTO referrals (id, person_id, referring_org, link_worker, asset_id, provider_org, reasons,
			provider_note, priority, status, shared_person, request_id, request_hash, requested_at)
		SELECT $1, p.id, $3, $4, $5, a.owner_organisation, $6, $7, $8, $9, p.provider_view, $10, $11,
			CASE WHEN $9 = 'requested' THEN clock_timestamp() END
		FROM p, a, e WHERE p.provider_view IS NOT NULL AND (NOT e.excluded OR $21 <> '')
		ON CONFLICT (referring_org, request_id) DO NOTHING
		RETURNING provider_org, created_at, updated_at, version),
	ev AS (INSERT INTO referral_events (referral_id, referring_org, provider_org, actor, actor_org, from_status, to_status, reason, note)
		SELECT $1, $3, ins.provider_org, $4, $3, v.from_status, $9, v.reason, v.note
		FROM ins, e, (VALUES (1, '', '', ''), (2, $9, '` + overrideReason + `', $21)) v (n, from_status, reason, note)
		WHERE v.n = 1 OR e.excluded ORDER BY v.n
		RETURNING time, reason <> '' AS override),
	ob AS (INSERT INTO referral_outbox (referral_id, referring_org, provider_org, type, to_status)
		SELECT $1, $3, ins.provider_org, 'created', $9 FROM ins),
	au AS (INSERT INTO audit_events (principal, organisation_id, role, method, resource, outcome, code, request_id, peer,
			principal_display_name)
		SELECT $12, NULLIF($13, '')::uuid, $14, $15, $16, 'ok', 'OK', $17, $18, $20 FROM ins WHERE $19)
	SELECT ins.provider_org, ins.created_at, ins.updated_at, ins.version, evs.time, evs.override_time,
		p.display_name, p.age_band, p.contact_method, p.contact_sealed, p.what_matters,
		CASE WHEN ins.version IS NULL THEN EXISTS (SELECT 1 FROM referrals WHERE referring_org = $3 AND request_id = $10) END,
		p.id IS NOT NULL, p.provider_view IS NOT NULL,
		CASE WHEN ins.version IS NULL THEN (SELECT status FROM assets WHERE id = $5) END,
		CASE WHEN ins.version IS NULL THEN (SELECT accepting_referrals AND owner_organisation IS NOT NULL FROM assets WHERE id = $5) END,
		CASE WHEN ins.version IS NULL THEN e.excluded END, lower(p.ages), upper(p.ages) - 1, a.min_age, a.max_age
	FROM (VALUES (1)) one (x) LEFT JOIN ins ON true
		LEFT JOIN (SELECT min(time) FILTER (WHERE NOT override) AS time, min(time) FILTER (WHERE override) AS override_time
			FROM ev) evs ON true
		LEFT JOIN p ON true LEFT JOIN a ON true LEFT JOIN e ON true`

// overrideReason is the timeline reason of an eligibility override.
const overrideReason = "age_eligibility_overridden"

// createInput is what createSQL writes.
type createInput struct {
	id, person, asset             uuid.UUID
	referrer, linkWorker          string
	reasons                       []string
	note, priority, status, reqID string
	hash                          []byte
	override                      string // eligibility override reason, "" for none
}

// createFacts is createSQL's answer. When the referral was written
// (referral not nil) person is what the referrer's view shows of the
// person (its contact still sealed). Otherwise the rest says why not.
type createFacts struct {
	referral      *referralRow
	eventTime     time.Time
	overrideTime  *time.Time // the override's timeline entry, when one was needed
	overrideNote  string     // and its text
	person        *sparcv1.Person
	contactSealed []byte

	replayed                  bool    // the request id was used before
	personFound, personViewed bool    // the person exists; it has a provider view
	assetStatus               *string // nil: no such asset
	assetAccepting            bool    // accepting referrals, with an owner
	// ageExcluded: the person's ages lie wholly outside the asset's range
	// and no override was given; ages and ageRange say what was compared.
	ageExcluded bool
	ages        [2]*int32 // the person's possible ages, inclusive (nil upper: no upper bound)
	ageRange    [2]*int32 // the asset's min_age and max_age
}

// create runs createSQL in one round trip, writing the call's audit event
// with the referral when the call has one pending. (The audit protocol is
// used here and in readChanges only.)
func (s *store) create(ctx context.Context, in createInput) (*createFacts, error) {
	rec, audit := auth.AuditFrom(ctx)
	var f *createFacts
	err := db.Pipeline(ctx, s.pool, func(b *pgx.Batch) func() bool {
		f = nil
		b.Queue(createSQL, pgUUID(in.id), pgUUID(in.person), in.referrer, in.linkWorker, pgUUID(in.asset), in.reasons,
			in.note, in.priority, in.status, in.reqID, in.hash,
			rec.Principal, rec.Org, rec.Role, rec.Method, rec.Resource, rec.RequestID, rec.Peer, audit,
			rec.DisplayName, // $20, after the others so that parallel edits of the list above stay apart
			in.override,     // $21
		).QueryRow(func(row pgx.Row) error {
			var (
				x                            createFacts
				provider                     *uuid.UUID
				created, updated, evAt       *time.Time
				version                      *int64
				name, band, method, wm       *string
				replayed, accepting, exclude *bool
			)
			if err := row.Scan(&provider, &created, &updated, &version, &evAt, &x.overrideTime, &name, &band, &method,
				&x.contactSealed, &wm, &replayed, &x.personFound, &x.personViewed, &x.assetStatus, &accepting,
				&exclude, &x.ages[0], &x.ages[1], &x.ageRange[0], &x.ageRange[1]); err != nil {
				return fmt.Errorf("inserting referral: %w", err)
			}
			x.replayed, x.assetAccepting = replayed != nil && *replayed, accepting != nil && *accepting
			x.ageExcluded = exclude != nil && *exclude && in.override == ""
			if x.overrideTime != nil {
				x.overrideNote = in.override
			}
			if version != nil {
				x.referral = &referralRow{id: in.id, person: in.person, referrer: uuid.MustParse(in.referrer),
					linkWorker: in.linkWorker, asset: in.asset, provider: provider, reasons: in.reasons, note: in.note,
					priority: in.priority, status: in.status, created: *created, updated: *updated, version: *version,
					requestHash: in.hash, sent: in.status == "requested"}
				x.eventTime = *evAt
				x.person = &sparcv1.Person{Name: aip.Name(aip.People, in.person), DisplayName: *name, AgeBand: *band,
					ContactMethod: people.ContactMethod(*method), WhatMatters: *wm}
			}
			f = &x
			return nil
		})
		// The audit event was written with the referral, or not at all.
		return func() bool { return audit && f != nil && f.referral != nil }
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// listQuery selects referrals for ListReferrals: those of org on the
// chosen sides, of the given statuses, after the cursor, newest change
// first.
type listQuery struct {
	org                  string
	referring, providing bool
	statuses             []string
	after                *listCursor
	limit                int
}

// list reads one page of referrals (and one more, to tell whether another
// page follows).
func (s *store) list(ctx context.Context, tx pgx.Tx, q listQuery) ([]*referralRow, error) {
	// The rule's sides as SQL, each a plain index condition: the
	// referring side, and the providing side once sent (never a draft).
	var sides []string
	if q.referring {
		sides = append(sides, "r.referring_org = $1")
	}
	if q.providing {
		sides = append(sides, "(r.provider_org = $1 AND r.requested_at IS NOT NULL)")
	}
	if len(sides) == 0 {
		// No side: nothing (still an audited call; $1 keeps its type).
		sides = append(sides, "(false AND r.referring_org = $1)")
	}
	where := []string{"(" + strings.Join(sides, " OR ") + ")"}
	args := []any{q.org}
	if len(q.statuses) > 0 {
		args = append(args, q.statuses)
		where = append(where, "r.status = ANY($"+strconv.Itoa(len(args))+")")
	}
	if q.after != nil {
		args = append(args, time.UnixMicro(q.after.Updated), q.after.ID)
		where = append(where, fmt.Sprintf("(r.updated_at, r.id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	rows, err := tx.Query(ctx, `SELECT `+referralColumns+` FROM referrals r WHERE `+strings.Join(where, " AND ")+
		` ORDER BY r.updated_at DESC, r.id DESC LIMIT `+strconv.Itoa(q.limit+1), args...)
	if err != nil {
		return nil, fmt.Errorf("listing referrals: %w", err)
	}
	defer rows.Close()
	var list []*referralRow
	for rows.Next() {
		x, err := scanReferral(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, x)
	}
	return list, rows.Err()
}

// byRequestID reads the referral org created with a request id.
func (s *store) byRequestID(ctx context.Context, tx pgx.Tx, org, requestID string) (*referralRow, error) {
	x, err := scanReferral(tx.QueryRow(ctx, byRequestIDSQL, org, requestID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("referral with request id %q: %w", requestID, apierr.ErrNotFound)
	}
	return x, err
}

// timeline reads a referral's timeline, oldest first.
func (s *store) timeline(ctx context.Context, tx pgx.Tx, id uuid.UUID) ([]*sparcv1.ReferralEvent, error) {
	rows, err := tx.Query(ctx, timelineSQL, id)
	if err != nil {
		return nil, fmt.Errorf("reading timeline: %w", err)
	}
	return scanTimeline(rows)
}

// transition moves a referral to status to (holds: whether it now holds a
// place on its asset) and records the change.
func (s *store) transition(ctx context.Context, tx pgx.Tx, x *referralRow, caller *auth.Principal, to, reason, note string, holds bool) error {
	if _, err := tx.Exec(ctx, transitionSQL, x.id, to, reason, holds, terminal[to]); err != nil {
		return fmt.Errorf("updating referral: %w", err)
	}
	return appendEvent(ctx, tx, x.id, caller, x.status, to, reason, note, "status_changed")
}

// recordOutcome stores attendance (attended), measures (nil ones keep
// theirs) and what changed, and records the change.
func (s *store) recordOutcome(ctx context.Context, tx pgx.Tx, x *referralRow, caller *auth.Principal, attended int32,
	b, f *sparcv1.WellbeingMeasure, whatChanged string) error {
	_, err := tx.Exec(ctx, recordOutcomeSQL, x.id, attended, smallints(b.GetOns4()), smallints(b.GetSwemwbs()), b != nil,
		smallints(f.GetOns4()), smallints(f.GetSwemwbs()), f != nil, whatChanged)
	if err != nil {
		return fmt.Errorf("recording outcome: %w", err)
	}
	return appendEvent(ctx, tx, x.id, caller, x.status, x.status, "", "", "outcome_recorded")
}

// CopySharedPerson queues the rewrite of a person's provider view on
// their referrals (people.CopyView), in the person's transaction.
func CopySharedPerson(b *pgx.Batch, person uuid.UUID, view []byte) {
	b.Queue(copySharedPersonSQL, person, view)
}

// horizon is the cursor WatchReferrals starts from for "now".
func (s *store) horizon(ctx context.Context) (outbox.Cursor, error) {
	var cur outbox.Cursor
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) (err error) {
		cur, err = outbox.Horizon(ctx, tx)
		return err
	})
	return cur, err
}

// readChanges reads the changes after cur the caller's identity may see
// (outbox.Read) and whether committed ones wait behind the horizon.
func (s *store) readChanges(ctx context.Context, cur outbox.Cursor) ([]outbox.Change, bool, error) {
	var changes []outbox.Change
	var pending bool
	var err error
	if db.RiderPending(ctx) {
		// The first read also records the call in the audit log.
		err = db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) (err error) {
			changes, pending, err = outbox.Read(ctx, tx, cur)
			return err
		})
	} else {
		// A watcher reads after every change: one round trip, an implicit
		// transaction that carries the caller's identity for row-level
		// security, instead of the four of db.InTx.
		b := db.IdentityBatch(db.IdentityFrom(ctx))
		outbox.QueueRead(b, cur, func(c []outbox.Change, p bool) { changes, pending = c, p })
		err = s.pool.SendBatch(ctx, b).Close()
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading referral changes: %w", err)
	}
	return changes, pending, nil
}

// areaExists reports whether an area has code.
func (s *store) areaExists(ctx context.Context, tx pgx.Tx, code string) (bool, error) {
	var exists bool
	err := tx.QueryRow(ctx, areaExistsSQL, code).Scan(&exists)
	return exists, err
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
