package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparc-network/sparc/internal/pgcluster"
	"github.com/sparc-network/sparc/internal/testenv"
)

// runSparcd runs a sparcd command (backup, restore) to its end and returns
// its exit error and combined output.
func runSparcd(t *testing.T, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), append([]string{"DATABASE_URL=", "SPARC_DATA_KEY="}, env...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Point 8 of issue 17: a backup taken while sparcd serves, restored into a
// fresh data dir, serves the same people (their sealed contact details and
// NHS numbers readable with the same key) and referrals. The archive holds
// neither the key nor those details in clear; restore refuses a data dir
// in use and an archive without its key.
func TestSparcdBackupRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	bin := buildSparcd(t)
	dataDir := testenv.DataDir(t)
	a := startSparcd(t, bin, dataDir, true)
	f := newCrashFixture(t, a)

	const email, nhs = "r.backup@example.org", "9434765919"
	sealed := mustCall(t, a, "POST", "/v1/people", f.lwKey, fmt.Sprintf(`{"display_name":"R. B.","nhs_number":%q,
		"contact":{"email":%q,"phone":"07700 900123"},"contact_method":"CONTACT_METHOD_EMAIL",
		"consent":{"share_with_provider":true,"scopes":["CONSENT_SCOPE_BASIC","CONSENT_SCOPE_CONTACT"]}}`, nhs, email))["name"].(string)
	for i, person := range []string{f.personID, sealed} {
		mustCall(t, a, "POST", "/v1/referrals", f.lwKey, fmt.Sprintf(`{"request_id":"backup-%d","person":%q,"asset":%q,"reasons":["social_connection"]}`,
			i, person, f.assetID))
	}
	reads := []string{"/v1/" + f.personID, "/v1/" + sealed, "/v1/people?page_size=50", "/v1/referrals?page_size=50",
		"/v1/people:search?nhs_number=" + nhs}
	before := map[string]string{}
	for _, p := range reads {
		r, err := call(a, "GET", p, f.lwKey, "")
		if err != nil || r.status != 200 {
			t.Fatalf("GET %s: %v HTTP %d %s", p, err, r.status, r.body)
		}
		before[p] = string(r.body)
	}
	if !strings.Contains(before["/v1/"+sealed], email) || !strings.Contains(before["/v1/"+sealed], nhs) {
		t.Fatalf("the person with sealed details reads back without them: %s", before["/v1/"+sealed])
	}
	if !strings.Contains(before["/v1/people:search?nhs_number="+nhs], sealed) {
		t.Fatalf("search by NHS number does not find the person: %s", before["/v1/people:search?nhs_number="+nhs])
	}

	// Backup while serving: the running server is found through the data dir.
	archive := filepath.Join(t.TempDir(), "sparc.dump")
	out, err := runSparcd(t, bin, nil, "backup", "--to", archive, "--data-dir", dataDir)
	if err != nil {
		t.Fatalf("sparcd backup: %v\n%s", err, out)
	}
	if !strings.Contains(out, "data key is not in the archive") {
		t.Fatalf("backup does not say the key is left out:\n%s", out)
	}
	if r, err := call(a, "GET", "/v1/"+sealed, f.lwKey, ""); err != nil || r.status != 200 {
		t.Fatalf("sparcd stopped serving across the backup: %v HTTP %d", err, r.status)
	}
	keyFile := filepath.Join(dataDir, "data-key")
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	sql, err := exec.Command(filepath.Join(pgcluster.DefaultBinDir, "pg_restore"), "-f", "-", archive).Output()
	if err != nil {
		t.Fatalf("the archive does not read as pg_dump custom format: %v", err)
	}
	if !bytes.Contains(sql, []byte("R. B.")) {
		t.Fatal("the archive lacks the person written before the backup")
	}
	for what, secret := range map[string]string{"the data key": strings.TrimSpace(string(key)), "the email": email, "the NHS number": nhs} {
		if bytes.Contains(sql, []byte(secret)) {
			t.Errorf("the archive holds %s in clear", what)
		}
	}

	// Refusals: a data dir in use, and no key.
	if out, err := runSparcd(t, bin, nil, "restore", "--from", archive, "--data-dir", dataDir, "--key-from", keyFile); err == nil ||
		!strings.Contains(out, "restore needs an empty data directory") {
		t.Fatalf("restore over a serving data dir: %v\n%s", err, out)
	}
	fresh := filepath.Join(testenv.DataDir(t), "restored")
	if out, err := runSparcd(t, bin, nil, "restore", "--from", archive, "--data-dir", fresh); err == nil || !strings.Contains(out, "--key-from") {
		t.Fatalf("restore without the key: %v\n%s", err, out)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("a refused restore left %s behind: %v", fresh, err)
	}
	if r, err := call(a, "GET", "/readyz", "", ""); err != nil || r.status != 200 {
		t.Fatalf("the first sparcd is not ready after the refused restores: %v HTTP %d", err, r.status)
	}
	a.stop()

	out, err = runSparcd(t, bin, nil, "restore", "--from", archive, "--data-dir", fresh, "--key-from", keyFile)
	if err != nil {
		t.Fatalf("sparcd restore: %v\n%s", err, out)
	}
	b := startSparcd(t, bin, fresh, true)
	for _, p := range reads {
		r, err := call(b, "GET", p, f.lwKey, "")
		if err != nil || r.status != 200 {
			t.Fatalf("GET %s after restore: %v HTTP %d %s", p, err, r.status, r.body)
		}
		if !jsonEqual(t, before[p], string(r.body)) {
			t.Errorf("GET %s after restore differs:\nbefore %s\nafter  %s", p, before[p], r.body)
		}
	}
	b.stop()
}

func jsonEqual(t *testing.T, x, y string) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal([]byte(x), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(y), &b); err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
