package dashboards

//lint:file-ignore SA1019 The v1 dashboard schema is the JSON every Grafana imports and provisions; dashboardv2 needs Grafana 12 with its new layouts.

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// patchStatus is the patch desk: the hosts by their state against the lifecycle policy and by
// rule, the services behind each LB with instances on hosts that fail it, the support ends
// coming and the reboots pending. Its per-service columns are the shipped recording rules
// (dashboards/rules), which strata evaluates itself; a Prometheus needs strata.rules.yml.
func patchStatus() *dashboard.DashboardBuilder {
	const ofLB = `{lb=~"$lb"}`
	return newDashboard("strata-patch-status", "strata / Patch status",
		"Hosts by lifecycle state and rule, the services with instances on hosts that fail the lifecycle policy, support ends coming and reboots pending.",
		"now-7d").
		WithVariable(multiVariable("lb", "Load balancer", `label_values(strata_topology_path_info, lb)`)).
		WithRow(dashboard.NewRowBuilder("Hosts")).
		WithPanel(single("Hosts failing", "Hosts whose worst lifecycle state is fail: their OS past its support end, or a rule of lifecycle.rules failed.",
			`count(strata_topology_host_info{lifecycle="fail"}) or vector(0)`, "short")).
		WithPanel(single("Hosts warned", "Hosts whose worst lifecycle state is warn: their OS's support ends within lifecycle.warn_before_eol, or a rule with state: warn failed.",
			`count(strata_topology_host_info{lifecycle="warn"}) or vector(0)`, "short")).
		WithPanel(single("Hosts unknown", "Hosts a rule cannot judge: an OS release the lifecycle data lacks, a kernel or its build date not known.",
			`count(strata_topology_host_info{lifecycle="unknown"}) or vector(0)`, "short")).
		WithPanel(single("Reboots pending", "Hosts that need a reboot (reboot_required): what was installed is not running yet.",
			`count(strata_topology_host_info{reboot_required="true"}) or vector(0)`, "short")).
		WithPanel(countBars("Hosts by lifecycle state", "Hosts per worst state against the lifecycle policy.",
			`sort_desc(count by (lifecycle) (strata_topology_host_info{lifecycle!=""}))`, "{{lifecycle}}")).
		WithPanel(countBars("Hosts failing or warned, per rule", "Hosts per lifecycle rule they fail or warn on (strata:host_lifecycle_rules:count); StrataHostsLifecycleWarning fires on a rule with hosts that warn for an hour.",
			`sort_desc(sum by (rule, state) (strata:host_lifecycle_rules:count{state=~"fail|warn"}))`, "{{rule}} {{state}}")).
		WithPanel(overTime("Hosts by lifecycle state over time", "Patching shows as fail and warn giving way to ok.",
			`count by (lifecycle) (strata_topology_host_info{lifecycle!=""})`, "{{lifecycle}}", "short").Span(24)).
		WithPanel(infoTable("Failing and warned statuses", "Each rule a host or an image fails or warns on, and why.",
			`strata_lifecycle_status{state=~"fail|warn"}`, "")).
		WithRow(dashboard.NewRowBuilder("Services behind the load balancers")).
		WithPanel(columnsTable("Instances on failing hosts, per service", "Per LB and service, worst first: its instances on hosts that fail the lifecycle policy, on hosts that warn, all of them, and the share on failing hosts (the recording rules strata:service_instances_*; an instance on no known host counts as not failing).",
			column{name: "on failing hosts", expr: `strata:service_instances_on_failing_hosts:count` + ofLB},
			column{name: "on warned hosts", expr: `strata:service_instances_on_warning_hosts:count` + ofLB},
			column{name: "instances", expr: `strata:service_instances:count` + ofLB},
			column{name: "share failing", expr: `strata:service_instances_on_failing_hosts:ratio` + ofLB, unit: "percentunit"})).
		WithPanel(infoTable("Instances on failing hosts", "Each instance whose host fails the lifecycle policy: drain it from its LB before patching the host, or let strata plan order the hosts into waves.",
			`group by (cluster, lb, service, server, host) (strata_topology_path_info{lb=~"$lb", lifecycle="fail"})`, "")).
		WithRow(dashboard.NewRowBuilder("Coming up")).
		WithPanel(infoTable("Support ends within 90 days", "Days until each host's OS support ends (os-release's SUPPORT_END, else strata's lifecycle data), soonest first; negative is past.",
			`sort(((max by (cluster, host) (strata_host_support_end_timestamp_seconds) - time()) / 86400 < 90) * on (cluster, host) group_left (os_image) group by (cluster, host, os_image) (strata_topology_host_info))`, "days left")).
		WithPanel(infoTable("Reboots pending", "Hosts that need a reboot, since when, the kernel they run and the kernels installed.",
			`group by (cluster, host, reboot_required_since, kernel_release, kernels_installed, lifecycle) (strata_topology_host_info{reboot_required="true"})`, ""))
}
