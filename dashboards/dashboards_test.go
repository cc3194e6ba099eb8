package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

func TestJSONUpToDate(t *testing.T) {
	files, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("json", name))
		if err != nil {
			t.Errorf("%v: run make dashboards", err)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("json/%s differs from what the code generates: run make dashboards", name)
		}
	}
	checkedIn, err := filepath.Glob(filepath.Join("json", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range checkedIn {
		if _, ok := files[filepath.Base(path)]; !ok {
			t.Errorf("%s is no dashboard the code generates: remove it and run make dashboards", path)
		}
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	first, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	second, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	for name := range first {
		if string(first[name]) != string(second[name]) {
			t.Errorf("%s: two renders differ", name)
		}
	}
}

// query is one PromQL expression of a dashboard, from a panel target or a variable.
type query struct {
	where string
	expr  string
}

// queriesOf reads the expressions out of a dashboard's JSON, as Grafana would: the targets
// of every panel (rows' nested panels too) and every query variable.
func queriesOf(t *testing.T, name string, data []byte) []query {
	t.Helper()
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
		t.Fatalf("%s: %v", name, err)
	}
	var qs []query
	var walk func([]panelJSON)
	walk = func(panels []panelJSON) {
		for _, p := range panels {
			for _, target := range p.Targets {
				qs = append(qs, query{where: fmt.Sprintf("%s: panel %q", name, p.Title), expr: target.Expr})
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
			t.Errorf("%s: query is %T, want a label_values(...) string", where, v.Query)
			continue
		}
		m := labelValues.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("%s: %q is no label_values(selector, label) query", where, s)
			continue
		}
		qs = append(qs, query{where: where, expr: m[1]})
	}
	return qs
}

type panelJSON struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panelJSON `json:"panels"`
}

func TestQueriesUseKnownMetrics(t *testing.T) {
	files, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	known := knownMetrics(t)
	families := documentedLabels(t)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		qs := queriesOf(t, name, files[name])
		if len(qs) == 0 {
			t.Errorf("%s: no queries found", name)
		}
		for _, q := range qs {
			if q.expr == "" {
				t.Errorf("%s: empty expression", q.where)
				continue
			}
			checkMetrics(t, q.where, q.expr, known, families)
		}
	}
}

func TestDashboardsUseDatasourceVariable(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range all {
		if d.Uid == nil || *d.Uid == "" {
			t.Errorf("%s: no uid", name)
		}
		vars := d.Templating.List
		if len(vars) == 0 || vars[0].Name != "datasource" || vars[0].Type != "datasource" {
			t.Errorf("%s: first variable is not the datasource variable", name)
		}
		for _, p := range d.Panels {
			if p.Panel == nil {
				continue
			}
			if p.Panel.Datasource == nil || p.Panel.Datasource.Uid == nil || *p.Panel.Datasource.Uid != "${datasource}" {
				t.Errorf("%s: panel %v does not use ${datasource}", name, p.Panel.Title)
			}
		}
	}
}

func TestUnescapeHTML(t *testing.T) {
	for _, in := range []string{
		`{"expr":"a \u003e 1 \u0026 b \u003c 2"}`,
		`{"expr":"\\u003e stays a backslash and u003e"}`,
		`{"expr":"\\\u003e is a backslash and \u003e","x":"\"\u003e"}`,
	} {
		var want, got any
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		out := unescapeHTML([]byte(in))
		if err := json.Unmarshal(out, &got); err != nil {
			t.Errorf("unescapeHTML(%s) = %s: %v", in, out, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("unescapeHTML(%s) = %s, means %v, want %v", in, out, got, want)
		}
	}
}
