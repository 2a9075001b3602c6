// Package postcodes places British and Dutch postcodes: normalisation and
// validation per country (any case and spacing; GB by the BS 7666
// pattern, NL by PC4 with or without its letters), the SQL store (the only
// code that touches the postcodes table, loaded with COPY), the
// PostcodeService gRPC handler, and Locate, which the asset service and
// the ORUK API use to search from a postcode and to place an asset that
// gives only its postcode. A well-formed postcode the data lacks (a new
// one) is placed at its sector's, else its district's centre, flagged
// approximate; an unknown district is INVALID_ARGUMENT on the field the
// postcode came in.
package postcodes

import (
	"context"
	"errors"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
)

// Service implements sparcv1.PostcodeServiceServer.
type Service struct {
	sparcv1.UnimplementedPostcodeServiceServer
	store *Store
}

// NewService returns the postcode service.
func NewService(store *Store) *Service { return &Service{store: store} }

// GetPostcode returns where a postcode is.
func (s *Service) GetPostcode(ctx context.Context, req *sparcv1.GetPostcodeRequest) (*sparcv1.Postcode, error) {
	c, err := ParseName(req.GetName())
	if err != nil {
		return nil, apierr.Invalid("name", "%v", err)
	}
	p, err := s.place(ctx, "name", c)
	if err != nil {
		return nil, err
	}
	return &sparcv1.Postcode{Name: c.Name(), Postcode: c.Key, Country: c.Country, Latitude: p.Lat, Longitude: p.Lng,
		LsoaCode: p.LSOA, CouncilCode: p.Council, Approximate: p.Approximate(),
		Matched: sparcv1.PostcodeMatch(p.Match), Attribution: Attribution(p.Source)}, nil
}

// place looks c up, reporting an unknown district on field.
func (s *Service) place(ctx context.Context, field string, c Code) (Place, error) {
	p, err := s.store.Lookup(ctx, c)
	if errors.Is(err, ErrUnknownDistrict) {
		what := "district " + c.District
		if c.Country == NL {
			what = "area " + c.District + "xx"
		}
		return Place{}, apierr.Invalid(field, "%s is not a known postcode: no postcode of its %s is in SPARC's %s data", c.Display, what, c.Country)
	}
	return p, err
}

// Locator places postcodes for other domains (the asset service, the ORUK
// API), which hold it through their own small interfaces.
type Locator struct{ svc *Service }

// NewLocator returns a locator over store.
func NewLocator(store *Store) *Locator { return &Locator{svc: NewService(store)} }

// Normalise checks postcode for country (GB or NL; "" decides by the
// postcode) and returns it as an address writes it ("B1 1BB", "3039 AK"),
// or an InvalidArgument on field.
func (l *Locator) Normalise(field, country, postcode string) (string, error) {
	c, err := Parse(country, postcode)
	if err != nil {
		return "", apierr.Invalid(field, "%v", err)
	}
	return c.Display, nil
}

// Locate returns the point of postcode (any case and spacing) for country
// ("" decides by the postcode), and whether it is only its sector's or
// district's centre; a bad or unknown postcode is an InvalidArgument on
// field.
func (l *Locator) Locate(ctx context.Context, field, country, postcode string) (lat, lng float64, approximate bool, err error) {
	c, err := Parse(country, postcode)
	if err != nil {
		return 0, 0, false, apierr.Invalid(field, "%v", err)
	}
	p, err := l.svc.place(ctx, field, c)
	if err != nil {
		return 0, 0, false, err
	}
	return p.Lat, p.Lng, p.Approximate(), nil
}
