package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The panel kinds strata's dashboards are made of. Each takes one PromQL expression, but for
// columnsTable, whose columns are one expression each: keeping one query per panel or column
// keeps the panels easy to read and the tests easy to write.

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
	hidden := hiddenColumns()
	renamed := map[string]string{}
	if keepValue == "" {
		hidden["Value"] = true
	} else {
		renamed["Value"] = keepValue
	}
	return newTable(title, description).
		WithTarget(tableQuery("A", expr)).
		WithTransformation(organize(hidden, renamed))
}

// column is one value column of a columnsTable: its name, the instant query that fills it and
// its unit ("" for a plain number).
type column struct {
	name, expr, unit string
}

// columnsTable puts the values of several instant queries side by side, one row per label set
// they share (Grafana's merge), one column per query, sorted by the first, highest first: a
// count and the total and share it is out of, each from its own expression.
func columnsTable(title, description string, columns ...column) *table.PanelBuilder {
	renamed := map[string]string{}
	p := newTable(title, description).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}})
	for i, c := range columns {
		refID := string(rune('A' + i))
		// Grafana names the value of each of a table's queries after its refId.
		renamed["Value #"+refID] = c.name
		p.WithTarget(tableQuery(refID, c.expr))
		if c.unit != "" {
			p.WithOverride(dashboard.MatcherConfig{Id: "byName", Options: c.name},
				[]dashboard.DynamicConfigValue{{Id: "unit", Value: c.unit}})
		}
	}
	return p.WithTransformation(organize(hiddenColumns(), renamed)).
		SortBy([]cog.Builder[common.TableSortByFieldState]{
			common.NewTableSortByFieldStateBuilder().DisplayName(columns[0].name).Desc(true),
		})
}

// newTable is a filterable table across the dashboard's width.
func newTable(title, description string) *table.PanelBuilder {
	return table.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Filterable(true).
		Span(24).
		Height(8)
}

// tableQuery evaluates expr once, its series as the rows of a table.
func tableQuery(refID, expr string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(datasource()).
		RefId(refID).
		Expr(expr).
		Instant().
		Format(prometheus.PromQueryFormatTable)
}

// hiddenColumns are the columns no table shows: the time of an instant query, the metric's
// name, and the labels the scraper adds.
func hiddenColumns() map[string]bool {
	return map[string]bool{"Time": true, "__name__": true, "instance": true, "job": true}
}

// organize hides and renames a table's columns.
func organize(hidden map[string]bool, renamed map[string]string) dashboard.DataTransformerConfig {
	return dashboard.DataTransformerConfig{
		Id: "organize",
		Options: map[string]any{
			"excludeByName": hidden,
			"renameByName":  renamed,
		},
	}
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
