package network

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/db"
)

// Store reads the referral network's raw material. Referrals of other
// organisations are read through owner functions (migration 0069) that
// return counts only, and only to a caller whose identity
// (db.WithIdentity) is an admin's or an area analyst's; organisations,
// assets and areas are open to read.
type Store struct{ pool *pgxpool.Pool }

// NewStore reads through pool (an application pool: row-level security
// applies, so only the owner function reaches across organisations).
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// The three parts of a read (migration 0069), run at once: on two cores
// a national year takes about as long as the slowest part, not their sum.
const (
	tiesSQL = `SELECT referring_org, asset_id, target_org, month, declined, reason, n, accepted, attended, completed
		FROM sparc_referral_network($1, $2, $3, $4)`
	homesSQL  = `SELECT referring_org, month, home_quintile, n FROM sparc_referral_network_homes($1, $2, $3)`
	placesSQL = `SELECT organisation, asset_id, quintile FROM sparc_referral_network_places($1, $2, $3)`
)

// ID is an organisation's or asset's id as the database sends it: 16
// bytes, compared and hashed without a string per row.
type ID [16]byte

// TieRow is the finest cell the network is built from: the referrals
// from one organisation to one organisation (and to one asset, when the
// read is by asset) made in one calendar month, declined for one reason
// or not. Counts are raw.
type TieRow struct {
	Referrer, Asset, Target ID // Asset is zero unless the read is by asset
	Month                   time.Time
	Declined                bool
	Reason                  string
	N, Accepted, Attended   int64
	Completed               int64
}

// HomeRow is the referrals from one organisation in one calendar month
// of people living in areas of one deprivation quintile (0 unknown).
type HomeRow struct {
	Referrer ID
	Month    time.Time
	Quintile int
	N        int64
}

// PlaceRow is one asset the network can show, the organisation running it
// (zero: none) and the deprivation quintile where it stands (0 none).
type PlaceRow struct {
	Org, Asset ID
	Quintile   int
}

// Read is the raw material of the networks of the referrals made in a
// span of months.
type Read struct {
	Ties   []TieRow
	Homes  []HomeRow
	Places []PlaceRow
}

// Read reads the referrals made in [from, to) of people living in area,
// or to assets located in it ("" for everywhere), by asset or by
// organisation only: the three parts at once, each on its own
// connection. They do not share a snapshot, and need not: the windows the
// network answers are months that have ended, whose referrals are counted
// as they stood at the window's end, so every snapshot gives them the
// same counts (an area import between the parts could move an asset's
// quintile, which the next request shows anyway).
func (s *Store) Read(ctx context.Context, area string, from, to time.Time, byAsset bool) (*Read, error) {
	var a *string
	if area != "" {
		a = &area
	}
	var out Read
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() {
		var r TieRow
		var asset pgtype.UUID
		out.Ties, errs[0] = collect(ctx, s.pool, tiesSQL, []any{a, from, to, byAsset},
			[]any{(*[16]byte)(&r.Referrer), &asset, (*[16]byte)(&r.Target), &r.Month, &r.Declined, &r.Reason, &r.N, &r.Accepted, &r.Attended, &r.Completed},
			func() TieRow { r.Asset, r.Month = asset.Bytes, r.Month.UTC(); return r })
	})
	wg.Go(func() {
		var r HomeRow
		out.Homes, errs[1] = collect(ctx, s.pool, homesSQL, []any{a, from, to},
			[]any{(*[16]byte)(&r.Referrer), &r.Month, &r.Quintile, &r.N}, func() HomeRow { r.Month = r.Month.UTC(); return r })
	})
	wg.Go(func() {
		var r PlaceRow
		var org pgtype.UUID
		out.Places, errs[2] = collect(ctx, s.pool, placesSQL, []any{a, from, to},
			[]any{&org, (*[16]byte)(&r.Asset), &r.Quintile}, func() PlaceRow { r.Org = org.Bytes; return r })
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("reading the referral network: %w", err)
	}
	return &out, nil
}

// collect runs sql, after the caller's identity (the owner functions
// check it), and appends next() for each row scanned into dest. The call's
// audit event is not its to write: three parts run at once, and the
// authorisation layer records the event once after the read.
func collect[T any](ctx context.Context, pool *pgxpool.Pool, sql string, args, dest []any, next func() T) ([]T, error) {
	var out []T
	err := db.Read(db.WithoutRider(ctx), pool, func(b *pgx.Batch) {
		b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
			out = out[:0] // a retried read starts again
			_, err := pgx.ForEachRow(rows, dest, func() error { out = append(out, next()); return nil })
			return err
		})
	})
	return out, err
}

// OrgInfo is what the network shows of an organisation.
type OrgInfo struct {
	Name string
	// Public: it lists an active asset in the directory (open data) or
	// opted in to be named (sparc_organisation_named, 0067).
	Public bool
}

// AssetInfo is what the network shows of an asset (all open data).
type AssetInfo struct{ Name, Org string }

// Organisations reads the names and publicity of the organisations ids.
func (s *Store) Organisations(ctx context.Context, ids []string) (map[string]OrgInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT o.id::text, o.name, sparc_organisation_named(o.id)
		FROM organisations o WHERE o.id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("reading the network's organisations: %w", err)
	}
	out := make(map[string]OrgInfo, len(ids))
	var id string
	var o OrgInfo
	_, err = pgx.ForEachRow(rows, []any{&id, &o.Name, &o.Public}, func() error { out[id] = o; return nil })
	return out, err
}

// Assets reads the names and organisations of the assets ids.
func (s *Store) Assets(ctx context.Context, ids []string) (map[string]AssetInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT a.id::text, a.name, coalesce(a.owner_organisation::text, '')
		FROM assets a WHERE a.id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("reading the network's assets: %w", err)
	}
	out := make(map[string]AssetInfo, len(ids))
	var id string
	var a AssetInfo
	_, err = pgx.ForEachRow(rows, []any{&id, &a.Name, &a.Org}, func() error { out[id] = a; return nil })
	return out, err
}

// AreaExists says whether an area with code is loaded.
func (s *Store) AreaExists(ctx context.Context, code string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM areas WHERE code = $1)`, code).Scan(&ok)
	return ok, err
}

// LoadSecret reads the key of anonymous codes (AnonymousCode) from
// server_secrets, creating it on first use, as the page token key is: one
// key shared by every replica and kept across restarts, so a code stays
// the same organisation's from one meeting to the next. It is a key of
// its own, not the data key: rotating the data key must not rename every
// organisation in the analytics.
func LoadSecret(ctx context.Context, pool *pgxpool.Pool) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	var key []byte
	var err error
	// A concurrent first insert by another replica: the next statement's
	// snapshot sees it.
	for range 3 {
		err = pool.QueryRow(ctx, `
			WITH ins AS (
				INSERT INTO server_secrets (name, secret) VALUES ('network_anonymous_code_key', $1)
				ON CONFLICT (name) DO NOTHING RETURNING secret)
			SELECT secret FROM ins
			UNION ALL
			SELECT secret FROM server_secrets WHERE name = 'network_anonymous_code_key'
			LIMIT 1`, fresh).Scan(&key)
		if !errors.Is(err, pgx.ErrNoRows) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("loading the anonymous code key: %w", err)
	}
	return key, nil
}
