// Package dashboards holds strata's Grafana dashboards as code, built with
// grafana-foundation-sdk on the series of docs/metrics.md and docs/topology.md.
//
// To add a dashboard: write a function returning its *dashboard.DashboardBuilder in a file of
// its own, name it in builders, and run `make dashboards` to regenerate dashboards/json. The
// tests check that the JSON is current and that every expression parses and names only
// documented series.
package dashboards

//lint:file-ignore SA1019 The v1 dashboard schema is the JSON every Grafana imports and provisions; dashboardv2 needs Grafana 12 with its new layouts.

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// builders lists every dashboard by the name of its JSON file.
func builders() map[string]*dashboard.DashboardBuilder {
	return map[string]*dashboard.DashboardBuilder{
		"fleet":            fleet(),
		"loadbalancer":     loadBalancer(),
		"host":             host(),
		"topology-changes": topologyChanges(),
		"patch-status":     patchStatus(),
		"self":             self(),
	}
}

// All builds every dashboard, keyed by the name of its JSON file.
func All() (map[string]*dashboard.Dashboard, error) {
	all := make(map[string]*dashboard.Dashboard)
	for name, b := range builders() {
		d, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("build dashboard %s: %w", name, err)
		}
		numberPanels(&d)
		all[name] = &d
	}
	return all, nil
}

// numberPanels gives every panel and row an id unique in its dashboard, in layout order, as
// Grafana expects and the builders leave to the caller.
func numberPanels(d *dashboard.Dashboard) {
	var id uint32
	for _, p := range d.Panels {
		id++
		switch {
		case p.Panel != nil:
			p.Panel.Id = cog.ToPtr(id)
		case p.RowPanel != nil:
			p.RowPanel.Id = id
		}
	}
}

// Render returns every dashboard as indented JSON ending in a newline, keyed by file name
// (<name>.json): what the generator writes and the test compares.
func Render() (map[string][]byte, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	files := make(map[string][]byte, len(all))
	for name, d := range all {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("encode dashboard %s: %w", name, err)
		}
		files[name+".json"] = unescapeHTML(buf.Bytes())
	}
	return files, nil
}

// unescapeHTML turns the \u003c, \u003e and \u0026 that encoding/json writes for <, > and &
// (the SDK's MarshalJSON methods escape HTML, whatever the encoder is told) back into the
// characters, so that PromQL's comparisons read as written in the JSON. An escape counts only
// after an even run of backslashes: \\u003e is a backslash followed by "u003e".
func unescapeHTML(data []byte) []byte {
	escapes := map[string]byte{`\u003c`: '<', `\u003e`: '>', `\u0026`: '&'}
	out := make([]byte, 0, len(data))
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' || i+1 == len(data) {
			out = append(out, data[i])
			continue
		}
		if i+6 <= len(data) {
			if c, ok := escapes[string(data[i:i+6])]; ok {
				out = append(out, c)
				i += 5
				continue
			}
		}
		// Any other escape: copy both characters, so that an escaped backslash is not taken
		// for the start of the next escape.
		out = append(out, data[i], data[i+1])
		i++
	}
	return out
}

// newDashboard starts a dashboard with the settings all of strata's share: the datasource
// variable first, so that every query follows the one the user picks.
func newDashboard(uid, title, description, from string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{"strata"}).
		Time(from, "now").
		Timezone(common.TimeZoneBrowser).
		Refresh("1m").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Data source").
			Type("prometheus"))
}

// datasource refers to the dashboard's datasource variable: strata's Prometheus-compatible
// API or any Prometheus that scrapes strata.
func datasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
}

// queryVariable is a variable filled by a label_values(...) query.
func queryVariable(name, label, query string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(datasource()).
		Query(dashboard.StringOrMap{String: cog.ToPtr(query)}).
		Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc)
}

// multiVariable is a queryVariable that takes several values or All, to be matched with =~.
func multiVariable(name, label, query string) *dashboard.QueryVariableBuilder {
	return queryVariable(name, label, query).Multi(true).IncludeAll(true).AllValue(".*")
}
