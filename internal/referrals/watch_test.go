package referrals_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// change is what a watcher needs to compare streams with the outbox.
type change struct{ referral, kind, to string }

func changeOf(c *sparcv1.ReferralChange) change {
	return change{c.GetReferralId(), c.GetType(), c.GetToStatus().String()}
}

// outbox returns every change the organisation is party to, in the order
// the outbox defines: (txid, seq).
func outbox(t *testing.T, env *testenv.Env, org string) []change {
	t.Helper()
	var out []change
	for _, c := range testenv.Outbox(t, env.Pool, org, "0", 0) {
		out = append(out, change{c.Referral, c.Kind, c.To})
	}
	return out
}

// eventually polls cond until it holds; the deadline only bounds a
// failing test, the condition is what the test waits for.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not an assumption about timing
	}
}

// watching counts the watches of org that the server has started: a
// watch's first transaction (taking "now", or its first read) records the
// call in the audit log, so its event is there once the server holds the
// watch's starting cursor.
func watching(t *testing.T, env *testenv.Env, org string) int {
	t.Helper()
	var n int
	if err := env.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_events
		WHERE method = '/sparc.v1.ReferralService/WatchReferrals' AND organisation_id = $1 AND outcome = 'ok'`, org).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// outboxLen counts the changes org is party to.
func outboxLen(t *testing.T, env *testenv.Env, org string) int {
	t.Helper()
	var n int
	if err := env.Pool.QueryRow(context.Background(), `SELECT count(*) FROM referral_outbox
		WHERE referring_org = $1 OR provider_org = $1`, org).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// receive reads up to n changes from cursor (n < 0: until the stream
// breaks) and returns them; an error ending the stream is returned too.
func receive(ctx context.Context, c sparcv1.ReferralServiceClient, cursor string, n int) ([]*sparcv1.ReferralChange, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // disconnects
	stream, err := c.WatchReferrals(ctx, &sparcv1.WatchReferralsRequest{Cursor: cursor})
	if err != nil {
		return nil, err
	}
	var out []*sparcv1.ReferralChange
	for n < 0 || len(out) < n {
		ch, err := stream.Recv()
		if err != nil {
			return out, err
		}
		out = append(out, ch)
	}
	return out, nil
}

func sameChanges(t *testing.T, got []*sparcv1.ReferralChange, want []change) {
	t.Helper()
	testenv.SameChanges(t, got, want, changeOf)
}

func TestWatcherResumingFromItsCursorGetsEveryChangeOnceInOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC)
	const writers, each = 4, 15
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Writers create and accept referrals concurrently, so transactions
	// commit out of txid order, while the group's watcher keeps
	// disconnecting and resuming.
	var wg sync.WaitGroup
	var done atomic.Bool
	errs := make(chan error, writers)
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r, err := w.lw.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: fmt.Sprintf("watch-%d-%d", g, i),
					PersonId: p.GetId(), AssetId: w.asset.GetName()})
				if err == nil {
					_, err = move(w.group, r.GetId(), sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); done.Store(true) }()
	total := writers * each * 2
	var got []*sparcv1.ReferralChange
	cursor, reconnects := "", 0
	rng := rand.New(rand.NewPCG(1, 2))
	for len(got) < total && ctx.Err() == nil {
		batch, err := receive(ctx, w.group, cursor, min(1+rng.IntN(12), total-len(got)))
		if err != nil {
			t.Fatalf("after %d changes: %v", len(got), err)
		}
		got = append(got, batch...)
		if len(batch) > 0 {
			cursor = batch[len(batch)-1].GetCursor()
		}
		reconnects++
		// Changes go on while it is away: it reconnects once some more
		// were committed (or the writers are done).
		away := outboxLen(t, w.env, w.groupOrg) + rng.IntN(3)
		eventually(t, "changes while the watcher is away", func() bool {
			return done.Load() || outboxLen(t, w.env, w.groupOrg) > away
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sameChanges(t, got, outbox(t, w.env, w.groupOrg))
	// Per referral: created, then accepted.
	byRef := map[string][]string{}
	for _, c := range got {
		byRef[c.GetReferralId()] = append(byRef[c.GetReferralId()], c.GetType()+":"+c.GetToStatus().String())
	}
	for id, kinds := range byRef {
		if len(kinds) != 2 || kinds[0] != "created:REFERRAL_STATUS_REQUESTED" || kinds[1] != "status_changed:REFERRAL_STATUS_ACCEPTED" {
			t.Errorf("referral %s: changes %v", id, kinds)
		}
	}
	if len(byRef) != writers*each {
		t.Errorf("changes for %d referrals, want %d", len(byRef), writers*each)
	}
	t.Logf("%d changes over %d connections", len(got), reconnects)

	// Nothing more is pending: a resumed stream waits quietly.
	quiet, cancelQuiet := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelQuiet()
	if more, err := receive(quiet, w.group, cursor, 1); len(more) != 0 || status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("after the last change: %v, %v; want nothing until the deadline", more, err)
	}
}

// extraServer starts another sparcd on env's database (as a restarted or
// second instance would run) and returns its address and a stop function
// that waits for it to shut down.
func extraServer(t *testing.T, env *testenv.Env) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.New(ctx, env.AppPool, app.Config{Auth: auth.Config{RatePerSecond: 10000, Burst: 10000},
		Logger: quiet, Server: app.ServerConfig{Logger: quiet, ShutdownTimeout: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	srv := a.Server()
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("extra server: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return srv.GRPCAddr(), stop
}

func dial(t *testing.T, addr, key string) sparcv1.ReferralServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(bearerKey(key)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return sparcv1.NewReferralServiceClient(conn)
}

type bearerKey string

func (k bearerKey) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(k)}, nil
}
func (bearerKey) RequireTransportSecurity() bool { return false }

func TestWatcherResumesOnARestartedServerWithNoGapAndNoDuplicate(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	p := w.person(t, sparcv1.ConsentScope_CONSENT_SCOPE_BASIC)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key := w.env.Key(t, w.lwOrg, auth.RoleLinkWorker)
	create := func(n int, prefix string) {
		for i := range n {
			if _, err := w.lw.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: fmt.Sprintf("%s-%d", prefix, i),
				PersonId: p.GetId(), AssetId: w.asset.GetName()}); err != nil {
				t.Fatal(err)
			}
		}
	}

	first, stopFirst := extraServer(t, w.env)
	create(5, "before")
	got, err := receive(ctx, dial(t, first, key), "", 5)
	if err != nil {
		t.Fatal(err)
	}
	// The stream stays open while sparcd stops: the restart breaks it.
	broken := make(chan error, 1)
	started := watching(t, w.env, w.lwOrg)
	go func() {
		_, err := receive(ctx, dial(t, first, key), got[len(got)-1].GetCursor(), -1)
		broken <- err
	}()
	eventually(t, "the stream to open on the first server", func() bool { return watching(t, w.env, w.lwOrg) > started })
	stopFirst()
	if err := <-broken; status.Code(err) != codes.Unavailable && status.Code(err) != codes.Canceled {
		t.Fatalf("stream on the stopped server ended with %v", err)
	}
	create(7, "while-down") // through the other instance while this one is down

	second, _ := extraServer(t, w.env)
	create(3, "after")
	rest, err := receive(ctx, dial(t, second, key), got[len(got)-1].GetCursor(), 10)
	if err != nil {
		t.Fatal(err)
	}
	sameChanges(t, append(got, rest...), outbox(t, w.env, w.lwOrg))
}

func TestWatchCursorsAreCheckedAndNowSkipsThePast(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	p := w.person(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	past := w.refer(t, p, "past")
	// "now" starts at the horizon of finished transactions (the oldest
	// one still running anywhere in the cluster): it never misses a later
	// change, and skips the past once the past is below the horizon.
	eventually(t, "the past to fall below the horizon", func() bool {
		var below bool
		if err := w.env.Pool.QueryRow(ctx, `SELECT bool_and(txid < pg_snapshot_xmin(pg_current_snapshot()))
			FROM referral_outbox WHERE referral_id = $1`, past.GetId()).Scan(&below); err != nil {
			t.Fatal(err)
		}
		return below
	})
	if _, err := receive(ctx, w.lw, "not-a-cursor", 1); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad cursor: %v, want InvalidArgument", err)
	}
	started := watching(t, w.env, w.lwOrg)
	stream, err := w.lw.WatchReferrals(ctx, &sparcv1.WatchReferralsRequest{Cursor: "now"})
	if err != nil {
		t.Fatal(err)
	}
	// "now" is taken when the call starts: wait until the server holds it.
	eventually(t, "the server to take \"now\"", func() bool { return watching(t, w.env, w.lwOrg) > started })
	r := w.refer(t, p, "future")
	c, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if c.GetReferralId() != r.GetId() || c.GetType() != "created" {
		t.Errorf("first change from now: %v, want the creation of %s", c, r.GetId())
	}
}

func TestWatchOverHTTPIsNewlineDelimitedJSON(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 0)
	p := w.person(t)
	r1, r2 := w.refer(t, p, "http-1"), w.refer(t, p, "http-2")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", w.env.HTTPBase+"/v1/referrals:watch", nil)
	req.Header.Set("Authorization", "Bearer "+w.env.Key(t, w.groupOrg, auth.RoleGroupEditor))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("HTTP %d: %s", resp.StatusCode, b)
	}
	sc := bufio.NewScanner(resp.Body)
	var ids []string
	for len(ids) < 2 && sc.Scan() {
		var line struct {
			Result struct {
				Cursor     string `json:"cursor"`
				ReferralID string `json:"referral_id"`
				Type       string `json:"type"`
				ToStatus   string `json:"to_status"`
			} `json:"result"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		if line.Result.Cursor == "" || line.Result.Type != "created" || line.Result.ToStatus != "REFERRAL_STATUS_REQUESTED" {
			t.Fatalf("line %s", sc.Text())
		}
		ids = append(ids, line.Result.ReferralID)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != r1.GetId() || ids[1] != r2.GetId() {
		t.Fatalf("streamed %v, want [%s %s]", ids, r1.GetId(), r2.GetId())
	}
}
