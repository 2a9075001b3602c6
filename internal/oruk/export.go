package oruk

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/netfmt"
	"github.com/sparc-network/sparc/internal/vocab"
)

// Service statuses: SPARC's paused is ORUK's "temporarily closed", closed
// is "defunct"; importing maps "inactive" to paused.
var statusToORUK = map[sparcv1.AssetStatus]string{
	sparcv1.AssetStatus_ASSET_STATUS_ACTIVE: "active",
	sparcv1.AssetStatus_ASSET_STATUS_PAUSED: "temporarily closed",
	sparcv1.AssetStatus_ASSET_STATUS_CLOSED: "defunct",
}

var dayCodes = []string{"", "MO", "TU", "WE", "TH", "FR", "SA", "SU"}
var dayNames = []string{"", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

// countryZone is the time zone schedules are read in when a service names
// none: ORUK times are local times of the service's country.
var CountryZone = map[string]string{"GB": "Europe/London", "NL": "Europe/Amsterdam"}

// OrgInfo is what ORUK shows of an asset's owner organisation (its public
// fields).
type OrgInfo struct {
	Name, Website string
}

// Orgs maps owner organisation ids to their public fields.
type Orgs map[string]OrgInfo

// organization is the ORUK organization of an owner: the organisation's
// own id, name and website. Unowned assets (and owners not in orgs) have
// no organization.
func (o Orgs) organization(owner string) *Organization {
	info, ok := o[owner]
	if owner == "" || !ok {
		return nil
	}
	org := &Organization{ID: owner, Name: info.Name, Description: ""}
	// ORUK's website is a "uri": a value stored before SPARC checked the
	// format is left out rather than failing the whole document.
	if netfmt.Website(info.Website) == nil {
		org.Website = info.Website
	}
	return org
}

// level says how much of a service to write.
type level int

const (
	levelList level = iota // service fields and its organization
	levelFull              // everything: locations, schedules, contacts, terms, costs
)

// ServiceOf maps an asset to its ORUK service, fully nested; orgs gives
// the owner's name.
func ServiceOf(a *sparcv1.Asset, orgs Orgs) Service { return serviceOf(a, levelFull, orgs) }

func serviceOf(a *sparcv1.Asset, lv level, orgs Orgs) Service {
	id := assetUUID(a)
	s := serviceHead(a, id.String(), orgs)
	if lv == levelList {
		return s
	}
	sp := servicePart{id: id, sid: id.String()}
	s.ServiceAtLocations = []ServiceAtLocation{sp.serviceAtLocation(a)}
	s.Schedules = sp.schedules(a)
	s.ServiceAreas = sp.serviceAreas(a)
	for _, code := range a.GetLanguages() {
		s.Languages = append(s.Languages, Language{ID: sp.derived("language/" + code), ServiceID: sp.sid,
			Name: languageName(code), Code: code})
	}
	s.CostOptions = sp.costOptions(a.GetCost())
	if n := a.GetContact().GetName(); n != "" {
		s.Contacts = []Contact{{ID: sp.derived(partContact), ServiceID: sp.sid, Name: n}}
	}
	if p := a.GetContact().GetPhone(); p != "" {
		s.Phones = []Phone{{ID: sp.derived(partPhone), ServiceID: sp.sid, Number: p}}
	}
	s.Attributes = sp.attributes(a)
	return s
}

// assetUUID is the asset's id, which is its service's: ORUK ids are bare
// UUIDs, not resource names.
func assetUUID(a *sparcv1.Asset) uuid.UUID { return assets.ID(a) }

// serviceHead is the list level of a service: its own fields and its
// organization, without the nested objects.
func serviceHead(a *sparcv1.Asset, sid string, orgs Orgs) Service {
	s := Service{
		ID:           sid,
		Name:         a.GetDisplayName(),
		Description:  a.GetDescription(),
		URL:          a.GetContact().GetWebsite(),
		Email:        a.GetContact().GetEmail(),
		Status:       statusToORUK[a.GetStatus()],
		Organization: orgs.organization(assets.OwnerID(a)),
	}
	if s.Status == "" {
		s.Status = "active"
	}
	// Values stored before SPARC checked these formats are left out
	// rather than making the whole document fail the official schema.
	if s.URL != "" && netfmt.Website(s.URL) != nil {
		s.URL = ""
	}
	if s.Email != "" && netfmt.Email(s.Email) != nil {
		s.Email = ""
	}
	if s.Organization != nil {
		s.OrganizationID = s.Organization.ID
	}
	if ar := a.GetAgeRange(); ar != nil {
		if ar.MinAge != nil {
			f := float64(ar.GetMinAge())
			s.MinimumAge = &f
		}
		if ar.MaxAge != nil {
			f := float64(ar.GetMaxAge())
			s.MaximumAge = &f
		}
	}
	if t := a.GetLastVerifiedTime(); t != nil {
		s.AssuredDate = formatAssured(t.AsTime())
	}
	if t := a.GetUpdateTime(); t != nil {
		s.LastModified = t.AsTime().UTC().Format(time.RFC3339Nano)
	}
	return s
}

// servicePart writes the objects nested in one asset's service, each with
// an id derived from the asset's, so that every export gives them the
// same ids.
type servicePart struct {
	id  uuid.UUID
	sid string // id as a string, the objects' service_id
}

func (sp servicePart) derived(part string) string { return derivedID(sp.id, part).String() }

// serviceAreas writes the area the asset serves: its drawn area as
// GeoJSON, and a remote service's named area as one text extent per area
// code, or its country's code for the whole country (what the importer
// reads back).
func (sp servicePart) serviceAreas(a *sparcv1.Asset) []ServiceArea {
	var out []ServiceArea
	if sa := a.GetServiceAreaGeojson(); sa != "" {
		out = append(out, ServiceArea{ID: sp.derived(partServiceArea), ServiceID: sp.sid,
			Name: "Area served", Extent: sa, ExtentType: "geojson"})
	}
	for _, code := range a.GetServiceArea().GetAreaCodes() {
		out = append(out, ServiceArea{ID: sp.derived(partServiceArea + "/" + code), ServiceID: sp.sid,
			Name: code, Extent: code, ExtentType: "text"})
	}
	if c := a.GetServiceArea().GetCountry(); c != "" {
		out = append(out, ServiceArea{ID: sp.derived(partServiceArea + "/country"), ServiceID: sp.sid,
			Name: CountryName[c], Extent: c, ExtentType: "text"})
	}
	return out
}

// CountryName names SPARC's countries in ORUK's service areas.
var CountryName = map[string]string{"GB": "United Kingdom", "NL": "Netherlands"}

// serviceAtLocation is the asset's one location: physical, or for a
// remote service (no point) virtual, with the address it gives.
func (sp servicePart) serviceAtLocation(a *sparcv1.Asset) ServiceAtLocation {
	loc := a.GetLocation()
	locID := sp.derived(partLocation)
	lat, lng := loc.GetLatitude(), loc.GetLongitude()
	l := &Location{
		ID:           locID,
		LocationType: "physical",
		Name:         a.GetDisplayName(),
		Latitude:     &lat,
		Longitude:    &lng,
		Addresses: []Address{{
			ID: sp.derived(partAddress), LocationID: locID,
			Address1: loc.GetAddress(), City: loc.GetLocality(), PostalCode: loc.GetPostcode(),
			Country: loc.GetCountry(), AddressType: "physical",
		}},
	}
	if assets.IsRemote(a) {
		l.LocationType, l.Latitude, l.Longitude = "virtual", nil, nil
		l.Addresses[0].AddressType = "postal"
	}
	for _, code := range a.GetAccessibility() {
		l.Accessibility = append(l.Accessibility, Accessibility{
			ID: sp.derived("accessibility/" + code), LocationID: locID,
			Description: accessibilityLabel(code), Accessibility: code,
		})
	}
	return ServiceAtLocation{ID: sp.derived(partServiceAtLocation), ServiceID: sp.sid, LocationID: locID, Location: l}
}

// schedules writes each weekly session as a weekly schedule.
func (sp servicePart) schedules(a *sparcv1.Asset) []Schedule {
	var out []Schedule
	for i, ss := range a.GetSessions() {
		one := 1.0
		out = append(out, Schedule{
			ID: sp.derived("schedule/" + strconv.Itoa(i)), ServiceID: sp.sid,
			Freq: "WEEKLY", Interval: &one, Byday: dayCodes[ss.GetDay()],
			OpensAt: ss.GetStartTime() + ":00", ClosesAt: ss.GetEndTime() + ":00",
			ValidFrom: ss.GetValidFrom(), ValidTo: ss.GetValidUntil(),
			Description: fmt.Sprintf("Every %s, %s to %s", dayNames[ss.GetDay()], ss.GetStartTime(), ss.GetEndTime()),
		})
	}
	return out
}

// costOptions writes the cost as one cost option, none when it says
// nothing.
func (sp servicePart) costOptions(c *sparcv1.Cost) []CostOption {
	if c.GetKind() == sparcv1.CostKind_COST_KIND_UNSPECIFIED && c.GetNote() == "" {
		return nil
	}
	co := CostOption{ID: sp.derived(partCostOption), ServiceID: sp.sid, AmountDescription: c.GetNote()}
	switch c.GetKind() {
	case sparcv1.CostKind_COST_KIND_FREE:
		zero := 0.0
		co.Option, co.Amount = "Free", &zero
	case sparcv1.CostKind_COST_KIND_LOW_COST:
		co.Option = "Low cost"
	case sparcv1.CostKind_COST_KIND_PAID:
		co.Option = "Paid"
	}
	return []CostOption{co}
}

// attributes writes SPARC's own terms: the kind, the categories and the
// service facts (accepting referrals, capacity, and the time zone when it
// is not the country's).
func (sp servicePart) attributes(a *sparcv1.Asset) []Attribute {
	var out []Attribute
	attr := func(taxCode, code, value string) {
		t := termOf(taxCode, code)
		out = append(out, Attribute{
			ID: sp.derived("attribute/" + taxCode + "/" + code), LinkID: sp.sid, LinkType: "service",
			TaxonomyTermID: t.ID, Value: value, TaxonomyTerm: &t,
		})
	}
	if k := kindCode(a.GetKind()); k != "" {
		attr(TaxKinds, k, "")
	}
	for _, c := range a.GetCategories() {
		attr(TaxCategories, c, "")
	}
	attr(TaxAttributes, AttrAcceptingReferrals, strconv.FormatBool(a.GetAcceptingReferrals()))
	if a.Capacity != nil {
		attr(TaxAttributes, AttrCapacity, strconv.Itoa(int(a.GetCapacity())))
	}
	if assets.IsRemote(a) {
		attr(TaxAttributes, AttrDeliveryMode, assets.DeliveryCode(a.GetDeliveryMode()))
	}
	if tz := sessionZone(a); tz != "" && tz != CountryZone[a.GetLocation().GetCountry()] {
		attr(TaxAttributes, AttrTimezone, tz)
	}
	return out
}

// sessionZone is the time zone of the asset's sessions (the first one's;
// SPARC writes one zone per asset in practice).
func sessionZone(a *sparcv1.Asset) string {
	if len(a.GetSessions()) == 0 {
		return ""
	}
	return a.GetSessions()[0].GetTimezone()
}

// formatAssured writes a verification time as a date when it is midnight
// UTC (what a date imports as), else in full, so the round trip is exact.
func formatAssured(t time.Time) string {
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339Nano)
}

func kindCode(k sparcv1.AssetKind) string {
	for _, kt := range kindTerms {
		if kt.kind == k {
			return kt.term.code
		}
	}
	return ""
}

func accessibilityLabel(code string) string {
	for _, t := range vocab.Accessibility {
		if t.Code == code {
			return t.LabelEN
		}
	}
	return code
}

// languageNames covers the languages most often listed in UK and Dutch
// directories; other codes are written with the code as the name.
var languageNames = map[string]string{
	"ar": "Arabic", "bn": "Bengali", "cy": "Welsh", "de": "German", "en": "English", "es": "Spanish",
	"fa": "Persian", "fr": "French", "gd": "Scottish Gaelic", "gu": "Gujarati", "hi": "Hindi", "it": "Italian",
	"ku": "Kurdish", "lt": "Lithuanian", "nl": "Dutch", "pa": "Punjabi", "pl": "Polish", "ps": "Pashto",
	"pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "so": "Somali", "sq": "Albanian", "ta": "Tamil",
	"ti": "Tigrinya", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "zh": "Chinese", "ml": "Malayalam",
}

func languageName(code string) string {
	if n, ok := languageNames[code]; ok {
		return n
	}
	return code
}

// languageCode finds the ISO 639-1 code for a language given by code or
// English name.
func LanguageCode(l Language) string {
	if c := strings.ToLower(strings.TrimSpace(l.Code)); c != "" {
		return c
	}
	for c, n := range languageNames {
		if strings.EqualFold(strings.TrimSpace(l.Name), n) {
			return c
		}
	}
	return ""
}
