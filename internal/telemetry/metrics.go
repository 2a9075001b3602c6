package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/hooks"
	"github.com/sparc-network/sparc/internal/httproute"
)

// Latency buckets (seconds) for gRPC and HTTP: fine below the 300 ms
// search objective, coarse above it.
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .2, .3, .5, 1, 2.5, 5, 10}

// Metrics is one process's Prometheus registry and the instruments the
// transport feeds. Build it with NewMetrics, hand Hooks to the server,
// add the sources (Pool, Deliveries, ...) and serve Handler on the
// metrics listener.
type Metrics struct {
	reg      *prometheus.Registry
	grpc     *grpcprom.ServerMetrics
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	watches  prometheus.Gauge
	refused  *prometheus.CounterVec
	imported *prometheus.CounterVec
	log      *slog.Logger
}

// NewMetrics builds the registry with the Go runtime and process
// collectors and the request instruments.
func NewMetrics(log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{reg: prometheus.NewRegistry(), log: log,
		grpc: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(latencyBuckets))),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sparc_http_requests_total", Help: "HTTP requests answered, by HTTP method and status code.",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sparc_http_request_duration_seconds", Help: "HTTP request latency until the handler returned, by HTTP method and status code.",
			Buckets: latencyBuckets,
		}, []string{"method", "code"}),
		watches: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sparc_watch_streams_open", Help: "Server streams (WatchReferrals) open now.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sparc_rate_limit_refusals_total", Help: "Calls refused with RESOURCE_EXHAUSTED (rate and stream limits), by reason.",
		}, []string{"reason"}),
		imported: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sparc_import_records_total", Help: "Directory import records handled (UpsertSourcedAssets), by outcome.",
		}, []string{"outcome"}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.grpc, m.requests, m.latency, m.watches, m.refused, m.imported)
	// Every reason and outcome exists from the start, at zero, so that
	// rates and alerts see the first one.
	for _, r := range []string{"RATE_LIMITED", "TOO_MANY_STREAMS"} {
		m.refused.WithLabelValues(r)
	}
	for _, o := range sparcv1.UpsertOutcome_name {
		m.imported.WithLabelValues(o)
	}
	return m
}

// Collector is a source of metrics (the ones below, or a caller's).
type Collector = prometheus.Collector

// Register adds collectors.
func (m *Metrics) Register(cs ...Collector) { m.reg.MustRegister(cs...) }

// Hooks are the transport's instruments: request counts and latencies,
// open watch streams, refusals and import progress.
func (m *Metrics) Hooks() hooks.Hooks {
	return hooks.Hooks{
		Unary:      []grpc.UnaryServerInterceptor{m.grpc.UnaryServerInterceptor(), m.countImports},
		Stream:     []grpc.StreamServerInterceptor{m.grpc.StreamServerInterceptor(), m.countWatches},
		HTTP:       []func(http.Handler) http.Handler{m.instrumentHTTP},
		Refused:    m.countRefusal,
		Registered: func(g *grpc.Server) { m.grpc.InitializeMetrics(g) }, // every method's series from the start, at zero
	}
}

func (m *Metrics) instrumentHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := httproute.NewRecorder(w)
		next.ServeHTTP(rec, r)
		method := r.Method
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		default:
			method = "other" // a client's verb must not grow the label set
		}
		code := strconv.Itoa(rec.Status)
		m.requests.WithLabelValues(method, code).Inc()
		m.latency.WithLabelValues(method, code).Observe(time.Since(start).Seconds())
	})
}

func (m *Metrics) countWatches(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if !info.IsServerStream {
		return h(srv, ss)
	}
	m.watches.Inc()
	defer m.watches.Dec()
	return h(srv, ss)
}

// countImports counts the outcomes of each import batch: how far an
// import has come, as the server sees it.
func (m *Metrics) countImports(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	if r, ok := resp.(*sparcv1.UpsertSourcedAssetsResponse); ok && err == nil {
		for _, res := range r.GetResults() {
			m.imported.WithLabelValues(res.GetOutcome().String()).Inc()
		}
	}
	return resp, err
}

func (m *Metrics) countRefusal(st *status.Status) {
	if st.Code() != codes.ResourceExhausted {
		return
	}
	reason := "other"
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			switch info.Reason {
			case "RATE_LIMITED", "TOO_MANY_STREAMS":
				reason = info.Reason
			}
		}
	}
	m.refused.WithLabelValues(reason).Inc()
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError, Timeout: 20 * time.Second})
}

// Listener serves /metrics on its own address, apart from the API ports:
// the figures are for the operator's scraper, not for API clients, and
// carry no authorisation of their own, so they must not share the public
// listener.
type Listener struct {
	lis net.Listener
	srv *http.Server
}

// Listen opens addr (":0" for a free port) for /metrics.
func (m *Metrics) Listen(addr string) (*Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return &Listener{lis: lis, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn)}}, nil
}

// Addr is where the listener listens.
func (l *Listener) Addr() string { return l.lis.Addr().String() }

// Serve answers scrapes until ctx ends.
func (l *Listener) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.srv.Shutdown(sctx)
	})
	defer stop()
	if err := l.srv.Serve(l.lis); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close gives the address back without serving.
func (l *Listener) Close() { _ = l.lis.Close() }

// Pool reports a pgx pool's statistics (pgxpool.Stat) at each scrape.
func Pool(pool *pgxpool.Pool) prometheus.Collector { return poolCollector{pool} }

var (
	poolConns    = prometheus.NewDesc("sparc_db_pool_connections", "Connections of the database pool now, by state.", []string{"state"}, nil)
	poolMax      = prometheus.NewDesc("sparc_db_pool_max_connections", "The database pool's connection limit.", nil, nil)
	poolAcquires = prometheus.NewDesc("sparc_db_pool_acquires_total", "Connections acquired from the pool.", nil, nil)
	poolWaited   = prometheus.NewDesc("sparc_db_pool_empty_acquires_total", "Acquires that had to wait for a connection (the pool was empty).", nil, nil)
	poolWait     = prometheus.NewDesc("sparc_db_pool_acquire_wait_seconds_total", "Time spent acquiring connections.", nil, nil)
	poolCanceled = prometheus.NewDesc("sparc_db_pool_canceled_acquires_total", "Acquires given up (the caller's context ended).", nil, nil)
)

type poolCollector struct{ pool *pgxpool.Pool }

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolConns, poolMax, poolAcquires, poolWaited, poolWait, poolCanceled} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(s.AcquiredConns()), "acquired")
	ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(s.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(s.ConstructingConns()), "constructing")
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaited, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWait, prometheus.CounterValue, s.AcquireDuration().Seconds())
	ch <- prometheus.MustNewConstMetric(poolCanceled, prometheus.CounterValue, float64(s.CanceledAcquireCount()))
}

// Database reports whether the database answers (sparc_database_up), a
// ping through the pool at each scrape: the "database down" alert's
// input, and the one figure a dead database cannot hide by having no
// requests to fail.
func Database(pool *pgxpool.Pool) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sparc_database_up", Help: "1 when the database answered a ping at the scrape, 0 when not.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if pool.Ping(ctx) != nil {
			return 0
		}
		return 1
	})
}

// EmbeddedDatabase reports the embedded PostgreSQL's supervisor
// (internal/pgcluster): how often it restarted the server, and whether it
// is healthy (nil error) by its own measure.
func EmbeddedDatabase(restarts func() int, healthy func() error) prometheus.Collector {
	return multi{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sparc_embedded_database_restarts_total", Help: "Times the embedded PostgreSQL server was started again after it died.",
		}, func() float64 { return float64(restarts()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sparc_embedded_database_healthy", Help: "0 when the embedded PostgreSQL has been down longer than its limit (sparcd's liveness fails), else 1.",
		}, func() float64 {
			if healthy() != nil {
				return 0
			}
			return 1
		}),
	}
}

// multi is several collectors as one.
type multi []prometheus.Collector

func (m multi) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m {
		c.Describe(ch)
	}
}

func (m multi) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m {
		c.Collect(ch)
	}
}
