package orgs

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"

	"github.com/google/uuid"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/geo"
)

// validate checks an organisation as it is to be stored; problems are
// added to v.
func validate(o *sparcv1.Organisation, v *apierr.InvalidArgument) {
	aip.Text(v, "organisation.display_name", o.GetDisplayName(), true, 200)
	if _, ok := kindCode[o.GetKind()]; !ok {
		v.Add("organisation.kind", "must be one of the organisation kinds (e.g. ORGANISATION_KIND_COMMUNITY_GROUP)")
	}
	if _, ok := statusCode[o.GetStatus()]; !ok {
		v.Add("organisation.status", "must be ACTIVE, SUSPENDED or CLOSED")
	}
	if e := o.GetContactEmail(); e != "" {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			v.Add("organisation.contact_email", "%q is not a plain email address", e)
		}
	}
	aip.Text(v, "organisation.contact_phone", o.GetContactPhone(), false, 32)
	if w := o.GetWebsite(); w != "" {
		if u, err := url.Parse(w); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.Add("organisation.website", "%q is not an http(s) URL", w)
		}
	}
	if len(o.GetAreaCodes()) > 1000 {
		v.Add("organisation.area_codes", "has more than 1000 codes")
	}
	for i, c := range o.GetAreaCodes() {
		aip.Text(v, fmt.Sprintf("organisation.area_codes[%d]", i), c, true, 32)
	}
	if g := o.GetAreaGeojson(); g != "" {
		if _, err := geo.ParsePolygon(g, 10000); err != nil {
			v.Add("organisation.area_geojson", "%v", err)
		}
	}
}

// fields is what an update may change. The name identifies the
// organisation and is not among them: a mask naming it is refused, which
// tells a client still using "name" for the display name what changed.
var fields = aip.NewFields(&sparcv1.Organisation{},
	[]string{"kind", "display_name", "contact_email", "contact_phone", "website", "area_codes", "area_geojson", "status",
		"named_in_analytics"},
	"create_time", "update_time", "etag")

// validateUpdate checks an update request and returns the organisation's
// id and the fields to change (AIP-134).
func validateUpdate(req *sparcv1.UpdateOrganisationRequest) (uuid.UUID, aip.Mask, error) {
	var v apierr.InvalidArgument
	in := req.GetOrganisation()
	if in == nil {
		v.Add("organisation", "is required")
		return uuid.Nil, aip.Mask{}, v.Err()
	}
	id := aip.ParseName(&v, "organisation.name", aip.Organisations, in.GetName())
	mask := fields.Parse(&v, "update_mask", req.GetUpdateMask(), in)
	aip.CheckEtag(&v, "organisation.etag", in.GetEtag())
	return id, mask, v.Err()
}

// applyMask copies the masked fields from in to cur (clearing those in
// does not set) and checks the result.
func applyMask(cur, in *sparcv1.Organisation, mask aip.Mask) error {
	mask.Apply(cur, in)
	cur.DisplayName = strings.TrimSpace(cur.DisplayName)
	return check(cur)
}

// check validates o as a whole.
func check(o *sparcv1.Organisation) error {
	var v apierr.InvalidArgument
	validate(o, &v)
	return v.Err()
}
