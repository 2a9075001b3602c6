package server

import (
	"os"
	"runtime/debug"
)

// TuneGC sets the garbage collector for a server process unless the
// operator chose (GOGC, GOMEMLIMIT): collecting at 4x live heap instead
// of 2x saved about a fifth of the CPU per search request in the
// benchmark, and the soft memory limit keeps the larger heap bounded.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(2 << 30)
	}
}
