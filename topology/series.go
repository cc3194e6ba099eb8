package topology

import (
	"sort"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/strata-obs/strata/internal/labelname"
	"github.com/strata-obs/strata/internal/store"
	"github.com/strata-obs/strata/topology/graph"
)

// family declares one strata_topology_* family: name, help, fixed labels, whether allow-listed
// metadata labels (label_<name>) are added, and how the graph fills it. docs/topology.md
// names the same families (a test checks).
type family struct {
	Name       string
	Help       string
	Labels     []string
	MetaLabels bool
	// fill calls emit once per series with the label values in the order of Labels. The
	// values slice is the caller's buffer, reused from one series to the next: a large
	// fleet's 700k series must not be 700k allocations.
	fill func(g *graph.Graph, v []string, emit emitFunc)
	// kind is the kind of entity the family has about one series for (edge_info and
	// path_info: for each instance), to size and order the work.
	kind graph.Kind
	// restore turns the family's series back into the graph (history.go).
	restore restorer
	// sparse: only some entities of kind have a series (a signal the LB counts), so that the
	// refresh does not make room for one per entity.
	sparse bool
	// valued: the series carry a value of their own (a signal's rate); the others are info
	// series, whose value is 1, and reading them back needs only their times.
	valued bool
}

// size is about how many series the family has in g: none expected of a sparse family, whose
// series only some entities have.
func (fam family) size(g *graph.Graph) int {
	if fam.sparse {
		return 0
	}
	return g.Count(fam.kind)
}

// hostInfoAttrs and hostHardwareAttrs are the host attributes each host family carries.
var (
	hostInfoAttrs = []string{"hostname", "kernel_release", "kernel_version", "arch", "os_id", "os_version_id",
		"os_image", "image_id", "image_version", "machine_id",
		"kernel_build_date", "kernels_installed", "reboot_required", "reboot_required_since", "support_end", "lifecycle"}
	hostHardwareAttrs = []string{"system_vendor", "product_name", "product_family", "product_version", "board_vendor",
		"board_name", "bios_vendor", "bios_version", "bios_date", "chassis_type", "cpu_model", "cpu_vendor",
		"virtualization", "cloud_provider", "instance_type"}
)

// The series of the refresh itself, beside the graph's families.
const (
	sourceUpName        = "strata_topology_source_up"
	sourceUpHelp        = "Whether the source answered the last refresh (1) or failed (0); a failed source's last report is kept, marked stale, for --topology.stale-after."
	writerInfoName      = "strata_topology_writer_info"
	writerInfoHelp      = "The strata that writes these series (its host and listen address); value 1, written at every refresh, so that its newest sample is the strata's clock. A global strata tells two strata that claim one site, and a site whose clock is off, by it."
	refreshDurationName = "strata_topology_refresh_duration_seconds"
	refreshDurationHelp = "How long the last refresh took (on /metrics only)."
	lifecycleStatusName = "strata_lifecycle_status"
	lifecycleStatusHelp = "A host's or an image's state against a rule of the lifecycle policy (support-end, the OS's end of support, for every host): state ok, warn, fail or unknown, and the reason; value 1."
	supportEndName      = "strata_host_support_end_timestamp_seconds"
	supportEndHelp      = "When a host's OS release stops being supported (os-release's SUPPORT_END, else strata's lifecycle data), in unix seconds."
)

// FamilyHelps maps each series strata writes (the topology families, the sources' health, the
// writer) to its help text: /metrics and the metadata API answer it.
func FamilyHelps() map[string]string {
	help := map[string]string{sourceUpName: sourceUpHelp, writerInfoName: writerInfoHelp, lifecycleStatusName: lifecycleStatusHelp,
		supportEndName: supportEndHelp}
	for _, f := range families() {
		help[f.Name] = f.Help
	}
	return help
}

// eachEntity fills a family with one series per entity of a kind; the last label, stale, is
// "true" while the entity's sources have stopped answering (kept for --topology.stale-after).
func eachEntity(kind graph.Kind, values func(e *graph.Entity, v []string)) func(*graph.Graph, []string, emitFunc) {
	return func(g *graph.Graph, v []string, emit emitFunc) {
		g.Each(kind, func(e *graph.Entity) {
			values(e, v)
			v[len(v)-1] = staleValue(e)
			emit(e.Labels, v, 1)
		})
	}
}

// emitFunc takes one series of a family: its metadata labels, its label values in the order
// of the family's Labels, and its value (1 for an info series).
type emitFunc func(meta map[string]string, v []string, value float64)

func staleValue(e *graph.Entity) string {
	if e != nil && e.Stale {
		return "true"
	}
	return ""
}

// attrsInto copies the named attributes of e into v.
func attrsInto(e *graph.Entity, names []string, v []string) {
	for i, n := range names {
		v[i] = e.Attrs.Get(n)
	}
}

func fillPaths(g *graph.Graph, v []string, emit emitFunc) {
	g.Each(graph.Instance, func(inst *graph.Entity) {
		graph.EachPath(g, inst, func(p graph.Path) {
			attrsInto(inst, []string{"lb", "service", "server", "address", "position", "health"}, v)
			// The namespace is the pod's, else the service's: two namespaces' Services of one
			// name whose endpoints are no pods must not make the same row.
			v[6], v[7], v[8], v[9] = "", inst.Attrs.Get("namespace"), "", ""
			v[10], v[11], v[12], v[13], v[14] = "", "", "", "", ""
			if p.Pod != nil {
				v[6], v[7] = p.Pod.Name, p.Pod.Attrs.Get("namespace")
			}
			if p.Container != nil {
				v[8], v[9] = p.Container.ID, p.Container.Attrs.Get("image")
			}
			if p.Host != nil {
				v[10], v[11], v[12], v[13] = p.Host.ID, p.Host.Attrs.Get("kernel_release"), p.Host.Attrs.Get("os_image"), p.Host.Attrs.Get("product_name")
				v[14] = p.Host.Attrs.Get(lifecycleAttr)
			}
			v[15] = staleValue(inst)
			emit(nil, v, 1)
		})
	})
}

// Series turns the graph into its strata_topology_* series. Metadata labels (k8s labels, LB
// tags, inventory labels) become label_<name> only when allow-listed, so that cardinality
// stays bounded. Each entity's labels are unique by its identity, so no series repeats.
func Series(g *graph.Graph, allow []string) []store.Sample {
	var out []store.Sample
	allowed := allowSet(allow)
	for _, fam := range families() {
		fam.series(g, allowed, func(b *labels.ScratchBuilder, v float64) {
			out = append(out, store.Sample{Labels: b.Labels(), Value: v})
		})
	}
	return out
}

func allowSet(allow []string) map[string]bool {
	allowed := map[string]bool{}
	for _, a := range allow {
		allowed[a] = true
	}
	return allowed
}

// series builds every series of the family in b, sorted, and calls f with it; the value of
// each is 1. b is reused: f copies what it keeps. Families can be built concurrently.
func (fam family) series(g *graph.Graph, allowed map[string]bool, f func(b *labels.ScratchBuilder, value float64)) {
	b := labels.NewScratchBuilder(24)
	var buf [24]string
	// The family's labels in name order: a series without metadata labels is built sorted,
	// which saves sorting 700k label sets on a large fleet. __name__ sorts before them all.
	order := make([]int, len(fam.Labels))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return fam.Labels[order[a]] < fam.Labels[order[b]] })
	fam.fill(g, buf[:len(fam.Labels)], func(meta map[string]string, values []string, value float64) {
		b.Reset()
		b.Add(model.MetricNameLabel, fam.Name)
		for _, i := range order {
			if v := values[i]; v != "" {
				b.Add(fam.Labels[i], v)
			}
		}
		if fam.MetaLabels {
			added := false
			for k, v := range meta {
				if allowed[k] && v != "" {
					b.Add("label_"+labelname.Sanitize(k), v)
					added = true
				}
			}
			if added {
				b.Sort()
			}
		}
		f(&b, value)
	})
}
