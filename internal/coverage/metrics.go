package coverage

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus metrics of the stored coverage. The rebuild's progress and
// the serving walking distance are read from the database at each scrape
// (coverage_generations), so every server reports the rebuild whichever
// server runs it; the apply batches are this server's own.
var (
	metricRebuilding = prometheus.NewDesc("sparc_coverage_rebuilding",
		"1 while a new generation of the stored coverage is being built (walking distance changed, areas imported, vocabulary changed).", nil, nil)
	metricRebuildDone = prometheus.NewDesc("sparc_coverage_rebuild_areas_done",
		"Areas the rebuild under way has computed and written (0 when none is under way).", nil, nil)
	metricRebuildTotal = prometheus.NewDesc("sparc_coverage_rebuild_areas_total",
		"Areas the rebuild under way computes (0 when none is under way).", nil, nil)
	metricServingWalk = prometheus.NewDesc("sparc_coverage_serving_walking_distance_meters",
		"Walking distance of the stored results serving reads (0: none yet).", nil, nil)
	metricStatusUp = prometheus.NewDesc("sparc_coverage_status_up",
		"1 when the stored coverage's state could be read for this scrape.", nil, nil)
	metricBatchSeconds = prometheus.NewDesc("sparc_coverage_apply_batch_seconds",
		"Time to apply one batch of asset changes to the stored coverage (reading the changes to the commit), on this server.", nil, nil)
	metricAppliedChanges = prometheus.NewDesc("sparc_coverage_applied_changes_total",
		"Asset changes applied to the stored coverage by this server.", nil, nil)
)

// Describe implements prometheus.Collector.
func (m *Maintainer) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{metricRebuilding, metricRebuildDone, metricRebuildTotal, metricServingWalk,
		metricStatusUp, metricBatchSeconds, metricAppliedChanges} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Maintainer) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := storedStatus(ctx, m.store.db)
	if err != nil {
		m.log.Warn("reading the stored coverage's state for metrics", "err", err)
		ch <- prometheus.MustNewConstMetric(metricStatusUp, prometheus.GaugeValue, 0)
	} else {
		ch <- prometheus.MustNewConstMetric(metricStatusUp, prometheus.GaugeValue, 1)
		rebuilding, done, total, walk := 0.0, 0.0, 0.0, 0.0
		if g := st.Building; g != nil {
			rebuilding, done, total = 1, float64(g.Done), float64(g.Total)
		}
		if g := st.Serving; g != nil {
			walk = g.Walk
		}
		ch <- prometheus.MustNewConstMetric(metricRebuilding, prometheus.GaugeValue, rebuilding)
		ch <- prometheus.MustNewConstMetric(metricRebuildDone, prometheus.GaugeValue, done)
		ch <- prometheus.MustNewConstMetric(metricRebuildTotal, prometheus.GaugeValue, total)
		ch <- prometheus.MustNewConstMetric(metricServingWalk, prometheus.GaugeValue, walk)
	}
	l := &m.batches
	l.mu.Lock()
	buckets := make(map[float64]uint64, len(batchBuckets))
	var cum uint64
	for i, le := range batchBuckets {
		if l.buckets != nil {
			cum += l.buckets[i]
		}
		buckets[le] = cum
	}
	count, sum, changes := l.count, l.seconds, l.changes
	l.mu.Unlock()
	ch <- prometheus.MustNewConstHistogram(metricBatchSeconds, count, sum, buckets)
	ch <- prometheus.MustNewConstMetric(metricAppliedChanges, prometheus.CounterValue, float64(changes))
}
