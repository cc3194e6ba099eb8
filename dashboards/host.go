package dashboards

//lint:file-ignore SA1019 The v1 dashboard schema is the JSON every Grafana imports and provisions; dashboardv2 needs Grafana 12 with its new layouts.

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// containerNames gives each container of $host its name, one series per container, to join
// usage series (which carry only host and container_id) to names.
const containerNames = `max by (host, container_id, name) (strata_container_info{host="$host"})`

// host shows one host: its facts, its containers and their usage, and the load balancers
// whose instances run on it.
func host() *dashboard.DashboardBuilder {
	return newDashboard("strata-host", "strata / Host",
		"One host: kernel, OS image and hardware, its containers and their usage, and the load balancers that depend on it.",
		"now-6h").
		WithVariable(queryVariable("host", "Host", `label_values(strata_topology_host_info, host)`)).
		WithRow(dashboard.NewRowBuilder("Facts")).
		WithPanel(single("Logical CPUs", "", `max(strata_host_cpu_cores{host="$host"})`, "short")).
		WithPanel(single("Memory", "", `max(strata_host_memory_bytes{host="$host"})`, "bytes")).
		WithPanel(single("Uptime", "", `time() - max(strata_host_boot_time_seconds{host="$host"})`, "s")).
		WithPanel(single("OS support ends", "os-release SUPPORT_END of the host's OS image.",
			`max(strata_host_os_support_end_timestamp_seconds{host="$host"}) * 1000`, "dateTimeAsIso")).
		WithPanel(infoTable("Host", "Kernel, OS image and identity, merged from all sources.",
			`strata_topology_host_info{host="$host"}`, "")).
		WithPanel(infoTable("Hardware", "DMI, CPU, virtualization and cloud facts, merged from all sources.",
			`strata_topology_host_hardware_info{host="$host"}`, "")).
		WithPanel(infoTable("Disks", "", `strata_disk_info{host="$host"}`, "")).
		WithPanel(infoTable("Network interfaces", "", `strata_network_interface_info{host="$host"}`, "")).
		WithRow(dashboard.NewRowBuilder("Containers")).
		WithPanel(infoTable("Containers", "Running containers with their image and pod.",
			`strata_topology_container_info{host="$host"}`, "")).
		WithPanel(overTime("Container CPU", "CPU used by each container, in cores.",
			`sum by (name) (rate(strata_container_cpu_usage_seconds_total{host="$host"}[$__rate_interval]) * on (host, container_id) group_left (name) `+containerNames+`)`,
			"{{name}}", "short")).
		WithPanel(overTime("Container memory", "Working set of each container.",
			`sum by (name) (strata_container_memory_working_set_bytes{host="$host"} * on (host, container_id) group_left (name) `+containerNames+`)`,
			"{{name}}", "bytes")).
		WithRow(dashboard.NewRowBuilder("Load balancers that depend on it")).
		WithPanel(infoTable("Services on this host", "Load balancers and services with instances on this host; the value is how many instances.",
			`count by (lb, service) (count by (lb, service, server) (strata_topology_path_info{host="$host"}))`, "instances")).
		WithPanel(infoTable("Instances on this host", "Each instance behind a load balancer that runs on this host.",
			`strata_topology_path_info{host="$host"}`, ""))
}
