package referrals_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// hostileName is an asset name an attacker (a group editing its own
// asset) could choose to run script in a link worker's browser.
const hostileName = `Walk <script>alert(1)</script> & "friends" <img src=x onerror=alert(2)>`

// printPage fetches the printable referral with key ("" for none), the
// extra request headers, and returns status, headers and body.
func printPage(t *testing.T, env *testenv.Env, path, key string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", env.HTTPBase+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// The referring side prints the referral, in English or Dutch, with the
// asset's own text escaped; the provider, another organisation and a
// missing referral are the same 404, audited as refused, and no key is a
// 401, whether the page or its PDF is asked for.
func TestPrintableReferral(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	w := newReadable(t, env, hostileName)
	ref := w.refer(t)
	path := "/v1/" + ref.GetName() + "/print"

	code, h, body := printPage(t, env, path, w.lwKey)
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("referrer: HTTP %d %v\n%s", code, h, body)
	}
	for _, want := range []string{`<html lang="en">`, "Your referral", "A. Khan", "Saltley Park gates, Alum Rock Road", "B8 1AA",
		"Tuesday", "10:30–12:00", "Pat", "0121 496 0001", "Free", "Step-free access", "Ladywood PCN link workers", "Amira Khan",
		"@page", "size: A4", "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;friends&#34; &lt;img src=x onerror=alert(2)&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("referrer's page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "<img") {
		t.Errorf("the asset's name reached the page unescaped:\n%s", body)
	}

	for _, tc := range []struct{ name, query, accept string }{
		{"query", "?language=nl", ""}, {"Accept-Language", "", "nl-NL,nl;q=0.9,en;q=0.5"}} {
		code, h, body := printPage(t, env, path+tc.query, w.lwKey, "Accept-Language", tc.accept)
		if code != http.StatusOK || h.Get("Content-Language") != "nl" {
			t.Fatalf("Dutch by %s: HTTP %d %v", tc.name, code, h)
		}
		for _, want := range []string{`<html lang="nl">`, "Uw verwijzing", "Waar", "Wanneer", "dinsdag", "Gratis", "Vraag naar",
			"Verwezen door", "Toegankelijkheid"} {
			if !strings.Contains(body, want) {
				t.Errorf("Dutch by %s lacks %q", tc.name, want)
			}
		}
	}
	if code, _, body := printPage(t, env, path+"?language=fr", w.lwKey); code != http.StatusBadRequest ||
		!strings.Contains(body, `"field":"language"`) {
		t.Errorf("language=fr: HTTP %d %s, want 400 naming the field", code, body)
	}
	if code, _, _ := printPage(t, env, path+"?colour=red", w.lwKey); code != http.StatusBadRequest {
		t.Errorf("unknown parameter: HTTP %d, want 400", code)
	}

	// As HTML and as PDF (rendered after the same check), asked for by
	// ?format= or Accept. A caller's first refusal is audited at once,
	// with its request id; later ones are summed (docs/security.md).
	outsider := env.Key(t, env.NewOrg(t, "Another link worker service", "link_worker_service"), auth.RoleLinkWorker)
	for _, tc := range []struct {
		name, path, key string
		want            int
	}{
		{"provider", path, w.groupKey, http.StatusNotFound},
		{"another organisation", path, outsider, http.StatusNotFound},
		{"missing referral", "/v1/referrals/" + uuid.NewString() + "/print", w.lwKey, http.StatusNotFound},
		{"not an id", "/v1/referrals/nope/print", w.lwKey, http.StatusNotFound},
		{"anonymous", path, "", http.StatusUnauthorized},
	} {
		for i, how := range [][]string{{""}, {"?format=pdf"}, {"", "Accept", "application/pdf"}} {
			code, h, body := printPage(t, env, tc.path+how[0], tc.key, how[1:]...)
			if code != tc.want {
				t.Errorf("%s %q: HTTP %d, want %d", tc.name, how, code, tc.want)
			}
			if strings.Contains(body, "A. Khan") || strings.Contains(body, "Saltley") || strings.HasPrefix(body, "%PDF") {
				t.Errorf("%s %q: the refusal shows the referral: %.200s", tc.name, how, body)
			}
			if tc.want == http.StatusNotFound && !strings.Contains(body, `"reason":"RESOURCE_NOT_FOUND"`) {
				t.Errorf("%s %q: the refusal is not the API's not-found: %s", tc.name, how, body)
			}
			if tc.key != "" && tc.key != w.lwKey && i == 0 {
				if got := auditedAs(t, env, h.Get("X-Request-Id")); !strings.HasPrefix(got, "denied NotFound") {
					t.Errorf("%s: audited as %q, want denied NotFound", tc.name, got)
				}
			}
		}
	}
}

// The page is one A4 page in a real browser: Chromium prints it to PDF
// (its print CSS chooses A4) and the PDF has one page of A4's size.
func TestPrintableReferralIsOneA4PageInChromium(t *testing.T) {
	t.Parallel()
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Fatal("chromium is not installed: run `make chromium` (Debian package chromium)")
	}
	env := testenv.NewServer(t)
	w := newReadable(t, env, "Saltley Park walk, a long name to take some room on the page")
	ref := w.refer(t)
	code, _, body := printPage(t, env, "/v1/"+ref.GetName()+"/print?language=nl", w.lwKey)
	if code != http.StatusOK {
		t.Fatalf("HTTP %d", code)
	}
	// The browser cannot send the key, so it prints the page as served.
	dir := t.TempDir()
	page, pdf := filepath.Join(dir, "referral.html"), filepath.Join(dir, "referral.pdf")
	if err := os.WriteFile(page, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir="+t.TempDir(),
		"--no-pdf-header-footer", "--print-to-pdf="+pdf, "file://"+page)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	b, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	pages := regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(b, -1)
	box := regexp.MustCompile(`/MediaBox\s*\[\s*0\s+0\s+([0-9.]+)\s+([0-9.]+)\s*\]`).FindSubmatch(b)
	if len(pages) != 1 || box == nil {
		t.Fatalf("the PDF has %d pages (want 1), media box %q", len(pages), box)
	}
	wPt, _ := strconv.ParseFloat(string(box[1]), 64)
	hPt, _ := strconv.ParseFloat(string(box[2]), 64)
	if wPt < 593 || wPt > 597 || hPt < 840 || hPt > 844 { // A4: 595 x 842 points
		t.Fatalf("page size %.1f x %.1f points, want A4 (595 x 842)", wPt, hPt)
	}
}

// A key's display name is the audit trail's name for the principal.
func TestAuditEventsShowKeyDisplayName(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	w := newReadable(t, env, "Walk")
	w.refer(t)
	adminKey, _ := namedKey(t, env, w.lwOrg, auth.RoleAdmin, "Ladywood PCN admin")
	audit := sparcv1.NewAuditServiceClient(env.ConnWithKey(t, adminKey))
	list, err := audit.ListAuditEvents(context.Background(), &sparcv1.ListAuditEventsRequest{Principal: w.lwPrincipal})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range list.GetEvents() {
		if e.GetMethod() == "/sparc.v1.ReferralService/CreateReferral" {
			found = true
			if e.GetPrincipalDisplayName() != "Amira Khan" {
				t.Errorf("audit event %s names %q, want Amira Khan", e.GetName(), e.GetPrincipalDisplayName())
			}
		}
	}
	if !found {
		t.Fatalf("no CreateReferral event of %s: %v", w.lwPrincipal, list)
	}
}
