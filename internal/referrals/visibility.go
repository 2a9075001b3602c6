package referrals

import (
	"github.com/google/uuid"

	"github.com/sparc-network/sparc/internal/auth"
)

// The visibility rule: what a caller sees of a referral is decided here
// and nowhere else. Get, List, Watch, webhook deliveries and every change
// that answers with the referral render through disclose; the SQL filters
// (ListReferrals, changesSQL) and the row-level security policies
// (migration 0040) state the same rule for the database, so a query that
// forgets a filter still returns nothing more, and a row the database lets
// through that the rule refuses is dropped here.
//
// A caller sees a referral only from a side:
//   - the referring side: the referring organisation's link workers and
//     admins;
//   - the providing side: the provider organisation's group editors and
//     admins, once the referral was sent (a draft never requested is the
//     referrer's alone).
//
// Anyone else (another organisation, a group editor of the referring
// organisation, a link worker of the provider, an area analyst, an
// anonymous caller) has no side and sees nothing: not found.

// refers reports whether role acts for its organisation as a referrer.
func refers(role string) bool { return role == auth.RoleLinkWorker || role == auth.RoleAdmin }

// provides reports whether role acts for its organisation as a provider.
func provides(role string) bool { return role == auth.RoleGroupEditor || role == auth.RoleAdmin }

// parties is what the rule needs to know of a referral (or of one change
// to it): who referred, who provides, and whether it was sent.
type parties struct {
	referrer uuid.UUID
	provider *uuid.UUID
	sent     bool
}

// sideFor is the side a caller of org with role is on, or 0 for none. An
// organisation on both sides (referring to its own asset) acts as the
// referrer when its role may refer.
func sideFor(org, role string, p parties) side {
	switch {
	case org != "" && org == p.referrer.String() && refers(role):
		return referrer
	case org != "" && p.sent && p.provider != nil && org == p.provider.String() && provides(role):
		return provider
	}
	return 0
}

// sight is what one caller sees of one referral.
type sight struct {
	side side // 0: nothing at all (not found)
	// person: the referrer sees the person's current details; the provider
	// the consented view stored on the referral (see People.shared).
	// freeText: the provider note, the outcome's what_changed and the
	// timeline notes. Free text may name the person, so the provider gets
	// it only when the person consented to share anything personal.
	freeText bool
	// summary: the readable names of the referral (ReferralSummary): the
	// asset's name, address and next session, and both organisations'
	// names. Either side: the asset and organisations are public, and
	// both sides already hold their names.
	summary bool
	// linkWorkerName: the link worker's display name. The referrer's
	// alone: the link worker is the referring organisation's staff, and
	// the provider deals with that organisation (least data; the
	// referring organisation's name is in the summary).
	linkWorkerName bool
}

// disclose is the rule in full: a caller (organisation and role), the
// referral's parties and whether the person consented to share anything
// with the provider decide what the caller sees. Statuses, dates, reasons
// and outcome scores go with any side; the scores are the loop's shared
// record and name nobody.
func disclose(org, role string, p parties, consent bool) sight {
	switch sd := sideFor(org, role, p); sd {
	case referrer:
		return sight{side: referrer, freeText: true, summary: true, linkWorkerName: true}
	case provider:
		return sight{side: provider, freeText: consent, summary: true}
	}
	return sight{}
}

// changeSent says whether a change belongs to a sent referral: every
// change but those of a draft before it is requested (its creation as a
// draft, and cancelling or withdrawing it unsent). The provider's stream
// of a referral starts when it is sent.
func changeSent(from, to string) bool {
	return !(to == "draft" || (from == "draft" && to != "requested"))
}
