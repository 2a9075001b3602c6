package console_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The group editor's header, inbox paging, a remote service's area and a
// listing paused, reopened and closed, in a real browser against a real
// sparcd with the demo data:
//
//   - signed in with the demo group editor's key, the console asks who
//     that is (GET /v1/caller): it opens "My listings", names the
//     organisation (the API's own answer), and the header offers only the
//     group's screens;
//   - the inbox shows 25 referrals a page: with 56 open ones, "Show more"
//     (by keyboard) reads the next pages by their tokens until every one
//     is shown exactly once;
//   - a new listing by telephone for council codes: an unknown code is
//     named next to the codes, then the listing is saved with the known
//     one and found by a remote search there (through the API); then the
//     whole country instead;
//   - pausing asks first (Escape cancels: nothing changes), then, by
//     keyboard alone, pauses: the API says paused and search no longer
//     finds it; reopened, it is found again; closed (asked first).
//
// axe-core on every screen and state (the dialog too), Dutch, no CSP
// violation.
func TestGroupListingStatusAreaAndInboxPagesInChromium(t *testing.T) {
	env, keys := demoEnv(t)
	base, lwKey, geKey := env.HTTPBase, keys["link_worker"], keys["group_editor"]
	ctx := context.Background()
	lwAssets := sparcv1.NewAssetServiceClient(env.ConnWithKey(t, lwKey))
	lwPeople := sparcv1.NewPersonServiceClient(env.ConnWithKey(t, lwKey))
	lwReferrals := sparcv1.NewReferralServiceClient(env.ConnWithKey(t, lwKey))
	geAssets := sparcv1.NewAssetServiceClient(env.ConnWithKey(t, geKey))
	me, err := sparcv1.NewOrganisationServiceClient(env.ConnWithKey(t, geKey)).GetCaller(ctx, &sparcv1.GetCallerRequest{})
	if err != nil {
		t.Fatal(err)
	}

	// 56 open referrals to the group's listings: three pages of 25.
	found, err := lwAssets.SearchAssets(ctx, &sparcv1.SearchAssetsRequest{Postcode: "B1 1BB", RadiusMeters: ptr(5000.0), AcceptingReferrals: ptr(true), PageSize: 1})
	if err != nil || len(found.GetResults()) == 0 {
		t.Fatalf("a demo asset taking referrals: %v", err)
	}
	asset := found.GetResults()[0].GetAsset()
	if asset.GetOwnerOrganisation() != me.GetOrganisation() {
		t.Fatalf("the demo asset is %s's, the group editor is %s's", asset.GetOwnerOrganisation(), me.GetOrganisation())
	}
	var made []string
	for i := range 56 {
		p, err := lwPeople.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: fmt.Sprintf("Paged Person %02d", i),
			Consent: &sparcv1.Consent{ShareWithProvider: true, Scopes: []sparcv1.ConsentScope{sparcv1.ConsentScope_CONSENT_SCOPE_BASIC}}}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := lwReferrals.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: uuid.NewString(), Person: p.GetName(), Asset: asset.GetName(), Reasons: asset.GetCategories()[:1]})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, "ref-"+strings.TrimPrefix(r.GetName(), "referrals/"))
	}

	b := newBrowser(t)
	b.do(chromedp.Navigate(base+"/app/#/signin"), chromedp.WaitVisible(css("input[type=password]")),
		chromedp.SendKeys(css("input[type=password]"), geKey), chromedp.Click(css("form button[type=submit]")), chromedp.WaitVisible(css("#signout")))

	// Who am I: the group's own screens, its organisation named.
	b.do(chromedp.WaitVisible(css("#group-org")))
	if hash := eval[string](b, `location.hash`); hash != "#/group" {
		t.Errorf("a group editor signs in to %q, want #/group", hash)
	}
	if got, want := b.text("#group-org"), "The listings of "+me.GetOrganisationDisplayName()+"."; got != want {
		t.Errorf("listings say %q, want %q", got, want)
	}
	if nav := eval[[]string](b, `[...document.querySelectorAll('header nav a')].map((a) => a.id)`); !slices.Equal(nav, []string{"nav-listings", "nav-inbox"}) {
		t.Errorf("a group editor's header links: %v, want nav-listings and nav-inbox only", nav)
	}
	if got := b.text("#who"); !strings.Contains(got, me.GetOrganisationDisplayName()) || !strings.Contains(got, me.GetDisplayName()) {
		t.Errorf("header says %q, want the key's name %q and organisation %q", got, me.GetDisplayName(), me.GetOrganisationDisplayName())
	}
	b.checkAxe("my listings (role-aware header)")

	// The inbox, page by page; "Show more" by keyboard.
	b.do(chromedp.Click(css("#nav-inbox")), chromedp.WaitVisible(css("#inbox li")))
	pages := []int{25, 50, 56}
	for i, want := range pages {
		testenv.Until(t, 30*time.Second, fmt.Sprintf("page %d of the inbox", i+1), func() bool {
			return eval[int](b, `document.querySelectorAll('#inbox > li').length`) == want
		})
		more := eval[bool](b, `!document.getElementById('inbox-more').hidden`)
		if status := b.text("#inbox-status"); more != (i < len(pages)-1) || (more && !strings.HasSuffix(status, "there are more.")) || (!more && status != "56 referrals") {
			t.Errorf("after page %d: Show more shown %v, status %q", i+1, more, status)
		}
		if !more {
			break
		}
		eval[bool](b, `document.getElementById('inbox-more').focus(); true`)
		b.key("\r")
		testenv.Until(t, 30*time.Second, "focus on the first new card", func() bool {
			return eval[int](b, `document.querySelectorAll('#inbox > li').length`) > want && strings.HasPrefix(b.focused(), "ref-h-")
		})
	}
	shown := eval[[]string](b, `[...document.querySelectorAll('#inbox > li')].map((li) => li.id)`)
	slices.Sort(shown)
	slices.Sort(made)
	if !slices.Equal(shown, made) {
		t.Errorf("the inbox's pages show %d cards, not each of the 56 referrals once", len(shown))
	}
	b.checkAxe("referral inbox (three pages)")

	// A telephone service for named areas: an unknown code said next to the codes.
	b.do(chromedp.Navigate(base+"/app/#/group/new"), chromedp.WaitVisible(css("#save")))
	setField(b, `[data-field="asset.display_name"]`, "Ladywood phone friends")
	setField(b, `[data-field="asset.delivery_mode"]`, "DELIVERY_MODE_TELEPHONE")
	if eval[bool](b, `document.getElementById('pin-part').hidden`) != true || eval[bool](b, `document.querySelector('[data-field="asset.service_area"]').hidden`) {
		t.Error("by telephone: the pin is still asked for, or the service area is not")
	}
	b.do(chromedp.Click(css("#area-codes")), chromedp.SendKeys(css(`[data-field="asset.service_area.area_codes"]`), "E08000025, E99999999"),
		chromedp.Click(css("#categories-"+asset.GetCategories()[0])), chromedp.Click(css("#save")))
	codesErr := waitFor(b, `(() => { const el = document.querySelector('[data-field="asset.service_area.area_codes"]'); return el.getAttribute('aria-invalid') && document.getElementById(el.id + '-error').textContent; })()`)
	if codesErr != "SPARC does not know these area codes, or they are given twice: E99999999." || eval[string](b, `document.activeElement.dataset.field`) != "asset.service_area.area_codes" {
		t.Errorf("unknown code: %q next to the codes (focus on %q)", codesErr, b.focused())
	}
	b.checkAxe("new listing (remote, an unknown area code)")
	setField(b, `[data-field="asset.service_area.area_codes"]`, "E08000025")
	b.do(chromedp.Click(css("#save")), chromedp.WaitVisible(css("#lifecycle")))
	name := "assets/" + strings.TrimPrefix(eval[string](b, `location.hash`), "#/group/asset/")
	got, err := geAssets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: name})
	if err != nil {
		t.Fatalf("the new listing (%s): %v", name, err)
	}
	if got.GetDeliveryMode() != sparcv1.DeliveryMode_DELIVERY_MODE_TELEPHONE || !slices.Equal(got.GetServiceArea().GetAreaCodes(), []string{"E08000025"}) ||
		got.GetLocation().GetLatitude() != 0 || got.GetLocation().GetLongitude() != 0 {
		t.Errorf("saved: %v, %v at (%v, %v); want by telephone for E08000025, no point", got.GetDeliveryMode(), got.GetServiceArea(), got.GetLocation().GetLatitude(), got.GetLocation().GetLongitude())
	}
	remoteHere := func() bool {
		t.Helper()
		r, err := lwAssets.SearchAssets(ctx, &sparcv1.SearchAssetsRequest{Postcode: "B1 1BB", RadiusMeters: ptr(5000.0), Remote: sparcv1.RemoteFilter_REMOTE_FILTER_ONLY, PageSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(r.GetResults(), func(x *sparcv1.SearchResult) bool { return x.GetAsset().GetName() == name })
	}
	if !remoteHere() {
		t.Fatal("a remote search at B1 1BB (in E08000025) does not find the telephone service")
	}
	b.checkAxe("edit listing (remote)")

	// The whole country instead. The editor is drawn again from the saved
	// listing when the answer arrives, which says so in its status line
	// (emptied first: the save before said the same).
	eval[bool](b, `(() => { document.getElementById('edit-status').textContent = ''; return true })()`)
	b.do(chromedp.Click(css("#area-country")), chromedp.Click(css("#save")))
	testenv.Until(t, 20*time.Second, "the whole country saved", func() bool {
		a, err := geAssets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: name})
		return err == nil && a.GetServiceArea().GetCountry() == "GB" && len(a.GetServiceArea().GetAreaCodes()) == 0
	})
	waitFor(b, `document.getElementById('edit-status').textContent`)

	// Pause: asked first; Escape cancels and nothing changes.
	b.do(chromedp.WaitVisible(css("#pause")), chromedp.Click(css("#pause")), chromedp.WaitVisible(css("dialog.confirm")))
	if text := b.text("#confirm-text"); !strings.Contains(text, "will not find it when they search") || b.focused() != "confirm-no" {
		t.Errorf("the pause confirmation says %q (focus on %q)", text, b.focused())
	}
	b.checkAxe("pause confirmation")
	b.key("\x1b")
	testenv.Until(t, 10*time.Second, "the dialog closed", func() bool { return eval[bool](b, `!document.querySelector('dialog.confirm')`) })
	if b.focused() != "pause" {
		t.Errorf("after Escape the focus is on %q, want the pause button", b.focused())
	}
	if a, _ := geAssets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: name}); a.GetStatus() != sparcv1.AssetStatus_ASSET_STATUS_ACTIVE {
		t.Errorf("after cancelling, the listing is %v", a.GetStatus())
	}
	// Then by keyboard alone: Enter on Pause, Shift+Tab from Cancel to Pause, Enter.
	b.key("\r")
	b.do(chromedp.WaitVisible(css("#confirm-yes")))
	b.do(chromedp.KeyEvent("\t", chromedp.KeyModifiers(chromedp.ModifierShift))) // Shift+Tab
	if b.focused() != "confirm-yes" {
		t.Fatalf("Shift+Tab in the dialog: focus on %q", b.focused())
	}
	b.key("\r")
	b.do(chromedp.WaitVisible(css("#reopen")))
	if a, _ := geAssets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: name}); a.GetStatus() != sparcv1.AssetStatus_ASSET_STATUS_PAUSED {
		t.Errorf("after Pause, the listing is %v", a.GetStatus())
	}
	if got := b.text("#lifecycle-now"); !strings.HasPrefix(got, "Paused: hidden from searches") || b.focused() != "lifecycle-now" {
		t.Errorf("paused: %q (focus on %q)", got, b.focused())
	}
	if remoteHere() {
		t.Error("a paused listing is still found by search")
	}
	b.checkAxe("edit listing (paused)")

	// Reopened: found again. Closed: asked first, then closed.
	b.do(chromedp.Click(css("#reopen")), chromedp.WaitVisible(css("#pause")))
	if !remoteHere() {
		t.Error("a reopened listing is not found by search")
	}
	b.do(chromedp.Click(css("#close")), chromedp.WaitVisible(css("#confirm-yes")))
	if text := b.text("#confirm-text"); !strings.Contains(text, "no longer runs") {
		t.Errorf("the close confirmation says %q", text)
	}
	b.do(chromedp.Click(css("#confirm-yes")), chromedp.WaitVisible(css("#reopen")))
	if a, _ := geAssets.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: name}); a.GetStatus() != sparcv1.AssetStatus_ASSET_STATUS_CLOSED {
		t.Errorf("after Close, the listing is %v", a.GetStatus())
	}
	b.screenshot("console-group-listing.png")

	// Dutch: the status and the delivery, in Dutch.
	switchLang(b, "nl")
	b.do(chromedp.WaitVisible(css("#reopen")))
	if got := b.text("#reopen"); got != "Heropenen" {
		t.Errorf("Dutch reopen button: %q", got)
	}
	if got := eval[string](b, `document.querySelector('[data-field="asset.delivery_mode"] option:checked').textContent`); got != "Telefonisch" {
		t.Errorf("Dutch delivery mode: %q", got)
	}
	b.checkAxe("edit listing (closed, Dutch)")
	b.noCSPViolations("group listing")
}

// setField sets a form control's value as typing or choosing would (input and change events).
func setField(b *browser, sel, v string) {
	b.t.Helper()
	eval[bool](b, fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = %q; el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, sel, v))
}

// shiftTabTo presses Shift+Tab until the element with id has focus (at most n times).
func (b *browser) shiftTabTo(id string, n int) {
	b.t.Helper()
	for range n {
		b.do(chromedp.KeyEvent("\t", chromedp.KeyModifiers(chromedp.ModifierShift)))
		if b.focused() == id {
			return
		}
	}
	b.t.Fatalf("Shift+Tab did not reach #%s within %d presses (focus on %q)", id, n, b.focused())
}
