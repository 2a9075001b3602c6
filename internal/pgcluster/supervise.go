package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// SuperviseOptions tune Supervise; zero values take the defaults.
type SuperviseOptions struct {
	// Poll is how often the postmaster is checked. Default 250 ms.
	Poll time.Duration
	// MaxBackoff bounds the wait between failed restarts, which doubles
	// from 100 ms. Default 5 s.
	MaxBackoff time.Duration
	// DownLimit is how long the server may stay down, restarts failing,
	// before Healthy reports it. Restarting after a crash takes a second
	// or two (the killed server's backends must exit, then WAL replay), so
	// shorter outages are not failures of the process. Default 30 s.
	DownLimit time.Duration
	// Restarted runs after each restart, e.g. to drop a pool's
	// connections to the dead server. May be nil.
	Restarted func()
}

// Supervisor keeps a cluster's server running; see Cluster.Supervise.
type Supervisor struct {
	c      *Cluster
	opts   SuperviseOptions
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	downSince time.Time // zero while the server runs
	dead      process   // the server that died, while downSince is set
	lastErr   error     // of the last failed restart
	restarts  int
}

// Supervise watches the server until Stop and starts it again, on the
// same port and socket (so connection URLs stay valid), whenever it dies:
// a crash, an out-of-memory kill, kill -9. Without it a dead server stays
// dead and every request fails until the process is restarted by hand.
// Restarts are retried with backoff for as long as it takes; Healthy
// reports an outage longer than DownLimit so that a process manager can
// step in. Call it once; Cluster.Stop ends supervision before stopping
// the server.
func (c *Cluster) Supervise(opts SuperviseOptions) *Supervisor {
	if opts.Poll <= 0 {
		opts.Poll = 250 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	if opts.DownLimit <= 0 {
		opts.DownLimit = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Supervisor{c: c, opts: opts, cancel: cancel, done: make(chan struct{})}
	c.mu.Lock()
	c.sup = s
	c.mu.Unlock()
	go s.run(ctx)
	return s
}

// Healthy is nil while the server runs, has been down for less than
// DownLimit, or has been started again and is still recovering (a long
// WAL replay must not get sparcd restarted, which would start it over);
// otherwise it says since when the server is down and why restarting
// fails.
func (s *Supervisor) Healthy() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.downSince.IsZero() {
		return nil
	}
	down := time.Since(s.downSince)
	if down < s.opts.DownLimit {
		return nil
	}
	if _, ok := s.c.successor(s.dead); ok {
		return nil
	}
	return fmt.Errorf("embedded PostgreSQL down for %v, restarts failing: %w", down.Round(time.Second), s.lastErr)
}

// Restarts is how many times the server was started again.
func (s *Supervisor) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// Stop ends supervision and waits for a restart under way to finish.
// Cluster.Stop calls it too; calling it again does nothing.
func (s *Supervisor) Stop() {
	s.cancel()
	<-s.done
}

func (s *Supervisor) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.c.mu.Lock()
		p := s.c.postmaster
		s.c.mu.Unlock()
		if p.pid == 0 || p.alive() {
			continue
		}
		s.restart(ctx, p)
	}
}

// restart starts the server again until it runs or supervision ends.
func (s *Supervisor) restart(ctx context.Context, dead process) {
	log := s.c.log
	since := time.Now()
	s.mu.Lock()
	s.downSince, s.dead, s.lastErr = since, dead, errors.New("not restarted yet")
	s.mu.Unlock()
	log.Error("embedded PostgreSQL stopped unexpectedly; restarting it", "pid", dead.pid, "log", s.c.pgdata+"/server.log")
	backoff := 100 * time.Millisecond
	reported := false
	for attempt := 1; ; attempt++ {
		dead.reap()
		err := s.c.pgCtlStart(ctx)
		if p, ok := s.c.successor(dead); err != nil && ok {
			// pg_ctl stopped waiting (crash recovery longer than its
			// timeout) but the server runs: it is the one to watch now.
			log.Warn("embedded PostgreSQL started but not ready yet", "err", firstLine(err))
			s.c.mu.Lock()
			s.c.postmaster = p
			s.c.mu.Unlock()
			err = nil
		}
		if err == nil {
			s.mu.Lock()
			s.downSince, s.lastErr = time.Time{}, nil
			s.restarts++
			s.mu.Unlock()
			log.Info("embedded PostgreSQL restarted", "down", time.Since(since).Round(time.Millisecond), "attempts", attempt)
			if s.opts.Restarted != nil {
				s.opts.Restarted()
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		s.lastErr = err
		s.mu.Unlock()
		// The killed server's backends hold its shared memory until they
		// notice and exit, so the first attempts often fail: say so
		// quietly, loudly once the outage passes DownLimit.
		if !reported && time.Since(since) >= s.opts.DownLimit {
			reported = true
			log.Error("embedded PostgreSQL cannot be restarted; /healthz fails until it is", "down", time.Since(since).Round(time.Second), "attempts", attempt, "err", err)
		} else {
			log.Warn("restarting embedded PostgreSQL failed; trying again", "attempt", attempt, "in", backoff, "err", firstLine(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, s.opts.MaxBackoff)
	}
}

// successor is the server named in postmaster.pid when it runs and is not
// the dead one (PostgreSQL leaves a dead server's file in place).
func (c *Cluster) successor(dead process) (process, bool) {
	p, err := c.readPostmaster()
	if err != nil || p == dead || !p.alive() {
		return process{}, false
	}
	return p, true
}

func firstLine(err error) string {
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}

// process names one process for good: its pid and start time, so that a
// pid reused by another process after the server died is not taken for it.
type process struct {
	pid   int
	start string // field 22 of /proc/<pid>/stat; "" without /proc
}

func processOf(pid int) process {
	_, start, _ := procStat(pid)
	return process{pid: pid, start: start}
}

// alive says whether p still runs. A zombie is dead: when sparcd is PID 1
// (a container) the orphaned server's exit is never reaped.
func (p process) alive() bool {
	state, start, err := procStat(p.pid)
	if err != nil {
		// No /proc entry: gone, or no /proc at all; ask the kernel.
		err := syscall.Kill(p.pid, 0)
		return err == nil || errors.Is(err, syscall.EPERM)
	}
	return state != "Z" && state != "X" && (p.start == "" || start == p.start)
}

// reap collects p's exit status when p is a zombie child of ours. When
// sparcd is PID 1 (a container) or a subreaper, the server it started is
// reparented to it and, once dead, stays a zombie that nobody else reaps;
// PostgreSQL then refuses to start while the pid in postmaster.pid exists.
func (p process) reap() {
	state, start, err := procStat(p.pid)
	if err != nil || state != "Z" || start != p.start {
		return
	}
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil)
}

// procStat reads a process's state and start time from /proc.
func procStat(pid int) (state, start string, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", "", err
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return "", "", errors.New("unreadable /proc stat")
	}
	f := strings.Fields(string(b)[i+1:])
	if len(f) < 20 {
		return "", "", errors.New("short /proc stat")
	}
	return f[0], f[19], nil
}
