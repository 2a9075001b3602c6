package referrals

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// The printable referral as a PDF: the same printData as the HTML page,
// laid out on one A4 page with the PDF core fonts (Helvetica), so nothing
// is embedded and the file stays a few kilobytes. Core fonts speak
// Windows-1252, which holds English and Dutch (é, ë, £, €, –, …);
// anything else a group typed into its asset (emoji, Arabic, bidi
// controls) is turned into what those fonts can print (pdfText). Every
// block has a line limit, so whatever the asset says the page is one
// page: a long description or many sessions end in "…".

// printFormat is ?format= when given (html or pdf), else the one of
// text/html and application/pdf that Accept prefers (by q, then order),
// else HTML: a browser's Accept (text/html, */*) gets the page.
func printFormat(r *http.Request) (string, bool) {
	if f := r.URL.Query().Get("format"); f != "" {
		return f, f == "html" || f == "pdf"
	}
	best, bestQ := "html", 0.0
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		params := strings.Split(part, ";")
		format := ""
		switch strings.ToLower(strings.TrimSpace(params[0])) {
		case "application/pdf":
			format = "pdf"
		case "text/html":
			format = "html"
		default:
			continue
		}
		q := 1.0
		for _, p := range params[1:] {
			if k, v, _ := strings.Cut(strings.TrimSpace(p), "="); strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				} else {
					q = 0
				}
			}
		}
		if q > bestQ {
			best, bestQ = format, q
		}
	}
	return best, true
}

// The page: A4 portrait in millimetres.
const (
	pdfLeft, pdfTop, pdfWidth = 18.0, 16.0, 174.0 // 210 − 2 × 18
	pdfFooterY                = 297.0 - 16.0 - 8.0
)

// writePDF answers with data as a one-page PDF.
func (p *printer) writePDF(w http.ResponseWriter, r *http.Request, lang string, data printData) {
	b, err := renderPDF(data)
	if err != nil {
		p.writeError(w, r, fmt.Errorf("writing the printable PDF: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `inline; filename="referral-`+data.Reference+`.pdf"`)
	h.Set("Content-Language", lang)
	h.Set("Cache-Control", "no-store") // it names a person
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Vary", "Accept, Accept-Language")
	_, _ = w.Write(b)
}

// pdfPage writes blocks of text down the page.
type pdfPage struct{ f *fpdf.Fpdf }

// renderPDF lays out data as the HTML page does, section by section.
func renderPDF(d printData) ([]byte, error) {
	f := fpdf.New("P", "mm", "A4", "")
	f.SetMargins(pdfLeft, pdfTop, pdfLeft)
	f.SetAutoPageBreak(false, 0) // one page: the blocks' line limits keep it on the page
	f.SetTitle(d.T.Title+": "+pdfMeta(d.Asset), true)
	f.SetCreator("SPARC", false)
	f.SetLang(d.T.Lang)
	f.AddPage()
	pg := pdfPage{f: f}
	t := d.T

	pg.block(t.Title, "B", 20, 9, 1)
	if d.Person != "" {
		pg.block(t.For+": "+d.Person, "", 12, 6, 1)
	}
	f.Ln(2)
	pg.block(d.Asset, "B", 16, 7, 2)
	pg.block(d.Description, "", 11, 5, 5)

	pg.heading(t.Where)
	pg.block(strings.Join(d.Address, ", "), "", 12, 5.5, 3)

	pg.heading(t.When)
	if d.When != "" {
		pg.block(d.When, "B", 14, 7, 2)
	} else {
		pg.block(t.NoSession, "", 12, 5.5, 2)
	}
	pg.list(d.Sessions, 7)

	if d.Contact != "" || len(d.ContactLines) > 0 {
		pg.heading(t.AskFor)
		pg.block(d.Contact, "B", 12, 5.5, 1)
		for _, l := range d.ContactLines {
			pg.block(l, "", 12, 5.5, 1)
		}
	}
	if d.Cost != "" {
		pg.heading(t.Cost)
		pg.block(d.Cost, "", 12, 5.5, 2)
	}
	if len(d.Accessibility) > 0 {
		pg.heading(t.Access)
		pg.block(strings.Join(d.Accessibility, ", "), "", 12, 5.5, 3)
	}
	if d.MapURL != "" {
		pg.heading(t.GettingThere)
		f.SetFont("Helvetica", "", 9)
		f.CellFormat(pdfWidth, 4.5, pdfText(d.MapURL), "", 1, "L", false, 0, d.MapURL)
	}

	// The footer sits at the foot of the page whatever is above it.
	f.SetDrawColor(150, 150, 150)
	f.Line(pdfLeft, pdfFooterY-2, pdfLeft+pdfWidth, pdfFooterY-2)
	f.SetY(pdfFooterY)
	from := t.From + ": " + d.Referrer
	if d.LinkWorker != "" {
		from += " (" + d.LinkWorker + ")"
	}
	pg.block(from+" · "+t.Reference+" "+d.Reference, "", 10, 5, 1)

	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// heading starts a section, as the HTML page's h2.
func (pg pdfPage) heading(s string) {
	pg.f.Ln(3)
	pg.f.SetTextColor(70, 70, 70)
	pg.block(strings.ToUpper(s), "B", 10, 6, 1)
	pg.f.SetTextColor(0, 0, 0)
}

// list writes items as a bulleted list of at most max lines, one line
// each; the last says how many more there are.
func (pg pdfPage) list(items []string, max int) {
	for i, it := range items {
		if i == max-1 && len(items) > max {
			pg.block(fmt.Sprintf("• … (+%d)", len(items)-i), "", 12, 5.5, 1)
			return
		}
		pg.block("• "+it, "", 12, 5.5, 1)
	}
}

// block writes s (UTF-8) wrapped to the page's width in at most max
// lines of height lh, the last ending in "…" when s is longer.
func (pg pdfPage) block(s, style string, size, lh float64, max int) {
	f := pg.f
	f.SetFont("Helvetica", style, size)
	lines := pg.wrap(pdfText(s), pdfWidth)
	if len(lines) > max {
		lines = lines[:max]
		ellipsis := "\x85" // "…" in Windows-1252
		last := lines[max-1]
		for last != "" && f.GetStringWidth(last+" "+ellipsis) > pdfWidth {
			last = last[:len(last)-1] // one byte is one character here
		}
		lines[max-1] = strings.TrimRight(last, " ") + " " + ellipsis
	}
	for _, l := range lines {
		f.CellFormat(pdfWidth, lh, l, "", 1, "L", false, 0, "")
	}
}

// wrap breaks s (Windows-1252) into lines no wider than w at spaces,
// and inside a word that is wider than a line on its own.
func (pg pdfPage) wrap(s string, w float64) []string {
	f := pg.f
	var lines []string
	cur := ""
	for _, word := range strings.Split(s, " ") {
		for word != "" && f.GetStringWidth(word) > w {
			n := 1
			for n < len(word) && f.GetStringWidth(word[:n+1]) <= w {
				n++
			}
			if cur != "" {
				lines, cur = append(lines, cur), ""
			}
			lines, word = append(lines, word[:n]), word[n:]
		}
		switch {
		case word == "":
		case cur == "":
			cur = word
		case f.GetStringWidth(cur+" "+word) <= w:
			cur += " " + word
		default:
			lines, cur = append(lines, cur), word
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// pdfText turns UTF-8 into the Windows-1252 the core fonts print, one
// byte a character: what the code page holds is kept (é, ë, £, €, “”);
// line breaks and other spaces become spaces; invisible format characters
// (bidi overrides, zero-width joiners, variation selectors) and pictures
// (emoji, symbols) are left out; a letter with a compatibility or accented
// form outside the code page becomes its base letter (ő → o, ﬁ → fi); any
// other character (Arabic, Chinese) becomes "?", so the reader sees that
// something is missing. Runs of spaces collapse to one.
func pdfText(s string) string {
	var b strings.Builder
	space := func() {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), " ") {
			b.WriteByte(' ')
		}
	}
	for _, r := range norm.NFC.String(s) {
		if c, ok := charmap.Windows1252.EncodeRune(r); ok && !unicode.IsControl(r) {
			if c == ' ' {
				space()
			} else {
				b.WriteByte(c)
			}
			continue
		}
		switch {
		case unicode.IsSpace(r):
			space()
		case unicode.IsControl(r), unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.So, unicode.Sk, unicode.Co, unicode.Cs):
		case unicode.Is(unicode.Pd, r), r == '−': // dashes and the minus sign
			b.WriteByte('-')
		default:
			b.WriteString(pdfFallback(r))
		}
	}
	return strings.TrimSpace(b.String())
}

// pdfFallback is r's compatibility decomposition without its accents
// when all of that is in Windows-1252, else "?".
func pdfFallback(r rune) string {
	var out []byte
	for _, d := range norm.NFKD.String(string(r)) {
		if unicode.Is(unicode.Mn, d) {
			continue
		}
		c, ok := charmap.Windows1252.EncodeRune(d)
		if !ok || unicode.IsControl(d) {
			return "?"
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

// pdfMeta is s for the document's title, which the PDF holds in UTF-16
// (so Arabic is kept), without control and format characters and
// without what lies beyond the Basic Multilingual Plane (emoji): the PDF
// library writes those as two wrong characters.
func pdfMeta(s string) string {
	return strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r > 0xFFFF {
			return -1
		}
		return r
	}, s)), " ")
}
