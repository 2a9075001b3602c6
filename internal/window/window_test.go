package window

import (
	"testing"
	"time"
)

func TestParseNamesPreviousAndSplit(t *testing.T) {
	for _, c := range []struct {
		in, name, prev string
		split          []string // by month
	}{
		{"2026", "2026", "2025", nil},
		{"2026-Q3", "2026-Q3", "2026-Q2", []string{"2026-07", "2026-08", "2026-09"}},
		{"2026-q1", "2026-Q1", "2025-Q4", []string{"2026-01", "2026-02", "2026-03"}},
		{"2026-01", "2026-01", "2025-12", []string{"2026-01"}},
		{"2026-01-15/2026-03-01", "2026-01-15/2026-03-01", "2025-12-01/2026-01-15", []string{"2026-01-15/2026-02-01", "2026-02"}},
	} {
		w, err := Parse(c.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.in, err)
		}
		if w.String() != c.name || w.Previous().String() != c.prev {
			t.Errorf("Parse(%q) = %s, previous %s; want %s, %s", c.in, w, w.Previous(), c.name, c.prev)
		}
		if c.split != nil {
			var got []string
			for _, p := range w.Split(Month) {
				got = append(got, p.String())
			}
			if len(got) != len(c.split) {
				t.Fatalf("Split(%s) = %v, want %v", w, got, c.split)
			}
			for i := range got {
				if got[i] != c.split[i] {
					t.Errorf("Split(%s) = %v, want %v", w, got, c.split)
				}
			}
		}
	}
	if q := mustParse(t, "2026").Split(Quarter); len(q) != 4 || q[3].String() != "2026-Q4" {
		t.Errorf("2026 by quarter = %v", q)
	}
}

func mustParse(t *testing.T, s string) Window {
	t.Helper()
	w, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestParseRefusesWhatIsNotAWindow(t *testing.T) {
	for _, s := range []string{"", "26", "2026-13", "2026-Q5", "2026-00", "1999", "2026-03-01/2026-01-01", "2026-01-01/2040-01-01", "2026\x00", "２０２６", "2026-Q3-1", "2026-1"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func TestLastEnded(t *testing.T) {
	now := time.Date(2026, 12, 2, 23, 0, 0, 0, time.UTC)
	if got := LastEnded(now, Quarter).String(); got != "2026-Q3" {
		t.Errorf("last quarter = %s", got)
	}
	if got := LastEnded(now, Year).String(); got != "2025" {
		t.Errorf("last year = %s", got)
	}
}
