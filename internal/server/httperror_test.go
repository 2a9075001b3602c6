package server_test

import (
	"os"
	"strings"
	"testing"

	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// A request the gateway cannot read gets the shape of any other bad input
// (google.rpc.BadRequest naming the field), and an oversized body is 413.
func TestUnreadableRequestsGetFieldViolations(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	cases := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"body is not JSON", "POST", "/v1/assets", `{"name": `, 400, "body"},
		{"body field of the wrong type", "POST", "/v1/assets", `{"name": 5}`, 400, "body"},
		{"unknown body field", "POST", "/v1/assets", `{"nmae": "Walking group"}`, 400, "body"},
		{"query parameter of the wrong type", "GET", "/v1/assets:search?page_size=many", "", 400, "page_size"},
		{"body over the size limit", "POST", "/v1/assets", `{"name": "` + strings.Repeat("x", 5<<20) + `"}`, 413, "body"},
		{"the service's own validation is unchanged", "GET", "/v1/assets:search?latitude=91&longitude=0&radius_meters=100", "", 400, "latitude"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, env.HTTP, tc.method, env.HTTPBase+tc.path, "", tc.body)
			wantAnswer(t, res, tc.status, tc.field)
			if res.body.Code != 3 {
				t.Fatalf("code %d (%s), want 3 (INVALID_ARGUMENT)", res.body.Code, res.body.Message)
			}
			for _, d := range res.body.Details {
				for _, v := range d.FieldViolations {
					if v.Description == "" {
						t.Errorf("violation of %s has no description", v.Field)
					}
				}
			}
		})
	}
}
