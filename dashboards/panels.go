package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The panel kinds strata's dashboards are made of. Each takes one PromQL expression: keeping
// one query per panel keeps the panels easy to read and the tests easy to write.

// instantQuery evaluates expr once, at the end of the time range.
func instantQuery(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(datasource()).
		RefId("A").
		Expr(expr).
		Instant().
		LegendFormat(legend)
}

// rangeQuery evaluates expr over the time range.
func rangeQuery(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(datasource()).
		RefId("A").
		Expr(expr).
		Range().
		LegendFormat(legend)
}

// infoTable shows the series of an instant query as rows, one column per label. The columns
// the scraper adds and the constant value of info series are hidden; keepValue names the
// column the value is shown under instead, for counts.
func infoTable(title, description, expr, keepValue string) *table.PanelBuilder {
	excluded := map[string]bool{"Time": true, "__name__": true, "instance": true, "job": true}
	renamed := map[string]string{}
	if keepValue == "" {
		excluded["Value"] = true
	} else {
		renamed["Value"] = keepValue
	}
	return table.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		WithTarget(prometheus.NewDataqueryBuilder().
			Datasource(datasource()).
			RefId("A").
			Expr(expr).
			Instant().
			Format(prometheus.PromQueryFormatTable)).
		WithTransformation(dashboard.DataTransformerConfig{
			Id: "organize",
			Options: map[string]any{
				"excludeByName": excluded,
				"renameByName":  renamed,
			},
		}).
		Filterable(true).
		Span(24).
		Height(8)
}

// countBars shows one bar per group of an instant count by (...).
func countBars(title, description, expr, legend string) *bargauge.PanelBuilder {
	return bargauge.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		WithTarget(instantQuery(expr, legend)).
		Orientation(common.VizOrientationHorizontal).
		DisplayMode(common.BarGaugeDisplayModeBasic).
		Min(0).
		Span(12).
		Height(8)
}

// single shows one number.
func single(title, description, expr, unit string) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		WithTarget(instantQuery(expr, "")).
		GraphMode(common.BigValueGraphModeNone).
		Unit(unit).
		Span(6).
		Height(4)
}

// overTime draws expr over the time range, one line per series.
func overTime(title, description, expr, legend, unit string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		WithTarget(rangeQuery(expr, legend)).
		Unit(unit).
		Min(0).
		Span(12).
		Height(8)
}
