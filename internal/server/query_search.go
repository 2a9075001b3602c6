package server

import (
	"net/url"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// searchQuery decodes the query string of GET /v1/assets:search, the
// gateway's hottest route, without reflection: the gateway's parser
// resolves every key through the descriptors and sets fields through
// protoreflect (about 45 allocations and several µs a search; issue 16).
//
// It reads only what searches usually carry, each field by its proto
// name with the values the gateway's parser takes (runtime.Float64,
// Int32, Bool, an enum's full value name). Anything else (a JSON name, a
// dotted path, a shorthand such as view=basic or open_at=now, an enum by
// number, a singular field given twice, an unknown name, a value that
// does not parse) returns false, and strictQuery then resets the message
// and parses the query the general way, so that what it accepts, and the
// field violation it answers, cannot differ
// (TestSearchQueryMatchesGateway compares the two).
func searchQuery(m *sparcv1.SearchAssetsRequest, values url.Values) bool {
	for k, vs := range values {
		if len(vs) == 0 {
			return false
		}
		ok := true
		switch k {
		case "latitude":
			m.Latitude, ok = optional(vs, runtime.Float64)
		case "longitude":
			m.Longitude, ok = optional(vs, runtime.Float64)
		case "radius_meters":
			m.RadiusMeters, ok = optional(vs, runtime.Float64)
		case "age":
			m.Age, ok = optional(vs, runtime.Int32)
		case "accepting_referrals":
			m.AcceptingReferrals, ok = optional(vs, runtime.Bool)
		case "page_size":
			m.PageSize, ok = single(vs, runtime.Int32)
		case "free_only":
			m.FreeOnly, ok = single(vs, runtime.Bool)
		case "has_places":
			m.HasPlaces, ok = single(vs, runtime.Bool)
		case "view":
			m.View, ok = enumValue[sparcv1.AssetView](vs, sparcv1.AssetView_value)
		case "remote":
			m.Remote, ok = enumValue[sparcv1.RemoteFilter](vs, sparcv1.RemoteFilter_value)
		case "kinds":
			m.Kinds, ok = enumList[sparcv1.AssetKind](vs, sparcv1.AssetKind_value)
		case "statuses":
			m.Statuses, ok = enumList[sparcv1.AssetStatus](vs, sparcv1.AssetStatus_value)
		case "categories":
			m.Categories = append([]string(nil), vs...)
		case "accessibility":
			m.Accessibility = append([]string(nil), vs...)
		case "bbox":
			m.Bbox, ok = single(vs, text)
		case "within_geojson":
			m.WithinGeojson, ok = single(vs, text)
		case "language":
			m.Language, ok = single(vs, text)
		case "query":
			m.Query, ok = single(vs, text)
		case "page_token":
			m.PageToken, ok = single(vs, text)
		case "postcode":
			m.Postcode, ok = single(vs, text)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
	return true
}

// emptySearch reports whether m has no field set, as the generated
// gateway code hands it over (a fresh message); searchQuery then need not
// merge with what it holds, and a refused query leaves nothing to keep.
// Field by field because proto.Size, which would say the same, walks the
// message by reflection (TestEmptySearchSeesEveryField keeps the list
// complete).
func emptySearch(m *sparcv1.SearchAssetsRequest) bool {
	return m.Latitude == nil && m.Longitude == nil && m.RadiusMeters == nil && m.Bbox == "" &&
		m.WithinGeojson == "" && len(m.Categories) == 0 && len(m.Kinds) == 0 && !m.FreeOnly &&
		len(m.Accessibility) == 0 && m.Language == "" && m.Age == nil && m.AcceptingReferrals == nil &&
		m.OpenAt == nil && m.Query == "" && len(m.Statuses) == 0 && m.PageSize == 0 && m.PageToken == "" &&
		!m.HasPlaces && m.Postcode == "" && m.Remote == 0 && m.View == 0 &&
		len(m.ProtoReflect().GetUnknown()) == 0
}

func text(s string) (string, error) { return s, nil }

// single parses the one value of a singular field.
func single[T any](vs []string, parse func(string) (T, error)) (T, bool) {
	var zero T
	if len(vs) != 1 {
		return zero, false
	}
	v, err := parse(vs[0])
	if err != nil {
		return zero, false
	}
	return v, true
}

// optional is single for a proto3 optional field (present when given).
func optional[T any](vs []string, parse func(string) (T, error)) (*T, bool) {
	v, ok := single(vs, parse)
	if !ok {
		return nil, false
	}
	return &v, true
}

// enumValue takes an enum value by its full name only (the generated
// name map is the descriptor's); numbers and shorthands go the general way.
func enumValue[E ~int32](vs []string, names map[string]int32) (E, bool) {
	if len(vs) != 1 {
		return 0, false
	}
	n, ok := names[vs[0]]
	return E(n), ok
}

func enumList[E ~int32](vs []string, names map[string]int32) ([]E, bool) {
	out := make([]E, len(vs))
	for i, v := range vs {
		n, ok := names[v]
		if !ok {
			return nil, false
		}
		out[i] = E(n)
	}
	return out, true
}
