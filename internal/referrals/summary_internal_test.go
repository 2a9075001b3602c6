package referrals

import (
	"testing"
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// The next session is the earliest occurrence after now of any weekly
// session, in its own zone (wall-clock time kept across daylight-saving
// changes) and within its valid dates.
func TestNextSessionInItsOwnZone(t *testing.T) {
	tue := func(start, end, zone, from, until string) *sparcv1.Session {
		return &sparcv1.Session{Day: sparcv1.Weekday_WEEKDAY_TUESDAY, StartTime: start, EndTime: end, Timezone: zone,
			ValidFrom: from, ValidUntil: until}
	}
	// Tuesday 24 March 2026, 11:00 UTC; British Summer Time starts on
	// Sunday 29 March.
	now := time.Date(2026, 3, 24, 11, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		ss         []*sparcv1.Session
		start, end string // local, "" for none
		startUTC   time.Time
	}{
		{"later today", []*sparcv1.Session{tue("14:00", "15:00", "Europe/London", "", "")},
			"2026-03-24T14:00:00", "2026-03-24T15:00:00", time.Date(2026, 3, 24, 14, 0, 0, 0, time.UTC)},
		{"today's has begun: next week, across the clock change", []*sparcv1.Session{tue("10:30", "12:00", "Europe/London", "", "")},
			"2026-03-31T10:30:00", "2026-03-31T12:00:00", time.Date(2026, 3, 31, 9, 30, 0, 0, time.UTC)},
		{"another zone", []*sparcv1.Session{{Day: sparcv1.Weekday_WEEKDAY_SUNDAY, StartTime: "09:00", EndTime: "10:00", Timezone: "Europe/Amsterdam"}},
			"2026-03-29T09:00:00", "2026-03-29T10:00:00", time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC)},
		{"the earliest of several", []*sparcv1.Session{tue("10:30", "12:00", "Europe/London", "", ""),
			{Day: sparcv1.Weekday_WEEKDAY_THURSDAY, StartTime: "18:00", EndTime: "19:00", Timezone: "Europe/London"}},
			"2026-03-26T18:00:00", "2026-03-26T19:00:00", time.Date(2026, 3, 26, 18, 0, 0, 0, time.UTC)},
		{"not before valid_from", []*sparcv1.Session{tue("14:00", "15:00", "Europe/London", "2026-04-10", "")},
			"2026-04-14T14:00:00", "2026-04-14T15:00:00", time.Date(2026, 4, 14, 13, 0, 0, 0, time.UTC)},
		{"ended (valid_until)", []*sparcv1.Session{tue("10:30", "12:00", "Europe/London", "", "2026-03-30")}, "", "", time.Time{}},
		{"unknown zone", []*sparcv1.Session{tue("14:00", "15:00", "Mars/Olympus", "", "")}, "", "", time.Time{}},
		{"none", nil, "", "", time.Time{}},
	} {
		got := nextSession(tc.ss, now)
		if tc.start == "" {
			if got != nil {
				t.Errorf("%s: %v, want none", tc.name, got)
			}
			continue
		}
		if got.GetLocalStart() != tc.start || got.GetLocalEnd() != tc.end || !got.GetStartTime().AsTime().Equal(tc.startUTC) {
			t.Errorf("%s: %v, want %s–%s (%s)", tc.name, got, tc.start, tc.end, tc.startUTC)
		}
	}
}
