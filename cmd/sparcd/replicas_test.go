package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/testenv"
)

// clientRetryPolicy is the retry policy docs/operations.md gives clients
// of several sparcd replicas (gRPC service config): UNAVAILABLE, what a
// replica that is shutting down answers, is retried on another replica,
// four times at most, backing off from 100 ms. Only calls safe to repeat
// may use it: reads, and creates carrying a request id.
const clientRetryPolicy = `{"loadBalancingConfig": [{"round_robin": {}}],
  "methodConfig": [{"name": [{"service": "sparc.v1.AssetService"}, {"service": "sparc.v1.ReferralService"}],
    "retryPolicy": {"maxAttempts": 5, "initialBackoff": "0.1s", "maxBackoff": "1s",
      "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`

// replicaAddrs is a daemon as testenv.Env dials it.
type replicaAddrs struct{ grpc, http string }

func (a replicaAddrs) GRPCAddr() string { return a.grpc }
func (a replicaAddrs) HTTPAddr() string { return a.http }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// replicaProc is one of the sparcd replicas with its addresses.
type replicaProc struct {
	*daemon
	addrs replicaAddrs
}

// startReplicas starts n sparcd processes on one database at once and
// waits until each is ready.
func startReplicas(t *testing.T, bin string, n int, flags []string) []*replicaProc {
	t.Helper()
	out := make([]*replicaProc, n)
	for i := range out {
		a := replicaAddrs{grpc: freeAddr(t), http: freeAddr(t)}
		d := startSparcd(t, bin, testenv.DataDir(t), false, append([]string{"--grpc-addr", a.grpc, "--http-addr", a.http}, flags...)...)
		d.http = a.http
		out[i] = &replicaProc{daemon: d, addrs: a}
	}
	for _, p := range out {
		p.waitReady(t)
	}
	return out
}

func (p *replicaProc) waitReady(t *testing.T) {
	t.Helper()
	testenv.Until(t, 90*time.Second, "sparcd "+p.addrs.http+" ready", func() bool {
		select {
		case <-p.exited:
			t.Fatalf("sparcd exited: %v\n%s", p.exitErr, p.log())
		default:
		}
		resp, err := http.Get(p.url("/readyz"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// mailSink is an SMTP server (github.com/emersion/go-smtp, as the notify
// tests use) that counts the messages it accepts by Message-ID.
type mailSink struct {
	mu  sync.Mutex
	ids map[string]int
}

func (m *mailSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{m: m}, nil }

type sinkSession struct{ m *mailSink }

func (*sinkSession) Reset()                               {}
func (*sinkSession) Logout() error                        { return nil }
func (*sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	id := ""
	for _, line := range strings.Split(string(raw), "\r\n") {
		if v, ok := strings.CutPrefix(line, "Message-ID: "); ok {
			id = v
		}
	}
	s.m.mu.Lock()
	s.m.ids[id]++
	s.m.mu.Unlock()
	return nil
}

// counts returns the messages received and how many arrived more than once.
func (m *mailSink) counts() (distinct, repeated int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.ids {
		distinct++
		if n > 1 {
			repeated++
		}
	}
	return distinct, repeated
}

// hookSink is a webhook receiver: every delivery it acknowledged, by the
// change's cursor.
type hookSink struct {
	mu  sync.Mutex
	got []*sparcv1.ReferralChange
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c := &sparcv1.ReferralChange{}
	if err := protojson.Unmarshal(body, c); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.got = append(h.got, c)
	h.mu.Unlock()
}

func (h *hookSink) changes() []*sparcv1.ReferralChange {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*sparcv1.ReferralChange(nil), h.got...)
}

// Three sparcd processes on one database, reading from a streaming
// replica of it (--database-read-url): they run the migrations once
// (under the advisory lock) though they start together; a watch stream on
// each, and a webhook, receive every referral change exactly once
// whichever replica made it; each email is sent once; a revoked key is
// refused by all three within a second; and a rolling restart under load
// fails no call that the documented client retry policy retries.
func TestThreeReplicasOneDatabase(t *testing.T) {
	t.Parallel()
	bin := buildSparcd(t)
	ctx := context.Background()
	c := testenv.Cluster(t)
	// An empty database, not the migrated template: the replicas migrate it.
	name := fmt.Sprintf("replicas_%d", os.Getpid())
	if _, err := c.Psql(ctx, "postgres", "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = c.Psql(context.Background(), "postgres", "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})

	mail := &mailSink{ids: map[string]int{}}
	ms := smtp.NewServer(mail)
	ms.Domain = "localhost"
	ml, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = ms.Serve(ml) }()
	t.Cleanup(func() { ms.Close() })
	hooks := &hookSink{}
	hookSrv := httptest.NewServer(hooks)
	t.Cleanup(hookSrv.Close)

	owner, err := db.Open(ctx, c.URL(name), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(owner.Close)
	// Reads go to a streaming replica of the database, as in production.
	rep := testenv.StartReplica(t)
	_ = rep.ReadPool(t, owner) // the replica has the new database
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	flags := []string{"--database-url", c.URL(name), "--database-read-url", rep.URL(t, c.URL(name)), "--data-key", base64.StdEncoding.EncodeToString(key),
		"--webhook-allow-private", "--smtp-url", "smtp://" + ml.Addr().String() + "?tls=none", "--mail-from", "sparc@sparc.example",
		"--rate-limit", "100000", "--rate-burst", "100000", "--shutdown-timeout", "10s"}
	began := time.Now()
	procs := startReplicas(t, bin, 3, flags)
	t.Logf("three replicas ready in %v", time.Since(began).Round(time.Millisecond))

	// Migrations ran once each: every embedded file recorded once, and
	// three concurrent starts all succeeded (without the lock, two would
	// race to create the same tables and one would exit).
	var applied, distinct int
	if err := owner.QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	if files := db.MigrationCount(); applied != files || distinct != files {
		t.Fatalf("schema_migrations holds %d rows (%d versions), want %d migrations once each", applied, distinct, files)
	}

	// A referrer and a provider; the provider is emailed, the referrer has
	// a webhook and a watch stream on every replica.
	env := &testenv.Env{Pool: owner, Server: procs[0].addrs}
	refs := env.NewReferrals(t)
	if _, err := owner.Exec(ctx, `UPDATE organisations SET contact_email = 'group@provider.example' WHERE id = $1`, refs.Provider); err != nil {
		t.Fatal(err)
	}
	if _, err := sparcv1.NewWebhookServiceClient(refs.LinkWorker).CreateWebhook(ctx, &sparcv1.CreateWebhookRequest{
		Webhook: &sparcv1.Webhook{Url: hookSrv.URL}}); err != nil {
		t.Fatalf("creating the webhook: %v", err)
	}
	lw := make([]*grpc.ClientConn, len(procs))
	streams := make([]*watched, len(procs))
	sctx, stopStreams := context.WithCancel(ctx)
	defer stopStreams()
	for i, p := range procs {
		lw[i] = (&testenv.Env{Pool: owner, Server: p.addrs}).ConnWithKey(t, refs.LinkWorkerKey)
		streams[i] = watch(t, sctx, lw[i])
	}

	// Referrals made through each replica in turn.
	const referrals = 6
	for i := range referrals {
		conn := lw[i%len(lw)]
		person, err := sparcv1.NewPersonServiceClient(conn).CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{
			DisplayName: fmt.Sprintf("Person %d", i), AgeBand: "65-74", Needs: []string{"social_connection"}, Consent: &sparcv1.Consent{}}})
		if err != nil {
			t.Fatalf("creating person %d: %v", i, err)
		}
		if _, err := sparcv1.NewReferralServiceClient(conn).CreateReferral(ctx, &sparcv1.CreateReferralRequest{
			RequestId: uuid.NewString(), Person: person.GetName(), Asset: refs.Asset, Reasons: []string{"social_connection"}}); err != nil {
			t.Fatalf("referral %d: %v", i, err)
		}
	}
	want := testenv.Outbox(t, owner, refs.Referrer, "0", 0)
	if len(want) != referrals {
		t.Fatalf("outbox holds %d changes, want %d", len(want), referrals)
	}
	of := func(c *sparcv1.ReferralChange) testenv.Change {
		return testenv.Change{Referral: c.GetReferral(), Kind: c.GetType(), To: c.GetToStatus().String()}
	}
	for i, s := range streams {
		testenv.Until(t, 30*time.Second, fmt.Sprintf("watch stream %d to receive every change", i), func() bool { return len(s.changes()) >= len(want) })
	}
	testenv.Until(t, 30*time.Second, "the webhook to receive every change", func() bool { return len(hooks.changes()) >= len(want) })
	testenv.Until(t, 30*time.Second, "an email per referral", func() bool { n, _ := mail.counts(); return n >= referrals })
	// A fence: one more change, delivered after any repeat of the earlier
	// ones would have been (each channel delivers in outbox order).
	fence := refs.Refer(t, uuid.NewString())
	want = testenv.Outbox(t, owner, refs.Referrer, "0", 0)
	last := func(cs []*sparcv1.ReferralChange) bool { return len(cs) > 0 && cs[len(cs)-1].GetReferral() == fence }
	for i, s := range streams {
		testenv.Until(t, 30*time.Second, fmt.Sprintf("watch stream %d to receive the fence", i), func() bool { return last(s.changes()) })
		testenv.SameChanges(t, s.changes(), want, of)
	}
	testenv.Until(t, 30*time.Second, "the webhook to receive the fence", func() bool { return last(hooks.changes()) })
	testenv.SameChanges(t, hooks.changes(), want, of)
	testenv.Until(t, 30*time.Second, "the fence's email", func() bool { n, _ := mail.counts(); return n >= referrals+1 })
	if n, repeated := mail.counts(); n != referrals+1 || repeated != 0 {
		t.Fatalf("emails: %d distinct, %d sent more than once; want %d, each once", n, repeated, referrals+1)
	}
	stopStreams()

	// Every replica reads from the replica (sparcd's read pool sessions).
	var readers int
	if _, err := fmt.Sscan(rep.Psql(t, name, `SELECT count(DISTINCT client_port) FROM pg_stat_activity WHERE application_name = '`+db.ReadApplicationName+`'`), &readers); err != nil || readers < len(procs) {
		t.Fatalf("%d read pool sessions on the replica (%v), want at least one per sparcd", readers, err)
	}

	revokeSeenByAll(t, env, procs, refs.Provider)
	rollingRestart(t, bin, procs, flags, refs)
}

// watched is a watch stream's received changes.
type watched struct {
	mu  sync.Mutex
	got []*sparcv1.ReferralChange
}

func (w *watched) changes() []*sparcv1.ReferralChange {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*sparcv1.ReferralChange(nil), w.got...)
}

// watch opens a WatchReferrals stream from the oldest change, before any.
func watch(t *testing.T, ctx context.Context, conn *grpc.ClientConn) *watched {
	t.Helper()
	s, err := sparcv1.NewReferralServiceClient(conn).WatchReferrals(ctx, &sparcv1.WatchReferralsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	w := &watched{}
	go func() {
		for {
			c, err := s.Recv()
			if err != nil {
				return
			}
			w.mu.Lock()
			w.got = append(w.got, c)
			w.mu.Unlock()
		}
	}()
	return w
}

// revokeSeenByAll revokes, through the first replica, a key each replica
// has just accepted (and so holds in its cache), and checks that all three
// refuse it within a second.
func revokeSeenByAll(t *testing.T, env *testenv.Env, procs []*replicaProc, org string) {
	t.Helper()
	ctx := context.Background()
	admin := env.ConnWithKey(t, env.Key(t, org, "admin"))
	resp, err := sparcv1.NewApiKeyServiceClient(admin).CreateApiKey(ctx, &sparcv1.CreateApiKeyRequest{
		Organisation: "organisations/" + org, Role: sparcv1.Role_ROLE_GROUP_EDITOR})
	if err != nil {
		t.Fatal(err)
	}
	calls := make([]func() error, len(procs))
	for i, p := range procs {
		c := sparcv1.NewAssetServiceClient((&testenv.Env{Server: p.addrs}).ConnWithKey(t, resp.GetSecret()))
		calls[i] = func() error {
			_, err := c.ListAssets(ctx, &sparcv1.ListAssetsRequest{PageSize: 1})
			return err
		}
		if err := calls[i](); err != nil {
			t.Fatalf("replica %d before revocation: %v", i, err)
		}
	}
	revoked := time.Now()
	if _, err := sparcv1.NewApiKeyServiceClient(admin).RevokeApiKey(ctx, &sparcv1.RevokeApiKeyRequest{Name: resp.GetApiKey().GetName()}); err != nil {
		t.Fatal(err)
	}
	for i, call := range calls {
		testenv.Until(t, time.Second-time.Since(revoked), fmt.Sprintf("replica %d to refuse the revoked key", i), func() bool {
			return status.Code(call()) == codes.Unauthenticated
		})
	}
	t.Logf("all replicas refused the revoked key %v after revocation", time.Since(revoked).Round(time.Millisecond))
}

// rollingRestart stops and starts each replica in turn (SIGTERM, a new
// process on new ports), then kills one (SIGKILL) and starts another,
// while clients search and refer through a round-robin channel over the
// replicas with the documented retry policy: no call may fail.
func rollingRestart(t *testing.T, bin string, procs []*replicaProc, flags []string, refs *testenv.Referrals) {
	t.Helper()
	ctx := context.Background()
	r := manual.NewBuilderWithScheme("replicas")
	addrs := func() resolver.State {
		var s resolver.State
		for _, p := range procs {
			s.Addresses = append(s.Addresses, resolver.Address{Addr: p.addrs.grpc})
		}
		return s
	}
	r.InitialState(addrs())
	conn, err := grpc.NewClient("replicas:///sparcd", grpc.WithResolvers(r), grpc.WithDefaultServiceConfig(clientRetryPolicy),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(bearerToken(refs.LinkWorkerKey)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// People to refer, made before: CreatePerson is not retried (it has no
	// request id); CreateReferral is, keyed by its request id.
	people := make(chan string, 200)
	for i := range cap(people) / 4 {
		p, err := sparcv1.NewPersonServiceClient(refs.LinkWorker).CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{
			DisplayName: fmt.Sprintf("Load %d", i), AgeBand: "25-34", Consent: &sparcv1.Consent{}}})
		if err != nil {
			t.Fatal(err)
		}
		people <- p.GetName()
	}
	assetsC, referralsC := sparcv1.NewAssetServiceClient(conn), sparcv1.NewReferralServiceClient(conn)
	var ok, failed atomic.Int64
	var failMu sync.Mutex
	var failures []string
	record := func(what string, err error) {
		if err == nil {
			ok.Add(1)
			return
		}
		failed.Add(1)
		failMu.Lock()
		failures = append(failures, what+": "+err.Error())
		failMu.Unlock()
	}
	load := testenv.NewLoad(t)
	load.Go(2, func() bool {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_, err := assetsC.SearchAssets(cctx, &sparcv1.SearchAssetsRequest{Query: "walking", PageSize: 10})
		record("search", err)
		time.Sleep(10 * time.Millisecond) // a small load, not a saturating one
		return true
	})
	load.Go(1, func() bool {
		var p string
		select {
		case p = <-people:
		default:
			return false
		}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_, err := referralsC.CreateReferral(cctx, &sparcv1.CreateReferralRequest{RequestId: uuid.NewString(), Person: p,
			Asset: refs.Asset, Reasons: []string{"social_connection"}})
		record("refer", err)
		time.Sleep(50 * time.Millisecond)
		return true
	})
	testenv.Until(t, 30*time.Second, "load to flow", func() bool { return ok.Load() >= 20 })
	for i, p := range procs {
		p.stop()
		np := startReplicas(t, bin, 1, flags)[0]
		procs[i] = np
		r.UpdateState(addrs())
		before := ok.Load()
		testenv.Until(t, 30*time.Second, "calls after restarting a replica", func() bool { return ok.Load() >= before+10 })
	}
	// A crash, not a shutdown: calls in flight on the killed replica fail
	// UNAVAILABLE and the policy retries them on the others (without it,
	// two runs in three lost a call here).
	crashed := procs[1]
	if err := crashed.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-crashed.exited
	procs[1] = startReplicas(t, bin, 1, flags)[0]
	r.UpdateState(addrs())
	before := ok.Load()
	testenv.Until(t, 30*time.Second, "calls after a replica crashed", func() bool { return ok.Load() >= before+10 })
	load.Stop()
	t.Logf("rolling restart and a crash: %d calls succeeded, %d failed", ok.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("%d calls failed during the rolling restart despite the retry policy: %v", failed.Load(), failures)
	}
}

type bearerToken string

func (k bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(k)}, nil
}
func (bearerToken) RequireTransportSecurity() bool { return false }
