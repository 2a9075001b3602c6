package network

import (
	"bufio"
	"encoding/csv"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/protobuf/encoding/protojson"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/httproute"
)

// The network's exports: GraphML (Gephi, NetworkX, igraph read it) and
// CSV (a nodes table and an edges table), both the answer of
// GetReferralNetwork for the same query parameters, under the same access
// rule (their routes' entries in auth.Policy) and with the same figures:
// released counts, anonymous codes. A withheld count is written as no
// value with its _withheld flag true, never as 0.

// HTTP serves the exports.
type HTTP struct {
	svc *Service
	log *slog.Logger
}

// NewHTTP serves svc's answers as downloads.
func NewHTTP(svc *Service, log *slog.Logger) *HTTP {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &HTTP{svc: svc, log: log}
}

// params are GetReferralNetworkRequest's query parameters.
var params = []string{"window", "area", "granularity", "period"}

// Routes are the export routes with the query parameters each takes
// (the server refuses any other); each pattern is its key in auth.Policy.
func (h *HTTP) Routes() []httproute.Route {
	return []httproute.Route{
		{Pattern: "GET /v1/referralNetwork.graphml", Handler: http.HandlerFunc(h.graphML), Params: params},
		{Pattern: "GET /v1/referralNetwork.csv", Handler: http.HandlerFunc(h.csv), Params: append(slices.Clip(params), "table")},
	}
}

// answer reads the request from the query (the gateway's own rules, so
// enums are accepted by name or number, as on /v1/referralNetwork) and
// answers it.
func (h *HTTP) answer(r *http.Request) (*sparcv1.ReferralNetwork, error) {
	vals := url.Values{}
	for k, v := range r.URL.Query() {
		if k != "table" {
			vals[k] = v
		}
	}
	req := &sparcv1.GetReferralNetworkRequest{}
	if err := runtime.PopulateQueryParameters(req, vals, utilities.NewDoubleArray(nil)); err != nil {
		field, desc := httproute.QueryError(err)
		return nil, apierr.Invalid(field, "%s", desc)
	}
	return h.svc.GetReferralNetwork(r.Context(), req)
}

func (h *HTTP) graphML(w http.ResponseWriter, r *http.Request) {
	res, err := h.answer(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/graphml+xml; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="referral-network.graphml"`)
	if err := WriteGraphML(w, res); err != nil {
		h.log.ErrorContext(r.Context(), "writing the referral network as GraphML", "err", err)
	}
}

func (h *HTTP) csv(w http.ResponseWriter, r *http.Request) {
	table := r.URL.Query().Get("table")
	if table != "nodes" && table != "edges" {
		h.writeError(w, r, apierr.Invalid("table", "is required: nodes or edges"))
		return
	}
	res, err := h.answer(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="referral-network-`+table+`.csv"`)
	write := WriteNodesCSV
	if table == "edges" {
		write = WriteEdgesCSV
	}
	if err := write(w, res); err != nil {
		h.log.ErrorContext(r.Context(), "writing the referral network as CSV", "table", table, "err", err)
	}
}

// writeError answers an error as the gateway does (status and
// field_violations as JSON).
func (h *HTTP) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st, unexpected := apierr.ToStatus(err)
	if unexpected {
		h.log.ErrorContext(r.Context(), "referral network export failed", "path", r.URL.Path, "err", err)
	}
	body, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(st.Proto())
	if apierr.IsUnavailable(err) {
		w.Header().Set("Retry-After", apierr.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	_, _ = w.Write(body)
}

var kindNames = map[sparcv1.NetworkNodeKind]string{
	sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_REFERRER: "referrer",
	sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_GROUP:    "group",
	sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_ASSET:    "asset",
}

// field is one attribute of a node or an edge: its GraphML key and CSV
// column(s).
type field struct {
	name, typ string // typ: GraphML attr.type (string, int, double, boolean)
}

var nodeFields = []field{
	{"label", "string"}, {"kind", "string"}, {"anonymous", "boolean"}, {"organisation", "string"},
	{"deprivation_quintile", "int"}, {"degree_in", "int"}, {"degree_out", "int"},
	{"strength_in", "int"}, {"strength_in_withheld", "boolean"}, {"strength_out", "int"}, {"strength_out_withheld", "boolean"},
	{"betweenness", "double"},
}

// nodeValues are a node's values in nodeFields' order; "" is no value.
func nodeValues(n *sparcv1.NetworkNode) []string {
	c, wh := count(n.GetStrengthIn())
	c2, wh2 := count(n.GetStrengthOut())
	return []string{n.GetDisplayName(), kindNames[n.GetKind()], strconv.FormatBool(n.GetAnonymous()), n.GetOrganisation(),
		itoa(n.GetDeprivationQuintile()), itoa(n.GetDegreeIn()), itoa(n.GetDegreeOut()), c, wh, c2, wh2,
		strconv.FormatFloat(n.GetBetweenness(), 'g', -1, 64)}
}

var edgeCounts = []string{"referrals", "accepted", "declined", "attended", "completed"}

// reasonsOf are the declined reasons of any edge, sorted: one column (and
// key) each.
func reasonsOf(res *sparcv1.ReferralNetwork) []string {
	set := map[string]bool{}
	for _, e := range res.GetEdges() {
		for r := range e.GetDeclinedReasons() {
			set[r] = true
		}
	}
	return keys(set)
}

// edgeFields are the edge attributes: each count and its _withheld flag,
// then declined_<reason> for each reason.
func edgeFields(reasons []string) []field {
	var out []field
	for _, c := range edgeCounts {
		out = append(out, field{c, "int"}, field{c + "_withheld", "boolean"})
	}
	for _, r := range reasons {
		out = append(out, field{"declined_" + r, "int"}, field{"declined_" + r + "_withheld", "boolean"})
	}
	return out
}

func edgeValues(e *sparcv1.NetworkEdge, reasons []string) []string {
	var out []string
	for _, c := range []*sparcv1.StatCount{e.GetReferrals(), e.GetAccepted(), e.GetDeclined(), e.GetAttended(), e.GetCompleted()} {
		v, wh := count(c)
		out = append(out, v, wh)
	}
	for _, r := range reasons {
		c, ok := e.GetDeclinedReasons()[r]
		if !ok {
			out = append(out, "0", "false")
			continue
		}
		v, wh := count(c)
		out = append(out, v, wh)
	}
	return out
}

// count is a released count's value ("" when withheld) and flag.
func count(c *sparcv1.StatCount) (string, string) {
	if c.GetSuppressed() {
		return "", "true"
	}
	return strconv.FormatInt(c.GetValue(), 10), "false"
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// WriteGraphML writes res as a directed GraphML graph: a <key> for every
// attribute (attr.type int, double, string or boolean), the window and
// area as graph data, nodes by id and edges by source and target, the
// referral count also as "weight" for tools that look for one.
// A value left out (a withheld count) is simply absent.
func WriteGraphML(w io.Writer, res *sparcv1.ReferralNetwork) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	reasons := reasonsOf(res)
	ef := edgeFields(reasons)
	bw.WriteString(xml.Header)
	bw.WriteString(`<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"` +
		` xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">` + "\n")
	graphFields := []field{{"window", "string"}, {"start_time", "string"}, {"end_time", "string"}, {"area", "string"}, {"suppressed", "boolean"}}
	for i, f := range graphFields {
		writeKey(bw, "g"+strconv.Itoa(i), "graph", f)
	}
	for i, f := range nodeFields {
		writeKey(bw, "n"+strconv.Itoa(i), "node", f)
	}
	writeKey(bw, "weight", "edge", field{"weight", "int"})
	for i, f := range ef {
		writeKey(bw, "e"+strconv.Itoa(i), "edge", f)
	}
	bw.WriteString(`  <graph id="referrals" edgedefault="directed">` + "\n")
	for i, v := range []string{res.GetWindow(), res.GetStartTime().AsTime().Format("2006-01-02T15:04:05Z"),
		res.GetEndTime().AsTime().Format("2006-01-02T15:04:05Z"), res.GetArea(), strconv.FormatBool(res.GetSuppressed())} {
		writeData(bw, "    ", "g"+strconv.Itoa(i), v)
	}
	for _, n := range res.GetNodes() {
		bw.WriteString(`    <node id="`)
		escape(bw, n.GetId())
		bw.WriteString("\">\n")
		for i, v := range nodeValues(n) {
			if v != "" {
				writeData(bw, "      ", "n"+strconv.Itoa(i), v)
			}
		}
		bw.WriteString("    </node>\n")
	}
	for i, e := range res.GetEdges() {
		bw.WriteString(`    <edge id="e` + strconv.Itoa(i) + `" source="`)
		escape(bw, e.GetSource())
		bw.WriteString(`" target="`)
		escape(bw, e.GetTarget())
		bw.WriteString("\">\n")
		if !e.GetReferrals().GetSuppressed() {
			writeData(bw, "      ", "weight", strconv.FormatInt(e.GetReferrals().GetValue(), 10))
		}
		for j, v := range edgeValues(e, reasons) {
			if v != "" {
				writeData(bw, "      ", "e"+strconv.Itoa(j), v)
			}
		}
		bw.WriteString("    </edge>\n")
	}
	bw.WriteString("  </graph>\n</graphml>\n")
	return bw.Flush()
}

func writeKey(w *bufio.Writer, id, domain string, f field) {
	w.WriteString(`  <key id="` + id + `" for="` + domain + `" attr.name="`)
	escape(w, f.name)
	w.WriteString(`" attr.type="` + f.typ + "\"/>\n")
}

func writeData(w *bufio.Writer, indent, key, v string) {
	w.WriteString(indent + `<data key="` + key + `">`)
	escape(w, v)
	w.WriteString("</data>\n")
}

func escape(w *bufio.Writer, s string) { _ = xml.EscapeText(w, []byte(s)) }

// WriteNodesCSV writes the nodes table: a header row, one row per node
// (nodeFields' columns, id first), every row with the window.
func WriteNodesCSV(w io.Writer, res *sparcv1.ReferralNetwork) error {
	cw := csv.NewWriter(w)
	head := []string{"id"}
	for _, f := range nodeFields {
		head = append(head, f.name)
	}
	head = append(head, "window")
	head[1] = "display_name" // the GraphML label
	_ = cw.Write(head)
	for _, n := range res.GetNodes() {
		rec := append(append([]string{n.GetId()}, nodeValues(n)...), res.GetWindow())
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteEdgesCSV writes the edges table: source, target, each count with
// its _withheld flag, declined_<reason> for every reason of any edge, and
// the window.
func WriteEdgesCSV(w io.Writer, res *sparcv1.ReferralNetwork) error {
	cw := csv.NewWriter(w)
	reasons := reasonsOf(res)
	head := []string{"source", "target"}
	for _, f := range edgeFields(reasons) {
		head = append(head, f.name)
	}
	_ = cw.Write(append(head, "window"))
	for _, e := range res.GetEdges() {
		rec := append(append([]string{e.GetSource(), e.GetTarget()}, edgeValues(e, reasons)...), res.GetWindow())
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
