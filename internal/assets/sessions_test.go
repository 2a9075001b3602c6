package assets

import "testing"

// decodeSessions refuses values that are not whole sessions rather than
// guessing.
func TestDecodeSessionsRefusesWhatIsNotASessionList(t *testing.T) {
	t.Parallel()
	for _, in := range [][]string{
		{"1", "10:00", "11:00", "Europe/London", ""},
		{"x", "10:00", "11:00", "Europe/London", "", ""},
		{"", "10:00", "11:00", "Europe/London", "", ""},
	} {
		if got, err := decodeSessions(in); err == nil {
			t.Errorf("decodeSessions(%q) = %v, want an error", in, got)
		}
	}
}
