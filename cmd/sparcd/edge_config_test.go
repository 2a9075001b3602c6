package main

import (
	"net/netip"
	"testing"
)

// The edge limits are on by default, and --trusted-proxies (or
// SPARC_TRUSTED_PROXIES) says whose X-Forwarded-For counts; a bad CIDR
// stops sparcd rather than trusting nobody or everybody by surprise.
func TestEdgeFlags(t *testing.T) {
	t.Setenv("SPARC_TRUSTED_PROXIES", "")
	c, err := parseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.anonymous.Rate <= 0 || c.anonymous.Burst <= 0 || c.badAuth.Rate <= 0 || c.badAuth.Burst <= 0 || c.maxStreams <= 0 {
		t.Errorf("limits off by default: anonymous %+v, bad credentials %+v, streams %d", c.anonymous, c.badAuth, c.maxStreams)
	}
	if c.edge.BodyTimeout <= 0 || c.edge.WriteTimeout <= 0 || c.edge.MaxConns <= 0 || c.edge.MaxConnsPerAddr <= 0 {
		t.Errorf("edge limits off by default: %+v", c.edge)
	}
	proxy := netip.MustParseAddr("10.1.2.3")
	if c.edge.TrustedProxies.Contains(proxy) {
		t.Error("a proxy is trusted by default")
	}

	t.Setenv("SPARC_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7")
	if c, err = parseConfig(nil); err != nil {
		t.Fatal(err)
	}
	if !c.edge.TrustedProxies.Contains(proxy) || !c.edge.TrustedProxies.Contains(netip.MustParseAddr("192.0.2.7")) ||
		c.edge.TrustedProxies.Contains(netip.MustParseAddr("192.0.2.8")) {
		t.Errorf("SPARC_TRUSTED_PROXIES: trusted %s", c.edge.TrustedProxies)
	}
	if c, err = parseConfig([]string{"--trusted-proxies", "172.16.0.0/12"}); err != nil {
		t.Fatal(err)
	}
	if c.edge.TrustedProxies.Contains(proxy) || !c.edge.TrustedProxies.Contains(netip.MustParseAddr("172.16.9.9")) {
		t.Errorf("--trusted-proxies over the environment: trusted %s", c.edge.TrustedProxies)
	}
	if _, err := parseConfig([]string{"--trusted-proxies", "10.0.0.0/33"}); err == nil {
		t.Error("a bad CIDR was accepted")
	}
}
