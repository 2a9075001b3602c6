package apierr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func TestToStatusMapsEachErrorClassToItsCode(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		code       codes.Code
		unexpected bool
	}{
		{"wrapped not found", fmt.Errorf("asset x: %w", ErrNotFound), codes.NotFound, false},
		{"wrapped already exists", fmt.Errorf("asset x: %w", ErrAlreadyExists), codes.AlreadyExists, false},
		{"stale etag", fmt.Errorf("asset x: %w", ErrStaleEtag), codes.Aborted, false},
		{"field violations", Invalid("name", "is required"), codes.InvalidArgument, false},
		{"precondition", &PreconditionError{Type: "T", Subject: "s", Description: "d"}, codes.FailedPrecondition, false},
		{"a status error passes through", status.Error(codes.ResourceExhausted, "slow down"), codes.ResourceExhausted, false},
		{"cancelled", fmt.Errorf("query: %w", context.Canceled), codes.Canceled, false},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), codes.DeadlineExceeded, false},
		{"the database's own refusal is permission denied, and logged", fmt.Errorf("reading: %w",
			&pgconn.PgError{Code: "42501", Message: "referral analytics are for admins and area analysts"}), codes.PermissionDenied, true},
		{"anything else is internal and hidden", errors.New("pq: relation does not exist"), codes.Internal, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, unexpected := ToStatus(c.err)
			if st.Code() != c.code || unexpected != c.unexpected {
				t.Fatalf("got %v (unexpected=%v), want %v (unexpected=%v)", st.Code(), unexpected, c.code, c.unexpected)
			}
			if (c.code == codes.Internal && st.Message() != "internal error") || strings.Contains(st.Message(), "analysts") {
				t.Fatalf("internal details leaked: %q", st.Message())
			}
		})
	}
}

func TestInvalidArgumentCarriesEveryViolation(t *testing.T) {
	var v InvalidArgument
	if v.Err() != nil {
		t.Fatal("no violations must be no error")
	}
	v.Add("latitude", "must be between %d and %d", -90, 90)
	v.Add("radius_meters", "must be positive")
	st, _ := ToStatus(v.Err())
	var got []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, fv := range br.GetFieldViolations() {
				got = append(got, fv.GetField()+": "+fv.GetDescription())
			}
		}
	}
	want := []string{"latitude: must be between -90 and 90", "radius_meters: must be positive"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("violations %v, want %v", got, want)
	}
}

// An error is never much bigger than the request: 100,000 violations with
// long descriptions (each quoting a long bad value) are sent as the first
// 20, clipped, with the total in an ErrorInfo (issue 12, finding 6).
func TestInvalidArgumentIsBounded(t *testing.T) {
	var v InvalidArgument
	long := strings.Repeat("é", 5000)
	for i := range 100_000 {
		v.Add(fmt.Sprintf("categories[%d]", i), "unknown category %q", long)
	}
	v.Add("bad\xffkey", "field path with invalid UTF-8 \xfe")
	st, _ := ToStatus(v.Err())
	b, err := proto.Marshal(st.Proto())
	if err != nil {
		t.Fatalf("the status cannot be sent: %v", err)
	}
	if len(b) > 16<<10 {
		t.Fatalf("status is %d bytes, want at most 16 KiB", len(b))
	}
	var fields int
	var total string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			fields += len(d.GetFieldViolations())
			for _, fv := range d.GetFieldViolations() {
				if len(fv.GetDescription()) > maxDescription || !utf8.ValidString(fv.GetDescription()) {
					t.Errorf("description of %d bytes (valid UTF-8: %v)", len(fv.GetDescription()), utf8.ValidString(fv.GetDescription()))
				}
			}
		case *errdetails.ErrorInfo:
			total = d.GetMetadata()["total"]
		}
	}
	if fields != MaxReported || total != "100001" {
		t.Fatalf("%d violations reported with total %q, want %d with total 100001", fields, total, MaxReported)
	}
	if !strings.Contains(st.Message(), "and 99981 more problems not listed") || len(st.Message()) > 8<<10 {
		t.Fatalf("message of %d bytes does not give the count: %.200q", len(st.Message()), st.Message())
	}
	if !utf8.ValidString(st.Message()) {
		t.Fatal("message is not valid UTF-8")
	}
	// A field path carrying a caller's invalid UTF-8 (a map key) is still sent.
	st, _ = ToStatus(Invalid("values[\xff]", "bad \xfe"))
	if _, err := proto.Marshal(st.Proto()); err != nil || !utf8.ValidString(st.Message()) {
		t.Fatalf("status with invalid UTF-8 cannot be sent: %v", err)
	}
}
