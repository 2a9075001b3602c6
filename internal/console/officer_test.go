package console_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The council officer's and the administrator's screens in Chromium
// against a real sparcd with the demo directory, areas and keys: the
// coverage map → an area chosen by keyboard → its figures per category →
// the CSV download, whose rows are the rows on screen; the equity chart
// and its table; then an API key created (its secret shown once and
// working), revoked after a confirmation (and refused from then on), both
// found in the audit log by its filters; an organisation created and
// suspended. axe-core on every screen; no CSP violation; 320 px.
func TestOfficerAndAdminJourneysInChromium(t *testing.T) {
	base, keys := officerServer(t)
	b := newBrowser(t)
	signIn := func(key string) {
		b.do(chromedp.Navigate(base+"/app/#/signin"), chromedp.WaitVisible(css("input[type=password]")))
		b.do(chromedp.SendKeys(css("input[type=password]"), key), chromedp.Click(css("form button[type=submit]")), chromedp.WaitVisible(css("#signout")))
	}

	t.Run("officer", func(t *testing.T) {
		b.t = t
		signIn(keys[auth.RoleAreaAnalyst])
		b.do(chromedp.Click(css("#nav-coverage")), chromedp.WaitVisible(css("#cov-table tbody tr")))
		if got := b.text("h1"); got != "Coverage of community assets" {
			t.Fatalf("coverage heading %q", got)
		}
		// The map draws the areas the table lists, coloured from the API's figures.
		painted := waitFor(b, `document.getElementById('coverage-map').dataset.painted`)
		rows := eval[int](b, `document.querySelectorAll('#cov-table tbody tr').length`)
		if painted == "" || painted == "0" || rows == 0 {
			t.Fatalf("map painted %q areas, table %d rows", painted, rows)
		}
		b.checkAxe("coverage map")
		// Councils are offered when the directory has some (the demo has seven).
		if kinds := eval[[]string](b, `[...document.querySelectorAll('#cov-kind option')].map((o) => o.value)`); !slices.Equal(kinds, []string{"lsoa", "msoa", "local_authority"}) {
			t.Errorf("area kinds offered: %v, want lsoa, msoa and local_authority", kinds)
		}

		// Weekly places per 1,000: the measure the API's equity summary
		// also averages per decile, so the chart can be checked against it.
		// Timed from the change to the frame after the table changed (logged: the machine is shared).
		ms := eval[float64](b, `new Promise((ok) => {
			const table = document.getElementById('cov-table'), t0 = performance.now();
			new MutationObserver((_, obs) => { obs.disconnect(); requestAnimationFrame(() => ok(performance.now() - t0)); }).observe(table, {attributes: true, attributeFilter: ['data-seq']});
			const m = document.getElementById('cov-measure'); m.value = 'places'; m.dispatchEvent(new Event('change', {bubbles: true}));
		})`)
		if !strings.Contains(b.text("#cov-table thead"), "places") {
			t.Fatalf("the table's columns after choosing places: %q", b.text("#cov-table thead"))
		}
		t.Logf("coverage of %d areas (map, table, legend, equity chart) on screen %.0f ms after the measure changed", rows, ms)

		// The equity chart: ten bars and their table, whose means agree
		// with the API's own per-decile summary for the same query.
		bars := eval[int](b, `document.querySelectorAll('#equity svg rect[data-decile]').length`)
		tableRows := eval[int](b, `document.querySelectorAll('#equity-table tbody tr').length`)
		if bars != 10 || tableRows != 10 {
			t.Errorf("equity chart has %d bars and %d table rows, want 10 and 10", bars, tableRows)
		}
		if hidden := eval[string](b, `document.querySelector('#equity svg').getAttribute('aria-hidden')`); hidden != "true" {
			t.Errorf("the chart is not hidden from screen readers (its table speaks for it): aria-hidden=%q", hidden)
		}
		type decile struct {
			Decile int      `json:"decile"`
			Mean   *float64 `json:"mean_weekly_places_per_1000"`
		}
		api := eval[[]decile](b, `fetch('/v1/coverage' + new URL(document.getElementById('dl-csv').href).search).then((r) => r.json()).then((j) => j.summary.deciles)`)
		onScreen := eval[[]string](b, `[...document.querySelectorAll('#equity-table tbody tr')].map((tr) => tr.dataset.mean)`)
		checked := 0
		for _, d := range api {
			if d.Mean == nil || d.Decile < 1 || d.Decile > 10 {
				continue
			}
			if !sameNumber(onScreen[d.Decile-1], strconv.FormatFloat(*d.Mean, 'f', -1, 64), 9) {
				t.Errorf("decile %d: the chart's table says %q, the API's summary %v", d.Decile, onScreen[d.Decile-1], *d.Mean)
			}
			checked++
		}
		if checked == 0 {
			t.Error("the API's summary has no decile to compare with")
		}

		// A click on the map chooses the area under it.
		type point struct{ X, Y float64 }
		centre := eval[point](b, `(() => { const r = document.getElementById('coverage-map').getBoundingClientRect(); return {X: r.left + r.width / 2, Y: r.top + r.height / 2} })()`)
		b.do(chromedp.MouseClickXY(centre.X, centre.Y))
		clicked := waitFor(b, `document.getElementById('area-detail').dataset.code || ''`)
		if !eval[bool](b, fmt.Sprintf(`!!document.querySelector('#cov-table tr.chosen[data-code=%q]')`, clicked)) {
			t.Errorf("the area clicked on the map (%s) is not marked in the table", clicked)
		}

		// Choose an area by keyboard: its figures per category.
		code := eval[string](b, `document.querySelector('#cov-table tbody tr').dataset.code`)
		eval[bool](b, `document.querySelector('#cov-table tbody tr button').focus(); true`)
		b.key("\r")
		waitFor(b, fmt.Sprintf(`document.getElementById('area-detail').dataset.code === %q ? 'y' : ''`, code))
		if b.focused() != "area-h" {
			t.Errorf("after choosing an area, focus is on %q, want its heading", b.focused())
		}
		cats := eval[int](b, `document.querySelectorAll('#area-figures tbody tr').length`)
		if cats != 17 {
			t.Errorf("the area's figures have %d rows, want all categories and 16 categories", cats)
		}
		// Its "all categories" row agrees with the map's figure for the area.
		all := eval[string](b, `document.querySelector('#area-figures tr[data-category=any]').cells[4].textContent`)
		listed := eval[string](b, fmt.Sprintf(`document.querySelector('#cov-table tr[data-code=%q]').cells[1].textContent`, code))
		if all != listed {
			t.Errorf("area %s: places per 1,000 %q in its figures, %q in the list", code, all, listed)
		}
		b.checkAxe("coverage area figures")

		// Download the CSV as a user does: the file's rows are the table's.
		dir := t.TempDir()
		if _, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
			t.Fatal(err)
		}
		b.do(chromedp.Click(css("#dl-csv")))
		var file []byte
		testenv.Until(t, 30*time.Second, "the CSV download", func() bool {
			var err error
			file, err = os.ReadFile(filepath.Join(dir, "coverage.csv"))
			return err == nil && len(file) > 0 && strings.HasSuffix(string(file), "\n")
		})
		records, err := csv.NewReader(strings.NewReader(string(file))).ReadAll()
		if err != nil || len(records) < 2 {
			t.Fatalf("downloaded CSV: %v, %d records", err, len(records))
		}
		col := map[string]int{}
		for i, name := range records[0] {
			col[name] = i
		}
		type row struct{ Code, Value string }
		screen := eval[[]row](b, `[...document.querySelectorAll('#cov-table tbody tr')].map((tr) => ({Code: tr.dataset.code, Value: tr.dataset.value}))`)
		onPage := map[string]string{}
		for _, r := range screen {
			onPage[r.Code] = r.Value
		}
		if len(records)-1 != len(screen) {
			t.Errorf("the CSV has %d areas, the screen %d", len(records)-1, len(screen))
		}
		for _, rec := range records[1:] {
			c, v := rec[col["code"]], rec[col["weekly_places_per_1000"]]
			shown, ok := onPage[c]
			if !ok {
				t.Errorf("the CSV has area %s, the screen does not", c)
				continue
			}
			if !sameNumber(v, shown, 2) { // rates are downloaded to 2 decimals
				t.Errorf("area %s: places per 1,000 %q in the CSV, %q on screen", c, v, shown)
			}
		}
		// The GeoJSON link: the same areas, with their boundaries.
		features := eval[int](b, `fetch(document.getElementById('dl-geojson').href).then((r) => r.json()).then((j) => j.features.filter((f) => f.geometry).length)`)
		if features != len(screen) {
			t.Errorf("the GeoJSON has %d areas with a boundary, the screen %d", features, len(screen))
		}

		// Another kind of area: the map's shapes and the figures follow.
		seq := eval[string](b, `document.getElementById('cov-table').dataset.seq`)
		eval[bool](b, `(() => { const k = document.getElementById('cov-kind'); k.value = 'msoa'; k.dispatchEvent(new Event('change', {bubbles: true})); return true })()`)
		waitFor(b, fmt.Sprintf(`document.getElementById('cov-table').dataset.seq !== %q ? 'y' : ''`, seq))
		if codes := eval[[]string](b, `[...document.querySelectorAll('#cov-table tbody tr')].map((tr) => tr.dataset.code.slice(0, 3))`); len(codes) == 0 || slices.IndexFunc(codes, func(c string) bool { return c != "E02" && c != "W02" }) >= 0 {
			t.Errorf("MSOA codes on screen: %v", codes)
		}
		if strings.Contains(eval[string](b, `document.getElementById('dl-csv').href`), "kind=lsoa") {
			t.Error("the CSV link still names LSOAs")
		}
		choose := func(id, value string) {
			seq := eval[string](b, `document.getElementById('cov-table').dataset.seq`)
			eval[bool](b, fmt.Sprintf(`(() => { const k = document.getElementById(%q); k.value = %q; k.dispatchEvent(new Event('change', {bubbles: true})); return true })()`, id, value))
			waitFor(b, fmt.Sprintf(`document.getElementById('cov-table').dataset.seq !== %q ? 'y' : ''`, seq))
		}
		choose("cov-kind", "lsoa")

		// One council: all its LSOAs, wherever the map was, and only its.
		choose("cov-council", "E08000015") // Wirral
		type area struct{ Code, Council string }
		var inCouncil []area
		rawJSON := eval[string](b, `fetch('/v1/coverage' + new URL(document.getElementById('dl-csv').href).search).then((r) => r.text())`)
		var answer struct {
			Areas []struct {
				Code    string `json:"code"`
				Council string `json:"council_code"`
			} `json:"areas"`
		}
		if err := json.Unmarshal([]byte(rawJSON), &answer); err != nil {
			t.Fatal(err)
		}
		for _, a := range answer.Areas {
			inCouncil = append(inCouncil, area{a.Code, a.Council})
		}
		shownCodes := eval[[]string](b, `[...document.querySelectorAll('#cov-table tbody tr')].map((tr) => tr.dataset.code)`)
		if len(inCouncil) < 100 || len(shownCodes) != len(inCouncil) || slices.IndexFunc(inCouncil, func(a area) bool { return a.Council != "E08000015" }) >= 0 {
			t.Errorf("Wirral: %d areas on screen, %d in the link's answer, all of Wirral: %v", len(shownCodes), len(inCouncil), inCouncil[:min(3, len(inCouncil))])
		}
		if href := eval[string](b, `document.getElementById('dl-csv').href`); !strings.Contains(href, "council=E08000015") || strings.Contains(href, "bbox=") {
			t.Errorf("the CSV link for one council: %s", href)
		}
		if st := b.text("#cov-side-status"); !strings.Contains(st, "Wirral") {
			t.Errorf("status for one council: %q", st)
		}
		choose("cov-council", "")

		// The deprivation overlay and its key.
		b.do(chromedp.Click(css("#cov-deprivation")), chromedp.WaitVisible(css("#cov-legend .swatch.hatch")))
		b.checkAxe("coverage with deprivation")
		if !eval[bool](b, `document.getElementById('area-detail').hidden`) {
			t.Error("the area chosen in Birmingham still has its panel after the map moved to Wirral")
		}
		code = eval[string](b, `document.querySelector('#cov-table tbody tr').dataset.code`)
		eval[bool](b, `document.querySelector('#cov-table tbody tr button').focus(); true`)
		b.key("\r")
		waitFor(b, fmt.Sprintf(`document.getElementById('area-detail').dataset.code === %q && !document.getElementById('area-detail').hidden ? 'y' : ''`, code))
		b.screenshot("console-officer.png")

		// 320 px: one column, the map below the list, no sideways scrolling.
		setWidth(t, b, 320)
		if w := eval[int](b, `document.documentElement.scrollWidth`); w > 320 {
			t.Errorf("coverage screen at 320 px is %d px wide: %v", w, widest(b))
		}
		below := eval[bool](b, `document.getElementById('coverage-map').getBoundingClientRect().top > document.getElementById('cov-table').getBoundingClientRect().top`)
		if !below {
			t.Error("at 320 px the map is not below the list")
		}
		setWidth(t, b, 1280)
		b.noCSPViolations("coverage")

		// By keyboard alone: the header's link, an area, the CSV.
		officerByKeyboard(t, b)

		// The analyst's header offers coverage and the referral network
		// only (GET /v1/caller says the role).
		if nav := eval[[]string](b, `[...document.querySelectorAll('header nav a')].map((a) => a.id)`); !slices.Equal(nav, []string{"nav-coverage", "nav-network"}) {
			t.Errorf("an area analyst's header links: %v, want nav-coverage and nav-network only", nav)
		}
		// The analyst is not an admin: the keys section says so (the screen
		// is not offered, but an address typed in still asks the API).
		eval[bool](b, `location.hash = '#/admin'; true`)
		b.do(chromedp.WaitVisible(css("#admin-keys .form-error:not([hidden])")))
		if got := b.text("#admin-keys .form-error:not([hidden])"); got != "Your key does not allow this." {
			t.Errorf("an analyst on the admin screen is told %q", got)
		}
		b.do(chromedp.Click(css("#signout")), chromedp.WaitVisible(css("#signin-link")))
	})

	t.Run("admin", func(t *testing.T) {
		b.t = t
		signIn(keys[auth.RoleNetworkAdmin])
		b.do(chromedp.Click(css("#nav-admin")), chromedp.WaitVisible(css("#key-list li")))
		// The network admin reads no referrals and keeps no listings: those screens are not offered.
		if nav := eval[[]string](b, `[...document.querySelectorAll('header nav a')].map((a) => a.id)`); !slices.Equal(nav, []string{"nav-search", "nav-coverage", "nav-admin"}) {
			t.Errorf("the network admin's header links: %v, want search, coverage and admin", nav)
		}
		waitFor(b, `document.getElementById('audit-status').textContent.replace('Loading…', '')`)
		b.checkAxe("admin")

		// A new key: its secret shown once, with the warning; it works.
		org := eval[string](b, `[...document.querySelectorAll('#org-list li')].find((li) => li.textContent.includes('Ladywood')).dataset.name`)
		eval[bool](b, fmt.Sprintf(`const f = document.getElementById('key-form');
			f.querySelector('[data-field=organisation]').value = %q; f.querySelector('[data-field=role]').value = 'ROLE_LINK_WORKER'; true`, org))
		b.do(chromedp.SendKeys(css("#key-form [data-field=display_name]"), "Reception PC"), chromedp.Click(css("#key-form button[type=submit]")),
			chromedp.WaitVisible(css("#secret")))
		secret := run(b, chromedp.Value(css("#secret")))
		if len(secret) < 20 || b.focused() != "secret-h" {
			t.Fatalf("new key: secret %d characters, focus on %q", len(secret), b.focused())
		}
		if w := b.text("#secret-warning"); !strings.Contains(w, "shown only once") {
			t.Errorf("the secret's warning says %q", w)
		}
		b.checkAxe("admin (new key shown)")
		b.screenshot("console-admin.png")
		works := fmt.Sprintf(`fetch('/v1/referrals?page_size=1', {headers: {Authorization: 'Bearer ' + %q}}).then((r) => r.status)`, secret)
		if s := eval[int](b, works); s != 200 {
			t.Errorf("the new key answers %d, want 200", s)
		}
		b.do(chromedp.Click(css("#copy-secret")), chromedp.Click(css("#secret-done")), chromedp.WaitNotPresent(css("#secret")))
		if eval[bool](b, fmt.Sprintf(`document.body.innerHTML.includes(%q)`, secret)) {
			t.Error("the secret is still in the page after it was put away")
		}
		prefix := eval[string](b, `[...document.querySelectorAll('#key-list li')].find((li) => li.textContent.includes('Reception PC')).dataset.prefix`)
		keyName := eval[string](b, fmt.Sprintf(`document.querySelector('#key-list li[data-prefix=%q]').dataset.name`, prefix))

		// Revoke it: a confirmation first (cancel keeps the key), then refused.
		revoke := fmt.Sprintf(`#key-list li[data-prefix=%q] button.danger`, prefix)
		b.do(chromedp.Click(css(revoke)), chromedp.WaitVisible(css("dialog[open] #confirm-no")))
		b.checkAxe("admin (revoke confirmation)")
		b.key(kb.Escape) // cancels, and focus returns to the button
		b.do(chromedp.WaitNotPresent(css("dialog")))
		if on := eval[string](b, `document.activeElement.closest('li') ? document.activeElement.closest('li').dataset.prefix : ''`); on != prefix {
			t.Errorf("after Escape, focus is in the row of %q, want %q", on, prefix)
		}
		if s := eval[int](b, works); s != 200 {
			t.Fatalf("after cancelling, the key answers %d", s)
		}
		b.do(chromedp.Click(css(revoke)), chromedp.WaitVisible(css("dialog[open] #confirm-yes")), chromedp.Click(css("#confirm-yes")),
			chromedp.WaitNotPresent(css(fmt.Sprintf(`#key-list li[data-prefix=%q]`, prefix))))
		if s := eval[int](b, works); s != 401 {
			t.Errorf("the revoked key answers %d, want 401", s)
		}

		// Both in the audit log, found by method and outcome; then by actor.
		b.do(chromedp.SetValue(css("#audit-form [data-field=method]"), "ApiKeyService"), chromedp.SetValue(css("#audit-form [data-field=outcome]"), "ok"),
			chromedp.Click(css("#audit-form button[type=submit]")))
		type event struct{ Method, Outcome, Principal, Resource string }
		events := func(want int) []event {
			waitFor(b, fmt.Sprintf(`document.getElementById('audit-status').textContent !== %q && document.querySelectorAll('#audit-table tbody tr').length >= %d ? 'y' : ''`, "Loading…", want))
			return eval[[]event](b, `[...document.querySelectorAll('#audit-table tbody tr')].map((tr) => ({Method: tr.dataset.method, Outcome: tr.dataset.outcome, Principal: tr.dataset.principal, Resource: tr.dataset.resource}))`)
		}
		var created, revoked *event
		list := events(2)
		for i, e := range list {
			if !strings.Contains(e.Method, "ApiKeyService") || e.Outcome != "ok" {
				t.Errorf("filtered by method and outcome, the log shows %+v", e)
			}
			switch {
			case strings.HasSuffix(e.Method, "/CreateApiKey") && created == nil:
				created = &list[i]
			case strings.HasSuffix(e.Method, "/RevokeApiKey") && revoked == nil:
				revoked = &list[i]
			}
		}
		if created == nil || revoked == nil || revoked.Resource != keyName {
			t.Fatalf("the audit log lacks the key's creation or its revocation (of %s): %+v", keyName, list)
		}
		b.do(chromedp.SetValue(css("#audit-form [data-field=principal]"), revoked.Principal), chromedp.SetValue(css("#audit-form [data-field=method]"), "ApiKeyService.RevokeApiKey"),
			chromedp.Click(css("#audit-form button[type=submit]")))
		for _, e := range events(1) {
			if e.Principal != revoked.Principal || !strings.HasSuffix(e.Method, "/RevokeApiKey") {
				t.Errorf("filtered by actor %s and method, the log shows %+v", revoked.Principal, e)
			}
		}
		// The API filters by method (the console reads only what it shows).
		if last := eval[string](b, `performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.includes('/v1/auditEvents')).pop()`); !strings.Contains(last, "method=%2Fsparc.v1.ApiKeyService%2FRevokeApiKey") {
			t.Errorf("the audit call does not ask the API for the method: %s", last)
		}
		b.checkAxe("admin (audit filtered)")
		// A method the API cannot take: its violation next to the method field.
		b.do(chromedp.SetValue(css("#audit-form [data-field=method]"), "ApiKey Service"), chromedp.Click(css("#audit-form button[type=submit]")))
		methodErr := waitFor(b, `(() => { const el = document.querySelector('#audit-form [data-field=method]'); return el.getAttribute('aria-invalid') && document.getElementById(el.id + '-error').textContent; })()`)
		if !strings.Contains(methodErr, "full method name") {
			t.Errorf("a bad method filter says %q next to the field", methodErr)
		}
		eval[bool](b, `document.querySelector('#audit-form [data-field=method]').value = ''; true`)
		// The time range goes to the API: nothing after 2099.
		b.do(chromedp.SetValue(css("#audit-form [data-field=start_time]"), "2099-01-01T00:00"), chromedp.Click(css("#audit-form button[type=submit]")))
		if got := waitFor(b, `document.getElementById('audit-status').textContent.replace('Loading…', '')`); got != "No events match these filters." || eval[int](b, `document.querySelectorAll('#audit-table tbody tr').length`) != 0 {
			t.Errorf("audit events from 2099: %q", got)
		}

		// An organisation created, then suspended after a confirmation.
		b.do(chromedp.SendKeys(css("#org-form [data-field='organisation.display_name']"), "Officer Test Allotments"),
			chromedp.Click(css("#org-form button[type=submit]")))
		name := waitFor(b, `([...document.querySelectorAll('#org-list li')].find((li) => li.textContent.includes('Officer Test Allotments')) || {dataset: {}}).dataset.name || ''`)
		b.do(chromedp.Click(css(fmt.Sprintf(`#org-list li[data-name=%q] button`, name))), chromedp.WaitVisible(css("dialog[open] #confirm-yes")), chromedp.Click(css("#confirm-yes")))
		waitFor(b, fmt.Sprintf(`document.querySelector('#org-list li[data-name=%q]').textContent.includes('Suspended') ? 'y' : ''`, name))

		// Dutch.
		switchLang(b, "nl")
		b.do(chromedp.WaitVisible(css("#key-list li")))
		if got := b.text("h1"); got != "Beheer" {
			t.Errorf("Dutch admin heading %q", got)
		}
		b.checkAxe("admin (Dutch)")
		setWidth(t, b, 320)
		if w := eval[int](b, `document.documentElement.scrollWidth`); w > 320 {
			t.Errorf("admin screen at 320 px is %d px wide: %v", w, widest(b))
		}
		setWidth(t, b, 1280)
		switchLang(b, "en")
		b.noCSPViolations("admin")
	})
}

// officerServer is a sparcd with the demo directory and areas, and one
// key per demo role.
func officerServer(t *testing.T, extra ...func(*testenv.Env) error) (string, map[string]string) {
	t.Helper()
	env := testenv.NewServer(t)
	ctx := demo.AdminContext(context.Background())
	var list [][2]string
	// In this order: the directory makes the organisations the keys are of.
	for _, step := range []struct {
		what string
		run  func() error
	}{
		{"assets", func() (err error) { _, err = demo.Load(ctx, env.AppPool, env.App.Assets); return err }},
		{"areas", func() (err error) {
			_, err = demo.ImportAreas(ctx, areas.NewService(env.App.Areas, env.App.Tokens))
			return err
		}},
		{"keys", func() (err error) { list, err = demo.Keys(ctx, env.AppPool, ""); return err }},
	} {
		if err := step.run(); err != nil {
			t.Fatalf("demo %s: %v", step.what, err)
		}
	}
	for _, step := range extra {
		if err := step(env); err != nil {
			t.Fatalf("demo: %v", err)
		}
	}
	keys := map[string]string{}
	for _, k := range list {
		keys[k[0]] = k[1]
	}
	return env.HTTPBase, keys
}

// waitFor polls a JavaScript expression in the page until it gives a
// non-empty string (within 30 s), and returns it.
func waitFor(b *browser, expr string) string {
	b.t.Helper()
	v := eval[string](b, fmt.Sprintf(`new Promise((ok) => { const t0 = Date.now(); (function poll() {
		let v = ''; try { v = String((%s) || ''); } catch (e) {}
		if (v || Date.now() - t0 > 30000) ok(v); else setTimeout(poll, 50); })(); })`, expr))
	if v == "" {
		b.t.Fatalf("not within 30 s: %s", expr)
	}
	return v
}

// switchLang chooses the console's language with its switch.
func switchLang(b *browser, lang string) {
	b.t.Helper()
	eval[bool](b, fmt.Sprintf(`(() => { const s = document.getElementById('lang'); s.value = %q; s.dispatchEvent(new Event('change')); return true })()`, lang))
}

// widest names the outermost elements wider than 320 px, to say what
// makes a screen scroll sideways.
func widest(b *browser) []string {
	return eval[[]string](b, `[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().width > 321 &&
		e.parentElement.getBoundingClientRect().width <= 321).slice(0, 5)
		.map((e) => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().width))`)
}

func setWidth(t *testing.T, b *browser, w int64) {
	t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: w, Height: 900, DeviceScaleFactor: 1, Mobile: w < 500}); err != nil {
		t.Fatal(err)
	}
}

// sameNumber: two decimal texts (empty = no value) are the same figure
// to the given number of decimals (a download's rounding).
func sameNumber(a, b string, decimals int) bool {
	if a == "" || b == "" {
		return a == b
	}
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && math.Abs(x-y) <= 0.5*math.Pow(10, -float64(decimals))+1e-9*math.Max(1, math.Abs(x))
}

// officerByKeyboard runs the officer's journey with the keyboard alone:
// from another screen, Tab to the header's coverage link and Enter (focus
// on the heading), Tab to the first area of the table and Enter (its
// figures, focus on their heading), Shift+Tab back to the CSV link and
// Enter: the browser downloads the file.
func officerByKeyboard(t *testing.T, b *browser) {
	t.Helper()
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatal(err)
	}
	// The search screen puts focus in its postcode field: Shift+Tab goes back to the header.
	b.do(chromedp.Navigate(eval[string](b, `location.origin`)+"/app/#/"), chromedp.WaitVisible(css("#nav-coverage")))
	b.shiftTabTo("nav-coverage", 10)
	b.key("\r")
	waitFor(b, `document.activeElement && document.activeElement.tagName === 'H1' && document.querySelectorAll('#cov-table tbody tr button').length > 0 ? 'y' : ''`)
	for i := 0; ; i++ {
		if i == 30 {
			t.Fatalf("Tab did not reach the table's first area (focus on %q)", b.focused())
		}
		b.key("\t")
		if eval[bool](b, `document.activeElement === document.querySelector('#cov-table tbody tr button')`) {
			break
		}
	}
	code := eval[string](b, `document.activeElement.closest('tr').dataset.code`)
	b.key("\r")
	waitFor(b, fmt.Sprintf(`document.getElementById('area-detail').dataset.code === %q && document.activeElement.id === 'area-h' ? 'y' : ''`, code))
	for i := 0; b.focused() != "dl-csv"; i++ {
		if i == 10 {
			t.Fatalf("Shift+Tab did not reach the CSV link (focus on %q)", b.focused())
		}
		b.do(chromedp.KeyEvent("\t", chromedp.KeyModifiers(chromedp.ModifierShift)))
	}
	b.key("\r")
	testenv.Until(t, 30*time.Second, "the CSV downloaded by keyboard", func() bool {
		file, err := os.ReadFile(filepath.Join(dir, "coverage.csv"))
		return err == nil && strings.Count(string(file), "\n") > 1 && strings.HasSuffix(string(file), "\n")
	})
	b.checkAxe("coverage (by keyboard)")
}
