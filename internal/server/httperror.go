package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/httproute"
)

// The gateway turns a request it cannot read (a body that is not JSON of
// the message, a path parameter of the wrong type, a bad query parameter)
// into INVALID_ARGUMENT with a message only. HTTP clients get the same
// shape as the services' own validation instead, a google.rpc.BadRequest
// naming the field, and a body over the size limit is 413, not 400.

// bodyLimit remembers, for the error handler, that a request's body went
// over the limit: the gateway reports that as any other unreadable body.
type bodyLimit struct {
	limit int64
	over  atomic.Bool
}

type bodyLimitKey struct{}

// limitBodies caps every request body at limit bytes.
func limitBodies(h http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bl := &bodyLimit{limit: limit}
		r = r.WithContext(context.WithValue(r.Context(), bodyLimitKey{}, bl))
		r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, limit), bl: bl}
		h.ServeHTTP(w, r)
	})
}

type limitedBody struct {
	io.ReadCloser
	bl *bodyLimit
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		b.bl.over.Store(true)
	}
	return n, err
}

// httpError writes a gateway error: Retry-After on rate-limited responses,
// field violations on the gateway's own INVALID_ARGUMENTs, 413 for bodies
// over the limit; then the status as JSON (code, message, details).
func (s *Server) httpError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(err)
	if bl, _ := r.Context().Value(bodyLimitKey{}).(*bodyLimit); bl != nil && bl.over.Load() {
		st = violation(codes.InvalidArgument, "body", fmt.Sprintf("the request body is larger than %d bytes", bl.limit))
		w.Header().Set("Content-Type", m.ContentType(st.Proto()))
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		if b, merr := m.Marshal(st.Proto()); merr == nil {
			_, _ = w.Write(b)
		}
		return
	}
	switch st.Code() {
	case codes.InvalidArgument:
		if !hasDetail[*errdetails.BadRequest](st) {
			field, desc := gatewayViolation(st.Message())
			err = violation(codes.InvalidArgument, field, desc).Err()
		}
	case codes.Internal, codes.Unknown:
		// The server sends "internal error" for its own failures; anything
		// else here is the gateway's client side (e.g. "grpc: error while
		// marshaling: ..."), Go internals that are not for the caller.
		if st.Message() != "internal error" {
			err = status.Error(st.Code(), "internal error")
		}
	case codes.ResourceExhausted, codes.Unavailable: // rate limits, database outages
		retryAfter(w, st)
	}
	// The gateway's own errors (a body that is not JSON, a path it has no
	// route for) have no reason yet; the server's already do.
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, apierr.EnsureReason(status.Convert(err)).Err())
}

// retryAfter sets Retry-After from the status's RetryInfo, if it has one.
func retryAfter(w http.ResponseWriter, st *status.Status) {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			secs := int(math.Ceil(ri.GetRetryDelay().AsDuration().Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		}
	}
}

// refuseHTTP answers a plain route's call that the guard refused as the
// gateway answers a refused method: the status as JSON, its HTTP code,
// Retry-After when the refusal says when to come back. An unexpected
// error (the database failing while the key is looked up) is logged and
// answered generically, as finish does for gRPC.
func (s *Server) refuseHTTP(w http.ResponseWriter, r *http.Request, err error) {
	st, unexpected := apierr.ToStatus(err)
	if unexpected {
		s.log.ErrorContext(r.Context(), "guard failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	st = apierr.EnsureReason(boundStatus(st))
	if s.cfg.Hooks.Refused != nil {
		s.cfg.Hooks.Refused(st)
	}
	retryAfter(w, st)
	writeStatusCode(w, runtime.HTTPStatusFromCode(st.Code()), st)
}

// violation is a status with one field violation, its message in the form
// apierr gives the services' own ("invalid argument: field: description").
func violation(c codes.Code, field, description string) *status.Status {
	st := status.New(c, "invalid argument: "+field+": "+description)
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: field, Description: description}}}); err == nil {
		st = d
	}
	return apierr.WithReason(st, apierr.ReasonInvalidFields, nil)
}

func hasDetail[T any](st *status.Status) bool {
	for _, d := range st.Details() {
		if _, ok := d.(T); ok {
			return true
		}
	}
	return false
}

// gatewayViolation turns the message of an INVALID_ARGUMENT the gateway
// made itself into a field violation. There are two kinds, both told apart
// without reading Go's parser text: a query parameter the strict query
// parser refused (its QueryViolation names the parameter and the problem),
// or a body the gateway could not decode. Path variables cannot fail: they
// are all resource names or other strings.
func gatewayViolation(msg string) (field, desc string) {
	if f, d, ok := httproute.ParseQueryViolation(msg); ok {
		return f, d
	}
	msg = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(msg, "proto:"), "\u00a0"))
	return "body", "is not JSON of this request: " + msg
}
