// Package pgcluster runs a private PostgreSQL + PostGIS cluster from the
// system binaries, so sparcd works with nothing but `make run` and tests get a
// real database without Docker. The cluster lives in a data directory owned by
// an unprivileged OS user (initdb refuses root), listens on a private Unix
// socket and a free loopback port, and is password protected with a secret
// kept in the data directory. Supervise restarts the server when it dies.
//
// Running as root, the server runs as the OS user "postgres", which must be
// able to enter the data directory and every directory above it. Start
// checks that and fails with a message saying what to do; it never changes
// the permissions of directories it did not create.
package pgcluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options say where and how to run the cluster.
type Options struct {
	// Dir holds the cluster (Dir/pgdata) and its password file.
	Dir string
	// BinDir holds initdb, pg_ctl and postgres. Default: PostgreSQL 15's.
	BinDir string
	// Database is created on first start. Default "sparc".
	Database string
	// Fast trades durability for speed (fsync off): for tests only.
	Fast bool
	// Logger receives progress and supervision lines; nil discards them.
	Logger *slog.Logger
}

// Cluster is a running private PostgreSQL server.
type Cluster struct {
	opts     Options
	pgdata   string
	sockDir  string
	port     int
	password string
	runAs    *user.User // nil when the current user runs the server
	lock     *os.File
	log      *slog.Logger

	mu         sync.Mutex
	postmaster process     // the server started last
	sup        *Supervisor // nil unless Supervise was called
}

// DefaultBinDir is where Debian installs the PostgreSQL 15 server binaries.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

const superuser = "postgres"

// ErrInUse means another process holds the data directory.
var ErrInUse = errors.New("data directory is in use by another sparcd")

// Start initialises the cluster on first use and starts it. The data
// directory is locked for the life of the Cluster, so a second process on
// the same directory fails at once instead of corrupting it.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.BinDir == "" {
		opts.BinDir = DefaultBinDir
	}
	if opts.Database == "" {
		opts.Database = "sparc"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if _, err := os.Stat(filepath.Join(opts.BinDir, "pg_ctl")); err != nil {
		return nil, fmt.Errorf("PostgreSQL server binaries not found in %s (install postgresql-15, or set DATABASE_URL): %w", opts.BinDir, err)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating data dir %s: %w", dir, err)
	}
	c := &Cluster{opts: opts, pgdata: filepath.Join(dir, "pgdata"), log: opts.Logger}
	if err := c.acquireLock(dir); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			c.releaseLock()
		}
	}()
	if os.Geteuid() == 0 {
		u, err := user.Lookup(superuser)
		if err != nil {
			return nil, fmt.Errorf("running as root needs the unprivileged OS user %q to own the cluster: %w", superuser, err)
		}
		c.runAs = u
		if err := c.checkReachable(ctx, dir); err != nil {
			return nil, err
		}
	}
	if err := c.loadOrCreatePassword(dir); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(c.pgdata, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.initdb(ctx); err != nil {
			return nil, err
		}
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	if err := c.ensureDatabase(ctx); err != nil {
		_ = c.Stop()
		return nil, err
	}
	ok = true
	return c, nil
}

func (c *Cluster) acquireLock(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, "sparcd.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("opening lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(f.Name())
		f.Close()
		return fmt.Errorf("%w: %s (held by pid %s); stop it or use another SPARC_DATA_DIR", ErrInUse, dir, strings.TrimSpace(string(holder)))
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	c.lock = f
	return nil
}

func (c *Cluster) releaseLock() {
	if c.lock != nil {
		_ = syscall.Flock(int(c.lock.Fd()), syscall.LOCK_UN)
		c.lock.Close()
		c.lock = nil
	}
}

func (c *Cluster) loadOrCreatePassword(dir string) error {
	path := filepath.Join(dir, "pg-password")
	b, err := os.ReadFile(path)
	if err == nil {
		c.password = strings.TrimSpace(string(b))
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading cluster password: %w", err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	c.password = hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(c.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing cluster password: %w", err)
	}
	return nil
}

func (c *Cluster) initdb(ctx context.Context) error {
	c.log.Info("initialising embedded PostgreSQL cluster", "pgdata", c.pgdata)
	if err := os.MkdirAll(c.pgdata, 0o700); err != nil {
		return err
	}
	pwfile := filepath.Join(c.pgdata, "..", ".pwfile-init")
	if err := os.WriteFile(pwfile, []byte(c.password+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if err := c.chown(c.pgdata, pwfile); err != nil {
		return err
	}
	args := []string{"-D", c.pgdata, "-U", superuser, "--pwfile", pwfile,
		"--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"}
	if c.opts.Fast {
		args = append(args, "--no-sync")
	}
	if out, err := c.run(ctx, "initdb", args...); err != nil {
		_ = os.RemoveAll(c.pgdata) // never leave a half-made cluster behind
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}

func (c *Cluster) start(ctx context.Context) error {
	// A previous sparcd killed without shutdown leaves its postgres running.
	// We hold the lock, so that server is an orphan of ours: stop it first.
	if _, err := os.Stat(filepath.Join(c.pgdata, "postmaster.pid")); err == nil {
		if _, err := c.run(ctx, "pg_ctl", "-D", c.pgdata, "status"); err == nil {
			c.log.Info("stopping orphaned embedded PostgreSQL from an earlier run")
			_, _ = c.run(ctx, "pg_ctl", "-D", c.pgdata, "-m", "fast", "-w", "stop")
		}
	}
	sock, err := os.MkdirTemp("", "sparc-pg-")
	if err != nil {
		return err
	}
	if err := os.Chmod(sock, 0o755); err != nil {
		return err
	}
	if err := c.chown(sock); err != nil {
		return err
	}
	c.sockDir = sock
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		c.port = port
		if lastErr = c.pgCtlStart(ctx); lastErr == nil {
			c.log.Info("embedded PostgreSQL started", "port", port, "socket", sock)
			return nil
		}
	}
	_ = os.RemoveAll(sock)
	return lastErr
}

// pgCtlStart starts the server on c.port and c.sockDir.
func (c *Cluster) pgCtlStart(ctx context.Context) error {
	o := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", c.port, c.sockDir)
	// Tests run several clusters at once; a served directory wants its
	// indexes in memory.
	if c.opts.Fast {
		o += " -c shared_buffers=128MB"
	} else {
		o += " -c shared_buffers=512MB"
	}
	if c.opts.Fast {
		o += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	} else {
		// After a crash the server first syncs every file of the data
		// directory; one syncfs per file system instead of an fsync per
		// file cuts seconds from a restart.
		o += " -c recovery_init_sync_method=syncfs"
	}
	logFile := filepath.Join(c.pgdata, "server.log")
	out, err := c.run(ctx, "pg_ctl", "-D", c.pgdata, "-l", logFile, "-o", o, "-w", "-t", "60", "start")
	if err == nil {
		// Remember which process is the server, for the supervisor.
		p, perr := c.readPostmaster()
		c.mu.Lock()
		c.postmaster = p
		c.mu.Unlock()
		if perr != nil {
			c.log.Warn("embedded PostgreSQL started but its process is unknown; crashes will not be noticed", "err", perr)
		}
		return nil
	}
	tail, _ := os.ReadFile(logFile)
	if len(tail) > 2000 {
		tail = tail[len(tail)-2000:]
	}
	return fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, tail)
}

// readPostmaster reads the server's pid from postmaster.pid.
func (c *Cluster) readPostmaster() (process, error) {
	b, err := os.ReadFile(filepath.Join(c.pgdata, "postmaster.pid"))
	if err != nil {
		return process{}, fmt.Errorf("reading postmaster.pid: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return process{}, fmt.Errorf("postmaster.pid holds no pid: %q", line)
	}
	return processOf(pid), nil
}

// PID is the running server's (the postmaster's) process id, from
// postmaster.pid: the process tree the benchmark charges CPU to.
func (c *Cluster) PID() (int, error) {
	p, err := c.readPostmaster()
	return p.pid, err
}

// Kill sends SIGKILL to the postmaster, as a crash would, so tests can
// prove that clients ride out a database failure. Restart brings it back.
func (c *Cluster) Kill() error {
	p, err := c.readPostmaster()
	if err != nil {
		return err
	}
	if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing postmaster %d: %w", p.pid, err)
	}
	return nil
}

// Restart starts the server again after Kill, on the same port and socket
// directory so existing connection URLs keep working. The backends of a
// killed postmaster take a moment to notice and exit, holding its shared
// memory until then, so starting is retried until ctx ends.
func (c *Cluster) Restart(ctx context.Context) error {
	for {
		err := c.pgCtlStart(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Cluster) ensureDatabase(ctx context.Context) error {
	// psql avoids a pgx dependency here and is always beside the server.
	q := fmt.Sprintf("SELECT 1 FROM pg_database WHERE datname = '%s'", strings.ReplaceAll(c.opts.Database, "'", "''"))
	out, err := c.Psql(ctx, "postgres", q)
	if err != nil {
		return err
	}
	if strings.TrimSpace(out) == "1" {
		return nil
	}
	_, err = c.Psql(ctx, "postgres", fmt.Sprintf(`CREATE DATABASE "%s"`, strings.ReplaceAll(c.opts.Database, `"`, `""`)))
	return err
}

// Psql runs one SQL command as the superuser and returns its unaligned output.
func (c *Cluster) Psql(ctx context.Context, database, sql string) (string, error) {
	psql := filepath.Join(c.opts.BinDir, "psql")
	if _, err := os.Stat(psql); err != nil {
		psql = "psql"
	}
	cmd := exec.CommandContext(ctx, psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", c.sockDir, "-p", strconv.Itoa(c.port), "-U", superuser, "-d", database, "-c", sql)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+c.password)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("psql: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// URL returns a connection URL for database over the Unix socket.
func (c *Cluster) URL(database string) string {
	if database == "" {
		database = c.opts.Database
	}
	q := url.Values{}
	q.Set("host", c.sockDir)
	q.Set("port", strconv.Itoa(c.port))
	q.Set("sslmode", "disable")
	return fmt.Sprintf("postgres://%s:%s@/%s?%s", superuser, url.QueryEscape(c.password), url.PathEscape(database), q.Encode())
}

// Port is the loopback TCP port the server listens on.
func (c *Cluster) Port() int { return c.port }

// Stop shuts the server down (fast mode: open sessions are ended) and
// releases the data directory. It ends supervision first, so that the
// server it stops is not started again.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	sup := c.sup
	c.mu.Unlock()
	if sup != nil {
		sup.Stop()
	}
	defer c.releaseLock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := c.run(ctx, "pg_ctl", "-D", c.pgdata, "-m", "fast", "-w", "stop")
	if c.sockDir != "" {
		_ = os.RemoveAll(c.sockDir)
	}
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, out)
	}
	return nil
}

func (c *Cluster) run(ctx context.Context, bin string, args ...string) (string, error) {
	path := filepath.Join(c.opts.BinDir, bin)
	var cmd *exec.Cmd
	if c.runAs != nil {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.runAs.Username, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	// The server must outlive a Ctrl-C sent to our process group: we stop
	// it ourselves during graceful shutdown.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *Cluster) chown(paths ...string) error {
	if c.runAs == nil {
		return nil
	}
	uid, _ := strconv.Atoi(c.runAs.Uid)
	gid, _ := strconv.Atoi(c.runAs.Gid)
	for _, p := range paths {
		if err := os.Chown(p, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", p, err)
		}
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
