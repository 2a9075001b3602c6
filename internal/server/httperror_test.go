package server_test

import (
	"encoding/json"
	"net/http"
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
			req, err := http.NewRequest(tc.method, env.HTTPBase+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := env.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
				Details []struct {
					Type            string `json:"@type"`
					FieldViolations []struct {
						Field, Description string
					} `json:"field_violations"`
				} `json:"details"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatalf("HTTP %d, body is not the error JSON: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != tc.status || got.Code != 3 {
				t.Fatalf("HTTP %d code %d (%s), want HTTP %d code 3 (INVALID_ARGUMENT)", resp.StatusCode, got.Code, got.Message, tc.status)
			}
			var fields []string
			for _, d := range got.Details {
				for _, v := range d.FieldViolations {
					fields = append(fields, v.Field)
					if v.Description == "" {
						t.Errorf("violation of %s has no description", v.Field)
					}
				}
			}
			if len(fields) == 0 || fields[0] != tc.field {
				t.Errorf("field violations %v, want %q first (message %q)", fields, tc.field, got.Message)
			}
		})
	}
}
