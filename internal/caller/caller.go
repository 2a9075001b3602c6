// Package caller says who is calling: the client's address, as seen
// through the proxies the operator trusts, and the request's id. Both end
// up in the audit log and key the per-address rate limits, so neither may
// come from a header that any client can write: X-Forwarded-For counts
// only when the connection comes from a trusted proxy, and a client's
// X-Request-Id is kept only from one (every other call gets a fresh id).
//
// The server decides once per call, at the edge (internal/server), and
// hands the result down in the context; the authorisation layer reads it
// from there and never from request metadata.
package caller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Info is the edge's decision about one call.
type Info struct {
	Addr      netip.Addr // the client's address (never the zero Addr once decided)
	RequestID string
}

type infoKey struct{}

// With returns ctx carrying info.
func With(ctx context.Context, info Info) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// From returns the decision in ctx, if the edge made one.
func From(ctx context.Context) (Info, bool) {
	info, ok := ctx.Value(infoKey{}).(Info)
	return info, ok
}

// Proxies is the set of networks whose X-Forwarded-For is believed.
type Proxies struct {
	nets []netip.Prefix
}

// ParseProxies reads a comma- or space-separated list of CIDRs or single
// addresses ("10.0.0.0/8, 192.0.2.7"); empty trusts nobody.
func ParseProxies(list string) (Proxies, error) {
	var p Proxies
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if pre, err := netip.ParsePrefix(f); err == nil {
			p.nets = append(p.nets, pre.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return Proxies{}, fmt.Errorf("trusted proxy %q: want a CIDR (10.0.0.0/8) or an address", f)
		}
		a = a.Unmap()
		p.nets = append(p.nets, netip.PrefixFrom(a, a.BitLen()))
	}
	return p, nil
}

// MustParseProxies is ParseProxies for fixed lists (tests).
func MustParseProxies(list string) Proxies {
	p, err := ParseProxies(list)
	if err != nil {
		panic(err)
	}
	return p
}

// String lists the networks, comma-separated.
func (p Proxies) String() string {
	s := make([]string, len(p.nets))
	for i, n := range p.nets {
		s[i] = n.String()
	}
	return strings.Join(s, ",")
}

// Contains reports whether a is a trusted proxy.
func (p Proxies) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// Client returns the address of the client behind peer (the address the
// connection came from), given the X-Forwarded-For values of the request.
// Each proxy appends the address it received the request from, so the
// list is read from the right: peer itself unless it is trusted, then each
// entry in turn until one that is not a trusted proxy. Entries further left
// were written by the client and prove nothing; an entry that is not an
// address stops the walk at the last proxy that vouched for it.
func (p Proxies) Client(peer netip.Addr, xff []string) netip.Addr {
	client := peer.Unmap()
	if !p.Contains(client) {
		return client
	}
	for i := len(xff) - 1; i >= 0; i-- {
		hops := strings.Split(xff[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			a, ok := parseHop(hops[j])
			if !ok {
				return client
			}
			client = a
			if !p.Contains(client) {
				return client
			}
		}
	}
	return client
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port or in brackets.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

// AddrOf returns the IP address of a net.Addr (a connection's peer), or
// the zero Addr when it has none.
func AddrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	case nil:
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// ParseAddr reads an address as the edge writes it (Addr.String).
func ParseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// LimitKey is the key of an address's rate-limit bucket: the address for
// IPv4, its /64 for IPv6 (one host usually holds a whole /64, so per-address
// buckets would cost it nothing to escape).
func LimitKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// NewRequestID returns a fresh random request id (16 hex digits).
func NewRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ValidRequestID reports whether a request id from a trusted proxy can be
// kept: 1 to 64 characters of letters, digits and "-_.:" (it is logged and
// stored, so nothing that could forge a log line).
func ValidRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}
