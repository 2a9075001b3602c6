package referrals

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/db"
)

// Hub wakes watchers: those of this server directly when a change
// commits here, those of every server through PostgreSQL notifications on
// the sparc_referrals channel. Wake-ups are only hints: the outbox is the
// truth, so a missed one delays a change by at most the poll interval and
// never loses it.
//
// Changes are not notified inside their transactions: PostgreSQL holds a
// cluster-wide lock from a notifying transaction's pre-commit to its end,
// which makes concurrent writers commit one at a time. Instead one NOTIFY,
// sent after commit, covers every change made while the previous one was
// on its way.
type Hub struct {
	mu   sync.Mutex
	wake chan struct{}
	kick chan struct{} // a change committed here: tell the other servers
	log  *slog.Logger
}

// NewHub returns a hub; run Listen to connect it to the other servers.
func NewHub(log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler) // never the process default: it ignores --log-format
	}
	return &Hub{wake: make(chan struct{}), kick: make(chan struct{}, 1), log: log}
}

// Changed reports a committed change: it wakes this server's watchers at
// once and asks for a notification to the others.
func (h *Hub) Changed() {
	h.broadcast()
	select {
	case h.kick <- struct{}{}:
	default: // one is pending already and will cover this change
	}
}

// notify sends one NOTIFY per batch of Changed calls until ctx ends.
func (h *Hub) notify(ctx context.Context, pool *pgxpool.Pool) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
		}
		if _, err := pool.Exec(ctx, `SELECT pg_notify('sparc_referrals', '')`); err != nil && ctx.Err() == nil {
			h.log.Warn("notifying other servers of referral changes; they poll meanwhile", "err", err)
		}
		// Under load a notification per change would be a transaction per
		// change; one per interval covers every change made meanwhile, at a
		// cost of at most this much delay on the other servers (watchers
		// here were woken at once).
		select {
		case <-ctx.Done():
			return
		case <-time.After(notifyInterval):
		}
	}
}

// notifyInterval spaces the notifications this server sends.
const notifyInterval = 5 * time.Millisecond

// wait returns a channel closed at the next notification.
func (h *Hub) wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.wake
}

func (h *Hub) broadcast() {
	h.mu.Lock()
	close(h.wake)
	h.wake = make(chan struct{})
	h.mu.Unlock()
}

// Listen holds one connection in LISTEN until ctx ends, reconnecting after
// failures, and sends this server's notifications.
func (h *Hub) Listen(ctx context.Context, pool *pgxpool.Pool) {
	go h.notify(ctx, pool)
	db.Listen(ctx, pool, "sparc_referrals", nil, h.broadcast, func(err error) {
		h.log.Warn("referral notifications interrupted; polling until reconnected", "err", err)
		h.broadcast()
	})
}

// pollInterval bounds the delay when a notification is missed.
const pollInterval = time.Second

type cursor struct {
	txid uint64
	seq  int64
}

func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatUint(c.txid, 10) + ":" + strconv.FormatInt(c.seq, 10)))
}

func parseCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, err
	}
	a, bs, ok := strings.Cut(string(b), ":")
	if !ok {
		return cursor{}, errors.New("malformed")
	}
	var c cursor
	if c.txid, err = strconv.ParseUint(a, 10, 64); err != nil {
		return cursor{}, err
	}
	if c.seq, err = strconv.ParseInt(bs, 10, 64); err != nil {
		return cursor{}, err
	}
	return c, nil
}

// WatchReferrals streams the changes to the referrals the caller has a
// side on (the visibility rule, visibility.go) after the cursor, in (txid, seq) order, only past the horizon
// of finished transactions: nothing committed later can sort before what
// was sent, so a client resuming from its last cursor sees every change
// exactly once, across reconnects and server restarts.
func (s *Service) WatchReferrals(req *sparcv1.WatchReferralsRequest, stream grpc.ServerStreamingServer[sparcv1.ReferralChange]) error {
	ctx := stream.Context()
	var cur cursor
	switch req.GetCursor() {
	case "":
	case "now":
		err := db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&cur.txid)
		})
		if err != nil {
			return err
		}
	default:
		c, err := parseCursor(req.GetCursor())
		if err != nil {
			return apierr.Invalid("cursor", "is not a cursor from WatchReferrals (or \"now\")")
		}
		cur = c
	}
	var retry time.Duration
	for {
		wake := s.hub.wait()
		n, pending, err := s.deliver(ctx, stream, &cur)
		if err != nil {
			return err
		}
		if n > 0 {
			retry = 0
			continue // there may be more past the batch
		}
		wait := pollInterval
		if pending {
			// Committed changes wait behind an older transaction. If that
			// one changes no referral, its end wakes nobody: look again
			// soon, backing off.
			retry = min(max(2*retry, 5*time.Millisecond), pollInterval)
			wait = retry
		} else {
			retry = 0
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-time.After(wait):
		}
	}
}

// changesSQL reads the changes after a cursor ($1 txid, $2 seq) that the
// transaction's identity (sparc_org(), sparc_role()) may see; the last
// column says whether a row is below the horizon. Webhook deliveries
// (webhooks.go) read with it too.
const changesSQL = `SELECT txid::text::bigint, seq, referral_id, referring_org, provider_org, type, from_status, to_status, time,
		txid < pg_snapshot_xmin(pg_current_snapshot())
	FROM referral_outbox
	WHERE (txid, seq) > ($1::text::xid8, $2)
	  AND ` + visibleChange + `
	ORDER BY txid, seq LIMIT 500`

// visibleChange is the visibility rule (visibility.go) for one change, as
// row-level security states it too (migration 0040): the referring side
// sees every change; the providing side the changes from the referral's
// sending on (a draft is the referrer's alone).
const visibleChange = `((referring_org = sparc_org() AND sparc_role() IN ('link_worker', 'admin'))
	OR (provider_org = sparc_org() AND sparc_role() IN ('group_editor', 'admin')
	    AND NOT (to_status = 'draft' OR (from_status = 'draft' AND to_status <> 'requested'))))`

// scanChanges reads changesSQL's rows for a reader of org with role: the
// changes below the horizon with their cursors, in order, and whether
// committed changes wait behind it (pending). Sorted by txid, the rows
// below the horizon come first. A row the visibility rule refuses to the
// reader comes back as a nil change with its cursor, to be stepped over:
// the query states the same rule, so this is the second wall.
func scanChanges(rows pgx.Rows, org, role string) ([]*sparcv1.ReferralChange, []cursor, bool, error) {
	defer rows.Close()
	var batch []*sparcv1.ReferralChange
	var last []cursor
	for rows.Next() {
		var c cursor
		var id, referring uuid.UUID
		var providing *uuid.UUID
		var kind, from, to string
		var t time.Time
		var ready bool
		if err := rows.Scan(&c.txid, &c.seq, &id, &referring, &providing, &kind, &from, &to, &t, &ready); err != nil {
			return nil, nil, false, err
		}
		if !ready {
			return batch, last, true, nil
		}
		var ch *sparcv1.ReferralChange
		if sideFor(org, role, parties{referrer: referring, provider: providing, sent: changeSent(from, to)}) != 0 {
			ch = &sparcv1.ReferralChange{Cursor: c.String(), ReferralId: id.String(), Type: kind,
				FromStatus: statusFromCode[from], ToStatus: statusFromCode[to], Time: timestamppb.New(t)}
		}
		batch = append(batch, ch)
		last = append(last, c)
	}
	return batch, last, false, rows.Err()
}

// deliver sends the changes after cur that are past the horizon and
// reports whether committed changes wait behind it (pending).
func (s *Service) deliver(ctx context.Context, stream grpc.ServerStreamingServer[sparcv1.ReferralChange], cur *cursor) (int, bool, error) {
	var batch []*sparcv1.ReferralChange
	var last []cursor
	var pending bool
	id := db.IdentityFrom(ctx)
	read := func(rows pgx.Rows) (err error) {
		batch, last, pending, err = scanChanges(rows, id.Org, id.Role)
		return err
	}
	args := []any{strconv.FormatUint(cur.txid, 10), cur.seq}
	var err error
	if db.RiderPending(ctx) {
		// The first read also records the call in the audit log.
		err = db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, changesSQL, args...)
			if err != nil {
				return err
			}
			return read(rows)
		})
	} else {
		// A watcher reads after every change: one round trip, an implicit
		// transaction that carries the caller's identity for row-level
		// security, instead of the four of db.InTx.
		b := db.IdentityBatch(id)
		b.Queue(changesSQL, args...).Query(read)
		err = s.pool.SendBatch(ctx, b).Close()
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading referral changes: %w", err)
	}
	for i, ch := range batch {
		if ch != nil {
			if err := stream.Send(ch); err != nil {
				return i, pending, err
			}
		}
		*cur = last[i]
	}
	return len(batch), pending, nil
}
