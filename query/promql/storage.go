// Package promql is the one place of strata that imports Prometheus's storage engine and
// query engine (prometheus/prometheus tsdb and promql): the embedded TSDB that strata up and
// strata serve write their series to, and the PromQL engine that reads them.
package promql

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/tsdb"
)

// StorageOptions configure the embedded TSDB.
type StorageOptions struct {
	Path      string        // --storage.path
	Retention time.Duration // --storage.retention
}

// OpenStorage opens (or creates) the embedded TSDB at opts.Path.
func OpenStorage(opts StorageOptions, logger *slog.Logger, reg prometheus.Registerer) (*tsdb.DB, error) {
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

// ParseSeries reads a series in PromQL's notation, name{label="value", …}.
func ParseSeries(s string) (labels.Labels, error) {
	return parser.NewParser(parser.Options{}).ParseMetric(s)
}
