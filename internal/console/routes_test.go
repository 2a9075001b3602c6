package console_test

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/sparc-network/sparc/internal/console"
	"github.com/sparc-network/sparc/internal/testenv"
)

// get sends a GET with headers, following no redirect.
func get(t *testing.T, url string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The console's routes: a browser at / goes to /app/, an API client gets
// the 404 it got before; the page and its files carry the CSP and the
// cache headers; files are served gzipped; nothing else is served.
func TestConsoleRoutesRedirectBrowsersAndServeWithStrictHeaders(t *testing.T) {
	env := testenv.NewServer(t)
	base := env.HTTPBase

	resp, _ := get(t, base+"/", "Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/app/" {
		t.Errorf("browser at /: %s, Location %q; want 303 to /app/", resp.Status, resp.Header.Get("Location"))
	}
	resp, body := get(t, base+"/", "Accept", "application/json")
	_, unknown := get(t, base+"/no-such-path", "Accept", "application/json")
	var got, want any
	_ = json.Unmarshal([]byte(body), &got)
	_ = json.Unmarshal([]byte(unknown), &want)
	if resp.StatusCode != http.StatusNotFound || !reflect.DeepEqual(got, want) || !strings.Contains(body, "ROUTE_NOT_FOUND") {
		t.Errorf("API client at /: %s %s; want the 404 of any unserved path: %s", resp.Status, body, unknown)
	}

	resp, page := get(t, base+"/app/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/app/: %s %s (is the console built? make web)", resp.Status, resp.Header.Get("Content-Type"))
	}
	for h, want := range map[string]string{
		"Content-Security-Policy": console.CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
		"Cache-Control": "no-cache", "X-Frame-Options": "DENY",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("/app/ %s: %q, want %q", h, got, want)
		}
	}
	for _, directive := range []string{"default-src 'none'", "script-src 'self';", "frame-ancestors 'none'"} {
		if !strings.Contains(console.CSP, directive) {
			t.Errorf("CSP lacks %q", directive)
		}
	}
	if strings.Contains(console.CSP, "unsafe-") {
		t.Errorf("CSP allows something unsafe: %s", console.CSP)
	}
	if regexp.MustCompile(`https?://`).MatchString(page) || strings.Contains(page, "<script>") {
		t.Errorf("the page loads from another origin or runs inline script:\n%s", page)
	}
	if r, _ := get(t, base+"/app/", "If-None-Match", resp.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
		t.Errorf("/app/ revalidated with its ETag: %s, want 304", r.Status)
	}

	names := regexp.MustCompile(`/app/assets/([\w.-]+)`).FindAllStringSubmatch(page, -1)
	if len(names) < 3 {
		t.Fatalf("the page names %d assets, want the script and two stylesheets", len(names))
	}
	for _, m := range names {
		r, body := get(t, base+m[0], "Accept-Encoding", "gzip")
		if r.StatusCode != 200 || r.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
			r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Security-Policy") != console.CSP || len(body) == 0 {
			t.Errorf("%s: %s, Cache-Control %q, Content-Encoding %q", m[0], r.Status, r.Header.Get("Cache-Control"), r.Header.Get("Content-Encoding"))
		}
		if !regexp.MustCompile(`-[\w]{8,}\.`).MatchString(m[1]) {
			t.Errorf("%s is not named by a content hash", m[1])
		}
		if r, _ := get(t, base+m[0], "Accept-Encoding", "identity"); r.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s sent gzipped to a client that does not take it", m[0])
		}
	}
	for _, path := range []string{"/app/assets/nothing.js", "/app/assets/..%2Findex.html", "/app/index.html", "/app/x"} {
		if r, _ := get(t, base+path); r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %s, want 404", path, r.Status)
		}
	}
}
