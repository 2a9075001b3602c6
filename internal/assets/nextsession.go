package assets

import (
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// session is what the next start of a weekly session depends on, as the
// store reads it (sessionsColumn): ISO weekday (Monday 1 … Sunday 7),
// start "HH:MM" in zone, and the validity dates "YYYY-MM-DD" (inclusive,
// in the session's zone; "" for open-ended).
type session struct {
	day                      int
	start, zone, from, until string
}

// nextSessionStart returns when the next of ss starts at or after now:
// for each session the first of its weekdays, from the session's own
// local date of now, whose start is not before now and which lies within
// its validity dates; the earliest of those. ok is false when none is to
// come (no sessions, every one ended) and for an asset that is always
// available, which has no sessions to wait for.
//
// The start is the wall-clock time in the session's zone on that date, so
// a 10:00 session is at 10:00 local on both sides of a daylight saving
// change. A session that is running now counts from its next start. A
// session the store cannot read (an unknown zone, a malformed time; the
// API refuses both on write) is skipped rather than failing the read.
func nextSessionStart(availability string, ss []session, now time.Time) (next time.Time, ok bool) {
	if availability == "always_available" {
		return time.Time{}, false
	}
	for _, s := range ss {
		t, found := s.nextStart(now)
		if found && (!ok || t.Before(next)) {
			next, ok = t, true
		}
	}
	return next, ok
}

// nextStart is nextSessionStart for one session.
func (s session) nextStart(now time.Time) (time.Time, bool) {
	if s.day < 1 || s.day > 7 {
		return time.Time{}, false
	}
	at, ok := clockTime(s.start)
	if !ok {
		return time.Time{}, false
	}
	hh, mm, sec := int(at/time.Hour), int(at%time.Hour/time.Minute), int(at%time.Minute/time.Second)
	loc, ok := zone(s.zone)
	if !ok {
		return time.Time{}, false
	}
	y, m, d := now.In(loc).Date()
	date := time.Date(y, m, d, 0, 0, 0, 0, time.UTC) // a calendar date: UTC days have no DST
	if s.from != "" {
		from, err := time.Parse(time.DateOnly, s.from)
		if err != nil {
			return time.Time{}, false
		}
		if from.After(date) {
			date = from
		}
	}
	// The first date on or after date that falls on the session's weekday
	// (Go counts Sunday as 0, ISO as 7).
	date = date.AddDate(0, 0, (s.day%7-int(date.Weekday())+7)%7)
	start := time.Date(date.Year(), date.Month(), date.Day(), hh, mm, sec, 0, loc)
	if start.Before(now) {
		date = date.AddDate(0, 0, 7)
		start = time.Date(date.Year(), date.Month(), date.Day(), hh, mm, sec, 0, loc)
	}
	if s.until != "" {
		until, err := time.Parse(time.DateOnly, s.until)
		if err != nil || date.After(until) {
			return time.Time{}, false
		}
	}
	return start, true
}

// clockTime reads a session's time of day, "HH:MM" (what the API
// stores) or "HH:MM:SS", as the time since midnight: the one parser of
// the next-session rule and the index's open_at filter. By hand, not
// time.Parse: the index calls it for every candidate of a search.
func clockTime(s string) (time.Duration, bool) {
	if (len(s) != 5 && len(s) != 8) || s[2] != ':' || (len(s) == 8 && s[5] != ':') {
		return 0, false
	}
	var v [3]int
	for i := range (len(s) + 1) / 3 { // 2 or 3 pairs
		a, b := s[3*i], s[3*i+1]
		if a < '0' || a > '9' || b < '0' || b > '9' {
			return 0, false
		}
		v[i] = int(a-'0')*10 + int(b-'0')
	}
	if v[0] > 23 || v[1] > 59 || v[2] > 59 {
		return 0, false
	}
	return time.Duration(v[0])*time.Hour + time.Duration(v[1])*time.Minute + time.Duration(v[2])*time.Second, true
}

// zones caches time.LoadLocation, which reads and parses the zone's data
// on every call: a page of results names the same one or two zones.
var zones sync.Map // string → *time.Location, or nil when unknown

func zone(name string) (*time.Location, bool) {
	if v, ok := zones.Load(name); ok {
		loc, _ := v.(*time.Location)
		return loc, loc != nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		loc = nil
	}
	zones.Store(name, loc)
	return loc, loc != nil
}

// nextSessionOf is Asset.next_session_time of sessions as the API carries
// them, for the search index, which holds them so: the same rule
// (nextSessionStart) as the store's read.
func nextSessionOf(availability string, ss []*sparcv1.Session, now time.Time) *timestamppb.Timestamp {
	if len(ss) == 0 {
		return nil
	}
	in := make([]session, len(ss))
	for i, s := range ss {
		in[i] = session{day: int(s.GetDay()), start: s.GetStartTime(), zone: s.GetTimezone(), from: s.GetValidFrom(), until: s.GetValidUntil()}
	}
	if t, ok := nextSessionStart(availability, in, now); ok {
		return timestamppb.New(t)
	}
	return nil
}
