package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/orgs"
	"github.com/sparc-network/sparc/internal/pgcluster"
	"github.com/sparc-network/sparc/internal/testenv"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildOut  []byte
	buildErr  error
)

func TestMain(m *testing.M) {
	code := testenv.Main(m)
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildSparcd compiles this command once for the package's tests, with
// the race detector when the tests run with it.
func buildSparcd(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "sparcd-bin-"); buildErr != nil {
			return
		}
		args := []string{"build", "-o", filepath.Join(buildDir, "sparcd")}
		if raceEnabled {
			args = append(args, "-race")
		}
		buildOut, buildErr = exec.Command("go", append(args, ".")...).CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return filepath.Join(buildDir, "sparcd")
}

// daemon is one running sparcd process.
type daemon struct {
	t       *testing.T
	cmd     *exec.Cmd
	dataDir string
	http    string // host:port
	stderr  testenv.LogBuffer
	exited  chan struct{}
	exitErr error
}

var readyRe = regexp.MustCompile(`HTTP/JSON: https?://(\S+)`)

// startSparcd starts the binary on dataDir with free ports and any extra
// flags. When wantReady is false it only starts it (for processes expected
// to fail).
func startSparcd(t *testing.T, bin, dataDir string, wantReady bool, flags ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, dataDir: dataDir, exited: make(chan struct{})}
	d.cmd = exec.Command(bin, append([]string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--shutdown-timeout", "20s"}, flags...)...)
	d.cmd.Env = append(os.Environ(), "SPARC_DATA_DIR="+dataDir, "DATABASE_URL=", "SPARC_LOG_LEVEL=info",
		// The load below comes from one address without a key: lift its budget.
		"SPARC_ANONYMOUS_RATE_LIMIT=1000000", "SPARC_ANONYMOUS_RATE_BURST=1000000")
	pipe, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			_, _ = d.stderr.Write([]byte(line + "\n"))
			if m := readyRe.FindStringSubmatch(line); m != nil {
				select {
				case ready <- m[1]:
				default:
				}
			}
		}
		d.exitErr = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(d.kill)
	if !wantReady {
		return d
	}
	select {
	case d.http = <-ready:
	case <-d.exited:
		t.Fatalf("sparcd exited before it was ready: %v\n%s", d.exitErr, d.log())
	case <-time.After(2 * time.Minute):
		t.Fatalf("sparcd not ready after 2 minutes:\n%s", d.log())
	}
	return d
}

func (d *daemon) log() string { return d.stderr.String() }

// stop sends SIGTERM and waits for a clean exit with the embedded
// PostgreSQL stopped.
func (d *daemon) stop() {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.t.Fatal(err)
	}
	d.waitClean()
}

func (d *daemon) waitClean() {
	d.t.Helper()
	select {
	case <-d.exited:
	case <-time.After(90 * time.Second):
		d.t.Fatalf("sparcd still running 90 s after SIGTERM:\n%s", d.log())
	}
	if d.exitErr != nil {
		d.t.Fatalf("sparcd exited with %v after SIGTERM:\n%s", d.exitErr, d.log())
	}
	if _, err := os.Stat(filepath.Join(d.dataDir, "pgdata", "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		d.t.Fatalf("the embedded PostgreSQL is still running after sparcd exited (postmaster.pid: %v)\n%s", err, d.log())
	}
}

// kill is the cleanup for a test that failed half way: never leave a
// sparcd or its PostgreSQL behind.
func (d *daemon) kill() {
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		_ = exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgcluster.DefaultBinDir, "pg_ctl"),
			"-D", filepath.Join(d.dataDir, "pgdata"), "-m", "immediate", "stop").Run()
	}
}

func (d *daemon) url(path string) string { return "http://" + d.http + path }

// bootstrapAdmin issues the first network admin key on a stopped data
// dir, as `sparc keys bootstrap` does, and with it an organisation admin's
// key, which it returns. It needs the data dir lock, so it also
// proves the previous sparcd released it.
func bootstrapAdmin(t *testing.T, dataDir string) string {
	t.Helper()
	ctx := context.Background()
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dataDir, Database: "sparc"})
	if err != nil {
		t.Fatalf("starting the stopped data dir: %v", err)
	}
	defer func() {
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
	}()
	owner, err := db.Open(ctx, c.URL("sparc"), 2)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Migrate(ctx, owner)
	owner.Close()
	if err != nil {
		t.Fatal(err)
	}
	pool, err := db.OpenApp(ctx, c.URL("sparc"), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	_, org, err := orgs.Bootstrap(ctx, pool, "Process test admin")
	if err != nil {
		t.Fatal(err)
	}
	// The bootstrap key is the network admin's, who writes no assets: as
	// the network admin, issue the organisation its own admin key.
	_, key, err := auth.NewKeyStore(pool).Create(auth.NetworkContext(ctx, "test"), uuid.MustParse(org), auth.RoleAdmin, "process test")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

const assetJSON = `{"kind":"ASSET_KIND_ASSOCIATION","display_name":%q,"categories":["physical_activity"],
	"location":{"latitude":52.4862,"longitude":-1.8904,"country":"GB"}}`

func createOverHTTP(t *testing.T, d *daemon, key, name string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", d.url("/v1/assets"), strings.NewReader(fmt.Sprintf(assetJSON, name)))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Name string }
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(body, &out) != nil || out.Name == "" {
		t.Fatalf("create: HTTP %d %s", resp.StatusCode, body)
	}
	return strings.TrimPrefix(out.Name, "assets/")
}

func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The life of a deployment: first start initialises the embedded
// database; data survives restarts; a second sparcd on the same data dir
// is refused at once; SIGTERM under load lets in-flight requests finish,
// exits 0 and stops PostgreSQL.
func TestSparcdProcessLifecycle(t *testing.T) {
	t.Parallel()
	bin := buildSparcd(t)
	dataDir := testenv.DataDir(t)

	// First run: initdb, migrations, health and readiness.
	a := startSparcd(t, bin, dataDir, true)
	for _, path := range []string{"/healthz", "/readyz", "/openapi.json", "/v1/vocabulary"} {
		if code, body := getStatus(t, a.url(path)); code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
	}
	a.stop()

	key := bootstrapAdmin(t, dataDir)

	// Second run: create, and a rival process is refused.
	b := startSparcd(t, bin, dataDir, true)
	kept := createOverHTTP(t, b, key, "Survives restarts")

	began := time.Now()
	rival := startSparcd(t, bin, dataDir, false)
	select {
	case <-rival.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("a second sparcd on the same data dir is still running after 20 s:\n%s", rival.log())
	}
	var exit *exec.ExitError
	if !errors.As(rival.exitErr, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("second sparcd exit: %v, want a non-zero exit", rival.exitErr)
	}
	if msg := rival.log(); !strings.Contains(msg, "data directory is in use") || !strings.Contains(msg, dataDir) {
		t.Fatalf("second sparcd's message does not say the data dir %s is in use:\n%s", dataDir, msg)
	}
	t.Logf("second sparcd refused after %v", time.Since(began).Round(time.Millisecond))
	if code, _ := getStatus(t, b.url("/readyz")); code != 200 {
		t.Fatalf("the first sparcd is not ready after the rival's attempt: %d", code)
	}

	// SIGTERM under load.
	inFlight := underLoad(t, b, key)

	// Third run: both assets are there.
	c := startSparcd(t, bin, dataDir, true)
	for _, id := range []string{kept, inFlight} {
		if code, body := getStatus(t, c.url("/v1/assets/"+id)); code != 200 {
			t.Fatalf("asset %s after restart: %d %s", id, code, body)
		}
	}
	c.stop()
}

type outcome struct {
	start, end time.Time
	status     int
	err        error
}

// underLoad runs a steady stream of searches, holds one create request in
// flight (its body half sent), sends SIGTERM, then completes the create.
// It returns the id of that asset.
func underLoad(t *testing.T, d *daemon, key string) string {
	t.Helper()
	var mu sync.Mutex
	var outcomes []outcome
	client := &http.Client{Timeout: 30 * time.Second}
	load := testenv.NewLoad(t)
	load.Go(6, func() bool {
		o := outcome{start: time.Now()}
		resp, err := client.Get(d.url(searchPath))
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			o.status = resp.StatusCode
		}
		o.err, o.end = err, time.Now()
		mu.Lock()
		outcomes = append(outcomes, o)
		mu.Unlock()
		if err != nil {
			time.Sleep(5 * time.Millisecond) // the server is going away
		}
		return true
	})
	// Enough searches answered well before SIGTERM (the margin below) for
	// the check at the end to mean something.
	const margin = 500 * time.Millisecond
	testenv.Until(t, time.Minute, "ten searches answered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, o := range outcomes {
			if o.err == nil && o.status == 200 && time.Since(o.start) > margin {
				n++
			}
		}
		return n >= 10
	})

	// A create whose body is only half sent: in flight at SIGTERM. It asks
	// to be told to go on (Expect: 100-continue), which the server says
	// once the handler reads the body: then the request is surely in
	// flight.
	body := fmt.Sprintf(assetJSON, "Created across shutdown")
	conn, err := net.Dial("tcp", d.http)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "POST /v1/assets HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		d.http, key, len(body))
	br := bufio.NewReader(conn)
	if cont, err := http.ReadResponse(br, nil); err != nil || cont.StatusCode != http.StatusContinue {
		t.Fatalf("the create was not told to go on: %v %v", cont, err)
	}
	if _, err := io.WriteString(conn, body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}

	sigterm := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Finish the request once the server has stopped accepting.
	testenv.Until(t, 30*time.Second, "the HTTP port refusing connections", func() bool {
		c, err := net.DialTimeout("tcp", d.http, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	if _, err := io.WriteString(conn, body[len(body)/2:]); err != nil {
		t.Fatalf("finishing the in-flight request: %v", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight create got no response: %v\n%s", err, d.log())
	}
	respBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var created struct{ Name string }
	if resp.StatusCode != 200 || json.Unmarshal(respBody, &created) != nil || created.Name == "" {
		t.Fatalf("in-flight create: HTTP %d %s", resp.StatusCode, respBody)
	}

	d.waitClean()
	load.Stop()

	// Requests that started well before SIGTERM all succeeded; later ones
	// either succeeded or could not reach the closed server, but none got
	// an error status.
	var before, after, refused int
	for _, o := range outcomes {
		switch {
		case o.err == nil && o.status != 200:
			t.Errorf("request started %v before SIGTERM answered HTTP %d", sigterm.Sub(o.start), o.status)
		case o.start.Before(sigterm.Add(-margin)):
			before++
			if o.err != nil {
				t.Errorf("request started %v before SIGTERM failed: %v", sigterm.Sub(o.start), o.err)
			}
		case o.err != nil:
			refused++
			if !isConnectionError(o.err) {
				t.Errorf("request after SIGTERM failed with %v, not a connection error", o.err)
			}
		default:
			after++
		}
	}
	t.Logf("%d requests before SIGTERM, %d completed around it, %d could not connect after", before, after, refused)
	if before < 10 {
		t.Fatalf("only %d requests ran before SIGTERM: no load", before)
	}
	return strings.TrimPrefix(created.Name, "assets/")
}

func isConnectionError(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "server closed")
}
