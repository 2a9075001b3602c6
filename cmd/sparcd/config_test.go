package main

import "testing"

// Flags override environment variables, which override the defaults.
func TestConfigPrecedence(t *testing.T) {
	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		wantHTTP string
		wantGRPC string
		wantDir  string
	}{
		{"defaults", nil, nil, "127.0.0.1:8080", "127.0.0.1:9090", ".sparc"},
		{"environment", map[string]string{"SPARC_HTTP_ADDR": "127.0.0.1:1", "SPARC_GRPC_ADDR": "127.0.0.1:2", "SPARC_DATA_DIR": "/srv/sparc"},
			nil, "127.0.0.1:1", "127.0.0.1:2", "/srv/sparc"},
		{"flags over environment", map[string]string{"SPARC_HTTP_ADDR": "127.0.0.1:1", "SPARC_DATA_DIR": "/srv/sparc"},
			[]string{"--http-addr", "127.0.0.1:3", "--data-dir", "/tmp/x"}, "127.0.0.1:3", "127.0.0.1:9090", "/tmp/x"},
		{"empty environment means default", map[string]string{"SPARC_HTTP_ADDR": ""}, nil, "127.0.0.1:8080", "127.0.0.1:9090", ".sparc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"SPARC_HTTP_ADDR", "SPARC_GRPC_ADDR", "SPARC_DATA_DIR"} {
				t.Setenv(k, tc.env[k])
			}
			c, err := parseConfig(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if c.httpAddr != tc.wantHTTP || c.grpcAddr != tc.wantGRPC || c.dataDir != tc.wantDir {
				t.Fatalf("got http %q grpc %q dir %q", c.httpAddr, c.grpcAddr, c.dataDir)
			}
		})
	}
	if _, err := parseConfig([]string{"--no-such-flag"}); err == nil {
		t.Fatal("an unknown flag was accepted")
	}
}
