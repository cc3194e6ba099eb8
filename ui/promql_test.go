package ui

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/storage"

	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/query/promql"
	"github.com/strata-obs/strata/topology/graph"
)

// promqlStorage is a real embedded TSDB with the changes fixture's series, every 15 s from
// changesBefore to changesNow: container CPU and memory, s0's health (UP, then DOWN from
// changesAfter, when it moved into the container), the container's info series, a series
// whose labels hold markup, and 60 series of one name.
func promqlStorage(t *testing.T) storage.Queryable {
	t.Helper()
	db, err := store.Open(store.Options{Path: t.TempDir()}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	app := db.Appender(t.Context())
	add := func(series string, at time.Time, v float64) {
		t.Helper()
		ls, err := store.ParseSeries(series)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.Append(0, ls, at.UnixMilli(), v); err != nil {
			t.Fatal(err)
		}
	}
	container := `container_id="` + changesContainer + `", host="node-17"`
	for i, at := 0, changesBefore; !at.After(changesNow); i, at = i+1, at.Add(chartStep) {
		add(`strata_container_cpu_usage_seconds_total{`+container+`}`, at, 7.5*float64(i)) // half a core (rate says 0.49999999999999994, as Prometheus does)
		add(`strata_container_memory_working_set_bytes{`+container+`}`, at, 100<<20)
		health := "UP"
		if !at.Before(changesAfter) {
			health = "DOWN"
			add(`strata_topology_container_info{`+container+`, name="c1ps-0"}`, at, 1)
		}
		add(`strata_topology_instance_info{lb="edge", service="c1ps", server="s0", address="10.0.3.10", port="8080", position="0", health="`+health+`"}`, at, 1)
		add(`strata_hostile{note="</script><script>alert(\"x\")</script>", f="__f__function(){alert(1)}__f__"}`, at, 1)
		for n := range 60 {
			add(fmt.Sprintf(`strata_many{n="%02d"}`, n), at, float64(n))
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return db
}

func promqlURL(expr string, kv ...string) string {
	v := url.Values{"expr": {expr}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return "/promql?" + v.Encode()
}

const memorySeries = `strata_container_memory_working_set_bytes{container_id=\"` + changesContainer + `\", host=\"node-17\"}`

func TestPromQLGolden(t *testing.T) {
	u := changesUI(t, promqlStorage(t))
	runPageCases(t, u, []pageCase{
		{name: "promql-examples", path: "/promql", code: http.StatusOK,
			holds: []string{`<a href="/promql" aria-current="page">PromQL</a>`,
				`<a href="/promql?expr=count&#43;by&#43;%28kernel_release%29&#43;%28strata_topology_host_info%29">`}},
		// The chart draws the series (JSON in the script, ECharts from strata itself); the
		// table has its value at the end.
		{name: "promql-chart", path: promqlURL(`strata_container_memory_working_set_bytes`), code: http.StatusOK,
			holds: []string{`<div class="item" id="promql-chart"`, `<script src="/ui/assets/echarts.min.js"></script>`,
				`"name":"` + memorySeries + `"`, `"data":["09:10:00","09:10:15",`, `"10:10:00"]`,
				`<td>` + strings.ReplaceAll(memorySeries, `\"`, `&#34;`) + `</td><td class="value">104857600</td>`,
				"A range query from 2026-11-20 09:10:00 UTC to 2026-11-20 10:10:00 UTC every 15s"},
			lacks: []string{"https://", "cdn"}},
		// The last 24 hours: about 240 steps of 6 minutes, the axis labelled with the day.
		{name: "promql-range-24h", path: promqlURL(`strata_container_memory_working_set_bytes`, "range", "24h"), code: http.StatusOK,
			holds: []string{"A range query from 2026-11-19 10:10:00 UTC to 2026-11-20 10:10:00 UTC every 6m0s", `"data":["11-19 10:10","11-19 10:16",`,
				`<a href="?expr=strata_container_memory_working_set_bytes&amp;range=24h" aria-current="true">24h</a>`}},
		{name: "promql-rate", path: promqlURL(`sum by (container_id) (rate(strata_container_cpu_usage_seconds_total[5m]))`), code: http.StatusOK,
			holds: []string{`<td>{container_id=&#34;` + changesContainer + `&#34;}</td><td class="value">0.49999999999999994</td>`}},
		// ?time= ends the hour: s0 was UP, then DOWN; at the end only DOWN is left.
		{name: "promql-time", path: promqlURL(`max by (health) (strata_topology_instance_info)`, "time", "2026-11-20T09:40:00Z"), code: http.StatusOK,
			holds: []string{"As of 2026-11-20 09:40:00 UTC", `"name":"{health=\"DOWN\"}"`, `"name":"{health=\"UP\"}"`, `"data":["08:40:00",`,
				`<td>{health=&#34;DOWN&#34;}</td><td class="value">1</td>`, `<input type="hidden" name="time" value="2026-11-20T09:40:00Z">`,
				// Changing the as-of time keeps the expression.
				`<input type="hidden" name="expr" value="max by (health) (strata_topology_instance_info)">`},
			lacks: []string{`<td>{health=&#34;UP&#34;}</td>`}},
		// Prometheus's bad_data with the parser's position, and a caret under it.
		{name: "promql-bad", path: promqlURL(`sum(rate(strata_container_cpu_usage_seconds_total[5m])`), code: http.StatusBadRequest,
			holds: []string{"<code>bad_data</code>", "1:55: parse error: unclosed left parenthesis",
				"<pre class=\"caret\">sum(rate(strata_container_cpu_usage_seconds_total[5m])\n" + strings.Repeat(" ", 54) + "^</pre>"},
			lacks: []string{`id="promql-chart"`}},
		{name: "promql-range-vector", path: promqlURL(`strata_container_memory_working_set_bytes[5m]`), code: http.StatusBadRequest,
			holds: []string{"<code>bad_data</code>", `invalid expression type &#34;range vector&#34; for range query`}, lacks: []string{`class="caret"`}},
		{name: "promql-no-series", path: promqlURL(`strata_nothing`), code: http.StatusOK,
			holds: []string{`<p class="summary">no series</p>`}, lacks: []string{`id="promql-chart"`, "<table"}},
		// Markup in labels and in the expression stays text: JSON-escaped in the chart
		// (no "__f__" turned into code), HTML-escaped in the table and the box.
		{name: "promql-escaped", path: promqlURL(`strata_hostile{note=~".*</script>.*"}`), code: http.StatusOK,
			holds: []string{`\u003c/script\u003e\u003cscript\u003ealert(\\\"x\\\")\u003c/script\u003e`, `f=\"__f__function(){alert(1)}__f__\"`,
				`<td>strata_hostile{f=&#34;__f__function(){alert(1)}__f__&#34;, note=&#34;&lt;/script&gt;&lt;script&gt;alert(\&#34;x\&#34;)&lt;/script&gt;&#34;}</td>`,
				`value="strata_hostile{note=~&#34;.*&lt;/script&gt;.*&#34;}"`},
			lacks: []string{`<script>alert`, `</script>.*`, `alert(1)}__f__"`}},
		// Infinity has no JSON: a gap in the chart, the value in the table.
		{name: "promql-inf", path: promqlURL(`strata_container_memory_working_set_bytes / 0`), code: http.StatusOK,
			holds: []string{`"data":[{"value":"-"},`, `</td><td class="value">&#43;Inf</td>`}},
	})
	t.Run("promql-no-storage", func(t *testing.T) {
		code, body := getPage(changesUI(t, nil), promqlURL(`up`))
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "No series storage") {
			t.Errorf("without storage: %d\n%s", code, body)
		}
		goldenFile(t, "promql-no-storage", body)
	})
}

// At most maxChartSeries lines, and the page says so; the table lists every series.
func TestPromQLChartCut(t *testing.T) {
	u := changesUI(t, promqlStorage(t))
	code, body := getPage(u, promqlURL(`strata_many`))
	if code != http.StatusOK {
		t.Fatalf("%d\n%s", code, body)
	}
	if n := strings.Count(body, `"type":"line"`); n != maxChartSeries {
		t.Errorf("the chart draws %d series, want %d", n, maxChartSeries)
	}
	for _, s := range []string{"60 series: the chart draws only the first 50, sorted by labels.", `"name":"strata_many{n=\"49\"}"`, `<td>strata_many{n=&#34;59&#34;}</td><td class="value">59</td>`} {
		if !strings.Contains(body, s) {
			t.Errorf("the page lacks %q", s)
		}
	}
	if strings.Contains(body, `"name":"strata_many{n=\"50\"}"`) {
		t.Error("the chart draws the 51st series")
	}
}

func TestEntityChartsGolden(t *testing.T) {
	u := changesUI(t, promqlStorage(t))
	runPageCases(t, u, []pageCase{
		// A container: its CPU and memory, each with its PromQL one click away.
		{name: "promql-entity-container", path: "/entity/container/" + changesContainer, code: http.StatusOK,
			holds: []string{`<h2>Series over the last 1h</h2>`, `<script src="/ui/assets/echarts.min.js"></script>`,
				`id="entity-chart-0"`, `id="entity-chart-1"`, `"name":"{container_id=\"` + changesContainer + `\"}"`, `"value":0.49999999999999994`, `"value":104857600`,
				`<a class="meta" href="/promql?expr=sum&#43;by&#43;%28container_id%29&#43;%28rate%28strata_container_cpu_usage_seconds_total%7Bcontainer_id%3D%22` + changesContainer + `%22%7D%5B5m%5D%29%29">PromQL</a>`}},
		// An instance: its health over time, a series per state.
		{name: "promql-entity-instance", path: "/entity/instance/edge/c1ps/s0", code: http.StatusOK,
			holds: []string{`"name":"{health=\"UP\"}"`, `"name":"{health=\"DOWN\"}"`}},
		{name: "promql-entity-host", path: "/entity/host/node-17", code: http.StatusOK,
			holds: []string{"<h3>containers", `"name":"{}"`}},
		// Up to ?time=: node-18 ran no container then.
		{name: "promql-entity-no-series", path: "/entity/host/node-18?time=2026-11-20T09:50:00Z", code: http.StatusOK,
			holds: []string{`<p class="meta">no series</p>`, `href="/promql?expr=count%28strata_topology_container_info%7Bhost%3D%22node-18%22%7D%29&amp;time=2026-11-20T09%3A50%3A00Z"`},
			lacks: []string{`id="entity-chart-0"`}},
	})
	// A kind without charts has no section.
	if _, body := getPage(u, "/entity/service/edge/c1ps"); strings.Contains(body, `class="charts"`) {
		t.Error("a service page has charts")
	}
}

// An id is a PromQL string, never PromQL: an id that closes the selector selects nothing.
func TestEntityChartExprsQuote(t *testing.T) {
	db := promqlStorage(t)
	for _, kind := range []graph.Kind{graph.Container, graph.Instance, graph.Host} {
		e := &graph.Entity{Ref: graph.Ref{Kind: kind, ID: `x"} or vector(1) or {__name__=~"strata_many`},
			Attrs: graph.AttrsOf(map[string]string{"lb": `"}`, "service": `\`, "server": "\n"})}
		for _, ce := range entityChartExprs(kind) {
			expr := ce.expr(e)
			series, err := promql.EvalRange(t.Context(), db, expr, changesNow.Add(-time.Minute), changesNow, chartStep)
			if err != nil || len(series) != 0 {
				t.Errorf("%s %s: %d series, %v; want none", kind, expr, len(series), err)
			}
		}
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.05: "0.05", 104857600: "104857600", 1e21: "1e+21", 1e-7: "1e-07", math.Inf(1): "+Inf", math.NaN(): "NaN"} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", v, got, want)
		}
	}
}
