package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The network admin creates an organisation and issues its first admin
// key; that admin runs its own organisation: keys, revocation, its audit.
func TestAdminManagesOrganisationsKeysAndReadsTheAuditLog(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	network := target{addr: env.Server.GRPCAddr(), key: env.Key(t, env.NewOrg(t, "Network", "other"), auth.RoleNetworkAdmin)}
	keyPattern := regexp.MustCompile(`sparc_[a-z2-7]{8}_[0-9a-f]{64}`)

	out := mustSparc(t, network, "-o", "json", "orgs", "create", "--name", "Saltley walking group", "--kind", "community_group", "--area", "E01009380")
	var created struct {
		Organisations []struct {
			Name        string `json:"name"`
			DisplayName string `json:"display_name"`
		} `json:"organisations"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || len(created.Organisations) != 1 ||
		!strings.HasPrefix(created.Organisations[0].Name, "organisations/") || created.Organisations[0].DisplayName != "Saltley walking group" {
		t.Fatalf("orgs create -o json: %v\n%s", err, out)
	}
	org := created.Organisations[0].Name
	id := strings.TrimPrefix(org, "organisations/")
	// A bare id names the organisation as well as its full name.
	if out := mustSparc(t, network, "orgs", "get", id); !strings.Contains(out, org) || !strings.Contains(out, "Saltley walking group") {
		t.Fatalf("orgs get ID:\n%s", out)
	}
	if out := mustSparc(t, network, "orgs", "list", "--kind", "community_group"); !strings.Contains(out, "Saltley walking group") {
		t.Fatalf("orgs list:\n%s", out)
	}
	adminKey := keyPattern.FindString(mustSparc(t, network, "keys", "create", "--org", id, "--role", "admin"))
	if adminKey == "" {
		t.Fatal("keys create printed no key")
	}
	admin := target{addr: network.addr, key: adminKey}
	if out := mustSparc(t, admin, "orgs", "update", org, "--website", "https://example.org/saltley", "--name", "Saltley walkers"); !strings.Contains(out, "Saltley walkers") {
		t.Fatalf("orgs update:\n%s", out)
	}
	// An organisation's admin creates no organisations.
	if r := sparc(t, admin, "orgs", "create", "--name", "Another", "--kind", "community_group"); r.code == 0 || !strings.Contains(r.stderr, "PERMISSION_DENIED") {
		t.Fatalf("an organisation's admin created an organisation: %+v", r)
	}

	out = mustSparc(t, admin, "keys", "create", "--org", org, "--role", "group_editor", "--name", "Saltley volunteers")
	key := keyPattern.FindString(out)
	if key == "" {
		t.Fatalf("keys create printed no key:\n%s", out)
	}
	// The new key works for its role: the group edits its own listing.
	editor := target{addr: admin.addr, key: key}
	mustSparc(t, editor, "assets", "create", "--name", "Saltley walk", "--kind", "association",
		"--lat", "52.49", "--lng", "-1.85", "--country", "GB")

	list := mustSparc(t, admin, "keys", "list", "--org", org)
	if !strings.Contains(list, key[:14]) || strings.Contains(list, key[15:]) {
		t.Fatalf("keys list must show the prefix and never the secret:\n%s", list)
	}
	var keyName string
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, key[:14]) {
			keyName = strings.Fields(line)[0]
		}
	}
	if !strings.HasPrefix(keyName, "apiKeys/") || !strings.Contains(list, org) {
		t.Fatalf("keys list shows no key name or organisation name:\n%s", list)
	}
	if r := sparc(t, admin, "keys", "list", "--page-size", "1"); r.code != 0 || strings.Count(r.stdout, "apiKeys/") != 1 ||
		!strings.Contains(r.stderr, "more results: --page-token ") {
		t.Fatalf("keys list --page-size 1 (the admin has two keys): %+v", r)
	}
	mustSparc(t, admin, "keys", "revoke", keyName)
	if r := sparc(t, editor, "assets", "create", "--name", "Another", "--kind", "association", "--lat", "52.49", "--lng", "-1.85", "--country", "GB"); r.code == 0 || !strings.Contains(r.stderr, "UNAUTHENTICATED") {
		t.Fatalf("revoked key still works: %+v", r)
	}

	// The organisation's admin reads its own organisation's events; the
	// network admin reads them too.
	for _, who := range []target{admin, network} {
		audit := mustSparc(t, who, "audit", "list", "--principal", "key:"+key[:14])
		if !strings.Contains(audit, "key:"+key[:14]) || !strings.Contains(audit, "CreateAsset") {
			t.Fatalf("audit list shows no call of the group editor's key:\n%s", audit)
		}
	}
}

func TestBootstrapIssuesAWorkingAdminKeyAgainstTheDatabase(t *testing.T) {
	t.Parallel()
	dir := testenv.DataDir(t)
	r := sparc(t, target{addr: "127.0.0.1:1"}, "keys", "bootstrap", "--org-name", "Network admin", "--data-dir", dir, "--database-url", "")
	if r.code != 0 {
		t.Fatalf("bootstrap: %+v", r)
	}
	if regexp.MustCompile(`sparc_[a-z2-7]{8}_[0-9a-f]{64}`).FindString(r.stdout) == "" {
		t.Fatalf("bootstrap printed no key:\n%s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "pgdata", "PG_VERSION")); err != nil {
		t.Fatalf("bootstrap did not use the embedded database in %s: %v", dir, err)
	}
	if r := sparc(t, target{addr: "127.0.0.1:1"}, "keys", "bootstrap", "--data-dir", dir); r.code != 2 {
		t.Fatalf("bootstrap without --org-name: exit %d, want 2", r.code)
	}
}
