package reports

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
)

// The report as an A4 PDF: the same view as the page, with the Go fonts
// embedded (TrueType, subset; BSD licence), so it prints the same
// everywhere and holds any Latin, Greek or Cyrillic name, and with the
// charts and the network drawn as vector lines, rectangles and circles.
// Each section starts a page; the lists are capped (view.go), so the
// report is a handful of pages whatever the network's size. Pages are
// numbered "Page 2 of 5".

// The page: A4 portrait, in millimetres.
const (
	pageW, pageH       = 210.0, 297.0
	marginL, marginTop = 15.0, 16.0
	marginBottom       = 18.0
	contentW           = pageW - 2*marginL
	bottomY            = pageH - marginBottom
	fontRegular        = "Go-Regular"
	fontBold           = "Go-Bold"
	netSide            = 150.0 // the network drawing, square
)

// goRegular is the regular face, parsed once, to know which characters it
// can draw.
var goRegular = func() *sfnt.Font {
	f, err := sfnt.Parse(goregular.TTF)
	if err != nil {
		panic("reports: the Go font does not parse: " + err.Error())
	}
	return f
}()

// pdfDoc writes the view into a PDF.
type pdfDoc struct {
	f     *fpdf.Fpdf
	v     *view
	buf   sfnt.Buffer
	glyph map[rune]bool
	total int // pages, for the footer (0: not known yet)
}

// renderPDF writes v as a PDF. It lays the report out twice when needed:
// the footer names the number of pages, which is known after the first.
func renderPDF(v *view) ([]byte, error) {
	_, pages, err := renderPDFPass(v, 0)
	if err != nil {
		return nil, err
	}
	b, again, err := renderPDFPass(v, pages)
	if err != nil {
		return nil, err
	}
	if again != pages {
		return nil, fmt.Errorf("the report's page count changed between passes (%d, then %d)", pages, again)
	}
	return b, nil
}

func renderPDFPass(v *view, total int) ([]byte, int, error) {
	f := fpdf.New("P", "mm", "A4", "")
	d := &pdfDoc{f: f, v: v, glyph: map[rune]bool{}, total: total}
	// Two families rather than one with a bold style, so that the PDF's
	// font names say which Go font each is.
	f.AddUTF8FontFromBytes(fontRegular, "", goregular.TTF)
	f.AddUTF8FontFromBytes(fontBold, "", gobold.TTF)
	f.SetMargins(marginL, marginTop, marginL)
	f.SetAutoPageBreak(true, marginBottom)
	f.SetTitle(d.text(v.T.Title+": "+v.AreaCode+", "+v.Period), true)
	f.SetSubject(d.text(v.T.Subtitle), true)
	f.SetCreator("SPARC", false)
	f.SetLang(v.T.Lang)
	f.SetFooterFunc(d.footer)
	f.SetHeaderFunc(d.header)

	f.AddPage()
	d.titleBlock()
	d.coverage()
	f.AddPage()
	d.network()
	f.AddPage()
	d.outcomes()
	f.AddPage()
	d.changes()

	if err := f.Error(); err != nil {
		return nil, 0, err
	}
	pages := f.PageNo()
	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), pages, nil
}

// text is s as the font can draw it: control and format characters
// left out, a character the Go font lacks (Arabic, Chinese, emoji) as
// "?", so the reader sees something is missing.
func (d *pdfDoc) text(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n':
			return ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return -1
		case r == ' ':
			return r
		}
		ok, seen := d.glyph[r]
		if !seen {
			i, err := goRegular.GlyphIndex(&d.buf, r)
			ok = err == nil && i != 0
			d.glyph[r] = ok
		}
		if !ok {
			return '?'
		}
		return r
	}, s)
}

// font sets the regular face, or the bold one for style "B".
func (d *pdfDoc) font(style string, size float64) {
	if style == "B" {
		d.f.SetFont(fontBold, "", size)
		return
	}
	d.f.SetFont(fontRegular, "", size)
}

// header is the running title on every page after the first.
func (d *pdfDoc) header() {
	f := d.f
	if f.PageNo() == 1 {
		return
	}
	d.font("", 8)
	f.SetTextColor(90, 90, 90)
	f.SetXY(marginL, 8)
	f.CellFormat(contentW, 4, d.text(d.v.T.Title+" · "+d.v.AreaCode+" · "+d.v.Period), "", 0, "L", false, 0, "")
	f.SetTextColor(0, 0, 0)
	f.SetXY(marginL, marginTop)
}

// footer is the page number and where the figures come from.
func (d *pdfDoc) footer() {
	f := d.f
	t := d.v.T
	f.SetDrawColor(180, 180, 180)
	f.SetLineWidth(0.2)
	f.Line(marginL, pageH-13, pageW-marginL, pageH-13)
	d.font("", 8)
	f.SetTextColor(90, 90, 90)
	f.SetXY(marginL, pageH-12)
	f.CellFormat(contentW/2, 4, d.text("SPARC · "+d.v.AreaCode+" · "+d.v.WindowCode+" · "+d.v.Generated), "", 0, "L", false, 0, "")
	page := fmt.Sprintf("%s %d", t.Page, f.PageNo())
	if d.total > 0 {
		page += fmt.Sprintf(" %s %d", t.Of, d.total)
	}
	f.CellFormat(contentW/2, 4, d.text(page), "", 0, "R", false, 0, "")
	f.SetTextColor(0, 0, 0)
}

// ensure starts a new page unless h millimetres fit below.
func (d *pdfDoc) ensure(h float64) {
	if d.f.GetY()+h > bottomY {
		d.f.AddPage()
	}
}

func (d *pdfDoc) titleBlock() {
	f, v := d.f, d.v
	d.font("B", 22)
	f.SetTextColor(31, 92, 153)
	f.CellFormat(contentW, 10, d.text(v.T.Title), "", 1, "L", false, 0, "")
	f.SetTextColor(60, 60, 60)
	d.font("", 11)
	f.CellFormat(contentW, 6, d.text(v.T.Subtitle), "", 1, "L", false, 0, "")
	f.SetTextColor(0, 0, 0)
	f.Ln(2)
	for _, kv := range [][2]string{
		{v.T.Area, v.AreaCode},
		{v.T.Window, v.Period + " (" + v.WindowCode + ")"},
		{v.T.PreviousWindow, v.PrevPeriod + " (" + v.PrevWindowCode + ")"},
		{v.T.Generated, v.Generated},
	} {
		d.font("B", 10)
		f.CellFormat(40, 5.5, d.fit(kv[0], 40), "", 0, "L", false, 0, "")
		d.font("", 10)
		f.CellFormat(contentW-40, 5.5, d.fit(kv[1], contentW-40), "", 1, "L", false, 0, "")
	}
	f.SetDrawColor(31, 92, 153)
	f.SetLineWidth(0.6)
	f.Line(marginL, f.GetY()+2, pageW-marginL, f.GetY()+2)
	f.Ln(5)
}

// heading starts a section.
func (d *pdfDoc) heading(s string) {
	f := d.f
	d.ensure(40) // a heading never ends a page
	d.font("B", 15)
	f.SetTextColor(31, 92, 153)
	f.CellFormat(contentW, 8, d.text(s), "", 1, "L", false, 0, "")
	f.SetTextColor(0, 0, 0)
	f.Ln(1)
}

// subheading heads a table or chart.
func (d *pdfDoc) subheading(s string) {
	d.ensure(16)
	d.font("B", 10.5)
	d.f.MultiCell(contentW, 5, d.text(s), "", "L", false)
	d.f.Ln(0.5)
}

// para is running text.
func (d *pdfDoc) para(s string, size float64) {
	d.font("", size)
	d.f.MultiCell(contentW, size*0.5, d.text(s), "", "L", false)
	d.f.Ln(1.5)
}

// note is small grey text.
func (d *pdfDoc) note(s string) {
	d.f.SetTextColor(80, 80, 80)
	d.para(s, 8.5)
	d.f.SetTextColor(0, 0, 0)
}

// fit cuts s (in the current font) to width w, ending in "…".
func (d *pdfDoc) fit(s string, w float64) string {
	s = d.text(s)
	f := d.f
	w -= 2 * f.GetCellMargin()
	if f.GetStringWidth(s) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && f.GetStringWidth(string(r)+"…") > w {
		r = r[:len(r)-1]
	}
	return strings.TrimSpace(string(r)) + "…"
}

// table writes a table with a header row (repeated on a new page); the
// first column is left-aligned and bold, the rest as aligns says ("L" or
// "R"). Widths are fractions of the content width. highlight marks rows
// to shade.
func (d *pdfDoc) table(caption string, head []string, widths []float64, aligns string, rows []row, highlight []bool) {
	f := d.f
	const lh, hh = 5.5, 9.0
	d.ensure(hh + 2*lh + 8)
	if caption != "" {
		d.subheading(caption)
	}
	w := make([]float64, len(widths))
	for i, x := range widths {
		w[i] = x * contentW
	}
	writeHead := func() {
		f.SetFillColor(230, 236, 243)
		x0, y0 := f.GetX(), f.GetY()
		for i, h := range head {
			// Header cells may take two lines, broken between words: the
			// font shrinks until the longest word fits.
			size := 8.0
			for d.font("B", size); size > 5.5 && d.longestWord(h) > w[i]-2*f.GetCellMargin(); size -= 0.5 {
				d.font("B", size-0.5)
			}
			f.SetXY(x0+sum(w[:i]), y0)
			f.Rect(x0+sum(w[:i]), y0, w[i], hh, "F")
			al := string(aligns[i])
			lines := d.wrap(h, w[i]-2*f.GetCellMargin())
			if len(lines) > 2 {
				lines = lines[:2]
				lines[1] = d.fit(lines[1]+"…", w[i])
			}
			top := y0 + (hh-float64(len(lines))*3.6)/2
			for j, l := range lines {
				f.SetXY(x0+sum(w[:i]), top+float64(j)*3.6)
				f.CellFormat(w[i], 3.6, l, "", 0, al, false, 0, "")
			}
		}
		f.SetXY(x0, y0+hh)
	}
	writeHead()
	for ri, r := range rows {
		if f.GetY()+lh > bottomY {
			f.AddPage()
			writeHead()
		}
		fill := ri < len(highlight) && highlight[ri]
		if fill {
			f.SetFillColor(253, 236, 222)
		}
		for i, cell := range r {
			if i >= len(w) {
				break
			}
			style := ""
			if i == 0 {
				style = "B"
			}
			d.font(style, 8.5)
			ln := 0
			if i == len(w)-1 || i == len(r)-1 {
				ln = 1
			}
			f.CellFormat(w[i], lh, d.fit(cell, w[i]), "B", ln, string(aligns[i]), fill, 0, "")
		}
	}
	f.SetDrawColor(0, 0, 0)
	f.Ln(3)
}

// wrap breaks s into lines no wider than w (in the current font) at
// spaces; a word wider than a line stays whole (longestWord sizes the
// font to avoid it). fpdf's SplitText measures UTF-8 text wrongly.
func (d *pdfDoc) wrap(s string, w float64) []string {
	var lines []string
	cur := ""
	for _, word := range strings.Fields(d.text(s)) {
		switch {
		case cur == "":
			cur = word
		case d.f.GetStringWidth(cur+" "+word) <= w:
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

// longestWord is the width of s's widest word in the current font.
func (d *pdfDoc) longestWord(s string) float64 {
	w := 0.0
	for _, word := range strings.Fields(d.text(s)) {
		w = max(w, d.f.GetStringWidth(word))
	}
	return w
}

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

// more writes a cut list's "and N more".
func (d *pdfDoc) more(s string) {
	if s == "" {
		return
	}
	d.f.SetTextColor(80, 80, 80)
	d.font("", 8.5)
	d.f.CellFormat(contentW, 5, d.text(s), "", 1, "L", false, 0, "")
	d.f.SetTextColor(0, 0, 0)
	d.f.Ln(2)
}

func (d *pdfDoc) coverage() {
	v, t := d.v, d.v.T
	d.heading(t.Coverage)
	d.para(t.CoverageIntro, 9.5)
	if !v.Cov.HasAreas {
		d.para(t.NoChildAreas, 10)
		return
	}
	var summary []row
	for _, kv := range v.Cov.Summary {
		summary = append(summary, row{kv[0], kv[1]})
	}
	d.table("", []string{t.Measure, ""}, []float64{0.7, 0.3}, "LR", summary, nil)
	d.note(t.ConcentrationNote)
	if len(v.Cov.Places.Bars) > 0 {
		d.subheading(t.PlacesChartTitle + " (" + t.DecileNote + ")")
		d.bars(v.Cov.Places)
	}
	if len(v.Cov.Comparison) > 0 {
		d.table(t.MostDeprived+" / "+t.LeastDeprived, []string{t.Measure, t.MostDeprived, t.LeastDeprived, t.Ratio, t.Gap},
			[]float64{0.36, 0.18, 0.18, 0.12, 0.16}, "LRRRR", v.Cov.Comparison, nil)
	}
	if len(v.Cov.Deciles) > 0 {
		d.table(t.Decile+" ("+t.DecileNote+")", []string{t.Decile, t.ChildAreas, t.Population, t.MeanPlaces, t.ShareWithout},
			[]float64{0.16, 0.16, 0.18, 0.25, 0.25}, "LRRRR", v.Cov.Deciles, nil)
	}
	d.heading(t.Gaps)
	d.note(t.GapsIntro)
	var rows []row
	var hl []bool
	for _, g := range v.Cov.Gaps {
		rows = append(rows, g.Cells)
		hl = append(hl, g.Gap)
	}
	d.table("", []string{t.AreaCol, t.Decile, t.AssetsInside, t.AssetsWithinWalk, t.PlacesPer1000, t.CoverageScore},
		[]float64{0.33, 0.15, 0.13, 0.13, 0.13, 0.13}, "LRRRRR", rows, hl)
	d.more(v.Cov.GapsMore)
	d.note(t.ShadedRows)
}

// bars draws the decile bar chart, 50 mm high.
func (d *pdfDoc) bars(c barChart) {
	f := d.f
	const h, labelH = 50.0, 6.0
	d.ensure(h + labelH + 4)
	x0, y0 := marginL, f.GetY()
	base := y0 + h
	slot := contentW / float64(len(c.Bars))
	f.SetDrawColor(80, 80, 80)
	f.SetLineWidth(0.3)
	f.Line(x0, base, x0+contentW, base)
	d.font("", 8)
	for i, b := range c.Bars {
		x := x0 + float64(i)*slot
		bh := 0.0
		if b.Has && c.Max > 0 {
			bh = (h - 6) * b.Value / c.Max
		}
		if bh > 0 {
			f.SetFillColor(31, 92, 153)
			f.Rect(x+slot*0.15, base-bh, slot*0.7, bh, "F")
		}
		f.SetXY(x, base-bh-4.5)
		f.CellFormat(slot, 4, d.text(b.Text), "", 0, "C", false, 0, "")
		f.SetXY(x, base+1)
		f.CellFormat(slot, 4, d.text(b.Label), "", 0, "C", false, 0, "")
	}
	f.SetXY(marginL, base+labelH+2)
}

func (d *pdfDoc) network() {
	f, v, t := d.f, d.v, d.v.T
	d.heading(t.Network)
	d.para(t.NetworkIntro, 9.5)
	if !v.Net.HasNodes {
		d.para(t.NoNetwork, 10)
		return
	}
	d.ensure(netSide + 20)
	x0 := marginL + (contentW-netSide)/2
	y0 := f.GetY() + 1
	f.SetDrawColor(200, 200, 200)
	f.SetFillColor(250, 250, 250)
	f.SetLineWidth(0.2)
	f.Rect(x0, y0, netSide, netSide, "FD")
	px := func(u float64) float64 { return x0 + u*netSide }
	py := func(u float64) float64 { return y0 + u*netSide }
	f.SetDrawColor(150, 150, 150)
	for _, e := range v.Net.Drawing.Edges {
		f.SetLineWidth(0.1 + 0.9*e.W)
		f.Line(px(e.X1), py(e.Y1), px(e.X2), py(e.Y2))
	}
	f.SetDrawColor(255, 255, 255)
	f.SetLineWidth(0.15)
	for _, n := range v.Net.Drawing.Nodes {
		f.SetFillColor(n.Color.R, n.Color.G, n.Color.B)
		f.Circle(px(n.X), py(n.Y), n.R*netSide, "FD")
	}
	d.font("", 6.5)
	for _, n := range v.Net.Drawing.Nodes {
		if n.Label == "" {
			continue
		}
		lbl := d.text(n.Label)
		w := f.GetStringWidth(lbl)
		x := px(n.X) + n.R*netSide + 0.8
		if n.X > 0.75 {
			x = px(n.X) - n.R*netSide - 0.8 - w
		}
		f.Text(x, py(n.Y)+1, lbl)
	}
	f.SetXY(marginL, y0+netSide+2)
	// The legend.
	d.font("", 8.5)
	for _, l := range v.Net.LegendKind {
		x, y := f.GetX(), f.GetY()
		f.SetFillColor(l.Color.R, l.Color.G, l.Color.B)
		f.Circle(x+1.8, y+2.5, 1.6, "F")
		f.SetX(x + 4.5)
		f.CellFormat(f.GetStringWidth(d.text(l.Label))+8, 5, d.text(l.Label), "", 0, "L", false, 0, "")
	}
	f.Ln(6)
	cap := t.DrawingDesc + " " + t.LabelledNote
	if v.Net.Anonymous {
		cap += " " + t.AnonymousNote
	}
	d.note(cap)
	if len(v.Net.Nodes) > 0 {
		d.table(t.Organisations, []string{t.Organisation, t.Kind, t.Quintile, t.DegreeIn, t.DegreeOut, t.StrengthIn, t.StrengthOut, t.Betweenness},
			[]float64{0.27, 0.14, 0.08, 0.09, 0.09, 0.11, 0.11, 0.11}, "LLRRRRRR", v.Net.Nodes, nil)
		d.more(v.Net.NodesMore)
	}
}

func (d *pdfDoc) outcomes() {
	v, t := d.v, d.v.T
	d.heading(t.Outcomes)
	d.para(t.OutcomesIntro, 9.5)
	if !v.Out.HasOverall {
		d.para(t.NoOutcomes, 10)
		return
	}
	d.table("", []string{t.Group_, t.N, t.SwemwbsChange + " (" + t.CI + ")", t.ImprovedShare + " (" + t.CI + ")"},
		[]float64{0.22, 0.16, 0.31, 0.31}, "LRRR", v.Out.Overall, nil)
	d.table(t.Ons4Title, []string{t.Measure, t.N, t.Change + " (" + t.CI + ")"}, []float64{0.4, 0.2, 0.4}, "LRR", v.Out.Ons4, nil)
	d.subheading(t.ForestTitle)
	d.forest(v.Out.Forest)
	d.note(t.ForestDesc)
	if v.Suppressed {
		d.note(t.SuppressedNote)
	}
}

// forest draws the forest plot: a row per group, the interval as a line
// and the mean as a square; a suppressed group reads "fewer than 10".
func (d *pdfDoc) forest(fr forest) {
	f := d.f
	const rowH = 5.5
	labelW, textW := 55.0, 40.0
	plotL, plotR := marginL+labelW, marginL+contentW-textW
	scale := func(x float64) float64 {
		if fr.Max <= fr.Min {
			return plotL
		}
		return plotL + (x-fr.Min)/(fr.Max-fr.Min)*(plotR-plotL)
	}
	axis := func(top, bottom float64) {
		f.SetDrawColor(90, 90, 90)
		f.SetLineWidth(0.2)
		f.SetDashPattern([]float64{1, 1}, 0)
		f.Line(scale(0), top, scale(0), bottom)
		f.SetDashPattern(nil, 0)
		f.Line(plotL, bottom, plotR, bottom)
		d.font("", 7)
		for _, tk := range fr.Ticks {
			x := scale(tk.At)
			f.Line(x, bottom, x, bottom+1)
			f.SetXY(x-8, bottom+1)
			f.CellFormat(16, 3.5, d.text(tk.Text), "", 0, "C", false, 0, "")
		}
	}
	d.ensure(3*rowH + 8)
	top := f.GetY()
	for _, r := range fr.Rows {
		if f.GetY()+rowH+6 > bottomY {
			axis(top, f.GetY())
			f.AddPage()
			top = f.GetY()
		}
		y := f.GetY()
		mid := y + rowH/2
		if r.Section {
			d.font("B", 8.5)
			f.SetXY(marginL, y)
			f.CellFormat(labelW, rowH, d.fit(r.Label, labelW), "", 0, "L", false, 0, "")
			f.SetXY(marginL, y+rowH)
			continue
		}
		d.font("", 8.5)
		f.SetXY(marginL+2, y)
		f.CellFormat(labelW-2, rowH, d.fit(r.Label, labelW-2), "", 0, "L", false, 0, "")
		if r.HasEstimate {
			f.SetDrawColor(31, 92, 153)
			f.SetFillColor(31, 92, 153)
			f.SetLineWidth(0.5)
			f.Line(scale(r.Low), mid, scale(r.High), mid)
			f.Rect(scale(r.Value)-1.1, mid-1.1, 2.2, 2.2, "F")
		}
		if !r.Omitted {
			d.font("", 7.5)
			if r.Suppressed {
				f.SetTextColor(90, 90, 90)
			}
			f.SetXY(plotR+1, y)
			f.CellFormat(textW-1, rowH, d.fit(r.Text, textW-1), "", 0, "L", false, 0, "")
			f.SetTextColor(0, 0, 0)
		}
		f.SetXY(marginL, y+rowH)
	}
	axis(top, f.GetY())
	f.SetXY(marginL, f.GetY()+6)
}

func (d *pdfDoc) changes() {
	v, t := d.v, d.v.T
	d.heading(t.Changes)
	d.para(t.ChangesIntro, 9.5)
	if len(v.Chg.Rows) == 0 {
		d.para(t.NoChanges, 10)
	} else {
		d.table(t.Changes+" ("+v.PrevWindowCode+" → "+v.WindowCode+")", []string{t.From, t.To, t.Change, t.Before, t.After},
			[]float64{0.3, 0.3, 0.16, 0.12, 0.12}, "LLLRR", v.Chg.Rows, nil)
		d.more(v.Chg.More)
	}
	var side []row
	for _, r := range v.Net.Measures {
		side = append(side, row{r[0], r[2], r[1]})
	}
	d.table(t.Network+": "+t.PreviousWindow+" / "+t.ThisWindow,
		[]string{t.Measure, t.PreviousWindow + " (" + v.PrevWindowCode + ")", t.ThisWindow + " (" + v.WindowCode + ")"},
		[]float64{0.5, 0.25, 0.25}, "LRR", side, nil)
	if v.Suppressed {
		d.note(t.SuppressedNote)
	}
}
