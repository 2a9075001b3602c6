package auth_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// Each client below dials from its own loopback address
// (testenv.DialerFrom), so per-address budgets can be told apart.
func httpFrom(src string) *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: testenv.DialerFrom(src).DialContext}}
}

func grpcFrom(t *testing.T, env *testenv.Env, src, key string) *grpc.ClientConn {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return testenv.DialerFrom(src).DialContext(ctx, "tcp", addr)
		})}
	if key != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerKey(key)))
	}
	conn, err := grpc.NewClient(env.Server.GRPCAddr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

type bearerKey string

func (k bearerKey) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(k)}, nil
}
func (bearerKey) RequireTransportSecurity() bool { return false }

func unknownKey(t *testing.T) string {
	t.Helper()
	k, _, _, err := auth.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// flood makes n calls and returns how many succeeded before the first
// refusal, how many were refused, and the first refusal's retry delay.
type floodResult struct {
	ok, refused, other int
	firstRefusal       int // index of the first refusal, -1 for none
	retry              time.Duration
}

func floodGRPC(n int, call func() error, refusedCode codes.Code, okCode codes.Code) floodResult {
	r := floodResult{firstRefusal: -1}
	for i := range n {
		err := call()
		switch status.Code(err) {
		case okCode:
			r.ok++
		case refusedCode:
			if r.firstRefusal < 0 {
				r.firstRefusal = i
				for _, d := range status.Convert(err).Details() {
					if ri, ok := d.(*errdetails.RetryInfo); ok {
						r.retry = ri.GetRetryDelay().AsDuration()
					}
				}
			}
			r.refused++
		default:
			r.other++
		}
	}
	return r
}

func floodHTTP(t *testing.T, n int, c *http.Client, url, key string, okStatus int) floodResult {
	t.Helper()
	r := floodResult{firstRefusal: -1}
	for i := range n {
		req, _ := http.NewRequest("GET", url, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case okStatus:
			r.ok++
		case http.StatusTooManyRequests:
			if r.firstRefusal < 0 {
				r.firstRefusal = i
				secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
				if err != nil {
					t.Fatalf("429 without a usable Retry-After: %q", resp.Header.Get("Retry-After"))
				}
				r.retry = time.Duration(secs) * time.Second
			}
			r.refused++
		default:
			r.other++
		}
	}
	return r
}

// Finding 4: 2,000 anonymous searches, 1,000 Open Referral calls and 1,500
// bad keys from one client met no limit. Now each client address has a
// budget for calls without a key and a smaller one for calls with bad
// credentials, on every route: gRPC, the gateway, and the plain HTTP
// routes that bypass gRPC.
func TestAnonymousAndBadCredentialFloodsAreRefusedPerAddress(t *testing.T) {
	t.Parallel()
	const (
		anonBurst = 20
		badBurst  = 5
		calls     = 60
	)
	env := testenv.NewServer(t, testenv.Options{Auth: auth.Config{RatePerSecond: 10000, Burst: 10000,
		Anonymous: auth.Limit{Rate: 0.5, Burst: anonBurst}, FailedAuth: auth.Limit{Rate: 0.1, Burst: badBurst}}})
	// At most a token or two refill while a flood runs.
	check := func(what string, r floodResult, burst int, wantRetry bool) {
		t.Helper()
		if r.other != 0 || r.refused < calls-burst-3 || r.ok < burst || r.firstRefusal < burst {
			t.Errorf("%s: %d answered, %d refused (first at call %d), %d other; want the first %d answered and the rest refused",
				what, r.ok, r.refused, r.firstRefusal, r.other, burst)
		}
		if wantRetry && r.retry <= 0 {
			t.Errorf("%s: refused without a retry delay", what)
		}
	}

	assets := sparcv1.NewAssetServiceClient(grpcFrom(t, env, "127.0.0.2", ""))
	check("anonymous gRPC searches", floodGRPC(calls, func() error {
		_, err := assets.ListAssets(context.Background(), &sparcv1.ListAssetsRequest{PageSize: 1})
		return err
	}, codes.ResourceExhausted, codes.OK), anonBurst, true)

	check("anonymous HTTP searches", floodHTTP(t, calls, httpFrom("127.0.0.3"), env.HTTPBase+"/v1/assets?page_size=1", "", 200), anonBurst, true)
	check("anonymous Open Referral calls", floodHTTP(t, calls, httpFrom("127.0.0.4"), env.HTTPBase+"/openreferral/services?per_page=1", "", 200), anonBurst, true)
	check("anonymous map tiles", floodHTTP(t, calls, httpFrom("127.0.0.5"), env.HTTPBase+"/tiles/assets/0/0/0.mvt", "", 200), anonBurst, true)

	// Bad keys: unknown ones (each a database lookup until the budget is
	// spent), answered UNAUTHENTICATED, then RESOURCE_EXHAUSTED.
	badKeys := make([]string, calls)
	for i := range badKeys {
		badKeys[i] = unknownKey(t)
	}
	bad := grpcFrom(t, env, "127.0.0.6", "")
	i := 0
	check("bad keys over gRPC", floodGRPC(calls, func() error {
		c := sparcv1.NewAssetServiceClient(bad)
		_, err := c.ListAssets(context.Background(), &sparcv1.ListAssetsRequest{PageSize: 1}, grpc.PerRPCCredentials(bearerKey(badKeys[i])))
		i++
		return err
	}, codes.ResourceExhausted, codes.Unauthenticated), badBurst, true)
	check("bad keys over HTTP", floodHTTP(t, calls, httpFrom("127.0.0.7"), env.HTTPBase+"/v1/assets?page_size=1", unknownKey(t), http.StatusUnauthorized), badBurst, true)

	// Budgets are per address and per kind: the address that spent its
	// bad-credential budget still calls anonymously, and a new address
	// and a valid key are untouched.
	if _, err := sparcv1.NewAssetServiceClient(bad).ListAssets(context.Background(), &sparcv1.ListAssetsRequest{PageSize: 1}); err != nil {
		t.Errorf("anonymous call from the address that sent bad keys: %v", err)
	}
	if _, err := sparcv1.NewAssetServiceClient(grpcFrom(t, env, "127.0.0.8", "")).ListAssets(context.Background(), &sparcv1.ListAssetsRequest{PageSize: 1}); err != nil {
		t.Errorf("anonymous call from a fresh address: %v", err)
	}
	key := env.Key(t, env.AdminOrg, auth.RoleLinkWorker)
	if _, err := sparcv1.NewAssetServiceClient(grpcFrom(t, env, "127.0.0.2", key)).ListAssets(context.Background(), &sparcv1.ListAssetsRequest{PageSize: 1}); err != nil {
		t.Errorf("a valid key from the address that flooded anonymously: %v", err)
	}
}

// Finding 4: every denied call wrote its own row into the append-only
// audit log (about 1,500 a second from one client). Now denials of one
// kind are one event per minute with a count (plus the first, at once).
func TestDeniedCallsAreAuditedAsCountsPerMinute(t *testing.T) {
	t.Parallel()
	const calls = 1000
	env := testenv.NewServer(t)
	keys := sparcv1.NewApiKeyServiceClient(env.Anonymous())
	var wg sync.WaitGroup
	work := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if _, err := keys.ListApiKeys(context.Background(), &sparcv1.ListApiKeysRequest{}); status.Code(err) != codes.Unauthenticated {
					t.Errorf("anonymous ListApiKeys: %v", err)
				}
			}
		}()
	}
	for range calls {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	env.App.Auth.Flush(context.Background())

	const method = "/sparc.v1.ApiKeyService/ListApiKeys"
	var rows, sum int
	if err := env.Pool.QueryRow(context.Background(), `SELECT count(*), COALESCE(sum(count), 0) FROM audit_events
		WHERE method = $1 AND principal = 'anonymous' AND outcome = 'denied' AND code = 'Unauthenticated'`, method).Scan(&rows, &sum); err != nil {
		t.Fatal(err)
	}
	// Two per minute at most; the calls may straddle a minute's end.
	if sum != calls || rows > 4 {
		t.Fatalf("%d denied calls audited as %d events summing to %d; want a handful summing to %d", calls, rows, sum, calls)
	}
	// ListAuditEvents shows the counts (anonymous denials belong to no
	// organisation: the network admin reads them).
	resp, err := sparcv1.NewAuditServiceClient(env.Network(t)).ListAuditEvents(context.Background(),
		&sparcv1.ListAuditEventsRequest{Principal: "anonymous", Outcome: "denied", PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	listed := 0
	for _, e := range resp.GetEvents() {
		if e.GetMethod() == method {
			listed += int(e.GetCount())
		}
	}
	if listed != calls {
		t.Errorf("ListAuditEvents counts %d denied calls, want %d", listed, calls)
	}
	t.Logf("%d denied calls: %d audit events", calls, rows)
}

// The summed denials are written when their window ends, without a flush,
// and at shutdown: none is lost when the server stops.
func TestDeniedCallCountsAreWrittenWhenTheWindowEndsAndAtShutdown(t *testing.T) {
	t.Parallel()
	const method = "/sparc.v1.ApiKeyService/ListApiKeys"

	t.Run("window", func(t *testing.T) {
		t.Parallel()
		env := testenv.NewServer(t, testenv.Options{Auth: auth.Config{RatePerSecond: 10000, Burst: 10000, DeniedWindow: 200 * time.Millisecond}})
		keys := sparcv1.NewApiKeyServiceClient(env.Anonymous())
		for range 50 {
			_, _ = keys.ListApiKeys(context.Background(), &sparcv1.ListApiKeysRequest{})
		}
		deniedAudited(t, env.Pool, method, 50)
	})

	t.Run("shutdown", func(t *testing.T) {
		t.Parallel()
		owner := testenv.NewPool(t)
		pool := testenv.AppPool(t, owner)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		a, err := app.New(ctx, pool, app.Config{Auth: auth.Config{RatePerSecond: 10000, Burst: 10000},
			Server: app.ServerConfig{Logger: quiet, ShutdownTimeout: 5 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		srv := a.Server()
		done := make(chan error, 1)
		go func() { done <- a.Serve(ctx) }()
		conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		keys := sparcv1.NewApiKeyServiceClient(conn)
		for range 300 {
			_, _ = keys.ListApiKeys(context.Background(), &sparcv1.ListApiKeysRequest{})
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		var n int
		if err := owner.QueryRow(context.Background(), `SELECT COALESCE(sum(count), 0) FROM audit_events WHERE method = $1 AND outcome = 'denied'`,
			method).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 300 {
			t.Fatalf("%d of 300 denied calls audited after shutdown", n)
		}
	})
}

// Finding 10: one key could hold thousands of watch streams. Now a key
// holds at most MaxStreams at once, over gRPC and HTTP together; beyond
// that a watch is RESOURCE_EXHAUSTED (429), and a slot frees when its
// stream ends.
func TestWatchStreamsPerKeyAreCapped(t *testing.T) {
	t.Parallel()
	const maxStreams = 3
	env := testenv.NewServer(t, testenv.Options{Auth: auth.Config{RatePerSecond: 10000, Burst: 10000, MaxStreams: maxStreams}})
	// One referral, so a watch from the start sends a change at once: its
	// first message shows that it was admitted.
	refs := env.NewReferrals(t)
	refs.Refer(t, "cap-1")
	key, conn := refs.LinkWorkerKey, refs.LinkWorker

	var streams []context.CancelFunc
	defer func() {
		for _, c := range streams {
			c()
		}
	}()
	// watchGRPC and watchHTTP start a watch; when it is admitted they keep
	// it open (its cancel is added to streams) and return nil.
	watchGRPC := func(c *grpc.ClientConn) error {
		ctx, cancel := context.WithCancel(context.Background())
		s, err := sparcv1.NewReferralServiceClient(c).WatchReferrals(ctx, &sparcv1.WatchReferralsRequest{})
		if err == nil {
			_, err = s.Recv()
		}
		if err != nil {
			cancel()
			return err
		}
		streams = append(streams, cancel)
		return nil
	}
	watchHTTP := func() int {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", env.HTTPBase+"/v1/referrals:watch", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			cancel()
			return resp.StatusCode
		}
		if _, err := resp.Body.Read(make([]byte, 1)); err != nil {
			t.Fatalf("HTTP watch sent nothing: %v", err)
		}
		streams = append(streams, func() { cancel(); resp.Body.Close() })
		return resp.StatusCode
	}

	for i := range maxStreams - 1 {
		if err := watchGRPC(conn); err != nil {
			t.Fatalf("watch %d of %d: %v", i+1, maxStreams, err)
		}
	}
	if code := watchHTTP(); code != http.StatusOK {
		t.Fatalf("watch %d of %d, over HTTP: %d", maxStreams, maxStreams, code)
	}
	if err := watchGRPC(conn); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("watch %d: %v, want RESOURCE_EXHAUSTED", maxStreams+1, err)
	}
	if code := watchHTTP(); code != http.StatusTooManyRequests {
		t.Fatalf("watch %d over HTTP: %d, want 429", maxStreams+1, code)
	}
	// Another key of the same organisation has its own slots.
	if err := watchGRPC(env.ConnWithKey(t, env.Key(t, refs.Referrer, auth.RoleLinkWorker))); err != nil {
		t.Fatalf("another key's watch: %v", err)
	}
	// Ending a watch frees its slot once the server has seen it end: the
	// HTTP one's for a gRPC watch, then a gRPC one's for an HTTP watch.
	streams[maxStreams-1]()
	testenv.Until(t, 20*time.Second, "a watch admitted after the HTTP watch ended", func() bool {
		err := watchGRPC(conn)
		if err != nil && status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("watch after the HTTP watch ended: %v", err)
		}
		return err == nil
	})
	streams[0]()
	testenv.Until(t, 20*time.Second, "an HTTP watch admitted after a gRPC watch ended", func() bool {
		code := watchHTTP()
		if code != http.StatusOK && code != http.StatusTooManyRequests {
			t.Fatalf("HTTP watch after a gRPC watch ended: %d", code)
		}
		return code == http.StatusOK
	})
}
