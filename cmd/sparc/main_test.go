package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// result is what one CLI invocation did.
type result struct {
	code           int
	stdout, stderr string
}

// target is the server a CLI invocation talks to, and the key it sends.
type target struct{ addr, key string }

// asAdmin targets env's server with its admin key.
func asAdmin(env *testenv.Env) target {
	return target{addr: env.Server.GRPCAddr(), key: env.AdminKey}
}

// sparc runs the CLI in-process against to, as a user would type it.
func sparc(t *testing.T, to target, args ...string) result {
	t.Helper()
	return sparcWithInput(t, nil, to, args...)
}

func sparcWithInput(t *testing.T, stdin io.Reader, to target, args ...string) result {
	t.Helper()
	global := []string{"--addr", to.addr}
	if to.key != "" {
		global = append(global, "--key", to.key)
	}
	var out, errOut bytes.Buffer
	code := runWithInput(stdin, append(global, args...), &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// mustSparc runs the CLI and fails the test unless it exits 0.
func mustSparc(t *testing.T, to target, args ...string) string {
	t.Helper()
	r := sparc(t, to, args...)
	if r.code != 0 {
		t.Fatalf("sparc %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// countingListener is an address that records whether anything connected,
// to prove a command failed before calling the server.
func countingListener(t *testing.T) (addr string, connections *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	connections = &atomic.Int64{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			connections.Add(1)
			c.Close()
		}
	}()
	return l.Addr().String(), connections
}

var columnSep = regexp.MustCompile(`\s{2,}`)

// tableRows splits a human table into maps keyed by its header.
func tableRows(t *testing.T, out string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "ID") && !strings.HasPrefix(lines[0], "NAME") {
		t.Fatalf("not a table:\n%s", out)
	}
	header := columnSep.Split(strings.TrimSpace(lines[0]), -1)
	var rows []map[string]string
	for _, l := range lines[1:] {
		cells := columnSep.Split(strings.TrimSpace(l), -1)
		if len(cells) != len(header) {
			t.Fatalf("row %q has %d cells, header has %d", l, len(cells), len(header))
		}
		row := map[string]string{}
		for i, h := range header {
			row[h] = cells[i]
		}
		rows = append(rows, row)
	}
	return rows
}

func TestPrintErrorShowsEachDetailOnItsOwnLine(t *testing.T) {
	t.Parallel()
	badRequest := &apierr.InvalidArgument{}
	badRequest.Add("asset.location.latitude", "must be a number between -90 and 90")
	badRequest.Add("asset.name", "is required")
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{
			name: "field violations replace the one-line message",
			err:  badRequest.GRPCStatus().Err(),
			want: []string{
				"sparc: INVALID_ARGUMENT: 2 invalid field(s)",
				"  asset.location.latitude: must be a number between -90 and 90",
				"  asset.name: is required",
			},
		},
		{
			name: "precondition failures name their type and subject",
			err: (&apierr.PreconditionError{Type: "ORGANISATION_SUSPENDED", Subject: "organisations/42",
				Description: "the owner organisation is suspended"}).GRPCStatus().Err(),
			want: []string{
				"sparc: FAILED_PRECONDITION: the owner organisation is suspended",
				"  precondition ORGANISATION_SUSPENDED on organisations/42: the owner organisation is suspended",
			},
		},
		{
			name: "plain status prints code and message",
			err:  status.Error(codes.NotFound, "asset 1: not found"),
			want: []string{"sparc: NOT_FOUND: asset 1: not found"},
		},
		{
			name: "wrapped status keeps its code and the context",
			err:  fmt.Errorf("demo asset 7: %w", status.Error(codes.Aborted, "etag does not match")),
			want: []string{"sparc: ABORTED: demo asset 7: etag does not match"},
		},
		{
			name: "local error",
			err:  errors.New("reading file: no such file"),
			want: []string{"sparc: reading file: no such file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			printError(&b, tt.err)
			got := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got:\n%s\nwant:\n%s", b.String(), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestCodeNameSpellsProtocolNames(t *testing.T) {
	t.Parallel()
	// The oracle is the canonical name list in the gRPC spec's order.
	want := []string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
		"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
		"OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}
	for i, w := range want {
		c := codes.Code(i)
		if got := codeName(c); got != w {
			t.Errorf("codeName(%d) = %q, want %q", i, got, w)
		}
	}
}
