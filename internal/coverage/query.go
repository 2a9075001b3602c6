package coverage

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/geo"
	"github.com/sparc-network/sparc/internal/vocab"
)

// Limits, reported with their numbers when exceeded.
const (
	DefaultWalkMeters = 800
	maxWalkMeters     = 5000
	maxCategories     = 16
	maxAreas          = 50000
)

// Query is a validated coverage request.
type Query struct {
	Parent, Kind string
	// Council narrows the set to the areas of one council ("" = any).
	Council string
	BBox    *[4]float64
	// Category codes from the vocabulary, deduplicated, in request order;
	// empty means every asset.
	Categories []string
	// Inclusive session window, "YYYY-MM-DD" or "" for open.
	WindowStart, WindowEnd string
	WalkMeters             float64
	// WalkDefault: the request gave no walking distance; with stored
	// results, WalkMeters becomes the distance they serve (Compute).
	WalkDefault bool
	SummaryOnly bool
}

// key identifies the query's answer, for the tile cache.
func (q Query) key() string {
	var b strings.Builder
	b.WriteString(q.Parent + "|" + q.Kind + "|" + q.Council + "|")
	if q.BBox != nil {
		for _, f := range q.BBox {
			b.WriteString(strconv.FormatFloat(f, 'g', -1, 64) + ",")
		}
	}
	b.WriteString("|" + strings.Join(q.Categories, ",") + "|" + q.WindowStart + "|" + q.WindowEnd + "|")
	b.WriteString(strconv.FormatFloat(q.WalkMeters, 'g', -1, 64))
	return b.String()
}

// ParseRequest validates a ComputeCoverageRequest.
func ParseRequest(req *sparcv1.ComputeCoverageRequest) (Query, error) {
	var v apierr.InvalidArgument
	q := Query{Kind: req.GetKind(), SummaryOnly: req.GetSummaryOnly()}
	switch parent := req.GetParentCode(); {
	case parent == "" && q.Kind == "" && req.GetCouncil() == "": // council alone: reported below
		v.Add("parent_code", "give parent_code (its child areas) or kind (all areas of a kind, optionally within bbox)")
	case parent != "" && (q.Kind != "" || req.GetBbox() != ""):
		v.Add("parent_code", "give either parent_code, or kind with an optional bbox, not both")
	case parent != "":
		q.Parent = areas.ParseParentCode(&v, "parent_code", parent)
	}
	if q.Kind != "" {
		areas.CheckKind(&v, "kind", q.Kind)
	}
	if c := req.GetCouncil(); c != "" {
		q.Council = areas.ParseParentCode(&v, "council", c)
		if req.GetParentCode() == "" && q.Kind == "" {
			v.Add("council", "give kind too (e.g. council=%s&kind=lsoa): a council holds areas of several kinds", c)
		}
	}
	if req.GetBbox() != "" {
		if q.Kind == "" && q.Parent == "" {
			v.Add("bbox", "needs kind")
		}
		b, err := geo.ParseBBox(req.GetBbox())
		if err != nil {
			v.Add("bbox", "%v", err)
		}
		q.BBox = &b
	}
	if len(req.GetCategories()) > maxCategories {
		v.Add("categories", "has %d entries, more than the maximum of %d", len(req.GetCategories()), maxCategories)
	}
	for i, c := range req.GetCategories() {
		switch {
		case !vocab.IsCategory(c):
			v.Add("categories["+strconv.Itoa(i)+"]", "%q is not a category code (see ListVocabulary)", c)
		case !slices.Contains(q.Categories, c):
			q.Categories = append(q.Categories, c)
		}
	}
	q.WindowStart = checkDate(req.GetWindowStart(), "window_start", &v)
	q.WindowEnd = checkDate(req.GetWindowEnd(), "window_end", &v)
	if q.WindowStart != "" && q.WindowEnd != "" && q.WindowStart > q.WindowEnd {
		v.Add("window_end", "must not be before window_start")
	}
	q.WalkMeters, q.WalkDefault = DefaultWalkMeters, req.WalkingDistanceMeters == nil
	if req.WalkingDistanceMeters != nil {
		w := req.GetWalkingDistanceMeters()
		if math.IsNaN(w) || w <= 0 || w > maxWalkMeters {
			v.Add("walking_distance_meters", "must be greater than 0 and at most %d", maxWalkMeters)
		}
		q.WalkMeters = w
	}
	return q, v.Err()
}

func checkDate(s, field string, v *apierr.InvalidArgument) string {
	if s == "" {
		return ""
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		v.Add(field, "%q is not a date (YYYY-MM-DD)", s)
	}
	return s
}
