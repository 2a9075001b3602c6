package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sparc-network/sparc/internal/apierr"
)

// violations reads the fields named by a google.rpc.Status body's
// BadRequest details.
func violations(t *testing.T, body string) []string {
	t.Helper()
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Type            string `json:"@type"`
			FieldViolations []struct {
				Field string `json:"field"`
			} `json:"field_violations"`
		} `json:"details"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("not a google.rpc.Status: %v: %s", err, body)
	}
	var fields []string
	for _, d := range st.Details {
		for _, v := range d.FieldViolations {
			fields = append(fields, v.Field)
		}
	}
	return fields
}

// Hostile and mistaken queries are refused with 400 naming the
// parameter, before any source is asked.
func TestBadQueriesAreRefusedWithTheirField(t *testing.T) {
	src := fixture()
	srv := serve(t, src)
	ok := "area=" + fixtureArea + "&window=" + fixtureWindow
	for _, c := range []struct {
		name, query, field string
	}{
		{"no area", "window=2026-Q3", "area"},
		{"empty area", "area=&window=2026-Q3", "area"},
		{"NUL in the area", "area=E0800%00099", "area"},
		{"invalid UTF-8 in the area", "area=E08%ff%fe", "area"},
		{"a control character in the window", ok[:len(ok)-len(fixtureWindow)] + "2026%0A", "window"},
		{"an area code with a slash", "area=E08/../x", "area"},
		{"an area code with spaces", "area=E08+000", "area"},
		{"an area code too long", "area=" + strings.Repeat("E", 200), "area"},
		{"an unknown parameter", ok + "&granularity=2", "granularity"},
		{"an unknown parameter with NUL in its name", ok + "&x%00y=1", "query"},
		{"a repeated parameter", ok + "&lang=en&lang=nl", "lang"},
		{"a window that is no window", "area=" + fixtureArea + "&window=last-quarter", "window"},
		{"a window that ends before it starts", "area=" + fixtureArea + "&window=2026-07-01/2026-01-01", "window"},
		{"a quarter that does not exist", "area=" + fixtureArea + "&window=2026-Q5", "window"},
		{"a language the report does not speak", ok + "&lang=fr", "lang"},
		{"a format the report does not make", ok + "&format=docx", "format"},
		{"a malformed query", ok + "&%zz=1", "query"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(src.asked.coverage) + len(src.asked.network) + len(src.asked.outcomes)
			res, body := get(t, srv, reportPath(c.query))
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", res.StatusCode, body)
			}
			if fields := violations(t, body); len(fields) == 0 || fields[0] != c.field {
				t.Errorf("violations %v, want %q first", fields, c.field)
			}
			if after := len(src.asked.coverage) + len(src.asked.network) + len(src.asked.outcomes); after != before {
				t.Errorf("a source was asked for a refused query")
			}
		})
	}
}

// Every problem of a query is reported at once.
func TestEveryBadParameterIsReported(t *testing.T) {
	srv := serve(t, fixture())
	res, body := get(t, srv, reportPath("window=2026-13&lang=de&format=svg"))
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	if got := strings.Join(violations(t, body), ","); got != "area,window,lang,format" {
		t.Errorf("violations %s, want area,window,lang,format", got)
	}
}

// An error from a source is answered with the status the API gives it:
// the caller's access rule, a missing area and an outage read the same as
// through the API, and an unexpected failure is a 500 that says nothing.
func TestSourceErrorsKeepTheirStatus(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{status.Error(codes.PermissionDenied, "area analysts and admins only"), http.StatusForbidden},
		{status.Error(codes.Unauthenticated, "sign in"), http.StatusUnauthorized},
		{fmt.Errorf("areas/E08000099: %w", apierr.ErrNotFound), http.StatusNotFound},
		{apierr.Invalid("parent_code", "no area has code E08000099"), http.StatusBadRequest},
		{errors.New("connection reset by a secret host db-7.internal"), http.StatusInternalServerError},
	} {
		src := fixture()
		src.err = c.err
		srv := serve(t, src)
		res, body := get(t, srv, reportPath("area="+fixtureArea+"&window="+fixtureWindow+"&format=pdf"))
		if res.StatusCode != c.want {
			t.Errorf("%v: status %d, want %d", c.err, res.StatusCode, c.want)
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%v: Content-Type %q", c.err, ct)
		}
		if strings.Contains(body, "db-7.internal") {
			t.Errorf("an internal error's detail is sent: %s", body)
		}
	}
}

// Join serves the report from the services that answer each part, as
// the composition root wires it: here the network and outcomes from one,
// coverage from another.
func TestJoinedSourcesServeTheReport(t *testing.T) {
	a, c := fixture(), fixture()
	srv := serve(t, Join(a, a, c))
	if res, body := get(t, srv, reportPath("area="+fixtureArea+"&window="+fixtureWindow)); res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	if len(a.asked.network) != 2 || len(a.asked.outcomes) != 1 || len(a.asked.coverage) != 0 || len(c.asked.coverage) != 1 || len(c.asked.network) != 0 {
		t.Errorf("asked the analytics for %d networks, %d outcomes, %d coverages; the coverage service for %d coverages and %d networks",
			len(a.asked.network), len(a.asked.outcomes), len(a.asked.coverage), len(c.asked.coverage), len(c.asked.network))
	}
}
