package server

// TLS on both ports, certificate reloading, optional client certificates
// (mTLS), and the in-process connection the HTTP gateway uses to reach the
// gRPC server.
//
// The gateway's hop never touches the network: it dials an in-memory
// listener served by the same grpc.Server, and the server's transport
// credentials let exactly the connections of that listener through without
// a TLS handshake. Nothing outside the process can open such a connection,
// so requiring client certificates on the gRPC port cannot be bypassed by
// "coming from loopback" (any local process, or a request forged to
// 127.0.0.1, could), and the gateway needs no certificate of its own.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
)

// TLSFiles names the PEM files of the server's TLS set-up. With CertFile
// and KeyFile empty both ports serve plaintext.
type TLSFiles struct {
	CertFile string // certificate chain, leaf first
	KeyFile  string // its private key
	// ClientCAFile, when set, makes both ports require a client certificate
	// issued by one of these CAs (mTLS); connections without one are
	// refused during the handshake, before any request is read.
	ClientCAFile string
	// ReloadInterval bounds how often the files are read again to pick up a
	// renewed certificate (default 5 s).
	ReloadInterval time.Duration
}

// Enabled reports whether the server should serve TLS.
func (f TLSFiles) Enabled() bool { return f.CertFile != "" || f.KeyFile != "" }

func (f TLSFiles) validate() error {
	if f.CertFile == "" || f.KeyFile == "" {
		return errors.New("TLS needs both a certificate and a key file")
	}
	return nil
}

// tlsState is one consistent set of what the files held.
type tlsState struct {
	cert      *tls.Certificate
	clientCAs *x509.CertPool // nil: no client certificates asked for
}

// tlsFiles serves the current certificate and client CAs, re-reading the
// files at most every ReloadInterval on the handshake path. Contents are
// compared rather than modification times: an in-place rewrite within the
// file system's timestamp granularity keeps its mtime and size, and the
// files are a few KB. A set that does not load (a half-written renewal, a
// key that does not match) is logged and the previous one kept; it is
// retried when the files change again.
type tlsFiles struct {
	files    TLSFiles
	log      *slog.Logger
	interval time.Duration

	state     atomic.Pointer[tlsState]
	nextCheck atomic.Int64 // unix nanoseconds
	mu        sync.Mutex   // one reload at a time; others keep the current state
	seen      [3][]byte    // contents last tried: cert, key, client CAs
}

func newTLSFiles(files TLSFiles, log *slog.Logger) (*tlsFiles, error) {
	if err := files.validate(); err != nil {
		return nil, err
	}
	f := &tlsFiles{files: files, log: log, interval: files.ReloadInterval}
	if f.interval <= 0 {
		f.interval = 5 * time.Second
	}
	contents, err := f.read()
	if err != nil {
		return nil, err
	}
	st, err := f.parse(contents)
	if err != nil {
		return nil, err
	}
	f.seen = contents
	f.state.Store(st)
	f.nextCheck.Store(time.Now().Add(f.interval).UnixNano())
	return f, nil
}

func (f *tlsFiles) read() ([3][]byte, error) {
	var out [3][]byte
	for i, name := range []string{f.files.CertFile, f.files.KeyFile, f.files.ClientCAFile} {
		if name == "" {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return out, fmt.Errorf("reading TLS file: %w", err)
		}
		out[i] = b
	}
	return out, nil
}

func (f *tlsFiles) parse(c [3][]byte) (*tlsState, error) {
	cert, err := tls.X509KeyPair(c[0], c[1])
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s with key %s: %w", f.files.CertFile, f.files.KeyFile, err)
	}
	if cert.Leaf == nil { // only under GODEBUG=x509keypairleaf=0
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("TLS certificate %s: %w", f.files.CertFile, err)
		}
	}
	st := &tlsState{cert: &cert}
	if f.files.ClientCAFile != "" {
		st.clientCAs = x509.NewCertPool()
		if !st.clientCAs.AppendCertsFromPEM(c[2]) {
			return nil, fmt.Errorf("TLS client CA file %s: no PEM certificates in it", f.files.ClientCAFile)
		}
	}
	return st, nil
}

// current returns the state to use for a handshake, reloading first when
// the interval has passed and no other handshake is already doing it.
func (f *tlsFiles) current() *tlsState {
	now := time.Now()
	if now.UnixNano() >= f.nextCheck.Load() && f.mu.TryLock() {
		f.reload(now)
		f.mu.Unlock()
	}
	return f.state.Load()
}

func (f *tlsFiles) reload(now time.Time) {
	f.nextCheck.Store(now.Add(f.interval).UnixNano())
	contents, err := f.read()
	if err != nil {
		f.log.Error("TLS files unreadable; still serving the previous certificate", "err", err)
		return
	}
	if bytes.Equal(contents[0], f.seen[0]) && bytes.Equal(contents[1], f.seen[1]) && bytes.Equal(contents[2], f.seen[2]) {
		return
	}
	f.seen = contents
	st, err := f.parse(contents)
	if err != nil {
		f.log.Error("new TLS files do not load; still serving the previous certificate", "err", err)
		return
	}
	f.state.Store(st)
	f.log.Info("TLS certificate reloaded", "subject", st.cert.Leaf.Subject.String(), "not_after", st.cert.Leaf.NotAfter)
}

// config is the tls.Config of one port, offering alpn. Each handshake gets
// the state current at that moment, so new connections see a renewed
// certificate while open ones keep theirs.
func (f *tlsFiles) config(alpn []string) *tls.Config {
	build := func(st *tlsState) *tls.Config {
		c := &tls.Config{
			MinVersion:   tls.VersionTLS12,
			NextProtos:   alpn,
			Certificates: []tls.Certificate{*st.cert},
		}
		if st.clientCAs != nil {
			c.ClientAuth = tls.RequireAndVerifyClientCert
			c.ClientCAs = st.clientCAs
		}
		return c
	}
	base := build(f.state.Load())
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return build(f.current()), nil
	}
	return base
}

// gatewayConn is a connection from the in-process listener; only
// gatewayListener.dial makes one.
type gatewayConn struct{ net.Conn }

// gatewayListener hands in-memory connections from the HTTP gateway to the
// gRPC server.
type gatewayListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newGatewayListener() *gatewayListener {
	return &gatewayListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *gatewayListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *gatewayListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *gatewayListener) Addr() net.Addr { return gatewayAddr{} }

func (l *gatewayListener) dial(ctx context.Context, _ string) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- &gatewayConn{server}:
		return client, nil
	case <-l.closed:
	case <-ctx.Done():
	}
	server.Close()
	client.Close()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, net.ErrClosed
}

type gatewayAddr struct{}

func (gatewayAddr) Network() string { return "pipe" }
func (gatewayAddr) String() string  { return "sparc-gateway" }

// gatewayAuthInfo marks a call that came through the HTTP gateway.
type gatewayAuthInfo struct{ credentials.CommonAuthInfo }

func (gatewayAuthInfo) AuthType() string { return "sparc-gateway" }

// ViaGateway reports whether a gRPC call came from this process's HTTP
// gateway (so metadata the gateway sets, such as x-forwarded-for, is the
// gateway's and not a network client's). A network connection can never
// pass for the gateway, from loopback or not.
func ViaGateway(ctx context.Context) bool {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return false
	}
	_, ok = p.AuthInfo.(gatewayAuthInfo)
	return ok
}

// serverCreds is the gRPC server's transport security: the gateway's
// in-process connections pass as they are; every network connection gets
// the port's credentials (TLS, or plaintext when TLS is off).
type serverCreds struct {
	credentials.TransportCredentials // network connections
}

func (c serverCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if _, ok := conn.(*gatewayConn); ok {
		return conn, gatewayAuthInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}, nil
	}
	return c.TransportCredentials.ServerHandshake(conn)
}

func (c serverCreds) Clone() credentials.TransportCredentials {
	return serverCreds{c.TransportCredentials.Clone()}
}

// transport is what New needs from the TLS set-up: the gRPC server's
// credentials, the HTTP server's TLS config (nil for plaintext) and the
// gateway's in-process listener and its client connection options.
type transport struct {
	grpcCreds grpc.ServerOption
	httpTLS   *tls.Config
	gateway   *gatewayListener
	dial      []grpc.DialOption
	target    string
}

func newTransport(files TLSFiles, log *slog.Logger) (*transport, error) {
	t := &transport{gateway: newGatewayListener(), target: "passthrough:///sparc-gateway"}
	network := insecure.NewCredentials()
	if files.Enabled() {
		f, err := newTLSFiles(files, log)
		if err != nil {
			return nil, err
		}
		network = credentials.NewTLS(f.config([]string{"h2"}))
		t.httpTLS = f.config([]string{"h2", "http/1.1"})
	} else if files.ClientCAFile != "" {
		return nil, errors.New("a TLS client CA needs TLS: give a certificate and key too")
	}
	t.grpcCreds = grpc.Creds(serverCreds{network})
	t.dial = []grpc.DialOption{
		grpc.WithContextDialer(t.gateway.dial),
		// In-process: nothing to encrypt or authenticate on the way.
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}
	return t, nil
}

// serveHTTP serves the HTTP port, over TLS when it is configured.
func (s *Server) serveHTTP() error {
	if s.http.TLSConfig != nil {
		return s.http.ServeTLS(s.httpLis, "", "")
	}
	return s.http.Serve(s.httpLis)
}
