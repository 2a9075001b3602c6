package assets

import (
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// viaJSON is the oracle: what encoding/json reads from the same column.
func viaJSON(t testing.TB, b []byte) []*sparcv1.Session {
	t.Helper()
	var js []sessionJSON
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatalf("encoding/json rejects %q: %v", b, err)
	}
	var out []*sparcv1.Session
	for _, s := range js {
		out = append(out, &sparcv1.Session{Day: sparcv1.Weekday(s.Day), StartTime: s.StartTime, EndTime: s.EndTime,
			Timezone: s.Timezone, ValidFrom: s.ValidFrom, ValidUntil: s.ValidUntil})
	}
	return out
}

func sameSessions(a, b []*sparcv1.Session) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestScanSessionsReadsStoredLayoutsLikeEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
	}{
		{"empty", `[]`},
		{"empty with spaces", ` [ ] `},
		{"as PostgreSQL prints jsonb", `[{"day": 2, "end_time": "11:30", "timezone": "Europe/London", "start_time": "10:00"}]`},
		{"as encoding/json writes it", `[{"day":5,"start_time":"12:00","end_time":"13:30","timezone":"Europe/Amsterdam"}]`},
		{"with validity dates", `[{"day": 7, "end_time": "16:00", "timezone": "Europe/London", "valid_from": "2026-01-01", "start_time": "13:30", "valid_until": "2027-06-30"}]`},
		{"several", `[{"day": 1, "end_time": "17:00", "timezone": "Europe/London", "start_time": "16:00"}, {"day": 3, "end_time": "21:00", "timezone": "Europe/London", "start_time": "18:30"}]`},
		{"newlines and tabs", "[\n\t{\"day\": 4,\n\t \"start_time\": \"09:00\", \"end_time\": \"10:00\", \"timezone\": \"UTC\"}\n]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := scanSessions([]byte(tc.in))
			if !ok {
				t.Fatalf("scanSessions gave up on %q", tc.in)
			}
			if want := viaJSON(t, []byte(tc.in)); !sameSessions(got, want) {
				t.Fatalf("scanSessions(%q) = %v, encoding/json reads %v", tc.in, got, want)
			}
		})
	}
}

func TestScanSessionsLeavesOtherInputToEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
	}{
		{"escaped slash", `[{"day": 1, "timezone": "Europe\/London"}]`},
		{"unicode escape", `[{"day": 1, "timezone": "Europe/Lond\u006fn"}]`},
		{"unknown key", `[{"day": 1, "room": "hall"}]`},
		{"null value", `[{"day": 1, "valid_from": null}]`},
		{"negative day", `[{"day": -1}]`},
		{"day as string", `[{"day": "1"}]`},
		{"nested object", `[{"day": 1, "end_time": {"h": 10}}]`},
		{"not an array", `{"day": 1}`},
		{"truncated", `[{"day": 1, "start_time": "10:00"`},
		{"trailing garbage", `[] x`},
		{"missing comma", `[{"day": 1} {"day": 2}]`},
		{"empty", ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := scanSessions([]byte(tc.in)); ok {
				t.Fatalf("scanSessions(%q) = %v, true; want it to leave this to encoding/json", tc.in, got)
			}
		})
	}
}

// FuzzScanSessions: whatever scanSessions accepts, encoding/json reads the
// same way.
func FuzzScanSessions(f *testing.F) {
	for _, s := range []string{`[]`, `[{"day": 2, "end_time": "11:30", "timezone": "Europe/London", "start_time": "10:00"}]`,
		`[{"day":5,"start_time":"12:00","end_time":"13:30","timezone":"UTC","valid_from":"2026-01-01"}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := scanSessions(b)
		if !ok {
			return
		}
		if want := viaJSON(t, b); !sameSessions(got, want) {
			t.Fatalf("scanSessions(%q) = %v, encoding/json reads %v", b, got, want)
		}
	})
}
