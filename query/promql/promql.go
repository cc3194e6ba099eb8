// Package promql is the one place of strata that imports Prometheus's query engine
// (prometheus/prometheus promql; internal/store parses a series with its parser): the PromQL
// engine with strata's limits, Prometheus's query API over the embedded TSDB (internal/store)
// or proxied to an external Prometheus, and range reads for the UI's charts.
package promql
