package pgcluster_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sparc-network/sparc/internal/pgcluster"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv("PGCLUSTER_HELPER_DIR"); dir != "" {
		holdCluster(dir)
		return
	}
	if dir := os.Getenv("PGCLUSTER_SUBREAPER_DIR"); dir != "" {
		superviseAsSubreaper(dir)
		return
	}
	os.Exit(testenv.Main(m))
}

// holdCluster is the child process of TestCrashedOwnerLeavesARecoverableCluster:
// it starts a cluster, says so, and waits to be killed.
func holdCluster(dir string) {
	c, err := pgcluster.Start(context.Background(), pgcluster.Options{Dir: dir, Fast: true})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready", c.Port())
	select {}
}

// startHelper runs this test binary as the child process that TestMain
// turns into by env (holdCluster, superviseAsSubreaper) on dir, and
// returns it with its output. Whatever the test does, the child and any
// server it started are gone when the test ends.
func startHelper(t *testing.T, env, dir string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if _, err := os.Stat(filepath.Join(dir, "pgdata", "postmaster.pid")); err == nil {
			_ = exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgcluster.DefaultBinDir, "pg_ctl"),
				"-D", filepath.Join(dir, "pgdata"), "-m", "immediate", "stop").Run()
		}
	})
	return cmd, out
}

func start(t *testing.T, dir string) *pgcluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Fast: true})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return c
}

func psql(t *testing.T, c *pgcluster.Cluster, sql string) string {
	t.Helper()
	out, err := c.Psql(context.Background(), "sparc", sql)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func TestDataSurvivesRestartAndTheDirIsLockedWhileRunning(t *testing.T) {
	t.Parallel()
	dir := testenv.DataDir(t)
	c := start(t, dir)
	psql(t, c, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")

	began := time.Now()
	_, err := pgcluster.Start(context.Background(), pgcluster.Options{Dir: dir, Fast: true})
	if !errors.Is(err, pgcluster.ErrInUse) {
		t.Fatalf("second start on a running dir: %v, want ErrInUse", err)
	}
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Fatalf("error %q does not name the dir and the holding process", err)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Fatalf("refusal took %v; it should be at once", d)
	}
	// The refused attempt did not disturb the running cluster.
	if got := psql(t, c, "SELECT v FROM kept"); got != "still here" {
		t.Fatalf("after the refused start: %q", got)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pgdata", "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("server still running after Stop: %v", err)
	}

	c = start(t, dir)
	defer c.Stop()
	if got := psql(t, c, "SELECT v FROM kept"); got != "still here" {
		t.Fatalf("after restart: %q", got)
	}
	// The password stays private to the data dir's owner.
	fi, err := os.Stat(filepath.Join(dir, "pg-password"))
	if err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("pg-password: %v, mode %v", err, fi.Mode())
	}
}

// sparcd killed with SIGKILL leaves its PostgreSQL running; the next start
// on the data dir must take it over and come up, data intact.
func TestCrashedOwnerLeavesARecoverableCluster(t *testing.T) {
	t.Parallel()
	dir := testenv.DataDir(t)
	cmd, out := startHelper(t, "PGCLUSTER_HELPER_DIR", dir)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready") {
		t.Fatalf("helper: %q %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, "pgdata", "postmaster.pid")); err != nil {
		t.Fatalf("expected the orphaned server to be running: %v", err)
	}

	c := start(t, dir)
	defer c.Stop()
	if got := psql(t, c, "SELECT 1"); got != "1" {
		t.Fatalf("after recovery: %q", got)
	}
}

func TestMissingBinariesAreReportedClearly(t *testing.T) {
	_, err := pgcluster.Start(context.Background(), pgcluster.Options{Dir: t.TempDir(), BinDir: "/nonexistent/bin"})
	if err == nil || !strings.Contains(err.Error(), "not found in /nonexistent/bin") {
		t.Fatalf("got %v", err)
	}
}

// Dump of a stopped data dir starts the cluster for the dump and stops it
// after; Restore refuses a data dir that holds anything, and an archive
// that is not one leaves nothing behind.
func TestDumpStoppedClusterAndRestoreRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := testenv.DataDir(t)
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Psql(ctx, "sparc", "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('dumped while stopped')"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "a.dump")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := pgcluster.Dump(ctx, pgcluster.Options{Dir: dir, Fast: true}, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(dir, "pgdata", "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Dump left the cluster it started running: %v", err)
	}
	fresh := filepath.Join(testenv.DataDir(t), "fresh")
	if err := pgcluster.Restore(ctx, pgcluster.Options{Dir: fresh, Fast: true}, archive); err != nil {
		t.Fatal(err)
	}
	r, err := pgcluster.Start(ctx, pgcluster.Options{Dir: fresh, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Psql(ctx, "sparc", "SELECT v FROM kept")
	if stopErr := r.Stop(); stopErr != nil {
		t.Fatal(stopErr)
	}
	if err != nil || strings.TrimSpace(out) != "dumped while stopped" {
		t.Fatalf("restored table: %q %v", out, err)
	}

	if err := pgcluster.Restore(ctx, pgcluster.Options{Dir: dir, Fast: true}, archive); !errors.Is(err, pgcluster.ErrNotEmpty) {
		t.Fatalf("restore over a cluster: %v, want ErrNotEmpty", err)
	}
	garbage := filepath.Join(t.TempDir(), "not-a-dump")
	if err := os.WriteFile(garbage, []byte("PGDMP but not really"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := testenv.DataDir(t)
	if err := pgcluster.Restore(ctx, pgcluster.Options{Dir: empty, Fast: true}, garbage); err == nil {
		t.Fatal("a file that is not an archive restores")
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Fatalf("a failed restore left %d entries in %s", len(entries), empty)
	}
}
