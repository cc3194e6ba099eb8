package dashboards

//lint:file-ignore SA1019 The v1 dashboard schema is the JSON every Grafana imports and provisions; dashboardv2 needs Grafana 12 with its new layouts.

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// distinctOverRange counts, per group of by, how many values of label the series of metric
// (with matchers, if any) took over the dashboard's time range, and keeps the groups with more
// than one: what changed. count_over_time keeps one series per label set seen in the range, so
// the inner count by (by, label) counts the distinct values; an empty label (an instance whose
// host was not resolved for a while) is no value.
func distinctOverRange(by, label, metric, matchers string) string {
	sel := metric + `{` + matchers + label + `!=""}`
	return `count by (` + by + `) (count by (` + by + `, ` + label + `) (count_over_time(` + sel + `[$__range]))) > 1`
}

// appeared keeps the groups present at the end of the range but not at its start; swap the
// arguments for those that vanished.
func appeared(by, sel string) string {
	return `group by (` + by + `) (` + sel + `) unless group by (` + by + `) (` + sel + ` offset $__range)`
}

func vanished(by, sel string) string {
	return `group by (` + by + `) (` + sel + ` offset $__range) unless group by (` + by + `) (` + sel + `)`
}

// topologyChanges answers "what moved, appeared or upgraded over the chosen time range".
func topologyChanges() *dashboard.DashboardBuilder {
	const lbMatcher = `lb=~"$lb",`
	instances := `strata_topology_instance_info{lb=~"$lb"}`
	return newDashboard("strata-topology-changes", "strata / Topology changes",
		"What moved, appeared, vanished or upgraded over the chosen time range.",
		"now-24h").
		WithVariable(multiVariable("lb", "Load balancer", `label_values(strata_topology_instance_info, lb)`)).
		WithRow(dashboard.NewRowBuilder("Over time")).
		WithPanel(overTime("Instances", "Instances per load balancer.",
			`count by (lb) (`+instances+`)`, "{{lb}}", "short")).
		WithPanel(overTime("Hosts by kernel", "Hosts per kernel release: upgrades show as one line giving way to another.",
			`count by (kernel_release) (strata_topology_host_info)`, "{{kernel_release}}", "short")).
		WithPanel(overTime("Instances not UP", "Instances whose health is known and not UP (DOWN, MAINT, DRAIN, UNKNOWN), per load balancer.",
			`count by (lb) (strata_topology_instance_info{lb=~"$lb",health!~"UP|"})`, "{{lb}}", "short")).
		WithPanel(overTime("Sources up", "Whether each topology source answered its last refresh.",
			`strata_topology_source_up`, "{{source}}", "short")).
		WithRow(dashboard.NewRowBuilder("Moved or upgraded over the range")).
		WithPanel(infoTable("Instances that moved host", "Instances seen on more than one host over the range; the value is how many.",
			distinctOverRange("lb, service, server", "host", "strata_topology_path_info", lbMatcher), "hosts")).
		WithPanel(infoTable("Instances whose image changed", "Instances seen with more than one container image over the range.",
			distinctOverRange("lb, service, server", "image", "strata_topology_path_info", lbMatcher), "images")).
		WithPanel(infoTable("Instances whose health changed", "Instances seen in more than one health state over the range.",
			distinctOverRange("lb, service, server", "health", "strata_topology_instance_info", lbMatcher), "states")).
		WithPanel(infoTable("Hosts whose kernel changed", "Hosts seen with more than one kernel release over the range.",
			distinctOverRange("host", "kernel_release", "strata_topology_host_info", ""), "kernels")).
		WithPanel(infoTable("Hosts whose OS image changed", "Hosts seen with more than one OS image over the range.",
			distinctOverRange("host", "os_image", "strata_topology_host_info", ""), "OS images")).
		WithRow(dashboard.NewRowBuilder("Appeared or vanished over the range")).
		WithPanel(infoTable("Instances added", "Instances present now but not at the start of the range.",
			appeared("lb, service, server", instances), "")).
		WithPanel(infoTable("Instances removed", "Instances present at the start of the range but not now.",
			vanished("lb, service, server", instances), "")).
		WithPanel(infoTable("Hosts added", "Hosts present now but not at the start of the range.",
			appeared("host", `strata_topology_host_info`), "")).
		WithPanel(infoTable("Hosts removed", "Hosts present at the start of the range but not now.",
			vanished("host", `strata_topology_host_info`), ""))
}
