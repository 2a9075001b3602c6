package demo_test

import (
	"context"
	"strings"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/testenv"
)

// sparcd --demo loads the embedded postcodes through the application role
// (as the network admin), once: a country already loaded is left alone,
// so a national file imported before is never replaced by the subset.
func TestDemoPostcodesLoadOnceAndAnswer(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	n, err := demo.LoadPostcodes(ctx, env.AppPool)
	if err != nil {
		t.Fatal(err)
	}
	if n != 95_838+4_085 {
		t.Errorf("loaded %d postcodes, want 95,838 GB + 4,085 NL", n)
	}
	if n, err := demo.LoadPostcodes(ctx, env.AppPool); err != nil || n != 0 {
		t.Errorf("second load: %d, %v; want nothing loaded", n, err)
	}
	client := sparcv1.NewPostcodeServiceClient(env.Anonymous())
	for name, want := range map[string]string{
		"postcodes/B11BB":   "E01033620", // SOURCES.md's spot checks
		"postcodes/CH415LH": "E01007291",
		"postcodes/NP201AA": "W01001685",
	} {
		p, err := client.GetPostcode(ctx, &sparcv1.GetPostcodeRequest{Name: name})
		if err != nil || p.GetLsoaCode() != want || p.GetApproximate() || !strings.Contains(p.GetAttribution(), "Royal Mail") {
			t.Errorf("%s: %v, %v", name, p, err)
		}
	}
	p, err := client.GetPostcode(ctx, &sparcv1.GetPostcodeRequest{Name: "postcodes/3011AB"})
	if err != nil || p.GetCouncilCode() != "GM0599" || p.GetLatitude() != 51.9191 {
		t.Errorf("3011 AB: %v, %v", p, err)
	}
	// 3062 is left out (GeoNames puts it on Goeree): its sector's centre.
	p, err = client.GetPostcode(ctx, &sparcv1.GetPostcodeRequest{Name: "postcodes/3062"})
	if err != nil || !p.GetApproximate() || p.GetLongitude() < 4.3 {
		t.Errorf("3062: %v, %v", p, err)
	}
}
