package referrals_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
)

func TestCreateReferralIsIdempotentByRequestID(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC)
	req := &sparcv1.CreateReferralRequest{RequestId: "idem-1", PersonId: p.GetId(), AssetId: w.asset.GetName(),
		Reasons: []string{"social_connection"}, ProviderNote: "Prefers mornings", Priority: sparcv1.ReferralPriority_REFERRAL_PRIORITY_URGENT}
	first, err := w.lw.CreateReferral(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := w.lw.CreateReferral(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.GetId() != first.GetId() || again.GetEtag() != first.GetEtag() || len(again.GetTimeline()) != 1 {
		t.Fatalf("retry returned %s (etag %s, %d events), first was %s (etag %s)", again.GetId(), again.GetEtag(),
			len(again.GetTimeline()), first.GetId(), first.GetEtag())
	}

	// The same id with anything else changed is refused, naming request_id.
	changes := map[string]func(r *sparcv1.CreateReferralRequest){
		"note":    func(r *sparcv1.CreateReferralRequest) { r.ProviderNote = "Prefers evenings" },
		"reasons": func(r *sparcv1.CreateReferralRequest) { r.Reasons = []string{"physical_activity"} },
		"priority": func(r *sparcv1.CreateReferralRequest) {
			r.Priority = sparcv1.ReferralPriority_REFERRAL_PRIORITY_ROUTINE
		},
		"draft":  func(r *sparcv1.CreateReferralRequest) { r.Draft = true },
		"person": func(r *sparcv1.CreateReferralRequest) { r.PersonId = w.person(t).GetId() },
	}
	for name, change := range changes {
		other := &sparcv1.CreateReferralRequest{RequestId: req.RequestId, PersonId: req.PersonId, AssetId: req.AssetId,
			Reasons: req.Reasons, ProviderNote: req.ProviderNote, Priority: req.Priority}
		change(other)
		_, err := w.lw.CreateReferral(ctx, other)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "request_id") {
			t.Errorf("same request id, different %s: %v, want InvalidArgument on request_id", name, err)
		}
	}
	// Request ids belong to the organisation: another service's same id is
	// a different referral (here refused only because the person is not theirs).
	otherLW := sparcv1.NewReferralServiceClient(w.env.ConnWithKey(t, w.env.Key(t, w.env.NewOrg(t, "Other LW", "link_worker_service"), auth.RoleLinkWorker)))
	if _, err := otherLW.CreateReferral(ctx, req); status.Code(err) != codes.NotFound {
		t.Errorf("another organisation reusing the request id: %v, want NotFound (the person is not theirs)", err)
	}

	var n, events int
	if err := w.env.Pool.QueryRow(ctx, `SELECT count(*), (SELECT count(*) FROM referral_events e JOIN referrals r ON r.id = e.referral_id
		WHERE r.request_id = 'idem-1') FROM referrals WHERE request_id = 'idem-1'`).Scan(&n, &events); err != nil {
		t.Fatal(err)
	}
	if n != 1 || events != 1 {
		t.Fatalf("%d referrals and %d events for one request id", n, events)
	}
}

func TestConcurrentRetriesOfOneRequestMakeOneReferral(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	p := w.person(t)
	const callers = 8 // within the server's pool, which also holds the LISTEN connection
	// Hold every call at the same point: the first one's timeline insert
	// waits for this lock, the others' inserts wait for the first one's
	// request id. All of them then find no earlier result, and all but one
	// lose the race on the insert itself.
	hold, err := w.env.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback(ctx) //nolint:errcheck
	if _, err := hold.Exec(ctx, `LOCK TABLE referral_events IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := w.lw.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: "race", PersonId: p.GetId(), AssetId: w.asset.GetName()})
			ids[i], errs[i] = r.GetId(), err
		}()
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		var waiting int
		if err := w.env.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == callers {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d calls are waiting", waiting, callers)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := hold.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("caller %d: %s, %v; caller 0 got %s", i, ids[i], errs[i], ids[0])
		}
	}
	var n, outboxRows int
	if err := w.env.Pool.QueryRow(ctx, `SELECT count(*), (SELECT count(*) FROM referral_outbox WHERE referral_id = $1) FROM referrals
		WHERE referring_org = $2`, ids[0], w.lwOrg).Scan(&n, &outboxRows); err != nil {
		t.Fatal(err)
	}
	if n != 1 || outboxRows != 1 {
		t.Fatalf("%d referrals, %d outbox rows; want 1 and 1", n, outboxRows)
	}
}

func TestCreateReferralRejectsBadRequestsBeforeTheDatabase(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	p := w.person(t)
	long := strings.Repeat("x", 2001)
	cases := []struct {
		name  string
		req   *sparcv1.CreateReferralRequest
		field string
	}{
		{"no request id", &sparcv1.CreateReferralRequest{PersonId: p.GetId(), AssetId: w.asset.GetName()}, "request_id"},
		{"request id too long", &sparcv1.CreateReferralRequest{RequestId: strings.Repeat("r", 101), PersonId: p.GetId(), AssetId: w.asset.GetName()}, "request_id"},
		{"bad person", &sparcv1.CreateReferralRequest{RequestId: "x", PersonId: "nobody", AssetId: w.asset.GetName()}, "person_id"},
		{"bad asset", &sparcv1.CreateReferralRequest{RequestId: "x", PersonId: p.GetId(), AssetId: "12"}, "asset_id"},
		{"unknown reason", &sparcv1.CreateReferralRequest{RequestId: "x", PersonId: p.GetId(), AssetId: w.asset.GetName(), Reasons: []string{"loneliness"}}, "reasons[0]"},
		{"long note", &sparcv1.CreateReferralRequest{RequestId: "x", PersonId: p.GetId(), AssetId: w.asset.GetName(), ProviderNote: long}, "provider_note"},
		{"unknown priority", &sparcv1.CreateReferralRequest{RequestId: "x", PersonId: p.GetId(), AssetId: w.asset.GetName(), Priority: 9}, "priority"},
	}
	for _, tc := range cases {
		_, err := w.lw.CreateReferral(context.Background(), tc.req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(fmt.Sprint(status.Convert(err).Details()), tc.field) {
			t.Errorf("%s: %v, want InvalidArgument on %s", tc.name, err, tc.field)
		}
	}
}
