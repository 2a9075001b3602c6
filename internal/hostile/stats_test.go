package hostile_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// referralStats asks for the referral statistics of the referrals org
// made ("": the caller's organisation). The one place that names the call
// and its request: issue 13 renames them (ComputeReferralStats, with
// organisation holding the organisation's resource name).
func referralStats(ctx context.Context, c *grpc.ClientConn, org string) (*sparcv1.ReferralStats, error) {
	return sparcv1.NewReferralServiceClient(c).ComputeReferralStats(ctx, &sparcv1.ComputeReferralStatsRequest{Organisation: aip.NameOf(aip.Organisations, org)})
}

// statsView is what a stats answer must show: whether it is the
// disclosure-controlled view, the total, and each status's count (-1:
// withheld).
type statsView struct {
	suppressed bool
	total      int64
	byStatus   map[string]int64
}

var (
	// The referrer's 13 referrals (9 requested, 4 accepted) as its own
	// link workers and admins see them: exact.
	exactReferrals = statsView{total: 13, byStatus: map[string]int64{"requested": 9, "accepted": 4}}
	// The same through the disclosure rule: 13 -> 15, 9 -> 10, 4 withheld.
	releasedReferrals = statsView{suppressed: true, total: 15, byStatus: map[string]int64{"requested": 10, "accepted": -1}}
	// The provider referred no one: nothing to show, exactly or not.
	exactNone    = statsView{byStatus: map[string]int64{}}
	releasedNone = statsView{suppressed: true, byStatus: map[string]int64{}}
)

func (w statsView) check(t *testing.T, s *sparcv1.ReferralStats) {
	t.Helper()
	count := func(c *sparcv1.StatCount) int64 {
		if c.GetSuppressed() {
			return -1
		}
		return c.GetValue()
	}
	if s.GetSuppressed() != w.suppressed || count(s.GetTotal()) != w.total || len(s.GetByStatus()) != len(w.byStatus) {
		t.Fatalf("suppressed %v, total %v, by status %v; want suppressed %v, total %d, by status %v",
			s.GetSuppressed(), s.GetTotal(), s.GetByStatus(), w.suppressed, w.total, w.byStatus)
	}
	for st, n := range w.byStatus {
		if got := count(s.GetByStatus()[st]); got != n {
			t.Errorf("%s: %d (-1: withheld), want %d; by status %v", st, got, n, s.GetByStatus())
		}
	}
	// 4 acceptances: the median is one of them, so only the referrer's
	// own view may show it.
	if med := s.GetMedianDaysToAcceptance(); (w.suppressed || w.total == 0) != (med == 0) {
		t.Errorf("median days to acceptance %v in a view suppressed=%v of %d referrals", med, w.suppressed, w.total)
	}
	// The controlled view covers whole calendar months that have ended.
	if w.suppressed {
		from, to := s.GetStartTime().AsTime(), s.GetEndTime().AsTime()
		if from.Day() != 1 || from.Hour() != 0 || to.Day() != 1 || to.Hour() != 0 || !to.Before(time.Now()) {
			t.Errorf("window %v to %v, want whole months that have ended", from, to)
		}
	}
}

// Issue 12 tested the statistics' content for the referrer against a few
// outsiders. Here every role of BOTH organisations of a referral (the
// referrer and the provider it refers to) and the network admin ask about
// the referrer, the provider and their own organisation. Only the
// referrer's link workers and admins see its figures exactly; its group
// editors and analysts, and every role of the provider (which holds the
// referrals too), get the disclosure-controlled view; the network admin
// is refused. The provider made no referrals: its figures are empty for
// everyone.
func TestReferralStatsForEveryRoleOfBothOrganisations(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	refs := env.NewReferrals(t)
	conns := map[string]*grpc.ClientConn{"network admin": env.Network(t)}
	for side, org := range map[string]string{"referrer": refs.Referrer, "provider": refs.Provider} {
		for _, role := range []string{auth.RoleAdmin, auth.RoleLinkWorker, auth.RoleGroupEditor, auth.RoleAreaAnalyst} {
			conns[side+" "+role] = env.ConnWithKey(t, env.Key(t, org, role))
		}
	}
	for i := range 13 {
		id := refs.Refer(t, fmt.Sprintf("stats-%d", i))
		if i < 4 {
			if _, err := sparcv1.NewReferralServiceClient(conns["provider group_editor"]).TransitionReferral(ctx,
				&sparcv1.TransitionReferralRequest{Name: id, ToStatus: sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Figures leaving the referrer cover months that have ended: the
	// referrals were made in March 2025.
	env.BackdateReferrals(t, time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC))

	// Per caller, the view of: its own organisation, the referrer, the
	// provider.
	want := map[string][3]statsView{
		"referrer admin":        {exactReferrals, exactReferrals, releasedNone},
		"referrer link_worker":  {exactReferrals, exactReferrals, releasedNone},
		"referrer group_editor": {releasedReferrals, releasedReferrals, releasedNone},
		"referrer area_analyst": {releasedReferrals, releasedReferrals, releasedNone},
		"provider admin":        {exactNone, releasedReferrals, exactNone},
		"provider link_worker":  {exactNone, releasedReferrals, exactNone},
		"provider group_editor": {releasedNone, releasedReferrals, releasedNone},
		"provider area_analyst": {releasedNone, releasedReferrals, releasedNone},
	}
	if len(want) != len(conns)-1 {
		t.Fatalf("%d callers with expectations for %d connections", len(want), len(conns)-1)
	}
	asked := []struct{ name, org string }{{"own", ""}, {"referrer", refs.Referrer}, {"provider", refs.Provider}}
	for caller, views := range want {
		for i, a := range asked {
			t.Run(caller+"/"+a.name, func(t *testing.T) {
				s, err := referralStats(ctx, conns[caller], a.org)
				if err != nil {
					t.Fatal(err)
				}
				views[i].check(t, s)
			})
		}
	}
	for _, a := range asked {
		if _, err := referralStats(ctx, conns["network admin"], a.org); status.Code(err) != codes.PermissionDenied {
			t.Errorf("network admin, %s: %v, want PERMISSION_DENIED", a.name, err)
		}
	}
}
