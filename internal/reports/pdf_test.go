package reports

import (
	"context"
	"image"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// poppler runs one of poppler-utils' tools with args, the PDF written to
// a file in dir given as the last argument but for the out prefix
// pdftoppm takes after it, and returns its output.
func poppler(t *testing.T, tool string, pdf string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s is not installed: run `make poppler` (Debian package poppler-utils)", tool)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "report.pdf")
	if err := os.WriteFile(file, []byte(pdf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args = append(args, file)
	switch tool {
	case "pdftotext":
		args = append(args, "-") // to standard output
	case "pdftoppm":
		args = append(args, filepath.Join(dir, "page"))
	}
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
	if tool == "pdftoppm" {
		return dir
	}
	return string(out)
}

// pdfText is the PDF's text as pdftotext reads it, runs of white space
// (line ends included) made one space.
func pdfText(t *testing.T, pdf string) string {
	t.Helper()
	return strings.Join(strings.Fields(poppler(t, "pdftotext", pdf, "-enc", "UTF-8")), " ")
}

// pageCount is the PDF's number of pages by pdfinfo, which also checks
// they are A4.
func pageCount(t *testing.T, pdf string) int {
	t.Helper()
	info := poppler(t, "pdfinfo", pdf)
	if !strings.Contains(info, "(A4)") {
		t.Errorf("not A4:\n%s", info)
	}
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)$`).FindStringSubmatch(info)
	if m == nil {
		t.Fatalf("pdfinfo gives no page count:\n%s", info)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// rasterise renders every page with pdftoppm and returns, per page, the
// share of its pixels that are not white.
func rasterise(t *testing.T, pdf string) []float64 {
	t.Helper()
	dir := poppler(t, "pdftoppm", pdf, "-png", "-r", "30")
	files, err := filepath.Glob(filepath.Join(dir, "page-*.png"))
	if err != nil {
		t.Fatal(err)
	}
	var ink []float64
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(fh)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ink = append(ink, inkShare(img))
	}
	return ink
}

func inkShare(img image.Image) float64 {
	b := img.Bounds()
	dark := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				dark++
			}
		}
	}
	return float64(dark) / float64(b.Dx()*b.Dy())
}

// The PDF in both languages: A4 pages that poppler renders, none blank,
// with the headings and figures in the reader's language, set in the Go
// fonts embedded as TrueType.
func TestPDFReportRendersInBothLanguages(t *testing.T) {
	srv := serve(t, fixture())
	for lang, wants := range map[string][]string{
		"en": {"Neighbourhood report", "Assets and gaps against deprivation", "Referral network", "Outcomes",
			"What changed since the previous period", "July to September 2026", "12,345", "1,234.5", "+2.40 (+1.10 to +3.70)",
			"fewer than 10", "anon-7f3k2q9z", "Café Één Repair Café", "Men's Shed Digbeth", "strengthened", "weakened",
			"formed", "lost", "Page 1 of", "Reciprocity (ties returned) 10.0% 0.0%"},
		"nl": {"Buurtrapport", "Voorzieningen en witte vlekken naar achterstand", "Verwijzingsnetwerk", "Uitkomsten",
			"Wat is er veranderd sinds de vorige periode", "juli tot en met september 2026", "12.345", "1.234,5",
			"+2,40 (+1,10 tot +3,70)", "minder dan 10", "anon-7f3k2q9z", "ontstaan", "sterker", "zwakker", "verdwenen",
			"Pagina 1 van", "Wederkerigheid (relaties over en weer) 10,0% 0,0%"},
	} {
		t.Run(lang, func(t *testing.T) {
			res, pdf := get(t, srv, reportPath("area="+fixtureArea+"&window="+fixtureWindow+"&format=pdf&lang="+lang))
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", res.StatusCode, pdf)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/pdf" {
				t.Fatalf("Content-Type %q", ct)
			}
			pages := pageCount(t, pdf)
			if pages < 4 || pages > 8 {
				t.Errorf("%d pages; want a section a page, at most 8", pages)
			}
			ink := rasterise(t, pdf)
			if len(ink) != pages {
				t.Fatalf("pdftoppm made %d images of %d pages", len(ink), pages)
			}
			for i, share := range ink {
				if share < 0.005 {
					t.Errorf("page %d is blank (%.4f of its pixels inked)", i+1, share)
				}
			}
			text := pdfText(t, pdf)
			mustContain(t, text, wants...)
			mustContain(t, text, " "+strconv.Itoa(pages)) // "Page 1 of N" names the real count
			if !strings.Contains(text, "of "+strconv.Itoa(pages)) && !strings.Contains(text, "van "+strconv.Itoa(pages)) {
				t.Errorf("no page is numbered out of %d", pages)
			}

			fonts := poppler(t, "pdffonts", pdf)
			// name, type, encoding, then emb: yes.
			embedded := regexp.MustCompile(`(?mi)^\S*(go-regular|go-bold)\s+CID TrueType\s+\S+\s+yes\b`)
			found := map[string]bool{}
			for _, m := range embedded.FindAllStringSubmatch(fonts, -1) {
				found[strings.ToLower(m[1])] = true
			}
			if !found["go-regular"] || !found["go-bold"] {
				t.Errorf("want the Go regular and bold fonts embedded as TrueType:\n%s", fonts)
			}
			if strings.Contains(fonts, "Helvetica") || strings.Contains(fonts, "Type 1") {
				t.Errorf("a core font is used:\n%s", fonts)
			}
		})
	}
}

// A name a group could type with characters the Go font cannot draw (an
// emoji, Arabic) and bidi overrides that would reorder the text around
// it: the page keeps the characters and drops the overrides; the PDF
// shows "?" for each character it cannot draw, so the reader sees that
// something is missing.
func TestNamesTheFontCannotDraw(t *testing.T) {
	src := fixture()
	src.networks[fixtureWindow].Nodes[5].DisplayName = "Café Één — walk 🌳 مشي \u202egnikaw\u202c"
	srv := serve(t, src)
	_, page := get(t, srv, reportPath("area="+fixtureArea+"&window="+fixtureWindow+"&format=html"))
	mustContain(t, page, "Café Één — walk 🌳 مشي gnikaw")
	if strings.ContainsAny(page, "\u202e\u202c") {
		t.Error("the page holds a bidi override")
	}
	_, pdf := get(t, srv, reportPath("area="+fixtureArea+"&window="+fixtureWindow+"&format=pdf"))
	mustContain(t, pdfText(t, pdf), "Café Één — walk ? ??? gnikaw")
}
