package referrals_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// statuses by their Gravity Project names, as the API's error messages
// spell them.
var statusByName = map[string]sparcv1.ReferralStatus{
	"draft":            sparcv1.ReferralStatus_REFERRAL_STATUS_DRAFT,
	"requested":        sparcv1.ReferralStatus_REFERRAL_STATUS_REQUESTED,
	"accepted":         sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED,
	"rejected":         sparcv1.ReferralStatus_REFERRAL_STATUS_REJECTED,
	"cancelled":        sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED,
	"in_progress":      sparcv1.ReferralStatus_REFERRAL_STATUS_IN_PROGRESS,
	"on_hold":          sparcv1.ReferralStatus_REFERRAL_STATUS_ON_HOLD,
	"completed":        sparcv1.ReferralStatus_REFERRAL_STATUS_COMPLETED,
	"failed":           sparcv1.ReferralStatus_REFERRAL_STATUS_FAILED,
	"entered_in_error": sparcv1.ReferralStatus_REFERRAL_STATUS_ENTERED_IN_ERROR,
}

var allStatuses = []string{"draft", "requested", "accepted", "rejected", "cancelled", "in_progress", "on_hold",
	"completed", "failed", "entered_in_error"}

// statusReasons is the coded list of status reasons, as docs/referrals.md
// publishes it.
var statusReasons = map[string][]string{
	"rejected":  {"no_capacity", "not_eligible", "not_suitable", "unable_to_contact", "other"},
	"cancelled": {"person_declined", "person_unreachable", "duplicate", "no_longer_needed", "referrer_withdrew", "other"},
	"on_hold":   {"person_unwell", "waiting_list", "activity_paused", "person_request", "other"},
	"failed":    {"did_not_attend", "activity_closed", "person_moved", "needs_not_met", "other"},
}

// R and P mark who may make a move: the referring organisation, the
// provider (the asset's owner).
const (
	R = "referrer"
	P = "provider"
)

// moves is the state machine of issue 5 written out by hand: from → to →
// the sides allowed. Every pair not listed is refused for every side.
// draft → cancelled is the one move beyond the list: a link worker
// may withdraw a draft (FHIR Task allows it), which keeps it out of the
// provider's sight for good.
var moves = map[string]map[string][]string{
	"draft":            {"requested": {R}, "cancelled": {R}, "entered_in_error": {R}},
	"requested":        {"accepted": {P}, "rejected": {P}, "cancelled": {R, P}, "entered_in_error": {R}},
	"accepted":         {"in_progress": {P}, "on_hold": {P}, "cancelled": {R, P}, "completed": {P}, "failed": {P}, "entered_in_error": {R}},
	"in_progress":      {"on_hold": {P}, "cancelled": {R, P}, "completed": {P}, "failed": {P}, "entered_in_error": {R}},
	"on_hold":          {"in_progress": {P}, "cancelled": {R, P}, "completed": {P}, "failed": {P}, "entered_in_error": {R}},
	"rejected":         {"entered_in_error": {R}},
	"cancelled":        {"entered_in_error": {R}},
	"completed":        {"entered_in_error": {R}},
	"failed":           {"entered_in_error": {R}},
	"entered_in_error": {},
}

// reasonFor returns a valid coded reason for statuses that need one.
func reasonFor(to string) string {
	if r := statusReasons[to]; len(r) > 0 {
		return r[0]
	}
	return ""
}

// at returns a fresh referral brought to status by the sides allowed to.
func (w *world) at(t *testing.T, p *sparcv1.Person, st string) *sparcv1.Referral {
	t.Helper()
	ctx := context.Background()
	r, err := w.lw.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: fmt.Sprintf("%s-%p-%d", st, t, nextID()),
		PersonId: p.GetId(), AssetId: w.asset.GetName(), Draft: st == "draft"})
	if err != nil {
		t.Fatal(err)
	}
	path := map[string][]string{
		"draft": nil, "requested": nil, "accepted": {"accepted"}, "rejected": {"rejected"}, "cancelled": {"cancelled"},
		"in_progress": {"accepted", "in_progress"}, "on_hold": {"accepted", "on_hold"}, "completed": {"accepted", "completed"},
		"failed": {"accepted", "failed"}, "entered_in_error": {"entered_in_error"},
	}[st]
	for _, to := range path {
		c := w.group
		if to == "entered_in_error" {
			c = w.lw
		}
		if r, err = move(c, r.GetId(), statusByName[to], reasonFor(to)); err != nil {
			t.Fatalf("bringing a referral to %s (%s): %v", st, to, err)
		}
	}
	if got := r.GetStatus(); got != statusByName[st] {
		t.Fatalf("referral is %v, want %s", got, st)
	}
	return r
}

func allowedFor(from, side string) []string {
	var out []string
	for to, sides := range moves[from] {
		for _, s := range sides {
			if s == side {
				out = append(out, to)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestEveryTransitionForEverySide(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC)
	clients := map[string]sparcv1.ReferralServiceClient{R: w.lw, P: w.group, "other organisation": w.outside, "analyst": w.analyst}
	for _, from := range allStatuses {
		t.Run(from, func(t *testing.T) {
			t.Parallel()
			// Refused moves leave the referral as it was, so they share one.
			shared := w.at(t, p, from)
			for _, to := range allStatuses {
				for _, side := range []string{R, P, "other organisation", "analyst"} {
					allowed := false
					for _, s := range moves[from][to] {
						allowed = allowed || s == side
					}
					r := shared
					if allowed {
						r = w.at(t, p, from)
					}
					got, err := move(clients[side], r.GetId(), statusByName[to], reasonFor(to))
					name := fmt.Sprintf("%s → %s by %s", from, to, side)
					switch {
					case allowed:
						if err != nil {
							t.Errorf("%s: %v, want it allowed", name, err)
							continue
						}
						if got.GetStatus() != statusByName[to] || got.GetStatusReason() != reasonFor(to) {
							t.Errorf("%s: now %v (%q)", name, got.GetStatus(), got.GetStatusReason())
						}
						last := got.GetTimeline()[len(got.GetTimeline())-1]
						if last.GetFromStatus() != statusByName[from] || last.GetToStatus() != statusByName[to] || last.GetReason() != reasonFor(to) {
							t.Errorf("%s: last timeline event %v", name, last)
						}
					case side == "other organisation" || side == "analyst" || (side == P && from == "draft"):
						// Not a party (or the draft was never sent): the
						// referral does not exist for them.
						if status.Code(err) != codes.NotFound {
							t.Errorf("%s: %v, want NotFound", name, err)
						}
					default:
						want := "allowed now: none"
						if a := allowedFor(from, side); len(a) > 0 {
							want = "allowed now: " + strings.Join(a, ", ")
						}
						if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), want) {
							t.Errorf("%s: %v, want FailedPrecondition naming %q", name, err, want)
						}
					}
				}
			}
			// Nothing refused changed the shared referral.
			after, err := w.lw.GetReferral(context.Background(), &sparcv1.GetReferralRequest{Id: shared.GetId()})
			if err != nil {
				t.Fatal(err)
			}
			if after.GetStatus() != statusByName[from] || len(after.GetTimeline()) != len(shared.GetTimeline()) {
				t.Errorf("refused moves changed the referral: %v with %d events, was %d", after.GetStatus(),
					len(after.GetTimeline()), len(shared.GetTimeline()))
			}
		})
	}
}

func TestStatusReasonsComeFromTheCodedList(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC)
	// from: a status the move to each reason-needing status starts at, and who makes it.
	start := map[string]struct {
		from string
		by   sparcv1.ReferralServiceClient
	}{"rejected": {"requested", w.group}, "cancelled": {"requested", w.lw}, "on_hold": {"accepted", w.group}, "failed": {"accepted", w.group}}
	for to, codesList := range statusReasons {
		s := start[to]
		r := w.at(t, p, s.from)
		for _, bad := range []string{"", "because", "Other", "waiting list"} {
			_, err := move(s.by, r.GetId(), statusByName[to], bad)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), strings.Join(codesList, ", ")) {
				t.Errorf("%s with reason %q: %v, want InvalidArgument listing %v", to, bad, err, codesList)
			}
		}
		for _, code := range codesList {
			r := w.at(t, p, s.from)
			got, err := move(s.by, r.GetId(), statusByName[to], code)
			if err != nil || got.GetStatusReason() != code {
				t.Errorf("%s with reason %q: %v, %q", to, code, err, got.GetStatusReason())
			}
		}
	}
	// Statuses without a coded list take no reason.
	r := w.at(t, p, "requested")
	if _, err := move(w.group, r.GetId(), sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "other"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("accepted with a reason: %v, want InvalidArgument", err)
	}
	if _, err := move(w.group, r.GetId(), sparcv1.ReferralStatus_REFERRAL_STATUS_UNSPECIFIED, ""); status.Code(err) != codes.InvalidArgument {
		t.Errorf("no target status: %v, want InvalidArgument", err)
	}
}

func TestTransitionWithAStaleEtagIsAborted(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	r := w.at(t, w.person(t), "requested")
	ctx := context.Background()
	if _, err := w.group.TransitionReferral(ctx, &sparcv1.TransitionReferralRequest{Id: r.GetId(),
		ToStatus: sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, Etag: r.GetEtag()}); err != nil {
		t.Fatal(err)
	}
	_, err := w.lw.TransitionReferral(ctx, &sparcv1.TransitionReferralRequest{Id: r.GetId(),
		ToStatus: sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, Reason: "duplicate", Etag: r.GetEtag()})
	if status.Code(err) != codes.Aborted {
		t.Fatalf("cancel with the etag from before the acceptance: %v, want Aborted", err)
	}
}
