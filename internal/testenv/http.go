package testenv

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Do sends an HTTP request to the server's gateway with the admin key
// (header pairs, e.g. "Authorization", "Bearer "+key, replace it) and
// returns the response with its body read.
func (e *Env) Do(t testing.TB, method, path, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.HTTPBase+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// DialerFrom dials from a given loopback address (all of 127.0.0.0/8 is
// local on Linux), so that one test can act as several clients and
// per-address budgets can be told apart.
func DialerFrom(src string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
}
