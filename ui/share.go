package ui

import (
	"context"
	"fmt"
	"strconv"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/labstack/echo/v5"

	"github.com/strata-obs/strata/query"
	"github.com/strata-obs/strata/topology/graph"
)

// The LB page's panel of what its failing instances share: rows shown, values charted.
const (
	maxShareRows = 10
	maxShareBars = 5
)

// shareData is the LB page's "what do the DOWN instances share" panel: | compare of the LB's
// DOWN instances against the other instances of their services.
type shareData struct {
	Query    string // the path query behind it, for the search page
	Href     string
	Failing  int
	Table    *table
	Chart    *chartView
	Warnings []string
	Error    string
}

// sharedByFailing runs | compare on the LB's DOWN instances; nil when none is DOWN.
func (u *UI) sharedByFailing(ctx context.Context, c *echo.Context, g *graph.Graph, lb *graph.Entity, at string) *shareData {
	failing := 0
	for _, svc := range g.Below(lb.Ref, graph.Service) {
		for _, inst := range g.Below(svc.Ref, graph.Instance) {
			if inst.Attrs.Get("health") == "DOWN" {
				failing++
			}
		}
	}
	if failing == 0 {
		return nil
	}
	text := fmt.Sprintf(`lb{id=%s} -> instance{health="DOWN"} | compare`, query.Quote(lb.ID))
	d := &shareData{Query: text, Href: pathQueryHref(text, at), Failing: failing}
	q, err := query.Parse(text, u.opts.Limits)
	if err == nil {
		var res *query.Result
		if res, err = query.Eval(ctx, g, q, u.opts.Limits); err == nil {
			d.Warnings = res.Warnings
			d.fill(c, res, at)
		}
	}
	if err != nil {
		d.Error = err.Error()
	}
	return d
}

// fill makes the panel's table (the first rows, each value a link to its holders) and its
// chart (the share in the set beside the share in the baseline, per top value).
func (d *shareData) fill(c *echo.Context, res *query.Result, at string) {
	rows := res.Rows[:min(len(res.Rows), maxShareRows)]
	var shown []row
	for _, r := range rows {
		layer := cell{Text: r[0]}
		if r[1] == "id" && (r[0] == string(graph.Host) || r[0] == string(graph.Image)) { // a host or an image itself: its page
			layer.Href = entityHref(graph.Kind(r[0]), r[2], at)
		}
		value := cell{Text: r[2]}
		if r[7] != "" {
			value.Href = pathQueryHref(r[7], at)
		}
		shown = append(shown, row{Cells: []cell{layer, {Text: r[1]}, value,
			{Text: r[3], Class: "count"}, {Text: r[4], Class: "count"}, {Text: r[5], Class: "count"}, {Text: r[6], Class: "count"}}})
	}
	d.Table = newTable(c, "shared", []string{"layer", "attribute", "value", "in_set", "in_baseline", "difference", "p_value"}, shown, maxShareRows)
	n := min(len(rows), maxShareBars)
	if n == 0 {
		return
	}
	names, hrefs := make([]string, n), make([]string, n)
	set, base := make([]opts.BarData, n), make([]opts.BarData, n)
	for i, r := range rows[:n] {
		names[i] = r[1] + "=" + r[2]
		if r[7] != "" {
			hrefs[i] = pathQueryHref(r[7], at)
		}
		s, _ := strconv.ParseFloat(r[3], 64)
		b, _ := strconv.ParseFloat(r[4], 64)
		set[i], base[i] = opts.BarData{Name: names[i], Value: s}, opts.BarData{Name: names[i], Value: b}
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(
		charts.WithInitializationOpts(chartInit("lb-shared", strconv.Itoa(max(160, 60+48*n))+"px")),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true)}),
		charts.WithAnimation(false),
		charts.WithGridOpts(opts.Grid{Left: "1%", Right: "4%", Top: "30", Bottom: "10", ContainLabel: opts.Bool(true)}),
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Min: 0, Max: 1}),
		charts.WithYAxisOpts(opts.YAxis{Type: "category", Inverse: opts.Bool(true)}),
	)
	bar.SetXAxis(names).
		AddSeries("DOWN instances", set, charts.WithItemStyleOpts(opts.ItemStyle{Color: healthColour("DOWN")})).
		AddSeries("the others of their services", base, charts.WithItemStyleOpts(opts.ItemStyle{Color: colourService}))
	bar.XYReversal()
	if chart, err := renderChart(bar, "lb-shared", hrefs); err == nil {
		d.Chart = &chart
	} else {
		d.Error = err.Error()
	}
}
