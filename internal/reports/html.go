package reports

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"math"
)

// The report as a page: self-contained (inline CSS, charts and the
// drawing as inline SVG, so it loads nothing and prints as it looks),
// with headings for each section, captions on the tables and a title and
// description on every chart for screen readers.

//go:embed report.html
var htmlFiles embed.FS

// Sizes of the page's drawings, in SVG user units.
const (
	svgNet          = 640.0 // the network, square
	svgBarW         = 640.0
	svgBarH         = 220.0
	svgForestW      = 640.0
	svgForestRowH   = 22.0
	svgForestLabelW = 220.0
	svgForestTextW  = 150.0
)

var page = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"net":       func(x float64) string { return num(x * svgNet) },
	"edgeWidth": func(w float64) string { return num(0.6 + 3.4*w) },
	"labelX": func(n drawNode) string {
		return num(n.X*svgNet + n.R*svgNet + 3)
	},
	"anchorEnd": func(n drawNode) bool { return n.X > 0.75 },
	"labelXEnd": func(n drawNode) string { return num(n.X*svgNet - n.R*svgNet - 3) },
	"bars":      barsSVG,
	"forest":    forestSVG,
	"num":       num,
	"add":       func(a, b int) int { return a + b },
}).ParseFS(htmlFiles, "report.html"))

// num writes an SVG coordinate with two decimals.
func num(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		x = 0
	}
	return fmt.Sprintf("%.2f", x)
}

// svgBar is a bar of the decile chart, placed.
type svgBar struct {
	X, Y, W, H, LabelX, TextY string
	Label, Text               string
	Has                       bool
}

type svgBars struct {
	Bars              []svgBar
	Width, Height, Y0 string
}

func barsSVG(c barChart) svgBars {
	const left, right, top, bottom = 10.0, 10.0, 20.0, 30.0
	n := float64(len(c.Bars))
	out := svgBars{Width: num(svgBarW), Height: num(svgBarH), Y0: num(svgBarH - bottom)}
	if n == 0 {
		return out
	}
	slot := (svgBarW - left - right) / n
	for i, b := range c.Bars {
		x := left + float64(i)*slot
		h := 0.0
		if b.Has && c.Max > 0 {
			h = (svgBarH - top - bottom) * b.Value / c.Max
		}
		y := svgBarH - bottom - h
		out.Bars = append(out.Bars, svgBar{X: num(x + slot*0.15), Y: num(y), W: num(slot * 0.7), H: num(h),
			LabelX: num(x + slot/2), TextY: num(y - 5), Label: b.Label, Text: b.Text, Has: b.Has})
	}
	return out
}

// svgForestRow is a forest plot's row, placed.
type svgForestRow struct {
	forestRow
	Y, TextY, X, X1, X2 string
}

type svgForest struct {
	Rows                       []svgForestRow
	Ticks                      []struct{ X, Text string }
	Width, Height, ZeroX       string
	AxisY, AxisX1, AxisX2, TkY string
	TextX                      string
}

func forestSVG(f forest) svgForest {
	plotL, plotR := svgForestLabelW, svgForestW-svgForestTextW
	scale := func(v float64) float64 {
		if f.Max <= f.Min {
			return plotL
		}
		return plotL + (v-f.Min)/(f.Max-f.Min)*(plotR-plotL)
	}
	h := float64(len(f.Rows)+2) * svgForestRowH
	out := svgForest{Width: num(svgForestW), Height: num(h), ZeroX: num(scale(0)),
		AxisY: num(float64(len(f.Rows))*svgForestRowH + 4), AxisX1: num(plotL), AxisX2: num(plotR),
		TkY: num(float64(len(f.Rows))*svgForestRowH + 20), TextX: num(plotR + 8)}
	for i, r := range f.Rows {
		y := float64(i)*svgForestRowH + svgForestRowH/2
		out.Rows = append(out.Rows, svgForestRow{forestRow: r, Y: num(y), TextY: num(y + 4),
			X: num(scale(r.Value)), X1: num(scale(r.Low)), X2: num(scale(r.High))})
	}
	for _, t := range f.Ticks {
		out.Ticks = append(out.Ticks, struct{ X, Text string }{num(scale(t.At)), t.Text})
	}
	return out
}

func renderHTML(w io.Writer, v *view) error { return page.Execute(w, v) }
