package referrals_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestCreateReferralIsIdempotentByRequestID(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	ctx := context.Background()
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC)
	req := &sparcv1.CreateReferralRequest{RequestId: "idem-1", Person: p.GetName(), Asset: assetName(w.asset),
		Reasons: []string{"social_connection"}, ProviderNote: "Prefers mornings", Priority: sparcv1.ReferralPriority_REFERRAL_PRIORITY_URGENT}
	first, err := w.lw.CreateReferral(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := w.lw.CreateReferral(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.GetName() != first.GetName() || again.GetEtag() != first.GetEtag() || len(again.GetTimeline()) != 1 {
		t.Fatalf("retry returned %s (etag %s, %d events), first was %s (etag %s)", again.GetName(), again.GetEtag(),
			len(again.GetTimeline()), first.GetName(), first.GetEtag())
	}

	// The same id with anything else changed is refused, naming request_id.
	changes := map[string]func(r *sparcv1.CreateReferralRequest){
		"note":    func(r *sparcv1.CreateReferralRequest) { r.ProviderNote = "Prefers evenings" },
		"reasons": func(r *sparcv1.CreateReferralRequest) { r.Reasons = []string{"physical_activity"} },
		"priority": func(r *sparcv1.CreateReferralRequest) {
			r.Priority = sparcv1.ReferralPriority_REFERRAL_PRIORITY_ROUTINE
		},
		"draft":  func(r *sparcv1.CreateReferralRequest) { r.Draft = true },
		"person": func(r *sparcv1.CreateReferralRequest) { r.Person = w.person(t).GetName() },
	}
	for name, change := range changes {
		other := &sparcv1.CreateReferralRequest{RequestId: req.RequestId, Person: req.Person, Asset: req.Asset,
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
			r, err := w.lw.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: "race", Person: p.GetName(), Asset: assetName(w.asset)})
			ids[i], errs[i] = r.GetName(), err
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
		WHERE referring_org = $2`, idOf(ids[0]), w.lwOrg).Scan(&n, &outboxRows); err != nil {
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
		{"no request id", &sparcv1.CreateReferralRequest{Person: p.GetName(), Asset: assetName(w.asset)}, "request_id"},
		{"request id too long", &sparcv1.CreateReferralRequest{RequestId: strings.Repeat("r", 101), Person: p.GetName(), Asset: assetName(w.asset)}, "request_id"},
		{"bad person", &sparcv1.CreateReferralRequest{RequestId: "x", Person: "nobody", Asset: assetName(w.asset)}, "person"},
		{"bad asset", &sparcv1.CreateReferralRequest{RequestId: "x", Person: p.GetName(), Asset: "12"}, "asset"},
		{"no person", &sparcv1.CreateReferralRequest{RequestId: "x", Asset: assetName(w.asset)}, "person"},
		{"a bare person id, not a name", &sparcv1.CreateReferralRequest{RequestId: "x", Person: idOf(p.GetName()), Asset: assetName(w.asset)}, "person"},
		{"an asset's name as the person", &sparcv1.CreateReferralRequest{RequestId: "x", Person: assetName(w.asset), Asset: assetName(w.asset)}, "person"},
		{"a person's name as the asset", &sparcv1.CreateReferralRequest{RequestId: "x", Person: p.GetName(), Asset: p.GetName()}, "asset"},
		{"unknown reason", &sparcv1.CreateReferralRequest{RequestId: "x", Person: p.GetName(), Asset: assetName(w.asset), Reasons: []string{"loneliness"}}, "reasons[0]"},
		{"long note", &sparcv1.CreateReferralRequest{RequestId: "x", Person: p.GetName(), Asset: assetName(w.asset), ProviderNote: long}, "provider_note"},
		{"unknown priority", &sparcv1.CreateReferralRequest{RequestId: "x", Person: p.GetName(), Asset: assetName(w.asset), Priority: 9}, "priority"},
	}
	for _, tc := range cases {
		_, err := w.lw.CreateReferral(context.Background(), tc.req)
		if status.Code(err) != codes.InvalidArgument || !slices.Contains(testenv.Fields(err), tc.field) {
			t.Errorf("%s: %v (fields %v), want InvalidArgument on %s", tc.name, err, testenv.Fields(err), tc.field)
		}
	}
}
