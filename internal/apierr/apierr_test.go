package apierr

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
		{"anything else is internal and hidden", errors.New("pq: relation does not exist"), codes.Internal, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, unexpected := ToStatus(c.err)
			if st.Code() != c.code || unexpected != c.unexpected {
				t.Fatalf("got %v (unexpected=%v), want %v (unexpected=%v)", st.Code(), unexpected, c.code, c.unexpected)
			}
			if c.code == codes.Internal && st.Message() != "internal error" {
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
