package dashboards

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

// documentedMetricsFiles are the pages that name every series strata emits, one table row
// per metric with the name in backticks in the first cell.
var documentedMetricsFiles = []string{"../docs/metrics.md", "../docs/topology.md"}

// metricRow matches the first cell of a metric table row: | `strata_host_info` | ...
var metricRow = regexp.MustCompile("^\\|\\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\\s*\\|")

// knownMetrics returns the metric names the dashboards and rules may use: those strata's docs
// list, the scraper's up, the HAProxy exporter names in testdata/haproxy_metrics.txt, and the
// series the shipped recording rules write.
func knownMetrics(t testing.TB) map[string]bool {
	t.Helper()
	// up and scrape_duration_seconds: the scraper's own, for every target; and what
	// Prometheus's libraries serve on strata's /metrics beside its own series (the "strata
	// itself" dashboard's): the TSDB's and the process's.
	known := map[string]bool{"up": true, "scrape_duration_seconds": true, "prometheus_tsdb_head_series": true,
		"prometheus_tsdb_head_min_time": true, "prometheus_tsdb_head_max_time": true,
		"process_resident_memory_bytes": true, "process_cpu_seconds_total": true}
	for name := range documentedLabels(t) {
		known[name] = true
	}
	for _, r := range rulesLoad(t, rulesFile) {
		if r.Record != "" {
			known[r.Record] = true
		}
	}
	for _, n := range readLines(t, filepath.Join("testdata", "haproxy_metrics.txt"), func(line string) (string, bool) {
		line = strings.TrimSpace(line)
		return line, line != "" && !strings.HasPrefix(line, "#")
	}) {
		known[n] = true
	}
	return known
}

// backticked matches the names a docs table cell lists: `host`, `label_<name>`…
var backticked = regexp.MustCompile("`([^`]*)`")

// documentedLabels returns, for every metric the docs' tables list, the label names its
// "labels" column gives. A label_<name> entry stands for every label_ prefixed name.
func documentedLabels(t testing.TB) map[string]map[string]bool {
	t.Helper()
	families := make(map[string]map[string]bool)
	for _, path := range documentedMetricsFiles {
		labelsColumn := -1
		rows := readLines(t, path, func(line string) (string, bool) { return line, strings.HasPrefix(line, "|") })
		found := 0
		for _, row := range rows {
			cells := strings.Split(strings.Trim(row, "|"), "|")
			if strings.TrimSpace(cells[0]) == "metric" {
				labelsColumn = -1
				for i, c := range cells {
					if strings.TrimSpace(c) == "labels" {
						labelsColumn = i
					}
				}
				continue
			}
			m := metricRow.FindStringSubmatch(row)
			if m == nil || labelsColumn < 0 || labelsColumn >= len(cells) {
				continue
			}
			labels := map[string]bool{}
			for _, l := range backticked.FindAllStringSubmatch(cells[labelsColumn], -1) {
				labels[l[1]] = true
			}
			if strings.HasPrefix(m[1], "strata_topology_") {
				labels["cluster"] = true // a site's external label, on every topology series (docs/topology.md)
			}
			families[m[1]] = labels
			found++
		}
		if found == 0 {
			t.Fatalf("%s: no metric table rows with a labels column found", path)
		}
	}
	return families
}

// allowsLabel reports whether a family documents the label, label_<name> standing for every
// allow-listed metadata label.
// scraped tells a series that reaches a store by a scrape, which adds instance and job: the
// exporter's and strata's own health (its /metrics), not the topology's, which strata writes
// itself, but for its refresh duration, on /metrics only.
func scraped(name string) bool {
	return !strings.HasPrefix(name, "strata_topology_") || name == "strata_topology_refresh_duration_seconds"
}

func allowsLabel(labels map[string]bool, name string) bool {
	return labels[name] || (labels["label_<name>"] && strings.HasPrefix(name, "label_"))
}

func readLines(t testing.TB, path string, keep func(string) (string, bool)) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := keep(s.Text()); ok {
			out = append(out, v)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return out
}

var (
	// durationVariables are Grafana's built-in variables that stand for a duration.
	durationVariables = regexp.MustCompile(`\$\{?__(rate_interval|interval|range)(_ms|_s)?\}?`)
	// otherVariables are $name, ${name} and ${name:format}; outside a range or offset they sit
	// in label values, where any word will do. $1 in label_replace is left alone.
	otherVariables = regexp.MustCompile(`\$\{[a-zA-Z_][a-zA-Z0-9_]*(:[a-z]+)?\}|\$[a-zA-Z_][a-zA-Z0-9_]*`)
)

// substituteVariables replaces Grafana's variables with placeholders PromQL parses.
func substituteVariables(expr string) string {
	expr = durationVariables.ReplaceAllString(expr, "5m")
	return otherVariables.ReplaceAllString(expr, "placeholder")
}

// metricsOf parses a PromQL expression (after substituting Grafana's variables) and returns
// the metric names its selectors name. A selector without a metric name is an error: the
// test could not tell which series it reads.
func metricsOf(expr string) ([]string, error) {
	parsed, err := parser.NewParser(parser.Options{}).ParseExpr(substituteVariables(expr))
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", expr, err)
	}
	var names []string
	var inspectErr error
	parser.Inspect(parsed, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name == "" {
			inspectErr = fmt.Errorf("%q: selector %s names no metric", expr, vs)
			return nil
		}
		names = append(names, vs.Name)
		return nil
	})
	sort.Strings(names)
	return names, inspectErr
}

// checkMetrics fails unless expr parses, names only known metrics, and matches strata's
// documented series only on the labels the docs give them.
func checkMetrics(t *testing.T, where, expr string, known map[string]bool, families map[string]map[string]bool) {
	t.Helper()
	names, err := metricsOf(expr)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	if len(names) == 0 {
		t.Errorf("%s: %q names no metric", where, expr)
	}
	for _, n := range names {
		// A histogram's series, documented as the histogram.
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
		if !known[n] && !known[base] {
			t.Errorf("%s: %q uses %s, which neither docs/metrics.md, docs/topology.md, testdata/haproxy_metrics.txt nor a recording rule of %s names", where, expr, n, rulesFile)
		}
	}
	for _, err := range undocumentedMatchers(expr, families) {
		t.Errorf("%s: %v", where, err)
	}
}

// undocumentedMatchers returns an error for each matcher on a documented strata series whose
// label the docs do not give that series: a typo (kernel for kernel_release) that would
// silently select nothing.
func undocumentedMatchers(expr string, families map[string]map[string]bool) []error {
	parsed, err := parser.NewParser(parser.Options{}).ParseExpr(substituteVariables(expr))
	if err != nil {
		return []error{err}
	}
	var errs []error
	parser.Inspect(parsed, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		labels, documented := families[vs.Name]
		if !documented {
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != "__name__" && !allowsLabel(labels, m.Name) && !(scraped(vs.Name) && (m.Name == "instance" || m.Name == "job")) {
				errs = append(errs, fmt.Errorf("%q matches %s on %s, which the docs do not give it", expr, vs.Name, m.Name))
			}
		}
		return nil
	})
	return errs
}

func TestMetricsOf(t *testing.T) {
	for _, tc := range []struct {
		expr    string
		want    string
		wantErr bool
	}{
		{expr: `count by (lb) (strata_topology_path_info{lb=~"$lb",host="${host}"})`, want: "strata_topology_path_info"},
		{expr: `rate(a_total{x="$x"}[$__rate_interval]) * on (x) group_left b offset $__range`, want: "a_total b"},
		{expr: `label_replace(up, "proxy", "$1", "service", "(.*)")`, want: "up"},
		{expr: `{__name__=~"strata_.*"}`, wantErr: true},
		{expr: `rate(up[$window])`, wantErr: true},
		{expr: `sum(`, wantErr: true},
	} {
		got, err := metricsOf(tc.expr)
		if (err != nil) != tc.wantErr {
			t.Errorf("metricsOf(%q) error = %v, want error %v", tc.expr, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && strings.Join(got, " ") != tc.want {
			t.Errorf("metricsOf(%q) = %v, want %s", tc.expr, got, tc.want)
		}
	}
}

func TestUndocumentedMatchers(t *testing.T) {
	families := map[string]map[string]bool{"strata_topology_host_info": {"host": true, "kernel_release": true, "label_<name>": true}}
	for expr, want := range map[string]int{
		`strata_topology_host_info{host="$host",kernel_release!=""}`: 0,
		`strata_topology_host_info{label_rack="r1"}`:                 0,
		`strata_topology_host_info{kernel="6.1"}`:                    1,
		`haproxy_server_status{proxy="$service"}`:                    0,
	} {
		if got := undocumentedMatchers(expr, families); len(got) != want {
			t.Errorf("undocumentedMatchers(%q) = %v, want %d errors", expr, got, want)
		}
	}
}

func TestKnownMetrics(t *testing.T) {
	known := knownMetrics(t)
	for _, n := range []string{"strata_host_info", "strata_topology_path_info", "strata_container_cpu_usage_seconds_total", "up", "haproxy_server_http_responses_total", "strata:service_instances:count"} {
		if !known[n] {
			t.Errorf("knownMetrics lacks %s", n)
		}
	}
}
