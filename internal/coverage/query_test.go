package coverage_test

import (
	"errors"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/coverage"
)

func TestParseRequestTakesTheParentByCodeOrNameAndChecksItAsTheAreaServiceDoes(t *testing.T) {
	for _, parent := range []string{"E02001875", "areas/E02001875"} {
		q, err := coverage.ParseRequest(&sparcv1.ComputeCoverageRequest{ParentCode: parent})
		if err != nil || q.Parent != "E02001875" {
			t.Errorf("parent_code %q: parent %q, %v", parent, q.Parent, err)
		}
	}
	for _, bad := range []struct {
		req   *sparcv1.ComputeCoverageRequest
		field string
	}{
		{&sparcv1.ComputeCoverageRequest{}, "parent_code"},
		{&sparcv1.ComputeCoverageRequest{ParentCode: "E02 001875"}, "parent_code"},
		{&sparcv1.ComputeCoverageRequest{ParentCode: "areas/E02001875/x"}, "parent_code"},
		{&sparcv1.ComputeCoverageRequest{ParentCode: "E02001875", Kind: "lsoa"}, "parent_code"},
		{&sparcv1.ComputeCoverageRequest{Kind: "LSOA"}, "kind"},
	} {
		_, err := coverage.ParseRequest(bad.req)
		var ia *apierr.InvalidArgument
		if !errors.As(err, &ia) || len(ia.Violations) != 1 || ia.Violations[0].Field != bad.field {
			t.Errorf("%v: %v, want one violation on %s", bad.req, err, bad.field)
		}
	}
}
