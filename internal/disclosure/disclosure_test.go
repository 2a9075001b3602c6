package disclosure

import (
	"fmt"
	"testing"
	"time"
)

func TestCountWithholdsOneToSevenAndRoundsTheRestToFives(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]Cell{0: {}, 1: {Withheld: true}, 7: {Withheld: true}, 8: {Value: 10}, 12: {Value: 10},
		13: {Value: 15}, 102: {Value: 100}, 103: {Value: 105}} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %+v, want %+v", n, got, want)
		}
	}
}

// The total-minus-parts attack, run exhaustively: for every table of three
// status counts (0 to 29), publish the parts with Count and the total as
// the service does, then ask which true values of each withheld part are
// consistent with what was published. Nothing may be learnt: every value
// from 1 to 7 stays possible. (With the total rounded on its own, parts
// published as 10 and 10 and a total of 15 pin the third to exactly 1.)
func TestTotalsCannotBeDifferencedIntoAWithheldCell(t *testing.T) {
	t.Parallel()
	const limit = 30
	total := func(parts []int64) Cell {
		cells := make([]Cell, len(parts))
		for i, p := range parts {
			cells[i] = Count(p)
		}
		return Sum(cells...)
	}
	possible := map[string]map[int]map[int64]bool{} // published table -> withheld part -> true values
	for a := range int64(limit) {
		for b := range int64(limit) {
			for c := range int64(limit) {
				parts := []int64{a, b, c}
				key := fmt.Sprint(Count(a), Count(b), Count(c), total(parts))
				for i, p := range parts {
					if !Count(p).Withheld {
						continue
					}
					if possible[key] == nil {
						possible[key] = map[int]map[int64]bool{}
					}
					if possible[key][i] == nil {
						possible[key][i] = map[int64]bool{}
					}
					possible[key][i][p] = true
				}
			}
		}
	}
	if len(possible) == 0 {
		t.Fatal("no table had a withheld part")
	}
	for key, parts := range possible {
		for i, values := range parts {
			if len(values) != 7 {
				t.Errorf("published %s: part %d can only be %v", key, i, values)
			}
		}
	}
}

// Windows are whole months that have ended, so moving a window by a
// millisecond, or asking before and after something happens this month,
// gives the same window.
func TestMonthsAlignsOutwardAndLeavesOutTheCurrentMonth(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 0, 40, 0, 0, time.UTC)
	d := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	for _, c := range []struct {
		from, to, wantFrom, wantTo string
		ok                         bool
	}{
		{"2026-03-15T10:00:00.000Z", "2026-03-15T10:00:00.002Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", true},
		{"2026-03-15T10:00:00.001Z", "2026-03-15T10:00:00.003Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", true},
		{"2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", true},
		{"2026-02-28T23:59:59.999Z", "2026-04-01T00:00:00.001Z", "2026-02-01T00:00:00Z", "2026-05-01T00:00:00Z", true},
		// A non-UTC offset is the same instant: months are UTC.
		{"2026-04-01T00:30:00+01:00", "2026-04-01T00:40:00+01:00", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", true},
		{"2026-11-20T00:00:00Z", "2026-12-02T00:00:00Z", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", true},
		{"2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z", "", "", false},
		{"1970-01-01T00:00:00Z", "2026-12-02T00:41:00Z", "1970-01-01T00:00:00Z", "2026-12-01T00:00:00Z", true},
	} {
		from, to, ok := Months(d(c.from), d(c.to), now)
		if ok != c.ok || ok && (from.Format(time.RFC3339) != c.wantFrom || to.Format(time.RFC3339) != c.wantTo) {
			t.Errorf("Months(%s, %s) = %v, %v, %v; want %s, %s, %v", c.from, c.to, from, to, ok, c.wantFrom, c.wantTo, c.ok)
		}
	}
}
