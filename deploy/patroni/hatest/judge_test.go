package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// The judge must catch each way a channel can fail, or make ha-test
// could pass a failover that lost or repeated changes.
func TestCompareFindsGapsRepeatsAndDisorder(t *testing.T) {
	ch := func(cursor, ref string) *sparcv1.ReferralChange {
		return &sparcv1.ReferralChange{Cursor: cursor, Referral: ref, Type: "created", ToStatus: sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED}
	}
	want := []change{of(ch("1", "a")), of(ch("2", "b")), of(ch("3", "c"))}
	for _, tc := range []struct {
		name                         string
		got                          []*sparcv1.ReferralChange
		missing, doubled, disordered int
	}{
		{"all once in order", []*sparcv1.ReferralChange{ch("1", "a"), ch("2", "b"), ch("3", "c")}, 0, 0, 0},
		{"a gap", []*sparcv1.ReferralChange{ch("1", "a"), ch("3", "c")}, 1, 0, 0},
		{"a repeat", []*sparcv1.ReferralChange{ch("1", "a"), ch("2", "b"), ch("2", "b"), ch("3", "c")}, 0, 1, 0},
		{"out of order", []*sparcv1.ReferralChange{ch("1", "a"), ch("3", "c"), ch("2", "b")}, 0, 0, 1},
	} {
		m, d, o := compare(tc.got, want)
		if m != tc.missing || d != tc.doubled || o != tc.disordered {
			t.Errorf("%s: missing %d doubled %d disordered %d, want %d %d %d", tc.name, m, d, o, tc.missing, tc.doubled, tc.disordered)
		}
	}
}

// A webhook repeat passes only as the documented at-least-once repeat:
// the change acknowledged just before, sent again at once.
func TestHookSinkRepeats(t *testing.T) {
	h := &hookSink{count: map[string]int{}}
	deliver := func(cursor string) {
		body, _ := protojson.Marshal(&sparcv1.ReferralChange{Cursor: cursor, Referral: "referrals/" + cursor})
		req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(string(body)))
		req.Header.Set("SPARC-Delivery-Id", cursor)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			t.Fatalf("delivery %s: %d", cursor, rec.Code)
		}
	}
	for _, c := range []string{"1", "2", "2", "3", "1"} {
		deliver(c)
	}
	all, documented := h.repeats()
	if all != 2 || documented != 1 {
		t.Fatalf("repeats %d (documented %d), want 2 (1: the second 2; the late 1 is not)", all, documented)
	}
	if n := len(h.changes()); n != 3 {
		t.Fatalf("%d distinct changes, want 3", n)
	}
}

func TestLongestGap(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	tl := newTally()
	for _, s := range []float64{1, 2, 2.5, 7.5, 8} {
		tl.ok = append(tl.ok, t0.Add(time.Duration(s*float64(time.Second))))
	}
	gap, start := tl.longestGap(t0, t0.Add(9*time.Second))
	if gap != 5*time.Second || !start.Equal(t0.Add(2500*time.Millisecond)) {
		t.Fatalf("gap %v from %v, want 5s from +2.5s", gap, start.Sub(t0))
	}
	// No success at all: the whole window.
	if gap, _ := newTally().longestGap(t0, t0.Add(time.Minute)); gap != time.Minute {
		t.Fatalf("gap without successes %v, want the window", gap)
	}
}

// A failover may cost retries, never an error the retry policy gives up on.
func TestUnretryableErrorsAreCounted(t *testing.T) {
	tl := newTally()
	tl.record(status.Error(codes.Unavailable, "the database is unavailable; retry shortly"))
	tl.record(status.Error(codes.DeadlineExceeded, "context deadline exceeded"))
	tl.record(status.Error(codes.Internal, "internal error"))
	tl.record(nil)
	if n := tl.unretryable(); n != 1 {
		t.Fatalf("%d unretryable failures, want 1 (the INTERNAL)", n)
	}
}
