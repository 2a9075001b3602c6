package assets

import (
	"testing"
	"time"
)

// The next session is the earliest start still to come of any of the
// asset's weekly sessions, at the wall-clock time of the session's zone on
// that date, within its validity dates.
func TestNextSessionStart(t *testing.T) {
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	const (
		mon, wed, thu, sun = 1, 3, 4, 7
		london, amsterdam  = "Europe/London", "Europe/Amsterdam"
	)
	cases := []struct {
		name         string
		availability string
		sessions     []session
		now          string // UTC
		want         string // UTC; "" for none
	}{
		{name: "later today", sessions: []session{{day: wed, start: "14:00", zone: london}},
			now: "2026-06-10T10:00:00Z", want: "2026-06-10T13:00:00Z"}, // Wednesday, BST
		{name: "started earlier today: next week", sessions: []session{{day: wed, start: "10:30", zone: london}},
			now: "2026-06-10T10:00:00Z", want: "2026-06-17T09:30:00Z"}, // 11:00 BST now; a running session counts from its next start
		{name: "starting now", sessions: []session{{day: wed, start: "11:00", zone: london}},
			now: "2026-06-10T10:00:00Z", want: "2026-06-10T10:00:00Z"},
		{name: "later this week", sessions: []session{{day: sun, start: "09:15", zone: london}},
			now: "2026-06-10T10:00:00Z", want: "2026-06-14T08:15:00Z"},
		{name: "earliest of several", sessions: []session{
			{day: mon, start: "09:00", zone: london}, {day: thu, start: "18:00", zone: london}, {day: wed, start: "08:00", zone: london}},
			now: "2026-06-10T10:00:00Z", want: "2026-06-11T17:00:00Z"},
		{name: "London: the Sunday clocks go forward", sessions: []session{{day: sun, start: "10:00", zone: london}},
			now: "2026-03-25T12:00:00Z", want: "2026-03-29T09:00:00Z"}, // 10:00 BST, the day GMT ends
		{name: "London: the Sunday before, still GMT", sessions: []session{{day: sun, start: "10:00", zone: london}},
			now: "2026-03-18T12:00:00Z", want: "2026-03-22T10:00:00Z"},
		{name: "London: across the change in autumn", sessions: []session{{day: mon, start: "09:00", zone: london}},
			now: "2026-10-24T12:00:00Z", want: "2026-10-26T09:00:00Z"}, // Saturday in BST; Monday in GMT
		{name: "Amsterdam: the Sunday clocks go forward", sessions: []session{{day: sun, start: "10:00", zone: amsterdam}},
			now: "2026-03-25T12:00:00Z", want: "2026-03-29T08:00:00Z"}, // CEST, UTC+2
		{name: "Amsterdam: the morning after clocks go back", sessions: []session{{day: mon, start: "09:00", zone: amsterdam}},
			now: "2026-10-25T12:00:00Z", want: "2026-10-26T08:00:00Z"}, // CET, UTC+1
		{name: "the zone's date, not UTC's", sessions: []session{{day: thu, start: "09:00", zone: amsterdam}},
			now: "2026-06-10T23:30:00Z", want: "2026-06-11T07:00:00Z"}, // already Thursday 01:30 in Amsterdam
		{name: "valid from a later date", sessions: []session{{day: mon, start: "10:00", zone: london, from: "2026-07-01"}},
			now: "2026-06-10T10:00:00Z", want: "2026-07-06T09:00:00Z"},
		{name: "valid from the day itself", sessions: []session{{day: mon, start: "10:00", zone: london, from: "2026-07-06"}},
			now: "2026-06-10T10:00:00Z", want: "2026-07-06T09:00:00Z"},
		{name: "valid until the next date", sessions: []session{{day: mon, start: "10:00", zone: london, until: "2026-06-15"}},
			now: "2026-06-10T10:00:00Z", want: "2026-06-15T09:00:00Z"},
		{name: "valid until the day before the next date", sessions: []session{{day: mon, start: "10:00", zone: london, until: "2026-06-14"}},
			now: "2026-06-10T10:00:00Z"},
		{name: "ended today, before now", sessions: []session{{day: wed, start: "09:00", zone: london, until: "2026-06-10"}},
			now: "2026-06-10T10:00:00Z"},
		{name: "an ended session beside one to come", sessions: []session{
			{day: wed, start: "12:00", zone: london, until: "2026-01-01"}, {day: thu, start: "12:00", zone: london}},
			now: "2026-06-10T10:00:00Z", want: "2026-06-11T11:00:00Z"},
		{name: "drop-in hours", availability: "drop_in", sessions: []session{{day: wed, start: "14:00", zone: london}},
			now: "2026-06-10T10:00:00Z", want: "2026-06-10T13:00:00Z"},
		{name: "appointment hours", availability: "by_appointment", sessions: []session{{day: wed, start: "14:00", zone: london}},
			now: "2026-06-10T10:00:00Z", want: "2026-06-10T13:00:00Z"},
		{name: "by appointment without hours", availability: "by_appointment", now: "2026-06-10T10:00:00Z"},
		{name: "always available, even with sessions", availability: "always_available",
			sessions: []session{{day: wed, start: "14:00", zone: london}}, now: "2026-06-10T10:00:00Z"},
		{name: "no sessions", now: "2026-06-10T10:00:00Z"},
		{name: "an unreadable session is skipped", sessions: []session{
			{day: wed, start: "14:00", zone: "}"}, {day: wed, start: "25:00", zone: london}, {day: 0, start: "14:00", zone: london},
			{day: thu, start: "12:00", zone: london}},
			now: "2026-06-10T10:00:00Z", want: "2026-06-11T11:00:00Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := nextSessionStart(c.availability, c.sessions, utc(c.now))
			switch {
			case c.want == "" && ok:
				t.Fatalf("next session %v, want none", got.UTC())
			case c.want != "" && !ok:
				t.Fatalf("no next session, want %s", c.want)
			case c.want != "" && !got.Equal(utc(c.want)):
				t.Fatalf("next session %v, want %s", got.UTC(), c.want)
			}
		})
	}
}

// clockTime is the one reader of a session's time of day, for the
// next-session rule and the index's open_at filter alike.
func TestClockTime(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"00:00": 0, "09:30": 9*time.Hour + 30*time.Minute, "23:59": 23*time.Hour + 59*time.Minute,
		"15:04:05": 15*time.Hour + 4*time.Minute + 5*time.Second,
	} {
		if got, ok := clockTime(in); !ok || got != want {
			t.Errorf("clockTime(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "9:30", "24:00", "12:60", "12:00:60", "12-00", "1a:00", "12:00:0", "12:00:00Z", "１２:00"} {
		if _, ok := clockTime(in); ok {
			t.Errorf("clockTime(%q) accepted", in)
		}
	}
}
