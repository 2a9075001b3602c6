package referrals

import (
	"sort"
	"strings"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// Statuses are stored as the lower-case Gravity Project names.
var statusCode = map[sparcv1.ReferralStatus]string{
	sparcv1.ReferralStatus_REFERRAL_STATUS_DRAFT:            "draft",
	sparcv1.ReferralStatus_REFERRAL_STATUS_REQUESTED:        "requested",
	sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED:         "accepted",
	sparcv1.ReferralStatus_REFERRAL_STATUS_REJECTED:         "rejected",
	sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED:        "cancelled",
	sparcv1.ReferralStatus_REFERRAL_STATUS_IN_PROGRESS:      "in_progress",
	sparcv1.ReferralStatus_REFERRAL_STATUS_ON_HOLD:          "on_hold",
	sparcv1.ReferralStatus_REFERRAL_STATUS_COMPLETED:        "completed",
	sparcv1.ReferralStatus_REFERRAL_STATUS_FAILED:           "failed",
	sparcv1.ReferralStatus_REFERRAL_STATUS_ENTERED_IN_ERROR: "entered_in_error",
	sparcv1.ReferralStatus_REFERRAL_STATUS_WAITLISTED:       "waitlisted",
}

var statusFromCode = func() map[string]sparcv1.ReferralStatus {
	m := map[string]sparcv1.ReferralStatus{}
	for k, v := range statusCode {
		m[v] = k
	}
	return m
}()

// side is who is acting on a referral.
type side int

const (
	referrer side = iota + 1 // the referring organisation (link workers)
	provider                 // the asset's owner organisation (the group)
)

// transitions is the Gravity Project SDOH referral state machine with
// the side allowed to make each move. Both sides may cancel; only the
// referrer marks entered_in_error (allowed from any status, added below).
// waitlisted is no move of its own: accepting an asset whose places are
// all taken lands there (TransitionReferral), and the waiting list moves
// it to accepted when a place frees (sparc_release_place, migration
// 0052); the provider may also accept it once a place is free, or reject
// it.
var transitions = map[string]map[string][]side{
	"draft":       {"requested": {referrer}, "cancelled": {referrer}},
	"requested":   {"accepted": {provider}, "rejected": {provider}, "cancelled": {referrer, provider}},
	"waitlisted":  {"accepted": {provider}, "rejected": {provider}, "cancelled": {referrer, provider}},
	"accepted":    {"in_progress": {provider}, "on_hold": {provider}, "cancelled": {referrer, provider}, "completed": {provider}, "failed": {provider}},
	"in_progress": {"on_hold": {provider}, "cancelled": {referrer, provider}, "completed": {provider}, "failed": {provider}},
	"on_hold":     {"in_progress": {provider}, "cancelled": {referrer, provider}, "completed": {provider}, "failed": {provider}},
}

// terminal statuses close a referral (and free its place).
var terminal = map[string]bool{"rejected": true, "cancelled": true, "completed": true, "failed": true, "entered_in_error": true}

// reasons are the coded status reasons; these statuses require one.
var reasons = map[string][]string{
	"rejected":  {"no_capacity", "not_eligible", "not_suitable", "unable_to_contact", "other"},
	"cancelled": {"person_declined", "person_unreachable", "duplicate", "no_longer_needed", "referrer_withdrew", "other"},
	"on_hold":   {"person_unwell", "waiting_list", "activity_paused", "person_request", "other"},
	"failed":    {"did_not_attend", "activity_closed", "person_moved", "needs_not_met", "other"},
}

// allowed returns the statuses s may move to next from status.
func allowed(from string, s side) []string {
	var out []string
	for to, sides := range transitions[from] {
		for _, x := range sides {
			if x == s {
				out = append(out, to)
			}
		}
	}
	if s == referrer && from != "entered_in_error" {
		out = append(out, "entered_in_error")
	}
	sort.Strings(out)
	return out
}

func canMove(from, to string, s side) bool {
	for _, x := range allowed(from, s) {
		if x == to {
			return true
		}
	}
	return false
}

func validReason(status, reason string) bool {
	for _, r := range reasons[status] {
		if r == reason {
			return true
		}
	}
	return false
}

func sideName(s side) string {
	if s == referrer {
		return "referring organisation"
	}
	return "provider"
}

func statusNames(codes []string) string {
	if len(codes) == 0 {
		return "none"
	}
	return strings.Join(codes, ", ")
}
