package orukclient

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/geo"
	"github.com/sparc-network/sparc/internal/netfmt"
	"github.com/sparc-network/sparc/internal/oruk"
	"github.com/sparc-network/sparc/internal/vocab"
)

// MapOptions steer how feed records become assets.
type MapOptions struct {
	// Source names the feed (URL or file name). Ids that are not UUIDs are
	// only unique within their feed, so their asset ids include it.
	Source string
	// DefaultKind is the ABCD kind of services that carry no kind term.
	DefaultKind sparcv1.AssetKind
	// Owner is written as owner_organisation of new assets.
	Owner string
}

// Mapped is one record of the feed as SPARC will store it: one asset per
// location of a service. Asset is nil when the record is rejected; Errors
// say why. Warnings list what SPARC could not keep of an imported record.
type Mapped struct {
	Key      string // the source id: service id, plus "/" + service_at_location id when split
	AssetID  uuid.UUID
	Asset    *sparcv1.Asset
	Errors   []string
	Warnings []string
}

var statusFromORUK = map[string]sparcv1.AssetStatus{
	"active":             sparcv1.AssetStatus_ASSET_STATUS_ACTIVE,
	"inactive":           sparcv1.AssetStatus_ASSET_STATUS_PAUSED,
	"temporarily closed": sparcv1.AssetStatus_ASSET_STATUS_PAUSED,
	"defunct":            sparcv1.AssetStatus_ASSET_STATUS_CLOSED,
}

var (
	timeOfDay = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])(:[0-5][0-9](\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$`)
	dayIndex  = map[string]sparcv1.Weekday{"MO": 1, "TU": 2, "WE": 3, "TH": 4, "FR": 5, "SA": 6, "SU": 7}
)

// MapService turns one ORUK service into assets, one per physical
// location. Service-level problems reject the whole service (one Mapped
// with Errors); a bad location rejects only its own asset.
func MapService(s oruk.Service, o MapOptions) []Mapped {
	var errs, warns []string
	base, zone := serviceAsset(s, o, &errs, &warns)
	sals, others := physicalLocations(s)
	if len(errs) > 0 {
		return []Mapped{{Key: s.ID, Errors: errs, Warnings: warns}}
	}
	if len(sals) == 0 {
		// Its virtual or postal location gives a remote service its address.
		return []Mapped{remoteAsset(s, o, base, zone, warns)}
	}
	warns = append(warns, others...)
	if base.ServiceArea != nil || assets.IsRemote(base) {
		warns = append(warns, "service_areas and delivery_mode by name are kept for services without a physical location only; this one is listed at its locations")
		base.ServiceArea, base.DeliveryMode = nil, sparcv1.DeliveryMode_DELIVERY_MODE_UNSPECIFIED
	}
	sm := &serviceMapping{s: s, o: o, base: base, zone: zone, warns: warns, split: len(sals) > 1}
	out := make([]Mapped, 0, len(sals))
	for i, sal := range sals {
		out = append(out, sm.locationAsset(i, sal))
	}
	return out
}

// serviceAsset maps what a service's assets share, everything but the
// place and the sessions (whose time zone can depend on the place). It
// returns the service's time zone attribute too, if any.
func serviceAsset(s oruk.Service, o MapOptions, errs, warns *[]string) (*sparcv1.Asset, string) {
	status := required(s, errs)
	base := &sparcv1.Asset{
		DisplayName:       strings.TrimSpace(s.Name),
		Description:       s.Description,
		Status:            status,
		OwnerOrganisation: o.Owner,
		Kind:              o.DefaultKind,
		Contact:           &sparcv1.Contact{},
		Cost:              &sparcv1.Cost{},
	}
	if base.Kind == sparcv1.AssetKind_ASSET_KIND_UNSPECIFIED {
		base.Kind = sparcv1.AssetKind_ASSET_KIND_INSTITUTION
	}
	ages(s, base, errs)
	if s.AssuredDate != "" {
		t, err := parseAssured(s.AssuredDate)
		if err != nil {
			*errs = append(*errs, fmt.Sprintf("assured_date: %q is not a date (YYYY-MM-DD) or RFC 3339 time", s.AssuredDate))
		} else {
			base.LastVerifiedTime = timestamppb.New(t)
		}
	}
	contact(s, base.Contact, warns)
	checkOrganization(s.Organization, warns)
	cost(s, base.Cost)
	zone := attributes(s, base, warns)
	languages(s, base, warns)
	serviceArea(s, base, warns)
	if s.Fees != "" && base.Cost.Note == "" {
		base.Cost.Note = strings.TrimSpace(s.Fees)
	}
	return base, zone
}

// required checks the fields ORUK requires of every service and returns
// the SPARC status.
func required(s oruk.Service, errs *[]string) sparcv1.AssetStatus {
	if strings.TrimSpace(s.ID) == "" {
		*errs = append(*errs, "id: required field is missing")
	}
	if strings.TrimSpace(s.Name) == "" {
		*errs = append(*errs, "name: required field is missing")
	}
	status, ok := statusFromORUK[strings.ToLower(strings.TrimSpace(s.Status))]
	switch {
	case s.Status == "":
		*errs = append(*errs, "status: required field is missing")
	case !ok:
		*errs = append(*errs, fmt.Sprintf("status: %q is not an ORUK status (active, inactive, defunct, temporarily closed)", s.Status))
	}
	return status
}

// languages keeps the languages with an ISO 639-1 code, once each.
func languages(s oruk.Service, a *sparcv1.Asset, warns *[]string) {
	for i, l := range s.Languages {
		c := oruk.LanguageCode(l)
		switch {
		case c == "":
			*warns = append(*warns, fmt.Sprintf("languages[%d]: no ISO 639-1 code or known name; not kept", i))
		case !containsStr(a.Languages, c):
			a.Languages = append(a.Languages, c)
		}
	}
}

// serviceArea keeps the first service area that is a usable GeoJSON
// polygon (SPARC keeps one drawn area), and the text extents as a named
// area: a country ("GB", "United Kingdom", "NL") for the whole country,
// else an area code (what SPARC's export writes). A named area is kept for
// a service without a physical location only (see MapService).
func serviceArea(s oruk.Service, a *sparcv1.Asset, warns *[]string) {
	for i, sa := range s.ServiceAreas {
		if strings.EqualFold(sa.ExtentType, "text") {
			textArea(i, sa, a, warns)
			continue
		}
		if !strings.EqualFold(sa.ExtentType, "geojson") {
			*warns = append(*warns, fmt.Sprintf("service_areas[%d]: extent_type %q is not geojson or text; not kept", i, sa.ExtentType))
			continue
		}
		if _, err := geo.ParsePolygon(sa.Extent, 2000); err != nil {
			*warns = append(*warns, fmt.Sprintf("service_areas[%d]: extent is not a usable GeoJSON polygon (%v); not kept", i, err))
			continue
		}
		if a.ServiceAreaGeojson != "" {
			*warns = append(*warns, fmt.Sprintf("service_areas[%d]: SPARC keeps one service area; not kept", i))
			continue
		}
		a.ServiceAreaGeojson = sa.Extent
	}
}

// textArea reads the text extent of service area i into a's named area.
func textArea(i int, sa oruk.ServiceArea, a *sparcv1.Asset, warns *[]string) {
	ext := strings.TrimSpace(sa.Extent)
	if a.ServiceArea == nil {
		a.ServiceArea = &sparcv1.ServiceArea{}
	}
	switch c, ok := countryCode(ext); {
	case ext == "":
		*warns = append(*warns, fmt.Sprintf("service_areas[%d]: empty text extent; not kept", i))
	case ok:
		a.ServiceArea.Country = c
	case !containsStr(a.ServiceArea.AreaCodes, ext):
		a.ServiceArea.AreaCodes = append(a.ServiceArea.AreaCodes, ext)
	}
}

// remoteAsset maps a service without a physical location to a remote
// asset: no point, found by its service area. Its delivery mode is the
// SPARC attribute when given, else telephone for a service with a phone
// and no website, else online; its area is the drawn one, else the named
// one, else (none given) the whole country; its country and address are
// those of its virtual or postal location, GB without one.
func remoteAsset(s oruk.Service, o MapOptions, a *sparcv1.Asset, zone string, warns []string) Mapped {
	m := Mapped{Key: s.ID, AssetID: assetID(o.Source, s.ID, s.ID), Warnings: warns}
	if !assets.IsRemote(a) {
		a.DeliveryMode = sparcv1.DeliveryMode_DELIVERY_MODE_ONLINE
		if a.GetContact().GetPhone() != "" && a.GetContact().GetWebsite() == "" {
			a.DeliveryMode = sparcv1.DeliveryMode_DELIVERY_MODE_TELEPHONE
		}
	}
	a.Location = &sparcv1.Location{Country: "GB"}
	for i, sal := range s.ServiceAtLocations {
		if sal.Location == nil || len(sal.Location.Addresses) == 0 {
			continue
		}
		// Its address only: a remote service has no point (0, 0).
		var zero float64
		l := *sal.Location
		l.Latitude, l.Longitude = &zero, &zero
		if errs := location(&l, a, fmt.Sprintf("service_at_locations[%d]", i), &m.Warnings); len(errs) > 0 {
			m.Errors = append(m.Errors, errs...)
		}
		break
	}
	named := a.GetServiceArea()
	switch {
	case a.ServiceAreaGeojson != "" && named != nil:
		m.Warnings = append(m.Warnings, "service_areas: SPARC keeps one service area, the GeoJSON one; the named areas are not kept")
		a.ServiceArea = nil
	case a.ServiceAreaGeojson == "" && (named == nil || (len(named.AreaCodes) == 0 && named.Country == "")):
		m.Warnings = append(m.Warnings, "service_areas: none usable; the service is taken to cover the whole country")
		a.ServiceArea = &sparcv1.ServiceArea{Country: a.Location.Country}
	case named != nil && named.Country != "" && len(named.AreaCodes) > 0:
		m.Warnings = append(m.Warnings, "service_areas: the whole country is kept, not the area codes")
		named.AreaCodes = nil
	}
	if len(m.Errors) == 0 {
		tz := zone
		if tz == "" {
			tz = oruk.CountryZone[a.Location.Country]
		}
		var sw []string
		a.Sessions, sw = sessions(s.Schedules, tz)
		m.Warnings = append(m.Warnings, sw...)
		m.Asset = a
	}
	return m
}

// physicalLocations returns the service's places on a map (virtual and
// postal-only places have no map position), and a warning for each other
// place, which is not kept when the service has a physical one.
func physicalLocations(s oruk.Service) (sals []oruk.ServiceAtLocation, others []string) {
	for i, sal := range s.ServiceAtLocations {
		if sal.Location != nil && (sal.Location.LocationType == "virtual" || sal.Location.LocationType == "postal") {
			others = append(others, fmt.Sprintf("service_at_locations[%d]: %s location; SPARC lists places on a map, not kept", i, sal.Location.LocationType))
			continue
		}
		sals = append(sals, sal)
	}
	return sals, others
}

// serviceMapping is a valid service on its way to one asset per location:
// what those assets share.
type serviceMapping struct {
	s     oruk.Service
	o     MapOptions
	base  *sparcv1.Asset
	zone  string   // the service's time zone attribute, if any
	warns []string // the service's warnings, repeated on each asset
	split bool     // more than one location: the source id and name say which
}

// locationAsset maps the service at its i-th physical location.
func (sm *serviceMapping) locationAsset(i int, sal oruk.ServiceAtLocation) Mapped {
	s := sm.s
	m := Mapped{Key: s.ID, Warnings: append([]string(nil), sm.warns...)}
	if sm.split {
		k := sal.ID
		if k == "" && sal.Location != nil {
			k = sal.Location.ID
		}
		m.Key = s.ID + "/" + k
	}
	m.AssetID = assetID(sm.o.Source, s.ID, m.Key)
	a := proto.Clone(sm.base).(*sparcv1.Asset)
	path := fmt.Sprintf("service_at_locations[%d]", i)
	if sm.split && (sal.ID == "" && (sal.Location == nil || sal.Location.ID == "")) {
		m.Errors = append(m.Errors, path+": id is required to tell the service's locations apart")
	}
	if lerrs := location(sal.Location, a, path, &m.Warnings); len(lerrs) > 0 {
		m.Errors = append(m.Errors, lerrs...)
	}
	if sm.split && sal.Location != nil && strings.TrimSpace(sal.Location.Name) != "" &&
		!strings.EqualFold(strings.TrimSpace(sal.Location.Name), a.DisplayName) {
		a.DisplayName = a.DisplayName + " – " + strings.TrimSpace(sal.Location.Name)
	}
	if len(m.Errors) == 0 {
		tz := sm.zone
		if tz == "" {
			tz = oruk.CountryZone[a.GetLocation().GetCountry()]
		}
		var sw []string
		a.Sessions, sw = sessions(s.Schedules, tz)
		m.Warnings = append(m.Warnings, sw...)
		m.Asset = a
	}
	return m
}

// assetID is the asset a feed record maps to. A single-location service
// with a UUID id keeps that id, so a SPARC export imported again (here or
// into another SPARC) finds the same assets; split services and non-UUID
// ids get a UUIDv5 of their source id (scoped by the feed for non-UUIDs).
func assetID(source, serviceID, key string) uuid.UUID {
	sid, err := uuid.Parse(serviceID)
	isUUID := err == nil && len(serviceID) == 36
	switch {
	case isUUID && key == serviceID:
		return sid
	case isUUID:
		return uuid.NewSHA1(oruk.Namespace, []byte("record/"+key))
	}
	return uuid.NewSHA1(oruk.Namespace, []byte("record/"+source+"\n"+key))
}

func ages(s oruk.Service, a *sparcv1.Asset, errs *[]string) {
	age := func(f *float64, field string) *int32 {
		if f == nil {
			return nil
		}
		if *f != math.Trunc(*f) || *f < 0 || *f > 120 {
			*errs = append(*errs, fmt.Sprintf("%s: %v is not a whole number of years from 0 to 120", field, *f))
			return nil
		}
		v := int32(*f)
		return &v
	}
	minA, maxA := age(s.MinimumAge, "minimum_age"), age(s.MaximumAge, "maximum_age")
	if minA != nil || maxA != nil {
		a.AgeRange = &sparcv1.AgeRange{MinAge: minA, MaxAge: maxA}
	}
}

func parseAssured(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

var phoneChars = regexp.MustCompile(`^\+?[0-9 ()\-]{5,32}$`)

// contact fills the asset's contact from the service's email, url, first
// named contact and first phone. A malformed optional value is left out
// with a warning rather than rejecting the service.
func contact(s oruk.Service, c *sparcv1.Contact, warns *[]string) {
	c.Website = strings.TrimSpace(s.URL)
	c.Email = strings.TrimSpace(s.Email)
	for _, ct := range s.Contacts {
		if c.Name == "" {
			c.Name = strings.TrimSpace(ct.Name)
		}
		if c.Email == "" {
			c.Email = strings.TrimSpace(ct.Email)
		}
		for _, p := range ct.Phones {
			if c.Phone == "" {
				c.Phone = strings.TrimSpace(p.Number)
			}
		}
	}
	for _, p := range s.Phones {
		if strings.TrimSpace(p.Number) != "" {
			c.Phone = strings.TrimSpace(p.Number)
			break
		}
	}
	if c.Phone != "" && !phoneChars.MatchString(c.Phone) {
		*warns = append(*warns, fmt.Sprintf("phone %q is not a plain phone number; not kept", c.Phone))
		c.Phone = ""
	}
	// The formats ORUK's schemas assert (uri, email), checked as the
	// server checks them: a feed's malformed optional value is left out
	// with a warning instead of rejecting the whole service.
	if c.Website != "" {
		if err := netfmt.Website(c.Website); err != nil {
			*warns = append(*warns, fmt.Sprintf("url %q is not an http(s) URL (it %v); not kept", c.Website, err))
			c.Website = ""
		}
	}
	if c.Email != "" {
		if err := netfmt.Email(c.Email); err != nil {
			*warns = append(*warns, fmt.Sprintf("email %q is not a plain email address (it %v); not kept", c.Email, err))
			c.Email = ""
		}
	}
}

// checkOrganization reports a source organisation's website or email
// that ORUK's formats refuse: the import report lists the organisation
// without it. Neither fills the listing's own contact, so that a SPARC
// export (whose organization is the owner) imports back unchanged.
func checkOrganization(o *oruk.Organization, warns *[]string) {
	if o == nil {
		return
	}
	if w := strings.TrimSpace(o.Website); w != "" {
		if err := netfmt.Website(w); err != nil {
			*warns = append(*warns, fmt.Sprintf("organization.website %q is not an http(s) URL (it %v); not kept", w, err))
		}
	}
	if e := strings.TrimSpace(o.Email); e != "" {
		if err := netfmt.Email(e); err != nil {
			*warns = append(*warns, fmt.Sprintf("organization.email %q is not a plain email address (it %v); not kept", e, err))
		}
	}
}

// SourceOrg is an organisation a feed's services name (ORUK
// organization), as the import report lists it.
//
// SPARC does not create organisations from a feed. An import runs as the
// importing organisation's admin, and only the network admin creates
// organisations (docs/security.md): letting an import create them would
// let any organisation's admin create organisations, or write listings in
// another organisation's name. So imported services stay owned by the
// importing organisation (their owner_organisation), and the report
// lists the source organisations, with their website and email when
// ORUK's formats accept them, so that the network admin can create those
// that should run their own listings (sparc orgs create).
type SourceOrg struct {
	ID       string `json:"id,omitempty"`
	Name     string `json:"name"`
	Website  string `json:"website,omitempty"`
	Email    string `json:"email,omitempty"`
	Services int    `json:"services"` // services of the feed naming it
}

// sourceOrg is the organisation a service names, nil when none.
func sourceOrg(s oruk.Service) *SourceOrg {
	o := s.Organization
	if o == nil || strings.TrimSpace(o.Name) == "" {
		return nil
	}
	so := &SourceOrg{ID: strings.TrimSpace(o.ID), Name: strings.TrimSpace(o.Name)}
	if netfmt.Website(strings.TrimSpace(o.Website)) == nil {
		so.Website = strings.TrimSpace(o.Website)
	}
	if netfmt.Email(strings.TrimSpace(o.Email)) == nil {
		so.Email = strings.TrimSpace(o.Email)
	}
	return so
}

// cost reads the first cost option: its option word (Free, Low cost,
// Paid) or amount (0 is free) gives the kind; the rest becomes the note.
func cost(s oruk.Service, c *sparcv1.Cost) {
	var notes []string
	for i, co := range s.CostOptions {
		opt := strings.TrimSpace(co.Option)
		kind := sparcv1.CostKind_COST_KIND_UNSPECIFIED
		switch strings.ToLower(opt) {
		case "free":
			kind = sparcv1.CostKind_COST_KIND_FREE
		case "low cost", "low-cost":
			kind = sparcv1.CostKind_COST_KIND_LOW_COST
		case "paid":
			kind = sparcv1.CostKind_COST_KIND_PAID
		default:
			if co.Amount != nil && *co.Amount == 0 {
				kind = sparcv1.CostKind_COST_KIND_FREE
			} else if co.Amount != nil && *co.Amount > 0 {
				kind = sparcv1.CostKind_COST_KIND_PAID
			}
		}
		if i == 0 {
			c.Kind = kind
		}
		var parts []string
		if kind == sparcv1.CostKind_COST_KIND_UNSPECIFIED && opt != "" || kind != sparcv1.CostKind_COST_KIND_UNSPECIFIED && !isKindWord(opt) && opt != "" {
			parts = append(parts, opt+":")
		}
		if co.Amount != nil && *co.Amount > 0 && !isKindWord(opt) {
			parts = append(parts, "£"+strconv.FormatFloat(*co.Amount, 'f', -1, 64))
		}
		if d := strings.TrimSpace(co.AmountDescription); d != "" {
			parts = append(parts, d)
		}
		if len(parts) > 0 {
			notes = append(notes, strings.TrimSuffix(strings.Join(parts, " "), ":"))
		}
	}
	c.Note = strings.Join(notes, "; ")
}

func isKindWord(s string) bool {
	switch strings.ToLower(s) {
	case "free", "low cost", "low-cost", "paid":
		return true
	}
	return false
}

// attributes reads SPARC's own terms (kind, categories, service facts)
// and reports other taxonomies' terms, which SPARC cannot keep. It
// returns the time zone attribute, if any.
func attributes(s oruk.Service, a *sparcv1.Asset, warns *[]string) string {
	var zone string
	var unknown []string
	for _, at := range s.Attributes {
		tax, code, ok := oruk.MatchTerm(at.TaxonomyTerm, at.TaxonomyTermID)
		if !ok {
			name := at.TaxonomyTermID
			if at.TaxonomyTerm != nil {
				name = at.TaxonomyTerm.Name
				if at.TaxonomyTerm.Taxonomy != "" {
					name = at.TaxonomyTerm.Taxonomy + ": " + name
				}
			}
			unknown = append(unknown, strconv.Quote(name))
			continue
		}
		switch tax {
		case oruk.TaxKinds:
			if k, ok := oruk.KindOfTerm(code); ok {
				a.Kind = k
			}
		case oruk.TaxCategories:
			if vocab.IsCategory(code) && !containsStr(a.Categories, code) {
				a.Categories = append(a.Categories, code)
			}
		case oruk.TaxAttributes:
			v := strings.TrimSpace(at.Value)
			switch code {
			case oruk.AttrAcceptingReferrals:
				b, err := strconv.ParseBool(v)
				if err != nil {
					*warns = append(*warns, fmt.Sprintf("attribute accepting_referrals: value %q is not true or false; not kept", v))
				}
				a.AcceptingReferrals = b
			case oruk.AttrCapacity:
				n, err := strconv.Atoi(v)
				if err != nil {
					*warns = append(*warns, fmt.Sprintf("attribute capacity: value %q is not a whole number; not kept", v))
					continue
				}
				n32 := int32(n)
				a.Capacity = &n32
			case oruk.AttrTimezone:
				zone = v
			case oruk.AttrDeliveryMode:
				if m, ok := assets.DeliveryOfCode(v); ok {
					a.DeliveryMode = m
				} else {
					*warns = append(*warns, fmt.Sprintf("attribute delivery_mode: value %q is not telephone, online, home_visit or in_person; not kept", v))
				}
			}
		}
	}
	if len(unknown) > 0 {
		*warns = append(*warns, "taxonomy terms with no SPARC category, not kept: "+strings.Join(unknown, ", "))
	}
	return zone
}

// location fills the asset's place from an ORUK location. Coordinates are
// required and must be real WGS84 values: the HSDS examples' latitude
// 100 is rejected here with its path in the feed.
func location(l *oruk.Location, a *sparcv1.Asset, path string, warns *[]string) []string {
	if l == nil {
		return []string{path + ".location: missing; SPARC assets need a place"}
	}
	var errs []string
	switch {
	case l.Latitude == nil || l.Longitude == nil:
		errs = append(errs, path+".location: latitude and longitude are required")
	default:
		if lat := *l.Latitude; math.IsNaN(lat) || lat < -90 || lat > 90 {
			errs = append(errs, fmt.Sprintf("%s.location.latitude: %v is not a latitude (-90 to 90)", path, lat))
		}
		if lng := *l.Longitude; math.IsNaN(lng) || lng < -180 || lng > 180 {
			errs = append(errs, fmt.Sprintf("%s.location.longitude: %v is not a longitude (-180 to 180)", path, lng))
		}
	}
	loc := &sparcv1.Location{}
	if l.Latitude != nil && l.Longitude != nil {
		loc.Latitude, loc.Longitude = *l.Latitude, *l.Longitude
	}
	var addr *oruk.Address
	for i := range l.Addresses {
		if addr == nil || (l.Addresses[i].AddressType == "physical" && addr.AddressType != "physical") {
			addr = &l.Addresses[i]
		}
	}
	country := ""
	if addr != nil {
		parts := []string{strings.TrimSpace(addr.Address1)}
		if a2 := strings.TrimSpace(addr.Address2); a2 != "" {
			parts = append(parts, a2)
		}
		loc.Address = strings.Join(parts, ", ")
		loc.Locality = strings.TrimSpace(addr.City)
		loc.Postcode = strings.TrimSpace(addr.PostalCode)
		country = addr.Country
	}
	cc, ok := countryCode(country)
	if !ok {
		errs = append(errs, fmt.Sprintf("%s.location.addresses: country %q is outside SPARC's countries (GB, NL)", path, country))
	}
	loc.Country = cc
	a.Location = loc
	for i, ac := range l.Accessibility {
		code := accessibilityCode(ac)
		switch {
		case code == "":
			*warns = append(*warns, fmt.Sprintf("%s.location.accessibility[%d]: %q matches no SPARC accessibility feature; not kept",
				path, i, firstNonEmpty(ac.Accessibility, ac.Description)))
		case !containsStr(a.Accessibility, code):
			a.Accessibility = append(a.Accessibility, code)
		}
	}
	return errs
}

// countryCode maps an address country to GB or NL. ORUK is the UK
// profile, so an empty country is GB.
func countryCode(c string) (string, bool) {
	switch strings.ToUpper(strings.TrimSpace(c)) {
	case "", "GB", "GBR", "UK", "UNITED KINGDOM", "ENGLAND", "SCOTLAND", "WALES", "NORTHERN IRELAND", "GREAT BRITAIN":
		return "GB", true
	case "NL", "NLD", "NETHERLANDS", "THE NETHERLANDS", "NEDERLAND":
		return "NL", true
	}
	return "", false
}

func accessibilityCode(ac oruk.Accessibility) string {
	for _, s := range []string{ac.Accessibility, ac.Details, ac.Description} {
		s = strings.TrimSpace(s)
		for _, t := range vocab.Accessibility {
			if strings.EqualFold(s, t.Code) || strings.EqualFold(s, t.LabelEN) {
				return t.Code
			}
		}
	}
	return ""
}

// sessions turns weekly schedules into sessions, one per day of byday.
// What SPARC's weekly sessions cannot say (monthly rules, intervals other
// than 1, missing times) is reported and left out.
func sessions(schedules []oruk.Schedule, tz string) ([]*sparcv1.Session, []string) {
	var out []*sparcv1.Session
	var warns []string
	for i, sc := range schedules {
		p := fmt.Sprintf("schedules[%d]", i)
		if f := strings.ToUpper(sc.Freq); f != "" && f != "WEEKLY" {
			warns = append(warns, fmt.Sprintf("%s: freq %s; SPARC keeps weekly sessions only, not kept", p, sc.Freq))
			continue
		}
		if sc.Interval != nil && *sc.Interval != 1 {
			warns = append(warns, fmt.Sprintf("%s: every %v weeks; SPARC keeps weekly sessions only, not kept", p, *sc.Interval))
			continue
		}
		start, okS := hhmm(sc.OpensAt)
		end, okE := hhmm(sc.ClosesAt)
		if !okS || !okE || end <= start {
			warns = append(warns, fmt.Sprintf("%s: opens_at %q and closes_at %q are not a time range on one day; not kept", p, sc.OpensAt, sc.ClosesAt))
			continue
		}
		if sc.Bymonthday != "" {
			warns = append(warns, fmt.Sprintf("%s: bymonthday %q does not apply to a weekly schedule; ignored", p, sc.Bymonthday))
		}
		from, okF := dateOnly(sc.ValidFrom)
		until, okU := dateOnly(sc.ValidTo)
		if !okF || !okU {
			warns = append(warns, fmt.Sprintf("%s: valid_from %q or valid_to %q is not a date; not kept", p, sc.ValidFrom, sc.ValidTo))
			continue
		}
		if sc.Byday == "" {
			warns = append(warns, p+": no byday; SPARC sessions need a weekday, not kept")
			continue
		}
		for _, d := range strings.Split(sc.Byday, ",") {
			day, ok := dayIndex[strings.ToUpper(strings.TrimSpace(d))]
			if !ok {
				warns = append(warns, fmt.Sprintf("%s: byday %q is not a weekday code (MO..SU); not kept", p, d))
				continue
			}
			out = append(out, &sparcv1.Session{Day: day, StartTime: start, EndTime: end, Timezone: tz,
				ValidFrom: from, ValidUntil: until})
		}
	}
	return out, warns
}

// hhmm reads "HH:MM", "HH:MM:SS" (seconds dropped) as "HH:MM".
func hhmm(s string) (string, bool) {
	m := timeOfDay.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", false
	}
	return m[1] + ":" + m[2], true
}

// dateOnly reads a date, or the date of an RFC 3339 time; empty is fine.
func dateOnly(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", true
	}
	if _, err := time.Parse(time.DateOnly, s); err == nil {
		return s, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Format(time.DateOnly), true
	}
	return "", false
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
