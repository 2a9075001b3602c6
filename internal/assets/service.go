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
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
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
}

// NewService returns the asset service.
func NewService(store *Store, tokens *pagetoken.Signer) *Service {
	return &Service{store: store, tokens: tokens, now: time.Now}
}

// CreateAsset validates and stores a new asset.
func (s *Service) CreateAsset(ctx context.Context, req *sparcv1.CreateAssetRequest) (*sparcv1.Asset, error) {
	var v apierr.InvalidArgument
	if req.GetAsset() == nil {
		return nil, apierr.Invalid("asset", "is required")
	}
	id := uuid.New()
	if req.GetAssetId() != "" {
		var err error
		if id, err = parseID(req.GetAssetId()); err != nil {
			v.Add("asset_id", "%v", err)
		}
	}
	a := proto.Clone(req.GetAsset()).(*sparcv1.Asset)
	clearOutputOnly(a)
	// Owners default to the caller's organisation; editors and admins can
	// only create for their own (another organisation looks like a missing
	// one). Checked after validation, so a malformed owner id is reported
	// as such; validation reads only the request.
	p := auth.FromContext(ctx)
	if a.GetOwnerOrganisation() == "" && p != nil {
		a.OwnerOrganisation = p.Org
	}
	if a.GetStatus() == sparcv1.AssetStatus_ASSET_STATUS_UNSPECIFIED {
		a.Status = sparcv1.AssetStatus_ASSET_STATUS_ACTIVE
	}
	normalise(a)
	validateAsset(a, &v, "asset")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !p.CanWriteOwnedBy(a.GetOwnerOrganisation()) {
		return nil, notFoundOrg(a.GetOwnerOrganisation())
	}
	return s.store.Create(ctx, id, a)
}

// GetAsset returns one asset.
func (s *Service) GetAsset(ctx context.Context, req *sparcv1.GetAssetRequest) (*sparcv1.Asset, error) {
	id, err := parseID(req.GetId())
	if err != nil {
		return nil, apierr.Invalid("id", "%v", err)
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
	id, err := parseID(in.GetId())
	if err != nil {
		v.Add("asset.id", "%v", err)
	}
	if in.GetEtag() != "" && !validEtag(in.GetEtag()) {
		v.Add("asset.etag", "%q is not an etag returned by this API", in.GetEtag())
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		paths = writableFields
	}
	// Output-only fields in a mask are ignored (AIP-203): an HTTP client
	// PATCHing back the document it read sends them, and the gateway puts
	// every field of the body in the mask.
	kept := make([]string, 0, len(paths))
	for i, p := range paths {
		switch {
		case outputOnly[p]:
		case !updatable[p]:
			v.Add("update_mask.paths["+strconv.Itoa(i)+"]", "%q is not an updatable field (one of: %s)", p, strings.Join(updatablePaths(), ", "))
		default:
			kept = append(kept, p)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	mask := &fieldmaskpb.FieldMask{Paths: kept}
	p := auth.FromContext(ctx)
	return s.store.Update(ctx, id, in.GetEtag(), canWrite(p, id), func(cur *sparcv1.Asset) error {
		applyMask(cur, in, mask)
		normalise(cur)
		if !p.CanWriteOwnedBy(cur.GetOwnerOrganisation()) {
			return notFoundOrg(cur.GetOwnerOrganisation())
		}
		var v apierr.InvalidArgument
		validateAsset(cur, &v, "asset")
		return v.Err()
	})
}

// DeleteAsset removes an asset.
func (s *Service) DeleteAsset(ctx context.Context, req *sparcv1.DeleteAssetRequest) (*sparcv1.DeleteAssetResponse, error) {
	var v apierr.InvalidArgument
	id, err := parseID(req.GetId())
	if err != nil {
		v.Add("id", "%v", err)
	}
	if req.GetEtag() != "" && !validEtag(req.GetEtag()) {
		v.Add("etag", "%q is not an etag returned by this API", req.GetEtag())
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.store.Delete(ctx, id, req.GetEtag(), canWrite(auth.FromContext(ctx), id)); err != nil {
		return nil, err
	}
	return &sparcv1.DeleteAssetResponse{}, nil
}

// ListAssets lists assets in update order.
func (s *Service) ListAssets(ctx context.Context, req *sparcv1.ListAssetsRequest) (*sparcv1.ListAssetsResponse, error) {
	var v apierr.InvalidArgument
	q := ListQuery{Limit: pagetoken.Size(req.GetPageSize(), defaultPageSize, maxPageSize, &v), Owner: req.GetOwnerOrganisation()}
	checkOrgID(q.Owner, "owner_organisation", &v)
	q.Categories = categoryFilter(req.GetCategories(), "categories", &v)
	q.Kinds = kindFilter(req.GetKinds(), "kinds", &v)
	q.Statuses = statusFilter(req.GetStatuses(), "statuses", &v)
	if t := req.GetModifiedSince(); t != nil {
		if err := t.CheckValid(); err != nil {
			v.Add("modified_since", "%v", err)
		} else {
			tt := t.AsTime()
			q.ModifiedSince = &tt
		}
	}
	hash := pagetoken.QueryHash(req, func(r *sparcv1.ListAssetsRequest) { r.PageToken, r.PageSize = "", 0 })
	if req.GetPageToken() != "" {
		var c ListCursor
		if err := s.tokens.Decode(req.GetPageToken(), hash, &c); err != nil {
			v.Add("page_token", "%v", err)
		}
		q.After = &c
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	list, err := s.store.List(ctx, q)
	if err != nil {
		return nil, err
	}
	resp := &sparcv1.ListAssetsResponse{}
	if len(list) > q.Limit {
		list = list[:q.Limit]
		last := list[len(list)-1]
		c := ListCursor{UpdatedMicros: last.GetUpdateTime().AsTime().UnixMicro(), ID: uuid.MustParse(last.GetId())}
		if resp.NextPageToken, err = s.tokens.Encode(hash, c); err != nil {
			return nil, err
		}
	}
	resp.Assets = list
	return resp, nil
}

// SearchAssets finds assets by place, filters and text.
func (s *Service) SearchAssets(ctx context.Context, req *sparcv1.SearchAssetsRequest) (*sparcv1.SearchAssetsResponse, error) {
	q, hash, err := s.searchQuery(req)
	if err != nil {
		return nil, err
	}
	hits, err := s.store.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	resp := &sparcv1.SearchAssetsResponse{}
	if len(hits) > q.Limit {
		hits = hits[:q.Limit]
		last := hits[len(hits)-1]
		c := Cursor{Distance: last.Distance, Rank: last.Rank, Name: last.Asset.GetName(), ID: uuid.MustParse(last.Asset.GetId())}
		if resp.NextPageToken, err = s.tokens.Encode(hash, c); err != nil {
			return nil, err
		}
	}
	resp.Results = make([]*sparcv1.SearchResult, len(hits))
	for i, h := range hits {
		resp.Results[i] = &sparcv1.SearchResult{Asset: h.Asset, DistanceMeters: h.Distance}
	}
	return resp, nil
}

// SearchQuery validates a search request and returns the store query and
// the query hash its page tokens are bound to. The benchmark uses it to run
// exactly the SQL a search runs.
func (s *Service) SearchQuery(req *sparcv1.SearchAssetsRequest) (SearchQuery, []byte, error) {
	return s.searchQuery(req)
}

func (s *Service) searchQuery(req *sparcv1.SearchAssetsRequest) (SearchQuery, []byte, error) {
	var v apierr.InvalidArgument
	q := SearchQuery{Limit: pagetoken.Size(req.GetPageSize(), defaultPageSize, maxPageSize, &v)}
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
			validateLatLng(req.GetLatitude(), req.GetLongitude(), "latitude", "longitude", &v)
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
	q.Categories = categoryFilter(req.GetCategories(), "categories", &v)
	q.Kinds = kindFilter(req.GetKinds(), "kinds", &v)
	q.FreeOnly = req.GetFreeOnly()
	checkCodes(req.GetAccessibility(), vocab.IsAccessibility, "accessibility", "accessibility feature", &v)
	q.Accessibility = req.GetAccessibility()
	if l := req.GetLanguage(); l != "" {
		if !langCode.MatchString(l) {
			v.Add("language", "%q is not an ISO 639 language code (lower case, e.g. \"en\")", l)
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
	if t := req.GetOpenAt(); t != nil {
		if err := t.CheckValid(); err != nil {
			v.Add("open_at", "%v", err)
		} else {
			tt := t.AsTime()
			q.OpenAt = &tt
		}
	}
	if len(req.GetQuery()) > maxQueryLen {
		v.Add("query", "is %d bytes, more than the maximum of %d", len(req.GetQuery()), maxQueryLen)
	} else if req.GetQuery() != "" {
		q.Text = TextQuery(req.GetQuery())
		if q.Text == "" {
			v.Add("query", "has no words to search for")
		}
	}
	q.Statuses = statusFilter(req.GetStatuses(), "statuses", &v)
	if len(q.Statuses) == 0 {
		q.Statuses = []string{"active"}
	}
	hash := pagetoken.QueryHash(req, func(r *sparcv1.SearchAssetsRequest) { r.PageToken, r.PageSize = "", 0 })
	if req.GetPageToken() != "" {
		var c Cursor
		if err := s.tokens.Decode(req.GetPageToken(), hash, &c); err != nil {
			v.Add("page_token", "%v", err)
		}
		q.After = &c
	}
	return q, hash, v.Err()
}

// ListVocabulary returns the controlled vocabularies.
func (s *Service) ListVocabulary(context.Context, *sparcv1.ListVocabularyRequest) (*sparcv1.ListVocabularyResponse, error) {
	conv := func(ts []vocab.Term) []*sparcv1.Term {
		out := make([]*sparcv1.Term, len(ts))
		for i, t := range ts {
			out[i] = &sparcv1.Term{Code: t.Code, LabelEn: t.LabelEN, LabelNl: t.LabelNL}
		}
		return out
	}
	return &sparcv1.ListVocabularyResponse{Categories: conv(vocab.Categories), Accessibility: conv(vocab.Accessibility)}, nil
}

// canWrite vetoes changes to assets the caller does not own with the same
// NOT_FOUND a missing asset gives, so ids of others cannot be probed.
func canWrite(p *auth.Principal, id uuid.UUID) func(owner string) error {
	return func(owner string) error {
		if !p.CanWriteOwnedBy(owner) {
			return fmt.Errorf("asset %s: %w", id, apierr.ErrNotFound)
		}
		return nil
	}
}

func notFoundOrg(org string) error {
	return fmt.Errorf("organisation %s: %w", org, apierr.ErrNotFound)
}

func parseID(s string) (uuid.UUID, error) {
	if s == "" {
		return uuid.Nil, errors.New("is required")
	}
	s = strings.TrimPrefix(s, "assets/")
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, errors.New("is not an asset id (a UUID such as 3f2504e0-4f89-41d3-9a0c-0305e82c3301)")
	}
	return id, nil
}

func validEtag(e string) bool {
	if len(e) != 16 {
		return false
	}
	for _, c := range e {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
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
	a.Id, a.Etag, a.CreateTime, a.UpdateTime = "", "", nil, nil
}

// normalise trims names and fills empty messages so stored values are
// canonical (a blank name is caught by validation, not stored).
func normalise(a *sparcv1.Asset) {
	a.Name = strings.TrimSpace(a.Name)
	if l := a.GetLocation(); l != nil {
		l.Postcode = strings.ToUpper(strings.TrimSpace(l.Postcode))
		l.Country = strings.ToUpper(strings.TrimSpace(l.Country))
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
