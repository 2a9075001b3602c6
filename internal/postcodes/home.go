package postcodes

import (
	"context"
	"errors"
)

// Home-area kinds: a British postcode's LSOA, a Dutch postcode's buurt.
const (
	HomeKindGB = "lsoa"
	HomeKindNL = "buurt"
)

// AreaFinder finds the area of a kind holding a point (the area store).
type AreaFinder interface {
	AreaAt(ctx context.Context, kind string, lat, lng float64) (string, error)
}

// HomeAreas derives a person's home area from their postcode for
// demand where people live (docs/coverage.md): the code of the LSOA (GB)
// or buurt (NL) the postcode lies in, or "" for none. Only the code leaves
// here; the point stays.
type HomeAreas struct {
	store *Store
	areas AreaFinder
}

// NewHomeAreas returns the home-area finder over the postcode store and
// the areas.
func NewHomeAreas(store *Store, areas AreaFinder) *HomeAreas {
	return &HomeAreas{store: store, areas: areas}
}

// HomeArea returns the home area of postcode (any case and spacing), ""
// when it has none:
//   - a British postcode the data holds: the LSOA the data names (ONS's
//     assignment), else the loaded LSOA holding its point;
//   - a Dutch postcode: the loaded buurt holding its PC4's centre (the
//     Dutch data is by PC4, and a PC4 may span a few buurten: this is the
//     buurt of its centre);
//   - none for text that is not a postcode, a postcode whose district is
//     unknown, and one the data lacks, which the lookup would place only
//     at its sector's or district's centre: a sector spans many LSOAs, so
//     its centre's would often be the wrong one, and demand is better
//     left out than put in the wrong place.
//
// Only a failing database is an error.
func (h *HomeAreas) HomeArea(ctx context.Context, postcode string) (string, error) {
	c, err := Parse("", postcode)
	if err != nil {
		return "", nil
	}
	p, err := h.store.Lookup(ctx, c)
	if errors.Is(err, ErrUnknownDistrict) {
		return "", nil
	}
	if err != nil || p.Approximate() {
		return "", err
	}
	if c.Country == GB && p.LSOA != "" {
		return p.LSOA, nil
	}
	kind := HomeKindGB
	if c.Country == NL {
		kind = HomeKindNL
	}
	return h.areas.AreaAt(ctx, kind, p.Lat, p.Lng)
}
