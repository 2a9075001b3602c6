package pgcluster_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sparc-network/sparc/internal/pgcluster"
	"github.com/sparc-network/sparc/internal/testenv"
)

func postmasterPID(t *testing.T, pgdata string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pgdata, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(line)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// A killed server is started again on the same socket, with its data, and
// the crash and the restart are logged through the configured logger.
func TestSupervisorRestartsAKilledServer(t *testing.T) {
	t.Parallel()
	dir := testenv.DataDir(t)
	var logs testenv.LogBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Fast: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if !strings.Contains(logs.String(), "embedded PostgreSQL started") {
		t.Fatalf("start not logged through the configured logger:\n%s", logs.String())
	}
	// CHECKPOINT: the test cluster does not wait for commits to reach the
	// WAL, and a crash loses what is only in shared memory.
	psql(t, c, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
	psql(t, c, "CHECKPOINT")

	restarted := make(chan struct{}, 4)
	sup := c.Supervise(pgcluster.SuperviseOptions{Restarted: func() { restarted <- struct{}{} }})
	first := postmasterPID(t, filepath.Join(dir, "pgdata"))
	began := time.Now()
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-restarted:
	case <-time.After(15 * time.Second):
		t.Fatalf("not restarted 15 s after the kill:\n%s", logs.String())
	}
	t.Logf("restarted %v after kill -9", time.Since(began).Round(time.Millisecond))
	if got := psql(t, c, "SELECT v FROM kept"); got != "still here" {
		t.Fatalf("after the restart: %q", got)
	}
	if pid := postmasterPID(t, filepath.Join(dir, "pgdata")); pid == first {
		t.Fatalf("postmaster pid %d unchanged: the server was not started again", pid)
	}
	if err := sup.Healthy(); err != nil || sup.Restarts() != 1 {
		t.Fatalf("after one restart: healthy %v, restarts %d", err, sup.Restarts())
	}
	for _, want := range []string{"stopped unexpectedly", "embedded PostgreSQL restarted"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}

	// Stop ends supervision: the stopped server stays stopped.
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pgdata", "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("server running after Stop: %v", err)
	}
	if n := sup.Restarts(); n != 1 {
		t.Fatalf("%d restarts after Stop, want 1", n)
	}
}

// A server that cannot be started again makes Healthy fail once the
// outage passes DownLimit, and healthy again when it comes back.
func TestSupervisorReportsAServerThatCannotComeBack(t *testing.T) {
	t.Parallel()
	dir := testenv.DataDir(t)
	c := start(t, dir)
	pgdata := filepath.Join(dir, "pgdata")
	t.Cleanup(func() { _ = c.Stop() })
	// Whatever happens, give the data back before Stop (cleanups run last first).
	t.Cleanup(func() { _ = os.Rename(pgdata+".away", pgdata) })
	sup := c.Supervise(pgcluster.SuperviseOptions{DownLimit: 500 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})

	// The data directory disappears (a lost mount), then the server dies.
	pid := postmasterPID(t, pgdata)
	if err := os.Rename(pgdata, pgdata+".away"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := sup.Healthy(); err != nil {
		t.Fatalf("unhealthy at once, before DownLimit: %v", err)
	}
	testenv.Until(t, 20*time.Second, "Healthy failing", func() bool { return sup.Healthy() != nil })
	if err := sup.Healthy(); !strings.Contains(err.Error(), "down for") || !strings.Contains(err.Error(), "pgdata") {
		t.Fatalf("Healthy says %q; want how long and why", err)
	}

	if err := os.Rename(pgdata+".away", pgdata); err != nil {
		t.Fatal(err)
	}
	// Healthy as soon as the new server runs; restarted once it is ready.
	took := testenv.Until(t, 20*time.Second, "restarted and healthy", func() bool { return sup.Restarts() == 1 && sup.Healthy() == nil })
	t.Logf("healthy %v after the data came back", took.Round(time.Millisecond))
	if got := psql(t, c, "SELECT 1"); got != "1" || sup.Restarts() != 1 {
		t.Fatalf("after recovery: %q, %d restarts", got, sup.Restarts())
	}
}

// modes records the permissions of dir's existing ancestors.
func modes(t *testing.T, dir string) map[string]fs.FileMode {
	t.Helper()
	m := map[string]fs.FileMode{}
	for p := dir; ; p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err == nil {
			m[p] = fi.Mode().Perm()
		}
		if p == filepath.Dir(p) {
			return m
		}
	}
}

func sameModes(t *testing.T, before, after map[string]fs.FileMode) {
	t.Helper()
	for p, m := range before {
		if after[p] != m {
			t.Errorf("%s changed from %v to %v", p, m, after[p])
		}
	}
}

// Finding 10: running as root, Start used to make every directory above
// the data directory enterable (0700 -> 0711) without a word. It must
// leave the operator's directories alone and say what to do instead.
func TestParentPermissionsAreNeverChanged(t *testing.T) {
	t.Parallel()
	closed := filepath.Join(testenv.DataDir(t), "closed")
	if err := os.MkdirAll(closed, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(closed, "db")
	before := modes(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Fast: true})
	sameModes(t, before, modes(t, dir))
	if os.Geteuid() == 0 {
		// The server runs as "postgres", who cannot enter closed.
		if err == nil {
			c.Stop()
			t.Fatal("started in a directory the server's user cannot enter")
		}
		for _, want := range []string{`"postgres"`, "cannot enter " + closed, "chmod o+x " + closed, "--data-dir"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		// The operator follows the advice.
		if err := os.Chmod(closed, 0o711); err != nil {
			t.Fatal(err)
		}
		before = modes(t, dir)
		if c, err = pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Fast: true}); err != nil {
			t.Fatalf("after chmod o+x: %v", err)
		}
		sameModes(t, before, modes(t, dir))
	} else if err != nil {
		// Not root: the server runs as us, who own closed.
		t.Fatalf("start as the owner of the directories: %v", err)
	}
	if got := psql(t, c, "SELECT 1"); got != "1" {
		t.Fatalf("SELECT 1: %q", got)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
}

// superviseAsSubreaper is the child process of
// TestSupervisorReapsTheServerItInherits: a subreaper inherits the server
// when pg_ctl exits, as PID 1 of a container does.
func superviseAsSubreaper(dir string) {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		fmt.Println("error: prctl:", errno)
		os.Exit(1)
	}
	c, err := pgcluster.Start(context.Background(), pgcluster.Options{Dir: dir, Fast: true})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	c.Supervise(pgcluster.SuperviseOptions{Restarted: func() { fmt.Println("restarted") }})
	fmt.Println("ready")
	select {}
}

// When sparcd is PID 1 of a container, the server it starts becomes its
// child once pg_ctl exits; killed, it stays a zombie until sparcd reaps
// it, and PostgreSQL will not start while that pid exists.
func TestSupervisorReapsTheServerItInherits(t *testing.T) {
	t.Parallel()
	dir := testenv.DataDir(t)
	cmd, out := startHelper(t, "PGCLUSTER_SUBREAPER_DIR", dir)
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func() string {
		select {
		case l := <-lines:
			return l
		case <-time.After(2 * time.Minute):
			t.Fatal("helper silent for 2 minutes")
			return ""
		}
	}
	if l := next(); l != "ready" {
		t.Fatalf("helper: %q", l)
	}
	pid := postmasterPID(t, filepath.Join(dir, "pgdata"))
	// The set-up is the container's: the server is the helper's child.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// "pid (comm) state ppid ..."
	if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) < 2 || f[1] != strconv.Itoa(cmd.Process.Pid) {
		t.Fatalf("postmaster %d is not a child of the helper %d: %q", pid, cmd.Process.Pid, b)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-lines:
		if l != "restarted" {
			t.Fatalf("helper: %q", l)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("not restarted within 20 s of the kill")
	}
}

// slowPgCtl makes a bin dir whose pg_ctl, once the file "slow" exists
// beside it, starts the server and then reports failure after a while, as
// pg_ctl -w does when crash recovery outlasts its timeout.
func slowPgCtl(t *testing.T) (binDir string) {
	t.Helper()
	binDir = testenv.DataDir(t) // the server's OS user must reach it
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"initdb", "postgres", "psql"} {
		if err := os.Symlink(filepath.Join(pgcluster.DefaultBinDir, b), filepath.Join(binDir, b)); err != nil {
			t.Fatal(err)
		}
	}
	script := fmt.Sprintf(`#!/bin/sh
%s "$@"; rc=$?
case " $* " in *" start "*) [ -e %s ] && { sleep 3; exit 1; } ;; esac
exit $rc
`, filepath.Join(pgcluster.DefaultBinDir, "pg_ctl"), filepath.Join(binDir, "slow"))
	if err := os.WriteFile(filepath.Join(binDir, "pg_ctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return binDir
}

// A server that is back but still recovering when pg_ctl stops waiting is
// adopted, and is not reported unhealthy meanwhile: a process manager
// restarting sparcd then would only start the recovery over.
func TestSupervisorAdoptsAServerStillRecovering(t *testing.T) {
	t.Parallel()
	binDir := slowPgCtl(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: testenv.DataDir(t), BinDir: binDir, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	restarted := make(chan struct{}, 4)
	sup := c.Supervise(pgcluster.SuperviseOptions{DownLimit: 300 * time.Millisecond,
		Restarted: func() { restarted <- struct{}{} }})
	if err := os.WriteFile(filepath.Join(binDir, "slow"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	// Healthy may fail only until the new server runs; sample it until the
	// supervisor has adopted the server.
	var lastFailure time.Time
	for done := false; !done; {
		select {
		case <-restarted:
			done = true
		case <-time.After(20 * time.Millisecond):
			if sup.Healthy() != nil {
				lastFailure = time.Now()
			}
		case <-ctx.Done():
			t.Fatal("the running server was never adopted")
		}
	}
	adopted := time.Now()
	// The wrapper reports failure 3 s after the server started: any
	// failure in the last 2.5 s before adoption is one while it ran.
	if !lastFailure.IsZero() && adopted.Sub(lastFailure) < 2500*time.Millisecond {
		t.Fatalf("unhealthy %v before adoption, while the new server ran", adopted.Sub(lastFailure))
	}
	if err := sup.Healthy(); err != nil {
		t.Fatal(err)
	}
	if got := psql(t, c, "SELECT 1"); got != "1" {
		t.Fatalf("SELECT 1: %q", got)
	}
	// The adopted server is the one supervised now.
	if err := os.Remove(filepath.Join(binDir, "slow")); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-restarted:
	case <-time.After(20 * time.Second):
		t.Fatal("the adopted server's crash was not noticed")
	}
}
