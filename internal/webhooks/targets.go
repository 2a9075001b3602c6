package webhooks

// Where webhooks may deliver. A webhook URL is chosen by a caller, and
// SPARC connects to it from inside the operator's network: without a rule
// a group editor could point one at the database port, the gRPC port, a
// cloud metadata service or anything else only the server can reach, and
// read from the delivery state what answered. So, unless the operator
// allows private targets (development), deliveries reach public unicast
// addresses only. The rule is checked twice: on a literal address when a
// webhook is registered (a clear error), and on every address actually
// connected to, after name resolution, inside the dialer (a name that
// resolves, or later re-resolves, to a forbidden address gets nowhere).
// What a failed delivery records is one of a few fixed phrases, never the
// text of an error that quotes what the other side sent.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// reservedPrefixes are the ranges beyond those netip names (loopback,
// private, link-local, multicast, unspecified) that are not ordinary
// public unicast destinations.
var reservedPrefixes = []struct {
	prefix netip.Prefix
	class  string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"}, // Linux connects 0.x.x.x to itself
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (carrier-grade NAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("192.88.99.0/24"), "reserved"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // with 255.255.255.255, broadcast
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard"},
	{netip.MustParsePrefix("2001::/32"), "Teredo"},
	{netip.MustParsePrefix("2001:2::/48"), "benchmarking"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
}

// Prefixes whose IPv6 addresses carry an IPv4 address that a translator
// or relay connects to: they are judged by the address they carry.
var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// addressClass names the kind of a non-public address ("loopback",
// "private", ...), or returns "" for a public unicast one.
func addressClass(ip netip.Addr) string {
	ip = ip.WithZone("").Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsPrivate(): // 10/8, 172.16/12, 192.168/16, fc00::/7
		return "private"
	case ip.IsLinkLocalUnicast(): // 169.254/16 (cloud metadata), fe80::/10
		return "link-local"
	case ip.IsMulticast():
		return "multicast"
	}
	for _, r := range reservedPrefixes {
		if r.prefix.Contains(ip) {
			return r.class
		}
	}
	b := ip.As16()
	switch {
	case nat64Prefix.Contains(ip):
		return addressClass(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(ip):
		return addressClass(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return ""
}

// webhookHostClass judges a URL's host as registered: the class of a
// literal address or of a name that always means this machine
// ("localhost", "*.localhost", RFC 6761), "" for a public address or an
// ordinary name (judged when connecting), or ok=false for a host written
// in a numeric form that is not a standard address ("127.1",
// "2130706433", "0x7f.0.0.1"): resolvers read those as addresses, and
// nobody needs them.
func webhookHostClass(host string) (class string, ok bool) {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if ip, err := netip.ParseAddr(h); err == nil {
		return addressClass(ip), true
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return "loopback", true
	}
	last := h[strings.LastIndex(h, ".")+1:]
	if last == "" || strings.Trim(last, "0123456789") == "" ||
		(strings.HasPrefix(last, "0x") && strings.Trim(last[2:], "0123456789abcdef") == "") {
		return "", false
	}
	return "", true
}

// errAddressNotAllowed is the dialer's refusal of a non-public address.
var errAddressNotAllowed = errors.New("address not allowed")

// interfaceAddrs lists this machine's addresses (a variable so that a
// test can give the machine a public address).
var interfaceAddrs = net.InterfaceAddrs

// allowedAddress is the dialer's check of the address it is about to
// connect to (after resolution): public unicast, and not one of this
// machine's own (its public address reaches the same ports as loopback).
func allowedAddress(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || addressClass(ap.Addr()) != "" {
		return errAddressNotAllowed
	}
	own, err := interfaceAddrs()
	if err != nil {
		return errAddressNotAllowed // cannot tell: refuse rather than guess
	}
	target := ap.Addr().WithZone("").Unmap()
	for _, a := range own {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == target {
				return errAddressNotAllowed
			}
		}
	}
	return nil
}

// newWebhookClient is the HTTP client deliveries use: redirects are
// answers (not followed), no proxy (a proxy would resolve and connect
// past the address check), and unless cfg.AllowPrivate every connection
// is checked on the address it actually goes to.
func newWebhookClient(cfg Config) *http.Client {
	d := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	if !cfg.AllowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error { return allowedAddress(address) }
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = d.DialContext
	return &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		// A redirect is an answer other than 2xx: following it would
		// send the signed change somewhere nobody registered (and
		// somewhere the address check at registration never saw).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// deliveryError is a failed delivery: Error is what the webhook's owner
// reads in last_error, one of a fixed set of phrases; the cause, which may
// quote what the other side sent, goes only to the server's log.
type deliveryError struct {
	msg   string
	cause error
}

func (e *deliveryError) Error() string { return e.msg }
func (e *deliveryError) Unwrap() error { return e.cause }

// Phrases of last_error besides "HTTP <status>" and "no answer within <timeout>".
const (
	msgNotPublic   = "address not allowed or host not found (webhooks reach public addresses only)"
	msgRefused     = "connection refused"
	msgClosed      = "connection closed without an answer"
	msgUnreachable = "network unreachable"
	msgTLS         = "TLS handshake failed"
	msgTLSTrust    = "TLS certificate not trusted"
	msgTLSName     = "TLS certificate is not for this host"
	msgTLSExpired  = "TLS certificate expired or not yet valid"
	msgNoHTTP      = "no valid HTTP answer"
	msgBadURL      = "the URL cannot be used"
)

// describeFailure turns a client error into its phrase. Not found and not
// allowed read alike: telling them apart would let a caller learn which
// names the server's resolver knows (internal DNS).
func describeFailure(err error, timeout time.Duration) string {
	var (
		dnsErr  *net.DNSError
		netErr  net.Error
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		record  tls.RecordHeaderError
		alert   tls.AlertError
		verify  *tls.CertificateVerificationError
	)
	switch {
	case errors.Is(err, errAddressNotAllowed):
		return msgNotPublic
	case errors.As(err, &dnsErr) && !dnsErr.IsTimeout:
		return msgNotPublic
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return fmt.Sprintf("no answer within %s", timeout)
	case errors.As(err, &unknown):
		return msgTLSTrust
	case errors.As(err, &host):
		return msgTLSName
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return msgTLSExpired
		}
		return msgTLS
	case errors.As(err, &record) || errors.As(err, &alert) || errors.As(err, &verify) ||
		strings.Contains(err.Error(), "tls: "):
		return msgTLS
	case errors.Is(err, syscall.ECONNREFUSED):
		return msgRefused
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return msgUnreachable
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return msgClosed
	}
	// Whatever else answered (an SSH banner, a database's greeting) is
	// not HTTP; Go's error would quote it.
	return msgNoHTTP
}

// statusPhrase is last_error for a non-2xx answer: the code with Go's
// name for it, never the reason phrase the receiver sent.
func statusPhrase(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("HTTP %d %s", code, t)
	}
	return fmt.Sprintf("HTTP %d", code)
}
