package ui

import (
	"encoding/json"
	"fmt"
	"html/template"

	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/go-echarts/go-echarts/v2/render"
)

// chartView is a go-echarts chart ready for a template: {{.Element}} where it draws, then
// {{.Script}} inside a <script> after <script src="{{.Src}}">.
//
// The script is written here rather than taken from go-echarts' snippet: go-echarts encodes
// its options with HTML escaping off and turns any string that starts or ends with "__f__"
// into raw JavaScript, so an entity named `</script>…` or `__f__…__f__` would run in the
// page. Here the options are encoded by encoding/json as they are (<, > and & as \u003c…,
// no "__f__" rewriting), so every name stays a string.
type chartView struct {
	Element template.HTML
	Script  template.JS
	Src     string // the ECharts file, served by strata
}

// echartsChart is what every go-echarts chart has.
type echartsChart interface {
	RenderSnippet() render.ChartSnippet
	JSON() map[string]any
}

// chartInit is every chart's initialization: a fixed id (pages compare with golden files),
// ECharts from AssetsPath rather than go-echarts' CDN, the page's width.
func chartInit(id, height string) opts.Initialization {
	return opts.Initialization{ChartID: id, AssetsHost: AssetsPath, Width: "100%", Height: height}
}

// renderChart turns a chart, initialized with chartInit(id, …), into a chartView. hrefs, when
// given, are the links of the chart's data items by index (a bar, a sankey node): a click
// opens one. They are the page's own links (withTime, entityHref), never a user's string.
func renderChart(c echartsChart, id string, hrefs []string) (chartView, error) {
	snippet := c.RenderSnippet() // first: it completes the options (axes, assets)
	option, err := json.Marshal(c.JSON())
	if err != nil {
		return chartView{}, fmt.Errorf("encode chart options: %w", err)
	}
	links, err := json.Marshal(hrefs)
	if err != nil {
		return chartView{}, fmt.Errorf("encode chart links: %w", err)
	}
	elementID, err := json.Marshal(id)
	if err != nil {
		return chartView{}, fmt.Errorf("encode chart id: %w", err)
	}
	script := fmt.Sprintf(`(function () {
  var chart = echarts.init(document.getElementById(%s), null, {renderer: "canvas"});
  chart.setOption(%s);
  var hrefs = %s || [];
  chart.on("click", function (p) { var h = p.dataType === "edge" ? "" : hrefs[p.dataIndex]; if (h) { window.location.href = h; } });
  window.addEventListener("resize", function () { chart.resize(); });
})();`, elementID, option, links)
	return chartView{Element: template.HTML(snippet.Element), Script: template.JS(script), Src: AssetsPath + opts.EchartsJS}, nil
}
