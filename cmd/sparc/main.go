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
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// cli is what every command gets: the connection and output settings.
type cli struct {
	addr    string
	output  string // "table" or "json"
	timeout time.Duration
	out     io.Writer
	conn    *grpc.ClientConn
	key     string    // API key, sent as a bearer token when set
	in      io.Reader // standard input, for "--file -"
	errOut  io.Writer // notes for a human (progress, "more results"), never data
}

// command is one `sparc <group> <verb>` (or `sparc <name>`).
type command struct {
	name    string // e.g. "assets search"
	summary string
	run     func(ctx context.Context, c *cli, args []string) error
	// timeout replaces --timeout's default for a command that does more
	// than one call (starting a database, importing a file).
	timeout time.Duration
}

var commands = map[string]*command{}

// register adds a command; called from init in each command file.
func register(name, summary string, run func(ctx context.Context, c *cli, args []string) error) {
	commands[name] = &command{name: name, summary: summary, run: run}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: sparc [--addr host:port] [--tls | --ca FILE | --insecure] [--cert FILE --cert-key FILE] [--key KEY] [-o table|json] <command> [flags]")
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

// Exit codes: 0 success, 1 the server refused or failed the request, 2 the
// command line was wrong (found before any call to the server).
const (
	exitFailure = 1
	exitUsage   = 2
)

func run(args []string, stdout, stderr io.Writer) int {
	return runWithInput(os.Stdin, args, stdout, stderr)
}

// runWithInput is run with an explicit standard input, so tests can pipe a
// file to "--file -".
func runWithInput(stdin io.Reader, args []string, stdout, stderr io.Writer) int {
	c := &cli{out: stdout, in: stdin, errOut: stderr}
	fs := flag.NewFlagSet("sparc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", envOr("SPARC_ADDR", "127.0.0.1:9090"), "sparcd gRPC address (env SPARC_ADDR)")
	fs.StringVar(&c.output, "o", "table", "output: table or json")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "time limit for the command (longer defaults for keys bootstrap)")
	// The key's default is read after parsing so -h never prints it.
	fs.StringVar(&c.key, "key", "", "API key for writes and private data (env SPARC_API_KEY); reads of the directory need none")
	var transport transportFlags
	transport.register(fs)
	fs.Usage = func() { usage(stderr) }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if c.key == "" {
		c.key = os.Getenv("SPARC_API_KEY")
	}
	cmd, cmdArgs := lookupCommand(fs.Args())
	if cmd == nil {
		usage(stderr)
		return 2
	}
	if c.output != "table" && c.output != "json" {
		fmt.Fprintln(stderr, "sparc: -o must be table or json")
		return 2
	}
	creds, err := transport.transport(c.addr)
	if err != nil {
		fmt.Fprintln(stderr, "sparc:", err)
		return exitUsage
	}
	if transport.insecure && c.key != "" && !isLocal(c.addr) {
		fmt.Fprintf(stderr, "sparc: warning: sending the API key to %s in plaintext (--insecure)\n", c.addr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if cmd.timeout > 0 && !flagsSet(fs)["timeout"] {
		c.timeout = cmd.timeout
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	dial := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithUnaryInterceptor(retryRateLimited),
	}
	if c.key != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(bearerKey(c.key)))
	}
	conn, err := grpc.NewClient(c.addr, dial...)
	if err != nil {
		fmt.Fprintln(stderr, "sparc:", err)
		return 1
	}
	defer conn.Close()
	c.conn = conn
	return exitCode(stderr, cmd, cmd.run(ctx, c, cmdArgs), transport)
}

// lookupCommand finds the command named by the first one or two words.
func lookupCommand(rest []string) (*command, []string) {
	if len(rest) >= 2 {
		if cmd := commands[rest[0]+" "+rest[1]]; cmd != nil {
			return cmd, rest[2:]
		}
	}
	if len(rest) >= 1 {
		if cmd := commands[rest[0]]; cmd != nil {
			return cmd, rest[1:]
		}
	}
	return nil, nil
}

// exitCode reports a command's error and says how the process ends: 2 for
// a usage mistake, 1 for a failure.
func exitCode(stderr io.Writer, cmd *command, err error, transport transportFlags) int {
	if err == nil {
		return 0
	}
	var ue *usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitUsage
	case errors.As(err, &ue):
		if !ue.printed {
			fmt.Fprintf(stderr, "sparc %s: %s\n", cmd.name, ue.msg)
			fmt.Fprintf(stderr, "run 'sparc %s -h' for its flags\n", cmd.name)
		}
		return exitUsage
	}
	printError(stderr, err)
	if h := transport.hint(err); h != "" {
		fmt.Fprintln(stderr, "  "+h)
	}
	return exitFailure
}

// usageError is a mistake on the command line, found before calling the
// server; run reports it with exit code 2.
type usageError struct {
	msg     string
	printed bool // the flag package already told the user
}

func (e *usageError) Error() string { return e.msg }

// usagef returns a usage error; commands return it for bad flag values they
// check themselves (an unknown kind, a malformed session).
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// parse parses a command's flags and returns its positional arguments,
// which may come before, between or after the flags ("assets get ID -o
// json"); everything after "--" is positional. It also accepts -o after the
// command name. Flag errors become usage errors (exit code 2).
func (c *cli) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	if c.errOut != nil {
		fs.SetOutput(c.errOut)
	}
	if fs.Lookup("o") == nil {
		fs.StringVar(&c.output, "o", c.output, "output: table or json")
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{msg: err.Error(), printed: true}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	if c.output != "table" && c.output != "json" {
		return nil, usagef("-o must be table or json, not %q", c.output)
	}
	return positional, nil
}

// flagsSet returns the names of the flags given on the command line, to tell
// "--capacity 0" from no --capacity at all.
func flagsSet(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// printError shows a gRPC error as its code and message, then each field
// violation (google.rpc.BadRequest) and failed precondition
// (google.rpc.PreconditionFailure) on its own line, so a user sees every
// problem at once and a script can grep for a field.
func printError(w io.Writer, err error) {
	var withStatus interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &withStatus) {
		fmt.Fprintln(w, "sparc:", err)
		return
	}
	st := withStatus.GRPCStatus()
	// Context added around the status ("demo asset X: ...") is kept; the
	// status's own "rpc error: code = ..." text is not.
	var prefix string
	if inner, ok := withStatus.(error); ok {
		prefix = strings.TrimSuffix(err.Error(), inner.Error())
	}
	var lines []string
	var fieldViolations int
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				lines = append(lines, fmt.Sprintf("  %s: %s", v.GetField(), v.GetDescription()))
				fieldViolations++
			}
		case *errdetails.PreconditionFailure:
			for _, v := range d.GetViolations() {
				line := "  precondition " + v.GetType()
				if v.GetSubject() != "" {
					line += " on " + v.GetSubject()
				}
				if v.GetDescription() != "" {
					line += ": " + v.GetDescription()
				}
				lines = append(lines, line)
			}
		}
	}
	msg := st.Message()
	if fieldViolations > 0 {
		// The message repeats the violations on one line; the list below
		// says it better.
		msg = fmt.Sprintf("%d invalid field(s)", fieldViolations)
	}
	fmt.Fprintf(w, "sparc: %s: %s%s\n", codeName(st.Code()), prefix, msg)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	if st.Code() == codes.Unauthenticated {
		fmt.Fprintln(w, "  give an API key with --key or SPARC_API_KEY")
	}
}

// maxRateLimitRetries bounds the waits for one call; the command's
// --timeout bounds them too.
const maxRateLimitRetries = 50

// retryRateLimited waits and repeats a call the server refused with
// RESOURCE_EXHAUSTED carrying a RetryInfo delay (its per-key rate limit).
// The limiter refuses before the call runs, so even a write is safe to
// repeat; bulk commands (seed-demo, --all) then go at the rate the key is
// allowed instead of failing halfway.
func retryRateLimited(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	for attempt := 1; ; attempt++ {
		err := invoker(ctx, method, req, reply, cc, opts...)
		delay, ok := retryDelay(err)
		if !ok || attempt >= maxRateLimitRetries {
			return err
		}
		// Jitter spreads concurrent callers that were told the same delay.
		delay += rand.N(delay/2 + time.Millisecond)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// retryDelay returns the delay a RESOURCE_EXHAUSTED error asks for.
func retryDelay(err error) (time.Duration, bool) {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.ResourceExhausted {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return min(max(ri.GetRetryDelay().AsDuration(), time.Millisecond), 10*time.Second), true
		}
	}
	return 0, false
}

// bearerKey sends the API key on every call. It does not demand transport
// security itself because plaintext is right towards loopback (sparcd's
// default); transportFlags.transport refuses plaintext to other hosts
// unless --insecure says so.
type bearerKey string

func (k bearerKey) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(k)}, nil
}

func (bearerKey) RequireTransportSecurity() bool { return false }

// codeName spells a gRPC code as the protocol does (INVALID_ARGUMENT), the
// same name the HTTP API puts in its JSON errors.
func codeName(c codes.Code) string {
	switch c {
	case codes.OK:
		return "OK"
	case codes.Canceled:
		return "CANCELLED" // grpc-go's String says "Canceled"
	}
	s := c.String()
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
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

// withSynopsis makes a command's -h show how its arguments go, e.g.
// withSynopsis(newFlags("assets get"), "assets get ID").
func withSynopsis(fs *flag.FlagSet, synopsis string) *flag.FlagSet {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: sparc %s\n", synopsis)
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

// Helpers for flag values and output shared by the command files.

// parseEnum accepts an enum value as "physical_space", "physical-space" or
// "ASSET_KIND_PHYSICAL_SPACE", in any case; the unspecified value is not
// accepted.
func parseEnum(flagName, v string, values map[string]int32, names map[int32]string, prefix string) (int32, error) {
	key := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(v), "-", "_"))
	if !strings.HasPrefix(key, prefix) {
		key = prefix + key
	}
	if n, ok := values[key]; ok && n != 0 {
		return n, nil
	}
	return 0, usagef("--%s: %q is not one of: %s", flagName, v, enumChoices(names, prefix))
}

// parseEach parses each value of a repeatable flag with parse.
func parseEach[T any](vs []string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, v := range vs {
		x, err := parse(v)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// enumChoices lists an enum's values as the CLI spells them
// ("association, institution, ...").
func enumChoices(names map[int32]string, prefix string) string {
	out := make([]string, 0, len(names))
	for i := int32(1); i < int32(len(names)); i++ {
		if n, ok := names[i]; ok {
			out = append(out, shortEnum(n, prefix))
		}
	}
	return strings.Join(out, ", ")
}

func shortEnum(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

// parseTime reads an RFC 3339 time, a date (midnight UTC) or "now".
func parseTime(flagName, v string) (*timestamppb.Timestamp, error) {
	if strings.EqualFold(v, "now") {
		return timestamppb.Now(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return timestamppb.New(t), nil
		}
	}
	return nil, usagef("--%s: %q is not an RFC 3339 time (2026-11-25T10:00:00Z), a date (2026-11-25) or \"now\"", flagName, v)
}

// optionalTime is parseTime for a flag that may be left out: "" is no
// time.
func optionalTime(flagName, v string) (*timestamppb.Timestamp, error) {
	if v == "" {
		return nil, nil
	}
	return parseTime(flagName, v)
}

func int32Flag(name string, n int) (int32, error) {
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, usagef("--%s: %d is out of range", name, n)
	}
	return int32(n), nil
}

// oneID returns the single positional ID of "get ID"-style commands.
func oneID(pos []string) (string, error) {
	switch len(pos) {
	case 0:
		return "", usagef("missing the ID")
	case 1:
		return pos[0], nil
	}
	return "", usagef("expected one ID, got %d arguments", len(pos))
}

// parseName parses the flags of a "get NAME"-style command and returns
// the resource name of its single positional argument. People type or
// paste either the full name ("assets/3f25…") or the bare id the console
// shows; a bare id is taken as an id in collection (the first segment of
// the resource's name).
func (c *cli) parseName(fs *flag.FlagSet, args []string, collection string) (string, error) {
	pos, err := c.parse(fs, args)
	if err != nil {
		return "", err
	}
	arg, err := oneID(pos)
	if err != nil || strings.Contains(arg, "/") {
		return arg, err
	}
	return collection + "/" + arg, nil
}

// parseFlagsOnly parses the flags of a command that takes no positional
// arguments, and refuses any.
func (c *cli) parseFlagsOnly(fs *flag.FlagSet, args []string) error {
	pos, err := c.parse(fs, args)
	if err == nil && len(pos) > 0 {
		err = usagef("unexpected argument %q", pos[0])
	}
	return err
}

// nameOf is the flag-value form of parseName: "" stays "", a bare id gets
// the collection prefix.
func nameOf(collection, v string) string {
	if v == "" || strings.Contains(v, "/") {
		return v
	}
	return collection + "/" + v
}

// readInput reads a file, or standard input for "-".
func readInput(c *cli, name string) ([]byte, error) {
	if name == "-" {
		if c.in == nil {
			return nil, errors.New("no standard input")
		}
		return io.ReadAll(c.in)
	}
	return os.ReadFile(name)
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// clean keeps a value on its line: tabs and newlines in user text would
// break the table.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

func formatTime(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}
