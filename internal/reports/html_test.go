package reports

import (
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
)

// mustContain fails for each of wants that body lacks.
func mustContain(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("missing %q", w)
		}
	}
}

// The page in English: every section, with the fixture's figures worded
// and formatted in English.
func TestHTMLReportInEnglish(t *testing.T) {
	src := fixture()
	srv := serve(t, src)
	res, body := get(t, srv, reportPath("area="+fixtureArea+"&window="+fixtureWindow+"&format=html&lang=en"))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	if !strings.Contains(body, "Men&#39;s Shed Digbeth") {
		t.Error("a name is not escaped")
	}
	body = html.UnescapeString(body) // "&#43;2.40" reads "+2.40"
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cl := res.Header.Get("Content-Language"); cl != "en" {
		t.Errorf("Content-Language %q", cl)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q: the page must load nothing", csp)
	}
	mustContain(t, body,
		`<html lang="en">`,
		`<th scope="row">Wellbeing Link North</th><td>Referring service</td><td class="n">1</td><td class="n">0</td><td class="n">2</td><td class="n">0</td><td class="n">60</td>`,
		`<h1>Neighbourhood report</h1>`,
		`>Assets and gaps against deprivation</h2>`,
		`>Referral network</h2>`,
		`>Outcomes</h2>`,
		`>What changed since the previous period</h2>`,
		// The period in words, and the one before.
		"July to September 2026 (2026-Q3)", "April to June 2026 (2026-Q2)",
		// Coverage: thousands separators, decimals, signs.
		"<dd>12,345</dd>", ">1,234.5<", "<dd>+0.125</dd>", "+50.0 pp",
		// The gap first, marked.
		`<tr class="gap"><th scope="row">Aston North (E02000001) <span class="note">(no asset within walking distance)</span>`,
		// The network: public names, the anonymous code, escaped text.
		"Wellbeing Link North", "anon-7f3k2q9z", "Men's Shed Digbeth", "Café Één Repair Café",
		// Outcomes with their intervals; the suppressed quintile.
		"+2.40 (+1.10 to +3.70)", "55.0% (45.0% to 65.0%)", "−1.30 (−2.10 to −0.50)", `<th scope="row">Anxiety</th><td class="n">1,185</td>`,
		"<th scope=\"row\">Quintile 2</th><td class=\"n\">fewer than 10</td><td class=\"n\">fewer than 10</td>",
		"anon-p9r8s7t6",
		// What changed, and the measures side by side (previous, this).
		"<td>formed</td>", "<td>strengthened</td>", "<td>weakened</td>", "<td>lost</td>", "<td>org-gone</td>",
		`<th scope="row">Referrals</th><td class="n">987</td><td class="n">1,234</td>`,
		`<th scope="row">Reciprocity (ties returned)</th><td class="n">10.0%</td><td class="n">0.0%</td>`,
		`<th scope="row">Ties across deprivation quintiles</th><td class="n">60.0%</td><td class="n">83.3%</td>`,
		// Accessible drawings and tables.
		`<title id="net-title">Drawing of the referral network</title>`, `role="img"`, "<caption>",
		"Small numbers are not shown",
	)
	// The drawing: a circle per organisation, a line per tie.
	svg := body[strings.Index(body, `aria-labelledby="net-title`):]
	svg = svg[:strings.Index(svg, "</svg>")]
	if n := strings.Count(svg, "<circle "); n != 6 {
		t.Errorf("%d circles in the drawing, want 6 (one per organisation)", n)
	}
	if n := strings.Count(svg, "<line "); n != 6 {
		t.Errorf("%d lines in the drawing, want 6 (one per tie)", n)
	}
	// The page loads nothing: no scripts, images or links out.
	for _, bad := range []string{"<script", "<img", "http://www.w3.org/1999/xlink", "src="} {
		if strings.Contains(body, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
}

// The same report in Dutch: Dutch headings and labels, Dutch number
// formatting (1.234,5) and month names.
func TestHTMLReportInDutch(t *testing.T) {
	srv := serve(t, fixture())
	res, body := get(t, srv, reportPath("area="+fixtureArea+"&window="+fixtureWindow+"&lang=nl"))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	body = html.UnescapeString(body)
	if cl := res.Header.Get("Content-Language"); cl != "nl" {
		t.Errorf("Content-Language %q", cl)
	}
	mustContain(t, body,
		`<html lang="nl">`,
		`<h1>Buurtrapport</h1>`,
		`>Voorzieningen en witte vlekken naar achterstand</h2>`,
		`>Verwijzingsnetwerk</h2>`,
		`>Uitkomsten</h2>`,
		`>Wat is er veranderd sinds de vorige periode</h2>`,
		"juli tot en met september 2026 (2026-Q3)", "april tot en met juni 2026 (2026-Q2)",
		"<dd>12.345</dd>", ">1.234,5<", "<dd>+0,125</dd>", "+50,0 procentpunt",
		"(geen voorziening op loopafstand)",
		"+2,40 (+1,10 tot +3,70)", "55,0% (45,0% tot 65,0%)", "−1,30 (−2,10 tot −0,50)", `<td class="n">1.185</td>`,
		"<td class=\"n\">minder dan 10</td>",
		"<td>ontstaan</td>", "<td>sterker</td>", "<td>zwakker</td>", "<td>verdwenen</td>",
		`<th scope="row">Verwijzingen</th><td class="n">987</td><td class="n">1.234</td>`,
		`<th scope="row">Wederkerigheid (relaties over en weer)</th><td class="n">10,0%</td><td class="n">0,0%</td>`,
		`<title id="net-title">Tekening van het verwijzingsnetwerk</title>`,
	)
	for _, english := range []string{"Neighbourhood report", "fewer than 10", "Referral network", "July"} {
		if strings.Contains(body, english) {
			t.Errorf("the Dutch page holds English %q", english)
		}
	}
}

// Without lang, Accept-Language chooses; without format, Accept does (a
// browser gets the page, a PDF reader the PDF).
func TestLanguageAndFormatByHeaders(t *testing.T) {
	srv := serve(t, fixture())
	q := reportPath("area=" + fixtureArea + "&window=" + fixtureWindow)
	for _, c := range []struct {
		accept, acceptLanguage, wantType, wantLang string
	}{
		{"text/html,application/xhtml+xml,*/*;q=0.8", "nl-NL,nl;q=0.9,en;q=0.8", "text/html; charset=utf-8", "nl"},
		{"application/pdf", "en-GB", "application/pdf", "en"},
		{"text/html;q=0.5, application/pdf", "fr, nl;q=0.5", "application/pdf", "nl"},
		{"", "", "text/html; charset=utf-8", "en"},
	} {
		res, body := get(t, srv, q, "Accept", c.accept, "Accept-Language", c.acceptLanguage)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("Accept %q: status %d: %s", c.accept, res.StatusCode, body)
		}
		if got := res.Header.Get("Content-Type"); got != c.wantType {
			t.Errorf("Accept %q: Content-Type %q, want %q", c.accept, got, c.wantType)
		}
		if got := res.Header.Get("Content-Language"); got != c.wantLang {
			t.Errorf("Accept-Language %q: Content-Language %q, want %q", c.acceptLanguage, got, c.wantLang)
		}
		if c.wantType == "application/pdf" && !strings.HasPrefix(body, "%PDF-") {
			t.Errorf("Accept %q: not a PDF: %.20q", c.accept, body)
		}
	}
}

// The report asks the services for the area and window given: coverage
// of the area's child areas over the window's days, the network of the
// window and of the one before, the outcomes of the window.
func TestReportAsksTheSourcesForTheAreaAndWindow(t *testing.T) {
	src := fixture()
	srv := serve(t, src)
	if res, body := get(t, srv, reportPath("area=areas/"+fixtureArea+"&window=2026-q3")); res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	// Without a window: the last quarter that has ended.
	defer func(f func() time.Time) { now = f }(now)
	now = func() time.Time { return time.Date(2026, 11, 15, 9, 0, 0, 0, time.UTC) }
	if res, body := get(t, srv, reportPath("area="+fixtureArea)); res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	if len(src.asked.coverage) != 2 {
		t.Fatalf("coverage asked %d times", len(src.asked.coverage))
	}
	c := src.asked.coverage[0]
	if c.GetParentCode() != fixtureArea || c.GetWindowStart() != "2026-07-01" || c.GetWindowEnd() != "2026-09-30" {
		t.Errorf("coverage asked for %v", c)
	}
	var windows []string
	for _, r := range src.asked.network {
		if r.GetArea() != fixtureArea {
			t.Errorf("network asked for area %q", r.GetArea())
		}
		windows = append(windows, r.GetWindow())
	}
	if strings.Join(windows, ",") != "2026-Q3,2026-Q2,2026-Q3,2026-Q2" {
		t.Errorf("network asked for windows %v, want the window and the one before", windows)
	}
	if len(src.asked.outcomes) != 2 || src.asked.outcomes[1].GetWindow() != "2026-Q3" || src.asked.outcomes[0].GetArea() != fixtureArea {
		t.Errorf("outcomes asked for %v", src.asked.outcomes)
	}
}

// An area without neighbourhoods below it, referrals or outcomes still
// makes a report, which says so.
func TestEmptyReportSaysThereIsNothing(t *testing.T) {
	src := &fixed{coverage: &sparcv1.ComputeCoverageResponse{}}
	srv := serve(t, src)
	for lang, wants := range map[string][]string{
		"en": {"The area has no neighbourhoods below it to compare.", "No referrals in the period.",
			"No completed referrals with a follow-up in the period.", "No ties changed."},
		"nl": {"Onder dit gebied liggen geen buurten om te vergelijken.", "Geen verwijzingen in deze periode.",
			"Geen afgeronde verwijzingen met een nameting in deze periode.", "Geen relaties veranderd."},
	} {
		for _, format := range []string{"html", "pdf"} {
			res, body := get(t, srv, reportPath("area=BU05990110&window=2026-09&lang="+lang+"&format="+format))
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s %s: status %d: %s", lang, format, res.StatusCode, body)
			}
			if format == "html" {
				mustContain(t, body, wants...)
			} else {
				mustContain(t, pdfText(t, body), wants...)
			}
		}
	}
}

// A council is usually no parent of areas (its areas name it as their
// council): the report then shows the council's areas of the first kind
// it has of LSOAs, buurten, MSOAs and wijken (those with a deprivation
// measure first). A refusal of a kind the
// service has no areas of moves on; a refusal of access ends the report.
func TestCouncilCoverageByItsAreas(t *testing.T) {
	src := fixture()
	full := src.coverage
	src.coverageFor = func(r *sparcv1.ComputeCoverageRequest) (*sparcv1.ComputeCoverageResponse, error) {
		switch {
		case r.GetParentCode() == "GM0599":
			return &sparcv1.ComputeCoverageResponse{Summary: &sparcv1.CoverageSummary{}}, nil
		case r.GetKind() == "lsoa":
			return nil, apierr.Invalid("kind", "no areas of kind \"lsoa\" are loaded")
		case r.GetKind() == "buurt" && r.GetCouncil() == "GM0599":
			return full, nil
		}
		return nil, status.Error(codes.PermissionDenied, "no")
	}
	srv := serve(t, src)
	res, body := get(t, srv, reportPath("area=GM0599&window=2026-Q3&lang=nl"))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	mustContain(t, body, "Aston North (E02000001)", "<dd>12.345</dd>")
	var asked []string
	for _, r := range src.asked.coverage {
		asked = append(asked, r.GetParentCode()+"|"+r.GetKind()+"|"+r.GetCouncil()+"|"+r.GetWindowStart()+"|"+r.GetWindowEnd())
	}
	want := "GM0599|||2026-07-01|2026-09-30 |lsoa|GM0599|2026-07-01|2026-09-30 |buurt|GM0599|2026-07-01|2026-09-30"
	if got := strings.Join(asked, " "); got != want {
		t.Errorf("coverage asked for\n%s\nwant\n%s", got, want)
	}

	// A refusal that is not about the kind ends the report with its status.
	src.coverageFor = func(r *sparcv1.ComputeCoverageRequest) (*sparcv1.ComputeCoverageResponse, error) {
		if r.GetParentCode() != "" {
			return &sparcv1.ComputeCoverageResponse{}, nil
		}
		return nil, status.Error(codes.PermissionDenied, "no")
	}
	if res, body := get(t, srv, reportPath("area=GM0599&window=2026-Q3")); res.StatusCode != http.StatusForbidden {
		t.Errorf("status %d, want 403: %s", res.StatusCode, body)
	}
}
