package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/oruk/orukclient"
	"github.com/sparc-network/sparc/internal/testenv"
)

// Export the demo directory with the CLI, import the dump into another
// SPARC with the CLI, and import it again: everything arrives once.
func TestExportThenImportORUKWithTheCLI(t *testing.T) {
	t.Parallel()
	src := testenv.NewServer(t)
	n, err := demo.Load(context.Background(), src.Pool, src.App.Assets)
	if err != nil {
		t.Fatal(err)
	}
	dump := mustSparc(t, target{addr: src.Server.GRPCAddr()}, "export", "oruk")
	var page struct {
		TotalItems int               `json:"total_items"`
		Contents   []json.RawMessage `json:"contents"`
	}
	if err := json.Unmarshal([]byte(dump), &page); err != nil || page.TotalItems != int(n) || len(page.Contents) != int(n) {
		t.Fatalf("export: %d of %d services (%v)", len(page.Contents), n, err)
	}
	file := filepath.Join(t.TempDir(), "dump.json")
	if err := os.WriteFile(file, []byte(dump), 0o600); err != nil {
		t.Fatal(err)
	}

	dst := testenv.NewServer(t)
	out := mustSparc(t, asAdmin(dst), "import", "oruk", "--file", file)
	if want := fmt.Sprintf("%d created, 0 updated, 0 unchanged; 0 records rejected", n); !strings.Contains(out, want) {
		t.Errorf("first import: %q, want %q", out, want)
	}
	out = mustSparc(t, asAdmin(dst), "-o", "json", "import", "oruk", "--file", file)
	var rep orukclient.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Unchanged != int(n) || rep.Created+rep.Updated != 0 {
		t.Errorf("second import: %+v (%v)", rep, err)
	}
}

func TestImportORUKReportsBadRecordsAndExitsNonZero(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	file := filepath.Join(t.TempDir(), "feed.json")
	feed := `[{"id": "11111111-1111-4111-8111-111111111111", "name": "Good", "status": "active",
	  "service_at_locations": [{"id": "11111111-1111-4111-8111-11111111111f", "location": {"id": "11111111-1111-4111-8111-11111111111e",
	    "location_type": "physical", "latitude": 52.48, "longitude": -1.9}}]},
	 {"id": "22222222-2222-4222-8222-222222222222", "name": "Bad", "status": "active",
	  "service_at_locations": [{"id": "22222222-2222-4222-8222-22222222222f", "location": {"id": "22222222-2222-4222-8222-22222222222e",
	    "location_type": "physical", "latitude": 100, "longitude": 101}}]}]`
	if err := os.WriteFile(file, []byte(feed), 0o600); err != nil {
		t.Fatal(err)
	}
	r := sparc(t, asAdmin(env), "import", "oruk", "--file", file)
	if r.code != exitFailure || !strings.Contains(r.stdout, "1 created") ||
		!strings.Contains(r.stdout, "latitude: 100 is not a latitude") || !strings.Contains(r.stderr, "1 of the feed's records were not imported") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	if _, err := env.Assets.GetAsset(context.Background(), &sparcv1.GetAssetRequest{Name: "assets/11111111-1111-4111-8111-111111111111"}); err != nil {
		t.Errorf("the good record is missing: %v", err)
	}
	if _, err := env.Assets.GetAsset(context.Background(), &sparcv1.GetAssetRequest{Name: "assets/22222222-2222-4222-8222-222222222222"}); status.Code(err) != codes.NotFound {
		t.Errorf("the bad record: %v, want NOT_FOUND", err)
	}
}

func TestImportORUKNeedsExactlyOneFeed(t *testing.T) {
	t.Parallel()
	addr, conns := countingListener(t)
	for _, args := range [][]string{
		{"import", "oruk"},
		{"import", "oruk", "--url", "http://x", "--file", "f.json"},
		{"import", "oruk", "--file", "f.json", "--kind", "school"},
	} {
		if r := sparc(t, target{addr: addr}, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, r.code, exitUsage, r.stderr)
		}
	}
	if conns.Load() != 0 {
		t.Error("a usage error reached the server")
	}
}
