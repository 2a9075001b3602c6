package main

import (
	"strings"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// A link worker finds a person again from the command line: by list, NHS
// number, name prefix with year of birth, and postcode; a second person
// with one NHS number is refused naming the first.
func TestPeopleListAndSearchFromTheCommandLine(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	lw := target{addr: env.Server.GRPCAddr(), key: env.Key(t, env.NewOrg(t, "Ladywood link workers", "link_worker_service"), auth.RoleLinkWorker)}
	khan := decode(t, mustSparc(t, lw, "people", "create", "--name", "Amira Khan", "--postcode", "B8 1AA", "--year-of-birth", "1950",
		"--nhs-number", "943 476 5919", "-o", "json"), &sparcv1.Person{})
	mustSparc(t, lw, "people", "create", "--name", "Bob Jones", "--postcode", "B7 4AL")

	rows := tableRows(t, mustSparc(t, lw, "people", "list"))
	if len(rows) != 2 || rows[0]["DISPLAY NAME"] != "Amira Khan" || rows[1]["DISPLAY NAME"] != "Bob Jones" || rows[0]["AGE"] != "born 1950" {
		t.Fatalf("people list: %v", rows)
	}
	for _, args := range [][]string{{"--nhs-number", "9434765919"}, {"--name", "am", "--born", "1950"}, {"--postcode", "b81aa"}} {
		rows := tableRows(t, mustSparc(t, lw, append([]string{"people", "search"}, args...)...))
		if len(rows) != 1 || rows[0]["NAME"] != khan.GetName() {
			t.Errorf("people search %v: %v", args, rows)
		}
	}
	if res := sparc(t, lw, "people", "search", "--name", "am", "--born", "1990"); res.code != 0 || !strings.Contains(res.stderr, "nobody found") {
		t.Errorf("a search finding nobody: exit %d, %s", res.code, res.stderr)
	}
	dup := sparc(t, lw, "people", "create", "--name", "A. K.", "--nhs-number", "9434765919")
	if dup.code != exitFailure || !strings.Contains(dup.stderr, "ALREADY_EXISTS") || !strings.Contains(dup.stderr, khan.GetName()) {
		t.Fatalf("a second person with the number: exit %d, stderr:\n%s", dup.code, dup.stderr)
	}
}
