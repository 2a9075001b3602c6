package coverage

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/disclosure"
	"github.com/sparc-network/sparc/internal/httproute"
)

// Demand where people live (docs/coverage.md): referrals counted in the
// home area of the person referred (the LSOA or buurt of their postcode,
// as it was when the referral was made) and in every area holding that
// one (its parents and its council), against the residents there.

// HomeDemand supplies referral counts by home area: the referrals store
// implements it (referrals.Demand).
type HomeDemand interface {
	// ReferralsByHomeArea calls each with the referrals made in [from, to)
	// (by org only, when not nil) per home area ("" for none), the codes
	// the home area rolls up to, the calendar month (UTC) and whether
	// they are unmet (waitlisted, or rejected for want of places), with
	// statuses as they stood at to.
	ReferralsByHomeArea(ctx context.Context, org *uuid.UUID, from, to time.Time,
		each func(home string, rollsUpTo []string, month time.Time, unmet bool, n int64)) error
}

// WithHomeDemand enables ComputeDemand; without it the call is
// UNIMPLEMENTED.
func (s *Service) WithHomeDemand(h HomeDemand) *Service {
	s.homeDemand = h
	return s
}

// DemandQuery is a validated ComputeDemandRequest.
type DemandQuery struct {
	Kind, Council string
	// The asked window, [From, To); open ends are the epoch and now.
	From, To time.Time
	// Only this organisation's referrals; nil for everyone's.
	Org *uuid.UUID
}

// ParseDemandRequest validates a ComputeDemandRequest, with now closing
// an open window.
func ParseDemandRequest(req *sparcv1.ComputeDemandRequest, now time.Time) (DemandQuery, error) {
	var v apierr.InvalidArgument
	q := DemandQuery{Kind: req.GetKind(), From: time.Unix(0, 0).UTC(), To: now}
	if q.Kind == "" {
		v.Add("kind", "is required: the kind of the areas to answer for (%s, ...)", demandKinds)
	} else {
		areas.CheckKind(&v, "kind", q.Kind)
	}
	if c := req.GetCouncil(); c != "" {
		q.Council = areas.ParseParentCode(&v, "council", c)
	}
	start := checkDate(req.GetWindowStart(), "window_start", &v)
	end := checkDate(req.GetWindowEnd(), "window_end", &v)
	if start != "" && end != "" && start > end {
		v.Add("window_end", "must not be before window_start")
	}
	if t, err := time.Parse(time.DateOnly, start); err == nil {
		q.From = t
	}
	if t, err := time.Parse(time.DateOnly, end); err == nil {
		q.To = t.AddDate(0, 0, 1)
	}
	if o := req.GetOrganisation(); o != "" {
		id := aip.ParseName(&v, "organisation", aip.Organisations, o)
		q.Org = &id
	}
	return q, v.Err()
}

// ComputeDemand answers referral demand by where people live for the
// areas of a kind. Figures are exact only for an organisation's own admin
// asking about that organisation's referrals; every other answer is
// released under the disclosure rule (releaseDemand).
func (s *Service) ComputeDemand(ctx context.Context, req *sparcv1.ComputeDemandRequest) (*sparcv1.ComputeDemandResponse, error) {
	if s.homeDemand == nil {
		return s.UnimplementedCoverageServiceServer.ComputeDemand(ctx, req)
	}
	now := time.Now()
	q, err := ParseDemandRequest(req, now)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	exact := q.Org != nil && caller.Role == auth.RoleAdmin && q.Org.String() == caller.Org
	from, to := q.From, q.To
	if !exact {
		var ok bool
		if from, to, ok = disclosure.Months(q.From, q.To, now); !ok {
			return nil, apierr.Invalid("window_end", "demand figures cover whole calendar months (UTC) that have ended; "+
				"the window holds none (the current month can be asked from %s)",
				time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly))
		}
	}
	if err := s.store.checkSet(ctx, Query{Kind: q.Kind, Council: q.Council}); err != nil {
		return nil, err
	}
	list, err := s.store.areas.CoverageAreas(ctx, areas.AreaSet{Kind: q.Kind, Council: q.Council}, maxAreas+1)
	if err != nil {
		return nil, err
	}
	if err := checkAreaSet(Query{Kind: q.Kind}, len(list)); err != nil {
		return nil, err
	}
	tally := newDemandTally(list)
	if err := s.homeDemand.ReferralsByHomeArea(ctx, q.Org, from, to, tally.add); err != nil {
		return nil, err
	}
	out := &sparcv1.ComputeDemandResponse{Exact: exact, WindowStart: from.Format(time.DateOnly),
		WindowEnd: to.AddDate(0, 0, -1).Format(time.DateOnly)} // inclusive, as the request's
	out.WithoutHomeArea = tally.unplaced.release(exact).referrals
	out.Areas = make([]*sparcv1.AreaDemand, len(list))
	for i, a := range list {
		f := tally.byArea[a.Code].release(exact)
		out.Areas[i] = &sparcv1.AreaDemand{Code: a.Code, Area: areas.Name(a.Code), DisplayName: a.DisplayName, Kind: a.Kind,
			ParentCode: a.Parent, CouncilCode: a.Council, Population: a.Population,
			Referrals: f.referrals, Unmet: f.unmet,
			ReferralsPer_1000: countRate(f.referrals, a.Population), UnmetPer_1000: countRate(f.unmet, a.Population)}
	}
	return out, nil
}

// demandCells are the counts of one area: one per home area, month and
// unmet or not (the partition released cell by cell).
type demandCells struct {
	met, unmet []int64
}

// demandTally gathers the counts of each asked area (and of referrals
// without a home area) from the per-home-area rows.
type demandTally struct {
	byArea   map[string]*demandCells
	unplaced *demandCells
}

func newDemandTally(list []*areas.CoverageArea) *demandTally {
	t := &demandTally{byArea: make(map[string]*demandCells, len(list)), unplaced: &demandCells{}}
	for _, a := range list {
		t.byArea[a.Code] = &demandCells{}
	}
	return t
}

// add counts a row in its home area and in every asked area it rolls up
// to; the asked areas are of one kind, so a row lands in each at most
// once.
func (t *demandTally) add(home string, rollsUpTo []string, _ time.Time, unmet bool, n int64) {
	if home == "" {
		t.unplaced.add(unmet, n)
		return
	}
	for _, code := range append([]string{home}, rollsUpTo...) {
		if c := t.byArea[code]; c != nil {
			c.add(unmet, n)
		}
	}
}

func (c *demandCells) add(unmet bool, n int64) {
	if unmet {
		c.unmet = append(c.unmet, n)
	} else {
		c.met = append(c.met, n)
	}
}

// demandFigures are an area's released (or exact) counts.
type demandFigures struct {
	referrals, unmet *sparcv1.StatCount
}

// release gives the area's figures: exact sums, or under the disclosure
// rule each cell (home area x month x unmet or not) released on its own
// (disclosure.Count) and every figure their disclosure.Sum: referrals
// over all of the area's cells, unmet over its unmet cells. So an MSOA's
// or a council's figure is built from the same released cells as its
// LSOAs', and cannot be differenced against them into a withheld cell.
func (c *demandCells) release(exact bool) demandFigures {
	if c == nil {
		c = &demandCells{}
	}
	if exact {
		var met, unmet int64
		for _, n := range c.met {
			met += n
		}
		for _, n := range c.unmet {
			unmet += n
		}
		return demandFigures{referrals: &sparcv1.StatCount{Value: met + unmet}, unmet: &sparcv1.StatCount{Value: unmet}}
	}
	met, unmet := released(c.met), released(c.unmet)
	return demandFigures{referrals: disclosure.Sum(append(met, unmet...)...).StatCount(), unmet: disclosure.Sum(unmet...).StatCount()}
}

func released(counts []int64) []disclosure.Cell {
	out := make([]disclosure.Cell, len(counts))
	for i, n := range counts {
		out[i] = disclosure.Count(n)
	}
	return out
}

// countRate is a count per 1,000 residents; absent when withheld or the
// population is unknown.
func countRate(c *sparcv1.StatCount, population int64) *float64 {
	if c.GetSuppressed() {
		return nil
	}
	return rate(float64(c.GetValue()), population)
}

// demandKinds lists, for messages, what kinds demand is usually asked by.
var demandKinds = strings.Join([]string{"lsoa", "msoa", "local_authority", "buurt", "wijk"}, ", ")

// demandParams are the query parameters of the demand download: those of
// ComputeDemand.
var demandParams = []string{"kind", "council", "window_start", "window_end", "organisation"}

// demandCSV writes demand by where people live as CSV, one row per area
// (the JSON's figures, rates to 2 decimals, an empty cell for a withheld
// count or an absent rate), for the same callers as ComputeDemand (the
// route's policy) with the same refusals.
func (h *HTTP) demandCSV(w http.ResponseWriter, r *http.Request) {
	req := &sparcv1.ComputeDemandRequest{}
	if err := runtime.PopulateQueryParameters(req, r.URL.Query(), utilities.NewDoubleArray(nil)); err != nil {
		field, desc := httproute.QueryError(err)
		h.writeError(w, r, apierr.Invalid(field, "%s", desc))
		return
	}
	res, err := h.svc.ComputeDemand(r.Context(), req)
	sendCSV(h, w, r, "demand.csv", res, err, WriteDemandCSV)
}

// demandGeoJSON writes demand by where people live as a GeoJSON
// FeatureCollection: each area's boundary (PostGIS writes it, RFC 7946
// winding, 6 decimals, simplify_meters as the coverage GeoJSON) with the
// CSV's figures as properties (rates to 2 decimals; a withheld count is
// null with its _withheld flag set), and the window, exactness and the
// referrals without a home area as foreign members. Same callers and
// refusals as ComputeDemand.
func (h *HTTP) demandGeoJSON(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vals := url.Values{}
	for k, v := range r.URL.Query() {
		if k != "simplify_meters" {
			vals[k] = v
		}
	}
	req := &sparcv1.ComputeDemandRequest{}
	if err := runtime.PopulateQueryParameters(req, vals, utilities.NewDoubleArray(nil)); err != nil {
		field, desc := httproute.QueryError(err)
		h.writeError(w, r, apierr.Invalid(field, "%s", desc))
		return
	}
	tol, err := simplifyParam(r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	res, err := h.svc.ComputeDemand(ctx, req)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	codes := make([]string, len(res.GetAreas()))
	for i, a := range res.GetAreas() {
		codes[i] = a.GetCode()
	}
	w.Header().Set("Content-Type", "application/geo+json")
	w.Header().Set("Content-Disposition", `attachment; filename="demand.geojson"`)
	bw := bufio.NewWriterSize(w, 64<<10)
	err = WriteDemandGeoJSON(bw, res, func(each func(code, geom string) error) error {
		return h.svc.store.areas.EachBoundary(ctx, codes, tol, each)
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		h.log.ErrorContext(ctx, "writing demand GeoJSON", "err", err) // headers are sent: the truncated document tells the client
	}
}

// demandProps are an area's demand figures as GeoJSON properties, in
// the CSV's column order and rounding.
func demandProps(a *sparcv1.AreaDemand) []prop {
	count := func(c *sparcv1.StatCount) any {
		if c.GetSuppressed() {
			return nil
		}
		return c.GetValue()
	}
	return []prop{
		{"code", a.GetCode(), 0}, {"area", a.GetArea(), 0}, {"display_name", a.GetDisplayName(), 0}, {"kind", a.GetKind(), 0},
		{"parent_code", a.GetParentCode(), 0}, {"council_code", a.GetCouncilCode(), 0}, {"population", a.GetPopulation(), 0},
		{"referrals", count(a.GetReferrals()), 0}, {"referrals_withheld", a.GetReferrals().GetSuppressed(), 0},
		{"unmet", count(a.GetUnmet()), 0}, {"unmet_withheld", a.GetUnmet().GetSuppressed(), 0},
		{"referrals_per_1000", a.ReferralsPer_1000, rateDecimals}, {"unmet_per_1000", a.UnmetPer_1000, rateDecimals},
	}
}

// WriteDemandGeoJSON writes res as a FeatureCollection with the
// boundaries boundaries gives (each area once, any order).
func WriteDemandGeoJSON(w *bufio.Writer, res *sparcv1.ComputeDemandResponse, boundaries func(each func(code, geom string) error) error) error {
	head := proto.Clone(res).(*sparcv1.ComputeDemandResponse)
	head.Areas = nil
	meta, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(head)
	if err != nil {
		return err
	}
	byCode := make(map[string]*sparcv1.AreaDemand, len(res.GetAreas()))
	for _, a := range res.GetAreas() {
		byCode[a.GetCode()] = a
	}
	w.WriteString(`{"type":"FeatureCollection",`)
	w.Write(meta[1 : len(meta)-1]) // the members, without their braces
	if _, err := w.WriteString(`,"features":[`); err != nil {
		return err
	}
	n := 0
	err = boundaries(func(code, geom string) error {
		a := byCode[code]
		if a == nil {
			return fmt.Errorf("area %s is not in the demand answer", code)
		}
		delete(byCode, code)
		if n > 0 {
			w.WriteByte(',')
		}
		n++
		w.WriteString(`{"type":"Feature","id":`)
		writeJSON(w, code)
		w.WriteString(`,"geometry":`)
		w.WriteString(geom)
		w.WriteString(`,"properties":{`)
		for j, p := range demandProps(a) {
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
	if len(byCode) > 0 {
		return fmt.Errorf("%d areas of the demand answer changed while the GeoJSON was written", len(byCode))
	}
	_, err = w.WriteString("]}\n")
	return err
}

// WriteDemandCSV writes a demand answer as CSV with a header row; every
// row carries the window and whether the figures are exact.
func WriteDemandCSV(w io.Writer, res *sparcv1.ComputeDemandResponse) error {
	cw := csv.NewWriter(w)
	count := func(c *sparcv1.StatCount) []string {
		if c.GetSuppressed() {
			return []string{"", "true"}
		}
		return []string{strconv.FormatInt(c.GetValue(), 10), "false"}
	}
	rate := func(f *float64) string {
		if f == nil {
			return ""
		}
		return strconv.FormatFloat(round(*f, 2), 'f', -1, 64)
	}
	_ = cw.Write([]string{"code", "area", "display_name", "kind", "parent_code", "council_code", "population",
		"referrals", "referrals_withheld", "unmet", "unmet_withheld", "referrals_per_1000", "unmet_per_1000",
		"window_start", "window_end", "exact"})
	for _, a := range res.GetAreas() {
		rec := []string{a.GetCode(), a.GetArea(), a.GetDisplayName(), a.GetKind(), a.GetParentCode(), a.GetCouncilCode(),
			strconv.FormatInt(a.GetPopulation(), 10)}
		rec = append(append(rec, count(a.GetReferrals())...), count(a.GetUnmet())...)
		rec = append(rec, rate(a.ReferralsPer_1000), rate(a.UnmetPer_1000), res.GetWindowStart(), res.GetWindowEnd(),
			strconv.FormatBool(res.GetExact()))
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
