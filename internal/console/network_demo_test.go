package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/encoding/protojson"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The network screen over the real service and the demo's year of
// referral history (TestReferralNetworkInChromium checks the screen's
// every detail on fixed data): an area analyst's drawing has a circle per
// node and a line per tie of what GetReferralNetwork gives the same key,
// the withheld ties dashed, and the node table lists the anonymous
// organisations by their codes. Its screenshot is docs/console-network.png.
func TestReferralNetworkOfTheDemoInChromium(t *testing.T) {
	base, keys := officerServer(t, func(env *testenv.Env) error {
		// The history's people live at demo postcodes, placed in areas.
		if _, err := demo.LoadPostcodes(context.Background(), env.AppPool); err != nil {
			return err
		}
		_, err := demo.LoadHistory(context.Background(), env.AppPool, env.App.Assets, time.Now())
		return err
	})
	key := keys[auth.RoleAreaAnalyst]
	now := time.Now().UTC()
	q, y := (int(now.Month())-1)/3-1, now.Year()
	if q < 0 {
		q, y = 3, y-1
	}
	window := fmt.Sprintf("%d-Q%d", y, q+1)

	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/v1/referralNetwork?window="+window, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var net sparcv1.ReferralNetwork
	if err := protojson.Unmarshal(body, &net); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("GetReferralNetwork: %d %v %.200s", resp.StatusCode, err, body)
	}
	withheld, anonymous := 0, 0
	for _, e := range net.GetEdges() {
		if e.GetReferrals().GetSuppressed() {
			withheld++
		}
	}
	for _, n := range net.GetNodes() {
		if n.GetAnonymous() {
			anonymous++
		}
	}
	if len(net.GetNodes()) < 5 || anonymous == 0 {
		t.Fatalf("the demo's network of %s has %d nodes, %d anonymous: too little to test", window, len(net.GetNodes()), anonymous)
	}

	b := newBrowser(t)
	b.do(chromedp.Navigate(base+"/app/#/signin"), chromedp.WaitReady(css("body[data-ready]")))
	eval[bool](b, `sessionStorage.clear(); localStorage.setItem('sparc.lang', 'en'); true`)
	b.do(chromedp.Reload(), chromedp.WaitVisible(css("input[type=password]")))
	b.do(chromedp.SendKeys(css("input[type=password]"), key), chromedp.Click(css("form button[type=submit]")), chromedp.WaitVisible(css("#signout")))
	b.do(chromedp.Click(css("#nav-network")))
	waitFor(b, `document.querySelector('main').dataset.loaded`)

	circles := eval[int](b, `document.querySelectorAll('#net-svg circle').length`)
	lines := eval[int](b, `document.querySelectorAll('#net-svg line').length`)
	dashed := eval[int](b, `document.querySelectorAll('#net-svg line.withheld').length`)
	if circles != len(net.GetNodes()) || lines != len(net.GetEdges()) || dashed != withheld {
		t.Errorf("the drawing has %d circles, %d lines, %d dashed; the service's network %d nodes, %d ties, %d withheld",
			circles, lines, dashed, len(net.GetNodes()), len(net.GetEdges()), withheld)
	}
	rows := eval[[]string](b, `[...document.querySelectorAll('#net-node-table tbody tr')].map((tr) => tr.cells[0].textContent)`)
	for _, n := range net.GetNodes() {
		label := n.GetDisplayName()
		if n.GetAnonymous() {
			label = n.GetId()
		}
		found := false
		for _, r := range rows {
			found = found || r == label
		}
		if !found {
			t.Errorf("the node table (%d rows) lacks %q", len(rows), label)
		}
	}
	b.screenshot("console-network.png")
}
