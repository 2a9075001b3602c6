package main

import "testing"

// The TLS files come from flags or the environment, flags first.
func TestTLSConfig(t *testing.T) {
	t.Setenv("SPARC_TLS_CERT", "/etc/sparc/env.crt")
	t.Setenv("SPARC_TLS_KEY", "/etc/sparc/env.key")
	t.Setenv("SPARC_TLS_CLIENT_CA", "/etc/sparc/partners.pem")
	c, err := parseConfig([]string{"--tls-cert", "/etc/sparc/flag.crt"})
	if err != nil {
		t.Fatal(err)
	}
	if c.tls.CertFile != "/etc/sparc/flag.crt" || c.tls.KeyFile != "/etc/sparc/env.key" || c.tls.ClientCAFile != "/etc/sparc/partners.pem" {
		t.Fatalf("got %+v", c.tls)
	}
}
