// Package apierr holds the error values that services return and maps them
// to gRPC status in one place. Stores return the sentinels below wrapped with
// context (fmt.Errorf("...: %w", ErrNotFound)); validation returns
// *InvalidArgument with field violations. The server's interceptor calls
// ToStatus on every error, and the HTTP gateway turns the status into the
// matching HTTP code with the same details in JSON.
package apierr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Sentinel errors, wrapped by stores and services.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	// ErrStaleEtag: the caller's etag no longer matches (ABORTED, HTTP 409).
	ErrStaleEtag = errors.New("etag does not match the current version; read it again and retry")
)

// Violation is one bad field in a request.
type Violation struct {
	Field       string // proto field path, e.g. "asset.location.latitude"
	Description string
}

// InvalidArgument collects field violations. The zero value is ready to use;
// Err returns nil when nothing was added, so validators read:
//
//	var v apierr.InvalidArgument
//	if x < 0 { v.Add("x", "must be positive") }
//	return v.Err()
//
// However many violations a request has, the error sent is small: the first
// MaxReported are sent, each cut to a bounded length, with the count of the
// rest. Without the bound a request of 100,000 bad list items produced an
// error of megabytes, larger than the gateway's HTTP/2 header limit, which
// broke the gateway's shared connection for every other caller.
type InvalidArgument struct {
	Violations []Violation
	// Omitted counts violations added beyond maxKept, not stored.
	Omitted int
}

// Bounds of an InvalidArgument as sent.
const (
	MaxReported    = 20   // violations sent, in the order they were found
	maxKept        = 1000 // violations stored; the rest are only counted
	maxFieldLen    = 200  // bytes of a field path sent
	maxDescription = 300  // bytes of a description sent
)

// Add records a violation.
func (e *InvalidArgument) Add(field, format string, args ...any) {
	if len(e.Violations) >= maxKept {
		e.Omitted++
		return
	}
	e.Violations = append(e.Violations, Violation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// Err returns e as an error, or nil when it holds no violations.
func (e *InvalidArgument) Err() error {
	if e == nil || len(e.Violations) == 0 {
		return nil
	}
	return e
}

// Total is the number of violations added.
func (e *InvalidArgument) Total() int { return len(e.Violations) + e.Omitted }

// reported is what is sent: the first MaxReported violations, cut to
// bounded, valid UTF-8 text (a field path may carry a map key the caller
// chose), and how many more there were.
func (e *InvalidArgument) reported() ([]Violation, int) {
	n := min(len(e.Violations), MaxReported)
	out := make([]Violation, n)
	for i, v := range e.Violations[:n] {
		out[i] = Violation{Field: Clip(v.Field, maxFieldLen), Description: Clip(v.Description, maxDescription)}
	}
	return out, e.Total() - n
}

// Clip makes s valid UTF-8 of at most max bytes, marking a cut with "…":
// how a caller's value is quoted in an error message, so that a hostile
// value cannot make the message large or invalid.
func Clip(s string, max int) string {
	s = strings.ToValidUTF8(s, "\ufffd")
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func (e *InvalidArgument) Error() string {
	vs, more := e.reported()
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.Field + ": " + v.Description
	}
	msg := "invalid argument: " + strings.Join(parts, "; ")
	if more > 0 {
		msg += fmt.Sprintf("; and %d more problems not listed (the first %d are)", more, len(vs))
	}
	return msg
}

// GRPCStatus makes the error carry its own status with BadRequest details
// (the reported violations) and, when some were left out, an ErrorInfo
// with reason TOO_MANY_VIOLATIONS and the total.
func (e *InvalidArgument) GRPCStatus() *status.Status {
	vs, more := e.reported()
	br := &errdetails.BadRequest{}
	for _, v := range vs {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field: v.Field, Description: v.Description,
		})
	}
	details := []protoadapt.MessageV1{br}
	if more > 0 {
		details = append(details, &errdetails.ErrorInfo{Reason: ReasonTooManyViolations, Domain: Domain,
			Metadata: map[string]string{"total": strconv.Itoa(e.Total()), "reported": strconv.Itoa(len(vs))}})
	}
	st := status.New(codes.InvalidArgument, e.Error())
	if withDetails, err := st.WithDetails(details...); err == nil {
		return withDetails
	}
	return st
}

// Invalid is a shortcut for a single violation.
func Invalid(field, format string, args ...any) error {
	var v InvalidArgument
	v.Add(field, format, args...)
	return &v
}

// PreconditionError is an operation refused in the resource's current state.
type PreconditionError struct {
	Type, Subject, Description string
}

func (e *PreconditionError) Error() string { return e.Description }

// GRPCStatus reports FAILED_PRECONDITION with a PreconditionFailure detail.
func (e *PreconditionError) GRPCStatus() *status.Status {
	st := status.New(codes.FailedPrecondition, e.Description)
	if d, err := st.WithDetails(&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
		Type: e.Type, Subject: e.Subject, Description: e.Description,
	}}}); err == nil {
		return d
	}
	return st
}

// ToStatus maps any error returned by a handler to the status sent to the
// caller, with an ErrorInfo naming the cause (AIP-193). Unknown errors become INTERNAL with a generic message: internal
// details are logged, never sent. The second result says whether err was an
// unexpected (server-side) failure worth logging at error level.
func ToStatus(err error) (*status.Status, bool) {
	if err == nil {
		return status.New(codes.OK, ""), false
	}
	st, unexpected := toStatus(err)
	return WithReason(st, reasonOf(err, st.Code()), nil), unexpected
}

func toStatus(err error) (*status.Status, bool) {
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) {
		st := gs.GRPCStatus()
		return st, st.Code() == codes.Internal || st.Code() == codes.Unknown
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return status.New(codes.NotFound, err.Error()), false
	case errors.Is(err, ErrAlreadyExists):
		return status.New(codes.AlreadyExists, err.Error()), false
	case errors.Is(err, ErrStaleEtag):
		return status.New(codes.Aborted, err.Error()), false
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, "request canceled"), false
	case IsUnavailable(err):
		// Not logged as unexpected: an outage would log every request;
		// the supervisor, readiness and listeners report it once each.
		return unavailable(), false
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, "deadline exceeded"), false
	case pgCode(err) == "42501":
		// insufficient_privilege: the database's own wall (row-level
		// security, the analytics guard of migration 0069) refused what
		// the access policy let through. The caller learns only that it
		// may not; logged as unexpected, as the policy should have
		// refused first.
		return status.New(codes.PermissionDenied, "permission denied"), true
	}
	return status.New(codes.Internal, "internal error"), true
}

// RetryDelay is how long callers are told to wait (RetryInfo, HTTP
// Retry-After) when the database is unavailable: the embedded database is
// restarted within seconds of a crash.
const RetryDelay = time.Second

// RetryAfter is RetryDelay as an HTTP Retry-After value.
var RetryAfter = strconv.Itoa(int(RetryDelay / time.Second))

func unavailable() *status.Status {
	st := status.New(codes.Unavailable, "the database is unavailable; retry shortly")
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(RetryDelay)}); err == nil {
		return d
	}
	return st
}

// pgCode is the SQLSTATE of the PostgreSQL error in err ("" if none).
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// IsUnavailable reports whether err means the database cannot be used at
// the moment (down, restarting, shutting down, the connection lost) rather
// than anything wrong with the request: the caller should retry later, and
// is told so with UNAVAILABLE (HTTP 503) instead of INTERNAL.
func IsUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// An error the server sent: only these classes are outages; a
		// refused login (28xxx) or a missing database is misconfiguration.
		switch pgErr.Code {
		case "57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now (starting up, shutting down)
			return true
		case "53300": // too_many_connections
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08") // connection_exception
	}
	// A handler's only network peer is the database (webhooks are sent
	// in the background), so a failed network operation is an outage.
	var connectErr *pgconn.ConnectError
	var opErr *net.OpError
	if errors.As(err, &connectErr) || errors.As(err, &opErr) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	// A connection cut mid-message. Reading a result, pgconn returns the
	// bare io.ErrUnexpectedEOF (a proxy in front of a failing-over
	// database cuts connections so: HAProxy on Patroni); elsewhere it
	// wraps the EOF in one of its errors, which all say whether they are
	// safe to retry. A bare io.EOF from anything else is no outage.
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var fromPgconn interface{ SafeToRetry() bool }
	return errors.As(err, &fromPgconn) && errors.Is(err, io.EOF)
}
