// Command sparcbench measures SPARC against its limits and prints tables
// with the targets beside them (issue 3: bulk load and point search through
// raw SQL, gRPC and the HTTP gateway). It runs the real servers in-process
// on loopback ports over PostgreSQL + PostGIS: DATABASE_URL when set, else
// a private throwaway cluster. The benchmark is a list of sections (load,
// search, ...); later capabilities add theirs to sections and pick them
// with -only.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // sessions name IANA zones; resolve them without system tzdata

	"github.com/sparc-network/sparc/internal/server"
)

// section is one part of the benchmark. needs names sections whose state it
// depends on (search needs the loaded assets); they run first.
type section struct {
	name  string
	doc   string
	needs []string
	run   func(ctx context.Context, b *bench) error
}

// sections in the order they run. Add a benchmark by adding a section.
var sections = []section{
	{name: "load", doc: "bulk load of synthetic assets (COPY) and ANALYZE", run: runLoad},
	{name: "search", doc: "nearest-20-within-2 km: raw SQL vs gRPC vs HTTP", needs: []string{"load"}, run: runSearch},
	{name: "referrals", doc: "CreateReferral at concurrency 32, gRPC vs raw SQL; watch delivery latency", run: runReferrals},
	{name: "telemetry", doc: "search and CreateReferral with metrics and tracing off and on", needs: []string{"load"}, run: runTelemetry},
}

type config struct {
	assets      int
	only        []string
	duration    time.Duration
	requests    int
	warmup      time.Duration
	rounds      int
	concurrency []int
	batch       int
	loadWorkers int
	queries     int
	seed        uint64
	dataDir     string
	reuse       bool
	searchIndex bool
	maxConns    int
	cpuProfile  string
	databaseURL string
	// networkScale is the network section's history: council or national.
	networkScale string
}

func parseConfig(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("sparcbench", flag.ContinueOnError)
	defAssets := 100_000
	if v := os.Getenv("BENCH_ASSETS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return c, fmt.Errorf("BENCH_ASSETS=%q: want a positive number", v)
		}
		defAssets = n
	}
	var only, conc string
	fs.IntVar(&c.assets, "assets", defAssets, "synthetic assets to load (env BENCH_ASSETS)")
	fs.StringVar(&only, "only", "", "comma-separated sections to run (default all): "+sectionNames())
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measuring time per cell (ignored when -requests is set)")
	fs.IntVar(&c.requests, "requests", 0, "fixed number of requests per cell instead of -duration")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "warm-up time per cell, not measured (split over the rounds)")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds per cell: the paths take turns, so load from elsewhere on the machine hits them alike")
	fs.StringVar(&conc, "concurrency", "1,16", "comma-separated client concurrencies")
	fs.IntVar(&c.batch, "batch", 10_000, "assets per BulkInsert call")
	fs.IntVar(&c.loadWorkers, "load-workers", 2, "BulkInsert calls running at once")
	fs.IntVar(&c.queries, "queries", 4096, "distinct random search points (cycled)")
	fs.Uint64Var(&c.seed, "seed", 2026, "random seed for assets and query points")
	fs.StringVar(&c.dataDir, "data-dir", "", "keep the private cluster here across runs (default: a temp dir, removed)")
	fs.BoolVar(&c.reuse, "reuse", false, "skip loading when exactly -assets synthetic assets are already there")
	fs.BoolVar(&c.searchIndex, "search-index", true, "serve with the in-memory search index, as sparcd does by default (the search section waits for it to load and reports its load time and memory)")
	fs.IntVar(&c.maxConns, "max-db-conns", 32, "server database pool size (sparcd's default)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the search, oruk, referrals, telemetry and network sections (server and load generator share the process; telemetry's servers run in processes of their own)")
	fs.StringVar(&c.networkScale, "network-scale", "council", "the network section's synthetic year: council (200 organisations, 2,000 assets, 100k referrals; target 1 s) or national (150 councils, 1.3M referrals; target 10 s)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if _, ok := networkScales[c.networkScale]; !ok {
		return c, fmt.Errorf("-network-scale %q: want council or national", c.networkScale)
	}
	if c.assets <= 0 || c.batch <= 0 || c.loadWorkers <= 0 || c.queries <= 0 || c.maxConns <= 0 || c.rounds <= 0 {
		return c, fmt.Errorf("-assets, -batch, -load-workers, -queries, -rounds and -max-db-conns must be positive")
	}
	if c.requests <= 0 && c.duration <= 0 {
		return c, fmt.Errorf("give a positive -duration or -requests")
	}
	for _, s := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 || n > 1024 {
			return c, fmt.Errorf("-concurrency %q: want positive numbers up to 1024", conc)
		}
		c.concurrency = append(c.concurrency, n)
	}
	if only != "" {
		for _, s := range strings.Split(only, ",") {
			s = strings.TrimSpace(s)
			if !slices.ContainsFunc(sections, func(x section) bool { return x.name == s }) {
				return c, fmt.Errorf("-only: unknown section %q (have %s)", s, sectionNames())
			}
			c.only = append(c.only, s)
		}
	}
	c.databaseURL = os.Getenv("DATABASE_URL")
	return c, nil
}

func sectionNames() string {
	var n []string
	for _, s := range sections {
		n = append(n, s.name)
	}
	return strings.Join(n, ", ")
}

// selected returns the sections to run in their fixed order: the chosen
// ones plus what they need.
func selected(only []string) []section {
	if len(only) == 0 {
		return sections
	}
	want := map[string]bool{}
	var add func(name string)
	add = func(name string) {
		if want[name] {
			return
		}
		want[name] = true
		for _, s := range sections {
			if s.name == name {
				for _, n := range s.needs {
					add(n)
				}
			}
		}
	}
	for _, n := range only {
		add(n)
	}
	var out []section
	for _, s := range sections {
		if want[s.name] {
			out = append(out, s)
		}
	}
	return out
}

func main() {
	server.TuneGC() // as sparcd does: the servers run in this process
	if spec := os.Getenv(telemetryChildEnv); spec != "" {
		// A server of the telemetry section, in a process of its own.
		if err := serveVariant(spec); err != nil {
			fmt.Fprintln(os.Stderr, "sparcbench telemetry server:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseConfig(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "sparcbench:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "sparcbench:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	b, err := newBench(ctx, cfg, os.Stdout)
	if err != nil {
		return err
	}
	defer b.close()
	b.printf("SPARC benchmark  %s  go %s  GOMAXPROCS=%d  CPUs=%d  %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), b.dbNote)
	b.printf("The load generator, the servers and PostgreSQL share this machine's CPUs.\n")
	for _, s := range selected(cfg.only) {
		b.printf("\n== %s: %s\n", s.name, s.doc)
		var stopProfile func()
		if (s.name == "search" || s.name == "oruk" || s.name == "referrals" || s.name == "telemetry" || s.name == "network") && cfg.cpuProfile != "" {
			if stopProfile, err = startProfile(cfg.cpuProfile); err != nil {
				return err
			}
		}
		err := s.run(ctx, b)
		if stopProfile != nil {
			stopProfile()
		}
		if err != nil {
			return fmt.Errorf("section %s: %w", s.name, err)
		}
	}
	b.printTargets()
	return nil
}

func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting CPU profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
