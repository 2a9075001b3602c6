package coverage

// SetBuildSteps makes m's rebuilds compute chunk areas at a time, one
// chunk at a time, and call progress after recording each, so a test can
// look at a rebuild half done.
func SetBuildSteps(m *Maintainer, chunk int, progress func(done, total int32)) {
	m.chunk, m.onProgress = chunk, progress
	m.store.parallel = 1
}
