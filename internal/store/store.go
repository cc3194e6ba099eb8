// Package store is strata's embedded TSDB (Prometheus's tsdb): Open for a plain one, and
// OpenReopenable for strata serve's, which survives a full disk. The strata server writes the
// scraped and topology series to it; the topology reads a past graph from it, and its tests
// write histories to one.
package store

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/common/model"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/tsdb"
)

// Options configure the embedded TSDB.
type Options struct {
	Path      string        // --storage.path
	Retention time.Duration // --storage.retention
}

// Open opens (or creates) the embedded TSDB at opts.Path.
func Open(opts Options, logger *slog.Logger, reg prometheus.Registerer) (*tsdb.DB, error) {
	o := tsdb.DefaultOptions()
	if opts.Retention > 0 {
		o.RetentionDuration = opts.Retention.Milliseconds()
	}
	db, err := tsdb.Open(opts.Path, logger, reg, o, tsdb.NewDBStats())
	if err != nil {
		return nil, fmt.Errorf("open TSDB at %s: %w", opts.Path, err)
	}
	return db, nil
}

// ParseSeries reads a series in PromQL's notation, name{label="value", …}: what tests write
// into a store.
func ParseSeries(s string) (labels.Labels, error) {
	return parser.NewParser(parser.Options{}).ParseMetric(s)
}

// Sample is one series and its value: what the topology writes, what an instant query answers.
type Sample struct {
	Labels labels.Labels
	Value  float64
}

// Name is the sample's metric name.
func (s Sample) Name() string { return s.Labels.Get(model.MetricNameLabel) }
