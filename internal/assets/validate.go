package assets

import (
	"fmt"
	"math"
	"net/mail"
	"regexp"
	"time"

	"github.com/twpayne/go-geom"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/geo"
	"github.com/sparc-network/sparc/internal/netfmt"
	"github.com/sparc-network/sparc/internal/vocab"
)

// Limits, reported with their numbers when exceeded.
const (
	maxNameLen        = 200
	maxDescriptionLen = 5000
	maxCategories     = 16
	maxSessions       = 50
	maxLanguages      = 20
	maxAge            = 120
	maxCapacity       = 100000
	maxPolygonVerts   = 2000
	maxAreaCodes      = 500 // a remote service's named areas (a region's LSOAs)
	maxAreaCodeLen    = 32
	maxRadiusMeters   = 100000
	defaultPageSize   = 20
	maxPageSize       = 100
	// The vocabulary is a few dozen terms held in memory: one default
	// page holds all of it, so a client that does not page still gets
	// every term.
	defaultVocabularyPageSize = 100
	maxVocabularyPageSize     = 1000
	maxQueryLen               = 200
	maxShortText              = 200
	maxAddressLen             = 500
	maxPostcodeLen            = 16
	maxCostNoteLen            = 500
	maxEdgeDegrees            = 90 // service area edges, stored as great circles
	// minRingArea (square degrees, about a square metre in Britain): a
	// ring enclosing less has collinear or repeated positions. PostGIS
	// stores such a ring, but it serves nowhere and breaks the overlays of
	// coverage maps.
	minRingArea    = 1e-10
	minSessionYear = 1900
	maxSessionYear = 2999
)

var (
	hhmm     = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	langCode = regexp.MustCompile(`^[a-z]{2,3}$`)
	phoneRe  = regexp.MustCompile(`^\+?[0-9 ()\-]{5,32}$`)
)

// validateAsset checks an asset as it will be stored (after defaults and,
// for updates, after the mask was applied). prefix is the field path of
// the asset in the request ("asset"). Every problem is reported, not only
// the first (AIP-193).
func validateAsset(a *sparcv1.Asset, v *apierr.InvalidArgument, prefix string) {
	f := func(name string) string { return prefix + "." + name }
	aip.Text(v, f("display_name"), a.GetDisplayName(), true, maxNameLen)
	aip.Text(v, f("description"), a.GetDescription(), false, maxDescriptionLen)
	if _, ok := kindCode[a.GetKind()]; !ok || a.GetKind() == sparcv1.AssetKind_ASSET_KIND_UNSPECIFIED {
		v.Add(f("kind"), "must be one of the six ABCD asset kinds (e.g. ASSET_KIND_ASSOCIATION)")
	}
	if _, ok := statusCode[a.GetStatus()]; !ok || a.GetStatus() == sparcv1.AssetStatus_ASSET_STATUS_UNSPECIFIED {
		v.Add(f("status"), "must be ACTIVE, PAUSED or CLOSED")
	}
	if len(a.GetCategories()) > maxCategories {
		v.Add(f("categories"), "has %d entries, more than the maximum of %d", len(a.GetCategories()), maxCategories)
	}
	checkCodes(a.GetCategories(), vocab.IsCategory, f("categories"), "category", v)
	checkCodes(a.GetAccessibility(), vocab.IsAccessibility, f("accessibility"), "accessibility feature", v)
	validatePlace(a, v, f)
	if len(a.GetSessions()) > maxSessions {
		v.Add(f("sessions"), "has %d entries, more than the maximum of %d", len(a.GetSessions()), maxSessions)
	}
	for i, s := range a.GetSessions() {
		validateSession(s, v, f("sessions")+"["+itoa(i)+"]")
	}
	switch _, ok := availabilityCode[a.GetAvailability()]; {
	case !ok:
		v.Add(f("availability"), "unknown availability %d", a.GetAvailability())
	case a.GetAvailability() == sparcv1.Availability_AVAILABILITY_DROP_IN && len(a.GetSessions()) == 0:
		v.Add(f("sessions"), "a drop-in (availability AVAILABILITY_DROP_IN) needs its opening hours as sessions")
	}
	validateWhoFor(a, v, f)
	validateContact(a.GetContact(), v, f)
	aip.ParseOptionalName(v, f("owner_organisation"), aip.Organisations, a.GetOwnerOrganisation())
	if t := a.GetLastVerifiedTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			v.Add(f("last_verified_time"), "%v", err)
		} else if t.AsTime().After(time.Now().Add(24 * time.Hour)) {
			v.Add(f("last_verified_time"), "is in the future")
		}
	}
}

// validatePlace checks where the asset is and the area it serves.
func validatePlace(a *sparcv1.Asset, v *apierr.InvalidArgument, f func(string) string) {
	loc := a.GetLocation()
	remote := IsRemote(a)
	if _, ok := deliveryCode[a.GetDeliveryMode()]; !ok {
		v.Add(f("delivery_mode"), "unknown delivery mode %d", a.GetDeliveryMode())
	}
	if loc == nil {
		v.Add(f("location"), "is required")
	} else {
		validateLatLng(loc.GetLatitude(), loc.GetLongitude(), f("location.latitude"), f("location.longitude"), v)
		hasPoint := loc.GetLatitude() != 0 || loc.GetLongitude() != 0
		switch {
		case remote && hasPoint:
			v.Add(f("location.latitude"), "a remote service (delivery_mode %s) has no point: it is found by its service area; leave latitude and longitude 0", a.GetDeliveryMode())
		case !remote && !hasPoint:
			v.Add(f("location.latitude"), "an in-person asset needs its point (latitude and longitude, or a postcode to place it); a telephone, online or home-visit service sets delivery_mode and a service area instead")
		}
		if loc.GetCountry() != "GB" && loc.GetCountry() != "NL" {
			v.Add(f("location.country"), "must be GB or NL, got %q", loc.GetCountry())
		}
		aip.Text(v, f("location.address"), loc.GetAddress(), false, maxAddressLen)
		aip.Text(v, f("location.postcode"), loc.GetPostcode(), false, maxPostcodeLen)
		aip.Text(v, f("location.locality"), loc.GetLocality(), false, maxShortText)
	}
	validateServiceArea(a, remote, v, f)
	if a.GetServiceAreaGeojson() == "" {
		return
	}
	if mp, err := geo.ParsePolygon(a.GetServiceAreaGeojson(), maxPolygonVerts); err != nil {
		v.Add(f("service_area_geojson"), "%v", err)
	} else if err := geo.CheckSphereEdges(mp, maxEdgeDegrees); err != nil {
		v.Add(f("service_area_geojson"), "%v", err)
	} else if err := checkArea(mp); err != nil {
		v.Add(f("service_area_geojson"), "%v", err)
	}
}

// validateServiceArea checks the named area of a remote service: exactly
// one of a drawn area (service_area_geojson), area codes and a whole
// country; an in-person asset names none. Whether the codes exist is the
// store's check (checkAreaCodes), made when the asset is written.
func validateServiceArea(a *sparcv1.Asset, remote bool, v *apierr.InvalidArgument, f func(string) string) {
	sa := a.GetServiceArea()
	codes, country := sa.GetAreaCodes(), sa.GetCountry()
	if !remote {
		if len(codes) > 0 || country != "" {
			v.Add(f("service_area"), "only a remote service (delivery_mode TELEPHONE, ONLINE or HOME_VISIT) is found by a named service area; an in-person asset is found by its point")
		}
		return
	}
	given := 0
	for _, set := range []bool{a.GetServiceAreaGeojson() != "", len(codes) > 0, country != ""} {
		if set {
			given++
		}
	}
	switch {
	case given == 0:
		v.Add(f("service_area"), "a remote service needs the area it serves: service_area.area_codes, service_area.country or service_area_geojson")
	case given > 1:
		v.Add(f("service_area"), "give one service area: service_area.area_codes, service_area.country or service_area_geojson")
	}
	if country != "" && country != a.GetLocation().GetCountry() {
		v.Add(f("service_area.country"), "%q is not the asset's country (location.country %q)", apierr.Clip(country, 8), a.GetLocation().GetCountry())
	}
	if len(codes) > maxAreaCodes {
		v.Add(f("service_area.area_codes"), "has %d entries, more than the maximum of %d", len(codes), maxAreaCodes)
		return
	}
	seen := make(map[string]bool, len(codes))
	for i, c := range codes {
		switch {
		case c == "" || len(c) > maxAreaCodeLen:
			v.Add(f("service_area.area_codes")+"["+itoa(i)+"]", "must be an area code of 1 to %d bytes", maxAreaCodeLen)
		case seen[c]:
			v.Add(f("service_area.area_codes")+"["+itoa(i)+"]", "duplicate area code %q", apierr.Clip(c, 40))
		}
		seen[c] = true
	}
}

// validateWhoFor checks what decides whether a person can take part:
// cost, languages, ages and places.
func validateWhoFor(a *sparcv1.Asset, v *apierr.InvalidArgument, f func(string) string) {
	if c := a.GetCost(); c != nil {
		if _, ok := costCode[c.GetKind()]; !ok {
			v.Add(f("cost.kind"), "unknown cost kind %d", c.GetKind())
		}
		aip.Text(v, f("cost.note"), c.GetNote(), false, maxCostNoteLen)
	}
	if len(a.GetLanguages()) > maxLanguages {
		v.Add(f("languages"), "has %d entries, more than the maximum of %d", len(a.GetLanguages()), maxLanguages)
	}
	for i, l := range a.GetLanguages() {
		if !langCode.MatchString(l) {
			v.Add(f("languages")+"["+itoa(i)+"]", "%q is not an ISO 639 language code (lower case, e.g. \"en\", \"nl\")", l)
		}
	}
	if ar := a.GetAgeRange(); ar != nil {
		if ar.MinAge != nil && (ar.GetMinAge() < 0 || ar.GetMinAge() > maxAge) {
			v.Add(f("age_range.min_age"), "must be between 0 and %d", maxAge)
		}
		if ar.MaxAge != nil && (ar.GetMaxAge() < 0 || ar.GetMaxAge() > maxAge) {
			v.Add(f("age_range.max_age"), "must be between 0 and %d", maxAge)
		}
		if ar.MinAge != nil && ar.MaxAge != nil && ar.GetMinAge() > ar.GetMaxAge() {
			v.Add(f("age_range"), "min_age %d is above max_age %d", ar.GetMinAge(), ar.GetMaxAge())
		}
	}
	if a.Capacity != nil && (a.GetCapacity() < 0 || a.GetCapacity() > maxCapacity) {
		v.Add(f("capacity"), "must be between 0 and %d", maxCapacity)
	}
}

// validateContact checks how to reach the people behind the asset.
func validateContact(c *sparcv1.Contact, v *apierr.InvalidArgument, f func(string) string) {
	if c == nil {
		return
	}
	aip.Text(v, f("contact.name"), c.GetName(), false, maxShortText)
	if c.GetEmail() != "" {
		// ORUK's "email" format, so that /openreferral/services validates.
		if addr, err := mail.ParseAddress(c.GetEmail()); err != nil || addr.Address != c.GetEmail() {
			v.Add(f("contact.email"), "%q is not a plain email address", c.GetEmail())
		} else if err := netfmt.Email(c.GetEmail()); err != nil {
			v.Add(f("contact.email"), "%q is not a plain email address: it %v", c.GetEmail(), err)
		}
	}
	if c.GetPhone() != "" && !phoneRe.MatchString(c.GetPhone()) {
		v.Add(f("contact.phone"), "%q is not a phone number (digits, spaces, + ( ) -)", c.GetPhone())
	}
	if c.GetWebsite() != "" {
		// ORUK's "uri" format (RFC 3986), so that /openreferral/services validates.
		if err := netfmt.Website(c.GetWebsite()); err != nil {
			v.Add(f("contact.website"), "%q is not an http(s) URL: it %v", c.GetWebsite(), err)
		}
	}
}

func validateSession(s *sparcv1.Session, v *apierr.InvalidArgument, p string) {
	if s.GetDay() < sparcv1.Weekday_WEEKDAY_MONDAY || s.GetDay() > sparcv1.Weekday_WEEKDAY_SUNDAY {
		v.Add(p+".day", "must be a weekday (WEEKDAY_MONDAY … WEEKDAY_SUNDAY)")
	}
	okStart, okEnd := hhmm.MatchString(s.GetStartTime()), hhmm.MatchString(s.GetEndTime())
	if !okStart {
		v.Add(p+".start_time", "%q is not a time of day as HH:MM", s.GetStartTime())
	}
	if !okEnd {
		v.Add(p+".end_time", "%q is not a time of day as HH:MM", s.GetEndTime())
	}
	if okStart && okEnd && s.GetEndTime() <= s.GetStartTime() {
		v.Add(p+".end_time", "%s is not after start_time %s", s.GetEndTime(), s.GetStartTime())
	}
	if s.GetTimezone() == "" {
		v.Add(p+".timezone", "is required (an IANA zone such as Europe/London)")
	} else if _, err := time.LoadLocation(s.GetTimezone()); err != nil || s.GetTimezone() == "Local" {
		v.Add(p+".timezone", "%q is not an IANA time zone", s.GetTimezone())
	}
	var from, until time.Time
	var err error
	if s.GetValidFrom() != "" {
		if from, err = time.Parse(time.DateOnly, s.GetValidFrom()); err != nil {
			v.Add(p+".valid_from", "%q is not a date as YYYY-MM-DD", s.GetValidFrom())
		}
	}
	if s.GetValidUntil() != "" {
		if until, err = time.Parse(time.DateOnly, s.GetValidUntil()); err != nil {
			v.Add(p+".valid_until", "%q is not a date as YYYY-MM-DD", s.GetValidUntil())
		}
	}
	// PostgreSQL has no year 0, and the open_at filter casts these dates:
	// keep them to plausible years so one listing cannot break searches.
	for _, d := range []struct {
		t     time.Time
		field string
	}{{from, ".valid_from"}, {until, ".valid_until"}} {
		if !d.t.IsZero() && (d.t.Year() < minSessionYear || d.t.Year() > maxSessionYear) {
			v.Add(p+d.field, "year %d is outside %d..%d", d.t.Year(), minSessionYear, maxSessionYear)
		}
	}
	if !from.IsZero() && !until.IsZero() && until.Before(from) {
		v.Add(p+".valid_until", "%s is before valid_from %s", s.GetValidUntil(), s.GetValidFrom())
	}
}

// basicView reads the view of a list or search (AIP-157): whether it is
// BASIC; unspecified is FULL.
func basicView(view sparcv1.AssetView, v *apierr.InvalidArgument) bool {
	switch view {
	case sparcv1.AssetView_ASSET_VIEW_UNSPECIFIED, sparcv1.AssetView_ASSET_VIEW_FULL:
		return false
	case sparcv1.AssetView_ASSET_VIEW_BASIC:
		return true
	}
	v.Add("view", "unknown view %d (ASSET_VIEW_BASIC or ASSET_VIEW_FULL)", view)
	return false
}

func validateLatLng(lat, lng float64, latField, lngField string, v *apierr.InvalidArgument) {
	if math.IsNaN(lat) || math.IsInf(lat, 0) || lat < -90 || lat > 90 {
		v.Add(latField, "must be a number between -90 and 90")
	}
	if math.IsNaN(lng) || math.IsInf(lng, 0) || lng < -180 || lng > 180 {
		v.Add(lngField, "must be a number between -180 and 180")
	}
}

func checkCodes(codes []string, known func(string) bool, field, what string, v *apierr.InvalidArgument) {
	seen := map[string]bool{}
	for i, c := range codes {
		switch {
		case !known(c):
			v.Add(field+"["+itoa(i)+"]", "unknown %s %q (see GET /v1/vocabulary)", what, c)
		case seen[c]:
			v.Add(field+"["+itoa(i)+"]", "duplicate %s %q", what, c)
		}
		seen[c] = true
	}
}

// checkArea refuses a service area with a degenerate ring: a polygon (or
// hole) whose positions are collinear or repeated encloses no area.
func checkArea(mp *geom.MultiPolygon) error {
	for i := 0; i < mp.NumPolygons(); i++ {
		p := mp.Polygon(i)
		for r := 0; r < p.NumLinearRings(); r++ {
			if a := p.LinearRing(r).Area(); !(a >= minRingArea) {
				where := fmt.Sprintf("ring %d", r)
				if mp.NumPolygons() > 1 {
					where = fmt.Sprintf("polygon %d ring %d", i, r)
				}
				return fmt.Errorf("%s encloses no area (its positions are collinear or repeated)", where)
			}
		}
	}
	return nil
}
