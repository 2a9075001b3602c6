package coverage

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/encoding/protojson"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/httproute"
)

// HTTP serves coverage as downloads (GeoJSON, CSV), vector tiles and the
// map page, beside the gRPC gateway.
type HTTP struct {
	svc      *Service
	log      *slog.Logger
	tiles    *tileCache
	rendered *renderedTiles
}

// NewHTTP returns the HTTP handlers over svc, whose store also serves
// geometry and tiles (the pool is no longer used; the composition root
// still passes it). log is the server's configured logger (so
// --log-format applies); nil discards.
func NewHTTP(svc *Service, _ *pgxpool.Pool, log *slog.Logger) *HTTP {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &HTTP{svc: svc, log: log, tiles: newTileCache(svc.store), rendered: newRenderedTiles(renderedTileBytes)}
}

// Routes are the plain-HTTP routes to serve, with the query parameters
// each takes (any other is refused by the server): those of
// ComputeCoverage, plus simplify_meters for GeoJSON and the map's view.
// Each pattern is also its key in the access policy (auth.Policy).
func (h *HTTP) Routes() []httproute.Route {
	q := []string{"parent_code", "kind", "council", "bbox", "categories", "window_start", "window_end", "walking_distance_meters", "summary_only"}
	with := func(extra ...string) []string { return append(slices.Clip(q), extra...) }
	return []httproute.Route{
		{Pattern: "GET /v1/coverage.geojson", Handler: http.HandlerFunc(h.geoJSON), Params: with("simplify_meters")},
		{Pattern: "GET /v1/coverage.csv", Handler: http.HandlerFunc(h.csv), Params: q},
		{Pattern: "GET /v1/demand.csv", Handler: http.HandlerFunc(h.demandCSV), Params: demandParams}, // demand.go
		{Pattern: "GET /v1/demand.geojson", Handler: http.HandlerFunc(h.demandGeoJSON), Params: append(slices.Clip(demandParams), "simplify_meters")},
		{Pattern: "GET /tiles/assets/{z}/{x}/{y}", Handler: http.HandlerFunc(h.assetTile)},
		{Pattern: "GET /tiles/coverage/{z}/{x}/{y}", Handler: http.HandlerFunc(h.coverageTile), Params: q},
		{Pattern: "GET /map", Handler: http.HandlerFunc(serveMapPage), Params: with("lat", "lng", "z")},
		{Pattern: "GET /map/{file}", Handler: http.HandlerFunc(serveMapFile)},
	}
}

// parseQuery reads a ComputeCoverageRequest from URL parameters with the
// gateway's own rules (so /v1/coverage and the downloads take the same
// parameters), leaving out the extra names given.
func parseQuery(values url.Values, extra ...string) (Query, error) {
	vals := url.Values{}
	for k, v := range values {
		vals[k] = v
	}
	for _, k := range extra {
		delete(vals, k)
	}
	req := &sparcv1.ComputeCoverageRequest{}
	if err := runtime.PopulateQueryParameters(req, vals, utilities.NewDoubleArray(nil)); err != nil {
		field, desc := httproute.QueryError(err)
		return Query{}, apierr.Invalid(field, "%s", desc)
	}
	return ParseRequest(req)
}

// writeError answers with the status the gRPC API would give, as the
// gateway writes it (google.rpc.Status JSON).
func (h *HTTP) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st, unexpected := apierr.ToStatus(err)
	if unexpected {
		h.log.ErrorContext(r.Context(), "coverage request failed", "path", r.URL.Path, "err", err)
	}
	body, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(st.Proto()) // field_violations, as the gateway
	if apierr.IsUnavailable(err) {
		w.Header().Set("Retry-After", apierr.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	_, _ = w.Write(body)
}

func simplifyParam(values url.Values) (float64, error) {
	s := values.Get("simplify_meters")
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 5000 {
		return 0, apierr.Invalid("simplify_meters", "must be a number from 0 to 5000")
	}
	return f, nil
}

// prop is one GeoJSON/CSV property, in output order.
type prop struct {
	name  string
	value any // nil, string, int32, int64, float64 or *float64
	// decimals rounds a float value (the JSON answer keeps full
	// precision; downloads are read by people and spreadsheets).
	decimals int
}

// Decimals of the download figures: coordinates 6 (about 0.1 m), rates
// and scores 2, distances 1 (0.1 m), deprivation values 4 (IMD scores
// have 3).
const (
	coordDecimals       = 6
	rateDecimals        = 2
	distanceDecimals    = 1
	deprivationDecimals = 4
)

// props lists an area's coverage figures, flat, for GeoJSON properties
// and CSV columns alike: every per-area figure of the JSON answer.
func props(a *area, q Query) []prop {
	c := a.proto(q)
	p := []prop{
		{"code", c.Code, 0}, {"area", c.Area, 0}, {"display_name", c.DisplayName, 0}, {"kind", c.Kind, 0},
		{"parent_code", c.ParentCode, 0}, {"council_code", c.CouncilCode, 0},
		{"population", c.Population, 0}, {"deprivation_value", c.DeprivationValue, deprivationDecimals},
		{"deprivation_decile", c.DeprivationDecile, 0},
		{"assets_inside", c.AssetsInside, 0}, {"assets_within_walk", c.AssetsWithinWalk, 0},
		{"weekly_sessions_per_1000", c.WeeklySessionsPer_1000, rateDecimals},
		{"weekly_places_per_1000", c.WeeklyPlacesPer_1000, rateDecimals},
		{"referrals_per_1000", c.ReferralsPer_1000, rateDecimals},
		{"coverage_score", c.CoverageScore, rateDecimals},
		{"council_rank", c.CouncilRank, 0}, {"council_areas", c.CouncilAreas, 0},
		{"reference_latitude", c.ReferenceLatitude, coordDecimals}, {"reference_longitude", c.ReferenceLongitude, coordDecimals},
	}
	for _, n := range c.Nearest {
		name := "nearest_any_m"
		if n.Category != "" {
			name = "nearest_" + n.Category + "_m"
		}
		p = append(p, prop{name, n.DistanceMeters, distanceDecimals})
	}
	return p
}

// jsonValue is the value to write, floats rounded to p.decimals.
func (p prop) jsonValue() any {
	switch v := p.value.(type) {
	case *float64:
		if v == nil {
			return nil
		}
		return round(*v, p.decimals)
	case float64:
		return round(v, p.decimals)
	}
	return p.value
}

// round rounds v to d decimals (half away from zero); printed with the
// shortest representation, the result has no float noise.
func round(v float64, d int) float64 {
	f := math.Pow10(d)
	return math.Round(v*f) / f
}

func (p prop) text() string {
	switch v := p.jsonValue().(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// geoJSON streams a FeatureCollection of the areas with their coverage as
// properties. PostGIS writes each geometry (RFC 7946 winding, 6 decimals);
// Go writes one feature at a time so national sets need no big buffer.
func (h *HTTP) geoJSON(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q, err := parseQuery(r.URL.Query(), "simplify_meters")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	tol, err := simplifyParam(r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	res, err := h.svc.checkedCompute(ctx, q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	codes := make([]string, len(res.Areas))
	for i, a := range res.Areas {
		codes[i] = a.Code
	}
	w.Header().Set("Content-Type", "application/geo+json")
	w.Header().Set("Content-Disposition", `inline; filename="coverage.geojson"`)
	bw := bufio.NewWriterSize(w, 64<<10)
	err = writeFeatures(bw, res, func(each func(code, geom string) error) error {
		return h.svc.store.areas.EachBoundary(ctx, codes, tol, each)
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		// Headers are sent: the truncated document tells the client.
		h.log.ErrorContext(ctx, "writing coverage GeoJSON", "err", err)
	}
}

// writeFeatures writes res as a FeatureCollection with the boundaries
// boundaries gives, one call of each per area in code order.
func writeFeatures(w *bufio.Writer, res *Result, boundaries func(each func(code, geom string) error) error) error {
	// The answer's own figures (walking distance, referral window, equity
	// summary) are foreign members of the collection, as in the JSON.
	head := res.Proto()
	head.Areas = nil
	meta, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(head)
	if err != nil {
		return err
	}
	w.WriteString(`{"type":"FeatureCollection",`)
	w.Write(meta[1 : len(meta)-1]) // the members, without their braces
	if _, err := w.WriteString(`,"features":[`); err != nil {
		return err
	}
	i := 0
	err = boundaries(func(code, geom string) error {
		if i >= len(res.Areas) || code != res.Areas[i].Code {
			return fmt.Errorf("area %s changed while the GeoJSON was written", code)
		}
		a := res.Areas[i]
		if i > 0 {
			w.WriteByte(',')
		}
		i++
		w.WriteString(`{"type":"Feature","id":`)
		writeJSON(w, a.Code)
		w.WriteString(`,"geometry":`)
		w.WriteString(geom)
		w.WriteString(`,"properties":{`)
		for j, p := range props(a, res.Query) {
			if j > 0 {
				w.WriteByte(',')
			}
			writeJSON(w, p.name)
			w.WriteByte(':')
			writeJSON(w, p.jsonValue())
		}
		_, err := w.WriteString("}}\n")
		return err
	})
	if err != nil {
		return err
	}
	if i < len(res.Areas) {
		return fmt.Errorf("area %s changed while the GeoJSON was written", res.Areas[i].Code)
	}
	_, err = w.WriteString("]}\n")
	return err
}

func writeJSON(w *bufio.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("null")
	}
	w.Write(b)
}

// csv writes one row per area for spreadsheets.
func (h *HTTP) csv(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	res, err := h.svc.checkedCompute(r.Context(), q)
	sendCSV(h, w, r, "coverage.csv", res, err, WriteCSV)
}

// sendCSV answers res, or the error computing it, as a CSV download
// named filename. A failure while writing is only logged: the status
// line has gone.
func sendCSV[T any](h *HTTP, w http.ResponseWriter, r *http.Request, filename string, res T, err error, write func(io.Writer, T) error) {
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	if err := write(w, res); err != nil {
		h.log.ErrorContext(r.Context(), "writing a CSV download", "file", filename, "err", err)
	}
}

// WriteCSV writes the result as CSV with a header row.
func WriteCSV(w io.Writer, res *Result) error {
	cw := csv.NewWriter(w)
	var header []string
	for _, p := range props(&area{Nearest: make([]*float64, max(1, len(res.Query.Categories)))}, res.Query) {
		header = append(header, p.name)
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	rec := make([]string, len(header))
	for _, a := range res.Areas {
		for i, p := range props(a, res.Query) {
			rec[i] = p.text()
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
