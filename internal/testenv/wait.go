package testenv

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// Until polls cond until it holds and returns how long that took; the
// test fails when limit passes first. The condition is what the test
// waits for: limit only bounds a failing test, so make it generous.
func Until(t testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	began := time.Now()
	for !cond() {
		if time.Since(began) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond) // the poll interval, not a guess at when cond holds
	}
	return time.Since(began)
}

// LogBuffer collects what a logger writes, for the test to read while the
// code under test goes on writing from its own goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Load is background traffic for a test that checks what other callers
// see while something happens (a crash, a shutdown, a huge request):
// functions called over and over, each in its own goroutines, until Stop.
type Load struct {
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

// NewLoad returns a Load that stops at the latest when the test ends.
func NewLoad(t testing.TB) *Load {
	l := &Load{stop: make(chan struct{})}
	t.Cleanup(l.Stop)
	return l
}

// Go calls f over and over in n goroutines until Stop, or until f
// returns false (it gave up: it has failed the test).
func (l *Load) Go(n int, f func() bool) {
	for range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				if !f() {
					return
				}
			}
		}()
	}
}

// Stop ends the load and returns once every call under way has returned;
// calling it again does nothing.
func (l *Load) Stop() {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
}
