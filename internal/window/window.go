// Package window is the time windows the analytics speak in: a year
// ("2026"), a quarter ("2026-Q3"), a month ("2026-09") or dates
// ("2026-01-01/2026-07-01", end exclusive), all in UTC. A community of
// practice meets every few months and asks "what changed since last
// time": so every window knows the one of the same length before it
// (Previous) and can be cut into consecutive months or quarters (Split).
package window

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Unit is how a window was named.
type Unit int

const (
	Dates Unit = iota
	Month
	Quarter
	Year
)

// Window is [Start, End) in UTC.
type Window struct {
	Start, End time.Time
	Unit       Unit
}

// maxSpan bounds a dates window: ten years is more history than SPARC
// holds, and a bound keeps Split's output small.
const maxSpan = 10 * 366 * 24 * time.Hour

// Parse reads s ("2026", "2026-Q3", "2026-09", "2026-01-01/2026-07-01").
// The error says what is accepted, for a field violation.
func Parse(s string) (Window, error) {
	bad := fmt.Errorf("%q is not a window: want a year (2026), a quarter (2026-Q3), a month (2026-09) or dates (2026-01-01/2026-07-01)", s)
	if len(s) > 40 {
		return Window{}, errors.New("window is too long: want a year (2026), a quarter (2026-Q3), a month (2026-09) or dates (2026-01-01/2026-07-01)")
	}
	if from, to, ok := strings.Cut(s, "/"); ok {
		a, err1 := time.Parse(time.DateOnly, from)
		b, err2 := time.Parse(time.DateOnly, to)
		if err1 != nil || err2 != nil {
			return Window{}, bad
		}
		if !a.Before(b) {
			return Window{}, fmt.Errorf("window %q ends before it starts", s)
		}
		if b.Sub(a) > maxSpan {
			return Window{}, fmt.Errorf("window %q is longer than ten years", s)
		}
		return Window{Start: a, End: b, Unit: Dates}, nil
	}
	year, rest, _ := strings.Cut(s, "-")
	y, err := strconv.Atoi(year)
	if err != nil || len(year) != 4 || y < 2000 || y > 2200 {
		return Window{}, bad
	}
	switch {
	case rest == "" && !strings.Contains(s, "-"):
		return Of(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC), Year), nil
	case len(rest) == 2 && (rest[0] == 'Q' || rest[0] == 'q') && rest[1] >= '1' && rest[1] <= '4':
		return Of(time.Date(y, time.Month(3*int(rest[1]-'1')+1), 1, 0, 0, 0, 0, time.UTC), Quarter), nil
	case len(rest) == 2:
		m, err := strconv.Atoi(rest)
		if err != nil || m < 1 || m > 12 {
			return Window{}, bad
		}
		return Of(time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC), Month), nil
	}
	return Window{}, bad
}

// Of is the month, quarter or year (unit) that holds t.
func Of(t time.Time, unit Unit) Window {
	t = t.UTC()
	switch unit {
	case Month:
		s := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return Window{Start: s, End: s.AddDate(0, 1, 0), Unit: Month}
	case Quarter:
		s := time.Date(t.Year(), (t.Month()-1)/3*3+1, 1, 0, 0, 0, 0, time.UTC)
		return Window{Start: s, End: s.AddDate(0, 3, 0), Unit: Quarter}
	case Year:
		s := time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		return Window{Start: s, End: s.AddDate(1, 0, 0), Unit: Year}
	}
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return Window{Start: d, End: d.AddDate(0, 0, 1), Unit: Dates}
}

// LastEnded is the last month, quarter or year that ended before now:
// the default window.
func LastEnded(now time.Time, unit Unit) Window { return Of(now, unit).Previous() }

// Previous is the window of the same length just before w: the quarter
// before a quarter, the month before a month, the year before a year, the
// same number of days before dates.
func (w Window) Previous() Window {
	switch w.Unit {
	case Month:
		return Window{Start: w.Start.AddDate(0, -1, 0), End: w.Start, Unit: Month}
	case Quarter:
		return Window{Start: w.Start.AddDate(0, -3, 0), End: w.Start, Unit: Quarter}
	case Year:
		return Window{Start: w.Start.AddDate(-1, 0, 0), End: w.Start, Unit: Year}
	}
	return Window{Start: w.Start.Add(-w.End.Sub(w.Start)), End: w.Start, Unit: Dates}
}

// Split cuts w into the consecutive months or quarters (unit) that
// overlap it, oldest first, each clipped to w.
func (w Window) Split(unit Unit) []Window {
	var out []Window
	for s := Of(w.Start, unit); s.Start.Before(w.End); s = Of(s.End, unit) {
		p := s
		if p.Start.Before(w.Start) {
			p.Start, p.Unit = w.Start, Dates
		}
		if p.End.After(w.End) {
			p.End, p.Unit = w.End, Dates
		}
		out = append(out, p)
	}
	return out
}

// String names w in Parse's syntax.
func (w Window) String() string {
	switch w.Unit {
	case Month:
		return w.Start.Format("2006-01")
	case Quarter:
		return fmt.Sprintf("%d-Q%d", w.Start.Year(), (int(w.Start.Month())-1)/3+1)
	case Year:
		return w.Start.Format("2006")
	}
	return w.Start.Format(time.DateOnly) + "/" + w.End.Format(time.DateOnly)
}
