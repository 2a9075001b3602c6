package telemetry

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparc-network/sparc/internal/outbox"
)

var (
	deliveryEndpoints = prometheus.NewDesc("sparc_delivery_endpoints", "Delivery endpoints (webhooks; organisations with email on), by channel.", []string{"channel"}, nil)
	deliveryFailing   = prometheus.NewDesc("sparc_delivery_failing", "Endpoints whose last delivery attempt failed (backing off), by channel.", []string{"channel"}, nil)
	deliveryBacklog   = prometheus.NewDesc("sparc_delivery_backlog_changes", "Referral changes from the outbox not yet delivered, summed over endpoints, by channel.", []string{"channel"}, nil)
	outboxLag         = prometheus.NewDesc("sparc_outbox_lag_seconds", "Age of the oldest referral change a channel has not delivered yet (0: none waiting).", []string{"channel"}, nil)
	deliveryUp        = prometheus.NewDesc("sparc_delivery_stats_up", "1 when the channel's delivery state could be read at the scrape.", []string{"channel"}, nil)
)

// Deliveries reports a channel's backlog, read by stats at each scrape:
// its owner's SQL (webhooks.Worker.Backlog, notify.Worker.Backlog),
// bounded by a timeout of a few seconds.
func Deliveries(channel string, stats func(context.Context) (outbox.Backlog, error), log *slog.Logger) prometheus.Collector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return deliveries{channel: channel, stats: stats, log: log}
}

type deliveries struct {
	channel string
	stats   func(context.Context) (outbox.Backlog, error)
	log     *slog.Logger
}

func (d deliveries) Describe(ch chan<- *prometheus.Desc) {
	for _, desc := range []*prometheus.Desc{deliveryEndpoints, deliveryFailing, deliveryBacklog, outboxLag, deliveryUp} {
		ch <- desc
	}
}

func (d deliveries) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := d.stats(ctx)
	if err != nil {
		d.log.Warn("reading delivery state for metrics", "channel", d.channel, "err", err)
		ch <- prometheus.MustNewConstMetric(deliveryUp, prometheus.GaugeValue, 0, d.channel)
		return
	}
	lag := 0.0
	if !s.Oldest.IsZero() {
		lag = max(time.Since(s.Oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(deliveryUp, prometheus.GaugeValue, 1, d.channel)
	ch <- prometheus.MustNewConstMetric(deliveryEndpoints, prometheus.GaugeValue, float64(s.Endpoints), d.channel)
	ch <- prometheus.MustNewConstMetric(deliveryFailing, prometheus.GaugeValue, float64(s.Failing), d.channel)
	ch <- prometheus.MustNewConstMetric(deliveryBacklog, prometheus.GaugeValue, float64(s.Pending), d.channel)
	ch <- prometheus.MustNewConstMetric(outboxLag, prometheus.GaugeValue, lag, d.channel)
}
