package topology

import (
	"cmp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// Collector exposes the latest graph's series on /metrics, with the refresh's own health.
func (r *Refresher) Collector() prometheus.Collector { return graphCollector{r} }

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
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(refreshDurationName, refreshDurationHelp, nil, nil), prometheus.GaugeValue, c.r.LastDuration().Seconds())
}
