package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/server"
	"github.com/sparc-network/sparc/internal/testenv"
)

// tlsServer runs the whole service (real database, every service, the
// gateway) with files as its TLS set-up and returns it with its log.
func tlsServer(t *testing.T, files server.TLSFiles) (*server.Server, *testenv.LogBuffer) {
	t.Helper()
	pool := testenv.AppPool(t, testenv.NewPool(t))
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testenv.LogBuffer{}
	a, err := app.New(ctx, pool, app.Config{Server: server.Config{ShutdownTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), TLS: files}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	testenv.Serve(t, ctx, cancel, a)
	return a.Server(), logs
}

func httpsClient(roots *x509.CertPool, certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, Certificates: certs},
		ForceAttemptHTTP2: true,
	}}
}

func grpcTLS(t *testing.T, addr string, cfg *tls.Config) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// vocabulary calls a public RPC over HTTP (so through the gateway's hop to
// the gRPC server) and returns the status, or the transport error.
func vocabulary(c *http.Client, srv *server.Server) (int, error) {
	resp, err := c.Get("https://" + srv.HTTPAddr() + "/v1/vocabulary")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func listVocabulary(conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := sparcv1.NewAssetServiceClient(conn).ListVocabulary(ctx, &sparcv1.ListVocabularyRequest{})
	return err
}

// With a certificate, both ports speak only TLS (1.2 at least), and HTTP
// calls reach the gRPC services through the gateway.
func TestTLSOnBothPorts(t *testing.T) {
	t.Parallel()
	ca := testenv.NewCA(t, "Test CA")
	cert := ca.Server(t, "sparcd")
	srv, _ := tlsServer(t, server.TLSFiles{CertFile: cert.CertFile, KeyFile: cert.KeyFile})

	t.Run("HTTP over TLS, through the gateway", func(t *testing.T) {
		resp, err := httpsClient(ca.Pool).Get("https://" + srv.HTTPAddr() + "/v1/vocabulary")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "physical_activity") {
			t.Fatalf("status %d, body %.200s", resp.StatusCode, body)
		}
		if resp.TLS == nil || resp.ProtoMajor != 2 {
			t.Fatalf("want HTTP/2 over TLS, got %s (TLS %v)", resp.Proto, resp.TLS != nil)
		}
	})
	t.Run("gRPC over TLS", func(t *testing.T) {
		conn := grpcTLS(t, srv.GRPCAddr(), &tls.Config{RootCAs: ca.Pool})
		if err := listVocabulary(conn); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("plaintext gRPC is refused", func(t *testing.T) {
		conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := listVocabulary(conn); status.Code(err) != codes.Unavailable {
			t.Fatalf("plaintext call: %v, want UNAVAILABLE", err)
		}
	})
	t.Run("plaintext HTTP is refused", func(t *testing.T) {
		resp, err := http.Get("http://" + srv.HTTPAddr() + "/v1/vocabulary")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Fatal("plaintext HTTP was answered")
			}
		}
	})
	t.Run("a client that does not trust the CA fails verification", func(t *testing.T) {
		_, err := vocabulary(httpsClient(testenv.NewCA(t, "Other CA").Pool), srv)
		if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Fatalf("err %v, want an unknown authority", err)
		}
	})
	for _, port := range []struct{ name, addr string }{{"gRPC", srv.GRPCAddr()}, {"HTTP", srv.HTTPAddr()}} {
		t.Run("TLS 1.1 is refused on "+port.name, func(t *testing.T) {
			c, err := tls.Dial("tcp", port.addr, &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
			if err == nil {
				c.Close()
				t.Fatal("TLS 1.1 handshake succeeded")
			}
			c, err = tls.Dial("tcp", port.addr, &tls.Config{RootCAs: ca.Pool, MaxVersion: tls.VersionTLS12, NextProtos: []string{"h2"}})
			if err != nil {
				t.Fatalf("TLS 1.2: %v", err)
			}
			c.Close()
		})
	}
}

// servedSerial is the serial number of the certificate a new connection to
// addr is shown.
func servedSerial(t *testing.T, addr string, roots *x509.CertPool) *big.Int {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber
}

// replace swaps path's contents by rename, as certificate managers do.
func replace(t *testing.T, path, from string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// A renewed certificate is picked up by new connections without a
// restart; a pair that does not load is logged and the last good one kept.
func TestTLSCertificateReload(t *testing.T) {
	t.Parallel()
	ca := testenv.NewCA(t, "Test CA")
	first := ca.Server(t, "first")
	dir := t.TempDir()
	files := server.TLSFiles{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key"),
		ReloadInterval: time.Nanosecond} // every handshake checks, so the test needs no waiting
	replace(t, files.CertFile, first.CertFile)
	replace(t, files.KeyFile, first.KeyFile)
	srv, logs := tlsServer(t, files)

	for _, addr := range []string{srv.GRPCAddr(), srv.HTTPAddr()} {
		if got := servedSerial(t, addr, ca.Pool); got.Cmp(first.Serial) != 0 {
			t.Fatalf("%s serves serial %v, want %v", addr, got, first.Serial)
		}
	}
	// An open connection keeps working across the renewal.
	open := grpcTLS(t, srv.GRPCAddr(), &tls.Config{RootCAs: ca.Pool})
	if err := listVocabulary(open); err != nil {
		t.Fatal(err)
	}

	second := ca.Server(t, "second")
	replace(t, files.CertFile, second.CertFile)
	replace(t, files.KeyFile, second.KeyFile)
	for _, addr := range []string{srv.GRPCAddr(), srv.HTTPAddr()} {
		if got := servedSerial(t, addr, ca.Pool); got.Cmp(second.Serial) != 0 {
			t.Fatalf("after renewal %s serves serial %v, want %v", addr, got, second.Serial)
		}
	}
	if err := listVocabulary(open); err != nil {
		t.Fatalf("open connection after renewal: %v", err)
	}
	if code, err := vocabulary(httpsClient(ca.Pool), srv); err != nil || code != 200 {
		t.Fatalf("HTTP after renewal: %d %v", code, err)
	}
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Errorf("no log of the reload:\n%s", logs)
	}

	// Half a renewal: a new certificate with the old key does not load.
	third := ca.Server(t, "third")
	replace(t, files.CertFile, third.CertFile)
	for _, addr := range []string{srv.GRPCAddr(), srv.HTTPAddr()} {
		if got := servedSerial(t, addr, ca.Pool); got.Cmp(second.Serial) != 0 {
			t.Fatalf("with a mismatched pair %s serves serial %v, want the previous %v", addr, got, second.Serial)
		}
	}
	if !strings.Contains(logs.String(), "new TLS files do not load; still serving the previous certificate") {
		t.Errorf("no log of the bad pair:\n%s", logs)
	}
	// The other half arrives: the new pair is served.
	replace(t, files.KeyFile, third.KeyFile)
	if got := servedSerial(t, srv.HTTPAddr(), ca.Pool); got.Cmp(third.Serial) != 0 {
		t.Fatalf("after the key arrived: serial %v, want %v", got, third.Serial)
	}
}

// With a client CA, both ports refuse connections without a client
// certificate from it, including from loopback; the HTTP gateway still
// reaches the gRPC server.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	ca := testenv.NewCA(t, "Server CA")
	partners := testenv.NewCA(t, "Partner CA")
	cert := ca.Server(t, "sparcd")
	srv, _ := tlsServer(t, server.TLSFiles{CertFile: cert.CertFile, KeyFile: cert.KeyFile, ClientCAFile: partners.File})

	partner := partners.Client(t, "partner").Pair(t)
	stranger := testenv.NewCA(t, "Stranger CA").Client(t, "stranger").Pair(t)

	t.Run("gRPC with a partner certificate", func(t *testing.T) {
		if err := listVocabulary(grpcTLS(t, srv.GRPCAddr(), &tls.Config{RootCAs: ca.Pool, Certificates: []tls.Certificate{partner}})); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("HTTP with a partner certificate, through the gateway", func(t *testing.T) {
		if code, err := vocabulary(httpsClient(ca.Pool, partner), srv); err != nil || code != 200 {
			t.Fatalf("%d %v", code, err)
		}
	})
	for _, c := range []struct {
		name  string
		certs []tls.Certificate
	}{{"no client certificate", nil}, {"a certificate from another CA", []tls.Certificate{stranger}}} {
		t.Run("gRPC with "+c.name+" is refused", func(t *testing.T) {
			err := listVocabulary(grpcTLS(t, srv.GRPCAddr(), &tls.Config{RootCAs: ca.Pool, Certificates: c.certs}))
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("%v, want UNAVAILABLE", err)
			}
		})
		t.Run("HTTP with "+c.name+" is refused", func(t *testing.T) {
			if code, err := vocabulary(httpsClient(ca.Pool, c.certs...), srv); err == nil {
				t.Fatalf("answered %d", code)
			}
		})
	}
	t.Run("health over gRPC needs the certificate too", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := healthpb.NewHealthClient(grpcTLS(t, srv.GRPCAddr(), &tls.Config{RootCAs: ca.Pool})).Check(ctx, &healthpb.HealthCheckRequest{})
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("%v, want UNAVAILABLE", err)
		}
	})
}

// A client CA without a certificate is a configuration mistake, not a
// plaintext server.
func TestTLSConfigMistakes(t *testing.T) {
	t.Parallel()
	ca := testenv.NewCA(t, "Test CA")
	cert := ca.Server(t, "sparcd")
	for name, files := range map[string]server.TLSFiles{
		"client CA without certificate": {ClientCAFile: ca.File},
		"certificate without key":       {CertFile: cert.CertFile},
		"missing file":                  {CertFile: cert.CertFile, KeyFile: cert.KeyFile + ".missing"},
		"client CA that is not PEM":     {CertFile: cert.CertFile, KeyFile: cert.KeyFile, ClientCAFile: cert.KeyFile},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := server.New(context.Background(), server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", TLS: files}, nil, server.Services{})
			if err == nil || !strings.Contains(err.Error(), "TLS") {
				t.Fatalf("server.New: %v, want a TLS configuration error", err)
			}
		})
	}
}

// The client CA file is reloaded like the certificate, so partners' CAs
// can be rotated without a restart.
func TestClientCAReload(t *testing.T) {
	t.Parallel()
	ca := testenv.NewCA(t, "Server CA")
	cert := ca.Server(t, "sparcd")
	oldCA, newCA := testenv.NewCA(t, "Partner CA 2025"), testenv.NewCA(t, "Partner CA 2026")
	files := server.TLSFiles{CertFile: cert.CertFile, KeyFile: cert.KeyFile,
		ClientCAFile: filepath.Join(t.TempDir(), "partners.pem"), ReloadInterval: time.Nanosecond}
	replace(t, files.ClientCAFile, oldCA.File)
	srv, _ := tlsServer(t, files)
	oldClient, newClient := oldCA.Client(t, "old").Pair(t), newCA.Client(t, "new").Pair(t)

	call := func(c tls.Certificate) error {
		return listVocabulary(grpcTLS(t, srv.GRPCAddr(), &tls.Config{RootCAs: ca.Pool, Certificates: []tls.Certificate{c}}))
	}
	if err := call(oldClient); err != nil {
		t.Fatalf("old partner before rotation: %v", err)
	}
	if err := call(newClient); status.Code(err) != codes.Unavailable {
		t.Fatalf("new partner before rotation: %v, want UNAVAILABLE", err)
	}
	replace(t, files.ClientCAFile, newCA.File)
	if err := call(newClient); err != nil {
		t.Fatalf("new partner after rotation: %v", err)
	}
	if err := call(oldClient); status.Code(err) != codes.Unavailable {
		t.Fatalf("old partner after rotation: %v, want UNAVAILABLE", err)
	}
}
