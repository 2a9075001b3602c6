package hostile_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sparc-network/sparc/gen/openapi"
	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// route is one method and path template the server answers.
type route struct {
	method   string
	template string // "/v1/assets/{id}" (gateway) or "/tiles/assets/{z}/{x}/{y}" (plain)
	query    []param
	body     schema // nil: no body
	stream   bool   // the answer stays open (watch)
}

type param struct {
	name  string
	typ   string // string, number, integer, boolean ("" unknown: a plain route's)
	array bool
}

// schema is an OpenAPI schema object with its $refs resolved on demand.
type schema map[string]any

// document is the part of the OpenAPI (Swagger 2.0) document read here.
type document struct {
	Paths map[string]map[string]struct {
		OperationID string `json:"operationId"`
		Parameters  []struct {
			Name    string         `json:"name"`
			In      string         `json:"in"`
			Type    string         `json:"type"`
			Pattern string         `json:"pattern"`
			Items   map[string]any `json:"items"`
			Schema  schema         `json:"schema"`
		} `json:"parameters"`
	} `json:"paths"`
	Definitions map[string]schema `json:"definitions"`
}

func (d *document) resolve(s schema) schema {
	for depth := 0; s != nil && depth < 10; depth++ {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		s = d.Definitions[strings.TrimPrefix(ref, "#/definitions/")]
	}
	return s
}

// gatewayRoutes lists every operation of the OpenAPI document.
func gatewayRoutes(t *testing.T) ([]route, *document) {
	var doc document
	if err := json.Unmarshal(openapi.JSON, &doc); err != nil {
		t.Fatalf("reading the OpenAPI document: %v", err)
	}
	var out []route
	for path, ops := range doc.Paths {
		for method, op := range ops {
			r := route{method: strings.ToUpper(method), template: path, stream: strings.Contains(op.OperationID, "Watch")}
			for _, p := range op.Parameters {
				switch p.In {
				case "path":
					// A resource name, {name} of pattern "organisations/[^/]+",
					// is served as /v1/organisations/{name}.
					if coll, ok := strings.CutSuffix(p.Pattern, "/[^/]+"); ok && !strings.Contains(coll, "/") {
						r.template = strings.Replace(r.template, "{"+p.Name+"}", coll+"/{"+p.Name+"}", 1)
					}
				case "query":
					q := param{name: p.Name, typ: p.Type}
					if p.Type == "array" {
						q.array, q.typ = true, fmt.Sprint(p.Items["type"])
					}
					r.query = append(r.query, q)
				case "body":
					r.body = p.Schema
					if r.body == nil {
						r.body = schema{"type": "object"}
					}
				}
			}
			out = append(out, r)
		}
	}
	return out, &doc
}

var varRe = regexp.MustCompile(`\{([^}]*)\}`)

// shape is a template with its variables unnamed: /v1/assets/{id} and
// /v1/assets/{asset.id} are one path.
func shape(template string) string { return varRe.ReplaceAllString(template, "{}") }

// plainRoutes lists the routes served beside the gateway, with the
// parameters each declares, and the server's own.
func plainRoutes(env *testenv.Env) []route {
	out := []route{{method: "GET", template: "/healthz"}, {method: "GET", template: "/readyz"}, {method: "GET", template: "/openapi.json"}}
	for _, r := range env.App.Routes() {
		method, path, _ := strings.Cut(r.Pattern, " ")
		path = strings.ReplaceAll(path, "{$}", "")
		rt := route{method: method, template: path}
		for _, p := range r.Params {
			rt.query = append(rt.query, param{name: p})
		}
		out = append(out, rt)
	}
	return out
}

// fixture is the data the routes find: ids of real resources.
type fixture struct {
	asset, person, referral, webhook, org, key string
}

func newFixture(t *testing.T, env *testenv.Env, lwKey string) fixture {
	ctx := context.Background()
	f := fixture{org: env.AdminOrg, person: uuid.NewString(), referral: uuid.NewString(), webhook: uuid.NewString(), key: uuid.NewString()}
	a, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Hostile walking group", AcceptingReferrals: true,
		Categories: []string{"physical_activity"},
		Location:   &sparcv1.Location{Latitude: 52.48, Longitude: -1.89, Country: "GB", Postcode: "B1 1AA"},
	}})
	if err != nil {
		t.Fatalf("creating the fixture asset: %v", err)
	}
	f.asset = strings.TrimPrefix(a.GetName(), "assets/")
	lw := env.ConnWithKey(t, lwKey)
	if p, err := sparcv1.NewPersonServiceClient(lw).CreatePerson(ctx, &sparcv1.CreatePersonRequest{
		Person: &sparcv1.Person{DisplayName: "H. Ostile", Postcode: "B1 1AA"}}); err == nil {
		f.person = strings.TrimPrefix(p.GetName(), "people/")
		if r, err := sparcv1.NewReferralServiceClient(lw).CreateReferral(ctx, &sparcv1.CreateReferralRequest{
			RequestId: uuid.NewString(), Person: "people/" + f.person, Asset: "assets/" + f.asset, Reasons: []string{"physical_activity"}}); err == nil {
			f.referral = strings.TrimPrefix(r.GetName(), "referrals/")
		} else {
			t.Logf("fixture referral: %v (probing with a random id)", err)
		}
	} else {
		t.Logf("fixture person: %v (probing with a random id)", err)
	}
	if w, err := sparcv1.NewWebhookServiceClient(lw).CreateWebhook(ctx, &sparcv1.CreateWebhookRequest{
		Webhook: &sparcv1.Webhook{Url: "https://example.org/hostile"}}); err == nil {
		f.webhook = strings.TrimPrefix(w.GetWebhook().GetName(), "webhooks/")
	} else {
		t.Logf("fixture webhook: %v (probing with a random id)", err)
	}
	if k, err := sparcv1.NewApiKeyServiceClient(env.Conn).CreateApiKey(ctx, &sparcv1.CreateApiKeyRequest{
		Organisation: "organisations/" + env.AdminOrg, Role: sparcv1.Role_ROLE_AREA_ANALYST, DisplayName: "hostile"}); err == nil {
		f.key = strings.TrimPrefix(k.GetApiKey().GetName(), "apiKeys/")
	}
	return f
}

// pathValue is a good value for a path variable, by the collection it
// follows.
func (f fixture) pathValue(collection, name string) string {
	switch collection {
	case "assets":
		return f.asset
	case "people":
		return f.person
	case "referrals":
		return f.referral
	case "webhooks":
		return f.webhook
	case "organisations":
		return f.org
	case "apiKeys":
		return f.key
	case "areas":
		return "E01000001"
	case "areaKinds":
		return "lsoa"
	}
	switch name {
	case "z", "x":
		return "1"
	case "y":
		return "0.mvt"
	case "file":
		return "map.js"
	}
	return uuid.NewString()
}

// probe is one request.
type probe struct {
	what, method, path, query, body string
	stream                          bool
	// refused: the input is bad whatever the route, so the answer must be
	// a 4xx (not a 2xx that ignored it).
	refused bool
	// notAllowed: the path is not served with this method: 405 with Allow.
	notAllowed bool
	// header: headers set on the request (over the identity's key).
	header map[string]string
}

// expand fills the template's variables: each good, except the one at
// index bad (-1: none), which gets value raw (already escaped).
func (f fixture) expand(template string, bad int, raw string) string {
	i := -1
	return varRe.ReplaceAllStringFunc(template, func(m string) string {
		i++
		if i == bad {
			return raw
		}
		before := template[:strings.Index(template, m)]
		segs := strings.Split(strings.TrimSuffix(before, "/"), "/")
		return url.PathEscape(f.pathValue(segs[len(segs)-1], m[1:len(m)-1]))
	})
}

// Hostile values.
const (
	nul     = "a\x00b"
	badUTF8 = "\xff\xfe"
)

// wrongValue is a value of the wrong type for a parameter.
func wrongValue(p param) string {
	switch p.typ {
	case "number":
		return "1e309"
	case "integer":
		return "99999999999999999999"
	case "boolean":
		return "perhaps"
	}
	return "NOT_A_VALUE_OF_ANY_KIND"
}

// probes lists the hostile requests for one route.
func (f fixture) probes(r route, doc *document, served map[string]bool) []probe {
	var out []probe
	add := func(what, path, query, body string) {
		out = append(out, probe{what: what, method: r.method, path: path, query: query, body: body, stream: r.stream})
	}
	// bad: the same, for input no route takes.
	bad := func(what, path, query, body string) {
		add(what, path, query, body)
		out[len(out)-1].refused = true
	}
	good := f.expand(r.template, -1, "")
	body := ""
	if r.body != nil {
		body = "{}"
	}
	add("as documented", good, "", body)
	add("a key that is not UTF-8", good, "", body)
	out[len(out)-1].header = map[string]string{"Authorization": "Bearer sparc_\xff\xfe", "X-Request-Id": "\xff\xfe"}
	add("a huge key", good, "", body)
	out[len(out)-1].header = map[string]string{"Authorization": "Bearer " + strings.Repeat("k", 60_000)}
	nvars := len(varRe.FindAllString(r.template, -1))
	for i := 0; i < nvars; i++ {
		bad(fmt.Sprintf("path variable %d with NUL", i), f.expand(r.template, i, "a%00b"), "", body)
		bad(fmt.Sprintf("path variable %d not UTF-8", i), f.expand(r.template, i, "%ff%fe"), "", body)
		add(fmt.Sprintf("path variable %d huge", i), f.expand(r.template, i, strings.Repeat("x", 6000)), "", body)
		add(fmt.Sprintf("path variable %d wrong type", i), f.expand(r.template, i, "-1e309"), "", body)
	}
	for _, p := range r.query {
		q := url.QueryEscape(p.name)
		bad(p.name+" with NUL", good, q+"="+url.QueryEscape(nul), body)
		bad(p.name+" not UTF-8", good, q+"="+url.QueryEscape(badUTF8), body)
		add(p.name+" of the wrong type", good, q+"="+url.QueryEscape(wrongValue(p)), body)
		add(p.name+" given 5,000 times", good, strings.Repeat(q+"=food&", 5000), body)
		add(p.name+" huge", good, q+"="+strings.Repeat("x", 100_000), body)
	}
	bad("unknown parameters", good, "lat=52.48&lng=-1.89&zz_unknown=1", body)
	bad("parameter name not UTF-8", good, "%ff%00=1", body)
	bad("malformed query", good, "a=%zz&b", body)
	if r.body != nil {
		s := doc.resolve(r.body)
		if b := mustJSON(fill(doc, s, 0, func(string) any { return nul })); strings.Contains(b, `\u0000`) {
			bad("body: NUL in every string", good, "", b)
		}
		add("body: every field of the wrong type", good, "", mustJSON(wrongTypes(doc, s)))
		add("body: huge lists", good, "", mustJSON(hugeLists(doc, s)))
		if b := mustJSON(fill(doc, s, 0, func(string) any { return "MARK" })); strings.Contains(b, "MARK") {
			bad("body: strings not UTF-8", good, "", strings.ReplaceAll(b, "MARK", badUTF8))
		}
		bad("body: not JSON", good, "", `{"name": `)
		bad("body: deeply nested", good, "", strings.Repeat("[", 50_000)+strings.Repeat("]", 50_000))
		bad("body: unknown field", good, "", `{"zz_unknown": 1}`)
		add("body: a 3 MB string", good, "", mustJSON(fill(doc, s, 0, func(string) any { return strings.Repeat("é", 1<<20) })))
		add("body: numbers out of range", good, "", strings.ReplaceAll(mustJSON(fill(doc, s, 0, func(typ string) any {
			if typ == "number" || typ == "integer" {
				return "NUM"
			}
			return "x"
		})), `"NUM"`, "1e999"))
	}
	for _, m := range []string{"PUT", "DELETE", "TRACE", "PROPFIND"} {
		if !served[m+" "+shape(r.template)] {
			out = append(out, probe{what: "method " + m, method: m, path: good, notAllowed: true})
		}
	}
	return out
}

// fill builds a value of schema s with leaf(type) at every leaf, lists of
// one item, objects nested up to a few levels.
func fill(doc *document, s schema, depth int, leaf func(typ string) any) any {
	s = doc.resolve(s)
	if s == nil || depth > 4 {
		return nil
	}
	switch s["type"] {
	case "array":
		items, _ := s["items"].(map[string]any)
		return []any{fill(doc, schema(items), depth+1, leaf)}
	case "object", nil:
		props, _ := s["properties"].(map[string]any)
		if props == nil {
			return map[string]any{}
		}
		out := map[string]any{}
		for name, p := range props {
			ps, _ := p.(map[string]any)
			if v := fill(doc, schema(ps), depth+1, leaf); v != nil {
				out[name] = v
			}
		}
		return out
	default:
		return leaf(fmt.Sprint(s["type"]))
	}
}

// wrongTypes gives every field a JSON value of another type.
func wrongTypes(doc *document, s schema) any {
	return fill(doc, s, 0, func(typ string) any {
		switch typ {
		case "string":
			return 12345
		case "boolean":
			return "perhaps"
		}
		return map[string]any{"not": "a number"}
	})
}

// hugeLists makes every list of the body 100,000 items long.
func hugeLists(doc *document, s schema) any {
	s = doc.resolve(s)
	props, _ := s["properties"].(map[string]any)
	out := map[string]any{}
	for name, p := range props {
		ps := doc.resolve(schema(p.(map[string]any)))
		if ps["type"] == "array" {
			items := make([]any, 100_000)
			for i := range items {
				items[i] = fmt.Sprintf("zz%d", i)
			}
			out[name] = items
		} else if ps["type"] == "object" || ps["properties"] != nil {
			out[name] = hugeLists(doc, ps)
		}
	}
	return out
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// goInternals are texts of Go's and gRPC's own errors, which a caller must
// never be shown.
var goInternals = []string{"strconv.", "grpc: ", "proto:", "runtime error", "invalid byte sequence", "SQLSTATE", "pq:", "pgx"}

type outcome struct {
	probe
	who    string
	status int
	allow  string
	body   string
	err    error
}

// Every HTTP route, fuzzed with hostile input anonymously and with a key
// of every role: never a 5xx, never Go internals in the answer, and the
// service still answers afterwards (issue 12, finding 6).
func TestEveryRouteSurvivesHostileInput(t *testing.T) {
	env := testenv.NewServer(t)
	keys := map[string]string{"anonymous": ""}
	for _, role := range []string{auth.RoleAdmin, auth.RoleGroupEditor, auth.RoleLinkWorker, auth.RoleAreaAnalyst} {
		keys[role] = env.Key(t, env.AdminOrg, role)
	}
	f := newFixture(t, env, keys[auth.RoleLinkWorker])
	gw, doc := gatewayRoutes(t)
	routes := append(gw, plainRoutes(env)...)
	if len(gw) < 30 {
		t.Fatalf("only %d operations in the OpenAPI document", len(gw))
	}
	served := map[string]bool{}
	for _, r := range routes {
		served[r.method+" "+shape(r.template)] = true
	}
	var probes []probe
	for _, r := range routes {
		probes = append(probes, f.probes(r, doc, served)...)
	}

	type job struct {
		probe
		who string
	}
	jobs := make(chan job)
	results := make(chan outcome)
	var wg sync.WaitGroup
	client := &http.Client{}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				results <- send(client, env.HTTPBase, j.probe, j.who, keys[j.who])
			}
		}()
	}
	go func() {
		for _, p := range probes {
			for who := range keys {
				jobs <- job{p, who}
			}
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()
	counts := map[int]int{}
	var failures []string
	for o := range results {
		counts[o.status/100*100]++
		switch {
		case o.err != nil && !(o.stream && errors.Is(o.err, context.DeadlineExceeded)):
			failures = append(failures, fmt.Sprintf("%s %s?%.80s (%s) as %s: %v", o.method, o.path, o.query, o.what, o.who, o.err))
		case o.status >= 500:
			failures = append(failures, fmt.Sprintf("%s %.120s?%.80s (%s) as %s: HTTP %d %.300s", o.method, o.path, o.query, o.what, o.who, o.status, o.body))
		case o.refused && o.status < 400:
			failures = append(failures, fmt.Sprintf("%s %.120s?%.80s (%s) as %s: HTTP %d, want a 4xx refusal", o.method, o.path, o.query, o.what, o.who, o.status))
		case o.notAllowed && (o.status != http.StatusMethodNotAllowed || o.allow == ""):
			failures = append(failures, fmt.Sprintf("%s %.120s (%s) as %s: HTTP %d Allow %q, want 405 with Allow", o.method, o.path, o.what, o.who, o.status, o.allow))
		case o.status >= 300:
			for _, s := range goInternals {
				if strings.Contains(o.body, s) {
					failures = append(failures, fmt.Sprintf("%s %.120s (%s) as %s: HTTP %d quotes %q: %.300s", o.method, o.path, o.what, o.who, o.status, s, o.body))
					break
				}
			}
		}
	}
	t.Logf("%d routes, %d probes, %d requests; answers by class: %v", len(routes), len(probes), len(probes)*len(keys), counts)
	sort.Strings(failures)
	for i, f := range failures {
		if i == 50 {
			t.Errorf("... and %d more", len(failures)-50)
			break
		}
		t.Error(f)
	}
	resp, err := http.Get(env.HTTPBase + "/v1/assets:search?latitude=52.48&longitude=-1.89&radius_meters=1000")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a search after the probes: %v %v", resp, err)
	}
	resp.Body.Close()
}

func send(c *http.Client, base string, p probe, who, key string) outcome {
	o := outcome{probe: p, who: who}
	timeout := 30 * time.Second
	if p.stream {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	u := base + p.path
	if p.query != "" {
		u += "?" + p.query
	}
	var body io.Reader
	if p.body != "" {
		body = strings.NewReader(p.body)
	}
	req, err := http.NewRequestWithContext(ctx, p.method, u, body)
	if err != nil {
		// A URL Go will not even build cannot reach the server: nothing
		// to test.
		o.status = 400
		return o
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range p.header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		o.err = err
		return o
	}
	defer resp.Body.Close()
	o.status, o.allow = resp.StatusCode, resp.Header.Get("Allow")
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	o.body = string(b)
	if err != nil && !(p.stream && errors.Is(err, context.DeadlineExceeded)) {
		o.err = err
	}
	return o
}
