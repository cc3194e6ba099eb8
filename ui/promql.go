package ui

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/labstack/echo/v5"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/query/promql"
)

// The PromQL page and the entity charts draw the hour up to the page's time, at Prometheus's
// default scrape interval: 241 points a series.
const (
	chartWindow = time.Hour
	chartStep   = 15 * time.Second
)

const (
	// maxChartSeries bounds the lines of one chart: past that a chart is unreadable and the
	// page heavy. The table still lists them.
	maxChartSeries = 50
	// maxPromQLRows bounds the PromQL page's table.
	maxPromQLRows = 1000
)

// promqlExamples start the PromQL page, over the series strata writes.
var promqlExamples = []struct{ Expr, What string }{
	{`count by (kernel_release) (strata_topology_host_info)`, "hosts per kernel"},
	{`count by (health) (strata_topology_instance_info)`, "instances per health"},
	{`topk(10, rate(strata_container_cpu_usage_seconds_total[5m]))`, "the ten busiest containers"},
	{`strata_topology_source_up`, "whether each source answered"},
}

type promqlData struct {
	Expr       string
	Time       string // the page's ?time=, kept by the form
	Start, End time.Time
	Step       time.Duration
	Ranges     []navItem // the windows it may draw (?range=)
	Table      *table    // each series' value at the end
	NoStorage  bool
	Error      string
	ErrorType  string
	Caret      string
	Ran        bool
	Chart      *chartView
	Drawn      int // series drawn
	Series     int // series answered
	RowsCut    int // rows left out of the table
	Examples   []struct{ Expr, What, Href string }
}

// promqlPage runs ?expr= as a range query over the hour up to ?time= (or now) on the series
// storage: a line chart of the first maxChartSeries series and a table of every series' value
// at the end, as an instant query at that time answers.
func (u *UI) promqlPage(c *echo.Context) error {
	d := promqlData{Expr: strings.TrimSpace(c.QueryParam("expr")), Time: c.QueryParam("time")}
	var err error
	d.Ranges = chartRangeLinks(c)
	if d.Start, d.End, d.Step, err = u.chartRange(c); err != nil {
		d.Error = "time: " + err.Error()
		return u.render(c, http.StatusBadRequest, "promql", "PromQL", d)
	}
	if d.Expr == "" {
		for _, e := range promqlExamples {
			d.Examples = append(d.Examples, struct{ Expr, What, Href string }{e.Expr, e.What, withTime("/promql?expr="+url.QueryEscape(e.Expr), d.Time)})
		}
		return u.render(c, http.StatusOK, "promql", "PromQL", d)
	}
	if u.opts.Series == nil {
		d.NoStorage = true
		return u.render(c, http.StatusServiceUnavailable, "promql", "PromQL", d)
	}
	series, err := u.opts.PromQL.EvalRange(c.Request().Context(), u.opts.Series, d.Expr, d.Start, d.End, d.Step)
	if err != nil {
		var ee *promql.EvalError
		code := http.StatusUnprocessableEntity
		if errors.As(err, &ee) {
			d.ErrorType, d.Error = ee.Type, ee.Err.Error()
			if ee.Line > 0 {
				d.Caret = caret(d.Expr, &query.Error{Pos: query.Pos{Line: ee.Line, Col: ee.Col}})
			}
			if ee.Type == "bad_data" {
				code = http.StatusBadRequest
			}
		} else {
			d.Error = err.Error()
		}
		return u.render(c, code, "promql", "PromQL", d)
	}
	d.Ran, d.Series = true, len(series)
	if len(series) > 0 {
		chart, err := lineChart("promql-chart", series, d.Start, d.End, d.Step)
		if err != nil {
			return err
		}
		d.Chart, d.Drawn = &chart, min(len(series), maxChartSeries)
	}
	end := d.End.UnixMilli()
	var rows []row
	for _, s := range series {
		if n := len(s.Points); n > 0 && s.Points[n-1].T.UnixMilli() == end {
			if len(rows) == maxPromQLRows {
				d.RowsCut++
				continue
			}
			rows = append(rows, row{Cells: []cell{{Text: seriesName(s.Labels)}, {Text: formatValue(s.Points[n-1].V), Class: "value"}}})
		}
	}
	if len(rows) > 0 {
		d.Table = newTable(c, "", []string{"series", "value"}, rows, 0)
		if d.Table.wantsCSV(c) {
			return d.Table.writeCSV(c, "strata-promql")
		}
	}
	return u.render(c, http.StatusOK, "promql", "PromQL", d)
}

// chartRanges are the windows a chart offers (?range=), as Grafana's "last 15 minutes" …; each
// is drawn in about 240 steps.
var chartRanges = []struct {
	Param  string
	Window time.Duration
}{{"15m", 15 * time.Minute}, {"1h", time.Hour}, {"6h", 6 * time.Hour}, {"24h", 24 * time.Hour}}

// chartRange is the window the charts draw (?range=, an hour by default) up to the page's time,
// or now, and its step.
func (u *UI) chartRange(c *echo.Context) (start, end time.Time, step time.Duration, err error) {
	if end, err = asOf(c); err != nil {
		return start, end, step, err
	}
	if end.IsZero() {
		end = u.opts.Now().UTC().Truncate(time.Second)
	}
	window := chartWindow
	for _, r := range chartRanges {
		if r.Param == c.QueryParam("range") {
			window = r.Window
		}
	}
	step = max(chartStep, (window / 240).Truncate(time.Second))
	return end.Add(-window), end, step, nil
}

// chartRangeLinks are this page over each chart window, the current one marked.
func chartRangeLinks(c *echo.Context) []navItem {
	cur := c.QueryParam("range")
	var out []navItem
	for _, r := range chartRanges {
		q := c.Request().URL.Query()
		q.Set("range", r.Param)
		out = append(out, navItem{Title: r.Param, Href: "?" + q.Encode(), Current: cur == r.Param || (cur == "" && r.Window == chartWindow)})
	}
	return out
}

// lineChart draws the first maxChartSeries series of a range query over [start, end] as a
// go-echarts line chart: one x value per chartStep (UTC), a gap where a series has no point
// or a value JSON cannot carry (NaN, ±Inf).
func lineChart(id string, series []promql.Series, start, end time.Time, step time.Duration) (chartView, error) {
	series = series[:min(len(series), maxChartSeries)]
	var xs []string
	index := map[int64]int{}
	layout := "15:04:05"
	if end.Sub(start) > 12*time.Hour {
		layout = "01-02 15:04"
	}
	for t := start; !t.After(end); t = t.Add(step) {
		index[t.UnixMilli()] = len(xs)
		xs = append(xs, t.UTC().Format(layout))
	}
	line := charts.NewLine()
	line.SetGlobalOptions(
		charts.WithInitializationOpts(chartInit(id, "360px")),
		charts.WithAnimation(false),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Type: "scroll", Bottom: "0"}),
		charts.WithGridOpts(opts.Grid{Left: "3%", Right: "3%", Top: "8%", Bottom: "15%", ContainLabel: opts.Bool(true)}),
		charts.WithXAxisOpts(opts.XAxis{Name: "UTC"}),
	)
	line.SetXAxis(xs)
	for _, s := range series {
		data := make([]opts.LineData, len(xs))
		for i := range data {
			data[i] = opts.LineData{Value: "-"} // ECharts' empty value
		}
		for _, p := range s.Points {
			if i, ok := index[p.T.UnixMilli()]; ok && !math.IsNaN(p.V) && !math.IsInf(p.V, 0) {
				data[i] = opts.LineData{Value: p.V}
			}
		}
		line.AddSeries(seriesName(s.Labels), data, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false)}))
	}
	return renderChart(line, id, nil)
}

// seriesName writes a series as PromQL does: name{label="value", …}, or {} for none.
func seriesName(ls labels.Labels) string {
	var b strings.Builder
	b.WriteString(ls.Get(model.MetricNameLabel))
	b.WriteByte('{')
	first := true
	ls.Range(func(l labels.Label) {
		if l.Name == model.MetricNameLabel {
			return
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(l.Name + "=" + strconv.Quote(l.Value))
	})
	b.WriteByte('}')
	return b.String()
}

// formatValue writes a value as Prometheus's API does: no exponent between 1e-6 and 1e21.
func formatValue(f float64) string {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.FormatFloat(f, format, -1, 64)
}
