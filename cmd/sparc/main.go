// Command sparc is the SPARC command-line client. It talks gRPC to sparcd
// (--addr, default 127.0.0.1:9090) and prints human tables, or JSON with
// -o json. Each command group lives in its own file and registers itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// cli is what every command gets: the connection and output settings.
type cli struct {
	addr    string
	output  string // "table" or "json"
	timeout time.Duration
	out     io.Writer
	conn    *grpc.ClientConn
}

// command is one `sparc <group> <verb>` (or `sparc <name>`).
type command struct {
	name    string // e.g. "assets search"
	summary string
	run     func(ctx context.Context, c *cli, args []string) error
}

var commands = map[string]*command{}

// register adds a command; called from init in each command file.
func register(name, summary string, run func(ctx context.Context, c *cli, args []string) error) {
	commands[name] = &command{name: name, summary: summary, run: run}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: sparc [--addr host:port] [-o table|json] <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-24s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nrun 'sparc <command> -h' for the flags of a command")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{out: stdout}
	fs := flag.NewFlagSet("sparc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", envOr("SPARC_ADDR", "127.0.0.1:9090"), "sparcd gRPC address (env SPARC_ADDR)")
	fs.StringVar(&c.output, "o", "table", "output: table or json")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "time limit for the command")
	fs.Usage = func() { usage(stderr) }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rest := fs.Args()
	var cmd *command
	var cmdArgs []string
	if len(rest) >= 2 {
		if cmd = commands[rest[0]+" "+rest[1]]; cmd != nil {
			cmdArgs = rest[2:]
		}
	}
	if cmd == nil && len(rest) >= 1 {
		if cmd = commands[rest[0]]; cmd != nil {
			cmdArgs = rest[1:]
		}
	}
	if cmd == nil {
		usage(stderr)
		return 2
	}
	if c.output != "table" && c.output != "json" {
		fmt.Fprintln(stderr, "sparc: -o must be table or json")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	conn, err := grpc.NewClient(c.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(stderr, "sparc:", err)
		return 1
	}
	defer conn.Close()
	c.conn = conn
	if err := cmd.run(ctx, c, cmdArgs); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		printError(stderr, err)
		return 1
	}
	return 0
}

// printError shows a gRPC error with its field violations, one per line.
func printError(w io.Writer, err error) {
	st, ok := status.FromError(err)
	if !ok {
		fmt.Fprintln(w, "sparc:", err)
		return
	}
	fmt.Fprintf(w, "sparc: %s: %s\n", st.Code(), st.Message())
}

// printJSON writes a message as indented JSON with proto field names.
func (c *cli) printJSON(m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, UseProtoNames: true}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.out, string(b))
	return err
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// newFlags returns a flag set for a command that prints its usage on -h.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("sparc "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: sparc %s [flags]\n", name)
		fs.PrintDefaults()
	}
	return fs
}

// stringList is a repeatable or comma-separated flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}
