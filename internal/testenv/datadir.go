package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sparc-network/sparc/internal/pgcluster"
)

// DataDir returns the path of a data directory (not yet created) for a
// sparcd or pgcluster started by the test, removed when the test ends.
// t.TempDir is mode 0700, which the embedded PostgreSQL's OS user cannot
// enter when tests run as root, and sparcd refuses such a directory
// rather than change its permissions.
func DataDir(t testing.TB) string {
	t.Helper()
	dir, err := pgcluster.MkdirTemp("sparc-data-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "data")
}
