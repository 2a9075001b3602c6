package audit

import "testing"

// An event's name reads back as its number; anything else this package
// did not make does not.
func TestEventNamesReadBack(t *testing.T) {
	if id, ok := eventID(eventName(42)); !ok || id != 42 {
		t.Fatalf("round trip of 42: %d, %v", id, ok)
	}
	for _, bad := range []string{"", "42", "auditEvents/", "auditEvents/042", "auditEvents/+42", "auditEvents/-42",
		"auditEvents/0", "auditEvents/4x", "assets/42", "auditEvents/99999999999999999999"} {
		if id, ok := eventID(bad); ok {
			t.Errorf("%q read as event %d", bad, id)
		}
	}
}
