package main

import (
	"strings"
	"testing"

	"github.com/sparc-network/sparc/internal/server"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The CLI reaches a sparcd serving TLS when told which CA to trust, and
// fails verification when it is not.
func TestCLIOverTLS(t *testing.T) {
	t.Parallel()
	ca := testenv.NewCA(t, "Test CA")
	cert := ca.Server(t, "sparcd")
	env := testenv.NewServer(t, testenv.Options{TLS: server.TLSFiles{CertFile: cert.CertFile, KeyFile: cert.KeyFile}})
	to := asAdmin(env)

	if out := mustSparc(t, to, "--ca", ca.File, "orgs", "list"); !strings.Contains(out, "Test admin organisation") {
		t.Fatalf("orgs list over TLS:\n%s", out)
	}
	// --tls alone trusts the system's CAs, which did not issue this one.
	r := sparc(t, to, "--tls", "orgs", "list")
	if r.code != exitFailure || !strings.Contains(r.stderr, "certificate signed by unknown authority") {
		t.Fatalf("--tls without the CA: exit %d\n%s", r.code, r.stderr)
	}
	// So does a CA file of another authority.
	r = sparc(t, to, "--ca", testenv.NewCA(t, "Other CA").File, "orgs", "list")
	if r.code != exitFailure || !strings.Contains(r.stderr, "certificate signed by unknown authority") {
		t.Fatalf("--ca of another CA: exit %d\n%s", r.code, r.stderr)
	}
	// Plaintext (the loopback default) does not get through a TLS port.
	if r = sparc(t, to, "orgs", "list"); r.code != exitFailure || !strings.Contains(r.stderr, "the server may require TLS") {
		t.Fatalf("plaintext to a TLS port: exit %d\n%s", r.code, r.stderr)
	}
}

// A server requiring client certificates answers the CLI with --cert and
// --cert-key only.
func TestCLIMutualTLS(t *testing.T) {
	t.Parallel()
	ca := testenv.NewCA(t, "Server CA")
	partners := testenv.NewCA(t, "Partner CA")
	cert := ca.Server(t, "sparcd")
	env := testenv.NewServer(t, testenv.Options{TLS: server.TLSFiles{CertFile: cert.CertFile, KeyFile: cert.KeyFile, ClientCAFile: partners.File}})
	to := asAdmin(env)
	client := partners.Client(t, "partner")

	if out := mustSparc(t, to, "--ca", ca.File, "--cert", client.CertFile, "--cert-key", client.KeyFile, "orgs", "list"); !strings.Contains(out, "Test admin organisation") {
		t.Fatalf("orgs list with a client certificate:\n%s", out)
	}
	// (The refusal may reach the CLI as the server's alert or, when TLS 1.3
	// lets the client write first, as a cut connection: both say what to do.)
	if r := sparc(t, to, "--ca", ca.File, "orgs", "list"); r.code != exitFailure || !strings.Contains(r.stderr, "client certificate: add --cert FILE --cert-key FILE") {
		t.Fatalf("without a client certificate: exit %d\n%s", r.code, r.stderr)
	}
	// And TLS flags towards a plaintext server say so.
	plain := testenv.NewServer(t)
	if r := sparc(t, asAdmin(plain), "--ca", ca.File, "orgs", "list"); r.code != exitFailure || !strings.Contains(r.stderr, "the server speaks plaintext") {
		t.Fatalf("TLS to a plaintext port: exit %d\n%s", r.code, r.stderr)
	}
}

// Plaintext is the default only towards this machine; elsewhere it takes
// --insecure. Contradictory or unreadable TLS flags are usage errors and
// nothing is sent.
func TestCLITransportChoice(t *testing.T) {
	t.Parallel()
	ca := testenv.NewCA(t, "Test CA")
	client := ca.Client(t, "partner")
	cases := []struct {
		name  string
		addr  string
		flags transportFlags
		tls   bool   // want TLS credentials
		err   string // want this usage error
	}{
		{"loopback IPv4", "127.0.0.1:9090", transportFlags{}, false, ""},
		{"loopback IPv6", "[::1]:9090", transportFlags{}, false, ""},
		{"localhost", "localhost:9090", transportFlags{}, false, ""},
		{"unix socket", "unix:///run/sparc/grpc.sock", transportFlags{}, false, ""},
		{"remote without TLS", "sparc.example.org:443", transportFlags{}, false, "not a loopback address"},
		{"remote IP without TLS", "192.0.2.10:9090", transportFlags{}, false, "not a loopback address"},
		{"dns target without TLS", "dns:///sparc.example.org:443", transportFlags{}, false, "not a loopback address"},
		{"remote with --insecure", "192.0.2.10:9090", transportFlags{insecure: true}, false, ""},
		{"remote with --tls", "sparc.example.org:443", transportFlags{tls: true}, true, ""},
		{"remote with --ca", "sparc.example.org:443", transportFlags{ca: ca.File}, true, ""},
		{"client certificate implies TLS", "sparc.example.org:443", transportFlags{cert: client.CertFile, certKey: client.KeyFile}, true, ""},
		{"--insecure with --tls", "127.0.0.1:9090", transportFlags{tls: true, insecure: true}, false, "cannot be combined"},
		{"--cert without --cert-key", "127.0.0.1:9090", transportFlags{cert: client.CertFile}, false, "go together"},
		{"--ca not PEM", "127.0.0.1:9090", transportFlags{ca: client.KeyFile}, false, "no PEM certificates"},
		{"--ca missing", "127.0.0.1:9090", transportFlags{ca: ca.File + ".missing"}, false, "--ca"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			creds, err := tc.flags.transport(tc.addr)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := creds.Info().SecurityProtocol == "tls"; got != tc.tls {
				t.Fatalf("security protocol %q, want TLS %v", creds.Info().SecurityProtocol, tc.tls)
			}
		})
	}

	// On the command line: exit 2, and no connection is made.
	addr, connections := countingListener(t)
	r := sparc(t, target{addr: addr}, "--tls", "--insecure", "orgs", "list")
	if r.code != exitUsage || !strings.Contains(r.stderr, "cannot be combined") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	r = sparc(t, target{addr: "192.0.2.10:9090"}, "orgs", "list")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--insecure") {
		t.Fatalf("remote plaintext: exit %d\n%s", r.code, r.stderr)
	}
	if n := connections.Load(); n != 0 {
		t.Fatalf("%d connections made for a usage error", n)
	}
}
