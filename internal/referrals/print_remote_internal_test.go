package referrals

import (
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// A printed referral to a remote service says how to reach it (its phone
// or website) in the person's language instead of a map link.
func TestPrintedRemoteServiceSaysHowToReachIt(t *testing.T) {
	contact := &sparcv1.Contact{Phone: "0121 496 0000", Website: "https://example.org/choir"}
	ref := &sparcv1.Referral{Name: "referrals/0d6f3c1e-5b7a-4e0c-8a55-3f1b2c9d7e41"}
	for _, c := range []struct {
		lang string
		mode sparcv1.DeliveryMode
		want string
	}{
		{"en", sparcv1.DeliveryMode_DELIVERY_MODE_TELEPHONE, "By telephone: 0121 496 0000"},
		{"en", sparcv1.DeliveryMode_DELIVERY_MODE_ONLINE, "Online: https://example.org/choir"},
		{"nl", sparcv1.DeliveryMode_DELIVERY_MODE_HOME_VISIT, "Bij u thuis; voor een afspraak: 0121 496 0000"},
		{"en", sparcv1.DeliveryMode_DELIVERY_MODE_UNSPECIFIED, ""},
	} {
		a := &sparcv1.Asset{DeliveryMode: c.mode, Contact: contact, Location: &sparcv1.Location{Country: "GB"}}
		if c.mode == sparcv1.DeliveryMode_DELIVERY_MODE_UNSPECIFIED {
			a.Location.Latitude, a.Location.Longitude = 52.48, -1.9
		}
		d := fill(c.lang, ref, a)
		if d.Directions != c.want || (d.MapURL != "") != (c.want == "") {
			t.Errorf("%s %v: directions %q, map %q; want %q", c.lang, c.mode, d.Directions, d.MapURL, c.want)
		}
	}
}
