package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// stretch is what one measured stretch of one path recorded.
type stretch struct {
	lat     []time.Duration
	elapsed time.Duration
	cpu     cpuUse
	// child is the CPU of the contender's own server process meanwhile,
	// when it runs in one (compareChildren).
	child time.Duration
}

// stats summarise one cell (a path at a concurrency) over its rounds.
type stats struct {
	n        int
	elapsed  time.Duration
	p50, p99 time.Duration
	qps      float64
	// CPU per request of this process (servers and load generator) and of
	// the benchmark's PostgreSQL; zero when not measurable.
	goCPU, pgCPU time.Duration
	// otherCores is the CPU that everything else on the machine used
	// meanwhile, in cores: the benchmark shares the machine with it.
	otherCores float64
	// runs are the rounds' stretches, in order (paired comparisons).
	runs []stretch
}

// perCPU is requests per CPU-second of the benchmark's own processes (this
// process and its PostgreSQL), or 0 when that CPU is not known.
func (s stats) perCPU() float64 {
	if s.pgCPU <= 0 || s.goCPU <= 0 {
		return 0
	}
	return 1 / (s.goCPU + s.pgCPU).Seconds()
}

// pgMS is PostgreSQL's CPU per request in milliseconds, or "-" when it
// is not measurable.
func (s stats) pgMS() string {
	if s.pgCPU <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", ms(s.pgCPU))
}

func summarise(runs []stretch) (stats, error) {
	s := stats{runs: runs}
	var lat []time.Duration
	var cpu cpuUse
	for _, r := range runs {
		lat = append(lat, r.lat...)
		s.elapsed += r.elapsed
		cpu = cpu.add(r.cpu)
	}
	if len(lat) == 0 || s.elapsed <= 0 {
		return s, fmt.Errorf("no request completed")
	}
	slices.Sort(lat)
	s.n = len(lat)
	s.qps = float64(s.n) / s.elapsed.Seconds()
	s.p50, s.p99 = quantile(lat, 0.50), quantile(lat, 0.99)
	s.goCPU = cpu.self / time.Duration(s.n)
	if cpu.pgKnown {
		s.pgCPU = cpu.pg / time.Duration(s.n)
	}
	if cpu.machine > 0 {
		s.otherCores = max(0, (cpu.machine-cpu.self-cpu.pg).Seconds()/s.elapsed.Seconds())
	}
	return s, nil
}

// contender is one way of doing an operation, measured against the
// others that do the same.
type contender struct {
	name string
	op   func(ctx context.Context, i int) error
}

// overCases is the contender that does op on the cases in turn.
func overCases[C, R any](name string, cases []C, op func(context.Context, *C) (R, error)) contender {
	return contender{name, func(ctx context.Context, i int) error {
		_, err := op(ctx, &cases[i%len(cases)])
		return err
	}}
}

// compare measures each contender from conc workers over the configured
// rounds, the contenders taking turns within each round so that whatever
// else the machine does meanwhile touches them alike, and summarises each
// over its rounds. Round r starts at call number r*step, so that the
// rounds go on through the inputs rather than repeat the first ones. what
// names the cell in progress lines and errors.
func (b *bench) compare(ctx context.Context, what string, conc, step int, cs []contender) (map[string]stats, error) {
	return b.compareChildren(ctx, what, conc, step, cs, nil)
}

// compareChildren is compare for contenders whose servers run in processes
// of their own: child[name] reads the CPU time that contender's server
// process has used so far, recorded per stretch (stretch.child).
func (b *bench) compareChildren(ctx context.Context, what string, conc, step int, cs []contender,
	child map[string]func() time.Duration) (map[string]stats, error) {
	rounds := b.cfg.rounds
	runs := map[string][]stretch{}
	for r := range rounds {
		// Each round starts with the next contender: none always goes
		// first (after the previous cell, or before the table grows).
		for k := range cs {
			c := cs[(k+r)%len(cs)]
			fmt.Fprintf(os.Stderr, "measuring %s, concurrency %d, %s, round %d/%d\n", what, conc, c.name, r+1, rounds)
			res, err := measure(ctx, b.cpu, child[c.name], conc, r*step, b.cfg.warmup/time.Duration(rounds),
				b.cfg.duration/time.Duration(rounds), b.cfg.requests/rounds, c.op)
			if err != nil {
				return nil, fmt.Errorf("%s, %s, concurrency %d: %w", what, c.name, conc, err)
			}
			runs[c.name] = append(runs[c.name], res)
		}
	}
	out := map[string]stats{}
	for _, c := range cs {
		s, err := summarise(runs[c.name])
		if err != nil {
			return nil, fmt.Errorf("%s, %s, concurrency %d: %w", what, c.name, conc, err)
		}
		out[c.name] = s
	}
	return out, nil
}

// measure runs op from conc workers: first for the warm-up time, then
// either for the duration or for a fixed number of requests, recording
// each call's latency. i numbers the calls so op can cycle through its
// inputs; start is the first i. Every loop is bounded by time or count,
// and ctx cancels it.
func measure(ctx context.Context, sampler *cpuSampler, child func() time.Duration, conc, start int, warmup, duration time.Duration, requests int,
	op func(ctx context.Context, i int) error) (stretch, error) {
	var next atomic.Int64
	next.Store(int64(start))
	if warmup > 0 {
		if _, err := drive(ctx, conc, &next, time.Now().Add(warmup), 0, false, op); err != nil {
			return stretch{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	var deadline time.Time
	if requests <= 0 {
		deadline = time.Now().Add(duration)
	}
	var child0 time.Duration
	if child != nil {
		child0 = child()
	}
	cpu0 := sampler.sample()
	t0 := time.Now()
	lat, err := drive(ctx, conc, &next, deadline, int64(requests), true, op)
	r := stretch{lat: lat, elapsed: time.Since(t0), cpu: sampler.sample().sub(cpu0)}
	if child != nil {
		r.child = child() - child0
	}
	return r, err
}

// drive runs workers until the deadline (when set) or until count calls
// were started (when count > 0). The first error stops every worker.
func drive(ctx context.Context, conc int, next *atomic.Int64, deadline time.Time, count int64, record bool,
	op func(ctx context.Context, i int) error) ([]time.Duration, error) {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	first := next.Load()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		all      []time.Duration
		firstErr error
	)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if count > 0 && i-first >= count {
					break
				}
				t := time.Now()
				if !deadline.IsZero() && !t.Before(deadline) {
					break
				}
				if err := op(ctx, int(i)); err != nil {
					mu.Lock()
					if firstErr == nil && ctx.Err() == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					break
				}
				if record {
					lat = append(lat, time.Since(t))
				}
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := parent.Err(); err != nil {
		return nil, err
	}
	return all, nil
}

// quantile of sorted latencies, nearest rank.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuUse is CPU time used by this process, by the benchmark's PostgreSQL
// (when it runs on this machine) and by the whole machine.
type cpuUse struct {
	self, pg, machine time.Duration
	pgKnown           bool
}

func (a cpuUse) sub(b cpuUse) cpuUse {
	return cpuUse{self: a.self - b.self, pg: a.pg - b.pg, machine: a.machine - b.machine, pgKnown: a.pgKnown && b.pgKnown}
}

func (a cpuUse) add(b cpuUse) cpuUse {
	return cpuUse{self: a.self + b.self, pg: a.pg + b.pg, machine: a.machine + b.machine, pgKnown: a.pgKnown || b.pgKnown}
}

// cpuSampler reads CPU counters from /proc (Linux). pgPID is the private
// cluster's postmaster, whose children are the backends; 0 when the
// database is elsewhere (DATABASE_URL).
type cpuSampler struct {
	pgPID int
}

// clockTick is USER_HZ, the unit of /proc CPU counters on Linux.
const clockTick = time.Second / 100

func (c *cpuSampler) sample() cpuUse {
	var u cpuUse
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		u.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	u.machine = machineBusy()
	if c.pgPID > 0 {
		u.pg, u.pgKnown = treeCPU(c.pgPID)
	}
	return u
}

// machineBusy is the busy CPU time of the whole machine (every state of
// /proc/stat's first line but idle and iowait); 0 when unreadable.
func machineBusy() time.Duration {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 6 || fields[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range fields[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return time.Duration(busy) * clockTick
}

// treeCPU sums the CPU time of pid and its direct children (the postmaster
// and its backends and workers), and of the children pid has reaped
// (its cutime and cstime): a backend or autovacuum worker that exits
// moves its time there, so the sum only grows. Without them a worker
// exiting between two samples made PostgreSQL's CPU go backwards (the
// CreateReferral rows' negative attribution of earlier sessions).
func treeCPU(pid int) (time.Duration, bool) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	var total int64
	found := false
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses and may hold spaces.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		if p != pid && ppid != pid {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += ut + st
		if p == pid && len(f) >= 15 {
			cut, _ := strconv.ParseInt(f[13], 10, 64)
			cst, _ := strconv.ParseInt(f[14], 10, 64)
			total += cut + cst
		}
		found = found || p == pid
	}
	return time.Duration(total) * clockTick, found
}
