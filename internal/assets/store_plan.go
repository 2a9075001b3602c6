package assets

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// PointSearchParams are the session settings of the connections point
// searches run on (see PointSearchPool). PostGIS estimates ST_DWithin on
// geography at a handful of rows, so the planner otherwise prefers a
// bitmap scan that reads and sorts every asset in the circle to the GiST
// index walked in distance order (KNN), which reads about one page of
// rows however many assets the radius holds: 18 ms instead of 0.4 ms at
// 100k assets, ten times more at 1M. JIT compiles nothing worth it in a
// search of twenty rows.
//
// Set on the connection at start-up, they cost nothing per search. They
// were a planner-settings statement at the head of each search's batch
// (set_config(..., true), transaction-local); measured at 100k assets
// under load, that statement was within the noise of PostgreSQL's CPU per
// search, but it was one more statement to parse, bind and execute in
// every search, and a second result for the client to read.
var PointSearchParams = map[string]string{"enable_bitmapscan": "off", "jit": "off"}

// PointSearchPool opens a pool on read's server, role and settings with
// PointSearchParams added: the pool of point searches (Search, and the
// proximity listings of Open Referral). It connects lazily, as its
// searches need connections, up to half read's size (the connections a
// server may open grow by that much: see docs/operations.md), and lets
// idle ones go after a minute. Nothing else may use it: text searches
// without a point need bitmap scans (a GIN index has no other).
func PointSearchPool(read *pgxpool.Pool) (*pgxpool.Pool, error) {
	cfg := read.Config() // a copy: AfterConnect (the role), tracer and parameters included
	for k, v := range PointSearchParams {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	cfg.MinConns = 0
	cfg.MaxConns = max(2, cfg.MaxConns/2)
	cfg.MaxConnIdleTime = time.Minute
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("opening the point search pool: %w", err)
	}
	return pool, nil
}

// pointPool is a store's PointSearchPool, opened on the first point
// search. Its connections end with the process (sparcd) or when their
// database is dropped (tests); idle ones close after a minute.
type pointPool struct {
	once sync.Once
	pool *pgxpool.Pool
	err  error
}

// points returns the store's point search pool, opening it on first use.
func (s *Store) points() (*pgxpool.Pool, error) {
	p := s.knn
	p.once.Do(func() { p.pool, p.err = PointSearchPool(s.read) })
	return p.pool, p.err
}

// pointsOr returns the point search pool for a point search (near), else
// the read pool.
func (s *Store) pointsOr(near bool) (*pgxpool.Pool, error) {
	if !near {
		return s.read, nil
	}
	return s.points()
}
