package telemetry_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"

	"github.com/sparc-network/sparc/internal/telemetry"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// A person no span may mention: a name and an NHS number no SQL text,
// id or path could hold by chance.
const (
	personName = "Zebedee Quillfeather"
	surname    = "Quillfeather"
	nhsNumber  = "9434765919"
)

// tracedServer is a server whose spans end up in the returned recorder,
// as they would reach a collector over OTLP.
func tracedServer(t *testing.T, opts ...telemetry.Option) (*testenv.Env, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	return testenv.NewServer(t, testenv.Options{Tracing: telemetry.NewTracing(tp, opts...)}), rec
}

// call sends an HTTP request with key and returns the response's request
// id, failing the test unless it answers 200.
func call(t *testing.T, env *testenv.Env, key, method, path string, body any) (string, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(t.Context(), method, env.HTTPBase+path, r)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
	}
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return resp.Header.Get("X-Request-Id"), m
}

// spans indexes the ended spans by id.
type spans map[trace.SpanID]sdktrace.ReadOnlySpan

func index(rec *tracetest.SpanRecorder) spans {
	out := spans{}
	for _, s := range rec.Ended() {
		out[s.SpanContext().SpanID()] = s
	}
	return out
}

// ended waits until the HTTP span of every request id in ids has ended,
// then indexes the spans. The client has its answer before the server's
// outermost span ends (the handler writes, then returns), so reading the
// recorder straight after a call can miss that call's spans.
func ended(t *testing.T, rec *tracetest.SpanRecorder, ids ...string) spans {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ss := index(rec)
		done := map[string]bool{}
		for _, s := range ss {
			if s.SpanKind() == trace.SpanKindServer && strings.HasPrefix(s.Name(), "HTTP ") {
				done[attr(s, telemetry.AttrRequestID)] = true
			}
		}
		missing := ""
		for _, id := range ids {
			if !done[id] {
				missing = id
			}
		}
		if missing == "" {
			return ss
		}
		if time.Now().After(deadline) {
			t.Fatalf("the HTTP span of request %q has not ended after 10 s (%d spans ended)", missing, len(ss))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (ss spans) parent(s sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan { return ss[s.Parent().SpanID()] }

// chain is s and its ancestors, s first.
func (ss spans) chain(s sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for ; s != nil; s = ss.parent(s) {
		out = append(out, s)
	}
	return out
}

// server returns the gRPC server span of method with request id id.
func (ss spans) server(t *testing.T, method, id string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range ss {
		if s.SpanKind() == trace.SpanKindServer && s.Name() == method && attr(s, telemetry.AttrRequestID) == id {
			return s
		}
	}
	t.Fatalf("no server span %s with request id %q among %d spans", method, id, len(ss))
	return nil
}

// attrValue is s's attribute key.
func attrValue(s sdktrace.ReadOnlySpan, key string) (string, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String(), true
		}
	}
	return "", false
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) string {
	v, _ := attrValue(s, string(key))
	return v
}

// checkTree checks that the call's gRPC server span hangs from the HTTP
// span of the same request id (across the gateway's in-process hop), and
// that database spans hang from the gRPC span; it returns those.
func (ss spans) checkTree(t *testing.T, method, id, org string) []sdktrace.ReadOnlySpan {
	t.Helper()
	rpc := ss.server(t, method, id)
	gateway := ss.parent(rpc)
	if gateway == nil || gateway.SpanKind() != trace.SpanKindServer || !strings.HasPrefix(gateway.Name(), "HTTP ") {
		t.Fatalf("%s: parent of the gRPC server span is %v, want the HTTP span", method, gateway)
	}
	if got := attr(gateway, telemetry.AttrRequestID); got != id {
		t.Errorf("%s: HTTP span's request id %q, want %q", method, got, id)
	}
	if got := attr(rpc, telemetry.AttrOrganisation); got != org {
		t.Errorf("%s: gRPC span's organisation %q, want the caller's %q", method, got, org)
	}
	var queries []sdktrace.ReadOnlySpan
	for _, s := range ss {
		if attr(s, "db.system.name") != "postgresql" {
			continue
		}
		for _, a := range ss.chain(s)[1:] {
			if a.SpanContext().SpanID() == rpc.SpanContext().SpanID() {
				queries = append(queries, s)
				break
			}
		}
	}
	if len(queries) == 0 {
		t.Errorf("%s: no database span under the gRPC span", method)
	}
	return queries
}

// summaries are the database spans' db.query.summary, failing the test
// for a span without one.
func summaries(t *testing.T, queries []sdktrace.ReadOnlySpan) []string {
	t.Helper()
	var out []string
	for _, q := range queries {
		sum := attr(q, "db.query.summary")
		if sum == "" || q.SpanKind() != trace.SpanKindClient {
			t.Errorf("database span %q: kind %v, summary %q", q.Name(), q.SpanKind(), sum)
		}
		out = append(out, sum)
	}
	return out
}

// noPersonalData fails the test if any attribute, event, status or
// resource of any span holds the person's name, surname or NHS number
// (in any spacing).
func noPersonalData(t *testing.T, rec *tracetest.SpanRecorder) {
	t.Helper()
	forbidden := []string{personName, surname, strings.ToLower(surname), nhsNumber, "943 476 5919", "943-476-5919"}
	for _, s := range rec.Ended() {
		var texts []string
		for _, kv := range s.Attributes() {
			texts = append(texts, string(kv.Key)+"="+kv.Value.String())
		}
		for _, e := range s.Events() {
			texts = append(texts, e.Name)
			for _, kv := range e.Attributes {
				texts = append(texts, string(kv.Key)+"="+kv.Value.String())
			}
		}
		for _, kv := range s.Resource().Attributes() {
			texts = append(texts, kv.Value.String())
		}
		texts = append(texts, s.Name(), s.Status().Description)
		for _, text := range texts {
			for _, f := range forbidden {
				if strings.Contains(text, f) {
					t.Errorf("span %q carries personal data (%q): %s", s.Name(), f, text)
				}
			}
		}
	}
}

// createPerson makes the person no span may mention, through HTTP, and
// returns their resource name.
func createPerson(t *testing.T, env *testenv.Env, key string) string {
	t.Helper()
	_, person := call(t, env, key, "POST", "/v1/people", map[string]any{
		"display_name": personName, "nhs_number": nhsNumber, "age_band": "65-74", "postcode": "B8 1AA",
		"needs": []string{"social_connection"}, "consent": map[string]any{}})
	name, _ := person["name"].(string)
	if name == "" {
		t.Fatalf("creating a person: no name in %v", person)
	}
	return name
}

func TestSpansOfSearchAndReferral(t *testing.T) {
	env, rec := tracedServer(t)
	r := env.NewReferrals(t)
	lw := r.LinkWorkerKey

	searchID, _ := call(t, env, env.AdminKey, "GET", "/v1/assets:search?latitude=52.48&longitude=-1.86&radius_meters=3000", nil)
	person := createPerson(t, env, lw)
	// Searching by NHS number in the query string: the path is recorded,
	// the query never.
	call(t, env, lw, "GET", "/v1/people:search?nhs_number="+nhsNumber, nil)
	call(t, env, lw, "POST", "/v1/people:search", map[string]any{"display_name_prefix": surname[:4]})
	// A client's trace context is not continued (the API is public): a
	// gRPC call and an HTTP call claiming a sampled trace of their own.
	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	header := "00-" + clientTrace + "-00f067aa0ba902b7-01"
	req, _ := http.NewRequestWithContext(t.Context(), "GET", env.HTTPBase+"/v1/assets:search?latitude=52.48&longitude=-1.86&radius_meters=3000", nil)
	req.Header.Set("traceparent", header)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if _, err := env.Assets.ListAssets(metadata.AppendToOutgoingContext(t.Context(), "traceparent", header), &sparcv1.ListAssetsRequest{}); err != nil {
		t.Fatal(err)
	}
	referID, _ := call(t, env, lw, "POST", "/v1/referrals", map[string]any{
		"request_id": "trace-test-1", "person": person, "asset": r.Asset, "reasons": []string{"social_connection"}})

	ss := ended(t, rec, searchID, referID)
	for _, s := range ss {
		if s.SpanContext().TraceID().String() == clientTrace {
			t.Errorf("span %q continues a client's trace", s.Name())
		}
	}
	searchDB := summaries(t, ss.checkTree(t, "sparc.v1.AssetService/SearchAssets", searchID, env.AdminOrg))
	referDB := summaries(t, ss.checkTree(t, "sparc.v1.ReferralService/CreateReferral", referID, r.Referrer))
	// Database spans are named by their statements' summaries (the
	// operation and its table), the referral's insert among them.
	if !slices.ContainsFunc(referDB, func(s string) bool { return strings.Contains(s, "INSERT referrals") }) {
		t.Errorf("CreateReferral's database spans %q: none says INSERT referrals", referDB)
	}
	if !slices.ContainsFunc(searchDB, func(s string) bool { return strings.Contains(s, "SELECT ") }) {
		t.Errorf("SearchAssets' database spans %q: none says SELECT", searchDB)
	}
	// Without SPARC_TRACE_SQL=text no span carries a statement's text.
	for _, s := range rec.Ended() {
		if q, ok := attrValue(s, "db.query.text"); ok {
			t.Errorf("span %q carries the statement text %.60q", s.Name(), q)
		}
	}
	noPersonalData(t, rec)
	if n := len(rec.Ended()); n < 10 {
		t.Errorf("only %d spans recorded", n)
	}
}

// With SQLText (SPARC_TRACE_SQL=text) database spans carry each
// statement's text too, with placeholders and never the arguments.
func TestSpansWithStatementText(t *testing.T) {
	env, rec := tracedServer(t, telemetry.SQLText())
	r := env.NewReferrals(t)
	person := createPerson(t, env, r.LinkWorkerKey)
	referID, _ := call(t, env, r.LinkWorkerKey, "POST", "/v1/referrals", map[string]any{
		"request_id": "trace-test-text", "person": person, "asset": r.Asset, "reasons": []string{"social_connection"}})
	found := false
	for _, q := range ended(t, rec, referID).checkTree(t, "sparc.v1.ReferralService/CreateReferral", referID, r.Referrer) {
		text := attr(q, "db.query.text")
		if strings.Contains(text, "INSERT INTO referrals") && strings.Contains(text, "$1") {
			found = true
		}
	}
	if !found {
		t.Error("no database span under CreateReferral carries the referral's INSERT text")
	}
	noPersonalData(t, rec)
}
