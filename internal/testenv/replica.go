package testenv

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/pgcluster"
)

// Replica is a streaming replica (hot standby) of the package's test
// cluster: a base backup taken with pg_basebackup -R, started on a port
// of its own, replaying the primary's WAL as it comes. Every database of
// the primary, a test's fresh one included, appears on it.
type Replica struct {
	dir, port, password, bin string
	runAs                    *user.User
}

var (
	replicaOnce sync.Once
	replica     *Replica
	replicaErr  error
)

// StartReplica returns the package's replica of the test cluster,
// starting it on first use; it stops when the package's tests end
// (StopReplica, called by Main).
func StartReplica(t testing.TB) *Replica {
	t.Helper()
	c := Cluster(t)
	replicaOnce.Do(func() { replica, replicaErr = startReplica(c) })
	if replicaErr != nil {
		t.Fatalf("starting replica: %v", replicaErr)
	}
	return replica
}

func startReplica(c *pgcluster.Cluster) (*Replica, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	u, err := url.Parse(c.URL(""))
	if err != nil {
		return nil, err
	}
	pw, _ := u.User.Password()
	r := &Replica{password: pw, bin: pgcluster.DefaultBinDir}
	if os.Geteuid() == 0 { // as the cluster: initdb and postgres refuse root
		if r.runAs, err = user.Lookup("postgres"); err != nil {
			return nil, err
		}
	}
	top, err := pgcluster.MkdirTemp("sparc-replica-")
	if err != nil {
		return nil, err
	}
	r.dir = filepath.Join(top, "pgdata")
	if err := r.chown(top); err != nil {
		return nil, err
	}
	if out, err := r.run(ctx, "pg_basebackup", "-D", r.dir, "-R", "-X", "stream", "-c", "fast",
		"-h", "127.0.0.1", "-p", strconv.Itoa(c.Port()), "-U", "postgres", "--no-sync"); err != nil {
		return nil, fmt.Errorf("pg_basebackup: %w\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.port = strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	// hot_standby_feedback: the primary's vacuum keeps rows a replica
	// query still reads, so searches are not cancelled by replay.
	o := "-p " + r.port + " -k " + top + " -c listen_addresses=127.0.0.1 -c hot_standby=on -c hot_standby_feedback=on" +
		" -c shared_buffers=128MB -c fsync=off -c max_connections=200" // as the primary
	if out, err := r.run(ctx, "pg_ctl", "-D", r.dir, "-o", o, "-l", filepath.Join(top, "server.log"), "-w", "-t", "60", "start"); err != nil {
		return nil, fmt.Errorf("starting replica: %w\n%s", err, out)
	}
	return r, nil
}

// StopReplica stops the package's replica, if one was started.
func StopReplica() {
	if replica == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = replica.run(ctx, "pg_ctl", "-D", replica.dir, "-m", "immediate", "-w", "stop")
	_ = os.RemoveAll(filepath.Dir(replica.dir))
}

// URL returns the replica's URL of the database primaryURL names (a URL
// of the test cluster, e.g. from NewDatabase).
func (r *Replica) URL(t testing.TB, primaryURL string) string {
	t.Helper()
	u, err := url.Parse(primaryURL)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%s%s?sslmode=disable", url.QueryEscape(r.password), r.port, u.Path)
}

// ReadPool opens the read pool sparcd would (db.OpenRead) on the replica
// of primary's database, once the replica has the database: created on the
// primary, it exists here once its WAL is replayed.
func (r *Replica) ReadPool(t testing.TB, primary *pgxpool.Pool) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	lsn, err := db.WALPosition(ctx, primary)
	if err != nil {
		t.Fatal(err)
	}
	var pool *pgxpool.Pool
	Until(t, 30*time.Second, "the replica to have the test database", func() bool {
		if pool, err = db.OpenRead(ctx, r.URL(t, primary.Config().ConnString()), 16, nil); err != nil {
			return false
		}
		if err = db.WaitReplayed(ctx, pool, lsn, 10*time.Second); err != nil {
			pool.Close()
			return false
		}
		return true
	})
	t.Cleanup(pool.Close)
	return pool
}

// Psql runs sql as the superuser on the replica's copy of database.
func (r *Replica) Psql(t testing.TB, database, sql string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(r.bin, "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", r.port, "-U", "postgres", "-d", database, "-c", sql)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+r.password)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql on replica: %v: %s", err, out)
	}
	return string(out)
}

func (r *Replica) run(ctx context.Context, bin string, args ...string) (string, error) {
	path := filepath.Join(r.bin, bin)
	var cmd *exec.Cmd
	if r.runAs != nil {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", r.runAs.Username, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Env = append(os.Environ(), "PGPASSWORD="+r.password)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (r *Replica) chown(path string) error {
	if r.runAs == nil {
		return nil
	}
	uid, _ := strconv.Atoi(r.runAs.Uid)
	gid, _ := strconv.Atoi(r.runAs.Gid)
	return os.Chown(path, uid, gid)
}
