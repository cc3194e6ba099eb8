package server_test

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-obs/strata/internal/testenv"
	"github.com/strata-obs/strata/query/promql"
	"github.com/strata-obs/strata/server"
	"github.com/strata-obs/strata/topology/source"
	"github.com/strata-obs/strata/topology/source/inventory"
)

// TestExplainPromQL: for each path query that has a PromQL equivalent, the PromQL that
// /api/v1/topology/query?explain=promql writes answers what the path query answers, on strata's
// embedded TSDB (in process, and through strata's /api/v1/query) and on a real Prometheus 2.42
// that scrapes strata's /metrics, whose series carry the job and instance labels of the
// scrape. The fleet is an inventory file (testdata/explain/fleet.yml); the path query's answers
// are checked against what that file says too, so that the two cannot agree on a wrong answer.
func TestExplainPromQL(t *testing.T) {
	testenv.Command(t, "prometheus")
	inv, err := inventory.New("fleet", filepath.Join("testdata", "explain", "fleet.yml"), 0)
	if err != nil {
		t.Fatal(err)
	}
	// One source, both halves under one name, as BuildSources passes an inventory.
	a := startApp(t, server.Options{RefreshInterval: time.Second,
		LBSources: []source.LoadBalancers{inv}, FactSources: []source.Facts{inv}})
	// 13 instances, each with one strata_topology_path_info row (an unresolved one too).
	const pathRows = 13
	testenv.Eventually(t, pollTimeout, "the fleet in the graph", func() error {
		return a.expect(`lb -> instance | count`, "", []string{strconv.Itoa(pathRows)})
	})

	target := strings.TrimPrefix(a.base, "http://")
	prom := startScrapingPrometheus(t, target)
	// Every PromQL is evaluated at one time at which Prometheus is known to hold the fleet: a
	// scrape that fails later (a loaded machine) writes staleness markers, which must not
	// empty an answer. The series Prometheus scraped carry the target's labels, which the
	// explained PromQL must aggregate away.
	var evalAt time.Time
	testenv.Eventually(t, pollTimeout, "strata_topology_path_info scraped by Prometheus", func() error {
		evalAt = time.Now()
		got, err := queryAPI(prom, "strata_topology_path_info", evalAt)
		if err != nil {
			return err
		}
		if len(got) != pathRows {
			return fmt.Errorf("%d series, want %d", len(got), pathRows)
		}
		for _, s := range got {
			if s.Labels["job"] != "strata" || s.Labels["instance"] != target {
				return fmt.Errorf("%v: want job=\"strata\" and instance=%q", s, target)
			}
		}
		return nil
	})

	engines := []promEngine{
		{"promql.EvalInstant on the embedded TSDB", func(expr string) ([]testenv.Sample, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			samples, err := promql.EvalInstant(ctx, a.Storage(), expr, evalAt)
			out := make([]testenv.Sample, 0, len(samples))
			for _, s := range samples {
				out = append(out, testenv.Sample{Labels: s.Labels.Map(), Value: s.Value})
			}
			return out, err
		}},
		{"strata's /api/v1/query", func(expr string) ([]testenv.Sample, error) { return queryAPI(a.base, expr, evalAt) }},
		{"Prometheus 2.42 scraping strata's /metrics", func(expr string) ([]testenv.Sample, error) { return queryAPI(prom, expr, evalAt) }},
	}

	for _, c := range []struct {
		name string
		q    string
		at   bool   // ask at evalAt with the time parameter, rather than the latest graph
		kind string // of the entities the path reaches
		want [][]string
	}{
		{name: "mission question", kind: "host",
			q: `service{name="c1ps"} -> instance[0] -> host .kernel_release .os_image`,
			want: [][]string{
				{"host", "node-3", "5.15.0-91-generic", "Ubuntu 22.04.3 LTS"}, // edge/c1ps/c1ps-0
				{"host", "node-4", "6.8.0-31-generic", "Ubuntu 24.04 LTS"},    // internal/c1ps/c1ps-a
			}},
		{name: "kernel mix behind an lb", kind: "host",
			q: `lb{name="edge"} -> host | count by (kernel_release)`,
			want: [][]string{
				{"5.15.0-91-generic", "1"},
				{"6.1.0-13-amd64", "2"},
				{"6.8.0-31-generic", "1"},
			}},
		{name: "lbs that depend on hardware", kind: "lb",
			q: `host{product_name="PowerEdge R640"} <- lb`, // node-1, node-3; spare is behind no lb
			want: [][]string{
				{"lb", "aws-alb/edge", "edge"},
				{"lb", "f5/internal", "internal"},
				{"lb", "inventory/legacy", "legacy"},
			}},
		{name: "where on an attribute not projected", kind: "host",
			q: `lb{name="edge"} -> host .os_image | where kernel_release =~ "6\\.1\\..*"`,
			want: [][]string{
				{"host", "node-1", "Debian GNU/Linux 12 (bookworm)"},
				{"host", "node-2", "Debian GNU/Linux 12 (bookworm)"},
			}},
		{name: "count of instances", kind: "instance",
			q:    `lb{name="edge"} -> instance | count`,
			want: [][]string{{"5"}}},
		{name: "count of hosts", kind: "host",
			q:    `service{name="c1ps"} -> host | count`, // both c1ps services
			want: [][]string{{"4"}}},
		{name: "count by a pick's host, counted once", kind: "host",
			q:    `service{name="c1ps"} -> instance[1] -> host | count by (os_image, product_name)`, // c1ps-1 and c1ps-b: node-1
			want: [][]string{{"Debian GNU/Linux 12 (bookworm)", "PowerEdge R640", "1"}}},
		{name: "instances on a host", kind: "instance",
			q: `host{id="node-1"} <- instance .address`,
			want: [][]string{
				{"instance", "edge/c1ps/c1ps-1", "10.20.0.1"},
				{"instance", "edge/web/web-0", "10.20.0.1"},
				{"instance", "internal/c1ps/c1ps-b", "10.20.0.1"},
			}},
		{name: "instances filtered in a step", kind: "instance",
			q: `lb{name="internal"} -> instance{position="1"} .address .health`,
			want: [][]string{
				{"instance", "internal/api/api-1", "10.20.0.2", "UNKNOWN"},
				{"instance", "internal/c1ps/c1ps-b", "10.20.0.1", "UNKNOWN"},
			}},
		{name: "instances counted by lb", kind: "instance",
			q:    `lb -> instance | count by (lb)`, // batch-1, unresolved, is an instance all the same
			want: [][]string{{"edge", "5"}, {"internal", "4"}, {"legacy", "2"}, {"orphans", "2"}}},
		{name: "services on a host", kind: "service",
			q: `host{id="node-2"} <- service`,
			want: [][]string{
				{"service", "edge/c1ps", "c1ps"},
				{"service", "internal/api", "api"},
				{"service", "legacy/old", "old"},
			}},
		{name: "hosts without projection", kind: "host",
			q: `lb{name="internal"} -> host`,
			want: [][]string{
				{"host", "node-1", "node-1"},
				{"host", "node-2", "node-2"},
				{"host", "node-4", "node-4"},
			}},
		{name: "at a time", kind: "host", at: true,
			q: `lb{name="legacy"} -> host .kernel_release`, // old-1's host is given by the inventory
			want: [][]string{
				{"host", "node-2", "6.1.0-13-amd64"},
				{"host", "node-3", "5.15.0-91-generic"},
			}},

		{name: "hosts behind an unresolved instance", kind: "host",
			q:    `lb{name="orphans"} -> host .kernel_release`,
			want: [][]string{{"host", "node-4", "6.8.0-31-generic"}}},
		{name: "kernel mix behind an unresolved instance", kind: "host",
			q:    `lb{name="orphans"} -> host | count by (kernel_release)`,
			want: [][]string{{"6.8.0-31-generic", "1"}}},
		{name: "count of nothing", kind: "instance",
			q:    `service{name="nope"} -> instance | count`,
			want: [][]string{{"0"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			params := url.Values{"q": {c.q}, "explain": {"promql"}}
			if c.at {
				params.Set("time", unix(evalAt))
			}
			var d server.QueryData
			if _, err := getAPI(a.base, "/api/v1/topology/query?"+params.Encode(), &d); err != nil {
				t.Fatal(err)
			}
			rows := sortedRows(d.Rows)
			if want := sortedRows(c.want); len(rows) == 0 || !slices.Equal(rows, want) {
				t.Fatalf("%s: path query answers %v (columns %v), want %v", c.q, rows, d.Columns, want)
			}
			for _, p := range compareExplained(c.q, c.kind, d, rows, engines) {
				t.Error(p)
			}
		})
	}
}

// promEngine evaluates PromQL at the test's evaluation time.
type promEngine struct {
	name string
	eval func(expr string) ([]testenv.Sample, error)
}

// compareExplained evaluates the PromQL that explains q on every engine and says where one
// answers otherwise than the path query's rows.
func compareExplained(q, kind string, d server.QueryData, rows []string, engines []promEngine) []string {
	if d.PromQL == "" {
		return []string{fmt.Sprintf("%s: no PromQL: %s", q, d.PromQLError)}
	}
	var problems []string
	for _, e := range engines {
		samples, err := e.eval(d.PromQL)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", e.name, err))
			continue
		}
		got, err := explainedRows(kind, d.Columns, samples)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s: %v", e.name, d.PromQL, err))
			continue
		}
		if !slices.Equal(sortedRows(got), rows) {
			problems = append(problems, fmt.Sprintf("%s: %s answers %v, the path query %s answers %v", e.name, d.PromQL, sortedRows(got), q, rows))
		}
	}
	return problems
}

// startScrapingPrometheus runs a real Prometheus that scrapes target's /metrics every second
// as job "strata", and returns its base URL once it is ready.
func startScrapingPrometheus(t *testing.T, target string) string {
	t.Helper()
	return testenv.StartPrometheus(t, testenv.Prometheus{Config: fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: strata\n    static_configs:\n      - targets: [%q]\n", target)})
}

// The strata_topology_path_info labels of docs/design.md, "Series and API contract" that stand for an entity of each kind
// (its identity), and for its attributes.
var (
	pathIdentity = map[string][]string{
		"lb":       {"lb"},
		"service":  {"lb", "service"},
		"instance": {"lb", "service", "server", "address", "position"},
		"host":     {"host"},
	}
	pathAttrLabel = map[string]map[string]string{
		"lb":       {"name": "lb"},
		"service":  {"name": "service", "lb": "lb"},
		"instance": {"name": "server", "lb": "lb", "service": "service", "server": "server", "address": "address", "position": "position", "health": "health"},
		"host":     {"name": "host", "kernel_release": "kernel_release", "os_image": "os_image", "product_name": "product_name"},
	}
	// fleetProviders is the provider of each LB of testdata/explain/fleet.yml: an lb's id is
	// provider/name, where strata_topology_path_info has the name only.
	fleetProviders = map[string]string{"edge": "aws-alb", "internal": "f5", "legacy": "inventory", "orphans": "gcp-lb", "cmdb-pool": "inventory"}
)

// pathID is the id of the entity of a kind that a PromQL sample stands for.
func pathID(kind string, l map[string]string) string {
	switch kind {
	case "lb":
		return fleetProviders[l["lb"]] + "/" + l["lb"]
	case "service":
		return l["lb"] + "/" + l["service"]
	case "instance":
		return l["lb"] + "/" + l["service"] + "/" + l["server"]
	}
	return l["host"]
}

// explainedRows turns the samples of an explained query into the rows the path query answers
// with columns: kind, id and projections (or name) for the entities of a kind; the groups and
// their count after | count. A sample must carry no label but those of its entity's identity,
// its projections or its groups: not the job and instance labels of a scrape.
func explainedRows(kind string, columns []string, samples []testenv.Sample) ([][]string, error) {
	count := len(columns) > 0 && columns[len(columns)-1] == "count"
	allowed := map[string]bool{}
	var attrs []string // the columns that are attributes
	if count {
		attrs = columns[:len(columns)-1]
	} else {
		if len(columns) < 2 || columns[0] != "kind" || columns[1] != "id" {
			return nil, fmt.Errorf("path columns %v: want kind, id, …", columns)
		}
		attrs = columns[2:]
		for _, l := range pathIdentity[kind] {
			allowed[l] = true
		}
	}
	labelsOf := make([]string, len(attrs))
	for i, a := range attrs {
		l, ok := pathAttrLabel[kind][a]
		if !ok {
			return nil, fmt.Errorf("no strata_topology_path_info label for the %s attribute %q", kind, a)
		}
		labelsOf[i], allowed[l] = l, true
	}
	var rows [][]string
	for _, s := range samples {
		for name := range s.Labels {
			if !allowed[name] {
				return nil, fmt.Errorf("sample %v has label %q, want only %v", s, name, slices.Sorted(maps.Keys(allowed)))
			}
		}
		var row []string
		if !count {
			row = append(row, kind, pathID(kind, s.Labels))
		}
		for _, l := range labelsOf {
			row = append(row, s.Labels[l])
		}
		if count {
			row = append(row, strconv.FormatFloat(s.Value, 'f', -1, 64))
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// sortedRows formats rows as querytest does and sorts them: neither answer has an order.
func sortedRows(rows [][]string) []string {
	out := rowsOf(rows)
	slices.Sort(out)
	return out
}
