package pgcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// checkReachable fails, saying what to do, when the server's OS user
// cannot enter dir: the server would fail later with a less helpful
// message. The operator's directories are theirs: sparcd does not widen
// their permissions to make it work.
func (c *Cluster) checkReachable(ctx context.Context, dir string) error {
	if c.canEnter(ctx, dir) {
		return nil
	}
	// Name the first directory on the way that stops it.
	blocked := dir
	var path []string
	for p := dir; ; p = filepath.Dir(p) {
		path = append([]string{p}, path...)
		if p == filepath.Dir(p) {
			break
		}
	}
	for _, p := range path {
		if !c.canEnter(ctx, p) {
			blocked = p
			break
		}
	}
	how := ""
	if fi, err := os.Stat(blocked); err == nil {
		how = fmt.Sprintf(" (mode %04o", fi.Mode().Perm())
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			how += fmt.Sprintf(", owner uid %d", st.Uid)
		}
		how += ")"
	}
	where := fmt.Sprintf("%s%s, on the way to the data directory %s", blocked, how, dir)
	if blocked == dir {
		where = "the data directory " + dir + how
	}
	return fmt.Errorf("the embedded PostgreSQL runs as the OS user %q, which cannot enter %s. "+
		"sparcd does not change the permissions of your directories: choose a data directory that user can reach "+
		"(e.g. --data-dir /var/lib/sparc), or let it pass yourself (e.g. chmod o+x %s)",
		c.runAs.Username, where, blocked)
}

// canEnter asks the kernel, as the server's OS user, whether it may enter
// dir (search permission on dir and every directory above it). Asking the
// kernel rather than reading mode bits honours groups and ACLs.
func (c *Cluster) canEnter(ctx context.Context, dir string) bool {
	return exec.CommandContext(ctx, "runuser", "-u", c.runAs.Username, "--", "test", "-x", dir).Run() == nil
}

// MkdirTemp makes a new temporary directory for a cluster (tests,
// benchmarks). os.MkdirTemp makes it 0700, which the server's OS user
// cannot enter when we run as root; this one is 0711: others may pass
// through it but not list it.
func MkdirTemp(pattern string) (string, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}
