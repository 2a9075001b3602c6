package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"net"
	"os"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// transportFlags say how to secure the connection to sparcd.
type transportFlags struct {
	tls      bool   // TLS, verifying the server against the system roots (or ca)
	ca       string // PEM file of CAs to verify the server with, instead of the system roots
	cert     string // client certificate for servers requiring mTLS
	certKey  string // its key
	insecure bool   // plaintext, said explicitly
}

func (f *transportFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.tls, "tls", envOr("SPARC_TLS", "") == "1", "connect with TLS, verifying the server against the system's CAs (env SPARC_TLS=1)")
	fs.StringVar(&f.ca, "ca", envOr("SPARC_CA", ""), "connect with TLS, verifying the server against the CAs in this PEM file (env SPARC_CA)")
	fs.StringVar(&f.cert, "cert", envOr("SPARC_CERT", ""), "client certificate (PEM) for a server requiring mTLS; implies --tls (env SPARC_CERT)")
	fs.StringVar(&f.certKey, "cert-key", envOr("SPARC_CERT_KEY", ""), "private key of --cert (env SPARC_CERT_KEY)")
	fs.BoolVar(&f.insecure, "insecure", false, "connect in plaintext; the default only for loopback addresses")
}

// transport returns the credentials to dial addr with. Plaintext is the
// default only towards this machine (sparcd's default address); anywhere
// else it must be asked for with --insecure, so an API key or personal
// data never crosses a network readable by mistake.
func (f transportFlags) transport(addr string) (credentials.TransportCredentials, error) {
	wantTLS := f.wantTLS()
	switch {
	case f.insecure && wantTLS:
		return nil, usagef("--insecure cannot be combined with --tls, --ca, --cert or --cert-key")
	case (f.cert == "") != (f.certKey == ""):
		return nil, usagef("--cert and --cert-key go together")
	case !wantTLS && !f.insecure && !isLocal(addr):
		return nil, usagef("%s is not a loopback address: use --tls (or --ca FILE) to connect with TLS, or --insecure to send in plaintext", addr)
	case !wantTLS:
		return insecure.NewCredentials(), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.ca != "" {
		pem, err := os.ReadFile(f.ca)
		if err != nil {
			return nil, usagef("--ca: %v", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, usagef("--ca: no PEM certificates in %s", f.ca)
		}
	}
	if f.cert != "" {
		pair, err := tls.LoadX509KeyPair(f.cert, f.certKey)
		if err != nil {
			return nil, usagef("--cert, --cert-key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(cfg), nil
}

func (f transportFlags) wantTLS() bool {
	return f.tls || f.ca != "" || f.cert != "" || f.certKey != ""
}

// hint suggests the flag a failed connection most likely lacked: gRPC's
// own messages ("error reading server preface") do not say "TLS".
func (f transportFlags) hint(err error) string {
	if status.Code(err) != codes.Unavailable {
		return ""
	}
	msg := err.Error()
	switch {
	case !f.wantTLS() && strings.Contains(msg, "server preface"):
		return "the server may require TLS: add --tls, or --ca FILE for a private CA"
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return "the server speaks plaintext: drop --tls, --ca and --cert"
	case strings.Contains(msg, "certificate required") || strings.Contains(msg, "bad certificate"):
		return "the server requires a client certificate: add --cert FILE --cert-key FILE"
	case f.wantTLS() && f.cert == "" && (strings.Contains(msg, "broken pipe") || strings.Contains(msg, "connection reset")):
		// With TLS 1.3 the client may write before the server's refusal
		// of a missing certificate arrives, and sees only the cut.
		return "the server may require a client certificate: add --cert FILE --cert-key FILE"
	}
	return ""
}

// isLocal reports whether a gRPC target is on this machine: a loopback IP,
// "localhost", or a Unix socket.
func isLocal(target string) bool {
	if strings.HasPrefix(target, "unix:") || strings.HasPrefix(target, "unix-abstract:") {
		return true
	}
	// "dns:///host:port" and "passthrough:///host:port" name host:port last.
	if i := strings.LastIndex(target, "/"); i >= 0 {
		target = target[i+1:]
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		host = target
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
