package pgcluster

// Backups of a database as pg_dump custom-format archives. pg_dump reads
// one snapshot, so an archive taken while sparcd serves is consistent: a
// referral is in it with its person or not at all. Restore puts an archive
// into a new cluster in an empty directory, never over live data.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// ErrNotEmpty means Restore was pointed at a directory that holds files.
var ErrNotEmpty = errors.New("restore needs an empty data directory")

// conn says how a client program reaches a server; the password travels
// in the environment (PGPASSWORD), never on a command line others can read
// in ps.
type conn struct {
	args     []string // -h/-p/-U/-d, or -d with a URL stripped of its password
	password string
}

func (c conn) command(ctx context.Context, binDir, prog string, args ...string) *exec.Cmd {
	path := filepath.Join(binDir, prog)
	if _, err := os.Stat(path); err != nil {
		path = prog // from PATH, e.g. a client-only install
	}
	cmd := exec.CommandContext(ctx, path, append(append([]string{"--no-password"}, c.args...), args...)...)
	cmd.Env = os.Environ()
	if c.password != "" {
		cmd.Env = append(cmd.Env, "PGPASSWORD="+c.password)
	}
	return cmd
}

// socketConn reaches database on the cluster c started.
func (c *Cluster) socketConn(database string) conn {
	return conn{args: []string{"-h", c.sockDir, "-p", fmt.Sprint(c.port), "-U", superuser, "-d", database}, password: c.password}
}

// runningConn reaches the server another process (a serving sparcd)
// started in dir: postmaster.pid says its port (line 4) and socket
// directory (line 5), pg-password its password.
func runningConn(dir, database string) (conn, error) {
	b, err := os.ReadFile(filepath.Join(dir, "pgdata", "postmaster.pid"))
	if err != nil {
		return conn{}, fmt.Errorf("the data dir is in use but its server is not running: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 5 || strings.TrimSpace(lines[3]) == "" || strings.TrimSpace(lines[4]) == "" {
		return conn{}, fmt.Errorf("postmaster.pid in %s names no port and socket yet (server starting?)", dir)
	}
	pw, err := os.ReadFile(filepath.Join(dir, "pg-password"))
	if err != nil {
		return conn{}, fmt.Errorf("reading the cluster password: %w", err)
	}
	return conn{args: []string{"-h", strings.TrimSpace(lines[4]), "-p", strings.TrimSpace(lines[3]), "-U", superuser, "-d", database},
		password: strings.TrimSpace(string(pw))}, nil
}

// urlConn reaches an external database by URL. pgx's own parameters
// (pool_*), which libpq refuses, are dropped.
func urlConn(raw string) (conn, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return conn{}, errors.New("the database URL must have the form postgres://user:password@host/database")
	}
	password, _ := u.User.Password()
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return conn{args: []string{"-d", u.String()}, password: password}, nil
}

// Dump writes opts.Database of the embedded cluster in opts.Dir to w as a
// custom-format archive. When a sparcd serves from the directory its
// running server is dumped; otherwise the cluster is started for the dump
// and stopped after. The cluster's own files (password, data key) are not
// in the archive.
func Dump(ctx context.Context, opts Options, w io.Writer) error {
	opts = withDefaults(opts)
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "pgdata", "PG_VERSION")); err != nil {
		return fmt.Errorf("no embedded database in %s: %w", dir, err)
	}
	c, err := Start(ctx, opts)
	if errors.Is(err, ErrInUse) {
		cn, err := runningConn(dir, opts.Database)
		if err != nil {
			return err
		}
		return pgDump(ctx, opts.BinDir, cn, w)
	}
	if err != nil {
		return err
	}
	err = pgDump(ctx, opts.BinDir, c.socketConn(opts.Database), w)
	return errors.Join(err, c.Stop())
}

// DumpURL writes the database at rawURL (an external DATABASE_URL) to w
// as a custom-format archive, with the client programs in binDir (whose
// major version must be at least the server's).
func DumpURL(ctx context.Context, binDir, rawURL string, w io.Writer) error {
	cn, err := urlConn(rawURL)
	if err != nil {
		return err
	}
	return pgDump(ctx, withDefaults(Options{BinDir: binDir}).BinDir, cn, w)
}

func pgDump(ctx context.Context, binDir string, cn conn, w io.Writer) error {
	// A migration's exclusive lock must not stall the backup for ever.
	cmd := cn.command(ctx, binDir, "pg_dump", "--format=custom", "--lock-wait-timeout=60s")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pg_dump: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Restore initialises a cluster in opts.Dir, which must be absent or
// empty, and restores the archive into opts.Database in one transaction.
// Roles are cluster-wide and not in a database's archive: those it grants
// to or makes owners are created first (NOLOGIN). On failure opts.Dir is
// left as empty as it was found.
func Restore(ctx context.Context, opts Options, archive string) (err error) {
	opts = withDefaults(opts)
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return err
	}
	if err := checkEmpty(dir); err != nil {
		return err
	}
	if _, err := os.Stat(archive); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, emptyDir(dir))
		}
	}()
	roles, err := archiveRoles(ctx, opts.BinDir, archive)
	if err != nil {
		return err
	}
	c, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Stop()) }()
	for _, r := range roles {
		if r == superuser || r == "PUBLIC" {
			continue
		}
		lit := strings.ReplaceAll(r, "'", "''")
		if _, err := c.Psql(ctx, "postgres", fmt.Sprintf(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%s') THEN CREATE ROLE %s NOLOGIN NOINHERIT; END IF; END $$`,
			lit, quoteIdent(r))); err != nil {
			return fmt.Errorf("creating role %s: %w", r, err)
		}
	}
	cmd := c.socketConn(opts.Database).command(ctx, opts.BinDir, "pg_restore", "--exit-on-error", "--single-transaction", archive)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_restore: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// grantee matches the roles an archive's SQL grants to or makes owners.
var grantee = regexp.MustCompile(`^(?:GRANT .* TO |ALTER DEFAULT PRIVILEGES .* TO |ALTER .* OWNER TO )("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)(?: WITH GRANT OPTION)?;$`)

// archiveRoles lists the roles the archive's schema names, read from its
// SQL (pg_restore without a database writes it out; --schema-only keeps
// the rows out).
func archiveRoles(ctx context.Context, binDir, archive string) ([]string, error) {
	cmd := conn{}.command(ctx, binDir, "pg_restore", "--schema-only", "-f", "-", archive)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("reading the archive (is it a pg_dump custom-format file?): %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if m := grantee.FindStringSubmatch(sc.Text()); m != nil {
			r := m[1]
			if strings.HasPrefix(r, `"`) {
				r = strings.ReplaceAll(r[1:len(r)-1], `""`, `"`)
			}
			seen[r] = true
		}
	}
	roles := make([]string, 0, len(seen))
	for r := range seen {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles, sc.Err()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// checkEmpty refuses a directory with anything in it: restoring over a
// cluster would destroy it.
func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		names := make([]string, 0, 3)
		for i, e := range entries {
			if i == 3 {
				names = append(names, "...")
				break
			}
			names = append(names, e.Name())
		}
		return fmt.Errorf("%w: %s holds %s; restore into a new directory, then point SPARC_DATA_DIR at it", ErrNotEmpty, dir, strings.Join(names, ", "))
	}
	return nil
}

// emptyDir removes what a failed restore wrote into dir (found empty).
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}

func withDefaults(opts Options) Options {
	if opts.BinDir == "" {
		opts.BinDir = DefaultBinDir
	}
	if opts.Database == "" {
		opts.Database = "sparc"
	}
	return opts
}
