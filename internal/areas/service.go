// Package areas holds the official geographies coverage maps are drawn
// over (LSOAs and MSOAs with IMD/WIMD, Dutch buurten and wijken): the SQL
// store, the only code that touches the areas and area_kinds tables
// (boundaries repaired with ST_MakeValid, projected once to the national
// grid), and the AreaService gRPC handlers. Imports are all-or-nothing per
// file and report every bad feature or row by its number. The file readers
// and the uploader the CLI uses are in package areaclient.
package areas

import (
	"context"
	"errors"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/geo"
	"github.com/sparc-network/sparc/internal/pagetoken"
)

// Service implements sparcv1.AreaServiceServer.
type Service struct {
	sparcv1.UnimplementedAreaServiceServer
	store  *Store
	tokens *pagetoken.Signer
}

// NewService returns the area service.
func NewService(store *Store, tokens *pagetoken.Signer) *Service {
	return &Service{store: store, tokens: tokens}
}

// featureChecker validates features as they stream in and remembers codes
// to catch duplicates within the file.
type featureChecker struct {
	seen map[string]int64
	vs   violations
}

func (c *featureChecker) check(f *sparcv1.AreaFeature) (*sparcv1.AreaFeature, bool) {
	n := f.GetFeatureNumber()
	field := featureField(n)
	if n <= 0 {
		c.vs.add(field, "feature_number must be 1 or more")
		return nil, false
	}
	ok := c.vs.code(field+".code", f.GetCode(), c.seen, n, "feature")
	ok = c.vs.text(field+".display_name", f.GetDisplayName(), true, maxNameLen) && ok
	if p := f.GetParentCode(); p != "" {
		if err := checkCode(p); err != nil {
			c.vs.add(field+".parent_code", "%v", err)
			ok = false
		}
	}
	if err := checkGeometry(f.GetGeometryGeojson()); err != nil {
		c.vs.add(field+".geometry", "%v", err)
		ok = false
	}
	return f, ok
}

// AreaImport is what an import is asked to do, from the stream header.
type AreaImport struct {
	Kind   string
	Source string
}

// Import validates and stores the features next yields (io.EOF at the
// end). It is the one import path: the gRPC stream and the demo loader
// both use it.
func (s *Service) Import(ctx context.Context, h AreaImport, next func() ([]*sparcv1.AreaFeature, error)) (*sparcv1.ImportAreasResponse, error) {
	var v apierr.InvalidArgument
	CheckKind(&v, "header.kind", h.Kind)
	if err := v.Err(); err != nil {
		return nil, err
	}
	chk := &featureChecker{seen: map[string]int64{}}
	res, err := s.store.ImportAreas(ctx, h.Kind, checked(next, &chk.vs, chk.check))
	if err != nil {
		return nil, withSource(err, h.Source)
	}
	out := &sparcv1.ImportAreasResponse{Created: res.Created, Updated: res.Updated}
	for _, r := range res.Repaired {
		out.Repaired = append(out.Repaired, &sparcv1.RepairedFeature{FeatureNumber: r.Number, Code: r.Code, Reason: r.Reason})
	}
	return out, nil
}

// checked wraps next so that every item is checked as it arrives and the
// store is given the good ones. After the first bad item nothing more is
// passed on, but the rest are still checked, so that every problem of
// the file is reported together, as the error at the end of the stream.
func checked[In, Out any](next func() ([]In, error), vs *violations, check func(In) (Out, bool)) func() ([]Out, error) {
	return func() ([]Out, error) {
		for {
			batch, err := next()
			if errors.Is(err, io.EOF) {
				if verr := vs.err(); verr != nil {
					return nil, verr
				}
				return nil, io.EOF
			}
			if err != nil {
				return nil, err
			}
			var good []Out
			for _, x := range batch {
				if out, ok := check(x); ok {
					good = append(good, out)
				}
			}
			if vs.ok() {
				return good, nil
			}
		}
	}
}

// receiveImport reads an import stream through recv: the first message
// must be the header (header returns nil for a message that is not one),
// the others batches, whose items the returned next yields (io.EOF at the
// end of the stream).
func receiveImport[M any, H comparable, T any](recv func() (M, error), header func(M) H, items func(M) []T) (H, func() ([]T, error), error) {
	var none H
	first, err := recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return none, nil, apierr.Invalid("header", "the stream is empty: send a header first")
		}
		return none, nil, err
	}
	h := header(first)
	if h == none {
		return none, nil, apierr.Invalid("header", "the first message must be the header")
	}
	next := func() ([]T, error) {
		msg, err := recv()
		if err != nil {
			return nil, err
		}
		if header(msg) != none {
			return nil, apierr.Invalid("header", "only the first message may be a header")
		}
		return items(msg), nil
	}
	return h, next, nil
}

// withSource names the file in the message of a validation error.
func withSource(err error, source string) error {
	var ia *apierr.InvalidArgument
	if source != "" && errors.As(err, &ia) {
		for i := range ia.Violations {
			ia.Violations[i].Description = source + ": " + ia.Violations[i].Description
		}
	}
	return err
}

// ImportAreas receives a header and feature batches and imports them.
func (s *Service) ImportAreas(stream grpc.ClientStreamingServer[sparcv1.ImportAreasRequest, sparcv1.ImportAreasResponse]) error {
	h, next, err := receiveImport(stream.Recv, (*sparcv1.ImportAreasRequest).GetHeader,
		func(m *sparcv1.ImportAreasRequest) []*sparcv1.AreaFeature { return m.GetBatch().GetFeatures() })
	if err != nil {
		return err
	}
	res, err := s.Import(stream.Context(), AreaImport{Kind: h.GetKind(), Source: h.GetSourceName()}, next)
	if err != nil {
		return err
	}
	return stream.SendAndClose(res)
}

// ImportAttributes validates and stores the rows next yields.
func (s *Service) ImportAttributes(ctx context.Context, source string, skipUnknown bool, next func() ([]*sparcv1.AttributeRow, error)) (*sparcv1.ImportAreaAttributesResponse, error) {
	seen := map[string]int64{}
	var vs violations
	res, err := s.store.ImportAttributes(ctx, skipUnknown, checked(next, &vs, func(r *sparcv1.AttributeRow) (AttributeRow, bool) {
		return checkRow(r, seen, &vs)
	}))
	if err != nil {
		return nil, withSource(err, source)
	}
	return &sparcv1.ImportAreaAttributesResponse{Updated: res.Updated, SkippedUnknown: res.SkippedUnknown}, nil
}

func checkRow(r *sparcv1.AttributeRow, seen map[string]int64, vs *violations) (AttributeRow, bool) {
	n := r.GetLineNumber()
	field := lineField(n)
	if n <= 0 {
		vs.add(field, "line_number must be 1 or more")
		return AttributeRow{}, false
	}
	ok := vs.code(field+".code", r.GetCode(), seen, n, "line")
	if len(r.GetValues()) > maxAttributes {
		vs.add(field+".values", "has %d attributes, more than the maximum of %d", len(r.GetValues()), maxAttributes)
		return AttributeRow{}, false
	}
	row := AttributeRow{Line: n, Code: r.GetCode(), Values: map[string]float64{}, Council: r.GetCouncilCode()}
	if row.Council != "" {
		if err := checkCode(row.Council); err != nil {
			vs.add(field+".council_code", "%v", err)
			ok = false
		}
	}
	for name, val := range r.GetValues() {
		switch {
		case !attrRe.MatchString(name):
			vs.add(field+".values", "%q is not an attribute name (lower_snake_case, up to 63 characters)", name)
			ok = false
		case math.IsNaN(val) || math.IsInf(val, 0):
			vs.add(field+".values["+name+"]", "is not a finite number")
			ok = false
		case name == PopulationAttribute:
			if val < 0 || val > maxPopulation || val != math.Trunc(val) {
				vs.add(field+".values[population]", "%v is not a whole number of residents between 0 and %d", val, int64(maxPopulation))
				ok = false
				continue
			}
			p := int64(val)
			row.Population = &p
		default:
			row.Values[name] = val
		}
	}
	return row, ok
}

// ImportAreaAttributes receives a header and row batches and imports them.
func (s *Service) ImportAreaAttributes(stream grpc.ClientStreamingServer[sparcv1.ImportAreaAttributesRequest, sparcv1.ImportAreaAttributesResponse]) error {
	h, next, err := receiveImport(stream.Recv, (*sparcv1.ImportAreaAttributesRequest).GetHeader,
		func(m *sparcv1.ImportAreaAttributesRequest) []*sparcv1.AttributeRow { return m.GetBatch().GetRows() })
	if err != nil {
		return err
	}
	res, err := s.ImportAttributes(stream.Context(), h.GetSourceName(), h.GetSkipUnknownCodes(), next)
	if err != nil {
		return err
	}
	return stream.SendAndClose(res)
}

func checkSimplify(m float64, v *apierr.InvalidArgument) {
	if math.IsNaN(m) || m < 0 || m > maxSimplifyMeters {
		v.Add("simplify_meters", "must be between 0 and %d", maxSimplifyMeters)
	}
}

// GetArea returns one area.
func (s *Service) GetArea(ctx context.Context, req *sparcv1.GetAreaRequest) (*sparcv1.Area, error) {
	var v apierr.InvalidArgument
	code := parseName(&v, "name", req.GetName())
	checkSimplify(req.GetSimplifyMeters(), &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.store.Get(ctx, code, req.GetIncludeGeometry(), req.GetSimplifyMeters())
}

// ListAreas lists areas in code order, or by name length when asked by
// the start of a word of the name.
func (s *Service) ListAreas(ctx context.Context, req *sparcv1.ListAreasRequest) (*sparcv1.ListAreasResponse, error) {
	var v apierr.InvalidArgument
	q := ListQuery{Kind: req.GetKind(), WithGeometry: req.GetIncludeGeometry(), Simplify: req.GetSimplifyMeters()}
	if q.Kind != "" {
		CheckKind(&v, "kind", q.Kind)
	}
	if req.GetParentCode() != "" {
		q.Parent = ParseParentCode(&v, "parent_code", req.GetParentCode())
	}
	if req.GetBbox() != "" {
		b, err := geo.ParseBBox(req.GetBbox())
		if err != nil {
			v.Add("bbox", "%v", err)
		}
		q.BBox = &b
	}
	checkSimplify(q.Simplify, &v)
	if req.GetDisplayNamePrefix() != "" {
		return s.listByName(ctx, req, q, &v)
	}
	p := aip.StartPage[string](&v, s.tokens, req, defaultPageSize, maxPageSize)
	if err := v.Err(); err != nil {
		return nil, err
	}
	q.After, q.Limit = p.After, pageLimit(p.Size, q.WithGeometry)
	p.Size = q.Limit
	list, err := s.store.List(ctx, q)
	if err != nil {
		return nil, err
	}
	list, next, err := aip.Next(p, list, func(a *sparcv1.Area) string { return a.GetCode() })
	if err != nil {
		return nil, err
	}
	return &sparcv1.ListAreasResponse{Areas: list, NextPageToken: next}, nil
}

// listByName is ListAreas by the start of a word of the name: shortest
// names first, paged by (length, name, code).
func (s *Service) listByName(ctx context.Context, req *sparcv1.ListAreasRequest, q ListQuery, v *apierr.InvalidArgument) (*sparcv1.ListAreasResponse, error) {
	prefix := strings.TrimSpace(req.GetDisplayNamePrefix())
	aip.Text(v, "display_name_prefix", prefix, true, maxPrefixLen)
	if n := utf8.RuneCountInString(prefix); n > 0 && n < minPrefixLen {
		v.Add("display_name_prefix", "must have at least %d characters", minPrefixLen)
	}
	p := aip.StartPage[NamePosition](v, s.tokens, req, defaultPageSize, maxPageSize)
	if err := v.Err(); err != nil {
		return nil, err
	}
	q.Limit = pageLimit(p.Size, q.WithGeometry)
	p.Size = q.Limit
	list, err := s.store.ListByName(ctx, NameQuery{ListQuery: q, Prefix: LikePrefix(prefix), After: p.After})
	if err != nil {
		return nil, err
	}
	list, next, err := aip.Next(p, list, func(a *sparcv1.Area) NamePosition {
		return NamePosition{Len: utf8.RuneCountInString(a.GetDisplayName()), Name: a.GetDisplayName(), Code: a.GetCode()}
	})
	if err != nil {
		return nil, err
	}
	return &sparcv1.ListAreasResponse{Areas: list, NextPageToken: next}, nil
}

// pageLimit keeps a page with boundaries (they are large) well inside the
// message limit.
func pageLimit(size int, withGeometry bool) int {
	if withGeometry {
		return min(size, maxGeometryPage)
	}
	return size
}

// DeprivationAttribute returns the declared deprivation attribute of
// kind, or "" when none is declared (the demo loader checks with it
// whether the demo areas are loaded).
func (s *Service) DeprivationAttribute(ctx context.Context, kind string) (string, error) {
	return s.store.deprivationAttribute(ctx, kind)
}

// SetDeprivationMeasure declares a kind's deprivation attribute.
func (s *Service) SetDeprivationMeasure(ctx context.Context, req *sparcv1.SetDeprivationMeasureRequest) (*sparcv1.DeprivationMeasure, error) {
	var v apierr.InvalidArgument
	CheckKind(&v, "kind", req.GetKind())
	if !attrRe.MatchString(req.GetAttribute()) || req.GetAttribute() == PopulationAttribute {
		v.Add("attribute", "%q is not an attribute name (lower_snake_case, e.g. imd_decile; not population)", req.GetAttribute())
	}
	if _, ok := scaleCode[req.GetScale()]; !ok {
		v.Add("scale", "must be DEPRIVATION_SCALE_DECILE, _RANK or _SCORE")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	m := &sparcv1.DeprivationMeasure{Kind: req.GetKind(), Attribute: req.GetAttribute(), Scale: req.GetScale()}
	if err := s.store.SetDeprivationMeasure(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// CouncilExists reports whether any area belongs to council code (the
// demo loader checks with it whether its councils are loaded).
func (s *Service) CouncilExists(ctx context.Context, code string) (bool, error) {
	return s.store.CouncilExists(ctx, code)
}
