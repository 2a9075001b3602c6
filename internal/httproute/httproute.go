// Package httproute is how a domain hands a plain HTTP route (one that is
// no gRPC method: Open Referral, coverage downloads, tiles, the map) to the
// composition root (internal/app), which gives it to the transport
// (internal/server). It is the whole of what a domain knows about serving
// HTTP, so no domain imports the transport: a route is a pattern, a
// handler, the query parameters it takes and how it words a 400. Who may
// call it is not the domain's to say: the route's pattern is its key in
// the one access policy (auth.Policy), applied by the same guard as every
// gRPC method. Recorder, which notes a handler's status, serves the
// server's log and the guard's audit alike.
package httproute

import (
	"fmt"
	"net/http"
	"strings"
)

// Route is a plain HTTP handler served beside the gRPC gateway.
type Route struct {
	// Pattern is the http.ServeMux pattern, e.g. "GET /tiles/{z}/{x}/{y}",
	// and the route's key in the access policy.
	Pattern string
	Handler http.Handler
	// Params are the query parameters the route takes; any other is a 400
	// before Handler runs.
	Params []string
	// BadRequest writes a 400 in the route's own error format; nil: a
	// google.rpc.Status as the gateway writes.
	BadRequest func(w http.ResponseWriter, r *http.Request, field, description string)
}

// Recorder notes the status a handler answered, for the server's log and
// the guard's audit, passing flushes (streams) through.
type Recorder struct {
	http.ResponseWriter
	Status int // 200 until the handler says otherwise
}

// NewRecorder wraps w.
func NewRecorder(w http.ResponseWriter) *Recorder {
	return &Recorder{ResponseWriter: w, Status: http.StatusOK}
}

// WriteHeader notes code and sends it.
func (r *Recorder) WriteHeader(code int) {
	r.Status = code
	r.ResponseWriter.WriteHeader(code)
}

// Flush sends what is buffered, when the writer can.
func (r *Recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// queryViolationPrefix starts the text of a QueryViolation: the gateway
// keeps only an error's text, so the field is read back from it.
const queryViolationPrefix = "invalid query parameter "

// QueryViolation is the error the server's query parser returns for one
// bad parameter (the gateway turns it into INVALID_ARGUMENT by its text).
func QueryViolation(field, format string, args ...any) error {
	return fmt.Errorf("%s%s: %s", queryViolationPrefix, field, fmt.Sprintf(format, args...))
}

// ParseQueryViolation reads the parameter and the problem back from the
// text of a QueryViolation; ok is false for any other text.
func ParseQueryViolation(msg string) (field, description string, ok bool) {
	if rest, found := strings.CutPrefix(msg, queryViolationPrefix); found {
		return strings.Cut(rest, ": ")
	}
	return "", "", false
}

// QueryError names the parameter and the problem of an error from
// runtime.PopulateQueryParameters, for plain routes that parse a request
// message from the query as the gateway does.
func QueryError(err error) (field, description string) {
	if f, d, ok := ParseQueryViolation(err.Error()); ok {
		return f, d
	}
	return "query", "has a parameter the request does not take, or a value of the wrong type"
}
