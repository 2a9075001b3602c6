package demo

import (
	"regexp"
	"strings"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

var (
	// A UK postcode in the demo areas' districts: outward code of area
	// B, CH, NP or CF, inward code digit plus two unit letters (never C,
	// I, K, M, O or V).
	ukPostcode = regexp.MustCompile(`^(B|CH|NP|CF)[0-9]{1,2} [0-9][ABD-HJLNP-UW-Z]{2}$`)
	// A Rotterdam PC6: 30xx and two letters.
	nlPostcode = regexp.MustCompile(`^30[0-9]{2} [A-Z]{2}$`)
	nlPhone    = regexp.MustCompile(`^010 [2-8][0-9]{2} [0-9]{4}$`)
	// Ofcom's drama ranges, per demo region.
	dramaRange = map[string]*regexp.Regexp{
		"Birmingham": regexp.MustCompile(`^0121 496 0[0-9]{3}$`),
		"Wirral":     regexp.MustCompile(`^0151 496 0[0-9]{3}$`),
		"Gwent":      regexp.MustCompile(`^029 2018 0[0-9]{3}$`),
	}
)

// Every demo asset has an address, a postcode of its own area in the
// country's format, and a phone number that can reach nobody (UK: Ofcom's
// drama ranges).
func TestDemoAssetsHaveFictionalWellFormedAddressesAndPhones(t *testing.T) {
	all, err := Assets()
	if err != nil {
		t.Fatal(err)
	}
	regionOf := func(a *sparcv1.Asset) string {
		switch a.GetLocation().GetLocality() {
		case "Birmingham":
			return "Birmingham"
		case "Wirral":
			return "Wirral"
		}
		return "Gwent"
	}
	districts := map[string]bool{}
	for _, a := range all {
		loc, phone := a.GetLocation(), a.GetContact().GetPhone()
		if strings.TrimSpace(loc.GetAddress()) == "" {
			t.Errorf("%s: no address", a.GetDisplayName())
		}
		switch loc.GetCountry() {
		case "GB":
			if !ukPostcode.MatchString(loc.GetPostcode()) {
				t.Errorf("%s: postcode %q", a.GetDisplayName(), loc.GetPostcode())
			}
			if !dramaRange[regionOf(a)].MatchString(phone) {
				t.Errorf("%s (%s): phone %q is not in the region's Ofcom drama range", a.GetDisplayName(), regionOf(a), phone)
			}
			districts[strings.Fields(loc.GetPostcode() + " x")[0]] = true
		case "NL":
			if !nlPostcode.MatchString(loc.GetPostcode()) || !nlPhone.MatchString(phone) {
				t.Errorf("%s: postcode %q, phone %q", a.GetDisplayName(), loc.GetPostcode(), phone)
			}
		}
	}
	// Postcodes follow the place: many districts, each region's own.
	for _, want := range []string{"B1", "B16", "CH43", "NP20"} {
		if !districts[want] {
			t.Errorf("no demo asset in district %s; districts %v", want, districts)
		}
	}
}

// The assets the documentation names keep their ids and the values the
// examples rely on.
func TestFixedDemoAssetsKeepTheirIDs(t *testing.T) {
	all, err := Assets()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*sparcv1.Asset{}
	for _, a := range all {
		byName[a.GetName()] = a
	}
	lw := byName[LadywoodWalkingGroup]
	if LadywoodWalkingGroup != "assets/d749eed2-0169-5d5b-87ae-37eef0cdfc45" || lw == nil ||
		!lw.GetAcceptingReferrals() || lw.GetCapacity() == 0 || lw.GetSessions()[0].GetDay() != sparcv1.Weekday_WEEKDAY_TUESDAY {
		t.Errorf("Ladywood walking group: %s %v", LadywoodWalkingGroup, lw)
	}
	// docs/cli.md's get and update examples.
	if a := byName["assets/6b25b126-b3c5-50de-8d1d-f47d286aa630"]; a.GetDisplayName() != "Art for wellbeing, Birmingham 052E (demo)" {
		t.Errorf("docs/cli.md's example asset is now %v", a)
	}
}
