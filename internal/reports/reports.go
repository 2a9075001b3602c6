// Package reports makes the neighbourhood report (issue 19, point 4): one
// area's evidence for a community-of-practice meeting, as a printable
// HTML page or an A4 PDF, in English or Dutch. It shows the area's
// community assets and gaps against deprivation (coverage of its
// neighbourhoods), the referral network around it with a drawing, the
// outcomes that followed, and what changed since the previous period.
//
// The package computes no figure of its own from the database: it reads
// the analytics and coverage services through Sources, which the
// composition root wires to the real services, so the report shows
// exactly what the caller may see through the API (the same access rule,
// disclosure control and anonymous codes) and nothing more. What it adds
// is the reading: layout, wording, formatting and the drawing.
package reports

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/httproute"
)

// Route is the report's pattern, its key in the access policy
// (auth.Policy): admins and area analysts, as the analytics it shows.
const Route = "GET /v1/reports/neighbourhood"

// params are the query parameters the route takes.
var params = []string{"area", "window", "format", "lang"}

// Sources are the services the report reads, as their gRPC methods: the
// composition root passes the real services (with the caller in the
// context), so every figure is what the caller may see.
type Sources interface {
	GetReferralNetwork(context.Context, *sparcv1.GetReferralNetworkRequest) (*sparcv1.ReferralNetwork, error)
	GetOutcomeEvidence(context.Context, *sparcv1.GetOutcomeEvidenceRequest) (*sparcv1.OutcomeEvidence, error)
	ComputeCoverage(context.Context, *sparcv1.ComputeCoverageRequest) (*sparcv1.ComputeCoverageResponse, error)
}

// Network, Outcomes and Coverage are the parts of Sources, each answered
// by one service.
type (
	Network interface {
		GetReferralNetwork(context.Context, *sparcv1.GetReferralNetworkRequest) (*sparcv1.ReferralNetwork, error)
	}
	Outcomes interface {
		GetOutcomeEvidence(context.Context, *sparcv1.GetOutcomeEvidenceRequest) (*sparcv1.OutcomeEvidence, error)
	}
	Coverage interface {
		ComputeCoverage(context.Context, *sparcv1.ComputeCoverageRequest) (*sparcv1.ComputeCoverageResponse, error)
	}
)

// Join makes Sources of the services that answer each part, for the
// composition root: reports.NewHTTP(reports.Join(analytics, analytics,
// cov), log) when one service answers the network and the outcomes.
func Join(n Network, o Outcomes, c Coverage) Sources { return joined{n, o, c} }

type joined struct {
	Network
	Outcomes
	Coverage
}

// HTTP serves the report.
type HTTP struct {
	src Sources
	log *slog.Logger
}

// NewHTTP returns the report's handler over src. log takes what goes
// wrong unexpectedly; nil discards.
func NewHTTP(src Sources, log *slog.Logger) *HTTP {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &HTTP{src: src, log: log}
}

// Routes are the plain HTTP routes to serve: the report.
func (h *HTTP) Routes() []httproute.Route {
	return []httproute.Route{{Pattern: Route, Handler: http.HandlerFunc(h.serve), Params: params}}
}

func (h *HTTP) serve(w http.ResponseWriter, r *http.Request) {
	q, err := parseRequest(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	d, err := gather(r.Context(), h.src, q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	v := buildView(d, q.lang)
	hd := w.Header()
	var buf bytes.Buffer
	filename := "neighbourhood-" + q.area + "-" + q.window.String()
	if q.format == "pdf" {
		b, err := renderPDF(v)
		if err != nil {
			h.writeError(w, r, fmt.Errorf("writing the report's PDF: %w", err))
			return
		}
		buf.Write(b)
		hd.Set("Content-Type", "application/pdf")
		hd.Set("Content-Disposition", `inline; filename="`+safeFilename(filename)+`.pdf"`)
	} else {
		if err := renderHTML(&buf, v); err != nil {
			h.writeError(w, r, fmt.Errorf("writing the report's page: %w", err))
			return
		}
		hd.Set("Content-Type", "text/html; charset=utf-8")
		// Inline CSS and SVG only: the page loads nothing.
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'")
	}
	hd.Set("Content-Language", q.lang)
	// Analytics for area analysts: not for shared caches, and fresh
	// figures at each request.
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Vary", "Accept, Accept-Language")
	_, _ = w.Write(buf.Bytes())
}

// safeFilename keeps the characters an area code and a window may hold
// (letters, digits, '-', '_', '.'), so the header cannot be broken.
func safeFilename(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

// writeError answers with the status the gRPC API would give, as the
// gateway writes it (google.rpc.Status JSON with its field violations and
// ErrorInfo reason): an error from a source keeps its status.
func (h *HTTP) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st, unexpected := apierr.ToStatus(err)
	if unexpected {
		h.log.ErrorContext(r.Context(), "neighbourhood report failed", "path", r.URL.Path, "err", err)
	}
	body, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(st.Proto())
	if apierr.IsUnavailable(err) {
		w.Header().Set("Retry-After", apierr.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	_, _ = w.Write(body)
}
