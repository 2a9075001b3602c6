package pgcluster

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// The password of an external database reaches pg_dump through its
// environment, never its command line (readable by every user in ps), and
// pgx's own URL parameters, which libpq refuses, are dropped.
func TestURLConnKeepsThePasswordOffTheCommandLine(t *testing.T) {
	cn, err := urlConn("postgres://sparc:s3cr%2Ft@db.example.org:5432/sparc?sslmode=verify-full&pool_max_conns=40")
	if err != nil {
		t.Fatal(err)
	}
	cmd := cn.command(context.Background(), DefaultBinDir, "pg_dump", "--format=custom")
	line := strings.Join(cmd.Args, " ")
	if strings.Contains(line, "s3cr") || strings.Contains(line, "pool_max_conns") || !strings.Contains(line, "sslmode=verify-full") ||
		!strings.Contains(line, "sparc@db.example.org:5432/sparc") {
		t.Errorf("command line: %s", line)
	}
	if !slices.Contains(cmd.Env, "PGPASSWORD=s3cr/t") {
		t.Error("the password is not in pg_dump's environment")
	}
	if _, err := urlConn("host=db user=sparc"); err == nil {
		t.Error("a key=value string is taken for a URL")
	}
}

// Restore creates the roles an archive grants to, read from its SQL.
func TestGranteeFindsTheRolesAnArchiveNames(t *testing.T) {
	for line, want := range map[string]string{
		`GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.assets TO sparc_app;`:                                    "sparc_app",
		`ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT,USAGE ON SEQUENCES TO sparc_app;`: "sparc_app",
		`ALTER TABLE public.assets OWNER TO postgres;`:                                                              "postgres",
		`GRANT USAGE ON SCHEMA public TO "Odd ""Role""";`:                                                           `"Odd ""Role"""`,
		`INSERT INTO notes VALUES ('GRANT ALL TO mallory;');`:                                                       "",
	} {
		got := ""
		if m := grantee.FindStringSubmatch(line); m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("%s: got %q, want %q", line, got, want)
		}
	}
}
