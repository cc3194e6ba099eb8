package topology

import (
	"cmp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// Collector exposes the latest graph's series on /metrics. The refresh's own health is
// HealthCollector's: strata scrapes that one into its own TSDB, not a fleet's graph again.
func (r *Refresher) Collector() prometheus.Collector { return graphCollector{r} }

// HealthCollector exposes how the refreshes go: how long the last took against the interval,
// when the last ended, how many series it wrote, and each source's failures.
func (r *Refresher) HealthCollector() prometheus.Collector { return healthCollector{r} }

type graphCollector struct{ r *Refresher }

func (graphCollector) Describe(chan<- *prometheus.Desc) {} // unchecked: label sets vary

func (c graphCollector) Collect(ch chan<- prometheus.Metric) {
	help := FamilyHelps()
	for _, s := range c.r.Samples() {
		name := s.Name()
		var names, values []string
		s.Labels.Range(func(l labels.Label) {
			if l.Name != model.MetricNameLabel {
				names, values = append(names, l.Name), append(values, l.Value)
			}
		})
		m, err := prometheus.NewConstMetric(prometheus.NewDesc(name, cmp.Or(help[name], name), names, nil), prometheus.GaugeValue, s.Value, values...)
		if err == nil {
			ch <- m
		}
	}
}

type healthCollector struct{ r *Refresher }

var (
	refreshDurationDesc = prometheus.NewDesc(refreshDurationName, refreshDurationHelp, nil, nil)
	refreshIntervalDesc = prometheus.NewDesc("strata_refresh_interval_seconds",
		"The refresh interval (--topology.refresh-interval): a refresh slower than it delays the next.", nil, nil)
	refreshLastDesc = prometheus.NewDesc("strata_refresh_last_success_timestamp_seconds",
		"When the last refresh ended (0 before the first).", nil, nil)
	refreshSeriesDesc = prometheus.NewDesc("strata_refresh_series",
		"The series the last refresh made (strata_topology_*, strata_lifecycle_status and strata_host_support_end_timestamp_seconds, as /metrics serves them).", nil, nil)
	sourceErrorsDesc = prometheus.NewDesc("strata_source_errors_total",
		"Refreshes at which a source failed (its error: /api/v1/topology/sources).", []string{"source", "kind"}, nil)
)

func (healthCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{refreshDurationDesc, refreshIntervalDesc, refreshLastDesc, refreshSeriesDesc, sourceErrorsDesc} {
		ch <- d
	}
}

func (c healthCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.r
	r.mu.RLock()
	defer r.mu.RUnlock()
	ch <- prometheus.MustNewConstMetric(refreshDurationDesc, prometheus.GaugeValue, r.duration.Seconds())
	ch <- prometheus.MustNewConstMetric(refreshIntervalDesc, prometheus.GaugeValue, time.Duration(r.interval.Load()).Seconds())
	last := 0.0
	if !r.finished.IsZero() {
		last = float64(r.finished.UnixMilli()) / 1000
	}
	ch <- prometheus.MustNewConstMetric(refreshLastDesc, prometheus.GaugeValue, last)
	ch <- prometheus.MustNewConstMetric(refreshSeriesDesc, prometheus.GaugeValue, float64(len(r.series)))
	for key, st := range r.sources {
		ch <- prometheus.MustNewConstMetric(sourceErrorsDesc, prometheus.CounterValue, float64(st.errors), key.name, key.kind)
	}
}
