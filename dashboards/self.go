package dashboards

//lint:file-ignore SA1019 The v1 dashboard schema is the JSON every Grafana imports and provisions; dashboardv2 needs Grafana 12 with its new layouts.

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// self is strata itself: its refreshes and sources, its queries, its scrapes, its TSDB and
// storage, the process. Its series are strata's own /metrics, which strata scrapes into its
// own TSDB (job strata-self) and a Prometheus beside it may scrape too; the alerts on them are
// dashboards/rules' strata.self.alerts.
func self() *dashboard.DashboardBuilder {
	const at = `{instance=~"$strata"}`
	return newDashboard("strata-self", "strata / strata itself",
		"How strata itself is doing: refreshes against their interval, sources, query latencies, scrapes, the TSDB and its disk.",
		"now-6h").
		WithVariable(multiVariable("strata", "strata", `label_values(strata_build_info, instance)`)).
		WithRow(dashboard.NewRowBuilder("Refreshes and sources")).
		WithPanel(single("Since the last refresh", "Seconds since the last refresh ended (StrataRefreshStalled past three intervals).",
			`time() - max(strata_refresh_last_success_timestamp_seconds`+at+`)`, "s")).
		WithPanel(single("Topology series", "The series of the last refresh: strata_topology_* and the lifecycle's.",
			`sum(strata_refresh_series`+at+`)`, "short")).
		WithPanel(single("Sources down", "Topology sources whose last refresh failed.",
			`count(strata_topology_source_up == 0) or vector(0)`, "short")).
		WithPanel(single("Configuration reload", "1: the last reload took (or none was asked); 0: refused, the one before runs (StrataConfigReloadFailed).",
			`min(strata_config_last_reload_successful`+at+`)`, "short")).
		WithPanel(overTime("Refresh duration against the interval", "How long each refresh took; above the interval line, refreshes run late (StrataRefreshSlow).",
			`strata_topology_refresh_duration_seconds`+at+` or strata_refresh_interval_seconds`+at, "{{__name__}} {{instance}}", "s")).
		WithPanel(overTime("Source failures per hour", "Refreshes at which each source failed, over the last hour.",
			`increase(strata_source_errors_total`+at+`[1h])`, "{{source}} ({{kind}})", "short")).
		WithRow(dashboard.NewRowBuilder("Queries")).
		WithPanel(overTime("Query latency, p99", "The 99th percentile of requests that evaluate a query, by pool, their wait for a place included (--query.max-concurrency).",
			`histogram_quantile(0.99, sum by (pool, le) (rate(strata_query_duration_seconds_bucket`+at+`[5m])))`, "{{pool}}", "s")).
		WithPanel(overTime("Queries in flight", "Running, and waiting for a place, by pool.",
			`sum by (pool, state) (strata_queries_in_flight`+at+`)`, "{{pool}} {{state}}", "short")).
		WithRow(dashboard.NewRowBuilder("Scrapes")).
		WithPanel(overTime("Scrape duration", "How long each of strata's scrapes took, by job (strata-exporter, node, strata-self, …).",
			`max by (job) (scrape_duration_seconds)`, "{{job}}", "s")).
		WithPanel(overTime("Targets down", "Scrape targets that did not answer, by job.",
			`count by (job) (up == 0)`, "{{job}}", "short")).
		WithRow(dashboard.NewRowBuilder("TSDB and disk")).
		WithPanel(overTime("Head series", "Series in the TSDB's in-memory head.",
			`prometheus_tsdb_head_series`+at, "{{instance}}", "short")).
		WithPanel(overTime("Head time span", "How much time the head holds: a span growing past 4 hours is a TSDB that stopped compacting (StrataTSDBNotCompacting).",
			`(prometheus_tsdb_head_max_time`+at+` - prometheus_tsdb_head_min_time`+at+`) / 1000`, "{{instance}}", "s")).
		WithPanel(overTime("Storage available", "Share of --storage.path's file system still free (StrataStorageFilling).",
			`strata_storage_available_bytes`+at+` / strata_storage_capacity_bytes`+at, "{{instance}}", "percentunit")).
		WithPanel(overTime("Write and compaction failures", "Failed writes into the TSDB, by operation (StrataStorageWriteFailing).",
			`increase(strata_storage_write_failures_total`+at+`[5m])`, "{{operation}}", "short")).
		WithRow(dashboard.NewRowBuilder("Process")).
		WithPanel(overTime("Resident memory", "strata's RSS.",
			`process_resident_memory_bytes`+at, "{{instance}}", "bytes")).
		WithPanel(overTime("CPU", "CPU seconds per second.",
			`rate(process_cpu_seconds_total`+at+`[5m])`, "{{instance}}", "short"))
}
