package caller

import (
	"net/netip"
	"testing"
)

// X-Forwarded-For is read from the right, through trusted proxies only; an
// entry that is not an address stops at the proxy that passed it on.
func TestClientThroughTrustedProxies(t *testing.T) {
	p := MustParseProxies("127.0.0.0/8, 10.0.0.1")
	proxy := netip.MustParseAddr("127.0.0.1")
	for xff, want := range map[string]string{
		"":                                  "127.0.0.1",
		"203.0.113.9":                       "203.0.113.9",
		"203.0.113.9, 127.0.0.5":            "203.0.113.9",
		"203.0.113.9, 10.0.0.1":             "203.0.113.9",
		"198.51.100.1, 203.0.113.9":         "203.0.113.9",
		"not-an-address":                    "127.0.0.1",
		"203.0.113.9, not-an-address":       "127.0.0.1",
		"[2001:db8::1]:443":                 "2001:db8::1",
		"203.0.113.9:1234, 10.0.0.2":        "10.0.0.2",
		"::ffff:203.0.113.9":                "203.0.113.9",
		"198.51.100.1,203.0.113.9,10.0.0.1": "203.0.113.9",
	} {
		var list []string
		if xff != "" {
			list = []string{xff}
		}
		if got := p.Client(proxy, list).String(); got != want {
			t.Errorf("X-Forwarded-For %q: client %s, want %s", xff, got, want)
		}
	}
	// Several header lines are one list, the last line nearest.
	if got := p.Client(proxy, []string{"198.51.100.1", "203.0.113.9"}).String(); got != "203.0.113.9" {
		t.Errorf("two X-Forwarded-For lines: client %s", got)
	}
	untrusted := netip.MustParseAddr("192.0.2.1")
	if got := p.Client(untrusted, []string{"203.0.113.9"}).String(); got != "192.0.2.1" {
		t.Errorf("an untrusted peer's X-Forwarded-For was believed: %s", got)
	}
	if got := (Proxies{}).Client(proxy, []string{"203.0.113.9"}).String(); got != "127.0.0.1" {
		t.Errorf("with no trusted proxies, X-Forwarded-For was believed: %s", got)
	}
}

func TestParseProxies(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.0/8;"} {
		if _, err := ParseProxies(bad); err == nil {
			t.Errorf("ParseProxies(%q) succeeded", bad)
		}
	}
	p, err := ParseProxies(" 10.1.2.3/8,\t2001:db8::/32 192.0.2.7 ")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.String(); got != "10.0.0.0/8,2001:db8::/32,192.0.2.7/32" {
		t.Errorf("parsed %s", got)
	}
}

func TestLimitKeyGroupsAnIPv6HostsSlash64(t *testing.T) {
	a, b := netip.MustParseAddr("2001:db8:1:2::1"), netip.MustParseAddr("2001:db8:1:2:ffff::9")
	if LimitKey(a) != LimitKey(b) || LimitKey(a) == LimitKey(netip.MustParseAddr("2001:db8:1:3::1")) {
		t.Errorf("IPv6 keys: %s %s", LimitKey(a), LimitKey(b))
	}
	if LimitKey(netip.MustParseAddr("192.0.2.1")) == LimitKey(netip.MustParseAddr("192.0.2.2")) {
		t.Error("two IPv4 addresses share a bucket")
	}
}

func TestValidRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"abc-123_x.y:z": true, "": false, "a b": false, "line\nbreak": false,
		"0123456789012345678901234567890123456789012345678901234567890123":  true,
		"01234567890123456789012345678901234567890123456789012345678901234": false,
	} {
		if ValidRequestID(id) != want {
			t.Errorf("ValidRequestID(%q) = %v", id, !want)
		}
	}
}
