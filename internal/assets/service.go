// Package assets is the community asset directory: validation, the SQL
// store and the AssetService gRPC handlers. Handlers validate every request
// in Go before touching the database and return errors from package apierr;
// the server maps them to gRPC status in one interceptor.
//
// The store (store*.go, all the package's SQL, as named statements) is the
// only code that touches the assets table: other domains read the
// directory through its methods, the Open Referral listing
// (store_listing.go) and coverage's joins, tiles and fingerprint
// (store_coverage.go).
package assets

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/geo"
	"github.com/sparc-network/sparc/internal/pagetoken"
	"github.com/sparc-network/sparc/internal/vocab"
)

// Service implements sparcv1.AssetServiceServer.
type Service struct {
	sparcv1.UnimplementedAssetServiceServer
	store  *Store
	tokens *pagetoken.Signer
	now    func() time.Time
	// postcodes places postcodes (internal/postcodes, wired by the app);
	// nil: postcodes are free text and search has no postcode.
	postcodes Postcodes
}

// Postcodes validates and places postcodes; the postcodes domain
// implements it. Its errors are InvalidArgument on the field given.
type Postcodes interface {
	// Normalise checks postcode for country and returns it as an address
	// writes it ("B1 1BB", "3039 AK").
	Normalise(field, country, postcode string) (string, error)
	// Locate returns the postcode's point (country "" decides by the
	// postcode), approximate when it is its sector's or district's centre.
	Locate(ctx context.Context, field, country, postcode string) (lat, lng float64, approximate bool, err error)
}

// WithPostcodes makes the service validate assets' postcodes for their
// country, place an asset given only a postcode, and search from a
// postcode.
func (s *Service) WithPostcodes(p Postcodes) *Service {
	s.postcodes = p
	return s
}

// placePostcode validates the location's postcode for its country (the
// stored form is the normalised one) and, when the location has no point
// (0, 0, which is in the Gulf of Guinea, never in GB or NL), places the
// asset at the postcode. A given point is kept: the postcode never moves
// an asset its owner placed.
func (s *Service) placePostcode(ctx context.Context, a *sparcv1.Asset, prefix string) error {
	loc := a.GetLocation()
	if s.postcodes == nil || loc == nil || loc.GetPostcode() == "" || (loc.GetCountry() != "GB" && loc.GetCountry() != "NL") {
		return nil // no postcode, or a country that validation reports
	}
	field := prefix + ".location.postcode"
	pc, err := s.postcodes.Normalise(field, loc.GetCountry(), loc.GetPostcode())
	if err != nil {
		return err
	}
	loc.Postcode = pc
	if loc.GetLatitude() != 0 || loc.GetLongitude() != 0 || IsRemote(a) {
		return nil // placed by its owner, or remote: no point to place
	}
	lat, lng, _, err := s.postcodes.Locate(ctx, field, loc.GetCountry(), pc)
	if err != nil {
		return err
	}
	loc.Latitude, loc.Longitude = lat, lng
	return nil
}

// searchFromPostcode turns a search from a postcode into the same search
// from the postcode's point: the request is copied with latitude and
// longitude set, so everything after (validation, the page token's query,
// the SQL) is the point search's.
func (s *Service) searchFromPostcode(ctx context.Context, req *sparcv1.SearchAssetsRequest) (*sparcv1.SearchAssetsRequest, error) {
	if req.GetPostcode() == "" {
		return req, nil
	}
	if req.Latitude != nil || req.Longitude != nil {
		return nil, apierr.Invalid("postcode", "give a postcode or latitude and longitude, not both")
	}
	if s.postcodes == nil {
		return nil, apierr.Invalid("postcode", "this server has no postcode data: search with latitude and longitude")
	}
	lat, lng, _, err := s.postcodes.Locate(ctx, "postcode", "", req.GetPostcode())
	if err != nil {
		return nil, err
	}
	out := proto.Clone(req).(*sparcv1.SearchAssetsRequest)
	out.Latitude, out.Longitude = &lat, &lng
	return out, nil
}

// NewService returns the asset service.
func NewService(store *Store, tokens *pagetoken.Signer) *Service {
	return &Service{store: store, tokens: tokens, now: time.Now}
}

// writableFields are the top-level fields an update may set: "*" means
// all of them. Their sub-messages' fields are paths too
// ("location.postcode", "cost.note").
var writableFields = []string{
	"kind", "display_name", "description", "categories", "location", "service_area_geojson", "sessions",
	"cost", "accessibility", "languages", "age_range", "contact", "capacity", "accepting_referrals",
	"status", "owner_organisation", "last_verified_time", "availability", "delivery_mode", "service_area",
}

// assetFields reads update masks. The server's fields may be named and
// are skipped (AIP-203): an HTTP client PATCHing back the document it
// read sends them, and the gateway puts every field of the body in the
// mask.
var assetFields = aip.NewFields(&sparcv1.Asset{}, writableFields, "name", "etag", "create_time", "update_time", "places_left")

// CreateAsset validates and stores a new asset.
func (s *Service) CreateAsset(ctx context.Context, req *sparcv1.CreateAssetRequest) (*sparcv1.Asset, error) {
	var v apierr.InvalidArgument
	if req.GetAsset() == nil {
		return nil, apierr.Invalid("asset", "is required")
	}
	id := uuid.New()
	if req.GetAssetId() != "" {
		id = parseAssetID(&v, req.GetAssetId())
	}
	a := proto.Clone(req.GetAsset()).(*sparcv1.Asset)
	clearOutputOnly(a)
	// Owners default to the caller's organisation; editors and admins can
	// only create for their own (another organisation looks like a missing
	// one). Checked after validation, so a malformed owner is reported as
	// such; validation reads only the request.
	p := auth.FromContext(ctx)
	if a.GetOwnerOrganisation() == "" && p != nil {
		a.OwnerOrganisation = aip.NameOf(aip.Organisations, p.Org)
	}
	if a.GetStatus() == sparcv1.AssetStatus_ASSET_STATUS_UNSPECIFIED {
		a.Status = sparcv1.AssetStatus_ASSET_STATUS_ACTIVE
	}
	normalise(a)
	if err := s.placePostcode(ctx, a, "asset"); err != nil {
		return nil, err
	}
	validateAsset(a, &v, "asset")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !p.CanWriteOwnedBy(OwnerID(a)) {
		return nil, notFoundOrg(a.GetOwnerOrganisation())
	}
	return s.store.Create(ctx, id, a)
}

// parseAssetID reads CreateAssetRequest.asset_id: the client-chosen final
// segment of the name (AIP-133), a UUID in its canonical form so that one
// asset has one name.
func parseAssetID(v *apierr.InvalidArgument, s string) uuid.UUID {
	id, err := uuid.Parse(s)
	if err != nil || id.String() != s {
		v.Add("asset_id", "%q is not an asset id (a lower-case UUID such as 3f2504e0-4f89-41d3-9a0c-0305e82c3301, without \"assets/\")", apierr.Clip(s, 80))
		return uuid.Nil
	}
	return id
}

// GetAsset returns one asset.
func (s *Service) GetAsset(ctx context.Context, req *sparcv1.GetAssetRequest) (*sparcv1.Asset, error) {
	var v apierr.InvalidArgument
	id := aip.ParseName(&v, "name", aip.Assets, req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.store.Get(ctx, id)
}

// UpdateAsset applies the masked fields under the row lock and validates
// the merged result before writing it.
func (s *Service) UpdateAsset(ctx context.Context, req *sparcv1.UpdateAssetRequest) (*sparcv1.Asset, error) {
	var v apierr.InvalidArgument
	in := req.GetAsset()
	if in == nil {
		return nil, apierr.Invalid("asset", "is required")
	}
	id := aip.ParseName(&v, "asset.name", aip.Assets, in.GetName())
	aip.CheckEtag(&v, "asset.etag", in.GetEtag())
	mask := assetFields.Parse(&v, "update_mask", req.GetUpdateMask(), in)
	if err := v.Err(); err != nil {
		return nil, err
	}
	p := auth.FromContext(ctx)
	return s.store.Update(ctx, id, in.GetEtag(), canWrite(p, id), func(cur *sparcv1.Asset) error {
		was := cur.GetLocation().GetPostcode() + "|" + cur.GetLocation().GetCountry()
		mask.Apply(cur, in)
		normalise(cur)
		// Only a changed postcode or country is checked, and a location
		// without a point placed: an asset imported before postcodes were
		// validated can still have its other fields updated.
		l := cur.GetLocation()
		if l.GetPostcode()+"|"+l.GetCountry() != was || (l.GetLatitude() == 0 && l.GetLongitude() == 0) {
			if err := s.placePostcode(ctx, cur, "asset"); err != nil {
				return err
			}
		}
		// The caller owns the stored asset (allow said so): the merged one
		// is validated first, as on create, then its owner checked.
		var v apierr.InvalidArgument
		validateAsset(cur, &v, "asset")
		if cur.GetOwnerOrganisation() == "" {
			v.Add("asset.owner_organisation", "is required: an asset stays with an organisation")
		}
		if err := v.Err(); err != nil {
			return err
		}
		if !p.CanWriteOwnedBy(OwnerID(cur)) {
			return notFoundOrg(cur.GetOwnerOrganisation())
		}
		return nil
	})
}

// DeleteAsset removes an asset.
func (s *Service) DeleteAsset(ctx context.Context, req *sparcv1.DeleteAssetRequest) (*emptypb.Empty, error) {
	var v apierr.InvalidArgument
	id := aip.ParseName(&v, "name", aip.Assets, req.GetName())
	aip.CheckEtag(&v, "etag", req.GetEtag())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.store.Delete(ctx, id, req.GetEtag(), canWrite(auth.FromContext(ctx), id)); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// ListAssets lists assets in update order.
func (s *Service) ListAssets(ctx context.Context, req *sparcv1.ListAssetsRequest) (*sparcv1.ListAssetsResponse, error) {
	var v apierr.InvalidArgument
	p := aip.StartPage[ListCursor](&v, s.tokens, req, defaultPageSize, maxPageSize)
	q := ListQuery{Limit: p.Size, After: p.After}
	if owner := aip.ParseOptionalName(&v, "owner_organisation", aip.Organisations, req.GetOwnerOrganisation()); owner != uuid.Nil {
		q.Owner = owner.String()
	}
	q.Categories = categoryFilter(req.GetCategories(), "categories", &v)
	q.Kinds = kindFilter(req.GetKinds(), "kinds", &v)
	q.Statuses = statusFilter(req.GetStatuses(), "statuses", &v)
	q.ModifiedSince = timeFilter(req.GetModifiedSince(), "modified_since", &v)
	q.Basic = basicView(req.GetView(), &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	list, err := s.store.List(ctx, q)
	if err != nil {
		return nil, err
	}
	list, next, err := aip.Next(p, list, func(l Listed) ListCursor { return l.Cursor })
	if err != nil {
		return nil, err
	}
	resp := &sparcv1.ListAssetsResponse{Assets: make([]*sparcv1.Asset, len(list)), NextPageToken: next}
	for i, l := range list {
		resp.Assets[i] = l.Asset
	}
	return resp, nil
}

// SearchAssets finds assets by place, filters and text.
func (s *Service) SearchAssets(ctx context.Context, req *sparcv1.SearchAssetsRequest) (*sparcv1.SearchAssetsResponse, error) {
	req, err := s.searchFromPostcode(ctx, req)
	if err != nil {
		return nil, err
	}
	q, p, err := s.searchQuery(req)
	if err != nil {
		return nil, err
	}
	hits, err := s.store.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	hits, next, err := aip.Next(p, hits, func(h Hit) Cursor {
		return Cursor{Distance: h.Distance, Rank: h.Rank, Name: h.Asset.GetDisplayName(), ID: ID(h.Asset), Remote: h.Remote}
	})
	if err != nil {
		return nil, err
	}
	resp := &sparcv1.SearchAssetsResponse{NextPageToken: next, Results: make([]*sparcv1.SearchResult, len(hits))}
	for i, h := range hits {
		resp.Results[i] = &sparcv1.SearchResult{Asset: h.Asset, DistanceMeters: h.Distance, Remote: h.Remote}
	}
	return resp, nil
}

// SearchQuery validates a search request and returns the store query. The
// benchmark uses it to run exactly the SQL a search runs.
func (s *Service) SearchQuery(req *sparcv1.SearchAssetsRequest) (SearchQuery, error) {
	q, _, err := s.searchQuery(req)
	return q, err
}

// searchQuery validates a search request and returns the store query and
// its page.
func (s *Service) searchQuery(req *sparcv1.SearchAssetsRequest) (SearchQuery, *aip.Page[Cursor], error) {
	var v apierr.InvalidArgument
	p := aip.StartPage[Cursor](&v, s.tokens, req, defaultPageSize, maxPageSize)
	q := SearchQuery{Limit: p.Size, After: p.After}
	searchPlace(req, &q, &v)
	q.Categories = categoryFilter(req.GetCategories(), "categories", &v)
	q.Kinds = kindFilter(req.GetKinds(), "kinds", &v)
	q.FreeOnly = req.GetFreeOnly()
	checkCodes(req.GetAccessibility(), vocab.IsAccessibility, "accessibility", "accessibility feature", &v)
	q.Accessibility = req.GetAccessibility()
	if l := req.GetLanguage(); l != "" {
		if !langCode.MatchString(l) {
			v.Add("language", "%q is not an ISO 639 language code (lower case, e.g. \"en\")", apierr.Clip(l, 80))
		}
		q.Language = l
	}
	if req.Age != nil {
		if req.GetAge() < 0 || req.GetAge() > maxAge {
			v.Add("age", "must be between 0 and %d", maxAge)
		}
		age := req.GetAge()
		q.Age = &age
	}
	q.AcceptingReferrals = req.AcceptingReferrals
	q.HasPlaces = req.GetHasPlaces()
	q.OpenAt = timeFilter(req.GetOpenAt(), "open_at", &v)
	if len(req.GetQuery()) > maxQueryLen {
		v.Add("query", "is %d bytes, more than the maximum of %d", len(req.GetQuery()), maxQueryLen)
	} else if req.GetQuery() != "" {
		t, problem := ParseText(req.GetQuery())
		if problem != "" {
			v.Add("query", "%s", problem)
		}
		q.Text = &t
	}
	q.Statuses = statusFilter(req.GetStatuses(), "statuses", &v)
	switch req.GetRemote() {
	case sparcv1.RemoteFilter_REMOTE_FILTER_UNSPECIFIED, sparcv1.RemoteFilter_REMOTE_FILTER_INCLUDE:
		q.Remote = RemoteInclude
	case sparcv1.RemoteFilter_REMOTE_FILTER_ONLY:
		q.Remote = RemoteOnly
	case sparcv1.RemoteFilter_REMOTE_FILTER_EXCLUDE:
		q.Remote = RemoteExclude
	default:
		v.Add("remote", "unknown remote filter %d (REMOTE_FILTER_INCLUDE, ONLY or EXCLUDE)", req.GetRemote())
	}
	if len(q.Statuses) == 0 {
		q.Statuses = []string{"active"}
	}
	q.Basic = basicView(req.GetView(), &v)
	return q, p, v.Err()
}

// searchPlace reads where a search looks: a point and radius, a box or a
// polygon, at most one of them.
func searchPlace(req *sparcv1.SearchAssetsRequest, q *SearchQuery, v *apierr.InvalidArgument) {
	places := 0
	if req.Latitude != nil || req.Longitude != nil || req.RadiusMeters != nil {
		places++
		switch {
		case req.Latitude == nil || req.Longitude == nil || req.RadiusMeters == nil:
			for _, f := range []struct {
				name string
				set  bool
			}{{"latitude", req.Latitude != nil}, {"longitude", req.Longitude != nil}, {"radius_meters", req.RadiusMeters != nil}} {
				if !f.set {
					v.Add(f.name, "is required for a point search (latitude, longitude and radius_meters go together)")
				}
			}
		default:
			validateLatLng(req.GetLatitude(), req.GetLongitude(), "latitude", "longitude", v)
			r := req.GetRadiusMeters()
			if math.IsNaN(r) || r <= 0 || r > maxRadiusMeters {
				v.Add("radius_meters", "must be greater than 0 and at most %d", maxRadiusMeters)
			}
			q.Near = &Near{Lat: req.GetLatitude(), Lng: req.GetLongitude(), RadiusMeters: r}
		}
	}
	if req.GetBbox() != "" {
		places++
		b, err := geo.ParseBBox(req.GetBbox())
		if err != nil {
			v.Add("bbox", "%v", err)
		}
		q.BBox = &b
	}
	if req.GetWithinGeojson() != "" {
		places++
		// PostGIS gets the canonical 2D MultiPolygon, never the user's text.
		if mp, err := geo.ParsePolygon(req.GetWithinGeojson(), maxPolygonVerts); err != nil {
			v.Add("within_geojson", "%v", err)
		} else {
			q.WithinGeoJSON = geo.EncodeMultiPolygon(mp)
		}
	}
	if places > 1 {
		v.Add("bbox", "give only one of a point (latitude, longitude, radius_meters), bbox or within_geojson")
	}
}

// ListVocabulary returns the controlled vocabularies, a page at a time.
// The terms are in memory: a page is a slice of vocab.All after the code
// the page token holds.
func (s *Service) ListVocabulary(_ context.Context, req *sparcv1.ListVocabularyRequest) (*sparcv1.ListVocabularyResponse, error) {
	var v apierr.InvalidArgument
	p := aip.StartPage[string](&v, s.tokens, req, defaultVocabularyPageSize, maxVocabularyPageSize)
	start := 0
	if p.After != nil {
		var ok bool
		if start, ok = vocab.After(*p.After); !ok {
			v.Add("page_token", "the vocabulary changed since this token was issued; list again from the first page")
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	terms, next, err := aip.Next(p, vocab.All[start:min(start+p.Size+1, len(vocab.All))], func(t vocab.Listed) string { return t.Code })
	if err != nil {
		return nil, err
	}
	resp := &sparcv1.ListVocabularyResponse{NextPageToken: next, Terms: make([]*sparcv1.Term, len(terms))}
	for i, t := range terms {
		resp.Terms[i] = &sparcv1.Term{Code: t.Code, LabelEn: t.LabelEN, LabelNl: t.LabelNL, Vocabulary: vocabularyOf[t.List]}
	}
	return resp, nil
}

var vocabularyOf = map[vocab.List]sparcv1.Vocabulary{
	vocab.CategoryList:      sparcv1.Vocabulary_VOCABULARY_CATEGORIES,
	vocab.AccessibilityList: sparcv1.Vocabulary_VOCABULARY_ACCESSIBILITY,
}

// canWrite vetoes changes to assets the caller does not own with the same
// NOT_FOUND a missing asset gives, so ids of others cannot be probed.
// owner is the stored organisation id ("" when unowned).
func canWrite(p *auth.Principal, id uuid.UUID) func(owner string) error {
	return func(owner string) error {
		if !p.CanWriteOwnedBy(owner) {
			return notFound(id)
		}
		return nil
	}
}

// notFound is the error of a missing (or hidden) asset, naming it by its
// resource name.
func notFound(id uuid.UUID) error {
	return fmt.Errorf("%s: %w", aip.Name(aip.Assets, id), apierr.ErrNotFound)
}

func notFoundOrg(org string) error {
	return fmt.Errorf("%s: %w", org, apierr.ErrNotFound)
}

// OwnerID is the id of the asset's owner organisation ("" when unowned),
// as auth.Principal compares it. A malformed name gives no organisation's
// id, so a check on it fails; validateAsset reports the name itself.
func OwnerID(a *sparcv1.Asset) string {
	return strings.TrimPrefix(a.GetOwnerOrganisation(), string(aip.Organisations)+"/")
}

// ID is the id of an asset the store returned (its name is well-formed by
// construction: it panics on any other).
func ID(a *sparcv1.Asset) uuid.UUID {
	return uuid.MustParse(strings.TrimPrefix(a.GetName(), string(aip.Assets)+"/"))
}

// timeFilter reads an optional timestamp filter.
func timeFilter(t *timestamppb.Timestamp, field string, v *apierr.InvalidArgument) *time.Time {
	if t == nil {
		return nil
	}
	if err := t.CheckValid(); err != nil {
		v.Add(field, "%v", err)
		return nil
	}
	tt := t.AsTime()
	return &tt
}

func categoryFilter(cs []string, field string, v *apierr.InvalidArgument) []string {
	checkCodes(cs, vocab.IsCategory, field, "category", v)
	return cs
}

func kindFilter(ks []sparcv1.AssetKind, field string, v *apierr.InvalidArgument) []string {
	var out []string
	for i, k := range ks {
		c, ok := kindCode[k]
		if !ok || k == sparcv1.AssetKind_ASSET_KIND_UNSPECIFIED {
			v.Add(field+"["+strconv.Itoa(i)+"]", "unknown asset kind %d", k)
			continue
		}
		out = append(out, c)
	}
	return out
}

func statusFilter(ss []sparcv1.AssetStatus, field string, v *apierr.InvalidArgument) []string {
	var out []string
	for i, st := range ss {
		c, ok := statusCode[st]
		if !ok || st == sparcv1.AssetStatus_ASSET_STATUS_UNSPECIFIED {
			v.Add(field+"["+strconv.Itoa(i)+"]", "unknown asset status %d", st)
			continue
		}
		out = append(out, c)
	}
	return out
}

// clearOutputOnly drops fields the server owns.
func clearOutputOnly(a *sparcv1.Asset) {
	a.Name, a.Etag, a.CreateTime, a.UpdateTime, a.PlacesLeft, a.NextSessionTime = "", "", nil, nil, nil, nil
}

// normalise trims the display name and fills empty messages so stored values are
// canonical (a blank name is caught by validation, not stored).
func normalise(a *sparcv1.Asset) {
	a.DisplayName = strings.TrimSpace(a.DisplayName)
	if l := a.GetLocation(); l != nil {
		l.Postcode = strings.ToUpper(strings.TrimSpace(l.Postcode))
		l.Country = strings.ToUpper(strings.TrimSpace(l.Country))
	}
	if sa := a.GetServiceArea(); sa != nil {
		for i, c := range sa.AreaCodes {
			sa.AreaCodes[i] = strings.TrimSpace(c)
		}
		sa.Country = strings.ToUpper(strings.TrimSpace(sa.Country))
		if len(sa.AreaCodes) == 0 && sa.Country == "" {
			a.ServiceArea = nil // reads back absent
		}
	}
	// The store hands the service area to PostGIS, which must get the
	// canonical 2D MultiPolygon (see geo.EncodeMultiPolygon), rounded to
	// the 7 decimals the store reads back, so that validation judges the
	// shape that is stored (rounding can make a ring touch itself). An
	// invalid one is left as sent for validation to report.
	if mp, err := geo.ParsePolygon(a.GetServiceAreaGeojson(), maxPolygonVerts); err == nil {
		fc := mp.FlatCoords()
		for i := range fc {
			fc[i] = math.Round(fc[i]*1e7) / 1e7
		}
		a.ServiceAreaGeojson = geo.EncodeMultiPolygon(mp)
	}
}
