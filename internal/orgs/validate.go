package orgs

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/protobuf/reflect/protoreflect"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/geo"
)

// validate checks an organisation as it is to be stored; problems are
// added to v.
func validate(o *sparcv1.Organisation, v *apierr.InvalidArgument) {
	name := strings.TrimSpace(o.GetName())
	if name == "" || utf8.RuneCountInString(name) > 200 {
		v.Add("organisation.name", "is required, at most 200 characters")
	}
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
	if len(o.GetContactPhone()) > 32 {
		v.Add("organisation.contact_phone", "is longer than 32 characters")
	}
	if w := o.GetWebsite(); w != "" {
		if u, err := url.Parse(w); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.Add("organisation.website", "%q is not an http(s) URL", w)
		}
	}
	if len(o.GetAreaCodes()) > 1000 {
		v.Add("organisation.area_codes", "has more than 1000 codes")
	}
	for i, c := range o.GetAreaCodes() {
		if c == "" || len(c) > 32 {
			v.Add(fmt.Sprintf("organisation.area_codes[%d]", i), "must be 1 to 32 characters")
		}
	}
	if g := o.GetAreaGeojson(); g != "" {
		if _, err := geo.ParsePolygon(g, 10000); err != nil {
			v.Add("organisation.area_geojson", "%v", err)
		}
	}
}

func parseID(field, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(strings.TrimPrefix(s, "organisations/"))
	if err != nil {
		return uuid.Nil, apierr.Invalid(field, "is not an organisation id (a UUID)")
	}
	return id, nil
}

var updatable = map[string]bool{"kind": true, "name": true, "contact_email": true, "contact_phone": true,
	"website": true, "area_codes": true, "area_geojson": true, "status": true}

// validateUpdate checks an update request and returns the organisation's
// id and the fields to change (all updatable ones for an empty mask).
func validateUpdate(req *sparcv1.UpdateOrganisationRequest) (uuid.UUID, []string, error) {
	in := req.GetOrganisation()
	id, err := parseID("organisation.id", in.GetId())
	if err != nil {
		return uuid.Nil, nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		paths = []string{"kind", "name", "contact_email", "contact_phone", "website", "area_codes", "area_geojson", "status"}
	}
	var v apierr.InvalidArgument
	for i, p := range paths {
		if !updatable[p] {
			v.Add(fmt.Sprintf("update_mask.paths[%d]", i), "%q is not an updatable field", p)
		}
	}
	if e := in.GetEtag(); e != "" && len(e) != 16 {
		v.Add("organisation.etag", "%q is not an etag returned by this API", e)
	}
	return id, paths, v.Err()
}

// applyMask copies the fields named by paths from in to cur (clearing
// those in does not set) and checks the result.
func applyMask(cur, in *sparcv1.Organisation, paths []string) error {
	src, dst := in.ProtoReflect(), cur.ProtoReflect()
	for _, p := range paths {
		fd := dst.Descriptor().Fields().ByName(protoreflect.Name(p))
		if src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		} else {
			dst.Clear(fd)
		}
	}
	cur.Name = strings.TrimSpace(cur.Name)
	return check(cur)
}

// check validates o as a whole.
func check(o *sparcv1.Organisation) error {
	var v apierr.InvalidArgument
	validate(o, &v)
	return v.Err()
}
