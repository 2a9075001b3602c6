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

	"google.golang.org/grpc"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
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

func (c *featureChecker) check(f *sparcv1.AreaFeature) bool {
	n := f.GetFeatureNumber()
	field := featureField(n)
	ok := true
	if n <= 0 {
		c.vs.add(field, "feature_number must be 1 or more")
		return false
	}
	if err := checkCode(f.GetCode()); err != nil {
		c.vs.add(field+".code", "%v", err)
		ok = false
	} else if first, dup := c.seen[f.GetCode()]; dup {
		c.vs.add(field+".code", "duplicate code %s (also feature %d)", f.GetCode(), first)
		ok = false
	} else {
		c.seen[f.GetCode()] = n
	}
	if err := checkName(f.GetName()); err != nil {
		c.vs.add(field+".name", "%v", err)
		ok = false
	}
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
	return ok
}

// AreaImport is what an import is asked to do, from the stream header.
type AreaImport struct {
	Kind   string
	Source string
}

// Import validates and stores the features next yields (io.EOF at the
// end). It is the one import path: the gRPC stream and the demo loader
// both use it. Features are checked as they arrive; after the first bad
// one nothing more is staged, but the rest are still checked so that every
// problem of the file is reported together.
func (s *Service) Import(ctx context.Context, h AreaImport, next func() ([]*sparcv1.AreaFeature, error)) (*sparcv1.ImportAreasResponse, error) {
	var v apierr.InvalidArgument
	checkKind(h.Kind, "header.kind", &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	chk := &featureChecker{seen: map[string]int64{}}
	res, err := s.store.ImportAreas(ctx, h.Kind, func() ([]*sparcv1.AreaFeature, error) {
		for {
			batch, err := next()
			if errors.Is(err, io.EOF) {
				if verr := chk.vs.err(); verr != nil {
					return nil, verr
				}
				return nil, io.EOF
			}
			if err != nil {
				return nil, err
			}
			good := batch[:0:0]
			for _, f := range batch {
				if chk.check(f) {
					good = append(good, f)
				}
			}
			if chk.vs.err() == nil {
				return good, nil
			}
		}
	})
	if err != nil {
		return nil, withSource(err, h.Source)
	}
	out := &sparcv1.ImportAreasResponse{Created: res.Created, Updated: res.Updated}
	for _, r := range res.Repaired {
		out.Repaired = append(out.Repaired, &sparcv1.RepairedFeature{FeatureNumber: r.Number, Code: r.Code, Reason: r.Reason})
	}
	return out, nil
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
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return apierr.Invalid("header", "the stream is empty: send a header first")
		}
		return err
	}
	h := first.GetHeader()
	if h == nil {
		return apierr.Invalid("header", "the first message must be the header (kind)")
	}
	res, err := s.Import(stream.Context(), AreaImport{Kind: h.GetKind(), Source: h.GetSourceName()}, func() ([]*sparcv1.AreaFeature, error) {
		msg, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		if msg.GetHeader() != nil {
			return nil, apierr.Invalid("header", "only the first message may be a header")
		}
		return msg.GetBatch().GetFeatures(), nil
	})
	if err != nil {
		return err
	}
	return stream.SendAndClose(res)
}

// ImportAttributes validates and stores the rows next yields.
func (s *Service) ImportAttributes(ctx context.Context, source string, skipUnknown bool, next func() ([]*sparcv1.AttributeRow, error)) (*sparcv1.ImportAreaAttributesResponse, error) {
	seen := map[string]int64{}
	var vs violations
	res, err := s.store.ImportAttributes(ctx, skipUnknown, func() ([]AttributeRow, error) {
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
			var good []AttributeRow
			for _, r := range batch {
				if row, ok := checkRow(r, seen, &vs); ok {
					good = append(good, row)
				}
			}
			if vs.err() == nil {
				return good, nil
			}
		}
	})
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
	ok := true
	if err := checkCode(r.GetCode()); err != nil {
		vs.add(field+".code", "%v", err)
		ok = false
	} else if first, dup := seen[r.GetCode()]; dup {
		vs.add(field+".code", "duplicate code %s (also line %d)", r.GetCode(), first)
		ok = false
	} else {
		seen[r.GetCode()] = n
	}
	if len(r.GetValues()) > maxAttributes {
		vs.add(field+".values", "has %d attributes, more than the maximum of %d", len(r.GetValues()), maxAttributes)
		return AttributeRow{}, false
	}
	row := AttributeRow{Line: n, Code: r.GetCode(), Values: map[string]float64{}}
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
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return apierr.Invalid("header", "the stream is empty: send a header first")
		}
		return err
	}
	h := first.GetHeader()
	if h == nil {
		return apierr.Invalid("header", "the first message must be the header")
	}
	res, err := s.ImportAttributes(stream.Context(), h.GetSourceName(), h.GetSkipUnknownCodes(), func() ([]*sparcv1.AttributeRow, error) {
		msg, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		if msg.GetHeader() != nil {
			return nil, apierr.Invalid("header", "only the first message may be a header")
		}
		return msg.GetBatch().GetRows(), nil
	})
	if err != nil {
		return err
	}
	return stream.SendAndClose(res)
}

func parseCode(s, field string, v *apierr.InvalidArgument) string {
	s = strings.TrimPrefix(s, "areas/")
	if err := checkCode(s); err != nil {
		v.Add(field, "%v", err)
	}
	return s
}

func checkSimplify(m float64, v *apierr.InvalidArgument) {
	if math.IsNaN(m) || m < 0 || m > maxSimplifyMeters {
		v.Add("simplify_meters", "must be between 0 and %d", maxSimplifyMeters)
	}
}

// GetArea returns one area.
func (s *Service) GetArea(ctx context.Context, req *sparcv1.GetAreaRequest) (*sparcv1.Area, error) {
	var v apierr.InvalidArgument
	code := parseCode(req.GetCode(), "code", &v)
	checkSimplify(req.GetSimplifyMeters(), &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.store.Get(ctx, code, req.GetIncludeGeometry(), req.GetSimplifyMeters())
}

// ListAreas lists areas in code order.
func (s *Service) ListAreas(ctx context.Context, req *sparcv1.ListAreasRequest) (*sparcv1.ListAreasResponse, error) {
	var v apierr.InvalidArgument
	q := ListQuery{Kind: req.GetKind(), WithGeometry: req.GetIncludeGeometry(), Simplify: req.GetSimplifyMeters()}
	if q.Kind != "" {
		checkKind(q.Kind, "kind", &v)
	}
	if req.GetParentCode() != "" {
		q.Parent = parseCode(req.GetParentCode(), "parent_code", &v)
	}
	if req.GetBbox() != "" {
		b, err := geo.ParseBBox(req.GetBbox())
		if err != nil {
			v.Add("bbox", "%v", err)
		}
		q.BBox = &b
	}
	checkSimplify(q.Simplify, &v)
	q.Limit = pagetoken.Size(req.GetPageSize(), defaultPageSize, maxPageSize, &v)
	if q.WithGeometry && q.Limit > maxGeometryPage {
		// Boundaries are large: keep a page well inside the message limit.
		q.Limit = maxGeometryPage
	}
	hash := pagetoken.QueryHash(req, func(r *sparcv1.ListAreasRequest) { r.PageToken, r.PageSize = "", 0 })
	if req.GetPageToken() != "" {
		if err := s.tokens.Decode(req.GetPageToken(), hash, &q.After); err != nil {
			v.Add("page_token", "%v", err)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	list, err := s.store.List(ctx, q)
	if err != nil {
		return nil, err
	}
	resp := &sparcv1.ListAreasResponse{}
	if len(list) > q.Limit {
		list = list[:q.Limit]
		if resp.NextPageToken, err = s.tokens.Encode(hash, list[len(list)-1].GetCode()); err != nil {
			return nil, err
		}
	}
	resp.Areas = list
	return resp, nil
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
	checkKind(req.GetKind(), "kind", &v)
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
