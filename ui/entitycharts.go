package ui

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/labstack/echo/v5"

	"github.com/strata-obs/strata/topology/graph"
)

// entityChart is one chart of an entity page: a line chart, or why there is none.
type entityChart struct {
	Title string
	Expr  string // the PromQL it draws, a link to the PromQL page
	Href  string
	Chart *chartView // nil: no series
	Error string
}

// entityChartsView is the charts section of an entity page.
type entityChartsView struct {
	Ranges []navItem // the windows it may draw (?range=)
	Src    string    // the ECharts file
	Charts []entityChart
}

// chartExpr is one chart of a kind: a title and the PromQL of an entity's series.
type chartExpr struct {
	title string
	expr  func(e *graph.Entity) string
}

// entityChartExprs lists the charts of each kind; a kind not listed has none.
func entityChartExprs(kind graph.Kind) []chartExpr {
	switch kind {
	case graph.Container:
		return []chartExpr{
			{"CPU (cores, 5m rate)", func(e *graph.Entity) string {
				return "sum by (container_id) (rate(strata_container_cpu_usage_seconds_total" + selector("container_id", e.ID) + "[5m]))"
			}},
			{"memory working set (bytes)", func(e *graph.Entity) string {
				return "sum by (container_id) (strata_container_memory_working_set_bytes" + selector("container_id", e.ID) + ")"
			}},
		}
	case graph.Instance:
		return []chartExpr{{"health (1 while in that state)", func(e *graph.Entity) string {
			// An instance the LB does not name is known by its address, as history reads it.
			kv := []string{"lb", e.Attrs.Get("lb"), "service", e.Attrs.Get("service"), "server", e.Attrs.Get("server")}
			if e.Attrs.Get("server") == "" {
				kv = append(kv, "address", e.Attrs.Get("address"), "port", e.Attrs.Get("port"))
			}
			return "max by (health) (strata_topology_instance_info" + selector(kv...) + ")"
		}}}
	case graph.Host:
		return []chartExpr{{"containers", func(e *graph.Entity) string {
			return "count(strata_topology_container_info" + selector("host", e.ID) + ")"
		}}}
	}
	return nil
}

// selector writes {name="value", …} from pairs, each value quoted for PromQL.
func selector(kv ...string) string {
	parts := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+"="+strconv.Quote(kv[i+1]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// entityCharts draws an entity's series over the hour up to the page's time (or now); nil
// when the UI has no series storage or the kind has no charts.
func (u *UI) entityCharts(c *echo.Context, e *graph.Entity) *entityChartsView {
	exprs := entityChartExprs(e.Kind)
	if u.opts.Series == nil || len(exprs) == 0 {
		return nil
	}
	start, end, step, err := u.chartRange(c)
	if err != nil {
		return nil
	}
	at := c.QueryParam("time")
	v := &entityChartsView{Src: AssetsPath + opts.EchartsJS, Ranges: chartRangeLinks(c)}
	for i, ce := range exprs {
		ch := entityChart{Title: ce.title, Expr: ce.expr(e)}
		ch.Href = withTime("/promql?expr="+url.QueryEscape(ch.Expr), at)
		series, err := u.opts.PromQL.EvalRange(c.Request().Context(), u.opts.Series, ch.Expr, start, end, step)
		if err == nil && len(series) > 0 {
			var chart chartView
			chart, err = lineChart(fmt.Sprintf("entity-chart-%d", i), series, start, end, step)
			ch.Chart = &chart
		}
		if err != nil {
			u.logger.Warn("entity chart", "expr", ch.Expr, "err", err)
			ch.Error, ch.Chart = err.Error(), nil
		}
		v.Charts = append(v.Charts, ch)
	}
	return v
}
