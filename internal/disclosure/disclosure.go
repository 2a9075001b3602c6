// Package disclosure holds SPARC's one rule for referral figures that
// leave the referring organisation (referral statistics asked by anyone
// else, area statistics, coverage maps):
//
//   - Windows are whole calendar months in UTC that have ended (Months):
//     a window shifted by a millisecond, or polled before and after a
//     referral of the current month, gives the same answer.
//   - The released cells are counts per (calendar month, status) or per
//     (calendar month, area), each released by Count: 0 as it is, 1 to 7
//     withheld, the rest rounded to the nearest 5.
//   - Every other figure (a status over several months, a total over
//     statuses, a total over months) is computed from the released cells
//     by Sum, never from the data: so "total minus the parts shown", or
//     "three months minus two of them", cannot narrow a withheld cell
//     (rounding totals independently can: parts 10 and 10 with a total of
//     15 pin a withheld third part to exactly 1).
//
// docs/security.md ("Disclosure control") gives the reasoning and what
// is left: areas that nest (LSOA inside MSOA) are released independently.
package disclosure

import (
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// Cell is a released count.
type Cell struct {
	// Value is the count rounded to the nearest 5 (0 when withheld).
	Value int64
	// Withheld: the count is 1 to 7 (or, for a Sum, built from withheld
	// cells and at most 7).
	Withheld bool
}

// Largest withheld count, and what a withheld cell stands for in a Sum:
// the middle of 1..7, so sums are unbiased when withheld counts are
// spread evenly.
const (
	maxWithheld   = 7
	withheldValue = 4
)

// StatCount is c as it leaves in an answer: its value, and whether it
// was withheld.
func (c Cell) StatCount() *sparcv1.StatCount {
	return &sparcv1.StatCount{Value: c.Value, Suppressed: c.Withheld}
}

// Count releases one count: 0 as it is, 1 to 7 withheld, anything else
// rounded to the nearest 5.
func Count(n int64) Cell {
	switch {
	case n <= 0:
		return Cell{}
	case n <= maxWithheld:
		return Cell{Withheld: true}
	}
	return Cell{Value: round5(n)}
}

// Sum releases a figure made of released cells (their sum): withheld
// cells count as 4; a sum of withheld cells only (and zeros) is withheld,
// as is one that used a withheld cell and comes to 7 or less; anything
// else is rounded to 5. It reads nothing but the cells, so it tells
// nothing that they do not.
func Sum(cells ...Cell) Cell {
	var v int64
	withheld, shown := false, false
	for _, c := range cells {
		if c.Withheld {
			withheld = true
			v += withheldValue
		} else {
			shown = shown || c.Value > 0
			v += c.Value
		}
	}
	if withheld && (!shown || v <= maxWithheld) {
		return Cell{Withheld: true}
	}
	return Cell{Value: round5(v)}
}

func round5(n int64) int64 { return (n + 2) / 5 * 5 }

// Months widens [from, to) to whole calendar months in UTC and cuts it at
// the start of now's month (a month still running is never released:
// polling it would show the day a referral arrives). ok is false when no
// whole month that has ended is left.
func Months(from, to, now time.Time) (start, end time.Time, ok bool) {
	start = monthStart(from)
	end = monthStart(to)
	if end.Before(to) {
		end = end.AddDate(0, 1, 0)
	}
	if cur := monthStart(now); end.After(cur) {
		end = cur
	}
	if !start.Before(end) {
		return time.Time{}, time.Time{}, false
	}
	return start, end, true
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}
