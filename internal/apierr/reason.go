package apierr

import (
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Domain is the ErrorInfo domain of every error this API sends (AIP-193):
// with the reason it names the cause in a form a program can switch on,
// while the message stays for people and may change.
const Domain = "sparc.network"

// Stable reasons. A reason, once sent, is part of the API: add new ones,
// never rename one. Codes without a reason of their own send their
// gRPC code name (PERMISSION_DENIED, UNAUTHENTICATED, …).
const (
	ReasonInvalidFields     = "INVALID_FIELDS"      // BadRequest lists the fields
	ReasonTooManyViolations = "TOO_MANY_VIOLATIONS" // some field violations were left out
	ReasonNotFound          = "RESOURCE_NOT_FOUND"
	ReasonAlreadyExists     = "RESOURCE_ALREADY_EXISTS"
	ReasonEtagMismatch      = "ETAG_MISMATCH"
	ReasonDatabaseDown      = "DATABASE_UNAVAILABLE"
	ReasonCancelled         = "REQUEST_CANCELLED"
	ReasonDeadline          = "DEADLINE_EXCEEDED"
	ReasonInternal          = "INTERNAL_ERROR"
)

// Error returns a status error with an ErrorInfo of reason, for the
// refusals that are not one of the sentinels (a missing key, a role
// refused, a rate limit), so they carry a reason of their own.
func Error(c codes.Code, reason, msg string) error {
	return WithReason(status.New(c, msg), reason, nil).Err()
}

// WithReason returns st with an ErrorInfo of reason and metadata added,
// unless it already has one (the first, most specific reason wins).
func WithReason(st *status.Status, reason string, metadata map[string]string) *status.Status {
	if st.Code() == codes.OK || hasErrorInfo(st) {
		return st
	}
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: Domain, Metadata: metadata}); err == nil {
		return d
	}
	return st
}

// EnsureReason gives st an ErrorInfo if it has none, with the reason its
// code implies. Every path that sends a status (the gRPC interceptor, the
// HTTP gateway's own errors, the plain routes' guard) ends here, so no
// error leaves without one.
func EnsureReason(st *status.Status) *status.Status {
	return WithReason(st, codeReason(st.Code()), nil)
}

func hasErrorInfo(st *status.Status) bool {
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.ErrorInfo); ok {
			return true
		}
	}
	return false
}

// reasonOf names the cause of a handler's error for ToStatus.
func reasonOf(err error, c codes.Code) string {
	var inv *InvalidArgument
	var pre *PreconditionError
	switch {
	case errors.As(err, &inv):
		return ReasonInvalidFields
	case errors.As(err, &pre) && pre.Type != "":
		return pre.Type
	case errors.Is(err, ErrNotFound):
		return ReasonNotFound
	case errors.Is(err, ErrAlreadyExists):
		return ReasonAlreadyExists
	case errors.Is(err, ErrStaleEtag):
		return ReasonEtagMismatch
	case c == codes.Unavailable && IsUnavailable(err):
		return ReasonDatabaseDown
	}
	return codeReason(c)
}

func codeReason(c codes.Code) string {
	switch c {
	case codes.Canceled:
		return ReasonCancelled
	case codes.DeadlineExceeded:
		return ReasonDeadline
	case codes.Internal, codes.Unknown:
		return ReasonInternal
	case codes.InvalidArgument:
		return ReasonInvalidFields
	case codes.NotFound:
		return ReasonNotFound
	}
	// The code's own name: UNAUTHENTICATED, PERMISSION_DENIED, …
	return codeNames[c]
}

var codeNames = map[codes.Code]string{
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE",
	codes.Unimplemented: "UNIMPLEMENTED", codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS",
	codes.Unauthenticated: "UNAUTHENTICATED",
}
