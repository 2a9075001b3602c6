package assets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
)

// SourcedAsset is an asset read from another directory (an Open Referral
// feed). Its id is chosen by the importer, deterministically from the
// source record, so importing the same record again finds the same asset.
type SourcedAsset struct {
	ID       uuid.UUID
	Source   string // the feed, e.g. its URL; kept from the first import
	SourceID string // the record's key in the feed
	Asset    *sparcv1.Asset
	// SetOwner makes the import write owner_organisation on existing assets
	// too; otherwise ownership is only set when the asset is created.
	SetOwner bool
}

// Upsert outcomes.
const (
	OutcomeCreated   = "created"
	OutcomeUpdated   = "updated"
	OutcomeUnchanged = "unchanged"
	OutcomeRejected  = "rejected"
)

// UpsertResult is what happened to one SourcedAsset.
type UpsertResult struct {
	Outcome string
	// Err is set for rejected records: *apierr.InvalidArgument for bad
	// values, or a database refusal (e.g. the source record already maps to
	// another asset).
	Err error
}

// upsertSQL inserts or, for an existing id, updates only when a stored
// value differs, so an unchanged re-import keeps version and update time.
// Parameters $1..$32 are record.params (as insertSQL); $33 and
// $34 are source and source_id (written on insert only: provenance is the
// first import); $35 says whether to overwrite the owner of an existing
// asset. RETURNING gives no row when nothing changed.
const upsertSQL = `
INSERT INTO assets AS a (kind, name, description, categories,
	location, address, postcode, locality, country,
	service_area, sessions, cost_kind, cost_note,
	accessibility, languages, min_age, max_age,
	contact_name, contact_email, contact_phone, contact_website,
	capacity, accepting_referrals, status, owner_organisation, last_verified_at, id,
	availability, delivery, area_codes, area_country, reach, source, source_id)
VALUES ($1, $2, $3, $4,
	` + locationSQL + `, $7, $8, $9, $10,
	ST_Multi(ST_GeomFromGeoJSON($11))::geography, $12, $13, $14,
	$15, $16, $17, $18,
	$19, $20, $21, $22,
	$23, $24, $25, $26, $27, $28,
	$29, $30, $31, $32, ` + reachSQL + `, $33, $34)
ON CONFLICT (id) DO UPDATE SET
	kind = EXCLUDED.kind, name = EXCLUDED.name, description = EXCLUDED.description,
	categories = EXCLUDED.categories, location = EXCLUDED.location, address = EXCLUDED.address,
	postcode = EXCLUDED.postcode, locality = EXCLUDED.locality, country = EXCLUDED.country,
	service_area = EXCLUDED.service_area, sessions = EXCLUDED.sessions,
	cost_kind = EXCLUDED.cost_kind, cost_note = EXCLUDED.cost_note,
	accessibility = EXCLUDED.accessibility, languages = EXCLUDED.languages,
	min_age = EXCLUDED.min_age, max_age = EXCLUDED.max_age,
	contact_name = EXCLUDED.contact_name, contact_email = EXCLUDED.contact_email,
	contact_phone = EXCLUDED.contact_phone, contact_website = EXCLUDED.contact_website,
	capacity = EXCLUDED.capacity, accepting_referrals = EXCLUDED.accepting_referrals,
	status = EXCLUDED.status,
	owner_organisation = CASE WHEN $35 THEN EXCLUDED.owner_organisation ELSE a.owner_organisation END,
	last_verified_at = EXCLUDED.last_verified_at, availability = EXCLUDED.availability,
	delivery = EXCLUDED.delivery, area_codes = EXCLUDED.area_codes, area_country = EXCLUDED.area_country,
	reach = EXCLUDED.reach,
	version = a.version + 1, updated_at = clock_timestamp()
WHERE (a.kind, a.name, a.description, a.categories, ST_AsEWKB(a.location::geometry), a.address,
	a.postcode, a.locality, a.country, ST_AsEWKB(a.service_area::geometry), a.sessions,
	a.cost_kind, a.cost_note, a.accessibility, a.languages, a.min_age, a.max_age,
	a.contact_name, a.contact_email, a.contact_phone, a.contact_website,
	a.capacity, a.accepting_referrals, a.status, a.last_verified_at, a.availability,
	a.delivery, a.area_codes, a.area_country, ST_AsEWKB(a.reach))
	IS DISTINCT FROM
	(EXCLUDED.kind, EXCLUDED.name, EXCLUDED.description, EXCLUDED.categories, ST_AsEWKB(EXCLUDED.location::geometry), EXCLUDED.address,
	EXCLUDED.postcode, EXCLUDED.locality, EXCLUDED.country, ST_AsEWKB(EXCLUDED.service_area::geometry), EXCLUDED.sessions,
	EXCLUDED.cost_kind, EXCLUDED.cost_note, EXCLUDED.accessibility, EXCLUDED.languages, EXCLUDED.min_age, EXCLUDED.max_age,
	EXCLUDED.contact_name, EXCLUDED.contact_email, EXCLUDED.contact_phone, EXCLUDED.contact_website,
	EXCLUDED.capacity, EXCLUDED.accepting_referrals, EXCLUDED.status, EXCLUDED.last_verified_at, EXCLUDED.availability,
	EXCLUDED.delivery, EXCLUDED.area_codes, EXCLUDED.area_country, ST_AsEWKB(EXCLUDED.reach))
	OR ($35 AND a.owner_organisation IS DISTINCT FROM EXCLUDED.owner_organisation)
RETURNING (xmax = 0)`

// UpsertSourced validates each record with the same rules as CreateAsset
// and writes the valid ones, creating new assets and updating changed
// ones; a record equal to its stored asset is not written at all (version
// and update time stay). Every record is all-or-nothing: an invalid or
// refused record is reported in its result and never partly written,
// while the others still land.
//
// The batch runs in one transaction: the existing rows are read and locked
// at once and compared in Go; new and changed rows go through one COPY
// into a staging table and one INSERT and one UPDATE from it (COPY cannot
// write a table under row-level security, and one statement per batch
// instead of one per row is what makes imports fast). Records with a
// service area, and any batch the database refuses, take the slow path: a
// statement per record under its own savepoint, so exactly the refused
// records are left out. The error is for failures of the database itself
// (nothing of the batch is written then).
func (s *Store) UpsertSourced(ctx context.Context, recs []SourcedAsset) ([]UpsertResult, error) {
	results := make([]UpsertResult, len(recs))
	var todo []prepared
	for i, r := range recs {
		if r.Asset == nil {
			results[i] = UpsertResult{Outcome: OutcomeRejected, Err: apierr.Invalid("asset", "is required")}
			continue
		}
		a := proto.Clone(r.Asset).(*sparcv1.Asset)
		clearOutputOnly(a)
		if a.GetStatus() == sparcv1.AssetStatus_ASSET_STATUS_UNSPECIFIED {
			a.Status = sparcv1.AssetStatus_ASSET_STATUS_ACTIVE
		}
		normalise(a)
		if t := a.GetLastVerifiedTime(); t != nil {
			// PostgreSQL keeps microseconds; compare what will be stored.
			a.LastVerifiedTime = timestamppb.New(t.AsTime().Truncate(time.Microsecond))
		}
		var v apierr.InvalidArgument
		if r.ID == uuid.Nil {
			v.Add("id", "is required")
		}
		if r.Source == "" || r.SourceID == "" {
			v.Add("source", "source and source_id are required")
		}
		validateAsset(a, &v, "asset")
		err := v.Err()
		if err == nil {
			err = checkAreaCodes(ctx, s.pool, a, "asset")
			var bad *apierr.InvalidArgument
			if err != nil && !errors.As(err, &bad) {
				return nil, err
			}
		}
		if err != nil {
			results[i] = UpsertResult{Outcome: OutcomeRejected, Err: err}
			continue
		}
		row, err := recordOf(r.ID, a)
		if err != nil {
			return nil, err
		}
		row.Source, row.SourceID = r.Source, r.SourceID
		todo = append(todo, prepared{i: i, rec: r, asset: a, row: row})
	}
	if len(todo) == 0 {
		return results, nil
	}
	others := map[int]bool{} // records refused as another organisation's asset
	err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		return upsertFast(ctx, tx, todo, results, others)
	})
	var pgErr *pgconn.PgError
	if err == nil {
		return results, nil
	}
	if !errors.As(err, &pgErr) && !errors.Is(err, errRowsRefused) {
		return nil, fmt.Errorf("upserting imported assets: %w", err)
	}
	err = db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		for _, p := range todo {
			if others[p.i] {
				continue
			}
			o, err := upsertOne(ctx, tx, p, true)
			if err != nil {
				if !errors.As(err, &pgErr) {
					return err
				}
				results[p.i] = UpsertResult{Outcome: OutcomeRejected, Err: refusal(pgErr)}
				continue
			}
			results[p.i] = UpsertResult{Outcome: o}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("upserting imported assets: %w", err)
	}
	return results, nil
}

// notYours refuses a record whose asset belongs to another organisation
// (the same words as row-level security's refusal, see refusal).
func notYours() error {
	return apierr.Invalid("asset", "not allowed to write this asset (it belongs to another organisation)")
}

// errRowsRefused: a set-based statement wrote fewer rows than asked (row
// security filtered some); the per-record path finds which.
var errRowsRefused = errors.New("rows refused")

// prepared is a validated record with its stored form.
type prepared struct {
	i     int
	rec   SourcedAsset
	asset *sparcv1.Asset
	row   *record
}

// stagingCols are the columns copied into the staging table: those of a
// new asset, its provenance, and op (insert or update).
var stagingCols = append(append([]string(nil), copyColumns...), "source", "source_id", "op")

func stagingRow(p prepared, op string) []any {
	return append(p.row.values(stagingCols[:len(stagingCols)-1]), op)
}

const (
	stagingCreateSQL = `CREATE TEMP TABLE assets_import (LIKE assets INCLUDING DEFAULTS, op text NOT NULL) ON COMMIT DROP`
	stagingInsertSQL = `INSERT INTO assets (id, kind, name, description, categories, location, address, postcode,
	locality, country, sessions, cost_kind, cost_note, accessibility, languages, min_age, max_age,
	contact_name, contact_email, contact_phone, contact_website, capacity, accepting_referrals, status,
	owner_organisation, last_verified_at, availability, source, source_id)
SELECT id, kind, name, description, categories, location, address, postcode,
	locality, country, sessions, cost_kind, cost_note, accessibility, languages, min_age, max_age,
	contact_name, contact_email, contact_phone, contact_website, capacity, accepting_referrals, status,
	owner_organisation, last_verified_at, availability, source, source_id
FROM assets_import WHERE op = 'insert'`
	// $1: whether to overwrite owners. Provenance (source) is kept.
	stagingUpdateSQL = `UPDATE assets a SET kind = s.kind, name = s.name, description = s.description,
	categories = s.categories, location = s.location, address = s.address, postcode = s.postcode,
	locality = s.locality, country = s.country, service_area = NULL, sessions = s.sessions,
	cost_kind = s.cost_kind, cost_note = s.cost_note, accessibility = s.accessibility, languages = s.languages,
	min_age = s.min_age, max_age = s.max_age, contact_name = s.contact_name, contact_email = s.contact_email,
	contact_phone = s.contact_phone, contact_website = s.contact_website, capacity = s.capacity,
	accepting_referrals = s.accepting_referrals, status = s.status,
	owner_organisation = CASE WHEN $1 THEN s.owner_organisation ELSE a.owner_organisation END,
	last_verified_at = s.last_verified_at, availability = s.availability, version = a.version + 1, updated_at = clock_timestamp()
FROM assets_import s WHERE s.op = 'update' AND a.id = s.id`
)

// Statements of the assets with ids in $1.
const (
	getManySQL       = `SELECT ` + selectColumns + ` FROM assets a WHERE a.id = ANY($1)`
	getManyLockedSQL = getManySQL + ` FOR UPDATE`
	ownersOfSQL      = `SELECT id, COALESCE(owner_organisation::text, '') FROM assets WHERE id = ANY($1)`
)

// upsertFast is the one-transaction path described at UpsertSourced.
func upsertFast(ctx context.Context, tx pgx.Tx, todo []prepared, results []UpsertResult, others map[int]bool) error {
	ids := make([]uuid.UUID, len(todo))
	for i, p := range todo {
		ids[i] = p.rec.ID
	}
	ownerOf, existing, err := lockExisting(ctx, tx, ids)
	if err != nil {
		return err
	}
	caller := auth.FromContext(ctx)
	var plan importPlan
	for _, p := range todo {
		if owner, exists := ownerOf[p.rec.ID]; exists && !caller.CanWriteOwnedBy(owner) {
			// Another organisation's asset: refused before comparing, so
			// the outcome says nothing of what it holds.
			results[p.i] = UpsertResult{Outcome: OutcomeRejected, Err: notYours()}
			others[p.i] = true
			continue
		}
		cur, found := existing[p.rec.ID]
		if p.asset.GetServiceAreaGeojson() != "" || IsRemote(p.asset) ||
			(found && (cur.GetServiceAreaGeojson() != "" || IsRemote(cur))) {
			// Geometry text does not compare in Go, and a remote
			// service's area is resolved in SQL; the statement compares
			// the stored geometry.
			o, err := upsertOne(ctx, tx, p, false)
			if err != nil {
				return err
			}
			results[p.i] = UpsertResult{Outcome: o}
			continue
		}
		results[p.i] = UpsertResult{Outcome: plan.add(p, cur)}
	}
	return plan.write(ctx, tx)
}

// lockExisting reads the owners of the assets with ids that exist and
// locks and reads the rows the caller can see.
func lockExisting(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) (map[uuid.UUID]string, map[uuid.UUID]*sparcv1.Asset, error) {
	// Another organisation's rows are invisible to FOR UPDATE under
	// row-level security (it would take them for new ones), so owners are
	// read first, unlocked: the directory is public anyway.
	ownerOf, err := ownersOf(ctx, tx, ids)
	if err != nil {
		return nil, nil, err
	}
	rows, err := tx.Query(ctx, getManyLockedSQL, ids)
	if err != nil {
		return nil, nil, err
	}
	list, err := collect(rows)
	if err != nil {
		return nil, nil, err
	}
	existing := make(map[uuid.UUID]*sparcv1.Asset, len(list))
	for _, a := range list {
		existing[ID(a)] = a
	}
	return ownerOf, existing, nil
}

// importPlan collects the rows of a batch that one COPY stages and one
// INSERT and one UPDATE write.
type importPlan struct {
	staged           [][]any
	inserts, updates int
	setOwner         bool
}

// add plans a record whose stored asset is cur (nil when new) and returns
// its outcome.
func (pl *importPlan) add(p prepared, cur *sparcv1.Asset) string {
	switch {
	case cur == nil:
		pl.staged = append(pl.staged, stagingRow(p, "insert"))
		pl.inserts++
		return OutcomeCreated
	case sameForImport(cur, p.asset, p.rec.SetOwner):
		return OutcomeUnchanged
	default:
		pl.staged = append(pl.staged, stagingRow(p, "update"))
		pl.updates++
		pl.setOwner = pl.setOwner || p.rec.SetOwner
		return OutcomeUpdated
	}
}

// write stages the planned rows and writes them. Fewer rows written than
// planned (row security refused some) is errRowsRefused.
func (pl *importPlan) write(ctx context.Context, tx pgx.Tx) error {
	if len(pl.staged) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, stagingCreateSQL); err != nil {
		return err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"assets_import"}, stagingCols, pgx.CopyFromRows(pl.staged)); err != nil {
		return err
	}
	if pl.inserts > 0 {
		tag, err := tx.Exec(ctx, stagingInsertSQL)
		if err != nil {
			return err
		}
		if int(tag.RowsAffected()) != pl.inserts {
			return fmt.Errorf("inserted %d of %d new assets: %w", tag.RowsAffected(), pl.inserts, errRowsRefused)
		}
	}
	if pl.updates > 0 {
		tag, err := tx.Exec(ctx, stagingUpdateSQL, pl.setOwner)
		if err != nil {
			return err
		}
		if int(tag.RowsAffected()) != pl.updates {
			return fmt.Errorf("updated %d of %d changed assets: %w", tag.RowsAffected(), pl.updates, errRowsRefused)
		}
	}
	return nil
}

// ownersOf reads the owner organisation ("" when unowned) of each of ids
// that exists.
func ownersOf(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	rows, err := tx.Query(ctx, ownersOfSQL, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uuid.UUID]string{}
	for rows.Next() {
		var id uuid.UUID
		var owner string
		if err := rows.Scan(&id, &owner); err != nil {
			return nil, err
		}
		out[id] = owner
	}
	return out, rows.Err()
}

// sameForImport reports whether storing next would change cur: the
// writable fields compared, ownership only when the import sets it.
func sameForImport(cur, next *sparcv1.Asset, setOwner bool) bool {
	a := proto.Clone(cur).(*sparcv1.Asset)
	b := proto.Clone(next).(*sparcv1.Asset)
	clearOutputOnly(a)
	clearOutputOnly(b)
	if !setOwner {
		b.OwnerOrganisation = a.OwnerOrganisation
	}
	return proto.Equal(a, b)
}

// upsertOne writes one record with upsertSQL, under a savepoint when
// isolate is set (the slow path) so a refusal leaves the transaction
// usable.
func upsertOne(ctx context.Context, tx pgx.Tx, p prepared, isolate bool) (string, error) {
	q := pgx.Tx(tx)
	if isolate {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return "", err
		}
		q = sp
	}
	args := append(p.row.params(), p.rec.Source, p.rec.SourceID, p.rec.SetOwner)
	rows, err := q.Query(ctx, upsertSQL, args...)
	out := OutcomeUnchanged
	if err == nil {
		for rows.Next() {
			var inserted bool
			if err = rows.Scan(&inserted); err != nil {
				break
			}
			out = OutcomeUpdated
			if inserted {
				out = OutcomeCreated
			}
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if isolate {
		if err != nil {
			_ = q.Rollback(ctx)
			return "", err
		}
		return out, q.Commit(ctx)
	}
	return out, err
}

// refusal turns a database refusal of one record into a message for the
// import report.
func refusal(e *pgconn.PgError) error {
	switch e.Code {
	case "23505":
		return fmt.Errorf("the source record is already imported as another asset: %w", apierr.ErrAlreadyExists)
	case "23503":
		return apierr.Invalid("asset.owner_organisation", "organisation does not exist")
	case "42501":
		return notYours()
	}
	return apierr.Invalid("asset", "refused by the database: %s", e.Message)
}

// GetMany returns the assets with the given ids in the order of ids,
// skipping ids that do not exist.
func (s *Store) GetMany(ctx context.Context, ids []uuid.UUID) ([]*sparcv1.Asset, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, getManySQL, ids)
	if err != nil {
		return nil, fmt.Errorf("reading assets: %w", err)
	}
	list, err := collect(rows)
	if err != nil {
		return nil, err
	}
	byID := make(map[uuid.UUID]*sparcv1.Asset, len(list))
	for _, a := range list {
		byID[ID(a)] = a
	}
	out := make([]*sparcv1.Asset, 0, len(list))
	for _, id := range ids {
		if a, ok := byID[id]; ok {
			out = append(out, a)
		}
	}
	return out, nil
}
