package main

import (
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/testenv"
)

// Sessions take weekdays in English and Dutch, whole or from two letters
// (issue 14), and a Dutch listing created from the command line keeps
// them, with its availability.
func TestSessionsTakeEnglishAndDutchWeekdays(t *testing.T) {
	t.Parallel()
	for day, names := range map[sparcv1.Weekday][]string{
		sparcv1.Weekday_WEEKDAY_MONDAY:    {"mon", "Monday", "ma", "maandag", "MAANDAG"},
		sparcv1.Weekday_WEEKDAY_TUESDAY:   {"tu", "tue", "di", "dinsdag", "Din"},
		sparcv1.Weekday_WEEKDAY_WEDNESDAY: {"we", "wed", "wo", "woensdag"},
		sparcv1.Weekday_WEEKDAY_THURSDAY:  {"th", "thursday", "do", "donderdag"},
		sparcv1.Weekday_WEEKDAY_FRIDAY:    {"fr", "fri", "vr", "vrijdag"},
		sparcv1.Weekday_WEEKDAY_SATURDAY:  {"sa", "sat", "za", "zaterdag"},
		sparcv1.Weekday_WEEKDAY_SUNDAY:    {"su", "sunday", "zo", "zondag"},
	} {
		for _, n := range names {
			s, err := parseSession(n+" 10:00-11:00", "NL")
			if err != nil || s.GetDay() != day {
				t.Errorf("%q: day %v, %v; want %v", n, s.GetDay(), err, day)
			}
		}
	}
	for _, n := range []string{"m", "d", "z", "maandagen", "dinsdagmiddag", "zaterdagmorgen", "mo-di"} {
		if _, err := parseSession(n+" 10:00-11:00", "NL"); err == nil {
			t.Errorf("%q: taken as a weekday", n)
		}
	}

	env := testenv.NewServer(t)
	out := mustSparc(t, asAdmin(env), "-o", "json", "assets", "create", "--display-name", "Buurtkoor Delfshaven", "--kind", "association",
		"--lat", "51.9225", "--lng", "4.4792", "--country", "NL", "--session", "dinsdag 19:30-21:00", "--session", "za 10:00-12:00",
		"--availability", "drop-in")
	a := decode(t, out, &sparcv1.Asset{})
	if len(a.GetSessions()) != 2 || a.GetSessions()[0].GetDay() != sparcv1.Weekday_WEEKDAY_TUESDAY ||
		a.GetSessions()[1].GetDay() != sparcv1.Weekday_WEEKDAY_SATURDAY || a.GetSessions()[0].GetTimezone() != "Europe/Amsterdam" {
		t.Fatalf("sessions %v", a.GetSessions())
	}
	if a.GetAvailability() != sparcv1.Availability_AVAILABILITY_DROP_IN {
		t.Fatalf("availability %v, want drop-in", a.GetAvailability())
	}
	if got := mustSparc(t, asAdmin(env), "assets", "get", a.GetName()); !hasFieldLine(got, "availability", "drop_in") {
		t.Fatalf("no availability line in\n%s", got)
	}
}
