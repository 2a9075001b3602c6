package demo_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// sparcd --demo runs on the application role, bound by row-level security:
// the demo organisations, directory and keys load through it, one key per
// role (the network admin's included), and a restart keeps the saved keys
// (reading them back needs the network admin's view of api_keys).
func TestDemoLoadsAndKeepsOneWorkingKeyPerRoleUnderRowLevelSecurity(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	if n, err := demo.Load(ctx, env.AppPool, env.App.Assets); err != nil || n == 0 {
		t.Fatalf("loading the demo directory: %d, %v", n, err)
	}
	file := filepath.Join(t.TempDir(), "demo-keys.txt")
	first, err := demo.Keys(ctx, env.AppPool, file)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{}
	for _, k := range first {
		roles[k[0]] = k[1]
	}
	for _, role := range []string{auth.RoleNetworkAdmin, auth.RoleAdmin, auth.RoleGroupEditor, auth.RoleLinkWorker, auth.RoleAreaAnalyst} {
		if roles[role] == "" {
			t.Errorf("no demo key for %s (got %v)", role, roles)
		}
	}
	again, err := demo.Keys(ctx, env.AppPool, file)
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		if again[i] != first[i] {
			t.Errorf("restart replaced the %s key", first[i][0])
		}
	}
	// The network admin runs the network; the demo groups' admin edits
	// the demo directory it owns.
	if _, err := sparcv1.NewAuditServiceClient(env.ConnWithKey(t, roles[auth.RoleNetworkAdmin])).ListAuditEvents(ctx, &sparcv1.ListAuditEventsRequest{}); err != nil {
		t.Errorf("demo network admin reading the audit: %v", err)
	}
	all, err := demo.Assets()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sparcv1.NewAssetServiceClient(env.ConnWithKey(t, roles[auth.RoleAdmin])).DeleteAsset(ctx, &sparcv1.DeleteAssetRequest{Name: all[0].GetName()}); err != nil {
		t.Errorf("demo admin deleting a demo asset: %v", err)
	}
}
