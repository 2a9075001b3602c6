package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sparc-network/sparc/internal/testenv"
)

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

// sparcd given a certificate in its environment serves HTTPS (and says
// so), and plaintext HTTP no longer gets an answer.
func TestSparcdServesTLS(t *testing.T) {
	ca := testenv.NewCA(t, "Test CA")
	cert := ca.Server(t, "sparcd")
	t.Setenv("SPARC_TLS_CERT", cert.CertFile)
	t.Setenv("SPARC_TLS_KEY", cert.KeyFile)
	d := startSparcd(t, buildSparcd(t), testenv.DataDir(t), true)
	if !strings.Contains(d.log(), "HTTP/JSON: https://") {
		t.Fatalf("the ready message does not say https:\n%s", d.log())
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}}
	resp, err := c.Get("https://" + d.http + "/v1/vocabulary")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "physical_activity") {
		t.Fatalf("over TLS: %d %.200s", resp.StatusCode, body)
	}
	if code, _ := getStatus(t, d.url("/v1/vocabulary")); code == 200 {
		t.Fatal("plaintext HTTP was answered")
	}
	d.stop()
}
