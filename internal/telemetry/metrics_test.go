package telemetry_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/pgcluster"
	"github.com/sparc-network/sparc/internal/telemetry"
	"github.com/sparc-network/sparc/internal/testenv"
)

// scrape reads /metrics at addr.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	return fams
}

// value is the sample of family name whose labels include want (summed
// over the others); ok is false when there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	var sum float64
	found := false
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, found
}

// metricsServer is a server with --metrics-addr, the embedded test
// cluster's supervisor reported as sparcd reports its own, a webhook
// receiver that always fails, and an anonymous budget of one call.
func metricsServer(t *testing.T) (*testenv.Env, *testenv.Referrals) {
	sup := testenv.Cluster(t).Supervise(pgcluster.SuperviseOptions{})
	t.Cleanup(sup.Stop)
	// The search index on, as sparcd runs by default: its figures are
	// among those the rules and the dashboard read.
	env := testenv.NewServer(t, testenv.Options{MetricsAddr: "127.0.0.1:0", WebhooksAllowPrivate: true,
		SearchIndex: assets.IndexConfig{Enabled: true},
		Auth:        auth.Config{RatePerSecond: 10000, Burst: 10000, Anonymous: auth.Limit{Rate: 0.001, Burst: 1}},
		Metrics:     []telemetry.Collector{telemetry.EmbeddedDatabase(sup.Restarts, sup.Healthy)}})
	return env, env.NewReferrals(t)
}

func TestMetricsOfARunningServer(t *testing.T) {
	env, r := metricsServer(t)
	ctx := t.Context()
	addr := env.App.MetricsAddr()
	if addr == "" {
		t.Fatal("no metrics listener")
	}

	// The API port does not serve the figures.
	resp, err := http.Get(env.HTTPBase + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "sparc_http_requests_total") {
		t.Errorf("the public HTTP port serves /metrics: %d", resp.StatusCode)
	}

	// A receiver that always fails: the webhook's changes stay pending.
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	t.Cleanup(receiver.Close)
	admin := env.ConnWithKey(t, env.Key(t, r.Referrer, auth.RoleAdmin))
	if _, err := sparcv1.NewWebhookServiceClient(admin).CreateWebhook(ctx, &sparcv1.CreateWebhookRequest{
		Webhook: &sparcv1.Webhook{Url: receiver.URL + "/hook"}}); err != nil {
		t.Fatal(err)
	}
	// One watch stream held open.
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watch, err := sparcv1.NewReferralServiceClient(r.LinkWorker).WatchReferrals(wctx, &sparcv1.WatchReferralsRequest{Cursor: "now"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Header(); err != nil {
		t.Fatal(err)
	}
	r.Refer(t, "metrics-test-1")
	// A referral between two other organisations: not the webhook's to
	// deliver, so not in its backlog (row-level security, as its reads).
	env.NewReferrals(t).Refer(t, "metrics-test-other")
	// The anonymous budget is one call: the second is refused.
	anon := sparcv1.NewAssetServiceClient(env.Anonymous())
	search := &sparcv1.SearchAssetsRequest{Latitude: proto.Float64(52.48), Longitude: proto.Float64(-1.86), RadiusMeters: proto.Float64(3000)}
	_, _ = anon.SearchAssets(ctx, search)
	if _, err := anon.SearchAssets(ctx, search); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second anonymous call: %v, want RESOURCE_EXHAUSTED", err)
	}
	if _, err := env.HTTP.Get(env.HTTPBase + "/v1/assets:search?latitude=52.48&longitude=-1.86&radius_meters=3000"); err != nil {
		t.Fatal(err)
	}
	// An import batch of one record that cannot be written.
	if _, err := sparcv1.NewDirectoryImportServiceClient(admin).UpsertSourcedAssets(ctx, &sparcv1.UpsertSourcedAssetsRequest{
		Source: "test", Records: []*sparcv1.SourcedAsset{{SourceId: "x", AssetName: "assets/" + uuid.NewString()}}}); err != nil {
		t.Fatalf("import: %v", err)
	}

	var fams map[string]*dto.MetricFamily
	testenv.Until(t, 30*time.Second, "the webhook's failure and backlog in a scrape", func() bool {
		fams = scrape(t, addr)
		failing, _ := value(fams, "sparc_delivery_failing", map[string]string{"channel": "webhook"})
		return failing == 1
	})
	checks := []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"grpc_server_handled_total", map[string]string{"grpc_method": "CreateReferral", "grpc_code": "OK"}, 1},
		{"grpc_server_handling_seconds", map[string]string{"grpc_method": "SearchAssets"}, 1},
		{"sparc_http_requests_total", map[string]string{"method": "GET", "code": "200"}, 1},
		{"sparc_http_request_duration_seconds", map[string]string{"method": "GET"}, 1},
		{"sparc_watch_streams_open", nil, 1},
		{"sparc_rate_limit_refusals_total", map[string]string{"reason": "RATE_LIMITED"}, 1},
		{"sparc_delivery_endpoints", map[string]string{"channel": "webhook"}, 1},
		{"sparc_delivery_backlog_changes", map[string]string{"channel": "webhook"}, 1},
		{"sparc_outbox_lag_seconds", map[string]string{"channel": "webhook"}, 0.000001},
		{"sparc_delivery_stats_up", map[string]string{"channel": "webhook"}, 1},
		{"sparc_database_up", nil, 1},
		{"sparc_embedded_database_healthy", nil, 1},
		{"sparc_db_pool_connections", nil, 1},
		{"sparc_db_pool_acquires_total", nil, 1},
		{"sparc_import_records_total", nil, 1},
	}
	if v, _ := value(fams, "sparc_delivery_backlog_changes", map[string]string{"channel": "webhook"}); v != 1 {
		t.Errorf("webhook backlog %v, want 1: the one change its organisation may see", v)
	}
	for _, c := range checks {
		v, ok := value(fams, c.name, c.labels)
		if !ok || v < c.min {
			t.Errorf("%s%v = %v (present %v), want at least %v", c.name, c.labels, v, ok, c.min)
		}
	}
	stopWatch()
	testenv.Until(t, 10*time.Second, "the watch stream counted closed", func() bool {
		v, _ := value(scrape(t, addr), "sparc_watch_streams_open", nil)
		return v == 0
	})
}

// TestDashboardAndRulesMetricsExist: every metric the alert rules and the
// Grafana dashboard query is in a scrape of a real server, so a renamed
// metric cannot leave a silent alert or an empty panel behind.
func TestDashboardAndRulesMetricsExist(t *testing.T) {
	env, r := metricsServer(t)
	r.Refer(t, "metrics-test-2")
	if _, err := env.HTTP.Get(env.HTTPBase + "/v1/assets:search?latitude=52.48&longitude=-1.86&radius_meters=3000"); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, env.App.MetricsAddr())

	rules, err := os.ReadFile("../../deploy/prometheus/sparc-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	dashboard, err := os.ReadFile("../../deploy/grafana/sparc.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(dashboard, &d); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	// The rules' expressions, and the names they record (which panels
	// may query in turn).
	recorded := map[string]bool{}
	for _, line := range strings.Split(string(rules), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "- record: "); ok {
			recorded[name] = true
		}
	}
	exprs = append(exprs, string(rules))

	metric := regexp.MustCompile(`\b(?:sparc_[a-z0-9_]+|grpc_server_[a-z_]+|process_[a-z_]+|go_[a-z_]+)\b`)
	var checked []string
	for _, e := range exprs {
		for _, name := range metric.FindAllString(e, -1) {
			if recorded[name] || slices.Contains(checked, name) {
				continue
			}
			checked = append(checked, name)
			base := name
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if b, ok := strings.CutSuffix(name, suffix); ok && fams[b] != nil && fams[b].GetType() == dto.MetricType_HISTOGRAM {
					base = b
				}
			}
			if fams[base] == nil {
				t.Errorf("%s is queried (rules or dashboard) but not in a scrape of sparcd", name)
			}
		}
	}
	if len(checked) < 15 {
		t.Errorf("only %d metric names found in the rules and the dashboard: %v", len(checked), checked)
	}
}
