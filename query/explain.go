package query

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-obs/strata/topology/graph"
)

// pathInfo is the flattened series one row of which the topology writes per instance and
// container (docs/design.md, "Series and API contract"): the PromQL that Explain writes selects it, so that dashboards and
// alert rules need no joins.
const pathInfo = "strata_topology_path_info"

// pathInfoLabels maps, for each kind, the attributes that strata_topology_path_info carries to
// its labels.
var pathInfoLabels = map[graph.Kind]map[string]string{
	graph.LB:        {"name": "lb"}, // an lb's id is provider/name: no label holds it
	graph.Service:   {"name": "service", "lb": "lb"},
	graph.Instance:  {"name": "server", "server": "server", "address": "address", "position": "position", "health": "health", "lb": "lb", "service": "service"},
	graph.Pod:       {"name": "pod", "namespace": "namespace"},
	graph.Container: {"id": "container_id", "image": "image"},
	graph.Image:     {"id": "image"},
	graph.Host:      {"id": "host", "kernel_release": "kernel_release", "os_image": "os_image", "product_name": "product_name", "lifecycle": "lifecycle"},
}

// presence is, for the kinds below the instance, the path_info label that is empty in a row
// whose instance reaches no entity of that kind (an unresolved instance has no host): such rows
// must not count as one.
var presence = map[graph.Kind]string{graph.Pod: "pod", graph.Container: "container_id", graph.Image: "image", graph.Host: "host"}

// identity is the path_info labels that tell one entity of a kind from another.
var identity = map[graph.Kind][]string{
	graph.LB:        {"lb"},
	graph.Service:   {"lb", "service"},
	graph.Instance:  {"lb", "service", "server", "address", "position"},
	graph.Pod:       {"namespace", "pod"},
	graph.Container: {"container_id"},
	graph.Image:     {"image"},
	graph.Host:      {"host"},
}

// Explain writes a query as PromQL over the strata_topology_* series, for Grafana panels and
// alert rules: count by the answer's identity and projections over strata_topology_path_info,
// whose rows are the paths from LBs down to hosts. It says why when a query has no such
// equivalent: a path that touches no LB, service or instance (path_info only holds what is
// behind an LB), an attribute path_info does not carry, a pick other than [i] on the instances
// of a service, sort and limit (PromQL orders by value), and diff.
func Explain(q *Query) (string, error) {
	if q.Diff != nil {
		return "", errors.New("diff has no PromQL equivalent: compare two instant queries at the two times instead")
	}
	steps := q.Path.Steps
	if !slices.ContainsFunc(steps, func(s Step) bool {
		return s.Kind == graph.LB || s.Kind == graph.Service || s.Kind == graph.Instance
	}) {
		return "", errors.New("the path touches no lb, service or instance, and strata_topology_path_info only holds what is behind a load balancer")
	}
	if !slices.ContainsFunc(steps, func(s Step) bool { return s.Kind.Depth() >= graph.Instance.Depth() }) {
		return "", errors.New("a path of lb and service steps only: strata_topology_path_info holds only those with instances; use strata_topology_lb_info or strata_topology_service_info")
	}
	var matchers []string
	for i, st := range steps {
		for _, m := range st.Matchers {
			if m.Numeric() {
				return "", fmt.Errorf("%s: %s{%s}: PromQL compares label values as text, not as numbers: no equivalent", st.Pos, st.Kind, m)
			}
			l, ok := pathInfoLabels[st.Kind][m.Name]
			if !ok {
				return "", fmt.Errorf("%s: %s{%s}: strata_topology_path_info has no label for the %s attribute %q", st.Pos, st.Kind, m, st.Kind, m.Name)
			}
			matchers = append(matchers, l+m.Op+strconv.Quote(m.Value))
		}
		if l, ok := presence[st.Kind]; ok && !slices.ContainsFunc(st.Matchers, func(m *Matcher) bool { return pathInfoLabels[st.Kind][m.Name] == l }) {
			matchers = append(matchers, l+`!=""`)
		}
		if st.Pick != nil {
			if st.Kind != graph.Instance || st.Pick.sliceRange || *st.Pick.Index < 0 || i == 0 || steps[i-1].Kind != graph.Service || st.Dir != Down {
				return "", fmt.Errorf("%s: only [i] (i ≥ 0) on the instances of a service (service -> instance[i]) has a PromQL equivalent, position=\"i\"", st.Pick.Pos)
			}
			matchers = append(matchers, "position="+strconv.Quote(strconv.Itoa(*st.Pick.Index)))
		}
	}
	target := steps[len(steps)-1].Kind
	by := slices.Clone(identity[target])
	for _, a := range q.Path.Project {
		l, ok := pathInfoLabels[target][a]
		if !ok {
			return "", fmt.Errorf("strata_topology_path_info has no label for the %s attribute %q", target, a)
		}
		if !slices.Contains(by, l) {
			by = append(by, l)
		}
	}
	x := &explained{target: target, matchers: matchers, by: by}
	for _, st := range q.Stages {
		kind, ok := stageNamed(st.Op)
		if !ok || kind.explain == nil {
			why := "PromQL orders and limits by value only"
			if st.Op == "compare" {
				why = "it tests every value beneath the set against a baseline"
			}
			return "", fmt.Errorf("%s: | %s has no PromQL equivalent (%s)", st.Pos, st.Op, why)
		}
		if err := kind.explain(x, st); err != nil {
			return "", err
		}
	}
	matchers, by, outer := x.matchers, x.by, x.outer
	sel := pathInfo
	if len(matchers) > 0 {
		sel += "{" + strings.Join(matchers, ", ") + "}"
	}
	if q.At != nil {
		sel += " @ " + strconv.FormatFloat(float64(q.At.UnixMilli())/1000, 'f', -1, 64)
	}
	if q.Offset > 0 {
		sel += " offset " + formatDuration(q.Offset)
	}
	expr := "count by (" + strings.Join(by, ", ") + ") (" + sel + ")"
	for _, o := range outer {
		expr = o + "(" + expr + ")"
	}
	if len(outer) > 0 && outer[len(outer)-1] == "count " {
		expr += " or vector(0)" // the path query counts 0 where PromQL's count of nothing is nothing
	}
	return expr, nil
}

// explained is the PromQL being written for a query: the path_info matchers, the labels of the
// inner count, and the aggregations around it, innermost first.
type explained struct {
	target   graph.Kind
	matchers []string
	by       []string
	outer    []string
}

// label is the path_info label of an attribute of the answer's kind, or of a count's group.
func (x *explained) label(name string) (string, error) {
	if slices.Contains(x.by, name) {
		return name, nil
	}
	if l, ok := pathInfoLabels[x.target][name]; ok {
		return l, nil
	}
	return "", fmt.Errorf("strata_topology_path_info has no label for the %s attribute %q", x.target, name)
}

// formatDuration writes a duration as PromQL does (1h30m, 90s).
func formatDuration(d interface{ Seconds() float64 }) string {
	s := int64(d.Seconds())
	var b strings.Builder
	for _, u := range []struct {
		n    int64
		unit string
	}{{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}} {
		if s >= u.n {
			fmt.Fprintf(&b, "%d%s", s/u.n, u.unit)
			s %= u.n
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}
