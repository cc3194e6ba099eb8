package dashboards

//lint:file-ignore SA1019 The v1 dashboard schema is the JSON every Grafana imports and provisions; dashboardv2 needs Grafana 12 with its new layouts.

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// fleet answers "what runs across the fleet": kernels, OS images, hardware and container
// images by number of hosts, and the services whose instances disagree on them (drift).
func fleet() *dashboard.DashboardBuilder {
	return newDashboard("strata-fleet", "strata / Fleet",
		"Kernels, OS images, hardware and container images across hosts, and the services whose instances drift.",
		"now-6h").
		WithRow(dashboard.NewRowBuilder("Hosts")).
		WithPanel(single("Hosts", "Hosts in the topology.",
			`count(strata_topology_host_info)`, "short")).
		WithPanel(single("Kernels", "Distinct kernel releases across hosts.",
			`count(count by (kernel_release) (strata_topology_host_info{kernel_release!=""}))`, "short")).
		WithPanel(single("OS images", "Distinct OS images (PRETTY_NAME) across hosts.",
			`count(count by (os_image) (strata_topology_host_info{os_image!=""}))`, "short")).
		WithPanel(single("Hardware models", "Distinct vendor and product names across hosts.",
			`count(count by (system_vendor, product_name) (strata_topology_host_hardware_info))`, "short")).
		WithPanel(countBars("Hosts by kernel", "Hosts per kernel release.",
			`sort_desc(count by (kernel_release) (strata_topology_host_info))`, "{{kernel_release}}")).
		WithPanel(countBars("Hosts by OS image", "Hosts per OS image (os-release PRETTY_NAME).",
			`sort_desc(count by (os_image) (strata_topology_host_info))`, "{{os_image}}")).
		WithPanel(countBars("Hosts by hardware model", "Hosts per system vendor and product name (DMI).",
			`sort_desc(count by (system_vendor, product_name) (strata_topology_host_hardware_info))`,
			"{{system_vendor}} {{product_name}}")).
		WithPanel(countBars("Hosts by CPU model", "Hosts per CPU model.",
			`sort_desc(count by (cpu_model) (strata_topology_host_hardware_info))`, "{{cpu_model}}")).
		WithPanel(countBars("Hosts by container image", "Hosts running at least one container of each image (top 20).",
			`topk(20, count by (image) (count by (image, host) (strata_topology_container_info)))`, "{{image}}")).
		WithPanel(countBars("Containers by image", "Running containers per image (top 20).",
			`topk(20, count by (image) (strata_topology_container_info))`, "{{image}}")).
		WithPanel(infoTable("OS support ending", "Days until each host's OS image stops being supported (os-release SUPPORT_END), soonest first; negative is past.",
			`sort(max by (host) ((strata_host_os_support_end_timestamp_seconds - time()) / 86400))`, "days left")).
		WithRow(dashboard.NewRowBuilder("Sites (cluster: global.external_labels; empty for a strata that names none)")).
		WithPanel(countBars("Hosts by site", "Hosts per site.",
			`sort_desc(count by (cluster) (strata_topology_host_info{cluster!=""}))`, "{{cluster}}")).
		WithPanel(infoTable("Kernel mix per site", "Hosts per kernel release in each site.",
			`sort_desc(count by (cluster, kernel_release) (strata_topology_host_info{cluster!="", kernel_release!=""}))`, "hosts")).
		WithPanel(infoTable("Services on more than one kernel across sites", "Services (by LB and name) whose instances run on more than one kernel release counting every site; the value is how many.",
			`count by (lb, service) (count by (lb, service, kernel_release) (strata_topology_path_info{cluster!="", kernel_release!=""})) > 1`, "kernels")).
		WithPanel(infoTable("Services in one site only", "Services (by LB and name) that only one site has, while there are several sites.",
			`count by (lb, service) (group by (cluster, lb, service) (strata_topology_service_info{cluster!=""})) == 1 and on () count(count by (cluster) (strata_topology_service_info{cluster!=""})) > 1`, "sites")).
		WithRow(dashboard.NewRowBuilder("Drift inside services")).
		WithPanel(infoTable("Services with mixed kernels", "Services whose instances run on more than one kernel release; the value is how many.",
			`count by (cluster, lb, service) (count by (cluster, lb, service, kernel_release) (strata_topology_path_info{kernel_release!=""})) > 1`, "kernels")).
		WithPanel(infoTable("Services with mixed OS images", "Services whose instances run on more than one OS image; the value is how many.",
			`count by (cluster, lb, service) (count by (cluster, lb, service, os_image) (strata_topology_path_info{os_image!=""})) > 1`, "OS images")).
		WithPanel(infoTable("Services with mixed container images", "Services whose instances run more than one container image; the value is how many.",
			`count by (cluster, lb, service) (count by (cluster, lb, service, image) (strata_topology_path_info{image!=""})) > 1`, "images")).
		WithPanel(infoTable("Services with mixed hardware", "Services whose instances run on more than one hardware model; the value is how many.",
			`count by (cluster, lb, service) (count by (cluster, lb, service, product_name) (strata_topology_path_info{product_name!=""})) > 1`, "models"))
}
