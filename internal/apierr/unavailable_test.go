package apierr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// The errors below are the real ones pgx returns against a real server,
// not hand-made look-alikes: a database outage must read UNAVAILABLE with
// a retry delay, and a failure of the request must not.
func TestDatabaseOutagesAreUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := testenv.NewDatabase(t)

	// Nothing listens: the server is down or restarting.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	_, refused := pgx.Connect(ctx, fmt.Sprintf("postgres://u:p@127.0.0.1:%d/db?sslmode=disable", port))

	// The server ends a session (57P01), as a shutdown or a crash does,
	// and the connection is then closed.
	victim, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close(ctx)
	killer, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close(ctx)
	if _, err := killer.Exec(ctx, "SELECT pg_terminate_backend($1)", victim.PgConn().PID()); err != nil {
		t.Fatal(err)
	}
	var terminated error
	for terminated == nil { // the FATAL arrives with the next read
		_, terminated = victim.Exec(ctx, "SELECT 1")
	}
	_, closed := victim.Exec(ctx, "SELECT 1")

	// A proxy in front of the server (HAProxy on Patroni) cuts the
	// connection while a result is on its way: a failover.
	cut := cutMidResult(ctx, t, url)

	// Failures of the request itself.
	_, uniqueViolation := killer.Exec(ctx, "CREATE TEMP TABLE t (k int PRIMARY KEY); INSERT INTO t VALUES (1), (1)")
	badPassword := strings.Replace(url, "postgres://postgres:", "postgres://postgres:wrong", 1)
	_, refusedLogin := pgx.Connect(ctx, badPassword)

	cases := []struct {
		name string
		err  error
		code codes.Code
	}{
		{"connection refused", fmt.Errorf("searching assets: %w", refused), codes.Unavailable},
		{"session terminated (57P01)", fmt.Errorf("listing: %w", terminated), codes.Unavailable},
		{"use of the closed connection", closed, codes.Unavailable},
		{"connection cut mid-result by a proxy", fmt.Errorf("searching assets: %w", cut), codes.Unavailable},
		{"retries ended by the deadline", errors.Join(refused, context.DeadlineExceeded), codes.Unavailable},
		{"starting up (57P03)", &pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}, codes.Unavailable},
		{"crash shutdown (57P02)", &pgconn.PgError{Code: "57P02"}, codes.Unavailable},
		{"connection failure (08006)", &pgconn.PgError{Code: "08006"}, codes.Unavailable},
		{"unique violation", uniqueViolation, codes.Internal},
		{"wrong password is misconfiguration", refusedLogin, codes.Internal},
		{"a bare EOF is no outage", fmt.Errorf("reading: %w", io.EOF), codes.Internal},
		{"a canceled caller stays canceled", errors.Join(refused, context.Canceled), codes.Canceled},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Fatalf("%s: no error was produced", c.name)
		}
		st, unexpected := apierr.ToStatus(c.err)
		if st.Code() != c.code {
			t.Errorf("%s (%v): %v, want %v", c.name, c.err, st.Code(), c.code)
			continue
		}
		if c.code != codes.Unavailable {
			continue
		}
		// An outage is reported once by the supervisor, not per request,
		// and never quotes the driver.
		if unexpected || strings.Contains(st.Message(), "connect") || strings.Contains(st.Message(), "127.0.0.1") {
			t.Errorf("%s: unexpected=%v, message %q", c.name, unexpected, st.Message())
		}
		var delay time.Duration
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				delay = ri.GetRetryDelay().AsDuration()
			}
		}
		if delay != apierr.RetryDelay {
			t.Errorf("%s: retry delay %v, want %v", c.name, delay, apierr.RetryDelay)
		}
	}
}

// cutMidResult runs a batch through a TCP proxy to the server at dbURL
// (a unix socket, as testenv gives) and closes the proxy's connections
// while the batch's result is awaited, as HAProxy's shutdown-sessions does
// when Patroni demotes or loses the node: the error pgx returns (a bare
// io.ErrUnexpectedEOF, not wrapped by pgconn).
func cutMidResult(ctx context.Context, t *testing.T, dbURL string) error {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	socket := q.Get("host") + "/.s.PGSQL." + q.Get("port")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cut := make(chan struct{})
	go func() {
		client, err := l.Accept()
		if err != nil {
			return
		}
		defer client.Close()
		server, err := net.Dial("unix", socket)
		if err != nil {
			return
		}
		defer server.Close()
		go func() { _, _ = io.Copy(server, client) }()
		go func() { _, _ = io.Copy(client, server) }()
		<-cut
	}()
	q.Del("host")
	q.Del("port")
	u.RawQuery, u.Host = q.Encode(), l.Addr().String()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	b := &pgx.Batch{}
	b.Queue("SELECT pg_sleep(5)")
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	time.AfterFunc(200*time.Millisecond, func() { close(cut) })
	_, err = br.Query()
	return err
}
