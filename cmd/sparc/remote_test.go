package main

import (
	"slices"
	"strings"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/testenv"
)

// A remote service is created from flags (no --lat/--lng: a delivery mode
// and the areas it covers), read back as field lines naming them, and
// listed after the in-person results of a search, marked remote.
func TestRemoteServiceFromTheCommandLine(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	env.LoadAreas(t, "lad", testenv.RemoteTestAreas)
	to := asAdmin(env)
	r := sparc(t, to, "-o", "json", "assets", "create", "--display-name", "Befriending line", "--kind", "association",
		"--delivery", "telephone", "--area-code", "E08999901,E08999902", "--country", "GB", "--phone", "0121 496 0000")
	if r.code != 0 {
		t.Fatalf("create: %d %s", r.code, r.stderr)
	}
	a := decode(t, r.stdout, &sparcv1.Asset{})
	if a.GetDeliveryMode() != sparcv1.DeliveryMode_DELIVERY_MODE_TELEPHONE ||
		!slices.Equal(a.GetServiceArea().GetAreaCodes(), []string{"E08999901", "E08999902"}) {
		t.Fatalf("created %v", a)
	}
	r = sparc(t, to, "assets", "get", a.GetName())
	for _, want := range [][2]string{{"delivery", "telephone (remote: no location, found by its service area)"},
		{"service area", "E08999901, E08999902"}} {
		if !hasFieldLine(r.stdout, want[0], want[1]) {
			t.Errorf("no line %q = %q in\n%s", want[0], want[1], r.stdout)
		}
	}
	if strings.Contains(r.stdout, "\nlocation ") {
		t.Errorf("a remote service printed a location:\n%s", r.stdout)
	}
	r = sparc(t, to, "assets", "search", "--lat", "52.5", "--lng", "-1.92", "--remote", "only")
	if r.code != 0 || !strings.Contains(r.stdout, "Befriending line") || !strings.Contains(r.stdout, "remote") {
		t.Fatalf("search: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = sparc(t, to, "assets", "search", "--lat", "52.5", "--lng", "-1.92", "--remote", "exclude")
	if r.code != 0 || strings.Contains(r.stdout, "Befriending line") {
		t.Fatalf("search without remote services: %d %s %s", r.code, r.stdout, r.stderr)
	}
}
