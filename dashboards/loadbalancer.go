package dashboards

//lint:file-ignore SA1019 The v1 dashboard schema is the JSON every Grafana imports and provisions; dashboardv2 needs Grafana 12 with its new layouts.

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// pathsOfService selects the topology paths of the chosen instances of the chosen service.
const pathsOfService = `strata_topology_path_info{lb="$lb",service="$service",server=~"$instance"}`

// serversToHosts maps HAProxy's exporter labels to hosts: its proxy is strata's service (the
// HAProxy backend) and its server is strata's server. One row per (proxy, server, host, ...)
// even when an instance runs several containers, so that it can sit on the "one" side of a
// group_left join. It is limited to $lb, because two LBs may have backends of the same name.
const serversToHosts = `group by (proxy, server, host, kernel_release, product_name) (label_replace(` +
	pathsOfService + `, "proxy", "$1", "service", "(.*)"))`

// haproxyServers selects a HAProxy built-in exporter metric for the chosen instances, with
// more matchers if any (`,code="5xx"`).
func haproxyServers(metric, matchers string) string {
	return metric + `{proxy="$service",server=~"$instance"` + matchers + `}`
}

// loadBalancer drills down from a load balancer to a service to its instances: what runs
// each instance, and HAProxy's own view of it, joined to the hosts.
func loadBalancer() *dashboard.DashboardBuilder {
	return newDashboard("strata-loadbalancer", "strata / Load balancer",
		"A load balancer's service and its instances: hosts, kernels, OS images and hardware behind them, with HAProxy's metrics joined to the hosts.",
		"now-6h").
		WithVariable(queryVariable("lb", "Load balancer", `label_values(strata_topology_path_info, lb)`)).
		WithVariable(queryVariable("service", "Service", `label_values(strata_topology_path_info{lb="$lb"}, service)`)).
		WithVariable(multiVariable("instance", "Instance", `label_values(strata_topology_path_info{lb="$lb",service="$service"}, server)`)).
		WithRow(dashboard.NewRowBuilder("Instances")).
		WithPanel(single("Instances", "Instances of the service.",
			`count(count by (server) (`+pathsOfService+`))`, "short")).
		WithPanel(single("Hosts", "Hosts the instances run on.",
			`count(count by (host) (`+pathsOfService+`))`, "short")).
		WithPanel(single("Kernels", "Distinct kernel releases behind the service.",
			`count(count by (kernel_release) (strata_topology_path_info{lb="$lb",service="$service",server=~"$instance",kernel_release!=""}))`, "short")).
		WithPanel(single("Container images", "Distinct container images behind the service.",
			`count(count by (image) (strata_topology_path_info{lb="$lb",service="$service",server=~"$instance",image!=""}))`, "short")).
		WithPanel(infoTable("Instances", "Each instance in the LB's order with its health, container, image, host, kernel, OS image and hardware.",
			pathsOfService, "")).
		WithPanel(infoTable("Hosts", "Kernel and OS image of the hosts behind the service.",
			`strata_topology_host_info and on (host) `+pathsOfService, "")).
		WithPanel(infoTable("Hardware", "Hardware of the hosts behind the service.",
			`strata_topology_host_hardware_info and on (host) `+pathsOfService, "")).
		WithRow(dashboard.NewRowBuilder("HAProxy")).
		WithPanel(overTime("Responses by code", "HTTP responses per second of the chosen servers, from HAProxy's exporter.",
			`sum by (code) (rate(`+haproxyServers("haproxy_server_http_responses_total", "")+`[$__rate_interval]))`, "{{code}}", "reqps")).
		WithPanel(overTime("5xx by host and kernel", "5xx responses per second of each server, with the host, kernel and hardware it runs on.",
			`sum by (server, host, kernel_release, product_name) (rate(`+haproxyServers("haproxy_server_http_responses_total", `,code="5xx"`)+
				`[$__rate_interval]) * on (proxy, server) group_left (host, kernel_release, product_name) `+serversToHosts+`)`,
			"{{server}} on {{host}} ({{kernel_release}}, {{product_name}})", "reqps")).
		WithPanel(overTime("5xx ratio by kernel", "Share of responses that are 5xx, per kernel release of the hosts.",
			`sum by (kernel_release) (rate(`+haproxyServers("haproxy_server_http_responses_total", `,code="5xx"`)+
				`[$__rate_interval]) * on (proxy, server) group_left (kernel_release) `+serversToHosts+`)`+
				` / sum by (kernel_release) (rate(`+haproxyServers("haproxy_server_http_responses_total", "")+
				`[$__rate_interval]) * on (proxy, server) group_left (kernel_release) `+serversToHosts+`)`,
			"{{kernel_release}}", "percentunit")).
		WithPanel(overTime("Current sessions", "Sessions open on each server.",
			`sum by (server) (`+haproxyServers("haproxy_server_current_sessions", "")+`)`, "{{server}}", "short")).
		WithPanel(overTime("Average response time", "HAProxy's average response time of each server over its last 1024 requests.",
			`max by (server) (`+haproxyServers("haproxy_server_response_time_average_seconds", "")+`)`, "{{server}}", "s")).
		WithPanel(infoTable("Server state", "HAProxy's state of each server (HAProxy 2.4 and later: one series per state, 1 for the current one).",
			`max by (server, state) (`+haproxyServers("haproxy_server_status", "")+`) == 1`, ""))
}
