package referrals

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
)

// Readable referrals (issue 14, point 4): a referral holds names
// ("assets/…", "organisations/…", "key:sparc_…"); people read the asset's
// name, where and when it meets, the organisations' names and the link
// worker's. They are read from their owners' stores when the referral is
// read, one query per store per page (ListReferrals reads a page's at
// once: lookups), and reach the answer only through the visibility rule
// (disclose: sight.summary, sight.linkWorkerName).

// lookups is what the owners' stores said about the referrals of one
// page: assets by id, organisation display names by id, and the link
// workers' display names by principal name.
type lookups struct {
	assets  map[uuid.UUID]*sparcv1.Asset
	orgs    map[uuid.UUID]string
	workers map[string]string
}

type lookupsKey struct{}

// withLookups returns ctx carrying the lookups of a page, which render
// uses instead of reading each row's.
func withLookups(ctx context.Context, l *lookups) context.Context {
	return context.WithValue(ctx, lookupsKey{}, l)
}

// lookup reads what the summaries of rows need, as caller may see it, in
// one query per owner store: the assets (open data), the organisations'
// display names (public fields), and the display names of the link
// workers on the rows the caller refers on (their own organisation's
// keys; the database function reads no other organisation's). tx nil: a
// transaction of its own.
func (s *Service) lookup(ctx context.Context, tx pgx.Tx, rows []*referralRow, caller *auth.Principal) (*lookups, error) {
	if tx == nil {
		return db.InTxResult(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) (*lookups, error) {
			return s.lookup(ctx, tx, rows, caller)
		})
	}
	var assetIDs, orgIDs []uuid.UUID
	var workers []string
	seen := map[uuid.UUID]bool{}
	add := func(id uuid.UUID, to *[]uuid.UUID) {
		if !seen[id] {
			seen[id] = true
			*to = append(*to, id)
		}
	}
	for _, x := range rows {
		d := disclose(caller.Org, caller.Role, x.parties(), false)
		if !d.summary {
			continue
		}
		add(x.asset, &assetIDs)
		add(x.referrer, &orgIDs)
		if x.provider != nil {
			add(*x.provider, &orgIDs)
		}
		if d.linkWorkerName {
			workers = append(workers, x.linkWorker)
		}
	}
	l := &lookups{}
	var err error
	if l.assets, err = s.assets.Many(ctx, tx, assetIDs); err != nil {
		return nil, err
	}
	if l.orgs, err = s.orgs.DisplayNames(ctx, tx, orgIDs); err != nil {
		return nil, err
	}
	if l.workers, err = s.keys.DisplayNames(ctx, tx, workers); err != nil {
		return nil, err
	}
	return l, nil
}

type noSummaryKey struct{}

// withoutSummary marks a render that leaves the summary out: CreateReferral's
// answer. The summary's three reads in other domains' stores (and their
// transactions) almost tripled the CPU of a create, 0.73 → 2.0 ms measured
// with sparcbench, on the path link workers use most; the caller has just
// chosen the asset and knows the organisations, and Get and List carry the
// summary.
func withoutSummary(ctx context.Context) context.Context {
	return context.WithValue(ctx, noSummaryKey{}, true)
}

func summaryWanted(ctx context.Context) bool { return ctx.Value(noSummaryKey{}) == nil }

// lookupsFor is the page's lookups carried by ctx when they cover x, or
// x's own, read now.
func (s *Service) lookupsFor(ctx context.Context, tx pgx.Tx, x *referralRow, caller *auth.Principal) (*lookups, error) {
	if l, ok := ctx.Value(lookupsKey{}).(*lookups); ok && l != nil {
		return l, nil
	}
	return s.lookup(ctx, tx, []*referralRow{x}, caller)
}

// summary is x's summary as sight d allows, nil when it allows none.
func (l *lookups) summary(x *referralRow, d sight, now time.Time) *sparcv1.ReferralSummary {
	if !d.summary {
		return nil
	}
	sum := &sparcv1.ReferralSummary{ReferringOrganisationDisplayName: l.orgs[x.referrer]}
	if x.provider != nil {
		sum.ProviderOrganisationDisplayName = l.orgs[*x.provider]
	}
	if a := l.assets[x.asset]; a != nil {
		sum.AssetDisplayName = a.GetDisplayName()
		sum.Address, sum.Postcode, sum.Locality = a.GetLocation().GetAddress(), a.GetLocation().GetPostcode(), a.GetLocation().GetLocality()
		sum.NextSession = nextSession(a.GetSessions(), now)
	}
	if d.linkWorkerName {
		sum.LinkWorkerDisplayName = l.workers[x.linkWorker]
	}
	return sum
}

// zones caches loaded time zones: time.LoadLocation reads the zone file
// on every call, and a page of referrals names a handful of zones.
var zones sync.Map // string -> *time.Location

func zone(name string) (*time.Location, bool) {
	if z, ok := zones.Load(name); ok {
		return z.(*time.Location), true
	}
	z, err := time.LoadLocation(name)
	if err != nil || name == "" {
		return nil, false
	}
	zones.Store(name, z)
	return z, true
}

// nextSession is the first occurrence starting after now of any of the
// weekly sessions ss, each in its own time zone and within its valid
// dates, or nil when none lies ahead. Wall-clock times are kept across
// daylight-saving changes (a 10:30 session is at 10:30 local time in
// summer and winter), as the asset's own time zone says.
func nextSession(ss []*sparcv1.Session, now time.Time) *sparcv1.NextSession {
	var best *sparcv1.NextSession
	var bestStart time.Time
	for _, s := range ss {
		z, ok := zone(s.GetTimezone())
		if !ok || s.GetDay() < sparcv1.Weekday_WEEKDAY_MONDAY || s.GetDay() > sparcv1.Weekday_WEEKDAY_SUNDAY {
			continue
		}
		st, err1 := time.Parse("15:04", s.GetStartTime())
		et, err2 := time.Parse("15:04", s.GetEndTime())
		if err1 != nil || err2 != nil {
			continue
		}
		local := now.In(z)
		first := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, z)
		if from, err := time.ParseInLocation(time.DateOnly, s.GetValidFrom(), z); err == nil && from.After(first) {
			first = from
		}
		var until time.Time
		if u, err := time.ParseInLocation(time.DateOnly, s.GetValidUntil(), z); err == nil {
			until = u
		}
		want := time.Weekday(int(s.GetDay()) % 7) // Monday 1 … Sunday 7 → Sunday 0
		for i := 0; i < 8; i++ {
			day := first.AddDate(0, 0, i)
			if day.Weekday() != want {
				continue
			}
			if !until.IsZero() && day.After(until) {
				break
			}
			start := time.Date(day.Year(), day.Month(), day.Day(), st.Hour(), st.Minute(), 0, 0, z)
			if !start.After(now) {
				continue
			}
			if best == nil || start.Before(bestStart) {
				end := time.Date(day.Year(), day.Month(), day.Day(), et.Hour(), et.Minute(), 0, 0, z)
				const civil = "2006-01-02T15:04:05"
				best = &sparcv1.NextSession{StartTime: timestamppb.New(start), EndTime: timestamppb.New(end),
					TimeZone: s.GetTimezone(), LocalStart: start.Format(civil), LocalEnd: end.Format(civil)}
				bestStart = start
			}
			break
		}
	}
	return best
}
