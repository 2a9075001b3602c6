package jsonfast

import (
	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// The encoders below write each message's fields in declaration order
// (protojson's order, not field-number order: Asset.availability, 30,
// comes before places_left, 22), unset messages as null, empty lists as
// [], unset proto3 optional fields not at all, and enums by name.
// TestEveryFieldIsEncoded fails when the proto has a field they miss.

var (
	assetKindNames    = namesOf(sparcv1.AssetKind(0).Descriptor())
	assetStatusNames  = namesOf(sparcv1.AssetStatus(0).Descriptor())
	costKindNames     = namesOf(sparcv1.CostKind(0).Descriptor())
	weekdayNames      = namesOf(sparcv1.Weekday(0).Descriptor())
	availabilityNames = namesOf(sparcv1.Availability(0).Descriptor())
	deliveryModeNames = namesOf(sparcv1.DeliveryMode(0).Descriptor())
)

func (e *enc) searchAssetsResponse(b []byte, m *sparcv1.SearchAssetsResponse) []byte {
	b = append(b, `{"results":[`...)
	for i, r := range m.Results {
		if r == nil {
			// protojson writes a nil element as an empty message; rare
			// enough (it cannot come over gRPC) to leave to it.
			e.refused = true
			return b
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = e.searchResult(b, r)
	}
	b = append(b, `],"next_page_token":`...)
	b = e.str(b, m.NextPageToken)
	return append(b, '}')
}

func (e *enc) searchResult(b []byte, m *sparcv1.SearchResult) []byte {
	b = append(b, `{"asset":`...)
	b = e.asset(b, m.Asset)
	b = append(b, `,"distance_meters":`...)
	b = appendDouble(b, m.DistanceMeters)
	b = append(b, `,"remote":`...)
	b = appendBool(b, m.Remote)
	return append(b, '}')
}

func (e *enc) listAssetsResponse(b []byte, m *sparcv1.ListAssetsResponse) []byte {
	b = append(b, `{"assets":[`...)
	for i, a := range m.Assets {
		if a == nil {
			e.refused = true
			return b
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = e.asset(b, a)
	}
	b = append(b, `],"next_page_token":`...)
	b = e.str(b, m.NextPageToken)
	return append(b, '}')
}

func (e *enc) asset(b []byte, m *sparcv1.Asset) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"name":`...)
	b = e.str(b, m.Name)
	b = append(b, `,"kind":`...)
	b = appendEnum(b, assetKindNames, int32(m.Kind))
	b = append(b, `,"display_name":`...)
	b = e.str(b, m.DisplayName)
	b = append(b, `,"description":`...)
	b = e.str(b, m.Description)
	b = append(b, `,"categories":`...)
	b = e.strs(b, m.Categories)
	b = append(b, `,"location":`...)
	b = e.location(b, m.Location)
	b = append(b, `,"service_area_geojson":`...)
	b = e.str(b, m.ServiceAreaGeojson)
	b = append(b, `,"sessions":[`...)
	for i, s := range m.Sessions {
		if s == nil {
			e.refused = true
			return b
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = e.session(b, s)
	}
	b = append(b, `],"cost":`...)
	b = e.cost(b, m.Cost)
	b = append(b, `,"accessibility":`...)
	b = e.strs(b, m.Accessibility)
	b = append(b, `,"languages":`...)
	b = e.strs(b, m.Languages)
	b = append(b, `,"age_range":`...)
	b = e.ageRange(b, m.AgeRange)
	b = append(b, `,"contact":`...)
	b = e.contact(b, m.Contact)
	b = appendOptionalInt32(b, `,"capacity":`, m.Capacity)
	b = append(b, `,"accepting_referrals":`...)
	b = appendBool(b, m.AcceptingReferrals)
	b = append(b, `,"status":`...)
	b = appendEnum(b, assetStatusNames, int32(m.Status))
	b = append(b, `,"owner_organisation":`...)
	b = e.str(b, m.OwnerOrganisation)
	b = append(b, `,"last_verified_time":`...)
	b = e.timestamp(b, m.LastVerifiedTime)
	b = append(b, `,"create_time":`...)
	b = e.timestamp(b, m.CreateTime)
	b = append(b, `,"update_time":`...)
	b = e.timestamp(b, m.UpdateTime)
	b = append(b, `,"etag":`...)
	b = e.str(b, m.Etag)
	b = append(b, `,"availability":`...)
	b = appendEnum(b, availabilityNames, int32(m.Availability))
	b = appendOptionalInt32(b, `,"places_left":`, m.PlacesLeft)
	b = append(b, `,"delivery_mode":`...)
	b = appendEnum(b, deliveryModeNames, int32(m.DeliveryMode))
	b = append(b, `,"service_area":`...)
	b = e.serviceArea(b, m.ServiceArea)
	b = append(b, `,"next_session_time":`...)
	b = e.timestamp(b, m.NextSessionTime)
	return append(b, '}')
}

func (e *enc) location(b []byte, m *sparcv1.Location) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"latitude":`...)
	b = appendDouble(b, m.Latitude)
	b = append(b, `,"longitude":`...)
	b = appendDouble(b, m.Longitude)
	b = append(b, `,"address":`...)
	b = e.str(b, m.Address)
	b = append(b, `,"postcode":`...)
	b = e.str(b, m.Postcode)
	b = append(b, `,"locality":`...)
	b = e.str(b, m.Locality)
	b = append(b, `,"country":`...)
	b = e.str(b, m.Country)
	return append(b, '}')
}

func (e *enc) session(b []byte, m *sparcv1.Session) []byte {
	b = append(b, `{"day":`...)
	b = appendEnum(b, weekdayNames, int32(m.Day))
	b = append(b, `,"start_time":`...)
	b = e.str(b, m.StartTime)
	b = append(b, `,"end_time":`...)
	b = e.str(b, m.EndTime)
	b = append(b, `,"timezone":`...)
	b = e.str(b, m.Timezone)
	b = append(b, `,"valid_from":`...)
	b = e.str(b, m.ValidFrom)
	b = append(b, `,"valid_until":`...)
	b = e.str(b, m.ValidUntil)
	return append(b, '}')
}

func (e *enc) cost(b []byte, m *sparcv1.Cost) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"kind":`...)
	b = appendEnum(b, costKindNames, int32(m.Kind))
	b = append(b, `,"note":`...)
	b = e.str(b, m.Note)
	return append(b, '}')
}

// ageRange has only optional fields, so the comma depends on min_age.
func (e *enc) ageRange(b []byte, m *sparcv1.AgeRange) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, "{"...)
	b = appendOptionalInt32(b, `"min_age":`, m.MinAge)
	if m.MinAge != nil && m.MaxAge != nil {
		b = append(b, ',')
	}
	b = appendOptionalInt32(b, `"max_age":`, m.MaxAge)
	return append(b, '}')
}

func (e *enc) contact(b []byte, m *sparcv1.Contact) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"name":`...)
	b = e.str(b, m.Name)
	b = append(b, `,"email":`...)
	b = e.str(b, m.Email)
	b = append(b, `,"phone":`...)
	b = e.str(b, m.Phone)
	b = append(b, `,"website":`...)
	b = e.str(b, m.Website)
	return append(b, '}')
}

func (e *enc) serviceArea(b []byte, m *sparcv1.ServiceArea) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"area_codes":`...)
	b = e.strs(b, m.AreaCodes)
	b = append(b, `,"country":`...)
	b = e.str(b, m.Country)
	return append(b, '}')
}
