package db

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Listen holds one pooled connection in LISTEN channel until ctx ends,
// reconnecting a second after each failure. connected runs once LISTEN is
// in place (every notification from then on reaches notified), notified
// on each notification, and lost when the connection fails (not when ctx
// ends), before the pause. Notifications are hints: callers must cope with
// the ones sent while no connection listened, which is what connected and
// lost are for. Nil callbacks are skipped.
func Listen(ctx context.Context, pool *pgxpool.Pool, channel string, connected, notified func(), lost func(error)) {
	call := func(f func()) {
		if f != nil {
			f()
		}
	}
	for ctx.Err() == nil {
		err := listenOnce(ctx, pool, channel, func() { call(connected) }, func() { call(notified) })
		if ctx.Err() != nil {
			return
		}
		if lost != nil {
			lost(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func listenOnce(ctx context.Context, pool *pgxpool.Pool, channel string, connected, notified func()) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	// The connection returns to the pool with LISTEN still on unless unlistened.
	defer conn.Exec(context.Background(), "UNLISTEN *") //nolint:errcheck
	connected()
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			return err
		}
		notified()
	}
}
