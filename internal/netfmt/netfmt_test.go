package netfmt

import "testing"

func TestWebsite(t *testing.T) {
	for _, ok := range []string{
		"https://example.org", "http://example.org/", "https://example.org/a%20b?x=1&y=2#top",
		"HTTPS://Example.ORG:8443/path/(x)", "https://192.0.2.1/x", "https://[2001:db8::1]:8080/",
		"https://example.org/~user/a_b-c.d", "https://xn--bcher-kva.example/",
	} {
		if err := Website(ok); err != nil {
			t.Errorf("Website(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{
		"", "example.org", "ftp://example.org", "https://example.org/a b", "https://exa_mple.org/",
		"https://", "https://example.org:port/", "https://user:pw@example.org/", "https://example.org/%zz",
		"https://example.org/é", "https://-bad.example/", "https://[::1/", "https://example.org/\"x\"",
		"javascript:alert(1)", "https://example.org/<script>",
	} {
		if err := Website(bad); err == nil {
			t.Errorf("Website(%q) = nil, want an error", bad)
		}
	}
}

func TestEmail(t *testing.T) {
	for _, ok := range []string{"user@example.org", "first.last+tag@sub.example.co.uk", "o'neil@example.org"} {
		if err := Email(ok); err != nil {
			t.Errorf("Email(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{
		"", "user", "user@exa_mple.org", "user@localhost", "@example.org", ".user@example.org",
		"a..b@example.org", "user name@example.org", "Name <user@example.org>", "user@example..org",
		"user@-example.org", "üser@example.org", "user@example.org,other@example.org",
	} {
		if err := Email(bad); err == nil {
			t.Errorf("Email(%q) = nil, want an error", bad)
		}
	}
}
