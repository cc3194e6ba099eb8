package metrics

import (
	"cmp"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/strata-obs/strata/internal/cgroup"
	"github.com/strata-obs/strata/topology/source"
)

// hostMapping maps one family to host facts: which origin it is, how its series name the
// host, and which of its labels become which host attributes.
type hostMapping struct {
	metric string
	origin source.Origin
	// key names the host within the origin; strata-exporter's host label is its own key,
	// the others' scrape target is.
	key func(labels.Labels) string
	// attrs maps series labels to host attributes (docs/design.md, "The graph").
	attrs map[string]string
	// value, when set, stores the sample's value as this attribute (cpu_cores, memory_bytes).
	value string
	// when, when set, stores the sample's value, unix seconds, as this attribute in RFC 3339.
	when string
	// set fills identity fields from the series.
	set func(h *source.Host, ls labels.Labels)
}

func (m hostMapping) apply(b *builder, s series) {
	h := b.host(m.origin, m.key(s.labels))
	for from, to := range m.attrs {
		if v := s.labels.Get(from); v != "" {
			h.Attrs[to] = v
		}
	}
	if m.value != "" {
		h.Attrs[m.value] = strconv.FormatFloat(s.value, 'f', -1, 64)
	}
	if m.when != "" && !math.IsNaN(s.value) && !math.IsInf(s.value, 0) {
		h.Attrs[m.when] = time.Unix(int64(s.value), 0).UTC().Format(time.RFC3339)
	}
	if m.set != nil {
		m.set(h, s.labels)
	}
}

// strataHost keys strata-exporter's series by their host label and scrape target: two
// hosts with the same host label stay apart.
func strataHost(ls labels.Labels) string { return ls.Get("host") + "|" + targetKey(ls) }

func same(names ...string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		m[n] = n
	}
	return m
}

// hostMappings is the table of host families, strongest origin first.
func hostMappings() []hostMapping {
	return []hostMapping{
		// strata-exporter (docs/metrics.md)
		{metric: "strata_host_info", origin: source.OriginExporter, key: strataHost,
			attrs: same("kernel_release", "kernel_version", "kernel_build_date", "kernels_installed", "reboot_required", "arch",
				"os_id", "os_version_id", "os_image", "image_id", "image_version"),
			set: func(h *source.Host, ls labels.Labels) {
				h.Name, h.Hostname, h.MachineID = ls.Get("host"), ls.Get("hostname"), ls.Get("machine_id")
			}},
		{metric: "strata_host_os_info", origin: source.OriginExporter, key: strataHost, attrs: same("support_end")},
		{metric: "strata_host_reboot_required_since_timestamp_seconds", origin: source.OriginExporter, key: strataHost,
			when: "reboot_required_since"},
		{metric: "strata_host_hardware_info", origin: source.OriginExporter, key: strataHost,
			attrs: same("system_vendor", "product_name", "product_family", "product_version", "board_vendor", "board_name",
				"bios_vendor", "bios_version", "bios_date", "chassis_type", "cpu_model", "cpu_vendor", "virtualization",
				"cloud_provider", "instance_type")},
		{metric: "strata_host_serial_info", origin: source.OriginExporter, key: strataHost,
			set: func(h *source.Host, ls labels.Labels) { h.SystemUUID = ls.Get("system_uuid") }},
		{metric: "strata_host_cpu_cores", origin: source.OriginExporter, key: strataHost, value: "cpu_cores"},
		{metric: "strata_host_memory_bytes", origin: source.OriginExporter, key: strataHost, value: "memory_bytes"},
		{metric: "strata_host_address_info", origin: source.OriginExporter, key: strataHost,
			set: func(h *source.Host, ls labels.Labels) { h.Addresses = addUnique(h.Addresses, ls.Get("address")) }},

		// node_exporter: uname, os and dmi collectors; the host is the scrape target.
		{metric: "node_uname_info", origin: source.OriginNodeExporter, key: targetKey,
			attrs: map[string]string{"release": "kernel_release", "version": "kernel_version", "machine": "arch"},
			set: func(h *source.Host, ls labels.Labels) {
				h.Name, h.Hostname = ls.Get("nodename"), ls.Get("nodename")
				h.Addresses = addUnique(h.Addresses, targetAddress(ls))
			}},
		{metric: "node_os_info", origin: source.OriginNodeExporter, key: targetKey,
			attrs: map[string]string{"id": "os_id", "version_id": "os_version_id", "pretty_name": "os_image",
				"image_id": "image_id", "image_version": "image_version"}},
		{metric: "node_dmi_info", origin: source.OriginNodeExporter, key: targetKey,
			attrs: same("system_vendor", "product_name", "product_family", "product_version", "board_vendor", "board_name",
				"bios_vendor", "bios_version", "bios_date")},

		// kube-state-metrics: the node as Kubernetes reports it.
		{metric: "kube_node_info", origin: source.OriginKubeStateMetrics, key: func(ls labels.Labels) string { return ls.Get("node") },
			attrs: map[string]string{"kernel_version": "kernel_release", "os_image": "os_image",
				"container_runtime_version": "container_runtime", "kubelet_version": "kubelet_version", "provider_id": "provider_id"},
			set: func(h *source.Host, ls labels.Labels) {
				h.Name = ls.Get("node")
				h.SystemUUID = ls.Get("system_uuid")
				h.Addresses = addUnique(h.Addresses, ls.Get("internal_ip"))
			}},
	}
}

// workloadMapping maps one family to containers, listeners or pods.
type workloadMapping struct {
	metric string
	apply  func(b *builder, ls labels.Labels, v float64)
}

// workloadMappings is the table of container, listener and pod families.
func workloadMappings() []workloadMapping {
	return []workloadMapping{
		{"strata_container_info", func(b *builder, ls labels.Labels, _ float64) {
			c := b.container(ls.Get("container_id"))
			c.Origin, c.Host = source.OriginExporter, ls.Get("host")
			c.Name, c.Image, c.ImageID, c.Runtime = ls.Get("name"), ls.Get("image"), ls.Get("image_id"), ls.Get("runtime")
			c.Pod, c.Namespace, c.PodUID = ls.Get("pod"), ls.Get("namespace"), ls.Get("pod_uid")
		}},
		{"strata_container_image_created_timestamp_seconds", func(b *builder, ls labels.Labels, v float64) {
			if v > 0 {
				b.container(ls.Get("container_id")).ImageCreated = time.Unix(int64(v), 0).UTC()
			}
		}},
		{"strata_container_address_info", func(b *builder, ls labels.Labels, _ float64) {
			c := b.container(ls.Get("container_id"))
			c.Addresses = addUnique(c.Addresses, ls.Get("address"))
		}},
		{"strata_container_port_info", func(b *builder, ls labels.Labels, _ float64) {
			c := b.container(ls.Get("container_id"))
			hp, _ := strconv.Atoi(ls.Get("host_port"))
			cp, _ := strconv.Atoi(ls.Get("container_port"))
			c.Ports = append(c.Ports, source.Port{Protocol: ls.Get("protocol"), HostIP: ls.Get("host_ip"), HostPort: hp, ContainerPort: cp})
		}},
		{"strata_container_labels", func(b *builder, ls labels.Labels, _ float64) {
			c := b.container(ls.Get("container_id"))
			ls.Range(func(l labels.Label) {
				if k, ok := strings.CutPrefix(l.Name, "label_"); ok {
					c.Labels[k] = l.Value
				}
			})
		}},
		{"strata_listener_info", func(b *builder, ls labels.Labels, _ float64) {
			port, _ := strconv.Atoi(ls.Get("port"))
			pid, _ := strconv.Atoi(ls.Get("pid"))
			b.listeners = append(b.listeners, source.Listener{Host: ls.Get("host"), Address: ls.Get("address"), Port: port,
				PID: pid, Comm: ls.Get("comm"), ContainerID: ls.Get("container_id"), Netns: ls.Get("netns")})
		}},

		// kube-state-metrics: pods and their containers.
		{"kube_pod_info", func(b *builder, ls labels.Labels, _ float64) {
			p := b.pod(ls.Get("namespace"), ls.Get("pod"))
			p.UID, p.Node = ls.Get("uid"), ls.Get("node")
			p.IPs = addUnique(p.IPs, ls.Get("pod_ip"))
			p.HostNetwork = ls.Get("host_network") == "true"
			if kind, name := ls.Get("created_by_kind"), ls.Get("created_by_name"); kind != "" {
				p.Owner = kind + "/" + name
			}
		}},
		{"kube_pod_status_phase", func(b *builder, ls labels.Labels, v float64) {
			if v == 1 {
				b.podPhase[ls.Get("namespace")+"/"+ls.Get("pod")] = ls.Get("phase")
			}
		}},
		{"kube_pod_labels", func(b *builder, ls labels.Labels, _ float64) {
			m := map[string]string{}
			ls.Range(func(l labels.Label) {
				if k, ok := strings.CutPrefix(l.Name, "label_"); ok {
					m[k] = l.Value
				}
			})
			b.podLabels[ls.Get("namespace")+"/"+ls.Get("pod")] = m
		}},
		{"kube_pod_container_info", func(b *builder, ls labels.Labels, _ float64) {
			runtime, id := trimRuntimePrefix(ls.Get("container_id"))
			if id == "" {
				return // not started yet
			}
			c := b.container(id)
			if c.Origin == source.OriginExporter && c.Host != "" {
				return // the exporter on the node knows it better
			}
			c.Origin, c.Runtime = source.OriginKubeStateMetrics, runtime
			c.Name, c.Image, c.ImageID = ls.Get("container"), ls.Get("image"), ls.Get("image_id")
			c.Pod, c.Namespace, c.PodUID = ls.Get("pod"), ls.Get("namespace"), ls.Get("uid")
		}},

		// cAdvisor (the kubelet's /metrics/cadvisor, or cAdvisor itself): containers by cgroup.
		{"container_last_seen", func(b *builder, ls labels.Labels, _ float64) {
			ref, ok := cgroup.ParsePath(ls.Get("id"))
			if !ok {
				return
			}
			c := b.container(ref.ID)
			if c.Origin == source.OriginExporter || c.Origin == source.OriginKubeStateMetrics && c.Image != "" {
				return
			}
			c.Origin = source.OriginCAdvisor
			if c.Host == "" {
				c.Host = ls.Get("node")
				if c.Host == "" {
					c.Host, _, _ = strings.Cut(ls.Get("instance"), ":")
				}
			}
			c.Runtime, c.PodUID = ref.Runtime, ref.PodUID
			c.Name, c.Image = cmp.Or(ls.Get("container"), ls.Get("name")), ls.Get("image")
			c.Pod, c.Namespace = ls.Get("pod"), ls.Get("namespace")
		}},
	}
}
