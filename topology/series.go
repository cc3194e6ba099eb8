package topology

import (
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/strata-obs/strata/internal/labelname"
	"github.com/strata-obs/strata/topology/graph"
)

// Sample is one series of the graph: its labels, the metric name among them, and its value.
type Sample struct {
	Labels labels.Labels
	Value  float64
}

// Name is the sample's metric name.
func (s Sample) Name() string { return s.Labels.Get(model.MetricNameLabel) }

// family declares one strata_topology_* family: name, help, fixed labels, whether allow-listed
// metadata labels (label_<name>) are added, and how the graph fills it. docs/topology-metrics.md
// names the same families (a test checks).
type family struct {
	Name       string
	Help       string
	Labels     []string
	MetaLabels bool
	fill       func(g *graph.Graph, emit func(meta map[string]string, values ...string))
}

// hostInfoAttrs and hostHardwareAttrs are the host attributes each host family carries.
var (
	hostInfoAttrs = []string{"hostname", "kernel_release", "kernel_version", "arch", "os_id", "os_version_id",
		"os_image", "image_id", "image_version", "machine_id"}
	hostHardwareAttrs = []string{"system_vendor", "product_name", "product_family", "product_version", "board_vendor",
		"board_name", "bios_vendor", "bios_version", "bios_date", "chassis_type", "cpu_model", "cpu_vendor",
		"virtualization", "cloud_provider", "instance_type"}
)

// families lists every series family the topology writes.
func families() []family {
	return []family{
		{Name: "strata_topology_lb_info", Help: "A load balancer; value 1.",
			Labels: []string{"lb", "provider", "addresses", "host", "stale"}, MetaLabels: true,
			fill: eachEntity(graph.LB, func(e *graph.Entity) []string {
				return []string{e.Name, e.Attrs["provider"], e.Attrs["addresses"], e.Attrs["host"]}
			})},
		{Name: "strata_topology_service_info", Help: "A service behind a load balancer (HAProxy backend, upstream, pool); value 1.",
			Labels: []string{"lb", "service", "namespace", "stale"}, MetaLabels: true,
			fill: eachEntity(graph.Service, func(e *graph.Entity) []string {
				return []string{e.Attrs["lb"], e.Name, e.Attrs["namespace"]}
			})},
		{Name: "strata_topology_instance_info", Help: "An instance of a service in the LB's own order (position from 0), with its health; value 1.",
			Labels: []string{"lb", "service", "server", "address", "port", "position", "health", "weight", "stale"}, MetaLabels: true,
			fill: eachEntity(graph.Instance, func(e *graph.Entity) []string {
				a := e.Attrs
				return []string{a["lb"], a["service"], a["server"], a["address"], a["port"], a["position"], a["health"], a["weight"]}
			})},
		{Name: "strata_topology_pod_info", Help: "A Kubernetes pod; value 1.",
			Labels: []string{"pod", "namespace", "pod_uid", "host", "ip", "stale"}, MetaLabels: true,
			fill: eachEntity(graph.Pod, func(e *graph.Entity) []string {
				return []string{e.Name, e.Attrs["namespace"], e.Attrs["uid"], e.Attrs["node"], e.Attrs["ip"]}
			})},
		{Name: "strata_topology_container_info", Help: "A container with its image, pod and host; value 1.",
			Labels: []string{"container_id", "name", "image", "image_id", "runtime", "pod", "namespace", "host", "stale"}, MetaLabels: true,
			fill: eachEntity(graph.Container, func(e *graph.Entity) []string {
				a := e.Attrs
				return []string{e.ID, e.Name, a["image"], a["image_id"], a["runtime"], a["pod"], a["namespace"], a["host"]}
			})},
		{Name: "strata_topology_image_info", Help: "A container image; value 1.",
			Labels: []string{"image", "name", "tag", "digest", "stale"},
			fill: eachEntity(graph.Image, func(e *graph.Entity) []string {
				return []string{e.ID, e.Name, e.Attrs["tag"], e.Attrs["digest"]}
			})},
		{Name: "strata_topology_host_info", Help: "A host with its kernel and OS image, merged from all sources by precedence; value 1.",
			Labels: append(append([]string{"host"}, hostInfoAttrs...), "stale"), MetaLabels: true,
			fill: eachEntity(graph.Host, func(e *graph.Entity) []string { return append([]string{e.ID}, attrs(e, hostInfoAttrs)...) })},
		{Name: "strata_topology_host_hardware_info", Help: "A host's hardware, merged from all sources by precedence; value 1.",
			Labels: append(append([]string{"host"}, hostHardwareAttrs...), "stale"),
			fill:   eachEntity(graph.Host, func(e *graph.Entity) []string { return append([]string{e.ID}, attrs(e, hostHardwareAttrs)...) })},
		// The other edges are already labels of the info series (service_info{lb},
		// instance_info{lb,service}, container_info{host,image,pod}, pod_info{host}); writing
		// them again would double the series of a large fleet for nothing.
		{Name: "strata_topology_edge_info", Help: "An edge the join resolved, from an instance to what runs it (pod, container or host), once per source it rests on; value 1.",
			Labels: []string{"from_kind", "from", "to_kind", "to", "source"},
			fill: func(g *graph.Graph, emit func(map[string]string, ...string)) {
				g.Each(graph.Instance, func(inst *graph.Entity) {
					for _, e := range g.Down(inst.Ref) {
						for _, src := range e.Sources {
							emit(nil, string(e.From.Kind), e.From.ID, string(e.To.Kind), e.To.ID, src)
						}
					}
				})
			}},
		{Name: "strata_topology_path_info", Help: "The whole path of an instance, one row per instance and container: LB, service, instance, pod, container, image, host and its kernel, OS image and hardware; value 1.",
			Labels: []string{"lb", "service", "server", "address", "position", "health", "pod", "namespace", "container_id", "image", "host", "kernel_release", "os_image", "product_name", "stale"},
			fill:   fillPaths},
	}
}

// familyHelp is the help text of a topology family.
func familyHelp(name string) string {
	for _, f := range families() {
		if f.Name == name {
			return f.Help
		}
	}
	if name == "strata_topology_source_up" {
		return "Whether the source answered the last refresh (1) or failed (0)."
	}
	return name
}

// eachEntity fills a family with one series per entity of a kind; the last label, stale, is
// "true" while the entity's sources have stopped answering (kept for --topology.stale-after).
func eachEntity(kind graph.Kind, values func(*graph.Entity) []string) func(*graph.Graph, func(map[string]string, ...string)) {
	return func(g *graph.Graph, emit func(map[string]string, ...string)) {
		g.Each(kind, func(e *graph.Entity) { emit(e.Labels, append(values(e), staleValue(e))...) })
	}
}

func staleValue(e *graph.Entity) string {
	if e != nil && e.Stale {
		return "true"
	}
	return ""
}

func attrs(e *graph.Entity, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = e.Attrs[n]
	}
	return out
}

// Path is one row of strata_topology_path_info: an instance and what runs it.
type Path struct {
	Instance, Pod, Container, Host *graph.Entity
}

// Paths walks every instance down to its pod, containers and host, in no particular order.
func Paths(g *graph.Graph) []Path {
	var out []Path
	g.Each(graph.Instance, func(inst *graph.Entity) { out = append(out, PathsOf(g, inst)...) })
	return out
}

// PathsOf walks one instance down to its pod, containers and host: one row per container,
// one row without container when the instance runs on a host directly or is unresolved.
func PathsOf(g *graph.Graph, inst *graph.Entity) []Path {
	var rows []Path
	for _, edge := range g.Down(inst.Ref) {
		target, _ := g.Get(edge.To)
		switch target.Kind {
		case graph.Pod:
			containers := g.Below(target.Ref, graph.Container)
			host := first(g.Below(target.Ref, graph.Host))
			if len(containers) == 0 {
				rows = append(rows, Path{Instance: inst, Pod: target, Host: host})
			}
			for _, c := range containers {
				rows = append(rows, Path{Instance: inst, Pod: target, Container: c, Host: firstOr(g.Below(c.Ref, graph.Host), host)})
			}
		case graph.Container:
			pod := first(g.Above(target.Ref, graph.Pod))
			rows = append(rows, Path{Instance: inst, Pod: pod, Container: target, Host: first(g.Below(target.Ref, graph.Host))})
		case graph.Host:
			rows = append(rows, Path{Instance: inst, Host: target})
		}
	}
	if len(rows) == 0 {
		rows = append(rows, Path{Instance: inst})
	}
	return rows
}

func first(es []*graph.Entity) *graph.Entity {
	if len(es) == 0 {
		return nil
	}
	return es[0]
}

func firstOr(es []*graph.Entity, or *graph.Entity) *graph.Entity {
	if len(es) == 0 {
		return or
	}
	return es[0]
}

func fillPaths(g *graph.Graph, emit func(map[string]string, ...string)) {
	get := func(e *graph.Entity, f func(*graph.Entity) string) string {
		if e == nil {
			return ""
		}
		return f(e)
	}
	for _, p := range Paths(g) {
		a := p.Instance.Attrs
		emit(nil, a["lb"], a["service"], a["server"], a["address"], a["position"], a["health"],
			get(p.Pod, func(e *graph.Entity) string { return e.Name }),
			get(p.Pod, func(e *graph.Entity) string { return e.Attrs["namespace"] }),
			get(p.Container, func(e *graph.Entity) string { return e.ID }),
			get(p.Container, func(e *graph.Entity) string { return e.Attrs["image"] }),
			get(p.Host, func(e *graph.Entity) string { return e.ID }),
			get(p.Host, func(e *graph.Entity) string { return e.Attrs["kernel_release"] }),
			get(p.Host, func(e *graph.Entity) string { return e.Attrs["os_image"] }),
			get(p.Host, func(e *graph.Entity) string { return e.Attrs["product_name"] }),
			staleValue(p.Instance))
	}
}

// Series turns the graph into its strata_topology_* series. Metadata labels (k8s labels, LB
// tags, inventory labels) become label_<name> only when allow-listed, so that cardinality
// stays bounded. Each entity's labels are unique by its identity, so no series repeats.
func Series(g *graph.Graph, allow []string) []Sample {
	allowed := map[string]bool{}
	for _, a := range allow {
		allowed[a] = true
	}
	var out []Sample
	b := labels.NewScratchBuilder(16)
	for _, f := range families() {
		f.fill(g, func(meta map[string]string, values ...string) {
			b.Reset()
			b.Add(model.MetricNameLabel, f.Name)
			for i, v := range values {
				if v != "" {
					b.Add(f.Labels[i], v)
				}
			}
			if f.MetaLabels {
				for k, v := range meta {
					if allowed[k] && v != "" {
						b.Add("label_"+labelname.Sanitize(k), v)
					}
				}
			}
			b.Sort()
			out = append(out, Sample{Labels: b.Labels(), Value: 1})
		})
	}
	return out
}
