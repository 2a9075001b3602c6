package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/caller"
	"github.com/sparc-network/sparc/internal/server"
	"github.com/sparc-network/sparc/internal/testenv"
)

// Finding 4: slow-body connections (headers, then a byte now and then)
// were never closed, and 20,400 of them exhausted the server's file
// descriptors. Now each is closed once its body timeout passes, however
// steadily it trickles, and the server answers searches meanwhile.
func TestSlowBodyConnectionsAreClosedWhileSearchesAreAnswered(t *testing.T) {
	const (
		slow        = 3000
		bodyTimeout = 3 * time.Second
	)
	env := testenv.NewServer(t, testenv.Options{Edge: server.Edge{BodyTimeout: bodyTimeout, MaxConnsPerAddr: 2 * slow}})
	type slowConn struct {
		c      net.Conn
		opened time.Time
		closed time.Time
	}
	var (
		mu    sync.Mutex // guards conns: the trickle starts while they open
		conns = make([]*slowConn, 0, slow)
	)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, sc := range conns {
			sc.c.Close()
		}
	})

	// The attack: one more byte of JSON whitespace on every connection
	// every second (far more often than any idle timeout would allow). A
	// write fails once the server has closed the connection: that is when
	// it closed, to within a second or two.
	stop, done := make(chan struct{}), make(chan struct{})
	trickled := make(chan int)
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			mu.Lock()
			opened := conns[:len(conns):len(conns)]
			mu.Unlock()
			open := slow - len(opened)
			for _, sc := range opened {
				if !sc.closed.IsZero() {
					continue
				}
				_ = sc.c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := sc.c.Write([]byte(" ")); err != nil {
					sc.closed = time.Now()
					continue
				}
				open++
			}
			select {
			case trickled <- open:
			case <-stop:
				return
			}
		}
	}()
	head := "POST /v1/assets HTTP/1.1\r\nHost: sparc\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"
	for i := range slow {
		c, err := net.DialTimeout("tcp", env.Server.HTTPAddr(), 5*time.Second)
		if err != nil {
			close(stop)
			t.Fatalf("opening slow connection %d: %v", i, err)
		}
		if _, err := io.WriteString(c, head); err != nil {
			close(stop)
			t.Fatal(err)
		}
		mu.Lock()
		conns = append(conns, &slowConn{c: c, opened: time.Now()})
		mu.Unlock()
	}

	// With the slow connections open, searches are answered, over HTTP
	// and gRPC.
	search := sparcv1.NewAssetServiceClient(env.Anonymous())
	for i := range 20 {
		start := time.Now()
		resp, err := http.Get(env.HTTPBase + "/v1/assets:search?latitude=52.48&longitude=-1.89&radius_meters=3000")
		if err != nil {
			t.Fatalf("search %d over HTTP during the attack: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || time.Since(start) > 2*time.Second {
			t.Fatalf("search %d over HTTP during the attack: %d after %v", i, resp.StatusCode, time.Since(start))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err = search.SearchAssets(ctx, &sparcv1.SearchAssetsRequest{Latitude: proto.Float64(52.48), Longitude: proto.Float64(-1.89), RadiusMeters: proto.Float64(3000)})
		cancel()
		if err != nil {
			t.Fatalf("search %d over gRPC during the attack: %v", i, err)
		}
	}

	// Wait until every slow connection is closed, bounded well past the
	// body timeout (the machine may be loaded).
	deadline := time.After(bodyTimeout + 60*time.Second)
	for open := slow; open > 0; {
		select {
		case open = <-trickled:
		case <-deadline:
			close(stop)
			t.Fatalf("%d of %d slow-body connections still open a minute after the body timeout", open, slow)
		}
	}
	close(stop)
	<-done
	shortest, longest := time.Hour, time.Duration(0)
	for _, sc := range conns {
		life := sc.closed.Sub(sc.opened)
		shortest, longest = min(shortest, life), max(longest, life)
	}
	// Not before the timeout (so it is the timeout that closed them, not a
	// connection cap), and within it give or take the second that notices
	// and a loaded machine.
	if shortest < bodyTimeout {
		t.Errorf("a slow-body connection was closed after %v, before the body timeout of %v", shortest, bodyTimeout)
	}
	if longest > bodyTimeout+10*time.Second {
		t.Errorf("a slow-body connection lived %v with a body timeout of %v", longest, bodyTimeout)
	}
	t.Logf("%d slow-body connections, body timeout %v: opened over %v, closed after %v to %v", slow, bodyTimeout,
		conns[len(conns)-1].opened.Sub(conns[0].opened).Round(time.Millisecond), shortest.Round(time.Millisecond), longest.Round(time.Millisecond))
}

// One address cannot take every connection: beyond its cap a connection
// is closed at once, other addresses are served, and a freed slot is
// usable again.
func TestConnectionsPerAddressAreCapped(t *testing.T) {
	t.Parallel()
	const perAddr = 5
	env := testenv.NewServer(t, testenv.Options{Edge: server.Edge{MaxConnsPerAddr: perAddr}})
	// served reports whether a new connection from src is answered.
	served := func(src string) bool {
		c, err := testenv.DialerFrom(src).Dial("tcp", env.Server.HTTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: sparc\r\n\r\n"); err != nil {
			return false
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection from %s neither answered nor closed: %v", src, err)
			}
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	var held []net.Conn
	for range perAddr {
		c, err := testenv.DialerFrom("127.0.0.2").Dial("tcp", env.Server.HTTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	// The server may not have accepted the held connections yet: wait
	// until one more from the address is refused.
	testenv.Until(t, 10*time.Second, fmt.Sprintf("a connection beyond %d from one address refused", perAddr),
		func() bool { return !served("127.0.0.2") })
	if !served("127.0.0.3") {
		t.Fatal("another address was refused too")
	}
	held[0].Close()
	held = held[1:]
	testenv.Until(t, 10*time.Second, "a closed connection's slot given back", func() bool { return served("127.0.0.2") })
}

// The timeouts leave streams alone: a watch over HTTP outlives the write
// timeout while it waits, and still delivers the next change.
func TestWatchOverHTTPOutlivesTheWriteTimeout(t *testing.T) {
	t.Parallel()
	const writeTimeout = time.Second
	env := testenv.NewServer(t, testenv.Options{Edge: server.Edge{WriteTimeout: writeTimeout, BodyTimeout: writeTimeout}})
	refs := env.NewReferrals(t)
	first := refs.Refer(t, "edge-1")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", env.HTTPBase+"/v1/referrals:watch", nil)
	req.Header.Set("Authorization", "Bearer "+refs.LinkWorkerKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("watch: HTTP %d", resp.StatusCode)
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() string {
		if !lines.Scan() {
			t.Fatalf("watch ended: %v", lines.Err())
		}
		var line struct {
			Result struct {
				ReferralID string `json:"referral"`
			} `json:"result"`
		}
		if err := json.Unmarshal(lines.Bytes(), &line); err != nil {
			t.Fatalf("watch line %s: %v", lines.Bytes(), err)
		}
		return line.Result.ReferralID
	}
	if got := next(); got != first {
		t.Fatalf("first change for %s, want %s", got, first)
	}
	// The stream stays idle for longer than the write timeout: time passing
	// is what is tested here, not a way to wait for something.
	time.Sleep(3 * writeTimeout)
	second := refs.Refer(t, "edge-2")
	if got := next(); got != second {
		t.Fatalf("change after an idle spell for %s, want %s", got, second)
	}
}

// Finding 8: the audit log's address and request id came from headers any
// client can write. Now X-Forwarded-For and X-Request-Id count only from a
// trusted proxy, over HTTP and gRPC; the gateway's own word on the client
// (x-sparc-client-addr) counts only on the connections it dialled.
func TestClientAddressAndRequestIDComeOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		proxies string
		trusted bool
	}{
		{"no trusted proxies", "", false},
		{"loopback is not among the trusted proxies", "10.0.0.0/8", false},
		{"loopback is a trusted proxy", "10.0.0.0/8, 127.0.0.0/8", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.NewServer(t, testenv.Options{Edge: server.Edge{TrustedProxies: caller.MustParseProxies(tc.proxies)}})
			// audited returns the address and request id of the audit event
			// with request id id (the one the server answered with).
			audited := func(id string) (peer string) {
				t.Helper()
				if err := env.Pool.QueryRow(context.Background(), `SELECT peer FROM audit_events WHERE request_id = $1`, id).Scan(&peer); err != nil {
					t.Fatalf("audit event of request %q: %v", id, err)
				}
				return peer
			}
			wantPeer := func(forwarded string) string {
				if tc.trusted {
					return forwarded
				}
				return "127.0.0.1"
			}
			check := func(how, gotID, sentID, gotPeer, forwarded string) {
				t.Helper()
				if tc.trusted != (gotID == sentID) {
					t.Errorf("%s: request id %q for a client's %q (trusted proxy: %v)", how, gotID, sentID, tc.trusted)
				}
				if want := wantPeer(forwarded); gotPeer != want {
					t.Errorf("%s: audited address %q, want %q", how, gotPeer, want)
				}
			}

			// HTTP: ListAuditEvents is audited on every call.
			for i, h := range []struct{ xff []string }{
				{[]string{"203.0.113.9"}},
				// The proxy appends the address it saw: the client's own
				// entries further left prove nothing.
				{[]string{"198.51.100.1, 203.0.113.9"}},
				{[]string{"198.51.100.1", "203.0.113.9"}},
			} {
				sent := fmt.Sprintf("proxy-req-%d", i)
				req, _ := http.NewRequest("GET", env.HTTPBase+"/v1/auditEvents?page_size=1", nil)
				for _, v := range h.xff {
					req.Header.Add("X-Forwarded-For", v)
				}
				req.Header.Set("X-Request-Id", sent)
				req.Header.Set("Grpc-Metadata-X-Sparc-Client-Addr", "192.0.2.66")
				req.Header.Set("Grpc-Metadata-X-Request-Id", "forged-by-metadata")
				resp, err := env.HTTP.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || len(resp.Header.Values("X-Request-Id")) != 1 {
					t.Fatalf("HTTP %d, request ids %q", resp.StatusCode, resp.Header.Values("X-Request-Id"))
				}
				got := resp.Header.Get("X-Request-Id")
				check("HTTP "+strings.Join(h.xff, " | "), got, sent, audited(got), "203.0.113.9")
			}

			// gRPC straight to the server, with every header a client could
			// use to pass for someone else.
			audit := sparcv1.NewAuditServiceClient(env.Conn)
			var header metadata.MD
			ctx := metadata.AppendToOutgoingContext(context.Background(), "x-forwarded-for", "203.0.113.9",
				"x-request-id", "grpc-req", "x-sparc-client-addr", "192.0.2.66")
			if _, err := audit.ListAuditEvents(ctx, &sparcv1.ListAuditEventsRequest{PageSize: 1}, grpc.Header(&header)); err != nil {
				t.Fatal(err)
			}
			got := header.Get("x-request-id")
			if len(got) != 1 {
				t.Fatalf("gRPC answered request ids %q", got)
			}
			check("gRPC", got[0], "grpc-req", audited(got[0]), "203.0.113.9")

			// x-sparc-client-addr alone is the gateway's, never a client's,
			// even a trusted proxy's.
			ctx = metadata.AppendToOutgoingContext(context.Background(), "x-sparc-client-addr", "192.0.2.66", "x-request-id", "gw-forged")
			header = nil
			if _, err := audit.ListAuditEvents(ctx, &sparcv1.ListAuditEventsRequest{PageSize: 1}, grpc.Header(&header)); err != nil {
				t.Fatal(err)
			}
			id := header.Get("x-request-id")[0]
			if peer := audited(id); peer != "127.0.0.1" {
				t.Errorf("a direct gRPC client passed for %q with x-sparc-client-addr", peer)
			}
		})
	}
}
