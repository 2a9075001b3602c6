package referrals_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/testenv"
)

// A referral names itself and what it refers to by resource names, and
// every method that addresses one reads its name strictly.
func TestReferralsAreAddressedByResourceName(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC)
	r := w.refer(t, p, "names")
	if !strings.HasPrefix(r.GetName(), "referrals/") || r.GetPerson() != p.GetName() || r.GetAsset() != assetName(w.asset) ||
		r.GetReferringOrganisation() != aip.NameOf(aip.Organisations, w.lwOrg) ||
		r.GetProviderOrganisation() != aip.NameOf(aip.Organisations, w.groupOrg) ||
		r.GetTimeline()[0].GetActorOrganisation() != aip.NameOf(aip.Organisations, w.lwOrg) {
		t.Fatalf("created %v", r)
	}
	read, err := w.lw.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	read.Summary = nil // reads carry it, the create's answer does not (withoutSummary)
	if !proto.Equal(read, r) {
		t.Fatalf("read by name %v, created %v", read, r)
	}

	id := idOf(r.GetName())
	n := int32(1)
	calls := map[string]func(name string) error{
		"GetReferral": func(name string) error {
			_, err := w.lw.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: name})
			return err
		},
		"TransitionReferral": func(name string) error {
			_, err := move(w.lw, name, sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, "duplicate")
			return err
		},
		"RecordOutcome": func(name string) error {
			_, err := w.lw.RecordOutcome(ctx, &sparcv1.RecordOutcomeRequest{Name: name, SessionsAttended: &n})
			return err
		},
	}
	for method, call := range calls {
		for _, bad := range []string{"", id, "people/" + id, "referrals/" + strings.ToUpper(id), "referrals/" + id + ":x", "referrals/1"} {
			if err := call(bad); status.Code(err) != codes.InvalidArgument || !slices.Contains(testenv.Fields(err), "name") {
				t.Errorf("%s %q: %v (fields %v), want InvalidArgument on name", method, bad, err, testenv.Fields(err))
			}
		}
		missing := "referrals/" + uuid.NewString()
		if err := call(missing); status.Code(err) != codes.NotFound || status.Convert(err).Message() != missing+": not found" {
			t.Errorf("%s of a missing referral: %v, want NotFound naming %s", method, err, missing)
		}
	}
	_, err = w.lw.TransitionReferral(ctx, &sparcv1.TransitionReferralRequest{Name: r.GetName(),
		ToStatus: sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, Reason: "duplicate", Etag: "ABCDEF0123456789"})
	if !slices.Contains(testenv.Fields(err), "etag") {
		t.Errorf("an etag this API never issues: %v, want a violation on etag", err)
	}
	_, err = w.lw.RecordOutcome(ctx, &sparcv1.RecordOutcomeRequest{Name: r.GetName(), SessionsAttended: &n, Etag: "x"})
	if !slices.Contains(testenv.Fields(err), "etag") {
		t.Errorf("RecordOutcome with a malformed etag: %v, want a violation on etag", err)
	}

	// Statistics name the organisation; a bare id is not a name.
	for _, bad := range []string{w.lwOrg, "assets/" + w.lwOrg} {
		_, err := w.lw.ComputeReferralStats(ctx, &sparcv1.ComputeReferralStatsRequest{Organisation: bad})
		if status.Code(err) != codes.InvalidArgument || !slices.Contains(testenv.Fields(err), "organisation") {
			t.Errorf("stats of %q: %v, want InvalidArgument on organisation", bad, err)
		}
	}
	own, err := w.lw.ComputeReferralStats(ctx, &sparcv1.ComputeReferralStatsRequest{Organisation: aip.NameOf(aip.Organisations, w.lwOrg)})
	if err != nil || own.GetTotal().GetValue() != 1 || own.GetSuppressed() {
		t.Errorf("own stats by name: %v, %v", own, err)
	}
}

// ListReferrals pages through every referral once, newest change first,
// and a page token belongs to its query.
func TestListReferralsPages(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC)
	var made []string
	for i := range 5 {
		made = append(made, w.refer(t, p, "page-"+string(rune('a'+i))).GetName())
	}
	slices.Reverse(made) // newest change first
	var seen []string
	req := &sparcv1.ListReferralsRequest{PageSize: 2, Side: "referring"}
	var firstToken string
	for pages := 1; ; pages++ {
		if pages > 3 {
			t.Fatalf("more than 3 pages of 2 for 5 referrals: %v", seen)
		}
		resp, err := w.lw.ListReferrals(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetReferrals()) > 2 {
			t.Fatalf("page of %d for page_size 2", len(resp.GetReferrals()))
		}
		for _, r := range resp.GetReferrals() {
			seen = append(seen, r.GetName())
		}
		if firstToken == "" {
			firstToken = resp.GetNextPageToken()
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	if !slices.Equal(seen, made) {
		t.Fatalf("pages gave %v, want %v", seen, made)
	}
	_, err := w.lw.ListReferrals(ctx, &sparcv1.ListReferralsRequest{PageSize: 2, Side: "providing", PageToken: firstToken})
	if status.Code(err) != codes.InvalidArgument || !slices.Contains(testenv.Fields(err), "page_token") {
		t.Errorf("a token of another query: %v, want InvalidArgument on page_token", err)
	}
}
