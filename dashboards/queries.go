package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// Query is one PromQL expression of a dashboard, from a panel target or a query variable (the
// selector of its label_values), and where it is.
type Query struct {
	Where string
	Expr  string
}

// labelValues matches a Grafana label_values(selector, label) variable query.
var labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)

// Queries reads the expressions out of a dashboard's JSON, as Grafana would: the targets of
// every panel (rows' nested panels too) and every query variable.
func Queries(name string, data []byte) ([]Query, error) {
	var d struct {
		Panels     []panelJSON `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var qs []Query
	var walk func([]panelJSON)
	walk = func(panels []panelJSON) {
		for _, p := range panels {
			for _, target := range p.Targets {
				qs = append(qs, Query{Where: fmt.Sprintf("%s: panel %q", name, p.Title), Expr: target.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		where := fmt.Sprintf("%s: variable %s", name, v.Name)
		s, ok := v.Query.(string)
		if !ok {
			return nil, fmt.Errorf("%s: query is %T, want a label_values(...) string", where, v.Query)
		}
		m := labelValues.FindStringSubmatch(s)
		if m == nil {
			return nil, fmt.Errorf("%s: %q is no label_values(selector, label) query", where, s)
		}
		qs = append(qs, Query{Where: where, Expr: m[1]})
	}
	return qs, nil
}

type panelJSON struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panelJSON `json:"panels"`
}
