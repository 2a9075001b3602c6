package webhooks

import (
	"net"
	"testing"
)

// A server with a public address reaches its own services through it as
// through loopback (and past a firewall that only filters from outside):
// its own addresses are refused like loopback. The machine is given a
// public address for the test, as a cloud VM has one.
func TestDialerRefusesThisMachinesOwnPublicAddress(t *testing.T) {
	real := interfaceAddrs
	t.Cleanup(func() { interfaceAddrs = real })
	interfaceAddrs = func() ([]net.Addr, error) {
		addrs, err := real()
		return append(addrs, &net.IPNet{IP: net.ParseIP("81.2.69.160"), Mask: net.CIDRMask(24, 32)},
			&net.IPNet{IP: net.ParseIP("2a00:1450:4009:81f::200e"), Mask: net.CIDRMask(64, 128)}), err
	}
	for _, tc := range []struct {
		addr    string
		allowed bool
	}{
		{"81.2.69.160:5432", false},
		{"[::ffff:81.2.69.160]:9090", false},
		{"[2a00:1450:4009:81f::200e]:22", false},
		{"81.2.69.161:443", true}, // a neighbour on the same network is another machine
		{"[2a00:1450:4009:81f::200f]:443", true},
		{"127.0.0.1:443", false},
		{"[fe80::1%lo]:443", false},
		{"not an address", false},
	} {
		if err := allowedAddress(tc.addr); (err == nil) != tc.allowed {
			t.Errorf("%s: %v, want allowed %v", tc.addr, err, tc.allowed)
		}
	}
}
