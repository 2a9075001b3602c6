package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// The link worker's search beyond the postcode, in Chromium against a
// real sparcd with the demo directory and areas: a place found by name
// and chosen by keyboard, every filter (age, language, accessibility,
// open at a chosen time, remote include/only/exclude), a click on the map
// and "search around the map's centre"; each time the list is exactly the
// API's own answer for the same place and filters. Remote services after
// the others, marked, with the area they cover. Labels on the map when
// close. Frame times while panning the map at zoom 12 over the whole
// demo directory. Dutch, 320 px, axe on each state, no CSP violation.

// apiAsset is what the test reads of a search result from the API.
type apiAsset struct {
	Asset struct {
		Name          string
		DisplayName   string `json:"display_name"`
		Languages     []string
		Accessibility []string
		AgeRange      *struct {
			MinAge int `json:"min_age"`
		} `json:"age_range"`
		Location struct{ Latitude, Longitude float64 }
	}
	Remote bool
}

// apiGet reads a JSON answer of the API with the link worker's key.
func apiGet(t *testing.T, base, key, path string, into any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatal(err)
	}
}

// apiSearch is the API's answer to a search, as the console should show it.
func apiSearch(t *testing.T, base, key string, q url.Values) []apiAsset {
	t.Helper()
	q.Set("page_size", "50")
	var res struct{ Results []apiAsset }
	apiGet(t, base, key, "/v1/assets:search?"+q.Encode(), &res)
	return res.Results
}

func ids(rs []apiAsset) []string {
	var out []string
	for _, r := range rs {
		out = append(out, strings.TrimPrefix(r.Asset.Name, "assets/"))
	}
	return out
}

// listed is what the page lists after the search action starts: the
// result ids in order and the status.
func (b *browser) listed(action func()) ([]string, string) {
	b.t.Helper()
	seq := eval[string](b, `document.getElementById('results').dataset.seq`)
	action()
	waitFor(b, fmt.Sprintf(`document.getElementById('results').dataset.seq !== %q && document.querySelector('.status').textContent`, seq))
	return eval[[]string](b, `[...document.querySelectorAll('#results li')].map((li) => li.id.slice(2))`), b.text(".status")
}

// setValueByID sets a filter's value and tells the page, as a user's
// change does (a change event only: the search listens for change, and an
// input event too would search twice).
func setValueByID(b *browser, id, value string) {
	b.t.Helper()
	eval[bool](b, fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = %q; e.dispatchEvent(new Event('change', {bubbles: true})); return true })()`, id, value))
}

// findPlace types a name in the place box and presses Enter; the first
// place found has focus, and Enter chooses it. Returns its code.
func findPlace(b *browser, name string) string {
	b.t.Helper()
	eval[bool](b, `(() => { const p = document.getElementById('place'); p.value = ''; p.focus(); return true })()`)
	b.do(chromedp.KeyEvent(name))
	b.key("\r")
	return waitFor(b, `document.activeElement && document.activeElement.closest('#places') && document.activeElement.dataset.code`)
}

func coords(lat, lng float64) url.Values {
	return url.Values{"latitude": {strconv.FormatFloat(lat, 'f', 6, 64)}, "longitude": {strconv.FormatFloat(lng, 'f', 6, 64)}}
}

func TestSearchByPlaceMapAndEveryFilterInChromium(t *testing.T) {
	base, key := demoServer(t)
	b := newBrowser(t)
	b.do(chromedp.Navigate(base+"/app/"), chromedp.WaitReady(css("body[data-ready]")))
	eval[bool](b, fmt.Sprintf(`sessionStorage.setItem('sparc.apiKey', %q); true`, key))
	b.do(chromedp.Reload(), chromedp.WaitReady(css("body[data-ready]")), chromedp.WaitVisible(css("#place")))
	same := func(what string, got, want []string) {
		t.Helper()
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("%s: the page lists %d %v, the API answers %d %v", what, len(got), got, len(want), want)
		}
	}

	// An empty place box is not a search for every area.
	b.do(chromedp.Click(css("#find-place")))
	if got := waitFor(b, placeError); got != "Enter at least 2 letters of the name." || eval[bool](b, `!document.getElementById('places').hidden`) {
		t.Errorf("Find place with an empty box: %q", got)
	}

	// A place by name, by keyboard: the council first (shortest names
	// first), then its results around the council's point.
	var code string
	got, status := b.listed(func() {
		code = findPlace(b, "wirr")
		if first := b.text("#places li:first-child button"); first != "Wirral · council" {
			t.Errorf("first place for \"wirr\": %q, want the council", first)
		}
		b.checkAxe("search (places found)")
		b.key("\r")
	})
	var wirral struct {
		DisplayName string  `json:"display_name"`
		Lat         float64 `json:"reference_latitude"`
		Lng         float64 `json:"reference_longitude"`
	}
	apiGet(t, base, key, "/v1/areas/"+code, &wirral)
	if code != "E08000015" || !strings.Contains(status, "near Wirral") {
		t.Errorf("chose %s, status %q", code, status)
	}
	place := coords(wirral.Lat, wirral.Lng)
	place.Set("radius_meters", "2000")
	same("around Wirral", got, ids(apiSearch(t, base, key, place)))
	// The list and the map show only BASIC fields: the page asks for that view.
	if n := eval[int](b, `(() => { const s = performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.includes('/v1/assets:search'));
		return s.every((n) => new URL(n).searchParams.get('view') === 'ASSET_VIEW_BASIC') ? s.length : -1; })()`); n < 1 {
		t.Errorf("the search page's searches do not all ask for view=ASSET_VIEW_BASIC (%d)", n)
	}

	// Every filter, one at a time from 5 km: the list is the API's for
	// the same filter, which leaves some out and keeps some.
	got, _ = b.listed(func() { setValueByID(b, "f-radius", "5000") })
	place.Set("radius_meters", "5000")
	all := apiSearch(t, base, key, place)
	if len(all) >= 50 {
		t.Fatalf("within 5 km of Wirral: %d results, more than a page: remote services would not show", len(all))
	}
	same("within 5 km", got, ids(all))
	when := "2026-12-08T10:30" // a Tuesday morning, the browser's own time
	whenISO := eval[string](b, fmt.Sprintf(`new Date(%q).toISOString()`, when))
	for _, f := range []struct {
		name, id, value, reset string
		param                  url.Values
		keeps                  func(apiAsset) bool
	}{
		{"age 10", "f-age", "10", "", url.Values{"age": {"10"}}, func(r apiAsset) bool { return r.Asset.AgeRange == nil || r.Asset.AgeRange.MinAge <= 10 }},
		{"Urdu spoken", "f-language", "ur", "", url.Values{"language": {"ur"}}, func(r apiAsset) bool { return slices.Contains(r.Asset.Languages, "ur") }},
		{"wheelchair accessible", "acc-wheelchair_accessible", "", "", url.Values{"accessibility": {"wheelchair_accessible"}},
			func(r apiAsset) bool { return slices.Contains(r.Asset.Accessibility, "wheelchair_accessible") }},
		{"open on a Tuesday at 10:30", "f-when", when, "", url.Values{"open_at": {whenISO}}, nil},
		{"remote services only", "f-remote", "REMOTE_FILTER_ONLY", "", url.Values{"remote": {"REMOTE_FILTER_ONLY"}}, func(r apiAsset) bool { return r.Remote }},
		{"no remote services", "f-remote", "REMOTE_FILTER_EXCLUDE", "", url.Values{"remote": {"REMOTE_FILTER_EXCLUDE"}}, func(r apiAsset) bool { return !r.Remote }},
	} {
		q := url.Values{}
		for k, v := range place {
			q[k] = v
		}
		for k, v := range f.param {
			q[k] = v
		}
		want := apiSearch(t, base, key, q)
		if len(want) == 0 || len(want) >= len(all) {
			t.Errorf("%s: the API keeps %d of %d, the test needs a filter that leaves some out and keeps some", f.name, len(want), len(all))
		}
		for _, r := range want {
			if f.keeps != nil && !f.keeps(r) {
				t.Errorf("%s: the API found %s", f.name, r.Asset.DisplayName)
			}
		}
		if f.id == "f-when" {
			b.listed(func() { setValueByID(b, "f-open", "at") }) // open now until a time is entered
			if eval[bool](b, `document.getElementById('f-when').closest('.field').hidden`) {
				t.Error("the day and time field is hidden after choosing \"at a chosen time\"")
			}
		}
		got, _ := b.listed(func() {
			switch {
			case strings.HasPrefix(f.id, "acc-"):
				eval[bool](b, fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.closest('details').open = true; e.click(); return true })()`, f.id))
			default:
				setValueByID(b, f.id, f.value)
			}
		})
		same(f.name, got, ids(want))
		if f.id == "f-remote" && f.value == "REMOTE_FILTER_ONLY" {
			checkRemote(b, "covers all of United Kingdom", "covers an area that includes the place searched")
			remoteAssetPage(t, b)
		}
		// Back to no filter.
		b.listed(func() {
			switch {
			case strings.HasPrefix(f.id, "acc-"):
				eval[bool](b, fmt.Sprintf(`document.getElementById(%q).click(); true`, f.id))
			case f.id == "f-when":
				setValueByID(b, "f-open", "")
			default:
				setValueByID(b, f.id, f.reset)
			}
		})
	}
	// By default remote services follow the in-person ones.
	order := eval[[]bool](b, `[...document.querySelectorAll('#results li')].map((li) => li.classList.contains('remote'))`)
	firstRemote := slices.Index(order, true)
	if firstRemote < 0 || slices.Contains(order[firstRemote:], false) {
		t.Errorf("remote services are not after the in-person ones: %v", order)
	}
	b.checkAxe("search (remote services)")

	// An age the API refuses: its message next to the age, in our words.
	setValueByID(b, "f-age", "200")
	if got := waitFor(b, `!document.getElementById('f-age-error').hidden && document.getElementById('f-age-error').textContent`); got != "Enter an age in whole years, from 0 to 120." ||
		eval[string](b, `document.getElementById('f-age').getAttribute('aria-invalid')`) != "true" {
		t.Errorf("age 200: %q next to the age", got)
	}
	b.listed(func() { setValueByID(b, "f-age", "") })

	searchFromTheMap(t, b, base, key)
	mapLabels(t, b, base, key)
	panFrames(t, b)
	b.noCSPViolations("search")

	// Dutch: the place finder's error next to it, a buurt found, the
	// remote service that covers the Netherlands.
	switchLang(b, "nl")
	waitFor(b, `document.getElementById('results').dataset.seq === '1' && 'x'`) // the view again, searched again
	if got := b.text("#find-place"); got != "Plaats zoeken" {
		t.Errorf("Dutch place button: %q", got)
	}
	eval[bool](b, `(() => { const p = document.getElementById('place'); p.value = 'F'; p.focus(); return true })()`)
	b.key("\r")
	if got := waitFor(b, placeError); got != "Vul minstens 2 letters van de naam in." {
		t.Errorf("Dutch error next to the place: %q", got)
	}
	b.listed(func() { setValueByID(b, "f-radius", "2000") })
	got, status = b.listed(func() {
		code = findPlace(b, "feijen")
		if first := b.text("#places li:first-child button"); first != "Feijenoord · buurt" {
			t.Errorf("first place for \"feijen\": %q", first)
		}
		b.key("\r")
	})
	var feij struct {
		Lat float64 `json:"reference_latitude"`
		Lng float64 `json:"reference_longitude"`
	}
	apiGet(t, base, key, "/v1/areas/"+code, &feij)
	q := coords(feij.Lat, feij.Lng)
	q.Set("radius_meters", "2000")
	same("around Feijenoord", got, ids(apiSearch(t, base, key, q)))
	if !strings.Contains(status, "Feijenoord") {
		t.Errorf("Dutch status: %q", status)
	}
	checkRemote(b, "voor heel Nederland")
	b.checkAxe("search (Dutch, a buurt)")

	// 320 px with the filters and places: nothing scrolls sideways.
	setWidth(t, b, 320)
	findPlace(b, "wirral 00")
	if w := eval[int](b, `document.documentElement.scrollWidth`); w > 320 {
		t.Errorf("search at 320 px is %d px wide: %v", w, eval[[]string](b, `[...document.querySelectorAll('main *')].filter((e) => e.getBoundingClientRect().right > 320 && ![...e.children].some((c) => c.getBoundingClientRect().right > 320)).slice(0, 5).map((e) => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))`))
	}
	b.checkAxe("search (320 px)")
	b.noCSPViolations("search (Dutch, 320 px)")
}

// placeError is the text of the error next to the place box, when shown.
const placeError = `(() => { const e = document.querySelector('[data-field=display_name_prefix]'); const s = document.getElementById(e.id + '-error'); return !s.hidden && s.textContent })()`

// checkRemote: the remote results are marked and say the areas they cover.
func checkRemote(b *browser, covers ...string) {
	b.t.Helper()
	text := waitFor(b, `(() => { const r = [...document.querySelectorAll('#results li.remote')];
		return r.length && r.every((li) => li.querySelector('.covers').textContent) && r.map((li) => li.innerText).join(' | ') })()`)
	for _, c := range covers {
		if !strings.Contains(text, c) {
			b.t.Errorf("remote results %q do not say %q", text, c)
		}
	}
}

// mapInStep waits until the map has drawn the results listed (it draws
// after the list is painted, and fits its view to them then).
func mapInStep(b *browser) {
	b.t.Helper()
	waitFor(b, `(() => { const m = document.getElementById('map');
		return m.maplibre && m.dataset.shownFor === document.getElementById('results').dataset.seq && m.maplibre.loaded() && 'x'; })()`)
}

// remoteAssetPage: a remote service's page says how it works and what it
// covers; back at the search, the same search again.
func remoteAssetPage(t *testing.T, b *browser) {
	b.do(chromedp.Click(css("#results li.remote a")), chromedp.WaitVisible(css("dl.facts")))
	facts := b.text("dl.facts")
	if !strings.Contains(facts, "How") || !strings.Contains(facts, "Area covered") || !strings.Contains(facts, "covers ") {
		t.Errorf("a remote service's page: %q", facts)
	}
	b.checkAxe("asset (remote service)")
	eval[bool](b, `history.back(); true`)
	waitFor(b, `document.getElementById('results') && document.getElementById('results').dataset.seq === '1' && 'x'`)
}

// lastSearch is the query of the page's last search call (Resource Timing).
func lastSearch(b *browser) url.Values {
	b.t.Helper()
	u, err := url.Parse(eval[string](b, `performance.getEntriesByType('resource').filter((e) => e.name.includes('/v1/assets:search')).pop().name`))
	if err != nil {
		b.t.Fatal(err)
	}
	return u.Query()
}

// searchFromTheMap: a click on the map searches around that point; "search
// around the map's centre" (by keyboard) around the centre.
func searchFromTheMap(t *testing.T, b *browser, base, key string) {
	mapInStep(b)
	type click struct{ X, Y, Lat, Lng float64 }
	// A pixel with no result on it (a click there is a search, not a choice).
	at := eval[click](b, `(() => { const m = document.getElementById('map').maplibre, c = m.getCanvas();
		c.scrollIntoView({block: 'center'});
		const r = c.getBoundingClientRect();
		for (const fx of [0.3, 0.7, 0.5, 0.2, 0.8]) for (const fy of [0.3, 0.7, 0.5]) {
			const p = [r.width * fx, r.height * fy];
			if (m.queryRenderedFeatures(p, {layers: ['points', 'clusters']}).length) continue;
			const ll = m.unproject(p);
			return {X: r.left + p[0], Y: r.top + p[1], Lat: ll.lat, Lng: ll.lng};
		}
		return {X: 0, Y: 0, Lat: 0, Lng: 0}; })()`)
	if at.X == 0 {
		t.Fatal("no free pixel on the map to click")
	}
	got, status := b.listed(func() { b.do(chromedp.MouseClickXY(at.X, at.Y)) })
	// The point the console searched from is where the click was (to a
	// few pixels: the page's coordinates are fractional, a click's whole).
	sent := lastSearch(b)
	lat, _ := strconv.ParseFloat(sent.Get("latitude"), 64)
	lng, _ := strconv.ParseFloat(sent.Get("longitude"), 64)
	if math.Abs(lat-at.Lat) > 6e-4 || math.Abs(lng-at.Lng) > 6e-4 || sent.Get("radius_meters") != "5000" {
		t.Errorf("a click at %.5f,%.5f searched %v", at.Lat, at.Lng, sent)
	}
	q := coords(lat, lng)
	q.Set("radius_meters", "5000")
	want := ids(apiSearch(t, base, key, q))
	if len(want) == 0 || !slices.Equal(got, want) || !strings.Contains(status, "the point chosen on the map") {
		t.Errorf("a click on the map at %.5f,%.5f: the page lists %v (%q), the API %v", at.Lat, at.Lng, got, status, want)
	}

	// By keyboard: the button searches around the centre of the view.
	centre := eval[[]float64](b, `document.getElementById('map').maplibre.getCenter().toArray()`)
	got, status = b.listed(func() {
		eval[bool](b, `document.getElementById('search-here').focus(); true`)
		b.key("\r")
	})
	q = coords(centre[1], centre[0])
	q.Set("radius_meters", "5000")
	want = ids(apiSearch(t, base, key, q))
	if !slices.Equal(got, want) || !strings.Contains(status, "the map's centre") {
		t.Errorf("search around the centre %v: the page lists %v (%q), the API %v", centre, got, status, want)
	}
}

// mapLabels: close in, the results and the LSOAs are named on the map
// (HTML labels, hidden from screen readers: the list names them); far
// out, only the councils.
func mapLabels(t *testing.T, b *browser, base, key string) {
	mapInStep(b)
	var first apiAsset
	apiGet(t, base, key, "/v1/assets/"+eval[string](b, `document.querySelector('#results li:not(.remote)').id.slice(2)`), &first.Asset)
	name := first.Asset.DisplayName
	eval[bool](b, fmt.Sprintf(`document.getElementById('map').maplibre.jumpTo({center: [%f, %f], zoom: 15.5}); true`, first.Asset.Location.Longitude, first.Asset.Location.Latitude))
	waitFor(b, fmt.Sprintf(`[...document.querySelectorAll('#map .asset-label')].some((l) => l.textContent === %q) && 'x'`, name))
	areaNames := strings.Split(waitFor(b, `[...document.querySelectorAll('#map .area-label')].map((l) => l.textContent).join('|')`), "|")
	lsoa := regexp.MustCompile(`^[A-Z][A-Za-z ]+ \d{3}[A-Z]$`)
	for _, n := range areaNames {
		if !lsoa.MatchString(n) {
			t.Errorf("area label %q is not an LSOA's name", n)
		}
	}
	if n := eval[int](b, `document.querySelectorAll('#map .map-label:not([aria-hidden=true])').length`); n != 0 {
		t.Errorf("%d labels are not hidden from screen readers", n)
	}
	b.screenshot("console-search-labels.png", true)
	b.checkAxe("search (map labels)")
	// Further out the LSOAs and results go unnamed, and the councils (the
	// base layer's outlines from afar) are named: each label one of the
	// councils the API lists.
	eval[bool](b, `document.getElementById('map').maplibre.jumpTo({zoom: 10}); true`)
	waitFor(b, `document.getElementById('map').dataset.areaLabel === '0' && document.getElementById('map').dataset.assetLabel === '0' && 'x'`)
	var councils struct {
		Areas []struct {
			DisplayName string `json:"display_name"`
		} `json:"areas"`
	}
	apiGet(t, base, key, "/v1/areas?kind=local_authority&page_size=100", &councils)
	known := map[string]bool{}
	for _, c := range councils.Areas {
		known[c.DisplayName] = true
	}
	for _, n := range strings.Split(waitFor(b, `[...document.querySelectorAll('#map .council-label')].map((l) => l.textContent).join('|')`), "|") {
		if !known[n] {
			t.Errorf("council label %q is not a council's name (councils: %v)", n, known)
		}
	}
	eval[bool](b, `document.getElementById('map').maplibre.jumpTo({zoom: 13}); true`)
	waitFor(b, `document.getElementById('map').dataset.councilLabel === '0' && 'x'`)
}

// frameStats summarises frame times (ms).
type frameStats struct {
	n                                  int
	secs, median, p95, longest, over50 float64
}

func statsOf(frames []float64) frameStats {
	f := slices.Clone(frames)
	sort.Float64s(f)
	st := frameStats{n: len(f), median: f[len(f)/2], p95: f[len(f)*95/100], longest: f[len(f)-1]}
	for _, x := range f {
		st.secs += x / 1000
		if x > 50 {
			st.over50++
		}
	}
	st.over50 = 100 * st.over50 / float64(len(f))
	return st
}

func (s frameStats) String() string {
	return fmt.Sprintf("%d frames in %.1f s, median %.1f ms, p95 %.1f ms, longest %.0f ms, %.1f%% over 50 ms", s.n, s.secs, s.median, s.p95, s.longest, s.over50)
}

// panFrames measures frame times while the map pans at zoom 12 over
// Birmingham with the whole demo directory drawn (/tiles/assets, every
// asset a point from zoom 12) over the LSOA outlines: four programmatic
// pans of 1.5 s, every frame's time from requestAnimationFrame. The same
// pans with every layer but the background hidden, in the same run, are
// the machine's own pace (software WebGL, a shared machine): the map
// fails when it is slow on a machine that is not.
func panFrames(t *testing.T, b *browser) {
	type run struct {
		Full, NoDirectory, NoAreas, Bare []float64
		Directory                        int
	}
	r := eval[run](b, `new Promise(async (ok) => {
		const m = document.getElementById('map').maplibre;
		const idle = () => new Promise((r) => { m.once('idle', r); setTimeout(r, 15000); });
		const pan = async () => {
			const frames = []; let last = 0, running = true;
			const tick = (now) => { if (last) frames.push(now - last); last = now; if (running) requestAnimationFrame(tick); };
			requestAnimationFrame(tick);
			for (const [dx, dy] of [[500, 200], [-500, -200], [-400, 250], [400, -250]]) {
				const moved = new Promise((r) => m.once('moveend', r));
				m.panBy([dx, dy], {duration: 1500, easing: (x) => x});
				await moved;
			}
			running = false;
			return frames;
		};
		const all = m.getStyle().layers.map((l) => l.id).filter((id) => id !== 'background');
		const only = async (hidden) => {
			all.forEach((id) => m.setLayoutProperty(id, 'visibility', hidden.includes(id) ? 'none' : 'visible'));
			await idle();
			return pan();
		};
		m.jumpTo({center: [-1.8904, 52.4862], zoom: 12});
		await idle();
		const directory = m.queryRenderedFeatures({layers: ['directory']}).length;
		const out = {Full: [], NoDirectory: [], NoAreas: [], Bare: [], Directory: directory};
		for (let i = 0; i < 2; i++) {
			out.Full.push(...await only([]));
			out.NoDirectory.push(...await only(['directory']));
			out.NoAreas.push(...await only(['areas-fill', 'areas-line']));
			out.Bare.push(...await only(all));
		}
		await only([]);
		ok(out);
	})`)
	if r.Directory < 20 || len(r.Full) < 10 || len(r.Bare) < 10 {
		t.Fatalf("at zoom 12 over Birmingham: %d directory points drawn, %d and %d frames", r.Directory, len(r.Full), len(r.Bare))
	}
	t.Logf("without the directory layer: %v; without the area outlines: %v", statsOf(r.NoDirectory), statsOf(r.NoAreas))
	full, bare := statsOf(r.Full), statsOf(r.Bare)
	t.Logf("panning at zoom 12 over Birmingham, %d directory points in view: the map %v; the background alone (the machine's pace) %v", r.Directory, full, bare)
	// Responsive: a median frame within 50 ms (20 frames a second), unless
	// the machine cannot draw an empty map that fast either; then within
	// twice its pace. Frames come at whole vsync intervals (16.7 ms) and
	// their timestamps are rounded, so "twice" allows a millisecond: four
	// frames against two (66.67 ms against 33.33) is twice, not more.
	if full.median > 50 && full.median > 2*bare.median+1 {
		t.Errorf("panning at zoom 12: median frame %.1f ms, the background alone %.1f ms", full.median, bare.median)
	}
}

// Each result says when the activity next meets ("Next: Tue 8 Dec, 10:00";
// "Volgende: di 8 dec, 10:00"), read from the API's next_session_time for
// the same search and written here in the browser's time zone: the list
// asks for the BASIC view, which carries no sessions (so no zone of the
// asset's own), and the page shows the start in the browser's zone. An
// activity that is always available has nothing to wait for and says
// nothing. A link worker in Birmingham in English, one in Rotterdam in
// Dutch (a zone an hour off UTC, so a page that wrote UTC would fail).
func TestSearchShowsTheNextSessionInChromium(t *testing.T) {
	env, keys := demoEnv(t)
	base, key := env.HTTPBase, keys["link_worker"]
	alwaysOpen := func(name string, lat, lng float64, country string) string {
		a, err := env.Assets.CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
			DisplayName: name, Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, Categories: []string{"social_connection"},
			Location:     &sparcv1.Location{Latitude: lat, Longitude: lng, Country: country},
			Availability: sparcv1.Availability_AVAILABILITY_ALWAYS_AVAILABLE, AcceptingReferrals: true,
			Status: sparcv1.AssetStatus_ASSET_STATUS_ACTIVE,
		}})
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(a.GetName(), "assets/")
	}
	birmingham := alwaysOpen("Open door café (test)", 52.4810, -1.9040, "GB")       // by B1 1BB
	rotterdam := alwaysOpen("Inloophuis altijd open (test)", 51.9220, 4.4790, "NL") // by 3011

	b := newBrowser(t)
	inZone := func(zone string) *time.Location {
		t.Helper()
		if _, err := chromedp.Call(b.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone}); err != nil {
			t.Fatal(err)
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	dutchDays := [...]string{"zo", "ma", "di", "wo", "do", "vr", "za"}
	dutchMonths := [...]string{"jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"}
	check := func(lang, postcode, alwaysID string, loc *time.Location) {
		t.Helper()
		b.do(chromedp.Reload(), chromedp.WaitReady(css("body[data-ready]")), chromedp.WaitVisible(css("input[autocomplete=postal-code]")))
		got, _ := b.listed(func() {
			b.do(chromedp.SendKeys(css("input[autocomplete=postal-code]"), postcode), chromedp.Click(css("form.search button[type=submit]")))
		})
		shown := eval[map[string]string](b, `Object.fromEntries([...document.querySelectorAll('#results li')].map((li) => [li.id.slice(2), li.querySelector('.next') ? li.querySelector('.next').textContent : '']))`)
		var res struct {
			Results []struct {
				Asset struct {
					Name            string
					NextSessionTime *time.Time `json:"next_session_time"`
				}
			}
		}
		apiGet(t, base, key, "/v1/assets:search?"+url.Values{"postcode": {postcode}, "radius_meters": {"2000"}, "page_size": {"50"}}.Encode(), &res)
		var with int
		for _, r := range res.Results {
			id := strings.TrimPrefix(r.Asset.Name, "assets/")
			want := ""
			if n := r.Asset.NextSessionTime; n != nil {
				at := n.In(loc)
				want = "Next: " + at.Format("Mon 2 Jan, 15:04")
				if lang == "nl" {
					want = fmt.Sprintf("Volgende: %s %d %s, %s", dutchDays[at.Weekday()], at.Day(), dutchMonths[at.Month()-1], at.Format("15:04"))
				}
				with++
			} else if id == alwaysID {
				alwaysID = "" // found, and with no next session
			}
			if shown[id] != want {
				t.Errorf("%s near %s, %s: the page says %q, want %q (next_session_time %v)", lang, postcode, id, shown[id], want, r.Asset.NextSessionTime)
			}
		}
		if with == 0 || alwaysID != "" || len(got) != len(res.Results) {
			t.Errorf("%s near %s: %d of %d results with a next session, the always-available one (%s) not found without one; the page lists %d",
				lang, postcode, with, len(res.Results), alwaysID, len(got))
		}
		b.checkAxe("search (next sessions, " + lang + ")")
	}

	london := inZone("Europe/London")
	b.do(chromedp.Navigate(base+"/app/"), chromedp.WaitReady(css("body[data-ready]")))
	// A British browser (headless Chromium says en-US whatever --lang):
	// the page writes dates in the browser's own English.
	if _, err := chromedp.Call(b.ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
		UserAgent: eval[string](b, `navigator.userAgent`), AcceptLanguage: "en-GB"}); err != nil {
		t.Fatal(err)
	}
	eval[bool](b, fmt.Sprintf(`sessionStorage.setItem('sparc.apiKey', %q); localStorage.setItem('sparc.lang', 'en'); true`, key))
	check("en", "B1 1BB", birmingham, london)

	amsterdam := inZone("Europe/Amsterdam")
	eval[bool](b, `localStorage.setItem('sparc.lang', 'nl'); true`)
	check("nl", "3011", rotterdam, amsterdam)
	b.noCSPViolations("search (next sessions)")
}
