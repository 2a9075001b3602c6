package console_test

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// watchProxy stands between the browser and sparcd, so the test can drop
// the browser's connections (a network blip) and see which cursor the
// console resumes the watch with.
type watchProxy struct {
	srv     *httptest.Server
	mu      sync.Mutex
	watches []string // the cursor of every WatchReferrals request
}

func newWatchProxy(t *testing.T, target string) *watchProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &watchProxy{}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) }, FlushInterval: -1,
		ErrorLog: log.New(io.Discard, "", 0)} // the drop is the test's own doing
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/referrals:watch" {
			p.mu.Lock()
			p.watches = append(p.watches, r.URL.Query().Get("cursor"))
			p.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *watchProxy) cursors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.watches)
}

// The link worker's "my referrals", live: a referral the provider accepts
// through the API changes in the page without a reload, a new one
// appears, and after the connection drops the watch resumes from the last
// cursor and still shows what changed meanwhile. Then the outcome forms:
// the console's own range checks, the API's violation next to its field,
// a baseline recorded, a follow-up by keyboard alone, Dutch, 320 px, axe.
func TestMyReferralsLiveAndOutcomesInChromium(t *testing.T) {
	env := testenv.NewServer(t)
	refs := env.NewReferrals(t)
	first := refs.Refer(t, "console-live-1")
	group := sparcv1.NewReferralServiceClient(env.ConnWithKey(t, env.Key(t, refs.Provider, auth.RoleGroupEditor)))
	lw := sparcv1.NewReferralServiceClient(refs.LinkWorker)
	ctx := context.Background()
	transition := func(name string, to sparcv1.ReferralStatus) {
		t.Helper()
		if _, err := group.TransitionReferral(ctx, &sparcv1.TransitionReferralRequest{Name: name, ToStatus: to}); err != nil {
			t.Fatalf("transition to %v: %v", to, err)
		}
	}
	proxy := newWatchProxy(t, env.HTTPBase)
	base := proxy.srv.URL

	b := newBrowser(t)
	b.do(chromedp.Navigate(base+"/app/#/signin"), chromedp.WaitVisible(css("input[type=password]")),
		chromedp.SendKeys(css("input[type=password]"), refs.LinkWorkerKey), chromedp.Click(css("form button[type=submit]")),
		chromedp.WaitVisible(css("#myref-link")), chromedp.Click(css("#myref-link")))
	row := func(name string) string { return `li[data-referral="` + strings.TrimPrefix(name, "referrals/") + `"]` }
	b.do(chromedp.WaitVisible(css(row(first))))
	status := func(name string) string {
		return eval[string](b, `(document.querySelector('`+row(name)+`') || {dataset: {}}).dataset.status || ''`)
	}
	if s := status(first); s != "REFERRAL_STATUS_REQUESTED" {
		t.Fatalf("row status %q", s)
	}
	b.checkAxe("my referrals")
	b.screenshot("console-myreferrals.png")
	// The watch is open once its first read is in the audit log (before
	// that, a change could precede the stream's starting point "now").
	testenv.Until(t, 30*time.Second, "the console's watch open", func() bool {
		var n int
		_ = env.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE method LIKE '%/WatchReferrals'`).Scan(&n)
		return n > 0
	})
	eval[bool](b, `window.__sameDocument = true; true`)

	// Accepted by the provider, through the API: the row changes.
	transition(first, sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED)
	// The row is drawn again on each change (and on a reconnect's
	// re-read), so its badge is read in the same step as its status.
	badge := func(name string) string {
		return eval[string](b, `(document.querySelector('`+row(name)+` .badge') || {}).textContent || ''`)
	}
	testenv.Until(t, 30*time.Second, "the accepted referral shown", func() bool { return status(first) == "REFERRAL_STATUS_ACCEPTED" })
	testenv.Until(t, 10*time.Second, "the accepted referral's badge", func() bool { return badge(first) == "Accepted" })
	// A referral made elsewhere (another tab, the API) appears.
	second := refs.Refer(t, "console-live-2")
	testenv.Until(t, 30*time.Second, "the new referral shown", func() bool { return status(second) == "REFERRAL_STATUS_REQUESTED" })

	// The connection drops; the console reconnects with the cursor of
	// the last change it saw, and the change made meanwhile arrives.
	proxy.srv.CloseClientConnections()
	transition(first, sparcv1.ReferralStatus_REFERRAL_STATUS_IN_PROGRESS)
	testenv.Until(t, 60*time.Second, "the change made during the drop shown", func() bool { return status(first) == "REFERRAL_STATUS_IN_PROGRESS" })
	cursors := proxy.cursors()
	if len(cursors) < 2 || cursors[0] != "now" || cursors[len(cursors)-1] == "now" || cursors[len(cursors)-1] == "" {
		t.Errorf("watch cursors %q: want \"now\", then resumed from a change's cursor", cursors)
	}
	if !eval[bool](b, `window.__sameDocument === true`) {
		t.Error("the page was reloaded")
	}

	// Outcome of the first referral.
	b.do(chromedp.Click(css(row(first)+" .outcome-link")), chromedp.WaitVisible(css("#outcome-form")))
	b.checkAxe("outcome")
	itemID := func(field string) string {
		return eval[string](b, `document.querySelector('[data-field="`+field+`"]').id`)
	}
	setValue := func(field, v string) {
		eval[bool](b, `(() => { const el = document.querySelector('[data-field="`+field+`"]'); el.value = `+jsString(v)+`; return true; })()`)
	}
	errorOf := func(field string) string {
		return eval[string](b, `(() => { const el = document.querySelector('[data-field="`+field+`"]');
			const e = document.getElementById(el.id + '-error'); return (el.getAttribute('aria-invalid') || '') + '|' + (e.hidden ? '' : e.textContent); })()`)
	}
	outcome := func() *sparcv1.Outcome {
		r, err := lw.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: first})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetOutcome()
	}
	submit := func() { b.do(chromedp.Click(css("#outcome-send"))) }

	// The console's own checks: a score out of range, a scale half done.
	b.do(chromedp.SendKeys(css("#"+itemID("baseline.ons4[0]")), "11"))
	submit()
	b.do(chromedp.WaitVisible(css("#outcome-form .field-error:not([hidden])")))
	if got := errorOf("baseline.ons4[0]"); got != "true|Enter a whole number from 0 to 10." {
		t.Errorf("ONS4 item out of range: %q", got)
	}
	if got := errorOf("baseline.ons4[1]"); got != "true|Answer this item too, or leave the whole scale empty." {
		t.Errorf("ONS4 item left out: %q", got)
	}
	if b.focused() != itemID("baseline.ons4[0]") {
		t.Errorf("focus on %q, want the first invalid item", b.focused())
	}
	b.checkAxe("outcome (with errors)")
	b.screenshot("console-outcome.png")
	// The API's own check, next to its field: what changed is too long.
	for i, v := range []string{"7", "8", "6", "3"} {
		setValue("baseline.ons4["+string(rune('0'+i))+"]", v)
	}
	for i := range 7 {
		setValue("baseline.swemwbs["+string(rune('0'+i))+"]", "4")
	}
	setValue("what_changed", strings.Repeat("x", 2001))
	submit()
	testenv.Until(t, 20*time.Second, "the API's violation next to what changed", func() bool {
		return errorOf("what_changed") == "true|This is too long: at most 2,000 characters."
	})
	if got := errorOf("baseline.ons4[0]"); got != "|" {
		t.Errorf("a fixed item still shows an error: %q", got)
	}
	if o := outcome(); o.GetBaseline() != nil {
		t.Fatalf("a refused outcome was recorded: %v", o)
	}
	// Recorded.
	setValue("what_changed", "Walks twice a week now.")
	submit()
	b.do(chromedp.WaitVisible(css("#outcome-done")))
	testenv.Until(t, 20*time.Second, "the outcome recorded", func() bool { return b.text("#outcome-done") == "Outcome recorded." })
	o := outcome()
	if !slices.Equal(o.GetBaseline().GetOns4(), []int32{7, 8, 6, 3}) || !slices.Equal(o.GetBaseline().GetSwemwbs(), []int32{4, 4, 4, 4, 4, 4, 4}) ||
		o.GetWhatChanged() != "Walks twice a week now." {
		t.Errorf("recorded %v", o)
	}
	if got := b.text("#outcome-baseline"); got == "not recorded yet" {
		t.Errorf("baseline shown as %q after recording", got)
	}

	// The follow-up by keyboard alone: the form now asks for the
	// follow-up; Tab through it, typing the scores (a select takes the
	// first character of an option), Enter on the button.
	if v := eval[string](b, `document.querySelector('[data-field=which]').value`); v != "follow_up" {
		t.Fatalf("after the baseline the form asks for %q", v)
	}
	eval[bool](b, `document.querySelector('[data-field=which]').focus(); true`)
	b.tabTo(itemID("sessions_attended"), 2)
	b.do(chromedp.KeyEvent("6"))
	for i, v := range []string{"8", "9", "8", "2"} {
		b.tabTo(itemID("follow_up.ons4["+string(rune('0'+i))+"]"), 2)
		b.do(chromedp.KeyEvent(v))
	}
	for i := range 7 {
		b.tabTo(itemID("follow_up.swemwbs["+string(rune('0'+i))+"]"), 2)
		b.do(chromedp.KeyEvent("5"))
	}
	b.tabTo("outcome-send", 3)
	b.key("\r")
	testenv.Until(t, 20*time.Second, "the follow-up recorded", func() bool {
		return outcome().GetFollowUp() != nil
	})
	o = outcome()
	if !slices.Equal(o.GetFollowUp().GetOns4(), []int32{8, 9, 8, 2}) || !slices.Equal(o.GetFollowUp().GetSwemwbs(), []int32{5, 5, 5, 5, 5, 5, 5}) || o.GetSessionsAttended() != 6 {
		t.Errorf("follow-up by keyboard recorded %v", o)
	}

	// Dutch: the form and its errors.
	eval[bool](b, `const lang = document.getElementById('lang'); lang.value = 'nl'; lang.dispatchEvent(new Event('change')); true`)
	b.do(chromedp.WaitVisible(css("#outcome-form")))
	if got := b.text("h1"); got != "Een uitkomst vastleggen" {
		t.Errorf("Dutch heading %q", got)
	}
	setValue("follow_up.ons4[0]", "12")
	submit()
	testenv.Until(t, 20*time.Second, "a Dutch field error", func() bool {
		return errorOf("follow_up.ons4[0]") == "true|Vul een heel getal in van 0 tot en met 10."
	})
	b.checkAxe("outcome (Dutch, with errors)")

	// 320 px: no sideways scrolling on either screen.
	if _, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 320, Height: 640, DeviceScaleFactor: 1, Mobile: true}); err != nil {
		t.Fatal(err)
	}
	if w := eval[int](b, `document.documentElement.scrollWidth`); w > 320 {
		t.Errorf("outcome screen at 320 px is %d px wide", w)
	}
	b.do(chromedp.Navigate(base+"/app/#/my-referrals"), chromedp.WaitVisible(css(row(first))))
	if w := eval[int](b, `document.documentElement.scrollWidth`); w > 320 {
		t.Errorf("my referrals at 320 px is %d px wide", w)
	}
	if got := b.text(row(first) + " .badge"); got != "Neemt deel" {
		t.Errorf("Dutch status %q", got)
	}
	b.checkAxe("my referrals (Dutch, 320 px)")
	b.noCSPViolations("my referrals and outcomes")
}

// jsString quotes s for JavaScript (ASCII only here).
func jsString(s string) string { return `'` + strings.ReplaceAll(s, `'`, `\'`) + `'` }
