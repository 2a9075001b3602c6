package testenv

import (
	"os/exec"
	"testing"
)

// Chromium is the path of the browser `make chromium` installs (Debian's
// chromium), for the tests that run pages in a real browser; the test
// fails, naming the make target, when it is missing.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run `make chromium` (Debian package chromium)")
	return ""
}
