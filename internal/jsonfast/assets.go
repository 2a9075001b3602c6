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

func (e *enc) searchAssetsResponse(m *sparcv1.SearchAssetsResponse) {
	e.raw(`{"results":[`)
	for i, r := range m.Results {
		if r == nil {
			// protojson writes a nil element as an empty message; rare
			// enough (it cannot come over gRPC) to leave to it.
			e.err = errFallback
			return
		}
		if i > 0 {
			e.raw(",")
		}
		e.searchResult(r)
	}
	e.raw(`],"next_page_token":`)
	e.str(m.NextPageToken)
	e.raw("}")
}

func (e *enc) searchResult(m *sparcv1.SearchResult) {
	e.raw(`{"asset":`)
	e.asset(m.Asset)
	e.raw(`,"distance_meters":`)
	e.double(m.DistanceMeters)
	e.raw(`,"remote":`)
	e.boolean(m.Remote)
	e.raw("}")
}

func (e *enc) listAssetsResponse(m *sparcv1.ListAssetsResponse) {
	e.raw(`{"assets":[`)
	for i, a := range m.Assets {
		if a == nil {
			e.err = errFallback
			return
		}
		if i > 0 {
			e.raw(",")
		}
		e.asset(a)
	}
	e.raw(`],"next_page_token":`)
	e.str(m.NextPageToken)
	e.raw("}")
}

func (e *enc) asset(m *sparcv1.Asset) {
	if m == nil {
		e.null()
		return
	}
	e.raw(`{"name":`)
	e.str(m.Name)
	e.raw(`,"kind":`)
	e.enum(assetKindNames, int32(m.Kind))
	e.raw(`,"display_name":`)
	e.str(m.DisplayName)
	e.raw(`,"description":`)
	e.str(m.Description)
	e.raw(`,"categories":`)
	e.strs(m.Categories)
	e.raw(`,"location":`)
	e.location(m.Location)
	e.raw(`,"service_area_geojson":`)
	e.str(m.ServiceAreaGeojson)
	e.raw(`,"sessions":[`)
	for i, s := range m.Sessions {
		if s == nil {
			e.err = errFallback
			return
		}
		if i > 0 {
			e.raw(",")
		}
		e.session(s)
	}
	e.raw(`],"cost":`)
	e.cost(m.Cost)
	e.raw(`,"accessibility":`)
	e.strs(m.Accessibility)
	e.raw(`,"languages":`)
	e.strs(m.Languages)
	e.raw(`,"age_range":`)
	e.ageRange(m.AgeRange)
	e.raw(`,"contact":`)
	e.contact(m.Contact)
	e.optionalInt32(`,"capacity":`, m.Capacity)
	e.raw(`,"accepting_referrals":`)
	e.boolean(m.AcceptingReferrals)
	e.raw(`,"status":`)
	e.enum(assetStatusNames, int32(m.Status))
	e.raw(`,"owner_organisation":`)
	e.str(m.OwnerOrganisation)
	e.raw(`,"last_verified_time":`)
	e.timestamp(m.LastVerifiedTime)
	e.raw(`,"create_time":`)
	e.timestamp(m.CreateTime)
	e.raw(`,"update_time":`)
	e.timestamp(m.UpdateTime)
	e.raw(`,"etag":`)
	e.str(m.Etag)
	e.raw(`,"availability":`)
	e.enum(availabilityNames, int32(m.Availability))
	e.optionalInt32(`,"places_left":`, m.PlacesLeft)
	e.raw(`,"delivery_mode":`)
	e.enum(deliveryModeNames, int32(m.DeliveryMode))
	e.raw(`,"service_area":`)
	e.serviceArea(m.ServiceArea)
	e.raw(`,"next_session_time":`)
	e.timestamp(m.NextSessionTime)
	e.raw("}")
}

func (e *enc) location(m *sparcv1.Location) {
	if m == nil {
		e.null()
		return
	}
	e.raw(`{"latitude":`)
	e.double(m.Latitude)
	e.raw(`,"longitude":`)
	e.double(m.Longitude)
	e.raw(`,"address":`)
	e.str(m.Address)
	e.raw(`,"postcode":`)
	e.str(m.Postcode)
	e.raw(`,"locality":`)
	e.str(m.Locality)
	e.raw(`,"country":`)
	e.str(m.Country)
	e.raw("}")
}

func (e *enc) session(m *sparcv1.Session) {
	e.raw(`{"day":`)
	e.enum(weekdayNames, int32(m.Day))
	e.raw(`,"start_time":`)
	e.str(m.StartTime)
	e.raw(`,"end_time":`)
	e.str(m.EndTime)
	e.raw(`,"timezone":`)
	e.str(m.Timezone)
	e.raw(`,"valid_from":`)
	e.str(m.ValidFrom)
	e.raw(`,"valid_until":`)
	e.str(m.ValidUntil)
	e.raw("}")
}

func (e *enc) cost(m *sparcv1.Cost) {
	if m == nil {
		e.null()
		return
	}
	e.raw(`{"kind":`)
	e.enum(costKindNames, int32(m.Kind))
	e.raw(`,"note":`)
	e.str(m.Note)
	e.raw("}")
}

// ageRange has only optional fields, so the comma depends on min_age.
func (e *enc) ageRange(m *sparcv1.AgeRange) {
	if m == nil {
		e.null()
		return
	}
	e.raw("{")
	e.optionalInt32(`"min_age":`, m.MinAge)
	if m.MinAge != nil && m.MaxAge != nil {
		e.raw(",")
	}
	e.optionalInt32(`"max_age":`, m.MaxAge)
	e.raw("}")
}

func (e *enc) contact(m *sparcv1.Contact) {
	if m == nil {
		e.null()
		return
	}
	e.raw(`{"name":`)
	e.str(m.Name)
	e.raw(`,"email":`)
	e.str(m.Email)
	e.raw(`,"phone":`)
	e.str(m.Phone)
	e.raw(`,"website":`)
	e.str(m.Website)
	e.raw("}")
}

func (e *enc) serviceArea(m *sparcv1.ServiceArea) {
	if m == nil {
		e.null()
		return
	}
	e.raw(`{"area_codes":`)
	e.strs(m.AreaCodes)
	e.raw(`,"country":`)
	e.str(m.Country)
	e.raw("}")
}
