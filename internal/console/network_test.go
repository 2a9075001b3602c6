package console_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/jsonfast"
)

// The referral network screen in Chromium: admins and area analysts are
// offered it, a link worker is not; the drawing has a circle per node and
// a line per tie of the answer; withheld counts read "fewer than 8"
// ("minder dan 8" in Dutch); changing the window or the area asks again
// with them; the downloads carry the same filters and are fetched with
// the caller's key; nodes take keyboard focus; axe-core and the CSP hold.
//
// The network API is written alongside this screen (issue 19), so here
// the console runs against a real sparcd (its pages, /v1/caller, the
// areas, the demo keys) behind a proxy that answers the network routes
// itself: a fixed sparc.v1.ReferralNetwork built from the generated
// types and written as the gateway writes it. That is the screen's test
// data, not a stand-in for the service's figures; once the service is
// merged the proxy goes and the test reads the real one.
func TestReferralNetworkInChromium(t *testing.T) {
	base, keys, api := networkServer(t)
	b := newBrowser(t)
	signIn := func(key string) {
		b.do(chromedp.Navigate(base+"/app/#/signin"), chromedp.WaitReady(css("body[data-ready]")))
		eval[bool](b, `sessionStorage.clear(); localStorage.setItem('sparc.lang', 'en'); true`)
		b.do(chromedp.Reload(), chromedp.WaitVisible(css("input[type=password]")))
		b.do(chromedp.SendKeys(css("input[type=password]"), key), chromedp.Click(css("form button[type=submit]")), chromedp.WaitVisible(css("#signout")))
	}
	loaded := func(after string) string {
		return waitFor(b, fmt.Sprintf(`(document.querySelector('main').dataset.loaded || '') !== %q && document.querySelector('main').dataset.loaded`, after))
	}
	fixture := networkFixture(false)

	// The last quarter that has ended, and the last month, in UTC: the windows the screen offers first.
	now := time.Now().UTC()
	q, y := (int(now.Month())-1)/3-1, now.Year()
	if q < 0 {
		q, y = 3, y-1
	}
	lastQuarter := fmt.Sprintf("%d-Q%d", y, q+1)
	lastMonth := time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, time.UTC).Format("2006-01")

	t.Run("admin", func(t *testing.T) {
		b.t = t
		signIn(keys[auth.RoleAdmin])
		b.do(chromedp.Click(css("#nav-network")))
		seq := loaded("")
		if got := b.text("h1"); got != "Referral network" {
			t.Fatalf("heading %q", got)
		}
		// The first request: the last quarter that has ended, the whole network, with the admin's key.
		req := api.last("/v1/referralNetwork")
		if req.Query.Get("window") != lastQuarter || req.Query.Has("area") || req.Query.Has("period") {
			t.Errorf("first request %q, want window=%s alone", req.Query.Encode(), lastQuarter)
		}
		if req.Auth != "Bearer "+keys[auth.RoleAdmin] {
			t.Errorf("the network was asked with Authorization %q, want the admin's key", req.Auth)
		}

		// A circle per node, a line per tie, each with its <title>.
		circles := eval[int](b, `document.querySelectorAll('#net-svg circle').length`)
		lines := eval[int](b, `document.querySelectorAll('#net-svg line').length`)
		if circles != len(fixture.Nodes) || lines != len(fixture.Edges) {
			t.Errorf("the drawing has %d circles and %d lines; the network %d nodes and %d ties", circles, lines, len(fixture.Nodes), len(fixture.Edges))
		}
		titled := eval[int](b, `document.querySelectorAll('#net-svg g.node > title, #net-svg line > title').length`)
		drawingTitle := eval[string](b, `document.getElementById('net-svg-title').textContent`)
		if titled != len(fixture.Nodes)+len(fixture.Edges) || !strings.Contains(drawingTitle, "5 nodes and 5 ties") {
			t.Errorf("%d of the drawing's nodes and ties have a <title> (want %d), and the drawing's own title is %q",
				titled, len(fixture.Nodes)+len(fixture.Edges), drawingTitle)
		}
		// Node sizes follow their referrals: the busiest node is the largest.
		radii := eval[map[string]float64](b, `Object.fromEntries([...document.querySelectorAll('#net-svg g.node')].map((g) => [g.dataset.id, +g.querySelector('circle').getAttribute('r')]))`)
		for id, r := range radii {
			if id != "org-north" && r >= radii["org-north"] {
				t.Errorf("node %s is drawn as large as (r=%v) the node with the most referrals (r=%v)", id, r, radii["org-north"])
			}
		}
		// Every node in the table, the anonymous one by its code.
		rows := eval[[]string](b, `[...document.querySelectorAll('#net-node-table tbody tr')].map((tr) => tr.cells[0].textContent)`)
		if len(rows) != len(fixture.Nodes) || !slices.Contains(rows, "anon-3f9c2a1b") || !slices.Contains(rows, "Walking for Health") {
			t.Errorf("the node table lists %v", rows)
		}

		// Withheld counts: the ties' lines dashed, their titles and cells "fewer than 8".
		withheld := eval[[]string](b, `[...document.querySelectorAll('#net-svg line.withheld')].map((l) => l.dataset.source + '>' + l.dataset.target)`)
		if want := []string{"anon-3f9c2a1b>grp-choir", "grp-garden>org-north"}; !slices.Equal(sortedCopy(withheld), want) {
			t.Errorf("withheld ties drawn dashed: %v, want %v", withheld, want)
		}
		if got := eval[string](b, `document.querySelector('#net-svg line[data-source="grp-garden"] title').textContent`); !strings.Contains(got, "fewer than 8 referrals") {
			t.Errorf("a withheld tie's title: %q", got)
		}
		if got := eval[string](b, `document.querySelector('#net-node-table tr[data-id="grp-choir"]').cells[5].textContent`); got != "fewer than 8" {
			t.Errorf("the choir's referrals in (withheld): %q", got)
		}
		if got := eval[string](b, `document.querySelector('#net-tie-table tr[data-source="grp-garden"]').cells[2].textContent`); got != "fewer than 8" {
			t.Errorf("the garden's tie back (withheld): %q", got)
		}
		if got := eval[[]string](b, `[...document.querySelector('#net-tie-table tr[data-source="org-north"][data-target="grp-walk"]').cells].map((c) => c.textContent)`); !slices.Equal(got, []string{"Northside Link Workers", "Walking for Health", "25", "20", "5", "no_capacity: 5", "25", "0"}) {
			t.Errorf("the tie from Northside to Walking for Health reads %q", got)
		}
		if !strings.Contains(b.text("#net-suppressed"), "1 to 7") {
			t.Errorf("the disclosure note: %q", b.text("#net-suppressed"))
		}
		// The measures and the changed ties, as the API gave them.
		if got := b.text("#m-reciprocity"); got != "40%" {
			t.Errorf("reciprocity shown %q, want 40%%", got)
		}
		kinds := eval[[]string](b, `[...document.querySelectorAll('#net-change-table tbody tr')].map((tr) => tr.cells[2].textContent)`)
		if !slices.Equal(kinds, []string{"Formed", "Weakened", "Lost"}) {
			t.Errorf("changed ties: %v", kinds)
		}
		b.checkAxe("referral network")

		// Keyboard: a node takes focus, says what it is, and Tab goes on to the next.
		eval[bool](b, `document.querySelector('#net-svg g.node').focus(); true`)
		first := eval[string](b, `document.activeElement.dataset.id || ''`)
		if got := b.text("#net-node-h"); first == "" || got != eval[string](b, fmt.Sprintf(`document.querySelector('#net-node-table tr[data-id=%q] th').textContent`, first)) {
			t.Errorf("focus on node %q shows %q", first, got)
		}
		b.key("\t")
		if next := eval[string](b, `document.activeElement.dataset.id || ''`); next == "" || next == first {
			t.Errorf("Tab from node %q went to %q, want the next node", first, next)
		}

		// The window filter: a month asks again with it.
		eval[bool](b, fmt.Sprintf(`(() => { const s = document.getElementById('net-window'); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); return true })()`, lastMonth))
		seq = loaded(seq)
		if got := api.last("/v1/referralNetwork").Query.Get("window"); got != lastMonth {
			t.Errorf("after choosing %s the network was asked for window %q", lastMonth, got)
		}
		// The area filter, then window by window: one change at a time, as a
		// person makes them, so the last request seen is the one drawn (two
		// changes at once race two requests to the server).
		area := eval[string](b, `document.querySelector('#net-area option:nth-child(2)').value`)
		eval[bool](b, fmt.Sprintf(`(() => { const s = document.getElementById('net-area'); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); return true })()`, area))
		seq = loaded(seq)
		if req := api.last("/v1/referralNetwork"); req.Query.Get("window") != lastMonth || req.Query.Get("area") != area || req.Query.Has("period") {
			t.Errorf("after choosing area %s the request was %q", area, req.Query.Encode())
		}
		eval[bool](b, `(() => { const p = document.getElementById('net-period'); p.value = 'NETWORK_PERIOD_MONTH'; p.dispatchEvent(new Event('change', {bubbles: true})); return true })()`)
		waitFor(b, `document.querySelectorAll('#net-history-table tbody tr').length === 2`)
		seq = loaded(seq)
		req = api.last("/v1/referralNetwork")
		if req.Query.Get("window") != lastMonth || req.Query.Get("area") != area || req.Query.Get("period") != "NETWORK_PERIOD_MONTH" {
			t.Errorf("after choosing area %s and month by month the request was %q", area, req.Query.Encode())
		}

		// The downloads carry the filters on screen.
		links := eval[map[string]string](b, `Object.fromEntries([...document.querySelectorAll('#net-downloads a')].map((a) => [a.id, a.getAttribute('href')]))`)
		want := map[string]string{
			"dl-graphml":     "/v1/referralNetwork.graphml?" + url.Values{"window": {lastMonth}, "area": {area}}.Encode(),
			"dl-nodes":       "/v1/referralNetwork.csv?" + url.Values{"table": {"nodes"}, "window": {lastMonth}, "area": {area}}.Encode(),
			"dl-edges":       "/v1/referralNetwork.csv?" + url.Values{"table": {"edges"}, "window": {lastMonth}, "area": {area}}.Encode(),
			"dl-report-pdf":  "/v1/reports/neighbourhood?" + url.Values{"area": {area}, "window": {lastMonth}, "format": {"pdf"}, "lang": {"en"}}.Encode(),
			"dl-report-html": "/v1/reports/neighbourhood?" + url.Values{"area": {area}, "window": {lastMonth}, "format": {"html"}, "lang": {"en"}}.Encode(),
		}
		for id, w := range want {
			if got := links[id]; !sameQuery(got, w) {
				t.Errorf("%s links to %q, want %q", id, got, w)
			}
		}
		// A download as a user makes it: fetched with the key, saved under its name.
		dir := t.TempDir()
		if _, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
			t.Fatal(err)
		}
		b.do(chromedp.Click(css("#dl-report-pdf")))
		file := filepath.Join(dir, "neighbourhood-"+area+"-"+lastMonth+".pdf")
		body := waitForFile(t, file)
		if got := api.last("/v1/reports/neighbourhood"); got.Auth != "Bearer "+keys[auth.RoleAdmin] || !sameQuery("/v1/reports/neighbourhood?"+got.Query.Encode(), want["dl-report-pdf"]) {
			t.Errorf("the report was fetched as %q with Authorization %q", got.Query.Encode(), got.Auth)
		}
		if !strings.HasPrefix(body, "%PDF-") {
			t.Errorf("the saved report starts %q", body[:min(len(body), 8)])
		}
		b.noCSPViolations("referral network")

		// In Dutch: the labels, the withheld wording and the report's language;
		// the same network drawn the same way (the layout is deterministic).
		const positions = `[...document.querySelectorAll('#net-svg circle')].map((c) => c.getAttribute('cx') + ',' + c.getAttribute('cy'))`
		before := eval[[]string](b, positions)
		switchLang(b, "nl")
		loaded(seq)
		if after := eval[[]string](b, positions); !slices.Equal(before, after) {
			t.Errorf("the same network drawn again: nodes at %v, before at %v", after, before)
		}
		if got := b.text("h1"); got != "Verwijsnetwerk" {
			t.Errorf("Dutch heading %q", got)
		}
		if got := b.text("#net-nodes-h"); got != "Knopen en hun maten" {
			t.Errorf("Dutch node table heading %q", got)
		}
		if got := eval[string](b, `document.querySelector('#net-node-table tr[data-id="grp-choir"]').cells[5].textContent`); got != "minder dan 8" {
			t.Errorf("a withheld count in Dutch: %q", got)
		}
		if got := eval[string](b, `new URL(document.getElementById('dl-report-pdf').href).searchParams.get('lang')`); got != "nl" {
			t.Errorf("the Dutch screen's report is in %q", got)
		}
		b.checkAxe("referral network (nl)")

		// 320 px: no sideways scrolling (the tables scroll in their own boxes).
		if _, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 320, Height: 640, DeviceScaleFactor: 1, Mobile: true}); err != nil {
			t.Fatal(err)
		}
		if width := eval[int](b, `document.documentElement.scrollWidth`); width > 320 {
			wide := eval[[]string](b, `[...document.querySelectorAll('main *')].filter((e) => e.getBoundingClientRect().right > 321).slice(0, 8).map((e) => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))`)
			t.Errorf("the network screen at 320 px is %d px wide: %v", width, wide)
		}
		if _, err := chromedp.Call(b.ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
		switchLang(b, "en")
	})

	t.Run("area analyst", func(t *testing.T) {
		b.t = t
		signIn(keys[auth.RoleAreaAnalyst])
		if !eval[bool](b, `!!document.getElementById('nav-network')`) {
			t.Error("an area analyst is not offered the network")
		}
	})

	t.Run("link worker", func(t *testing.T) {
		b.t = t
		signIn(keys[auth.RoleLinkWorker])
		if !eval[bool](b, `!!document.getElementById('nav-search') && !document.getElementById('nav-network')`) {
			t.Error("a link worker is offered the network (or the header is not drawn)")
		}
	})
}

// networkServer is officerServer (a real sparcd with the demo directory,
// areas and keys) behind a proxy that answers the network's routes from
// networkFixture and records what it was asked.
func networkServer(t *testing.T) (string, map[string]string, *fakeNetwork) {
	t.Helper()
	real, keys := officerServer(t)
	target, err := url.Parse(real)
	if err != nil {
		t.Fatal(err)
	}
	api := &fakeNetwork{}
	mux := http.NewServeMux()
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = log.New(io.Discard, "", 0) // the map's tiles cancelled as it moves are not news
	mux.Handle("/", proxy)
	mux.HandleFunc("GET /v1/referralNetwork", api.serve)
	mux.HandleFunc("GET /v1/referralNetwork.graphml", api.serve)
	mux.HandleFunc("GET /v1/referralNetwork.csv", api.serve)
	mux.HandleFunc("GET /v1/reports/neighbourhood", api.serve)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, keys, api
}

type fakeRequest struct {
	Query url.Values
	Auth  string
}

type fakeNetwork struct {
	mu   sync.Mutex
	seen map[string]fakeRequest
}

func (f *fakeNetwork) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if f.seen == nil {
		f.seen = map[string]fakeRequest{}
	}
	f.seen[r.URL.Path] = fakeRequest{Query: r.URL.Query(), Auth: r.Header.Get("Authorization")}
	f.mu.Unlock()
	if r.Header.Get("Authorization") == "" {
		http.Error(w, `{"code":16,"message":"credentials missing"}`, http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case "/v1/referralNetwork":
		b, err := jsonfast.GatewayOptions.Marshal(networkFixture(r.URL.Query().Has("period")))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	case "/v1/reports/neighbourhood":
		w.Header().Set("Content-Type", "application/pdf")
		_, _ = w.Write([]byte("%PDF-1.7\n% a neighbourhood report\n%%EOF\n"))
	default:
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("network file\n"))
	}
}

// last is the last request for path (the zero value if none).
func (f *fakeNetwork) last(path string) fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[path]
}

// networkFixture: two referrers (one public, one anonymous by its code)
// and three groups, five ties, two of them withheld (the choir's from the
// anonymous service, the garden's referral back to the public service:
// 2 of 5 ties reciprocated, 5 of 20 possible); three ties changed since
// the window before, one of them with a group no longer in the network.
// With history, two monthly windows.
func networkFixture(history bool) *sparcv1.ReferralNetwork {
	c := func(v int64) *sparcv1.StatCount { return &sparcv1.StatCount{Value: v} }
	withheld := &sparcv1.StatCount{Suppressed: true}
	ref, grp := sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_REFERRER, sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_GROUP
	edge := func(from, to string, n *sparcv1.StatCount) *sparcv1.NetworkEdge {
		e := &sparcv1.NetworkEdge{Source: from, Target: to, Referrals: n, Accepted: n, Declined: c(0), Attended: n, Completed: c(0)}
		if !n.GetSuppressed() {
			e.Accepted, e.Declined = c(n.GetValue()-5), c(5)
			e.DeclinedReasons = map[string]*sparcv1.StatCount{"no_capacity": c(5)}
		}
		return e
	}
	measures := &sparcv1.NetworkMeasures{Nodes: 5, Edges: 5, Density: 0.25, Reciprocity: 0.4, TopDecileShare: 0.5, CrossQuintileShare: 0.6, NewTies: 1, LostTies: 1, Referrals: c(60)}
	n := &sparcv1.ReferralNetwork{
		Window: "2026-Q3",
		Nodes: []*sparcv1.NetworkNode{
			{Id: "org-north", DisplayName: "Northside Link Workers", Kind: ref, DeprivationQuintile: 1, DegreeIn: 1, DegreeOut: 2, StrengthIn: withheld, StrengthOut: c(40), Betweenness: 0.25},
			{Id: "anon-3f9c2a1b", Kind: ref, Anonymous: true, DeprivationQuintile: 2, DegreeOut: 2, StrengthIn: c(0), StrengthOut: c(15)},
			{Id: "grp-walk", DisplayName: "Walking for Health", Kind: grp, DeprivationQuintile: 3, DegreeIn: 2, StrengthIn: c(35), StrengthOut: c(0)},
			{Id: "grp-garden", DisplayName: "Community Garden", Kind: grp, DeprivationQuintile: 1, DegreeIn: 1, DegreeOut: 1, StrengthIn: c(15), StrengthOut: withheld, Betweenness: 0.0833},
			{Id: "grp-choir", DisplayName: "Men's Choir", Kind: grp, DeprivationQuintile: 5, DegreeIn: 1, StrengthIn: withheld, StrengthOut: c(0)},
		},
		Edges: []*sparcv1.NetworkEdge{
			edge("org-north", "grp-walk", c(25)),
			edge("org-north", "grp-garden", c(15)),
			edge("anon-3f9c2a1b", "grp-walk", c(10)),
			edge("anon-3f9c2a1b", "grp-choir", withheld),
			edge("grp-garden", "org-north", withheld),
		},
		Measures: measures,
		Changes: []*sparcv1.TieChange{
			{Source: "anon-3f9c2a1b", Target: "grp-choir", Kind: sparcv1.TieChangeKind_TIE_CHANGE_KIND_FORMED, Before: c(0), After: withheld},
			{Source: "org-north", Target: "grp-garden", Kind: sparcv1.TieChangeKind_TIE_CHANGE_KIND_WEAKENED, Before: c(20), After: c(15)},
			{Source: "anon-3f9c2a1b", Target: "grp-old", Kind: sparcv1.TieChangeKind_TIE_CHANGE_KIND_LOST, Before: c(10), After: c(0)},
		},
		Suppressed: true,
	}
	if history {
		for _, w := range []string{"2026-07", "2026-08"} {
			n.History = append(n.History, &sparcv1.NetworkWindow{Window: w, Measures: proto.Clone(measures).(*sparcv1.NetworkMeasures)})
		}
	}
	return n
}

// sameQuery: two "path?query" strings name the same path and parameters (in any order).
func sameQuery(a, b string) bool {
	pa, qa, _ := strings.Cut(a, "?")
	pb, qb, _ := strings.Cut(b, "?")
	va, errA := url.ParseQuery(qa)
	vb, errB := url.ParseQuery(qb)
	return pa == pb && errA == nil && errB == nil && va.Encode() == vb.Encode()
}

func sortedCopy(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// waitForFile waits (30 s) for a download to be complete and returns its content.
func waitForFile(t *testing.T, path string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
	}
	t.Fatalf("no download at %s within 30 s", path)
	return ""
}
