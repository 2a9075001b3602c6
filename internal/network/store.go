package network

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store reads the referral network's raw material. Referrals of other
// organisations are read through the owner function
// sparc_referral_network (migration 0067), which returns counts only;
// organisations, assets and areas are open to read.
type Store struct{ pool *pgxpool.Pool }

// NewStore reads through pool (an application pool: row-level security
// applies, so only the owner function reaches across organisations).
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Row is the finest cell the network is built from: the referrals from
// one organisation to one asset (run by Target) made in one calendar
// month, declined for one reason or not, of people living in areas of one
// deprivation quintile (0 unknown). Counts are raw.
type Row struct {
	Referrer, Asset, Target string
	Month                   time.Time
	Declined                bool
	Reason                  string
	HomeQuintile            int
	AssetQuintile           int
	N, Accepted, Attended   int64
	Completed               int64
}

// Rows reads the rows of referrals made in [from, to) of people living
// in area, or to assets located in it ("" for everywhere).
func (s *Store) Rows(ctx context.Context, area string, from, to time.Time) ([]Row, error) {
	var a *string
	if area != "" {
		a = &area
	}
	rows, err := s.pool.Query(ctx, `SELECT referring_org::text, asset_id::text, target_org::text, month, declined, reason,
		home_quintile, asset_quintile, n, accepted, attended, completed
		FROM sparc_referral_network($1, $2, $3)`, a, from, to)
	if err != nil {
		return nil, fmt.Errorf("reading the referral network: %w", err)
	}
	var out []Row
	var r Row
	_, err = pgx.ForEachRow(rows, []any{&r.Referrer, &r.Asset, &r.Target, &r.Month, &r.Declined, &r.Reason,
		&r.HomeQuintile, &r.AssetQuintile, &r.N, &r.Accepted, &r.Attended, &r.Completed}, func() error {
		r.Month = r.Month.UTC()
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the referral network: %w", err)
	}
	return out, nil
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
