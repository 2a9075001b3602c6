package webhooks_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// A caller of the side fixture: one organisation's key of one role, or
// nobody (anonymous).
type sideCaller struct {
	name      string // "R/link_worker", "anonymous"
	org, role string
	refs      sparcv1.ReferralServiceClient
	people    sparcv1.PersonServiceClient
	recv      *receiver // its webhook's receiver (roles that may create one)
	hook      *sparcv1.Webhook
}

// A referral of the side fixture with the oracle, written by hand from
// the rule in docs/security.md ("What each role sees of a referral"): who has a side on it, and who of
// those may read its free text and person.
type sideRef struct {
	name      string
	id        string
	seenBy    []string
	freeText  []string
	referrer  *sideCaller // its link worker, who touches it for barriers
	touchable bool        // not a draft: an outcome may be recorded
}

const (
	sideNHS    = "9434765919"
	sideNHS2   = "4010232137" // the unconsented person's: one person per number in an organisation
	freeMarker = "FREETEXT-"
)

// TestEveryReadPathShowsWhatGetShows walks a fixture where referrer and
// provider are different organisations (R refers to P's asset, P to R's
// and T's, T to R's, R to itself), with people with and without consent,
// provider notes, outcomes and timeline notes from both sides, and checks
// for every role of R, P and T and for an anonymous caller that List, a
// watch stream from the start and the caller's webhook show exactly the
// referrals Get shows, as Get shows them, and that Get shows exactly what
// the oracle says.
func TestEveryReadPathShowsWhatGetShows(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t, testenv.Options{WebhooksAllowPrivate: true}) // receivers on loopback
	ctx := context.Background()
	orgs := map[string]string{
		"R": env.NewOrg(t, "R link workers", "link_worker_service"),
		"P": env.NewOrg(t, "P walking group", "community_group"),
		"T": env.NewOrg(t, "T third organisation", "link_worker_service"),
	}
	by := map[string]*sideCaller{}
	var callers []*sideCaller
	for _, o := range []string{"R", "P", "T"} {
		for _, role := range []string{auth.RoleAdmin, auth.RoleLinkWorker, auth.RoleGroupEditor, auth.RoleAreaAnalyst} {
			conn := env.ConnWithKey(t, env.Key(t, orgs[o], role))
			c := &sideCaller{name: o + "/" + role, org: orgs[o], role: role,
				refs: sparcv1.NewReferralServiceClient(conn), people: sparcv1.NewPersonServiceClient(conn)}
			if role != auth.RoleAreaAnalyst {
				// Every webhook exists before the first referral, so it
				// receives what a watch from the start receives.
				c.recv = newReceiver(t, 0)
				c.hook = createHook(t, sparcv1.NewWebhookServiceClient(conn), c.recv)
			}
			by[c.name] = c
			callers = append(callers, c)
		}
	}
	anon := &sideCaller{name: "anonymous", refs: sparcv1.NewReferralServiceClient(env.Anonymous())}
	callers = append(callers, anon)

	assets := map[string]string{}
	for _, o := range []string{"R", "P", "T"} {
		a, err := sparcv1.NewAssetServiceClient(env.ConnWithKey(t, env.Key(t, orgs[o], auth.RoleGroupEditor))).CreateAsset(ctx,
			&sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: o + " group",
				AcceptingReferrals: true, OwnerOrganisation: "organisations/" + orgs[o],
				Location: &sparcv1.Location{Latitude: 52.48, Longitude: -1.86, Country: "GB"}}})
		if err != nil {
			t.Fatal(err)
		}
		assets[o] = a.GetName()
	}
	person := func(c *sideCaller, consent bool) string {
		t.Helper()
		nhs := sideNHS
		if !consent {
			nhs = sideNHS2
		}
		p := &sparcv1.Person{DisplayName: "Jane Doe", AgeBand: "45-54", NhsNumber: nhs,
			ContactMethod: sparcv1.ContactMethod_CONTACT_METHOD_PHONE, Contact: &sparcv1.PersonContact{Phone: "0121 496 0000"},
			WhatMatters: freeMarker + "what matters"}
		if consent {
			p.Consent = &sparcv1.Consent{ShareWithProvider: true, Scopes: []sparcv1.ConsentScope{sparcv1.ConsentScope_CONSENT_SCOPE_BASIC,
				sparcv1.ConsentScope_CONSENT_SCOPE_CONTACT, sparcv1.ConsentScope_CONSENT_SCOPE_NOTES}}
		}
		out, err := c.people.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: p})
		if err != nil {
			t.Fatal(err)
		}
		return out.GetName()
	}
	refer := func(c *sideCaller, personID, asset, name string, draft bool) string {
		t.Helper()
		r, err := c.refs.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: uuid.NewString(), Person: personID,
			Asset: asset, Draft: draft, ProviderNote: freeMarker + name + " note naming Jane Doe"})
		if err != nil {
			t.Fatalf("%s refers %s: %v", c.name, name, err)
		}
		return r.GetName()
	}
	step := func(c *sideCaller, id string, to sparcv1.ReferralStatus, reason, note string) {
		t.Helper()
		if _, err := c.refs.TransitionReferral(ctx, &sparcv1.TransitionReferralRequest{Name: id, ToStatus: to, Reason: reason,
			Note: freeMarker + note}); err != nil {
			t.Fatalf("%s moves %s to %v: %v", c.name, id, to, err)
		}
	}
	outcome := func(c *sideCaller, id, what string) {
		t.Helper()
		if _, err := c.refs.RecordOutcome(ctx, &sparcv1.RecordOutcomeRequest{Name: id, SessionsAttended: proto.Int32(2),
			Baseline: &sparcv1.WellbeingMeasure{Ons4: []int32{3, 4, 5, 6}}, WhatChanged: freeMarker + what}); err != nil {
			t.Fatalf("%s records an outcome of %s: %v", c.name, id, err)
		}
	}
	rLW, rGE, pLW, pGE, pAdmin, tLW := by["R/link_worker"], by["R/group_editor"], by["P/link_worker"], by["P/group_editor"], by["P/admin"], by["T/link_worker"]
	consented, unconsented := person(rLW, true), person(rLW, false)
	pPerson, tPerson := person(pLW, false), person(tLW, false)

	rToP := []string{"R/admin", "R/link_worker", "P/admin", "P/group_editor"}
	rOnly := []string{"R/admin", "R/link_worker"}
	var refs []*sideRef
	add := func(r *sideRef) *sideRef { refs = append(refs, r); return r }

	rc := add(&sideRef{name: "consented R to P", seenBy: rToP, freeText: rToP, referrer: rLW, touchable: true})
	rc.id = refer(rLW, consented, assets["P"], rc.name, false)
	step(pGE, rc.id, sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "", "accepted by P")
	outcome(rLW, rc.id, "walks twice a week")
	step(pGE, rc.id, sparcv1.ReferralStatus_REFERRAL_STATUS_IN_PROGRESS, "", "started")

	rn := add(&sideRef{name: "unconsented R to P", seenBy: rToP, freeText: rOnly, referrer: rLW, touchable: true})
	rn.id = refer(rLW, unconsented, assets["P"], rn.name, false)
	step(pAdmin, rn.id, sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "", "accepted by P's admin")
	outcome(pGE, rn.id, "Jane made friends")
	step(pGE, rn.id, sparcv1.ReferralStatus_REFERRAL_STATUS_ON_HOLD, "person_unwell", "Jane is in hospital")

	rd := add(&sideRef{name: "draft never sent", seenBy: rOnly, freeText: rOnly, referrer: rLW})
	rd.id = refer(rLW, unconsented, assets["P"], rd.name, true)

	rds := add(&sideRef{name: "draft sent", seenBy: rToP, freeText: rToP, referrer: rLW, touchable: true})
	rds.id = refer(rLW, consented, assets["P"], rds.name, true)
	step(rLW, rds.id, sparcv1.ReferralStatus_REFERRAL_STATUS_REQUESTED, "", "sending now")

	rdc := add(&sideRef{name: "draft withdrawn unsent", seenBy: rOnly, freeText: rOnly, referrer: rLW, touchable: true})
	rdc.id = refer(rLW, unconsented, assets["P"], rdc.name, true)
	step(rLW, rdc.id, sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, "referrer_withdrew", "not needed")

	pToR := []string{"P/admin", "P/link_worker", "R/admin", "R/group_editor"}
	rrev := add(&sideRef{name: "P to R", seenBy: pToR, freeText: []string{"P/admin", "P/link_worker"}, referrer: pLW, touchable: true})
	rrev.id = refer(pLW, pPerson, assets["R"], rrev.name, false)
	step(rGE, rrev.id, sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "", "accepted by R's group")

	rself := add(&sideRef{name: "R to itself", seenBy: []string{"R/admin", "R/link_worker", "R/group_editor"}, freeText: rOnly,
		referrer: rLW, touchable: true})
	rself.id = refer(rLW, unconsented, assets["R"], rself.name, false)
	step(rGE, rself.id, sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "", "accepted by R's own group")

	rt1 := add(&sideRef{name: "T to R", seenBy: []string{"T/admin", "T/link_worker", "R/admin", "R/group_editor"},
		freeText: []string{"T/admin", "T/link_worker"}, referrer: tLW, touchable: true})
	rt1.id = refer(tLW, tPerson, assets["R"], rt1.name, false)

	rt2 := add(&sideRef{name: "P to T", seenBy: []string{"P/admin", "P/link_worker", "T/admin", "T/group_editor"},
		freeText: []string{"P/admin", "P/link_worker"}, referrer: pLW, touchable: true})
	rt2.id = refer(pLW, pPerson, assets["T"], rt2.name, false)

	names := map[string]string{}
	for _, r := range refs {
		names[r.id] = r.name
	}
	sessions := int32(10)
	for _, c := range callers {
		t.Run(c.name, func(t *testing.T) {
			// A barrier: a change this caller sees, made now, after every
			// other. Once its watch stream and webhook have it, they have
			// everything before it (the outbox order), so anything they
			// lack or hold beyond Get's view is a difference, not a delay.
			var barrier *sideRef
			for _, r := range refs {
				if r.touchable && slices.Contains(r.seenBy, c.name) {
					barrier = r
					break
				}
			}
			barrierCursor := ""
			if barrier != nil {
				sessions++
				if _, err := barrier.referrer.refs.RecordOutcome(ctx, &sparcv1.RecordOutcomeRequest{Name: barrier.id,
					SessionsAttended: proto.Int32(sessions)}); err != nil {
					t.Fatal(err)
				}
				var txid string
				var seq int64
				if err := env.Pool.QueryRow(ctx, `SELECT o.txid::text, o.seq FROM referral_outbox o ORDER BY o.txid DESC, o.seq DESC LIMIT 1`).
					Scan(&txid, &seq); err != nil {
					t.Fatal(err)
				}
				// The cursor's encoding (opaque to clients) as watch.go makes it.
				barrierCursor = base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s:%d", txid, seq))
			}

			// Get: each referral against the oracle.
			got := map[string]*sparcv1.Referral{}
			for _, r := range refs {
				g, err := c.refs.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.id})
				seen := slices.Contains(r.seenBy, c.name)
				switch {
				case seen && err != nil:
					t.Errorf("get %q: %v, want the referral", r.name, err)
				case !seen && err == nil:
					t.Errorf("get %q: shown to a caller with no side:\n%v", r.name, protojson.Format(g))
				case !seen && status.Code(err) != codes.NotFound && c.role != auth.RoleAreaAnalyst && c.role != "":
					t.Errorf("get %q: %v, want NotFound (the same as a missing referral)", r.name, err)
				}
				if err != nil {
					continue
				}
				got[r.id] = g
				text := protojson.Format(g)
				wantFree := slices.Contains(r.freeText, c.name)
				if strings.Contains(text, freeMarker) != wantFree || (g.GetPersonDetails() != nil) != wantFree {
					t.Errorf("get %q: free text shown = %v, person shown = %v, want %v:\n%s", r.name,
						strings.Contains(text, freeMarker), g.GetPersonDetails() != nil, wantFree, text)
				}
				if strings.Contains(text, sideNHS) || strings.Contains(text, sideNHS2) {
					t.Errorf("get %q shows the NHS number", r.name)
				}
			}

			// List: all pages, the same referrals as Get, rendered alike.
			listed := map[string]*sparcv1.Referral{}
			var listErr error
			for token := ""; ; {
				resp, err := c.refs.ListReferrals(ctx, &sparcv1.ListReferralsRequest{PageSize: 3, PageToken: token})
				if err != nil {
					listErr = err
					break
				}
				for _, r := range resp.GetReferrals() {
					if listed[r.GetName()] != nil {
						t.Errorf("list shows %q twice", names[r.GetName()])
					}
					listed[r.GetName()] = r
				}
				if token = resp.GetNextPageToken(); token == "" {
					break
				}
			}
			if (listErr != nil) != (len(got) == 0 && barrier == nil) {
				t.Errorf("list: %v", listErr)
			}
			sameReferrals(t, "list", names, got, listed)

			// Watch from the start, up to the barrier.
			var watched []*sparcv1.ReferralChange
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			stream, err := c.refs.WatchReferrals(wctx, &sparcv1.WatchReferralsRequest{})
			for err == nil {
				var ch *sparcv1.ReferralChange
				if ch, err = stream.Recv(); err == nil {
					watched = append(watched, ch)
					if ch.GetCursor() == barrierCursor {
						break
					}
				}
			}
			if barrier == nil {
				if code := status.Code(err); code != codes.PermissionDenied && code != codes.Unauthenticated {
					t.Errorf("watch by a caller who may not: %v, then %d changes", err, len(watched))
				}
			} else if err != nil {
				t.Fatalf("watch: %v after %d changes (want the barrier %s)", err, len(watched), barrierCursor)
			}
			asGet := func(how string, changes []*sparcv1.ReferralChange) {
				t.Helper()
				last := map[string]sparcv1.ReferralStatus{}
				for _, ch := range changes {
					if got[ch.GetReferral()] == nil {
						t.Errorf("%s shows a change of %q (%s %v), which get does not show", how, names[ch.GetReferral()],
							ch.GetType(), ch.GetToStatus())
					}
					last[ch.GetReferral()] = ch.GetToStatus()
				}
				for id, g := range got {
					if s, ok := last[id]; !ok || s != g.GetStatus() {
						t.Errorf("%s: %q ends at %v (present %v), get shows %v", how, names[id], s, ok, g.GetStatus())
					}
				}
			}
			asGet("watch", watched)

			// The caller's webhook: the changes its watch stream showed.
			if c.recv == nil {
				return
			}
			waitFor(t, c.name+"'s webhook to receive the barrier", func() bool {
				return slices.ContainsFunc(c.recv.acked(), func(ch *sparcv1.ReferralChange) bool { return ch.GetCursor() == barrierCursor })
			})
			var delivered []*sparcv1.ReferralChange
			for _, ch := range c.recv.acked() {
				if !slices.ContainsFunc(delivered, func(d *sparcv1.ReferralChange) bool { return d.GetCursor() == ch.GetCursor() }) {
					delivered = append(delivered, ch)
				}
				if ch.GetCursor() == barrierCursor {
					break
				}
			}
			asGet("webhook", delivered)
			if len(delivered) != len(watched) {
				t.Errorf("webhook delivered %d changes, watch showed %d", len(delivered), len(watched))
			}
			for i := range min(len(delivered), len(watched)) {
				if !proto.Equal(delivered[i], watched[i]) {
					t.Errorf("change %d: webhook %v, watch %v", i, delivered[i], watched[i])
				}
			}
		})
	}
}

// sameReferrals checks that a read path shows exactly the referrals Get
// shows, each exactly as Get renders it.
func sameReferrals(t *testing.T, how string, names map[string]string, get, other map[string]*sparcv1.Referral) {
	t.Helper()
	for id, g := range get {
		o := other[id]
		if o == nil {
			t.Errorf("%s lacks %q, which get shows", how, names[id])
		} else if !proto.Equal(o, g) {
			t.Errorf("%s shows %q differently:\n%s\nget:\n%s", how, names[id], protojson.Format(o), protojson.Format(g))
		}
	}
	for id, o := range other {
		if get[id] == nil {
			t.Errorf("%s shows %q, which get does not:\n%s", how, names[id], protojson.Format(o))
		}
	}
}
