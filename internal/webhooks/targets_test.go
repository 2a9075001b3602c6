package webhooks_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/webhooks"
)

// publicOnly is a production server's setting (private targets refused)
// with one attempt per change while a test looks.
var publicOnly = webhooks.Config{BackoffBase: time.Hour, Poll: 50 * time.Millisecond, Timeout: 5 * time.Second}

// Finding 9 of issue 12: a group editor registered http://127.0.0.1:<port>/
// for the database and gRPC ports and localhost:22. Every address that is
// not public unicast is refused at registration, in every spelling.
func TestWebhookTargetsAtNonPublicAddressesAreRefusedAtRegistration(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t, publicOnly)
	pgPort := w.owner.Config().ConnConfig.Port
	refused := map[string]string{ // URL → start of the violation
		fmt.Sprintf("http://127.0.0.1:%d/", pgPort): "is at a non-public address (loopback)",
		"https://" + w.grpcAddr + "/":               "is at a non-public address (loopback)",
		"https://localhost:22/":                     "is at a non-public address (loopback)",
		"https://LocalHost./sparc":                  "is at a non-public address (loopback)",
		"https://db.localhost/sparc":                "is at a non-public address (loopback)",
		"https://127.9.9.9/sparc":                   "is at a non-public address (loopback)",
		"https://[::1]:5432/":                       "is at a non-public address (loopback)",
		"https://[::ffff:127.0.0.1]/sparc":          "is at a non-public address (loopback)",
		"https://[::ffff:7f00:1]/sparc":             "is at a non-public address (loopback)",
		"https://[2002:7f00:1::]/sparc":             "is at a non-public address (loopback)", // 6to4 of 127.0.0.1
		"https://10.0.0.8/sparc":                    "is at a non-public address (private)",
		"https://172.16.5.4/sparc":                  "is at a non-public address (private)",
		"https://192.168.1.1/sparc":                 "is at a non-public address (private)",
		"https://[fd12:3456::1]/sparc":              "is at a non-public address (private)",
		"https://[::ffff:10.1.2.3]/sparc":           "is at a non-public address (private)",
		"https://169.254.169.254/latest/meta-data/": "is at a non-public address (link-local)",
		"https://[::ffff:169.254.169.254]/":         "is at a non-public address (link-local)",
		"https://[64:ff9b::a9fe:a9fe]/":             "is at a non-public address (link-local)", // NAT64 of 169.254.169.254
		"https://[fe80::1%25eth0]/sparc":            "is at a non-public address (link-local)",
		"https://0.0.0.0:8080/":                     "is at a non-public address (unspecified)",
		"https://[::]/sparc":                        "is at a non-public address (unspecified)",
		"https://0.1.2.3/sparc":                     "is at a non-public address (this-network)",
		"https://100.64.0.1/sparc":                  "is at a non-public address (shared (carrier-grade NAT))",
		"https://224.0.0.1/sparc":                   "is at a non-public address (multicast)",
		"https://[ff02::1]/sparc":                   "is at a non-public address (multicast)",
		"https://255.255.255.255/sparc":             "is at a non-public address (reserved)",
		"https://198.18.0.1/sparc":                  "is at a non-public address (benchmarking)",
		"https://127.1/sparc":                       "has a host that is neither a name nor an address in standard form",
		"https://2130706433/sparc":                  "has a host that is neither a name nor an address in standard form",
		"https://0x7f000001/sparc":                  "has a host that is neither a name nor an address in standard form",
		"https://0177.0.0.1/sparc":                  "has a host that is neither a name nor an address in standard form",
		"http://example.org/sparc":                  "must use https",
	}
	transports := map[string]sparcv1.WebhookServiceClient{"grpc": w.lwHooks,
		"http": &httpWebhooks{t: t, base: w.httpBase, key: w.keys[w.lwOrg]}}
	for name, c := range transports {
		for u, want := range refused {
			_, err := c.CreateWebhook(context.Background(), &sparcv1.CreateWebhookRequest{Webhook: &sparcv1.Webhook{Url: u}})
			if got := violations(err); status.Code(err) != codes.InvalidArgument || len(got) != 1 || !strings.HasPrefix(got[0], "webhook.url: "+want) {
				t.Errorf("%s: %s: %v %v, want InvalidArgument %q", name, u, status.Code(err), got, want)
			}
		}
	}
	var n int
	if err := w.owner.QueryRow(context.Background(), `SELECT count(*) FROM webhooks`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("refused URLs stored %d webhooks (%v)", n, err)
	}
	// Public addresses and names are taken; a name is judged when
	// connecting (the next test).
	for _, u := range []string{"https://example.org/sparc", "https://93.184.215.14/sparc", "https://[2606:4700:4700::1111]/sparc",
		"https://hooks.example.org:8443/sparc"} {
		if _, err := w.lwHooks.CreateWebhook(context.Background(), &sparcv1.CreateWebhookRequest{Webhook: &sparcv1.Webhook{Url: u}}); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// lastErrorVocabulary is every last_error a delivery can record
// (docs/webhooks.md): fixed phrases, none quoting the other side.
var lastErrorVocabulary = regexp.MustCompile(`^(HTTP [1-5][0-9][0-9]( [A-Za-z' -]+)?|no answer within [0-9.]+m?s|connection refused|` +
	`connection closed without an answer|network unreachable|TLS handshake failed|TLS certificate (not trusted|is not for this host|expired or not yet valid)|` +
	`no valid HTTP answer|address not allowed or host not found \(webhooks reach public addresses only\)|the URL cannot be used)$`)

// failedOnce waits for each webhook's first recorded failure and returns
// its last_error, read as the owner reads it.
func failedOnce(t *testing.T, c sparcv1.WebhookServiceClient, hooks map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, hook := range hooks {
		var h *sparcv1.Webhook
		waitFor(t, "a delivery attempt recorded for "+name, func() bool {
			var err error
			h, err = c.GetWebhook(context.Background(), &sparcv1.GetWebhookRequest{Name: hook})
			return err == nil && (h.GetConsecutiveFailures() >= 1 || h.GetLastSuccessTime() != nil)
		})
		if h.GetLastSuccessTime() != nil {
			t.Errorf("%s: delivered, want a failure", name)
		}
		out[name] = h.GetLastError()
		if !lastErrorVocabulary.MatchString(h.GetLastError()) {
			t.Errorf("%s: last_error %q is not one of the fixed phrases", name, h.GetLastError())
		}
	}
	return out
}

// The check at registration sees only what was written; the address
// connected to is checked again after resolution, so a name that
// resolves (or is re-pointed) to this machine gets nowhere. The stored
// URLs are changed behind the API, as a name's DNS answer would change
// behind the registration.
func TestWebhookDeliveryRefusesNonPublicAddressesWhenConnecting(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t, publicOnly)
	recv := newReceiver(t, 0)
	port := recv.srv.URL[strings.LastIndex(recv.srv.URL, ":")+1:]
	targets := map[string]string{
		"a name resolving to loopback": "http://localhost:" + port + "/sparc",
		"a loopback address":           recv.srv.URL + "/sparc",
		"a mapped loopback address":    "http://[::ffff:127.0.0.1]:" + port + "/sparc",
	}
	hooks := map[string]string{} // description → webhook name
	for name, u := range targets {
		resp, err := w.lwHooks.CreateWebhook(context.Background(), &sparcv1.CreateWebhookRequest{Webhook: &sparcv1.Webhook{
			Url: "https://hooks.example.org/sparc", Description: name}})
		if err != nil {
			t.Fatal(err)
		}
		recv.setSecret(resp.GetSecret())
		hooks[name] = resp.GetWebhook().GetName()
		if _, err := w.owner.Exec(context.Background(), `UPDATE webhooks SET url = $2 WHERE id = $1`, idOf(resp.GetWebhook()), u); err != nil {
			t.Fatal(err)
		}
	}
	refer(t, w.people, w.lw, w.asset, false)
	for name, msg := range failedOnce(t, w.lwHooks, hooks) {
		if msg != "address not allowed or host not found (webhooks reach public addresses only)" {
			t.Errorf("%s: last_error %q, want the address refusal", name, msg)
		}
	}
	if got := recv.snapshot(); len(got) != 0 {
		t.Errorf("the loopback receiver was reached %d times", len(got))
	}
}

// rawListener is a TCP service on 127.0.0.1 that is not a webhook
// receiver: it writes reply (nothing when empty) at once when it speaks
// first (as SSH does), else after the request's head, and holds the
// connection until the client closes it.
func rawListener(t *testing.T, reply string, speaksFirst bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if !speaksFirst {
					head := bufio.NewReader(c)
					for {
						line, err := head.ReadString('\n')
						if err != nil {
							return
						}
						if line == "\r\n" {
							break
						}
					}
				}
				if reply != "" {
					_, _ = c.Write([]byte(reply))
				}
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// Finding 9, second half: last_error told what answered on each port.
// Where private targets are allowed (so that something answers at all),
// the state of a failing webhook is still only a fixed phrase: no banner,
// no reason phrase, no body, no dial error naming the address.
func TestWebhookLastErrorNeverQuotesWhatAnswered(t *testing.T) {
	t.Parallel()
	cfg := publicOnly
	cfg.AllowPrivate, cfg.Timeout = true, time.Second
	w := newHookWorld(t, cfg)
	banner := rawListener(t, "SSH-2.0-OpenSSH_9.6 leak-banner\r\n", true)
	status503 := rawListener(t, "HTTP/1.1 503 leak-reason\r\nContent-Length: 9\r\nConnection: close\r\n\r\nleak-body", false)
	silent := rawListener(t, "", false)
	// A port nothing listens on. On 127.0.0.2, which no other test binds:
	// a port freed on 127.0.0.1 can be taken at once by a parallel test's
	// receiver, which would then answer (a clean run caught it).
	closed, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	elsewhere := newReceiver(t, 0)
	redirect := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, elsewhere.srv.URL+"/leak-location", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	pg := "127.0.0.1:" + strconv.Itoa(int(w.owner.Config().ConnConfig.Port))

	targets := map[string]struct{ url, want string }{
		"ssh banner":        {"http://" + banner + "/", "no valid HTTP answer"},
		"ssh banner on tls": {"https://" + banner + "/", "TLS handshake failed"},
		"reason and body":   {"http://" + status503 + "/", "HTTP 503 Service Unavailable"},
		"silent":            {"http://" + silent + "/", "no answer within 1s"},
		"closed port":       {"http://" + closedAddr + "/", "connection refused"},
		"redirect":          {redirect.URL + "/", "HTTP 307 Temporary Redirect"},
		"postgresql":        {"http://" + pg + "/", ""}, // any phrase: what PostgreSQL does with HTTP is its business
	}
	hooks := map[string]string{} // description → webhook name
	for name, tg := range targets {
		resp, err := w.lwHooks.CreateWebhook(context.Background(), &sparcv1.CreateWebhookRequest{Webhook: &sparcv1.Webhook{Url: tg.url, Description: name}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		hooks[name] = resp.GetWebhook().GetName()
	}
	refer(t, w.people, w.lw, w.asset, false)
	for name, msg := range failedOnce(t, w.lwHooks, hooks) {
		if want := targets[name].want; want != "" && msg != want {
			t.Errorf("%s: last_error %q, want %q", name, msg, want)
		}
		for _, leak := range []string{"leak", "SSH", "127.0.0.1", "localhost", "postgres", "HTTP/1"} {
			if strings.Contains(strings.ToLower(msg), strings.ToLower(leak)) {
				t.Errorf("%s: last_error %q quotes %q", name, msg, leak)
			}
		}
	}
	if got := elsewhere.snapshot(); len(got) != 0 {
		t.Errorf("a redirect was followed: %d deliveries reached its target", len(got))
	}
}
