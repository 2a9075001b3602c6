package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The crash tests kill the embedded PostgreSQL of a running sparcd, as the
// kernel's OOM killer or an operator's kill -9 would, and check that the
// same sparcd process serves again by itself: finding 5 of issue 12.

// postmaster reads the running server's pid and a superuser URL for its
// database from the data dir (postmaster.pid: pid, dir, start, port,
// socket dir, ...; pg-password).
func postmaster(t *testing.T, dataDir string) (pid int, dbURL string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "pgdata", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 5 {
		t.Fatalf("postmaster.pid: %q", b)
	}
	if pid, err = strconv.Atoi(lines[0]); err != nil {
		t.Fatal(err)
	}
	pw, err := os.ReadFile(filepath.Join(dataDir, "pg-password"))
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"host": {lines[4]}, "port": {lines[3]}, "sslmode": {"disable"}}
	return pid, fmt.Sprintf("postgres://postgres:%s@/sparc?%s", url.QueryEscape(strings.TrimSpace(string(pw))), q.Encode())
}

// ownerPool connects to sparcd's database as the superuser, for fixtures
// and for checking what was stored.
func ownerPool(t *testing.T, dbURL string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

type reply struct {
	status     int
	retryAfter string
	body       []byte
}

var apiClient = &http.Client{Timeout: 30 * time.Second}

// searchPath is a public search over the fixtures' asset: the load the
// process tests put on a sparcd.
const searchPath = "/v1/assets:search?latitude=52.4862&longitude=-1.8904&radius_meters=5000"

func call(d *daemon, method, path, key, body string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, d.url(path), rd)
	if err != nil {
		return reply{}, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := apiClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: b}, err
}

// mustCall is call for the set-up: anything but 200 fails the test.
func mustCall(t *testing.T, d *daemon, method, path, key, body string) map[string]any {
	t.Helper()
	r, err := call(d, method, path, key, body)
	if err != nil || r.status != 200 {
		t.Fatalf("%s %s: %v HTTP %d %s", method, path, err, r.status, r.body)
	}
	var out map[string]any
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

type crashFixture struct {
	owner                 *pgxpool.Pool
	lwOrg                 string
	lwKey, doomedKey      string
	doomedKeyID           string
	personID, assetID     string
	groupEditorKey, dbURL string
	postmasterPID         int
}

// newCrashFixture makes a link-worker organisation and a community group
// directly in the database (as testenv does), then a person and an asset
// accepting referrals over the API.
func newCrashFixture(t *testing.T, d *daemon) *crashFixture {
	t.Helper()
	ctx := context.Background()
	f := &crashFixture{}
	f.postmasterPID, f.dbURL = postmaster(t, d.dataDir)
	f.owner = ownerPool(t, f.dbURL)
	org := func(name, kind string) uuid.UUID {
		var id uuid.UUID
		if err := f.owner.QueryRow(ctx, `INSERT INTO organisations (id, kind, name) VALUES (gen_random_uuid(), $1, $2) RETURNING id`,
			kind, name).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	key := func(org uuid.UUID, role string) (id, key string) {
		k, secret, err := auth.NewKeyStore(f.owner).Create(ctx, org, role, "outage test")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(k.GetName(), "apiKeys/"), secret
	}
	lw, group := org("Outage link workers", "link_worker_service"), org("Outage choir", "community_group")
	f.lwOrg = lw.String()
	_, f.lwKey = key(lw, auth.RoleLinkWorker)
	f.doomedKeyID, f.doomedKey = key(lw, auth.RoleLinkWorker)
	_, f.groupEditorKey = key(group, auth.RoleGroupEditor)
	f.assetID = mustCall(t, d, "POST", "/v1/assets", f.groupEditorKey, `{"kind":"ASSET_KIND_ASSOCIATION","display_name":"Outage choir",
		"categories":["social_connection"],"accepting_referrals":true,
		"location":{"latitude":52.4862,"longitude":-1.8904,"country":"GB"}}`)["name"].(string)
	f.personID = mustCall(t, d, "POST", "/v1/people", f.lwKey,
		`{"display_name":"O. T.","consent":{"share_with_provider":true,"scopes":["CONSENT_SCOPE_BASIC"]}}`)["name"].(string)
	return f
}

// loadResult is what one request of the mixed load got.
type loadResult struct {
	start  time.Time
	what   string
	status int // 0: no HTTP answer
	reply  reply
	err    error
}

// Finding 5: kill -9 of the embedded postmaster under mixed load. The same
// sparcd answers again within 15 s, every failure meanwhile is 503 with
// Retry-After (never 500), creates with request ids are exactly-once, and
// the LISTEN loops behind the key cache and the referral hub reconnect.
func TestSparcdRidesOutADatabaseCrash(t *testing.T) {
	t.Parallel()
	bin := buildSparcd(t)
	// The load is a few clients on two keys, well over the per-key limit.
	d := startSparcd(t, bin, testenv.DataDir(t), true, "--rate-limit", "100000", "--rate-burst", "100000")
	f := newCrashFixture(t, d)
	ctx := context.Background()

	var (
		mu        sync.Mutex
		results   []loadResult
		confirmed = map[string]string{} // request id -> referral id
		created   atomic.Int64
		nextReq   atomic.Int64
		load      = testenv.NewLoad(t)
	)
	record := func(r loadResult) {
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	}
	worker := func(n int, what, key, path string) {
		load.Go(n, func() bool {
			start := time.Now()
			r, err := call(d, "GET", path, key, "")
			record(loadResult{start: start, what: what, status: r.status, reply: r, err: err})
			if r.status != 200 {
				time.Sleep(20 * time.Millisecond) // a client backs off a little
			}
			return true
		})
	}
	worker(3, "search", "", searchPath)
	// The plain-HTTP routes map errors themselves.
	worker(1, "openreferral", "", "/openreferral/services?per_page=5")
	worker(1, "coverage csv", "", "/v1/coverage.csv?parent_code=E02001875") // no areas loaded: an unknown kind is a 400
	worker(1, "list", f.lwKey, "/v1/referrals?page_size=20")
	worker(1, "list with the doomed key", f.doomedKey, "/v1/referrals?page_size=5")
	// Creators retry a request id until it is confirmed, as a client
	// would, and only then take the next one: at the end no create is in
	// doubt.
	load.Go(3, func() bool {
		rid := fmt.Sprintf("outage-%04d", nextReq.Add(1))
		body := fmt.Sprintf(`{"request_id":%q,"person":%q,"asset":%q,"reasons":["social_connection"]}`, rid, f.personID, f.assetID)
		for attempt := 0; ; attempt++ {
			start := time.Now()
			r, err := call(d, "POST", "/v1/referrals", f.lwKey, body)
			record(loadResult{start: start, what: "create", status: r.status, reply: r, err: err})
			if err == nil && r.status == 200 {
				var ref struct{ Name string }
				if json.Unmarshal(r.body, &ref) != nil || ref.Name == "" {
					t.Errorf("create %s: %s", rid, r.body)
					return false
				}
				mu.Lock()
				confirmed[rid] = ref.Name
				mu.Unlock()
				created.Add(1)
				return true
			}
			if err == nil && r.status != 503 || attempt > 200 {
				t.Errorf("create %s, attempt %d: %v HTTP %d %s", rid, attempt, err, r.status, r.body)
				return false
			}
			// Retry-After says 1 s; a busy client comes back sooner.
			time.Sleep(100 * time.Millisecond)
		}
	})
	testenv.Until(t, time.Minute, "30 creates before the crash", func() bool { return created.Load() >= 30 })

	killed := time.Now()
	if err := syscall.Kill(f.postmasterPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Answering again: the first search started after the kill that
	// succeeds, once a request has seen the outage.
	sawOutage := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range results {
			if r.start.After(killed) && r.status == 503 {
				return true
			}
		}
		return false
	}
	testenv.Until(t, 15*time.Second, "a request failing during the outage", sawOutage)
	var back time.Duration
	testenv.Until(t, 15*time.Second-time.Since(killed), "an answer within 15 s of the crash", func() bool {
		r, err := call(d, "GET", searchPath, "", "")
		back = time.Since(killed)
		return err == nil && r.status == 200
	})
	t.Logf("answering again %v after kill -9", back.Round(time.Millisecond))
	for _, line := range strings.Split(d.log(), "\n") {
		if strings.Contains(line, "PostgreSQL") {
			t.Log(line)
		}
	}
	after := created.Load()
	testenv.Until(t, time.Minute, "30 creates after the restart", func() bool { return created.Load() >= after+30 })
	load.Stop()

	// Every request got an answer, and every failure was a 503 telling
	// the client when to retry: never a 500.
	counts := map[string]int{}
	for _, r := range results {
		counts[fmt.Sprintf("%s %d", r.what, r.status)]++
		switch {
		case r.err != nil:
			t.Errorf("%s at %v: %v", r.what, r.start.Sub(killed), r.err)
		case r.status == 503 && r.reply.retryAfter == "":
			t.Errorf("%s at %v: 503 without Retry-After", r.what, r.start.Sub(killed))
		case r.status != 200 && r.status != 503:
			t.Errorf("%s at %v: HTTP %d %s", r.what, r.start.Sub(killed), r.status, r.reply.body)
		}
	}
	t.Logf("answers: %v", counts)
	select {
	case <-d.exited:
		t.Fatalf("sparcd exited: %v\n%s", d.exitErr, d.log())
	default:
	}
	if !strings.Contains(d.log(), "embedded PostgreSQL restarted") {
		t.Errorf("the restart is not logged:\n%s", d.log())
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := getStatus(t, d.url(path)); code != 200 {
			t.Errorf("GET %s after the restart: %d %s", path, code, body)
		}
	}
	if t.Failed() {
		return
	}

	// Exactly once: retrying each create now gives the referral first
	// confirmed, and the database holds one referral per request id.
	for rid, id := range confirmed {
		body := fmt.Sprintf(`{"request_id":%q,"person":%q,"asset":%q,"reasons":["social_connection"]}`, rid, f.personID, f.assetID)
		if got := mustCall(t, d, "POST", "/v1/referrals", f.lwKey, body)["name"]; got != id {
			t.Errorf("retrying %s gave referral %v, first answer %s", rid, got, id)
		}
	}
	owner := ownerPool(t, f.dbURL) // the first one's connections died with the server
	stored := map[string]string{}
	rows, err := owner.Query(ctx, `SELECT request_id, 'referrals/' || id::text FROM referrals WHERE referring_org = $1`, f.lwOrg)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var rid, id string
		if err := rows.Scan(&rid, &id); err != nil {
			t.Fatal(err)
		}
		if _, dup := stored[rid]; dup {
			t.Errorf("request id %s stored twice", rid)
		}
		stored[rid] = id
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(confirmed) {
		t.Errorf("%d referrals stored for %d confirmed request ids", len(stored), len(confirmed))
	}
	for rid, id := range confirmed {
		if stored[rid] != id {
			t.Errorf("request %s: answered %s, stored %q", rid, id, stored[rid])
		}
	}
	t.Logf("%d creates, each stored once", len(confirmed))

	// The LISTEN loops are back on the new server: the key cache's, the
	// referral hub's, the postcode cache's and the search index's, each
	// once.
	testenv.Until(t, 15*time.Second, "the four LISTEN connections re-established", func() bool {
		var channels []string
		err := owner.QueryRow(ctx, `SELECT coalesce(array_agg(query ORDER BY query), '{}') FROM pg_stat_activity
			WHERE application_name = 'sparcd' AND query ILIKE 'LISTEN %' AND backend_start > $1`, killed).Scan(&channels)
		return err == nil && slices.Equal(channels, []string{`LISTEN "asset_index"`, `LISTEN "sparc_credentials"`, `LISTEN "sparc_postcodes"`, `LISTEN "sparc_referrals"`})
	})
	// And the key cache hears of changes again: a key cached after the
	// restart, revoked behind this sparcd's back (another replica, psql),
	// stops working.
	for range 2 {
		mustCall(t, d, "GET", "/v1/referrals?page_size=1", f.doomedKey, "")
	}
	if _, err := owner.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1`, f.doomedKeyID); err != nil {
		t.Fatal(err)
	}
	testenv.Until(t, 5*time.Second, "the revoked key refused", func() bool {
		r, err := call(d, "GET", "/v1/referrals?page_size=1", f.doomedKey, "")
		return err == nil && r.status == 401
	})
	d.stop()
}

// A server that cannot be started again fails /healthz after
// --db-down-limit, so that a process manager restarts sparcd; sparcd keeps
// trying and is healthy again once the server can start.
func TestSparcdHealthzFailsWhileTheDatabaseCannotComeBack(t *testing.T) {
	t.Parallel()
	bin := buildSparcd(t)
	dataDir := testenv.DataDir(t)
	d := startSparcd(t, bin, dataDir, true, "--db-down-limit", "2s")
	pgdata := filepath.Join(dataDir, "pgdata")
	// Cleanups run last first: the data is back before sparcd is stopped.
	t.Cleanup(func() { _ = os.Rename(pgdata+".away", pgdata) })
	pid, _ := postmaster(t, dataDir)

	// The data directory goes away (a lost mount), then the server dies.
	if err := os.Rename(pgdata, pgdata+".away"); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testenv.Until(t, 30*time.Second, "/healthz failing", func() bool {
		code, _ := getStatus(t, d.url("/healthz"))
		return code == 503
	})
	if down := time.Since(killed); down < 2*time.Second {
		t.Fatalf("/healthz failed %v after the crash, before --db-down-limit", down)
	}
	r, err := call(d, "GET", searchPath, "", "")
	if err != nil || r.status != 503 || r.retryAfter == "" {
		t.Fatalf("search while down: %v HTTP %d Retry-After %q %s", err, r.status, r.retryAfter, r.body)
	}
	// Logged at the first failed restart past the limit (backoff: 5 s at most).
	testenv.Until(t, 10*time.Second, "the outage logged as an error", func() bool {
		return strings.Contains(d.log(), "embedded PostgreSQL cannot be restarted")
	})

	if err := os.Rename(pgdata+".away", pgdata); err != nil {
		t.Fatal(err)
	}
	testenv.Until(t, 30*time.Second, "healthy and answering again", func() bool {
		code, _ := getStatus(t, d.url("/healthz"))
		r, err := call(d, "GET", searchPath, "", "")
		return code == 200 && err == nil && r.status == 200
	})
	d.stop()
}

// Finding 10: sparcd running as root used to open up the data dir's
// parents (0700 -> 0711) without a word. It must leave them alone and say
// what to do instead.
func TestSparcdLeavesTheDataDirParentsAlone(t *testing.T) {
	t.Parallel()
	bin := buildSparcd(t)
	closed := filepath.Join(testenv.DataDir(t), "closed")
	if err := os.MkdirAll(filepath.Dir(closed), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(closed, 0o700); err != nil { // whatever the umask
		t.Fatal(err)
	}
	dataDir := filepath.Join(closed, "sparc")
	if os.Geteuid() != 0 {
		// The server runs as us, the owner of closed: it starts.
		startSparcd(t, bin, dataDir, true).stop()
	} else {
		d := startSparcd(t, bin, dataDir, false)
		select {
		case <-d.exited:
		case <-time.After(time.Minute):
			t.Fatalf("sparcd still running on an unreachable data dir:\n%s", d.log())
		}
		if d.exitErr == nil {
			t.Fatal("sparcd exited 0")
		}
		for _, want := range []string{"cannot enter " + closed, "chmod o+x " + closed, "--data-dir"} {
			if !strings.Contains(d.log(), want) {
				t.Errorf("sparcd's message lacks %q:\n%s", want, d.log())
			}
		}
	}
	if fi, err := os.Stat(closed); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("%s: mode %v (%v), want it left at 0700", closed, fi.Mode().Perm(), err)
	}
}
