package console_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The community group's journey in a real browser against a real sparcd
// with the demo data, signed in with the demo group editor's key: the
// referral inbox (referrals made first through the API by the demo link
// worker: one accepted by keyboard alone, then attended; one declined
// with a coded reason; one accepted at a full listing, so waitlisted),
// "still true" from the list of listings, a new listing with a session (a field
// violation next to its session field first), an edit that meets an
// update made through the API between load and save (explained, the edit
// kept and re-applied on top), and "still true". Every outcome is checked
// through the API, axe-core runs on each screen, the screens fit 320 px.
func TestGroupJourneyInChromium(t *testing.T) {
	env, keys := demoEnv(t)
	base, lwKey, geKey := env.HTTPBase, keys["link_worker"], keys["group_editor"]
	ctx := context.Background()
	lwAssets := sparcv1.NewAssetServiceClient(env.ConnWithKey(t, lwKey))
	lwPeople := sparcv1.NewPersonServiceClient(env.ConnWithKey(t, lwKey))
	lwReferrals := sparcv1.NewReferralServiceClient(env.ConnWithKey(t, lwKey))
	geAssets := sparcv1.NewAssetServiceClient(env.ConnWithKey(t, geKey))
	geReferrals := sparcv1.NewReferralServiceClient(env.ConnWithKey(t, geKey))

	// A demo activity with a place free, and two people referred to it.
	found, err := lwAssets.SearchAssets(ctx, &sparcv1.SearchAssetsRequest{Postcode: "B1 1BB", RadiusMeters: ptr(5000.0), AcceptingReferrals: ptr(true), HasPlaces: true, PageSize: 1})
	if err != nil || len(found.GetResults()) == 0 {
		t.Fatalf("a demo asset taking referrals: %v (%d found)", err, len(found.GetResults()))
	}
	asset := found.GetResults()[0].GetAsset()
	refer := func(name string, asset *sparcv1.Asset) *sparcv1.Referral {
		p, err := lwPeople.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: name, AgeBand: "65-74",
			Contact: &sparcv1.PersonContact{Phone: "0121 496 0000"}, WhatMatters: "not for the group",
			Consent: &sparcv1.Consent{ShareWithProvider: true, Scopes: []sparcv1.ConsentScope{sparcv1.ConsentScope_CONSENT_SCOPE_BASIC, sparcv1.ConsentScope_CONSENT_SCOPE_CONTACT}}}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := lwReferrals.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: uuid.NewString(), Person: p.GetName(), Asset: asset.GetName(),
			Reasons: asset.GetCategories()[:1], ProviderNote: "Prefers the front row"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first, second := refer("Group Journey", asset), refer("Declined Person", asset)
	id1, id2 := strings.TrimPrefix(first.GetName(), "referrals/"), strings.TrimPrefix(second.GetName(), "referrals/")
	// A listing of one place, taken: accepting one more puts it on the waiting list.
	small, err := geAssets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION,
		DisplayName: "Allotment of one", Categories: asset.GetCategories()[:1], Capacity: ptr(int32(1)), AcceptingReferrals: true,
		Location: &sparcv1.Location{Latitude: 52.48, Longitude: -1.91, Country: "GB"}}})
	if err != nil {
		t.Fatal(err)
	}
	taken, waiting := refer("Place Taker", small), refer("Waiting Person", small)
	if _, err := geReferrals.TransitionReferral(ctx, &sparcv1.TransitionReferralRequest{Name: taken.GetName(), ToStatus: sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED}); err != nil {
		t.Fatal(err)
	}
	idW := strings.TrimPrefix(waiting.GetName(), "referrals/")
	referral := func(name string) *sparcv1.Referral {
		r, err := geReferrals.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	b := newBrowser(t)
	b.do(chromedp.Navigate(base+"/app/#/signin"), chromedp.WaitVisible(css("input[type=password]")),
		chromedp.SendKeys(css("input[type=password]"), geKey), chromedp.Click(css("form button[type=submit]")), chromedp.WaitVisible(css("#signout")))

	// Signed in, the group editor is on "My listings" (focus on its
	// heading); the inbox by keyboard alone: Shift+Tab back to the
	// header's link, Enter.
	b.do(chromedp.WaitVisible(css("#group-org")))
	b.shiftTabTo("nav-inbox", 10)
	b.key("\r")
	b.do(chromedp.WaitVisible(css("#ref-"+id1+" h2")), chromedp.WaitVisible(css("#ref-"+id2+" h2")))
	// The inbox: only what the person consented to share.
	card := b.text("#ref-" + id1)
	if !strings.Contains(card, "Group Journey") || !strings.Contains(card, "0121 496 0000") || !strings.Contains(card, "Prefers the front row") || !strings.Contains(card, asset.GetDisplayName()) {
		t.Errorf("inbox card: %q", card)
	}
	if strings.Contains(card, "not for the group") {
		t.Error("the inbox shows what matters to the person, which they did not consent to share")
	}
	b.checkAxe("group inbox")

	// Accept by keyboard alone: from the heading (focused on arrival), Tab to Accept, Enter.
	if tag := eval[string](b, `document.activeElement.tagName`); tag != "H1" {
		t.Errorf("on arrival in the inbox the focus is on a %s, want its heading", tag)
	}
	b.tabTo("accept-"+id1, 40)
	b.key("\r")
	b.do(chromedp.WaitVisible(css("#attended-" + id1)))
	if got := b.text("#inbox-status"); got != "Group Journey is accepted." {
		t.Errorf("status after accepting: %q", got)
	}
	if s := referral(first.GetName()).GetStatus(); s != sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED {
		t.Fatalf("after Accept the referral is %v", s)
	}
	b.screenshot("console-group.png")

	// Attended, by keyboard too (focus is on the card's heading after the
	// move): in progress, one session counted.
	b.tabTo("attended-"+id1, 5)
	b.key("\r")
	b.do(chromedp.WaitVisible(css("#ref-" + id1 + " .referral_status_in_progress")))
	if r := referral(first.GetName()); r.GetStatus() != sparcv1.ReferralStatus_REFERRAL_STATUS_IN_PROGRESS || r.GetOutcome().GetSessionsAttended() != 1 {
		t.Errorf("after Attended: %v with %d sessions, want in progress with 1", r.GetStatus(), r.GetOutcome().GetSessionsAttended())
	}

	// Accepting when every place is taken: the waiting list, said.
	b.do(chromedp.Click(css("#accept-" + idW)))
	testenv.Until(t, 20*time.Second, "the accept answered", func() bool {
		return eval[bool](b, `!document.getElementById('accept-`+idW+`')`)
	})
	if got := b.text("#inbox-status"); !strings.HasPrefix(got, "Every place is taken: Waiting Person is on the waiting list") || !eval[bool](b, `!!document.querySelector('#ref-`+idW+` .referral_status_waitlisted')`) {
		t.Errorf("status after accepting onto the waiting list: %q", got)
	}
	if s := referral(waiting.GetName()).GetStatus(); s != sparcv1.ReferralStatus_REFERRAL_STATUS_WAITLISTED {
		t.Errorf("accepted at a full listing, the referral is %v", s)
	}

	// Decline the other with a coded reason.
	b.do(chromedp.Click(css("#decline-"+id2)), chromedp.WaitVisible(css("#decline-reason-"+id2)),
		chromedp.SetValue(css("#decline-reason-"+id2), "not_suitable"), chromedp.Click(css("#decline-confirm-"+id2)),
		chromedp.WaitVisible(css("#ref-"+id2+" .referral_status_rejected")))
	if r := referral(second.GetName()); r.GetStatus() != sparcv1.ReferralStatus_REFERRAL_STATUS_REJECTED || r.GetStatusReason() != "not_suitable" {
		t.Errorf("after Decline: %v (%q), want rejected, not_suitable", r.GetStatus(), r.GetStatusReason())
	}
	b.checkAxe("group inbox (after the moves)")

	// My listings: the organisation is known from the referrals it received.
	b.do(chromedp.Click(css(`nav a[href="#/group"]`)), chromedp.WaitVisible(css("#listings li")))
	b.checkAxe("my listings")
	smallID := strings.TrimPrefix(small.GetName(), "assets/")
	b.do(chromedp.WaitVisible(css("#still-"+smallID)), chromedp.Click(css("#still-"+smallID)))
	testenv.Until(t, 20*time.Second, "still true from the list", func() bool {
		return strings.HasPrefix(eval[string](b, `document.getElementById('verified-`+smallID+`').textContent`), "Confirmed still true on")
	})
	if v, err := geAssets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: small.GetName()}); err != nil || v.GetLastVerifiedTime() == nil {
		t.Errorf("still true from the list: last_verified_time %v (%v)", v.GetLastVerifiedTime(), err)
	}

	// A new listing with one session; an end before the start is refused
	// next to that session's end time.
	setValue := func(sel, v string) {
		t.Helper()
		eval[bool](b, fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = %q; el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, sel, v))
	}
	b.do(chromedp.Click(css("#new-listing")), chromedp.WaitVisible(css("#save")))
	b.do(chromedp.SendKeys(css(`[data-field="asset.display_name"]`), "Ladywood walking choir"), chromedp.Click(css("#add-session")),
		chromedp.WaitVisible(css(`[data-field="asset.sessions[0].day"]`)))
	if zone := eval[string](b, `document.querySelector('[data-field="asset.sessions[0].timezone"]').value`); zone != "Europe/London" {
		t.Errorf("a new session's time zone defaults to %q, want the listing's country's, Europe/London", zone)
	}
	setValue(`[data-field="asset.sessions[0].day"]`, "WEEKDAY_TUESDAY")
	setValue(`[data-field="asset.sessions[0].start_time"]`, "10:30")
	setValue(`[data-field="asset.sessions[0].end_time"]`, "09:00")
	setValue(`[data-field="asset.capacity"]`, "12")
	setValue(`[data-field="asset.cost.kind"]`, "COST_KIND_PAID")
	b.do(chromedp.SendKeys(css(`[data-field="asset.cost.note"]`), "£2 a session"),
		chromedp.SendKeys(css(`[data-field="asset.location.postcode"]`), "B1 1BB"), chromedp.Click(css("#pin-postcode")))
	testenv.Until(t, 20*time.Second, "the pin placed from the postcode", func() bool {
		return eval[string](b, `document.querySelector('[data-field="asset.location.latitude"]').value`) != ""
	})
	category := asset.GetCategories()[0]
	b.do(chromedp.Click(css("#categories-"+category)), chromedp.Click(css("#save")))
	testenv.Until(t, 20*time.Second, "the end time refused", func() bool {
		return eval[string](b, `document.querySelector('[data-field="asset.sessions[0].end_time"]').getAttribute('aria-invalid') || document.querySelector('form .form-error').textContent`) != ""
	})
	endErr := eval[string](b, `document.getElementById(document.querySelector('[data-field="asset.sessions[0].end_time"]').id + '-error').textContent`)
	if endErr != "Enter an end time after the start time." {
		t.Errorf("error next to the session's end time: %q (the form says %q)", endErr, eval[string](b, `document.querySelector('form .form-error').textContent`))
	}
	b.checkAxe("new listing (with a field error)")
	setValue(`[data-field="asset.sessions[0].end_time"]`, "12:00")
	b.do(chromedp.Click(css("#save")), chromedp.WaitVisible(css("#still-true")))
	newID := strings.TrimPrefix(eval[string](b, `location.hash`), "#/group/asset/")
	made, err := geAssets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: "assets/" + newID})
	if err != nil {
		t.Fatalf("the new listing (%q): %v", newID, err)
	}
	s := made.GetSessions()
	if made.GetDisplayName() != "Ladywood walking choir" || len(s) != 1 || s[0].GetDay() != sparcv1.Weekday_WEEKDAY_TUESDAY || s[0].GetStartTime() != "10:30" ||
		s[0].GetEndTime() != "12:00" || s[0].GetTimezone() != "Europe/London" || made.GetCapacity() != 12 || made.GetCost().GetKind() != sparcv1.CostKind_COST_KIND_PAID ||
		made.GetCost().GetNote() != "£2 a session" || made.GetLocation().GetLatitude() < 52 || !made.GetAcceptingReferrals() || len(made.GetCategories()) != 1 {
		t.Errorf("the listing as saved: %v", made)
	}
	b.checkAxe("edit listing")

	// An edit meets an update made through the API between load and save:
	// explained, what was typed kept, then put on top of the new version.
	nameSel := `[data-field="asset.display_name"]`
	setValue(nameSel, "Ladywood walking choir (Tuesdays)")
	if _, err := geAssets.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{Asset: &sparcv1.Asset{Name: made.GetName(), Description: "Changed by a colleague"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}}); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Click(css("#save")), chromedp.WaitVisible(css("#conflict-changes")))
	if got := b.text("#conflict"); !strings.Contains(got, "Someone else changed this listing") || !strings.Contains(got, "Changed by a colleague") {
		t.Errorf("the conflict says %q", got)
	}
	if got := eval[string](b, `document.querySelector('[data-field="asset.display_name"]').value`); got != "Ladywood walking choir (Tuesdays)" {
		t.Errorf("after the conflict the name field holds %q: the edit was lost", got)
	}
	b.checkAxe("edit listing (conflict)")
	b.do(chromedp.Click(css("#reapply")), chromedp.WaitVisible(css("#conflict-note")))
	merged := eval[[]string](b, `[document.querySelector('[data-field="asset.display_name"]').value, document.querySelector('[data-field="asset.description"]').value]`)
	if merged[0] != "Ladywood walking choir (Tuesdays)" || merged[1] != "Changed by a colleague" {
		t.Errorf("re-applied form: %q, want my name over their description", merged)
	}
	b.do(chromedp.Click(css("#save")))
	testenv.Until(t, 20*time.Second, "the re-applied edit saved", func() bool {
		return eval[string](b, `document.getElementById('edit-status').textContent`) == "Saved."
	})
	now, err := geAssets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: made.GetName()})
	if err != nil || now.GetDisplayName() != "Ladywood walking choir (Tuesdays)" || now.GetDescription() != "Changed by a colleague" {
		t.Errorf("after re-applying: %q / %q (%v), want both edits", now.GetDisplayName(), now.GetDescription(), err)
	}

	// Still true: the verification time, recorded.
	if now.GetLastVerifiedTime() != nil {
		t.Fatalf("a new listing is verified already: %v", now.GetLastVerifiedTime())
	}
	b.do(chromedp.Click(css("#still-true")))
	testenv.Until(t, 20*time.Second, "still true confirmed", func() bool { return strings.HasPrefix(b.text("#verified"), "Confirmed still true on") })
	now, err = geAssets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: made.GetName()})
	if err != nil || now.GetLastVerifiedTime() == nil || time.Since(now.GetLastVerifiedTime().AsTime()) > time.Hour {
		t.Errorf("after Still true, last_verified_time is %v (%v)", now.GetLastVerifiedTime(), err)
	}

	// Dutch, and 320 px wide without sideways scrolling.
	eval[bool](b, `const lang = document.getElementById('lang'); lang.value = 'nl'; lang.dispatchEvent(new Event('change')); true`)
	b.do(chromedp.WaitVisible(css("#still-true")))
	if got := b.text("#still-true"); got != "Klopt nog" {
		t.Errorf("Dutch still-true button: %q", got)
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 320, Height: 640, DeviceScaleFactor: 1, Mobile: true}); err != nil {
		t.Fatal(err)
	}
	for _, screen := range [][2]string{{"#/group/asset/" + newID, "#save"}, {"#/group/inbox", "#inbox li"}, {"#/group", "#listings li"}} {
		eval[bool](b, fmt.Sprintf(`location.hash = %q; true`, screen[0]))
		b.do(chromedp.WaitVisible(css(screen[1])))
		if width := eval[int](b, `document.documentElement.scrollWidth`); width > 320 {
			t.Errorf("%s at 320 px is %d px wide: %v", screen[0], width, eval[[]string](b, `[...document.querySelectorAll('main *')].filter((e) => e.getBoundingClientRect().right > 321).slice(0, 8).map((e) => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right))`))
		}
	}
	b.checkAxe("my listings (Dutch, 320 px)")
	b.noCSPViolations("group journey")
}

func ptr[T any](v T) *T { return &v }
