package referrals

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/outbox"
)

// WatchReferrals streams the changes to the referrals the caller has a
// side on (the visibility rule, visibility.go) after the cursor, in
// (txid, seq) order, only past the horizon of finished transactions:
// nothing committed later can sort before what was sent, so a client
// resuming from its last cursor sees every change exactly once, across
// reconnects and server restarts.
func (s *Service) WatchReferrals(req *sparcv1.WatchReferralsRequest, stream grpc.ServerStreamingServer[sparcv1.ReferralChange]) error {
	ctx := stream.Context()
	var cur outbox.Cursor
	switch req.GetCursor() {
	case "":
	case "now":
		var err error
		if cur, err = s.store.horizon(ctx); err != nil {
			return err
		}
	default:
		c, err := outbox.ParseCursor(req.GetCursor())
		if err != nil {
			return apierr.Invalid("cursor", "is not a cursor from WatchReferrals (or \"now\")")
		}
		cur = c
	}
	var retry time.Duration
	for {
		wake := s.hub.Wait()
		n, pending, err := s.deliver(stream, &cur)
		if err != nil {
			return err
		}
		if n > 0 {
			retry = 0
			continue // there may be more past the batch
		}
		wait := outbox.PollInterval
		if pending {
			// Committed changes wait behind an older transaction. If that
			// one changes no referral, its end wakes nobody: look again
			// soon, backing off.
			retry = min(max(2*retry, 5*time.Millisecond), outbox.PollInterval)
			wait = retry
		} else {
			retry = 0
		}
		select {
		case <-ctx.Done():
			// The caller's deadline or cancel ends the stream with that
			// status, never OK: an OK end would tell a client that raced its
			// own deadline that the server closed the watch deliberately.
			return ctx.Err()
		case <-wake:
		case <-time.After(wait):
		}
	}
}

// deliver sends the changes after cur that are past the horizon and
// reports whether committed changes wait behind it (pending).
func (s *Service) deliver(stream grpc.ServerStreamingServer[sparcv1.ReferralChange], cur *outbox.Cursor) (int, bool, error) {
	ctx := stream.Context()
	changes, pending, err := s.store.readChanges(ctx, *cur)
	if err != nil {
		return 0, false, err
	}
	id := db.IdentityFrom(ctx)
	for i, c := range changes {
		if ch := ChangeFor(id.Org, id.Role, c); ch != nil {
			if err := stream.Send(ch); err != nil {
				return i, pending, err
			}
		}
		*cur = c.Cursor
	}
	return len(changes), pending, nil
}

// ChangeFor is a change as a reader of org with role sees it, or nil when
// the visibility rule refuses it to them (the reader steps over it: the
// outbox query states the same rule, so this is the second wall). Webhook
// deliveries read through it too.
func ChangeFor(org, role string, c outbox.Change) *sparcv1.ReferralChange {
	if sideFor(org, role, parties{referrer: c.Referrer, provider: c.Provider, sent: changeSent(c.From, c.To)}) == 0 {
		return nil
	}
	return &sparcv1.ReferralChange{Cursor: c.Cursor.String(), Referral: aip.Name(aip.Referrals, c.Referral), Type: c.Type,
		FromStatus: statusFromCode[c.From], ToStatus: statusFromCode[c.To], Time: timestamppb.New(c.Time)}
}
